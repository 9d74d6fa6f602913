// Namespaces: unshare(2), setns(2), and what /proc/PID/ns shows.
import fs from 'node:fs';
import { native } from './native';
import { NsboxSystemError, THREADED_HINT, namespaceHint, withHint, InvalidArgValueError, InvalidArgTypeError } from './errors';
import * as v from './validate';

export type NamespaceType = 'mount' | 'uts' | 'ipc' | 'pid' | 'net' | 'user' | 'cgroup' | 'time';

export const NAMESPACE_TYPES: readonly NamespaceType[] = ['mount', 'uts', 'ipc', 'pid', 'net', 'user', 'cgroup', 'time'];

/** CLONE_NEW* for each type (linux/sched.h): the only place these numbers live. */
const CLONE_FLAG: Record<NamespaceType, number> = {
  mount: 0x00020000,
  uts: 0x04000000,
  ipc: 0x08000000,
  pid: 0x20000000,
  net: 0x40000000,
  user: 0x10000000,
  cgroup: 0x02000000,
  time: 0x00000080,
};

/** The names under /proc/PID/ns. */
const PROC_NAME: Record<NamespaceType, string> = {
  mount: 'mnt', uts: 'uts', ipc: 'ipc', pid: 'pid', net: 'net', user: 'user', cgroup: 'cgroup', time: 'time',
};

/** Validates a list of namespace types (one type alone is accepted too) and returns it as an array. */
export function namespaceTypes(name: string, value: unknown): NamespaceType[] {
  const list = typeof value === 'string' ? [value] : v.array(name, value);
  const seen = new Set<NamespaceType>();
  list.forEach((t, i) => seen.add(v.oneOf(`${name}[${i}]`, t, NAMESPACE_TYPES)));
  return [...seen];
}

/** The CLONE_NEW* bits for these types. */
export function namespaceFlags(types: readonly NamespaceType[]): number {
  return types.reduce((flags, t) => flags | CLONE_FLAG[t], 0);
}

function threadedHint(error: NsboxSystemError, types: readonly NamespaceType[]): string | undefined {
  // unshare(CLONE_NEWUSER) and setns into a user or mount namespace are EINVAL in a
  // multithreaded process (unshare(2), setns(2)).
  if (error.code === 'EINVAL' && (types.includes('user') || types.includes('mount'))) return THREADED_HINT;
  return namespaceHint(error, types);
}

/**
 * Moves the calling thread into new namespaces of the given types (unshare(2)).
 *
 * Node is multithreaded, and namespaces belong to threads: a new `net`, `uts`, `ipc` or
 * `mount` namespace applies to the main JavaScript thread only, while libuv's worker
 * threads (used by `fs` and `dns.lookup`) stay where they were. `pid` and `time` apply to
 * children spawned afterwards. `user` cannot be unshared in a threaded process at all (the
 * error says so): use {@link spawn} with `namespaces: ['user', …]`.
 *
 * @example unshare(['uts']); sethostname('box');
 */
let movedMainThread = false;
/**
 * Whether unshare() or setns() has moved Node's main thread: libuv's pool threads are still
 * where the process started, so a child must then be cloned from the main thread (spawn's
 * pool-thread clone would give it the old namespaces).
 */
export function mainThreadMoved(): boolean {
  return movedMainThread;
}

export function unshare(types: NamespaceType | readonly NamespaceType[]): void {
  const list = namespaceTypes('types', types);
  try {
    native.unshare(namespaceFlags(list));
    movedMainThread = true;
  } catch (e) {
    throw e instanceof NsboxSystemError ? withHint(e, threadedHint(e, list)) : e;
  }
}

/** What `setns` can join: a namespace fd, a path like `/proc/PID/ns/net`, or a pidfd. */
export type SetnsTarget = number | string | { pidfd: number };

/**
 * Moves the calling thread into existing namespaces (setns(2)).
 *
 * - a namespace fd or path: `types` may name its one type, which the kernel then checks;
 * - `{ pidfd }`: joins the process's namespaces of every type in `types` at once (5.8).
 *
 * As with {@link unshare}, this affects the calling (main) thread only; joining a `user` or
 * `mount` namespace is refused in a threaded process: use {@link spawn} for that.
 */
export function setns(target: SetnsTarget, types?: NamespaceType | readonly NamespaceType[]): void {
  const list = types === undefined ? [] : namespaceTypes('types', types);
  if ((typeof target === 'number' || typeof target === 'string') && list.length > 1) {
    throw new InvalidArgValueError('types', types, 'must name one type when joining through a namespace fd or path');
  }
  let fd: number;
  let close = false;
  if (typeof target === 'object' && target !== null) {
    fd = v.integer('target.pidfd', target.pidfd, 0, 0x7fffffff);
    if (list.length === 0) throw new InvalidArgValueError('types', types, 'must name at least one namespace type when joining through a pidfd');
  } else if (typeof target === 'string') {
    v.absolutePath('target', target);
    fd = fs.openSync(target, 'r');
    close = true;
  } else if (typeof target === 'number') {
    fd = v.integer('target', target, 0, 0x7fffffff);
  } else {
    throw new InvalidArgTypeError('target', 'a namespace fd, a path or { pidfd }', target);
  }
  try {
    native.setns(fd, namespaceFlags(list));
    movedMainThread = true;
  } catch (e) {
    if (!(e instanceof NsboxSystemError)) throw e;
    if (typeof target === 'string') e.path = target;
    const joined = list.length ? list : typeOfNamespace(fd);
    throw withHint(e, threadedHint(e, joined));
  } finally {
    if (close) fs.closeSync(fd);
  }
}

function typeOfNamespace(fd: number): NamespaceType[] {
  try {
    return [parseLink(fs.readlinkSync(`/proc/self/fd/${fd}`)).type];
  } catch {
    return [];
  }
}

/**
 * Opens `/proc/PID/ns/TYPE` and returns the fd (close-on-exec; close it with `fs.closeSync`).
 * It keeps the namespace alive while open and can be passed to {@link setns}.
 */
export function openNamespace(pid: number | 'self', type: NamespaceType): number {
  if (pid !== 'self') v.integer('pid', pid, 1, 0x3fffffff);
  v.oneOf('type', type, NAMESPACE_TYPES);
  return fs.openSync(`/proc/${pid}/ns/${PROC_NAME[type]}`, 'r');
}

/** A namespace's identity: two namespaces are the same exactly when `dev` and `ino` are. */
export interface NamespaceId {
  type: NamespaceType;
  /** Device of the nsfs filesystem. */
  dev: number;
  /** Inode number, as `lsns` and `ls -l /proc/PID/ns` show it. */
  ino: number;
}

export interface NamespaceEntry extends NamespaceId {
  /** `pid_for_children` / `time_for_children`: the namespace the process's next children get. */
  forChildren: boolean;
  /** The link text, such as `net:[4026531840]`. */
  link: string;
}

const LINK = /^([a-z_]+):\[(\d+)\]$/;
const TYPE_OF_PROC_NAME = Object.fromEntries(Object.entries(PROC_NAME).map(([t, p]) => [p, t])) as Record<string, NamespaceType>;

function parseLink(link: string): { type: NamespaceType; ino: number } {
  const m = LINK.exec(link);
  const type = m && TYPE_OF_PROC_NAME[m[1]];
  if (!m || !type) throw new Error(`unexpected namespace link ${JSON.stringify(link)}`);
  return { type, ino: Number(m[2]) };
}

/** The identity of a namespace given as an fd or a path such as `/proc/1/ns/net`. */
export function namespaceId(target: number | string): NamespaceId {
  const link = typeof target === 'number'
    ? fs.readlinkSync(`/proc/self/fd/${v.integer('target', target, 0, 0x7fffffff)}`)
    : fs.readlinkSync(v.absolutePath('target', target));
  const st = typeof target === 'number' ? fs.fstatSync(target) : fs.statSync(target);
  return { ...parseLink(link), dev: st.dev };
}

/** What `ls -l /proc/PID/ns` shows, typed. Entries the kernel lacks are absent. */
export function listNamespaces(pid: number | 'self' = 'self'): NamespaceEntry[] {
  if (pid !== 'self') v.integer('pid', pid, 1, 0x3fffffff);
  const dir = `/proc/${pid}/ns`;
  const entries: NamespaceEntry[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const forChildren = name.endsWith('_for_children');
    const link = fs.readlinkSync(`${dir}/${name}`);
    const st = fs.statSync(`${dir}/${name}`);
    entries.push({ ...parseLink(link), dev: st.dev, forChildren, link });
  }
  return entries;
}
