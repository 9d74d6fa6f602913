// As root, switch to uid 65534 (setpriv) in a fresh node and use nsbox from there: user
// namespaces make an unprivileged user root of its own namespaces; mount(2) outside them
// is EPERM. The checkout may not be readable by that user (a 0700 home above it), so the
// child sees it bound at a fresh directory under /tmp, in a mount namespace made by nsbox.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Step } from '../../lib/index';
import { isRoot, repoRoot, run, testName } from '../helpers/env';

const NOBODY = 65534;
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));
const view = path.join(os.tmpdir(), testName('view'));
const plan: Step[] = [
  { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
  { op: 'bind', source: repoRoot, target: view, recursive: true, createTarget: true, readonly: true },
];
const asNobody = (...command: string[]) => [setpriv!, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all', ...command];

/** Why the unprivileged run cannot happen here, found by trying what it needs. */
async function unavailable(): Promise<string | undefined> {
  if (!isRoot) return 'needs root to switch to uid 65534';
  if (!setpriv) return 'setpriv (util-linux) is not installed';
  if (Number(fs.readFileSync('/proc/sys/user/max_user_namespaces', 'utf8')) === 0) return 'user namespaces are disabled (user.max_user_namespaces = 0)';
  const { status, stderr } = await run({
    command: asNobody('/bin/sh', '-c', `test -r ${view}/lib/index.ts && test -x ${process.execPath}`),
    namespaces: ['mount'],
    plan,
  });
  if (status.code !== 0) return `uid ${NOBODY} cannot read the checkout bound at ${view} or run ${process.execPath} ${stderr}`;
  return undefined;
}

const reason = await unavailable();

afterAll(() => {
  // The bind target was created on the host's /tmp; the mount itself was the child's only.
  if (fs.existsSync(view)) {
    expect(fs.readdirSync(view)).toEqual([]);
    fs.rmdirSync(view);
  }
});

describe.skipIf(reason)(`as uid ${NOBODY}${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('spawn with user, pid, mount, uts: root inside, mapped to 65534; dumpable stays ours; mount() outside is EPERM', async () => {
    const { stdout, stderr, status } = await run({
      command: asNobody(process.execPath, '-r', `${view}/test/helpers/register-ts.cjs`, `${view}/test/helpers/unprivileged-child.cjs`),
      namespaces: ['mount'],
      plan,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' },
    });
    expect(stderr).toBe('');
    expect(status).toEqual({ code: 0, signal: null });
    const r = JSON.parse(stdout);
    expect([r.uid, r.gid]).toEqual([NOBODY, NOBODY]);
    expect(r.exit).toEqual({ code: 0, signal: null });
    const [uid, map, pid, hostname] = r.child.stdout.trim().split('\n');
    expect(uid).toBe('0');
    expect(map.trim().split(/\s+/)).toEqual(['0', String(NOBODY), '1']);
    expect(pid).toBe('1');
    expect(hostname).toBe('nsbox-unpriv');
    expect(r.child.stderr).toBe('');
    expect(r.dumpableExit).toEqual({ code: 0, signal: null });
    expect(r.procOwner).toBe(NOBODY);
    expect(r.mount).toMatchObject({ name: 'NsboxSystemError', code: 'EPERM', errno: -1, syscall: 'mount', path: 'tmpfs', dest: '/tmp' });
    expect(r.mount.hint).toMatch(/CAP_SYS_ADMIN/);
    // The view was the child's mount: here it is an empty directory.
    expect(fs.readdirSync(view)).toEqual([]);
    expect(execFileSync('hostname', { encoding: 'utf8' }).trim()).toBe(os.hostname());
  });

  it('a setgid step never makes this process non-dumpable (CLONE_VM would share the address space whose flag it resets)', async () => {
    const withSetgid = [setpriv!, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=+setgid', '--ambient-caps=+setgid'];
    const { stdout, status } = await run({
      command: [...withSetgid, process.execPath, '-r', `${view}/test/helpers/register-ts.cjs`, `${view}/test/helpers/setgid-child.cjs`],
      namespaces: ['mount'],
      plan,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' },
    });
    expect(status).toEqual({ code: 0, signal: null });
    const r = JSON.parse(stdout);
    expect(r).toEqual({
      before: NOBODY, after: NOBODY, gid: '1234', exit: { code: 0, signal: null },
      ambientOurs: '0000000000000040', // CAP_SETGID (6), inherited from setpriv
      ambientChild: '0000000000000000', // cleared by the capabilities step
    });
  });

  it('the default maps map the caller\'s own uid and gid to root, each from its own id (uid != gid here)', async () => {
    const GID = 100;
    const { stdout, status } = await run({
      command: [setpriv!, `--reuid=${NOBODY}`, `--regid=${GID}`, '--clear-groups', '--inh-caps=-all', process.execPath, '-r', `${view}/test/helpers/register-ts.cjs`, '-e',
        `require('${view}/lib/index.ts').spawn({ command: ['/bin/sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g'], namespaces: ['user'], stdio: ['ignore', 'pipe', 'inherit'] })
          .then(async (c) => { let o = ''; for await (const d of c.stdout) o += d; await c.exited; process.stdout.write(o); })`],
      namespaces: ['mount'],
      plan,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' },
    });
    expect(status).toEqual({ code: 0, signal: null });
    const [uidMap, gidMap, uid, gid] = stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect([uidMap, gidMap, uid, gid]).toEqual([`0 ${NOBODY} 1`, `0 ${GID} 1`, '0', '0']);
  });
});
