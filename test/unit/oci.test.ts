// The OCI runtime-spec bridge: the config.json runc 1.1 writes (test/fixtures/oci, from Debian
// 12's runc) read into the options of the same container, every field nsbox cannot honour an
// error naming it, options written back as a config.json and read again, and runc's
// resource conversions (cgroup v1 numbers in the spec, v2 files in the kernel).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Capability } from '../../lib/capabilities';
import type { HostFacts } from '../../lib/cgroup/controllers/common';
import { resourceWrites, type CgroupResources } from '../../lib/cgroup/resources';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_PATH, DEFAULT_READONLY_PATHS } from '../../lib/container/defaults';
import {
  blkioWeightToIoWeight, formatOciSpec, ociToOptions, optionsToOci, parseOciSpec, readBundle, sharesToWeight, weightToShares,
  type OciHost, type OciSpec,
} from '../../lib/container/oci';
import { normalizeOptions, type ContainerConfig, type ContainerOptions } from '../../lib/container/options';
import { OciUnsupportedError } from '../../lib/errors';
import { Container } from '../../lib/container/container';
import { dockerDefaultProfile } from '../../lib/seccomp/docker-default';
import { caught } from '../helpers/caught';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'oci');
const isRoot = process.geteuid?.() === 0;
const HOST: OciHost = { cgroupMount: '/sys/fs/cgroup', ownCgroup: '/sys/fs/cgroup/user.slice/user-1000.slice/session-1.scope' };
const BUNDLE = '/nonexistent/bundle';

/** A fresh copy of a fixture, to change. */
function fixture(name: string): Record<string, any> {
  return parseOciSpec(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, any>;
}

const temps: string[] = [];
function tmp(kind: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nsbox-test-${process.pid}-oci-${kind}-`));
  temps.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

/** runc spec's three capabilities, and what leaving only them drops from Docker's default set. */
const RUNC_CAPS: Capability[] = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
const RUNC_DROPS = DEFAULT_CAPABILITIES.filter((c) => !RUNC_CAPS.includes(c));
const RUNC_MASKED = ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'];
const RUNC_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

describe('the config.json runc spec writes', () => {
  const expected: ContainerOptions = {
    command: ['sh'],
    rootfs: { path: `${BUNDLE}/rootfs`, readonly: true },
    cwd: '/',
    user: { uid: 0, gid: 0 },
    // HOME as runc sets it at start: from the image's /etc/passwd, '/' without one.
    env: { PATH: DEFAULT_PATH, TERM: 'xterm', HOME: '/' },
    stdio: 'pty',
    capabilities: { drop: RUNC_DROPS },
    rlimits: { nofile: { soft: 1024, hard: 1024 } },
    noNewPrivileges: true,
    hostname: 'runc',
    network: 'none',
    userNamespace: false,
    seccomp: 'unconfined',
    maskedPaths: RUNC_MASKED,
    readonlyPaths: RUNC_READONLY,
  };

  it('is read into the options of the same container; the standard mounts and the deny-all device rule are nsbox\'s own', () => {
    expect(ociToOptions(fixture('runc-spec.json'), BUNDLE, HOST)).toEqual(expected);
  });

  it('reads the same on a cgroup v2 host, where runc spec adds a cgroup namespace', () => {
    const spec = fixture('runc-spec.json');
    spec.linux.namespaces.push({ type: 'cgroup' });
    expect(ociToOptions(spec, BUNDLE, HOST)).toEqual(expected);
  });

  it.skipIf(!isRoot)('normalizes as root: three capabilities, no user namespace, its own network', () => {
    const c = normalizeOptions(ociToOptions(fixture('runc-spec.json'), BUNDLE, HOST));
    expect([...c.capabilities].sort()).toEqual(RUNC_CAPS);
    expect(c).toMatchObject({
      command: ['sh'], cwd: '/', hostname: 'runc', uid: 0, gid: 0, network: 'none', userns: null, mounts: [],
      rootfs: { path: `${BUNDLE}/rootfs`, readonly: true, overlay: false }, noNewPrivileges: true, seccomp: 'unconfined',
      maskedPaths: RUNC_MASKED, readonlyPaths: RUNC_READONLY, stdio: 'pty',
      rlimits: [{ resource: 'nofile', soft: 1024, hard: 1024 }], resources: undefined,
    });
    expect(c.env.sort()).toEqual(['HOME=/', `PATH=${DEFAULT_PATH}`, 'TERM=xterm']);
  });

  it.skipIf(isRoot)('is refused unprivileged, as runc refuses it: it has no user namespace', () => {
    const e = caught(() => normalizeOptions(ociToOptions(fixture('runc-spec.json'), BUNDLE, HOST)));
    expect(e.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(e.message).toContain("'options.userNamespace'");
  });

  it('takes HOME from the image\'s /etc/passwd, as runc does, and follows no symlink out of it', () => {
    const bundle = tmp('home');
    fs.mkdirSync(path.join(bundle, 'rootfs', 'etc'), { recursive: true });
    fs.writeFileSync(path.join(bundle, 'rootfs', 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/usr/sbin/nologin\n');
    const spec = fixture('runc-spec.json');
    expect(ociToOptions(spec, bundle, HOST).env).toMatchObject({ HOME: '/root' });
    spec.process.user = { uid: 33, gid: 33 };
    expect(ociToOptions(spec, bundle, HOST).env).toMatchObject({ HOME: '/var/www' });
    spec.process.user = { uid: 1234, gid: 1234 };
    expect(ociToOptions(spec, bundle, HOST).env).toMatchObject({ HOME: '/' });
    spec.process.env.push('HOME=/home/given');
    expect(ociToOptions(spec, bundle, HOST).env).toMatchObject({ HOME: '/home/given' });

    fs.rmSync(path.join(bundle, 'rootfs', 'etc', 'passwd'));
    fs.symlinkSync('/etc/passwd', path.join(bundle, 'rootfs', 'etc', 'passwd'));
    expect(ociToOptions(fixture('runc-spec.json'), bundle, HOST).env).toMatchObject({ HOME: '/' });
  });

  describe('--rootless', () => {
    const rootless: ContainerOptions = {
      ...expected,
      network: 'host',
      userNamespace: { uidMap: [{ containerId: 0, hostId: 1000, size: 1 }], gidMap: [{ containerId: 0, hostId: 1000, size: 1 }] },
    };

    it('is read with a user namespace, the mappings, the host\'s network, and the host\'s /sys bound as nsbox binds it', () => {
      expect(ociToOptions(fixture('runc-spec-rootless.json'), BUNDLE, HOST)).toEqual(rootless);
    });

    it('normalizes for any caller: its maps are explicit', () => {
      const c = normalizeOptions(ociToOptions(fixture('runc-spec-rootless.json'), BUNDLE, HOST));
      expect(c.userns).toEqual({ uidMap: [{ containerId: 0, hostId: 1000, size: 1 }], gidMap: [{ containerId: 0, hostId: 1000, size: 1 }] });
      expect(c).toMatchObject({ network: 'host', mounts: [], resources: undefined, cgroupParent: undefined });
    });
  });

  it('maps ids, umask, a console size, rlimits at RLIM_INFINITY, sysctls, and no hostname as the host\'s', () => {
    const spec = fixture('runc-spec.json');
    spec.process.user = { uid: 1000, gid: 100, umask: 0o077, additionalGids: [10, 20] };
    spec.process.consoleSize = { height: 50, width: 132 };
    spec.process.rlimits.push({ type: 'RLIMIT_CORE', hard: 18446744073709551615n, soft: 0 });
    spec.process.rlimits.push({ type: 'RLIMIT_MEMLOCK', hard: 2 ** 64, soft: 65536 }); // RLIM_INFINITY through plain JSON.parse
    spec.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '68719476736' };
    delete spec.hostname;
    const o = ociToOptions(spec, BUNDLE, HOST);
    expect(o).toMatchObject({
      user: { uid: 1000, gid: 100, additionalGids: [10, 20] },
      umask: 0o077,
      terminalSize: { cols: 132, rows: 50 },
      rlimits: { nofile: { soft: 1024, hard: 1024 }, core: { soft: 0, hard: 'unlimited' }, memlock: { soft: 65536, hard: 'unlimited' } },
      sysctl: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '68719476736' },
      hostname: os.hostname(),
    });
  });

  it('makes bind, tmpfs and overlay mounts of the rest, sources relative to the bundle', () => {
    const spec = fixture('runc-spec.json');
    spec.mounts.push(
      { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'rprivate'] },
      { destination: '/data2', type: 'bind', source: 'data2', options: ['rbind', 'rro'] }, // what toOciSpec writes
      { destination: '/etc/hosts/', type: 'none', source: '/etc/hosts', options: ['bind', 'rw'] },
      { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=64m', 'mode=0700'] },
      { destination: '/opt', type: 'overlay', source: 'overlay', options: ['lowerdir=/srv/a:/srv/b', 'upperdir=/srv/u', 'workdir=/srv/w'] },
      { destination: '/usr/share', type: 'overlay', source: 'overlay', options: ['lowerdir=/srv/share'] },
      // Docker's shm of another size is a mount over nsbox's own: here without noexec.
      { destination: '/dev/shm', type: 'bind', source: '/run/shm/c1', options: ['rbind'] },
    );
    const o = ociToOptions(spec, '/b', HOST);
    expect(o.mounts).toEqual([
      { type: 'bind', source: '/b/data', target: '/data', readonly: true, recursive: true },
      { type: 'bind', source: '/b/data2', target: '/data2', readonly: true, recursive: true },
      { type: 'bind', source: '/etc/hosts', target: '/etc/hosts', readonly: false, recursive: false },
      { type: 'tmpfs', target: '/scratch', size: '64m', mode: 0o700 },
      { type: 'overlay', target: '/opt', lower: ['/srv/a', '/srv/b'], upper: '/srv/u', work: '/srv/w' },
      { type: 'overlay', target: '/usr/share', lower: ['/srv/share'], readonly: true },
      { type: 'bind', source: '/run/shm/c1', target: '/dev/shm', readonly: false, recursive: true },
    ]);
    expect(normalizeOptions({ ...o, userNamespace: rootlessMaps }).mounts).toHaveLength(7);
  });

  it('leaves the limits the spec does not give as the caller has them, as runc does', () => {
    const spec = fixture('runc-spec.json');
    spec.process.rlimits = [{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }];
    const o = ociToOptions(spec, BUNDLE, HOST);
    expect(o.rlimits).toEqual({ nofile: 'inherit', core: { soft: 0, hard: 0 } });
    expect(normalizeOptions({ ...o, userNamespace: rootlessMaps }).rlimits).toEqual([{ resource: 'core', soft: 0, hard: 0 }]);
    delete spec.process.rlimits;
    expect(normalizeOptions({ ...ociToOptions(spec, BUNDLE, HOST), userNamespace: rootlessMaps }).rlimits).toEqual([]);
    // and toOciSpec writes only the limits nsbox sets
    expect(optionsToOci({ command: ['x'], rootfs: '/r', rlimits: { nofile: 'inherit', core: 0 }, userNamespace: rootlessMaps }, { cgroupMount: '/sys/fs/cgroup' }).process?.rlimits)
      .toEqual([{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }]);
  });

  it('places linux.cgroupsPath as runc\'s cgroupfs driver does: parent and id', () => {
    const at = (cgroupsPath: string) => {
      const spec = fixture('runc-spec.json');
      spec.linux.cgroupsPath = cgroupsPath;
      const o = ociToOptions(spec, BUNDLE, HOST);
      return { cgroupParent: o.cgroupParent, id: o.id };
    };
    expect(at('/a/b/c')).toEqual({ cgroupParent: '/sys/fs/cgroup/a/b', id: 'c' });
    expect(at('/c')).toEqual({ cgroupParent: '/sys/fs/cgroup', id: 'c' });
    expect(at('/a/../../b')).toEqual({ cgroupParent: '/sys/fs/cgroup', id: 'b' }); // runc's CleanPath: no climbing out
    // Relative: below the parent of this process's group (fs2/defaultpath.go).
    expect(at('x/y')).toEqual({ cgroupParent: '/sys/fs/cgroup/user.slice/user-1000.slice/x', id: 'y' });
    expect(at('y')).toEqual({ cgroupParent: '/sys/fs/cgroup/user.slice/user-1000.slice', id: 'y' });
  });

  it('passes linux.seccomp through as it is', () => {
    const spec = fixture('runc-spec.json');
    const profile = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 18446744073709551615n, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 0 }] }] };
    spec.linux.seccomp = profile;
    expect(ociToOptions(spec, BUNDLE, HOST).seccomp).toEqual(profile);
  });

  it('accepts what asks for nothing: empty hooks, labels and device lists, annotations, disableOOMKiller false', () => {
    const spec = fixture('runc-spec.json');
    spec.hooks = { prestart: [] };
    spec.annotations = { 'org.opencontainers.image.ref.name': 'x' };
    spec.process.apparmorProfile = '';
    spec.process.selinuxLabel = '';
    spec.linux.devices = [];
    spec.linux.rootfsPropagation = 'rprivate';
    spec.linux.resources.memory = { disableOOMKiller: false };
    spec.linux.resources.cpu = { shares: 0, realtimeRuntime: 0 };
    expect(ociToOptions(spec, BUNDLE, HOST)).toEqual(expected);
  });
});

const rootlessMaps = { uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }], gidMap: [{ containerId: 0, hostId: 100000, size: 65536 }] };

describe('every field nsbox cannot honour is ERR_NSBOX_OCI_UNSUPPORTED naming it', () => {
  type Spec = Record<string, any>;
  const cases: [field: string, change: (s: Spec) => void, mentions?: string][] = [
    ['linux.intelRdt', (s) => { s.linux.intelRdt = { closID: 'guaranteed' }; }, 'Intel RDT'],
    ['linux.namespaces[1].path', (s) => { s.linux.namespaces[1].path = '/var/run/netns/blue'; }, 'joining an existing network namespace'],
    ['linux.namespaces', (s) => { s.linux.namespaces = s.linux.namespaces.filter((n: Spec) => n.type !== 'pid'); }, "no 'pid' namespace"],
    ['linux.namespaces', (s) => { s.linux.namespaces = s.linux.namespaces.filter((n: Spec) => n.type !== 'mount'); }, "no 'mount' namespace"],
    ['linux.namespaces', (s) => { delete s.linux.namespaces; }, "no 'pid' namespace"],
    ['linux.namespaces[5]', (s) => { s.linux.namespaces.push({ type: 'time' }); }, 'time namespace'],
    ['hooks.prestart', (s) => { s.hooks = { prestart: [{ path: '/usr/bin/netns-setup' }] }; }, 'hooks'],
    ['hooks.createRuntime', (s) => { s.hooks = { createRuntime: [{ path: '/bin/true' }] }; }],
    ['linux.devices', (s) => { s.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666 }]; }, 'default device nodes'],
    ['process.apparmorProfile', (s) => { s.process.apparmorProfile = 'docker-default'; }, 'AppArmor'],
    ['process.selinuxLabel', (s) => { s.process.selinuxLabel = 'system_u:system_r:container_t:s0'; }, 'SELinux'],
    ['process.oomScoreAdj', (s) => { s.process.oomScoreAdj = 0; }, 'oom_score_adj'],
    ['process.scheduler', (s) => { s.process.scheduler = { policy: 'SCHED_BATCH' }; }],
    ['process.ioPriority', (s) => { s.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE' }; }],
    ['process.user.username', (s) => { s.process.user.username = 'root'; }],
    ['process.capabilities.effective', (s) => { s.process.capabilities.effective = ['CAP_KILL']; }, 'lacks CAP_AUDIT_WRITE, CAP_NET_BIND_SERVICE'],
    ['process.capabilities.permitted', (s) => { s.process.capabilities.permitted.push('CAP_SYS_ADMIN'); }, 'adds CAP_SYS_ADMIN'],
    ['process.capabilities.inheritable', (s) => { s.process.capabilities.inheritable = ['CAP_KILL']; }, 'CVE-2022-24769'],
    ['process.capabilities.bounding[3]', (s) => { s.process.capabilities.bounding.push('CAP_TELEPORT'); }, "'CAP_TELEPORT'"],
    ['process.rlimits[1].type', (s) => { s.process.rlimits.push({ type: 'RLIMIT_FOO', hard: 1, soft: 1 }); }, 'RLIMIT_NOFILE'],
    ['mounts[7].type', (s) => { s.mounts.push({ destination: '/mnt', type: 'nfs', source: 'srv:/export' }); }, "'nfs' mounts"],
    ['mounts[7].type', (s) => { s.mounts.push({ destination: '/mnt/proc', type: 'proc', source: 'proc' }); }, "'proc' mounts"],
    ['mounts[7].options', (s) => { s.mounts.push({ destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'nosuid'] }); }, "'nosuid'"],
    ['mounts[7].options', (s) => { s.mounts.push({ destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'rshared'] }); }, "'rshared'"],
    ['mounts[7].options', (s) => { s.mounts.push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['noexec'] }); }, "'noexec'"],
    ['mounts[7].options', (s) => { s.mounts.push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['size=50%'] }); }, "'size=50%'"],
    ['mounts[7].uidMappings', (s) => { s.mounts.push({ destination: '/d', type: 'bind', source: '/srv', options: ['rbind'], uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }); }],
    ['mounts[5].options', (s) => { s.mounts[5].options = ['nosuid', 'noexec', 'nodev', 'rw']; }, 'nsbox makes /sys itself'],
    ['mounts[3].options', (s) => { s.mounts[3].options = ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=1g']; }, "'size=1g'"],
    ['linux.resources.devices[1]', (s) => { s.linux.resources.devices.push({ allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }); }, 'device cgroup'],
    ['linux.resources.devices[0]', (s) => { s.linux.resources.devices = [{ allow: false, type: 'b', access: 'rwm' }]; }],
    ['linux.resources.network', (s) => { s.linux.resources.network = { classID: 1048577 }; }, 'cgroup v1'],
    ['linux.resources.rdma', (s) => { s.linux.resources.rdma = { mlx5_1: { hcaHandles: 3 } }; }],
    ['linux.resources.memory.kernel', (s) => { s.linux.resources.memory = { kernel: -1 }; }],
    ['linux.resources.memory.swappiness', (s) => { s.linux.resources.memory = { swappiness: 60 }; }],
    // 0 is a request too (avoid swapping), not an unset field.
    ['linux.resources.memory.swappiness', (s) => { s.linux.resources.memory = { swappiness: 0 }; }],
    ['process.capabilities.bounding', (s) => { for (const k of ['bounding', 'effective', 'permitted']) s.process.capabilities[k].push('CAP_MKNOD'); }, 'no device cgroup'],
    ['mounts[3].options', (s) => { s.mounts[3].options = ['nosuid', 'nodev', 'mode=1777', 'size=65536k']; }, "lacks 'noexec'"],
    ['mounts[5].options', (s) => { s.mounts[5].options = ['nosuid', 'noexec', 'nodev']; }, "lacks 'ro'"],
    // runc would mount /dev over it; nsbox makes /dev first and would show it.
    ['mounts[0]', (s) => { s.mounts.unshift({ destination: '/dev/fuse', type: 'bind', source: '/dev/fuse', options: ['bind'] }); }, "comes before mounts[2] ('/dev')"],
    ['linux.resources.memory.disableOOMKiller', (s) => { s.linux.resources.memory = { disableOOMKiller: true }; }],
    ['linux.resources.memory.useHierarchy', (s) => { s.linux.resources.memory = { useHierarchy: false }; }],
    ['linux.resources.cpu.realtimeRuntime', (s) => { s.linux.resources.cpu = { realtimeRuntime: 950000 }; }],
    ['linux.resources.blockIO.leafWeight', (s) => { s.linux.resources.blockIO = { leafWeight: 300 }; }],
    ['linux.seccomp.listenerPath', (s) => { s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/seccomp.sock' }; }, 'notify'],
    ['linux.rootfsPropagation', (s) => { s.linux.rootfsPropagation = 'rshared'; }],
    ['linux.mountLabel', (s) => { s.linux.mountLabel = 'system_u:object_r:container_file_t:s0'; }],
    ['linux.personality', (s) => { s.linux.personality = { domain: 'LINUX32' }; }],
    ['linux.timeOffsets', (s) => { s.linux.timeOffsets = { monotonic: { secs: 10 } }; }],
    ['linux.cgroupsPath', (s) => { s.linux.cgroupsPath = 'system.slice:docker:abc'; }, 'systemd'],
    ['linux.cgroupsPath', (s) => { s.linux.cgroupsPath = '/a/b/has space'; }, "'has space'"],
    ['ociVersion', (s) => { s.ociVersion = '2.0.0'; }, '1.0.x to 1.2.x'],
    ['domainname', (s) => { s.domainname = 'example.org'; }],
    ['windows', (s) => { s.windows = { layerFolders: ['C:\\layers'] }; }],
    ['vm', (s) => { s.vm = { kernel: { path: '/boot/vmlinuz' } }; }],
    ['linux.netDevices', (s) => { s.linux.netDevices = { eth1: {} , eth2: { name: 'x' } }; }],
    ['somethingNew', (s) => { s.somethingNew = { enabled: true }; }, 'not a field nsbox knows'],
  ];
  it.each(cases)('%s', (field, change, mentions) => {
    const spec = fixture('runc-spec.json');
    change(spec);
    const e = caught(() => ociToOptions(spec, BUNDLE, HOST)) as OciUnsupportedError;
    expect(e).toBeInstanceOf(OciUnsupportedError);
    expect(e.code).toBe('ERR_NSBOX_OCI_UNSUPPORTED');
    expect(e.field).toBe(field);
    expect(e.message).toContain(`${field}: `);
    if (mentions) expect(e.message).toContain(mentions);
  });
});

describe('a malformed config.json is ERR_INVALID_ARG_* naming the field', () => {
  type Spec = Record<string, any>;
  const cases: [string, (s: Spec) => void, string, string][] = [
    ['not an object', () => {}, 'ERR_INVALID_ARG_TYPE', '"spec"'],
    ['no process', (s) => { delete s.process; }, 'ERR_INVALID_ARG_VALUE', "'spec.process' must be given"],
    ['no root', (s) => { delete s.root; }, 'ERR_INVALID_ARG_VALUE', "'spec.root' must be given"],
    ['empty args', (s) => { s.process.args = []; }, 'ERR_INVALID_ARG_VALUE', "'spec.process.args' must name a program"],
    ['a relative cwd', (s) => { s.process.cwd = 'work'; }, 'ERR_INVALID_ARG_VALUE', "'spec.process.cwd' must be an absolute path"],
    ['an env entry without =', (s) => { s.process.env.push('JUSTANAME'); }, 'ERR_INVALID_ARG_VALUE', "'spec.process.env[2]'"],
    ['a uid as a string', (s) => { s.process.user.uid = '0'; }, 'ERR_INVALID_ARG_TYPE', '"spec.process.user.uid"'],
    ['a user namespace without mappings', (s) => { s.linux.namespaces.push({ type: 'user' }); }, 'ERR_INVALID_ARG_VALUE', "'spec.linux.uidMappings'"],
    ['mappings without a user namespace', (s) => { s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; }, 'ERR_INVALID_ARG_VALUE', "needs a 'user' namespace"],
    ['a namespace twice', (s) => { s.linux.namespaces.push({ type: 'pid' }); }, 'ERR_INVALID_ARG_VALUE', 'is given twice'],
    ['an unknown namespace', (s) => { s.linux.namespaces.push({ type: 'nope' }); }, 'ERR_INVALID_ARG_VALUE', "'spec.linux.namespaces[5].type'"],
    ['an rlimit twice', (s) => { s.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }); }, 'ERR_INVALID_ARG_VALUE', 'is given twice'],
    ['swap below the limit', (s) => { s.linux.resources.memory = { limit: 1 << 30, swap: 1 << 29 }; }, 'ERR_INVALID_ARG_VALUE', "'spec.linux.resources.memory.swap' must be >= the memory limit"],
    ['swap without a limit', (s) => { s.linux.resources.memory = { swap: 1 << 30 }; }, 'ERR_INVALID_ARG_VALUE', 'needs a memory limit'],
    ['shares of 1', (s) => { s.linux.resources.cpu = { shares: 1 }; }, 'ERR_OUT_OF_RANGE', '"spec.linux.resources.cpu.shares"'],
    ['a device rule allow as a string', (s) => { s.linux.resources.devices = [{ allow: 'true', access: 'rwm' }]; }, 'ERR_INVALID_ARG_TYPE', '"spec.linux.resources.devices[0].allow"'],
    ['a blkio weight below 10', (s) => { s.linux.resources.blockIO = { weight: 5 }; }, 'ERR_OUT_OF_RANGE', '"spec.linux.resources.blockIO.weight"'],
    ['a throttle rate of 0', (s) => { s.linux.resources.blockIO = { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 0 }] }; }, 'ERR_OUT_OF_RANGE', 'throttleReadBpsDevice[0].rate'],
    ['an overlay without lowerdir', (s) => { s.mounts.push({ destination: '/o', type: 'overlay', source: 'overlay', options: ['upperdir=/u', 'workdir=/w'] }); }, 'ERR_INVALID_ARG_VALUE', 'lowerdir'],
  ];
  it.each(cases)('%s', (_, change, code, mentions) => {
    const spec = _ === 'not an object' ? 'config.json' : fixture('runc-spec.json');
    if (typeof spec === 'object') change(spec);
    const e = caught(() => ociToOptions(spec, BUNDLE, HOST));
    expect(e.code).toBe(code);
    expect(e.message).toContain(mentions);
  });
});

describe('resources: runc\'s cgroup v1 numbers as cgroup v2 files', () => {
  const resources = (r: Record<string, unknown>): CgroupResources | undefined => {
    const spec = fixture('runc-spec.json');
    spec.linux.resources = { ...spec.linux.resources, ...r };
    return ociToOptions(spec, BUNDLE, HOST).resources;
  };

  it('cpu.shares → cpu.weight as runc converts it: 1 + ((shares - 2) * 9999) / 262142', () => {
    expect([2, 1024, 2048, 262144].map(sharesToWeight)).toEqual([1, 39, 79, 10000]);
    expect(resources({ cpu: { shares: 1024 } })).toEqual({ cpu: { weight: 39 } });
    expect(resources({ cpu: { shares: 0 } })).toBeUndefined(); // runc: 0 is unset
  });

  it('cpu.weight → cpu.shares: the smallest shares runc converts back to exactly that weight', () => {
    for (let w = 1; w <= 10000; w++) {
      const s = weightToShares(w);
      expect(sharesToWeight(s)).toBe(w);
      if (s > 2) expect(sharesToWeight(s - 1)).toBe(w - 1);
    }
  });

  it('cpu.quota and cpu.period → cpu.max, as runc writes it (no quota is max, the period defaults to 100 ms)', () => {
    expect(resources({ cpu: { quota: 50_000, period: 100_000 } })).toEqual({ cpu: { max: { quota: 50_000, period: 100_000 } } });
    expect(resources({ cpu: { quota: 25_000 } })).toEqual({ cpu: { max: { quota: 25_000, period: 100_000 } } });
    expect(resources({ cpu: { quota: -1 } })).toEqual({ cpu: { max: { quota: 'max', period: 100_000 } } });
    expect(resources({ cpu: { period: 250_000 } })).toEqual({ cpu: { max: { quota: 'max', period: 250_000 } } });
    expect(resources({ cpu: { cpus: '0-3', mems: '0', idle: 1, burst: 1000 } })).toEqual({ cpu: { idle: true, burst: 1000 }, cpuset: { cpus: '0-3', mems: '0' } });
  });

  it('memory: a limit of -1 is max (with swap max, as runc reads it), reservation is memory.low, swap is memory plus swap', () => {
    expect(resources({ memory: { limit: -1 } })).toEqual({ memory: { max: 'max', swapMax: 'max' } });
    expect(resources({ memory: { limit: 1 << 30 } })).toEqual({ memory: { max: 1 << 30 } });
    expect(resources({ memory: { limit: 1 << 30, swap: 2 ** 31 } })).toEqual({ memory: { max: 1 << 30, swapMax: 1 << 30 } });
    expect(resources({ memory: { limit: 1 << 30, swap: 1 << 30 } })).toEqual({ memory: { max: 1 << 30, swapMax: 0 } });
    expect(resources({ memory: { limit: 1 << 30, swap: -1 } })).toEqual({ memory: { max: 1 << 30, swapMax: 'max' } });
    expect(resources({ memory: { reservation: 256 << 20 } })).toEqual({ memory: { low: 256 << 20 } });
    expect(resources({ memory: { limit: 0 } })).toBeUndefined();
    // cgroup v1's "unlimited" (PAGE_COUNTER_MAX pages), beyond 2^53: exactly through parseOciSpec, or rounded by JSON.parse.
    const spec = parseOciSpec('{"limit": 9223372036854771712}') as { limit: bigint };
    expect(resources({ memory: { limit: spec.limit } })).toEqual({ memory: { max: 'max', swapMax: 'max' } });
    expect(resources({ memory: { limit: 9223372036854771712, swap: 9223372036854771712 } })).toEqual({ memory: { max: 'max', swapMax: 'max' } });
  });

  it('pids.limit: -1 is max, 0 unset', () => {
    expect(resources({ pids: { limit: 100 } })).toEqual({ pids: { max: 100 } });
    expect(resources({ pids: { limit: -1 } })).toEqual({ pids: { max: 'max' } });
    expect(resources({ pids: { limit: 0 } })).toBeUndefined();
  });

  it('blockIO: weights as runc converts them without BFQ, throttles merged per device into io.max', () => {
    expect([10, 500, 1000].map(blkioWeightToIoWeight)).toEqual([1, 4950, 10000]);
    expect(resources({
      blockIO: {
        weight: 500,
        weightDevice: [{ major: 8, minor: 0, weight: 1000 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1_048_576 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }, { major: 8, minor: 16, rate: 50 }],
      },
    })).toEqual({
      io: {
        weight: 4950,
        deviceWeights: [{ device: '8:0', weight: 10000 }],
        max: [{ device: '8:0', rbps: 1_048_576, wiops: 100 }, { device: '8:16', wiops: 50 }],
      },
    });
  });

  it('hugepageLimits → hugetlb, unified → raw files', () => {
    expect(resources({ hugepageLimits: [{ pageSize: '2MB', limit: 64 << 20 }], unified: { 'memory.zswap.max': '0', 'io.weight': 'default 300' } })).toEqual({
      hugetlb: { '2MB': 64 << 20 },
      raw: { 'memory.zswap.max': '0', 'io.weight': 'default 300' },
    });
  });

  it('back to a config.json: typed where the spec has the field, the rest as unified files', () => {
    // A config whose resources were checked against another host (8 CPUs, a disk 8:0).
    const config = { ...normalizeOptions({ command: ['sh'], rootfs: '/srv/root', userNamespace: rootlessMaps }), resources: {
      memory: { max: '1G', swapMax: '512M', high: '900M', min: 0, oomGroup: true },
      cpu: { weight: 39, max: { quota: 'max' }, idle: false, burst: 500 },
      cpuset: { cpus: [0, 1, 2, 3, 6] },
      pids: { max: 'max' },
      io: { weight: 200, max: [{ device: '8:0', rbps: 1_048_576, wbps: 'max', riops: 200 }] },
      hugetlb: { '2MB': '64M', '1GB': 'max' },
      raw: { 'memory.zswap.max': 0 },
    } satisfies CgroupResources };
    const spec = optionsToOci(config, { cgroupMount: '/sys/fs/cgroup' });
    expect(spec.linux!.resources).toEqual({
      memory: { limit: 1 << 30, swap: (1 << 30) + (512 << 20) },
      cpu: { shares: weightToShares(39), quota: -1, period: 100_000, cpus: '0-3,6' },
      pids: { limit: -1 },
      blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1_048_576 }], throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 200 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 64 << 20 }],
      unified: {
        'memory.high': `${900 << 20}`, 'memory.min': '0', 'memory.oom.group': '1', 'cpu.idle': '0', 'cpu.max.burst': '500',
        'io.weight': 'default 200', 'hugetlb.1GB.max': 'max', 'memory.zswap.max': '0',
      },
    });
  });
});

describe('options → config.json → options', () => {
  const fakeHost: HostFacts = { cpus: [0, 1, 2, 3], nodes: [0], hugepageSizes: ['2MB'], blockDevice: (s) => (/^\d+:\d+$/.test(s) ? s : undefined) };
  const writes = (r: CgroupResources | undefined) => (r === undefined ? [] : resourceWrites(r, fakeHost).map((w) => `${w.file}=${w.value}`).sort());

  const options: ContainerOptions = {
    id: 'web-1',
    command: ['/usr/bin/env', 'A=1'],
    rootfs: { path: '/srv/images/alpine', readonly: true },
    env: { PATH: '/bin:/usr/bin', LANG: 'C.UTF-8', HOME: '/home/app' },
    cwd: '/work',
    hostname: 'web',
    user: { uid: 1000, gid: 1000 },
    umask: 0o027,
    resources: {
      memory: { max: '512M', high: '400M', swapMax: '1G' },
      cpu: { weight: 250, max: { quota: 50_000, period: 100_000 } },
      cpuset: { cpus: '0' },
      pids: { max: 64 },
      raw: { 'memory.zswap.max': '0' },
    },
    mounts: [
      { type: 'bind', source: '/srv/data', target: '/data', readonly: true },
      { type: 'bind', source: '/srv/cache', target: '/cache', recursive: false },
      { type: 'tmpfs', target: '/scratch', size: '64m', mode: 0o700 },
      { type: 'overlay', target: '/opt', lower: ['/srv/a', '/srv/b'], upper: '/srv/u', work: '/srv/w' },
    ],
    network: 'none',
    userNamespace: rootlessMaps,
    capabilities: { add: ['CAP_NET_ADMIN'], drop: ['CAP_MKNOD'] },
    noNewPrivileges: true,
    seccomp: 'default',
    rlimits: { nofile: { soft: 4096, hard: 8192 }, core: 0, stack: { soft: 8 << 20, hard: 'unlimited' } },
    sysctl: { 'net.ipv4.ip_forward': '1' },
    stdio: 'pty',
    terminalSize: { cols: 120, rows: 40 },
    cgroupParent: '/sys/fs/cgroup/apps',
  };

  it('keeps what makes the container', () => {
    const before = normalizeOptions(options);
    const spec = optionsToOci(before, { cgroupMount: '/sys/fs/cgroup' });
    const text = formatOciSpec(spec);
    expect(text).toContain('"hard": 18446744073709551615'); // RLIM_INFINITY, exactly
    const after = normalizeOptions(ociToOptions(parseOciSpec(text), '/bundle', { cgroupMount: '/sys/fs/cgroup' }));

    for (const key of ['id', 'command', 'cwd', 'hostname', 'uid', 'gid', 'additionalGids', 'umask', 'rootfs', 'mounts', 'network', 'userns',
      'noNewPrivileges', 'maskedPaths', 'readonlyPaths', 'sysctl', 'stdio', 'terminalSize', 'cgroupParent'] as const) {
      expect(after[key], key).toEqual(before[key]);
    }
    expect(after.env.sort()).toEqual(before.env.sort());
    expect([...after.capabilities].sort()).toEqual([...before.capabilities].sort());
    const byName = (l: typeof before.rlimits) => [...l].sort((a, b) => a.resource.localeCompare(b.resource));
    expect(byName(after.rlimits)).toEqual(byName(before.rlimits));
    // 'default' is written as the profile nsbox loads: Docker's for these capabilities, for
    // the native architecture only (x86 and x32 system calls are refused, as nsbox refuses them).
    const docker = dockerDefaultProfile({ capabilities: before.capabilities });
    expect(after.seccomp).toEqual({ ...docker, architectures: docker.architectures!.slice(0, 1) });
    expect((after.seccomp as { architectures: string[] }).architectures).toEqual([process.arch === 'arm64' ? 'SCMP_ARCH_AARCH64' : 'SCMP_ARCH_X86_64']);
    expect(writes(after.resources)).toEqual(writes(before.resources));
  });

  it('writes what runc spec writes for what nsbox always does', () => {
    const spec = optionsToOci(options, { cgroupMount: '/sys/fs/cgroup' });
    const runc = fixture('runc-spec-rootless.json') as OciSpec;
    expect(spec.mounts!.slice(0, 7).map((m) => [m.destination, m.type])).toEqual(runc.mounts!.map((m) => [m.destination, m.type === 'none' ? 'sysfs' : m.type]));
    expect(spec.linux!.namespaces).toEqual([{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }, { type: 'user' }]);
    expect(spec.process!.capabilities!.inheritable).toEqual([]);
    expect(spec.process!.capabilities!.ambient).toEqual([]);
    expect(spec.linux!.cgroupsPath).toBe('/apps/web-1');
    expect(spec.root).toEqual({ path: '/srv/images/alpine', readonly: true });
    expect(spec.process!.user).toEqual({ uid: 1000, gid: 1000, umask: 0o027 });
    expect(spec.process!.consoleSize).toEqual({ height: 40, width: 120 });
  });

  it('reads runc spec --rootless back from what it writes for it', () => {
    const runc = fixture('runc-spec-rootless.json');
    const o = ociToOptions(runc, BUNDLE, HOST);
    const spec = optionsToOci(o, { rootfs: 'rootfs', cgroupMount: '/sys/fs/cgroup' });
    // The same mounts as runc --rootless wrote them, but /proc with the flags nsbox gives it.
    expect(spec.mounts!.filter((m) => m.destination !== '/proc')).toEqual(runc.mounts.filter((m: { destination: string }) => m.destination !== '/proc'));
    expect(spec.linux!.uidMappings).toEqual(runc.linux.uidMappings);
    expect(spec.linux!.gidMappings).toEqual(runc.linux.gidMappings);
    expect(spec.process!.capabilities!.bounding!.sort()).toEqual(runc.process.capabilities.bounding);
    expect(spec.process!.rlimits).toEqual(runc.process.rlimits);
    expect(spec.root).toEqual(runc.root);
    expect(spec.linux!.maskedPaths).toEqual(runc.linux.maskedPaths);
    expect(spec.linux!.seccomp).toBeUndefined();
    // Written out: nsbox's umask and pty size, and as root the group it makes (<mount>/nsbox/<id>).
    expect(ociToOptions(parseOciSpec(formatOciSpec(spec)), BUNDLE, HOST)).toEqual({
      ...o, umask: 0o022, terminalSize: { cols: 80, rows: 24 }, ...(isRoot && { cgroupParent: '/sys/fs/cgroup/nsbox', id: expect.any(String) }),
    });
  });

  it('refuses what a config.json cannot say, naming the option', () => {
    const base = { command: ['sh'], userNamespace: rootlessMaps };
    const cases: [ContainerOptions | ContainerConfig, string][] = [
      [base, 'options.rootfs'],
      [{ ...base, rootfs: { path: '/srv/root', overlay: true } }, 'options.rootfs.overlay'],
      [{ ...base, rootfs: '/srv/root', mounts: [{ type: 'tmpfs', target: '/t' }, { type: 'overlay', target: '/o', lower: ['/srv/l'] }] }, 'options.mounts[1]'],
      // Checked against another host, which has 8:0.
      [{ ...normalizeOptions({ ...base, rootfs: '/srv/root' }), resources: { io: { weight: 100, deviceWeights: [{ device: '8:0', weight: 200 }] } } }, 'options.resources.io.deviceWeights'],
    ];
    for (const [o, field] of cases) {
      const e = caught(() => optionsToOci(o, { cgroupMount: '/sys/fs/cgroup' })) as OciUnsupportedError;
      expect(e.code, field).toBe('ERR_NSBOX_OCI_UNSUPPORTED');
      expect(e.field).toBe(field);
    }
    // The embedded default root, given a directory to name instead.
    expect(optionsToOci(base, { rootfs: 'rootfs', cgroupMount: '/sys/fs/cgroup' }).root).toEqual({ path: 'rootfs', readonly: false });
  });
});

describe('readBundle', () => {
  it('reads <dir>/config.json, root.path relative to the bundle', async () => {
    const dir = tmp('bundle');
    fs.copyFileSync(path.join(FIXTURES, 'runc-spec.json'), path.join(dir, 'config.json'));
    const { spec, options } = await readBundle(dir, HOST);
    expect(spec.hostname).toBe('runc');
    expect(options.rootfs).toEqual({ path: path.join(dir, 'rootfs'), readonly: true });
  });

  it('names the file in every error', async () => {
    const dir = tmp('bad');
    const file = path.join(dir, 'config.json');
    const missing = await readBundle(dir).catch((e) => e);
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'open', path: file });
    expect(missing.message).toContain(file);

    fs.writeFileSync(file, '{ "ociVersion": "1.0.2", ');
    const syntax = await readBundle(dir).catch((e) => e);
    expect(syntax).toBeInstanceOf(SyntaxError);
    expect(syntax.message).toContain(file);
    expect(syntax.cause).toBeInstanceOf(SyntaxError);

    const spec = fixture('runc-spec.json');
    spec.linux.intelRdt = { closID: 'x' };
    fs.writeFileSync(file, formatOciSpec(spec));
    const unsupported = await readBundle(dir, HOST).catch((e) => e);
    expect(unsupported).toMatchObject({ code: 'ERR_NSBOX_OCI_UNSUPPORTED', field: 'linux.intelRdt', path: file });
    expect(unsupported.message).toContain(`${file}: linux.intelRdt: `);

    spec.linux.intelRdt = undefined;
    spec.process.cwd = 'relative';
    fs.writeFileSync(file, formatOciSpec(spec));
    const invalid = await readBundle(dir, HOST).catch((e) => e);
    expect(invalid.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(invalid.message).toContain(`'${file}: process.cwd'`);
  });

  it('Container.fromBundle names the config.json field of a value nsbox refuses when it makes the container, not the option it became', async () => {
    const dir = tmp('refused');
    const file = path.join(dir, 'config.json');
    // As this process may run it (uid 65534: with a user namespace), so that the value is what fails.
    const spec = fixture(process.geteuid?.() === 0 ? 'runc-spec.json' : 'runc-spec-rootless.json');
    const refused = async (change: (s: Record<string, any>) => void, overrides = {}) => {
      const s = structuredClone(spec);
      change(s);
      fs.writeFileSync(file, formatOciSpec(s));
      return Container.fromBundle(dir, overrides).then(() => expect.fail('created'), (e) => e);
    };
    const sysctl = await refused((s) => { s.linux.sysctl = { 'kernel.domainname': 'x' }; });
    expect(sysctl.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(sysctl.message).toContain(`'${file}: linux.sysctl' (as options.sysctl)`);
    const overlay = await refused((s) => { s.mounts.push({ destination: '/o', type: 'overlay', source: 'overlay', options: ['lowerdir=/srv/a', 'upperdir=/srv/u'] }); });
    expect(overlay.message).toContain(`'${file}: mounts[${spec.mounts.length}]' (as options.mounts[0].`);
    // An override's own value keeps its option name.
    const own = await refused(() => {}, { sysctl: { 'kernel.domainname': 'x' } });
    expect(own.message).toContain("'options.sysctl'");
    expect(own.message).not.toContain(file);
  });
});

describe('config.json numbers', () => {
  it('reads integers beyond 2^53 as bigints and writes them back exactly; strings and fractions stay', () => {
    const text = '{"a": 18446744073709551615, "b": -9223372036854775808, "c": 1.5e300, "d": "18446744073709551615", "e": "a \\"1234567890123456789\\" b", "f": 42}';
    const parsed = parseOciSpec(text) as Record<string, unknown>;
    expect(parsed).toEqual({ a: 18446744073709551615n, b: -9223372036854775808n, c: 1.5e300, d: '18446744073709551615', e: 'a "1234567890123456789" b', f: 42 });
    expect(parseOciSpec(formatOciSpec(parsed))).toEqual(parsed);
    expect(formatOciSpec({ x: 2n ** 64n - 1n })).toBe('{\n\t"x": 18446744073709551615\n}\n');
  });

  it('writes what runc spec writes, tab for tab', () => {
    const text = fs.readFileSync(path.join(FIXTURES, 'runc-spec.json'), 'utf8');
    expect(formatOciSpec(parseOciSpec(text))).toBe(`${text.trimEnd()}\n`);
  });
});

it('names DEFAULT lists it does not use so that a change to them is seen here', () => {
  // runc spec's masked paths are a subset of nsbox's defaults; a spec without them gets none.
  expect(RUNC_MASKED.every((p) => DEFAULT_MASKED_PATHS.includes(p))).toBe(true);
  expect(RUNC_READONLY).toEqual([...DEFAULT_READONLY_PATHS]);
});
