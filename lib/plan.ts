// The child plan: the steps a spawned process runs between clone and exec, validated here
// and encoded into one buffer for the addon. The layout mirrors src-native/plan.h.
import type { Capability } from './capabilities';
import { capabilityMask, lastCapability } from './capabilities';
import { InvalidArgValueError, OutOfRangeError } from './errors';
import { checkHostname } from './identity';
import { NAMESPACE_TYPES, namespaceFlags, type NamespaceType } from './namespaces';
import { encodeAttributes, type MountAttributes, type MountOptions, umountFlagBits, type UmountOptions, validateMountOptions } from './mounts';
import * as v from './validate';

export type RlimitResource =
  | 'cpu' | 'fsize' | 'data' | 'stack' | 'core' | 'rss' | 'nproc' | 'nofile' | 'memlock' | 'as'
  | 'locks' | 'sigpending' | 'msgqueue' | 'nice' | 'rtprio' | 'rttime';
/** RLIMIT_* in order (asm-generic/resource.h). */
export const RLIMITS: readonly RlimitResource[] = [
  'cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile', 'memlock', 'as',
  'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime',
];
/** A limit value: a count (bytes, seconds, files…) or 'unlimited' (RLIM_INFINITY). */
export type RlimitValue = number | bigint | 'unlimited';

/** Capability sets for a `capabilities` step. Names as in capabilities(7); 'all' means every one the kernel knows. */
export interface CapabilitySets {
  /** @default 'all' (nothing dropped) */
  bounding?: readonly Capability[] | 'all';
  /** @default the permitted set */
  effective?: readonly Capability[] | 'all';
  /**
   * Given: exactly these (capset fails with EPERM for one the process does not hold).
   * @default what the process holds, within the bounding set
   */
  permitted?: readonly Capability[] | 'all';
  /** @default [] */
  inheritable?: readonly Capability[] | 'all';
  /** Kept across exec by a non-root user; must be in permitted and inheritable. @default [] */
  ambient?: readonly Capability[] | 'all';
}

/**
 * One thing the child does between clone and exec. Steps run in order; the first that
 * fails ends the child and `spawn` rejects with an error naming it (`err.step`,
 * `err.stepIndex`). Order matters as it does in runc:
 * - mounts before `pivotRoot`, `remountReadonly` and `mask` after it;
 * - `setgroups`, `setgid`, `setuid`, then `capabilities` (the uid change clears the
 *   effective set and, without this order, the ambient one);
 * - `noNewPrivileges` before `seccomp` (a filter needs one or CAP_SYS_ADMIN), and `seccomp`
 *   last: its filter applies to every step after it.
 */
export type Step =
  | ({ op: 'mount' } & MountOptions)
  | ({
      op: 'bind';
      source: string;
      target: string;
      /** MS_REC: bind the submounts too. */
      recursive?: boolean;
      /** Create the target (a directory or an empty file, like the source) if it is missing. */
      createTarget?: boolean;
      /** A source that does not exist is no error: the step does nothing (runc's read-only paths). */
      optional?: boolean;
    } & MountAttributes)
  | ({ op: 'mountSetattr'; path: string; recursive?: boolean } & MountAttributes)
  | {
      op: 'pivotRoot';
      /** Must be a mount point (bind it onto itself first) in a namespace whose mounts are not shared. */
      newRoot: string;
      /** Where the old root goes (under newRoot); it is detached and removed. @default stacked and detached in place */
      putOld?: string;
    }
  | { op: 'sethostname'; hostname: string }
  | { op: 'setdomainname'; domainname: string }
  | {
      op: 'mkdir';
      path: string;
      /** @default 0o755 */
      mode?: number;
      /** like mkdir -p @default false */
      recursive?: boolean;
      /**
       * The directory must be an ordinary one, reached through no symlink (ELOOP otherwise), as
       * runc wants /proc: a mount made on it then lands where the same path leads later.
       * @default false
       */
      plain?: boolean;
    }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'mknod'; path: string; type: 'char' | 'block' | 'fifo' | 'file'; /** @default 0o666 */ mode?: number; major?: number; minor?: number }
  | {
      op: 'mask';
      /** Hidden from the program: a directory under an empty read-only tmpfs, a file under the null device. Missing paths are skipped. */
      path: string;
      /** @default '/dev/null' */
      nullDevice?: string;
      /**
       * A directory's tmpfs may be a clone of nsbox's one shared template (one empty tmpfs,
       * read-only in its superblock too) instead of a tmpfs of its own, where the spawn can
       * (as root, without a user namespace). Every superblock alive costs the kernel on each
       * memory cgroup it removes. Leave it off for a program that keeps CAP_SYS_ADMIN outside
       * a user namespace: it could remount the shared superblock read-write. @default false
       */
      shared?: boolean;
    }
  | { op: 'remountReadonly'; path: string; recursive?: boolean }
  | { op: 'chdir'; path: string }
  | { op: 'setrlimit'; resource: RlimitResource; soft: RlimitValue; hard: RlimitValue }
  | { op: 'setgroups'; groups: readonly number[] }
  | { op: 'setgid'; gid: number }
  | { op: 'setuid'; uid: number }
  | ({ op: 'capabilities' } & CapabilitySets)
  | { op: 'noNewPrivileges' }
  | { op: 'seccomp'; /** A compiled classic BPF program: struct sock_filter[] (8 bytes each). */ filter: Uint8Array; flags?: { log?: boolean; tsync?: boolean } }
  | { op: 'dumpable'; value: boolean }
  | ({ op: 'umount'; target: string } & UmountOptions)
  | { op: 'setsid' }
  | {
      /**
       * Makes a terminal the child's controlling terminal (ioctl TIOCSCTTY, tty_ioctl(4)): a
       * pty slave from {@link openPty} passed as stdio, so that the shell gets job control,
       * ^C and SIGWINCH. Only a session leader without a terminal may take one: a `setsid`
       * step must come before it (with no `fork` between: the grandchild is not the leader);
       * `encodePlan` refuses the plan otherwise. A terminal that is another session's is
       * never stolen (EPERM).
       */
      op: 'setctty';
      /** The child's fd of the terminal, after stdio is in place. @default 0 */
      fd?: number;
    }
  | {
      /**
       * The rest of the plan and the program run in a grandchild: the child clones once more
       * (CLONE_PARENT, so the grandchild is this process's own child), reports its pid and
       * exits; `Subprocess.pid` and `pidfd` are the grandchild's, and the child's own exit is
       * reaped without a trace. Needed after a `setns` into a pid namespace (a container's,
       * for `exec`): setns(2) places only the caller's later children in a pid namespace, so
       * without a fork the program would run outside it (its pid and /proc the host's; runc
       * forks there too). Also after a `setns` into a time namespace, for the same reason.
       * At most one per plan, and not with a new pid namespace in `namespaces` (clone(2)
       * refuses CLONE_PARENT to a namespace's init); never with CLONE_VM.
       */
      op: 'fork';
    }
  | {
      op: 'setns';
      /**
       * An open namespace fd (`/proc/PID/ns/net`, {@link openNamespace}) or a pidfd (Linux 5.8),
       * inherited by the child and joined there. Joining a pid namespace moves the child's
       * children, not the child itself: a `fork` step after it runs the program inside.
       */
      fd: number;
      /** For a pidfd, the namespaces to join; for a namespace fd, what it must be. @default any (a namespace fd) */
      types?: readonly NamespaceType[];
    }
  | {
      op: 'unshare';
      /**
       * New namespaces for the child itself, made at this point of the plan: a cgroup namespace
       * made after the child is in its cgroup is rooted there (clone3 makes it before
       * CLONE_INTO_CGROUP applies). A new pid namespace applies to the child's children.
       */
      types: readonly NamespaceType[];
    }
  | { op: 'loopbackUp' /** Sets `lo` up in the child's network namespace (needs CAP_NET_ADMIN there). */ }
  | {
      /**
       * Mounts a sysfs at `target`, read-only, nosuid, nodev, noexec. In a spawn whose new
       * network namespace holds only `lo` (a `loopbackUp` plan, as root without a user
       * namespace), a clone of nsbox's sysfs template: the sysfs of a namespace of its own that
       * holds only `lo`, up (its `lo` counters are that namespace's, not the child's). Mounting
       * a sysfs makes the kernel scan every live one under a global lock: with many containers
       * alive that held up every mount on the machine. Otherwise (or where the kernel cannot
       * clone a detached mount) the sysfs of the child's network namespace. A program that adds
       * network devices (it has CAP_NET_ADMIN) would not see them there: give it a `mount` step
       * of type `sysfs` instead, as Container does when CAP_NET_ADMIN is added.
       */
      op: 'mountSysfs';
      target: string;
    }
  | {
      /**
       * Makes the child's terminal where it runs, as runc's console socket does: opens a new
       * pty on `/dev/pts/ptmx` (the devpts instance mounted there: after `pivotRoot`, the
       * container's, so that `tty` prints a path that exists inside), sends the master over
       * `socket` (SCM_RIGHTS; receive it with {@link recvConsole}), puts the slave on fds 0-2
       * and makes it the controlling terminal of a new session (setsid, TIOCSCTTY). The child
       * must not be a session leader already: no `setsid` step before it.
       */
      op: 'openConsole';
      /** An AF_UNIX socket fd the child inherits (not one of its stdio fds): the sending end. */
      socket: number;
      /** The terminal's size, set before the program runs. @default the kernel's (0×0) */
      size?: { cols: number; rows: number };
      /**
       * Who the terminal belongs to (fchown of the slave, as runc gives the console to the
       * process's user): a program that will run as another user can then open it by name.
       * @default the creating process's (root)
       */
      owner?: { uid: number; gid: number };
    }
  | {
      /**
       * From here until `pivotRoot`, every path below `root` that a later step names (a mount
       * target, a directory, file, node or link it makes) is resolved inside `root`, as it
       * will resolve once `root` is the root: a symlink in it, absolute or with `..`, never
       * leads out of it (openat2 RESOLVE_IN_ROOT, Linux 5.6; before that, a symlink on such a
       * path is refused with ELOOP). Put it after the root filesystem is mounted on `root`
       * and before anything is mounted or made in it: an image's `proc -> /elsewhere` would
       * otherwise put /proc, and the masks over it, somewhere else than the program's /proc,
       * and a target through a link to a host path would make files on the host. Sources of
       * `bind` steps are the host's and stay unconfined.
       */
      op: 'confine';
      root: string;
    }
  | { op: 'umask'; /** The file mode creation mask (umask(2)), e.g. 0o022. */ mask: number }
  | {
      op: 'writeFile';
      path: string;
      /** Written with one write(2); at most 64 KiB. */
      data: string | Uint8Array;
      /** O_CREAT, with `mode`: false writes only a file that exists (a sysctl under /proc/sys). @default true */
      create?: boolean;
      /** @default 0o644 */
      mode?: number;
    };

export type StepOp = Step['op'];

// Must match enum Op in src-native/plan.h.
const OP = {
  mount: 1, bind: 2, mountSetattr: 3, pivotRoot: 4, sethostname: 5, setdomainname: 6, mkdir: 7, symlink: 8,
  mknod: 9, mask: 10, remountReadonly: 11, chdir: 12, setrlimit: 13, setgroups: 14, setgid: 15, setuid: 16,
  capabilities: 17, noNewPrivileges: 18, seccomp: 19, dumpable: 20, umount: 21, setsid: 22, wait: 23, exec: 24,
  setns: 25, writeFile: 26, fork: 27, setctty: 28, umask: 29, unshare: 30, loopbackUp: 31, openConsole: 32, mountSysfs: 33,
  confine: 34,
} as const;
export const STEP_OPS = Object.keys(OP).filter((k) => k !== 'wait' && k !== 'exec') as StepOp[];

/** The syscall a failing step reports; index = enum SysOp in src-native/plan.h. */
export const SYSCALLS = [
  'read', 'dup3', 'close_range', 'mount', 'mount_setattr', 'pivot_root', 'umount2', 'chdir', 'sethostname',
  'setdomainname', 'mkdir', 'symlink', 'mknod', 'open', 'statx', 'prlimit64', 'setgroups', 'setresgid',
  'setresuid', 'prctl', 'capset', 'seccomp', 'setsid', 'execve', 'rt_sigaction', 'rt_sigprocmask', 'fault',
  'statfs', 'capget', 'setns', 'write', 'clone', 'ioctl', 'unshare', 'socket', 'sendmsg', 'move_mount', 'open_tree',
  'openat2', 'fchown',
] as const;

/** What an `openConsole` step opens (child.cc OpenConsole). */
const CONSOLE_PTMX = '/dev/pts/ptmx';

/** Pseudo step indices for work around the plan (plan.h). */
export const PRELUDE_STEPS: Record<number, string> = { [-1]: 'signals', [-2]: 'sync', [-3]: 'stdio', [-4]: 'closeFds', [-5]: 'netns' };

const NONE = 0xffffffff;
const STEP_ARGS = 12;
const STEP_BYTES = 4 * (1 + STEP_ARGS);
const MAGIC = 0x5042534e;
const VERSION = 1;
const UINT64_MAX = (1n << 64n) - 1n;

export interface ExecSpec {
  file: string;
  argv: readonly string[];
  /** `KEY=value` strings; null: this process's environment, copied by the addon. */
  env: readonly string[] | null;
  /** PATH to search when `file` has no slash; null: `file` is used as it is. */
  searchPath: string | null;
}

interface EncodedStep {
  op: number;
  args: number[];
}

// The string table is built here and copied into the plan at the end of encodePlan, which is
// synchronous: one buffer serves every encoding.
let scratch = Buffer.allocUnsafe(16384);

class StringTable {
  // One growing buffer: a Buffer per string and a concat at the end cost more than the rest of
  // the encoding (a container's plan has ~60 steps and ~100 strings, on every container's start).
  private buf = scratch;
  private length = 0;
  private index = new Map<string, number>();

  str(s: string): number {
    const known = this.index.get(s);
    if (known !== undefined) return known;
    this.reserve(s.length * 3 + 1); // UTF-8 takes at most 3 bytes per UTF-16 unit
    const off = this.length;
    const n = this.buf.write(s, off, 'utf8');
    this.buf[off + n] = 0;
    this.length = off + n + 1;
    this.index.set(s, off);
    return off;
  }

  opt(s: string | null | undefined): number {
    return s === null || s === undefined ? NONE : this.str(s);
  }

  /** A 4-aligned blob (u32 arrays, sock_filter arrays). */
  blob(bytes: Uint8Array): number {
    const off = this.align(bytes.byteLength);
    this.buf.set(bytes, off);
    this.length = off + bytes.byteLength;
    return off;
  }

  u32s(values: readonly number[]): number {
    const off = this.align(values.length * 4);
    values.forEach((x, i) => this.buf.writeUInt32LE(x, off + i * 4));
    this.length = off + values.length * 4;
    return off;
  }

  toBuffer(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** Pads to 4 with zeros and makes room for `size` bytes after; returns where they go. */
  private align(size: number): number {
    this.reserve(3 + size);
    while (this.length % 4 !== 0) this.buf[this.length++] = 0;
    return this.length;
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + extra));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = scratch = next;
  }
}

function split64(x: bigint): [number, number] {
  return [Number(x & 0xffffffffn), Number(x >> 32n)];
}

function rlimitValue(name: string, value: unknown): bigint {
  if (value === 'unlimited') return UINT64_MAX;
  if (typeof value === 'number') return BigInt(v.integer(name, value, 0, Number.MAX_SAFE_INTEGER));
  if (typeof value === 'bigint' && value >= 0n && value < UINT64_MAX) return value;
  throw new OutOfRangeError(name, "a non-negative integer or 'unlimited'", value);
}

function mode(name: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : v.integer(name, value, 0, 0o7777);
}

const S_IF = { file: 0o100000, char: 0o020000, block: 0o060000, fifo: 0o010000 } as const;

const MOUNT_ATTR_KEYS = ['readonly', 'nosuid', 'nodev', 'noexec', 'nodiratime', 'atime', 'propagation'];
const STEP_KEYS: Record<StepOp, readonly string[]> = {
  mount: ['source', 'target', 'type', 'flags', 'data'],
  bind: ['source', 'target', 'recursive', 'createTarget', 'optional', ...MOUNT_ATTR_KEYS],
  mountSetattr: ['path', 'recursive', ...MOUNT_ATTR_KEYS],
  pivotRoot: ['newRoot', 'putOld'],
  sethostname: ['hostname'],
  setdomainname: ['domainname'],
  mkdir: ['path', 'mode', 'recursive', 'plain'],
  symlink: ['target', 'path'],
  mknod: ['path', 'type', 'mode', 'major', 'minor'],
  mask: ['path', 'nullDevice', 'shared'],
  remountReadonly: ['path', 'recursive'],
  chdir: ['path'],
  setrlimit: ['resource', 'soft', 'hard'],
  setgroups: ['groups'],
  setgid: ['gid'],
  setuid: ['uid'],
  capabilities: ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'],
  noNewPrivileges: [],
  seccomp: ['filter', 'flags'],
  dumpable: ['value'],
  umount: ['target', 'detach', 'force', 'expire', 'noFollow'],
  setsid: [],
  setns: ['fd', 'types'],
  fork: [],
  setctty: ['fd'],
  writeFile: ['path', 'data', 'create', 'mode'],
  umask: ['mask'],
  unshare: ['types'],
  loopbackUp: [],
  openConsole: ['socket', 'size', 'owner'],
  mountSysfs: ['target'],
  confine: ['root'],
};

function flag(name: string, o: Record<string, unknown>, key: string): boolean {
  return o[key] !== undefined && v.boolean(`${name}.${key}`, o[key]);
}

/** Validates one step and encodes it; throws ERR_INVALID_ARG_* naming `name` (e.g. `plan[3].target`). */
function encodeStep(name: string, step: unknown, t: StringTable): EncodedStep {
  const s = v.object(name, step);
  const op = v.oneOf(`${name}.op`, s.op, STEP_OPS);
  v.knownKeys(name, s, ['op', ...STEP_KEYS[op]]);
  const path = (key: string) => t.str(v.absolutePath(`${name}.${key}`, s[key]));
  switch (op) {
    case 'mount': {
      const m = validateMountOptions(name, { ...s, op: undefined });
      return { op: OP.mount, args: [t.opt(m.source), t.str(m.target), t.opt(m.type), m.flags, t.opt(m.data)] };
    }
    case 'bind': {
      const a = encodeAttributes(name, s);
      const bits = (flag(name, s, 'recursive') ? 1 : 0) | (flag(name, s, 'createTarget') ? 2 : 0) | (flag(name, s, 'optional') ? 4 : 0);
      return { op: OP.bind, args: [path('source'), path('target'), bits, a.set, a.clr, a.propagation] };
    }
    case 'mountSetattr': {
      const a = encodeAttributes(name, s);
      return { op: OP.mountSetattr, args: [path('path'), flag(name, s, 'recursive') ? 0x8000 : 0, a.set, a.clr, a.propagation] };
    }
    case 'pivotRoot': {
      const root = v.absolutePath(`${name}.newRoot`, s.newRoot).replace(/\/+$/, '') || '/';
      if (s.putOld === undefined) return { op: OP.pivotRoot, args: [t.str(root), NONE, NONE] };
      const putOld = v.absolutePath(`${name}.putOld`, s.putOld).replace(/\/+$/, '');
      if (!putOld.startsWith(`${root}/`)) {
        throw new InvalidArgValueError(`${name}.putOld`, s.putOld, `must be under newRoot ('${root}')`);
      }
      return { op: OP.pivotRoot, args: [t.str(root), t.str(putOld), t.str(putOld.slice(root.length))] };
    }
    case 'sethostname':
      return { op: OP.sethostname, args: [t.str(checkHostname(`${name}.hostname`, s.hostname))] };
    case 'setdomainname':
      return { op: OP.setdomainname, args: [t.str(checkHostname(`${name}.domainname`, s.domainname))] };
    case 'mkdir':
      return { op: OP.mkdir, args: [path('path'), mode(`${name}.mode`, s.mode, 0o755), (flag(name, s, 'recursive') ? 1 : 0) | (flag(name, s, 'plain') ? 2 : 0)] };
    case 'symlink':
      return { op: OP.symlink, args: [t.str(v.string(`${name}.target`, s.target)), path('path')] };
    case 'mknod': {
      const type = v.oneOf(`${name}.type`, s.type, Object.keys(S_IF) as (keyof typeof S_IF)[]);
      const device = type === 'char' || type === 'block';
      const major = device ? v.integer(`${name}.major`, s.major, 0, 0xfff) : 0;
      const minor = device ? v.integer(`${name}.minor`, s.minor, 0, 0xfffff) : 0;
      // new_encode_dev (include/linux/kdev_t.h)
      const dev = (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
      return { op: OP.mknod, args: [path('path'), S_IF[type] | mode(`${name}.mode`, s.mode, 0o666), dev >>> 0, 0] };
    }
    case 'mask':
      return {
        op: OP.mask,
        args: [path('path'), t.str(s.nullDevice === undefined ? '/dev/null' : v.absolutePath(`${name}.nullDevice`, s.nullDevice)), flag(name, s, 'shared') ? 1 : 0],
      };
    case 'remountReadonly':
      return { op: OP.remountReadonly, args: [path('path'), flag(name, s, 'recursive') ? 1 : 0] };
    case 'chdir':
      return { op: OP.chdir, args: [path('path')] };
    case 'setrlimit': {
      const resource = v.oneOf(`${name}.resource`, s.resource, RLIMITS);
      const soft = rlimitValue(`${name}.soft`, s.soft);
      const hard = rlimitValue(`${name}.hard`, s.hard);
      if (soft > hard) throw new OutOfRangeError(`${name}.soft`, `<= hard (${s.hard})`, s.soft);
      return { op: OP.setrlimit, args: [RLIMITS.indexOf(resource), ...split64(soft), ...split64(hard)] };
    }
    case 'setgroups': {
      const groups = v.array(`${name}.groups`, s.groups).map((g, i) => v.integer(`${name}.groups[${i}]`, g, 0, v.ID_MAX));
      if (groups.length > 65536) throw new OutOfRangeError(`${name}.groups.length`, 'at most 65536 (NGROUPS_MAX)', groups.length);
      return { op: OP.setgroups, args: [t.u32s(groups), groups.length] };
    }
    case 'setgid':
      return { op: OP.setgid, args: [v.integer(`${name}.gid`, s.gid, 0, v.ID_MAX)] };
    case 'setuid':
      return { op: OP.setuid, args: [v.integer(`${name}.uid`, s.uid, 0, v.ID_MAX)] };
    case 'capabilities': {
      const set = (key: string, fallback: unknown) => capabilityMask(`${name}.${key}`, s[key] ?? fallback);
      const bounding = set('bounding', 'all');
      // Not given: the child narrows these to what it holds (a11 bits, child.cc Caps).
      const permitted = s.permitted === undefined ? bounding : set('permitted', []);
      const effective = s.effective === undefined ? permitted : set('effective', []);
      const inheritable = set('inheritable', []);
      const ambient = set('ambient', []);
      if ((effective & ~permitted) !== 0n) throw new InvalidArgValueError(`${name}.effective`, s.effective, 'must be a subset of permitted');
      if ((ambient & ~(permitted & inheritable)) !== 0n) {
        throw new InvalidArgValueError(`${name}.ambient`, s.ambient, 'must be a subset of both permitted and inheritable');
      }
      const defaulted = (s.permitted === undefined ? 1 : 0) | (s.effective === undefined ? 2 : 0);
      return { op: OP.capabilities, args: [...[bounding, effective, permitted, inheritable, ambient].flatMap(split64), lastCapability(), defaulted] };
    }
    case 'noNewPrivileges':
      return { op: OP.noNewPrivileges, args: [] };
    case 'seccomp': {
      if (!(s.filter instanceof Uint8Array)) throw new InvalidArgValueError(`${name}.filter`, s.filter, 'must be a Uint8Array of BPF instructions');
      const len = s.filter.byteLength;
      if (len === 0 || len % 8 !== 0 || len / 8 > 4096) {
        throw new OutOfRangeError(`${name}.filter.byteLength`, 'a multiple of 8, from 8 to 32768 (BPF_MAXINSNS instructions)', len);
      }
      const f = s.flags === undefined ? {} : v.object(`${name}.flags`, s.flags);
      v.knownKeys(`${name}.flags`, f, ['log', 'tsync']);
      // SECCOMP_FILTER_FLAG_TSYNC = 1, _LOG = 2
      const flags = (flag(`${name}.flags`, f, 'tsync') ? 1 : 0) | (flag(`${name}.flags`, f, 'log') ? 2 : 0);
      return { op: OP.seccomp, args: [t.blob(s.filter), len, flags] };
    }
    case 'dumpable':
      return { op: OP.dumpable, args: [v.boolean(`${name}.value`, s.value) ? 1 : 0] };
    case 'umount':
      return { op: OP.umount, args: [path('target'), umountFlagBits(name, { ...s, op: undefined, target: undefined })] };
    case 'setsid':
      return { op: OP.setsid, args: [] };
    case 'fork':
      return { op: OP.fork, args: [] };
    case 'setctty':
      return { op: OP.setctty, args: [s.fd === undefined ? 0 : v.integer(`${name}.fd`, s.fd, 0, 0x7fffffff)] };
    case 'setns': {
      const types = s.types === undefined ? [] : v.array(`${name}.types`, s.types).map((t, i) => v.oneOf(`${name}.types[${i}]`, t, NAMESPACE_TYPES));
      return { op: OP.setns, args: [v.integer(`${name}.fd`, s.fd, 0, 0x7fffffff), namespaceFlags(types)] };
    }
    case 'unshare': {
      const types = v.array(`${name}.types`, s.types).map((t, i) => v.oneOf(`${name}.types[${i}]`, t, NAMESPACE_TYPES));
      if (types.length === 0) throw new InvalidArgValueError(`${name}.types`, s.types, 'must name at least one namespace');
      return { op: OP.unshare, args: [namespaceFlags(types)] };
    }
    case 'loopbackUp':
      return { op: OP.loopbackUp, args: [] };
    case 'mountSysfs':
      return { op: OP.mountSysfs, args: [path('target')] };
    case 'confine':
      return { op: OP.confine, args: [path('root')] };
    case 'openConsole': {
      let cols = 0, rows = 0;
      if (s.size !== undefined) {
        const size = v.object(`${name}.size`, s.size);
        v.knownKeys(`${name}.size`, size, ['cols', 'rows']);
        cols = v.integer(`${name}.size.cols`, size.cols, 1, 65535);
        rows = v.integer(`${name}.size.rows`, size.rows, 1, 65535);
      }
      let uid = NONE, gid = NONE;
      if (s.owner !== undefined) {
        const owner = v.object(`${name}.owner`, s.owner);
        v.knownKeys(`${name}.owner`, owner, ['uid', 'gid']);
        uid = v.integer(`${name}.owner.uid`, owner.uid, 0, 0xfffffffe);
        gid = v.integer(`${name}.owner.gid`, owner.gid, 0, 0xfffffffe);
      }
      return { op: OP.openConsole, args: [v.integer(`${name}.socket`, s.socket, 0, 0x7fffffff), cols, rows, uid, gid] };
    }
    case 'umask':
      return { op: OP.umask, args: [v.integer(`${name}.mask`, s.mask, 0, 0o777)] };
    case 'writeFile': {
      const data = typeof s.data === 'string' ? Buffer.from(s.data, 'utf8') : s.data;
      if (!(data instanceof Uint8Array)) throw new InvalidArgValueError(`${name}.data`, s.data, 'must be a string or a Uint8Array');
      if (data.byteLength > 65536) throw new OutOfRangeError(`${name}.data.byteLength`, 'at most 65536', data.byteLength);
      const create = s.create === undefined || v.boolean(`${name}.create`, s.create);
      return { op: OP.writeFile, args: [path('path'), t.blob(data), data.byteLength, create ? 3 : 2, mode(`${name}.mode`, s.mode, 0o644)] };
    }
  }
}

/** Rules between steps that the kernel would answer only in the child, with a worse message. */
function checkOrder(name: string, steps: readonly { op: string }[]): void {
  let leader = false; // a setsid step ran in the process that runs this step
  let forks = 0;
  steps.forEach((step, i) => {
    if (step.op === 'setsid') leader = true;
    if (step.op === 'fork') {
      if (++forks > 1) throw new InvalidArgValueError(`${name}[${i}]`, step, 'is a second fork step: a plan may hold one');
      leader = false; // the grandchild is in the session, not its leader
    }
    if (step.op === 'openConsole') {
      if (leader) throw new InvalidArgValueError(`${name}[${i}]`, step, "makes a new session itself: no 'setsid' step may come before it (setsid(2) fails for a session leader)");
      leader = true;
    }
    if (step.op === 'setctty' && !leader) {
      throw new InvalidArgValueError(`${name}[${i}]`, step, "needs a 'setsid' step before it (after any fork step): only a session leader may take a controlling terminal");
    }
  });
}

/** An encoded plan and, for error messages, what each step was. */
export interface EncodedPlan {
  buffer: Buffer;
  /** Per step: its op and the path it names (for errors). */
  steps: readonly { op: string; path?: string }[];
  /** What spawn decides its clone by, read off the steps once (a kept plan keeps them). */
  traits: PlanTraits;
}

export interface PlanTraits {
  /** A `loopbackUp` step: the network namespace pool's kind with the loopback up. */
  loopbackUp: boolean;
  /**
   * A step a CLONE_VM child must not run, sharing Node's address space: `dumpable` (the flag
   * is the address space's), `setuid`/`setgid` (commit_creds() resets that flag), `fork`.
   */
  vmUnsafe: boolean;
  /**
   * A step a CLONE_VM|CLONE_VFORK child must not run: `dumpable`, `fork`, `wait` (the cloning
   * thread would wait for a release only it can give), or an id change to non-zero (the addon
   * keeps the shared address space non-dumpable during the setup; commit_creds() would reset it).
   */
  vforkUnsafe: boolean;
  /** A `mask` step that may clone the shared template (`shared`). */
  sharedMask: boolean;
}

function stepPath(step: Record<string, unknown>): string | undefined {
  if (step.op === 'openConsole') return CONSOLE_PTMX;
  for (const key of ['target', 'path', 'newRoot', 'hostname', 'domainname']) {
    if (typeof step[key] === 'string') return step[key] as string;
  }
  return undefined;
}

/**
 * Validates and encodes `steps` followed by exec. `wait` marks (internal) become WAIT
 * steps at their position. Throws before anything is allocated by the kernel.
 */
export function encodePlan(
  steps: readonly (Step | { op: 'wait' })[],
  exec: ExecSpec,
  name = 'plan',
  { allowWait = false } = {},
): EncodedPlan {
  v.array(name, steps);
  const t = new StringTable();
  const encoded: EncodedStep[] = [];
  const described: { op: string; path?: string }[] = [];
  const traits: PlanTraits = { loopbackUp: false, vmUnsafe: false, vforkUnsafe: false, sharedMask: false };
  steps.forEach((step, i) => {
    if (allowWait && (step as { op?: unknown })?.op === 'wait') {
      encoded.push({ op: OP.wait, args: [] });
    } else {
      encoded.push(encodeStep(`${name}[${i}]`, step, t));
    }
    described.push({ op: step.op, path: stepPath(step as unknown as Record<string, unknown>) });
    const op = step.op;
    const idChange = (op === 'setuid' && step.uid !== 0) || (op === 'setgid' && step.gid !== 0);
    if (op === 'loopbackUp') traits.loopbackUp = true;
    if (op === 'mask' && step.shared === true) traits.sharedMask = true;
    if (op === 'dumpable' || op === 'setuid' || op === 'setgid' || op === 'fork') traits.vmUnsafe = true;
    if (op === 'dumpable' || op === 'fork' || op === 'wait' || idChange) traits.vforkUnsafe = true;
  });
  checkOrder(name, steps);
  encoded.push({
    op: OP.exec,
    args: [
      t.str(exec.file),
      t.u32s(exec.argv.map((a) => t.str(a))),
      exec.argv.length,
      exec.env === null ? NONE : t.u32s(exec.env.map((e) => t.str(e))),
      exec.env === null ? NONE : exec.env.length,
      t.opt(exec.searchPath),
    ],
  });
  described.push({ op: 'exec', path: exec.file });

  const strings = t.toBuffer();
  const head = 16 + encoded.length * STEP_BYTES;
  // Buffer.alloc is never a slice of the shared pool: offset 0, so 4-aligned. The addon reads
  // the header and steps with memcpy, in the host's byte order, which a Uint32Array writes.
  const buffer = Buffer.alloc(head + strings.length);
  const words = new Uint32Array(buffer.buffer, buffer.byteOffset, head / 4);
  words[0] = MAGIC;
  words[1] = VERSION;
  words[2] = encoded.length;
  words[3] = strings.length;
  for (let i = 0; i < encoded.length; i++) {
    const e = encoded[i];
    const base = 4 + i * (STEP_BYTES / 4);
    words[base] = e.op;
    for (let k = 0; k < STEP_ARGS && k < e.args.length; k++) words[base + 1 + k] = e.args[k] >>> 0;
  }
  buffer.set(strings, head);
  return { buffer, steps: described, traits };
}

/** Decodes a plan buffer back into ops and raw arguments (for tests and debugging). */
export function decodePlan(buffer: Buffer): { ops: string[]; args: number[][]; strings: Buffer } {
  const count = buffer.readUInt32LE(8);
  const names = Object.fromEntries(Object.entries(OP).map(([k, n]) => [n, k]));
  const ops: string[] = [];
  const args: number[][] = [];
  for (let i = 0; i < count; i++) {
    const base = 16 + i * STEP_BYTES;
    ops.push(names[buffer.readUInt32LE(base)]);
    args.push(Array.from({ length: STEP_ARGS }, (_, k) => buffer.readUInt32LE(base + 4 + 4 * k)));
  }
  return { ops, args, strings: buffer.subarray(16 + count * STEP_BYTES) };
}
