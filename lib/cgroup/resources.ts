// Resources: one typed object for every controller, validated whole against the kernel's
// ranges before anything is written, then turned into an ordered list of file writes.
import { InvalidArgValueError } from '../errors';
import * as v from '../validate';
import { hostFacts, known, type HostFacts, type Write } from './controllers/common';
import { cpuWrites, type CpuResources } from './controllers/cpu';
import { cpusetWrites, type CpusetResources } from './controllers/cpuset';
import { hugetlbWrites, type HugetlbResources } from './controllers/hugetlb';
import { ioWrites, type IoResources } from './controllers/io';
import { memoryWrites, type MemoryResources } from './controllers/memory';
import { pidsWrites, type PidsResources } from './controllers/pids';
import { CONTROLLERS, type Controller } from './discover';

export type { Write, HostFacts } from './controllers/common';
export type { CpuResources, CpusetResources, HugetlbResources, IoResources, MemoryResources, PidsResources };
export type { IoDeviceLimit } from './controllers/io';

export interface CgroupResources {
  cpu?: CpuResources;
  cpuset?: CpusetResources;
  memory?: MemoryResources;
  pids?: PidsResources;
  io?: IoResources;
  hugetlb?: HugetlbResources;
  /**
   * Interface files nsbox has no type for, written as given after the typed ones; the
   * controller is the file's prefix (`'memory.zswap.max'` enables memory).
   * @example { 'memory.zswap.max': '0' }
   */
  raw?: Readonly<Record<string, string | number>>;
}

// Files whose meaning is membership or lifecycle, which Cgroup's methods own.
const NOT_RESOURCES = new Set(['cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control', 'cgroup.kill', 'cgroup.freeze', 'cgroup.type']);

/** Validates every field (throwing a TypeError or RangeError that names it) and returns the writes, in order. */
export function resourceWrites(resources: unknown, host: HostFacts = hostFacts(), name = 'resources'): Write[] {
  const r = known(name, resources, ['cpu', 'cpuset', 'memory', 'pids', 'io', 'hugetlb', 'raw']);
  const writes: Write[] = [];
  // cpuset first: the others do not depend on it, but a process moved in later lands on the right CPUs.
  if (r.cpuset !== undefined) writes.push(...cpusetWrites(`${name}.cpuset`, r.cpuset, host));
  if (r.cpu !== undefined) writes.push(...cpuWrites(`${name}.cpu`, r.cpu));
  if (r.memory !== undefined) writes.push(...memoryWrites(`${name}.memory`, r.memory));
  if (r.pids !== undefined) writes.push(...pidsWrites(`${name}.pids`, r.pids));
  if (r.io !== undefined) writes.push(...ioWrites(`${name}.io`, r.io, host));
  if (r.hugetlb !== undefined) writes.push(...hugetlbWrites(`${name}.hugetlb`, r.hugetlb, host));
  if (r.raw !== undefined) {
    for (const [file, value] of Object.entries(v.object(`${name}.raw`, r.raw))) {
      const n = `${name}.raw['${file}']`;
      if (!/^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$/.test(file)) throw new InvalidArgValueError(n, value, 'must name an interface file such as memory.zswap.max');
      if (NOT_RESOURCES.has(file)) throw new InvalidArgValueError(n, value, `is not a resource: use the Cgroup's methods for ${file}`);
      if (typeof value === 'number' ? !Number.isFinite(value) : typeof value !== 'string' || /[\n\0]/.test(value)) {
        throw new InvalidArgValueError(n, value, 'must be a finite number or a one-line string');
      }
      writes.push({ file, value: `${value}` });
    }
  }
  return writes;
}

/** The controllers a list of writes needs enabled: each file's prefix, where it names one. */
export function controllersOf(writes: readonly Write[]): Controller[] {
  const needed = new Set<Controller>();
  for (const { file } of writes) {
    const prefix = file.slice(0, file.indexOf('.'));
    if ((CONTROLLERS as readonly string[]).includes(prefix)) needed.add(prefix as Controller);
  }
  return CONTROLLERS.filter((c) => needed.has(c));
}
