#!/usr/bin/env node
// bench/spawn: nsbox's namespaced spawn of /bin/true against `unshare` and plain
// child_process.spawn, interleaved in one warm Node process. See bench/README.md.
//
//   node bench/spawn.js [--runs N] [--warmup N] [--ballast MB] [--json]
//
// Needs root (new mount/uts/ipc/pid/net namespaces without a user namespace) and the
// addon and dist/ built (`npm run build:ts`).
'use strict';
const { summarize, drift, machine, cpuTimes, fdCount } = require('./stats');

const childProcess = require('node:child_process');
const fs = require('node:fs');
const { performance } = require('node:perf_hooks');

const { native } = require('../dist/native');
const { spawnWith } = require('../dist/spawn');

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const opts = {
    runs: Number(process.env.NSBOX_BENCH_RUNS ?? 1000),
    warmup: Number(process.env.NSBOX_BENCH_WARMUP ?? 50),
    ballast: Number(process.env.NSBOX_BENCH_BALLAST_MB ?? 0),
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? a.split(/=(.*)/s, 2) : [a, undefined];
    const value = () => Number(inline ?? argv[++i]);
    if (flag === '--runs' || flag === '-n') opts.runs = value();
    else if (flag === '--warmup') opts.warmup = value();
    else if (flag === '--ballast') opts.ballast = value();
    else if (flag === '--json') opts.json = true;
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: node bench/spawn.js [--runs N (default 1000)] [--warmup N (default 50)] [--ballast MB (default 0)] [--json]');
      process.exit(0);
    } else {
      console.error(`bench/spawn: unknown argument ${a}`);
      process.exit(2);
    }
  }
  for (const k of ['runs', 'warmup', 'ballast']) {
    if (!Number.isInteger(opts[k]) || opts[k] < 0) {
      console.error(`bench/spawn: --${k} must be a non-negative integer`);
      process.exit(2);
    }
  }
  if (opts.runs < 1) opts.runs = 1;
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = opts.json ? () => {} : (...a) => console.log(...a);

// ---------------------------------------------------------------- stage timing
// spawnWith calls native.spawn (a plain property of the addon object) synchronously;
// wrapping it marks where the JS preparation ends and where the clone returns.

let tNativeIn = 0;
let tNativeOut = 0;
const realSpawn = native.spawn;
native.spawn = function timedSpawn(...args) {
  tNativeIn = performance.now();
  try {
    return realSpawn.apply(this, args);
  } finally {
    tNativeOut = performance.now();
  }
};

// ---------------------------------------------------------------- variants

const NAMESPACES = ['mount', 'uts', 'ipc', 'pid', 'net'];
const UNSHARE_ARGS = ['--fork', '--pid', '--mount', '--uts', '--ipc', '--net', 'true'];

function nsboxRunner(namespaces, vm) {
  const options = { command: ['/bin/true'], namespaces, stdio: 'ignore' };
  const internals = { vm };
  return async (stages) => {
    const t0 = performance.now();
    const child = await spawnWith(options, internals);
    const t1 = performance.now();
    const status = await child.exited;
    const t2 = performance.now();
    if (status.code !== 0) throw new Error(`nsbox child ended with ${JSON.stringify(status)}`);
    stages.prepare.push(tNativeIn - t0);
    stages.clone.push(tNativeOut - tNativeIn);
    stages.exec.push(t1 - tNativeOut);
    stages.exit.push(t2 - t1);
    return t2 - t0;
  };
}

function childProcessRunner(file, args) {
  return () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const child = childProcess.spawn(file, args, { stdio: 'ignore' });
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        const t = performance.now() - t0;
        if (code !== 0) reject(new Error(`${file} ended with code ${code} signal ${signal}`));
        else resolve(t);
      });
    });
}

const VARIANTS = [
  { key: 'nsbox-vm', label: 'nsbox vm    (CLONE_VM, 5 ns)', run: nsboxRunner(NAMESPACES, true), stages: true },
  { key: 'nsbox-fork', label: 'nsbox fork  (page-table copy, 5 ns)', run: nsboxRunner(NAMESPACES, false), stages: true },
  { key: 'nsbox-vm-nonet', label: 'nsbox vm    (4 ns: all but net)', run: nsboxRunner(NAMESPACES.filter((n) => n !== 'net'), true), stages: true },
  { key: 'nsbox-vm-nons', label: 'nsbox vm    (no namespaces)', run: nsboxRunner([], true), stages: true },
  { key: 'nsbox-fork-nons', label: 'nsbox fork  (no namespaces)', run: nsboxRunner([], false), stages: true },
  { key: 'unshare', label: '(a) child_process unshare (5 ns)', run: childProcessRunner('unshare', UNSHARE_ARGS) },
  { key: 'plain', label: "(b) child_process '/bin/true'", run: childProcessRunner('/bin/true', []) },
];

// ---------------------------------------------------------------- correctness check

/**
 * Before timing anything: each clone mode must really give new namespaces (pid 1, other
 * namespace ids than ours), and the user-namespace path (parent writes the maps while the
 * child waits) must work with it.
 */
async function checkCorrectness() {
  const ours = {};
  for (const t of ['mnt', 'uts', 'ipc', 'pid', 'net', 'user']) ours[t] = fs.readlinkSync(`/proc/self/ns/${t}`);
  const script =
    'echo pid=$$; for t in mnt uts ipc pid_for_children net user; do echo "$t=$(readlink /proc/self/ns/$t)"; done; ' +
    'echo uid=$(id -u); echo uidmap=$(cat /proc/self/uid_map | tr -s " " | sed "s/^ //")';
  const results = {};
  for (const vm of [true, false]) {
    for (const userns of [false, true]) {
      const namespaces = userns ? [...NAMESPACES, 'user'] : NAMESPACES;
      const child = await spawnWith({ command: ['/bin/sh', '-c', script], namespaces, stdio: ['ignore', 'pipe', 'inherit'] }, { vm });
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d) => (out += d));
      const [status] = await Promise.all([child.exited, new Promise((r) => child.stdout.on('end', r))]);
      const kv = Object.fromEntries(out.trim().split('\n').map((l) => l.split(/=(.*)/s, 2)));
      const problems = [];
      if (status.code !== 0) problems.push(`exit ${JSON.stringify(status)}`);
      if (kv.pid !== '1') problems.push(`pid ${kv.pid}, not 1`);
      for (const t of ['mnt', 'uts', 'ipc', 'net']) if (kv[t] === ours[t]) problems.push(`${t} namespace not new`);
      // pid_for_children of pid 1 in a new pid ns is that ns: it must differ from ours.
      if (kv.pid_for_children === ours.pid) problems.push('pid namespace not new');
      if (userns) {
        if (kv.user === ours.user) problems.push('user namespace not new');
        if (kv.uid !== '0' || !/^0 \d+ 1$/.test(kv.uidmap ?? '')) problems.push(`uid ${kv.uid} map "${kv.uidmap}"`);
      }
      results[`${vm ? 'vm' : 'fork'}${userns ? '+user' : ''}`] = problems.length ? problems.join('; ') : 'ok';
    }
  }
  return results;
}

// ---------------------------------------------------------------- run

function environment() {
  let unshareVersion = '';
  try {
    unshareVersion = childProcess.execFileSync('unshare', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    unshareVersion = 'unavailable';
  }
  return { ...machine(), uid: process.geteuid(), unshare: unshareVersion };
}

async function main() {
  if (process.geteuid() !== 0) {
    console.error('bench/spawn: run as root (new mount/uts/ipc/pid/net namespaces without a user namespace need CAP_SYS_ADMIN)');
    process.exit(1);
  }
  const env = environment();
  log(`nsbox spawn benchmark — ${env.date}`);
  log(`node ${env.node} (${env.arch}), kernel ${env.kernel}, ${env.distro}, ${env.cpus} × ${env.cpuModel}, ${env.totalMemMB} MiB`);
  log(`${env.unshare}; runs ${opts.runs} per variant, warm-up ${opts.warmup}, interleaved round-robin (start rotated per round)`);

  let ballast = [];
  if (opts.ballast > 0) {
    // Touched memory, to show how page-table copying (fork) scales with Node's RSS.
    for (let i = 0; i < opts.ballast; i++) ballast.push(Buffer.alloc(2 ** 20, 1));
  }

  const correctness = await checkCorrectness();
  log(`correctness: ${Object.entries(correctness).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (Object.values(correctness).some((v) => v !== 'ok')) {
    console.error('bench/spawn: a clone mode is not correct; its timings would mean nothing');
    process.exitCode = 1;
  }

  const state = VARIANTS.map((v) => ({
    ...v,
    samples: [],
    stages: v.stages ? { prepare: [], clone: [], exec: [], exit: [] } : null,
  }));
  const sink = { prepare: [], clone: [], exec: [], exit: [] };

  // Warm-up: every variant, interleaved, results dropped.
  for (let i = 0; i < opts.warmup; i++) {
    for (const v of state) await v.run(sink);
  }

  global.gc?.(); // with node --expose-gc: RSS and heap without garbage awaiting collection
  const fdsBefore = fdCount();
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  const cpuBefore = cpuTimes();
  const tStart = performance.now();
  const n = state.length;
  for (let i = 0; i < opts.runs; i++) {
    for (let j = 0; j < n; j++) {
      const v = state[(i + j) % n];
      v.samples.push(await v.run(v.stages));
    }
  }
  const wallSeconds = (performance.now() - tStart) / 1000;
  const cpuAfter = cpuTimes();
  global.gc?.();
  const rssAfter = process.memoryUsage().rss;
  const heapAfter = process.memoryUsage().heapUsed;
  const fdsAfter = fdCount();
  const cpu = {
    machineSeconds: cpuAfter.machine - cpuBefore.machine,
    nodeSeconds: cpuAfter.self - cpuBefore.self,
    childrenSeconds: cpuAfter.children - cpuBefore.children,
  };
  // What neither Node nor its children spent: kernel workers (net namespace teardown runs
  // in cleanup_net on a kworker, after the child is gone) and anything else on the machine.
  cpu.otherSeconds = cpu.machineSeconds - cpu.nodeSeconds - cpu.childrenSeconds;
  ballast = null;

  // ------------------------------------------------------------ results
  const results = {};
  for (const v of state) {
    const r = { label: v.label.replace(/\s+/g, ' '), ...summarize(v.samples), ...drift(v.samples) };
    if (v.stages) {
      r.stages = {};
      for (const [k, s] of Object.entries(v.stages)) {
        const { p50, p99, mean } = summarize(s);
        r.stages[k] = { p50, p99, mean };
      }
    }
    results[v.key] = r;
  }

  const nsboxDefault = process.arch === 'x64' ? 'nsbox-vm' : 'nsbox-fork'; // lib/spawn.ts DEFAULTS
  const ratios = {};
  const targets = {};
  for (const mode of ['vm', 'fork']) {
    const ns = results[`nsbox-${mode}`];
    const nons = results[`nsbox-${mode}-nons`];
    const a = results.unshare;
    const b = results.plain;
    const r = {};
    for (const p of ['p50', 'p99', 'mean']) {
      r[p] = {
        unshareOverNsbox: a[p] / ns[p],
        nsboxOverPlain: ns[p] / b[p],
        nsboxMinusPlain: ns[p] - b[p],
        namespaceCost: ns[p] - nons[p],
        nsboxNoNsMinusPlain: nons[p] - b[p],
      };
    }
    ratios[mode] = r;
    targets[mode] = {
      // ≥ 2.5× faster than (a), on the median and on p99.
      fasterThanUnshare2_5x: { p50: r.p50.unshareOverNsbox >= 2.5, p99: r.p99.unshareOverNsbox >= 2.5 },
      // namespaced − (b) ≤ namespaced − not namespaced  ⇔  nsbox without namespaces ≤ (b).
      withinNamespaceCostOfPlain: {
        p50: r.p50.nsboxMinusPlain <= r.p50.namespaceCost,
        p99: r.p99.nsboxMinusPlain <= r.p99.namespaceCost,
      },
    };
  }
  const netCost = {
    p50: results['nsbox-vm'].p50 - results['nsbox-vm-nonet'].p50,
    p99: results['nsbox-vm'].p99 - results['nsbox-vm-nonet'].p99,
    cloneStageP50: results['nsbox-vm'].stages.clone.p50 - results['nsbox-vm-nonet'].stages.clone.p50,
  };
  const faster = results['nsbox-vm'].p50 <= results['nsbox-fork'].p50 ? 'vm' : 'fork';
  const comparison = {
    default: nsboxDefault.replace('nsbox-', ''),
    fasterOnP50: faster,
    vmOverForkP50: results['nsbox-vm'].p50 / results['nsbox-fork'].p50,
    vmOverForkP99: results['nsbox-vm'].p99 / results['nsbox-fork'].p99,
    cloneStageVmP50: results['nsbox-vm'].stages.clone.p50,
    cloneStageForkP50: results['nsbox-fork'].stages.clone.p50,
    correct: { vm: correctness.vm === 'ok' && correctness['vm+user'] === 'ok', fork: correctness.fork === 'ok' && correctness['fork+user'] === 'ok' },
  };
  const memory = {
    rssBeforeMB: rssBefore / 2 ** 20,
    rssAfterMB: rssAfter / 2 ** 20,
    heapUsedBeforeMB: heapBefore / 2 ** 20,
    heapUsedAfterMB: heapAfter / 2 ** 20,
    gcBeforeMeasuring: typeof global.gc === 'function',
    ballastMB: opts.ballast,
    fdsBefore,
    fdsAfter,
  };

  if (opts.json) {
    console.log(JSON.stringify({ environment: env, options: opts, correctness, wallSeconds, cpu, memory, results, ratios, targets, netCost, comparison }, null, 2));
    return;
  }

  const f = (x) => (Number.isFinite(x) ? x.toFixed(3) : '  -  ');
  const pad = (s, w) => String(s).padStart(w);
  const labelWidth = Math.max(...state.map((v) => v.label.length)) + 2;
  log('');
  log(`${'variant (ms, call → exit reaped)'.padEnd(labelWidth)}${pad('p50', 9)}${pad('p99', 9)}${pad('mean', 9)}${pad('min', 9)}${pad('max', 9)}   first/last tenth p50`);
  for (const v of state) {
    const r = results[v.key];
    log(`${v.label.padEnd(labelWidth)}${pad(f(r.p50), 9)}${pad(f(r.p99), 9)}${pad(f(r.mean), 9)}${pad(f(r.min), 9)}${pad(f(r.max), 9)}   ${f(r.firstTenthP50)} / ${f(r.lastTenthP50)}`);
  }

  log('');
  log('nsbox stages (ms: p50 / p99 / mean)   prepare = validate + encode plan + open stdio; clone = native.spawn (sync);');
  log('                                      exec = child setup until exec (promise resolves); exit = run + exit + reap');
  for (const v of state.filter((s) => s.stages)) {
    const st = results[v.key].stages;
    const cell = (k) => `${k} ${f(st[k].p50)} / ${f(st[k].p99)} / ${f(st[k].mean)}`;
    log(`  ${v.label.padEnd(labelWidth)} ${['prepare', 'clone', 'exec', 'exit'].map(cell).join(' | ')}`);
  }

  log('');
  for (const mode of ['vm', 'fork']) {
    const r = ratios[mode];
    const t = targets[mode];
    const mark = (ok) => (ok ? 'yes' : 'NO');
    log(`nsbox ${mode}${mode === comparison.default ? ' (default on this arch)' : ''}:`);
    for (const p of ['p50', 'p99']) {
      log(
        `  ${p}: (a)/nsbox ${r[p].unshareOverNsbox.toFixed(2)}×, nsbox/(b) ${r[p].nsboxOverPlain.toFixed(2)}×, ` +
          `nsbox − (b) ${f(r[p].nsboxMinusPlain)} ms, namespace kernel cost (nsbox − nsbox no-ns) ${f(r[p].namespaceCost)} ms, ` +
          `nsbox no-ns − (b) ${f(r[p].nsboxNoNsMinusPlain)} ms`,
      );
    }
    log(
      `  target ≥ 2.5× faster than (a): p50 ${mark(t.fasterThanUnshare2_5x.p50)}, p99 ${mark(t.fasterThanUnshare2_5x.p99)}; ` +
        `no slower than (b) by more than the namespace cost: p50 ${mark(t.withinNamespaceCostOfPlain.p50)}, p99 ${mark(t.withinNamespaceCostOfPlain.p99)}`,
    );
  }
  log(
    `net namespace alone (vm, 5 ns − 4 ns): p50 ${f(netCost.p50)} ms, p99 ${f(netCost.p99)} ms, clone stage p50 ${f(netCost.cloneStageP50)} ms`,
  );
  log('');
  log(
    `vm vs fork: ${comparison.fasterOnP50} is faster on p50 (vm/fork p50 ${comparison.vmOverForkP50.toFixed(3)}, p99 ${comparison.vmOverForkP99.toFixed(3)}; ` +
      `clone stage p50 vm ${f(comparison.cloneStageVmP50)} ms, fork ${f(comparison.cloneStageForkP50)} ms); lib/spawn.ts DEFAULTS picks ${comparison.default} here`,
  );
  log(
    `node RSS ${memory.rssBeforeMB.toFixed(1)} MiB before, ${memory.rssAfterMB.toFixed(1)} MiB after${opts.ballast ? ` (with ${opts.ballast} MiB ballast)` : ''}; ` +
      `heap used ${memory.heapUsedBeforeMB.toFixed(1)} → ${memory.heapUsedAfterMB.toFixed(1)} MiB${memory.gcBeforeMeasuring ? ' (after gc())' : ''}; ` +
      `open fds ${fdsBefore} before, ${fdsAfter} after`,
  );
  log(
    `timed part ${wallSeconds.toFixed(1)} s wall; CPU: machine ${cpu.machineSeconds.toFixed(2)} s = node ${cpu.nodeSeconds.toFixed(2)} + ` +
      `children ${cpu.childrenSeconds.toFixed(2)} + other (kernel workers, e.g. net namespace teardown) ${cpu.otherSeconds.toFixed(2)} s`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
