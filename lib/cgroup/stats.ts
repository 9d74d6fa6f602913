// Typed stats: every statistics file a group has, read at once and parsed. A file the group
// does not have (controller not enabled, kernel too old) leaves its field out.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseFlatKeyed, parseGroupState, parseNestedKeyed, parsePressure, parseSingle, type GroupState, type Pressure } from './parse';

/** `cpu.stat`: usage always (the core keeps it), throttling with the cpu controller. */
export interface CpuStat {
  usageUsec: number;
  userUsec: number;
  systemUsec: number;
  nrPeriods?: number;
  nrThrottled?: number;
  throttledUsec?: number;
  nrBursts?: number;
  burstUsec?: number;
  [key: string]: number | undefined;
}

/** `memory.events` / `memory.events.local`: how often each boundary was hit. */
export interface MemoryEvents {
  low: number;
  high: number;
  max: number;
  /** The group hit its limit and reclaim failed; an OOM kill may or may not follow. */
  oom: number;
  /** Processes killed by the OOM killer: this, not `oom`, says a process was killed. */
  oomKill: number;
  /** Whole-group kills (memory.oom.group). */
  oomGroupKill?: number;
  [key: string]: number | undefined;
}

export interface MemoryStats {
  /** `memory.current`, bytes. */
  current: number;
  /** `memory.peak` (Linux 5.19), bytes. */
  peak?: number;
  /** `memory.swap.current`, bytes (absent without swap accounting). */
  swapCurrent?: number;
  /** `memory.stat`, keys camelCased (`anon`, `file`, `pgfault`, `workingsetRefaultAnon`, …), bytes or counts as the kernel documents. */
  stat: Record<string, number>;
  events: MemoryEvents;
  /** Events of this group alone, not its descendants. */
  eventsLocal?: MemoryEvents;
}

export interface PidsStats {
  current: number;
  /** `pids.peak` (Linux 6.1). */
  peak?: number;
  /** `pids.events`: `max` counts forks refused by pids.max. */
  events: { max: number; [key: string]: number };
}

/** One device's line of `io.stat`. */
export interface IoDeviceStat {
  device: string;
  rbytes: number;
  wbytes: number;
  rios: number;
  wios: number;
  dbytes: number;
  dios: number;
  [key: string]: number | string;
}

export interface HugetlbStats {
  /** Bytes of this page size in use. */
  current: number;
  /** Faults refused by the limit (`hugetlb.<size>.events` max). */
  maxEvents?: number;
}

export interface CgroupStats {
  /** `cgroup.events`. */
  state: GroupState;
  /** `cgroup.stat`: live and dying descendant groups. */
  descendants: { nrDescendants: number; nrDyingDescendants: number; [key: string]: number };
  cpu: CpuStat;
  memory?: MemoryStats;
  pids?: PidsStats;
  io?: IoDeviceStat[];
  /** Per huge page size (`'2MB'`). */
  hugetlb?: Record<string, HugetlbStats>;
  /** Pressure stall information, where the kernel keeps it (CONFIG_PSI, not `psi=0`). */
  pressure?: { cpu?: Pressure; memory?: Pressure; io?: Pressure };
}

const num = (text: string, file: string): number => {
  const v = parseSingle(text, file);
  if (v === 'max') throw new SyntaxError(`${file}: 'max' where a count was expected`);
  return v;
};

export function parseIoStat(text: string): IoDeviceStat[] {
  return parseNestedKeyed(text, 'io.stat').map(({ key, values }) => {
    const get = (k: string) => (typeof values[k] === 'number' ? (values[k] as number) : 0);
    return { ...values, device: key, rbytes: get('rbytes'), wbytes: get('wbytes'), rios: get('rios'), wios: get('wios'), dbytes: get('dbytes'), dios: get('dios') } as IoDeviceStat;
  });
}

/** Reads and parses every statistics file the group at `dir` has. */
export async function readStats(dir: string): Promise<CgroupStats> {
  // Only files: a child group may be named like one (`job.events`).
  const names = (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  const files = new Map<string, string>();
  await Promise.all(
    names.filter((n) => /\.(stat|current|peak|events|events\.local|pressure)$/.test(n)).map(async (n) => {
      try {
        files.set(n, await fs.readFile(path.join(dir, n), 'utf8'));
      } catch (e) {
        // Some pressure files refuse reads where PSI is off at runtime (EOPNOTSUPP).
        if (!['ENOENT', 'EOPNOTSUPP', 'ENODEV'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      }
    }),
  );
  const text = (n: string) => files.get(n);
  const flat = (n: string) => parseFlatKeyed(files.get(n) ?? '', n);
  const stats: CgroupStats = {
    state: parseGroupState(text('cgroup.events') ?? ''),
    descendants: flat('cgroup.stat') as CgroupStats['descendants'],
    cpu: flat('cpu.stat') as CpuStat,
  };
  if (text('memory.current') !== undefined) {
    const m: MemoryStats = {
      current: num(text('memory.current')!, 'memory.current'),
      stat: flat('memory.stat'),
      events: flat('memory.events') as MemoryEvents,
    };
    if (text('memory.peak') !== undefined) m.peak = num(text('memory.peak')!, 'memory.peak');
    if (text('memory.swap.current') !== undefined) m.swapCurrent = num(text('memory.swap.current')!, 'memory.swap.current');
    if (text('memory.events.local') !== undefined) m.eventsLocal = flat('memory.events.local') as MemoryEvents;
    stats.memory = m;
  }
  if (text('pids.current') !== undefined) {
    const p: PidsStats = { current: num(text('pids.current')!, 'pids.current'), events: { max: 0, ...flat('pids.events') } };
    if (text('pids.peak') !== undefined) p.peak = num(text('pids.peak')!, 'pids.peak');
    stats.pids = p;
  }
  if (text('io.stat') !== undefined) stats.io = parseIoStat(text('io.stat')!);
  for (const n of files.keys()) {
    const m = /^hugetlb\.(\d+[KMG]B)\.current$/.exec(n);
    if (!m) continue;
    const h: HugetlbStats = { current: num(text(n)!, n) };
    const events = text(`hugetlb.${m[1]}.events`);
    if (events !== undefined) h.maxEvents = parseFlatKeyed(events).max;
    (stats.hugetlb ??= {})[m[1]] = h;
  }
  for (const kind of ['cpu', 'memory', 'io'] as const) {
    const t = text(`${kind}.pressure`);
    if (t !== undefined && t.trim() !== '') (stats.pressure ??= {})[kind] = parsePressure(t, `${kind}.pressure`);
  }
  return stats;
}
