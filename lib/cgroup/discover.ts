// Where cgroup v2 lives on this host and what it offers: the cgroup2 mount from mountinfo,
// the host's mode, this process's own group, the controllers at a path, and whether this
// process may create groups there. Read from the kernel's files, nothing written.
import fs from 'node:fs';
import path from 'node:path';
import { readMountinfo, type MountEntry } from '../mountinfo';

export type CgroupMode = 'unified' | 'hybrid' | 'legacy' | 'none';

/** statfs(2) f_type of a cgroup2 filesystem (linux/magic.h). */
export const CGROUP2_SUPER_MAGIC = 0x63677270;

/** The cgroup v2 controllers nsbox knows (Documentation/admin-guide/cgroup-v2.rst). */
export const CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'] as const;
export type Controller = (typeof CONTROLLERS)[number];

export interface CgroupHost {
  /**
   * `'unified'`: cgroup2 only (`/sys/fs/cgroup`); `'hybrid'`: cgroup2 beside v1 hierarchies
   * that hold controllers (systemd's `/sys/fs/cgroup/unified`); `'legacy'`: v1 only;
   * `'none'`: no cgroup filesystem mounted. From `/proc/self/mountinfo`.
   */
  mode: CgroupMode;
  /** Where cgroup2 is mounted, or null. */
  mount: string | null;
  /** Controllers cgroup2 offers: `cgroup.controllers` at the mount's root. */
  controllers: string[];
  /** Controllers bound to v1 hierarchies, which cgroup2 therefore cannot offer. */
  legacyControllers: string[];
  /** This process's cgroup2 directory (the `0::` line of `/proc/self/cgroup` under the mount), or null. */
  ownPath: string | null;
  /** `cgroup.controllers` of that directory: what a child group of it may enable. */
  ownControllers: string[];
  /** What the mode costs where it is not `'unified'`, and how to change it. */
  modeHint?: string;
}

// Super options of a v1 cgroup mount that are not controllers (Documentation/admin-guide/cgroup-v1).
const V1_NON_CONTROLLERS = new Set(['rw', 'ro', 'none', 'all', 'noprefix', 'xattr', 'clone_children', 'cpuset_v2_mode', 'favordynmods', 'nofavordynmods']);

export const DELEGATE_HINT = 'run under `systemd-run --user --scope -p Delegate=yes` (its cgroup is then yours), or as root';

/** Words of a kernel file such as `cgroup.controllers`; none if it cannot be read. */
export function readWords(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * The cgroup layout of this host as this process sees it (its mount and cgroup namespaces).
 * `mounts` and `selfCgroup` (the text of `/proc/self/cgroup`) are read when not given.
 */
export function cgroupHost(mounts: readonly MountEntry[] = readMountinfo(), selfCgroup?: string): CgroupHost {
  const v2 = mounts.filter((m) => m.fstype === 'cgroup2');
  const main = v2.find((m) => m.mountPoint === '/sys/fs/cgroup') ?? v2.find((m) => m.mountPoint === '/sys/fs/cgroup/unified') ?? v2[0];
  const legacy = new Set<string>();
  for (const m of mounts) {
    if (m.fstype !== 'cgroup') continue;
    for (const o of m.superOptions) if (!o.includes('=') && !V1_NON_CONTROLLERS.has(o)) legacy.add(o);
  }
  const legacyControllers = [...legacy].sort();
  const anyV1 = mounts.some((m) => m.fstype === 'cgroup');
  const mode: CgroupMode = main ? (legacyControllers.length ? 'hybrid' : 'unified') : anyV1 ? 'legacy' : 'none';

  let ownPath: string | null = null;
  if (main) {
    const text = selfCgroup ?? fs.readFileSync('/proc/self/cgroup', 'utf8');
    const own = text.split('\n').find((l) => l.startsWith('0::'))?.slice(3);
    // The mount shows the hierarchy from its root (field 4 of mountinfo), both relative to this cgroup namespace.
    if (own?.startsWith('/') && !own.split('/').includes('..')) {
      const rootDir = main.root === '/' ? '' : main.root;
      if (own === main.root || own.startsWith(`${rootDir}/`)) ownPath = path.join(main.mountPoint, own.slice(rootDir.length)).replace(/(.)\/$/, '$1');
    }
  }
  const host: CgroupHost = {
    mode,
    mount: main?.mountPoint ?? null,
    controllers: main ? readWords(path.join(main.mountPoint, 'cgroup.controllers')) : [],
    legacyControllers,
    ownPath,
    ownControllers: ownPath ? readWords(path.join(ownPath, 'cgroup.controllers')) : [],
  };
  if (mode === 'hybrid') {
    host.modeHint = `controllers ${legacyControllers.join(', ')} are bound to cgroup v1 and cannot be limited through cgroup2: ` +
      'boot with systemd.unified_cgroup_hierarchy=1 (and cgroup_no_v1=all) for a unified host';
  } else if (mode === 'legacy') {
    host.modeHint = 'no cgroup2 filesystem: nsbox cannot limit resources; boot with systemd.unified_cgroup_hierarchy=1 for a unified host';
  } else if (mode === 'none') {
    host.modeHint = 'no cgroup filesystem is mounted: mount -t cgroup2 none /sys/fs/cgroup';
  }
  return host;
}

/** Controllers a group offers to its children: its `cgroup.controllers`. */
export function controllersAt(dir: string): string[] {
  return readWords(path.join(dir, 'cgroup.controllers'));
}

export interface CreateAccess {
  allowed: boolean;
  /** Why not, and what to do; present when `allowed` is false. */
  reason?: string;
}

/**
 * Whether this process may create child groups in `dir` and move processes into them: the
 * directory and its `cgroup.procs` and `cgroup.subtree_control` writable to it — root, or a
 * subtree delegated to this user (systemd's `user@UID.service`, a `Delegate=yes` scope).
 * Asked of the kernel with access(2), which also answers for read-only mounts.
 */
export function mayCreateGroups(dir: string): CreateAccess {
  for (const file of [dir, path.join(dir, 'cgroup.procs'), path.join(dir, 'cgroup.subtree_control')]) {
    try {
      fs.accessSync(file, fs.constants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EROFS') return { allowed: false, reason: `${file} is on a read-only mount (a container without a cgroup of its own?)` };
      if (code === 'ENOENT') return { allowed: false, reason: file === dir ? `${dir} does not exist` : `${dir} is not a cgroup v2 group (no ${path.basename(file)})` };
      return { allowed: false, reason: `${code}: ${file} is not writable by uid ${process.geteuid?.()}, so the group is not delegated to it: ${DELEGATE_HINT}` };
    }
  }
  return { allowed: true };
}
