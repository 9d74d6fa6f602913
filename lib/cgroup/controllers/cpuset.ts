// cpuset: which CPUs and memory nodes the group may use.
import { idList, type IdList } from '../units';
import { known, type HostFacts, type Write } from './common';

export interface CpusetResources {
  /** `cpuset.cpus`: CPUs the group may run on, `'0-3,5'` or `[0, 1, 2, 3, 5]`. @default the parent's */
  cpus?: IdList;
  /** `cpuset.mems`: memory nodes the group may allocate from. @default the parent's */
  mems?: IdList;
}

export function cpusetWrites(name: string, value: unknown, host: HostFacts): Write[] {
  const o = known(name, value, ['cpus', 'mems']);
  const writes: Write[] = [];
  if (o.cpus !== undefined) writes.push({ file: 'cpuset.cpus', value: idList(`${name}.cpus`, o.cpus, Math.max(...host.cpus) + 1) });
  if (o.mems !== undefined) writes.push({ file: 'cpuset.mems', value: idList(`${name}.mems`, o.mems, Math.max(...host.nodes) + 1) });
  return writes;
}
