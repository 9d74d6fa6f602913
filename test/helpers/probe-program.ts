// The probe program (test/probe/nsbox-probe.c, built by scripts/build-probe.sh): a static
// binary a test runs inside a container to ask what the container sees. Its path, the shape
// of what it prints, and small helpers to run it with spawn().
import fs from 'node:fs';
import path from 'node:path';
import { capabilityNames, type Capability } from '../../lib/capabilities';
import type { RlimitResource } from '../../lib/plan';
import type { SpawnInternals, SpawnOptions } from '../../lib/spawn';
import { repoRoot, run } from './env';

export const PROBE_SOURCE = path.join(repoRoot, 'test', 'probe', 'nsbox-probe.c');
const PROBE_PATH = path.join(repoRoot, 'test', 'probe', 'nsbox-probe');

/** The built probe's absolute path; throws, saying how to build it, when it is missing or older than its source. */
export function probeBinary(): string {
  let built: fs.Stats;
  try {
    built = fs.statSync(PROBE_PATH);
  } catch (e) {
    throw new Error(`the probe program ${PROBE_PATH} is not built: run scripts/build-probe.sh (scripts/setup.sh runs it)`, { cause: e });
  }
  if (fs.statSync(PROBE_SOURCE).mtimeMs > built.mtimeMs) {
    throw new Error(`the probe program ${PROBE_PATH} is older than ${PROBE_SOURCE}: run scripts/build-probe.sh`);
  }
  return PROBE_PATH;
}

/** test/probe/nsbox-probe, checked when this module loads (see {@link probeBinary}). */
export const PROBE_BIN = probeBinary();

/** The capability sets as /proc/PID/status names them. */
export type CapabilityField = 'CapInh' | 'CapPrm' | 'CapEff' | 'CapBnd' | 'CapAmb';
/** The same sets as a `capabilities` plan step names them. */
export type CapabilitySetName = 'inheritable' | 'permitted' | 'effective' | 'bounding' | 'ambient';
/** A limit as getrlimit(2) gives it; RLIM_INFINITY is 'unlimited'. */
export type ProbeRlimit = number | 'unlimited';

export interface ProbeMount {
  mountPoint: string;
  /** The mounted directory of its file system (a bind mount's source path within it). */
  root: string;
  fsType: string;
  source: string;
  /** Per-mount options (ro, nosuid, nodev, noexec, relatime…). */
  options: string[];
  /** The file system's own options (size=…, mode=…). */
  superOptions: string[];
}

/**
 * What `nsbox-probe` (no arguments) prints. Without a /proc, the lists read from it (mounts,
 * cgroup, namespaces) are empty, uidMap/gidMap null and fd targets null.
 */
export interface ProbeReport {
  pid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  /** Supplementary groups (getgroups(2)). */
  groups: number[];
  hostname: string;
  domainname: string;
  /** null when the working directory lies outside the process's root. */
  cwd: string | null;
  /** Hex masks as in /proc/self/status ("000001ffffffffff"); from capget/prctl without a /proc. */
  capabilities: Record<CapabilityField, string>;
  /** PR_GET_NO_NEW_PRIVS: 0 or 1. */
  noNewPrivs: number;
  /** 0 none, 1 strict, 2 filter (the `Seccomp:` line of /proc/self/status). */
  seccomp: number;
  /** PR_GET_DUMPABLE: 0, 1, or 2 (suid_dumpable). */
  dumpable: number;
  /** [inside, outside, count] per line of /proc/self/uid_map. */
  uidMap: [number, number, number][] | null;
  gidMap: [number, number, number][] | null;
  /** /proc/self/mountinfo in its order (a mount point stacked on shows last). */
  mounts: ProbeMount[];
  /** The lines of /proc/self/cgroup ("0::/path"). */
  cgroup: string[];
  /** null unless /sys/fs/cgroup is a cgroup2 mount; then its files (null where absent: the root group has none). */
  cgroupLimits: { 'memory.max': string | null; 'pids.max': string | null; 'cpu.max': string | null } | null;
  /** Every open fd (but the one the probe lists them with); target null without a /proc. */
  fds: { fd: number; target: string | null }[];
  rlimits: Record<RlimitResource, { soft: ProbeRlimit; hard: ProbeRlimit }>;
  /** /proc/self/ns/* links by name: { uts: 'uts:[4026531838]', pid_for_children: …, … }. */
  namespaces: Record<string, string>;
  env: string[];
}

/** One path of `nsbox-probe stat PATH...`. */
export interface ProbeStat {
  path: string;
  exists: boolean;
  type: 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'unknown' | null;
  /** Permission bits (st_mode & 07777). */
  mode: number | null;
  size: number | null;
  /** "major:minor" of a device node. */
  device: string | null;
  /** Entries of a readable directory, without . and .. (a masked directory has none). */
  entries: number | null;
  /** Whether open(O_RDONLY) worked. */
  readable: boolean;
  /** Why stat, or else the open, failed. */
  errno: string | null;
}

/** What `nsbox-probe try ACTION [ARGS]` attempts (`nsbox-probe try help` lists their arguments). */
export type ProbeAction =
  | 'mount' | 'mknod' | 'sethostname' | 'module' | 'ptrace' | 'kill' | 'open' | 'write' | 'readlink'
  | 'openexe' | 'unshare' | 'chroot' | 'fd' | 'netifs' | 'keyctl';

/** The result of `nsbox-probe try`: whether the attempt worked, else its errno name. */
export interface ProbeTry {
  action: ProbeAction;
  ok: boolean;
  errno: string | null;
  /** readlink: the link's target; fd: what the fd refers to (null without a /proc). */
  target?: string | null;
  /** netifs: the network interfaces. */
  names?: string[];
  /** openexe: the O_RDONLY open (ok/errno above are the O_WRONLY one). */
  read?: { ok: boolean; errno: string | null };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} did not print one JSON document: ${JSON.stringify(text.slice(0, 500))}`, { cause: e });
  }
}

/** The report the probe printed. */
export function parseProbe(text: string): ProbeReport {
  const report = parseJson(text, 'nsbox-probe') as ProbeReport;
  if (typeof report !== 'object' || report === null || typeof report.pid !== 'number') {
    throw new Error(`nsbox-probe printed something other than its report: ${JSON.stringify(text.slice(0, 500))}`);
  }
  return report;
}

export function parseProbeStat(text: string): ProbeStat[] {
  const list = parseJson(text, 'nsbox-probe stat');
  if (!Array.isArray(list)) throw new Error(`nsbox-probe stat printed something other than a list: ${JSON.stringify(text)}`);
  return list as ProbeStat[];
}

export function parseProbeTry(text: string): ProbeTry {
  const result = parseJson(text, 'nsbox-probe try') as ProbeTry;
  if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') {
    throw new Error(`nsbox-probe try printed something other than its result: ${JSON.stringify(text)}`);
  }
  return result;
}

/** The report's five capability sets decoded to names (lib/capabilities.ts), named as a `capabilities` step names them. */
export function capabilitySets(report: ProbeReport): Record<CapabilitySetName, Capability[]> {
  const c = report.capabilities;
  return {
    inheritable: capabilityNames(c.CapInh),
    permitted: capabilityNames(c.CapPrm),
    effective: capabilityNames(c.CapEff),
    bounding: capabilityNames(c.CapBnd),
    ambient: capabilityNames(c.CapAmb),
  };
}

/** spawn() options for a probe run; `program` is the probe's path as the child sees it. */
export type ProbeRunOptions = Omit<SpawnOptions, 'command'> & {
  /** @default PROBE_BIN (a pivoted child finds it at ROOTFS_PROBE, test/helpers/rootfs.ts) */
  program?: string;
  internals?: SpawnInternals;
};

/** Runs the probe with `args` and returns what it printed; any exit but 0 is an error carrying its stderr. */
export async function runProbe(args: readonly string[], options: ProbeRunOptions = {}): Promise<string> {
  const { program = PROBE_BIN, internals = {}, ...spawnOptions } = options;
  const { stdout, stderr, status } = await run({ ...spawnOptions, command: [program, ...args] }, internals);
  if (status.code !== 0) {
    throw new Error(`nsbox-probe ${args.join(' ')} ended with ${JSON.stringify(status)}: ${stderr.trim()}`);
  }
  return stdout;
}

/** The report of a probe spawned with these options. */
export async function probeReport(options: ProbeRunOptions = {}): Promise<ProbeReport> {
  return parseProbe(await runProbe([], options));
}

/** `nsbox-probe try ACTION ARGS…` spawned with these options. */
export async function probeTry(action: ProbeAction, args: readonly string[] = [], options: ProbeRunOptions = {}): Promise<ProbeTry> {
  return parseProbeTry(await runProbe(['try', action, ...args], options));
}

/** `nsbox-probe stat PATH…` spawned with these options. */
export async function probeStat(paths: readonly string[], options: ProbeRunOptions = {}): Promise<ProbeStat[]> {
  return parseProbeStat(await runProbe(['stat', ...paths], options));
}
