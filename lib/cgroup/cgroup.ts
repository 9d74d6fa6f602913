// Cgroup: one cgroup v2 group — created with its controllers enabled down the tree, limited,
// joined, watched, frozen, killed and removed so that nothing is left behind.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { CgroupControllerError, CgroupInternalProcessError, CgroupUnavailableError, fsError, InvalidArgValueError, NsboxSystemError, StateError, withHint } from '../errors';
import * as v from '../validate';
import { CGROUP2_SUPER_MAGIC, cgroupHost, controllersAt, DELEGATE_HINT, readWords, type CgroupMode, type Controller, CONTROLLERS } from './discover';
import { CgroupEvents, flushEvents, hasOpenEvents, type CgroupEventsOptions } from './events';
import { parseGroupState, type GroupState } from './parse';
import { PressureEvents, type PressureTriggerOptions } from './pressure';
import { controllersOf, resourceWrites, type CgroupResources } from './resources';
import { readStats, type CgroupStats } from './stats';


export interface CgroupCreateOptions {
  /**
   * The group to create it in: a path in the cgroup2 mount. Ignored when the name is absolute.
   * @default the cgroup2 mount's root as root; otherwise this process's own group (a delegated subtree)
   */
  parent?: string;
  /** Limits to set before anything runs in the group; their controllers are enabled on the way down. */
  resources?: CgroupResources;
  /** Controllers to enable for the group beyond those `resources` needs (e.g. to read `memory.stat`). */
  controllers?: readonly Controller[];
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Milliseconds before giving up with `ERR_NSBOX_CGROUP_TIMEOUT`. @default no limit */
  timeout?: number;
}

export interface RemoveOptions extends WaitOptions {
  /** Kill what still runs in the group (and its descendants) first; otherwise wait for it to end. @default false */
  kill?: boolean;
}

// The cgroup2 mount and the host's mode, read from mountinfo once: create() and open() are on
// every container's start path, and neither changes while the process runs.
let hierarchy: { mount: string; mode: CgroupMode } | undefined;
/** @internal The cgroup2 mount and the host's mode, read once; CgroupUnavailableError without one. */
export function cgroup2(): { mount: string; mode: CgroupMode } {
  if (hierarchy) return hierarchy;
  const host = cgroupHost();
  if (!host.mount) {
    throw new CgroupUnavailableError(`no cgroup v2 hierarchy is mounted (cgroup mode: ${host.mode})`, host.modeHint);
  }
  return (hierarchy = { mount: host.mount, mode: host.mode });
}

/** Node's fs error as a system error naming the file, with the hints cgroup writes call for. */
function writeError(e: unknown, file: string, value: string): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  const name = path.basename(file);
  let hint: string | undefined;
  if ((code === 'EACCES' || code === 'EPERM') && process.geteuid?.() !== 0) hint = `this group is not delegated to uid ${process.geteuid?.()}: ${DELEGATE_HINT}`;
  else if (code === 'EBUSY' && name === 'cgroup.subtree_control') hint = 'the group holds processes, and a group that enables controllers for its children may not (the no-internal-process rule): move them into a leaf group first';
  else if (code === 'EBUSY' && name === 'cgroup.procs') hint = 'the group enables controllers for its children, so it may not hold processes (the no-internal-process rule): use a leaf group';
  else if (code === 'EOPNOTSUPP' && name === 'io.weight') hint = 'weights per device need the BFQ IO scheduler or iocost on that device (echo bfq > /sys/block/DEV/queue/scheduler)';
  else if (code === 'EINVAL' && name === 'cpu.max') hint = "the kernel refused the bandwidth: the group's cpu.max.burst may exceed this quota (lower the burst first, or with it)";
  else if (code === 'EINVAL' || code === 'ERANGE') hint = `the kernel refused ${JSON.stringify(value)} for ${name}`;
  else if (code === 'ENOENT' && !fs.existsSync(path.dirname(file))) hint = `the group ${path.dirname(file)} no longer exists: something else removed it`;
  else if (code === 'ENOENT' && name !== 'cgroup.procs') hint = `this kernel or group has no ${name}: its controller is not enabled here, or the kernel predates it`;
  return fsError(e, 'write', file, hint);
}

// Never O_CREAT: a file the kernel lacks is then ENOENT, not EACCES from cgroupfs.
const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_TRUNC;

async function write(file: string, value: string): Promise<void> {
  try {
    await fsp.writeFile(file, value, { flag: WRITE_FLAGS });
  } catch (e) {
    throw writeError(e, file, value);
  }
}

// Creating a group (mkdir, limits on an empty group, +controller in a parent) is quick
// in-kernel work; a pool thread's round trip per call (three for fsp.writeFile) costs more
// than the call, and is on every container's start path: these are synchronous.
function writeNow(file: string, value: string): void {
  try {
    // A numeric flag works (fs's stringToFlags passes numbers through); @types/node lists strings only.
    fs.writeFileSync(file, value, { flag: WRITE_FLAGS as unknown as string });
  } catch (e) {
    throw writeError(e, file, value);
  }
}

function readTextNow(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw fsError(e, 'open', file);
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw fsError(e, 'open', file);
  }
}

const pidsOf = (text: string) => text.split('\n').filter(Boolean).map(Number);

/**
 * Makes sure each group from `top` down to `parent` (inclusive) offers `controllers` to its
 * children, writing `+name` to `cgroup.subtree_control` where one is missing. The groups below
 * `top` must not hold processes when they enable one (the no-internal-process rule; the root
 * group is exempt): that is refused before any write, naming the group.
 */
export async function enableControllers(top: string, parent: string, controllers: readonly Controller[], mode: string): Promise<void> {
  enableControllersNow(top, parent, controllers, mode);
}

function enableControllersNow(top: string, parent: string, controllers: readonly Controller[], mode: string): void {
  if (controllers.length === 0) return;
  const rel = path.relative(top, parent);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new CgroupUnavailableError(`${parent} is not inside the cgroup2 mount ${top}`);
  const chain = [top];
  for (const part of rel.split(path.sep).filter(Boolean)) chain.push(path.join(chain[chain.length - 1], part));
  // Check the whole chain first, so nothing is written when a controller is missing anywhere.
  // Below the top, a group offers what its parent enables: what this call will enable there counts.
  const plan: { dir: string; missing: Controller[] }[] = [];
  let enabling: Controller[] = [];
  for (const dir of chain) {
    const offered = [...controllersAt(dir), ...enabling];
    for (const c of controllers) {
      if (!offered.includes(c)) {
        const hint = mode === 'hybrid' && !controllersAt(top).includes(c)
          ? `this host is in hybrid mode and ${c} is bound to cgroup v1 (or not built in): boot with systemd.unified_cgroup_hierarchy=1 for a unified host`
          : dir === top
            ? `the kernel does not offer ${c} (not built in, or bound to a cgroup v1 hierarchy)`
            : `the group above it does not enable ${c} in cgroup.subtree_control, and this process may not: ${DELEGATE_HINT}`;
        throw new CgroupControllerError(c, dir, mode, hint);
      }
    }
    const enabled = readWords(path.join(dir, 'cgroup.subtree_control'));
    const missing = controllers.filter((c) => !enabled.includes(c));
    enabling = missing;
    if (missing.length === 0) continue;
    if (dir !== top && pidsOf(readTextNow(path.join(dir, 'cgroup.procs'))).length > 0) {
      throw new CgroupInternalProcessError(dir, missing,
        `move the processes of ${dir} into a leaf group below it first (to move this one: Cgroup.create('leaf', { parent: '${dir}' }) then addProcess(process.pid)), or create the group under another parent`);
    }
    plan.push({ dir, missing });
  }
  for (const { dir, missing } of plan) {
    writeNow(path.join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
  }
}

/** A name under the parent: relative, no `..`, no empty parts. */
function groupName(value: unknown): string {
  const name = v.string('name', value);
  // No trailing '/': a group's path is compared with others' (`${path}/` below it).
  if (name.startsWith('/')) return path.normalize(name).replace(/(.)\/+$/, '$1');
  if (name.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new InvalidArgValueError('name', name, "must be an absolute path in the cgroup2 mount, or a relative one without '.', '..' or empty parts");
  }
  return name;
}

/** @internal Test knobs: the kill file's name (a missing one takes the path of kernels before 5.14). */
export const internals = { killFile: 'cgroup.kill' };

// Groups whose fd is open, so that removing a tree closes the fds of every object below it.
const holdingFds = new Set<Cgroup>();

/**
 * One cgroup v2 group.
 *
 * @example
 * await using group = await Cgroup.create(`job-${id}`, { resources: { memory: { max: '256M' }, pids: { max: 64 } } });
 * const child = await spawn({ command: ['make'], cgroup: group.fd });
 * await child.exited;
 * console.log((await group.stats()).memory?.peak);
 */
export class Cgroup {
  /** The group's directory in the cgroup2 mount. */
  readonly path: string;
  /** The cgroup2 mount it lives in. */
  readonly mount: string;
  readonly #mode: CgroupMode;
  #fd: number | undefined;
  #removed = false;
  /** Pending freeze and thaw waits, ended when the group is removed. */
  readonly #waits = new Set<(error?: unknown) => void>();

  private constructor(dir: string, mount: string, mode: CgroupMode) {
    this.path = dir;
    this.mount = mount;
    this.#mode = mode;
  }

  /**
   * Creates a group (and any missing groups above it), enabling in each ancestor the
   * controllers its resources need, then writes the resources. If anything fails, the
   * groups it made are removed again (controllers it enabled in groups that already
   * existed stay enabled: other groups may rely on them by then).
   *
   * Fails with EEXIST if the group exists; {@link Cgroup.open} takes an existing one.
   */
  static async create(name: string, options: CgroupCreateOptions = {}): Promise<Cgroup> {
    const rel = groupName(name);
    v.object('options', options);
    v.knownKeys('options', options as Record<string, unknown>, ['parent', 'resources', 'controllers']);
    const writes = options.resources === undefined ? [] : resourceWrites(options.resources, undefined, 'options.resources');
    const extra = options.controllers === undefined ? [] : v.array('options.controllers', options.controllers)
      .map((c, i) => v.oneOf(`options.controllers[${i}]`, c, CONTROLLERS));
    const givenParent = options.parent === undefined ? undefined : path.normalize(v.absolutePath('options.parent', options.parent));
    const { mount, mode } = cgroup2();
    let dir: string;
    if (rel.startsWith('/')) {
      dir = rel;
    } else {
      // This process's own group is read now: it may have moved itself since.
      const parent = givenParent ?? (process.geteuid?.() === 0 ? mount : cgroupHost().ownPath ?? mount);
      dir = path.join(parent, rel);
    }
    if (dir === mount || !dir.startsWith(`${mount}/`)) throw new CgroupUnavailableError(`${dir} is not a group below the cgroup2 mount ${mount}`);
    const needed = [...new Set([...controllersOf(writes), ...extra])];

    // mkdir each missing level, then enable controllers from the top; undo what was made on failure.
    const made: string[] = [];
    try {
      const levels = path.relative(mount, dir).split('/');
      let existing = levels.length - 1;
      while (existing > 0 && !fs.existsSync(path.join(mount, ...levels.slice(0, existing)))) existing--;
      enableControllersNow(mount, path.join(mount, ...levels.slice(0, existing)), needed, mode);
      for (let i = existing + 1; i <= levels.length; i++) {
        const level = path.join(mount, ...levels.slice(0, i));
        try {
          fs.mkdirSync(level);
          made.push(level);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EEXIST' && level !== dir) continue;
          const hint = code === 'EACCES' || code === 'EPERM' ? `${path.dirname(level)} is not delegated to uid ${process.geteuid?.()}: ${DELEGATE_HINT}` : undefined;
          throw fsError(e, 'mkdir', level, hint);
        }
        if (level !== dir) enableControllersNow(mount, level, needed, mode);
      }
      const group = new Cgroup(dir, mount, mode);
      // A new group is empty: no limit written here makes the kernel reclaim or wait.
      for (const w of writes) writeNow(path.join(dir, w.file), w.value);
      return group;
    } catch (e) {
      for (const level of made.reverse()) {
        try {
          fs.rmdirSync(level);
        } catch {
          // undone as far as it can be; the first error is the one that matters
        }
      }
      throw e;
    }
  }

  /** An existing group, by its path in the cgroup2 mount. */
  static open(dir: string): Cgroup {
    const p = path.normalize(v.absolutePath('path', dir)).replace(/(.)\/+$/, '$1');
    let type: number;
    try {
      type = fs.statfsSync(p).type;
    } catch (e) {
      throw fsError(e, 'statfs', p);
    }
    if (type !== CGROUP2_SUPER_MAGIC) throw new CgroupUnavailableError(`${p} is not a group in a cgroup v2 hierarchy`);
    const { mount, mode } = cgroup2();
    // A group is a directory below the root (which cannot be removed, frozen or killed).
    if (p === mount || !fs.statSync(p).isDirectory()) {
      throw new InvalidArgValueError('path', dir, `must be a group: a directory below the cgroup2 mount ${mount}, not ${p === mount ? 'its root' : 'a file'}`);
    }
    return new Cgroup(p, mount, mode);
  }

  /**
   * An open `O_DIRECTORY` fd of the group, for `spawn({ cgroup: group.fd })` (CLONE_INTO_CGROUP);
   * opened once and closed by {@link remove}.
   */
  get fd(): number {
    this.#live();
    if (this.#fd === undefined) {
      try {
        this.#fd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      } catch (e) {
        throw fsError(e, 'open', this.path);
      }
      holdingFds.add(this);
    }
    return this.#fd;
  }

  /**
   * Writes new limits to the live group, validated whole first (enabling controllers above it
   * as needed). A value the kernel still refuses (a memory.max below what the group uses and
   * cannot reclaim) stops the update there: the writes before it stay, as with `runc update`.
   */
  async update(resources: CgroupResources): Promise<void> {
    this.#live();
    const writes = resourceWrites(resources);
    await enableControllers(this.mount, path.dirname(this.path), controllersOf(writes), this.#mode);
    // The kernel keeps cpu.max.burst ≤ the quota at every write: when both change, the old
    // burst may exceed the new quota, or the new burst the old quota. Through 0, both orders hold.
    if (writes.some((w) => w.file === 'cpu.max') && writes.some((w) => w.file === 'cpu.max.burst')) {
      await write(path.join(this.path, 'cpu.max.burst'), '0');
    }
    for (const w of writes) await write(path.join(this.path, w.file), w.value);
  }

  /** Moves a process (all its threads) into the group. */
  async addProcess(pid: number): Promise<void> {
    this.#live();
    await write(path.join(this.path, 'cgroup.procs'), `${v.integer('pid', pid, 1, 0x3fffffff)}`);
  }

  /** Pids of the processes in the group itself (not its descendants). */
  async procs(): Promise<number[]> {
    return pidsOf(await readText(path.join(this.path, 'cgroup.procs')));
  }

  /** Thread ids in the group itself. */
  async threads(): Promise<number[]> {
    return pidsOf(await readText(path.join(this.path, 'cgroup.threads')));
  }

  /** The groups directly below this one. */
  async children(): Promise<Cgroup[]> {
    const entries = await fsp.readdir(this.path, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => new Cgroup(path.join(this.path, e.name), this.mount, this.#mode));
  }

  /** Controllers this group may use (its `cgroup.controllers`). */
  async controllers(): Promise<string[]> {
    return (await readText(path.join(this.path, 'cgroup.controllers'))).split(/\s+/).filter(Boolean);
  }

  /** Every statistics file of the group, parsed. */
  stats(): Promise<CgroupStats> {
    return readStats(this.path);
  }

  /** `cgroup.events` now. */
  async state(): Promise<GroupState> {
    return parseGroupState(await readText(path.join(this.path, 'cgroup.events')));
  }

  /**
   * Events as they happen (inotify on `memory.events`, `pids.events`, `cgroup.events`): an
   * async iterator that ends when the group is removed or `signal` aborts.
   */
  events(options: CgroupEventsOptions = {}): CgroupEvents {
    this.#live();
    return new CgroupEvents(this.path, options);
  }

  /**
   * Pressure stall events (PSI triggers): one per window in which the group's tasks stalled on
   * `resource` for more than `stall` µs. The trigger is made at once, so a refusal (PSI off,
   * a window the kernel does not take) throws here.
   * @example
   * for await (const e of group.pressure({ resource: 'memory', stall: 100_000, window: 1_000_000 })) shed(e.pressure.some.avg10);
   */
  pressure(options: PressureTriggerOptions): PressureEvents {
    this.#live();
    try {
      return new PressureEvents(this.path, options);
    } catch (e) {
      const code = (e as { code?: string }).code;
      const hint = code === 'EOPNOTSUPP' ? 'pressure stall information is off in this kernel (psi=0 on the command line, or CONFIG_PSI_DEFAULT_DISABLED): boot with psi=1'
        : code === 'EINVAL' && (options.window ?? 0) % 2_000_000 !== 0 ? 'without CAP_SYS_RESOURCE the kernel takes only windows that are a multiple of 2 s (2_000_000 µs)' : undefined;
      throw hint ? withHint(e as NsboxSystemError, hint) : e;
    }
  }

  /** Freezes every process in the group and below; resolves when `cgroup.events` says frozen. */
  async freeze(options: WaitOptions = {}): Promise<void> {
    this.#live();
    waitOptions(options);
    await this.#setFrozen(true, options);
  }

  /** Thaws the group; resolves when `cgroup.events` says it is no longer frozen. */
  async thaw(options: WaitOptions = {}): Promise<void> {
    this.#live();
    waitOptions(options);
    // A group below a frozen one stays frozen whatever it is told (cgroup.events keeps frozen 1).
    for (let dir = path.dirname(this.path); dir.startsWith(this.mount) && dir !== this.mount; dir = path.dirname(dir)) {
      if ((await readText(path.join(dir, 'cgroup.freeze'))).trim() === '1') {
        throw new StateError('ERR_NSBOX_CGROUP_PARENT_FROZEN', `the cgroup ${this.path} cannot thaw while ${dir} is frozen: thaw that one`);
      }
    }
    await this.#setFrozen(false, options);
  }

  async #setFrozen(frozen: boolean, options: WaitOptions): Promise<void> {
    // Aborted already: nothing is written.
    if (options.signal?.aborted) throw options.signal.reason;
    const wait = waitForState(this.path, (s) => s.frozen === frozen, options, frozen ? 'frozen' : 'thawed');
    // It may fail before anyone awaits it (the group removed under the watch): the write's
    // error is then the one reported.
    wait.done.catch(() => undefined);
    this.#waits.add(wait.cancel);
    let written = false;
    try {
      await write(path.join(this.path, 'cgroup.freeze'), frozen ? '1' : '0');
      written = true;
      await wait.done;
    } catch (e) {
      wait.cancel(); // the watch of a failed write (after a failed wait: nothing left to end)
      // A freeze that timed out or was aborted is taken back: the group is not left freezing,
      // some of it stopped and some not. (A removed group has nothing to take back.)
      if (written && frozen && !this.#removed) await write(path.join(this.path, 'cgroup.freeze'), '0').catch(() => undefined);
      throw e;
    } finally {
      this.#waits.delete(wait.cancel);
    }
  }

  /**
   * SIGKILLs every process in the group and below, at once, through `cgroup.kill` (Linux 5.14);
   * without it: freeze, signal each pid, thaw. Resolves once the signals are sent; {@link remove}
   * waits for the group to empty.
   */
  async kill(): Promise<void> {
    this.#live();
    const file = path.join(this.path, internals.killFile);
    try {
      // Without O_CREAT a missing file is ENOENT; write-only, as the file is (0200).
      await fsp.writeFile(file, '1', { flag: WRITE_FLAGS });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw writeError(e, file, '1');
      await killBySignals(this);
    }
  }

  /**
   * Removes the group and every group below it, after it has emptied: with `kill`, what runs
   * is killed first; otherwise it waits for it to end (bounded by `signal`/`timeout`). A group
   * that is already gone counts as removed.
   */
  async remove(options: RemoveOptions = {}): Promise<void> {
    v.object('options', options);
    v.knownKeys('options', options as Record<string, unknown>, ['kill', 'signal', 'timeout']);
    if (options.kill !== undefined) v.boolean('options.kill', options.kill);
    waitOptions(options);
    if (this.#removed) return;
    // Aborted already: nothing is killed or removed.
    if (options.signal?.aborted) throw options.signal.reason;
    // An empty leaf nobody watches goes at once: one rmdir (what a container's delete needs),
    // synchronous as creation is.
    if (!hasOpenEvents(this.path)) {
      try {
        fs.rmdirSync(this.path);
        return this.#closed();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return this.#closed();
        if (code !== 'EBUSY' && code !== 'ENOTEMPTY') throw fsError(e, 'rmdir', this.path);
      }
    } else if (!fs.existsSync(this.path)) {
      return this.#closed();
    }
    if (options.kill) await this.kill();
    await waitForState(this.path, (s) => !s.populated, options, 'empty').done;
    // Counters the kernel bumped just now (an OOM kill as the last process died) reach the
    // open event iterators before the files go.
    await flushEvents(this.path);
    await removeTree(this.path);
    this.#closed();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove({ kill: true });
  }

  #closed(): void {
    this.#removed = true;
    // A removed group's cgroup.events tells its watchers nothing more: end their waits.
    for (const cancel of this.#waits) cancel(new StateError('ERR_NSBOX_CGROUP_REMOVED', `the cgroup ${this.path} was removed`));
    this.#waits.clear();
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
    holdingFds.delete(this);
    // Other objects for this group or groups below it are gone with it: close their fds too.
    for (const g of holdingFds) if (g.path === this.path || g.path.startsWith(`${this.path}/`)) g.#closed();
  }

  #live(): void {
    if (this.#removed) throw new StateError('ERR_NSBOX_CGROUP_REMOVED', `the cgroup ${this.path} has been removed`);
  }
}

/**
 * Freeze, SIGKILL each pid of the group and its descendants, unfreeze: cgroup.kill for kernels
 * before 5.14. The group's own cgroup.freeze is put back as it was, written directly: under a
 * frozen parent thaw() would refuse, and the processes die anyway (cgroup-v2.rst: a frozen
 * group's processes can be killed by a fatal signal).
 */
export async function killBySignals(group: Cgroup): Promise<void> {
  const freezeFile = path.join(group.path, 'cgroup.freeze');
  const wasFrozen = (await readText(freezeFile)).trim() === '1';
  // Frozen, nothing in the group can fork a process the list below would miss.
  await group.freeze();
  try {
    const dirs = [group.path];
    for (let i = 0; i < dirs.length; i++) {
      for (const e of await fsp.readdir(dirs[i], { withFileTypes: true })) if (e.isDirectory()) dirs.push(path.join(dirs[i], e.name));
    }
    for (const dir of dirs) {
      for (const pid of pidsOf(await readText(path.join(dir, 'cgroup.procs')))) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
        }
      }
    }
  } finally {
    if (!wasFrozen) await write(freezeFile, '0');
  }
}

/** rmdir the tree bottom-up. EBUSY right after the last process left is a css still going away. */
export async function removeTree(dir: string): Promise<void> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fsError(e, 'scandir', dir);
  }
  for (const e of entries) if (e.isDirectory()) await removeTree(path.join(dir, e.name));
  for (let tries = 0; ; tries++) {
    try {
      await fsp.rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || tries >= 100) throw fsError(e, 'rmdir', dir, code === 'EBUSY' ? 'the group still holds processes' : undefined);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Checks `signal` and `timeout` before anything is written. */
function waitOptions(options: WaitOptions): void {
  v.object('options', options);
  if (options.timeout !== undefined) v.integer('options.timeout', options.timeout, 0, 2 ** 31 - 1);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidArgValueError('options.signal', options.signal, 'must be an AbortSignal');
  }
}

/**
 * Resolves when `cgroup.events` satisfies `want`, watching it with inotify (the kernel
 * notifies on every change of the file); rejects on abort or timeout.
 */
export function waitForState(dir: string, want: (s: GroupState) => boolean, options: WaitOptions, what: string): { done: Promise<void>; cancel(error?: unknown): void } {
  const file = path.join(dir, 'cgroup.events');
  let cancel = (_error?: unknown) => {};
  const done = new Promise<void>((resolve, reject) => {
    // The timeout is a timer of our own, not AbortSignal.timeout(): combined through
    // AbortSignal.any, nothing but a weak reference keeps that signal, and a garbage
    // collection during the wait took it and its timer with it (the wait never ended).
    const signal = options.signal;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    let watcher: fs.FSWatcher | undefined;
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      watcher?.close();
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = () => finish(signal?.reason);
    cancel = (error?: unknown) => finish(error);
    const check = () => {
      fsp.readFile(file, 'utf8').then((text) => {
        if (want(parseGroupState(text))) finish();
      }, (e) => finish(fsError(e, 'open', file)));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    if (options.timeout !== undefined) {
      timer = setTimeout(() => finish(new StateError('ERR_NSBOX_CGROUP_TIMEOUT', `the cgroup ${dir} was not ${what} within ${options.timeout} ms`)), options.timeout);
    }
    try {
      watcher = fs.watch(file, check);
      watcher.on('error', (e) => finish(e));
    } catch (e) {
      return finish(fsError(e, 'inotify_add_watch', file));
    }
    check();
  });
  return { done, cancel };
}
