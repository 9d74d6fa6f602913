// cgroup v2: discovery, the Cgroup class, typed resources, stats and events.
export { Cgroup, type CgroupCreateOptions, type RemoveOptions, type WaitOptions } from './cgroup';
export { cgroupHost, controllersAt, mayCreateGroups, CONTROLLERS, type CgroupHost, type CgroupMode, type Controller, type CreateAccess } from './discover';
export type { CgroupEvent, CgroupEventType, CgroupEvents, CgroupEventsOptions } from './events';
export type { PressureEvent, PressureEvents, PressureTriggerOptions } from './pressure';
export { parseFlatKeyed, parseNestedKeyed, parsePressure, parseSingle, parseGroupState, type Pressure, type PressureLine, type GroupState, type NestedEntry } from './parse';
export { resourceWrites, type CgroupResources, type CpuResources, type CpusetResources, type MemoryResources, type PidsResources, type IoResources, type IoDeviceLimit, type HugetlbResources, type Write } from './resources';
export { readStats, parseIoStat, type CgroupStats, type CpuStat, type MemoryStats, type MemoryEvents, type PidsStats, type IoDeviceStat, type HugetlbStats } from './stats';
export { bytes, parseList, formatList, type ByteSize, type ByteLimit, type Microseconds, type IdList } from './units';
export { parseCpuMax } from './controllers/cpu';
