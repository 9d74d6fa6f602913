#!/usr/bin/env node
// `nsbox run [options] [--] command…`: a container from the shell, options mirroring
// ContainerOptions. Exit status: the program's, 128+N when signal N ended it, 124 on timeout
// (as timeout(1)), 125 when nsbox itself failed, 126 when the program cannot run and 127
// when it is not there (as docker run).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Container, type ContainerMount, type ContainerOptions } from './container/index';
import { renameOptionError } from './errors';
import { signalNumber } from './signals';

const USAGE = `Usage: nsbox run [options] [--] command [args…]

Runs a command in a new container. Without --rootfs, the embedded default: the host's /usr
read-only, a fresh /tmp, a minimal /etc. nsbox's options end at the command: what follows
is the command's. SIGINT, SIGTERM and SIGHUP go to the program if it catches them, else
they end the container (as they would end a program that is not pid 1); a second one ends
it in any case. Exit status: the program's; 128+N after signal N; 124 after --timeout; 125
when nsbox failed; 126 when the program cannot run; 127 when it is not there.

Options:
  --rootfs DIR            root filesystem directory
  --read-only             mount the root read-only
  --overlay               copy-on-write over --rootfs (changes are discarded)
  -m, --memory BYTES      memory limit (e.g. 256M)
  --pids N                process limit (a positive number)
  --cpus N                CPU limit in CPUs (e.g. 0.5)
  --network none|host     own network namespace with loopback only (default), or the host's
  -v, --volume SRC:DST[:ro|rw]   bind mount (repeatable)
  --tmpfs DST[:SIZE]      tmpfs mount (repeatable)
  --mount KEY=VALUE,…     a mount as docker run's --mount (repeatable):
                            type=bind,source=SRC,target=DST[,readonly][,bind-recursive=disabled][,devices]
                            type=tmpfs,target=DST[,tmpfs-size=64M][,tmpfs-mode=1777][,readonly]
                            type=overlay,target=DST,lower=DIR[:DIR…][,upper=DIR,work=DIR][,readonly]
                          (mounts are made in the order given, with -v and --tmpfs)
  -u, --user UID[:GID]    user inside the container (default 0:0)
  -h, --hostname NAME     hostname (default: the container id's first 12 characters)
  -e, --env KEY=VALUE     environment variable (repeatable; replaces the default environment)
  -w, --workdir DIR       working directory (default /)
  -t, --tty               run on a pseudo-terminal (stdin's end is ^D on it)
  --timeout MS            kill the whole container after MS milliseconds
  --cap-add CAP, --cap-drop CAP   change the default capability set: NET_ADMIN or
                          CAP_NET_ADMIN, ALL (repeatable)
  --seccomp default|unconfined    seccomp profile (default: Docker's)
  --bundle DIR            run an OCI bundle (its config.json) instead of the options above
                          and a command (only --tty and --timeout go with it)
  --help                  this text
`;

function die(message: string): never {
  process.stderr.write(`nsbox: ${message}\n`);
  process.exit(125);
}

const OPTIONS = {
  rootfs: { type: 'string' },
  'read-only': { type: 'boolean' },
  overlay: { type: 'boolean' },
  memory: { type: 'string', short: 'm' },
  pids: { type: 'string' },
  cpus: { type: 'string' },
  network: { type: 'string' },
  volume: { type: 'string', short: 'v', multiple: true },
  tmpfs: { type: 'string', multiple: true },
  mount: { type: 'string', multiple: true },
  user: { type: 'string', short: 'u' },
  hostname: { type: 'string', short: 'h' },
  env: { type: 'string', short: 'e', multiple: true },
  workdir: { type: 'string', short: 'w' },
  tty: { type: 'boolean', short: 't' },
  timeout: { type: 'string' },
  'cap-add': { type: 'string', multiple: true },
  'cap-drop': { type: 'string', multiple: true },
  seccomp: { type: 'string' },
  bundle: { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** What --bundle takes beside it: how to run the bundle, not what to run. */
const WITH_BUNDLE = new Set(['bundle', 'tty', 'timeout', 'help']);

/**
 * nsbox's options end at the command (or at `--`): `nsbox run ls -t /` passes -t to ls, as
 * docker run and env(1) do.
 */
function splitArgs(args: string[]): { values: RunValues; command: string[] } {
  const { tokens } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: false, tokens: true });
  const cut = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  const values = parseRunOptions(cut ? args.slice(0, cut.index) : args);
  const command = cut ? args.slice(cut.kind === 'option-terminator' ? cut.index + 1 : cut.index) : [];
  return { values, command };
}

/** The mount options, in the order given (a later mount may cover an earlier one). */
type MountFlag = { flag: '--volume' | '--tmpfs' | '--mount'; value: string };
type RunValues = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'] & { mounts: MountFlag[] };

function parseRunOptions(args: string[]): RunValues {
  const { values, tokens } = parseArgs({ args, options: OPTIONS, allowPositionals: false, strict: true, tokens: true });
  const mounts: MountFlag[] = [];
  for (const t of tokens) {
    if (t.kind === 'option' && (t.name === 'volume' || t.name === 'tmpfs' || t.name === 'mount') && t.value !== undefined) {
      mounts.push({ flag: `--${t.name}`, value: t.value });
    }
  }
  return { ...values, mounts };
}

/** docker run's --mount: comma-separated KEY=VALUE (or a bare KEY for a true flag). */
function mountOption(spec: string): ContainerMount {
  const bad = (why: string): never => die(`--mount ${spec}: ${why}`);
  const fields = new Map<string, string>();
  const alias: Record<string, string> = { src: 'source', destination: 'target', dst: 'target', ro: 'readonly' };
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    const key = i < 0 ? part : part.slice(0, i);
    const name = alias[key] ?? key;
    if (!name) bad('an empty field');
    if (fields.has(name)) bad(`'${key}' given twice`);
    fields.set(name, i < 0 ? 'true' : part.slice(i + 1));
  }
  const take = (key: string): string | undefined => {
    const value = fields.get(key);
    fields.delete(key);
    return value;
  };
  const flag = (key: string): boolean => {
    const value = take(key);
    if (value === undefined || value === 'true' || value === '1') return value !== undefined;
    if (value === 'false' || value === '0') return false;
    return bad(`${key}=${value}: expected true or false`);
  };
  const type = take('type') ?? 'volume';
  const target = take('target') ?? bad('a target is required (target=DST)');
  let mount: ContainerMount;
  if (type === 'bind') {
    const source = take('source') ?? bad('a bind needs source=SRC');
    const recursive = take('bind-recursive') ?? 'enabled';
    if (recursive !== 'enabled' && recursive !== 'disabled') bad(`bind-recursive=${recursive}: expected enabled or disabled`);
    // devices: its device nodes may be opened (binds are nodev otherwise: README).
    mount = { type: 'bind', source, target, readonly: flag('readonly'), recursive: recursive === 'enabled', devices: flag('devices') };
  } else if (type === 'tmpfs') {
    const size = take('tmpfs-size');
    const mode = take('tmpfs-mode');
    if (mode !== undefined && !/^[0-7]{1,4}$/.test(mode)) bad(`tmpfs-mode=${mode}: expected octal permissions such as 1777`);
    mount = { type: 'tmpfs', target, readonly: flag('readonly'), ...(size !== undefined ? { size } : {}), ...(mode !== undefined ? { mode: parseInt(mode, 8) } : {}) };
  } else if (type === 'overlay') {
    const lower = take('lower') ?? bad('an overlay needs lower=DIR[:DIR…] (uppermost first)');
    const upper = take('upper');
    const work = take('work');
    mount = { type: 'overlay', target, lower: lower.split(':'), readonly: flag('readonly'), ...(upper !== undefined ? { upper } : {}), ...(work !== undefined ? { work } : {}) };
  } else {
    return bad(`type=${type}: expected bind, tmpfs or overlay (nsbox has no named volumes)`);
  }
  if (fields.size > 0) bad(`${[...fields.keys()].join(', ')}: not known for type=${type}`);
  return mount;
}

const capability = (name: string): string => (name === 'ALL' || name.startsWith('CAP_') ? name : `CAP_${name.toUpperCase()}`);

function containerOptions(values: RunValues, command: string[]): ContainerOptions {
  if (command.length === 0) die('no command given (nsbox run [options] [--] command…)');
  const mounts = values.mounts.map(({ flag, value }): ContainerMount => {
    if (flag === '--mount') return mountOption(value);
    if (flag === '--volume') {
      const [source, target, mode, ...extra] = value.split(':');
      if (!source || !target || extra.length > 0 || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) die(`--volume ${value}: expected SRC:DST[:ro|rw]`);
      return { type: 'bind', source, target, readonly: mode === 'ro' };
    }
    const [target, size, ...extra] = value.split(':');
    if (!target || extra.length > 0) die(`--tmpfs ${value}: expected DST[:SIZE]`);
    return { type: 'tmpfs', target, ...(size ? { size } : {}) };
  });
  const resources: NonNullable<ContainerOptions['resources']> = {};
  if (values.memory !== undefined) resources.memory = { max: values.memory as never };
  if (values.pids !== undefined) {
    if (!/^[1-9]\d*$/.test(values.pids)) die(`--pids ${values.pids}: expected a positive whole number`);
    resources.pids = { max: Number(values.pids) };
  }
  if (values.cpus !== undefined) {
    const cpus = Number(values.cpus);
    // cpu.max's quota is at least 1 ms per 100 ms period.
    if (!(cpus >= 0.01)) die(`--cpus ${values.cpus}: expected a number of CPUs, at least 0.01`);
    resources.cpu = { max: { quota: Math.round(cpus * 100_000), period: 100_000 } };
  }
  let user: ContainerOptions['user'];
  if (values.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(values.user);
    if (!m) die(`--user ${values.user}: expected UID[:GID] (numbers: the container has no user database nsbox reads)`);
    user = { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
  }
  const env = values.env === undefined ? undefined : Object.fromEntries(values.env.map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? [e, process.env[e] ?? ''] : [e.slice(0, i), e.slice(i + 1)];
  }));
  return {
    command,
    ...(values.rootfs !== undefined || values['read-only'] || values.overlay
      ? { rootfs: { ...(values.rootfs !== undefined ? { path: values.rootfs } : {}), readonly: !!values['read-only'], overlay: !!values.overlay } }
      : {}),
    ...(Object.keys(resources).length ? { resources } : {}),
    ...(values.network !== undefined ? { network: values.network as 'none' | 'host' } : {}),
    ...(mounts.length ? { mounts } : {}),
    ...(user ? { user } : {}),
    ...(values.hostname !== undefined ? { hostname: values.hostname } : {}),
    ...(env ? { env } : {}),
    ...(values.workdir !== undefined ? { cwd: values.workdir } : {}),
    ...(values['cap-add'] || values['cap-drop']
      ? { capabilities: { add: (values['cap-add'] ?? []).map(capability) as never, drop: (values['cap-drop'] ?? []).map(capability) as never } }
      : {}),
    ...(values.seccomp !== undefined ? { seccomp: values.seccomp as 'default' } : {}),
  };
}

/** The flag each option comes from. */
const FLAGS: Record<string, string> = {
  command: 'the command', rootfs: '--rootfs/--read-only/--overlay', resources: '--memory/--pids/--cpus', network: '--network',
  user: '--user', hostname: '--hostname', env: '--env', cwd: '--workdir', capabilities: '--cap-add/--cap-drop',
  seccomp: '--seccomp', timeout: '--timeout', terminalSize: '--tty',
};

/** An error about an option, said as the flag it came from: "'--workdir' (as options.cwd)"; mounts by their -v/--tmpfs/--mount. */
function namedAsFlag(e: unknown, values: RunValues): unknown {
  return renameOptionError(e, (key, i) => {
    if (key !== 'mounts' || i === undefined) return FLAGS[key];
    const m = values.mounts[i];
    return m ? `${m.flag} ${m.value}` : '--volume/--tmpfs/--mount';
  });
}

/** Whether the process catches `signal` (/proc/PID/status SigCgt): a pid 1 that does not never sees it. */
function catches(pid: number, signal: NodeJS.Signals): boolean {
  try {
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(signalNumber('signal', signal) - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (sub !== 'run') {
    process.stderr.write(`nsbox: unknown command '${sub}'\n\n${USAGE}`);
    return 125;
  }
  const { values, command } = splitArgs(rest);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const tty = !!values.tty;
  const how: Partial<ContainerOptions> = { stdio: tty ? 'pty' : 'inherit' };
  if (values.timeout !== undefined) how.timeout = Number(values.timeout);
  // A terminal that reports no size (0×0, as some do) keeps the default 80×24.
  if (tty && process.stdout.isTTY && process.stdout.columns > 0 && process.stdout.rows > 0) {
    how.terminalSize = { cols: process.stdout.columns, rows: process.stdout.rows };
  }
  if (values.bundle !== undefined) {
    const ignored = Object.keys(values).filter((k) => !WITH_BUNDLE.has(k) && k !== 'mounts'); // (mounts: -v/--tmpfs/--mount again)
    if (ignored.length > 0 || command.length > 0) {
      die(`--bundle runs the bundle's own config.json: ${ignored.length > 0 ? ignored.map((k) => `--${k}`).join(', ') : 'a command'} cannot go with it (edit config.json instead)`);
    }
  }

  // Signals to nsbox are the program's, as if it were not pid 1: one it catches is passed on,
  // one it does not (its default action is to end) ends the container, as would a second.
  let container: Container | undefined;
  let received: NodeJS.Signals | undefined;
  let endedFor: NodeJS.Signals | undefined;
  const end = (c: Container, signal: NodeJS.Signals) => {
    endedFor ??= signal;
    void c.kill('SIGKILL', { all: true }).catch(() => undefined);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    const c = container;
    const first = received === undefined;
    received ??= signal;
    if (!c) return; // still being made: handled once it is
    if (first && c.state === 'running' && catches(c.pid, signal)) void c.kill(signal).catch(() => undefined);
    else end(c, signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  let rawMode = false;
  try {
    const c = values.bundle !== undefined
      ? await Container.fromBundle(values.bundle, how)
      : await Container.create({ ...containerOptions(values, command), ...how });
    container = c;
    try {
      if (received !== undefined) return 128 + signalNumber('signal', received); // before it ran
      let output: Promise<unknown> = Promise.resolve();
      if (tty && c.terminal) {
        const term = c.terminal;
        if (process.stdin.isTTY) {
          process.stdin.setRawMode(true);
          rawMode = true;
        }
        // End of input on a terminal is VEOF (^D) at the start of a line, not a close.
        let atLineStart = true;
        process.stdin.on('data', (d: Buffer) => {
          if (d.length > 0) atLineStart = d[d.length - 1] === 0x0a || d[d.length - 1] === 0x0d;
        });
        process.stdin.once('end', () => {
          if (!term.writableEnded && !term.destroyed) term.write(atLineStart ? '\x04' : '\x04\x04');
        });
        process.stdin.pipe(term, { end: false });
        term.pipe(process.stdout, { end: false });
        // Everything the program wrote: the terminal ends once it and its children are gone.
        output = new Promise((resolve) => {
          term.once('end', resolve);
          term.once('close', resolve);
        });
        process.stdout.on('resize', () => {
          if (term.fd >= 0 && process.stdout.columns > 0 && process.stdout.rows > 0) term.resize(process.stdout.columns, process.stdout.rows);
        });
      }
      // Whoever reads our output went away (| head): end the container, as SIGPIPE would end us,
      // and let the terminal's output run dry.
      process.stdout.on('error', () => {
        end(c, 'SIGPIPE');
        c.terminal?.unpipe(process.stdout).resume();
      });
      await c.start();
      const r = await c.wait();
      // At most 2 s more for what the terminal still holds, and for our stdout to take it.
      // (Awaited timers, not unref'd ones: a promise alone keeps no process alive.)
      const within = (p: Promise<unknown>) => {
        let timer: NodeJS.Timeout | undefined;
        return Promise.race([p, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]).finally(() => clearTimeout(timer));
      };
      await within(output);
      if (process.stdout.writableLength > 0 && !process.stdout.destroyed) await within(new Promise((resolve) => process.stdout.once('drain', resolve)));
      if (r.reason === 'timeout') process.stderr.write(`nsbox: container ${c.id} killed after its timeout (${how.timeout} ms)\n`);
      else if (r.reason === 'oom_kill') process.stderr.write(`nsbox: container ${c.id} ran out of memory (OOM kill)\n`);
      else if (r.reason === 'pids_max') process.stderr.write(`nsbox: container ${c.id} hit its process limit\n`);
      if (r.reason === 'timeout') return 124;
      if (endedFor !== undefined) return 128 + signalNumber('signal', endedFor);
      return r.exitCode ?? 128 + signalNumber('signal', r.signal!);
    } finally {
      await c.delete();
    }
  } catch (e) {
    // As docker run: 127 when the program is not there, 126 when it cannot be run.
    const err = e as { code?: string; step?: string };
    if (err.step === 'exec' && (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOEXEC')) {
      process.stderr.write(`nsbox: ${(e as Error).message}\n`);
      return err.code === 'ENOENT' ? 127 : 126;
    }
    throw values.bundle === undefined ? namedAsFlag(e, values) : e;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    if (rawMode) process.stdin.setRawMode(false);
    if (tty) {
      process.stdin.unpipe();
      process.stdin.pause();
    }
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    // A hint is in the message already (errors.ts withHint).
    (e: Error) => die(e.message),
  );
}
