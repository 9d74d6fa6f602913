// What a child in new namespaces sees, against the real kernel, with every clone strategy:
// pid 1 in its pid namespace, its own hostname, mounts nobody outside sees, root in its
// user namespace.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listNamespaces, namespaceId } from '../../lib/index';
import { spawnWith } from '../../lib/spawn';
import { STRATEGIES, firstLine, isRoot, ns, rmTmp, run, sh, text, tmpDir } from '../helpers/env';
import { mountPoints } from '../helpers/proc';

describe.each(STRATEGIES)('namespaces ($name)', ({ internals }) => {
  it('a child in a new pid namespace is pid 1, and its namespace is not ours', async () => {
    const { child, stdout, status } = await run({ command: sh('echo $$; readlink /proc/self/ns/pid'), namespaces: ns('pid') }, internals);
    expect(status).toEqual({ code: 0, signal: null });
    expect(stdout.split('\n')[0]).toBe('1');
    expect(child.pid).toBeGreaterThan(1);
    // Without a pid namespace the same shell reports its real pid.
    const plain = await run({ command: sh('echo $$') }, internals);
    expect(plain.stdout.trim()).toBe(String(plain.child.pid));
  });

  it('a child in a new uts namespace has its own hostname and domain name; ours stays', async () => {
    const hostname = os.hostname();
    const domain = fs.readFileSync('/proc/sys/kernel/domainname', 'utf8');
    const { stdout, status } = await run({
      command: sh('cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname'),
      namespaces: ns('uts'),
      plan: [
        { op: 'sethostname', hostname: 'nsbox-box' },
        { op: 'setdomainname', domainname: 'nsbox.test' },
      ],
    }, internals);
    expect(status.code).toBe(0);
    expect(stdout).toBe('nsbox-box\nnsbox.test\n');
    expect(os.hostname()).toBe(hostname);
    expect(fs.readFileSync('/proc/sys/kernel/domainname', 'utf8')).toBe(domain);
  });

  describe('mounts', () => {
    let dir: string;
    beforeEach(() => {
      dir = tmpDir('mnt');
    });
    afterEach(() => rmTmp(dir));

    it('a tmpfs mounted in the child is in its mountinfo and not in ours, and leaves nothing on the host', async () => {
      const target = path.join(dir, 'scratch');
      fs.mkdirSync(target);
      const child = await spawnWith({
        command: sh(`echo data > ${target}/file && echo ready && read x`),
        namespaces: ns('mount'),
        stdio: ['pipe', 'pipe', 'inherit'],
        plan: [
          { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
          { op: 'mount', source: 'tmpfs', target, type: 'tmpfs', data: 'size=1m' },
        ],
      }, internals);
      try {
        expect(await firstLine(child.stdout!)).toBe('ready');
        // The child's mount namespace has it, seen from here through /proc/PID.
        expect(mountPoints(fs.readFileSync(`/proc/${child.pid}/mountinfo`, 'utf8'))).toContain(target);
        expect(fs.readFileSync(`/proc/${child.pid}/root${target}/file`, 'utf8')).toBe('data\n');
        // Ours does not, and the file went to the tmpfs, not to the directory under it.
        expect(mountPoints()).not.toContain(target);
        expect(fs.readdirSync(target)).toEqual([]);
        expect(namespaceId(`/proc/${child.pid}/ns/mnt`).ino).not.toBe(namespaceId('/proc/self/ns/mnt').ino);
      } finally {
        child.stdin!.end('\n');
        child.stdout!.resume();
      }
      expect(await child.exited).toEqual({ code: 0, signal: null });
    });
  });

  it('a user namespace makes the child root inside, mapped to the caller outside', async () => {
    const child = await spawnWith({
      command: sh('id -u; id -g; read x'),
      namespaces: ['user'],
      stdio: ['pipe', 'pipe', 'inherit'],
    }, internals);
    const out = text(child.stdout);
    try {
      // Read the maps from here while the child is alive.
      const uidMap = fs.readFileSync(`/proc/${child.pid}/uid_map`, 'utf8').trim().split(/\s+/);
      const gidMap = fs.readFileSync(`/proc/${child.pid}/gid_map`, 'utf8').trim().split(/\s+/);
      expect(uidMap).toEqual(['0', String(process.geteuid!()), '1']);
      expect(gidMap).toEqual(['0', String(process.getegid!()), '1']);
      // An unprivileged caller must deny setgroups to write a gid_map; root keeps the default.
      expect(fs.readFileSync(`/proc/${child.pid}/setgroups`, 'utf8').trim()).toBe(isRoot ? 'allow' : 'deny');
    } finally {
      child.stdin!.end('\n');
    }
    expect(await out).toBe('0\n0\n');
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it('listNamespaces shows which namespaces a child has of its own', async () => {
    const child = await spawnWith({ command: sh('read x'), namespaces: ns('net', 'ipc'), stdio: ['pipe', 'ignore', 'inherit'] }, internals);
    try {
      const mine = new Map(listNamespaces().filter((e) => !e.forChildren).map((e) => [e.type, e.ino]));
      const its = new Map(listNamespaces(child.pid).filter((e) => !e.forChildren).map((e) => [e.type, e.ino]));
      const differ = [...mine.keys()].filter((t) => mine.get(t) !== its.get(t)).sort();
      expect(differ).toEqual(isRoot ? ['ipc', 'net'] : ['ipc', 'net', 'user']);
    } finally {
      child.stdin!.end('\n');
    }
    expect((await child.exited).code).toBe(0);
  });
});

describe.skipIf(!isRoot)('user namespaces set up by root (needs root)', () => {
  it('writes the uid_map, gid_map and setgroups it is given; setgid/setuid 0 make the child its mapped root', async () => {
    const child = await spawnWith({
      command: sh('id -u; id -g; read x'),
      namespaces: ['user', 'pid'],
      // The child keeps root's kuid, unmapped here (the overflow uid inside), until it
      // switches to the namespace's root, as runtimes do.
      plan: [{ op: 'setgid', gid: 0 }, { op: 'setuid', uid: 0 }],
      uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }],
      gidMap: [{ containerId: 0, hostId: 200000, size: 1000 }, { containerId: 1000, hostId: 1000, size: 1 }],
      setgroups: 'deny',
      stdio: ['pipe', 'pipe', 'inherit'],
    }, {});
    const out = text(child.stdout);
    try {
      const lines = (f: string) => fs.readFileSync(`/proc/${child.pid}/${f}`, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/));
      expect(lines('uid_map')).toEqual([['0', '100000', '65536']]);
      expect(lines('gid_map')).toEqual([['0', '200000', '1000'], ['1000', '1000', '1']]);
      expect(lines('setgroups')).toEqual([['deny']]);
      // Seen from outside, the child runs as the host id root maps to.
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      expect(status).toMatch(/^Uid:\s+100000\s+100000\s+100000\s+100000$/m);
      expect(status).toMatch(/^Gid:\s+200000\s+200000\s+200000\s+200000$/m);
    } finally {
      child.stdin!.end('\n');
    }
    expect(await out).toBe('0\n0\n');
    expect((await child.exited).code).toBe(0);
  });
});
