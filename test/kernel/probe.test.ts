// probe(): each field cross-checked against an independent measurement on this host —
// util-linux's unshare, a Python ctypes program making the same system calls, the cgroup
// files themselves — as root and (NSBOX_TEST_UNPRIVILEGED=1) as uid 65534.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { probe, type HostProbe } from '../../lib/index';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.geteuid?.() === 0;
const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => fs.existsSync(p));
const hasUnshare = spawnSync('unshare', ['--version']).status === 0;

// The same measurements as lib/probe.ts and src-native/probe.cc, made by another program.
const PY = String.raw`
import ctypes, errno, json, os, subprocess, sys, tempfile, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
N = {'x86_64': dict(clone3=435, pidfd_open=434, open_tree=428, mount_setattr=442, close_range=436, landlock=444, seccomp=317),
     'aarch64': dict(clone3=435, pidfd_open=434, open_tree=428, mount_setattr=442, close_range=436, landlock=444, seccomp=277)}[os.uname().machine]
L, P = ctypes.c_long, ctypes.c_void_p
def call(name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(L(N[name]), *args)
    return r, ctypes.get_errno()
def has(name, *args):
    r, e = call(name, *args)
    if r >= 0 and name in ('pidfd_open', 'open_tree'): os.close(r)
    return not (r < 0 and e == errno.ENOSYS)
out = {}
out['clone3'] = has('clone3', P(None), L(0))
out['pidfd'] = has('pidfd_open', L(os.getpid()), L(0))
out['newMountApi'] = has('open_tree', L(-100), ctypes.c_char_p(b'/'), L(0o2000000))
out['mountSetattr'] = has('mount_setattr', L(-1), ctypes.c_char_p(b''), L(0), P(None), L(0))
out['closeRange'] = has('close_range', L(0xffffffff), L(0xffffffff), L(0))
abi, e = call('landlock', P(None), L(0), L(1))
out['landlockAbi'] = abi if abi > 0 else 0

# seccomp: an allow-all filter installed in a forked child after no_new_privs.
pid = os.fork()
if pid == 0:
    class Prog(ctypes.Structure): _fields_ = [('len', ctypes.c_ushort), ('filter', P)]
    insn = (ctypes.c_ubyte * 8)(0x06, 0, 0, 0, 0, 0, 0xff, 0x7f)
    prog = Prog(1, ctypes.cast(insn, P))
    libc.prctl(38, 1, 0, 0, 0)
    r, _ = call('seccomp', L(1), L(0), ctypes.byref(prog))
    os._exit(0 if r == 0 else 1)
out['seccompFilter'] = os.waitpid(pid, 0)[1] == 0

# idmapped mounts: a user namespace from unshare(1), a detached clone of the tmp dir's mount.
child = subprocess.Popen(['unshare', '--user', '--map-root-user', 'sleep', '10'], stdin=subprocess.DEVNULL)
try:
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            if open('/proc/%d/comm' % child.pid).read().strip() == 'sleep': break
        except OSError: pass
        time.sleep(0.005)
    ns = os.open('/proc/%d/ns/user' % child.pid, os.O_RDONLY)
    tree, e = call('open_tree', L(-100), ctypes.c_char_p(os.path.realpath(tempfile.gettempdir()).encode()), L(1 | 0o2000000))
    if tree < 0:
        out['idmapped'] = errno.errorcode[e]
    else:
        attr = (ctypes.c_uint64 * 4)(0x00100000, 0, 0, ns)
        r, e = call('mount_setattr', L(tree), ctypes.c_char_p(b''), L(0x1000), ctypes.byref(attr), L(32))
        out['idmapped'] = True if r == 0 else errno.errorcode[e]
        os.close(tree)
    os.close(ns)
finally:
    child.kill(); child.wait()
print(json.dumps(out))
`;

interface Independent {
  clone3: boolean;
  pidfd: boolean;
  newMountApi: boolean;
  mountSetattr: boolean;
  closeRange: boolean;
  landlockAbi: number;
  seccompFilter: boolean;
  idmapped: true | string;
}

/** The fstype mounted last at a mount point, from /proc/self/mountinfo; undefined if none. */
function fstypeAt(mountPoint: string): string | undefined {
  let type: string | undefined;
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n')) {
    const f = line.split(' ');
    if (f[4] === mountPoint) type = f[f.indexOf('-', 6) + 1];
  }
  return type;
}

function openFds(): Map<string, string> {
  const fds = new Map<string, string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      fds.set(fd, fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the fd of the readdir itself, closed by now
    }
  }
  return fds;
}

/** Processes whose parent is this one (live or zombie). */
function children(): number[] {
  const found: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) found.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const probeGroups = (dir: string | null) =>
  dir ? fs.readdirSync(dir).filter((n) => n.startsWith(`nsbox-probe-${process.pid}-`)) : [];

describe(`probe() as uid ${process.geteuid?.()}`, () => {
  let r: HostProbe;
  let fdsBefore: Map<string, string>;
  let fdsAfter: Map<string, string>;
  let childrenAfter: number[];

  beforeAll(async () => {
    await probe(); // warm up: the addon loads, the first spawn maps the child stack
    fdsBefore = openFds();
    r = await probe();
    await new Promise((res) => setImmediate(res));
    fdsAfter = openFds();
    childrenAfter = children();
  });

  it('has the documented shape', () => {
    expect(Object.keys(r).sort()).toEqual(
      ['cgroup', 'cloneIntoCgroup', 'idmappedMounts', 'kernel', 'landlock', 'seccomp', 'syscalls', 'userNamespaces'].sort(),
    );
    for (const v of Object.values(r.syscalls)) expect(typeof v).toBe('boolean');
    for (const s of [r.cloneIntoCgroup, r.idmappedMounts]) {
      expect(typeof s.supported).toBe('boolean');
      // a reason exactly where something is refused
      expect(typeof s.reason === 'string' && s.reason.length > 0).toBe(!s.supported);
    }
    expect(typeof r.userNamespaces.reason === 'string').toBe(!r.userNamespaces.allowed || !r.userNamespaces.withOtherNamespaces);
    expect(typeof r.cgroup.reason === 'string').toBe(!r.cgroup.canCreateChildren);
    expect(typeof r.seccomp.reason === 'string').toBe(!r.seccomp.filter);
    expect(typeof r.landlock.reason === 'string').toBe(r.landlock.abi === 0);
    expect(['unified', 'hybrid', 'legacy', 'none']).toContain(r.cgroup.mode);
    expect(['disabled', 'strict', 'filter']).toContain(r.seccomp.mode);
  });

  // (How long it takes is a benchmark's business, not a test's: about 5-15 ms here.)
  it('reaps every child and leaves no fd open', () => {
    expect(childrenAfter).toEqual([]);
    const added = [...fdsAfter].filter(([fd, target]) => fdsBefore.get(fd) !== target);
    expect(added).toEqual([]);
  });

  it('reports the running kernel', () => {
    expect(r.kernel.release).toBe(os.release());
    expect(r.kernel.release).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(r.kernel.release.startsWith(r.kernel.version)).toBe(true);
    expect(r.kernel.version).toMatch(/^\d+\.\d+(\.\d+)?$/);
  });

  describe('against a Python ctypes measurement', () => {
    let ind: Independent;
    beforeAll(() => {
      if (python) ind = JSON.parse(execFileSync(python, ['-c', PY], { encoding: 'utf8', cwd: os.tmpdir() }));
    });

    it.skipIf(!python)(`system calls${python ? '' : ' — skipped: no /usr/bin/python3'}`, () => {
      const { clone3, pidfd, newMountApi, mountSetattr, closeRange } = ind;
      expect(r.syscalls).toEqual({ clone3, pidfd, newMountApi, mountSetattr, closeRange });
    });

    it.skipIf(!python)(`Landlock ABI${python ? '' : ' — skipped: no /usr/bin/python3'}`, () => {
      expect(r.landlock.abi).toBe(ind.landlockAbi);
    });

    it.skipIf(!python)(`seccomp filter${python ? '' : ' — skipped: no /usr/bin/python3'}`, () => {
      expect(r.seccomp.filter).toBe(ind.seccompFilter);
    });

    it.skipIf(!python || !hasUnshare)(`idmapped mounts${python && hasUnshare ? '' : ' — skipped: needs python3 and unshare'}`, () => {
      expect(r.idmappedMounts.path).toBe(fs.realpathSync(os.tmpdir()));
      expect(r.idmappedMounts.supported).toBe(ind.idmapped === true);
      if (ind.idmapped !== true) expect(r.idmappedMounts.reason).toMatch(new RegExp(`^${ind.idmapped}\\b`));
      // root on ext4/xfs/btrfs/tmpfs (this host) can; uid 65534 cannot clone a mount at all
      if (!root) expect(r.idmappedMounts.reason).toMatch(/^EPERM from open_tree: .*run as root/);
    });
  });

  it('reports this process\'s own seccomp mode as /proc/self/status does', () => {
    const n = Number(/^Seccomp:\s+(\d)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
    expect(r.seccomp.mode).toBe(['disabled', 'strict', 'filter'][n]);
  });

  it.skipIf(!hasUnshare)(`user namespaces as unshare(1) finds them${hasUnshare ? '' : ' — skipped: no unshare'}`, () => {
    expect(r.userNamespaces.allowed).toBe(spawnSync('unshare', ['--user', 'true']).status === 0);
    const all = spawnSync('unshare', ['--user', '--map-root-user', '--mount', '--uts', '--ipc', '--net', '--cgroup', '--pid', '--fork', 'true']);
    expect(r.userNamespaces.withOtherNamespaces).toBe(all.status === 0);
    const read = (f: string) => (fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8')) : undefined);
    expect(r.userNamespaces.sysctls).toEqual(JSON.parse(JSON.stringify({
      unprivilegedUsernsClone: read('/proc/sys/kernel/unprivileged_userns_clone'),
      maxUserNamespaces: read('/proc/sys/user/max_user_namespaces'),
      apparmorRestrictUnprivilegedUserns: read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'),
    })));
  });

  describe('cgroup', () => {
    it('mode and mount as /proc/self/mountinfo shows them', () => {
      const top = fstypeAt('/sys/fs/cgroup');
      const unified = fstypeAt('/sys/fs/cgroup/unified');
      const v1 = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(' - cgroup ');
      const mode = top === 'cgroup2' ? 'unified' : top === 'tmpfs' && unified === 'cgroup2' ? 'hybrid' : v1 ? 'legacy' : 'none';
      expect(r.cgroup.mode).toBe(mode);
      expect(r.cgroup.mount).toBe({ unified: '/sys/fs/cgroup', hybrid: '/sys/fs/cgroup/unified', legacy: null, none: null }[mode]);
      if (mode === 'hybrid') {
        expect(r.cgroup.legacyControllers.length).toBeGreaterThan(0);
        expect(r.cgroup.modeHint).toMatch(/systemd\.unified_cgroup_hierarchy=1/);
      }
      if (mode === 'unified') expect(r.cgroup.modeHint).toBeUndefined();
    });

    it('controllers and own cgroup as the cgroup files show them', (ctx) => {
      if (!r.cgroup.mount || !r.cgroup.ownPath) return ctx.skip(`no cgroup2 directory of this process: ${r.cgroup.reason}`);
      const words = (f: string) => fs.readFileSync(f, 'utf8').split(/\s+/).filter(Boolean);
      expect(r.cgroup.controllers).toEqual(words(path.join(r.cgroup.mount, 'cgroup.controllers')));
      expect(r.cgroup.ownControllers).toEqual(words(path.join(r.cgroup.ownPath, 'cgroup.controllers')));
      expect(words(path.join(r.cgroup.ownPath, 'cgroup.procs'))).toContain(String(process.pid));
      for (const c of r.cgroup.legacyControllers) expect(r.cgroup.controllers).not.toContain(c);
    });

    it('canCreateChildren as a mkdir of our own finds it, and leaves no nsbox-probe-* group', (ctx) => {
      if (!r.cgroup.ownPath) return ctx.skip(`no cgroup2 directory of this process: ${r.cgroup.reason}`);
      const dir = path.join(r.cgroup.ownPath, `nsbox-probetest-${process.pid}`);
      let made = false;
      try {
        fs.mkdirSync(dir);
        made = true;
      } catch {
        // refused: canCreateChildren must say so
      } finally {
        if (made) fs.rmdirSync(dir);
      }
      expect(r.cgroup.canCreateChildren).toBe(made);
      if (root) expect(made).toBe(true);
      else expect(r.cgroup.reason).toMatch(/systemd-run --user --scope -p Delegate=yes/);
      expect(probeGroups(r.cgroup.ownPath)).toEqual([]);
    });

    it('cloneIntoCgroup where this process may move processes into its cgroup', (ctx) => {
      if (!r.cgroup.ownPath) return ctx.skip(`no cgroup2 directory of this process: ${r.cgroup.reason}`);
      let writable = true;
      try {
        fs.accessSync(path.join(r.cgroup.ownPath, 'cgroup.procs'), fs.constants.W_OK);
      } catch {
        writable = false;
      }
      expect(r.cloneIntoCgroup.supported).toBe(writable && r.syscalls.clone3);
      if (!writable) expect(r.cloneIntoCgroup.reason).toMatch(/^EACCES from clone3: the kernel has CLONE_INTO_CGROUP, but .*Delegate=yes/);
    });
  });

  // A refusal for real: inside a user namespace whose user.max_user_namespaces is 0, run
  // the built package (dist/, which scripts/setup.sh builds) and expect the sysctl named.
  const dist = path.resolve(here, '../../dist/index.js');
  const distProbe = path.resolve(here, '../../dist/probe.js');
  const fresh = fs.existsSync(distProbe) && fs.statSync(distProbe).mtimeMs >= fs.statSync(path.resolve(here, '../../lib/probe.ts')).mtimeMs;
  const skip = !hasUnshare ? 'no unshare' : !fresh ? 'dist/ is missing or older than lib/probe.ts: npm run build:ts' : '';
  it.skipIf(skip !== '')(`names user.max_user_namespaces=0 when that refuses a user namespace${skip ? ` — skipped: ${skip}` : ''}`, () => {
    const script = `require(${JSON.stringify(dist)}).probe().then((r) => console.log(JSON.stringify(r)))`;
    const out = execFileSync('unshare', ['--user', '--map-root-user', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" -e "$1"', process.execPath, script], {
      encoding: 'utf8',
      cwd: os.tmpdir(),
    });
    const inner: HostProbe = JSON.parse(out);
    expect(inner.userNamespaces.allowed).toBe(false);
    expect(inner.userNamespaces.withOtherNamespaces).toBe(false);
    expect(inner.userNamespaces.sysctls.maxUserNamespaces).toBe(0);
    expect(inner.userNamespaces.reason).toMatch(/^a new user namespace: ENOSPC from clone3: .*user\.max_user_namespaces is 0/);
    expect(inner.idmappedMounts.supported).toBe(false);
    expect(inner.idmappedMounts.reason).toMatch(/creating one failed: ENOSPC/);
  });
});
