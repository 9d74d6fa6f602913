// spawn(): clone3 into new namespaces (and a cgroup), run a plan, exec — resolved once the
// exec succeeded, rejected with the failing step otherwise. Exit is watched through the
// pidfd on libuv's loop (src-native/process.cc): no SIGCHLD, no waitpid(-1), no zombie.
import fs from 'node:fs';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { ChildEvent, NativeSpawnOptions, NativeSpawnResult } from '../types/native';
import { abortError, InvalidArgValueError, NsboxSystemError, StateError, namespaceHint, withHint } from './errors';
import { mainThreadMoved, namespaceFlags, namespaceTypes, type NamespaceType } from './namespaces';
import { CGROUP2_SUPER_MAGIC } from './cgroup/discover';
import { native } from './native';
import { refillNetns, sysfsTemplate, takeNetns } from './netns-pool';
import { encodePlan, PRELUDE_STEPS, SYSCALLS, type EncodedPlan, type Step } from './plan';
import { signalName, signalNumber } from './signals';
import * as v from './validate';

/** One line of a uid_map or gid_map (user_namespaces(7)), named as in the OCI runtime spec. */
export interface IdMapping {
  /** First id inside the namespace. */
  containerId: number;
  /** First id outside (in the parent's user namespace). */
  hostId: number;
  /** How many consecutive ids. */
  size: number;
}

/** Where a child's fd comes from: a new pipe, the parent's same fd, /dev/null, a given fd, or closed (null). */
export type StdioEntry = 'pipe' | 'inherit' | 'ignore' | number | null;

export interface SpawnOptions {
  /** The program and its arguments. A file without a slash is searched in the child's `PATH`. */
  command: readonly string[];
  /** The child's whole environment. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** New namespaces for the child. @default [] @example ['pid', 'mount', 'uts', 'ipc', 'net'] */
  namespaces?: readonly NamespaceType[];
  /**
   * A cgroup v2 group the child is born in (CLONE_INTO_CGROUP, 5.7; before that the parent
   * writes its pid to `cgroup.procs` before the child goes on): its path, an open fd of it, or
   * a {@link Cgroup}.
   */
  cgroup?: string | number | { readonly fd: number; readonly path: string };
  /** Steps run in the child between clone and exec, in order. @default [] */
  plan?: readonly Step[];
  /**
   * The child's fds 0, 1, 2 (and more with an array). 'pipe' gives Node streams on the handle.
   * @default 'pipe'
   */
  stdio?: 'pipe' | 'inherit' | 'ignore' | readonly StdioEntry[];
  /**
   * uid_map of a new user namespace, written by the parent while the child waits. A map
   * that leaves the caller's own uid unmapped leaves the child with the overflow uid
   * (65534) inside until a `setuid`/`setgid` step picks a mapped one.
   * @default with 'user' in namespaces: the caller's uid mapped to root ([{ containerId: 0, hostId: geteuid(), size: 1 }])
   */
  uidMap?: readonly IdMapping[];
  /** gid_map, as uidMap. @default the caller's gid mapped to root */
  gidMap?: readonly IdMapping[];
  /** /proc/PID/setgroups; an unprivileged caller must deny setgroups to write a gid_map. @default 'deny' unless root */
  setgroups?: 'allow' | 'deny';
  /** Kills the child (SIGKILL) when aborted; aborting before spawn rejects with an AbortError. */
  signal?: AbortSignal;
}

/** How a process ended: `code` if it exited, `signal` if a signal ended it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Internal knobs: the clone strategy, fallbacks and fault injection, for tests and benchmarks. */
export interface SpawnInternals {
  /** CLONE_VM with a private stack instead of copying Node's page tables. */
  vm?: boolean;
  /**
   * CLONE_VM|CLONE_VFORK: no copy of Node's page tables, and Node's thread waits until the
   * child has exec'd (Container.run). Not for plans that hold, fork, or change the address
   * space's dumpable flag (a `dumpable` step, or a `setuid`/`setgid` step to a non-zero id).
   */
  vfork?: boolean;
  /**
   * With vfork: clone on a libuv pool thread, so that JavaScript goes on while the child sets
   * up (Container.run while other runs are in flight; one alone is faster without the hop).
   */
  async?: boolean;
  /**
   * The setup process is non-dumpable (a `dumpable` step's effect, without the step, which a
   * vfork child may not run): a vfork clone's shared address space is made so around the
   * clone by the addon; a fork-style clone's child (a vfork that falls back) makes itself so first.
   */
  nonDumpable?: boolean;
  /** options.cgroup is a path the caller has just made with Cgroup.create (Container): not checked again. */
  cgroupMade?: boolean;
  /**
   * The plan already encoded by {@link encodeSpawnPlan} from these options (with the `wait`
   * step when holding); options.plan is then not given.
   */
  encoded?: EncodedPlan;
  noClone3?: boolean;
  noIntoCgroup?: boolean;
  /** Act as a kernel without mount_setattr (before 5.12): mount attributes by bind remount. */
  noMountSetattr?: boolean;
  /** Fail plan step `faultStep` with `faultErrno` instead of running it. */
  faultStep?: number;
  faultErrno?: number;
  /** A `fork` step's forking process dies (SIGKILL) between the fork and its report. */
  faultForkLost?: boolean;
  /** Join a network namespace made ahead (lib/netns-pool.ts) instead of CLONE_NEWNET. @default true */
  netnsPool?: boolean;
  /**
   * Stop after the last plan step, before exec, until released: the spawn resolves there
   * (see {@link spawnHeld}); the Container's `create` → `start`.
   */
  hold?: boolean;
}

/** A child stopped before exec by {@link spawnHeld}. */
export interface HeldProcess {
  child: Subprocess;
  /** Lets it exec; resolves once the exec succeeded, rejects as spawn does if it failed. */
  release(): Promise<void>;
}

const started = new WeakMap<Subprocess, Promise<void>>();

/** @internal spawn, held before exec until released (every plan step has run). */
export async function spawnHeld(options: SpawnOptions, internals: SpawnInternals = DEFAULTS): Promise<HeldProcess> {
  const child = await spawnWith(options, { ...internals, hold: true });
  const execed = started.get(child)!;
  let released: Promise<void> | undefined;
  return {
    child,
    release() {
      if (released) return released;
      // A child that already died is not released: its exit has settled `execed`.
      if (child.exitStatus === undefined && child.pidfd >= 0) native.childRelease(child.pidfd);
      return (released = execed);
    },
  };
}

/** A running child from {@link spawn}. */
export class Subprocess {
  /** The program's pid, as this process sees it; with a `fork` step, the grandchild's. */
  readonly pid: number;
  /** Which clone was used ('clone3', or 'clone' where the kernel lacks clone3). */
  readonly clone: 'clone3' | 'clone';
  /** Whether the child was born in its cgroup (CLONE_INTO_CGROUP) rather than moved there. */
  readonly bornInCgroup: boolean;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdio: readonly (Readable | Writable | null)[];
  /**
   * Resolves when the child has exited and been reaped. Never rejects. Its pipes may still
   * hold output then: read `stdout`/`stderr` to their end (`for await`) before or alongside.
   */
  readonly exited: Promise<ExitStatus>;
  #pidfd: number;
  #status: ExitStatus | undefined;

  /** @internal */
  constructor(
    result: { pid: number; pidfd: number; clone: 'clone3' | 'clone'; intoCgroup: boolean },
    stdio: (Readable | Writable | null)[],
    exited: Promise<ExitStatus>,
  ) {
    this.pid = result.pid;
    this.#pidfd = result.pidfd;
    this.clone = result.clone;
    this.bornInCgroup = result.intoCgroup;
    this.stdio = stdio;
    this.stdin = (stdio[0] as Writable) ?? null;
    this.stdout = (stdio[1] as Readable) ?? null;
    this.stderr = (stdio[2] as Readable) ?? null;
    this.exited = exited.then((s) => (this.#status = s));
  }

  /**
   * The pidfd (close-on-exec, non-blocking), owned by this object and closed once the child
   * is reaped: -1 then. Use it to poll or to signal; the reaping is nsbox's.
   */
  get pidfd(): number {
    return this.#status ? -1 : this.#pidfd;
  }

  /** The exit status once reaped, else undefined. */
  get exitStatus(): ExitStatus | undefined {
    return this.#status;
  }

  /**
   * Sends a signal through the pidfd (never to a recycled pid). Returns false if the child
   * has already been reaped.
   */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    const n = signalNumber('signal', signal);
    if (this.#status) return false;
    try {
      native.pidfdSendSignal(this.#pidfd, n);
    } catch (e) {
      // ESRCH: it exited and awaits reaping; the exit event follows.
      if (e instanceof NsboxSystemError && e.code === 'ESRCH') return false;
      throw e;
    }
    return true;
  }

  /** Lets the event loop exit while this child runs (its pipes, if any, still hold it). */
  unref(): void {
    if (!this.#status) native.childRef(this.#pidfd, false);
  }

  ref(): void {
    if (!this.#status) native.childRef(this.#pidfd, true);
  }

  /**
   * Ends the child (SIGKILL) if it still runs, closes its pipes and waits until it is
   * reaped: `await using child = await spawn(…)` leaves nothing behind.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill('SIGKILL');
    for (const stream of this.stdio) stream?.destroy();
    await this.exited;
  }
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Defaults chosen by bench/spawn.js: see bench/README.md. */
const DEFAULTS: SpawnInternals = { vm: process.arch === 'x64' };
/** @internal */
export const SPAWN_DEFAULTS: Readonly<SpawnInternals> = DEFAULTS;

/** Validates uid_map/gid_map lines (user_namespaces(7): 1 to 340 of them), naming the option. */
export function idMappings(name: string, value: unknown): IdMapping[] {
  const lines = v.array(name, value);
  if (lines.length === 0 || lines.length > 340) throw new InvalidArgValueError(name, value, 'must have 1 to 340 lines');
  return lines.map((line, i) => {
    const o = v.object(`${name}[${i}]`, line);
    v.knownKeys(`${name}[${i}]`, o, ['containerId', 'hostId', 'size']);
    const containerId = v.integer(`${name}[${i}].containerId`, o.containerId, 0, v.ID_MAX);
    const hostId = v.integer(`${name}[${i}].hostId`, o.hostId, 0, v.ID_MAX);
    const size = v.integer(`${name}[${i}].size`, o.size, 1, v.ID_MAX + 1 - Math.max(containerId, hostId));
    return { containerId, hostId, size };
  });
}

function idMap(name: string, value: unknown): string {
  return idMappings(name, value).map((m) => `${m.containerId} ${m.hostId} ${m.size}\n`).join('');
}

/** An environment object as `KEY=value` strings (undefined values left out), validated. */
export function envList(value: unknown, name = 'options.env'): string[] {
  const env = v.object(name, value);
  const list: string[] = [];
  for (const [k, val] of Object.entries(env)) {
    if (val === undefined) continue;
    if (k === '' || k.includes('=') || k.includes('\0')) throw new InvalidArgValueError(name, k, 'has an invalid variable name');
    list.push(`${k}=${v.string(`${name}.${k}`, val, { empty: true })}`);
  }
  return list;
}

/** The events the addon reports for a child (ChildEvent in types/native.d.ts). */
const EVENT = { exec: 1, failed: 2, held: 3, exit: 4, forked: 5 } as const;

function prepareStdio(value: unknown): number[] {
  const spec = value === undefined ? 'pipe' : value;
  const entries: unknown[] = typeof spec === 'string' ? [spec, spec, spec] : v.array('options.stdio', spec);
  if (entries.length < 3) while (entries.length < 3) entries.push('ignore');
  if (entries.length > 64) throw new InvalidArgValueError('options.stdio', value, 'may name at most 64 fds');
  return entries.map((e, i) => {
    const name = `options.stdio[${i}]`;
    if (e === 'pipe') return -2;
    if (e === null) return -1;
    if (e === 'inherit') return i;
    if (e === 'ignore') return -3; // the child opens /dev/null itself
    if (typeof e === 'number') return v.integer(name, e, 0, 0x7fffffff);
    throw new InvalidArgValueError(name, e, "must be 'pipe', 'inherit', 'ignore', an fd or null");
  });
}

/**
 * Starts a program in new namespaces: one clone3 from the addon with everything prepared
 * before it, the plan in the child, then execve. Resolves once exec has succeeded.
 *
 * Rejects with a TypeError/RangeError (ERR_INVALID_ARG_*) for bad options before any
 * system call, and with an {@link NsboxSystemError} naming the failed step otherwise: a
 * missing program is `ENOENT` at step `'exec'`, never an exit code 127.
 *
 * @example
 * const child = await spawn({ command: ['hostname'], namespaces: ['uts'], plan: [{ op: 'sethostname', hostname: 'box' }] });
 * child.stdout.pipe(process.stdout);
 * await child.exited; // { code: 0, signal: null }
 */
export function spawn(options: SpawnOptions): Promise<Subprocess> {
  return spawnWith(options, DEFAULTS);
}

/**
 * @internal The child's encoded plan for spawn options (their command, env and plan): what
 * spawnWith runs, for callers that encode once and pass it back as `internals.encoded`
 * (Container keeps the plans of the configurations it has run). Validates what it reads.
 */
export function encodeSpawnPlan(options: SpawnOptions | Record<string, unknown>, hold: boolean): EncodedPlan {
  const o = options as Record<string, unknown>;
  const command = v.array('options.command', o.command).map((a, i) => v.string(`options.command[${i}]`, a, { empty: i > 0 }));
  if (command.length === 0) throw new InvalidArgValueError('options.command', o.command, 'must name a program');
  // Without options.env the addon copies environ itself: much cheaper than reading process.env.
  const env = o.env === undefined ? null : envList(o.env);
  const pathVar = (env === null ? process.env.PATH : env.find((e) => e.startsWith('PATH='))?.slice(5)) ?? DEFAULT_PATH;
  const steps = (o.plan ?? []) as (Step | { op: 'wait' })[];
  return encodePlan(hold ? [...v.array('options.plan', steps) as Step[], { op: 'wait' }] : steps, {
    file: command[0],
    argv: command,
    env,
    searchPath: command[0].includes('/') ? null : pathVar,
  }, 'options.plan', { allowWait: hold });
}

/** @internal spawn with the internal knobs (tests, benchmarks). */
export async function spawnWith(options: SpawnOptions, internals: SpawnInternals): Promise<Subprocess> {
  const o = v.object('options', options);
  v.knownKeys('options', o, ['command', 'env', 'namespaces', 'cgroup', 'plan', 'stdio', 'uidMap', 'gidMap', 'setgroups', 'signal']);
  const namespaces = o.namespaces === undefined ? [] : namespaceTypes('options.namespaces', o.namespaces);
  const hold = internals.hold === true;
  if (internals.encoded !== undefined && o.plan !== undefined) {
    throw new InvalidArgValueError('options.plan', o.plan, 'must not be given with an encoded plan');
  }
  const plan = internals.encoded ?? encodeSpawnPlan(o, hold);

  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgValueError('options.signal', signal, 'must be an AbortSignal');
  }
  const nativeOptions: NativeSpawnOptions = { flags: namespaceFlags(namespaces), cgroupFd: -1, stdio: [] };
  const userns = namespaces.includes('user');
  if (!userns && (o.uidMap !== undefined || o.gidMap !== undefined || o.setgroups !== undefined)) {
    throw new InvalidArgValueError('options.uidMap', o.uidMap ?? o.gidMap ?? o.setgroups, "needs 'user' in options.namespaces");
  }
  if (userns) {
    const root = process.geteuid?.() === 0;
    nativeOptions.uidMap = idMap('options.uidMap', o.uidMap ?? [{ containerId: 0, hostId: process.geteuid!(), size: 1 }]);
    nativeOptions.gidMap = idMap('options.gidMap', o.gidMap ?? [{ containerId: 0, hostId: process.getegid!(), size: 1 }]);
    const setgroups = o.setgroups === undefined ? (root ? undefined : 'deny') : v.oneOf('options.setgroups', o.setgroups, ['allow', 'deny'] as const);
    if (setgroups) nativeOptions.setgroups = setgroups;
  }
  let cgroupPath: string | undefined;
  let cgroupName: string | undefined;
  if (o.cgroup !== undefined) {
    if (typeof o.cgroup === 'number') {
      nativeOptions.cgroupFd = v.integer('options.cgroup', o.cgroup, 0, 0x7fffffff);
    } else if (typeof o.cgroup === 'object' && o.cgroup !== null && 'fd' in o.cgroup) {
      const group = o.cgroup as { fd: unknown; path?: unknown };
      nativeOptions.cgroupFd = v.integer('options.cgroup.fd', group.fd, 0, 0x7fffffff);
      cgroupName = typeof group.path === 'string' ? group.path : undefined;
    } else {
      cgroupPath = v.absolutePath('options.cgroup', o.cgroup);
      if (!internals.cgroupMade && fs.statfsSync(cgroupPath).type !== CGROUP2_SUPER_MAGIC) {
        throw new InvalidArgValueError('options.cgroup', cgroupPath, 'must be a directory in a cgroup v2 hierarchy');
      }
    }
  }
  if (signal?.aborted) throw abortError(signal);
  const { netnsPool = true, hold: _hold, cgroupMade: _made, encoded: _encoded, async: _async, ...knobs } = internals;
  Object.assign(nativeOptions, knobs);
  // CLONE_VM shares Node's address space with the child until it execs; so does a vfork,
  // which the cloning thread waits out (see PlanTraits for the steps each rules out).
  // Without vfork, a child in a cgroup with limits could be picked by its memory cgroup's OOM
  // killer, which kills every process sharing its address space (__oom_kill_process): Node.
  if (nativeOptions.vm && (plan.traits.vmUnsafe || o.cgroup !== undefined)) nativeOptions.vm = false;
  if (nativeOptions.vfork && (plan.traits.vforkUnsafe || hold)) nativeOptions.vfork = false;

  nativeOptions.stdio = prepareStdio(o.stdio);
  // The child's stdio lands on fds 0..n-1 before the plan runs: a setns step's fd and an
  // openConsole step's socket must be above.
  (o.plan as Step[] | undefined)?.forEach((step, i) => {
    if (step.op === 'setns' && step.fd < nativeOptions.stdio.length) {
      throw new InvalidArgValueError(`options.plan[${i}].fd`, step.fd, `must not be one of the child's stdio fds (0-${nativeOptions.stdio.length - 1})`);
    }
    if (step.op === 'openConsole' && step.socket < nativeOptions.stdio.length) {
      throw new InvalidArgValueError(`options.plan[${i}].socket`, step.socket, `must not be one of the child's stdio fds (0-${nativeOptions.stdio.length - 1})`);
    }
    if (step.op === 'fork' && namespaces.includes('pid')) {
      throw new InvalidArgValueError(`options.plan[${i}]`, step, "cannot be used with 'pid' in options.namespaces: the child is then its pid namespace's init, and clone(2) refuses CLONE_PARENT to an init");
    }
  });
  let cgroupFd: number | undefined;
  let netnsFd: number | undefined;
  let result;
  let onEvent: (event: number, a: number, b: number, c: number) => void = () => {};
  let usesPool = false;
  let refillAtExit = false;
  const closeFds = () => {
    if (cgroupFd !== undefined) fs.closeSync(cgroupFd);
    if (netnsFd !== undefined) fs.closeSync(netnsFd);
    cgroupFd = netnsFd = undefined;
  };
  // A plan that brings the loopback up gets a namespace where the pool has done it already.
  const netnsKind = plan.traits.loopbackUp ? 1 : 0;
  try {
    const root = process.geteuid?.() === 0;
    // A pooled namespace is owned by this process's user namespace: only without 'user', and as root.
    usesPool = netnsPool && namespaces.includes('net') && !userns && root;
    if (usesPool) netnsFd = takeNetns(netnsKind);
    if (netnsFd !== undefined) {
      nativeOptions.netnsFd = netnsFd;
      nativeOptions.flags &= ~namespaceFlags(['net']);
      if (netnsKind === 1) nativeOptions.netnsLoopbackUp = true; // its loopbackUp step has nothing to do
    }
    // The child's network namespace is new and holds only lo, up: its sysfs can be the
    // template's (a mountSysfs step clones it), which the kernel need not find among all.
    const template = usesPool && netnsKind === 1 ? sysfsTemplate() : undefined;
    if (template !== undefined) nativeOptions.sysfsFd = template;
    // Directories its mask steps hide (those marked `shared`) share one empty read-only tmpfs.
    const masks = plan.traits.sharedMask && !userns && root ? maskTemplate() : undefined;
    if (masks !== undefined) nativeOptions.maskFd = masks;
    if (cgroupPath !== undefined) {
      cgroupFd = fs.openSync(cgroupPath, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      nativeOptions.cgroupFd = cgroupFd;
    }
    const listener = (event: ChildEvent, a: number, b: number, c: number) => onEvent(event, a, b, c);
    // Only where the addon clones with CLONE_VM (native.vmClone; elsewhere spawnAsync refuses
    // the job), and while the pool threads are in the main thread's namespaces: not once
    // unshare()/setns() moved it.
    if (internals.async && nativeOptions.vfork && native.vmClone && !mainThreadMoved()) {
      const done = spawnOnPool(plan.buffer, nativeOptions, listener);
      // The addon holds its own copies of the fds until the clone is done: ours go now (a
      // worker ended before then would never run the finally below).
      closeFds();
      result = await done;
    } else {
      result = native.spawn(plan.buffer, nativeOptions, listener);
    }
  } catch (e) {
    if (e instanceof NsboxSystemError) {
      if (e.step === 'clone') withHint(e, cloneHint(e, namespaces, cgroupPath ?? cgroupName ?? o.cgroup));
      if (e.step === 'cgroup' && (cgroupPath ?? cgroupName)) e.path = `${cgroupPath ?? cgroupName}/cgroup.procs`;
    }
    throw e;
  } finally {
    closeFds();
    // The pool is made whole when the child has exited, when nothing competes with it for
    // the other core (a refill running beside the child holds that core in the kernel for
    // ~0.3 ms, and the child waits) — at once if the pool is empty or the spawn failed.
    if (usesPool) refillAtExit = !refillNetns(netnsKind, { unlessHeld: result !== undefined });
  }

  const streams = result.stdio.map((fd, i) => {
    if (fd < 0) return null;
    return new net.Socket({ fd, readable: i !== 0, writable: i === 0 });
  });

  // Only the steps' names outlive the spawn: the closures below must not keep the encoded plan
  // (the addon has its own copy) for as long as the child lives.
  const described = plan.steps;
  return new Promise<Subprocess>((resolve, reject) => {
    let failure: Error | undefined;
    let child: Subprocess | undefined;
    let resolveExit!: (s: ExitStatus) => void;
    let settleStart: { resolve(): void; reject(e: Error): void } | undefined;
    const exited = new Promise<ExitStatus>((r) => (resolveExit = r));
    let exitedAlready = false;
    // From the moment the child exists: an abort before exec kills it and rejects.
    const onAbort = () => {
      if (exitedAlready) return;
      try {
        native.pidfdSendSignal(result.pidfd, signalNumber('signal', 'SIGKILL'));
      } catch (e) {
        // ESRCH: it has exited and its exit event is on its way
        if (!(e instanceof NsboxSystemError && e.code === 'ESRCH')) throw e;
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort(); // while an async clone was being made
    onEvent = (event, a, b, c) => {
      if (event === EVENT.held && hold && !child) {
        if (signal?.aborted) return;
        child = new Subprocess(result, streams, exited);
        started.set(child, new Promise<void>((res, rej) => (settleStart = { resolve: res, reject: rej })));
        started.get(child)!.catch(() => undefined); // observed through release()
        resolve(child);
      } else if (event === EVENT.exec) {
        if (signal?.aborted) return; // killed already: the exit rejects
        if (settleStart) {
          settleStart.resolve();
          settleStart = undefined;
          return;
        }
        child = new Subprocess(result, streams, exited);
        resolve(child);
      } else if (event === EVENT.forked) {
        // A fork step: the program runs in the grandchild (a, its pidfd b), our child too.
        result.pid = a;
        result.pidfd = b;
        // An abort that signalled the forking process may have missed the grandchild.
        if (signal?.aborted) onAbort();
      } else if (event === EVENT.failed) {
        failure = stepError(described, a, b, c);
      } else if (event === EVENT.exit) {
        exitedAlready = true;
        if (refillAtExit) refillNetns(netnsKind);
        // Nobody reads stdin any more: close our end (as child_process does on exit).
        streams[0]?.destroy();
        signal?.removeEventListener('abort', onAbort);
        resolveExit({ code: a >= 0 ? a : null, signal: a >= 0 ? null : signalName(b) });
        if (!child) {
          for (const s of streams) s?.destroy();
          reject(signal?.aborted ? abortError(signal) : failure ?? lostChild(a, b));
        } else if (settleStart) {
          // Held, then ended before its exec succeeded.
          settleStart.reject(signal?.aborted ? abortError(signal) : failure ?? lostChild(a, b));
          settleStart = undefined;
        }
      }
    };
  });
}

function cloneHint(e: NsboxSystemError, namespaces: readonly NamespaceType[], cgroup: unknown): string | undefined {
  if (cgroup !== undefined && (e.code === 'EACCES' || e.code === 'EPERM') && process.geteuid?.() !== 0) {
    return `this user may not move processes into the cgroup ${String(cgroup)}: use a delegated subtree ` +
      '(systemd-run --user --scope -p Delegate=yes …), or run as root';
  }
  if (cgroup !== undefined && e.code === 'EBUSY') {
    return 'the cgroup has controllers enabled in cgroup.subtree_control, so it may not hold processes (the no-internal-process rule): use a leaf group';
  }
  return namespaceHint(e, namespaces);
}

/** The child ended before its program started, without reporting a failed step. */
function lostChild(code: number, signal: number): StateError {
  const name = signalName(signal);
  const how = code >= 0 ? `exited with status ${code}` : name ? `was killed by ${name}` : 'ended (status unknown)';
  const hint = name === 'SIGSYS'
    ? ': a seccomp filter in the plan kills a system call that a later step or the exec needs'
    : name === 'SIGKILL' ? ': killed from outside, or by the OOM killer' : '';
  const e = new StateError('ERR_NSBOX_CHILD_LOST', `the child ${how} before its program started${hint}`);
  Object.assign(e, { exitCode: code >= 0 ? code : null, signal: name });
  return e;
}

function stepError(steps: readonly { op: string; path?: string }[], index: number, errno: number, sysop: number): NsboxSystemError {
  const described = index >= 0 ? steps[index] : { op: PRELUDE_STEPS[index] ?? 'setup' };
  const syscall = SYSCALLS[sysop] ?? 'unknown';
  // An openConsole step's path is the ptmx it opens and unlocks: not what it sends or dup3s.
  const path = described?.op === 'openConsole' && syscall !== 'open' && syscall !== 'ioctl' ? undefined : described?.path;
  const e = new NsboxSystemError(errno, syscall, path);
  e.step = described?.op;
  if (index >= 0) e.stepIndex = index;
  e.message += ` (plan step ${index >= 0 ? `${index}: ` : ''}${e.step})`;
  return e;
}

/**
 * native.spawnAsync as a promise. Outside spawnWith on purpose: V8 gives all closures of a
 * function one context holding every variable any of them uses, so a closure there naming
 * the plan would keep its buffer for as long as the child's listener lives.
 */
function spawnOnPool(buffer: Buffer, options: NativeSpawnOptions, listener: (event: ChildEvent, a: number, b: number, c: number) => void): Promise<NativeSpawnResult> {
  return new Promise((resolve, reject) => native.spawnAsync(buffer, options, listener, (error, r) => (error ? reject(error) : resolve(r!))));
}

let maskFd: number | undefined;
/** The addon's mask template (made on the first call, kept by the addon), or undefined where it cannot be made. */
function maskTemplate(): number | undefined {
  if (maskFd === undefined) {
    const fd = native.maskTemplate();
    if (fd >= 0) maskFd = fd;
  }
  return maskFd;
}
