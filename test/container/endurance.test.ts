// 10,000 containers in a row leave the Node process as they found it: the same fds, and an
// RSS that does not grow with the number of runs. Runs in a fresh node with --expose-gc so
// that RSS is read after a full collection. Root pass only: the rootless pass runs the same
// code paths (test/container/container.test.ts) and would double a minute of CI.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CGROUP_ROOT, isRoot, REGISTER_TS, repoRoot, testName } from '../helpers/env';

const script = (parent: string) => `
const fs = require('node:fs');
const { Container } = require(${JSON.stringify(path.join(repoRoot, 'lib', 'container', 'index.ts'))});
const { netnsPoolSettled } = require(${JSON.stringify(path.join(repoRoot, 'lib', 'netns-pool.ts'))});
const parent = ${JSON.stringify(parent)};
async function batch(n) {
  for (let i = 0; i < n; i++) {
    const r = await Container.run({ command: ['/bin/true'], stdio: 'ignore', cgroupParent: parent });
    if (r.exitCode !== 0) throw new Error('run ' + i + ': ' + JSON.stringify(r));
  }
}
async function sample() {
  await netnsPoolSettled(); // a pool thread holds a socket for a moment while it makes one
  global.gc();
  const m = process.memoryUsage();
  // The network namespace pool's fds apart: it grows (up to 16 of each kind) when a spawn finds it empty.
  // Its namespaces and their detached sysfs mounts ('/' on a sysfs).
  const isPool = (fd) => { try { const l = fs.readlinkSync('/proc/self/fd/' + fd); return l.startsWith('net:') || (l === '/' && fs.statfsSync('/proc/self/fd/' + fd).type === 0x62656572); } catch { return false; } };
  const links = fs.readdirSync('/proc/self/fd');
  const pool = links.filter(isPool).length;
  return { fds: links.length - pool, pool, rss: m.rss, heap: m.heapUsed, reserved: m.heapTotal };
}
(async () => {
  // Warm: JIT, caches, the netns pool, V8's heap sizing, glibc's cache of thread stacks
  // (each pooled network namespace is made on a short-lived thread).
  await batch(2000);
  const a = await sample();
  await batch(4000);
  const b = await sample();
  await batch(4000);
  const c = await sample();
  fs.rmdirSync(parent);
  console.log(JSON.stringify({ a, b, c }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('endurance', () => {
  it.skipIf(!isRoot)('10,000 sequential Container.run leave fd count and RSS flat (root pass)', async () => {
    const parent = path.join(CGROUP_ROOT, testName('endurance'));
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--expose-gc', '-r', REGISTER_TS, '-e', script(parent)], { timeout: 280_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const { a, b, c } = JSON.parse(out) as Record<'a' | 'b' | 'c', { fds: number; pool: number; rss: number; heap: number; reserved: number }>;
    expect([b.fds, c.fds]).toEqual([a.fds, a.fds]);
    expect(c.pool).toBeLessThanOrEqual(2 * 16 + 16);
    // What JavaScript keeps: a leak of 64 bytes per container would be 0.5 MB over 8,000.
    expect(c.heap - a.heap, `heap ${a.heap} → ${b.heap} → ${c.heap}`).toBeLessThan(512 * 1024);
    // RSS outside V8's heap (whose reservation V8 sizes to the allocation rate, not to what
    // is live: that is the heap check above): under 512 bytes per container, with malloc's noise.
    const native = (x: typeof a) => x.rss - x.reserved;
    expect(native(c) - native(a), `RSS ${a.rss} → ${b.rss} → ${c.rss}, V8 heap reserved ${a.reserved} → ${b.reserved} → ${c.reserved}`).toBeLessThan(4 * 1024 * 1024);
  }, 300_000);
});
