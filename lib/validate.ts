// Argument checks that throw Node-style ERR_INVALID_ARG_* errors before any system call.
import { InvalidArgTypeError, InvalidArgValueError, OutOfRangeError } from './errors';

export function string(name: string, value: unknown, { empty = false } = {}): string {
  if (typeof value !== 'string') throw new InvalidArgTypeError(name, 'of type string', value);
  if (!empty && value.length === 0) throw new InvalidArgValueError(name, value, 'must not be empty');
  if (value.includes('\0')) throw new InvalidArgValueError(name, value, 'must not contain null bytes');
  return value;
}

export function absolutePath(name: string, value: unknown): string {
  string(name, value);
  if (!(value as string).startsWith('/')) throw new InvalidArgValueError(name, value, 'must be an absolute path');
  return value as string;
}

export function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new InvalidArgTypeError(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new OutOfRangeError(name, `an integer >= ${min} and <= ${max}`, value);
  }
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidArgTypeError(name, 'of type boolean', value);
  return value;
}

export function object(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgTypeError(name, 'of type object', value);
  }
  return value as Record<string, unknown>;
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgValueError(name, value, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

export function array(name: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new InvalidArgTypeError(name, 'an instance of Array', value);
  return value;
}

/** Rejects keys the options type does not have: a typo must not be silently ignored. */
export function knownKeys(name: string, value: Record<string, unknown>, keys: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key) && value[key] !== undefined) {
      throw new InvalidArgValueError(`${name}.${key}`, value[key], `is not a known option (known: ${keys.join(', ')})`);
    }
  }
}

export const UINT32_MAX = 0xffffffff;
/** The largest uid/gid: (uid_t)-1 means "unchanged" to the kernel. */
export const ID_MAX = 0xfffffffe;
