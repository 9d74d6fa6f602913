// The event iterator and waitForState on a temporary directory that imitates a group: inotify
// reports a write to a plain file as it reports the kernel's notification of a cgroup file, so
// the diffing of counters and states is tested here without a cgroup.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { waitForState } from '../../lib/cgroup/cgroup';
import { CgroupEvents, flushEvents, type CgroupEvent } from '../../lib/cgroup/events';

const dirs: string[] = [];
function group(files: Record<string, string>): string {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), `nsbox-test-${process.pid}-events-`));
  dirs.push(parent);
  const dir = path.join(parent, 'g');
  fs.mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const MEMORY = (c: Partial<Record<'low' | 'high' | 'max' | 'oom' | 'oom_kill' | 'oom_group_kill', number>>) =>
  ['low', 'high', 'max', 'oom', 'oom_kill', 'oom_group_kill'].map((k) => `${k} ${c[k as keyof typeof c] ?? 0}\n`).join('');

async function take(it: CgroupEvents, n: number): Promise<CgroupEvent[]> {
  const out: CgroupEvent[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('CgroupEvents', () => {
  it('diffs counters against the reading before: counts what is new, nothing for what was there at the start', async () => {
    const dir = group({ 'cgroup.events': 'populated 1\nfrozen 0\n', 'memory.events': MEMORY({ max: 5, oom: 2, oom_kill: 1 }), 'pids.events': 'max 7\n' });
    const events = new CgroupEvents(dir);
    try {
      // oom without oom_kill: an OOM that killed nothing is not a kill.
      fs.writeFileSync(path.join(dir, 'memory.events'), MEMORY({ max: 5, oom: 3, oom_kill: 1 }));
      expect(await take(events, 1)).toEqual([{ type: 'oom', count: 1, total: 3, file: 'memory.events' }]);
      fs.writeFileSync(path.join(dir, 'memory.events'), MEMORY({ max: 9, oom: 3, oom_kill: 4, high: 1 }));
      const next = await take(events, 3);
      expect(next).toEqual(expect.arrayContaining([
        { type: 'oomKill', count: 3, total: 4, file: 'memory.events' },
        { type: 'memoryMax', count: 4, total: 9, file: 'memory.events' },
        { type: 'memoryHigh', count: 1, total: 1, file: 'memory.events' },
      ]));
      fs.writeFileSync(path.join(dir, 'pids.events'), 'max 8\n');
      expect(await take(events, 1)).toEqual([{ type: 'pidsMax', count: 1, total: 8, file: 'pids.events' }]);
      fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 0\nfrozen 1\n');
      expect((await take(events, 2)).map((e) => e.type).sort()).toEqual(['empty', 'frozen']);
    } finally {
      await events.return();
    }
  });

  it('two next() calls waiting at once both settle; removal of the group ends them, after a last read and an empty', async () => {
    const dir = group({ 'cgroup.events': 'populated 1\nfrozen 0\n', 'memory.events': MEMORY({}) });
    const events = new CgroupEvents(dir);
    const [a, b] = [events.next(), events.next()];
    // The last kill lands just before the group goes: flushEvents (what Cgroup.remove does before rmdir) reads it.
    fs.writeFileSync(path.join(dir, 'memory.events'), MEMORY({ oom: 1, oom_kill: 1 }));
    await flushEvents(dir);
    expect((await Promise.all([a, b])).map((r) => r.value?.type).sort()).toEqual(['oom', 'oomKill']);
    fs.rmSync(dir, { recursive: true });
    const rest: (string | undefined)[] = [];
    for (let r = await events.next(); !r.done; r = await events.next()) rest.push(r.value.type);
    expect(rest).toEqual(['empty']);
  });
});

describe('waitForState', () => {
  it('resolves only once cgroup.events says so, and rejects at its timeout with a stable code', async () => {
    const dir = group({ 'cgroup.events': 'populated 1\nfrozen 0\n' });
    let done = false;
    const wait = waitForState(dir, (s) => s.frozen, {}, 'frozen').done.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    await wait;
    expect(done).toBe(true);
    await expect(waitForState(dir, (s) => !s.populated, { timeout: 30 }, 'empty').done).rejects.toMatchObject({ code: 'ERR_NSBOX_CGROUP_TIMEOUT' });
  });

  it('rejects at its timeout even when garbage is collected during the wait', async () => {
    const dir = group({ 'cgroup.events': 'populated 1\nfrozen 0\n' });
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const collect = setInterval(gc, 1);
    try {
      for (let i = 0; i < 5; i++) {
        await expect(waitForState(dir, (s) => !s.populated, { timeout: 30 }, 'empty').done).rejects.toMatchObject({ code: 'ERR_NSBOX_CGROUP_TIMEOUT' });
      }
    } finally {
      clearInterval(collect);
    }
  });
});
