// The one-to-one wrappers called directly (not through a plan), against the real kernel:
// unshare, mount, mountSetattr, openTree, moveMount, umount, sethostname, setdomainname,
// pivotRoot in a fresh node that unshares first; pidfdOpen and pidfdSendSignal here.
import { execFile, execFileSync, spawn as cpSpawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pidfdOpen, pidfdSendSignal } from '../../lib/index';
import { REGISTER_TS, isRoot, rmTmp, tmpDir } from '../helpers/env';

describe.skipIf(!isRoot)(`mount, namespace and identity calls on this process's main thread${isRoot ? '' : ' (skipped: need root; unshare(user) is refused in a threaded process)'}`, () => {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('direct');
    for (const d of ['a', 'b', 'c']) fs.mkdirSync(path.join(dir, d));
  });
  afterEach(() => rmTmp(dir));

  it('work as the kernel says, and nothing reaches the host', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-r', REGISTER_TS, path.join(__dirname, '..', 'helpers', 'direct-child.cjs'), dir], { timeout: 15_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
    });
    expect(JSON.parse(out)).toEqual({
      newNamespaces: ['ipc', 'mount', 'net', 'uts'],
      mounted: true,
      clonedTreeAt: 'in a',
      writeReadonly: 'EROFS',
      writeAgain: 'ok',
      unmounted: true,
      umountNotMounted: 'EINVAL',
      hostname: 'nsbox-direct',
      domainname: 'nsbox.direct',
      netDevices: ['lo'],
      rootAfterPivot: ['marker', 'old'],
      oldRootReachable: true,
      oldRootAfterDetach: [],
    });
    // The host: its hostname, and nothing mounted under our directory.
    expect(os.hostname()).not.toBe('nsbox-direct');
    expect(execFileSync('hostname', { encoding: 'utf8' }).trim()).toBe(os.hostname());
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dir);
    expect(fs.readdirSync(path.join(dir, 'a'))).toEqual([]);
  });
});

describe('pidfdOpen and pidfdSendSignal', () => {
  it('signal a process through its pidfd', async () => {
    const child = cpSpawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    const fd = pidfdOpen(child.pid!);
    try {
      expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).toBe('anon_inode:[pidfd]');
      pidfdSendSignal(fd, 'SIGTERM');
      expect(await exited).toBe('SIGTERM');
      // The process is gone (reaped by child_process): the pidfd says so, never another process.
      expect(() => pidfdSendSignal(fd, 'SIGTERM')).toThrow(expect.objectContaining({ code: 'ESRCH', syscall: 'pidfd_send_signal' }));
    } finally {
      fs.closeSync(fd);
      child.kill('SIGKILL'); // ours; harmless once it has exited
    }
  });
});
