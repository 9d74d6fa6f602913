// Events of a group without polling: the kernel notifies inotify watchers of memory.events,
// pids.events and cgroup.events whenever a counter or state changes (kernfs_notify); each
// change is read, compared with the last reading, and turned into typed events.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseFlatKeyed } from './parse';
import { EventQueue } from './queue';

export type CgroupEventType =
  /** memory.max was hit and reclaim failed (an OOM kill may or may not follow). */
  | 'oom'
  /** The OOM killer killed a process of the group: this, not `oom`, means "killed by OOM". */
  | 'oomKill'
  /** memory.oom.group killed the whole group. */
  | 'oomGroupKill'
  /** Usage reached memory.max (reclaim ran). */
  | 'memoryMax'
  /** Usage went over memory.high (the group was throttled). */
  | 'memoryHigh'
  /** Usage fell below memory.low protection under pressure. */
  | 'memoryLow'
  /** A fork or clone failed because of pids.max. */
  | 'pidsMax'
  /** The group (or a descendant) got its first live process. */
  | 'populated'
  /** The last process left: the group is empty. */
  | 'empty'
  | 'frozen'
  | 'thawed';

export interface CgroupEvent {
  type: CgroupEventType;
  /** For counters: how many times since the previous event of this type (at least 1). */
  count: number;
  /** For counters: the kernel's total so far; for states, 1 or 0. */
  total: number;
  /** The file the event was read from. */
  file: string;
}

export interface CgroupEventsOptions {
  /** Ends the iteration. */
  signal?: AbortSignal;
}

// Counter keys (camelCased) of each file, and the event type each becomes.
const COUNTERS: Record<string, Record<string, CgroupEventType>> = {
  'memory.events': { oom: 'oom', oomKill: 'oomKill', oomGroupKill: 'oomGroupKill', max: 'memoryMax', high: 'memoryHigh', low: 'memoryLow' },
  'pids.events': { max: 'pidsMax' },
};

// Open iterators by group, so that Cgroup.remove() can have them read their files one last time.
const open = new Map<string, Set<CgroupEvents>>();

/** Whether an iterator of `dir` or a group below it is open. */
export function hasOpenEvents(dir: string): boolean {
  for (const d of open.keys()) if (d === dir || d.startsWith(`${dir}/`)) return true;
  return false;
}

/** Has every open iterator of `dir` or a group below it read its files again (before an rmdir). */
export async function flushEvents(dir: string): Promise<void> {
  const flushes: Promise<void>[] = [];
  for (const [d, set] of open) {
    if (d === dir || d.startsWith(`${dir}/`)) for (const it of set) flushes.push(it.flush());
  }
  await Promise.all(flushes);
}

/**
 * The iterator {@link Cgroup.events} returns. Events are those that happen after it was made;
 * it ends (returns) when the group is removed, when `signal` aborts, or on `break`.
 *
 * Counters are never lost while the group exists: each event carries how many times it
 * happened since the last one (`count`). States are read when the kernel notifies, so a change
 * undone before it is read (a freeze thawed at once) may not be seen; removal of a group last
 * seen populated yields `empty` before the end.
 */
export class CgroupEvents implements AsyncIterableIterator<CgroupEvent> {
  readonly #dir: string;
  readonly #queue = new EventQueue<CgroupEvent>();
  readonly #watchers: fs.FSWatcher[] = [];
  readonly #last = new Map<string, Record<string, number>>();
  readonly #signal?: AbortSignal;
  readonly #onAbort = () => this.#end();
  // Reads of one file are chained, so each diff is against the reading before it.
  readonly #reads = new Map<string, Promise<void>>();

  constructor(dir: string, options: CgroupEventsOptions = {}) {
    this.#dir = dir;
    this.#signal = options.signal;
    if (this.#signal?.aborted) {
      this.#queue.end();
      return;
    }
    this.#signal?.addEventListener('abort', this.#onAbort);
    if (!open.has(dir)) open.set(dir, new Set());
    open.get(dir)!.add(this);
    try {
      // The group's removal is seen by the parent directory's watch (its files' watches get nothing).
      const parent = fs.watch(path.dirname(dir), (_event, name) => {
        if (name === path.basename(dir) && !fs.existsSync(dir)) this.#gone();
      });
      this.#watchers.push(parent);
      for (const file of ['cgroup.events', ...Object.keys(COUNTERS)]) {
        const full = path.join(dir, file);
        let text: string;
        try {
          text = fs.readFileSync(full, 'utf8');
        } catch {
          continue; // controller not enabled here
        }
        // Watch first, then take the baseline: a change in between is read again and diffed.
        const w = fs.watch(full, () => this.#read(file));
        w.on('error', (e) => this.#end(e));
        this.#watchers.push(w);
        this.#last.set(file, parseFlatKeyed(text, file));
        this.#read(file);
      }
      // Removed before the watch began (by something else): nothing would ever come.
      if (!fs.existsSync(dir)) this.#gone();
    } catch (e) {
      if (!fs.existsSync(dir)) this.#gone(); // its parent too
      else this.#end(e);
    }
  }

  #read(file: string): void {
    const previous = this.#reads.get(file) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.#queue.ended) return;
      let text: string;
      try {
        text = await fsp.readFile(path.join(this.#dir, file), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENODEV') return this.#gone();
        return this.#end(e);
      }
      const now = parseFlatKeyed(text, file);
      const before = this.#last.get(file) ?? {};
      this.#last.set(file, now);
      if (file === 'cgroup.events') {
        if (now.populated !== before.populated) this.#push({ type: now.populated ? 'populated' : 'empty', count: 1, total: now.populated, file });
        if (now.frozen !== before.frozen) this.#push({ type: now.frozen ? 'frozen' : 'thawed', count: 1, total: now.frozen, file });
        return;
      }
      for (const [key, type] of Object.entries(COUNTERS[file])) {
        const delta = (now[key] ?? 0) - (before[key] ?? 0);
        if (delta > 0) this.#push({ type, count: delta, total: now[key], file });
      }
    });
    this.#reads.set(file, next);
  }

  #push(event: CgroupEvent): void {
    this.#queue.push(event);
  }

  /** @internal Reads every watched file again now; resolves when those reads are done. */
  flush(): Promise<void> {
    if (this.#queue.ended) return Promise.resolve();
    for (const file of this.#last.keys()) this.#read(file);
    return Promise.all([...this.#reads.values()]).then(() => undefined);
  }

  /** The group was removed, so it is empty: say so if the last reading had it populated, then end. */
  #gone(): void {
    if (this.#queue.ended) return;
    const state = this.#last.get('cgroup.events');
    if (state?.populated) {
      state.populated = 0;
      this.#push({ type: 'empty', count: 1, total: 0, file: 'cgroup.events' });
    }
    this.#end();
  }

  #end(error?: unknown): void {
    if (!this.#queue.end(error)) return;
    for (const w of this.#watchers) w.close();
    this.#signal?.removeEventListener('abort', this.#onAbort);
    const set = open.get(this.#dir);
    set?.delete(this);
    if (set?.size === 0) open.delete(this.#dir);
  }

  next(): Promise<IteratorResult<CgroupEvent>> {
    return this.#queue.next();
  }

  return(): Promise<IteratorResult<CgroupEvent>> {
    this.#queue.clear();
    this.#end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
