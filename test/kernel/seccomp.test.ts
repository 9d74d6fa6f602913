// Compiled profiles in real children: the filter is loaded (Seccomp: 2), Docker's default
// refuses namespace calls with EPERM and lets ordinary programs run, a custom profile fails
// exactly the calls it names with the errno it names, and SCMP_ACT_KILL_PROCESS kills with
// SIGSYS. Every test also runs its program without the filter, so a filter that does
// nothing fails it.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileSeccomp, dockerDefaultProfile, type LinuxSeccomp, type Step } from '../../lib/index';
import { DEFAULT_CAPABILITIES } from '../../lib/container/defaults';
import { STRATEGIES, ns, procStatus, rmTmp, run, sh, tmpDir } from '../helpers/env';

const confined = (filter: Uint8Array): Step[] => [{ op: 'noNewPrivileges' }, { op: 'seccomp', filter }];

/** Runs the script with the filter, then without it: [filtered, unfiltered]. */
async function both(script: string, filter: Uint8Array) {
  const filtered = await run({ command: sh(script), namespaces: ns(), plan: confined(filter) });
  const open = await run({ command: sh(script), namespaces: ns(), plan: [{ op: 'noNewPrivileges' }] });
  return [filtered, open];
}

let dir: string;
beforeEach(() => {
  dir = tmpDir('seccomp');
});
afterEach(() => rmTmp(dir));

describe("Docker's default profile", () => {
  const docker = compileSeccomp(dockerDefaultProfile());

  describe.each(STRATEGIES)('$name', ({ internals }) => {
    it('is loaded (Seccomp: 2, one filter) and ordinary programs run: sh, ls, cat, a pipe, a subshell', async () => {
      const { stdout, stderr, status } = await run({
        command: sh('grep -E "^(NoNewPrivs|Seccomp|Seccomp_filters):" /proc/self/status; /bin/ls / | grep -c "^usr$"; echo hi | cat; echo "$(echo sub)"'),
        namespaces: ns(),
        plan: confined(docker),
      }, internals);
      expect(stderr).toBe('');
      expect(status).toEqual({ code: 0, signal: null });
      const st = procStatus(stdout);
      expect(st).toMatchObject({ NoNewPrivs: '1', Seccomp: '2', Seccomp_filters: '1' });
      expect(stdout).toMatch(/\n1\nhi\nsub\n$/);
    });
  });

  it('refuses unshare -U and unshare -m with EPERM, which work without it', async () => {
    const script = 'unshare -U true; echo "user=$?"; unshare -m true; echo "mount=$?"';
    const [filtered, open] = await both(script, docker);
    expect(filtered.stdout).toBe('user=1\nmount=1\n');
    expect(filtered.stderr).toBe('unshare: unshare failed: Operation not permitted\n'.repeat(2));
    expect(open.stdout).toBe('user=0\nmount=0\n');
  });

  it('with CAP_SYS_ADMIN in the set, Docker allows unshare and mount', async () => {
    const admin = compileSeccomp(dockerDefaultProfile({ capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] }));
    const { stdout, stderr } = await run({ command: sh('unshare -m sh -c "mount -t tmpfs x /mnt && echo mounted"; echo "mount=$?"'), namespaces: ns(), plan: confined(admin) });
    expect(stderr).toBe('');
    expect(stdout).toBe('mounted\nmount=0\n');
  });

  it.skipIf(process.arch !== 'x64' || !fs.existsSync('/usr/bin/python3'))('clone3 fails with ENOSYS (so that libc falls back to clone), EINVAL without the filter (x86_64: clone3 = 435)', async () => {
    const script = `/usr/bin/python3 -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True); print(l.syscall(435, None, 0), ctypes.get_errno())'`;
    const [filtered, open] = await both(script, docker);
    expect(filtered.stdout).toBe('-1 38\n'); // ENOSYS
    expect(open.stdout).toBe('-1 22\n'); // EINVAL: size 0
  });
});

describe('a custom OCI profile', () => {
  const EROFS = 30;
  const EXDEV = 18;
  const profile: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: EROFS },
      { names: ['uname'], action: 'SCMP_ACT_ERRNO', errnoRet: EXDEV },
    ],
  };

  it('SCMP_ACT_ERRNO: mkdir and uname fail with their errnoRet; touch and ls still work', async () => {
    const target = path.join(dir, 'made');
    const script = `uname; echo "uname=$?"; mkdir ${target}; echo "mkdir=$?"; touch ${dir}/file && ls ${dir}`;
    const [filtered, open] = await both(script, compileSeccomp(profile));
    expect(filtered.stdout).toBe('uname=1\nmkdir=1\nfile\n');
    expect(filtered.stderr).toBe(`uname: cannot get system name: Invalid cross-device link\nmkdir: cannot create directory ‘${target}’: Read-only file system\n`);
    expect(open.stdout).toBe('Linux\nuname=0\nmkdir=0\nfile\nmade\n');
  });

  it('conditions on arguments: only mkdir with mode 0700 fails (a 64-bit bigint value, and SCMP_CMP_MASKED_EQ)', async () => {
    const conditional = compileSeccomp({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: EROFS, args: [{ index: 1, value: 0o700n, op: 'SCMP_CMP_EQ' }] },
        { names: ['mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: EROFS, args: [{ index: 2, value: 0o777, valueTwo: 0o700, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    });
    const { stdout } = await run({
      command: sh(`mkdir -m 700 ${dir}/private; echo "private=$?"; mkdir -m 755 ${dir}/public; echo "public=$?"`),
      namespaces: ns(),
      plan: confined(conditional),
    });
    expect(stdout).toBe('private=1\npublic=0\n');
    expect(fs.existsSync(path.join(dir, 'private'))).toBe(false);
    expect(fs.statSync(path.join(dir, 'public')).isDirectory()).toBe(true);
  });

  it.each([
    ['SCMP_ACT_KILL_PROCESS'],
    ['SCMP_ACT_KILL'],
  ] as const)('%s: the program that calls mkdir is killed by SIGSYS', async (action) => {
    const kill = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action }] });
    const target = path.join(dir, 'never');
    const killed = await run({ command: ['/bin/mkdir', target], namespaces: ns(), plan: confined(kill) });
    expect(killed.status).toEqual({ code: null, signal: 'SIGSYS' });
    expect(fs.existsSync(target)).toBe(false);
    // The same program runs to the end without the filter; with it, others are untouched.
    const open = await run({ command: ['/bin/mkdir', target], namespaces: ns(), plan: [{ op: 'noNewPrivileges' }] });
    expect(open.status).toEqual({ code: 0, signal: null });
    const other = await run({ command: ['/bin/rmdir', target], namespaces: ns(), plan: confined(kill) });
    expect(other.status).toEqual({ code: 0, signal: null });
  });

  it('a denying default with an allowlist: what the list lacks fails with defaultErrnoRet', async () => {
    // Docker's list, without uname, and ENOTSUP (95) for the rest.
    const docker = dockerDefaultProfile();
    const strict: LinuxSeccomp = {
      ...docker,
      defaultErrnoRet: 95,
      syscalls: docker.syscalls!.map((s) => ({ ...s, names: s.names.filter((n) => n !== 'uname') })).filter((s) => s.names.length > 0),
    };
    const { stdout, stderr } = await run({ command: sh('uname; echo "uname=$?"; unshare -m true; echo "unshare=$?"'), namespaces: ns(), plan: confined(compileSeccomp(strict)) });
    expect(stdout).toBe('uname=1\nunshare=1\n');
    expect(stderr).toBe('uname: cannot get system name: Operation not supported\nunshare: unshare failed: Operation not supported\n');
  });
});
