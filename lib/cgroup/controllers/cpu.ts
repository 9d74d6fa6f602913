// cpu: bandwidth (cpu.max, cpu.max.burst), weight, idle.
import { InvalidArgValueError } from '../../errors';
import type { Microseconds } from '../units';
import * as v from '../../validate';
import { int, known, type Write } from './common';

export interface CpuResources {
  /**
   * `cpu.max`: at most `quota` µs of CPU time in each `period` µs, over all the group's
   * threads (`quota: 50_000, period: 100_000` is half a CPU). The kernel takes quota ≥ 1000 µs and
   * 1000 µs ≤ period ≤ 1 s.
   * @default 'max' (no limit; period 100_000)
   * @example { quota: 200_000, period: 100_000 } // two CPUs
   */
  max?: { quota: Microseconds | 'max'; period?: Microseconds } | 'max';
  /** `cpu.weight`: share against siblings when CPUs are contended, 1–10000. @default 100 */
  weight?: number;
  /** `cpu.idle` (Linux 5.15): the group runs only when nothing else wants the CPU (SCHED_IDLE). @default false */
  idle?: boolean;
  /** `cpu.max.burst` (Linux 5.14): unused quota carried into a later period, in µs, at most the quota. @default 0 */
  burst?: Microseconds;
}

// kernel/sched/core.c: min_cfs_quota_period 1 ms, max_cfs_quota_period 1 s, max_cfs_runtime (2^44 - 1) µs.
const MIN_US = 1000;
const MAX_PERIOD_US = 1_000_000;
const MAX_RUNTIME_US = 2 ** 44 - 1;

export function cpuWrites(name: string, value: unknown): Write[] {
  const o = known(name, value, ['max', 'weight', 'idle', 'burst']);
  const writes: Write[] = [];
  let quota: number | 'max' | undefined;
  if (o.max !== undefined) {
    if (o.max === 'max') {
      writes.push({ file: 'cpu.max', value: 'max' });
      quota = 'max';
    } else {
      const m = known(`${name}.max`, o.max, ['quota', 'period']);
      if (m.quota === undefined) throw new InvalidArgValueError(`${name}.max.quota`, undefined, "is required (a number of µs, or 'max')");
      quota = int(`${name}.max.quota`, m.quota, MIN_US, MAX_RUNTIME_US, true);
      const period = m.period === undefined ? undefined : int(`${name}.max.period`, m.period, MIN_US, MAX_PERIOD_US);
      writes.push({ file: 'cpu.max', value: period === undefined ? `${quota}` : `${quota} ${period}` });
    }
  }
  if (o.burst !== undefined) {
    const burst = int(`${name}.burst`, o.burst, 0, MAX_RUNTIME_US) as number;
    // kernel/sched/core.c tg_set_cfs_bandwidth: burst ≤ quota and burst + quota ≤ max_cfs_runtime.
    if (typeof quota === 'number' && burst > quota) throw new InvalidArgValueError(`${name}.burst`, burst, `must not exceed the quota (${quota} µs)`);
    if (typeof quota === 'number' && burst + quota > MAX_RUNTIME_US) throw new InvalidArgValueError(`${name}.burst`, burst, `with the quota must not exceed ${MAX_RUNTIME_US} µs`);
    writes.push({ file: 'cpu.max.burst', value: `${burst}` });
  }
  if (o.weight !== undefined) writes.push({ file: 'cpu.weight', value: `${int(`${name}.weight`, o.weight, 1, 10000)}` });
  if (o.idle !== undefined) writes.push({ file: 'cpu.idle', value: v.boolean(`${name}.idle`, o.idle) ? '1' : '0' });
  return writes;
}

/** `cpu.max` read back. */
export function parseCpuMax(text: string): { quota: number | 'max'; period: number } {
  const m = /^(max|\d+) (\d+)$/.exec(text.trim());
  if (!m) throw new SyntaxError(`cpu.max: not "quota period": ${JSON.stringify(text)}`);
  return { quota: m[1] === 'max' ? 'max' : Number(m[1]), period: Number(m[2]) };
}
