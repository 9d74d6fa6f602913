// probe(): what this host allows, measured by trying each thing once — a short-lived child,
// a cgroup made and removed, a detached mount never attached — never guessed from the
// kernel's version. Every child is awaited and reaped, every fd closed, the cgroup removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeTree } from './cgroup/cgroup';
import { cgroupHost, DELEGATE_HINT, type CgroupHost } from './cgroup/discover';
import { userNamespaceHint } from './errors';
import { mountOf, readMountinfo, type MountEntry } from './mountinfo';
import type { NamespaceType } from './namespaces';
import { native } from './native';
import type { Step } from './plan';
import { spawn, type SpawnOptions, type Subprocess } from './spawn';

/** Whether something works here, and if not, why and what to do about it. */
export interface Support {
  supported: boolean;
  /** Why not and what to do; present only when `supported` is false. */
  reason?: string;
}

/** The sysctls that gate user namespaces, as read; absent where this kernel has no such file. */
export interface UserNamespaceSysctls {
  /** `kernel.unprivileged_userns_clone` (Debian and Ubuntu kernels): 0 forbids it to non-root users. */
  unprivilegedUsernsClone?: number;
  /** `user.max_user_namespaces`: 0 forbids user namespaces to everyone. */
  maxUserNamespaces?: number;
  /**
   * `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10+): 1 lets non-root users
   * create a user namespace but without capabilities in it, unless an AppArmor profile allows `userns`.
   */
  apparmorRestrictUnprivilegedUserns?: number;
}

export interface UserNamespaceProbe {
  /** A child in a new user namespace (this user mapped to root) started: `spawn({ namespaces: ['user'] })`. */
  allowed: boolean;
  /**
   * A child in new user, mount, uts, ipc, pid, net and cgroup namespaces at once started: the
   * user namespace gives the capabilities a rootless container needs. AppArmor's restriction
   * allows the user namespace but withholds these.
   */
  withOtherNamespaces: boolean;
  /** Why not (the error) and what to do (sysctl, AppArmor); present when either is false. */
  reason?: string;
  sysctls: UserNamespaceSysctls;
}

export type { CgroupMode } from './cgroup/discover';

export interface CgroupProbe extends CgroupHost {
  /**
   * A child group could be made in `ownPath` (mkdir of `nsbox-probe-<pid>-<random>`, removed
   * at once). Without it, nsbox can only run containers in this process's own cgroup.
   */
  canCreateChildren: boolean;
  /** Why `canCreateChildren` is false and what to do. */
  reason?: string;
}

export interface SeccompProbe {
  /** A child installed a seccomp filter (allow all, after no_new_privs) and ran. */
  filter: boolean;
  /** This process's own seccomp mode (PR_GET_SECCOMP): `'filter'` when something already confines it. */
  mode: 'disabled' | 'strict' | 'filter';
  /** Why `filter` is false. */
  reason?: string;
}

export interface LandlockProbe {
  /** landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION): the ABI version, 0 where Landlock is unavailable. */
  abi: number;
  /** Why it is unavailable. */
  reason?: string;
}

/** What this host allows, as {@link probe} measured it. */
export interface HostProbe {
  kernel: {
    /** `uname -r`, such as `'6.8.0-45-generic'`. */
    release: string;
    /** Its leading version numbers, such as `'6.8.0'`. */
    version: string;
  };
  /** System calls the kernel has (each called with arguments that fail harmlessly: ENOSYS means absent). */
  syscalls: {
    /** clone3 (5.3). */
    clone3: boolean;
    /** pidfd_open (5.3). */
    pidfd: boolean;
    /** open_tree, move_mount, fsopen (5.2). */
    newMountApi: boolean;
    /** mount_setattr (5.12). */
    mountSetattr: boolean;
    /** close_range (5.9). */
    closeRange: boolean;
  };
  /** A child spawned into a cgroup was born there (CLONE_INTO_CGROUP, 5.7) rather than moved. */
  cloneIntoCgroup: Support;
  /** A detached clone of the mount holding `path` accepted a user namespace's idmapping (5.12; per filesystem). */
  idmappedMounts: Support & { path: string };
  userNamespaces: UserNamespaceProbe;
  cgroup: CgroupProbe;
  seccomp: SeccompProbe;
  landlock: LandlockProbe;
}

// A PATH for the probe's children that finds `true` and `sleep` wherever they are.
const CHILD_ENV = { PATH: ['/usr/local/bin', '/usr/bin', '/bin', ...(process.env.PATH ?? '').split(':')].filter(Boolean).join(':') };
const CONTAINER_NAMESPACES: NamespaceType[] = ['user', 'mount', 'uts', 'ipc', 'pid', 'net', 'cgroup'];
// One instruction, BPF_RET|BPF_K SECCOMP_RET_ALLOW: struct sock_filter { u16 code; u8 jt, jf; u32 k }.
const ALLOW_ALL = new Uint8Array([0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x7f]);

/** The `code` of a system error (from the addon or from Node's fs); anything else is a bug and rethrown. */
function codeOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  throw e;
}

/** `'EPERM from clone3'`, or `'EPERM from clone3: <hint>'`. */
function failure(e: unknown, hint?: string): string {
  const code = codeOf(e);
  const syscall = (e as { syscall?: string }).syscall;
  const h = hint ?? (e as { hint?: string }).hint;
  return `${code}${syscall ? ` from ${syscall}` : ''}${h ? `: ${h}` : ''}`;
}

type RunResult =
  | { ok: true; child: Subprocess }
  | { ok: false; code: string; syscall?: string; reason: (hint?: string) => string };

/** Spawns, awaits the exit, and says whether the child started and exited 0. */
async function runToEnd(options: SpawnOptions): Promise<RunResult> {
  let child: Subprocess;
  try {
    child = await spawn({ env: CHILD_ENV, stdio: 'ignore', ...options });
  } catch (error) {
    return { ok: false, code: codeOf(error), syscall: (error as { syscall?: string }).syscall, reason: (hint) => failure(error, hint) };
  }
  const status = await child.exited;
  if (status.code === 0) return { ok: true, child };
  const ended = `${options.command[0]} ended with ${status.signal ?? `exit code ${status.code}`}`;
  return { ok: false, code: 'exit', reason: (hint) => (hint ? `${ended}: ${hint}` : ended) };
}

function readNumber(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

// ---- the tries -------------------------------------------------------------------------

async function probeUserNamespaces(): Promise<UserNamespaceProbe> {
  const sysctls: UserNamespaceSysctls = {};
  const clone = readNumber('/proc/sys/kernel/unprivileged_userns_clone');
  const max = readNumber('/proc/sys/user/max_user_namespaces');
  const apparmor = readNumber('/proc/sys/kernel/apparmor_restrict_unprivileged_userns');
  if (clone !== undefined) sysctls.unprivilegedUsernsClone = clone;
  if (max !== undefined) sysctls.maxUserNamespaces = max;
  if (apparmor !== undefined) sysctls.apparmorRestrictUnprivilegedUserns = apparmor;

  const [bare, full] = await Promise.all([
    runToEnd({ command: ['true'], namespaces: ['user'] }),
    runToEnd({ command: ['true'], namespaces: CONTAINER_NAMESPACES }),
  ]);
  const result: UserNamespaceProbe = { allowed: bare.ok, withOtherNamespaces: full.ok, sysctls };
  const failed = !bare.ok ? bare : !full.ok ? full : undefined;
  if (failed && !failed.ok) {
    const hint = userNamespaceHint() ??
      (failed.code === 'EPERM' || failed.code === 'EACCES'
        ? 'the kernel refused; a seccomp filter or security module of an enclosing container may forbid user namespaces'
        : undefined);
    const what = bare.ok ? `new ${CONTAINER_NAMESPACES.slice(1).join(', ')} namespaces inside a new user namespace` : 'a new user namespace';
    result.reason = `${what}: ${failed.reason(hint)}`;
  }
  return result;
}

async function probeIdmappedMounts(mounts: readonly MountEntry[], mountSetattr: boolean): Promise<Support & { path: string }> {
  let dir = os.tmpdir();
  try {
    dir = fs.realpathSync(dir);
  } catch (e) {
    return { supported: false, path: dir, reason: `the temporary directory to try it on is unusable: ${failure(e)}` };
  }
  if (!mountSetattr) return { supported: false, path: dir, reason: 'this kernel lacks mount_setattr (Linux 5.12)' };
  let child: Subprocess;
  try {
    child = await spawn({ command: ['sleep', '10'], namespaces: ['user'], env: CHILD_ENV, stdio: 'ignore' });
  } catch (e) {
    return { supported: false, path: dir, reason: `an idmapping is taken from a user namespace, and creating one failed: ${failure(e)}` };
  }
  let fd: number | undefined;
  try {
    fd = fs.openSync(`/proc/${child.pid}/ns/user`, 'r');
    native.probeIdmappedMount(dir, fd);
    return { supported: true, path: dir };
  } catch (e) {
    const code = codeOf(e);
    const fstype = mountOf(mounts, dir)?.fstype ?? 'unknown';
    let hint: string | undefined;
    const syscall = (e as { syscall?: string }).syscall;
    if (code === 'EPERM' && syscall === 'open_tree') hint = 'cloning a mount needs CAP_SYS_ADMIN in the mount namespace: run as root';
    else if (code === 'EPERM') hint = `idmapping a mount needs CAP_SYS_ADMIN over its filesystem (${fstype}): run as root`;
    else if (code === 'EINVAL') hint = `the filesystem of ${dir} (${fstype}) cannot be idmapped on this kernel (ext4, xfs, btrfs: 5.12+, tmpfs: 6.3+)`;
    return { supported: false, path: dir, reason: failure(e, hint) };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    child.kill('SIGKILL');
    await child.exited;
  }
}

async function probeSeccomp(mode: number): Promise<SeccompProbe> {
  const plan: Step[] = [{ op: 'noNewPrivileges' }, { op: 'seccomp', filter: ALLOW_ALL }];
  const run = await runToEnd({ command: ['true'], plan });
  const result: SeccompProbe = { filter: run.ok, mode: mode === 2 ? 'filter' : mode === 1 ? 'strict' : 'disabled' };
  if (!run.ok) {
    result.reason = run.reason(run.code === 'EINVAL' ? 'this kernel is built without CONFIG_SECCOMP_FILTER' : undefined);
  }
  return result;
}

function cgroupLayout(mounts: readonly MountEntry[]): CgroupProbe {
  return { ...cgroupHost(mounts), canCreateChildren: false };
}

async function removeGroup(dir: string): Promise<void> {
  try {
    await removeTree(dir);
  } catch (e) {
    throw new Error(`probe: could not remove its test cgroup ${dir}`, { cause: e });
  }
}

async function probeCgroup(mounts: readonly MountEntry[]): Promise<{ probe: CgroupProbe; cloneIntoCgroup: Support }> {
  const probe = cgroupLayout(mounts);
  if (!probe.mount || !probe.ownPath) {
    const why = !probe.mount
      ? 'no cgroup2 filesystem is mounted'
      : "this process's cgroup is outside the cgroup2 mount (another cgroup namespace?)";
    probe.reason = why;
    return { probe, cloneIntoCgroup: { supported: false, reason: why } };
  }
  const own = probe.ownPath;
  const child = path.join(own, `nsbox-probe-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  let created = false;
  try {
    fs.mkdirSync(child);
    created = true;
    probe.canCreateChildren = true;
  } catch (e) {
    const code = codeOf(e);
    probe.reason = code === 'EACCES' || code === 'EPERM'
      ? `${code} from mkdir: this process's cgroup ${own} is not delegated to uid ${process.geteuid?.()}: ${DELEGATE_HINT}`
      : code === 'EROFS'
        ? `EROFS from mkdir: ${probe.mount} is mounted read-only (a container without a cgroup of its own?)`
        : failure(e);
  }
  try {
    const target = created ? child : own;
    const run = await runToEnd({ command: ['true'], cgroup: target });
    let cloneIntoCgroup: Support;
    if (run.ok) {
      cloneIntoCgroup = run.child.bornInCgroup
        ? { supported: true }
        : { supported: false, reason: 'the kernel refused CLONE_INTO_CGROUP (Linux 5.7): nsbox moves children through cgroup.procs instead' };
    } else {
      // clone3 itself refusing the cgroup means the kernel knows the flag (before 5.7 it is
      // EINVAL and spawn falls back to writing cgroup.procs, step 'cgroup').
      const known = run.syscall === 'clone3' ? 'the kernel has CLONE_INTO_CGROUP, but ' : '';
      const hint = run.code === 'EACCES' || run.code === 'EPERM'
        ? `${known}this process may not move processes into ${target} (cgroup.procs of the nearest group holding both must be writable to it): ${DELEGATE_HINT}`
        : undefined;
      cloneIntoCgroup = { supported: false, reason: run.reason(hint) };
    }
    return { probe, cloneIntoCgroup };
  } finally {
    if (created) await removeGroup(child);
  }
}

function probeLandlock(abi: number, errno: number): LandlockProbe {
  if (abi > 0) return { abi };
  const reasons: Record<number, string> = {
    [os.constants.errno.ENOSYS]: 'ENOSYS: this kernel is built without Landlock (CONFIG_SECURITY_LANDLOCK, Linux 5.13)',
    [os.constants.errno.EOPNOTSUPP]: 'EOPNOTSUPP: Landlock is built in but not enabled: add landlock to the lsm= boot parameter',
  };
  return { abi: 0, reason: reasons[errno] ?? `landlock_create_ruleset failed with errno ${errno}` };
}

/**
 * What this host allows, measured by trying: the kernel's system calls, user namespaces
 * (with the sysctls and AppArmor setting that gate them), the cgroup layout and whether
 * this process may create child groups and spawn into them, idmapped mounts, seccomp and
 * Landlock. Where something is refused, `reason` says why and what to do.
 *
 * It starts a few short-lived children (awaited and reaped), makes and removes one cgroup
 * named `nsbox-probe-<pid>-<random>` under this process's own, and leaves no fd open.
 *
 * @example
 * const host = await probe();
 * if (!host.userNamespaces.allowed) console.error(host.userNamespaces.reason);
 */
export async function probe(): Promise<HostProbe> {
  const release = os.release();
  const sys = native.probeSyscalls();
  const mounts = readMountinfo();
  const [userNamespaces, idmappedMounts, cgroup, seccomp] = await Promise.all([
    probeUserNamespaces(),
    probeIdmappedMounts(mounts, sys.mountSetattr),
    probeCgroup(mounts),
    probeSeccomp(sys.seccompMode),
  ]);
  return {
    kernel: { release, version: /^\d+(\.\d+)*/.exec(release)?.[0] ?? release },
    syscalls: { clone3: sys.clone3, pidfd: sys.pidfd, newMountApi: sys.newMountApi, mountSetattr: sys.mountSetattr, closeRange: sys.closeRange },
    cloneIntoCgroup: cgroup.cloneIntoCgroup,
    idmappedMounts,
    userNamespaces,
    cgroup: cgroup.probe,
    seccomp,
    landlock: probeLandlock(sys.landlockAbi, sys.landlockErrno),
  };
}
