// Container: spawn + plan + Cgroup composed into what users embed. A container is one
// process cloned into new namespaces and born in its own cgroup, set up by its plan and held
// before exec (created), released (running), frozen (paused), ended (stopped) and cleaned up
// (deleting, deleted) — a state machine with a stable error for every illegal move.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Cgroup, cgroup2 } from '../cgroup/cgroup';
import { parseFlatKeyed, parseSingle } from '../cgroup/parse';
import type { CgroupEvents, CgroupEventsOptions } from '../cgroup/events';
import type { CgroupStats } from '../cgroup/stats';
import { abortError, CgroupUnavailableError, InvalidArgValueError, NsboxSystemError, StateError } from '../errors';
import type { NamespaceType } from '../namespaces';
import type { Step } from '../plan';
import { signalNumber } from '../signals';
import { SPAWN_DEFAULTS, encodeSpawnPlan, spawnHeld, spawnWith, type HeldProcess, type IdMapping, type SpawnInternals, type SpawnOptions, type StdioEntry, type Subprocess } from '../spawn';
import * as v from '../validate';
import { execSteps, securitySteps } from './security';
import { filesystemSteps, protectionSteps } from './filesystem';
import { normalizeOptions, type ContainerConfig, type ContainerOptions, type ContainerStdioEntry } from './options';
import { containerPlan } from './plans';
import { optionsToOci, readBundle, type OciSpec } from './oci';
import { openConsoleSocket, type ConsoleSocket, type Pty } from '../pty';

export type ContainerState = 'creating' | 'created' | 'running' | 'paused' | 'stopped' | 'deleting' | 'deleted';

/** Why a container ended. */
export type ExitReason = 'exit' | 'signal' | 'oom_kill' | 'pids_max' | 'timeout' | 'aborted';

export interface ContainerUsage {
  /** CPU time of every process that ran in the container, from `cpu.stat`, in microseconds. */
  cpuUserUs?: number;
  cpuSystemUs?: number;
  /** Peak memory, bytes (`memory.peak`, Linux 5.19, with a memory limit). */
  memoryPeakBytes?: number;
  /** Peak number of processes (`pids.peak`, Linux 6.1, with a pids limit). */
  pidsPeak?: number;
}

export interface ContainerResult {
  /** The exit status of the container's first process, if it exited. */
  exitCode: number | null;
  /** The signal that ended it, if one did. */
  signal: NodeJS.Signals | null;
  /**
   * Why it ended: 'timeout'/'aborted' when nsbox ended it for `timeout`/`signal`; 'oom_kill'
   * or 'pids_max' when the cgroup's events say the kernel's limit did (needs the memory or
   * pids controller, i.e. a limit on it); otherwise 'signal' or 'exit'.
   */
  reason: ExitReason;
  /** From start to exit, in milliseconds. */
  durationMs: number;
  usage: ContainerUsage;
}

export interface RunResult extends ContainerResult {
  /** What the program wrote to stdout and stderr ('pipe' stdio; with 'pty', stdout is the terminal's output), decoded as UTF-8. */
  stdout: string;
  stderr: string;
}

export interface RunOptions extends ContainerOptions {
  /**
   * Written to the program's stdin, which is then closed. With stdio 'pty' it is typed into the
   * terminal, then its end (VEOF, ^D, twice after a partial line), all at once, as typed ahead:
   * the terminal's echo and line editing apply (a line longer than its 4095-byte line buffer
   * loses the excess), and the ^D is an end of input only to a program that reads in the
   * terminal's canonical mode. One that turns it off first (`stty raw`, a REPL with line
   * editing) reads the ^D as a byte, and waits for more: give it a `timeout`.
   * @default nothing (stdin closed at once; with 'pty', the end of input is typed at once)
   */
  input?: string | Uint8Array;
}

export interface ExecOptions {
  /** @default the container's environment */
  env?: Readonly<Record<string, string | undefined>>;
  /** @default the container's working directory */
  cwd?: string;
  /** @default the container's user */
  user?: { uid: number; gid: number; additionalGids?: readonly number[] };
  /** 'pty': a terminal of its own in the container's devpts, as the process's `terminal`. @default 'pipe' */
  stdio?: 'pipe' | 'inherit' | 'ignore' | 'pty' | readonly [ContainerStdioEntry, ContainerStdioEntry, ContainerStdioEntry];
  /** The pty's size with stdio 'pty'. @default { cols: 80, rows: 24 } */
  terminalSize?: { cols: number; rows: number };
  /** Kills the process when aborted. */
  signal?: AbortSignal;
}

/** A process exec'd into a container: a {@link Subprocess}, with its terminal for stdio 'pty'. */
export type ExecProcess = Subprocess & { readonly terminal: Pty | null };

/** @internal Knobs for tests and benchmarks: the fault hook, spawn's internals. */
export interface ContainerInternals {
  spawn?: SpawnInternals;
}

/** An illegal lifecycle move: `code` is always ERR_NSBOX_CONTAINER_STATE; `operation` and `state` say which. */
export class ContainerStateError extends StateError {
  constructor(
    readonly operation: string,
    readonly state: ContainerState,
  ) {
    super('ERR_NSBOX_CONTAINER_STATE', `cannot ${operation} a container that is ${state}`);
  }
}

/**
 * A counter file of the group parsed, or undefined where it has none or cannot be read.
 * existsSync first: a missing controller's file (most of them on a hybrid host) is then no
 * thrown error, which costs more than the read, at every container's end.
 */
function readIfPresent<T>(dir: string, file: string, parse: (text: string, file: string) => T): T | undefined {
  const p = path.join(dir, file);
  if (!fs.existsSync(p)) return undefined;
  try {
    return parse(fs.readFileSync(p, 'utf8'), file);
  } catch {
    return undefined;
  }
}

/** A flat keyed file of the group (`cpu.stat`, `memory.events`), or {} where it has none. */
const flatKeyed = (dir: string, file: string): Record<string, number> => readIfPresent(dir, file, parseFlatKeyed) ?? {};

/** A single-value file of the group (`memory.peak`), or undefined where it has none ('max' too). */
function single(dir: string, file: string): number | undefined {
  const n = readIfPresent(dir, file, parseSingle);
  return n === 'max' ? undefined : n;
}

/**
 * What run() types into a terminal: the input, then the end of input, VEOF at the start of a
 * line (^D after a partial line only hands that line to the reader).
 */
function terminalInput(input: string | Uint8Array | undefined): Buffer {
  const bytes = input === undefined ? Buffer.alloc(0) : typeof input === 'string' ? Buffer.from(input) : Buffer.from(input);
  const last = bytes.length === 0 ? 0x0a : bytes[bytes.length - 1];
  const atLineStart = last === 0x0a || last === 0x0d; // \r is a line end too (ICRNL)
  return Buffer.concat([bytes, Buffer.from(atLineStart ? '\x04' : '\x04\x04')]);
}

/** A process's stdio: with a pty, /dev/null until the openConsole step puts the terminal on 0-2. */
function spawnStdio(c: ContainerConfig): StdioEntry[] {
  return c.stdio === 'pty' ? ['ignore', 'ignore', 'ignore'] : [...c.stdio];
}

/** The terminal an openConsole step sent; the process is ended (and waited for) if it cannot be had. */
async function receiveTerminal(socket: ConsoleSocket, child: Subprocess, size: ContainerConfig['terminalSize']): Promise<Pty> {
  try {
    return socket.receive(size);
  } catch (e) {
    child.kill('SIGKILL');
    await child.exited;
    throw e;
  }
}

/** Container.run calls not yet settled. */
let runsInFlight = 0;

/** `KEY=value` strings back into the object spawn takes. */
function envObject(list: readonly string[]): Record<string, string> {
  return Object.fromEntries(list.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

function namespacesOf(c: ContainerConfig): NamespaceType[] {
  const types: NamespaceType[] = ['mount', 'uts', 'ipc', 'pid'];
  if (c.network === 'none') types.push('net');
  if (c.userns) types.unshift('user');
  return types;
}

/**
 * A Linux container: its own namespaces, cgroup and root filesystem, secure by default
 * (Docker's capabilities, seccomp profile, masked paths; no new privileges).
 *
 * @example
 * await using c = await Container.create({ command: ['/bin/sh', '-c', 'echo hi'], resources: { pids: { max: 64 } } });
 * await c.start();
 * c.stdout!.pipe(process.stdout);
 * const result = await c.wait(); // { exitCode: 0, reason: 'exit', … }
 */
export class Container {
  readonly id: string;
  /** The container's cgroup, or null where none could be made (rootless without a delegated subtree). */
  readonly cgroup: Cgroup | null;
  /** The program's stdio: Node streams with 'pipe', else null. */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** The pseudo-terminal with stdio 'pty': a Duplex (read the output, write the input) with resize(). */
  readonly terminal: Pty | null;
  readonly #config: ContainerConfig;
  readonly #held: HeldProcess;
  readonly #namespaces: NamespaceType[];
  #state: ContainerState = 'created';
  /** Set when nsbox ended it for `timeout` or `signal`. */
  #killedFor: 'timeout' | 'aborted' | undefined;
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #result: Promise<ContainerResult>;
  #deleting: Promise<void> | undefined;
  readonly #execs = new Set<Subprocess>();
  readonly #pendingExecs = new Set<Promise<ExecProcess>>();
  /** A pause() is under way: an exec now would be born frozen, and wait for the resume. */
  #pausing = false;
  #onAbort: (() => void) | undefined;

  private constructor(config: ContainerConfig, held: HeldProcess, cgroup: Cgroup | null, terminal: Pty | null, namespaces: NamespaceType[]) {
    this.id = config.id;
    this.#config = config;
    this.#held = held;
    this.cgroup = cgroup;
    this.terminal = terminal;
    this.#namespaces = namespaces;
    this.stdin = held.child.stdin;
    this.stdout = held.child.stdout;
    this.stderr = held.child.stderr;
    this.#result = held.child.exited.then((status) => this.#finish(status));
    this.#result.catch(() => undefined);
    const signal = config.signal;
    if (signal) {
      this.#onAbort = () => void this.#end('aborted');
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /**
   * Creates the container: validates the options, makes its cgroup with the limits, clones
   * the process into its namespaces and cgroup and runs its setup (mounts, pivot_root,
   * security), stopping just before exec. Nothing runs the program until {@link start}.
   * On failure nothing is left: no process, cgroup, mount or fd.
   */
  static create(options: ContainerOptions, internals: ContainerInternals = {}): Promise<Container> {
    return Container.#create(options, internals, true);
  }

  /** `hold`: stop before exec until start(); without it (run()), the program starts at once. */
  static async #create(options: ContainerOptions, internals: ContainerInternals, hold: boolean): Promise<Container> {
    const config = normalizeOptions(options);
    if (config.signal?.aborted) throw abortError(config.signal);
    let cgroup: Cgroup | null = null;
    let terminal: Pty | null = null;
    // stdio 'pty': the child makes the terminal in the container's own devpts instance after
    // pivot_root and sends the master over this socket (runc's console socket).
    let consoleSocket: ConsoleSocket | null = null;
    // run() as root, without a user namespace, as root inside: the setup process shares Node's
    // memory and Node's thread waits until it has exec'd (CLONE_VM|CLONE_VFORK: no page tables
    // copied, no copy-on-write faults in Node afterwards; a vfork child is never an OOM victim,
    // so it may be born in a memory cgroup). The dumpable flag belongs to the address space:
    // instead of a dumpable step, nonDumpable has the addon make it non-dumpable around such
    // clones (Node with it, for the setup's ~0.4 ms), or the child itself where the clone turns
    // out not to be a vfork (another architecture, no CLONE_INTO_CGROUP); a uid or gid change
    // would reset it, hence uid and gid 0.
    // create()/start() hold the process before exec and keep the fork-style clone.
    const fast = !hold && process.geteuid?.() === 0 && config.userns === null && config.uid === 0 && config.gid === 0;
    try {
      cgroup = await makeCgroup(config);
      if (config.stdio === 'pty') consoleSocket = openConsoleSocket();
      const socket = consoleSocket;
      // The plan's steps and the exec, made from `c` alone: plans.ts keeps them per configuration.
      const encoded = containerPlan(config, `${fast}/${hold}`, (c) => encodeSpawnPlan({
        command: c.command,
        env: envObject(c.env),
        plan: [
          ...(fast ? [] : [{ op: 'dumpable', value: false } as const]),
          // Root with a user namespace mapping other ids (0 → 100000…): Node's uid 0 is not
          // mapped in it, and a file made in a filesystem the namespace mounts must belong to a
          // mapped id (EOVERFLOW). Become its root first (that keeps the capabilities it has in
          // its namespace), as runc's init does before it builds the root.
          ...(isRootWithRangeMap(c) ? [{ op: 'setgid', gid: 0 } as const, { op: 'setuid', uid: 0 } as const] : []),
          // Its own session and process group, as runc's init: out of Node's, so a terminal's
          // Ctrl-C does not reach it, and the kernel's orphaned-group check at every child's exit
          // does not walk every live container (kill_orphaned_pgrp). openConsole makes its own.
          ...(c.stdio === 'pty' ? [] : [{ op: 'setsid' } as const]),
          // After CLONE_INTO_CGROUP: a cgroup namespace made here is rooted at the container's group.
          { op: 'unshare', types: ['cgroup'] },
          ...filesystemSteps(c, { cgroupns: true }),
          // Before the masks and the security steps, as runc sets up its console.
          ...(socket ? [{ op: 'openConsole', socket: socket.childFd, size: c.terminalSize, owner: { uid: c.uid, gid: c.gid } } as const] : []),
          ...protectionSteps(c),
          { op: 'sethostname', hostname: c.hostname },
          ...(c.network === 'none' ? [{ op: 'loopbackUp' } as const] : []),
          ...securitySteps(c),
        ] satisfies Step[],
      }, hold));
      const stdio = spawnStdio(config);
      const namespaces = namespacesOf(config);
      // The command and environment are in the encoded plan; spawn reads command only for its shape.
      const spawnOptions: SpawnOptions = {
        command: config.command,
        namespaces,
        stdio,
        // By path: spawn opens it for CLONE_INTO_CGROUP and closes it again. A Cgroup's own fd
        // would stay open as long as the container lives, and every fd Node holds is copied
        // into, and closed at exec in, every later child (dup_fd, close-on-exec).
        ...(cgroup ? { cgroup: cgroup.path } : {}),
        ...(config.userns ? { uidMap: config.userns.uidMap, gidMap: config.userns.gidMap } : {}),
      };
      let held: HeldProcess;
      if (hold) {
        held = await spawnHeld(spawnOptions, { ...(internals.spawn ?? SPAWN_DEFAULTS), cgroupMade: true, encoded });
      } else {
        // Resolved once exec'd: start() only marks it running (run() saves a round trip).
        // With other runs in flight, the vfork clone goes to a pool thread: JavaScript (theirs)
        // goes on while this child sets up. Alone, the hop would only add to its latency.
        const child = await spawnWith(spawnOptions, { ...(internals.spawn ?? SPAWN_DEFAULTS), vfork: fast, nonDumpable: fast, async: runsInFlight > 1, cgroupMade: true, encoded });
        held = { child, release: () => Promise.resolve() };
      }
      // Held or exec'd, every step has run: the master is in the socket.
      if (consoleSocket) terminal = await receiveTerminal(consoleSocket, held.child, config.terminalSize);
      const container = new Container(config, held, cgroup, terminal, namespaces);
      if (config.signal?.aborted) {
        await container.delete();
        throw abortError(config.signal);
      }
      return container;
    } catch (e) {
      terminal?.destroy();
      if (cgroup) await cgroup.remove({ kill: true }).catch((cause) => {
        throw new AggregateError([e, cause], `creating the container failed, and so did removing its cgroup ${cgroup!.path}`);
      });
      throw e;
    } finally {
      consoleSocket?.close();
    }
  }

  /**
   * create, start, collect the output, wait, delete: one container run to its end.
   * @example
   * const r = await Container.run({ command: ['sh', '-c', 'echo hi'], timeout: 5000 });
   * r.stdout; // 'hi\n'
   */
  static async run(options: RunOptions, internals: ContainerInternals = {}): Promise<RunResult> {
    runsInFlight++;
    try {
      return await Container.#run(options, internals);
    } finally {
      runsInFlight--;
    }
  }

  static async #run(options: RunOptions, internals: ContainerInternals): Promise<RunResult> {
    const o = v.object('options', options);
    const { input, ...rest } = o as unknown as RunOptions;
    if (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array)) {
      throw new InvalidArgValueError('options.input', input, 'must be a string or a Uint8Array');
    }
    const stdio = rest.stdio;
    if (input !== undefined && !(stdio === undefined || stdio === 'pipe' || stdio === 'pty' || (Array.isArray(stdio) && stdio[0] === 'pipe'))) {
      throw new InvalidArgValueError('options.input', input, "needs the program's stdin piped (options.stdio 'pipe', the default, 'pty', or ['pipe', …])");
    }
    const c = await Container.#create(rest, internals, false);
    try {
      // With a pty, stdout is what the terminal shows (read it, or a full terminal blocks the program).
      const out = collect(c.terminal ?? c.stdout);
      const err = collect(c.stderr);
      // A program may exit, or close its stdin, before reading all of the input: EPIPE then
      // means only that (as child_process ignores it); any other error is the run's.
      let inputError: Error | undefined;
      c.stdin?.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE') inputError ??= e;
      });
      await c.start();
      if (c.stdin) c.stdin.end(input);
      // (Unless the program has already gone, and the terminal with it.)
      else if (c.terminal && !c.terminal.writableEnded && !c.terminal.destroyed) c.terminal.write(terminalInput(input));
      const [result, stdout, stderr] = await Promise.all([c.wait(), out, err]);
      if (inputError) throw inputError;
      return { ...result, stdout, stderr };
    } finally {
      await c.delete();
    }
  }

  /**
   * The options an OCI bundle (`<dir>/config.json`, as `runc spec` writes it) describes.
   * A field nsbox does not support is an `OciUnsupportedError` naming it, never ignored.
   */
  static async bundleOptions(dir: string): Promise<ContainerOptions> {
    return (await readBundle(v.string('dir', dir))).options;
  }

  /**
   * Creates a container from an OCI bundle, as `runc create` would; `overrides` replace
   * options of the bundle's (stdio, signal, timeout…).
   * @example
   * const c = await Container.fromBundle('/srv/bundle', { stdio: 'inherit' });
   */
  static async fromBundle(dir: string, overrides: Partial<ContainerOptions> = {}, internals: ContainerInternals = {}): Promise<Container> {
    const bundle = await readBundle(v.string('dir', dir));
    try {
      return await Container.create({ ...bundle.options, ...overrides }, internals);
    } catch (e) {
      // A value of the bundle's that nsbox refuses is named as the config.json field it came from.
      throw bundle.rename(e, Object.keys(v.object('overrides', overrides)));
    }
  }

  /**
   * This container as an OCI runtime spec (config.json) that runc runs. The embedded default
   * root has no bundle form: give `rootfs` (the bundle's `root.path`) for it.
   */
  toOciSpec(options: { rootfs?: string } = {}): OciSpec {
    return optionsToOci(this.#config, options);
  }

  get state(): ContainerState {
    return this.#state;
  }

  /** The host pid of the container's first process (pid 1 inside). */
  get pid(): number {
    return this.#held.child.pid;
  }

  /** Runs the program: the held process execs. Resolves once the exec succeeded. */
  async start(): Promise<void> {
    if (this.#state !== 'created') throw new ContainerStateError('start', this.#state);
    // Its signal fired after create: it is being ended, and its program must not run.
    if (this.#killedFor === 'aborted' && this.#config.signal) throw abortError(this.#config.signal);
    this.#state = 'running';
    this.#startedAt = performance.now();
    if (this.#config.timeout !== undefined) {
      this.#timer = setTimeout(() => void this.#end('timeout'), this.#config.timeout);
    }
    try {
      await this.#held.release();
    } catch (e) {
      clearTimeout(this.#timer);
      // Ended by its signal before it could run: say so, not that the process was lost.
      if (this.#killedFor === 'aborted' && this.#config.signal) throw abortError(this.#config.signal);
      throw e;
    }
  }

  /** Resolves when the container's first process has ended (every other process ends with it), with why. */
  wait(): Promise<ContainerResult> {
    if (this.#state === 'deleted') return Promise.reject(new ContainerStateError('wait for', this.#state));
    return this.#result;
  }

  /**
   * Sends a signal to the container's first process, or with `all` to every process in it
   * (SIGKILL through `cgroup.kill`).
   */
  async kill(signal: NodeJS.Signals = 'SIGTERM', options: { all?: boolean } = {}): Promise<void> {
    const n = signalNumber('signal', signal);
    const o = v.object('options', options);
    v.knownKeys('options', o, ['all']);
    const all = o.all !== undefined && v.boolean('options.all', o.all);
    if (this.#state !== 'created' && this.#state !== 'running' && this.#state !== 'paused') {
      throw new ContainerStateError('kill', this.#state);
    }
    if (all && this.cgroup) {
      const cgroup = this.cgroup;
      try {
        if (signal === 'SIGKILL') return await cgroup.kill();
        for (const pid of await cgroup.procs()) {
          try {
            process.kill(pid, n);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
          }
        }
      } catch (e) {
        // delete() began meanwhile: it ends every process, and took the group.
        const now = this.state;
        if (now === 'deleting' || now === 'deleted') return;
        throw e;
      }
      return;
    }
    if (all && signal !== 'SIGKILL') {
      throw new CgroupUnavailableError(`kill(${signal}, { all: true }) needs the container's cgroup to find every process; container ${this.id} has none (rootless, without a delegated subtree)`);
    }
    // Without a cgroup, SIGKILL to the first process ends its whole pid namespace.
    this.#held.child.kill(signal);
  }

  /**
   * Freezes every process in the container (cgroup.freeze), once the execs still starting
   * have started; an exec asked for while it pauses is refused.
   */
  async pause(): Promise<void> {
    if (this.#state !== 'running') throw new ContainerStateError('pause', this.#state);
    if (this.#pausing) throw new ContainerStateError('pause', 'paused');
    const group = this.#requireCgroup('pause');
    this.#pausing = true;
    try {
      await Promise.allSettled([...this.#pendingExecs]);
      await this.#whileAlive('pause', group.freeze());
    } finally {
      this.#pausing = false;
    }
    // It may have stopped, or delete() begun, while the group froze.
    if (this.#state !== 'running') throw new ContainerStateError('pause', this.#state);
    this.#state = 'paused';
  }

  async resume(): Promise<void> {
    if (this.#state !== 'paused') throw new ContainerStateError('resume', this.#state);
    await this.#whileAlive('resume', this.#requireCgroup('resume').thaw());
    if (this.#state !== 'paused') throw new ContainerStateError('resume', this.#state);
    this.#state = 'running';
  }

  /**
   * An operation's failure because the container stopped or is being deleted meanwhile, said
   * as such. Its first process may have died a moment before the failure while its exit is
   * not known here yet (an exec that found its namespaces gone): a failure waits briefly for it.
   */
  async #whileAlive<T>(operation: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (e) {
      const { code, step } = e as { code?: string; step?: string };
      const mayBeGone = code === 'ERR_NSBOX_CHILD_LOST' || step === 'setns' || step === 'fork';
      if (mayBeGone && (this.#state === 'running' || this.#state === 'paused')) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.#result.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 100)))]);
        clearTimeout(timer);
      }
      if (this.#state === 'stopped' || this.#state === 'deleting' || this.#state === 'deleted') {
        throw new ContainerStateError(operation, this.#state);
      }
      throw e;
    }
  }

  /**
   * Runs another program in the running container: it joins every namespace, the cgroup
   * and the security settings (capabilities, seccomp, no_new_privs) of the container.
   * Resolves once it has started; its `exited` says how it ended.
   */
  async exec(command: readonly string[], options: ExecOptions = {}, internals: ContainerInternals = {}): Promise<ExecProcess> {
    if (this.#state !== 'running') throw new ContainerStateError('exec in', this.#state);
    if (this.#pausing) throw new ContainerStateError('exec in', 'paused');
    const o = v.object('options', options);
    v.knownKeys('options', o, ['env', 'cwd', 'user', 'stdio', 'terminalSize', 'signal']);
    const config = normalizeOptions({
      command,
      env: o.env ?? envObject(this.#config.env),
      cwd: o.cwd ?? this.#config.cwd,
      user: o.user ?? { uid: this.#config.uid, gid: this.#config.gid, additionalGids: this.#config.additionalGids },
      stdio: o.stdio ?? 'pipe',
      ...(o.terminalSize !== undefined ? { terminalSize: o.terminalSize } : {}),
      ...(this.#config.userns ? { userNamespace: { uidMap: this.#config.userns.uidMap, gidMap: this.#config.userns.gidMap } } : {}),
    });
    const merged: ContainerConfig = { ...this.#config, command: config.command, env: config.env, cwd: config.cwd, uid: config.uid, gid: config.gid, additionalGids: config.additionalGids };
    const signal = o.signal as AbortSignal | undefined;
    const pidfd = this.#held.child.pidfd;
    if (pidfd < 0) throw new ContainerStateError('exec in', 'stopped');
    const pending = this.#execStarts(merged, config, pidfd, signal, internals);
    // delete() waits for it: an exec still starting is not in #execs yet.
    this.#pendingExecs.add(pending);
    try {
      return await this.#whileAlive('exec in', pending);
    } finally {
      this.#pendingExecs.delete(pending);
    }
  }

  async #execStarts(merged: ContainerConfig, config: ContainerConfig, pidfd: number, signal: AbortSignal | undefined, internals: ContainerInternals): Promise<ExecProcess> {
    // With a pty, the process makes its terminal in the container's devpts once it has joined
    // (after the fork: the grandchild is no session leader, so it may start a session).
    const consoleSocket = config.stdio === 'pty' ? openConsoleSocket() : null;
    let terminal: Pty | null = null;
    try {
      const plan = execSteps(merged, pidfd, [...this.#namespaces, 'cgroup'],
        consoleSocket ? { op: 'openConsole', socket: consoleSocket.childFd, size: config.terminalSize, owner: { uid: merged.uid, gid: merged.gid } } : { op: 'setsid' });
      const child = await spawnWith({
        command: config.command,
        env: envObject(config.env),
        plan,
        stdio: spawnStdio(config),
        ...(this.cgroup ? { cgroup: this.cgroup.path } : {}),
        ...(signal ? { signal } : {}),
      }, internals.spawn ?? {});
      if (consoleSocket) terminal = await receiveTerminal(consoleSocket, child, config.terminalSize);
      this.#execs.add(child);
      void child.exited.then(() => this.#execs.delete(child));
      return Object.assign(child, { terminal });
    } finally {
      consoleSocket?.close();
    }
  }

  /** The cgroup's statistics: CPU, memory, pids, io, pressure. */
  stats(): Promise<CgroupStats> {
    if (this.#state === 'deleted') return Promise.reject(new ContainerStateError('read stats of', this.#state));
    return this.#requireCgroup('read stats of').stats();
  }

  /** The cgroup's events (OOM kills, pids limit hits, populated/frozen changes), without polling. */
  events(options?: CgroupEventsOptions): CgroupEvents {
    if (this.#state === 'deleted') throw new ContainerStateError('watch events of', this.#state);
    return this.#requireCgroup('watch events of').events(options);
  }

  /** Kills whatever runs, reaps it, removes the cgroup: nothing is left. Idempotent. */
  delete(): Promise<void> {
    return (this.#deleting ??= this.#delete());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.delete();
  }

  async #delete(): Promise<void> {
    const errors: unknown[] = [];
    const was = this.#state;
    // From now on pause, resume, kill and exec are refused (ERR_NSBOX_CONTAINER_STATE).
    this.#state = 'deleting';
    if (was !== 'stopped') {
      try {
        await this.#killAll();
      } catch (e) {
        errors.push(e);
      }
    }
    await this.#result.catch(() => undefined);
    await Promise.allSettled([...this.#pendingExecs]);
    await Promise.all([...this.#execs].map((c) => c.exited));
    for (const s of [this.stdin, this.stdout, this.stderr]) s?.destroy();
    const terminal = this.terminal;
    if (terminal && !terminal.closed) {
      // Its 'close' comes once the master fd is closed.
      const closed = new Promise((resolve) => terminal.once('close', resolve));
      terminal.destroy();
      await closed;
    }
    if (this.cgroup) {
      try {
        // Empty by now (its pid namespace ended every process with the first): one rmdir.
        await this.cgroup.remove({ kill: true });
      } catch (e) {
        errors.push(e);
      }
    }
    this.#state = 'deleted';
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `deleting container ${this.id} failed`);
  }

  async #killAll(): Promise<void> {
    if (this.cgroup) {
      await this.cgroup.kill();
    } else {
      this.#held.child.kill('SIGKILL');
    }
  }

  /** Ends the whole container for `timeout` or `signal`. */
  async #end(reason: 'timeout' | 'aborted'): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'deleting' || this.#state === 'deleted' || this.#killedFor) return;
    this.#killedFor = reason;
    try {
      await this.#killAll();
    } catch {
      // It may have just ended (the group is gone); the exit settles the result either way.
      this.#held.child.kill('SIGKILL');
    }
  }

  #finish(status: { code: number | null; signal: NodeJS.Signals | null }): ContainerResult {
    const durationMs = this.#startedAt ? performance.now() - this.#startedAt : 0;
    clearTimeout(this.#timer);
    if (this.#onAbort) this.#config.signal!.removeEventListener('abort', this.#onAbort);
    if (this.#state !== 'deleting' && this.#state !== 'deleted') this.#state = 'stopped';
    const dir = this.cgroup?.path;
    let reason: ExitReason = status.signal ? 'signal' : 'exit';
    const failed = status.signal !== null || status.code !== 0;
    if (this.#killedFor) reason = this.#killedFor;
    else if (dir && failed && (flatKeyed(dir, 'memory.events').oomKill ?? 0) > 0) reason = 'oom_kill';
    else if (dir && failed && (flatKeyed(dir, 'pids.events').max ?? 0) > 0) reason = 'pids_max';
    const usage: ContainerUsage = {};
    if (dir) {
      const cpu = flatKeyed(dir, 'cpu.stat');
      if (cpu.userUsec !== undefined) usage.cpuUserUs = cpu.userUsec;
      if (cpu.systemUsec !== undefined) usage.cpuSystemUs = cpu.systemUsec;
      const mem = single(dir, 'memory.peak');
      if (mem !== undefined) usage.memoryPeakBytes = mem;
      const pids = single(dir, 'pids.peak');
      if (pids !== undefined) usage.pidsPeak = pids;
    }
    return { exitCode: status.code, signal: status.signal, reason, durationMs, usage };
  }

  #requireCgroup(what: string): Cgroup {
    if (!this.cgroup) {
      throw new CgroupUnavailableError(`cannot ${what} container ${this.id}: it has no cgroup (rootless, without a delegated subtree)`);
    }
    return this.cgroup;
  }
}

/** As root, with a user namespace whose root is not Node's own uid and gid. */
function isRootWithRangeMap(c: ContainerConfig): boolean {
  if (c.userns === null || process.geteuid?.() !== 0) return false;
  const rootOf = (maps: readonly IdMapping[]) => maps.find((m) => m.containerId === 0)?.hostId;
  const uid = rootOf(c.userns.uidMap), gid = rootOf(c.userns.gidMap);
  return uid !== undefined && gid !== undefined && (uid !== 0 || gid !== 0);
}

function collect(stream: Readable | null): Promise<string> {
  if (!stream) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('error', reject);
    stream.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * The container's cgroup: as root under `<mount>/nsbox` (or options.cgroupParent); rootless,
 * only where the user may make one (a delegated subtree given as cgroupParent, or limits asked for).
 */
async function makeCgroup(c: ContainerConfig): Promise<Cgroup | null> {
  const isRoot = process.geteuid?.() === 0;
  if (!isRoot && c.cgroupParent === undefined && c.resources === undefined) return null;
  let mount: string;
  try {
    mount = cgroup2().mount; // read once per process: this is on every container's start path
  } catch (e) {
    if (e instanceof CgroupUnavailableError && c.resources === undefined) return null; // no cgroup2 at all: no limits asked, none needed
    throw e;
  }
  const parent = c.cgroupParent ?? (isRoot ? path.join(mount, 'nsbox') : undefined);
  try {
    return await Cgroup.create(c.id, { ...(parent ? { parent } : {}), ...(c.resources ? { resources: c.resources } : {}) });
  } catch (e) {
    if (e instanceof NsboxSystemError && e.code === 'EEXIST') {
      throw new InvalidArgValueError('options.id', c.id, `is in use: the cgroup ${path.join(parent ?? '', c.id)} exists`);
    }
    throw e;
  }
}
