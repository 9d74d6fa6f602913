// `nsbox run`: the shell's way in. Exit status as docker run's: the program's, 124 on
// timeout, 125 when nsbox itself failed.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CGROUP_ROOT, isRoot, REGISTER_TS, repoRoot, rmTmp, tmpDir } from '../helpers/env';

const CLI = path.join(repoRoot, 'lib', 'cli.ts');

/** The CLI with `input` on its stdin; `onStdout` sees its output as it comes (and may signal it). */
function nsboxWith(args: string[], input: string, onStdout?: (soFar: string, pid: number) => void): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['-r', REGISTER_TS, CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
      onStdout?.(stdout, p.pid!);
    });
    p.stderr.on('data', (d) => (stderr += d));
    p.stdin.end(input);
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

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

  it('--mount as docker run: bind, tmpfs with size and mode, overlay over lower directories; in the order given; bad fields named', async () => {
    const lower = tmpDir('cli-lower');
    try {
      fs.writeFileSync(path.join(lower, 'base'), 'from lower\n');
      const r = await nsbox(['run', '--read-only',
        '--mount', `type=bind,source=${repoRoot},target=/src,readonly`,
        '--mount', 'type=tmpfs,dst=/scratch,tmpfs-size=1M,tmpfs-mode=700',
        '--mount', `type=overlay,target=/layer,lower=${lower}`,
        '-v', `${lower}:/src/lib:ro`, // after the first: over its lib/
        '-v', '/dev/null:/etc/hidden', // a standard device: it opens, as with Docker
        '--mount', `type=bind,source=${lower},target=/with-devices,devices`,
        '--', '/bin/sh', '-c',
        'test -f /src/package.json && echo bound; touch /src/x 2>/dev/null || echo ro-bind; stat -c %a /scratch; df -k /scratch | tail -1 | awk "{print \\$2}"; ' +
        'cat /layer/base; echo new >/layer/made && cat /layer/made; cat /src/lib/base; cat /etc/hidden /with-devices/base']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe('bound\nro-bind\n700\n1024\nfrom lower\nnew\nfrom lower\nfrom lower\n');
      expect(fs.readdirSync(lower)).toEqual(['base']); // the overlay's changes went to its tmpfs
      for (const [spec, said] of [
        ['type=bind,target=/x', 'a bind needs source=SRC'],
        ['type=volume,target=/x', 'expected bind, tmpfs or overlay'],
        ['type=tmpfs,target=/x,tmpfs-mode=rwx', 'tmpfs-mode=rwx'],
        ['type=tmpfs,target=/x,color=red', 'color: not known for type=tmpfs'],
        ['type=tmpfs,target=/x,readonly=maybe', 'readonly=maybe'],
      ]) {
        const bad = await nsbox(['run', '--mount', spec, '--', 'true']);
        expect(bad, spec).toMatchObject({ code: 125, stderr: expect.stringContaining(said) });
      }
      // A value the API refuses is named as the --mount it came from.
      expect((await nsbox(['run', '--tmpfs', '/a', '--mount', 'type=tmpfs,target=rel', '--', 'true'])).stderr).toContain("'--mount type=tmpfs,target=rel' (as options.mounts[1].target)");
    } finally {
      rmTmp(lower);
    }
  });

  it('bind mounts, tmpfs, read-only root, network none', async () => {
    const r = await nsbox(['run', '--read-only', '-v', `${repoRoot}:/src:ro`, '--tmpfs', '/scratch:1MB', '--network', 'none', '--', '/bin/sh', '-c',
      'test -f /src/package.json && echo bound; touch /x 2>/dev/null || echo ro-root; touch /scratch/y && echo tmpfs; ls /sys/class/net']);
    expect(r.stdout).toBe('bound\nro-root\ntmpfs\nlo\n');
  });

  it('124 after --timeout, 125 for a bad option or a missing program', async () => {
    expect((await nsbox(['run', '--timeout', '200', '--', 'sleep', '10'])).code).toBe(124);
    const bad = await nsbox(['run', '--memory']);
    expect(bad.code).toBe(125);
    // As docker run: 127 when the program is not there, 126 when it cannot run.
    const missing = await nsbox(['run', '--', '/no/such/program']);
    expect(missing).toMatchObject({ code: 127, stderr: expect.stringContaining('ENOENT') });
    expect((await nsbox(['run', '--', '/etc/passwd'])).code).toBe(126);
    for (const bad of [['-u', '1000:'], ['-u', 'nobody'], ['-v', '/a:/b:ro:x'], ['--pids', '0'], ['--bundle', '/nonexistent', '--memory', '1G']]) {
      expect(await nsbox(['run', ...bad, '--', 'true']), bad.join(' ')).toMatchObject({ code: 125, stderr: expect.stringMatching(/^nsbox: /) });
    }
    expect(await nsbox(['runn'])).toMatchObject({ code: 125, stderr: expect.stringContaining("unknown command 'runn'") });
    // An option the API refuses is named as its flag.
    expect((await nsbox(['run', '-w', 'tmp', '--', 'true'])).stderr).toContain("'--workdir' (as options.cwd)");
    expect((await nsbox(['run', '--tmpfs', '/a', '-v', '/tmp:rel', '--', 'true'])).stderr).toContain("'--volume /tmp:rel' (as options.mounts[1].target)"); // in the order given
  });

  it("nsbox's options end at the command: what follows is the command's", async () => {
    expect((await nsbox(['run', 'echo', '-t', 'hi'])).stdout).toBe('-t hi\n');
    expect((await nsbox(['run', '-e', 'A=1', 'sh', '-c', 'echo $A', '-e'])).stdout).toBe('1\n');
  });

  it('SIGTERM to nsbox: a program that catches it gets it, one that does not ends with the container (128+15), nothing left', async () => {
    const cgroups = () => (isRoot ? fs.readdirSync(path.join(CGROUP_ROOT, 'nsbox')).filter((f) => !f.includes('.')) : []);
    const before = cgroups();
    const termOnce = () => {
      let sent = false;
      return (soFar: string, pid: number) => {
        if (!sent && soFar.includes('ready')) process.kill(pid, 'SIGTERM'), (sent = true);
      };
    };
    const plain = await nsboxWith(['run', '--', 'sh', '-c', 'echo ready; exec sleep 100'], '', termOnce());
    expect(plain.code).toBe(143);
    const trapped = await nsboxWith(['run', '--', 'sh', '-c', 'trap "echo got; exit 7" TERM; echo ready; while :; do sleep 0.05; done'], '', termOnce());
    expect(trapped).toMatchObject({ code: 7, stdout: 'ready\ngot\n' });
    expect(cgroups()).toEqual(before);
  });

  it('-t: when its reader goes away (| head), nsbox ends the container (128+SIGPIPE) and leaves nothing', async () => {
    const cgroups = () => (isRoot ? fs.readdirSync(path.join(CGROUP_ROOT, 'nsbox')).filter((f) => !f.includes('.')) : []);
    const before = cgroups();
    const r = await new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, ['-r', REGISTER_TS, CLI, 'run', '-t', '--', 'sh', '-c', 'trap "" HUP PIPE; while :; do echo y; done'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
      p.stdout.once('data', () => p.stdout.destroy());
      p.on('close', (code) => resolve(code));
    });
    expect(r).toBe(141);
    expect(cgroups()).toEqual(before);
  });

  it('-t: a terminal even with a piped stdin, whose end is the input\'s end; all of the output arrives', async () => {
    const cat = await nsboxWith(['run', '-t', '--', 'cat'], 'hi\n');
    expect(cat.code).toBe(0);
    expect(cat.stdout).toContain('hi');
    for (let i = 0; i < 5; i++) {
      const r = await nsboxWith(['run', '-t', '--', 'sh', '-c', 'tty >/dev/null && echo on-a-tty'], '');
      expect(r).toMatchObject({ code: 0, stdout: 'on-a-tty\r\n' });
    }
  });

  it.skipIf(!isRoot)('--cgroup limits are refused clearly where the host lacks the controller', async () => {
    const offered = (await import('node:fs')).readFileSync(path.join(CGROUP_ROOT, 'cgroup.controllers'), 'utf8');
    const r = await nsbox(['run', '--pids', '10', '--', 'true']);
    if (offered.includes('pids')) expect(r.code).toBe(0);
    else expect(r).toMatchObject({ code: 125, stderr: expect.stringContaining('pids') });
  });
});
