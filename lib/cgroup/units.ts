// Values as the cgroup files write them: byte sizes ('512M'), 'max', and CPU/node lists ('0-3,5').
import { InvalidArgTypeError, InvalidArgValueError, OutOfRangeError } from '../errors';

/**
 * A size in bytes: a number, or a string with a binary suffix as the kernel's memparse reads
 * them — `'512M'` is 512 × 2²⁰, `'1.5G'`, `'64Ki'`, `'2GiB'` and `'4096'` too.
 */
export type ByteSize = number | `${number}` | `${number}${'K' | 'M' | 'G' | 'T' | 'P' | 'E'}${'' | 'i' | 'B' | 'iB'}` | `${number}${'k' | 'm' | 'g' | 't'}`;

/** A limit in bytes, or `'max'` for none. */
export type ByteLimit = ByteSize | 'max';

/** Microseconds, as cpu.max, cpu.max.burst and cpu.stat count time. */
export type Microseconds = number;

const SHIFT: Record<string, number> = { '': 0, k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 };

/** Bytes from a number or a suffixed string, as a safe integer; 'max' stays 'max' where allowed. */
export function bytes(name: string, value: unknown, { max: allowMax = true } = {}): number | 'max' {
  if (value === 'max' && allowMax) return 'max';
  let n: number;
  if (typeof value === 'number') {
    n = value;
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b?)\s*$/i.exec(value);
    if (!m || (m[3] !== '' && m[2] === '')) {
      throw new InvalidArgValueError(name, value, `must be a number of bytes or a size such as '512M', '1.5G', '64KiB'${allowMax ? " or 'max'" : ''}`);
    }
    n = Math.floor(Number(m[1]) * 2 ** SHIFT[m[2].toLowerCase()]);
  } else {
    throw new InvalidArgTypeError(name, `of type number or string${allowMax ? " (or 'max')" : ''}`, value);
  }
  if (!Number.isSafeInteger(n) || n < 0) throw new OutOfRangeError(name, `an integer number of bytes >= 0 and <= ${Number.MAX_SAFE_INTEGER}`, value);
  return n;
}

/** A list of CPU or memory-node numbers: `'0-3,5'`, or the numbers themselves. */
export type IdList = string | readonly number[];

/**
 * Parses `'0-3,5'` (cpuset.cpus, cpuset.mems, the kernel's "list format") into sorted unique
 * numbers; with `limit`, a number at or above it is a RangeError before anything is expanded.
 */
export function parseList(text: string, limit = Infinity): number[] {
  const out = new Set<number>();
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new SyntaxError(`not a list such as "0-3,5": ${JSON.stringify(text)}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new SyntaxError(`a range runs backwards in ${JSON.stringify(text)}`);
    if (to >= limit) throw new RangeError(`${to} is not below ${limit}`);
    for (let i = from; i <= to; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

/** Prints numbers in the kernel's list format: [0,1,2,3,5] → `'0-3,5'`. */
export function formatList(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(',');
}

/** Validates an IdList option and returns it in list format ('' is allowed: inherit none is the kernel's business). */
export function idList(name: string, value: unknown, limit: number): string {
  let ids: number[];
  if (typeof value === 'string') {
    try {
      ids = parseList(value, limit);
    } catch (e) {
      if (e instanceof RangeError) throw new OutOfRangeError(name, `a list of numbers below ${limit} (what this host has)`, value);
      throw new InvalidArgValueError(name, value, `must be a list such as '0-3,5' (${(e as Error).message})`);
    }
  } else if (Array.isArray(value)) {
    ids = value.map((v, i) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new InvalidArgValueError(`${name}[${i}]`, v, 'must be a non-negative integer');
      return v;
    });
  } else {
    throw new InvalidArgTypeError(name, "a list string such as '0-3,5' or an array of numbers", value);
  }
  const over = ids.find((i) => i >= limit);
  if (over !== undefined) throw new OutOfRangeError(name, `a list of numbers below ${limit} (what this host has)`, value);
  return formatList(ids);
}
