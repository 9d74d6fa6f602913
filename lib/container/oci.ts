// The OCI runtime-spec bridge: a bundle's config.json, as `runc spec` writes it, read into the
// ContainerOptions of the same container, and options written back as a config.json that
// `runc run` runs. Where the spec leaves room, runc 1.1's reading is followed
// (libcontainer/specconv/spec_linux.go, libcontainer/cgroups/fs2, libcontainer/init_linux.go).
// A field nsbox cannot honour is an OciUnsupportedError naming it, never dropped.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CAPABILITIES, type Capability } from '../capabilities';
import { hostFacts } from '../cgroup/controllers/common';
import { cgroupHost } from '../cgroup/discover';
import type { CgroupResources, CpuResources, IoDeviceLimit, MemoryResources } from '../cgroup/resources';
import { bytes, formatList } from '../cgroup/units';
import { fsError, InvalidArgValueError, OciUnsupportedError, OutOfRangeError, renameOptionError } from '../errors';
import { RLIMITS, type RlimitResource, type RlimitValue } from '../plan';
import type { LinuxSeccomp } from '../seccomp/types';
import type { IdMapping } from '../spawn';
import * as v from '../validate';
import { DEFAULT_CAPABILITIES, DEFAULT_RLIMITS } from './defaults';
import { normalizeOptions, type ContainerConfig, type ContainerMount, type ContainerOptions } from './options';
import { defaultSeccompProfile } from './security';

// ---- the config.json shapes nsbox reads and writes (runtime-spec specs-go/config.go) ----------

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciRlimit {
  type: string;
  /** An unsigned 64-bit count; RLIM_INFINITY (2^64 - 1) as a bigint. */
  hard: number | bigint;
  soft: number | bigint;
}

export interface OciThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface OciResources {
  devices?: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: {
    throttleReadBpsDevice?: OciThrottleDevice[];
    throttleWriteBpsDevice?: OciThrottleDevice[];
    throttleReadIOPSDevice?: OciThrottleDevice[];
    throttleWriteIOPSDevice?: OciThrottleDevice[];
  };
  hugepageLimits?: { pageSize: string; limit: number }[];
  /** cgroup v2 interface files, written as given after everything else. */
  unified?: Record<string, string>;
}

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

/** The config.json of a bundle, in the fields nsbox reads and writes. */
export interface OciSpec {
  ociVersion: string;
  process?: {
    terminal?: boolean;
    consoleSize?: { height: number; width: number };
    user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
    args: string[];
    env?: string[];
    cwd: string;
    capabilities?: OciCapabilities;
    rlimits?: OciRlimit[];
    noNewPrivileges?: boolean;
  };
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: OciMount[];
  annotations?: Record<string, string>;
  linux?: {
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    sysctl?: Record<string, string>;
    resources?: OciResources;
    cgroupsPath?: string;
    namespaces?: { type: string; path?: string }[];
    seccomp?: LinuxSeccomp | Record<string, unknown>;
    maskedPaths?: string[];
    readonlyPaths?: string[];
  };
}

/** Where this host's cgroups are, for `linux.cgroupsPath`; read from the host when not given. */
export interface OciHost {
  /** The cgroup2 mount: an absolute cgroupsPath is below it. @default this host's (/sys/fs/cgroup on a unified host) */
  cgroupMount?: string;
  /** This process's cgroup2 directory: a relative cgroupsPath is below its parent, as runc places it. @default this process's */
  ownCgroup?: string;
}

export interface OptionsToOciOptions {
  /**
   * `root.path` of the config: a directory, absolute or relative to the bundle (`'rootfs'`).
   * @default the options' rootfs directory; the embedded default root and an overlay root have
   * none, and are an OciUnsupportedError without this
   */
  rootfs?: string;
  /** The cgroup2 mount, to write options.cgroupParent as a cgroupsPath. @default this host's */
  cgroupMount?: string;
}

// ---- numbers beyond 2^53 ------------------------------------------------------------------

const BIG = '\u0000bigint:';
/** RLIM_INFINITY: `(rlim_t)-1` (asm-generic/resource.h). */
const RLIM_INFINITY = 2n ** 64n - 1n;

/**
 * Parses config.json text. JSON numbers are doubles in JavaScript: integers beyond 2^53
 * (RLIM_INFINITY, seccomp argument masks) are read as bigints, exactly.
 */
export function parseOciSpec(text: string): unknown {
  const marked = v.string('text', text, { empty: true }).replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (t) =>
    t[0] === '"' || /[.eE]/.test(t) || Number.isSafeInteger(Number(t)) ? t : `"\\u0000bigint:${t}"`);
  return JSON.parse(marked, (_, x) => (typeof x === 'string' && x.startsWith(BIG) ? BigInt(x.slice(BIG.length)) : x));
}

/** config.json text for a spec, tab-indented as `runc spec` writes it; bigints are written as integers. */
export function formatOciSpec(spec: unknown): string {
  const text = JSON.stringify(spec, (_, x) => (typeof x === 'bigint' ? `${BIG}${x}` : x), '\t');
  return `${text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1')}\n`;
}

// ---- config.json → ContainerOptions --------------------------------------------------------

const NAMESPACES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
/** The namespaces nsbox makes new for every container. */
const ALWAYS_NEW = ['pid', 'ipc', 'uts', 'mount'] as const;

/** Fields nsbox knows and cannot honour, with why; each is an error unless empty. */
const UNSUPPORTED: Record<string, string> = {
  domainname: 'nsbox sets no NIS domain name',
  solaris: 'nsbox runs Linux containers only',
  windows: 'nsbox runs Linux containers only',
  vm: 'nsbox runs containers, not virtual machines',
  zos: 'nsbox runs Linux containers only',
  'process.commandLine': 'a Windows field (use process.args)',
  'process.apparmorProfile': 'nsbox applies no AppArmor profile',
  'process.selinuxLabel': 'nsbox applies no SELinux label',
  'process.oomScoreAdj': 'nsbox does not set oom_score_adj',
  'process.scheduler': 'nsbox does not set a scheduling policy (sched_setattr(2))',
  'process.ioPriority': 'nsbox does not set an I/O priority (ioprio_set(2))',
  'process.execCPUAffinity': 'nsbox does not set a CPU affinity at exec (use linux.resources.cpu.cpus)',
  'process.user.username': 'a Windows field (use uid and gid)',
  'linux.devices': 'nsbox creates only its default device nodes (null, zero, full, random, urandom, tty)',
  'linux.mountLabel': 'nsbox applies no SELinux mount label',
  'linux.intelRdt': 'nsbox has no Intel RDT (resctrl) support',
  'linux.personality': 'nsbox does not set an execution domain (personality(2))',
  'linux.timeOffsets': 'nsbox makes no time namespace',
  'linux.memoryPolicy': 'nsbox sets no NUMA memory policy (set_mempolicy(2))',
  'linux.netDevices': 'nsbox moves no network devices into the container',
  'linux.resources.network': 'net_cls and net_prio are cgroup v1 controllers; nsbox uses cgroup v2 only',
  'linux.resources.rdma': 'nsbox has no typed rdma limits (cgroup v2 rdma.max takes one device per write)',
  'linux.resources.memory.kernel': 'kernel memory limits are cgroup v1 only (and deprecated)',
  'linux.resources.memory.kernelTCP': 'kernel memory limits are cgroup v1 only (and deprecated)',
  'linux.resources.memory.swappiness': 'cgroup v2 has no per-group swappiness',
  'linux.resources.memory.disableOOMKiller': 'cgroup v2 cannot disable the OOM killer for a group',
  'linux.resources.memory.checkBeforeUpdate': 'nsbox does not update a running container from a spec',
  'linux.resources.cpu.realtimeRuntime': 'cgroup v2 has no real-time CPU bandwidth',
  'linux.resources.cpu.realtimePeriod': 'cgroup v2 has no real-time CPU bandwidth',
  'linux.resources.blockIO.leafWeight': 'leaf weights are cgroup v1 (CFQ) only',
  'linux.seccomp.listenerPath': 'nsbox has no seccomp notify supervisor (SCMP_ACT_NOTIFY)',
  'linux.seccomp.listenerMetadata': 'nsbox has no seccomp notify supervisor (SCMP_ACT_NOTIFY)',
};

/** Nothing asked for: absent, null, '', false, [], or an object of such (0 too, where 0 means unset). */
function isEmpty(x: unknown, zeroIsUnset: boolean): boolean {
  if (x === undefined || x === null || x === '' || x === false || (zeroIsUnset && x === 0)) return true;
  if (Array.isArray(x)) return x.length === 0;
  if (typeof x === 'object') return Object.values(x).every((y) => isEmpty(y, zeroIsUnset));
  return false;
}

const given = (x: unknown): boolean => x !== undefined && x !== null;

/** The mounts nsbox makes itself, as runc spec writes them, with the options nsbox's own carry. */
interface StandardMount {
  types: readonly string[];
  options: readonly string[];
  /** Another accepted form: rootless runc binds the host's /sys. */
  bindOf?: string;
}
const NOSUID_NOEXEC_NODEV = ['nosuid', 'noexec', 'nodev'];
const STANDARD_MOUNTS: Record<string, StandardMount> = {
  '/proc': { types: ['proc'], options: NOSUID_NOEXEC_NODEV },
  '/dev': { types: ['tmpfs'], options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  '/dev/pts': { types: ['devpts'], options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  '/dev/shm': { types: ['tmpfs'], options: [...NOSUID_NOEXEC_NODEV, 'mode=1777', 'size=65536k'] },
  '/dev/mqueue': { types: ['mqueue'], options: NOSUID_NOEXEC_NODEV },
  '/sys': { types: ['sysfs'], options: [...NOSUID_NOEXEC_NODEV, 'ro'], bindOf: '/sys' },
  '/sys/fs/cgroup': { types: ['cgroup', 'cgroup2'], options: [...NOSUID_NOEXEC_NODEV, 'relatime', 'ro'] },
};

/** A mount option in a comparable form: sizes in bytes, modes and ids as numbers. */
function optionKey(option: string): string {
  const m = /^(size|mode|ptmxmode|gid|uid)=(.*)$/.exec(option);
  if (!m) return option;
  try {
    if (m[1] === 'size') return `size=${bytes('size', m[2], { max: false })}`;
    if (/mode$/.test(m[1]) && /^[0-7]+$/.test(m[2])) return `${m[1]}=${parseInt(m[2], 8)}`;
  } catch {
    // not a size nsbox reads: compared as written
  }
  return option;
}

/** runc's cgroups.ConvertCPUSharesToCgroupV2Value: cpu.shares [2, 262144] → cpu.weight [1, 10000]. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** The smallest cpu.shares that runc's conversion turns into exactly this cpu.weight. */
export function weightToShares(weight: number): number {
  return 2 + Math.ceil(((weight - 1) * 262142) / 9999);
}

/** runc's cgroups.ConvertBlkIOToIOWeightValue: blkio.weight [10, 1000] → io.weight [1, 10000]. */
export function blkioWeightToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** Reads one spec; `file` names config.json in errors when it came from one. */
class SpecReader {
  /** linux.namespaces has a user namespace (read ahead: the mounts depend on it). */
  userns = false;
  /** options.mounts[k] came from mounts[mountIndex[k]]. */
  readonly mountIndex: number[] = [];

  constructor(
    readonly bundleDir: string,
    readonly host: OciHost,
    readonly file: string | undefined,
  ) {}

  name(field: string): string {
    if (field === '') return this.file ?? 'spec';
    return this.file === undefined ? `spec.${field}` : `${this.file}: ${field}`;
  }

  unsupported(field: string, reason: string): OciUnsupportedError {
    return new OciUnsupportedError(field, reason, this.file);
  }

  object(field: string, value: unknown): Record<string, unknown> {
    return v.object(this.name(field), value);
  }

  array(field: string, value: unknown): unknown[] {
    return v.array(this.name(field), value);
  }

  string(field: string, value: unknown, opts?: { empty?: boolean }): string {
    return v.string(this.name(field), value, opts);
  }

  integer(field: string, value: unknown, min: number, max: number): number {
    return v.integer(this.name(field), value, min, max);
  }

  boolean(field: string, value: unknown): boolean {
    return v.boolean(this.name(field), value);
  }

  absolute(field: string, value: unknown): string {
    const p = path.posix.normalize(v.absolutePath(this.name(field), value));
    return p.length > 1 ? p.replace(/\/$/, '') : p;
  }

  strings(field: string, value: unknown): string[] {
    return given(value) ? this.array(field, value).map((s, i) => this.string(`${field}[${i}]`, s, { empty: true })) : [];
  }

  /**
   * Checks that `o` asks for nothing beyond `handled`: a known unsupported field, or one nsbox
   * does not know, is an error unless empty. `zeroIsUnset` where runc reads 0 as "not set".
   */
  only(field: string, o: Record<string, unknown>, handled: readonly string[], zeroIsUnset = false): void {
    for (const [key, value] of Object.entries(o)) {
      if (handled.includes(key) || isEmpty(value, zeroIsUnset)) continue;
      const f = field === '' ? key : `${field}.${key}`;
      throw this.unsupported(f, UNSUPPORTED[f] ?? 'not a field nsbox knows (runtime-spec 1.0-1.2)');
    }
  }

  read(spec: unknown): ContainerOptions {
    const s = this.object('', spec);
    this.only('', s, ['ociVersion', 'process', 'root', 'hostname', 'mounts', 'hooks', 'annotations', 'linux']);
    const version = this.string('ociVersion', s.ociVersion);
    if (!/^1\.[0-2]\.\d+(?:[-+].*)?$/.test(version)) throw this.unsupported('ociVersion', `nsbox reads runtime-spec 1.0.x to 1.2.x, not '${version}'`);
    if (given(s.hooks)) {
      for (const [key, value] of Object.entries(this.object('hooks', s.hooks))) {
        if (!isEmpty(value, false)) throw this.unsupported(`hooks.${key}`, 'nsbox runs no OCI hooks: run that code around the container\'s start instead');
      }
    }

    if (!given(s.root)) throw new InvalidArgValueError(this.name('root'), s.root, 'must be given (the container\'s root filesystem)');
    const root = this.object('root', s.root);
    this.only('root', root, ['path', 'readonly']);
    const rootfs = path.resolve(this.bundleDir, this.string('root.path', root.path));
    const out: ContainerOptions = { command: [], rootfs: { path: rootfs, readonly: given(root.readonly) && this.boolean('root.readonly', root.readonly) } };

    const linux = given(s.linux) && typeof s.linux === 'object' ? (s.linux as Record<string, unknown>) : {};
    this.userns = Array.isArray(linux.namespaces) && linux.namespaces.some((n) => typeof n === 'object' && n !== null && (n as Record<string, unknown>).type === 'user');
    this.process(s.process, rootfs, out);
    out.hostname = given(s.hostname) && s.hostname !== '' ? this.string('hostname', s.hostname) : os.hostname();
    const mounts = this.mounts(s.mounts);
    if (mounts.length > 0) out.mounts = mounts;
    this.linux(given(s.linux) ? this.object('linux', s.linux) : {}, out);
    // runc pairs CAP_MKNOD with device cgroup rules that stop a made node from being opened;
    // nsbox has none (README), so a bundle cannot give the one without the other.
    const caps = out.capabilities;
    if (out.userNamespace === false && caps && 'add' in caps && caps.add?.includes('CAP_MKNOD')) {
      throw this.unsupported('process.capabilities.bounding', "'CAP_MKNOD': nsbox has no device cgroup to stop a node the container makes from being opened (runc's linux.resources.devices rules do): drop it, or use a user namespace");
    }
    return out;
  }

  process(value: unknown, rootfs: string, out: ContainerOptions): void {
    if (!given(value)) throw new InvalidArgValueError(this.name('process'), value, 'must be given (the program to run)');
    const p = this.object('process', value);
    this.only('process', p, ['terminal', 'consoleSize', 'user', 'args', 'env', 'cwd', 'capabilities', 'rlimits', 'noNewPrivileges']);

    out.command = this.array('process.args', p.args).map((a, i) => this.string(`process.args[${i}]`, a, { empty: i > 0 }));
    if (out.command.length === 0) throw new InvalidArgValueError(this.name('process.args'), p.args, 'must name a program');
    out.cwd = this.absolute('process.cwd', p.cwd);

    const u = given(p.user) ? this.object('process.user', p.user) : {};
    this.only('process.user', u, ['uid', 'gid', 'umask', 'additionalGids']);
    const uid = given(u.uid) ? this.integer('process.user.uid', u.uid, 0, v.ID_MAX) : 0;
    const gid = given(u.gid) ? this.integer('process.user.gid', u.gid, 0, v.ID_MAX) : 0;
    const additionalGids = given(u.additionalGids)
      ? this.array('process.user.additionalGids', u.additionalGids).map((g, i) => this.integer(`process.user.additionalGids[${i}]`, g, 0, v.ID_MAX))
      : [];
    out.user = { uid, gid, ...(additionalGids.length > 0 && { additionalGids }) };
    if (given(u.umask)) out.umask = this.integer('process.user.umask', u.umask, 0, 0o777);

    const env: Record<string, string> = {};
    this.strings('process.env', p.env).forEach((e, i) => {
      const eq = e.indexOf('=');
      if (eq <= 0) throw new InvalidArgValueError(this.name(`process.env[${i}]`), e, "must be 'NAME=value'");
      env[e.slice(0, eq)] = e.slice(eq + 1);
    });
    // runc sets HOME when the spec does not (init_linux.go setupUser): the user's home in the image.
    if (env.HOME === undefined) env.HOME = homeOf(rootfs, uid);
    out.env = env;

    if (given(p.terminal) && this.boolean('process.terminal', p.terminal)) {
      out.stdio = 'pty';
      // "Runtimes MUST ignore consoleSize if terminal is false or unset" (config.md).
      if (given(p.consoleSize)) {
        const c = this.object('process.consoleSize', p.consoleSize);
        this.only('process.consoleSize', c, ['height', 'width']);
        if (!isEmpty(c, true)) {
          out.terminalSize = {
            cols: this.integer('process.consoleSize.width', c.width, 1, 65535),
            rows: this.integer('process.consoleSize.height', c.height, 1, 65535),
          };
        }
      }
    }

    out.capabilities = this.capabilities(p.capabilities);
    // runc sets the limits the spec gives and leaves the rest as its caller has them: so
    // does nsbox here, 'inherit' in place of its own defaults (nofile 1024).
    const rlimits: Partial<Record<RlimitResource, { soft: RlimitValue; hard: RlimitValue } | 'inherit'>> = {};
    for (const r of Object.keys(DEFAULT_RLIMITS) as RlimitResource[]) rlimits[r] = 'inherit';
    out.rlimits = rlimits;
    if (given(p.rlimits)) {
      const seen = new Set<RlimitResource>();
      this.array('process.rlimits', p.rlimits).forEach((r, i) => {
        const f = `process.rlimits[${i}]`;
        const o = this.object(f, r);
        this.only(f, o, ['type', 'soft', 'hard']);
        const type = this.string(`${f}.type`, o.type);
        const resource = /^RLIMIT_[A-Z]+$/.test(type) ? (type.slice(7).toLowerCase() as RlimitResource) : undefined;
        if (resource === undefined || !RLIMITS.includes(resource)) {
          throw this.unsupported(`${f}.type`, `'${type}' is not a resource limit nsbox knows (${RLIMITS.map((x) => `RLIMIT_${x.toUpperCase()}`).join(', ')})`);
        }
        if (seen.has(resource)) throw new InvalidArgValueError(this.name(`${f}.type`), type, 'is given twice');
        seen.add(resource);
        rlimits[resource] = { soft: this.rlimit(`${f}.soft`, o.soft), hard: this.rlimit(`${f}.hard`, o.hard) };
      });
    }
    // Absent or false is off in the spec; nsbox's default is on.
    out.noNewPrivileges = given(p.noNewPrivileges) && this.boolean('process.noNewPrivileges', p.noNewPrivileges);
  }

  rlimit(field: string, value: unknown): RlimitValue {
    if (typeof value === 'bigint') {
      if (value < 0n) throw new OutOfRangeError(this.name(field), '>= 0', value);
      if (value >= RLIM_INFINITY) return 'unlimited';
      return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
    }
    if (typeof value === 'number' && Number.isInteger(value) && value >= 2 ** 64 - 1) return 'unlimited'; // RLIM_INFINITY read as a double
    if (typeof value === 'number' && Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER) return BigInt(value);
    return this.integer(field, value, 0, Number.MAX_SAFE_INTEGER);
  }

  /**
   * nsbox gives the process one set as its bounding, permitted and effective sets, with empty
   * inheritable and ambient sets. The spec's sets must say the same: permitted and effective
   * equal to bounding, inheritable empty. Ambient is then accepted whatever it holds: the kernel
   * raises an ambient capability only if it is inheritable too (prctl(2) PR_CAP_AMBIENT_RAISE),
   * so it stays empty, as under runc 1.1, whose `runc spec` writes one (runc commit 0de19533).
   */
  capabilities(value: unknown): ContainerOptions['capabilities'] {
    const c = given(value) ? this.object('process.capabilities', value) : {};
    this.only('process.capabilities', c, ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']);
    const set = (key: string): Set<Capability> => new Set(this.strings(`process.capabilities.${key}`, c[key]).map((name, i) => {
      if (!(CAPABILITIES as readonly string[]).includes(name)) throw this.unsupported(`process.capabilities.${key}[${i}]`, `'${name}' is not a capability nsbox knows`);
      return name as Capability;
    }));
    const bounding = set('bounding');
    for (const key of ['effective', 'permitted']) {
      const other = set(key);
      const missing = [...bounding].filter((x) => !other.has(x));
      const extra = [...other].filter((x) => !bounding.has(x));
      if (missing.length > 0 || extra.length > 0) {
        const diff = [missing.length > 0 && `lacks ${missing.join(', ')}`, extra.length > 0 && `adds ${extra.join(', ')}`].filter(Boolean).join(' and ');
        throw this.unsupported(`process.capabilities.${key}`, `nsbox gives the process one set as bounding, permitted and effective; this ${diff} against bounding`);
      }
    }
    set('ambient'); // names checked; see above
    if (set('inheritable').size > 0) {
      throw this.unsupported('process.capabilities.inheritable', 'nsbox leaves the inheritable set empty (inheritable capabilities would let a non-root user keep them through file capabilities: CVE-2022-24769)');
    }
    if (bounding.size === 0) return { drop: ['ALL'] };
    const drop = DEFAULT_CAPABILITIES.filter((x) => !bounding.has(x));
    const add = CAPABILITIES.filter((x) => bounding.has(x) && !DEFAULT_CAPABILITIES.includes(x));
    return { ...(add.length > 0 && { add }), ...(drop.length > 0 && { drop }) };
  }

  mounts(value: unknown): ContainerMount[] {
    const out: ContainerMount[] = [];
    (given(value) ? this.array('mounts', value) : []).forEach((m, i) => {
      const f = `mounts[${i}]`;
      const o = this.object(f, m);
      this.only(f, o, ['destination', 'type', 'source', 'options']);
      const target = this.absolute(`${f}.destination`, o.destination);
      const type = given(o.type) ? this.string(`${f}.type`, o.type, { empty: true }) : '';
      const source = given(o.source) ? this.string(`${f}.source`, o.source, { empty: true }) : '';
      const options = this.strings(`${f}.options`, o.options);
      if (this.isStandard(f, target, type, source, options)) {
        // runc mounts in the spec's order, nsbox its own first: a mount listed earlier at or
        // below this one would be hidden under runc and seen under nsbox.
        const under = out.findIndex((m) => m.target === target || m.target.startsWith(`${target}/`));
        if (under >= 0) {
          throw this.unsupported(`mounts[${this.mountIndex[under]}]`, `'${out[under].target}' comes before mounts[${i}] ('${target}'), which would cover it; nsbox makes ${target} before any mount of the spec's: list it after`);
        }
        return;
      }
      out.push(this.mount(f, target, type, source, options));
      this.mountIndex.push(i);
    });
    return out;
  }

  /**
   * One of the mounts nsbox makes itself, with a type and options its own has: then it is not
   * a user mount. The same place and type with an option nsbox's lacks is an error, not a
   * user mount over nsbox's own (a tmpfs on /dev would hide its device nodes).
   */
  isStandard(f: string, target: string, type: string, source: string, options: string[]): boolean {
    const std = STANDARD_MOUNTS[target];
    if (!std) return false;
    const bind = std.bindOf !== undefined && path.posix.normalize(source) === std.bindOf && (type === 'bind' || ((type === 'none' || type === '') && options.includes('rbind')));
    if (!std.types.includes(type) && !bind) return false;
    const own = bind ? [...std.options, 'rbind', 'bind', 'rprivate', 'private'] : std.options;
    const allowed = new Set(own.map(optionKey));
    const other = options.find((x) => !allowed.has(optionKey(x)));
    if (other !== undefined) {
      throw this.unsupported(`${f}.options`, `'${other}': nsbox makes ${target} itself, with ${own.join(',')} only`);
    }
    // Nor may the spec leave out an option nsbox's own has: it would get it anyway. Except
    // relatime (the kernel's default), /proc's nosuid,nodev,noexec (README: nsbox mounts /proc
    // as Docker does, runc spec's has none), and gid=5, which nsbox's devpts in a user
    // namespace has not either.
    const asked = new Set(options.map(optionKey));
    const optional = new Set(['relatime', ...(target === '/proc' ? NOSUID_NOEXEC_NODEV : []), ...(target === '/dev/pts' && this.userns ? ['gid=5'] : [])]);
    const missing = std.options.filter((x) => !optional.has(x) && !asked.has(optionKey(x)));
    if (missing.length > 0) {
      throw this.unsupported(`${f}.options`, `lacks ${missing.map((x) => `'${x}'`).join(', ')}: nsbox makes ${target} itself, always with ${std.options.join(',')}`);
    }
    return true;
  }

  mount(f: string, target: string, type: string, source: string, options: string[]): ContainerMount {
    const refuse = (option: string, what: string) => this.unsupported(`${f}.options`, `'${option}': ${what}`);
    const isBind = type === 'bind' || ((type === 'none' || type === '') && options.some((x) => x === 'bind' || x === 'rbind'));
    if (isBind) {
      let readonly = false;
      let recursive = false;
      let devices = false;
      for (const x of options) {
        // nsbox makes a bind read-only all the way down: 'rro' is that; 'ro', which runc applies
        // to the top mount only, is read as it too (stricter; README, intended differences).
        if (x === 'ro' || x === 'rro' || x === 'rw') readonly = x !== 'rw';
        else if (x === 'rbind') recursive = true;
        else if (x === 'bind' || x === 'private' || x === 'rprivate') continue; // nsbox's mounts are private
        // runc's binds open no device its device cgroup denies (all but the standard ones):
        // nsbox's are nodev unless the spec says dev.
        else if (x === 'dev' || x === 'nodev' || x === 'rdev' || x === 'rnodev') devices = x.endsWith('dev') && !x.includes('nodev');
        else throw refuse(x, "nsbox's bind mounts take bind, rbind, ro, rro, rw, dev, rdev, nodev, rnodev and private or rprivate only");
      }
      if (source === '') throw new InvalidArgValueError(this.name(`${f}.source`), source, 'must name the host path of a bind mount');
      return { type: 'bind', source: path.resolve(this.bundleDir, source), target, readonly, recursive, ...(devices ? { devices } : {}) };
    }
    if (type === 'tmpfs') {
      const m: { type: 'tmpfs'; target: string; size?: string; mode?: number; readonly?: boolean } = { type: 'tmpfs', target };
      for (const x of options) {
        if (x === 'ro' || x === 'rw') m.readonly = x === 'ro';
        else if (x === 'nosuid' || x === 'nodev' || x === 'exec') continue; // nsbox's tmpfs mounts are nosuid,nodev
        else if (x.startsWith('size=') && /^\d+[kmg]?$/i.test(x.slice(5))) m.size = x.slice(5).toLowerCase();
        else if (x.startsWith('mode=') && /^[0-7]{1,4}$/.test(x.slice(5))) m.mode = parseInt(x.slice(5), 8);
        else throw refuse(x, "nsbox's tmpfs mounts take size=<bytes>[k|m|g], mode=<octal>, ro, rw (and are always nosuid,nodev)");
      }
      return m;
    }
    if (type === 'overlay') {
      const m: { type: 'overlay'; target: string; lower: string[]; upper?: string; work?: string; readonly?: boolean } = { type: 'overlay', target, lower: [] };
      for (const x of options) {
        const [key, val] = x.includes('=') ? [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)] : [x, ''];
        if (key === 'lowerdir') m.lower = val.split(':').map((d) => path.resolve(this.bundleDir, d));
        else if (key === 'upperdir') m.upper = path.resolve(this.bundleDir, val);
        else if (key === 'workdir') m.work = path.resolve(this.bundleDir, val);
        else if (x === 'ro' || x === 'rw') m.readonly = x === 'ro';
        else if (x === 'nosuid' || x === 'nodev' || x === 'userxattr') continue; // what nsbox's overlay mounts have anyway
        else throw refuse(x, "nsbox's overlay mounts take lowerdir, upperdir, workdir, ro, rw (and are always nosuid,nodev)");
      }
      if (m.lower.length === 0) throw new InvalidArgValueError(this.name(`${f}.options`), options, 'must give lowerdir= for an overlay');
      if (m.upper === undefined && m.work === undefined) m.readonly = true; // the kernel mounts an overlay without upperdir read-only
      return m;
    }
    throw this.unsupported(`${f}.type`, `'${type}' mounts are not supported: nsbox mounts bind, tmpfs and overlay ones, and makes /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup itself (with the types and options runc spec gives them)`);
  }

  linux(l: Record<string, unknown>, out: ContainerOptions): void {
    this.only('linux', l, ['uidMappings', 'gidMappings', 'sysctl', 'resources', 'cgroupsPath', 'namespaces', 'seccomp', 'rootfsPropagation', 'maskedPaths', 'readonlyPaths']);

    const seen = new Set<string>();
    (given(l.namespaces) ? this.array('linux.namespaces', l.namespaces) : []).forEach((n, i) => {
      const f = `linux.namespaces[${i}]`;
      const o = this.object(f, n);
      this.only(f, o, ['type', 'path']);
      const type = this.string(`${f}.type`, o.type);
      if (!(NAMESPACES as readonly string[]).includes(type)) throw new InvalidArgValueError(this.name(`${f}.type`), type, `must be one of ${NAMESPACES.join(', ')}`);
      if (type === 'time') throw this.unsupported(f, 'nsbox makes no time namespace');
      if (given(o.path) && o.path !== '') throw this.unsupported(`${f}.path`, `nsbox makes every namespace new; joining an existing ${type} namespace is not supported`);
      if (seen.has(type)) throw new InvalidArgValueError(this.name(`${f}.type`), type, 'is given twice');
      seen.add(type);
    });
    for (const t of ALWAYS_NEW) {
      if (!seen.has(t)) throw this.unsupported('linux.namespaces', `has no '${t}' namespace: nsbox always makes a new one and cannot share the host's`);
    }
    // A missing cgroup namespace is accepted: runc spec leaves it out on hosts not in cgroup v2
    // unified mode; nsbox makes one always.
    out.network = seen.has('network') ? 'none' : 'host';
    const maps = (key: 'uidMappings' | 'gidMappings'): IdMapping[] => (given(l[key]) ? this.array(`linux.${key}`, l[key]) : []).map((m, i) => {
      const f = `linux.${key}[${i}]`;
      const o = this.object(f, m);
      this.only(f, o, ['containerID', 'hostID', 'size']);
      return {
        containerId: this.integer(`${f}.containerID`, o.containerID, 0, v.ID_MAX),
        hostId: this.integer(`${f}.hostID`, o.hostID, 0, v.ID_MAX),
        size: this.integer(`${f}.size`, o.size, 1, v.ID_MAX),
      };
    });
    const uidMap = maps('uidMappings');
    const gidMap = maps('gidMappings');
    if (seen.has('user')) {
      for (const [key, list] of [['uidMappings', uidMap], ['gidMappings', gidMap]] as const) {
        if (list.length === 0) throw new InvalidArgValueError(this.name(`linux.${key}`), l[key], 'must map at least one id for the user namespace');
      }
      out.userNamespace = { uidMap, gidMap };
    } else {
      for (const [key, list] of [['uidMappings', uidMap], ['gidMappings', gidMap]] as const) {
        if (list.length > 0) throw new InvalidArgValueError(this.name(`linux.${key}`), l[key], "needs a 'user' namespace in linux.namespaces");
      }
      out.userNamespace = false;
    }

    if (given(l.rootfsPropagation) && l.rootfsPropagation !== '') {
      const prop = this.string('linux.rootfsPropagation', l.rootfsPropagation);
      if (prop !== 'private' && prop !== 'rprivate') throw this.unsupported('linux.rootfsPropagation', `'${prop}': nsbox makes every mount of the container private`);
    }

    if (given(l.sysctl)) {
      const sysctl: Record<string, string> = {};
      for (const [k, val] of Object.entries(this.object('linux.sysctl', l.sysctl))) sysctl[k] = this.string(`linux.sysctl.${k}`, val, { empty: true });
      if (Object.keys(sysctl).length > 0) out.sysctl = sysctl;
    }

    if (given(l.resources)) {
      const resources = this.resources('linux.resources', this.object('linux.resources', l.resources));
      if (Object.keys(resources).length > 0) out.resources = resources;
    }
    if (given(l.cgroupsPath) && l.cgroupsPath !== '') Object.assign(out, this.cgroupsPath(this.string('linux.cgroupsPath', l.cgroupsPath)));

    if (given(l.seccomp)) {
      const profile = this.object('linux.seccomp', l.seccomp);
      this.only('linux.seccomp', profile, ['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'syscalls']);
      out.seccomp = profile;
    } else {
      out.seccomp = 'unconfined';
    }
    out.maskedPaths = this.strings('linux.maskedPaths', l.maskedPaths).map((p, i) => this.absolute(`linux.maskedPaths[${i}]`, p));
    out.readonlyPaths = this.strings('linux.readonlyPaths', l.readonlyPaths).map((p, i) => this.absolute(`linux.readonlyPaths[${i}]`, p));
  }

  /**
   * `cgroupsPath` as runc's cgroupfs driver places it: absolute, below the cgroup2 mount;
   * relative, below the parent of this process's own group (fs2/defaultpath.go). Its last
   * component is the container's id, the rest the parent: '/a/b/c' → parent
   * `<cgroup2 mount>/a/b`, id 'c'.
   */
  cgroupsPath(value: string): { cgroupParent: string; id: string } {
    const field = 'linux.cgroupsPath';
    if (value.includes(':')) throw this.unsupported(field, `'${value}' is the systemd cgroup driver's 'slice:prefix:name'; nsbox places groups by path`);
    // runc's utils.CleanPath: no '..' may climb above the root of the path.
    const clean = path.posix.join('/', value);
    if (clean === '/') throw new InvalidArgValueError(this.name(field), value, 'must name a group, not the root');
    let base: string;
    if (value.startsWith('/')) {
      let mount = this.host.cgroupMount;
      if (mount === undefined) mount = cgroupHost().mount ?? undefined;
      if (mount === undefined) throw this.unsupported(field, 'no cgroup v2 hierarchy is mounted on this host');
      base = mount;
    } else {
      let own = this.host.ownCgroup;
      if (own === undefined) own = cgroupHost().ownPath ?? undefined;
      if (own === undefined) throw this.unsupported(field, "this process is in no cgroup v2 group, which a relative path is placed by (runc: below its own group's parent)");
      base = path.dirname(own);
    }
    const id = path.posix.basename(clean);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id) || id === '.' || id === '..') {
      throw this.unsupported(field, `its last component '${id}' becomes the container's id, which must be 1-64 characters of A-Z, a-z, 0-9, _, . and -`);
    }
    const parent = path.join(base, path.posix.dirname(clean));
    return { cgroupParent: parent.length > 1 ? parent.replace(/\/$/, '') : parent, id };
  }

  /** Bytes of a memory field: -1 (and anything beyond 2^53) is 'max', 0 is unset, as runc reads them. */
  memory(field: string, value: unknown): number {
    if (!given(value)) return 0;
    // Beyond any memory: PAGE_COUNTER_MAX and the like, which cgroup v1 reads as unlimited.
    if (typeof value === 'bigint') return value > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : this.integer(field, Number(value), -1, Number.MAX_SAFE_INTEGER);
    if (typeof value === 'number' && Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER) return -1;
    return this.integer(field, value, -1, Number.MAX_SAFE_INTEGER);
  }

  resources(f: string, r: Record<string, unknown>): CgroupResources {
    this.only(f, r, ['devices', 'memory', 'cpu', 'pids', 'blockIO', 'hugepageLimits', 'unified'], true);
    const out: CgroupResources = {};

    // runc spec's one rule, deny everything, is what nsbox does: its containers get no device
    // nodes but its defaults, and cannot make one (no CAP_MKNOD: read()). Any other rule asks
    // for what nsbox has no device cgroup for.
    (given(r.devices) ? this.array(`${f}.devices`, r.devices) : []).forEach((d, i) => {
      const df = `${f}.devices[${i}]`;
      const o = this.object(df, d);
      this.only(df, o, ['allow', 'type', 'major', 'minor', 'access']);
      const any = (x: unknown) => !given(x) || x === -1;
      const access = given(o.access) ? this.string(`${df}.access`, o.access, { empty: true }) : '';
      const allow = given(o.allow) && this.boolean(`${df}.allow`, o.allow);
      const denyAll = !allow && (!given(o.type) || o.type === 'a') && any(o.major) && any(o.minor) && [...'rwm'].every((ch) => access.includes(ch));
      if (!denyAll) {
        throw this.unsupported(df, "nsbox has no device cgroup rules; it accepts only runc spec's deny-all { allow: false, access: 'rwm' }, which its default device nodes already match");
      }
    });

    if (given(r.memory)) {
      const mf = `${f}.memory`;
      const m = this.object(mf, r.memory);
      // *uint64 in the spec: 0 is a request too (the other unsupported fields' 0 means unset).
      if (given(m.swappiness)) throw this.unsupported(`${mf}.swappiness`, UNSUPPORTED['linux.resources.memory.swappiness']);
      this.only(mf, m, ['limit', 'reservation', 'swap', 'useHierarchy'], true);
      if (given(m.useHierarchy) && !this.boolean(`${mf}.useHierarchy`, m.useHierarchy)) {
        throw this.unsupported(`${mf}.useHierarchy`, 'cgroup v2 is always hierarchical');
      }
      const limit = this.memory(`${mf}.limit`, m.limit);
      const reservation = this.memory(`${mf}.reservation`, m.reservation);
      const swap = this.memory(`${mf}.swap`, m.swap);
      const mem: MemoryResources = {};
      if (limit !== 0) mem.max = limit === -1 ? 'max' : limit;
      if (reservation !== 0) mem.low = reservation === -1 ? 'max' : reservation; // runc fs2: memory.low
      // runc's ConvertMemorySwapToCgroupV2Value: the spec's swap is memory+swap (cgroup v1).
      if (limit === -1 && swap === 0) {
        mem.swapMax = 'max';
      } else if (swap === -1) {
        mem.swapMax = 'max';
      } else if (swap > 0) {
        if (limit <= 0) throw new InvalidArgValueError(this.name(`${mf}.swap`), m.swap, 'needs a memory limit (it is memory plus swap)');
        if (swap < limit) throw new InvalidArgValueError(this.name(`${mf}.swap`), m.swap, `must be >= the memory limit (${limit}): it is memory plus swap`);
        mem.swapMax = swap - limit;
      }
      if (Object.keys(mem).length > 0) out.memory = mem;
    }

    if (given(r.cpu)) {
      const cf = `${f}.cpu`;
      const c = this.object(cf, r.cpu);
      this.only(cf, c, ['shares', 'quota', 'burst', 'period', 'cpus', 'mems', 'idle'], true);
      const cpu: CpuResources = {};
      const shares = given(c.shares) ? this.integer(`${cf}.shares`, c.shares, 0, 262144) : 0;
      if (shares === 1) throw new OutOfRangeError(this.name(`${cf}.shares`), 'an integer >= 2 and <= 262144 (or 0, unset)', shares);
      if (shares !== 0) cpu.weight = sharesToWeight(shares);
      const quota = given(c.quota) ? this.integer(`${cf}.quota`, c.quota, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) : 0;
      const period = given(c.period) ? this.integer(`${cf}.period`, c.period, 0, Number.MAX_SAFE_INTEGER) : 0;
      // runc fs2 setCpu: a quota of 0 or less is no limit; the period defaults to 100 ms.
      if (quota !== 0 || period !== 0) cpu.max = { quota: quota > 0 ? quota : 'max', period: period === 0 ? 100_000 : period };
      if (given(c.burst)) cpu.burst = this.integer(`${cf}.burst`, c.burst, 0, Number.MAX_SAFE_INTEGER);
      if (given(c.idle)) cpu.idle = this.integer(`${cf}.idle`, c.idle, 0, 1) === 1;
      if (Object.keys(cpu).length > 0) out.cpu = cpu;
      const cpus = given(c.cpus) ? this.string(`${cf}.cpus`, c.cpus, { empty: true }) : '';
      const mems = given(c.mems) ? this.string(`${cf}.mems`, c.mems, { empty: true }) : '';
      if (cpus !== '' || mems !== '') out.cpuset = { ...(cpus !== '' && { cpus }), ...(mems !== '' && { mems }) };
    }

    if (given(r.pids)) {
      const p = this.object(`${f}.pids`, r.pids);
      this.only(`${f}.pids`, p, ['limit'], true);
      // runc: -1 is no limit, 0 is unset (on a new group, the same).
      const limit = given(p.limit) ? this.integer(`${f}.pids.limit`, p.limit, -1, Number.MAX_SAFE_INTEGER) : 0;
      if (limit !== 0) out.pids = { max: limit === -1 ? 'max' : limit };
    }

    if (given(r.blockIO)) {
      const bf = `${f}.blockIO`;
      const b = this.object(bf, r.blockIO);
      this.only(bf, b, ['weight', 'weightDevice', 'throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'], true);
      const io: { weight?: number; deviceWeights?: { device: string; weight: number }[]; max?: IoDeviceLimit[] } = {};
      const blkio = (field: string, value: unknown): number => {
        const w = this.integer(field, value, 0, 1000);
        if (w !== 0 && w < 10) throw new OutOfRangeError(this.name(field), 'an integer >= 10 and <= 1000 (or 0, unset)', w);
        return w;
      };
      // runc without BFQ: io.weight through ConvertBlkIOToIOWeightValue.
      const weight = given(b.weight) ? blkio(`${bf}.weight`, b.weight) : 0;
      if (weight !== 0) io.weight = blkioWeightToIoWeight(weight);
      const device = (df: string, o: Record<string, unknown>) =>
        `${this.integer(`${df}.major`, o.major, 0, 0xfff)}:${this.integer(`${df}.minor`, o.minor, 0, 0xfffff)}`;
      (given(b.weightDevice) ? this.array(`${bf}.weightDevice`, b.weightDevice) : []).forEach((d, i) => {
        const df = `${bf}.weightDevice[${i}]`;
        const o = this.object(df, d);
        this.only(df, o, ['major', 'minor', 'weight'], true);
        const w = given(o.weight) ? blkio(`${df}.weight`, o.weight) : 0;
        if (w !== 0) (io.deviceWeights ??= []).push({ device: device(df, o), weight: blkioWeightToIoWeight(w) });
      });
      const limits = new Map<string, IoDeviceLimit>();
      for (const [key, file] of [['throttleReadBpsDevice', 'rbps'], ['throttleWriteBpsDevice', 'wbps'], ['throttleReadIOPSDevice', 'riops'], ['throttleWriteIOPSDevice', 'wiops']] as const) {
        (given(b[key]) ? this.array(`${bf}.${key}`, b[key]) : []).forEach((d, i) => {
          const df = `${bf}.${key}[${i}]`;
          const o = this.object(df, d);
          this.only(df, o, ['major', 'minor', 'rate']);
          const id = device(df, o);
          // blk-throttle's io.max takes limits of 2 or more (tg_set_limit).
          const rate = this.integer(`${df}.rate`, o.rate, 2, file.endsWith('iops') ? 0xffffffff : Number.MAX_SAFE_INTEGER);
          const entry = limits.get(id) ?? { device: id };
          entry[file] = rate;
          limits.set(id, entry);
        });
      }
      if (limits.size > 0) io.max = [...limits.values()];
      if (Object.keys(io).length > 0) out.io = io;
    }

    if (given(r.hugepageLimits)) {
      const hugetlb: Record<string, number> = {};
      this.array(`${f}.hugepageLimits`, r.hugepageLimits).forEach((h, i) => {
        const hf = `${f}.hugepageLimits[${i}]`;
        const o = this.object(hf, h);
        this.only(hf, o, ['pageSize', 'limit']);
        hugetlb[this.string(`${hf}.pageSize`, o.pageSize)] = this.integer(`${hf}.limit`, o.limit, 0, Number.MAX_SAFE_INTEGER);
      });
      if (Object.keys(hugetlb).length > 0) out.hugetlb = hugetlb;
    }

    if (given(r.unified)) {
      const raw: Record<string, string> = {};
      for (const [k, val] of Object.entries(this.object(`${f}.unified`, r.unified))) raw[k] = this.string(`${f}.unified.${k}`, val, { empty: true });
      if (Object.keys(raw).length > 0) out.raw = raw;
    }
    return out;
  }
}

/**
 * HOME as runc sets it when the spec's env has none: the user's entry in the image's
 * /etc/passwd, else '/'. Symlinks and special files are not followed out of the image.
 */
function homeOf(rootfs: string, uid: number): string {
  const etc = path.join(rootfs, 'etc');
  const file = path.join(etc, 'passwd');
  try {
    if (!fs.lstatSync(etc).isDirectory() || !fs.lstatSync(file).isFile()) return '/';
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields.length >= 6 && fields[2] === `${uid}` && fields[5] !== '') return fields[5];
    }
  } catch {
    // no passwd in the image
  }
  return '/';
}

/**
 * The ContainerOptions of the container a config.json describes, as `runc run` would make it
 * from the bundle in `bundleDir` (root.path and relative mount sources are resolved there).
 *
 * Read as runc reads them: `process` (args, env, cwd, user, terminal → stdio 'pty' and
 * consoleSize → terminalSize, capabilities → add/drop against Docker's default set, rlimits,
 * noNewPrivileges), `root`, `hostname` (absent: the host's, which a new UTS namespace starts
 * with), `mounts` (runc spec's /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and
 * /sys/fs/cgroup are nsbox's own; bind, tmpfs and overlay ones become `mounts`),
 * `linux.namespaces` (network present → 'none', absent → 'host'; user → userNamespace with
 * uidMappings/gidMappings), `linux.resources`, `linux.cgroupsPath` (→ cgroupParent and id),
 * `linux.seccomp` (absent → 'unconfined'), `linux.maskedPaths`/`readonlyPaths` (absent → none),
 * `linux.sysctl`. `annotations` are ignored. Where the spec is silent and nsbox has a default
 * runc does not, the spec's meaning is written out (noNewPrivileges false, no masked paths, no
 * seccomp filter, HOME from the image's /etc/passwd, limits the spec does not give 'inherit').
 *
 * Not expressible, so left to nsbox: an absent cgroup namespace (nsbox makes one), absent
 * standard mounts (nsbox makes them), stdio when there is no terminal (the caller chooses).
 *
 * @throws OciUnsupportedError (`ERR_NSBOX_OCI_UNSUPPORTED`) naming the first field nsbox cannot
 *   honour: hooks, joined namespaces, device rules, AppArmor, SELinux, Intel RDT, …
 * @throws TypeError/RangeError with `ERR_INVALID_ARG_*` for a malformed spec, naming the field as `spec.<field>`
 * @example const options = ociToOptions(JSON.parse(fs.readFileSync('bundle/config.json', 'utf8')), 'bundle');
 */
export function ociToOptions(spec: unknown, bundleDir: string, host: OciHost = {}): ContainerOptions {
  return readSpec(spec, bundleDir, host, undefined);
}

function readSpec(spec: unknown, bundleDir: string, host: OciHost, file: string | undefined): ContainerOptions {
  return specReader(bundleDir, host, file).read(spec);
}

function specReader(bundleDir: string, host: OciHost, file: string | undefined): SpecReader {
  const dir = path.resolve(v.string('bundleDir', bundleDir));
  const h = v.object('host', host);
  v.knownKeys('host', h, ['cgroupMount', 'ownCgroup']);
  if (h.cgroupMount !== undefined) v.absolutePath('host.cgroupMount', h.cgroupMount);
  if (h.ownCgroup !== undefined) v.absolutePath('host.ownCgroup', h.ownCgroup);
  return new SpecReader(dir, host, file);
}

/** The config.json field each option read from one comes from. */
const SPEC_FIELDS: Record<string, string> = {
  command: 'process.args', env: 'process.env', cwd: 'process.cwd', user: 'process.user', umask: 'process.user.umask',
  capabilities: 'process.capabilities', rlimits: 'process.rlimits', noNewPrivileges: 'process.noNewPrivileges',
  terminalSize: 'process.consoleSize', stdio: 'process.terminal', rootfs: 'root', hostname: 'hostname',
  network: 'linux.namespaces', userNamespace: 'linux.uidMappings', sysctl: 'linux.sysctl', resources: 'linux.resources',
  cgroupParent: 'linux.cgroupsPath', id: 'linux.cgroupsPath', seccomp: 'linux.seccomp',
  maskedPaths: 'linux.maskedPaths', readonlyPaths: 'linux.readonlyPaths',
};

/**
 * An error about an option that came from the bundle (not from `overrides`), renamed to say
 * the config.json field: "'<file>: linux.sysctl' (as options.sysctl)".
 */
function renameForBundle(e: unknown, file: string, mountIndex: readonly number[], overrides: readonly string[]): unknown {
  return renameOptionError(e, (key, i) => {
    if (overrides.includes(key)) return undefined;
    const field = key === 'mounts' && i !== undefined && mountIndex[i] !== undefined ? `mounts[${mountIndex[i]}]` : SPEC_FIELDS[key];
    return field === undefined ? undefined : `${file}: ${field}`;
  });
}

/**
 * Reads `<dir>/config.json` (integers beyond 2^53 as bigints) and converts it as
 * {@link ociToOptions} does; errors name the file.
 */
export async function readBundle(dir: string, host: OciHost = {}): Promise<{ spec: OciSpec; options: ContainerOptions; rename(e: unknown, overrides: readonly string[]): unknown }> {
  const bundle = path.resolve(v.string('dir', dir));
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw fsError(e, 'open', file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'a bundle is a directory with config.json (`runc spec` writes one)' : undefined);
  }
  let spec: unknown;
  try {
    spec = parseOciSpec(text);
  } catch (e) {
    throw Object.assign(new SyntaxError(`${file} is not valid JSON`, { cause: e }), { path: file });
  }
  const reader = specReader(bundle, host, file);
  const options = reader.read(spec);
  return { spec: spec as OciSpec, options, rename: (e, overrides) => renameForBundle(e, file, reader.mountIndex, overrides) };
}

// ---- ContainerOptions → config.json --------------------------------------------------------

function isConfig(x: unknown): x is ContainerConfig {
  return typeof x === 'object' && x !== null && 'userns' in x && Array.isArray((x as ContainerConfig).env);
}

const rlimitOut = (x: RlimitValue): number | bigint => (x === 'unlimited' ? RLIM_INFINITY : x);

function resourcesToOci(r: CgroupResources | undefined, userns: boolean): OciResources | undefined {
  const name = 'options.resources';
  const out: OciResources = {};
  // runc spec's rule, what nsbox does (runc spec --rootless has none: no device cgroup there).
  if (!userns) out.devices = [{ allow: false, access: 'rwm' }];
  if (r === undefined) return Object.keys(out).length > 0 ? out : undefined;
  const unified: Record<string, string> = {};
  const b = (field: string, value: unknown) => bytes(field, value);

  if (r.memory) {
    const m = r.memory;
    const mem: NonNullable<OciResources['memory']> = {};
    const max = m.max === undefined ? undefined : b(`${name}.memory.max`, m.max);
    // The spec's 0 is "unset" to runc: a limit of 0 goes through unified.
    if (max === 0) unified['memory.max'] = '0';
    else if (max !== undefined) mem.limit = max === 'max' ? -1 : max;
    if (m.low !== undefined) {
      const low = b(`${name}.memory.low`, m.low);
      if (low === 0) unified['memory.low'] = '0';
      else mem.reservation = low === 'max' ? -1 : low;
    }
    if (m.swapMax !== undefined) {
      const swap = b(`${name}.memory.swapMax`, m.swapMax);
      // The spec's swap is memory plus swap.
      if (swap === 'max') mem.swap = -1;
      else if (typeof max === 'number' && max > 0) mem.swap = max + swap;
      else unified['memory.swap.max'] = `${swap}`;
    }
    if (m.high !== undefined) unified['memory.high'] = `${b(`${name}.memory.high`, m.high)}`;
    if (m.min !== undefined) unified['memory.min'] = `${b(`${name}.memory.min`, m.min)}`;
    if (m.oomGroup !== undefined) unified['memory.oom.group'] = m.oomGroup ? '1' : '0';
    if (Object.keys(mem).length > 0) out.memory = mem;
  }

  const cpu: NonNullable<OciResources['cpu']> = {};
  if (r.cpu) {
    const c = r.cpu;
    if (c.weight !== undefined) cpu.shares = weightToShares(c.weight);
    if (c.max === 'max') {
      cpu.quota = -1;
      cpu.period = 100_000;
    } else if (c.max !== undefined) {
      cpu.quota = c.max.quota === 'max' ? -1 : c.max.quota;
      cpu.period = c.max.period ?? 100_000;
    }
    // Newer than runc 1.1's spec (cpu.idle, cpu.burst): as files.
    if (c.idle !== undefined) unified['cpu.idle'] = c.idle ? '1' : '0';
    if (c.burst !== undefined) unified['cpu.max.burst'] = `${c.burst}`;
  }
  if (r.cpuset) {
    const list = (x: unknown) => (typeof x === 'string' ? x : formatList(x as number[]));
    if (r.cpuset.cpus !== undefined) cpu.cpus = list(r.cpuset.cpus);
    if (r.cpuset.mems !== undefined) cpu.mems = list(r.cpuset.mems);
  }
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  if (r.pids?.max !== undefined) {
    if (r.pids.max === 0) unified['pids.max'] = '0';
    else out.pids = { limit: r.pids.max === 'max' ? -1 : r.pids.max };
  }

  if (r.io) {
    const io = r.io;
    // blockIO.weight is converted by runc onto a coarser scale: io.weight goes as a file, exactly.
    const weights = [...(io.weight === undefined ? [] : [`default ${io.weight}`]), ...(io.deviceWeights ?? []).map((d) => `${deviceId(`${name}.io.deviceWeights`, d.device)} ${d.weight}`)];
    if (weights.length > 1) {
      throw new OciUnsupportedError('options.resources.io.deviceWeights', "a config.json can give io.weight one line (as linux.resources.unified['io.weight']); per-device weights with a default, or for several devices, cannot be written");
    }
    if (weights.length === 1) unified['io.weight'] = weights[0];
    const blockIO: NonNullable<OciResources['blockIO']> = {};
    (io.max ?? []).forEach((l, i) => {
      const [major, minor] = deviceId(`${name}.io.max[${i}].device`, l.device).split(':').map(Number);
      for (const [file, key] of [['rbps', 'throttleReadBpsDevice'], ['wbps', 'throttleWriteBpsDevice'], ['riops', 'throttleReadIOPSDevice'], ['wiops', 'throttleWriteIOPSDevice']] as const) {
        const rate = l[file];
        if (rate !== undefined && rate !== 'max') (blockIO[key] ??= []).push({ major, minor, rate });
      }
    });
    if (Object.keys(blockIO).length > 0) out.blockIO = blockIO;
  }

  if (r.hugetlb) {
    for (const [size, limit] of Object.entries(r.hugetlb)) {
      if (limit === undefined) continue;
      const n = b(`${name}.hugetlb['${size}']`, limit);
      if (n === 'max') unified[`hugetlb.${size}.max`] = 'max';
      else (out.hugepageLimits ??= []).push({ pageSize: size, limit: n });
    }
  }

  // nsbox writes raw files after the typed ones, as runc writes unified after the rest.
  for (const [file, value] of Object.entries(r.raw ?? {})) unified[file] = `${value}`;
  if (Object.keys(unified).length > 0) out.unified = unified;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A block device as 'major:minor', from that or a /dev path. */
function deviceId(field: string, spec: string): string {
  if (/^\d+:\d+$/.test(spec)) return spec;
  const id = hostFacts().blockDevice(spec);
  if (id === undefined) throw new InvalidArgValueError(field, spec, 'is not a block device on this host (a config.json names devices by major:minor)');
  return id;
}

/**
 * A config.json that `runc run` accepts and that describes the same container: runc spec's
 * standard mounts as nsbox makes them (proc, a /dev tmpfs, devpts, shm, mqueue, sysfs
 * read-only or, rootless with the host's network, the host's /sys bound; cgroup read-only),
 * the namespaces, one capability set as bounding, effective and permitted (inheritable and
 * ambient empty), rlimits, masked and read-only paths, the seccomp profile ('default' as
 * the profile nsbox loads: Docker's, resolved for these capabilities on this host, for the
 * native architecture only), resources (typed where the spec has a field that means the same,
 * else as `unified` files), the id mappings, and the options' cgroup as cgroupsPath.
 *
 * Not part of a config.json, so not written: `signal`, `timeout`, and stdio other than a pty.
 * Bigints (RLIM_INFINITY) are in the object: write it with {@link formatOciSpec}.
 * @throws OciUnsupportedError naming the option a config.json cannot express: the embedded
 *   default root or an overlay root (unless `opts.rootfs` names a directory), an overlay mount
 *   whose changes go to a tmpfs, per-device io weights beside others
 * @example fs.writeFileSync('bundle/config.json', formatOciSpec(optionsToOci(options, { rootfs: 'rootfs' })));
 */
export function optionsToOci(options: ContainerOptions | ContainerConfig, opts: OptionsToOciOptions = {}): OciSpec {
  const o = v.object('opts', opts);
  v.knownKeys('opts', o, ['rootfs', 'cgroupMount']);
  const c = isConfig(options) ? options : normalizeOptions(options);
  const userns = c.userns !== null;

  let rootPath: string;
  if (o.rootfs !== undefined) {
    rootPath = v.string('opts.rootfs', o.rootfs);
  } else if (c.rootfs.path === null) {
    throw new OciUnsupportedError('options.rootfs', "the embedded default root (the host's /usr and a minimal /etc) is no directory a bundle's root.path can name: give options.rootfs a directory, or opts.rootfs");
  } else if (c.rootfs.overlay) {
    throw new OciUnsupportedError('options.rootfs.overlay', "a bundle's root.path is one directory, not an overlay over one: give opts.rootfs the directory to use");
  } else {
    rootPath = c.rootfs.path;
  }

  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    // An unprivileged user namespace cannot give devpts gid=5 (runc spec --rootless drops it too).
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(userns ? [] : ['gid=5'])] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // sysfs belongs to the network namespace's owner: a user namespace on the host's network binds /sys.
    userns && c.network === 'host'
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
  c.mounts.forEach((m, i) => {
    if (m.type === 'bind') {
      // runc makes 'ro' the top mount only; 'rro' (mount_setattr, Linux 5.12) is nsbox's read-only.
      mounts.push({ destination: m.target, type: 'bind', source: m.source, options: [m.recursive ? 'rbind' : 'bind', m.readonly ? (m.recursive ? 'rro' : 'ro') : 'rw', 'rprivate', `${m.recursive ? 'r' : ''}${m.devices ? 'dev' : 'nodev'}`] });
    } else if (m.type === 'tmpfs') {
      mounts.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...m.data.split(','), ...(m.readonly ? ['ro'] : [])] });
    } else if (m.readonly || m.upper !== null) {
      const layers = [`lowerdir=${m.lower.join(':')}`, ...(m.readonly || m.upper === null ? [] : [`upperdir=${m.upper}`, `workdir=${m.work}`, ...(userns ? ['userxattr'] : [])])];
      mounts.push({ destination: m.target, type: 'overlay', source: 'overlay', options: ['nosuid', 'nodev', ...layers, ...(m.readonly ? ['ro'] : [])] });
    } else {
      throw new OciUnsupportedError(`options.mounts[${i}]`, 'an overlay whose changes go to a tmpfs has no upperdir a config.json can name: give upper and work');
    }
  });

  const namespaces = [
    { type: 'pid' },
    ...(c.network === 'none' ? [{ type: 'network' }] : []),
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'cgroup' },
    ...(userns ? [{ type: 'user' }] : []),
  ];
  const idMaps = (maps: readonly IdMapping[]): OciIdMapping[] => maps.map((m) => ({ containerID: m.containerId, hostID: m.hostId, size: m.size }));

  let cgroupsPath: string | undefined;
  const isRoot = process.geteuid?.() === 0;
  if (c.cgroupParent !== undefined || isRoot) {
    const mount = o.cgroupMount === undefined ? cgroupHost().mount : v.absolutePath('opts.cgroupMount', o.cgroupMount);
    if (mount !== null) {
      // Where nsbox makes the group: options.cgroupParent, or <mount>/nsbox as root.
      const parent = c.cgroupParent ?? path.join(mount, 'nsbox');
      const rel = path.relative(mount, parent);
      if (rel.startsWith('..') || path.isAbsolute(rel)) throw new InvalidArgValueError('options.cgroupParent', c.cgroupParent, `is not below the cgroup2 mount ${mount}`);
      cgroupsPath = path.posix.join('/', rel, c.id);
    } else if (c.cgroupParent !== undefined) {
      throw new OciUnsupportedError('options.cgroupParent', 'no cgroup v2 hierarchy is mounted on this host to write it as a cgroupsPath under');
    }
  }

  const seccomp = c.seccomp === 'unconfined' ? undefined : c.seccomp === 'default' ? defaultSeccompProfile(c.capabilities) : c.seccomp;
  const resources = resourcesToOci(c.resources, userns);
  const caps = [...c.capabilities];
  return {
    ociVersion: '1.0.2',
    process: {
      ...(c.stdio === 'pty' && { terminal: true, consoleSize: { height: c.terminalSize.rows, width: c.terminalSize.cols } }),
      user: { uid: c.uid, gid: c.gid, umask: c.umask, ...(c.additionalGids.length > 0 && { additionalGids: [...c.additionalGids] }) },
      args: [...c.command],
      env: [...c.env],
      cwd: c.cwd,
      capabilities: { bounding: caps, effective: [...caps], inheritable: [], permitted: [...caps], ambient: [] },
      rlimits: c.rlimits.map((r) => ({ type: `RLIMIT_${r.resource.toUpperCase()}`, hard: rlimitOut(r.hard), soft: rlimitOut(r.soft) })),
      noNewPrivileges: c.noNewPrivileges,
    },
    root: { path: rootPath, readonly: c.rootfs.readonly },
    hostname: c.hostname,
    mounts,
    linux: {
      ...(userns && { uidMappings: idMaps(c.userns!.uidMap), gidMappings: idMaps(c.userns!.gidMap) }),
      ...(c.sysctl.length > 0 && { sysctl: Object.fromEntries(c.sysctl) }),
      ...(resources && { resources }),
      ...(cgroupsPath !== undefined && { cgroupsPath }),
      namespaces,
      ...(seccomp && { seccomp }),
      maskedPaths: [...c.maskedPaths],
      readonlyPaths: [...c.readonlyPaths],
    },
  };
}
