#!/usr/bin/env node
// `nsbox run [options] -- command…`: a container from the shell, options mirroring
// ContainerOptions. Exit status: the program's, 128+N when signal N ended it, 124 on timeout
// (as timeout(1)), 125 when nsbox itself failed (as docker run).
import { parseArgs } from 'node:util';
import { Container, type ContainerMount, type ContainerOptions } from './container/index';
import { signalNumber } from './signals';

const USAGE = `Usage: nsbox run [options] [--] command [args…]

Runs a command in a new container. Without --rootfs, the embedded default: the host's /usr
read-only, a fresh /tmp, a minimal /etc.

Options:
  --rootfs DIR            root filesystem directory
  --read-only             mount the root read-only
  --overlay               copy-on-write over --rootfs (changes are discarded)
  -m, --memory BYTES      memory limit (e.g. 256M)
  --pids N                process limit
  --cpus N                CPU limit in CPUs (e.g. 0.5)
  --network none|host     own network namespace with loopback only (default), or the host's
  -v, --volume SRC:DST[:ro]   bind mount (repeatable)
  --tmpfs DST[:SIZE]      tmpfs mount (repeatable)
  -u, --user UID[:GID]    user inside the container (default 0:0)
  -h, --hostname NAME     hostname (default: the container id)
  -e, --env KEY=VALUE     environment variable (repeatable; replaces the default environment)
  -w, --workdir DIR       working directory (default /)
  -t, --tty               run on a pseudo-terminal
  --timeout MS            kill the whole container after MS milliseconds
  --cap-add CAP, --cap-drop CAP   change Docker's default capability set (repeatable)
  --seccomp default|unconfined    seccomp profile (default: Docker's)
  --bundle DIR            run an OCI bundle (its config.json) instead of the options above
  --help                  this text
`;

function die(message: string): never {
  process.stderr.write(`nsbox: ${message}\n`);
  process.exit(125);
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] !== 'run') {
    process.stdout.write(USAGE);
    return argv[0] === '--help' || argv[0] === undefined ? 0 : 125;
  }
  const { values, positionals } = parseArgs({
    args: argv.slice(1),
    allowPositionals: true,
    strict: true,
    options: {
      rootfs: { type: 'string' },
      'read-only': { type: 'boolean' },
      overlay: { type: 'boolean' },
      memory: { type: 'string', short: 'm' },
      pids: { type: 'string' },
      cpus: { type: 'string' },
      network: { type: 'string' },
      volume: { type: 'string', short: 'v', multiple: true },
      tmpfs: { type: 'string', multiple: true },
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
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  let options: ContainerOptions;
  if (values.bundle !== undefined) {
    options = await Container.bundleOptions(values.bundle);
  } else {
    if (positionals.length === 0) die('no command given (nsbox run [options] -- command…)');
    const mounts: ContainerMount[] = [];
    for (const v of values.volume ?? []) {
      const [source, target, mode] = v.split(':');
      if (!source || !target || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) die(`--volume ${v}: expected SRC:DST[:ro]`);
      mounts.push({ type: 'bind', source, target, readonly: mode === 'ro' });
    }
    for (const t of values.tmpfs ?? []) {
      const [target, size] = t.split(':');
      mounts.push({ type: 'tmpfs', target, ...(size ? { size } : {}) });
    }
    const resources: NonNullable<ContainerOptions['resources']> = {};
    if (values.memory !== undefined) resources.memory = { max: values.memory as never };
    if (values.pids !== undefined) resources.pids = { max: Number(values.pids) };
    if (values.cpus !== undefined) {
      const cpus = Number(values.cpus);
      if (!(cpus > 0)) die(`--cpus ${values.cpus}: expected a positive number`);
      resources.cpu = { max: { quota: Math.round(cpus * 100_000), period: 100_000 } };
    }
    let user: ContainerOptions['user'];
    if (values.user !== undefined) {
      const [uid, gid = uid] = values.user.split(':').map(Number);
      user = { uid, gid };
    }
    const env = values.env === undefined ? undefined : Object.fromEntries(values.env.map((e) => {
      const i = e.indexOf('=');
      return i < 0 ? [e, process.env[e] ?? ''] : [e.slice(0, i), e.slice(i + 1)];
    }));
    options = {
      command: positionals,
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
      ...(values['cap-add'] || values['cap-drop'] ? { capabilities: { add: (values['cap-add'] ?? []) as never, drop: (values['cap-drop'] ?? []) as never } } : {}),
      ...(values.seccomp !== undefined ? { seccomp: values.seccomp as 'default' } : {}),
    };
  }
  if (values.timeout !== undefined) options.timeout = Number(values.timeout);
  const tty = values.tty || options.stdio === 'pty';
  options.stdio = tty ? 'pty' : 'inherit';
  // A terminal that reports no size (0×0, as some do) keeps the default 80×24.
  if (tty && process.stdout.isTTY && process.stdout.columns > 0 && process.stdout.rows > 0) {
    options.terminalSize = { cols: process.stdout.columns, rows: process.stdout.rows };
  }

  const c = await Container.create(options);
  try {
    const forward = (sig: NodeJS.Signals) => void c.kill(sig).catch(() => undefined);
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    if (!tty) for (const s of signals) process.on(s, forward);
    if (tty && c.terminal) {
      const term = c.terminal;
      if (process.stdin.isTTY) process.stdin.setRawMode(true);
      process.stdin.pipe(term);
      term.pipe(process.stdout);
      process.stdout.on('resize', () => {
        if (process.stdout.columns > 0 && process.stdout.rows > 0) term.resize(process.stdout.columns, process.stdout.rows);
      });
    }
    await c.start();
    const r = await c.wait();
    if (tty) {
      process.stdin.unpipe();
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    for (const s of signals) process.off(s, forward);
    if (r.reason === 'timeout') process.stderr.write(`nsbox: container ${c.id} killed after its timeout (${options.timeout} ms)\n`);
    else if (r.reason === 'oom_kill') process.stderr.write(`nsbox: container ${c.id} ran out of memory (OOM kill)\n`);
    else if (r.reason === 'pids_max') process.stderr.write(`nsbox: container ${c.id} hit its process limit\n`);
    if (r.reason === 'timeout') return 124;
    return r.exitCode ?? 128 + signalNumber('signal', r.signal!);
  } finally {
    await c.delete();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error & { code?: string; hint?: string }) => die(`${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}`),
  );
}
