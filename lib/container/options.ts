// Container options: the types users write, with units and defaults, and their validation
// into one normalised config. Everything is checked here, before any system call.
import crypto from 'node:crypto';
import path from 'node:path';
import { CAPABILITIES, type Capability } from '../capabilities';
import type { CgroupResources } from '../cgroup/resources';
import { resourceWrites } from '../cgroup/resources';
import { bytes } from '../cgroup/units';
import { InvalidArgValueError, OutOfRangeError } from '../errors';
import { checkHostname } from '../identity';
import { RLIMITS, type RlimitResource, type RlimitValue } from '../plan';
import { envList, idMappings, type IdMapping } from '../spawn';
import * as v from '../validate';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_PATH, DEFAULT_READONLY_PATHS, DEFAULT_RLIMITS, namespacedSysctl } from './defaults';

/** A bind mount of a host path into the container. */
export interface BindMount {
  type: 'bind';
  /** Host path; relative paths are resolved against `process.cwd()`. */
  source: string;
  /** Absolute path in the container; created if missing. */
  target: string;
  /** @default false */
  readonly?: boolean;
  /** Bind the mounts below `source` too (MS_REC). @default true */
  recursive?: boolean;
  /**
   * Device nodes in it may be opened. Off, the bind is `nodev`: nsbox has no device cgroup,
   * and this is how the host's device nodes stay closed to the container, as Docker's device
   * cgroup keeps a `-v /dev/…` bind closed without `--device`. A bind of one of the devices
   * every container has (/dev/null, zero, full, random, urandom, tty) opens anyway, as there.
   * @default false
   */
  devices?: boolean;
}

/** A fresh tmpfs. */
export interface TmpfsMount {
  type: 'tmpfs';
  target: string;
  /** Bytes, or a string with a unit as memory limits take ('64M', '64MB', '1.5G'; binary units). @default half of RAM (the kernel's default) */
  size?: number | string;
  /** @default 0o1777 */
  mode?: number;
  /** @default false */
  readonly?: boolean;
}

/** An overlay of read-only lower directories, with writes going to `upper` (or a tmpfs). */
export interface OverlayMount {
  type: 'overlay';
  target: string;
  /** Host directories, uppermost first. */
  lower: readonly string[];
  /** Host directory for changes, with `work` on the same filesystem. @default a tmpfs, gone at delete */
  upper?: string;
  work?: string;
  /** @default false */
  readonly?: boolean;
}

export type ContainerMount = BindMount | TmpfsMount | OverlayMount;

/** The root filesystem. */
export interface RootfsOptions {
  /**
   * A directory holding the container's root filesystem.
   * @default the embedded default: the host's /usr bind-mounted read-only, /bin, /sbin and /lib* as
   * the host has them, a fresh /tmp and a minimal /etc (hostname, hosts, passwd, group, resolv.conf)
   */
  path?: string;
  /** Mount the root read-only (/tmp, /dev and user mounts stay as they are). @default false */
  readonly?: boolean;
  /**
   * Copy-on-write: `path` is the read-only lower layer of an overlay; changes go to a tmpfs
   * (`true`, discarded at delete) or to the given directories.
   * @default false
   */
  overlay?: boolean | { upper: string; work: string };
}

export type ContainerStdioEntry = 'pipe' | 'inherit' | 'ignore' | number;

/** What the container may do beyond what its namespaces and cgroup allow. */
export interface CapabilityOptions {
  /** Added to Docker's default set. @example ['CAP_NET_ADMIN'] */
  add?: readonly Capability[];
  /** Removed from it ('ALL' removes every one). @example ['ALL'] */
  drop?: readonly (Capability | 'ALL')[];
}

export interface ContainerOptions {
  /** The program and its arguments; a name without a slash is searched in the container's PATH. */
  command: readonly string[];
  /** @default the embedded default (see {@link RootfsOptions.path}) */
  rootfs?: string | RootfsOptions;
  /** The whole environment. @default { PATH: '/usr/local/sbin:…:/bin', HOSTNAME: hostname, HOME: '/root' (or '/') } and TERM=xterm with a pty */
  env?: Readonly<Record<string, string | undefined>>;
  /** Working directory in the container. @default '/' */
  cwd?: string;
  /** @default the container's id (its first 12 characters) */
  hostname?: string;
  /** Who the program runs as, inside the container. @default { uid: 0, gid: 0 } */
  user?: { uid: number; gid: number; additionalGids?: readonly number[] };
  /** File mode creation mask of the program. @default 0o022 */
  umask?: number;
  /**
   * cgroup v2 limits, written before the program is born into the group.
   * @example { memory: { max: '256M' }, pids: { max: 64 }, cpu: { max: { quota: 50_000, period: 100_000 } } }
   */
  resources?: CgroupResources;
  /** Mounts added after the root filesystem, in order. @default [] */
  mounts?: readonly ContainerMount[];
  /** 'none': its own network namespace with only loopback; 'host': the host's. @default 'none' */
  network?: 'none' | 'host';
  /**
   * A user namespace. `true` maps the caller to root inside when not root, and ids 0-65535 to
   * host ids 100000-165535 as root; or give the maps.
   * @default false as root, true otherwise (rootless)
   */
  userNamespace?: boolean | { uidMap: readonly IdMapping[]; gidMap: readonly IdMapping[] };
  /** @default Docker's default set */
  capabilities?: CapabilityOptions;
  /** prctl(PR_SET_NO_NEW_PRIVS): setuid binaries and file capabilities grant nothing. @default true */
  noNewPrivileges?: boolean;
  /**
   * 'default': Docker's default profile; 'unconfined': none; or an OCI runtime-spec profile.
   * @default 'default'
   */
  seccomp?: 'default' | 'unconfined' | Record<string, unknown>;
  /** Paths hidden from the container. @default Docker's list (/proc/kcore, /proc/keys, /sys/firmware, …) */
  maskedPaths?: readonly string[];
  /** Paths made read-only. @default Docker's list (/proc/sys, /proc/sysrq-trigger, /proc/bus, /proc/fs, /proc/irq) */
  readonlyPaths?: readonly string[];
  /**
   * Resource limits (setrlimit(2)); a number sets soft and hard; 'inherit' leaves one as the
   * calling process has it (as runc leaves a limit its spec does not give).
   * @default { nofile: 1024 }
   * @example { nofile: 4096, core: 0, nproc: 'inherit' }
   */
  rlimits?: Readonly<Partial<Record<RlimitResource, RlimitValue | { soft: RlimitValue; hard: RlimitValue } | 'inherit'>>>;
  /** Namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*). @default {} */
  sysctl?: Readonly<Record<string, string>>;
  /**
   * The program's fds 0-2: new pipes (Node streams on the container), this process's own
   * fds, /dev/null, given fds, or a pseudo-terminal (a Duplex with `resize()`).
   * @default 'pipe'
   */
  stdio?: 'pipe' | 'inherit' | 'ignore' | 'pty' | readonly [ContainerStdioEntry, ContainerStdioEntry, ContainerStdioEntry];
  /** The pty's size when stdio is 'pty'. @default { cols: 80, rows: 24 } */
  terminalSize?: { cols: number; rows: number };
  /** Ends the whole container (every process in it) when aborted; the result's reason is 'aborted'. */
  signal?: AbortSignal;
  /** Milliseconds from start until the whole container is killed; the result's reason is 'timeout'. */
  timeout?: number;
  /** A name for the container and its cgroup: [A-Za-z0-9_.-], 1-64 characters. @default random hex */
  id?: string;
  /** The cgroup v2 group under which the container's group is made. @default `<cgroup2 mount>/nsbox` as root; this process's group otherwise */
  cgroupParent?: string;
}

/** The validated, normalised options. */
export interface ContainerConfig {
  id: string;
  command: string[];
  env: string[];
  cwd: string;
  hostname: string;
  /** The hostname is the id's first 12 characters (none was given), and so is HOSTNAME= in env when `envDefaulted`. */
  hostnameFromId: boolean;
  /** env is the default one (PATH, HOSTNAME, HOME and TERM with a pty). */
  envDefaulted: boolean;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask: number;
  rootfs: { path: string | null; readonly: boolean; overlay: false | true | { upper: string; work: string } };
  resources: CgroupResources | undefined;
  mounts: NormalMount[];
  network: 'none' | 'host';
  userns: null | { uidMap: IdMapping[]; gidMap: IdMapping[] };
  capabilities: Capability[];
  noNewPrivileges: boolean;
  seccomp: 'default' | 'unconfined' | Record<string, unknown>;
  maskedPaths: string[];
  readonlyPaths: string[];
  rlimits: { resource: RlimitResource; soft: RlimitValue; hard: RlimitValue }[];
  sysctl: [string, string][];
  stdio: 'pty' | ContainerStdioEntry[];
  terminalSize: { cols: number; rows: number };
  signal: AbortSignal | undefined;
  timeout: number | undefined;
  cgroupParent: string | undefined;
}

export type NormalMount =
  | { type: 'bind'; source: string; target: string; readonly: boolean; recursive: boolean; devices: boolean }
  | { type: 'tmpfs'; target: string; data: string; readonly: boolean }
  | { type: 'overlay'; target: string; lower: string[]; upper: string | null; work: string | null; readonly: boolean };

const KEYS = [
  'command', 'rootfs', 'env', 'cwd', 'hostname', 'user', 'umask', 'resources', 'mounts', 'network', 'userNamespace',
  'capabilities', 'noNewPrivileges', 'seccomp', 'maskedPaths', 'readonlyPaths', 'rlimits', 'sysctl', 'stdio',
  'terminalSize', 'signal', 'timeout', 'id', 'cgroupParent',
];

function containerPath(name: string, value: unknown): string {
  const p = path.posix.normalize(v.absolutePath(name, value));
  return p.length > 1 ? p.replace(/\/$/, '') : p;
}

function hostPath(name: string, value: unknown): string {
  return path.resolve(v.string(name, value));
}

function sizeData(name: string, value: unknown): string {
  if (typeof value === 'number') return `size=${v.integer(name, value, 4096, Number.MAX_SAFE_INTEGER)}`;
  const s = v.string(name, value);
  // tmpfs's own form as it is ('64m'); the other sizes memory limits take ('64MB', '1.5G',
  // '512KiB': binary units) as bytes.
  if (/^\d+[kmgKMG]?$/.test(s)) return `size=${s.toLowerCase()}`;
  return `size=${v.integer(name, bytes(name, s, { max: false }), 4096, Number.MAX_SAFE_INTEGER)}`;
}

/**
 * A host path that goes into overlayfs's option string, where ',' separates options and ':'
 * layers: refused rather than read as more of them (a path 'img:/etc' would add the host's
 * /etc as a layer).
 */
function overlayPath(name: string, value: unknown): string {
  const p = hostPath(name, value);
  if (/[,:\\]/.test(p)) throw new InvalidArgValueError(name, value, "must not contain ',', ':' or '\\' (overlayfs option syntax)");
  return p;
}

function mountOf(name: string, value: unknown): NormalMount {
  const m = v.object(name, value);
  const type = v.oneOf(`${name}.type`, m.type, ['bind', 'tmpfs', 'overlay'] as const);
  const readonly = m.readonly !== undefined && v.boolean(`${name}.readonly`, m.readonly);
  const target = containerPath(`${name}.target`, m.target);
  if (target === '/') throw new InvalidArgValueError(`${name}.target`, m.target, "must not be '/' (use options.rootfs)");
  switch (type) {
    case 'bind':
      v.knownKeys(name, m, ['type', 'source', 'target', 'readonly', 'recursive', 'devices']);
      return {
        type, source: hostPath(`${name}.source`, m.source), target, readonly,
        recursive: m.recursive === undefined || v.boolean(`${name}.recursive`, m.recursive),
        devices: m.devices !== undefined && v.boolean(`${name}.devices`, m.devices),
      };
    case 'tmpfs': {
      v.knownKeys(name, m, ['type', 'target', 'size', 'mode', 'readonly']);
      const mode = m.mode === undefined ? 0o1777 : v.integer(`${name}.mode`, m.mode, 0, 0o7777);
      const data = [`mode=${mode.toString(8)}`, ...(m.size === undefined ? [] : [sizeData(`${name}.size`, m.size)])].join(',');
      return { type, target, data, readonly };
    }
    case 'overlay': {
      v.knownKeys(name, m, ['type', 'target', 'lower', 'upper', 'work', 'readonly']);
      const lower = v.array(`${name}.lower`, m.lower).map((l, i) => overlayPath(`${name}.lower[${i}]`, l));
      if (lower.length === 0) throw new InvalidArgValueError(`${name}.lower`, m.lower, 'must name at least one directory');
      if ((m.upper === undefined) !== (m.work === undefined)) throw new InvalidArgValueError(`${name}.work`, m.work, 'must be given together with upper');
      const upper = m.upper === undefined ? null : overlayPath(`${name}.upper`, m.upper);
      const work = m.work === undefined ? null : overlayPath(`${name}.work`, m.work);
      return { type, target, lower, upper, work, readonly };
    }
  }
}

function mapped(maps: readonly IdMapping[], id: number): boolean {
  return maps.some((m) => id >= m.containerId && id < m.containerId + m.size);
}

function rlimitOf(name: string, value: unknown): { soft: RlimitValue; hard: RlimitValue } {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = v.object(name, value);
    v.knownKeys(name, o, ['soft', 'hard']);
    return { soft: o.soft as RlimitValue, hard: o.hard as RlimitValue }; // ranges are checked by the plan encoder
  }
  return { soft: value as RlimitValue, hard: value as RlimitValue };
}

/** Validates `options` whole and returns the normalised config. Throws ERR_INVALID_ARG_* naming the option. */
export function normalizeOptions(options: unknown): ContainerConfig {
  const o = v.object('options', options);
  v.knownKeys('options', o, KEYS);
  const command = v.array('options.command', o.command).map((a, i) => v.string(`options.command[${i}]`, a, { empty: i > 0 }));
  if (command.length === 0) throw new InvalidArgValueError('options.command', o.command, 'must name a program');

  const id = o.id === undefined ? crypto.randomBytes(16).toString('hex') : v.string('options.id', o.id);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id) || id === '.' || id === '..') {
    throw new InvalidArgValueError('options.id', o.id, 'must be 1-64 characters of A-Z, a-z, 0-9, _, . and -');
  }
  const hostname = o.hostname === undefined ? id.slice(0, 12) : checkHostname('options.hostname', o.hostname);

  const isRoot = process.geteuid?.() === 0;
  let userns: ContainerConfig['userns'] = null;
  const u = o.userNamespace === undefined ? !isRoot : o.userNamespace;
  if (u === true) {
    userns = isRoot
      ? { uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }], gidMap: [{ containerId: 0, hostId: 100000, size: 65536 }] }
      : { uidMap: [{ containerId: 0, hostId: process.geteuid!(), size: 1 }], gidMap: [{ containerId: 0, hostId: process.getegid!(), size: 1 }] };
  } else if (u === false) {
    if (!isRoot) {
      throw new InvalidArgValueError('options.userNamespace', false, 'must not be false unless running as root: a rootless container needs a user namespace');
    }
  } else {
    const maps = v.object('options.userNamespace', u);
    v.knownKeys('options.userNamespace', maps, ['uidMap', 'gidMap']);
    userns = { uidMap: idMappings('options.userNamespace.uidMap', maps.uidMap), gidMap: idMappings('options.userNamespace.gidMap', maps.gidMap) };
  }

  let uid = 0, gid = 0, additionalGids: number[] = [];
  if (o.user !== undefined) {
    const user = v.object('options.user', o.user);
    v.knownKeys('options.user', user, ['uid', 'gid', 'additionalGids']);
    uid = v.integer('options.user.uid', user.uid, 0, v.ID_MAX);
    gid = v.integer('options.user.gid', user.gid, 0, v.ID_MAX);
    additionalGids = user.additionalGids === undefined ? [] : v.array('options.user.additionalGids', user.additionalGids)
      .map((g, i) => v.integer(`options.user.additionalGids[${i}]`, g, 0, v.ID_MAX));
  }
  if (userns) {
    if (!mapped(userns.uidMap, uid)) throw new InvalidArgValueError('options.user.uid', uid, 'is not mapped by the user namespace (options.userNamespace.uidMap)');
    for (const [what, id] of [['gid', gid], ...additionalGids.map((g) => ['additionalGids', g] as const)] as const) {
      if (!mapped(userns.gidMap, id)) throw new InvalidArgValueError(`options.user.${what}`, id, 'is not mapped by the user namespace (options.userNamespace.gidMap)');
    }
    if (additionalGids.length > 0 && !isRoot) {
      throw new InvalidArgValueError('options.user.additionalGids', additionalGids, 'needs root: an unprivileged user namespace denies setgroups(2)');
    }
  }

  let rootfs: ContainerConfig['rootfs'] = { path: null, readonly: false, overlay: false };
  if (typeof o.rootfs === 'string') {
    rootfs.path = hostPath('options.rootfs', o.rootfs);
  } else if (o.rootfs !== undefined) {
    const r = v.object('options.rootfs', o.rootfs);
    v.knownKeys('options.rootfs', r, ['path', 'readonly', 'overlay']);
    rootfs = {
      path: r.path === undefined ? null : hostPath('options.rootfs.path', r.path),
      readonly: r.readonly !== undefined && v.boolean('options.rootfs.readonly', r.readonly),
      overlay: false,
    };
    if (r.overlay !== undefined && typeof r.overlay !== 'boolean') {
      const ov = v.object('options.rootfs.overlay', r.overlay);
      v.knownKeys('options.rootfs.overlay', ov, ['upper', 'work']);
      rootfs.overlay = { upper: overlayPath('options.rootfs.overlay.upper', ov.upper), work: overlayPath('options.rootfs.overlay.work', ov.work) };
    } else if (r.overlay === true) {
      rootfs.overlay = true;
    }
    if (rootfs.overlay && rootfs.path === null) throw new InvalidArgValueError('options.rootfs.overlay', r.overlay, 'needs options.rootfs.path (the read-only image directory)');
    if (rootfs.overlay) overlayPath('options.rootfs.path', rootfs.path);
  }

  const home = uid === 0 ? '/root' : '/';
  const env = envList(o.env === undefined
    ? { PATH: DEFAULT_PATH, HOSTNAME: hostname, HOME: home, ...(o.stdio === 'pty' ? { TERM: 'xterm' } : {}) }
    : o.env);

  const mounts = o.mounts === undefined ? [] : v.array('options.mounts', o.mounts).map((m, i) => mountOf(`options.mounts[${i}]`, m));

  let capabilities = [...DEFAULT_CAPABILITIES];
  if (o.capabilities !== undefined) {
    const c = v.object('options.capabilities', o.capabilities);
    v.knownKeys('options.capabilities', c, ['add', 'drop']);
    const names = (key: string, extra: string[] = []) => (c[key] === undefined ? [] : v.array(`options.capabilities.${key}`, c[key]))
      .map((n, i) => v.oneOf(`options.capabilities.${key}[${i}]`, n, [...CAPABILITIES, ...extra]));
    const drop = names('drop', ['ALL']);
    const add = names('add') as Capability[];
    capabilities = drop.includes('ALL') ? [] : capabilities.filter((x) => !drop.includes(x));
    for (const x of add) if (!capabilities.includes(x)) capabilities.push(x);
  }

  let seccomp: ContainerConfig['seccomp'] = 'default';
  if (o.seccomp !== undefined) {
    seccomp = typeof o.seccomp === 'string' ? v.oneOf('options.seccomp', o.seccomp, ['default', 'unconfined'] as const) : v.object('options.seccomp', o.seccomp);
  }

  const paths = (key: 'maskedPaths' | 'readonlyPaths', fallback: readonly string[]) =>
    o[key] === undefined ? [...fallback] : v.array(`options.${key}`, o[key]).map((p, i) => containerPath(`options.${key}[${i}]`, p));

  const limits: Record<string, unknown> = { ...DEFAULT_RLIMITS, ...(o.rlimits === undefined ? {} : v.object('options.rlimits', o.rlimits)) };
  const rlimits = Object.entries(limits).flatMap(([k, val]) => {
    const resource = v.oneOf('options.rlimits', k, RLIMITS);
    return val === 'inherit' ? [] : [{ resource, ...rlimitOf(`options.rlimits.${k}`, val) }];
  });

  const sysctl = o.sysctl === undefined ? [] : Object.entries(v.object('options.sysctl', o.sysctl)).map(([k, val]) => {
    const kind = namespacedSysctl(k);
    if (!kind || kind === 'uts') throw new InvalidArgValueError('options.sysctl', k, 'is not a namespaced sysctl a container may set (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)');
    if (kind === 'net' && o.network === 'host') throw new InvalidArgValueError(`options.sysctl.${k}`, val, "would change the host's network namespace (options.network is 'host')");
    if (!/^[a-z0-9_.]+$/.test(k)) throw new InvalidArgValueError('options.sysctl', k, 'has an invalid name');
    return [k, v.string(`options.sysctl.${k}`, val, { empty: true })] as [string, string];
  });

  let stdio: ContainerConfig['stdio'];
  if (o.stdio === undefined || typeof o.stdio === 'string') {
    const s = o.stdio === undefined ? 'pipe' : v.oneOf('options.stdio', o.stdio, ['pipe', 'inherit', 'ignore', 'pty'] as const);
    stdio = s === 'pty' ? 'pty' : [s, s, s];
  } else {
    const list = v.array('options.stdio', o.stdio);
    if (list.length !== 3) throw new InvalidArgValueError('options.stdio', o.stdio, 'must have 3 entries (stdin, stdout, stderr)');
    stdio = list.map((e, i) => {
      if (typeof e === 'number') return v.integer(`options.stdio[${i}]`, e, 0, 0x7fffffff);
      return v.oneOf(`options.stdio[${i}]`, e, ['pipe', 'inherit', 'ignore'] as const);
    });
  }
  let terminalSize = { cols: 80, rows: 24 };
  if (o.terminalSize !== undefined) {
    const t = v.object('options.terminalSize', o.terminalSize);
    v.knownKeys('options.terminalSize', t, ['cols', 'rows']);
    terminalSize = { cols: v.integer('options.terminalSize.cols', t.cols, 1, 65535), rows: v.integer('options.terminalSize.rows', t.rows, 1, 65535) };
  }

  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgValueError('options.signal', signal, 'must be an AbortSignal');
  const timeout = o.timeout === undefined ? undefined : v.integer('options.timeout', o.timeout, 1, 2 ** 31 - 1);
  if (o.resources !== undefined) resourceWrites(o.resources, undefined, 'options.resources'); // shapes and ranges, early
  if (o.umask !== undefined) v.integer('options.umask', o.umask, 0, 0o777);
  if (o.noNewPrivileges !== undefined) v.boolean('options.noNewPrivileges', o.noNewPrivileges);
  if (o.timeout !== undefined && timeout! > 2 ** 31 - 1) throw new OutOfRangeError('options.timeout', '<= 2147483647', o.timeout);

  return {
    id,
    command,
    env,
    cwd: o.cwd === undefined ? '/' : containerPath('options.cwd', o.cwd),
    hostname,
    hostnameFromId: o.hostname === undefined,
    envDefaulted: o.env === undefined,
    uid,
    gid,
    additionalGids,
    umask: o.umask === undefined ? 0o022 : (o.umask as number),
    rootfs,
    resources: o.resources as CgroupResources | undefined,
    mounts,
    network: o.network === undefined ? 'none' : v.oneOf('options.network', o.network, ['none', 'host'] as const),
    userns,
    capabilities,
    noNewPrivileges: o.noNewPrivileges === undefined ? true : (o.noNewPrivileges as boolean),
    seccomp,
    maskedPaths: paths('maskedPaths', DEFAULT_MASKED_PATHS),
    readonlyPaths: paths('readonlyPaths', DEFAULT_READONLY_PATHS),
    rlimits,
    sysctl,
    stdio,
    terminalSize,
    signal,
    timeout,
    cgroupParent: o.cgroupParent === undefined ? undefined : path.normalize(v.absolutePath('options.cgroupParent', o.cgroupParent)),
  };
}
