// Container: real containers on this host, as root and again as uid 65534 (rootless). What a
// container sees is asked of the static probe program (test/probe/nsbox-probe.c) inside it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Container, type ContainerOptions } from '../../lib/container/index';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS } from '../../lib/container/defaults';
import { stagingDir } from '../../lib/container/filesystem';
import { CGROUP_ROOT, isRoot, REGISTER_TS, repoRoot, rmTmp, testName, text, tmpDir } from '../helpers/env';
import { execFileSync } from 'node:child_process';
import { PROBE_BIN, parseProbe, type ProbeReport } from '../helpers/probe-program';
import { makeBusyboxRootfs, removeSharedBusyboxRootfs, sharedBusyboxRootfs } from '../helpers/rootfs';
import { capabilityNames } from '../../lib/capabilities';
import { fdChanges, openFds, settled } from '../helpers/proc';
import { native } from '../../lib/native';
import { netnsPoolSettled } from '../../lib/netns-pool';

const probeMount = { type: 'bind', source: PROBE_BIN, target: '/probe', readonly: true } as const;
let cgroupParent: string | undefined;

beforeAll(() => {
  if (isRoot) cgroupParent = path.join(CGROUP_ROOT, testName('containers'));
});
afterAll(() => {
  removeSharedBusyboxRootfs();
  if (cgroupParent && fs.existsSync(cgroupParent)) fs.rmdirSync(cgroupParent);
});

/**
 * This process's open fds but the network namespace pool's, which come and go on their own
 * (refilled on pool threads, each of which holds a socket for a moment to bring a loopback up):
 * they are not a container's. Read once the pool is done making namespaces.
 */
async function ownFds(): Promise<number[]> {
  await netnsPoolSettled();
  return [...openFds()].map(([fd]) => fd).sort((a, b) => a - b);
}

function base(extra: Partial<ContainerOptions> = {}): ContainerOptions {
  return {
    command: ['/probe'],
    ...(cgroupParent ? { cgroupParent } : {}),
    ...extra,
    mounts: [probeMount, ...(extra.mounts ?? [])],
  };
}

async function probeIn(extra: Partial<ContainerOptions> = {}, args: string[] = []): Promise<ProbeReport> {
  const r = await Container.run(base({ ...extra, command: ['/probe', ...args] }));
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return parseProbe(r.stdout);
}

async function tryIn(action: string[], extra: Partial<ContainerOptions> = {}): Promise<{ ok: boolean; errno?: string }> {
  const r = await Container.run(base({ ...extra, command: ['/probe', 'try', ...action] }));
  return JSON.parse(r.stdout);
}

describe('a container on the embedded default root', () => {
  it('runs its program as pid 1 in new namespaces, with its own hostname, and reports how it ended', async () => {
    const r = await Container.run(base({ command: ['/bin/sh', '-c', 'echo "$$ $(hostname)"; exit 3'], hostname: 'box' }));
    expect(r).toMatchObject({ stdout: '1 box\n', stderr: '', exitCode: 3, signal: null, reason: 'exit' });
    expect(r.durationMs).toBeGreaterThan(0);
  });

  it('containers of one configuration each see their own id-derived hostname (one kept plan, patched per container)', async () => {
    const script = 'hostname; cat /etc/hostname; echo "$HOSTNAME"; grep 127.0.1.1 /etc/hosts | cut -f2';
    const ids = ['0123456789abcdef0001', '0123456789abcdef0002', 'fedcba98765432100003'];
    const seen = [];
    for (const id of ids) {
      const r = await Container.run(base({ command: ['/bin/sh', '-c', script], id }));
      expect(r.exitCode).toBe(0);
      seen.push(r.stdout);
    }
    expect(seen).toEqual(ids.map((id) => `${id.slice(0, 12)}\n`.repeat(4)));
  });

  it('sees the host /usr read-only, a fresh writable /tmp, a minimal /etc, and no host file outside', async () => {
    const secret = tmpDir('secret');
    fs.writeFileSync(path.join(secret, 'key'), 'host secret');
    try {
      const r = await Container.run(base({
        command: ['/bin/sh', '-c', `ls /tmp | wc -l; touch /tmp/x && echo tmp-ok; touch /usr/x 2>&1 | grep -c Read-only; cat /etc/hostname; ls /etc; cat ${secret}/key 2>&1 | grep -c 'No such'`],
        hostname: 'etc-test',
      }));
      expect(r.stdout.split('\n')).toEqual(['0', 'tmp-ok', '1', 'etc-test', 'alternatives', 'group', 'hostname', 'hosts', 'passwd', 'resolv.conf', '1', '']);
    } finally {
      rmTmp(secret);
    }
  });

  it('is secure by default: Docker capabilities without CAP_MKNOD, no_new_privs, seccomp filter, masked and read-only paths, rlimits, only fds 0-2', async () => {
    const p = await probeIn();
    expect(p.pid).toBe(1);
    expect(capabilityNames(p.capabilities.CapBnd).sort()).toEqual([...DEFAULT_CAPABILITIES].sort());
    expect(capabilityNames(p.capabilities.CapEff).sort()).toEqual([...DEFAULT_CAPABILITIES].sort());
    expect(capabilityNames(p.capabilities.CapInh)).toEqual([]);
    expect(capabilityNames(p.capabilities.CapAmb)).toEqual([]);
    expect(p.noNewPrivs).toBe(1);
    expect(p.seccomp).toBe(2);
    expect(p.rlimits.nofile).toEqual({ soft: 1024, hard: 1024 });
    expect(p.fds.map((f) => f.fd).sort()).toEqual([0, 1, 2]);
    const mount = (at: string) => p.mounts.filter((m) => m.mountPoint === at).at(-1);
    expect(mount('/')?.fsType).toBe('tmpfs');
    expect(mount('/usr')?.options).toContain('ro');
    expect(mount('/proc')?.fsType).toBe('proc');
    expect(mount('/sys')?.options).toContain('ro');
    expect(mount('/sys/fs/cgroup')).toMatchObject({ fsType: 'cgroup2' });
    expect(mount('/sys/fs/cgroup')?.options).toContain('ro');
    expect(mount('/proc/sys')?.options).toContain('ro');
    expect(mount('/dev/pts')?.fsType).toBe('devpts');
    for (const masked of DEFAULT_MASKED_PATHS.filter((m) => fs.existsSync(m))) {
      expect(mount(masked), masked).toBeDefined();
    }
    expect(p.cgroup.some((l) => l === '0::/')).toBe(true); // its own cgroup namespace, rooted at its group
  });

  it('hides masked directories under an empty read-only tmpfs: as root one shared superblock for every container, its own where the program keeps CAP_SYS_ADMIN', async () => {
    const dirs = DEFAULT_MASKED_PATHS.filter((m) => fs.existsSync(m) && fs.statSync(m).isDirectory());
    expect(dirs.length).toBeGreaterThan(0);
    // Per directory: device and mode, entries, whether a file can be made there.
    const script = dirs.map((d) => `stat -c '%d %a' ${d}; ls -A ${d} | wc -l; (: >${d}/x) 2>/dev/null && echo writable || echo refused`).join('; ');
    const run = async (extra: Partial<ContainerOptions> = {}) => {
      const r = await Container.run(base({ command: ['/bin/sh', '-c', script], ...extra }));
      expect(r.stderr).toBe('');
      return r.stdout.trim().split('\n');
    };
    const [a, b, admin] = [await run(), await run(), await run({ capabilities: { add: ['CAP_SYS_ADMIN'] } })];
    const devices = (out: string[]) => dirs.map((_, i) => out[3 * i].split(' ')[0]);
    for (const out of [a, b, admin]) {
      dirs.forEach((d, i) => expect(out.slice(3 * i, 3 * i + 3), d).toEqual([`${out[3 * i].split(' ')[0]} 1777`, '0', 'refused']));
    }
    if (isRoot) {
      expect(new Set([...devices(a), ...devices(b)]).size).toBe(1); // the template's superblock
      expect(new Set(devices(admin)).size).toBe(dirs.length); // one tmpfs per directory, as runc
      expect(devices(admin).filter((d) => devices(a).includes(d))).toEqual([]);
    } else {
      // Rootless: the template is root's to make; each directory gets a tmpfs of its own.
      for (const out of [a, b]) expect(new Set(devices(out)).size).toBe(dirs.length);
    }
  });

  it('runs as the given user with the given environment and working directory', async () => {
    if (!isRoot) {
      // Rootless, only the caller is mapped (to root): another uid is refused before anything runs.
      await expect(Container.create(base({ user: { uid: 1000, gid: 1000 } }))).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('not mapped') });
      return;
    }
    const p = await probeIn({ user: { uid: 1000, gid: 1000 }, env: { PATH: '/usr/bin:/bin', FOO: 'bar' }, cwd: '/tmp' });
    expect([p.uid, p.gid, p.euid, p.egid]).toEqual([1000, 1000, 1000, 1000]);
    expect(p.cwd).toBe('/tmp');
    expect(p.env).toEqual(['PATH=/usr/bin:/bin', 'FOO=bar']);
    expect(capabilityNames(p.capabilities.CapEff)).toEqual([]); // a non-root uid keeps none at exec
  });

  it.skipIf(!isRoot)("as root, userNamespace: true maps the container's root to 100000 (65536 ids), and its root builds the container", async () => {
    // Node's uid 0 is not mapped in that namespace: every file the setup makes (the embedded
    // root's directories, /dev's nodes) must belong to the namespace's root instead.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsbox-userns-'));
    fs.chmodSync(dir, 0o777);
    try {
      const r = await Container.run({
        command: ['/bin/sh', '-c', 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /work/made; : >/dev/null && echo ok'],
        userNamespace: true,
        mounts: [{ type: 'bind', source: dir, target: '/work' }],
        ...(cgroupParent ? { cgroupParent } : {}),
      });
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual(['0', '0', '0 100000 65536', '0 100000 65536', 'ok', '']);
      const st = fs.statSync(path.join(dir, 'made'));
      expect([st.uid, st.gid]).toEqual([100000, 100000]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('security options', () => {
  it('capabilities add/drop, rlimits, an OCI seccomp profile, sysctls, no_new_privs off', async () => {
    const p = await probeIn({
      capabilities: { drop: ['ALL'], add: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'] },
      rlimits: { nofile: { soft: 64, hard: 128 }, core: 0 },
      noNewPrivileges: false,
    });
    expect(capabilityNames(p.capabilities.CapBnd).sort()).toEqual(['CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    expect(p.rlimits.nofile).toEqual({ soft: 64, hard: 128 });
    expect(p.rlimits.core).toEqual({ soft: 0, hard: 0 });
    expect(p.noNewPrivs).toBe(0);
    // 'inherit': as this process has it (nsbox's default nofile 1024 is not applied).
    const own = /^Max open files\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))!;
    const inherited = await probeIn({ rlimits: { nofile: 'inherit' } });
    expect(inherited.rlimits.nofile).toEqual({ soft: Number(own[1]), hard: Number(own[2]) });

    const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 18 /* EXDEV */ }] };
    const r = await Container.run(base({ command: ['/bin/sh', '-c', 'mkdir /tmp/d 2>&1; grep Seccomp: /proc/self/status'], seccomp: profile }));
    expect(r.stdout).toMatch(/Invalid cross-device link[\s\S]*Seccomp:\t2/);
    // A profile that refuses what a PATH search looks with (and execveat) still runs a program
    // found on the PATH: the search is made before the filter, the exec is an execve.
    const strict = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['statx', 'faccessat', 'faccessat2', 'execveat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    expect(await Container.run(base({ command: ['sh', '-c', 'echo found'], seccomp: strict }))).toMatchObject({ exitCode: 0, stdout: 'found\n' });

    const sysctl = await Container.run(base({ command: ['/bin/sh', '-c', 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni'], sysctl: { 'net.ipv4.ip_unprivileged_port_start': '80', 'kernel.shmmni': '1000' } }));
    expect(sysctl.stdout).toBe('80\n1000\n');
    expect(fs.readFileSync('/proc/sys/kernel/shmmni', 'utf8')).not.toBe('1000\n');
  });

  it('await using deletes the container', async () => {
    let path_: string | undefined;
    let pid = 0;
    {
      await using c = await Container.create(base({ command: ['/probe', 'sleep', '30'], stdio: 'ignore' }));
      await c.start();
      pid = c.pid;
      path_ = c.cgroup?.path;
    }
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    if (path_) expect(fs.existsSync(path_)).toBe(false);
  });
});

describe('escape attempts (each must fail)', () => {
  it('cannot mount, mknod, load a module, set the hostname, or write /proc/sys and /proc/sysrq-trigger', async () => {
    for (const action of [['mount'], ['mknod'], ['module'], ['sethostname', 'evil'], ['write', '/proc/sys/kernel/hostname', 'evil'], ['write', '/proc/sysrq-trigger', 'h'], ['unshare', 'user']]) {
      const r = await tryIn(action);
      expect(r.ok, action.join(' ')).toBe(false);
    }
    expect(os.hostname()).not.toBe('evil');
  });

  it("an image's symlinks stay in it: a linked /proc is refused, a target through a link to a host path makes nothing there, a device node in it does not open", async () => {
    const dir = tmpDir('symlinked-image');
    const victim = tmpDir('victim');
    try {
      const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'), { probe: false });
      if (isRoot) {
        // A device node shipped in the image: /dev/null's numbers, so harmless if it did open.
        execFileSync('mknod', ['-m', '666', path.join(rootfs, 'null-node'), 'c', '1', '3']);
        fs.mkdirSync(path.join(dir, 'nodes'));
        execFileSync('mknod', ['-m', '666', path.join(dir, 'nodes', 'null-node'), 'c', '1', '3']);
        const script = '( exec 3<>/null-node ) 2>/dev/null && echo node-opened || echo node-refused; ( exec 3<>/nodes/null-node ) 2>/dev/null && echo bound-node-opened || echo bound-node-refused';
        const r = await Container.run(base({ rootfs, command: ['/bin/sh', '-c', script], mounts: [{ type: 'bind', source: path.join(dir, 'nodes'), target: '/nodes', devices: true }] }));
        // Only a bind that asks for devices opens one (nsbox has no device cgroup: the rest is nodev).
        expect(r).toMatchObject({ exitCode: 0, stdout: 'node-refused\nbound-node-opened\n' });
      }
      // A bind of one of the devices every container has opens without asking (hiding a file
      // under /dev/null, as with Docker).
      const hidden = await Container.run(base({ rootfs, command: ['/bin/sh', '-c', 'echo x >/etc/passwd && cat /etc/passwd | wc -c'], mounts: [{ type: 'bind', source: '/dev/null', target: '/etc/passwd' }] }));
      expect(hidden).toMatchObject({ exitCode: 0, stdout: '0\n' });
      // /data -> the victim directory on the host: a mount target through it does not reach it.
      fs.symlinkSync(victim, path.join(rootfs, 'data'));
      fs.symlinkSync(path.join(victim, 'resolv.conf'), path.join(rootfs, 'etc', 'resolv.conf'));
      for (const mounts of [
        [{ type: 'tmpfs', target: '/data/made-here' }],
        [{ type: 'bind', source: '/etc/hostname', target: '/etc/resolv.conf', readonly: true }],
      ] as const) {
        await expect(Container.run(base({ rootfs, command: ['/bin/true'], mounts: [...mounts] }))).rejects.toMatchObject({ code: 'ENOENT' });
      }
      expect(fs.readdirSync(victim)).toEqual([]);
      // Links that stay inside work as they will after the pivot: an overlay through one (its
      // writable layer is nsbox's, not the image's), a file bind through a dangling one (its
      // target is made inside), and a target leading back to / is refused.
      fs.mkdirSync(path.join(rootfs, 'srv'));
      fs.symlinkSync('/srv', path.join(rootfs, 'linked'));
      fs.mkdirSync(path.join(rootfs, 'run'));
      fs.symlinkSync('../run/here.conf', path.join(rootfs, 'etc', 'here.conf'));
      fs.symlinkSync('/', path.join(rootfs, 'top'));
      const lower = path.join(dir, 'lower');
      fs.mkdirSync(lower);
      fs.writeFileSync(path.join(lower, 'base'), 'lower\n');
      const ok = await Container.run(base({
        rootfs,
        command: ['/bin/sh', '-c', 'echo new >/linked/new && cat /linked/base /linked/new /etc/here.conf'],
        mounts: [{ type: 'overlay', target: '/linked', lower: [lower] }, { type: 'bind', source: path.join(lower, 'base'), target: '/etc/here.conf', readonly: true }],
      }));
      expect(ok).toMatchObject({ exitCode: 0, stdout: 'lower\nnew\nlower\n' });
      expect([fs.readdirSync(path.join(rootfs, 'srv')), fs.readdirSync(lower), fs.readFileSync(path.join(rootfs, 'run', 'here.conf'), 'utf8')]).toEqual([[], ['base'], '']);
      await expect(Container.run(base({ rootfs, command: ['/bin/true'], mounts: [{ type: 'tmpfs', target: '/top' }] }))).rejects.toMatchObject({ code: 'ELOOP' });
      // /proc as a link: refused, as runc refuses it (CVE-2019-19921). Followed, proc went where
      // the link led before the pivot and the masks where it led after: <staging>/realproc is
      // the image's /realproc on the host then, and a decoy inside; and /dev/y/p loses its way
      // once nsbox's /dev tmpfs covers the image's /dev/y. Either left /proc/sys writable.
      fs.rmdirSync(path.join(rootfs, 'proc'));
      fs.mkdirSync(path.join(rootfs, 'realproc'));
      for (const d of ['sys', 'bus', 'fs', 'irq']) fs.mkdirSync(path.join(rootfs, stagingDir(), 'realproc', d), { recursive: true });
      fs.mkdirSync(path.join(rootfs, 'real', 'p'), { recursive: true });
      fs.symlinkSync('/real', path.join(rootfs, 'dev', 'y'));
      for (const link of [`${stagingDir()}/realproc`, '/dev/y/p']) {
        fs.symlinkSync(link, path.join(rootfs, 'proc'));
        await expect(Container.run(base({ rootfs, command: ['/bin/true'] })), link).rejects.toMatchObject({ step: 'mkdir' });
        fs.unlinkSync(path.join(rootfs, 'proc'));
      }
    } finally {
      rmTmp(dir);
      rmTmp(victim);
    }
  });

  it('a working directory through /proc/self/fd/N does not reach a directory Node has open, for the first process or an exec (CVE-2024-21626)', async () => {
    const dir = tmpDir('cwd-escape');
    const hostDir = fs.openSync(dir, 'r'); // a directory fd of Node's, outside any container
    try {
      fs.writeFileSync(path.join(dir, 'HOST-MARKER'), 'host\n');
      const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'), { probe: false });
      fs.symlinkSync(`/proc/self/fd/${hostDir}`, path.join(rootfs, 'app'));
      await expect(Container.run(base({ rootfs, cwd: '/app', command: ['/bin/cat', 'HOST-MARKER'] }))).rejects.toMatchObject({ step: 'chdir' });
      const c = await Container.create(base({ rootfs, command: ['/bin/sleep', '30'], stdio: 'ignore' }));
      try {
        await c.start();
        await expect(c.exec(['/bin/cat', 'HOST-MARKER'], { cwd: '/app' })).rejects.toMatchObject({ step: 'chdir' });
      } finally {
        await c.delete();
      }
    } finally {
      fs.closeSync(hostDir);
      rmTmp(dir);
    }
  });

  it("a program that is #!/proc/self/exe, or a link to it, never runs Node's binary in the container, as its first process or an exec (CVE-2019-5736)", async () => {
    const dir = tmpDir('self-exe');
    try {
      fs.writeFileSync(path.join(dir, 'script'), '#!/proc/self/exe\nconsole.log("NODE RAN")\n', { mode: 0o755 });
      fs.symlinkSync('/proc/self/exe', path.join(dir, 'link'));
      const mounts = [{ type: 'bind' as const, source: dir, target: '/evil', readonly: true }];
      for (const command of [['/evil/script'], ['/evil/link', '-e', 'console.log("NODE RAN")']]) {
        // Exec'd from nsbox's trampoline, /proc/self/exe is that: run with arguments it does not take, it exits 127.
        const r = await Container.run(base({ command, mounts }));
        expect(r, command[0]).toMatchObject({ exitCode: 127, stdout: '' });
      }
      const c = await Container.create(base({ command: ['/bin/sleep', '30'], stdio: 'ignore', mounts }));
      try {
        await c.start();
        const p = await c.exec(['/evil/script']);
        const [out, status] = await Promise.all([text(p.stdout), p.exited]);
        expect([out, status]).toEqual(['', { code: 127, signal: null }]);
      } finally {
        await c.delete();
      }
    } finally {
      rmTmp(dir);
    }
  });

  it("a process of the container that writes into every pipe it can open cannot make an exec report a failure it did not have", async () => {
    // Writes nsbox's failure report ({step 0, errno 99, execve}) into any pipe under
    // /proc/*/fd but its own: the exec trampoline holds the report pipe for a moment.
    const report = '\\000\\000\\000\\000\\143\\000\\000\\000\\027\\000\\000\\000\\000\\000\\000\\000';
    const scanner = `while :; do for f in /proc/[0-9]*/fd/*; do case $f in /proc/$$/*) continue;; esac; [ -p "$f" ] && printf '${report}' 2>/dev/null >"$f"; done; done`;
    const c = await Container.create(base({ command: ['/bin/sh', '-c', scanner], stdio: 'ignore' }));
    try {
      await c.start();
      const outcomes: Record<string, number> = {};
      for (let i = 0; i < 300; i++) {
        const k = await c.exec(['/bin/true'], { stdio: 'ignore' }).then(async (p) => `exit ${(await p.exited).code}`, (e: { code?: string }) => `rejected ${e.code}`);
        outcomes[k] = (outcomes[k] ?? 0) + 1;
      }
      expect(outcomes).toEqual({ 'exit 0': 300 });
    } finally {
      await c.delete();
    }
  });

  it('sees no host pid and no host network interface', async () => {
    expect(await tryIn(['kill', String(process.pid), '0'])).toMatchObject({ ok: false, errno: 'ESRCH' });
    expect(await tryIn(['ptrace', String(process.pid)])).toMatchObject({ ok: false, errno: 'ESRCH' });
    // /sys too (as root a clone of nsbox's sysfs template: a namespace holding only lo, up), twice: the template is kept.
    for (let i = 0; i < 2; i++) {
      const r = await Container.run(base({ command: ['/bin/sh', '-c', 'echo $(ls /proc | grep "^[0-9]"); echo $(ls /sys/class/net); cat /sys/class/net/lo/operstate; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "'] }));
      const [pids, sysNet, operstate, ...ifaces] = r.stdout.trim().split('\n');
      expect(pids.split(' ').map(Number).every((p) => p < 10)).toBe(true); // sh, ls, grep: its own pid namespace
      expect([sysNet, operstate]).toEqual(['lo', 'unknown']); // lo up: "unknown", as in a container's own namespace
      expect(ifaces).toEqual(['lo']);
    }
  });
});

describe('lifecycle', () => {
  it('moves created → running → paused → running → stopped → deleted, refusing illegal moves with ERR_NSBOX_CONTAINER_STATE', async () => {
    const c = await Container.create(base({ command: ['/probe', 'sleep', '30'], stdio: 'ignore' }));
    try {
      expect(c.state).toBe('created');
      await expect(c.pause()).rejects.toMatchObject({ code: 'ERR_NSBOX_CONTAINER_STATE', operation: 'pause', state: 'created' });
      await c.start();
      expect(c.state).toBe('running');
      await expect(c.start()).rejects.toMatchObject({ code: 'ERR_NSBOX_CONTAINER_STATE', state: 'running' });
      if (c.cgroup) {
        await c.pause();
        expect(c.state).toBe('paused');
        expect(await c.cgroup.state()).toMatchObject({ frozen: true });
        await c.resume();
        expect(c.state).toBe('running');
      }
      // pid 1 of a namespace gets only the signals it handles (pid_namespaces(7)): SIGTERM
      // to a program without a handler does nothing, as with `docker stop`; SIGKILL ends it.
      await c.kill('SIGKILL');
      const r = await c.wait();
      expect(r).toMatchObject({ signal: 'SIGKILL', reason: 'signal' });
      expect(c.state).toBe('stopped');
      await expect(c.kill()).rejects.toMatchObject({ code: 'ERR_NSBOX_CONTAINER_STATE' });
    } finally {
      await c.delete();
    }
    expect(c.state).toBe('deleted');
    if (c.cgroup) expect(fs.existsSync(c.cgroup.path)).toBe(false);
    await c.delete(); // idempotent
  });

  it('pause() waits for an exec still starting; an exec asked for while it pauses is refused, never born frozen', async () => {
    const c = await Container.create(base({ command: ['/probe', 'sleep', '30'], stdio: 'ignore' }));
    try {
      await c.start();
      if (!c.cgroup) return; // no freezer without a cgroup (rootless)
      for (let i = 0; i < 5; i++) {
        const before = c.exec(['/bin/true'], { stdio: 'ignore' });
        const pausing = c.pause();
        const during = c.exec(['/bin/true'], { stdio: 'ignore' }).then(() => 'started', (e: { code?: string }) => e.code);
        await pausing;
        expect(await during).toBe('ERR_NSBOX_CONTAINER_STATE');
        const p = await before; // started before the freeze, not held by it
        await c.resume();
        expect(await p.exited).toEqual({ code: 0, signal: null });
      }
    } finally {
      await c.delete();
    }
  });

  it('an exec racing the container\'s death starts, or is refused as the container stopped: never another error', async () => {
    for (let i = 0; i < 10; i++) {
      const c = await Container.create(base({ command: ['/probe', 'sleep', '30'], stdio: 'ignore' }));
      try {
        await c.start();
        const racing = c.exec(['/bin/true'], { stdio: 'ignore' }).then(() => 'started', (e: { code?: string }) => e.code);
        await c.kill('SIGKILL');
        expect(['started', 'ERR_NSBOX_CONTAINER_STATE']).toContain(await racing);
      } finally {
        await c.delete();
      }
    }
  });

  it('kill() delivers a signal to the first process, which handles it', async () => {
    const c = await Container.create(base({ command: ['/bin/sh', '-c', 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done'], stdio: ['ignore', 'pipe', 'ignore'] }));
    try {
      await c.start();
      await new Promise((resolve) => c.stdout!.once('data', resolve));
      // Its own session and process group (as runc's init): a terminal's Ctrl-C to Node's group misses it.
      const stat = fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8');
      const [pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(2, 4).map(Number);
      expect([pgrp, session]).toEqual([c.pid, c.pid]);
      await c.kill('SIGTERM');
      expect(await c.wait()).toMatchObject({ exitCode: 42, reason: 'exit' });
    } finally {
      await c.delete();
    }
  });

  it('delete() of a running container kills every process in it and leaves nothing', async () => {
    const fdsBefore = await ownFds();
    const c = await Container.create(base({ command: ['/bin/sh', '-c', 'sleep 100 & sleep 100 & wait'], stdio: 'ignore' }));
    await c.start();
    const pid = c.pid;
    await c.delete();
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    expect(await ownFds()).toEqual(fdsBefore);
  });

  it('calls racing delete() or the end are refused (ERR_NSBOX_CONTAINER_STATE), never hang, and never bring a stopped container back', async () => {
    const fdsBefore = await ownFds();
    const sleeper = base({ command: ['/bin/sleep', '100'], stdio: 'ignore' });
    for (let i = 0; i < 3; i++) {
      const c = await Container.create(sleeper);
      await c.start();
      // The freeze is in flight when delete() kills the processes and removes the group under
      // its watch; kill and exec find the container 'deleting'.
      const pause = c.cgroup ? [c.pause()] : [];
      const deleted = c.delete();
      const others = await Promise.allSettled([...pause, c.kill('SIGTERM', { all: !!c.cgroup }), c.exec(['/bin/true'])]);
      await deleted;
      for (const r of others) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'ERR_NSBOX_CONTAINER_STATE' } });
      expect(c.state).toBe('deleted');
    }
    if (isRoot) {
      // pause while the first process dies: it must not report 'paused' afterwards.
      const c = await Container.create(sleeper);
      await c.start();
      const killed = c.kill('SIGKILL');
      const paused = c.pause().catch((e: unknown) => e);
      await killed;
      await c.wait();
      await paused;
      expect(c.state).toBe('stopped');
      await expect(c.resume()).rejects.toMatchObject({ code: 'ERR_NSBOX_CONTAINER_STATE' });
      await c.delete();
    }
    expect(await ownFds()).toEqual(fdsBefore);
  });

  it('timeout and signal end the whole container, and the result says why', async () => {
    const t = await Container.run(base({ command: ['/bin/sh', '-c', 'sleep 100 & sleep 100'], timeout: 200, stdio: 'ignore' }));
    expect(t).toMatchObject({ reason: 'timeout', signal: 'SIGKILL' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const a = await Container.run(base({ command: ['/probe', 'sleep', '100'], signal: ac.signal, stdio: 'ignore' }));
    expect(a).toMatchObject({ reason: 'aborted', signal: 'SIGKILL' });
  });

  it('an aborted signal before create rejects with AbortError and makes nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(Container.create(base({ signal: ac.signal }))).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('a signal aborted between create and start: start rejects with AbortError, the program never runs, the result says aborted', async () => {
    const fdsBefore = await ownFds();
    const ac = new AbortController();
    const c = await Container.create(base({ command: ['/bin/sh', '-c', 'echo ran'], signal: ac.signal }));
    const out = text(c.stdout);
    ac.abort();
    await expect(c.start()).rejects.toMatchObject({ name: 'AbortError' });
    expect(await c.wait()).toMatchObject({ reason: 'aborted' });
    expect(await out).toBe('');
    await c.delete();
    expect(await ownFds()).toEqual(fdsBefore);
  });

  it('validates options before any system call, naming the option', async () => {
    await expect(Container.create({ command: [] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.command') });
    await expect(Container.create({ command: ['x'], mounts: [{ type: 'bind', source: '/tmp', target: 'rel' }] })).rejects.toMatchObject({ message: expect.stringContaining('options.mounts[0].target') });
    await expect(Container.create({ command: ['x'], sysctl: { 'kernel.panic': '1' } })).rejects.toMatchObject({ message: expect.stringContaining('namespaced sysctl') });
    await expect(Container.create({ command: ['x'], bogus: 1 } as never)).rejects.toMatchObject({ message: expect.stringContaining('options.bogus') });
  });

  it('a missing program fails create with ENOENT naming the exec step, leaving nothing', async () => {
    const c = await Container.create(base({ command: ['/no/such/program'], stdio: 'ignore' }));
    await expect(c.start()).rejects.toMatchObject({ code: 'ENOENT', step: 'exec' });
    await c.delete();
  });
});

describe('stdio', () => {
  it('pipes: stdin in, stdout and stderr out', async () => {
    const r = await Container.run(base({ command: ['/bin/sh', '-c', 'read x; echo "out:$x"; echo err >&2'] , input: 'hello\n' } as ContainerOptions));
    expect(r).toMatchObject({ stdout: 'out:hello\n', stderr: 'err\n', exitCode: 0 });
  });

  it('input the program never reads is no error (EPIPE), and input without a piped stdin is refused up front', async () => {
    const fdsBefore = await ownFds();
    // 1 MiB: more than a pipe holds, so the write is still going when /bin/true has exited.
    const r = await Container.run(base({ command: ['/bin/true'], input: Buffer.alloc(1 << 20, 97) } as ContainerOptions));
    expect(r).toMatchObject({ exitCode: 0, reason: 'exit' });
    await expect(Container.run(base({ command: ['/bin/true'], stdio: 'ignore', input: 'x' } as ContainerOptions))).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.input') });
    expect(await ownFds()).toEqual(fdsBefore);
  });

  it('a given fd as stdout', async () => {
    const dir = tmpDir('stdout');
    const file = path.join(dir, 'out');
    const fd = fs.openSync(file, 'w');
    try {
      const r = await Container.run(base({ command: ['/bin/sh', '-c', 'echo to-file'], stdio: ['ignore', fd, 'ignore'] }));
      expect(r.exitCode).toBe(0);
      expect(fs.readFileSync(file, 'utf8')).toBe('to-file\n');
    } finally {
      fs.closeSync(fd);
      rmTmp(dir);
    }
  });
});

describe('root filesystems', () => {
  it('a busybox rootfs directory, read-only, and copy-on-write over it with overlay', async () => {
    const rootfs = sharedBusyboxRootfs();
    const r = await Container.run({ ...base(), rootfs, command: ['/bin/sh', '-c', 'cat /etc/passwd | head -1; touch /newfile && echo written'] });
    expect(r.stdout).toBe('root:x:0:0:root:/root:/bin/sh\nwritten\n');
    fs.rmSync(path.join(rootfs, 'newfile'));
    const ro = await Container.run({ ...base(), rootfs: { path: rootfs, readonly: true }, command: ['/bin/sh', '-c', 'touch /newfile 2>/dev/null || echo read-only'] });
    expect(ro.stdout).toBe('read-only\n');
    const ov = await Container.run({ ...base(), rootfs: { path: rootfs, overlay: true }, command: ['/bin/sh', '-c', 'echo x > /bin/cow && cat /bin/cow'] });
    expect(ov.stdout).toBe('x\n');
    expect(fs.existsSync(path.join(rootfs, 'bin', 'cow'))).toBe(false);
  });

  it('user mounts: bind (read-only and not), tmpfs with size, overlay', async () => {
    const dir = tmpDir('mounts');
    fs.writeFileSync(path.join(dir, 'f'), 'data');
    try {
      const r = await Container.run(base({
        command: ['/bin/sh', '-c', 'cat /ro/f; echo w > /ro/g 2>/dev/null || echo ro-refused; echo w > /rw/g && echo rw-ok; df -k /scratch | tail -1 | awk "{print \\$2}"; echo o > /ov/new; cat /ov/f'],
        mounts: [
          { type: 'bind', source: dir, target: '/ro', readonly: true },
          { type: 'bind', source: dir, target: '/rw' },
          { type: 'tmpfs', target: '/scratch', size: '1m' },
          { type: 'overlay', target: '/ov', lower: [dir] },
        ],
      }));
      expect(r.stdout).toBe('dataro-refused\nrw-ok\n1024\ndata');
      expect(fs.readFileSync(path.join(dir, 'g'), 'utf8')).toBe('w\n');
      expect(fs.existsSync(path.join(dir, 'new'))).toBe(false);
    } finally {
      rmTmp(dir);
    }
  });
});

describe('faults', () => {
  // With a pty, a failure after the openConsole step leaves the master in flight in the
  // console socket: closing the socket closes it.
  // create() then start() clones fork-style and holds; run() as root clones with
  // CLONE_VM|CLONE_VFORK, its failures come back while Node's thread waits in the clone.
  it.each([['create', 'ignore'], ['create', 'pty'], ['run', 'ignore']] as const)("a failure at each plan step in turn names the step and leaves no process, cgroup, mount or fd (%s, stdio '%s')", async (how, stdio) => {
    // Mounts a container could leak into this namespace: on its staging dir or its rootfs (other
    // test files, running in parallel, mount and unmount elsewhere).
    const ours = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(stagingDir()) || l.includes(`nsbox-test-${process.pid}-`));
    const mountsBefore = ours();
    const fds = ownFds;
    const fdsBefore = await fds();
    const seen: string[] = [];
    for (let step = 0; ; step++) {
      const internals = { spawn: { faultStep: step, faultErrno: 5 /* EIO */ } };
      let error: (Error & { step?: string; code?: string; stepIndex?: number }) | undefined;
      let c: Container | undefined;
      try {
        if (how === 'run') {
          await Container.run(base({ command: ['/probe', 'exit', '0'], stdio }), internals);
        } else {
          c = await Container.create(base({ command: ['/probe', 'exit', '0'], stdio }), internals);
          await c.start();
        }
      } catch (e) {
        error = e as typeof error;
      } finally {
        await c?.delete();
      }
      if (!error) break; // past the last step (exec): the container ran
      expect(error).toMatchObject({ code: 'EIO', stepIndex: step });
      expect(typeof error.step).toBe('string');
      seen.push(error.step!);
      if (cgroupParent) expect(fs.readdirSync(cgroupParent).filter((d) => fs.statSync(path.join(cgroupParent!, d)).isDirectory())).toEqual([]);
      expect(ours()).toEqual(mountsBefore);
      expect(await fds()).toEqual(fdsBefore);
      if (step > 500) throw new Error('the plan never ran to its end');
    }
    // Every kind of step the container uses was failed once, the exec last.
    expect(seen).toEqual(expect.arrayContaining(['unshare', 'mount', 'bind', 'pivotRoot', 'mask', 'capabilities', 'seccomp', 'exec']));
    // run()'s fast path (root) has no dumpable step: see 'Container.run as root' below.
    if (how === 'create' || !isRoot) expect(seen).toContain('dumpable');
    if (stdio === 'pty') expect(seen).toContain('openConsole');
    expect(seen.at(-1)).toBe('exec');
  }, 120_000);
});

describe('Container.run as root (CLONE_VM|CLONE_VFORK)', () => {
  // The fields of a probe report that describe the container, not one run of it.
  const shape = (r: ProbeReport) => ({
    ...r,
    pid: undefined, ppid: undefined, namespaces: Object.keys(r.namespaces).sort(), dumpable: undefined,
    mounts: r.mounts.map((m) => [m.mountPoint, m.fsType, m.root, m.options.join(','), m.superOptions.join(',')]),
    fds: r.fds.map((f) => f.fd),
    cgroup: r.cgroup.map((l) => l.replace(/[0-9a-f]{32}/g, 'ID')),
  });

  it.skipIf(!isRoot)('sets up the same container as create() + start(), without copying Node; a held, non-root or exec process keeps the fork-style clone', async () => {
    const real = native.spawn;
    const clones: { vfork: boolean; dumpableStep: boolean }[] = [];
    const spy = vi.spyOn(native, 'spawn').mockImplementation((plan, options, onEvent) => {
      // `timing` comes back only from a clone that shared Node's memory and waited for the exec.
      const result = real(plan, { ...options, timing: true }, onEvent);
      // The encoded plan (lib/plan.ts): a 16-byte header with the step count at 8, then 13 u32 per step, the op first.
      const view = new DataView(plan.buffer, plan.byteOffset, plan.byteLength);
      const ops = Array.from({ length: view.getUint32(8, true) }, (_, i) => view.getUint32(16 + i * 52, true));
      clones.push({ vfork: result.timing !== undefined, dumpableStep: ops.includes(20 /* OP_DUMPABLE */) });
      return result;
    });
    try {
      const fast = await probeIn({ hostname: 'box' });
      const c = await Container.create(base({ hostname: 'box' }));
      const out = c.stdout ? text(c.stdout) : Promise.resolve('');
      await c.start();
      await c.wait();
      const held = parseProbe(await out);
      await c.delete();
      const asUser = await probeIn({ hostname: 'box', user: { uid: 1000, gid: 1000 } });
      expect(clones).toEqual([{ vfork: true, dumpableStep: false }, { vfork: false, dumpableStep: true }, { vfork: false, dumpableStep: true }]);
      expect(shape(fast)).toEqual(shape(held));
      // Non-dumpable during setup is what the fast path leaves out; exec'd, the program is dumpable either way.
      expect(fast.dumpable).toBe(held.dumpable);
      expect(asUser.uid).toBe(1000);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('Container.run with others in flight (the clone on a pool thread)', () => {
  it.skipIf(!isRoot)("after unshare() moved Node's main thread, runs in flight are cloned from it, not from a pool thread in the old namespaces", () => {
    // In a Node process of its own: the move is for good.
    const script = `
      const fs = require('node:fs');
      const { unshare } = require(${JSON.stringify(path.join(repoRoot, 'lib', 'namespaces.ts'))});
      const { Container } = require(${JSON.stringify(path.join(repoRoot, 'lib', 'container', 'index.ts'))});
      (async () => {
        await fs.promises.readFile('/proc/self/stat'); // libuv's pool threads start here, before the move
        unshare(['net']);
        const mine = fs.readlinkSync('/proc/thread-self/ns/net');
        const runs = await Promise.all([1, 2, 3].map(() => Container.run({ command: ['/bin/sh', '-c', 'readlink /proc/self/ns/net'], network: 'host' })));
        console.log(JSON.stringify({ mine, theirs: runs.map((r) => r.stdout.trim()) }));
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['-r', REGISTER_TS, '-e', script], { encoding: 'utf8', timeout: 20_000 }));
    expect(out.theirs).toEqual([out.mine, out.mine, out.mine]);
  });

  it('a container held before its start keeps no pipe of runs cloned beside it: they finish while it waits', async () => {
    // The held clone copies Node's fds while the runs' pipes are open (made on Node's thread,
    // cloned on the pool's); it must close them, not keep them until its exec.
    const runs = [1, 2].map(() => Container.run(base({ command: ['/bin/echo', 'hi'] })));
    const held = await Container.create(base({ command: ['/bin/true'], stdio: 'ignore' }));
    let timer: NodeJS.Timeout | undefined;
    try {
      const results = await Promise.race([
        Promise.all(runs),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the runs waited for the held container')), 5000))),
      ]);
      for (const r of results) expect(r).toMatchObject({ exitCode: 0, stdout: 'hi\n' });
    } finally {
      clearTimeout(timer);
      await held.delete();
      await Promise.allSettled(runs);
    }
  });

  it('each runs its own program; a failing step names itself; nothing is left', async () => {
    const real = native.spawnAsync;
    let asyncClones = 0;
    const spy = vi.spyOn(native, 'spawnAsync').mockImplementation((...args) => {
      asyncClones++;
      return real(...args);
    });
    const fdsBefore = await ownFds();
    try {
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => Container.run(base({ command: ['/bin/sh', '-c', `echo run ${i}; exit ${i}`] }))));
      expect(results.map((r) => [r.stdout, r.exitCode, r.reason])).toEqual(Array.from({ length: 6 }, (_, i) => [`run ${i}\n`, i, 'exit']));
      // The fault hook at the seccomp step, in runs that go through the pool thread.
      const failed = await Promise.allSettled(Array.from({ length: 4 }, () => Container.run(base({ command: ['/probe', 'exit', '0'] }), { spawn: { faultStep: 40, faultErrno: 5 } })));
      for (const f of failed) expect(f).toMatchObject({ status: 'rejected', reason: { code: 'EIO', stepIndex: 40 } });
    } finally {
      spy.mockRestore();
    }
    // As root (the fast path) the runs after the first went to a pool thread; rootless runs
    // clone fork-style on the main thread.
    if (isRoot) expect(asyncClones).toBeGreaterThan(0);
    else expect(asyncClones).toBe(0);
    expect(await ownFds()).toEqual(fdsBefore);
    if (cgroupParent) expect(fs.readdirSync(cgroupParent).filter((d) => fs.statSync(path.join(cgroupParent!, d)).isDirectory())).toEqual([]);
  });
});

describe('exec', () => {
  it('a second program joins the running container: its namespaces, cgroup and security settings', async () => {
    const c = await Container.create(base({ command: ['/probe', 'sleep', '30'], stdio: 'ignore', hostname: 'exec-box' }));
    try {
      await c.start();
      const p = await c.exec(['/probe']);
      const [out, status] = await Promise.all([text(p.stdout), p.exited]);
      expect(status).toEqual({ code: 0, signal: null });
      const r = parseProbe(out);
      expect(r.hostname).toBe('exec-box');
      expect(r.pid).toBeGreaterThan(1);
      expect(r.pid).toBeLessThan(20);
      expect(r.namespaces).toEqual((await probeOf(c)).namespaces);
      expect(capabilityNames(r.capabilities.CapEff).sort()).toEqual([...DEFAULT_CAPABILITIES].sort());
      expect([r.noNewPrivs, r.seccomp]).toEqual([1, 2]);
      expect(r.fds.map((f) => f.fd).sort()).toEqual([0, 1, 2]);
      expect(r.cgroup).toContain('0::/');
      const failing = await c.exec(['/bin/sh', '-c', 'exit 7'], { stdio: 'ignore' });
      expect(await failing.exited).toEqual({ code: 7, signal: null });
      await expect(c.exec(['/no/such'])).rejects.toMatchObject({ code: 'ENOENT', step: 'exec' });
      await c.kill('SIGKILL');
      await c.wait();
      await expect(c.exec(['/probe'])).rejects.toMatchObject({ code: 'ERR_NSBOX_CONTAINER_STATE', operation: 'exec in', state: 'stopped' });
    } finally {
      await c.delete();
    }
  });

  it("cannot be reached through /proc/PID/exe while it is still a copy of Node (CVE-2019-5736)", async () => {
    const c = await Container.create(base({ command: ['/probe', 'sleep', '30'], stdio: 'ignore' }));
    try {
      await c.start();
      // Held just before its exec: everything is set up, the image is still Node's.
      const held = await c.exec(['/probe', 'exit', '0'], { stdio: 'ignore' }, { spawn: { hold: true } });
      const inner = Number(fs.readFileSync(`/proc/${held.pid}/status`, 'utf8').match(/^NSpid:.*\s(\d+)$/m)![1]);
      const tryExe = async (pid: number) => {
        const p = await c.exec(['/probe', 'try', 'openexe', String(pid)]);
        const [out] = await Promise.all([text(p.stdout), p.exited]);
        return JSON.parse(out);
      };
      // The control: the container's own first process is dumpable, and root in the container may open its exe.
      expect((await tryExe(1)).read).toMatchObject({ ok: true });
      const held1 = await tryExe(inner);
      expect(held1.read).toMatchObject({ ok: false, errno: 'EACCES' });
      expect(held1.ok).toBe(false); // nor for writing
    } finally {
      await c.delete();
    }
  });
});

describe('inherited fds (CVE-2024-21626)', () => {
  it('an fd the Node process inherited without close-on-exec does not reach the container', async () => {
    const code = `
      const { Container } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib', 'container', 'index.ts'))});
      Container.run(${JSON.stringify(base({ command: ['/probe', 'try', 'fd', '9'] }))}).then((r) => console.log(r.stdout.trim()));`;
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('/bin/bash', ['-c', `exec 9</etc/hostname; ls -l /proc/self/fd/9 >/dev/null && exec "${process.execPath}" -r "${path.join(__dirname, '..', 'helpers', 'register-ts.cjs')}" -e "$0"`, code], { encoding: 'utf8' });
    expect(JSON.parse(out)).toMatchObject({ ok: false, errno: 'EBADF' });
  });
});

describe('pty', () => {
  // The netns pool's namespaces come and go on their own: they are not the container's. A pool
  // thread making one holds a socket for a moment: read once the pool is done.
  const fdsNow = () => new Map([...openFds()].filter(([, target]) => !target.startsWith('net:')));
  const fds = async () => {
    await netnsPoolSettled();
    return fdsNow();
  };
  const fdsLeft = async (before: Map<number, string>) => {
    await netnsPoolSettled();
    return settled(() => fdChanges(before, fdsNow()));
  };

  it("Container.run with stdio 'pty': stdout is what the terminal showed", async () => {
    const r = await Container.run(base({ command: ['/bin/sh', '-c', 'tty; test -t 0 && echo is-a-tty'], stdio: 'pty' }));
    expect(r).toMatchObject({ exitCode: 0, stdout: '/dev/pts/0\r\nis-a-tty\r\n', stderr: '' });
  });

  it("Container.run with stdio 'pty' and input: typed into the terminal, then its end (^D), so a reader ends", async () => {
    // A partial last line: one ^D hands it to cat, a second is the end of input.
    const partial = await Container.run({ ...base({ command: ['/bin/sh', '-c', 'cat >/tmp/in; echo end:$?; od -c /tmp/in'], stdio: 'pty' }), input: 'one\ntwo' });
    expect(partial).toMatchObject({ exitCode: 0, reason: 'exit' });
    expect(partial.stdout).toContain('end:0\r\n');
    expect(partial.stdout).toMatch(/o\s+n\s+e\s+\\n\s+t\s+w\s+o\s*\r?\n/); // what cat got: the input, nothing more
    // No input: the end of input at once, as a pipe's stdin is closed at once.
    const none = await Container.run(base({ command: ['/bin/sh', '-c', 'cat; echo end:$?'], stdio: 'pty', timeout: 20_000 }));
    expect(none).toMatchObject({ exitCode: 0, reason: 'exit', stdout: 'end:0\r\n' });
  });

  it("stdio 'pty': input a program never reads waits without blocking Node, and is dropped once the program is gone", async () => {
    const before = await fds();
    // Far more than the terminal holds (a blocking write would stop the event loop here for
    // good, and the timeout with it): the timeout still ends the container.
    const big = 'line\n'.repeat(50_000);
    const stuck = await Container.run({ ...base({ command: ['/probe', 'sleep', '60'], stdio: 'pty', timeout: 300 }), input: big });
    expect(stuck).toMatchObject({ reason: 'timeout', signal: 'SIGKILL' });
    // A program that exits without reading: its output is all there, and no error.
    const gone = await Container.run({ ...base({ command: ['/bin/sh', '-c', 'echo bye; exit 3'], stdio: 'pty' }), input: big });
    expect(gone).toMatchObject({ exitCode: 3, reason: 'exit' });
    expect(gone.stdout).toContain('bye\r\n');
    // A write after the program has exited, before the terminal's end is read: dropped,
    // not an error that would destroy the terminal and its unread output.
    const c = await Container.create(base({ command: ['/bin/sh', '-c', 'echo bye'], stdio: 'pty' }));
    try {
      const term = c.terminal!;
      await c.start();
      await c.wait();
      const written = new Promise<unknown>((resolve) => term.write('late\n', resolve));
      const errors: Error[] = [];
      term.on('error', (e) => errors.push(e));
      expect(await written).toBeFalsy();
      expect(await text(term)).toContain('bye\r\n');
      expect(errors).toEqual([]);
    } finally {
      await c.delete();
    }
    expect(await fdsLeft(before)).toEqual([]);
  });

  it("a terminal belongs to the program's user, who can open it by name (first process and exec)", async () => {
    const script = 'stat -c "%u %g" $(tty); ( exec 3<>$(tty) ) && echo opened';
    // Rootless, only root is mapped inside: the owner is that root.
    const id = isRoot ? 1000 : 0;
    const user = { uid: id, gid: id };
    const r = await Container.run(base({ command: ['/bin/sh', '-c', script], stdio: 'pty', user }));
    expect(r).toMatchObject({ exitCode: 0, stdout: `${id} ${id}\r\nopened\r\n` });
    const c = await Container.create(base({ command: ['/probe', 'sleep', '30'], stdio: 'ignore' }));
    try {
      await c.start();
      const p = await c.exec(['/bin/sh', '-c', script], { stdio: 'pty', user });
      const [out, status] = await Promise.all([text(p.terminal), p.exited]);
      expect([out, status]).toEqual([`${id} ${id}\r\nopened\r\n`, { code: 0, signal: null }]);
    } finally {
      await c.delete();
    }
  });

  it("exec with stdio 'pty': its own terminal in the container's devpts", async () => {
    const c = await Container.create(base({ command: ['/probe', 'sleep', '30'], stdio: 'ignore' }));
    try {
      await c.start();
      const p = await c.exec(['/bin/sh', '-c', 'tty; stty size'], { stdio: 'pty', terminalSize: { cols: 90, rows: 30 } });
      const out = await text(p.terminal);
      expect(await p.exited).toEqual({ code: 0, signal: null });
      expect(out).toMatch(/^\/dev\/pts\/\d+\r\n30 90\r\n$/);
    } finally {
      await c.delete();
    }
  });


  /** Collects the terminal's output; `on` sees the text so far after each chunk. */
  function watch(term: NonNullable<Container['terminal']>, on?: (text: string) => void): { text: () => string; closed: Promise<unknown> } {
    let out = '';
    term.on('data', (d: Buffer) => {
      out += d.toString();
      on?.(out);
    });
    return { text: () => out, closed: new Promise((resolve) => term.on('close', resolve)) };
  }

  it("stdio 'pty': a terminal made in the container (tty names its /dev/pts/0), sized, the program its session leader", async () => {
    const script = 'tty; stty size; exec 3</dev/tty && echo ctty; read _ _ _ _ _ sid _ </proc/$$/stat; echo sid:$sid; read x; echo got:$x';
    const c = await Container.create(base({ command: ['/bin/sh', '-c', script], stdio: 'pty', terminalSize: { cols: 100, rows: 40 } }));
    try {
      const term = c.terminal!;
      expect(term.path).toBe('/dev/pts/0');
      expect(term.slaveFd).toBe(-1);
      expect([c.stdin, c.stdout, c.stderr]).toEqual([null, null, null]);
      let typed = false;
      // Typed once the program waits for it: the terminal echoes input as it arrives.
      const { text, closed } = watch(term, (out) => {
        if (!typed && out.includes('sid:')) {
          typed = true;
          term.write('hello\n');
        }
      });
      await c.start();
      expect(await c.wait()).toMatchObject({ exitCode: 0 });
      await closed;
      expect(text()).toMatch(/^\/dev\/pts\/0\r\n40 100\r\nctty\r\nsid:1\r\nhello\r\ngot:hello\r\n$/);
    } finally {
      await c.delete();
    }
  });

  it('resize() after start reaches the program (SIGWINCH); delete() closes the master and leaves no fd', async () => {
    const before = await fds();
    const c = await Container.create(base({ command: ['/bin/sh', '-c', "trap 'echo winch; stty size' WINCH; echo ready; read x; echo done"], stdio: 'pty' }));
    const master = c.terminal!.fd;
    expect(master).toBeGreaterThanOrEqual(0);
    try {
      const term = c.terminal!;
      let step = 0;
      const { text } = watch(term, (out) => {
        if (step === 0 && out.includes('ready\r\n')) {
          step = 1;
          term.resize(120, 30);
        } else if (step === 1 && out.includes('30 120\r\n')) {
          step = 2;
          term.write('\n');
        }
      });
      await c.start();
      expect(await c.wait()).toMatchObject({ exitCode: 0 });
      expect(text()).toContain('winch\r\n30 120\r\n');
      expect(text()).toContain('done\r\n');
      expect([term.cols, term.rows]).toEqual([120, 30]);
    } finally {
      await c.delete();
    }
    expect(c.terminal!.fd).toBe(-1);
    expect(await fdsLeft(before)).toEqual([]);
  });

  it('delete() before start closes the master and the console socket', async () => {
    const before = await fds();
    const c = await Container.create(base({ command: ['/bin/sh'], stdio: 'pty' }));
    await c.delete();
    expect(c.terminal!.fd).toBe(-1);
    expect(await fdsLeft(before)).toEqual([]);
  });
});


async function probeOf(c: Container): Promise<ProbeReport> {
  const p = await c.exec(['/probe']);
  const [out] = await Promise.all([text(p.stdout), p.exited]);
  return parseProbe(out);
}
