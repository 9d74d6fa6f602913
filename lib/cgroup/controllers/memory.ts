// memory: hard and soft limits, protection, swap, and whether an OOM kill takes the whole group.
import { InvalidArgValueError } from '../../errors';
import { bytes, type ByteLimit } from '../units';
import * as v from '../../validate';
import { known, type Write } from './common';

export interface MemoryResources {
  /** `memory.max`: above this the group's processes are reclaimed from, then OOM-killed. @default 'max' */
  max?: ByteLimit;
  /** `memory.high`: above this the group is throttled and reclaimed from, never killed. @default 'max' */
  high?: ByteLimit;
  /** `memory.low`: best-effort protection from reclaim. @default 0 */
  low?: ByteLimit;
  /** `memory.min`: hard protection from reclaim. @default 0 */
  min?: ByteLimit;
  /** `memory.swap.max`: swap the group may use; 0 forbids swapping. @default 'max' */
  swapMax?: ByteLimit;
  /** `memory.oom.group`: an OOM kill takes every process of the group, not one. @default false */
  oomGroup?: boolean;
}

const FILES: Record<string, string> = { min: 'memory.min', low: 'memory.low', high: 'memory.high', max: 'memory.max', swapMax: 'memory.swap.max' };

export function memoryWrites(name: string, value: unknown): Write[] {
  const o = known(name, value, ['max', 'high', 'low', 'min', 'swapMax', 'oomGroup']);
  const writes: Write[] = [];
  const given: Record<string, number | 'max'> = {};
  for (const [key, file] of Object.entries(FILES)) {
    if (o[key] === undefined) continue;
    given[key] = bytes(`${name}.${key}`, o[key]);
    writes.push({ file, value: `${given[key]}` });
  }
  // The kernel takes any of these; protecting more than the limit allows is only a mistake.
  if (typeof given.max === 'number') {
    for (const key of ['min', 'low'] as const) {
      const v = given[key];
      if (v !== undefined && (v === 'max' || v > given.max)) {
        throw new InvalidArgValueError(`${name}.${key}`, o[key], `must not exceed ${name}.max (${given.max} bytes)`);
      }
    }
  }
  if (o.oomGroup !== undefined) writes.push({ file: 'memory.oom.group', value: v.boolean(`${name}.oomGroup`, o.oomGroup) ? '1' : '0' });
  return writes;
}
