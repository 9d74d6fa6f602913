// setns(2) into a child's namespaces, by path and through a pidfd with several types at once.
// The joining is done by a separate node process: the vitest worker's namespaces stay as
// they are (checked at the end).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { namespaceId } from '../../lib/index';
import { spawnWith } from '../../lib/spawn';
import { isRoot, firstLine, repoRoot, runNode, sh } from '../helpers/env';

const LIB = JSON.stringify(path.join(repoRoot, 'lib', 'index.ts'));

// Prints what the joining thread sees before and after: its interfaces and hostname.
const JOIN = `
const fs = require('node:fs');
const os = require('node:os');
const { setns, pidfdOpen } = require(${LIB});
const pid = Number(process.env.NSBOX_TARGET);
const devs = () => fs.readFileSync('/proc/thread-self/net/dev', 'utf8');
const before = { dev: devs(), hostname: os.hostname() };
if (process.env.NSBOX_HOW === 'path') {
  setns('/proc/' + pid + '/ns/net', 'net');
} else {
  const pidfd = pidfdOpen(pid);
  setns({ pidfd }, ['net', 'uts']);
  fs.closeSync(pidfd);
}
console.log(JSON.stringify({ before, after: { dev: devs(), hostname: os.hostname() } }));
`;

const interfaces = (dev: string) => dev.split('\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean);

describe.skipIf(!isRoot)('setns into a child\'s namespaces (needs root: joining a namespace needs CAP_SYS_ADMIN over it)', () => {
  it.each([
    ['by /proc/PID/ns/net', 'path'],
    ['through a pidfd, net and uts at once', 'pidfd'],
  ])('%s', async (_, how) => {
    const ourNet = namespaceId('/proc/self/ns/net');
    const child = await spawnWith({
      // A dummy interface where the kernel has the driver, else a bridge: either is only
      // in the child's network namespace.
      // Guarded: never create it unless the child's network namespace is not ours.
      command: sh(`[ "$(readlink /proc/self/ns/net)" != "net:[${ourNet.ino}]" ] && ` +
        '{ ip link add nsboxtest0 type dummy 2>/dev/null || ip link add nsboxtest0 type bridge; } && echo ready && read x'),
      namespaces: ['net', 'uts'],
      plan: [{ op: 'sethostname', hostname: 'nsbox-netns' }],
      stdio: ['pipe', 'pipe', 'inherit'],
    }, {});
    try {
      expect(await firstLine(child.stdout!)).toBe('ready');
      const r = await runNode(JOIN, { NSBOX_TARGET: String(child.pid), NSBOX_HOW: how });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const { before, after } = JSON.parse(r.stdout);
      expect(interfaces(before.dev)).not.toContain('nsboxtest0');
      expect(interfaces(after.dev).sort()).toEqual(['lo', 'nsboxtest0']);
      expect(after.hostname).toBe(how === 'pidfd' ? 'nsbox-netns' : before.hostname);
    } finally {
      child.stdin!.end('\n');
      child.stdout!.resume();
    }
    expect((await child.exited).code).toBe(0);
    // Nothing changed here.
    expect(interfaces(fs.readFileSync('/proc/thread-self/net/dev', 'utf8'))).not.toContain('nsboxtest0');
    expect(namespaceId('/proc/self/ns/net')).toEqual(ourNet);
  });
});

describe.skipIf(!isRoot)(`the setns plan step: a child joins another's namespaces before exec${isRoot ? '' : ' (skipped: needs root)'}`, () => {
  it('by a namespace fd, and by a pidfd with several types at once; a wrong type is refused by the kernel at that step', async () => {
    const { pidfdOpen } = await import('../../lib/index');
    const target = await spawnWith({ command: sh('echo ready; exec sleep 30'), namespaces: ['uts', 'net'], plan: [{ op: 'sethostname', hostname: 'joined-box' }] }, {});
    try {
      await firstLine(target.stdout!);
      const utsFd = fs.openSync(`/proc/${target.pid}/ns/uts`, 'r');
      const pidfd = pidfdOpen(target.pid);
      try {
        const script = 'hostname; readlink /proc/self/ns/net';
        const byFd = await spawnWith({ command: sh(script), plan: [{ op: 'setns', fd: utsFd, types: ['uts'] }] }, {});
        const byPidfd = await spawnWith({ command: sh(script), plan: [{ op: 'setns', fd: pidfd, types: ['uts', 'net'] }] }, {});
        const [a, b] = await Promise.all([byFd, byPidfd].map(async (c) => {
          const out = await new Promise<string>((r) => { let s = ''; c.stdout!.on('data', (d) => (s += d)).on('end', () => r(s)); });
          await c.exited;
          return out.split('\n');
        }));
        const targetNet = fs.readlinkSync(`/proc/${target.pid}/ns/net`);
        expect(a[0]).toBe('joined-box');
        expect(a[1]).toBe(fs.readlinkSync('/proc/self/ns/net')); // only uts joined
        expect(b).toEqual(['joined-box', targetNet, '']);
        const wrong = await spawnWith({ command: ['/bin/true'], plan: [{ op: 'setns', fd: utsFd, types: ['net'] }] }, {}).catch((e: unknown) => e);
        expect(wrong).toMatchObject({ code: 'EINVAL', syscall: 'setns', step: 'setns', stepIndex: 0 });
      } finally {
        fs.closeSync(utsFd);
        fs.closeSync(pidfd);
      }
    } finally {
      target.kill('SIGKILL');
      await target.exited;
    }
  });
});
