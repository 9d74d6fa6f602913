// The container's filesystem as plan steps: the root (a directory, an overlay over one, or
// the embedded default made from the host's /usr), /proc, /dev, /sys, the cgroup2 mount,
// user mounts, pivot_root, then masked and read-only paths. Runs in the child, in its own
// mount namespace, so one empty staging directory on the host serves every container.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StateError } from '../errors';
import type { Step } from '../plan';
import { DEFAULT_DEVICES, DEV_LINKS } from './defaults';
import type { ContainerConfig } from './options';

/** What the host has, read once per process: its root's layout and /proc's entries. */
interface HostLayout {
  /** /bin, /sbin, /lib, /lib64…: a symlink's target (usrmerge) or 'dir' (bound read-only). */
  rootEntries: [name: string, kind: { link: string } | 'dir'][];
  resolvConf: string;
  /** Debian's /etc/alternatives: links in /usr (awk, editor, …) point through it. */
  alternatives: boolean;
}

let layout: HostLayout | undefined;
function hostLayout(): HostLayout {
  if (layout) return layout;
  const rootEntries: HostLayout['rootEntries'] = [];
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    try {
      const st = fs.lstatSync(`/${name}`);
      if (st.isSymbolicLink()) rootEntries.push([name, { link: fs.readlinkSync(`/${name}`) }]);
      else if (st.isDirectory()) rootEntries.push([name, 'dir']);
    } catch {
      // not on this host
    }
  }
  let resolvConf = '';
  try {
    resolvConf = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // none
  }
  return (layout = { rootEntries, resolvConf, alternatives: fs.existsSync('/etc/alternatives') });
}

let staging: string | undefined;
/** The host directory each container's root is assembled on (in the container's own mount namespace). */
export function stagingDir(): string {
  if (staging) return staging;
  const uid = process.geteuid?.() ?? 0;
  const base = uid === 0 ? '/run/nsbox' : path.join(process.env.XDG_RUNTIME_DIR || os.tmpdir(), `nsbox-${uid}`);
  const dir = path.join(base, 'root');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(base, 'layers'), { recursive: true, mode: 0o700 });
  // Every container's setup walks these paths: under a shared /tmp another user could have
  // made them first, and swap what they lead to. Only ours, and writable by us alone.
  for (const d of [base, dir, path.join(base, 'layers')]) {
    const st = fs.lstatSync(d);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
      throw new StateError('ERR_NSBOX_STAGING_DIR', `${d} must be a directory of uid ${uid}'s that no one else may write (it is ${st.isSymbolicLink() ? 'a symlink' : `uid ${st.uid}'s, mode ${(st.mode & 0o7777).toString(8)}`}): remove it, or set XDG_RUNTIME_DIR`);
    }
  }
  // Root's may be searched by anyone (it holds nothing: each container's root is mounted on it
  // in the container's own mount namespace), so that the root of a user namespace mapping other
  // ids (0 → 100000…) reaches it.
  if (uid === 0) for (const d of [base, dir]) fs.chmodSync(d, 0o711);
  return (staging = dir);
}

function etcFiles(c: ContainerConfig): [string, string][] {
  const users = c.uid === 0 ? '' : `user:x:${c.uid}:${c.gid}::/:/bin/sh\n`;
  const groups = c.gid === 0 ? '' : `user:x:${c.gid}:\n`;
  return [
    ['hostname', `${c.hostname}\n`],
    ['hosts', `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${c.hostname}\n`],
    ['passwd', `root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n${users}`],
    ['group', `root:x:0:\nnogroup:x:65534:\n${groups}`],
    ['resolv.conf', c.network === 'host' ? hostLayout().resolvConf : ''],
  ];
}

const NOSUID_NODEV_NOEXEC = { nosuid: true, nodev: true, noexec: true };
const STANDARD_DEVICE_PATHS = new Set(DEFAULT_DEVICES.map((d) => `/dev/${d.name}`));

/**
 * The steps that build the container's filesystem and pivot into it, then hide and protect
 * what must be. `cgroupns`: the child is in a new cgroup namespace (cgroup2 is mounted).
 */
export function filesystemSteps(c: ContainerConfig, opts: { cgroupns: boolean }): Step[] {
  const S = stagingDir();
  const userns = c.userns !== null;
  const steps: Step[] = [
    // Nothing mounted here may propagate back to the host.
    { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
    // Modes below are exact: mknod and mkdir must not be narrowed by Node's umask.
    { op: 'umask', mask: 0 },
  ];
  let root = S;
  if (c.rootfs.path === null) {
    const host = hostLayout();
    steps.push(
      { op: 'mount', source: 'tmpfs', target: S, type: 'tmpfs', flags: { nosuid: true, nodev: true }, data: 'mode=755,size=16m' },
      { op: 'mkdir', path: `${S}/usr` },
      { op: 'bind', source: '/usr', target: `${S}/usr`, recursive: true, readonly: true, nodev: true },
    );
    for (const [name, kind] of host.rootEntries) {
      if (kind === 'dir') {
        steps.push({ op: 'mkdir', path: `${S}/${name}` }, { op: 'bind', source: `/${name}`, target: `${S}/${name}`, recursive: true, readonly: true, nodev: true });
      } else {
        steps.push({ op: 'symlink', target: kind.link, path: `${S}/${name}` });
      }
    }
    steps.push({ op: 'mkdir', path: `${S}/etc` }, { op: 'mkdir', path: `${S}/root`, mode: 0o700 }, { op: 'mkdir', path: `${S}/tmp`, mode: 0o1777 });
    for (const [name, data] of etcFiles(c)) steps.push({ op: 'writeFile', path: `${S}/etc/${name}`, data, mode: 0o644 });
    if (host.alternatives) {
      steps.push({ op: 'mkdir', path: `${S}/etc/alternatives` }, { op: 'bind', source: '/etc/alternatives', target: `${S}/etc/alternatives`, readonly: true, nodev: true });
    }
    if (c.rootfs.readonly) steps.push({ op: 'mount', source: 'tmpfs', target: `${S}/tmp`, type: 'tmpfs', flags: { nosuid: true, nodev: true }, data: 'mode=1777' });
  } else if (c.rootfs.overlay) {
    const ov = c.rootfs.overlay;
    let upper: string, work: string;
    if (ov === true) {
      steps.push({ op: 'mount', source: 'tmpfs', target: S, type: 'tmpfs', flags: { nosuid: true, nodev: true }, data: 'mode=755' });
      upper = `${S}/upper`;
      work = `${S}/work`;
      root = `${S}/root`;
      steps.push({ op: 'mkdir', path: upper }, { op: 'mkdir', path: work }, { op: 'mkdir', path: root });
    } else {
      ({ upper, work } = ov);
    }
    // nodev, as the bind below: nsbox has no device cgroup, so a device node shipped in the
    // image (/dev/sda, /kvm) must not open; /dev is a tmpfs of its own with the usual nodes.
    steps.push({ op: 'mount', source: 'overlay', target: root, type: 'overlay', flags: { nodev: true }, data: `lowerdir=${c.rootfs.path},upperdir=${upper},workdir=${work}${userns ? ',userxattr' : ''}` });
  } else {
    steps.push({ op: 'bind', source: c.rootfs.path, target: S, recursive: true, nodev: true });
  }

  const R = root;
  steps.push(
    // From here every path below R resolves inside it, as it will after the pivot: an image's
    // symlinks (`proc -> /elsewhere`, a mount target linking to a host path) stay in it.
    { op: 'confine', root: R },
    // Ordinary directories, as runc wants /proc (CVE-2019-19921): through a link, proc would
    // be mounted where the link leads now, and what covers the link's way later (the /dev
    // tmpfs over an image's /dev/x in `proc -> /dev/x/p`) would leave /proc, and its masks,
    // pointing at nothing.
    { op: 'mkdir', path: `${R}/proc`, recursive: true, plain: true },
    { op: 'mount', source: 'proc', target: `${R}/proc`, type: 'proc', flags: NOSUID_NODEV_NOEXEC },
    { op: 'mkdir', path: `${R}/dev`, recursive: true, plain: true },
    { op: 'mount', source: 'tmpfs', target: `${R}/dev`, type: 'tmpfs', flags: { nosuid: true, strictatime: true }, data: 'mode=755,size=65536k' },
  );
  for (const d of DEFAULT_DEVICES) {
    // A user namespace may not make device nodes: bind the host's, as rootless runc does.
    if (userns) steps.push({ op: 'bind', source: `/dev/${d.name}`, target: `${R}/dev/${d.name}`, createTarget: true });
    else steps.push({ op: 'mknod', path: `${R}/dev/${d.name}`, type: 'char', mode: 0o666, major: d.major, minor: d.minor });
  }
  steps.push(
    { op: 'mkdir', path: `${R}/dev/pts` },
    { op: 'mount', source: 'devpts', target: `${R}/dev/pts`, type: 'devpts', flags: { nosuid: true, noexec: true }, data: `newinstance,ptmxmode=0666,mode=0620${userns ? '' : ',gid=5'}` },
    { op: 'mkdir', path: `${R}/dev/shm`, mode: 0o1777 },
    { op: 'mount', source: 'shm', target: `${R}/dev/shm`, type: 'tmpfs', flags: NOSUID_NODEV_NOEXEC, data: 'mode=1777,size=65536k' },
    { op: 'mkdir', path: `${R}/dev/mqueue` },
    { op: 'mount', source: 'mqueue', target: `${R}/dev/mqueue`, type: 'mqueue', flags: NOSUID_NODEV_NOEXEC },
  );
  for (const [target, link] of DEV_LINKS) steps.push({ op: 'symlink', target, path: `${R}/dev/${link}` });
  steps.push({ op: 'mkdir', path: `${R}/sys`, recursive: true, plain: true });
  if (userns && c.network === 'host') {
    // sysfs belongs to the network namespace's owner: bind the host's, read-only.
    steps.push({ op: 'bind', source: '/sys', target: `${R}/sys`, recursive: true, readonly: true, nosuid: true, nodev: true, noexec: true });
  } else if (c.network === 'none' && !c.capabilities.includes('CAP_NET_ADMIN')) {
    // Its namespace holds only lo, and nothing in it can add a device: nsbox's template (see
    // the step), read-only, nosuid, nodev, noexec.
    steps.push({ op: 'mountSysfs', target: `${R}/sys` });
  } else {
    steps.push({ op: 'mount', source: 'sysfs', target: `${R}/sys`, type: 'sysfs', flags: { readonly: true, ...NOSUID_NODEV_NOEXEC } });
  }
  if (opts.cgroupns) {
    steps.push({ op: 'mount', source: 'cgroup', target: `${R}/sys/fs/cgroup`, type: 'cgroup2', flags: { readonly: true, ...NOSUID_NODEV_NOEXEC } });
  }

  let layer = 0;
  for (const m of c.mounts) {
    const target = `${R}${m.target}`;
    if (m.type === 'bind') {
      // nodev unless asked, or unless the source is one of the devices every container has
      // (`-v /dev/null:/etc/shadow`, as Docker's device cgroup allows those too).
      const devices = m.devices || STANDARD_DEVICE_PATHS.has(m.source);
      steps.push({ op: 'bind', source: m.source, target, recursive: m.recursive, createTarget: true, ...(m.readonly ? { readonly: true } : {}), ...(devices ? {} : { nodev: true }) });
    } else if (m.type === 'tmpfs') {
      steps.push({ op: 'mkdir', path: target, recursive: true }, { op: 'mount', source: 'tmpfs', target, type: 'tmpfs', flags: { nosuid: true, nodev: true, readonly: m.readonly }, data: m.data });
    } else {
      steps.push({ op: 'mkdir', path: target, recursive: true });
      let upper = m.upper, work = m.work;
      if (upper === null) {
        // The writable layers live on one tmpfs of the container's, on nsbox's own staging
        // directory beside the root (not below it: overlayfs reads the paths in its options on
        // the host, where an image's links would lead elsewhere). Overlayfs keeps its own
        // clone of the upper mount, so the tmpfs may go with the old root.
        const L = layersDir();
        if (layer === 0) steps.push({ op: 'mount', source: 'tmpfs', target: L, type: 'tmpfs', flags: { nosuid: true, nodev: true }, data: 'mode=700' });
        upper = `${L}/${layer}/upper`;
        work = `${L}/${layer}/work`;
        steps.push({ op: 'mkdir', path: `${L}/${layer}` }, { op: 'mkdir', path: upper, mode: 0o755 }, { op: 'mkdir', path: work });
        layer++;
      }
      const data = m.readonly
        ? `lowerdir=${m.lower.join(':')}`
        : `lowerdir=${m.lower.join(':')},upperdir=${upper},workdir=${work}${userns ? ',userxattr' : ''}`;
      steps.push({ op: 'mount', source: 'overlay', target, type: 'overlay', data, flags: { nosuid: true, nodev: true } });
    }
  }

  steps.push({ op: 'pivotRoot', newRoot: R });
  return steps;
}

/** Beside the staging root: where the writable layers of overlay mounts without `upper` go. */
function layersDir(): string {
  return path.join(path.dirname(stagingDir()), 'layers');
}

/** After pivot_root: sysctls, masked and read-only paths, a read-only root. */
export function protectionSteps(c: ContainerConfig): Step[] {
  const steps: Step[] = [];
  for (const [key, value] of c.sysctl) {
    steps.push({ op: 'writeFile', path: `/proc/sys/${key.replace(/\./g, '/')}`, data: value, create: false });
  }
  // runc's order: read-only paths, then masked ones.
  for (const p of c.readonlyPaths) {
    if (!existsInContainer(p)) continue;
    // optional: a path the image lacks needs no protection (as runc skips it). Not under /proc
    // or /sys, which are nsbox's own mounts: there a missing path is an error.
    const own = p.startsWith('/proc/') || p.startsWith('/sys/');
    steps.push({ op: 'bind', source: p, target: p, recursive: true, readonly: true, nosuid: true, nodev: true, noexec: true, ...(own ? {} : { optional: true }) });
  }
  // One shared empty tmpfs for the directories (the step's `shared`), unless the program keeps
  // CAP_SYS_ADMIN (it could remount that superblock read-write); spawn decides where it can.
  const shared = !c.capabilities.includes('CAP_SYS_ADMIN');
  for (const p of c.maskedPaths) steps.push({ op: 'mask', path: p, shared });
  if (c.rootfs.readonly) steps.push({ op: 'mountSetattr', path: '/', readonly: true });
  return steps;
}

const procEntries = new Map<string, boolean>();
/** /proc and /sys look the same in the container as on the host; other paths are the image's. */
function existsInContainer(p: string): boolean {
  if (!p.startsWith('/proc/') && !p.startsWith('/sys/')) return true;
  let known = procEntries.get(p);
  if (known === undefined) procEntries.set(p, (known = fs.existsSync(p)));
  return known;
}
