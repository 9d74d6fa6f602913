// The fork plan step: after a setns into a running "container"'s namespaces, the program runs
// as a grandchild inside its pid namespace. Subprocess follows the grandchild (pid, pidfd,
// exit status, kill, ref, release of a hold); the forking process is reaped without a trace.
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NamespaceType } from '../../lib/namespaces';
import type { Step } from '../../lib/plan';
import { spawnHeld, spawnWith, type SpawnInternals, type Subprocess } from '../../lib/spawn';
import { SECCOMP_DATA, SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS, assemble, jumpIfEqual, load, ret } from '../helpers/bpf';
import { firstLine, ns, procStatus, sh, text } from '../helpers/env';
import { expectNoLeaks, openFds } from '../helpers/proc';

const TYPES: NamespaceType[] = ns('pid', 'uts', 'mount', 'ipc');

/** Host pid -> its pid in each pid namespace, outermost first (NSpid). */
function nspid(pid: number): number[] {
  return procStatus(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).NSpid.split(/\s+/).map(Number);
}

/** The first n lines; the stream flows on. */
function readLines(stream: Readable, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      if (lines.length <= n) return;
      stream.off('data', onData);
      resolve(lines.slice(0, n));
    };
    stream.on('data', onData);
    stream.on('error', reject);
  });
}

function ppid(pid: number): number {
  return Number(procStatus(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).PPid);
}

describe('fork step: exec into a running container', () => {
  let container: Subprocess;
  const join = (): Step[] => [{ op: 'setns', fd: container.pidfd, types: TYPES }, { op: 'fork' }];

  beforeAll(async () => {
    // The container: its own pid, uts, mount and ipc namespaces (and user, unprivileged), a
    // proc of its pid namespace, hostname c1, and `sleep` as its pid 1.
    container = await spawnWith({
      command: ['sleep', '60'],
      namespaces: TYPES,
      stdio: 'ignore',
      plan: [
        { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
        { op: 'mount', source: 'proc', target: '/proc', type: 'proc' },
        { op: 'sethostname', hostname: 'c1' },
      ],
    }, {});
  });

  afterAll(async () => {
    container.kill('SIGKILL');
    await container.exited;
  });

  it.each<[string, SpawnInternals]>([
    ['clone3', {}],
    ['legacy clone', { noClone3: true }],
    ['CLONE_VM asked for: a fork plan copies the memory all the same', { vm: true }],
  ])('the program runs in its namespaces as our grandchild-made-child (%s)', async (_, internals) => {
    const before = openFds();
    const script = [
      'echo $$', 'hostname', 'cat /proc/1/comm',
      "ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '; echo",
      'read x', 'exit 7',
    ].join('; ');
    const child = await spawnWith({ command: sh(script), stdio: ['pipe', 'pipe', 'pipe'], plan: join() }, internals);
    const stderr = text(child.stderr);
    const [inner, hostname, init, pids] = await readLines(child.stdout!, 4);
    expect(hostname).toBe('c1');
    expect(init).toBe('sleep');
    // In the container's pid namespace: not its init, and numbered there from 1 up.
    const innerPid = Number(inner);
    expect(innerPid).toBeGreaterThan(1);
    expect(innerPid).toBeLessThan(100);
    expect(pids.trim().split(' ').map(Number)).toEqual(expect.arrayContaining([1, innerPid]));
    // Subprocess.pid is the program's host pid: two levels of pid namespaces, the inner
    // one what it printed; and its parent is this process (CLONE_PARENT).
    expect(nspid(child.pid)).toEqual([child.pid, innerPid]);
    expect(nspid(container.pid)).toEqual([container.pid, 1]);
    expect(ppid(child.pid)).toBe(process.pid);
    expect(child.pidfd).toBeGreaterThanOrEqual(0);
    child.unref();
    child.ref();
    child.stdin!.end('\n');
    expect(await child.exited).toEqual({ code: 7, signal: null });
    expect(await stderr).toBe('');
    expect(child.pidfd).toBe(-1);
    // The forking process was reaped: no zombie, and no fd left.
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it('kill() reaches the grandchild through its pidfd', async () => {
    const before = openFds();
    const child = await spawnWith({ command: sh('echo ready; exec sleep 60'), stdio: ['ignore', 'pipe', 'ignore'], plan: join() }, {});
    expect(await firstLine(child.stdout!)).toBe('ready');
    child.stdout!.resume();
    expect(nspid(child.pid)).toHaveLength(2);
    expect(child.kill('SIGKILL')).toBe(true);
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(container.exitStatus).toBeUndefined(); // only the grandchild
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it('a step after the fork that fails rejects naming that step; so does the fork itself', async () => {
    const before = openFds();
    const missing = '/nonexistent-nsbox-fork-test';
    await expect(spawnWith({ command: ['/bin/true'], plan: [...join(), { op: 'chdir', path: missing }] }, {}))
      .rejects.toMatchObject({ code: 'ENOENT', syscall: 'chdir', step: 'chdir', stepIndex: 2, path: missing });
    await expect(spawnWith({ command: ['/bin/true'], plan: join() }, { faultStep: 1, faultErrno: 11 }))
      .rejects.toMatchObject({ code: 'EAGAIN', step: 'fork', stepIndex: 1 });
    await expect(spawnWith({ command: ['/nonexistent-nsbox-program'], plan: join() }, {}))
      .rejects.toMatchObject({ code: 'ENOENT', syscall: 'execve', step: 'exec', stepIndex: 2 });
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it.skipIf(process.arch !== 'x64')('a grandchild killed before exec (a seccomp filter) is ERR_NSBOX_CHILD_LOST', async () => {
    const before = openFds();
    const CHDIR = 80; // x86-64
    const killChdir = assemble([load(SECCOMP_DATA.nr), jumpIfEqual(CHDIR, 0, 1), ret(SECCOMP_RET_KILL_PROCESS), ret(SECCOMP_RET_ALLOW)]);
    const plan: Step[] = [...join(), { op: 'noNewPrivileges' }, { op: 'seccomp', filter: killChdir }, { op: 'chdir', path: '/' }];
    await expect(spawnWith({ command: ['/bin/true'], plan }, {})).rejects.toMatchObject({ code: 'ERR_NSBOX_CHILD_LOST', signal: 'SIGSYS' });
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it('the forking process killed between fork and report: the grandchild is found (CLONE_PARENT_SETTID), ended and reaped', async () => {
    const before = openFds();
    await expect(spawnWith({ command: ['/bin/true'], plan: join() }, { faultForkLost: true }))
      .rejects.toMatchObject({ code: 'ERR_NSBOX_CHILD_LOST', signal: 'SIGKILL' });
    expect(await expectNoLeaks(before)).toEqual([]);
  });
});

describe('fork step without a setns', () => {
  it("the program's parent is this process, and a hold after the fork is released through the grandchild's pidfd", async () => {
    const before = openFds();
    const held = await spawnHeld({ command: sh('echo $PPID'), stdio: ['ignore', 'pipe', 'pipe'], plan: [{ op: 'fork' }] }, {});
    const { child } = held;
    expect(ppid(child.pid)).toBe(process.pid);
    // Held at its wait step: it is the grandchild that waits, and that childRelease finds.
    await held.release();
    const [out, status] = await Promise.all([text(child.stdout), child.exited]);
    expect(out).toBe(`${process.pid}\n`);
    expect(status).toEqual({ code: 0, signal: null });
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it('is refused with a new pid namespace, and twice in a plan', async () => {
    await expect(spawnWith({ command: ['/bin/true'], namespaces: ns('pid'), plan: [{ op: 'fork' }] }, {}))
      .rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.plan[0]') });
    await expect(spawnWith({ command: ['/bin/true'], plan: [{ op: 'fork' }, { op: 'fork' }] }, {}))
      .rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.plan[1]') });
  });
});
