// Mounts: mount(2), umount2(2), pivot_root(2), mount_setattr(2), open_tree(2), move_mount(2).
// Flag objects are mapped to kernel bits here and nowhere else.
import { native } from './native';
import { NsboxSystemError, withHint } from './errors';
import * as v from './validate';

/** mount(2) flags, as booleans. */
export interface MountFlags {
  readonly?: boolean;
  nosuid?: boolean;
  nodev?: boolean;
  noexec?: boolean;
  synchronous?: boolean;
  remount?: boolean;
  dirsync?: boolean;
  nosymfollow?: boolean;
  noatime?: boolean;
  nodiratime?: boolean;
  bind?: boolean;
  move?: boolean;
  /** MS_REC: apply to the whole subtree (bind, propagation). */
  recursive?: boolean;
  silent?: boolean;
  unbindable?: boolean;
  private?: boolean;
  slave?: boolean;
  shared?: boolean;
  relatime?: boolean;
  strictatime?: boolean;
  lazytime?: boolean;
}

const MS: Record<keyof MountFlags, number> = {
  readonly: 1, nosuid: 2, nodev: 4, noexec: 8, synchronous: 16, remount: 32, dirsync: 128, nosymfollow: 256,
  noatime: 1024, nodiratime: 2048, bind: 4096, move: 8192, recursive: 16384, silent: 32768,
  unbindable: 1 << 17, private: 1 << 18, slave: 1 << 19, shared: 1 << 20, relatime: 1 << 21,
  strictatime: 1 << 24, lazytime: 1 << 25,
};

export type Propagation = 'private' | 'shared' | 'slave' | 'unbindable';
const PROPAGATIONS: readonly Propagation[] = ['private', 'shared', 'slave', 'unbindable'];

/** The options of {@link mount}, and of a `mount` step in a spawn plan. */
export interface MountOptions {
  /** Device, directory or name (`'proc'`, `'tmpfs'`); omitted for remounts and propagation changes. */
  source?: string;
  /** Absolute path of the mount point. */
  target: string;
  /** Filesystem type (`'proc'`, `'tmpfs'`, `'overlay'`, …); omitted for bind, move, remount and propagation. */
  type?: string;
  flags?: MountFlags;
  /** Filesystem options, such as `'size=64m,mode=755'`. */
  data?: string;
}

export function mountFlagBits(name: string, flags: unknown): number {
  if (flags === undefined) return 0;
  const f = v.object(name, flags);
  v.knownKeys(name, f, Object.keys(MS));
  let bits = 0;
  for (const [key, bit] of Object.entries(MS)) {
    if (f[key] === undefined) continue;
    if (v.boolean(`${name}.${key}`, f[key])) bits |= bit;
  }
  return bits >>> 0;
}

export function validateMountOptions(name: string, options: unknown): Required<Pick<MountOptions, 'target'>> & { source: string | null; type: string | null; flags: number; data: string | null } {
  const o = v.object(name, options);
  return {
    source: o.source === undefined ? null : v.string(`${name}.source`, o.source),
    target: v.absolutePath(`${name}.target`, o.target),
    type: o.type === undefined ? null : v.string(`${name}.type`, o.type),
    flags: mountFlagBits(`${name}.flags`, o.flags),
    data: o.data === undefined ? null : v.string(`${name}.data`, o.data, { empty: true }),
  };
}

function hinted(e: unknown): unknown {
  if (e instanceof NsboxSystemError && e.code === 'EPERM' && process.getuid?.() !== 0) {
    return withHint(e, 'mounting needs CAP_SYS_ADMIN in the mount namespace\'s user namespace: run as root, or in a process spawned with namespaces ["user", "mount"]');
  }
  return e;
}

/**
 * mount(2). Affects the calling thread's mount namespace.
 * @example mount({ source: 'tmpfs', target: '/mnt/x', type: 'tmpfs', flags: { nosuid: true }, data: 'size=16m' })
 */
export function mount(options: MountOptions): void {
  const o = validateMountOptions('options', options);
  try {
    native.mount(o.source, o.target, o.type, o.flags, o.data);
  } catch (e) {
    throw hinted(e);
  }
}

export interface UmountOptions {
  /** MNT_DETACH: lazy unmount, detached now and cleaned up when no longer busy. */
  detach?: boolean;
  /** MNT_FORCE */
  force?: boolean;
  /** MNT_EXPIRE */
  expire?: boolean;
  /** UMOUNT_NOFOLLOW: do not follow a symbolic link at `target`. */
  noFollow?: boolean;
}

export function umountFlagBits(name: string, options: unknown): number {
  if (options === undefined) return 0;
  const o = v.object(name, options);
  v.knownKeys(name, o, ['detach', 'force', 'expire', 'noFollow']);
  const bit = (k: string, b: number) => (o[k] !== undefined && v.boolean(`${name}.${k}`, o[k]) ? b : 0);
  return bit('force', 1) | bit('detach', 2) | bit('expire', 4) | bit('noFollow', 8);
}

/** umount2(2). */
export function umount(target: string, options?: UmountOptions): void {
  v.absolutePath('target', target);
  const flags = umountFlagBits('options', options);
  try {
    native.umount2(target, flags);
  } catch (e) {
    throw hinted(e);
  }
}

/**
 * pivot_root(2): makes `newRoot` the root of the calling process's mount namespace and
 * moves the old root to `putOld` (which must be under `newRoot`). In a Node process this
 * changes the root of every thread that shares the namespace; it is meant for spawned
 * processes, where a `pivotRoot` plan step also detaches the old root.
 */
export function pivotRoot(newRoot: string, putOld: string): void {
  native.pivotRoot(v.absolutePath('newRoot', newRoot), v.absolutePath('putOld', putOld));
}

/** Mount attributes for mount_setattr(2): `true` sets, `false` clears, absent leaves alone. */
export interface MountAttributes {
  readonly?: boolean;
  nosuid?: boolean;
  nodev?: boolean;
  noexec?: boolean;
  nodiratime?: boolean;
  atime?: 'relatime' | 'noatime' | 'strictatime';
  propagation?: Propagation;
}

export interface MountSetattrOptions extends MountAttributes {
  /** AT_RECURSIVE: every mount in the subtree. */
  recursive?: boolean;
}

const ATTR = { readonly: 0x1, nosuid: 0x2, nodev: 0x4, noexec: 0x8, nodiratime: 0x80 } as const;
const ATIME = { relatime: 0x0, noatime: 0x10, strictatime: 0x20 } as const;
const ATIME_MASK = 0x70;

export interface EncodedAttributes {
  set: number;
  clr: number;
  propagation: number;
}

export function encodeAttributes(name: string, o: Record<string, unknown>): EncodedAttributes {
  let set = 0;
  let clr = 0;
  for (const [key, bit] of Object.entries(ATTR)) {
    if (o[key] === undefined) continue;
    if (v.boolean(`${name}.${key}`, o[key])) set |= bit;
    else clr |= bit;
  }
  if (o.atime !== undefined) {
    set |= ATIME[v.oneOf(`${name}.atime`, o.atime, Object.keys(ATIME) as (keyof typeof ATIME)[])];
    clr |= ATIME_MASK;
  }
  const propagation = o.propagation === undefined ? 0 : propagationBits(`${name}.propagation`, o.propagation);
  return { set, clr, propagation };
}

export function propagationBits(name: string, value: unknown): number {
  return MS[v.oneOf(name, value, PROPAGATIONS)];
}

/**
 * mount_setattr(2) (5.12): changes attributes of a mount, or of a whole tree with `recursive`.
 * @example mountSetattr('/mnt/data', { readonly: true, recursive: true })
 */
export function mountSetattr(path: string, options: MountSetattrOptions): void {
  v.absolutePath('path', path);
  const o = v.object('options', options);
  v.knownKeys('options', o, [...Object.keys(ATTR), 'atime', 'propagation', 'recursive']);
  const { set, clr, propagation } = encodeAttributes('options', o);
  const recursive = o.recursive !== undefined && v.boolean('options.recursive', o.recursive);
  try {
    native.mountSetattr(AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, set, clr, propagation);
  } catch (e) {
    throw hinted(e);
  }
}

const AT_FDCWD = -100;
const AT_RECURSIVE = 0x8000;
const OPEN_TREE_CLONE = 1;
const MOVE_MOUNT_F_EMPTY_PATH = 4;

export interface OpenTreeOptions {
  /** OPEN_TREE_CLONE: a detached copy of the mount (a bind mount not yet attached anywhere). */
  clone?: boolean;
  /** AT_RECURSIVE, with `clone`: copy the whole subtree. */
  recursive?: boolean;
}

/**
 * open_tree(2) (5.2): an fd for the mount at `path`, or with `clone` a detached copy of it
 * that {@link moveMount} can attach elsewhere. Close it with `fs.closeSync`.
 */
export function openTree(path: string, options: OpenTreeOptions = {}): number {
  v.absolutePath('path', path);
  const o = v.object('options', options);
  v.knownKeys('options', o, ['clone', 'recursive']);
  const clone = o.clone !== undefined && v.boolean('options.clone', o.clone);
  const recursive = o.recursive !== undefined && v.boolean('options.recursive', o.recursive);
  try {
    return native.openTree(AT_FDCWD, path, (clone ? OPEN_TREE_CLONE : 0) | (recursive ? AT_RECURSIVE : 0));
  } catch (e) {
    throw hinted(e);
  }
}

/** move_mount(2) (5.2): attaches a mount given as an fd from {@link openTree}, or moves the mount at a path. */
export function moveMount(from: number | string, to: string): void {
  v.absolutePath('to', to);
  try {
    if (typeof from === 'number') {
      native.moveMount(v.integer('from', from, 0, 0x7fffffff), '', AT_FDCWD, to, MOVE_MOUNT_F_EMPTY_PATH);
    } else {
      native.moveMount(AT_FDCWD, v.absolutePath('from', from), AT_FDCWD, to, 0);
    }
  } catch (e) {
    throw hinted(e);
  }
}
