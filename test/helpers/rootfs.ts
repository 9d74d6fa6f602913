// A minimal root file system from Debian's busybox-static, for tests that pivot into one.
// scripts/busybox-rootfs.sh makes the same layout in bash for the benchmark (bench/);
// test/kernel/probe-program.test.ts checks that the two agree.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { rmTmp, tmpDir } from './env';
import { probeBinary } from './probe-program';

export const BUSYBOX = '/bin/busybox';
/** Where the probe lies inside a rootfs made with `probe: true`. */
export const ROOTFS_PROBE = '/usr/local/bin/nsbox-probe';

export const ROOTFS_PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
export const ROOTFS_GROUP = 'root:x:0:\nnobody:x:65534:\n';

/** Whether an ELF file names a program interpreter (PT_INTERP): a dynamically linked one does. */
function isDynamic(file: string): boolean {
  const elf = fs.readFileSync(file);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new Error(`${file} is not a 64-bit ELF file`);
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  for (let i = 0; i < elf.readUInt16LE(56); i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === 3) return true;
  }
  return false;
}

/**
 * Lays out a root file system in `dir` (absent or empty): `bin/busybox` copied from the host
 * (static: nothing in it refers to the host's /bin or /lib), one relative symlink per applet
 * where `busybox --list-full` puts it (`usr/bin/env -> ../../bin/busybox`), empty `proc dev
 * sys tmp etc root`, `/etc/passwd` and `/etc/group` with root and nobody, and with `probe`
 * the probe program at {@link ROOTFS_PROBE}. Returns `dir`.
 */
export function makeBusyboxRootfs(dir: string, { probe = true }: { probe?: boolean } = {}): string {
  if (!fs.existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: apt-get install busybox-static (scripts/setup.sh installs it)`);
  if (isDynamic(BUSYBOX)) throw new Error(`${BUSYBOX} is dynamically linked: a rootfs needs busybox-static's`);
  const probeBin = probe ? probeBinary() : undefined;
  fs.mkdirSync(dir, { recursive: true });
  if (fs.readdirSync(dir).length > 0) throw new Error(`${dir} is not empty`);
  // Modes set explicitly, whatever the umask: / and /tmp must be usable by any uid inside.
  const mkdir = (rel: string, mode = 0o755) => {
    fs.mkdirSync(path.join(dir, rel), { recursive: true });
    for (let d = rel; d !== '.'; d = path.dirname(d)) fs.chmodSync(path.join(dir, d), d === rel ? mode : 0o755);
  };
  const write = (rel: string, data: string | Buffer, mode: number) => {
    fs.writeFileSync(path.join(dir, rel), data);
    fs.chmodSync(path.join(dir, rel), mode);
  };
  fs.chmodSync(dir, 0o755);
  for (const d of ['bin', 'proc', 'dev', 'sys', 'etc']) mkdir(d);
  mkdir('tmp', 0o1777);
  mkdir('root', 0o700);
  write('bin/busybox', fs.readFileSync(BUSYBOX), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) {
    if (applet === 'bin/busybox') continue;
    const parent = path.dirname(applet);
    if (parent !== '.') mkdir(parent);
    fs.symlinkSync(path.relative(parent, 'bin/busybox'), path.join(dir, applet));
  }
  write('etc/passwd', ROOTFS_PASSWD, 0o644);
  write('etc/group', ROOTFS_GROUP, 0o644);
  if (probeBin) {
    mkdir(path.dirname(ROOTFS_PROBE.slice(1)));
    write(ROOTFS_PROBE.slice(1), fs.readFileSync(probeBin), 0o755);
  }
  return dir;
}

let shared: string | undefined;
let removedAtExit = false;

/**
 * One busybox rootfs (with the probe) per test process, made on first use under the temp dir
 * as `nsbox-test-<pid>-rootfs-…`: the per-file leak check (leaks.ts) reports it if it is
 * still there after the file, so call {@link removeSharedBusyboxRootfs} in `afterAll`.
 * Tests must not change it; bind it read-only where a test writes.
 */
export function sharedBusyboxRootfs(): string {
  if (shared === undefined) {
    const dir = tmpDir('rootfs');
    try {
      makeBusyboxRootfs(dir);
    } catch (e) {
      rmTmp(dir);
      throw e;
    }
    shared = dir;
    if (!removedAtExit) process.once('exit', removeSharedBusyboxRootfs);
    removedAtExit = true;
  }
  return shared;
}

/** Removes the rootfs {@link sharedBusyboxRootfs} made, if any (also done at process exit). */
export function removeSharedBusyboxRootfs(): void {
  if (shared !== undefined) rmTmp(shared);
  shared = undefined;
}
