// Network namespaces made ahead on a pool thread and joined by the child (setns) instead of
// created inside clone: what the child sees must be what CLONE_NEWNET gives, and the kernel
// must really have been asked that way.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { drainNetnsPool, netnsPoolHeld, netnsPoolSettled, setNetnsPoolSize, sysfsTemplate, takeNetns } from '../../lib/netns-pool';
import { spawn } from '../../lib/spawn';
import { isRoot, repoRoot, run, sh, straceSpawnScript } from '../helpers/env';

const rootOnly = isRoot ? undefined : 'needs root: the pool serves spawns of a net namespace without a user namespace';

describe.skipIf(rootOnly)(`network namespace pool${rootOnly ? ` (skipped: ${rootOnly})` : ''}`, () => {
  it('the first net spawn starts the pool; the next child joins a namespace made ahead, fresh and its own', async () => {
    await drainNetnsPool();
    const first = await run({ command: sh('readlink /proc/self/ns/net'), namespaces: ['net'] });
    await netnsPoolSettled();
    expect(netnsPoolHeld()).toBe(2);
    // Two pooled children at once: each in its own namespace, neither Node's, each holding only lo, down.
    const script = 'readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1; ip -o link show lo';
    const [a, b] = await Promise.all([run({ command: sh(script), namespaces: ['net', 'mount'] }), run({ command: sh(script), namespaces: ['net'] })]);
    const own = fs.readlinkSync('/proc/self/ns/net');
    const ids = [first.stdout, a.stdout, b.stdout].map((s) => s.split('\n')[0]);
    expect(new Set([own, ...ids]).size).toBe(4);
    for (const r of [a, b]) {
      expect(r.status).toEqual({ code: 0, signal: null });
      const [, devices, link] = r.stdout.split('\n');
      expect(devices.trim()).toBe('lo'); // one device only: the next line is ip's
      expect(link).toMatch(/^1: lo: <LOOPBACK> /); // not UP: as CLONE_NEWNET leaves it
    }
    await drainNetnsPool();
    expect(netnsPoolHeld()).toBe(0);
  });

  it('as the kernel saw it: a pool thread unshares CLONE_NEWNET, the clone3 has no CLONE_NEWNET, the child setns into it (strace)', () => {
    const log = straceSpawnScript(`
      const { spawn } = require(${JSON.stringify(`${repoRoot}/lib/spawn.ts`)});
      const pool = require(${JSON.stringify(`${repoRoot}/lib/netns-pool.ts`)});
      const opts = { command: ['/bin/true'], namespaces: ['net', 'uts'], stdio: 'ignore' };
      (async () => {
        await (await spawn(opts)).exited;       // no pool yet: CLONE_NEWNET
        await pool.netnsPoolSettled();
        await (await spawn(opts)).exited;       // pooled
      })();`, 'clone3,unshare,setns');
    // strace splits calls that overlap across threads into "<unfinished ...>" and "<... resumed>": join them.
    const pending = new Map<string, string>();
    const calls: { pid: string; text: string }[] = [];
    for (const line of log.split('\n')) {
      const m = /^(\d+)\s+(.*)$/.exec(line); // strace pads the pid to 5 columns
      if (!m) continue;
      const [, pid, rest] = m;
      if (rest.endsWith('<unfinished ...>')) pending.set(pid, rest.slice(0, -'<unfinished ...>'.length));
      else if (/^<\.\.\. \w+ resumed>/.test(rest)) calls.push({ pid, text: (pending.get(pid) ?? '') + rest.replace(/^<\.\.\. \w+ resumed>/, '') });
      else calls.push({ pid, text: rest });
    }
    const clones = calls.filter((c) => /^clone3\(\{flags=.*CLONE_NEWUTS/.test(c.text));
    expect(clones).toHaveLength(2);
    expect(clones[0].text).toContain('CLONE_NEWNET');
    expect(clones[1].text).not.toContain('CLONE_NEWNET');
    const child = /= (\d+)$/.exec(clones[1].text)?.[1];
    expect(calls.filter((c) => c.pid === child).map((c) => c.text)).toContainEqual(expect.stringMatching(/^setns\(\d+, CLONE_NEWNET\)\s+= 0$/));
    const pool = calls.filter((c) => /^unshare\(CLONE_NEWNET\s*\)\s+= 0$/.test(c.text));
    expect(pool.length).toBeGreaterThanOrEqual(2);
    expect(pool.every((c) => c.pid !== child)).toBe(true);
  });

  it('drained while namespaces are being made, it keeps none of them; no thread of Node is left in a namespace the pool holds', async () => {
    await drainNetnsPool();
    await run({ command: ['/bin/true'], namespaces: ['net'] }); // starts a refill of 2
    await drainNetnsPool(); // while they are being made
    expect(netnsPoolHeld()).toBe(0);
    await run({ command: ['/bin/true'], namespaces: ['net'] });
    await netnsPoolSettled();
    expect(netnsPoolHeld()).toBe(2);
    const own = fs.readlinkSync('/proc/self/ns/net');
    const taken: number[] = [];
    for (let fd = takeNetns(0); fd !== undefined; fd = takeNetns(0)) taken.push(fd);
    try {
      expect(taken.length).toBe(2);
      const pooled = taken.map((fd) => fs.readlinkSync(`/proc/self/fd/${fd}`));
      const elsewhere = fs.readdirSync('/proc/self/task').map((t) => fs.readlinkSync(`/proc/self/task/${t}/ns/net`)).filter((ns) => ns !== own);
      expect(elsewhere.filter((ns) => pooled.includes(ns))).toEqual([]);
      expect(elsewhere.length).toBeLessThanOrEqual(1); // the pool's thread, waiting in a namespace of its own
    } finally {
      for (const fd of taken) fs.closeSync(fd);
    }
    await drainNetnsPool();
  });

  it('a plan that brings the loopback up gets a namespace the pool made with it up; the other kind stays as CLONE_NEWNET makes it', async () => {
    await drainNetnsPool();
    const up = await run({ command: sh('ip -o link show lo'), namespaces: ['net'], plan: [{ op: 'loopbackUp' }] });
    expect(up.stdout).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP> /);
    await netnsPoolSettled();
    expect([netnsPoolHeld(0), netnsPoolHeld(1)]).toEqual([0, 2]);
    // One of them, joined by a plan that does not touch the loopback: up already.
    const fd = takeNetns(1)!;
    try {
      const joined = await run({ command: sh('ip -o link show lo; tail -n +3 /proc/net/dev | cut -d: -f1'), plan: [{ op: 'setns', fd, types: ['net'] }] });
      const [link, devices] = joined.stdout.split('\n');
      expect(link).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP> /);
      expect(devices.trim()).toBe('lo');
    } finally {
      fs.closeSync(fd);
    }
    // The sysfs template, made with the first of them in a namespace of its own: what a
    // mountSysfs step clones for such a plan, showing one device, lo, read-only.
    expect(sysfsTemplate()).toBeGreaterThanOrEqual(0);
    const sysfs = await run({
      command: sh('ls /mnt/class/net; grep " /mnt " /proc/self/mounts; readlink /proc/self/ns/net'),
      namespaces: ['net', 'mount'],
      plan: [{ op: 'loopbackUp' }, { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' }, { op: 'mountSysfs', target: '/mnt' }],
    });
    expect(sysfs.stdout).toMatch(/^lo\nsysfs \/mnt sysfs ro,nosuid,nodev,noexec,relatime 0 0\nnet:\[\d+\]\n$/);
    const down = await run({ command: sh('ip -o link show lo'), namespaces: ['net'] });
    expect(down.stdout).toMatch(/^1: lo: <LOOPBACK> /);
    await drainNetnsPool();
  });

  it('grows while spawns in flight find it empty (up to 16), back to 2 when drained', async () => {
    await drainNetnsPool();
    await run({ command: ['/bin/true'], namespaces: ['net'] }); // starts it: 2
    await netnsPoolSettled();
    expect(netnsPoolHeld(0)).toBe(2);
    // Eight at once: the first two take what is held, the rest find it empty and double it.
    const all = await Promise.all(Array.from({ length: 8 }, () => run({ command: ['/bin/true'], namespaces: ['net'] })));
    expect(all.map((r) => r.status.code)).toEqual(Array(8).fill(0));
    await netnsPoolSettled();
    const grown = netnsPoolHeld(0);
    expect(grown).toBeGreaterThan(2);
    expect(grown).toBeLessThanOrEqual(16);
    await drainNetnsPool();
    await run({ command: ['/bin/true'], namespaces: ['net'] });
    await netnsPoolSettled();
    expect(netnsPoolHeld(0)).toBe(2);
    await drainNetnsPool();
  });

  it('a setns step whose fd a stdio entry would overwrite is refused before anything is cloned', async () => {
    await expect(spawn({ command: ['/bin/true'], plan: [{ op: 'setns', fd: 2 }], stdio: 'ignore' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.plan[0].fd') });
  });

  it('size 0 turns it off: every net spawn creates its namespace in clone', async () => {
    setNetnsPoolSize(0);
    try {
      const r = await run({ command: sh('readlink /proc/self/ns/net'), namespaces: ['net'] });
      expect(r.status.code).toBe(0);
      await netnsPoolSettled();
      expect(netnsPoolHeld()).toBe(0);
      expect(() => setNetnsPoolSize(-1)).toThrow(RangeError);
    } finally {
      setNetnsPoolSize('auto');
      await drainNetnsPool();
    }
  });

  it('with a user namespace the pool is not used (the namespace must belong to the new user namespace)', async () => {
    await drainNetnsPool();
    // Owning its namespace, root in the new user namespace may configure it.
    const child = await spawn({ command: ['ip', 'link', 'set', 'lo', 'up'], namespaces: ['user', 'net'], stdio: 'ignore' });
    const status = await child.exited;
    expect(status.code).toBe(0);
    await netnsPoolSettled();
    expect(netnsPoolHeld()).toBe(0);
  });
});
