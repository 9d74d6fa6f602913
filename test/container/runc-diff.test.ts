// Differential test: the same OCI bundle (as `runc spec` writes it, running the probe in a
// busybox rootfs) under `runc run` and under nsbox's Container.fromBundle, the probe's two
// reports compared field by field. Every difference is either fixed or listed in
// INTENDED below and in the README.
import { execFileSync, spawn as spawnProcess, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Container } from '../../lib/container/index';
import { formatOciSpec, parseOciSpec } from '../../lib/container/oci';
import { CGROUP_ROOT, isRoot, rmTmp, testName, text, tmpDir } from '../helpers/env';
import { parseProbe, type ProbeReport } from '../helpers/probe-program';
import { makeBusyboxRootfs, ROOTFS_PROBE } from '../helpers/rootfs';

function runcMissing(): string | undefined {
  if (!isRoot) return 'runs as root (runc rootless needs its own setup)';
  try {
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'runc is not installed (scripts/setup.sh installs it)';
  }
  return undefined;
}
const skip = runcMissing();

let bundle = '';
const group = testName('runc');
const v1Roots = () => fs.readdirSync('/sys/fs/cgroup').map((c) => path.join('/sys/fs/cgroup', c)).filter((d) => fs.existsSync(path.join(d, 'cgroup.procs')) || fs.existsSync(path.join(d, 'tasks')));

beforeAll(() => {
  if (skip) return;
  bundle = tmpDir('bundle');
  makeBusyboxRootfs(path.join(bundle, 'rootfs'));
  execFileSync('runc', ['spec'], { cwd: bundle });
  const spec = parseOciSpec(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Record<string, any>;
  spec.process.args = [ROOTFS_PROBE];
  spec.process.terminal = false;
  spec.hostname = 'diff';
  fs.writeFileSync(path.join(bundle, 'config.json'), formatOciSpec(spec));
});

afterAll(() => {
  if (skip) return;
  rmTmp(bundle);
  // runc's groups, in every hierarchy it used: only ours, by name.
  for (const root of [...v1Roots(), CGROUP_ROOT]) {
    const dir = path.join(root, group);
    if (!fs.existsSync(dir)) continue;
    for (const d of fs.readdirSync(dir)) if (fs.statSync(path.join(dir, d)).isDirectory()) fs.rmdirSync(path.join(dir, d));
    fs.rmdirSync(dir);
  }
});

async function underRunc(id: string): Promise<ProbeReport> {
  const spec = parseOciSpec(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Record<string, any>;
  spec.linux.cgroupsPath = `/${group}/${id}`; // absolute: never inside this machine's own groups
  fs.writeFileSync(path.join(bundle, 'config.json'), formatOciSpec(spec));
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawnProcess('runc', ['run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`runc run: ${code}: ${stderr}`))));
  });
  return parseProbe(out);
}

async function underNsbox(): Promise<ProbeReport> {
  const options = await Container.bundleOptions(bundle);
  const r = await Container.run({ ...options, cgroupParent: path.join(CGROUP_ROOT, group), id: undefined });
  expect(r.stderr).toBe('');
  return parseProbe(r.stdout);
}

/**
 * Mounts as comparable lines: where, what, and the per-mount options (sorted). nsbox mounts
 * /proc (and so the read-only binds of its paths) and its masking tmpfs nosuid,nodev,noexec,
 * as Docker does; `runc spec`'s /proc has none of these: an intended difference. So is the
 * root's nodev.
 */
function mountLines(p: ProbeReport): string[] {
  return p.mounts.map((m) => {
    const stricter = m.mountPoint === '/proc' || m.mountPoint.startsWith('/proc/') || m.mountPoint === '/sys/firmware';
    // The root is nodev under nsbox, which has no device cgroup (README, intended differences).
    const options = m.options.filter((o) => !(stricter && ['nosuid', 'nodev', 'noexec'].includes(o)) && !(m.mountPoint === '/' && o === 'nodev'));
    return `${m.mountPoint} ${m.fsType} ${options.sort().join(',')}`;
  });
}

/** What nsbox does differently on purpose (README, "Intended differences"). */
const INTENDED_MOUNTS = [
  // nsbox's /dev/pts is mounted noexec too (Docker's choice; runc spec's has only nosuid).
  /^\/dev\/pts devpts /,
  // nsbox mounts cgroup2 read-only in its own cgroup namespace; on this hybrid host runc
  // mounts the v1 hierarchies (a tmpfs with one cgroup mount per controller) instead.
  /^\/sys\/fs\/cgroup/,
];

describe.skipIf(skip !== undefined)(`nsbox vs runc on the same bundle${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('the container sees the same world: capabilities, mounts, masked paths, hostname, maps, rlimits, seccomp, fds', async () => {
    const [runc, nsbox] = [await underRunc(`${group}-1`), await underNsbox()];
    expect(nsbox.capabilities).toEqual(runc.capabilities);
    expect(nsbox.noNewPrivs).toBe(runc.noNewPrivs);
    expect(nsbox.seccomp).toBe(runc.seccomp);
    expect(nsbox.hostname).toBe(runc.hostname);
    expect([nsbox.uid, nsbox.gid, nsbox.groups]).toEqual([runc.uid, runc.gid, runc.groups]);
    expect(nsbox.uidMap).toEqual(runc.uidMap);
    expect(nsbox.gidMap).toEqual(runc.gidMap);
    expect(nsbox.rlimits).toEqual(runc.rlimits);
    expect(nsbox.pid).toBe(runc.pid);
    expect(nsbox.cwd).toBe(runc.cwd);
    expect(nsbox.env).toEqual(runc.env);
    expect(nsbox.fds.map((f) => f.fd)).toEqual(runc.fds.map((f) => f.fd));
    const keep = (l: string) => !INTENDED_MOUNTS.some((re) => re.test(l));
    expect(mountLines(nsbox).filter(keep)).toEqual(mountLines(runc).filter(keep));
  });

  it('toOciSpec() writes a bundle runc runs into the same world as the container it came from', async () => {
    const dir = tmpDir('tooci');
    try {
      fs.mkdirSync(path.join(dir, 'rootfs')); // runc refuses a symlinked root: bind it
      execFileSync('mount', ['--bind', path.join(bundle, 'rootfs'), path.join(dir, 'rootfs')]);
      // A read-only bind of a tree with a mount in it: nsbox makes both read-only, and so must
      // the bundle (runc's 'ro' is the top mount's only; 'rro' is the whole tree's).
      const data = path.join(dir, 'data');
      fs.mkdirSync(path.join(data, 'sub'), { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(data, 'sub')]);
      const c = await Container.create({
        command: [ROOTFS_PROBE], rootfs: path.join(bundle, 'rootfs'), hostname: 'round-trip', cgroupParent: path.join(CGROUP_ROOT, group),
        capabilities: { drop: ['CAP_CHOWN'] }, rlimits: { nofile: 256 }, mounts: [{ type: 'bind', source: data, target: '/data', readonly: true }],
      });
      const spec = c.toOciSpec({ rootfs: 'rootfs' }) as unknown as Record<string, any>;
      const out = text(c.stdout);
      await c.start();
      const nsbox = parseProbe(await out);
      await c.delete();
      spec.linux.cgroupsPath = `/${group}/${group}-2`;
      fs.writeFileSync(path.join(dir, 'config.json'), formatOciSpec(spec));
      const runc = await new Promise<ProbeReport>((resolve, reject) => {
        const p = spawnProcess('runc', ['run', '--bundle', dir, `${group}-2`], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '', stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        p.on('close', (code) => (code === 0 ? resolve(parseProbe(stdout)) : reject(new Error(`runc run: ${code}: ${stderr}`))));
      });
      expect(runc.hostname).toBe('round-trip');
      expect(runc.capabilities).toEqual(nsbox.capabilities);
      expect([runc.noNewPrivs, runc.seccomp]).toEqual([nsbox.noNewPrivs, nsbox.seccomp]);
      expect(runc.rlimits).toEqual(nsbox.rlimits);
      const keep = (l: string) => !INTENDED_MOUNTS.some((re) => re.test(l));
      expect(mountLines(runc).filter(keep)).toEqual(mountLines(nsbox).filter(keep));
      expect(mountLines(nsbox).filter((l) => l.startsWith('/data'))).toEqual([expect.stringMatching(/^\/data \S+ .*\bro\b/), expect.stringMatching(/^\/data\/sub tmpfs .*\bro\b/)]);
    } finally {
      if (fs.existsSync(path.join(dir, 'data', 'sub'))) spawnSync('umount', [path.join(dir, 'data', 'sub')]); // if it was mounted
      execFileSync('umount', [path.join(dir, 'rootfs')]);
      rmTmp(dir);
    }
  });
});
