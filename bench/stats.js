// Statistics the benchmarks share: nearest-rank percentiles, a summary, and drift over a run.
'use strict';

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

module.exports = { percentile, summarize, drift };
