// What the kernel tests need to know about where they run, and small helpers to run a child
// and read what it printed.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { NamespaceType } from '../../lib/namespaces';
import { native } from '../../lib/native';
import { spawnWith, type SpawnInternals, type SpawnOptions, type Subprocess, type ExitStatus } from '../../lib/spawn';
import { cgroupHost } from '../../lib/cgroup/discover';

export const isRoot = process.geteuid!() === 0;
export const repoRoot = path.resolve(__dirname, '..', '..');
export const syscalls = native.probeSyscalls();
// The cgroup2 mount: /sys/fs/cgroup/unified on this hybrid host, /sys/fs/cgroup in the VM lane.
export const CGROUP_ROOT = cgroupHost().mount ?? '/sys/fs/cgroup/unified';

/**
 * Namespaces for a test child: as root the ones asked for; unprivileged, a user namespace
 * too, in which the caller is root and may create the others.
 */
export function ns(...types: NamespaceType[]): NamespaceType[] {
  return isRoot ? types : ['user', ...types];
}

/** The clone strategies every core kernel test runs with. */
export const STRATEGIES: { name: string; internals: SpawnInternals }[] = [
  { name: 'clone3 + CLONE_VM', internals: { vm: true } },
  { name: 'clone3, copied mm', internals: { vm: false } },
  { name: 'legacy clone + CLONE_VM', internals: { vm: true, noClone3: true } },
];

/** A name that the leak check (leaks.ts) attributes to this test file. */
export function testName(kind: string): string {
  return `nsbox-test-${process.pid}-${kind}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A fresh directory under the temp dir, named for the leak check; remove it with `rmTmp`. */
export function tmpDir(kind: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `nsbox-test-${process.pid}-${kind}-`));
}

export function rmTmp(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function text(stream: Readable | null): Promise<string> {
  if (!stream) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    let out = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (out += d));
    stream.on('error', reject);
    stream.on('close', () => resolve(out));
  });
}

/** Resolves with the first line the stream prints (the child says it is ready). */
export function firstLine(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        stream.off('data', onData);
        stream.pause();
        resolve(out.slice(0, nl));
      }
    };
    stream.on('data', onData);
    stream.on('error', reject);
    stream.on('close', () => reject(new Error(`stream closed before a line: ${JSON.stringify(out)}`)));
  });
}

export interface RunResult {
  child: Subprocess;
  stdout: string;
  stderr: string;
  status: ExitStatus;
}

/** Spawns (stdin ignored, stdout and stderr piped), and waits for the exit and all output. */
export async function run(options: SpawnOptions, internals: SpawnInternals = {}): Promise<RunResult> {
  const child = await spawnWith({ stdio: ['ignore', 'pipe', 'pipe'], ...options }, internals);
  const [stdout, stderr, status] = await Promise.all([text(child.stdout), text(child.stderr), child.exited]);
  return { child, stdout, stderr, status };
}

/** `sh -c script` */
export function sh(script: string): string[] {
  return ['/bin/sh', '-c', script];
}

/** Fields of /proc/PID/status as a map. */
export function procStatus(statusText: string): Record<string, string> {
  return Object.fromEntries(
    statusText
      .split('\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
  );
}

/** Why cgroup tests cannot run here, or undefined if they can. */
export function cgroupUnavailable(): string | undefined {
  if (!isRoot) return 'needs root to create a cgroup';
  try {
    if (fs.statfsSync(CGROUP_ROOT).type !== 0x63677270) return `${CGROUP_ROOT} is not a cgroup v2 hierarchy`;
    fs.accessSync(CGROUP_ROOT, fs.constants.W_OK);
  } catch (e) {
    return `no writable cgroup v2 hierarchy at ${CGROUP_ROOT} (${(e as Error).message})`;
  }
  return undefined;
}

export const REGISTER_TS = path.join(repoRoot, 'test', 'helpers', 'register-ts.cjs');

/**
 * Runs JavaScript in a fresh `node` that can require lib/*.ts, so that what it does to its
 * namespaces (setns) never touches the vitest worker's. Resolves with its output and exit code.
 */
export function runNode(code: string, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-r', REGISTER_TS, '-e', code], { env: { ...process.env, ...env }, timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error ? ((error as { code?: number }).code ?? null) : 0 });
    });
  });
}

/**
 * Runs spawnWith(options, internals) in a fresh node under `strace -f`, tracing only the
 * given system calls (`'clone3,openat'`), and returns the log: what the kernel was really
 * asked, where the library's own report would prove nothing.
 */
export function straceSpawn(options: object, internals: object, syscalls: string): string {
  return straceSpawnScript(`require(${JSON.stringify(path.join(repoRoot, 'lib', 'spawn.ts'))})
    .spawnWith(${JSON.stringify(options)}, ${JSON.stringify(internals)}).then((c) => c.exited)`, syscalls);
}

/** Runs a script (that may require lib/*.ts) in a fresh node under `strace -f`; returns the log. */
export function straceSpawnScript(code: string, syscalls: string): string {
  const strace = ['/usr/bin/strace', '/bin/strace'].find((p) => fs.existsSync(p));
  if (!strace) throw new Error('strace is missing: scripts/setup.sh installs it');
  const dir = tmpDir('strace');
  const log = path.join(dir, 'log');
  try {
    execFileSync(strace, ['-f', '-qq', '-e', `trace=${syscalls}`, '-o', log, process.execPath, '-r', REGISTER_TS, '-e', code]);
    return fs.readFileSync(log, 'utf8');
  } finally {
    rmTmp(dir);
  }
}
