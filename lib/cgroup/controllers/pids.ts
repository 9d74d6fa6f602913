// pids: how many tasks (processes and threads) the group may hold.
import { int, known, type Write } from './common';

export interface PidsResources {
  /** `pids.max`: fork and clone fail with EAGAIN beyond this many tasks. @default 'max' */
  max?: number | 'max';
}

// kernel/cgroup/pids.c: PIDS_MAX is PID_MAX_LIMIT + 1, and a limit must be below it.
const PID_MAX_LIMIT = 4 * 1024 * 1024;

export function pidsWrites(name: string, value: unknown): Write[] {
  const o = known(name, value, ['max']);
  return o.max === undefined ? [] : [{ file: 'pids.max', value: `${int(`${name}.max`, o.max, 0, PID_MAX_LIMIT, true)}` }];
}
