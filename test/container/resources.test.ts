// Container limits from the cgroup: the program is born in a group whose memory, pids and
// cpu limits were written first, and the result says when a limit ended it. Needs the memory
// and pids controllers in cgroup v2: the VM lane (scripts/vm-test.sh) has them; on a hybrid
// host they are v1's and these tests are skipped, saying so.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Container, type ContainerOptions } from '../../lib/container/index';
import { CGROUP_ROOT, isRoot, testName } from '../helpers/env';
import { PROBE_BIN, parseProbe } from '../helpers/probe-program';

function missing(): string | undefined {
  if (!isRoot) return 'needs root (a cgroup with limits)';
  let offered: string[] = [];
  try {
    offered = fs.readFileSync(path.join(CGROUP_ROOT, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  } catch {
    return `no cgroup v2 at ${CGROUP_ROOT}`;
  }
  const lacking = ['memory', 'pids', 'cpu'].filter((c) => !offered.includes(c));
  return lacking.length ? `this host's cgroup v2 lacks ${lacking.join(', ')} (hybrid mode): the VM lane runs these` : undefined;
}
const skip = missing();
let cgroupParent = '';
beforeAll(() => {
  cgroupParent = path.join(CGROUP_ROOT, testName('limits'));
});
afterAll(() => {
  if (fs.existsSync(cgroupParent)) fs.rmdirSync(cgroupParent);
});

const base = (o: Partial<ContainerOptions>): ContainerOptions => ({
  command: ['/probe'],
  cgroupParent,
  ...o,
  mounts: [{ type: 'bind', source: PROBE_BIN, target: '/probe', readonly: true }],
});

describe.skipIf(skip !== undefined)(`limits${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('the program is born under its limits and sees them in its own cgroup namespace', async () => {
    const r = await Container.run(base({ resources: { memory: { max: '64M' }, pids: { max: 20 }, cpu: { max: { quota: 50_000, period: 100_000 } } } }));
    expect(r.exitCode).toBe(0);
    const p = parseProbe(r.stdout);
    expect(p.cgroup).toContain('0::/');
    expect(p.cgroupLimits).toMatchObject({ 'memory.max': String(64 * 1024 * 1024), 'pids.max': '20', 'cpu.max': '50000 100000' });
  });

  it("a program past memory.max ends with reason 'oom_kill'", async () => {
    const r = await Container.run(base({ command: ['/bin/sh', '-c', 'x=$(yes 0123456789abcdef | head -c 200000000); echo survived'], resources: { memory: { max: '16M', swapMax: 0 } }, timeout: 60_000 }));
    expect(r).toMatchObject({ reason: 'oom_kill' });
    expect(r.stdout).not.toContain('survived');
    expect(r.usage.memoryPeakBytes).toBeGreaterThan(8 * 1024 * 1024);
  });

  it("a fork bomb held by pids.max ends with reason 'pids_max'", async () => {
    const r = await Container.run(base({ command: ['/bin/sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done; wait'], resources: { pids: { max: 4 } }, timeout: 60_000 }));
    expect(r).toMatchObject({ reason: 'pids_max' });
    expect(r.exitCode).not.toBe(0);
  });

  it('stats() and events() of a running container', async () => {
    const c = await Container.create(base({ command: ['/bin/sh', '-c', 'sleep 1 & sleep 1 & echo ready; wait'], resources: { memory: { max: '64M' }, pids: { max: 10 } }, stdio: ['ignore', 'pipe', 'ignore'] }));
    try {
      await c.start();
      await new Promise((resolve) => c.stdout!.once('data', resolve)); // both sleeps forked
      const s = await c.stats();
      expect(s.pids?.current).toBeGreaterThanOrEqual(3);
      expect(s.memory?.current).toBeGreaterThan(0);
      expect(s.cpu.usageUsec).toBeGreaterThanOrEqual(0);
      const events = c.events();
      const first = await events.next();
      expect(first.done).toBe(false);
      await events.return?.();
      expect(await c.wait()).toMatchObject({ exitCode: 0, reason: 'exit' });
    } finally {
      await c.delete();
    }
  });
});
