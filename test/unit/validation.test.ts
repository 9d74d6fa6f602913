// Bad arguments are TypeError/RangeError with Node's ERR_INVALID_ARG_* codes, naming the
// option, and are thrown before any system call: the addon is never reached.
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  mount, mountSetattr, openTree, pidfdOpen, pidfdSendSignal, pivotRoot, setdomainname, sethostname, setns,
  spawn, umount, unshare,
} from '../../lib/index';
import { native } from '../../lib/native';
import { fdChanges, openFds } from '../helpers/proc';
import { caught } from '../helpers/caught';

type Code = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';
const CLASS: Record<Code, ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor> = {
  ERR_INVALID_ARG_TYPE: TypeError,
  ERR_INVALID_ARG_VALUE: TypeError,
  ERR_OUT_OF_RANGE: RangeError,
};

/** The fds opened since `before`, closed again so that one leak is reported once (here, not by the file's leak check). */
function closeOpened(before: Map<number, string>): string[] {
  const changes = fdChanges(before);
  for (const fd of openFds().keys()) if (!before.has(fd)) fs.closeSync(fd);
  return changes;
}

function expectArgError(e: Error & { code?: string }, code: Code, mentions: string): void {
  expect(e).toBeInstanceOf(CLASS[code]);
  expect(e.code).toBe(code);
  expect(e.message).toContain(mentions);
}

const syscalls = new Map<string, ReturnType<typeof vi.spyOn>>();
beforeEach(() => {
  for (const key of Object.keys(native) as (keyof typeof native)[]) {
    if (typeof native[key] === 'function') syscalls.set(key, vi.spyOn(native, key as Exclude<typeof key, 'vmClone'>));
  }
});
afterEach(() => {
  // No argument error may come after a call into the addon.
  const called = [...syscalls].filter(([, spy]) => spy.mock.calls.length > 0).map(([k]) => k);
  vi.restoreAllMocks();
  syscalls.clear();
  expect(called).toEqual([]);
});

const cmd = ['/bin/true'];

describe('spawn rejects bad options before cloning', () => {
  const cases: [string, unknown, Code, string][] = [
    ['options not an object', 'ls', 'ERR_INVALID_ARG_TYPE', '"options"'],
    ['an unknown option', { command: cmd, namspaces: ['pid'] }, 'ERR_INVALID_ARG_VALUE', "'options.namspaces' is not a known option"],
    ['command not an array', { command: '/bin/true' }, 'ERR_INVALID_ARG_TYPE', '"options.command"'],
    ['an empty command', { command: [] }, 'ERR_INVALID_ARG_VALUE', "'options.command' must name a program"],
    ['a NUL byte in an argument', { command: ['/bin/echo', 'a\0b'] }, 'ERR_INVALID_ARG_VALUE', "'options.command[1]' must not contain null bytes"],
    ['a non-string argument', { command: ['/bin/echo', 3] }, 'ERR_INVALID_ARG_TYPE', '"options.command[1]"'],
    ['an unknown namespace', { command: cmd, namespaces: ['pid', 'bogus'] }, 'ERR_INVALID_ARG_VALUE', "'options.namespaces[1]' must be one of 'mount'"],
    ['namespaces not a list', { command: cmd, namespaces: 42 }, 'ERR_INVALID_ARG_TYPE', '"options.namespaces"'],
    ['uidMap without user', { command: cmd, namespaces: ['pid'], uidMap: [{ containerId: 0, hostId: 0, size: 1 }] }, 'ERR_INVALID_ARG_VALUE', "needs 'user' in options.namespaces"],
    ['setgroups without user', { command: cmd, setgroups: 'deny' }, 'ERR_INVALID_ARG_VALUE', "needs 'user'"],
    ['an empty uidMap', { command: cmd, namespaces: ['user'], uidMap: [] }, 'ERR_INVALID_ARG_VALUE', "'options.uidMap' must have 1 to 340 lines"],
    ['a zero-size mapping', { command: cmd, namespaces: ['user'], gidMap: [{ containerId: 0, hostId: 1000, size: 0 }] }, 'ERR_OUT_OF_RANGE', '"options.gidMap[0].size"'],
    ['an unknown mapping key', { command: cmd, namespaces: ['user'], uidMap: [{ containerId: 0, hostId: 1, size: 1, inside: 0 }] }, 'ERR_INVALID_ARG_VALUE', "'options.uidMap[0].inside'"],
    ['a bad setgroups', { command: cmd, namespaces: ['user'], setgroups: 'maybe' }, 'ERR_INVALID_ARG_VALUE', "'options.setgroups'"],
    ['an env name with =', { command: cmd, env: { 'A=B': 'x' } }, 'ERR_INVALID_ARG_VALUE', 'invalid variable name'],
    ['a non-string env value', { command: cmd, env: { A: 1 } }, 'ERR_INVALID_ARG_TYPE', '"options.env.A"'],
    ['a bad stdio word', { command: cmd, stdio: 'bogus' }, 'ERR_INVALID_ARG_VALUE', "'options.stdio[0]'"],
    ['a negative stdio fd', { command: cmd, stdio: ['ignore', -1, 'ignore'] }, 'ERR_OUT_OF_RANGE', '"options.stdio[1]"'],
    ['too many stdio fds', { command: cmd, stdio: new Array(65).fill('ignore') }, 'ERR_INVALID_ARG_VALUE', 'at most 64 fds'],
    ['a signal that is not an AbortSignal', { command: cmd, signal: {} }, 'ERR_INVALID_ARG_VALUE', "'options.signal'"],
    ['a relative cgroup', { command: cmd, cgroup: 'sys/fs/cgroup/x' }, 'ERR_INVALID_ARG_VALUE', "'options.cgroup' must be an absolute path"],
    ['a cgroup that is not cgroup v2', { command: cmd, cgroup: '/tmp' }, 'ERR_INVALID_ARG_VALUE', 'must be a directory in a cgroup v2 hierarchy'],
    ['plan not a list', { command: cmd, plan: { op: 'setsid' } }, 'ERR_INVALID_ARG_TYPE', '"options.plan"'],
    ['an unknown op', { command: cmd, plan: [{ op: 'format', path: '/' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].op' must be one of"],
    ['exec is not a step (spawn adds it)', { command: cmd, plan: [{ op: 'exec' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].op'"],
    ['the internal wait op is not public', { command: cmd, plan: [{ op: 'wait' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].op'"],
    ['an unknown step key', { command: cmd, plan: [{ op: 'setsid' }, { op: 'chdir', path: '/', recursive: true }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[1].recursive' is not a known option"],
    ['a relative mkdir path', { command: cmd, plan: [{ op: 'mkdir', path: 'tmp/x' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].path' must be an absolute path"],
    ['a relative bind source', { command: cmd, plan: [{ op: 'bind', source: 'usr', target: '/usr' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].source' must be an absolute path"],
    ['a relative mount target', { command: cmd, plan: [{ op: 'mount', source: 'tmpfs', target: 'x', type: 'tmpfs' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].target'"],
    ['an unknown mount flag', { command: cmd, plan: [{ op: 'mount', target: '/x', flags: { rdonly: true } }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].flags.rdonly'"],
    ['a non-boolean mount flag', { command: cmd, plan: [{ op: 'mount', target: '/x', flags: { readonly: 1 } }] }, 'ERR_INVALID_ARG_TYPE', '"options.plan[0].flags.readonly"'],
    ['a bad propagation', { command: cmd, plan: [{ op: 'mountSetattr', path: '/', propagation: 'public' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].propagation'"],
    ['a bad atime', { command: cmd, plan: [{ op: 'bind', source: '/a', target: '/b', atime: 'sometimes' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].atime'"],
    ['putOld outside newRoot', { command: cmd, plan: [{ op: 'pivotRoot', newRoot: '/new', putOld: '/newer/old' }] }, 'ERR_INVALID_ARG_VALUE', "must be under newRoot ('/new')"],
    ['a hostname over 64 bytes', { command: cmd, plan: [{ op: 'sethostname', hostname: 'h'.repeat(65) }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].hostname.length"'],
    ['a hostname over 64 bytes in UTF-8 only', { command: cmd, plan: [{ op: 'sethostname', hostname: 'é'.repeat(33) }] }, 'ERR_OUT_OF_RANGE', 'Received 66'],
    ['an empty hostname', { command: cmd, plan: [{ op: 'sethostname', hostname: '' }] }, 'ERR_INVALID_ARG_VALUE', 'must not be empty'],
    ['a domain name over 64 bytes', { command: cmd, plan: [{ op: 'setdomainname', domainname: 'd'.repeat(65) }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].domainname.length"'],
    ['a soft rlimit above the hard one', { command: cmd, plan: [{ op: 'setrlimit', resource: 'nofile', soft: 1025, hard: 1024 }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].soft"'],
    ['an unlimited soft rlimit under a finite hard one', { command: cmd, plan: [{ op: 'setrlimit', resource: 'core', soft: 'unlimited', hard: 0 }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].soft"'],
    ['a negative rlimit', { command: cmd, plan: [{ op: 'setrlimit', resource: 'nofile', soft: -1, hard: 10 }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].soft"'],
    ['an rlimit of 2^64-1 as a bigint', { command: cmd, plan: [{ op: 'setrlimit', resource: 'nofile', soft: 1n, hard: (1n << 64n) - 1n }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].hard"'],
    ['an unknown rlimit', { command: cmd, plan: [{ op: 'setrlimit', resource: 'files', soft: 1, hard: 1 }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].resource'"],
    ['a seccomp filter of 7 bytes', { command: cmd, plan: [{ op: 'seccomp', filter: new Uint8Array(7) }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].filter.byteLength"'],
    ['an empty seccomp filter', { command: cmd, plan: [{ op: 'seccomp', filter: new Uint8Array(0) }] }, 'ERR_OUT_OF_RANGE', 'Received 0'],
    ['a seccomp filter over BPF_MAXINSNS', { command: cmd, plan: [{ op: 'seccomp', filter: new Uint8Array(8 * 4097) }] }, 'ERR_OUT_OF_RANGE', 'Received 32776'],
    ['a seccomp filter that is not bytes', { command: cmd, plan: [{ op: 'seccomp', filter: [0, 0, 0, 0, 0, 0, 0, 0] }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].filter'"],
    ['an unknown seccomp flag', { command: cmd, plan: [{ op: 'seccomp', filter: new Uint8Array(8), flags: { spec: true } }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].flags.spec'"],
    ['an unknown capability', { command: cmd, plan: [{ op: 'capabilities', bounding: ['CAP_CHOWN', 'CAP_FLY'] }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].bounding[1]'"],
    ['effective outside permitted', { command: cmd, plan: [{ op: 'capabilities', permitted: ['CAP_CHOWN'], effective: ['CAP_KILL'] }] }, 'ERR_INVALID_ARG_VALUE', 'must be a subset of permitted'],
    ['ambient outside inheritable', { command: cmd, plan: [{ op: 'capabilities', permitted: ['CAP_KILL'], effective: [], ambient: ['CAP_KILL'] }] }, 'ERR_INVALID_ARG_VALUE', 'subset of both permitted and inheritable'],
    ['a uid of (uid_t)-1', { command: cmd, plan: [{ op: 'setuid', uid: 0xffffffff }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].uid"'],
    ['a fractional gid', { command: cmd, plan: [{ op: 'setgid', gid: 1.5 }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].gid"'],
    ['a bad group', { command: cmd, plan: [{ op: 'setgroups', groups: [1, '2'] }] }, 'ERR_INVALID_ARG_TYPE', '"options.plan[0].groups[1]"'],
    ['a char device without a major', { command: cmd, plan: [{ op: 'mknod', path: '/dev/x', type: 'char', minor: 3 }] }, 'ERR_INVALID_ARG_TYPE', '"options.plan[0].major"'],
    ['an unknown node type', { command: cmd, plan: [{ op: 'mknod', path: '/dev/x', type: 'socket' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].type'"],
    ['a mode above 07777', { command: cmd, plan: [{ op: 'mkdir', path: '/x', mode: 0o10000 }] }, 'ERR_OUT_OF_RANGE', '"options.plan[0].mode"'],
    ['a relative null device', { command: cmd, plan: [{ op: 'mask', path: '/x', nullDevice: 'dev/null' }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].nullDevice'"],
    ['an unknown umount flag', { command: cmd, plan: [{ op: 'umount', target: '/x', lazy: true }] }, 'ERR_INVALID_ARG_VALUE', "'options.plan[0].lazy'"],
    ['a non-boolean dumpable', { command: cmd, plan: [{ op: 'dumpable', value: 1 }] }, 'ERR_INVALID_ARG_TYPE', '"options.plan[0].value"'],
  ];
  it.each(cases)('%s', async (_, options, code, mentions) => {
    const before = openFds();
    const e = await spawn(options as never).then(
      () => { throw new Error('spawn resolved'); },
      (err: Error & { code?: string }) => err,
    );
    expectArgError(e, code, mentions);
    // 'ignore' opens /dev/null before cloning; nothing may stay open after a rejection.
    expect(closeOpened(before)).toEqual([]);
  });

  it('accepts the limits themselves (64-byte hostname, soft == hard, 4096 instructions) up to the addon', async () => {
    // The addon is mocked so that nothing runs: this is about validation only.
    const spawnSpy = syscalls.get('spawn')!.mockImplementation(() => {
      throw Object.assign(new Error('stop here'), { code: 'TEST_STOP' });
    });
    const e = await spawn({
      command: cmd,
      stdio: 'pipe',
      plan: [
        { op: 'sethostname', hostname: 'h'.repeat(64) },
        { op: 'sethostname', hostname: 'é'.repeat(32) },
        { op: 'setrlimit', resource: 'nofile', soft: 1024, hard: 1024 },
        { op: 'setrlimit', resource: 'core', soft: 'unlimited', hard: 'unlimited' },
        { op: 'seccomp', filter: new Uint8Array(8 * 4096) },
      ],
    }).then(
      () => new Error('spawn resolved'),
      (err: Error) => err,
    );
    expect((e as Error & { code?: string }).code).toBe('TEST_STOP');
    expect(spawnSpy).toHaveBeenCalledTimes(1);
    spawnSpy.mockClear();
  });

  it('an already aborted signal rejects with an AbortError and clones nothing', async () => {
    const ac = new AbortController();
    ac.abort(new Error('changed my mind'));
    const e = (await spawn({ command: cmd, signal: ac.signal }).catch((err) => err)) as Error & { code: string; cause: Error };
    expect(e.name).toBe('AbortError');
    expect(e.code).toBe('ABORT_ERR');
    expect(e.cause.message).toBe('changed my mind');
  });
});

describe('the direct syscall wrappers validate before calling the kernel', () => {
  const cases: [string, () => unknown, Code, string][] = [
    ['unshare of an unknown type', () => unshare(['uts', 'bogus' as never]), 'ERR_INVALID_ARG_VALUE', "'types[1]'"],
    ['unshare of a non-list', () => unshare(5 as never), 'ERR_INVALID_ARG_TYPE', '"types"'],
    ['setns of a relative path', () => setns('proc/self/ns/net'), 'ERR_INVALID_ARG_VALUE', "'target' must be an absolute path"],
    ['setns through a pidfd without types', () => setns({ pidfd: 3 }), 'ERR_INVALID_ARG_VALUE', "'types' must name at least one"],
    ['setns of a negative fd', () => setns(-1), 'ERR_OUT_OF_RANGE', '"target"'],
    ['setns of a boolean', () => setns(true as never), 'ERR_INVALID_ARG_TYPE', '"target"'],
    ['setns of an fd with two types', () => setns(3, ['net', 'uts']), 'ERR_INVALID_ARG_VALUE', 'must name one type'],
    ['mount with a relative target', () => mount({ source: 'tmpfs', target: 'mnt', type: 'tmpfs' }), 'ERR_INVALID_ARG_VALUE', "'options.target'"],
    ['mount with an unknown flag', () => mount({ target: '/mnt', flags: { rbind: true } as never }), 'ERR_INVALID_ARG_VALUE', "'options.flags.rbind'"],
    ['umount with an unknown option', () => umount('/mnt', { lazy: true } as never), 'ERR_INVALID_ARG_VALUE', "'options.lazy'"],
    ['pivotRoot with a relative putOld', () => pivotRoot('/new', 'old'), 'ERR_INVALID_ARG_VALUE', "'putOld'"],
    ['mountSetattr with an unknown attribute', () => mountSetattr('/mnt', { rdonly: true } as never), 'ERR_INVALID_ARG_VALUE', "'options.rdonly'"],
    ['mountSetattr with a bad propagation', () => mountSetattr('/mnt', { propagation: 'none' as never }), 'ERR_INVALID_ARG_VALUE', "'options.propagation'"],
    ['openTree with an unknown option', () => openTree('/mnt', { copy: true } as never), 'ERR_INVALID_ARG_VALUE', "'options.copy'"],
    ['sethostname over 64 bytes', () => sethostname('x'.repeat(65)), 'ERR_OUT_OF_RANGE', '"name.length"'],
    ['setdomainname of a non-string', () => setdomainname(7 as never), 'ERR_INVALID_ARG_TYPE', '"name"'],
    ['pidfdOpen of pid 0', () => pidfdOpen(0), 'ERR_OUT_OF_RANGE', '"pid"'],
    ['pidfdSendSignal of an unknown signal', () => pidfdSendSignal(3, 'SIGNOPE' as never), 'ERR_INVALID_ARG_VALUE', "'signal'"],
  ];
  it.each(cases)('%s', (_, fn, code, mentions) => {
    expectArgError(caught(fn), code, mentions);
  });

  it('setns of a path with two types fails without opening it (no fd leaked)', () => {
    const before = openFds();
    expectArgError(caught(() => setns('/proc/self/ns/net', ['net', 'uts'])), 'ERR_INVALID_ARG_VALUE', 'must name one type');
    expect(closeOpened(before)).toEqual([]);
  });

  it('setns of a path that does not exist is ENOENT from open, naming the path', () => {
    const e = caught(() => setns('/proc/self/ns/nsbox-none', 'net')) as NodeJS.ErrnoException;
    expect(e.code).toBe('ENOENT');
    expect(e.path).toBe('/proc/self/ns/nsbox-none');
    expect(fs.existsSync('/proc/self/ns/nsbox-none')).toBe(false);
  });
});
