// The cgroup v2 suite against the real kernel. On this hybrid host the unified hierarchy
// offers membership, freeze, kill, cpu.stat, pressure and hugetlb, so those run here and the
// rest skips, naming why; in the VM lane (NSBOX_VM=1, a pure cgroup v2 kernel) nothing may
// skip: a controller missing there is a failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cgroup, cgroupHost, CgroupControllerError, NsboxSystemError, parseCpuMax, parseNestedKeyed, spawn, type CgroupEvent, type Controller } from '../../lib/index';
import { internals as cgroupInternals, killBySignals } from '../../lib/cgroup/cgroup';
import { isRoot, REGISTER_TS, repoRoot, run, runNode, testName, text } from '../helpers/env';
import { openFds } from '../helpers/proc';

const inVm = process.env.NSBOX_VM === '1';
const host = cgroupHost();
const mount = host.mount;
const rootControllers = mount ? fs.readFileSync(path.join(mount, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean) : [];

/** Why a test needing these controllers cannot run here, or undefined. Never skips in the VM. */
function missing(...controllers: Controller[]): string | undefined {
  if (!isRoot) return 'needs root to create cgroups';
  if (!mount) return 'no cgroup2 mount';
  if (inVm) return undefined;
  const lacking = controllers.filter((c) => !rootControllers.includes(c));
  return lacking.length ? `this ${host.mode} host's cgroup2 does not offer ${lacking.join(', ')} (the VM lane runs it)` : undefined;
}
/** `it`, skipped with the reason in its name where these controllers are missing. */
const needs = (...controllers: Controller[]) => {
  const why = missing(...controllers);
  return (name: string, fn: () => Promise<void>) => it.skipIf(why !== undefined)(why ? `${name} (skipped: ${why})` : name, fn);
};

/** The first real disk: the VM's virtio disk (vda) in the lane. */
function blockDevice(): string | undefined {
  try {
    return fs.readdirSync('/sys/block').find((d) => /^(vd|sd|nvme|xvd)/.test(d));
  } catch {
    return undefined;
  }
}

// Leave the mount root's subtree_control as found: enabling controllers there is what
// Cgroup.create does for real, but this host's own groups must not keep them after the suite.
let rootEnabledBefore: string[] = [];
beforeAll(() => {
  if (mount && isRoot) rootEnabledBefore = fs.readFileSync(path.join(mount, 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter(Boolean);
});
afterAll(() => {
  if (!mount || !isRoot) return;
  const now = fs.readFileSync(path.join(mount, 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter(Boolean);
  const added = now.filter((c) => !rootEnabledBefore.includes(c));
  if (added.length) fs.writeFileSync(path.join(mount, 'cgroup.subtree_control'), added.map((c) => `-${c}`).join(' '));
});

const groups: Cgroup[] = [];
async function group(options: Parameters<typeof Cgroup.create>[1] = {}): Promise<Cgroup> {
  const g = await Cgroup.create(testName('cg'), { parent: mount!, ...options });
  groups.push(g);
  return g;
}
afterEach(async () => {
  for (const g of groups.splice(0)) await g.remove({ kill: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BUSY = ['/bin/sh', '-c', 'while :; do :; done'];

/** Collects events until `until` returns true for one of them. */
async function eventsUntil(iter: AsyncIterable<CgroupEvent>, until: (e: CgroupEvent) => boolean): Promise<CgroupEvent[]> {
  const seen: CgroupEvent[] = [];
  for await (const e of iter) {
    seen.push(e);
    if (until(e)) break;
  }
  return seen;
}

describe.skipIf(!isRoot || !mount)(`cgroup v2${!isRoot ? ' (skipped: needs root to create cgroups)' : !mount ? ' (skipped: no cgroup2 mount)' : ''}`, () => {
  it('membership: a child spawned into the group is listed in procs and threads, its /proc says so, and the group empties when it ends', async () => {
    const g = await group();
    const child = await spawn({ command: ['/bin/sh', '-c', 'cat /proc/self/cgroup; exec sleep 30'], cgroup: g, stdio: ['ignore', 'pipe', 'inherit'] });
    const first = await new Promise<string>((resolve) => child.stdout!.once('data', (d) => resolve(String(d))));
    expect(first).toContain(`0::${g.path.slice(mount!.length)}`);
    expect(await g.procs()).toEqual([child.pid]);
    expect(await g.threads()).toEqual([child.pid]);
    expect(await g.state()).toEqual({ populated: true, frozen: false });
    const events = g.events();
    child.kill('SIGTERM');
    await child.exited;
    const seen = await eventsUntil(events, (e) => e.type === 'empty');
    expect(seen.map((e) => e.type)).toEqual(['empty']);
    expect(await g.procs()).toEqual([]);
  });

  it('addProcess moves a running process in; children() lists subgroups', async () => {
    const g = await group();
    const sub = await Cgroup.create('leaf', { parent: g.path });
    const child = await spawn({ command: ['sleep', '30'], stdio: 'ignore' });
    try {
      await sub.addProcess(child.pid);
      expect(await sub.procs()).toEqual([child.pid]);
      expect(fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')).toContain(`0::${sub.path.slice(mount!.length)}\n`);
      expect((await g.children()).map((c) => c.path)).toEqual([sub.path]);
      expect((await g.state()).populated).toBe(true); // populated counts descendants
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  it('freeze stops progress and thaw resumes it; each resolves when cgroup.events says so', async () => {
    const g = await group();
    await spawn({ command: BUSY, cgroup: g, stdio: 'ignore' });
    await sleep(100);
    await g.freeze();
    expect((await g.state()).frozen).toBe(true);
    expect(fs.readFileSync(path.join(g.path, 'cgroup.freeze'), 'utf8').trim()).toBe('1');
    const a = (await g.stats()).cpu.usageUsec;
    await sleep(300);
    const b = (await g.stats()).cpu.usageUsec;
    expect(b).toBe(a);
    await g.thaw();
    expect((await g.state()).frozen).toBe(false);
    await sleep(300);
    expect((await g.stats()).cpu.usageUsec).toBeGreaterThan(b + 50_000);
  });

  it('kill empties the group, descendants included, and remove then leaves nothing (no group, no fd)', async () => {
    const g = await Cgroup.create(testName('cg'), { parent: mount! });
    const sub = await Cgroup.create('a/b', { parent: g.path });
    const top = await spawn({ command: ['sleep', '60'], cgroup: g, stdio: 'ignore' });
    const deep = await spawn({ command: ['sleep', '60'], cgroup: sub, stdio: 'ignore' });
    const intoTree = () => [...openFds().values()].filter((target) => target === g.path || target.startsWith(`${g.path}/`));
    expect(intoTree().sort()).toEqual([g.path, sub.path].sort()); // each opened once by spawn, held until removal
    await g.kill();
    expect(await top.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await deep.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await g.remove();
    expect(fs.existsSync(g.path)).toBe(false);
    // Its fd and the subgroup's (opened by spawn) are closed: none points into the tree.
    expect(intoTree()).toEqual([]);
    await g.remove(); // a removed group counts as removed
    expect(() => g.fd).toThrow(expect.objectContaining({ code: 'ERR_NSBOX_CGROUP_REMOVED' }));
  });

  it('kill without cgroup.kill (before 5.14): freeze, signal each pid, thaw', async () => {
    const g = await group();
    const sub = await Cgroup.create('x', { parent: g.path });
    const children = await Promise.all([g, sub, sub].map((c) => spawn({ command: ['sleep', '60'], cgroup: c, stdio: 'ignore' })));
    cgroupInternals.killFile = 'cgroup.kill-missing'; // as a kernel without the file
    try {
      await g.kill();
    } finally {
      cgroupInternals.killFile = 'cgroup.kill';
    }
    expect(fs.existsSync(path.join(g.path, 'cgroup.kill-missing'))).toBe(false);
    for (const c of children) expect(await c.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await g.state()).frozen).toBe(false);
    // The helper alone, on a group that was never frozen by anyone else, leaves it thawed too.
    const more = await spawn({ command: ['sleep', '60'], cgroup: sub, stdio: 'ignore' });
    await killBySignals(g);
    expect(await more.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('remove without kill waits for the group to empty, and gives up at its timeout', async () => {
    const g = await group();
    const child = await spawn({ command: ['sleep', '0.3'], cgroup: g, stdio: 'ignore' });
    await expect(g.remove({ timeout: 50 })).rejects.toMatchObject({ code: 'ERR_NSBOX_CGROUP_TIMEOUT' });
    expect(fs.existsSync(g.path)).toBe(true);
    await g.remove();
    expect((await child.exited).code).toBe(0);
    expect(fs.existsSync(g.path)).toBe(false);
  });

  it('pressure: a PSI trigger fires while the group\'s tasks wait for CPU, and ends when the group is removed', async () => {
    const g = await Cgroup.create(testName('cg'), { parent: mount! });
    try {
      const events = g.pressure({ resource: 'cpu', stall: 100_000, window: 2_000_000 });
      // Twice as many busy loops as CPUs: each waits for a CPU about half the time.
      const loops = await Promise.all(Array.from({ length: 2 * os.availableParallelism() }, () => spawn({ command: BUSY, cgroup: g, stdio: 'ignore' })));
      const first = await events.next();
      expect(first.done).toBe(false);
      expect(first.value).toMatchObject({ resource: 'cpu', kind: 'some' });
      expect(first.value.pressure.some.totalUsec).toBeGreaterThanOrEqual(100_000);
      await g.remove({ kill: true });
      for (const l of loops) expect((await l.exited).signal).toBe('SIGKILL');
      // The kernel ends the trigger with its group (POLLERR): the iteration ends by itself.
      let next = await events.next();
      while (!next.done) next = await events.next(); // events queued before the removal
      expect(next).toEqual({ value: undefined, done: true });
    } finally {
      await g.remove({ kill: true });
    }
  });

  it('pressure: a window the kernel does not take is refused before anything is opened; an abort ends the iteration', async () => {
    const g = await group();
    expect(() => g.pressure({ resource: 'cpu', stall: 1000, window: 499_999 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => g.pressure({ resource: 'cpu', stall: 2_000_000, window: 1_000_000 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    // Below 2 s windows need CAP_SYS_RESOURCE (root here lacks it; the VM's root has it).
    const capResource = (BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`) >> 24n) & 1n;
    const short = () => g.pressure({ resource: 'io', stall: 100_000, window: 1_000_000 });
    if (capResource) short().return();
    else expect(short).toThrow(expect.objectContaining({ code: 'EINVAL', hint: expect.stringContaining('multiple of 2 s') }));
    const ac = new AbortController();
    const events = g.pressure({ resource: 'memory', stall: 100_000, signal: ac.signal });
    const pending = events.next();
    ac.abort();
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  it('a worker terminated with a live pressure trigger and pooled network namespaces leaves Node running and no namespace fd behind', async () => {
    const g = await group();
    const lib = JSON.stringify(path.join(repoRoot, 'lib', 'index.ts'));
    const script = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const { parentPort } = require('node:worker_threads');
        const { Cgroup, spawn } = require(${lib});
        const events = Cgroup.open(${JSON.stringify(g.path)}).pressure({ resource: 'cpu', stall: 100000 });
        events.next();
        spawn({ command: ['/bin/true'], namespaces: ['net'], stdio: 'ignore' }).then((c) => c.exited).then(() => parentPort.postMessage('ready'));
      \`, { eval: true, execArgv: ['-r', ${JSON.stringify(REGISTER_TS)}] });
      const netnsFds = () => require('node:fs').readdirSync('/proc/self/fd').filter((fd) => { try { return require('node:fs').readlinkSync('/proc/self/fd/' + fd).startsWith('net:'); } catch { return false; } });
      w.once('message', async () => {
        await w.terminate();
        // The worker's pooled namespaces were the addon's: closed with its environment (one still being made, when it lands).
        for (let i = 0; i < 50 && netnsFds().length; i++) await new Promise((r) => setTimeout(r, 20));
        console.log('survived, net fds left: ' + netnsFds().length);
      });
      w.once('error', (e) => console.log('error ' + e));`;
    const out = await runNode(script);
    expect(out).toMatchObject({ code: 0, stdout: 'survived, net fds left: 0\n' });
  });

  it('an already aborted signal writes nothing (freeze leaves it thawed, remove leaves it and its process); open() takes only a group, with or without a trailing slash', async () => {
    const g = await group();
    const child = await spawn({ command: ['sleep', '30'], cgroup: g, stdio: 'ignore' });
    const aborted = AbortSignal.abort();
    await expect(g.freeze({ signal: aborted })).rejects.toMatchObject({ name: 'AbortError' });
    expect(fs.readFileSync(path.join(g.path, 'cgroup.freeze'), 'utf8').trim()).toBe('0');
    await expect(g.remove({ kill: true, signal: aborted })).rejects.toMatchObject({ name: 'AbortError' });
    expect(await g.procs()).toEqual([child.pid]);
    for (const p of [mount!, path.join(g.path, 'cgroup.procs')]) expect(() => Cgroup.open(p), p).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    const slashed = Cgroup.open(`${g.path}/`);
    expect(slashed.path).toBe(g.path);
    const fd = slashed.fd;
    await g.remove({ kill: true });
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(openFds().has(fd)).toBe(false); // the same group: closed with it
  });

  it('a freeze aborted while it is written is taken back; killBySignals under a frozen parent kills and leaves the freeze as it was', async () => {
    const g = await group();
    const sub = await Cgroup.create('sub', { parent: g.path });
    const child = await spawn({ command: ['sleep', '30'], cgroup: sub, stdio: 'ignore' });
    // Aborted after the call, before its write lands: the group is not left freezing.
    const ac = new AbortController();
    const freezing = g.freeze({ signal: ac.signal });
    ac.abort();
    await expect(freezing).rejects.toMatchObject({ name: 'AbortError' });
    expect(fs.readFileSync(path.join(g.path, 'cgroup.freeze'), 'utf8').trim()).toBe('0');
    expect((await g.state()).frozen).toBe(false);
    // The parent frozen: the signals still kill (a frozen process dies of SIGKILL), and the
    // group's own freeze is put back (not thawed through thaw(), which a frozen parent refuses).
    await g.freeze();
    await killBySignals(sub);
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(fs.readFileSync(path.join(sub.path, 'cgroup.freeze'), 'utf8').trim()).toBe('0');
    expect(fs.readFileSync(path.join(g.path, 'cgroup.freeze'), 'utf8').trim()).toBe('1');
    // A group frozen by its user stays frozen.
    await g.thaw();
    await sub.freeze();
    await killBySignals(sub);
    expect(fs.readFileSync(path.join(sub.path, 'cgroup.freeze'), 'utf8').trim()).toBe('1');
  });

  it('a group something else removed: events() ends at once, and a write names the missing group', async () => {
    const g = await group();
    const other = Cgroup.open(g.path);
    fs.rmdirSync(g.path);
    const events = other.events();
    expect(await events.next()).toEqual({ value: undefined, done: true });
    await expect(other.update({ raw: { 'cgroup.max.depth': '3' } })).rejects.toMatchObject({ code: 'ENOENT', hint: expect.stringContaining('no longer exists') });
  });

  it('a refused create of a/b/c removes every level it made; removing a group closes the fds of every object for it or below, not of a sibling sharing its prefix', async () => {
    const parent = await group();
    const error = await Cgroup.create('a/b/c', { parent: parent.path, resources: { raw: { 'cgroup.max.depth': 'deep' } } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EINVAL' });
    expect(fs.readdirSync(parent.path).filter((f) => !f.includes('.'))).toEqual([]);
    const one = await Cgroup.create('cg-1', { parent: parent.path });
    const ten = await Cgroup.create('cg-10', { parent: parent.path });
    const again = Cgroup.open(one.path);
    const fds = [one.fd, again.fd, ten.fd];
    await one.remove();
    const open = openFds();
    expect([open.has(fds[0]), open.has(fds[1]), open.get(fds[2])]).toEqual([false, false, ten.path]);
    expect(() => again.fd).toThrow(expect.objectContaining({ code: 'ERR_NSBOX_CGROUP_REMOVED' }));
  });

  it('bad wait options are refused before anything is written; a group under a frozen one cannot thaw', async () => {
    const g = await group();
    const sub = await Cgroup.create('sub', { parent: g.path });
    await expect(g.freeze({ timeout: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(fs.readFileSync(path.join(g.path, 'cgroup.freeze'), 'utf8').trim()).toBe('0');
    const child = await spawn({ command: ['sleep', '30'], cgroup: g, stdio: 'ignore' });
    await expect(g.remove({ kill: true, timeout: 'soon' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(await g.procs()).toEqual([child.pid]); // not killed
    await g.freeze();
    await expect(sub.thaw()).rejects.toMatchObject({ code: 'ERR_NSBOX_CGROUP_PARENT_FROZEN' });
    await g.thaw();
    await sub.thaw();
  });

  it('cpu.stat and the pressure files parse from the real kernel', async () => {
    const g = await group();
    const child = await spawn({ command: BUSY, cgroup: g, stdio: 'ignore' });
    await sleep(200);
    const s = await g.stats();
    child.kill('SIGKILL');
    await child.exited;
    expect(s.cpu.usageUsec).toBeGreaterThan(10_000);
    expect(s.cpu.usageUsec).toBeGreaterThanOrEqual(s.cpu.userUsec);
    expect(s.descendants).toMatchObject({ nrDescendants: 0, nrDyingDescendants: 0 });
    expect(s.state).toEqual({ populated: true, frozen: false });
    // PSI may be compiled out or off (psi=0); where it is on, every line parses.
    if (fs.existsSync(path.join(g.path, 'cpu.pressure'))) {
      expect(s.pressure?.cpu?.some).toEqual({ avg10: expect.any(Number), avg60: expect.any(Number), avg300: expect.any(Number), totalUsec: expect.any(Number) });
      expect(s.pressure?.memory?.full?.totalUsec).toBeGreaterThanOrEqual(0);
      expect(s.pressure?.io?.some.avg300).toBeGreaterThanOrEqual(0);
    }
  });

  needs('hugetlb')('hugetlb: a limit per page size is written, read back and reported', async () => {
    const size = fs.readdirSync('/sys/kernel/mm/hugepages').includes('hugepages-2048kB') ? '2MB' : undefined;
    expect(size).toBe('2MB');
    const g = await group({ resources: { hugetlb: { '2MB': '8M' } } });
    expect(fs.readFileSync(path.join(g.path, 'hugetlb.2MB.max'), 'utf8').trim()).toBe(String(8 << 20));
    await g.update({ hugetlb: { '2MB': 'max' } });
    expect(fs.readFileSync(path.join(g.path, 'hugetlb.2MB.max'), 'utf8').trim()).toBe('max');
    const s = await g.stats();
    expect(s.hugetlb?.['2MB']).toEqual({ current: 0, maxEvents: 0 });
  });

  needs('hugetlb')('a controller the host does not offer is a typed error naming it, the path and the mode; nothing is created', async () => {
    const absent = (['memory', 'pids', 'cpu', 'io', 'cpuset'] as const).find((c) => !rootControllers.includes(c));
    if (inVm) expect(absent).toBeUndefined(); // a pure v2 kernel offers them all
    if (!absent) return;
    const name = testName('cg');
    const error = await Cgroup.create(name, { parent: mount!, controllers: [absent] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CgroupControllerError);
    expect(error).toMatchObject({ code: 'ERR_NSBOX_CGROUP_CONTROLLER', controller: absent, path: mount, mode: host.mode });
    expect((error as Error).message).toContain(`'${absent}'`);
    if (host.mode === 'hybrid') expect((error as CgroupControllerError).hint).toContain('systemd.unified_cgroup_hierarchy=1');
    expect(fs.existsSync(path.join(mount!, name))).toBe(false);
  });

  it('a value the kernel refuses is a system error naming the file; the group made for it is removed', async () => {
    // The raw escape is not validated by nsbox: the kernel's kstrtoint refuses the word.
    const parent = await group();
    const name = 'refused';
    const error = await Cgroup.create(name, { parent: parent.path, resources: { raw: { 'cgroup.max.depth': 'deep' } } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NsboxSystemError);
    expect(error).toMatchObject({ code: 'EINVAL', syscall: 'write', path: path.join(parent.path, name, 'cgroup.max.depth') });
    expect((error as NsboxSystemError).hint).toContain('"deep"');
    expect(fs.existsSync(path.join(parent.path, name))).toBe(false);
    // A file this kernel does not have is ENOENT (never created), saying so.
    const missing = await parent.update({ raw: { 'cgroup.no_such_file': 1 } }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'write', hint: expect.stringContaining('has no cgroup.no_such_file') });
  });

  describe('on real controllers', () => {
    needs('memory')('memory.max: a process over it is OOM-killed, and an oomKill event arrives', async () => {
      const g = await group({ resources: { memory: { max: '16M', ...(fs.existsSync('/proc/swaps') && fs.readFileSync('/proc/swaps', 'utf8').split('\n').length > 2 ? { swapMax: 0 } : {}) } } });
      const events = g.events();
      // dd fills a 64 MiB buffer from /dev/zero: anonymous memory the group cannot hold.
      const child = await spawn({ command: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], cgroup: g, stdio: 'ignore' });
      expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const seen = await eventsUntil(events, (e) => e.type === 'oomKill');
      expect(seen.find((e) => e.type === 'oomKill')).toMatchObject({ count: 1, total: 1, file: 'memory.events' });
      const s = await g.stats();
      expect(s.memory?.events.oomKill).toBe(1);
      expect(s.memory?.events.max).toBeGreaterThan(0);
      expect(s.memory?.peak).toBeGreaterThan(8 << 20);
      expect(s.memory?.peak).toBeLessThanOrEqual(16 << 20);
    });

    needs('memory')('memory.high throttles without killing: the program finishes and high events are counted', async () => {
      const dev = blockDevice();
      expect(dev, 'a block device whose page cache the group can fill').toBeDefined();
      const g = await group({ resources: { memory: { high: '8M' } } });
      // Page cache of a disk is reclaimable: over memory.high the group is reclaimed from and throttled, never OOM-killed.
      const child = await spawn({ command: ['dd', 'if=/dev/zero', `of=/dev/${dev}`, 'bs=1M', 'count=32'], cgroup: g, stdio: 'ignore' });
      expect(await child.exited).toEqual({ code: 0, signal: null });
      const s = await g.stats();
      expect(s.memory?.events.high).toBeGreaterThan(0);
      expect(s.memory?.events.oomKill).toBe(0);
      expect(s.memory?.stat.file).toBeGreaterThanOrEqual(0);
    });

    needs('pids')('pids.max: fork fails with EAGAIN past it, and a pidsMax event arrives', async () => {
      // Made without the pids controller; update() enables it down the tree.
      const g = await group();
      await g.update({ pids: { max: 2 } });
      expect(await g.controllers()).toContain('pids');
      const events = g.events();
      const a = await spawn({ command: ['sleep', '60'], cgroup: g, stdio: 'ignore' });
      const b = await spawn({ command: ['sleep', '60'], cgroup: g, stdio: 'ignore' });
      const error = await spawn({ command: ['sleep', '60'], cgroup: g, stdio: 'ignore' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'EAGAIN', step: 'clone' });
      // And from inside: a shell in the group cannot fork either.
      await g.update({ pids: { max: 3 } });
      const shell = await spawn({ command: ['/bin/sh', '-c', 'sleep 1 & sleep 1 & wait'], cgroup: g, stdio: ['ignore', 'ignore', 'pipe'] });
      const stderr = await text(shell.stderr);
      await shell.exited;
      expect(stderr).toMatch(/fork|Resource temporarily unavailable/i);
      const seen = await eventsUntil(events, (e) => e.type === 'pidsMax' && e.total >= 2);
      expect(seen.filter((e) => e.type === 'pidsMax').length).toBeGreaterThan(0);
      const s = await g.stats();
      expect(s.pids?.events.max).toBeGreaterThanOrEqual(2);
      expect(s.pids?.current).toBe(2);
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      await Promise.all([a.exited, b.exited]);
    });

    needs('pids')('CLONE_INTO_CGROUP: the child is in the group from its first instruction (with pids.max 0 it cannot even be created)', async () => {
      const g = await group({ resources: { pids: { max: 0 } } });
      // Born in the group, the clone itself is charged to it and refused.
      await expect(spawn({ command: ['/bin/true'], cgroup: g, stdio: 'ignore' })).rejects.toMatchObject({ code: 'EAGAIN', syscall: 'clone3' });
      await g.update({ pids: { max: 1 } });
      const child = await spawn({ command: ['/bin/true'], cgroup: g, stdio: 'ignore' });
      expect(child.bornInCgroup).toBe(true);
      expect(await child.exited).toEqual({ code: 0, signal: null });
      expect((await g.stats()).pids?.peak ?? 1).toBe(1);
    });

    needs('cpu')('cpu.max throttles (nr_throttled grows) and cpu.weight is accepted', async () => {
      const g = await group({ resources: { cpu: { max: { quota: 5_000, period: 50_000 }, weight: 500 } } });
      expect(parseCpuMax(fs.readFileSync(path.join(g.path, 'cpu.max'), 'utf8'))).toEqual({ quota: 5_000, period: 50_000 });
      expect(fs.readFileSync(path.join(g.path, 'cpu.weight'), 'utf8').trim()).toBe('500');
      const child = await spawn({ command: BUSY, cgroup: g, stdio: 'ignore' });
      await sleep(1000);
      const s = await g.stats();
      child.kill('SIGKILL');
      await child.exited;
      expect(s.cpu.nrThrottled).toBeGreaterThan(0);
      expect(s.cpu.throttledUsec).toBeGreaterThan(0);
      // 10 % of a CPU over about a second, with slack for the first period and TCG's clock.
      expect(s.cpu.usageUsec).toBeLessThan(400_000);
      await g.update({ cpu: { max: 'max', weight: 10000, idle: false } });
      expect(parseCpuMax(fs.readFileSync(path.join(g.path, 'cpu.max'), 'utf8')).quota).toBe('max');
    });

    needs('io')('io.max on the disk is accepted and read back; io.stat counts its traffic', async () => {
      const dev = blockDevice();
      expect(dev, 'a block device').toBeDefined();
      const id = fs.readFileSync(`/sys/block/${dev}/dev`, 'utf8').trim();
      const g = await group({ resources: { io: { max: [{ device: `/dev/${dev}`, rbps: 1_048_576, wiops: 100 }] } } });
      const lines = parseNestedKeyed(fs.readFileSync(path.join(g.path, 'io.max'), 'utf8'));
      expect(lines).toEqual([{ key: id, values: { rbps: 1_048_576, wbps: 'max', riops: 'max', wiops: 100 } }]);
      const child = await spawn({ command: ['dd', `if=/dev/${dev}`, 'of=/dev/null', 'bs=64k', 'count=4', 'iflag=direct'], cgroup: g, stdio: 'ignore' });
      expect((await child.exited).code).toBe(0);
      const s = await g.stats();
      expect(s.io?.find((d) => d.device === id)?.rbytes).toBeGreaterThanOrEqual(4 * 65536);
    });

    needs('cpu', 'memory', 'io')('every typed field the kernel takes is written and read back as given', async () => {
      const g = await group({
        resources: {
          cpu: { max: { quota: 20_000, period: 100_000 }, burst: 10_000, idle: true },
          memory: { max: '64M', high: '48M', low: '1M', min: '512K', oomGroup: true },
          io: { weight: 300 },
        },
      });
      const read = (f: string) => fs.readFileSync(path.join(g.path, f), 'utf8').trim();
      expect([read('cpu.max'), read('cpu.max.burst'), read('cpu.idle')]).toEqual(['20000 100000', '10000', '1']);
      expect([read('memory.max'), read('memory.high'), read('memory.low'), read('memory.min'), read('memory.oom.group')])
        .toEqual([String(64 << 20), String(48 << 20), String(1 << 20), String(512 << 10), '1']);
      expect(read('io.weight')).toBe('default 300');
      // Both lowered below the old burst, then both raised above the old quota: the kernel
      // keeps burst ≤ quota at every write, so the order of the writes matters both ways.
      await g.update({ cpu: { max: { quota: 8_000 }, burst: 4_000 } });
      expect([read('cpu.max'), read('cpu.max.burst')]).toEqual(['8000 100000', '4000']);
      await g.update({ cpu: { max: { quota: 50_000 }, burst: 30_000 } });
      expect([read('cpu.max'), read('cpu.max.burst')]).toEqual(['50000 100000', '30000']);
      // The quota alone below the burst: the kernel's refusal, said as such.
      await expect(g.update({ cpu: { max: { quota: 10_000 } } })).rejects.toMatchObject({ code: 'EINVAL', hint: expect.stringContaining('cpu.max.burst') });
      if (fs.existsSync(path.join(g.path, 'memory.swap.max'))) {
        await g.update({ memory: { swapMax: 0 } });
        expect(read('memory.swap.max')).toBe('0');
      }
    });

    needs('cpuset')('cpuset: cpus and mems are written in list form and read back', async () => {
      const g = await group({ resources: { cpuset: { cpus: [0], mems: '0' } } });
      expect(fs.readFileSync(path.join(g.path, 'cpuset.cpus'), 'utf8').trim()).toBe('0');
      expect(fs.readFileSync(path.join(g.path, 'cpuset.cpus.effective'), 'utf8').trim()).toBe('0');
      const child = await spawn({ command: ['/bin/sh', '-c', 'grep Cpus_allowed_list /proc/self/status'], cgroup: g, stdio: ['ignore', 'pipe', 'inherit'] });
      expect((await text(child.stdout)).trim()).toMatch(/Cpus_allowed_list:\s+0$/);
      await child.exited;
    });

    needs('memory', 'pids', 'io', 'cpu')('every stats parser runs on the real files of a group with all controllers', async () => {
      const g = await group({ controllers: ['cpu', 'memory', 'pids', 'io'] });
      const child = await spawn({ command: ['/bin/sh', '-c', 'dd if=/dev/zero of=/dev/null bs=1M count=8; sleep 0.2'], cgroup: g, stdio: 'ignore' });
      await child.exited;
      const s = await g.stats();
      expect(s.memory?.stat).toHaveProperty('anon');
      expect(s.memory?.stat).toHaveProperty('pgfault');
      expect(s.memory?.events).toMatchObject({ low: 0, high: 0, max: 0, oom: 0, oomKill: 0 });
      expect(s.memory?.eventsLocal).toMatchObject({ oomKill: 0 });
      expect(s.memory?.peak).toBeGreaterThan(1 << 20);
      expect(s.pids).toMatchObject({ current: 0, events: { max: 0 } });
      expect(s.pids?.peak).toBeGreaterThanOrEqual(2);
      expect(s.cpu).toMatchObject({ nrPeriods: 0, nrThrottled: 0 });
      expect(Array.isArray(s.io)).toBe(true);
    });
  });
});

// A subtree delegated to uid 65534 as systemd delegates one (the directory and its
// cgroup.procs, cgroup.subtree_control, cgroup.threads chowned), with that user's node started
// in a leaf of it: everything a delegated user does with nsbox there, from its own node.
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));
const delegation = !isRoot ? 'needs root to delegate a subtree' : !mount ? 'no cgroup2 mount' : !setpriv ? 'setpriv is not installed'
  : !fs.existsSync('/sys/kernel/mm/hugepages/hugepages-2048kB') ? 'no 2 MB huge pages to limit' : undefined;
describe.skipIf(delegation)(`a delegated subtree${delegation ? ` (skipped: ${delegation})` : ''}`, () => {
  it('uid 65534, in a leaf of it, may create groups there, limit them, spawn into them (born there), kill and remove them; its own group as default parent is refused by the no-internal-process rule', async () => {
    const root = await group({ controllers: ['hugetlb'] }); // the mount root enables hugetlb for it
    const init = await Cgroup.create('init', { parent: root.path });
    for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) fs.chownSync(path.join(root.path, f), 65534, 65534);
    const view = path.join(os.tmpdir(), testName('view'));
    const script = `
      const fs = require('node:fs');
      const { Cgroup, spawn, mayCreateGroups } = require(${JSON.stringify(`${view}/lib/index.ts`)});
      (async () => {
        const r = { uid: process.getuid(), may: mayCreateGroups(${JSON.stringify(root.path)}).allowed, mayMount: mayCreateGroups(${JSON.stringify(mount)}).allowed };
        const job = await Cgroup.create('job', { parent: ${JSON.stringify(root.path)}, resources: { hugetlb: { '2MB': '4M' } } });
        r.max = fs.readFileSync(job.path + '/hugetlb.2MB.max', 'utf8').trim();
        const c = await spawn({ command: ['cat', '/proc/self/cgroup'], cgroup: job, stdio: ['ignore', 'pipe', 'inherit'] });
        let out = ''; c.stdout.on('data', (d) => (out += d));
        const ended = new Promise((resolve) => c.stdout.on('close', resolve)); // the exit may come before the last bytes
        r.exit = await c.exited; await ended; r.born = c.bornInCgroup; r.cgroup = out.split('\\n').find((l) => l.startsWith('0::'));
        const sleeper = await spawn({ command: ['sleep', '30'], cgroup: job, stdio: 'ignore' });
        await job.remove({ kill: true }); // cgroup.kill, owned by this user, 0200
        r.sleeper = (await sleeper.exited).signal;
        r.removed = !fs.existsSync(job.path);
        r.defaultParent = await Cgroup.create('x', { resources: { hugetlb: { '2MB': '4M' } } }).then(() => 'created', (e) => e.code);
        console.log(JSON.stringify(r));
      })().catch((e) => { console.log(JSON.stringify({ error: String(e), code: e.code })); });`;
    try {
      const { stdout, stderr, status } = await run({
        command: [setpriv!, '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '-r', `${view}/test/helpers/register-ts.cjs`, '-e', script],
        namespaces: ['mount'],
        plan: [
          { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
          { op: 'bind', source: repoRoot, target: view, recursive: true, createTarget: true, readonly: true },
        ],
        cgroup: init,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' },
      });
      expect(stderr).toBe('');
      expect(status.code).toBe(0);
      expect(JSON.parse(stdout)).toEqual({
        uid: 65534, may: true, mayMount: false, max: String(4 << 20),
        exit: { code: 0, signal: null }, born: true, cgroup: `0::${root.path.slice(mount!.length)}/job`,
        sleeper: 'SIGKILL', removed: true, defaultParent: 'ERR_NSBOX_CGROUP_INTERNAL_PROCESS',
      });
    } finally {
      if (fs.existsSync(view)) fs.rmdirSync(view);
    }
  });
});

describe.skipIf(isRoot || !mount)(`cgroup v2 without root${isRoot ? ' (skipped: runs in the unprivileged pass)' : ''}`, () => {
  it('creating a group where nothing is delegated fails EACCES from mkdir, saying what to do', async () => {
    const error = await Cgroup.create(testName('cg'), { parent: mount! }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NsboxSystemError);
    expect(error).toMatchObject({ code: 'EACCES', syscall: 'mkdir' });
    expect((error as NsboxSystemError).hint).toContain('systemd-run --user --scope -p Delegate=yes');
  });
});
