#!/usr/bin/env node
// bench/cgroup: a cgroup's whole life from Node — create with memory.max, pids.max, cpu.max,
// spawn /bin/true into it, wait, remove — against the same done by a shell; and what it
// costs to put a fresh process in a group: CLONE_INTO_CGROUP against a write to
// cgroup.procs, cold (after 100 ms idle) and hot. See bench/README.md.
//
//   node bench/cgroup.js [--runs N] [--json]
//
// Needs root and dist/ built (`npm run build:ts`). On a host whose cgroup2 lacks memory, pids
// or cpu (a hybrid host), the limits it cannot set are left out on both sides, and it says so.
'use strict';

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { Cgroup, cgroupHost, drainNetnsPool } = require('../dist/index');
const { spawnWith } = require('../dist/spawn');

const args = process.argv.slice(2);
const runs = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : process.env.NSBOX_BENCH_RUNS ?? 300);
const json = args.includes('--json');
const log = json ? () => {} : console.log;
if (process.geteuid() !== 0) {
  console.error('bench/cgroup: needs root (creating cgroups)');
  process.exit(2);
}
const host = cgroupHost();
if (!host.mount) {
  console.error(`bench/cgroup: no cgroup2 mount (${host.mode})`);
  process.exit(2);
}
const mount = host.mount;
const offered = fs.readFileSync(path.join(mount, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
const enabledBefore = fs.readFileSync(path.join(mount, 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter(Boolean);

// The limits: what the issue asks for, where this host's cgroup2 offers the controller.
const LIMITS = [
  ['memory', 'memory.max', String(256 << 20), { memory: { max: '256M' } }],
  ['pids', 'pids.max', '64', { pids: { max: 64 } }],
  ['cpu', 'cpu.max', '50000 100000', { cpu: { max: { quota: 50_000, period: 100_000 } } }],
].filter(([c]) => offered.includes(c));
const missing = ['memory', 'pids', 'cpu'].filter((c) => !offered.includes(c));
const resources = Object.assign({}, ...LIMITS.map((l) => l[3]));
const shellWrites = LIMITS.map(([, file, value]) => `echo ${value} > "$G/${file}"`).join(' && ');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const stats = (xs) => ({ p50: pct(xs, 50), p99: pct(xs, 99), mean: xs.reduce((a, b) => a + b, 0) / xs.length });
let serial = 0;
const name = () => `nsbox-bench-${process.pid}-${serial++}`;

async function nsboxLife() {
  const t0 = performance.now();
  const g = await Cgroup.create(name(), { parent: mount, resources });
  const child = await spawnWith({ command: ['/bin/true'], cgroup: g, stdio: 'ignore' }, {});
  const status = await child.exited;
  await g.remove();
  const t = performance.now() - t0;
  if (status.code !== 0) throw new Error(`nsbox: /bin/true ended with ${JSON.stringify(status)}`);
  return t;
}

// The same by a shell: mkdir, echo each limit, a child that writes its own pid and execs true, rmdir.
const SHELL = `set -e; mkdir "$G"; ${shellWrites ? `${shellWrites};` : ''} sh -c 'echo $$ > "$G/cgroup.procs"; exec /bin/true'; rmdir "$G"`;
function shellLife() {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const c = childProcess.spawn('/bin/sh', ['-c', SHELL], { stdio: 'ignore', env: { ...process.env, G: path.join(mount, name()) } });
    c.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`shell variant exited ${code}`))));
  });
}

// A fresh process into an existing group: born there, or moved by the parent writing cgroup.procs.
async function membership(group, intoCgroup) {
  const t0 = performance.now();
  const child = await spawnWith({ command: ['/bin/true'], cgroup: group, stdio: 'ignore' }, intoCgroup ? {} : { noIntoCgroup: true });
  const t = performance.now() - t0; // until exec: the membership is part of it
  await child.exited;
  if (child.bornInCgroup !== intoCgroup) throw new Error('membership: the kernel did not do what was asked');
  return t;
}

// The bare write: a sleeping child of child_process moved by writing its pid, timed alone.
async function rawWrite(group) {
  const c = childProcess.spawn('sleep', ['10'], { stdio: 'ignore' });
  await new Promise((r) => c.once('spawn', r));
  const t0 = performance.now();
  fs.writeFileSync(path.join(group.path, 'cgroup.procs'), String(c.pid));
  const t = performance.now() - t0;
  c.kill('SIGKILL');
  await new Promise((r) => c.once('exit', r));
  return t;
}

(async () => {
  log(`bench/cgroup: cgroup2 at ${mount} (${host.mode}); node ${process.version}; ${runs} runs per variant, interleaved`);
  if (missing.length) log(`note: this host's cgroup2 does not offer ${missing.join(', ')}: those limits are left out on both sides`);
  log(`limits set per run: ${LIMITS.map((l) => `${l[1]}=${l[2]}`).join(', ') || 'none'}`);
  for (let i = 0; i < 20; i++) await nsboxLife(), await shellLife();

  const life = { nsbox: [], shell: [] };
  const wall = { nsbox: 0, shell: 0 };
  for (let i = 0; i < runs; i++) {
    const order = i % 2 ? ['shell', 'nsbox'] : ['nsbox', 'shell'];
    for (const k of order) {
      const t = k === 'nsbox' ? await nsboxLife() : await shellLife();
      life[k].push(t);
      wall[k] += t;
    }
  }

  const group = await Cgroup.create(name(), { parent: mount });
  const m = { intoHot: [], procsHot: [], intoCold: [], procsCold: [], rawHot: [], rawCold: [] };
  const membershipRuns = Math.max(20, Math.min(runs, 100));
  for (let i = 0; i < membershipRuns; i++) {
    m.intoHot.push(await membership(group, true));
    m.procsHot.push(await membership(group, false));
    m.rawHot.push(await rawWrite(group));
  }
  const coldRuns = Math.max(10, Math.floor(membershipRuns / 4));
  for (let i = 0; i < coldRuns; i++) {
    await sleep(100);
    m.intoCold.push(await membership(group, true));
    await sleep(100);
    m.procsCold.push(await membership(group, false));
    await sleep(100);
    m.rawCold.push(await rawWrite(group));
  }
  await group.remove({ kill: true });
  await drainNetnsPool();
  // Leave the root's subtree_control as found.
  const now = fs.readFileSync(path.join(mount, 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter(Boolean);
  const added = now.filter((c) => !enabledBefore.includes(c));
  if (added.length) fs.writeFileSync(path.join(mount, 'cgroup.subtree_control'), added.map((c) => `-${c}`).join(' '));

  const result = {
    host: { mode: host.mode, mount, missing, kernel: require('node:os').release() },
    runs,
    life: { nsbox: stats(life.nsbox), shell: stats(life.shell), perSecond: { nsbox: (runs * 1000) / wall.nsbox, shell: (runs * 1000) / wall.shell } },
    membership: Object.fromEntries(Object.entries(m).map(([k, xs]) => [k, stats(xs)])),
  };
  if (json) return console.log(JSON.stringify(result, null, 2));
  const f = (x) => x.toFixed(3).padStart(8);
  log('\ncreate + limits + spawn /bin/true + wait + remove (ms)      p50      p99     mean   per second');
  for (const k of ['nsbox', 'shell']) {
    const s = result.life[k];
    log(`  ${(k === 'nsbox' ? 'nsbox (Cgroup + spawn)' : 'shell (mkdir, echo, cgroup.procs, rmdir)').padEnd(56)}${f(s.p50)} ${f(s.p99)} ${f(s.mean)} ${result.life.perSecond[k].toFixed(0).padStart(10)}`);
  }
  log(`  nsbox/shell per second: ${(result.life.perSecond.nsbox / result.life.perSecond.shell).toFixed(2)}×`);
  log(`\na fresh process into a group (ms; spawn variants: call → exec)     p50      p99     mean`);
  const rows = [
    ['intoHot', 'spawn, CLONE_INTO_CGROUP, hot'], ['procsHot', 'spawn, parent writes cgroup.procs, hot'], ['rawHot', 'the cgroup.procs write alone, hot'],
    ['intoCold', 'spawn, CLONE_INTO_CGROUP, cold (100 ms idle)'], ['procsCold', 'spawn, parent writes cgroup.procs, cold'], ['rawCold', 'the cgroup.procs write alone, cold'],
  ];
  for (const [k, label] of rows) {
    const s = result.membership[k];
    log(`  ${label.padEnd(62)}${f(s.p50)} ${f(s.p99)} ${f(s.mean)}`);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
