// Values as cgroup files take them (lib/cgroup/units.ts): byte sizes with the binary
// suffixes the kernel's memparse reads, 'max', and the kernel's CPU/node list format.
import { describe, expect, it } from 'vitest';
import { bytes, formatList, idList, parseList } from '../../lib/cgroup/units';
import { caught } from '../helpers/caught';

type Code = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';
const CLASS: Record<Code, TypeErrorConstructor | RangeErrorConstructor> = {
  ERR_INVALID_ARG_TYPE: TypeError,
  ERR_INVALID_ARG_VALUE: TypeError,
  ERR_OUT_OF_RANGE: RangeError,
};

function expectArgError(fn: () => unknown, code: Code, mentions: string): Error & { code?: string } {
  const e = caught(fn);
  expect(e).toBeInstanceOf(CLASS[code]);
  expect(e.code).toBe(code);
  expect(e.message).toContain(mentions);
  return e;
}

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;
const PiB = 1024 ** 5;

describe('bytes', () => {
  it.each([
    [0, 0],
    [4096, 4096],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    ['4096', 4096],
    ['0', 0],
    ['512M', 512 * MiB],
    ['512m', 512 * MiB],
    ['1.5G', 1.5 * GiB],
    ['64Ki', 64 * KiB],
    ['64KiB', 64 * KiB],
    ['64KB', 64 * KiB],
    ['2GiB', 2 * GiB],
    ['3T', 3 * TiB],
    ['7P', 7 * PiB],
    ['1k', KiB],
    [' 256 M ', 256 * MiB],
    ['512M\n', 512 * MiB],
  ] as const)('reads %j as %d bytes', (input, expected) => {
    expect(bytes('size', input)).toBe(expected);
  });

  it('floors a fractional number of bytes from a string: 1.5 is 1, 1.1G is 1181116006.4 → 1181116006', () => {
    expect(bytes('size', '1.5')).toBe(1);
    expect(bytes('size', '0.5')).toBe(0);
    expect(bytes('size', '1.1G')).toBe(1181116006);
    expect(bytes('size', '0.0001K')).toBe(0);
  });

  it('refuses a fractional number as out of range: a number is taken as the exact byte count', () => {
    expectArgError(() => bytes('resources.memory.max', 1.5), 'ERR_OUT_OF_RANGE', '"resources.memory.max"');
  });

  it("keeps 'max' as 'max' where it is allowed, and that is the default", () => {
    expect(bytes('size', 'max')).toBe('max');
    expect(bytes('size', 'max', { max: true })).toBe('max');
  });

  it("refuses 'max' where it is not allowed, and the message then does not offer it", () => {
    const e = expectArgError(() => bytes('resources.x', 'max', { max: false }), 'ERR_INVALID_ARG_VALUE', "'resources.x'");
    expect(e.message).not.toContain("or 'max'");
    expect(e.message).toContain("Received 'max'");
  });

  it("is strict about 'max': 'MAX' and 'max ' with a letter more are not it", () => {
    expectArgError(() => bytes('size', 'MAX'), 'ERR_INVALID_ARG_VALUE', "'size'");
    expectArgError(() => bytes('size', 'maxx'), 'ERR_INVALID_ARG_VALUE', "'size'");
  });

  it.each([
    ['an unknown unit', '5X'],
    ['a doubled byte suffix', '1MiBB'],
    ['a byte suffix without a unit', '4096B'],
    ['an i without a unit', '4096i'],
    ['a negative size', '-1'],
    ['a negative size with a unit', '-1M'],
    ['an empty string', ''],
    ['blanks only', '   '],
    ['a unit alone', 'M'],
    ['a leading dot', '.5M'],
    ['a trailing dot', '1.M'],
    ['an exponent', '1e3'],
    ['hexadecimal', '0x10'],
    ['two numbers', '1 2'],
    ['a number after the unit', '1M2'],
  ])('refuses %s (%j) as ERR_INVALID_ARG_VALUE naming the option and the accepted forms', (_, input) => {
    const e = expectArgError(() => bytes('resources.memory.high', input), 'ERR_INVALID_ARG_VALUE', "The argument 'resources.memory.high'");
    expect(e.message).toContain("a size such as '512M'");
    expect(e.message).toContain("or 'max'");
  });

  it.each([
    ['a negative number', -1],
    ['a negative fraction', -0.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['2^53, the first unsafe integer', 2 ** 53],
    ["'8P', which is 2^53 bytes", '8P'],
    ["'8E'", '8E'],
    ["'9007199254740993', past 2^53 as a string", '9007199254740993'],
  ])('refuses %s as ERR_OUT_OF_RANGE naming the option and the limit', (_, input) => {
    const e = expectArgError(() => bytes('resources.memory.max', input), 'ERR_OUT_OF_RANGE', 'The value of "resources.memory.max" is out of range');
    expect(e.message).toContain(`<= ${Number.MAX_SAFE_INTEGER}`);
  });

  it("takes negative zero as 0 bytes, written as '0'", () => {
    expect(`${bytes('size', -0)}`).toBe('0');
  });

  it.each([
    ['a boolean', true, 'type boolean (true)'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['an object', { bytes: 5 }, 'an instance of Object'],
    ['an array', [512], 'an instance of Array'],
    ['a bigint', 5n, 'type bigint (5n)'],
  ])('refuses %s as ERR_INVALID_ARG_TYPE naming the option and what it received', (_, input, received) => {
    const e = expectArgError(() => bytes('resources.hugetlb', input), 'ERR_INVALID_ARG_TYPE', 'The "resources.hugetlb" argument must be of type number or string');
    expect(e.message).toContain(`Received ${received}`);
  });
});

describe('parseList', () => {
  it.each([
    ['0-3,5', [0, 1, 2, 3, 5]],
    ['', []],
    ['\n', []],
    ['7', [7]],
    ['0-0', [0]],
    ['0-3\n', [0, 1, 2, 3]],
    ['5,0-3', [0, 1, 2, 3, 5]],
    ['1,1,1', [1]],
    ['0-2,1-3', [0, 1, 2, 3]],
    [' 1 , 2 ', [1, 2]],
    ['1,,2', [1, 2]],
    ['8-11,0', [0, 8, 9, 10, 11]],
  ])('reads %j as %j, sorted and without duplicates', (text, ids) => {
    expect(parseList(text)).toEqual(ids);
  });

  it.each([
    ['a backwards range', '3-1', 'a range runs backwards in "3-1"'],
    ['a word', 'all', 'not a list such as "0-3,5": "all"'],
    ['a range without its end', '1-', 'not a list'],
    ['a range without its start', '-1', 'not a list'],
    ['three ends', '1-2-3', 'not a list'],
    ['a fraction', '1.5', 'not a list'],
    ['a blank inside a range', '0 - 3', 'not a list'],
    ['semicolons', '0;1', 'not a list'],
  ])('refuses %s (%j) with a SyntaxError quoting the text', (_, text, message) => {
    expect(() => parseList(text)).toThrow(SyntaxError);
    expect(() => parseList(text)).toThrow(message);
  });
});

describe('formatList', () => {
  it.each([
    [[0, 1, 2, 3, 5], '0-3,5'],
    [[], ''],
    [[7], '7'],
    [[0], '0'],
    [[3, 1, 2, 2], '1-3'],
    [[5, 3, 0, 1, 2], '0-3,5'],
    [[0, 2, 4], '0,2,4'],
    [[9, 8, 1, 0], '0-1,8-9'],
  ])('prints %j as %j', (ids, text) => {
    expect(formatList(ids)).toBe(text);
  });

  it('does not change the array it is given', () => {
    const ids = [3, 1, 2];
    formatList(ids);
    expect(ids).toEqual([3, 1, 2]);
  });

  it.each(['0-3,5', '', '7', '0-0', '5,0-3', '1,1,2', '0,2-4,6-7', '3,2,1'])('round-trips %j to the canonical text and back to the same numbers', (text) => {
    const ids = parseList(text);
    const canonical = formatList(ids);
    expect(parseList(canonical)).toEqual(ids);
    expect(formatList(parseList(canonical))).toBe(canonical);
  });

  it('canonicalises: 0-0 is 0, 5,0-3 is 0-3,5, 1,2,3 is 1-3', () => {
    expect(formatList(parseList('0-0'))).toBe('0');
    expect(formatList(parseList('5,0-3'))).toBe('0-3,5');
    expect(formatList(parseList('1,2,3'))).toBe('1-3');
  });
});

describe('idList', () => {
  it('takes a list string or an array of numbers below the limit and returns the list format', () => {
    expect(idList('resources.cpuset.cpus', '0-3', 4)).toBe('0-3');
    expect(idList('resources.cpuset.cpus', '3,1', 4)).toBe('1,3');
    expect(idList('resources.cpuset.cpus', [3, 0, 1, 2], 4)).toBe('0-3');
    expect(idList('resources.cpuset.cpus', [2, 2], 4)).toBe('2');
  });

  it("takes '' and [] (no ids: what the kernel makes of that is its business)", () => {
    expect(idList('resources.cpuset.mems', '', 1)).toBe('');
    expect(idList('resources.cpuset.mems', [], 1)).toBe('');
  });

  it('takes the last id below the limit and refuses the limit itself, as ERR_OUT_OF_RANGE naming the option', () => {
    expect(idList('resources.cpuset.cpus', '3', 4)).toBe('3');
    expect(idList('resources.cpuset.cpus', [3], 4)).toBe('3');
    const e = expectArgError(() => idList('resources.cpuset.cpus', '0-4', 4), 'ERR_OUT_OF_RANGE', '"resources.cpuset.cpus"');
    expect(e.message).toContain('below 4');
    expect(e.message).toContain("Received '0-4'");
    expectArgError(() => idList('resources.cpuset.mems', [1], 1), 'ERR_OUT_OF_RANGE', '"resources.cpuset.mems"');
  });

  it('refuses a string that is not a list as ERR_INVALID_ARG_VALUE with the parser\'s reason', () => {
    const e = expectArgError(() => idList('resources.cpuset.cpus', '3-1', 4), 'ERR_INVALID_ARG_VALUE', "'resources.cpuset.cpus' must be a list such as '0-3,5'");
    expect(e.message).toContain('a range runs backwards');
    expectArgError(() => idList('resources.cpuset.cpus', 'all', 4), 'ERR_INVALID_ARG_VALUE', "'resources.cpuset.cpus'");
  });

  it.each([
    ['a negative id', [0, -1], "'resources.cpuset.cpus[1]' must be a non-negative integer"],
    ['a fractional id', [1.5], "'resources.cpuset.cpus[0]'"],
    ['a string id', [0, '1'], "'resources.cpuset.cpus[1]'"],
    ['NaN', [Number.NaN], "'resources.cpuset.cpus[0]'"],
    ['Infinity', [Number.POSITIVE_INFINITY], "'resources.cpuset.cpus[0]'"],
  ])('refuses an array with %s as ERR_INVALID_ARG_VALUE naming the element', (_, value, message) => {
    expectArgError(() => idList('resources.cpuset.cpus', value, 4), 'ERR_INVALID_ARG_VALUE', message);
  });

  it.each([
    ['a number', 3],
    ['an object', { cpus: '0-3' }],
    ['null', null],
  ])('refuses %s as ERR_INVALID_ARG_TYPE naming the option', (_, value) => {
    expectArgError(() => idList('resources.cpuset.cpus', value, 4), 'ERR_INVALID_ARG_TYPE', '"resources.cpuset.cpus"');
  });

  // Exposes a lib bug: parseList expands the range into a Set before idList compares it with
  // the limit, so a huge range takes seconds and then fails with V8's "Set maximum size
  // exceeded", wrapped as ERR_INVALID_ARG_VALUE, instead of ERR_OUT_OF_RANGE at once.
  it('refuses a huge range as ERR_OUT_OF_RANGE without expanding it', () => {
    const started = Date.now();
    expectArgError(() => idList('resources.cpuset.cpus', '0-99999999', 4), 'ERR_OUT_OF_RANGE', '"resources.cpuset.cpus"');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
