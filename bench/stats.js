// What the benchmarks share: nearest-rank percentiles, a summary, drift over a run, and the
// machine they ran on.
'use strict';
const fs = require('node:fs');
const os = require('node:os');

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length); // nearest rank
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  return {
    n: samples.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: samples.reduce((s, x) => s + x, 0) / samples.length,
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}

/** p50 of the first and of the last tenth of the runs, in run order: drift over the run. */
function drift(samples) {
  const k = Math.max(1, Math.floor(samples.length / 10));
  return {
    firstTenthP50: percentile(Float64Array.from(samples.slice(0, k)).sort(), 50),
    lastTenthP50: percentile(Float64Array.from(samples.slice(-k)).sort(), 50),
  };
}

/** The machine and Node a benchmark ran on (each benchmark adds its own tools' versions). */
function machine() {
  const cpus = os.cpus();
  let distro = '';
  try {
    distro = /PRETTY_NAME="?([^"\n]*)/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {}
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    arch: process.arch,
    kernel: os.release(),
    distro,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? '',
    totalMemMB: Math.round(os.totalmem() / 2 ** 20),
  };
}

/** The machine's CPU jiffies (/proc/stat's first line): busy (user, nice, system, irq, softirq, steal) and all. */
function machineJiffies() {
  const c = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: c[0] + c[1] + c[2] + c[5] + c[6] + c[7], all: c.reduce((a, b) => a + b, 0) };
}

/** CPU seconds: the whole machine busy, this process, and its reaped children (/proc). */
function cpuTimes() {
  const hz = 100; // USER_HZ, as /proc reports it on every Linux architecture
  const self = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number); // fields from 3 on
  return { machine: machineJiffies().busy / hz, self: (f[11] + f[12]) / hz, children: (f[13] + f[14]) / hz };
}

/** This process's open fds. */
const fdCount = () => fs.readdirSync('/proc/self/fd').length;

module.exports = { percentile, summarize, drift, machine, machineJiffies, cpuTimes, fdCount };
