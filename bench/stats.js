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

module.exports = { percentile, summarize, drift, machine };
