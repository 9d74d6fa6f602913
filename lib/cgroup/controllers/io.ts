// io: proportional weight and per-device bandwidth and IOPS limits (blk-throttle).
import { OutOfRangeError, InvalidArgTypeError } from '../../errors';
import { device, int, known, type HostFacts, type Write } from './common';

export interface IoDeviceLimit {
  /** The block device: `'major:minor'` (`'8:0'`) or its path (`'/dev/sda'`). */
  device: string;
  /** Bytes read per second. @default 'max' */
  rbps?: number | 'max';
  /** Bytes written per second. @default 'max' */
  wbps?: number | 'max';
  /** Read operations per second. @default 'max' */
  riops?: number | 'max';
  /** Write operations per second. @default 'max' */
  wiops?: number | 'max';
}

export interface IoResources {
  /** `io.weight` default: share against siblings, 1–10000 (needs an IO scheduler or iocost that honours it). @default 100 */
  weight?: number;
  /** `io.weight` per device, overriding `weight` there. */
  deviceWeights?: readonly { device: string; weight: number }[];
  /**
   * `io.max`: limits per device; a device not listed is not limited.
   * @example [{ device: '/dev/vda', rbps: 1_048_576, wiops: 100 }]
   */
  max?: readonly IoDeviceLimit[];
}

const UINT32_MAX = 0xffffffff;

export function ioWrites(name: string, value: unknown, host: HostFacts): Write[] {
  const o = known(name, value, ['weight', 'deviceWeights', 'max']);
  const writes: Write[] = [];
  if (o.weight !== undefined) writes.push({ file: 'io.weight', value: `default ${int(`${name}.weight`, o.weight, 1, 10000)}` });
  const list = (key: string): unknown[] => {
    if (!Array.isArray(o[key])) throw new InvalidArgTypeError(`${name}.${key}`, 'an instance of Array', o[key]);
    return o[key] as unknown[];
  };
  if (o.deviceWeights !== undefined) {
    list('deviceWeights').forEach((d, i) => {
      const n = `${name}.deviceWeights[${i}]`;
      const w = known(n, d, ['device', 'weight']);
      writes.push({ file: 'io.weight', value: `${device(`${n}.device`, w.device, host)} ${int(`${n}.weight`, w.weight, 1, 10000)}` });
    });
  }
  if (o.max !== undefined) {
    list('max').forEach((d, i) => {
      const n = `${name}.max[${i}]`;
      const l = known(n, d, ['device', 'rbps', 'wbps', 'riops', 'wiops']);
      const id = device(`${n}.device`, l.device, host);
      const parts: string[] = [];
      // blk-throttle.c tg_set_limit: a limit must be > 1 (0 and 1 are EINVAL); iops are 32-bit.
      for (const [key, top] of [['rbps', Number.MAX_SAFE_INTEGER], ['wbps', Number.MAX_SAFE_INTEGER], ['riops', UINT32_MAX], ['wiops', UINT32_MAX]] as const) {
        if (l[key] !== undefined) parts.push(`${key}=${int(`${n}.${key}`, l[key], 2, top, true)}`);
      }
      if (parts.length === 0) throw new OutOfRangeError(`${n}`, 'a limit with at least one of rbps, wbps, riops, wiops', d);
      writes.push({ file: 'io.max', value: `${id} ${parts.join(' ')}` });
    });
  }
  return writes;
}
