#!/usr/bin/env node
// bench/container: `Container.run` of /bin/true in a busybox rootfs (mount, uts, ipc, pid, net
// namespaces, pivot_root, /proc, /dev, a cgroup with memory and pids limits where the host's
// cgroup2 has them) against `runc run` of the equivalent OCI bundle, both from one warm Node
// process: latency interleaved, throughput with N containers in flight, latency with 1000
// sleeping containers alive, Node's RSS per live container, and where an nsbox run's time goes.
// See bench/README.md.
//
//   node --expose-gc bench/container.js [--runs N] [--warmup N] [--duration S] [--concurrency 1,2,8,32]
//        [--live N] [--live-runs N] [--limits | --no-limits] [--sections latency,throughput,live]
//        [--no-runc-spec] [--json]
//   node bench/container.js --vm [the options above]     # the same inside the VM lane (scripts/vm-test.sh)
//   NSBOX_VM_KERNEL=trixie-backports:6.18 node bench/container.js --vm …  # on that Debian suite's kernel
//
// Needs root, runc (`apt-get install runc`), busybox-static, and dist/ built (`npm run build:ts`).
// Everything it makes (containers, runc state, cgroups, the temp dir) is removed at the end,
// on failure and on Ctrl-C too.
'use strict';
const { summarize, drift, machine, machineJiffies, cpuTimes, fdCount } = require('./stats');

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const REPO = path.join(__dirname, '..');

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const opts = {
    runs: Number(process.env.NSBOX_BENCH_RUNS ?? 200),
    warmup: Number(process.env.NSBOX_BENCH_WARMUP ?? 20),
    duration: Number(process.env.NSBOX_BENCH_DURATION ?? 10),
    concurrency: [1, 2, 8, 32],
    live: 1000,
    liveRuns: null, // default: runs
    limits: 'auto',
    sections: ['latency', 'throughput', 'live'],
    runcSpec: true,
    json: false,
    vm: false,
    passThrough: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? a.split(/=(.*)/s, 2) : [a, undefined];
    const raw = () => inline ?? argv[++i];
    const num = () => Number(raw());
    let pass = true;
    if (flag === '--runs' || flag === '-n') opts.runs = num();
    else if (flag === '--warmup') opts.warmup = num();
    else if (flag === '--duration') opts.duration = num();
    else if (flag === '--concurrency') opts.concurrency = String(raw()).split(',').map(Number);
    else if (flag === '--live') opts.live = num();
    else if (flag === '--live-runs') opts.liveRuns = num();
    else if (flag === '--limits') opts.limits = 'on';
    else if (flag === '--no-limits') opts.limits = 'off';
    else if (flag === '--sections') opts.sections = String(raw()).split(',').filter(Boolean);
    else if (flag === '--no-runc-spec') opts.runcSpec = false;
    else if (flag === '--json') opts.json = true;
    else if (flag === '--vm') (opts.vm = true), (pass = false);
    else if (flag === '--help' || flag === '-h') {
      console.log(
        'usage: node --expose-gc bench/container.js [--runs N (200)] [--warmup N (20)] [--duration S (10)]\n' +
          '         [--concurrency 1,2,8,32] [--live N (1000)] [--live-runs N (= runs)] [--limits | --no-limits]\n' +
          '         [--sections latency,throughput,live] [--no-runc-spec] [--json] [--vm]',
      );
      process.exit(0);
    } else {
      console.error(`bench/container: unknown argument ${a}`);
      process.exit(2);
    }
    if (pass) opts.passThrough.push(...(inline === undefined && argv[i] !== a ? [a, argv[i]] : [a]));
  }
  if (opts.liveRuns === null) opts.liveRuns = opts.runs;
  for (const k of ['runs', 'warmup', 'live', 'liveRuns']) {
    if (!Number.isInteger(opts[k]) || opts[k] < 0) {
      console.error(`bench/container: --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a non-negative integer`);
      process.exit(2);
    }
  }
  if (!(opts.duration > 0)) {
    console.error('bench/container: --duration must be a positive number of seconds');
    process.exit(2);
  }
  if (opts.concurrency.some((n) => !Number.isInteger(n) || n < 1)) {
    console.error('bench/container: --concurrency must list positive integers');
    process.exit(2);
  }
  const known = ['latency', 'throughput', 'live'];
  if (opts.sections.some((s) => !known.includes(s))) {
    console.error(`bench/container: --sections takes ${known.join(', ')}`);
    process.exit(2);
  }
  if (opts.runs < 1) opts.runs = 1;
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = opts.json ? () => {} : (...a) => console.log(...a);

if (opts.vm) {
  runInVm();
  return;
}

// ---------------------------------------------------------------- the library, with stage marks

const { Container } = require('../dist/container');
const optionsModule = require('../dist/container/options');
const securityModule = require('../dist/container/security');
const filesystemModule = require('../dist/container/filesystem');
const spawnModule = require('../dist/spawn');
const { native } = require('../dist/native');
const { Cgroup } = require('../dist/cgroup/cgroup');
const discoverModule = require('../dist/cgroup/discover');
const { drainNetnsPool } = require('../dist/netns-pool');
const { CgroupControllerError } = require('../dist/errors');
const { dockerDefaultProfile } = require('../dist/seccomp/docker-default');
const { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULT_PATH } = require('../dist/container/defaults');

// Container.create calls these through their modules' exports objects (CommonJS output of
// tsc: `(0, options_1.normalizeOptions)(…)`), so wrapping the exports marks, from outside
// lib/, where each step of a run begins and ends. Marks are kept only while `marks` is set
// (the serial sections); a mark is two performance.now() calls.
let marks = null;
function mark(name) {
  if (marks) marks[name] = performance.now();
}
function wrapSync(obj, key, name) {
  const real = obj[key];
  obj[key] = function (...args) {
    mark(`${name}0`);
    try {
      return real.apply(this, args);
    } finally {
      mark(`${name}1`);
    }
  };
}
function wrapAsync(obj, key, name) {
  const real = obj[key];
  obj[key] = function (...args) {
    mark(`${name}0`);
    const m = marks;
    const p = real.apply(this, args);
    return p.then((v) => {
      if (m) m[`${name}1`] = performance.now();
      return v;
    });
  };
}
wrapSync(optionsModule, 'normalizeOptions', 'validate');
wrapSync(securityModule, 'securitySteps', 'security');
wrapAsync(Cgroup, 'create', 'cgcreate');
wrapSync(filesystemModule, 'filesystemSteps', 'fs');
wrapSync(filesystemModule, 'protectionSteps', 'protect');
wrapAsync(spawnModule, 'spawnHeld', 'held');
{
  // native.spawn, asked for its timing: with CLONE_VM|CLONE_VFORK (Container.run as root) the
  // child's setup and execve happen inside this call, and the child stamps where each begins.
  const real = native.spawn;
  native.spawn = function (plan, options, onEvent) {
    mark('clone0');
    const m = marks;
    try {
      const r = real.call(this, plan, m ? { ...options, timing: true } : options, onEvent);
      if (m && r.timing) m.timing = r.timing;
      return r;
    } finally {
      mark('clone1');
    }
  };
}
wrapAsync(Container.prototype, 'start', 'start');
wrapAsync(Container.prototype, 'wait', 'wait');
wrapAsync(Container.prototype, 'delete', 'delete');

/**
 * One run's stages from its marks (ms). The brief's five — validate, prepare, clone, child
 * setup, exec — and what follows them: run + exit, delete.
 */
function stagesOf(m, t0, t1) {
  const d = (a, b) => (m[a] !== undefined && m[b] !== undefined ? m[b] - m[a] : NaN);
  const s = {
    validate: d('validate0', 'validate1'), // normalizeOptions
    // securitySteps: compiles the seccomp filter; not called at all once the configuration's
    // plan is kept (lib/container/plans.ts), nor before the cgroup then.
    seccomp: m.security1 !== undefined ? d('security0', 'security1') : 0,
    cgroup: m.cgcreate1 - (m.security1 ?? m.validate1), // makeCgroup: cgroupHost() + Cgroup.create (mkdir, limits)
    hostScan: m.cgcreate0 - (m.security1 ?? m.validate1), // makeCgroup's cgroupHost(): reads /proc/self/mountinfo
    mkdir: d('cgcreate0', 'cgcreate1'), // Cgroup.create: cgroupHost() again, mkdir, controllers, limits
    plan: m.held0 - m.cgcreate1, // filesystemSteps + protectionSteps + spawn options
    encode: d('held0', 'clone0'), // spawnWith: validation, plan encoding, cgroup fd, netns from the pool
    clone: d('clone0', 'clone1'), // native.spawn: clone3 (namespaces, CLONE_INTO_CGROUP)
    setup: d('clone1', 'held1'), // the child runs the plan (mounts, pivot_root, caps, seccomp) until held, + wake-up
    exec: d('start0', 'start1'), // start(): release → execve succeeded
    runExit: m.wait1 - m.start1, // /bin/true runs, exits, pid namespace ends, pidfd → reaped
    delete: d('delete0', 'delete1'), // cgroup.kill, wait for empty, rmdir, close the fds
  };
  if (m.timing) {
    // Container.run as root: one vfork'd clone, no hold. native.spawn returns once the child
    // has exec'd; its stamps split the call into clone, the child's setup and its execve.
    s.plan = m.clone0 - m.cgcreate1; // filesystem + protection steps, spawn's validation and encoding
    s.encode = NaN;
    s.clone = m.timing.clone;
    s.setup = m.timing.setup;
    s.exec = m.timing.exec;
    s.runExit = m.wait1 - m.clone1;
    s.prepare = s.seccomp + s.cgroup + s.plan;
  } else {
    s.prepare = s.seccomp + s.cgroup + s.plan + s.encode;
  }
  s.other = t1 - t0 - (s.validate + s.prepare + s.clone + s.setup + s.exec + s.runExit + s.delete);
  s.total = t1 - t0;
  return s;
}
const STAGE_ROWS = [
  ['validate', 'validate      normalizeOptions'],
  ['prepare', 'prepare       = seccomp + cgroup + plan + encode'],
  ['seccomp', '  seccomp       securitySteps (Docker profile → BPF)'],
  ['cgroup', '  cgroup        cgroupHost() + Cgroup.create'],
  ['hostScan', '    host scan     makeCgroup: cgroupHost()'],
  ['mkdir', '    create        Cgroup.create'],
  ['plan', '  plan          steps (+ encoding with vfork)'],
  ['encode', '  encode        spawnWith until native.spawn'],
  ['clone', 'clone         clone3 until the child runs'],
  ['setup', 'child setup   plan steps (until held)'],
  ['exec', 'exec          execve until Node goes on'],
  ['runExit', 'run + exit    /bin/true, pid ns end, reap'],
  ['delete', 'delete        cgroup.kill, rmdir'],
  ['other', 'other         between the marks'],
  ['total', 'total         Container.run'],
];

// ---------------------------------------------------------------- statistics

function stageSummary(list) {
  const out = {};
  for (const [k] of STAGE_ROWS) {
    const xs = list.map((s) => s[k]).filter(Number.isFinite);
    out[k] = xs.length ? summarize(xs) : null;
  }
  return out;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/**
 * Waits until the machine is quiet (under 15 % busy over half a second, at most `maxMs`):
 * the kernel frees net namespaces and cgroups on workers after their containers are gone,
 * and that tail of one section would otherwise fall on the next. Returns the ms waited.
 */
async function settle(maxMs = 30_000) {
  const t0 = performance.now();
  for (;;) {
    const a = machineJiffies();
    await sleep(500);
    const b = machineJiffies();
    if ((b.busy - a.busy) / Math.max(1, b.all - a.all) < 0.15 || performance.now() - t0 > maxMs) break;
  }
  return performance.now() - t0;
}
function memory() {
  global.gc?.();
  global.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

// ---------------------------------------------------------------- what this run makes, and its cleanup

const RUN_TAG = `${process.pid}`;
const state = {
  tmp: null,
  rootfs: null,
  containers: new Set(), // nsbox containers created outside Container.run (the live section)
  runcChildren: new Map(), // runc id → its ChildProcess, while it runs
  runcIds: new Set(), // every runc id used (state is checked for these)
  hierarchies: [], // { mount, fstype, benchExisted }
  cg2: null, // the cgroup2 mount
  nsboxParent: null, // <cgroup2>/nsbox-bench/nsbox-<pid>
  rootSubtreeBefore: null,
  // runc's state directory for this run (`runc --root`): its own, so that nothing of another
  // runc user's is ever touched and nothing of ours can stay in /run/runc.
  runcRoot: `/run/nsbox-bench-runc-${process.pid}`,
  stagingExisted: fs.existsSync('/run/nsbox'),
  cleaned: false,
  leftovers: [],
};
let aborted = false;
class Interrupted extends Error {}
/** A failure to report in one line, without a stack (exit 2). */
class Refused extends Error {}
const checkAbort = () => {
  if (aborted) throw new Interrupted('interrupted');
};

function cgroupMounts() {
  const out = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-');
    if (sep < 0) continue;
    const fstype = parts[sep + 1];
    if (fstype === 'cgroup' || fstype === 'cgroup2') out.push({ mount: parts[4].replace(/\\040/g, ' '), fstype });
  }
  return out;
}
const words = (file) => {
  try {
    return fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
};
function rmdirQuiet(dir) {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (e) {
    if (e.code !== 'ENOENT' && e.code !== 'EBUSY' && e.code !== 'ENOTEMPTY') throw e;
    return false;
  }
}
/** A cgroup2 group of ours and everything below it: killed, waited for, removed (deepest first). */
async function removeCgroup2Tree(dir) {
  if (!fs.existsSync(dir)) return 0;
  let removed = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removed += await removeCgroup2Tree(path.join(dir, e.name));
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  } catch {}
  for (let i = 0; i < 200 && /populated 1/.test(fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8')); i++) await sleep(10);
  if (rmdirQuiet(dir)) removed++;
  return removed;
}

function runcSync(args) {
  return childProcess.spawnSync(RUNC, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 30_000 });
}

async function cleanup() {
  if (state.cleaned) return;
  state.cleaned = true;
  const problems = [];
  const note = (what, e) => problems.push(`${what}: ${e?.message ?? e}`);
  // nsbox containers still held by the benchmark.
  const list = [...state.containers];
  for (let i = 0; i < list.length; i += 64) {
    await Promise.all(list.slice(i, i + 64).map((c) => c.delete().catch((e) => note(`delete ${c.id}`, e))));
  }
  state.containers.clear();
  // runc: runs still going are killed, then every id of ours left in runc's state is deleted.
  for (const [, child] of state.runcChildren) child.kill('SIGKILL');
  for (const [, child] of state.runcChildren) await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  if (RUNC) {
    const stateDir = state.runcRoot;
    const ours = new Set([...state.runcIds].filter((id) => fs.existsSync(path.join(stateDir, id))));
    try {
      for (const id of fs.readdirSync(stateDir)) if (id.startsWith(`nsbox-bench-${RUN_TAG}-`)) ours.add(id);
    } catch {}
    for (const id of ours) {
      state.leftovers.push(`runc state ${id}`);
      const r = runcSync(['--root', stateDir, 'delete', '--force', id]);
      if (r.status !== 0) note(`runc delete --force ${id}`, r.stderr.trim());
    }
    rmdirQuiet(stateDir);
  }
  // cgroups: nsbox's parent (killed and removed with what is below it), runc's groups in every hierarchy.
  try {
    if (state.nsboxParent) {
      const before = fs.existsSync(state.nsboxParent) ? fs.readdirSync(state.nsboxParent, { withFileTypes: true }).filter((e) => e.isDirectory()).length : 0;
      if (before) state.leftovers.push(`${before} nsbox group(s) under ${state.nsboxParent}`);
      await removeCgroup2Tree(state.nsboxParent);
    }
  } catch (e) {
    note('nsbox parent cgroup', e);
  }
  for (const h of state.hierarchies) {
    const bench = path.join(h.mount, 'nsbox-bench');
    try {
      if (fs.existsSync(bench)) {
        for (const e of fs.readdirSync(bench, { withFileTypes: true })) {
          if (!e.isDirectory() || !e.name.startsWith(`runc-${RUN_TAG}-`)) continue;
          state.leftovers.push(`${path.join(bench, e.name)}`);
          if (h.fstype === 'cgroup2') await removeCgroup2Tree(path.join(bench, e.name));
          else rmdirQuiet(path.join(bench, e.name));
        }
        if (!h.benchExisted) rmdirQuiet(bench);
      }
    } catch (e) {
      note(bench, e);
    }
  }
  // Leave the cgroup2 root's subtree_control as found (Cgroup.create or runc may enable controllers there).
  if (state.cg2 && state.rootSubtreeBefore) {
    try {
      const added = words(path.join(state.cg2, 'cgroup.subtree_control')).filter((c) => !state.rootSubtreeBefore.includes(c));
      if (added.length) fs.writeFileSync(path.join(state.cg2, 'cgroup.subtree_control'), added.map((c) => `-${c}`).join(' '));
    } catch (e) {
      note('cgroup2 root subtree_control', e);
    }
  }
  try {
    await drainNetnsPool();
  } catch (e) {
    note('netns pool', e);
  }
  if (!state.stagingExisted) rmdirQuiet('/run/nsbox/root') && rmdirQuiet('/run/nsbox');
  if (state.tmp) {
    try {
      fs.rmSync(state.tmp, { recursive: true, force: true });
    } catch (e) {
      note(`rm -r ${state.tmp}`, e);
    }
  }
  if (problems.length) console.error(`bench/container: cleanup: ${problems.join('; ')}`);
  return problems;
}

let forced = false;
function onSignal(sig) {
  if (aborted) {
    if (forced) return;
    forced = true;
    console.error(`bench/container: ${sig} again: cleaning up now`);
    cleanup().finally(() => process.exit(130));
    return;
  }
  aborted = true;
  console.error(`bench/container: ${sig}: stopping after the runs in flight, then cleaning up (again to force)`);
  setTimeout(() => onSignal(sig), 20_000).unref();
}
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

// ---------------------------------------------------------------- the rootfs and the runc bundles

function which(cmd) {
  for (const dir of (process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}
const RUNC = which('runc');

/** Debian's busybox-static, with a link per applet: scripts/busybox-rootfs.sh if there, else made here. */
function makeRootfs(dir) {
  const script = path.join(REPO, 'scripts', 'busybox-rootfs.sh');
  let how = 'inline';
  if (fs.existsSync(script)) {
    // --no-probe: busybox alone (the probe program is the tests').
    const r = childProcess.spawnSync('bash', [script, '--no-probe', dir], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (r.status === 0 && fs.existsSync(path.join(dir, 'bin', 'busybox'))) how = 'scripts/busybox-rootfs.sh';
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  if (how === 'inline') {
    const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
    if (!busybox) throw new Error('busybox is missing: apt-get install busybox-static');
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'root']) fs.mkdirSync(path.join(dir, d), { recursive: true });
    fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
    fs.copyFileSync(busybox, path.join(dir, 'bin', 'busybox'));
    fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
    const list = childProcess.execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const rel of list) {
      const p = path.join(dir, rel);
      if (fs.existsSync(p)) continue;
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.symlinkSync('/bin/busybox', p);
    }
    fs.writeFileSync(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    fs.writeFileSync(path.join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  }
  for (const f of ['bin/busybox', 'bin/true', 'bin/sh', 'bin/sleep']) {
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`the busybox rootfs (${how}) has no /${f}`);
  }
  return how;
}

const LIMITS = { memoryBytes: 256 * 2 ** 20, pids: 64 };
const NSBOX_RESOURCES = { memory: { max: '256M' }, pids: { max: LIMITS.pids } };

/**
 * runc's config for a run: `runc spec`, then args, terminal, root, cgroupsPath, and (for the
 * equivalent variant) nsbox's defaults: its capabilities, Docker's seccomp profile as nsbox
 * resolves it, its masked and read-only paths, a cgroup namespace with cgroup2 at /sys/fs/cgroup.
 */
function runcConfig(specDir, { equivalent, limits }) {
  const r = childProcess.spawnSync(RUNC, ['spec', '--bundle', specDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`runc spec failed: ${r.stderr}`);
  const c = JSON.parse(fs.readFileSync(path.join(specDir, 'config.json'), 'utf8'));
  fs.rmSync(path.join(specDir, 'config.json'));
  c.process.args = ['/bin/true'];
  c.process.terminal = false;
  c.root = { path: state.rootfs, readonly: false };
  const types = c.linux.namespaces.map((n) => n.type);
  for (const t of ['pid', 'network', 'ipc', 'uts', 'mount']) if (!types.includes(t)) c.linux.namespaces.push({ type: t });
  if (equivalent) {
    if (!types.includes('cgroup')) c.linux.namespaces.push({ type: 'cgroup' }); // nsbox makes one
    const caps = [...DEFAULT_CAPABILITIES];
    c.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
    c.process.env = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${c.hostname}`, 'HOME=/root'];
    c.linux.seccomp = dockerDefaultProfile({ capabilities: caps });
    c.linux.maskedPaths = [...DEFAULT_MASKED_PATHS];
    c.linux.readonlyPaths = [...DEFAULT_READONLY_PATHS];
    // nsbox mounts cgroup2 (its own group, through the cgroup namespace); runc's "cgroup" type
    // would be a tmpfs with a bind per v1 controller on a hybrid host.
    const cg = c.mounts.find((m) => m.destination === '/sys/fs/cgroup');
    if (cg) Object.assign(cg, { type: 'cgroup2', source: 'cgroup' });
  }
  c.linux.resources = c.linux.resources ?? {};
  if (limits) {
    c.linux.resources.memory = { limit: LIMITS.memoryBytes };
    c.linux.resources.pids = { limit: LIMITS.pids };
  }
  c.linux.cgroupsPath = '@@CGROUPS_PATH@@';
  return c;
}
function runcVariant(key, label, config) {
  return { key, label, config, template: JSON.stringify(config) };
}

// ---------------------------------------------------------------- the variants

let serial = 0;
const nsboxOptions = () => ({
  rootfs: state.rootfs,
  command: ['/bin/true'],
  stdio: 'ignore',
  network: 'none',
  cgroupParent: state.nsboxParent,
  ...(state.limits ? { resources: NSBOX_RESOURCES } : {}),
});

async function nsboxRun(stageSink) {
  const m = stageSink ? {} : null;
  marks = m;
  const t0 = performance.now();
  let r;
  try {
    r = await Container.run(nsboxOptions());
  } finally {
    marks = null;
  }
  const t1 = performance.now();
  if (r.exitCode !== 0) throw new Error(`nsbox: /bin/true ended with ${JSON.stringify({ code: r.exitCode, signal: r.signal, reason: r.reason })}`);
  if (stageSink) stageSink.push(stagesOf(m, t0, t1));
  return t1 - t0;
}

/** `runc run --bundle DIR ID` from this process, stdio ignored, until it exits (runc deletes the container itself). */
function runcRun(variant, slot, { capture = false } = {}) {
  const n = serial++;
  const id = `nsbox-bench-${RUN_TAG}-${n}`;
  const t0 = performance.now();
  const bundle = path.join(state.tmp, `bundle-${variant.key}-${slot}`);
  fs.writeFileSync(path.join(bundle, 'config.json'), variant.template.replace('"@@CGROUPS_PATH@@"', JSON.stringify(`/nsbox-bench/runc-${RUN_TAG}-${n}`)));
  state.runcIds.add(id);
  return new Promise((resolve, reject) => {
    const child = childProcess.spawn(RUNC, ['--root', state.runcRoot, 'run', '--bundle', bundle, id], { stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'ignore' });
    state.runcChildren.set(id, child);
    let out = '';
    let err = '';
    if (capture) {
      child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    }
    child.once('error', (e) => {
      state.runcChildren.delete(id);
      reject(e);
    });
    child.once('close', (code, signal) => {
      const t = performance.now() - t0;
      state.runcChildren.delete(id);
      state.runcIds.delete(id); // ran to its end: runc has deleted it (checked at the end)
      if (capture) resolve({ code, signal, stdout: out, stderr: err });
      else if (code !== 0) reject(new Error(`runc run ${id} exited ${code} ${signal ?? ''}${err ? `: ${err}` : ''}`));
      else resolve(t);
    });
  });
}

function prepareRuncVariant(variant, slots) {
  for (let s = 0; s < slots; s++) fs.mkdirSync(path.join(state.tmp, `bundle-${variant.key}-${s}`), { recursive: true });
}

// ---------------------------------------------------------------- correctness: the two are the same container

const CHECK_SCRIPT = [
  'echo pid=$$',
  'for t in mnt uts ipc pid net cgroup; do echo ns_$t=$(readlink /proc/self/ns/$t); done',
  "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -d ' \\t' | tr ':' '='",
  'echo nofile=$(ulimit -n)',
  "echo cgroup=$(grep '^0::' /proc/self/cgroup)",
  "echo mounts=$(awk '{print $2 \":\" $3}' /proc/self/mounts | sort | tr '\\n' ' ')",
  'echo devnull=$([ -c /dev/null ] && echo char || echo missing)',
  'echo busybox_root=$([ -x /bin/busybox ] && [ ! -e /usr/lib/x86_64-linux-gnu ] && [ ! -e /usr/lib/aarch64-linux-gnu ] && echo yes || echo no)',
  'echo memory_max=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || echo -)',
  'echo pids_max=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || echo -)',
  'echo user=$(id -u):$(id -g)',
].join('; ');

function parseKv(text) {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => l.split(/=(.*)/s, 2)),
  );
}

async function checkEquivalence(runcVariants) {
  const host = {};
  for (const t of ['mnt', 'uts', 'ipc', 'pid', 'net', 'cgroup']) host[t] = fs.readlinkSync(`/proc/self/ns/${t}`);
  const r = await Container.run({ ...nsboxOptions(), command: ['/bin/sh', '-c', CHECK_SCRIPT], stdio: 'pipe' });
  const seen = { nsbox: { ...parseKv(r.stdout), exit: String(r.exitCode), stderr: r.stderr.trim() } };
  for (const v of runcVariants) {
    prepareRuncVariant(v, 1);
    const saved = v.template;
    v.template = JSON.stringify({ ...v.config, process: { ...v.config.process, args: ['/bin/sh', '-c', CHECK_SCRIPT] } });
    try {
      const x = await runcRun(v, 0, { capture: true });
      seen[v.key] = { ...parseKv(x.stdout), exit: String(x.code), stderr: x.stderr.trim() };
    } finally {
      v.template = saved;
    }
  }
  const report = {};
  for (const [k, s] of Object.entries(seen)) {
    const problems = [];
    if (s.exit !== '0') problems.push(`exit ${s.exit}${s.stderr ? ` (${s.stderr.slice(0, 300)})` : ''}`);
    if (s.pid !== '1') problems.push(`pid ${s.pid}, not 1`);
    for (const t of Object.keys(host)) {
      if (t === 'cgroup' && k === 'runc-spec') continue; // runc spec asks for no cgroup namespace
      if (s[`ns_${t}`] === host[t]) problems.push(`${t} namespace not new`);
    }
    if (s.devnull !== 'char') problems.push('/dev/null missing');
    if (s.busybox_root !== 'yes') problems.push('root is not the busybox rootfs');
    if (state.limits && k !== 'runc-spec' && (s.memory_max !== String(LIMITS.memoryBytes) || s.pids_max !== String(LIMITS.pids))) {
      problems.push(`limits memory.max=${s.memory_max} pids.max=${s.pids_max}`);
    }
    report[k] = { ok: problems.length === 0, problems, seen: s };
  }
  // nsbox against the equivalent runc: what must match, and the mount points that differ.
  const a = seen.nsbox;
  const b = seen['runc-equiv'];
  const differences = [];
  if (b) {
    for (const key of ['CapEff', 'CapBnd', 'NoNewPrivs', 'Seccomp', 'nofile', 'cgroup', 'user', 'memory_max', 'pids_max']) {
      if (a[key] !== b[key]) differences.push(`${key}: nsbox ${a[key]}, runc ${b[key]}`);
    }
    const ma = new Set((a.mounts ?? '').split(' ').filter(Boolean));
    const mb = new Set((b.mounts ?? '').split(' ').filter(Boolean));
    const onlyA = [...ma].filter((x) => !mb.has(x));
    const onlyB = [...mb].filter((x) => !ma.has(x));
    if (onlyA.length) differences.push(`mounts only in nsbox: ${onlyA.join(' ')}`);
    if (onlyB.length) differences.push(`mounts only in runc: ${onlyB.join(' ')}`);
  }
  const mustMatch = differences.filter((d) => !d.startsWith('mounts only'));
  return { report, differences, equivalent: mustMatch.length === 0 && Object.values(report).every((x) => x.ok) };
}

// ---------------------------------------------------------------- sections

/** Interleaved serial runs: warm-up, then each round runs every variant once, the first rotated. */
async function latency(variants, runs, warmup) {
  for (let i = 0; i < warmup; i++) for (const v of variants) checkAbort(), await v.run(null);
  for (const v of variants) v.samples = [];
  const cpu0 = cpuTimes();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < variants.length; j++) {
      checkAbort();
      const v = variants[(i + j) % variants.length];
      v.samples.push(await v.run(v.stages));
    }
  }
  const cpu1 = cpuTimes();
  return { wallSeconds: (performance.now() - t0) / 1000, cpu: { machine: cpu1.machine - cpu0.machine, node: cpu1.self - cpu0.self, children: cpu1.children - cpu0.children } };
}

/** N loops, each running containers back to back until the deadline; containers/s and CPU per container. */
async function throughput(v, n, seconds) {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const cpu0 = cpuTimes();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, slot) => {
      while (performance.now() < deadline && !aborted) {
        await v.runSlot(slot);
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = cpuTimes();
  checkAbort();
  return { n, done, seconds: elapsed, perSecond: done / elapsed, cpuMsPerContainer: ((cpu1.machine - cpu0.machine) * 1000) / done };
}

async function serialP50(runs, stages) {
  const xs = [];
  for (let i = 0; i < runs; i++) checkAbort(), xs.push(await nsboxRun(stages));
  return xs;
}

async function liveSection(n, runs) {
  const out = { n, runs };
  await settle();
  for (let i = 0; i < Math.min(20, runs); i++) await nsboxRun(null); // warm
  out.stagesNone = [];
  out.none = summarize(await serialP50(runs, out.stagesNone));
  const fds0 = fdCount();
  const mem0 = memory();
  const sleepers = [];
  const addSleeper = async () => {
    checkAbort();
    const c = await Container.create({ ...nsboxOptions(), command: ['sleep', '3600'] });
    state.containers.add(c);
    sleepers.push(c);
    await c.start();
  };
  // One alive (the issue's baseline), then the rest.
  await addSleeper();
  await settle();
  out.stagesOne = [];
  out.one = summarize(await serialP50(runs, out.stagesOne));
  const t0 = performance.now();
  for (let i = 1; i < n; i++) await addSleeper();
  out.createPerSecond = (n - 1) / ((performance.now() - t0) / 1000);
  await settle();
  const mem1 = memory();
  const fds1 = fdCount();
  out.stagesLive = [];
  out.live = summarize(await serialP50(runs, out.stagesLive));
  out.stillRunning = sleepers.filter((c) => c.state === 'running').length;
  const procs = fs.readdirSync(state.nsboxParent, { withFileTypes: true }).filter((e) => e.isDirectory()).length;
  out.groupsAlive = procs;
  const mem2 = memory();
  const t1 = performance.now();
  for (let i = 0; i < sleepers.length; i += 64) {
    await Promise.all(sleepers.slice(i, i + 64).map((c) => c.delete().then(() => state.containers.delete(c))));
  }
  out.deletePerSecond = n / ((performance.now() - t1) / 1000);
  sleepers.length = 0;
  await settle();
  const mem3 = memory();
  out.after = summarize(await serialP50(runs, null));
  out.fds = { before: fds0, live: fds1, after: fdCount() };
  out.memory = { before: mem0, live: mem1, liveAfterRuns: mem2, afterDelete: mem3 };
  out.rssPerContainerBytes = n ? (mem1.rss - mem0.rss) / n : NaN;
  out.heapPerContainerBytes = n ? (mem1.heapUsed - mem0.heapUsed) / n : NaN;
  out.externalPerContainerBytes = n ? (mem1.external - mem0.external) / n : NaN;
  out.ratio = out.live.p50 / out.one.p50; // the target: 1000 alive against 1 alive
  out.ratioNone = out.live.p50 / out.none.p50;
  return out;
}

// ---------------------------------------------------------------- main

function environment() {
  let runcVersion = 'unavailable';
  if (RUNC) runcVersion = runcSync(['--version']).stdout.split('\n').slice(0, 1).join(' ').trim();
  let nofile = '';
  try {
    nofile = /Max open files\s+(\S+)\s+(\S+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8')).slice(1).join('/');
  } catch {}
  return { ...machine(), runc: runcVersion, nofile, gc: typeof global.gc === 'function' };
}

async function main() {
  if (process.geteuid() !== 0) {
    console.error('bench/container: run as root (namespaces, pivot_root, cgroups, runc)');
    process.exit(2);
  }
  if (!RUNC) {
    console.error('bench/container: runc is missing: apt-get install runc (scripts/setup.sh installs it)');
    process.exit(2);
  }
  const env = environment();
  const host = discoverModule.cgroupHost();
  if (!host.mount) {
    console.error(`bench/container: no cgroup2 mount (${host.mode}): nsbox's containers need one`);
    process.exit(2);
  }
  state.cg2 = host.mount;
  state.rootSubtreeBefore = words(path.join(host.mount, 'cgroup.subtree_control'));
  state.hierarchies = cgroupMounts().map((h) => ({ ...h, benchExisted: fs.existsSync(path.join(h.mount, 'nsbox-bench')) }));
  state.nsboxParent = path.join(host.mount, 'nsbox-bench', `nsbox-${RUN_TAG}`);
  const need = opts.sections.includes('live') ? opts.live * 2 + 256 : 512;
  const soft = Number(env.nofile.split('/')[0]);
  if (Number.isFinite(soft) && soft < need) {
    console.error(`bench/container: ${opts.live} live containers hold ~${opts.live * 2} fds (a pidfd and a cgroup fd each) but RLIMIT_NOFILE is ${env.nofile}: run under \`ulimit -n ${need}\``);
    process.exit(2);
  }

  // Limits: nsbox sets them only through cgroup v2; a hybrid host's cgroup2 has no memory/pids.
  const missing = ['memory', 'pids'].filter((c) => !host.controllers.includes(c));
  let limitsNote = '';
  if (opts.limits === 'on') state.limits = true;
  else if (opts.limits === 'off') (state.limits = false), (limitsNote = 'left out (--no-limits)');
  else if (missing.length) {
    state.limits = false;
    limitsNote =
      `left out on both sides: this host's cgroup2 (${host.mount}, ${host.mode} mode) offers no ${missing.join(' or ')} controller, ` +
      'where nsbox sets limits (a Container with resources.memory/pids would throw CgroupControllerError); runc still creates its ' +
      `cgroups (${host.mode === 'hybrid' ? 'one per v1 controller and one in cgroup2' : 'cgroup2'}); --limits forces them`;
  } else state.limits = true;

  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsbox-bench-container-'));
  state.rootfs = path.join(state.tmp, 'rootfs');
  fs.mkdirSync(state.rootfs);
  const rootfsHow = makeRootfs(state.rootfs);

  log(`nsbox container benchmark — ${env.date}`);
  log(`node ${env.node} (${env.arch}), kernel ${env.kernel}, ${env.distro}, ${env.cpus} × ${env.cpuModel}, ${env.totalMemMB} MiB; ${env.runc}`);
  log(`cgroups: ${host.mode}, cgroup2 at ${host.mount} (controllers: ${host.controllers.join(' ') || 'none'}); RLIMIT_NOFILE ${env.nofile}; rootfs: busybox (${rootfsHow})`);
  log(`limits (memory.max 256M, pids.max ${LIMITS.pids}): ${state.limits ? (opts.limits === 'on' ? 'forced on both sides (--limits)' : 'set on both sides') : limitsNote}`);
  if (state.limits) {
    try {
      await nsboxRun(null); // fails here, typed, where the host cannot
    } catch (e) {
      if (e instanceof CgroupControllerError) {
        throw new Refused(`--limits: nsbox cannot set them on this host (${e.code}): ${e.message}`);
      }
      throw e;
    }
  }

  const runcEquiv = runcVariant('runc-equiv', 'runc run (equivalent bundle)', runcConfig(state.tmp, { equivalent: true, limits: state.limits }));
  const runcSpec = runcVariant('runc-spec', "runc run (runc spec's defaults)", runcConfig(state.tmp, { equivalent: false, limits: state.limits }));
  const runcVariants = opts.runcSpec ? [runcEquiv, runcSpec] : [runcEquiv];
  const nsbox = { key: 'nsbox', label: 'nsbox Container.run', stages: [] };
  nsbox.run = (sink) => nsboxRun(sink);
  nsbox.runSlot = () => nsboxRun(null);
  for (const v of runcVariants) {
    prepareRuncVariant(v, Math.max(1, ...opts.concurrency));
    v.run = () => runcRun(v, 0);
    v.runSlot = (slot) => runcRun(v, slot);
  }

  const check = await checkEquivalence(runcVariants);
  log(`equivalence: ${Object.entries(check.report).map(([k, r]) => `${k} ${r.ok ? 'ok' : `FAILED (${r.problems.join('; ')})`}`).join(', ')}`);
  const eq = check.report['runc-equiv'].seen;
  log(`  both: pid 1, new mnt/uts/ipc/pid/net/cgroup namespaces, busybox root; CapEff ${eq.CapEff}, Seccomp ${eq.Seccomp}, NoNewPrivs ${eq.NoNewPrivs}, nofile ${eq.nofile}, ${eq.cgroup}`);
  for (const d of check.differences) log(`  differs: ${d}`);
  if (!check.equivalent) {
    console.error('bench/container: the two variants are not the same container; their timings would mean little');
    process.exitCode = 1;
  }

  const result = { environment: env, options: { ...opts, passThrough: undefined }, cgroup: { mode: host.mode, mount: host.mount, controllers: host.controllers, limits: state.limits, limitsNote }, equivalence: check };

  // ------------------------------------------------------------ latency
  if (opts.sections.includes('latency')) {
    const variants = [nsbox, ...runcVariants];
    log('');
    log(`latency: ${opts.runs} runs per variant, ${opts.warmup} warm-up, interleaved round-robin (start rotated per round), one at a time`);
    await settle();
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const fds0 = fdCount();
    const lat = await latency(variants, opts.runs, opts.warmup);
    global.gc?.();
    result.latency = {
      ...lat,
      rssBeforeMB: rss0 / 2 ** 20,
      rssAfterMB: process.memoryUsage().rss / 2 ** 20,
      fds: { before: fds0, after: fdCount() },
      variants: Object.fromEntries(variants.map((v) => [v.key, { label: v.label, ...summarize(v.samples), ...drift(v.samples) }])),
      stages: stageSummary(nsbox.stages),
    };
    const L = result.latency.variants;
    result.latency.ratios = Object.fromEntries(runcVariants.map((v) => [v.key, { p50: L[v.key].p50 / L.nsbox.p50, p99: L[v.key].p99 / L.nsbox.p99, mean: L[v.key].mean / L.nsbox.mean }]));
    const f = (x) => (Number.isFinite(x) ? x.toFixed(3) : '  -  ');
    const pad = (s, w) => String(s).padStart(w);
    const w = 34;
    log(`${'variant (ms, call → exit reaped)'.padEnd(w)}${pad('p50', 9)}${pad('p99', 9)}${pad('mean', 9)}${pad('min', 9)}${pad('max', 9)}   first/last tenth p50`);
    for (const v of variants) {
      const r = L[v.key];
      log(`${v.label.padEnd(w)}${pad(f(r.p50), 9)}${pad(f(r.p99), 9)}${pad(f(r.mean), 9)}${pad(f(r.min), 9)}${pad(f(r.max), 9)}   ${f(r.firstTenthP50)} / ${f(r.lastTenthP50)}`);
    }
    for (const v of runcVariants) {
      const r = result.latency.ratios[v.key];
      log(`  ${v.label} / nsbox: p50 ${r.p50.toFixed(2)}×, p99 ${r.p99.toFixed(2)}×, mean ${r.mean.toFixed(2)}×`);
    }
    log(
      `  ${lat.wallSeconds.toFixed(1)} s wall; CPU: machine ${lat.cpu.machine.toFixed(2)} s = node ${lat.cpu.node.toFixed(2)} + children ${lat.cpu.children.toFixed(2)} + other ${(lat.cpu.machine - lat.cpu.node - lat.cpu.children).toFixed(2)} s; ` +
        `node RSS ${result.latency.rssBeforeMB.toFixed(1)} → ${result.latency.rssAfterMB.toFixed(1)} MiB; open fds ${fds0} → ${result.latency.fds.after}`,
    );
    log('');
    log(`nsbox stages (ms)                                      p50      p99     mean   share of mean`);
    const st = result.latency.stages;
    for (const [k, label] of STAGE_ROWS) {
      const s = st[k];
      if (!s) continue;
      log(`  ${label.padEnd(50)}${pad(f(s.p50), 9)}${pad(f(s.p99), 9)}${pad(f(s.mean), 9)}${pad(`${((100 * s.mean) / st.total.mean).toFixed(1)} %`, 10)}`);
    }
  }

  // ------------------------------------------------------------ throughput
  if (opts.sections.includes('throughput')) {
    log('');
    log(`throughput: N loops running containers back to back for ${opts.duration} s per variant and N (nsbox and runc (equivalent) alternate which goes first)`);
    result.throughput = [];
    const order = [nsbox, runcEquiv];
    for (const [i, n] of opts.concurrency.entries()) {
      const row = { n };
      for (const v of i % 2 ? [...order].reverse() : order) {
        await settle(); // the kernel's teardown of the last phase's namespaces and groups
        row[v.key] = await throughput(v, n, opts.duration);
      }
      row.ratio = row.nsbox.perSecond / row['runc-equiv'].perSecond;
      result.throughput.push(row);
    }
    log(`  in flight     nsbox /s   runc /s   nsbox/runc   CPU ms per container (machine): nsbox  runc`);
    for (const r of result.throughput) {
      log(
        `  ${String(r.n).padStart(9)} ${r.nsbox.perSecond.toFixed(1).padStart(11)} ${r['runc-equiv'].perSecond.toFixed(1).padStart(9)} ${`${r.ratio.toFixed(2)}×`.padStart(12)}` +
          `${r.nsbox.cpuMsPerContainer.toFixed(2).padStart(39)} ${r['runc-equiv'].cpuMsPerContainer.toFixed(2).padStart(5)}`,
      );
    }
  }

  // ------------------------------------------------------------ live
  if (opts.sections.includes('live')) {
    log('');
    log(`live: p50 of nsbox Container.run with none, 1 and ${opts.live} containers running \`sleep 3600\` (stdio 'ignore') alive, ${opts.liveRuns} runs each`);
    const lv = await liveSection(opts.live, opts.liveRuns);
    lv.stagesNone = stageSummary(lv.stagesNone);
    lv.stagesOne = stageSummary(lv.stagesOne);
    lv.stagesLive = stageSummary(lv.stagesLive);
    result.live = lv;
    const f = (x) => x.toFixed(3);
    const row = (label, s, extra = '') => log(`  ${label.padEnd(26)}${f(s.p50).padStart(9)}${f(s.p99).padStart(9)}${f(s.mean).padStart(9)}${extra}`);
    log(`  ${'alive (ms)'.padEnd(26)}${'p50'.padStart(9)}${'p99'.padStart(9)}${'mean'.padStart(9)}`);
    row('none', lv.none);
    row('1', lv.one);
    row(String(opts.live), lv.live, `   (${lv.stillRunning} still running after the runs)`);
    row('none, after deleting them', lv.after);
    log(`  p50 ${opts.live} alive / 1 alive: ${lv.ratio.toFixed(3)}×; / none: ${lv.ratioNone.toFixed(3)}×`);
    log(`  created + started ${lv.createPerSecond.toFixed(0)}/s (one at a time), deleted ${lv.deletePerSecond.toFixed(0)}/s (64 at a time)`);
    const mb = (b) => (b / 2 ** 20).toFixed(1);
    const m = lv.memory;
    log(
      `  node RSS (after gc()): ${mb(m.before.rss)} MiB before, ${mb(m.live.rss)} with ${opts.live} alive, ${mb(m.liveAfterRuns.rss)} after the runs, ${mb(m.afterDelete.rss)} after delete; ` +
        `heap used ${mb(m.before.heapUsed)} → ${mb(m.live.heapUsed)} MiB`,
    );
    log(`  per live container: RSS ${(lv.rssPerContainerBytes / 1024).toFixed(1)} KiB, JS heap ${(lv.heapPerContainerBytes / 1024).toFixed(1)} KiB, external ${(lv.externalPerContainerBytes / 1024).toFixed(1)} KiB; open fds ${lv.fds.before} → ${lv.fds.live} → ${lv.fds.after}`);
    log(`  stages, p50 ms (1 → ${opts.live} alive): ${STAGE_ROWS.filter(([k]) => lv.stagesOne[k] && lv.stagesLive[k]).map(([k]) => `${k} ${f(lv.stagesOne[k].p50)}→${f(lv.stagesLive[k].p50)}`).join(', ')}`);
  }

  // ------------------------------------------------------------ targets
  const targets = {};
  if (result.latency) targets.p50_15x = { value: result.latency.ratios['runc-equiv'].p50, ok: result.latency.ratios['runc-equiv'].p50 >= 15 };
  if (result.throughput) {
    for (const r of result.throughput) targets[`throughput_${r.n}_15x`] = { value: r.ratio, ok: r.ratio >= 15 };
  }
  if (result.live) {
    targets.live_1_2x = { value: result.live.ratio, ok: result.live.ratio <= 1.2 };
    targets.rss_20kb = { value: result.live.rssPerContainerBytes / 1000, ok: result.live.rssPerContainerBytes <= 20_000 };
  }
  result.targets = targets;
  const mark = (ok) => (ok ? 'yes' : 'NO');
  log('');
  log('targets:');
  if (targets.p50_15x) log(`  p50 ≥ 15× runc's (equivalent bundle): ${targets.p50_15x.value.toFixed(2)}× — ${mark(targets.p50_15x.ok)}`);
  if (result.throughput) log(`  throughput ≥ 15× runc's: ${result.throughput.map((r) => `${r.n} in flight ${r.ratio.toFixed(2)}× ${mark(r.ratio >= 15)}`).join(', ')}`);
  if (targets.live_1_2x) log(`  p50 with ${opts.live} alive ≤ 1.2× p50 with 1 alive: ${targets.live_1_2x.value.toFixed(3)}× — ${mark(targets.live_1_2x.ok)}`);
  if (targets.rss_20kb) log(`  ≤ 20 KB of Node RSS per live container: ${targets.rss_20kb.value.toFixed(1)} KB — ${mark(targets.rss_20kb.ok)}`);
  return result;
}

(async () => {
  let result;
  let failed;
  try {
    result = await main();
  } catch (e) {
    failed = e;
  }
  const problems = await cleanup();
  // What was left and is now gone, and a last look that nothing of ours remains.
  const remaining = [];
  for (const h of state.hierarchies) {
    const bench = path.join(h.mount, 'nsbox-bench');
    if (!h.benchExisted && fs.existsSync(bench)) remaining.push(bench);
    else if (fs.existsSync(bench)) for (const e of fs.readdirSync(bench)) if (e.startsWith(`runc-${RUN_TAG}-`) || e === `nsbox-${RUN_TAG}`) remaining.push(path.join(bench, e));
  }
  try {
    for (const id of fs.readdirSync('/run/runc')) if (id.startsWith(`nsbox-bench-${RUN_TAG}-`)) remaining.push(`/run/runc/${id}`);
  } catch {}
  if (fs.existsSync(state.runcRoot)) remaining.push(`${state.runcRoot} (${fs.readdirSync(state.runcRoot).length} entries)`);
  if (state.tmp && fs.existsSync(state.tmp)) remaining.push(state.tmp);
  if (result) {
    result.cleanup = { foundAtEnd: state.leftovers, remaining, problems };
    if (opts.json) console.log(JSON.stringify(result, null, 2));
    log(
      `cleanup: ${state.leftovers.length ? `removed what was left (${state.leftovers.length}: ${state.leftovers.slice(0, 5).join(', ')}${state.leftovers.length > 5 ? ', …' : ''})` : 'nothing was left behind by the runs'}; ` +
        `${remaining.length ? `STILL THERE: ${remaining.join(', ')}` : 'no container, runc state, cgroup or temp dir of this run remains'}`,
    );
  }
  if (failed) {
    if (failed instanceof Interrupted) {
      console.error('bench/container: interrupted; cleaned up');
      process.exit(130);
    }
    if (failed instanceof Refused) {
      console.error(`bench/container: ${failed.message}`);
      process.exit(2);
    }
    console.error(failed);
    process.exit(1);
  }
  if (remaining.length || problems.length) process.exitCode = 1;
})();

// ---------------------------------------------------------------- --vm: the same in the VM lane

/**
 * scripts/vm-test.sh --guest-script: a Debian cloud kernel with cgroup2 alone (memory, pids…),
 * bench/ and dist/ copied in. Its initramfs has no runc and no way to add a binary but the
 * guest script itself, so runc goes in that script, base64 after an `exit`, and the script
 * writes it to /usr/local/sbin/runc (its libraries, libseccomp and libc, are in the guest
 * already: nsbox.node links them). Every option but --vm is passed on.
 */
function runInVm() {
  const runc = which('runc');
  if (!runc) {
    console.error('bench/container --vm: runc is missing on this host: apt-get install runc');
    process.exit(2);
  }
  if (!fs.existsSync(path.join(REPO, 'dist', 'container', 'index.js'))) {
    console.error('bench/container --vm: dist/ is not built: npm run build:ts');
    process.exit(2);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsbox-bench-vm-'));
  try {
    const job = path.join(tmp, 'job.sh');
    const quoted = opts.passThrough.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const b64 = fs.readFileSync(runc).toString('base64').replace(/.{76}/g, '$&\n');
    fs.writeFileSync(
      job,
      [
        '# bench/container.js --vm: runc (base64 below the exit) into the guest, then the benchmark',
        'mkdir -p /usr/local/sbin',
        "sed '1,/^__RUNC_BASE64__$/d' /vm/job | base64 -d >/usr/local/sbin/runc && chmod 755 /usr/local/sbin/runc || { echo 'guest: could not unpack runc'; exit 1; }",
        'ulimit -n 65536 2>/dev/null || true',
        'echo "guest: $(/usr/local/sbin/runc --version | head -n 1), RLIMIT_NOFILE $(ulimit -n), $(nproc) CPUs, $(free -m | awk \'/Mem:/ { print $2 }\') MiB"',
        `node --expose-gc bench/container.js ${quoted}`,
        'exit $?',
        '__RUNC_BASE64__',
        b64,
      ].join('\n'),
    );
    const env = { ...process.env, NSBOX_VM_TIMEOUT: process.env.NSBOX_VM_TIMEOUT ?? '5400', NSBOX_VM_MEM: process.env.NSBOX_VM_MEM ?? '4096' };
    console.log(`bench/container --vm: scripts/vm-test.sh --guest-script (runc ${(fs.statSync(runc).size / 2 ** 20).toFixed(1)} MiB embedded), NSBOX_VM_TIMEOUT=${env.NSBOX_VM_TIMEOUT}, NSBOX_VM_MEM=${env.NSBOX_VM_MEM}`);
    const r = childProcess.spawnSync('bash', [path.join(REPO, 'scripts', 'vm-test.sh'), '--guest-script', job], { stdio: 'inherit', env, cwd: REPO });
    process.exitCode = r.status ?? 1;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
