// Pressure stall triggers (PSI, Documentation/accounting/psi.rst): the kernel wakes a watcher
// when a group's tasks stalled on cpu, memory or io for more than `stall` µs within a `window`,
// at most once per window. The addon watches the trigger's fd (POLLPRI) on libuv's loop.
import fs from 'node:fs';
import path from 'node:path';
import * as v from '../validate';
import { native, WATCH_ERROR, WATCH_PRIORITIZED } from '../native';
import { parsePressure, type Pressure } from './parse';
import { EventQueue } from './queue';

export interface PressureTriggerOptions {
  /** Which stall: tasks waiting for CPU, memory (reclaim, swap-in, thrashing) or IO. */
  resource: 'cpu' | 'memory' | 'io';
  /** `'some'`: at least one task stalled; `'full'`: all non-idle tasks at once. @default 'some' */
  kind?: 'some' | 'full';
  /** Stall time within the window that fires the trigger, µs (> 0, ≤ window). @example 150_000 */
  stall: number;
  /**
   * The window, µs, 500 ms to 10 s (kernel/sched/psi.c). A process without CAP_SYS_RESOURCE
   * (root in many containers too) may use only multiples of 2 s. @default 2_000_000
   */
  window?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

export interface PressureEvent {
  resource: 'cpu' | 'memory' | 'io';
  kind: 'some' | 'full';
  /** The pressure file read when the event arrived. */
  pressure: Pressure;
}

// kernel/sched/psi.c: WINDOW_MIN_US, WINDOW_MAX_US.
const WINDOW_MIN_US = 500_000;
const WINDOW_MAX_US = 10_000_000;

/** The trigger's text and file, validated before anything is opened. */
export function pressureTrigger(options: PressureTriggerOptions): { file: string; trigger: string; resource: PressureEvent['resource']; kind: PressureEvent['kind'] } {
  const o = v.object('options', options);
  v.knownKeys('options', o, ['resource', 'kind', 'stall', 'window', 'signal']);
  const resource = v.oneOf('options.resource', o.resource, ['cpu', 'memory', 'io'] as const);
  const kind = o.kind === undefined ? 'some' : v.oneOf('options.kind', o.kind, ['some', 'full'] as const);
  const window = o.window === undefined ? 2_000_000 : v.integer('options.window', o.window, WINDOW_MIN_US, WINDOW_MAX_US);
  const stall = v.integer('options.stall', o.stall, 1, window);
  return { file: `${resource}.pressure`, trigger: `${kind} ${stall} ${window}`, resource, kind };
}

/**
 * The iterator {@link Cgroup.pressure} returns: one event per window in which the stall
 * exceeded the threshold; it ends when the group is removed, `signal` aborts, or on `break`.
 */
export class PressureEvents implements AsyncIterableIterator<PressureEvent> {
  readonly #file: string;
  readonly #resource: PressureEvent['resource'];
  readonly #kind: PressureEvent['kind'];
  readonly #queue = new EventQueue<PressureEvent>();
  #id: number | undefined;
  readonly #signal?: AbortSignal;
  readonly #onAbort = () => this.#end();

  /** Opens the trigger at once (throwing the kernel's refusal: EINVAL, EPERM, EOPNOTSUPP where PSI is off). */
  constructor(dir: string, options: PressureTriggerOptions) {
    const { file, trigger, resource, kind } = pressureTrigger(options);
    this.#file = path.join(dir, file);
    this.#resource = resource;
    this.#kind = kind;
    this.#signal = options.signal;
    if (this.#signal?.aborted) {
      this.#queue.end();
      return;
    }
    const id = native.fdWatch(native.psiTrigger(this.#file, trigger), (events) => {
      if (events & WATCH_ERROR) {
        // The trigger is gone with its group (rmdir).
        return this.#end();
      }
      let pressure: Pressure;
      try {
        pressure = parsePressure(fs.readFileSync(this.#file, 'utf8'), path.basename(this.#file));
      } catch {
        return this.#end(); // the group went away between the event and the read
      }
      this.#queue.push({ resource: this.#resource, kind: this.#kind, pressure });
    });
    native.fdWatchStart(id, WATCH_PRIORITIZED);
    this.#id = id;
    this.#signal?.addEventListener('abort', this.#onAbort);
  }

  #end(): void {
    if (!this.#queue.end()) return;
    if (this.#id !== undefined) native.fdWatchClose(this.#id);
    this.#id = undefined;
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  next(): Promise<IteratorResult<PressureEvent>> {
    return this.#queue.next();
  }

  return(): Promise<IteratorResult<PressureEvent>> {
    this.#queue.clear();
    this.#end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
