// pidfd_open(2), pidfd_send_signal(2).
import { native } from './native';
import { signalNumber } from './signals';
import * as v from './validate';

const PIDFD_NONBLOCK = 0o4000;

/** An fd referring to process `pid` (close-on-exec). Close it with `fs.closeSync`. */
export function pidfdOpen(pid: number, options: { nonblock?: boolean } = {}): number {
  v.integer('pid', pid, 1, 0x3fffffff);
  const nonblock = options.nonblock !== undefined && v.boolean('options.nonblock', options.nonblock);
  return native.pidfdOpen(pid, nonblock ? PIDFD_NONBLOCK : 0);
}

/** Sends a signal through a pidfd: unlike kill(2), never to a recycled pid. */
export function pidfdSendSignal(pidfd: number, signal: NodeJS.Signals): void {
  native.pidfdSendSignal(v.integer('pidfd', pidfd, 0, 0x7fffffff), signalNumber('signal', signal));
}
