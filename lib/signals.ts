// Signal names to numbers, in one place. Node names the standard signals only; the real-time
// ones (34-64 on Linux, where glibc's SIGRTMIN is 34) are named as glibc's kill -l names them:
// SIGRTMIN, SIGRTMIN+1 … SIGRTMIN+15, SIGRTMAX-14 … SIGRTMAX.
import os from 'node:os';
import { InvalidArgValueError } from './errors';

const RTMIN = 34;
const RTMAX = 64;

function realtimeNumber(name: string): number | undefined {
  const m = /^SIGRT(MIN|MAX)(?:([+-])(\d{1,2}))?$/.exec(name);
  if (!m) return undefined;
  const offset = m[3] === undefined ? 0 : Number(m[3]) * (m[2] === '+' ? 1 : -1);
  if ((m[1] === 'MIN' && offset < 0) || (m[1] === 'MAX' && offset > 0)) return undefined;
  const n = (m[1] === 'MIN' ? RTMIN : RTMAX) + offset;
  return n >= RTMIN && n <= RTMAX ? n : undefined;
}

export function signalNumber(name: string, value: unknown): number {
  const n = typeof value === 'string' ? ((os.constants.signals as Record<string, number>)[value] ?? realtimeNumber(value)) : undefined;
  if (n === undefined) throw new InvalidArgValueError(name, value, 'must be a signal name such as \'SIGTERM\' (or \'SIGRTMIN+3\')');
  return n;
}

/** The signal's name; a real-time one as 'SIGRTMIN+n' / 'SIGRTMAX-n' (not among Node's names, hence the cast). */
export function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(os.constants.signals).find(([, num]) => num === n);
  if (entry) return entry[0] as NodeJS.Signals;
  if (n < RTMIN || n > RTMAX) return null;
  const name = n === RTMIN ? 'SIGRTMIN' : n === RTMAX ? 'SIGRTMAX' : n - RTMIN <= 15 ? `SIGRTMIN+${n - RTMIN}` : `SIGRTMAX-${RTMAX - n}`;
  return name as NodeJS.Signals;
}
