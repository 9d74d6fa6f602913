// The child is born in the cgroup it is given (CLONE_INTO_CGROUP), or moved there before it
// runs a step where that is unavailable; either way it runs its program in the cgroup.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnWith } from '../../lib/spawn';
import { NsboxSystemError } from '../../lib/index';
import { CGROUP_ROOT, STRATEGIES, cgroupUnavailable, run, sh, straceSpawn, testName } from '../helpers/env';
import { expectNoLeaks, openFds } from '../helpers/proc';

const unavailable = cgroupUnavailable();
const CGROUP_SUPER_MAGIC = 0x27e0eb;
const v1 = fs.readdirSync('/sys/fs/cgroup', { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => path.join('/sys/fs/cgroup', d.name))
  .find((d) => d !== CGROUP_ROOT && fs.statfsSync(d).type === CGROUP_SUPER_MAGIC);

describe.skipIf(unavailable)(`cgroups${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let group: string;
  let name: string;
  beforeEach(() => {
    name = testName('cg');
    group = path.join(CGROUP_ROOT, name);
    fs.mkdirSync(group);
  });
  afterEach(async () => {
    // The children have exited; rmdir is EBUSY only while the kernel still counts one.
    for (let i = 0; ; i++) {
      try {
        fs.rmdirSync(group);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || i > 50) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });

  const inGroup = () => `0::/${name}`;

  describe.each(STRATEGIES)('$name', ({ internals }) => {
    it('runs the program in the cgroup; born there with clone3, moved there with clone', async () => {
      const { child, stdout, status } = await run({ command: sh('cat /proc/self/cgroup'), cgroup: group }, internals);
      expect(status.code).toBe(0);
      expect(stdout.split('\n')).toContain(inGroup());
      const legacy = internals.noClone3 === true;
      expect(child.clone).toBe(legacy ? 'clone' : 'clone3');
      // clone(2) has no CLONE_INTO_CGROUP: the parent must write cgroup.procs instead.
      expect(child.bornInCgroup).toBe(!legacy);
    });

    it('noIntoCgroup: the parent writes cgroup.procs before the child goes on', async () => {
      const { child, stdout, status } = await run({ command: sh('cat /proc/self/cgroup'), cgroup: group }, { ...internals, noIntoCgroup: true });
      expect(status.code).toBe(0);
      expect(stdout.split('\n')).toContain(inGroup());
      expect(child.bornInCgroup).toBe(false);
    });
  });

  it('born there, as the kernel saw it: clone3 with CLONE_INTO_CGROUP and no write to cgroup.procs (strace)', async () => {
    const syscalls = (internals: object) =>
      straceSpawn({ command: ['/bin/true'], cgroup: group, stdio: 'ignore' }, internals, 'clone,clone3,openat');
    const born = syscalls({});
    expect(born).toMatch(/clone3\(\{flags=[^}]*CLONE_INTO_CGROUP/);
    expect(born).not.toContain('cgroup.procs');
    const moved = syscalls({ noIntoCgroup: true });
    expect(moved).not.toContain('CLONE_INTO_CGROUP');
    expect(moved).toMatch(/openat\(\d+, "cgroup\.procs", O_WRONLY\|O_CLOEXEC\) = \d+/);
  });

  it('a cgroup.procs that cannot be written fails at step cgroup: the waiting child is ended and reaped, nothing leaks', async () => {
    // A group removed after its fd was opened has no cgroup.procs any more.
    const gone = path.join(group, 'gone');
    fs.mkdirSync(gone);
    const fd = fs.openSync(gone, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.rmdirSync(gone);
    try {
      const before = openFds();
      const error = await spawnWith({ command: ['/bin/true'], cgroup: fd, stdio: ['pipe', 'pipe', 'pipe'] }, { noIntoCgroup: true })
        .then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(NsboxSystemError);
      expect(error).toMatchObject({ code: 'ENOENT', step: 'cgroup', syscall: 'write' });
      expect(await expectNoLeaks(before)).toEqual([]);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('the cgroup seen from the parent while the child runs, and an open cgroup fd works too', async () => {
    const fd = fs.openSync(group, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      const child = await spawnWith({ command: sh('read x'), cgroup: fd, stdio: ['pipe', 'ignore', 'inherit'] }, {});
      try {
        expect(child.bornInCgroup).toBe(true);
        expect(fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').split('\n')).toContain(inGroup());
        expect(fs.readFileSync(path.join(group, 'cgroup.procs'), 'utf8').trim()).toBe(String(child.pid));
      } finally {
        child.stdin!.end('\n');
      }
      expect((await child.exited).code).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.readFileSync(path.join(group, 'cgroup.procs'), 'utf8')).toBe('');
  });

  it.skipIf(!v1)(`a cgroup v1 directory is refused before cloning${v1 ? '' : ' (skipped: no cgroup v1 hierarchy here)'}`, async () => {
    await expect(spawnWith({ command: ['/bin/true'], cgroup: v1! }, {})).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});
