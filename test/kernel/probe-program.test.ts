// The probe program (test/probe/nsbox-probe.c) tells the truth: without new namespaces its
// report matches what this process knows of the child and of itself; what a plan sets up
// shows in the report, what a plan takes away `try` finds refused. And the busybox rootfs
// (test/helpers/rootfs.ts, scripts/busybox-rootfs.sh) is one a child can pivot into and run
// a shell and the probe in. As root and (NSBOX_TEST_UNPRIVILEGED=1) as uid 65534.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CAPABILITIES, type Capability, type Step } from '../../lib/index';
import { isRoot, ns, procStatus, repoRoot, rmTmp, run, text, tmpDir } from '../helpers/env';
import { mountPoints } from '../helpers/proc';
import { PROBE_BIN, capabilitySets, parseProbe, probeReport, probeStat, probeTry } from '../helpers/probe-program';
import { ROOTFS_PROBE, makeBusyboxRootfs, removeSharedBusyboxRootfs, sharedBusyboxRootfs } from '../helpers/rootfs';
import { spawn } from '../../lib/spawn';

const me = { uid: process.geteuid!(), gid: process.getegid!() };
const ours = (type: string) => fs.readlinkSync(`/proc/self/ns/${type}`);
const ourStatus = () => procStatus(fs.readFileSync('/proc/self/status', 'utf8'));

let dir: string;
beforeEach(() => {
  dir = tmpDir('probe');
});
afterEach(() => rmTmp(dir));
afterAll(removeSharedBusyboxRootfs);

describe('the report', () => {
  it('without new namespaces matches what the parent knows: pid, ppid, ids, env (escaped), namespaces, mounts, cgroup, capabilities', async () => {
    const env = { PATH: '/usr/bin:/bin', ODD: 'a "quoted" \\ back\tslash\nnew line \u0001 é ✓' };
    const { child, stdout, stderr, status } = await run({ command: [PROBE_BIN], env });
    expect(stderr).toBe('');
    expect(status).toEqual({ code: 0, signal: null });
    const report = parseProbe(stdout);
    expect(report.pid).toBe(child.pid);
    expect(report.ppid).toBe(process.pid);
    expect([report.uid, report.euid, report.gid, report.egid]).toEqual([me.uid, me.uid, me.gid, me.gid]);
    expect(report.env).toEqual(['PATH=/usr/bin:/bin', `ODD=${env.ODD}`]);
    for (const type of ['mnt', 'uts', 'pid', 'net', 'user', 'ipc', 'cgroup']) expect(report.namespaces[type]).toBe(ours(type));
    expect(report.mounts.map((m) => m.mountPoint)).toEqual(mountPoints());
    expect(report.cgroup).toEqual(fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n'));
    const st = ourStatus();
    expect(report.capabilities).toEqual({ CapInh: st.CapInh, CapPrm: st.CapPrm, CapEff: st.CapEff, CapBnd: st.CapBnd, CapAmb: st.CapAmb });
    expect(report.hostname).toBe(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
    expect(report.cwd).toBe(process.cwd());
    expect(report.noNewPrivs).toBe(Number(st.NoNewPrivs));
  });

  it('shows what the plan set: hostname, pid 1, limits, bounding set, no_new_privs, the id maps', async () => {
    const bounding: Capability[] = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_SETPCAP', 'CAP_SYS_ADMIN'];
    const report = await probeReport({
      namespaces: ns('uts', 'pid', 'mount'),
      plan: [
        { op: 'sethostname', hostname: 'probe-test' },
        { op: 'setrlimit', resource: 'nofile', soft: 100, hard: 200 },
        { op: 'setrlimit', resource: 'core', soft: 0, hard: 'unlimited' },
        { op: 'capabilities', bounding },
        { op: 'noNewPrivileges' },
      ],
    });
    expect(report.hostname).toBe('probe-test');
    expect([report.pid, report.ppid]).toEqual([1, 0]);
    expect(report.rlimits.nofile).toEqual({ soft: 100, hard: 200 });
    expect(report.rlimits.core).toEqual({ soft: 0, hard: 'unlimited' });
    const caps = capabilitySets(report);
    expect(caps.bounding).toEqual(bounding);
    // exec as uid 0 gives the bounding set (capabilities(7)); no_new_privs keeps it there.
    expect(caps.effective).toEqual(bounding);
    expect(caps.ambient).toEqual([]);
    expect(report.noNewPrivs).toBe(1);
    expect(report.seccomp).toBe(0);
    for (const type of ['uts', 'pid_for_children', 'mnt']) expect(report.namespaces[type]).not.toBe(ours(type.replace('_for_children', '')));
    expect(report.namespaces.net).toBe(ours('net'));
    expect(report.uid).toBe(0);
    // Root shares our user namespace (the identity map); unprivileged, we are root inside one.
    const map = isRoot ? [[0, 0, 4294967295]] : [[0, me.uid, 1]];
    expect(report.uidMap).toEqual(map);
    expect(report.gidMap).toEqual(isRoot ? map : [[0, me.gid, 1]]);
  });

  it('fds: exactly the stdio given, fd 7 only when passed, with its target', async () => {
    const file = path.join(dir, 'seven');
    fs.writeFileSync(file, '7');
    const fd = fs.openSync(file, 'r');
    try {
      const stdio = ['ignore', 'pipe', 'pipe', null, null, null, null, fd] as const;
      expect(await probeTry('fd', ['7'], { namespaces: ns(), stdio })).toEqual({ action: 'fd', ok: true, errno: null, target: file });
      expect(await probeTry('fd', ['7'], { namespaces: ns() })).toEqual({ action: 'fd', ok: false, errno: 'EBADF' });
      const report = await probeReport({ namespaces: ns(), stdio });
      expect(report.fds.map((f) => [f.fd, f.target?.replace(/\[\d+\]/, '')])).toEqual([[0, '/dev/null'], [1, 'pipe:'], [2, 'pipe:'], [7, file]]);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a mount the plan made: type, per-mount and super options', async () => {
    const target = path.join(dir, 'mnt');
    fs.mkdirSync(target);
    const report = await probeReport({
      namespaces: ns('mount'),
      plan: [
        { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
        { op: 'mount', source: 'probe-tmp', target, type: 'tmpfs', flags: { nosuid: true, nodev: true, readonly: true }, data: 'size=1m,mode=0711' },
      ],
    });
    const mount = report.mounts.find((m) => m.mountPoint === target);
    expect(mount).toMatchObject({ fsType: 'tmpfs', source: 'probe-tmp', root: '/' });
    expect(mount?.options).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
    expect(mount?.superOptions).toEqual(expect.arrayContaining(['size=1024k', 'mode=711']));
  });
});

describe('try', () => {
  it('sethostname and mount: allowed in new UTS and mount namespaces, EPERM once CAP_SYS_ADMIN is out of the bounding set', async () => {
    const namespaces = ns('uts', 'mount');
    const withoutAdmin: Step[] = [{ op: 'capabilities', bounding: CAPABILITIES.filter((c) => c !== 'CAP_SYS_ADMIN') }];
    for (const [action, args] of [['sethostname', ['probe-test']], ['mount', [dir]]] as const) {
      expect(await probeTry(action, args, { namespaces })).toEqual({ action, ok: true, errno: null });
      expect(await probeTry(action, args, { namespaces, plan: withoutAdmin })).toEqual({ action, ok: false, errno: 'EPERM' });
    }
    const report = await probeReport({ namespaces, plan: withoutAdmin });
    expect(capabilitySets(report).effective).not.toContain('CAP_SYS_ADMIN');
  });

  it('mknod of a device: allowed to root, EPERM in a user namespace whatever its capabilities', async () => {
    const node = path.join(dir, 'null');
    const result = await probeTry('mknod', [node], { namespaces: ns('mount') });
    expect(result).toEqual(isRoot ? { action: 'mknod', ok: true, errno: null } : { action: 'mknod', ok: false, errno: 'EPERM' });
    expect(fs.existsSync(node)).toBe(false); // the probe undoes what it managed
  });

  it('open, write and readlink report the errno of the attempt', async () => {
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, 'old');
    expect(await probeTry('write', [file, 'new'], { namespaces: ns() })).toEqual({ action: 'write', ok: true, errno: null });
    expect(fs.readFileSync(file, 'utf8')).toBe('new');
    expect(await probeTry('open', [path.join(dir, 'missing')])).toEqual({ action: 'open', ok: false, errno: 'ENOENT' });
    fs.symlinkSync('somewhere/else', path.join(dir, 'link'));
    expect(await probeTry('readlink', [path.join(dir, 'link')])).toEqual({ action: 'readlink', ok: true, errno: null, target: 'somewhere/else' });
  });

  it('usage errors exit 2 with the usage on stderr; exit CODE exits so; sleep ends by a signal', async () => {
    for (const args of [['try', 'bogus'], ['try', 'kill', '1', 'SIGBOGUS'], ['try', 'unshare', 'nope'], ['stat'], ['nonsense']]) {
      const { stdout, stderr, status } = await run({ command: [PROBE_BIN, ...args] });
      expect({ args, status, stdout }).toEqual({ args, status: { code: 2, signal: null }, stdout: '' });
      expect(stderr).toContain('usage: nsbox-probe');
    }
    expect((await run({ command: [PROBE_BIN, 'exit', '7'] })).status).toEqual({ code: 7, signal: null });
    const child = await spawn({ command: [PROBE_BIN, 'sleep', '30'], stdio: 'ignore' });
    child.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });
});

describe('the busybox rootfs', () => {
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root' };
  const pivot = (rootfs: string): Step[] => [
    { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
    // Read-only: the rootfs is shared by the tests of this file.
    { op: 'bind', source: rootfs, target: rootfs, readonly: true },
    { op: 'mount', source: 'proc', target: `${rootfs}/proc`, type: 'proc', flags: { nosuid: true, nodev: true, noexec: true } },
    { op: 'mount', source: 'tmpfs', target: `${rootfs}/tmp`, type: 'tmpfs', flags: { nosuid: true, nodev: true } },
    { op: 'pivotRoot', newRoot: rootfs },
  ];

  it('a shell runs in it after pivot_root and sees only the rootfs', async () => {
    const rootfs = sharedBusyboxRootfs();
    const { stdout, stderr, status } = await run({
      command: ['/bin/sh', '-c', 'ls /; echo ok; id -un; touch /tmp/x && echo tmp-writable; touch /x 2>/tmp/err || echo root-read-only'],
      env,
      namespaces: ns('mount', 'pid', 'uts'),
      plan: pivot(rootfs),
    });
    expect(stderr).toBe('');
    expect(status).toEqual({ code: 0, signal: null });
    expect(stdout).toBe('bin\ndev\netc\nlinuxrc\nproc\nroot\nsbin\nsys\ntmp\nusr\nok\nroot\ntmp-writable\nroot-read-only\n');
  });

  it('the probe in it: pid 1, its mounts only, the rootfs files as laid out, the host out of reach', async () => {
    const rootfs = sharedBusyboxRootfs();
    const options = { program: ROOTFS_PROBE, env, namespaces: ns('mount', 'pid', 'uts'), plan: pivot(rootfs) };
    const report = await probeReport(options);
    expect([report.pid, report.cwd]).toEqual([1, '/']);
    expect(report.env).toEqual(Object.entries(env).map(([k, v]) => `${k}=${v}`));
    expect(report.mounts.map((m) => [m.mountPoint, m.fsType])).toEqual([['/', expect.any(String)], ['/proc', 'proc'], ['/tmp', 'tmpfs']]);
    expect(report.mounts[0].options).toContain('ro');
    expect(report.mounts[1].options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    const [busybox, envLink, passwd, host] = await probeStat(['/bin/busybox', '/usr/bin/env', '/etc/passwd', repoRoot], options);
    expect(busybox).toMatchObject({ type: 'file', mode: 0o755, readable: true, size: fs.statSync('/bin/busybox').size });
    expect(envLink).toMatchObject({ type: 'file', readable: true }); // stat follows ../../bin/busybox
    expect(passwd).toMatchObject({ type: 'file', mode: 0o644, readable: true });
    expect(host).toMatchObject({ exists: false, errno: 'ENOENT' });
    expect(await probeTry('readlink', ['/usr/bin/env'], options)).toMatchObject({ ok: true, target: '../../bin/busybox' });
  });

  it('without a /proc the probe still reports capabilities (capget, prctl) and open fds; the /proc lists are empty', async () => {
    const rootfs = sharedBusyboxRootfs();
    const withoutProc = pivot(rootfs).filter((s) => !(s.op === 'mount' && s.type === 'proc'));
    const plan: Step[] = [...withoutProc, { op: 'capabilities', bounding: ['CAP_KILL', 'CAP_SETPCAP', 'CAP_SYS_ADMIN'], inheritable: ['CAP_KILL'], ambient: ['CAP_KILL'] }];
    const options = { program: ROOTFS_PROBE, env, namespaces: ns('mount', 'pid'), stdio: ['ignore', 'pipe', 'pipe', null, 'ignore'] as const };
    const blind = await probeReport({ ...options, plan });
    const seeing = await probeReport({ ...options, plan: [...pivot(rootfs), plan.at(-1)!] });
    expect(blind.capabilities).toEqual(seeing.capabilities);
    expect(capabilitySets(blind).ambient).toEqual(['CAP_KILL']);
    expect(blind.fds).toEqual([0, 1, 2, 4].map((fd) => ({ fd, target: null })));
    expect([blind.mounts, blind.cgroup, blind.namespaces, blind.uidMap]).toEqual([[], [], {}, null]);
    expect([blind.noNewPrivs, blind.seccomp]).toEqual([seeing.noNewPrivs, seeing.seccomp]);
  });

  it('scripts/busybox-rootfs.sh lays out the same tree as makeBusyboxRootfs', () => {
    const fromTs = makeBusyboxRootfs(path.join(dir, 'ts'));
    const fromSh = path.join(dir, 'sh');
    execFileSync('bash', [path.join(repoRoot, 'scripts', 'busybox-rootfs.sh'), fromSh]);
    const tree = (root: string) =>
      (fs.readdirSync(root, { recursive: true }) as string[]).sort().map((rel) => {
        const st = fs.lstatSync(path.join(root, rel));
        const what = st.isSymbolicLink() ? `-> ${fs.readlinkSync(path.join(root, rel))}` : st.isFile() ? `${st.size} bytes` : 'dir';
        return `${rel} ${(st.mode & 0o7777).toString(8)} ${what}`;
      });
    const ts = tree(fromTs);
    expect(ts.length).toBeGreaterThan(100);
    expect(tree(fromSh)).toEqual(ts);
  });
});

describe('helpers', () => {
  it('text() of a probe run is one JSON document per mode', async () => {
    const child = await spawn({ command: [PROBE_BIN, 'stat', '/', '/nonexistent'], stdio: ['ignore', 'pipe', 'inherit'] });
    const [out] = await Promise.all([text(child.stdout), child.exited]);
    expect(JSON.parse(out)).toMatchObject([{ path: '/', exists: true, type: 'directory' }, { path: '/nonexistent', exists: false, errno: 'ENOENT' }]);
  });
});
