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
