// Signal names to numbers, in one place.
import os from 'node:os';
import { InvalidArgValueError } from './errors';

export function signalNumber(name: string, value: unknown): number {
  const n = typeof value === 'string' ? (os.constants.signals as Record<string, number>)[value] : undefined;
  if (n === undefined) throw new InvalidArgValueError(name, value, 'must be a signal name such as \'SIGTERM\'');
  return n;
}

export function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(os.constants.signals).find(([, num]) => num === n);
  return entry ? (entry[0] as NodeJS.Signals) : null;
}
