// What every controller file shares: the write list that validation produces, and the host
// facts validation checks against (faked in unit tests).
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgTypeError, InvalidArgValueError, OutOfRangeError } from '../../errors';
import * as v from '../../validate';
import { parseList } from '../units';

/** One interface file and the text to write to it, in order. */
export interface Write {
  file: string;
  value: string;
}

/** What validation needs to know about the host, read from sysfs. */
export interface HostFacts {
  /** CPU ids this kernel may have (`/sys/devices/system/cpu/possible`). */
  cpus: readonly number[];
  /** Memory node ids (`/sys/devices/system/node/possible`; `[0]` without NUMA). */
  nodes: readonly number[];
  /** Huge page sizes as hugetlb names them: `'2MB'`, `'1GB'`. */
  hugepageSizes: readonly string[];
  /** `'major:minor'` of a block device given as `'major:minor'` or a `/dev` path, or undefined if there is none. */
  blockDevice(spec: string): string | undefined;
}

function readList(file: string, fallback: number[]): number[] {
  try {
    return parseList(fs.readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
}

/** `hugepages-2048kB` → `'2MB'`, as mm/hugetlb_cgroup.c's mem_fmt names them. */
export function hugepageName(kib: number): string {
  if (kib >= 1 << 20) return `${kib >> 20}GB`;
  if (kib >= 1 << 10) return `${kib >> 10}MB`;
  return `${kib}KB`;
}

// Possible CPUs and nodes and the huge page sizes are fixed at boot: read once.
let facts: HostFacts | undefined;

export function hostFacts(): HostFacts {
  return (facts ??= readHostFacts());
}

function readHostFacts(): HostFacts {
  let sizes: string[] = [];
  try {
    sizes = fs.readdirSync('/sys/kernel/mm/hugepages')
      .map((d) => /^hugepages-(\d+)kB$/.exec(d))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => hugepageName(Number(m[1])));
  } catch {
    // no hugetlbfs support
  }
  return {
    cpus: readList('/sys/devices/system/cpu/possible', [0]),
    nodes: readList('/sys/devices/system/node/possible', [0]),
    hugepageSizes: sizes,
    blockDevice(spec) {
      let id = spec;
      if (spec.startsWith('/')) {
        try {
          const st = fs.statSync(spec);
          if (!st.isBlockDevice()) return undefined;
          // Linux's dev_t: major in bits 8-19 (and 32-43), minor in bits 0-7 and 20-31.
          const rdev = BigInt(st.rdev);
          const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
          const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
          id = `${major}:${minor}`;
        } catch {
          return undefined;
        }
      }
      return fs.existsSync(path.join('/sys/dev/block', id)) ? id : undefined;
    },
  };
}

/** An object with only the keys the resource type has (validate.ts's checks and messages). */
export function known(name: string, value: unknown, keys: readonly string[]): Record<string, unknown> {
  const o = v.object(name, value);
  v.knownKeys(name, o, keys);
  return o;
}

/** An integer in [min, max], or 'max' where allowed. */
export function int(name: string, value: unknown, min: number, max: number, allowMax = false): number | 'max' {
  if (!allowMax) return v.integer(name, value, min, max);
  if (value === 'max') return 'max';
  if (typeof value !== 'number') throw new InvalidArgTypeError(name, "of type number or 'max'", value);
  if (!Number.isInteger(value) || value < min || value > max) throw new OutOfRangeError(name, `an integer >= ${min} and <= ${max}, or 'max'`, value);
  return value;
}

/** A device given as `'major:minor'` or a block device path, resolved to `'major:minor'`. */
export function device(name: string, value: unknown, host: HostFacts): string {
  if (typeof value !== 'string' || !(/^\d+:\d+$/.test(value) || value.startsWith('/'))) {
    throw new InvalidArgValueError(name, value, "must be a block device as 'major:minor' (e.g. '8:0') or a path such as '/dev/sda'");
  }
  const id = host.blockDevice(value);
  if (id === undefined) throw new InvalidArgValueError(name, value, 'is not a block device on this host (see /sys/dev/block)');
  return id;
}
