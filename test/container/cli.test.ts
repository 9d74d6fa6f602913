// `nsbox run`: the shell's way in. Exit status as docker run's: the program's, 124 on
// timeout, 125 when nsbox itself failed.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CGROUP_ROOT, isRoot, REGISTER_TS, repoRoot } from '../helpers/env';

const CLI = path.join(repoRoot, 'lib', 'cli.ts');

function nsbox(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-r', REGISTER_TS, CLI, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error as { code?: number }).code ?? -1 : 0, stdout, stderr });
    });
  });
}

describe('nsbox run', () => {
  it('runs a command in a container with the options given, and exits with its status', async () => {
    const r = await nsbox(['run', '--hostname', 'cli', '-e', 'A=b', '-w', '/tmp', '--', '/bin/sh', '-c', 'echo "$(hostname) $A $(pwd) $$"; exit 3']);
    expect(r).toMatchObject({ code: 3, stdout: 'cli b /tmp 1\n' });
  });

  it('bind mounts, tmpfs, read-only root, network none', async () => {
    const r = await nsbox(['run', '--read-only', '-v', `${repoRoot}:/src:ro`, '--tmpfs', '/scratch:1m', '--network', 'none', '--', '/bin/sh', '-c',
      'test -f /src/package.json && echo bound; touch /x 2>/dev/null || echo ro-root; touch /scratch/y && echo tmpfs; ls /sys/class/net']);
    expect(r.stdout).toBe('bound\nro-root\ntmpfs\nlo\n');
  });

  it('124 after --timeout, 125 for a bad option or a missing program', async () => {
    expect((await nsbox(['run', '--timeout', '200', '--', 'sleep', '10'])).code).toBe(124);
    const bad = await nsbox(['run', '--memory']);
    expect(bad.code).toBe(125);
    const missing = await nsbox(['run', '--', '/no/such/program']);
    expect(missing).toMatchObject({ code: 125, stderr: expect.stringContaining('ENOENT') });
  });

  it.skipIf(!isRoot)('--cgroup limits are refused clearly where the host lacks the controller', async () => {
    const offered = (await import('node:fs')).readFileSync(path.join(CGROUP_ROOT, 'cgroup.controllers'), 'utf8');
    const r = await nsbox(['run', '--pids', '10', '--', 'true']);
    if (offered.includes('pids')) expect(r.code).toBe(0);
    else expect(r).toMatchObject({ code: 125, stderr: expect.stringContaining('pids') });
  });
});
