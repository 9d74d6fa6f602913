// Each plan step has an effect the exec'd program can observe: capability sets,
// no_new_privs and a seccomp filter in /proc/self/status, limits, ids, and file system steps.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CAPABILITIES, capabilityNames, type Capability } from '../../lib/index';
import { NsboxSystemError } from '../../lib/errors';
import { STRATEGIES, isRoot, ns, procStatus, rmTmp, run, sh, tmpDir } from '../helpers/env';
import { X86_64, denySyscalls } from '../helpers/bpf';

const EPERM = 1;

describe.each(STRATEGIES)('plan steps ($name)', ({ internals }) => {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('steps');
  });
  afterEach(() => rmTmp(dir));

  describe.skipIf(process.arch !== 'x64')('capabilities, no_new_privs and seccomp (x86_64 syscall numbers)', () => {
    const bounding: Capability[] = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const inheritable: Capability[] = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const ambient: Capability[] = ['CAP_KILL'];
    const caps = { op: 'capabilities', bounding, permitted: bounding, effective: ['CAP_CHOWN', 'CAP_KILL'], inheritable, ambient } as const;
    const filter = denySyscalls([X86_64.mkdir, X86_64.mkdirat], EPERM);
    const script = (target: string) => `grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; mkdir ${target} 2>&1; echo "mkdir=$?"`;

    it('as uid 0: the sets after exec, NoNewPrivs 1, Seccomp 2, and mkdir denied with EPERM', async () => {
      const target = path.join(dir, 'denied');
      const { stdout, status } = await run({
        command: sh(script(target)),
        namespaces: ns(),
        plan: [caps, { op: 'noNewPrivileges' }, { op: 'seccomp', filter }],
      }, internals);
      expect(status.code).toBe(0);
      const st = procStatus(stdout);
      expect(capabilityNames(st.CapBnd)).toEqual(bounding);
      expect(capabilityNames(st.CapInh)).toEqual(inheritable);
      expect(capabilityNames(st.CapAmb)).toEqual(ambient);
      // execve as uid 0 gives root the bounding set (capabilities(7), "Capabilities and
      // execution of programs by root"); no_new_privs keeps it within what it had.
      expect(capabilityNames(st.CapPrm)).toEqual(bounding);
      expect(capabilityNames(st.CapEff)).toEqual(bounding);
      expect(st.NoNewPrivs).toBe('1');
      expect(st.Seccomp).toBe('2');
      expect(stdout).toMatch(/mkdir: cannot create directory .*: Operation not permitted\nmkdir=1\n$/);
      expect(fs.existsSync(target)).toBe(false);
    });

    it('without the filter the same mkdir works, and nothing is restricted by default', async () => {
      const target = path.join(dir, 'allowed');
      const { stdout, status } = await run({ command: sh(script(target)), namespaces: ns() }, internals);
      expect(status.code).toBe(0);
      const st = procStatus(stdout);
      expect(st.NoNewPrivs).toBe('0');
      expect(st.Seccomp).toBe('0');
      expect(capabilityNames(st.CapBnd)).toContain('CAP_SYS_ADMIN');
      expect(stdout).toMatch(/mkdir=0\n$/);
      // (unprivileged, the child made it as root of its user namespace, which is us outside)
      expect(fs.statSync(target).isDirectory()).toBe(true);
    });

    it.skipIf(!isRoot)('as uid 1000 (needs root): permitted and effective are the ambient set after exec', async () => {
      const { stdout, status } = await run({
        command: sh("grep -E '^(Cap|Uid)' /proc/self/status"),
        plan: [{ op: 'setgid', gid: 1000 }, { op: 'setuid', uid: 1000 }, caps, { op: 'noNewPrivileges' }],
      }, internals);
      expect(status.code).toBe(0);
      const st = procStatus(stdout);
      expect(st.Uid.split(/\s+/)).toEqual(['1000', '1000', '1000', '1000']);
      expect(capabilityNames(st.CapBnd)).toEqual(bounding);
      expect(capabilityNames(st.CapInh)).toEqual(inheritable);
      expect(capabilityNames(st.CapAmb)).toEqual(ambient);
      expect(capabilityNames(st.CapPrm)).toEqual(ambient);
      expect(capabilityNames(st.CapEff)).toEqual(ambient);
    });
  });

  it('the effective set is what the step sets: without CAP_SYS_ADMIN effective, a later mount step is EPERM', async () => {
    const target = path.join(dir, 'mnt');
    fs.mkdirSync(target);
    // What the child holds: ours as root (this host's root may lack some), all of them as
    // root of its own user namespace otherwise.
    const held = isRoot ? capabilityNames(procStatus(fs.readFileSync('/proc/self/status', 'utf8')).CapPrm) : [...CAPABILITIES];
    const mountStep = { op: 'mount', source: 'tmpfs', target, type: 'tmpfs' } as const;
    const error = await run({
      command: ['/bin/true'],
      namespaces: ns('mount'),
      plan: [{ op: 'capabilities', permitted: held, effective: held.filter((c) => c !== 'CAP_SYS_ADMIN') }, mountStep],
    }, internals).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'EPERM', syscall: 'mount', step: 'mount', stepIndex: 1 });
    // With it effective, the same mount works; so does a step that gives no sets at all
    // (it keeps what the process holds, whatever this host's root lacks).
    for (const caps of [{ permitted: held, effective: held }, {}]) {
      const ok = await run({ command: ['/bin/true'], namespaces: ns('mount'), plan: [{ op: 'capabilities', ...caps }, mountStep] }, internals);
      expect(ok.status).toEqual({ code: 0, signal: null });
    }
  });

  it('failing capabilities steps name the call that failed: capset to raise permitted, prctl to drop bounding without CAP_SETPCAP', async () => {
    const only = (...c: Capability[]) => ({ op: 'capabilities', permitted: c, effective: c } as const);
    const raise = await run({ command: ['/bin/true'], namespaces: ns(), plan: [only('CAP_CHOWN'), only('CAP_KILL')] }, internals)
      .then(() => undefined, (e: unknown) => e);
    expect(raise).toMatchObject({ code: 'EPERM', syscall: 'capset', step: 'capabilities', stepIndex: 1 });
    const drop = await run({ command: ['/bin/true'], namespaces: ns(), plan: [only('CAP_CHOWN'), { ...only('CAP_CHOWN'), bounding: ['CAP_CHOWN'] }] }, internals)
      .then(() => undefined, (e: unknown) => e);
    expect(drop).toMatchObject({ code: 'EPERM', syscall: 'prctl', step: 'capabilities', stepIndex: 1 });
  });

  it.each([
    ['mount_setattr', {}],
    ['the bind remount fallback (kernels before 5.12)', { noMountSetattr: true }],
  ])('bind with readonly, nosuid, nodev, noexec: the child\'s mountinfo shows them (%s)', async (_, knobs) => {
    const source = path.join(dir, 'src');
    const target = path.join(dir, 'dst');
    fs.mkdirSync(source);
    const { stdout, status } = await run({
      command: sh(`grep " ${target} " /proc/self/mountinfo`),
      namespaces: ns('mount'),
      plan: [
        { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
        { op: 'bind', source, target, createTarget: true, readonly: true, nosuid: true, nodev: true, noexec: true },
      ],
    }, { ...internals, ...knobs });
    expect(status).toEqual({ code: 0, signal: null });
    const options = stdout.trim().split(' ')[5].split(',');
    expect(options).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
  });

  it('setrlimit: the shell reports the soft and hard limits set', async () => {
    const { stdout, status } = await run({
      command: sh('ulimit -n; ulimit -Hn; ulimit -c'),
      namespaces: ns(),
      plan: [
        { op: 'setrlimit', resource: 'nofile', soft: 123, hard: 456 },
        { op: 'setrlimit', resource: 'core', soft: 0, hard: 0 },
      ],
    }, internals);
    expect(status.code).toBe(0);
    expect(stdout).toBe('123\n456\n0\n');
  });

  it.skipIf(isRoot)('dumpable false in the child leaves the test process dumpable (as root /proc ownership cannot show it; unprivileged.test.ts checks it as 65534)', async () => {
    // A non-dumpable process's /proc/PID files belong to root (proc(5)); PR_SET_DUMPABLE is
    // per address space, so a CLONE_VM child setting it would hit us.
    const me = process.geteuid!();
    expect(fs.statSync('/proc/self/stat').uid).toBe(me);
    const { status } = await run({ command: ['/bin/true'], namespaces: ns(), plan: [{ op: 'dumpable', value: false }] }, internals);
    expect(status.code).toBe(0);
    expect(fs.statSync('/proc/self/stat').uid).toBe(me);
  });

  it('setsid makes the child a session leader', async () => {
    const script = 'echo $$; cut -d" " -f6 /proc/$$/stat';
    const led = await run({ command: sh(script), namespaces: ns(), plan: [{ op: 'setsid' }] }, internals);
    const [pid, sid] = led.stdout.trim().split('\n');
    expect(sid).toBe(pid);
    const plain = await run({ command: sh(script), namespaces: ns() }, internals);
    const [pid2, sid2] = plain.stdout.trim().split('\n');
    expect(sid2).not.toBe(pid2);
  });

  it.skipIf(!isRoot)('setgroups, setgid and setuid (needs root): id shows them', async () => {
    const { stdout, status } = await run({
      command: sh('id -u; id -g; id -G'),
      plan: [{ op: 'setgroups', groups: [10, 20] }, { op: 'setgid', gid: 1000 }, { op: 'setuid', uid: 1001 }],
    }, internals);
    expect(status.code).toBe(0);
    const [uid, gid, groups] = stdout.trim().split('\n');
    expect([uid, gid]).toEqual(['1001', '1000']);
    expect(groups.split(' ').map(Number).sort((a, b) => a - b)).toEqual([10, 20, 1000]);
  });

  it.skipIf(isRoot)('unprivileged: setgroups is denied in the user namespace, ids outside the map are invalid', async () => {
    const groups = await run({ command: ['/bin/true'], namespaces: ['user'], plan: [{ op: 'setgroups', groups: [0] }] }, internals).catch((e) => e);
    expect(groups).toBeInstanceOf(NsboxSystemError);
    expect(groups).toMatchObject({ code: 'EPERM', step: 'setgroups', stepIndex: 0, syscall: 'setgroups' });
    const uid = await run({ command: ['/bin/true'], namespaces: ['user'], plan: [{ op: 'setgid', gid: 0 }, { op: 'setuid', uid: 1000 }] }, internals).catch((e) => e);
    expect(uid).toMatchObject({ code: 'EINVAL', step: 'setuid', stepIndex: 1, syscall: 'setresuid' });
  });

  it('file system steps: mkdir, symlink, mknod, mask, umount, remountReadonly, chdir', async () => {
    const mnt = path.join(dir, 'mnt');
    const other = path.join(dir, 'other');
    fs.mkdirSync(mnt);
    fs.mkdirSync(other);
    fs.mkdirSync(path.join(dir, 'secret'));
    fs.writeFileSync(path.join(dir, 'secret', 'key'), 'hidden');
    fs.writeFileSync(path.join(dir, 'file.txt'), 'hidden too');
    const { stdout, stderr, status } = await run({
      command: sh([
        'pwd',
        `stat -c '%a %F' ${mnt}/a/b/c ${mnt}/one`,
        `readlink ${mnt}/link; ls ${mnt}/link`,
        `stat -c '%F' ${mnt}/fifo`,
        isRoot ? `stat -c '%t:%T %F' ${mnt}/null` : 'echo 1:3 character special file',
        `ls -A ${dir}/secret | wc -l; cat ${dir}/file.txt | wc -c; cat ${dir}/secret/key 2>&1 | head -c 0`,
        `grep -c ' ${other} ' /proc/self/mountinfo`,
        `touch ${mnt}/new 2>&1`,
      ].join('; ')),
      namespaces: ns('mount'),
      plan: [
        { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
        { op: 'mount', source: 'tmpfs', target: mnt, type: 'tmpfs', data: 'size=1m,mode=755' },
        { op: 'mkdir', path: `${mnt}/a/b/c`, recursive: true, mode: 0o700 },
        { op: 'mkdir', path: `${mnt}/one`, mode: 0o751 },
        { op: 'symlink', target: 'a/b', path: `${mnt}/link` },
        { op: 'mknod', path: `${mnt}/fifo`, type: 'fifo', mode: 0o600 },
        ...(isRoot ? [{ op: 'mknod' as const, path: `${mnt}/null`, type: 'char' as const, major: 1, minor: 3 }] : []),
        { op: 'mask', path: `${dir}/secret` },
        { op: 'mask', path: `${dir}/file.txt` },
        { op: 'mask', path: `${dir}/does-not-exist` },
        { op: 'mount', source: 'tmpfs', target: other, type: 'tmpfs' },
        { op: 'umount', target: other },
        { op: 'remountReadonly', path: mnt },
        { op: 'chdir', path: `${mnt}/a` },
      ],
    }, internals);
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    expect(lines.slice(0, 10)).toEqual([
      `${mnt}/a`,
      '700 directory',
      '751 directory',
      'a/b',
      'c',
      'fifo',
      '1:3 character special file',
      '0',
      '0',
      '0',
    ]);
    expect(lines[10]).toMatch(/Read-only file system/);
    expect(status.code).toBe(1); // grep -c found nothing... and touch failed last
    // Nothing of it reached the host: the tmpfs was the child's, and so were the masks.
    expect(fs.readdirSync(mnt)).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'secret', 'key'), 'utf8')).toBe('hidden');
    expect(fs.readFileSync(path.join(dir, 'file.txt'), 'utf8')).toBe('hidden too');
  });
});
