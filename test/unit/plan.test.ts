// The plan buffer (lib/plan.ts <-> src-native/plan.h): header, 13-word steps in order with
// exec last, a string table with each string once and NUL-terminated, 4-aligned blobs,
// 64-bit values as lo/hi words; and the addon's own decoder refusing broken buffers.
import { describe, expect, it } from 'vitest';
import { capabilityMask } from '../../lib/capabilities';
import { native } from '../../lib/native';
import { decodePlan, encodePlan, type ExecSpec, type Step } from '../../lib/plan';

const NONE = 0xffffffff;
const exec: ExecSpec = { file: '/bin/echo', argv: ['/bin/echo', 'hi', '/tmp/a'], env: ['PATH=/usr/bin', 'A=1'], searchPath: null };

function decoded(steps: readonly (Step | { op: 'wait' })[], spec: ExecSpec = exec) {
  const { buffer } = encodePlan(steps, spec, 'plan', { allowWait: true });
  const plan = decodePlan(buffer);
  const str = (off: number) => {
    const end = plan.strings.indexOf(0, off);
    expect(end, `string at ${off} is NUL-terminated`).toBeGreaterThanOrEqual(off);
    return plan.strings.toString('utf8', off, end);
  };
  const u32s = (off: number, n: number) => {
    expect(off % 4, `blob at ${off} is 4-aligned`).toBe(0);
    return Array.from({ length: n }, (_, i) => plan.strings.readUInt32LE(off + 4 * i));
  };
  return { buffer, ...plan, str, u32s };
}

describe('encodePlan', () => {
  it('writes the header: magic "NSBP", version 1, the step count and the string table size', () => {
    const { buffer, strings } = decoded([{ op: 'setsid' }, { op: 'chdir', path: '/' }]);
    expect(buffer.toString('latin1', 0, 4)).toBe('NSBP');
    expect(buffer.readUInt32LE(0)).toBe(0x5042534e);
    expect(buffer.readUInt32LE(4)).toBe(1);
    expect(buffer.readUInt32LE(8)).toBe(3);
    expect(buffer.readUInt32LE(12)).toBe(strings.length);
    expect(buffer.length).toBe(16 + 3 * 52 + strings.length);
  });

  it('keeps the steps in order, with exec appended last', () => {
    const steps: Step[] = [
      { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
      { op: 'mount', source: 'proc', target: '/proc', type: 'proc' },
      { op: 'bind', source: '/usr', target: '/new/usr' },
      { op: 'pivotRoot', newRoot: '/new' },
      { op: 'sethostname', hostname: 'box' },
      { op: 'setdomainname', domainname: 'dom' },
      { op: 'mkdir', path: '/d' },
      { op: 'symlink', target: 'usr/bin', path: '/bin' },
      { op: 'mknod', path: '/f', type: 'fifo' },
      { op: 'mask', path: '/proc/kcore' },
      { op: 'remountReadonly', path: '/' },
      { op: 'chdir', path: '/' },
      { op: 'setrlimit', resource: 'nofile', soft: 1, hard: 2 },
      { op: 'setgroups', groups: [] },
      { op: 'setgid', gid: 1 },
      { op: 'setuid', uid: 1 },
      { op: 'capabilities' },
      { op: 'noNewPrivileges' },
      { op: 'dumpable', value: false },
      { op: 'umount', target: '/mnt' },
      { op: 'setsid' },
      { op: 'seccomp', filter: new Uint8Array(8) },
    ];
    const { ops } = decoded(steps);
    expect(ops).toEqual([...steps.map((s) => s.op), 'exec']);
    // The numbering is plan.h's enum Op.
    const { buffer } = decoded(steps);
    expect(steps.map((_, i) => buffer.readUInt32LE(16 + i * 52))).toEqual([3, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 19]);
    expect(buffer.readUInt32LE(16 + steps.length * 52)).toBe(24);
  });

  it('encodes setns: op 25, the fd, and the CLONE_NEW* bits of the types (0: whatever the fd is); a bad fd or type is refused', () => {
    const { ops, args, buffer } = decoded([{ op: 'setns', fd: 7, types: ['net', 'uts'] }, { op: 'setns', fd: 0 }]);
    expect(ops).toEqual(['setns', 'setns', 'exec']);
    expect(buffer.readUInt32LE(16)).toBe(25);
    expect(args[0].slice(0, 2)).toEqual([7, 0x40000000 | 0x04000000]);
    expect(args[1].slice(0, 2)).toEqual([0, 0]);
    expect(() => encodePlan([{ op: 'setns', fd: -1 }], exec)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('plan[0].fd') }));
    expect(() => encodePlan([{ op: 'setns', fd: 3, types: ['nett' as never] }], exec)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('plan[0].types[0]') }));
  });

  it('encodes fork (op 27) and setctty (op 28, fd default 0); setctty only after a setsid with no fork between, one fork', () => {
    const { ops, args, buffer } = decoded([{ op: 'fork' }, { op: 'setsid' }, { op: 'setctty' }, { op: 'setctty', fd: 5 }]);
    expect(ops).toEqual(['fork', 'setsid', 'setctty', 'setctty', 'exec']);
    expect([0, 2].map((i) => buffer.readUInt32LE(16 + i * 52))).toEqual([27, 28]);
    expect(args[2][0]).toBe(0);
    expect(args[3][0]).toBe(5);
    const refused = (steps: Step[], at: string) =>
      expect(() => encodePlan(steps, exec)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(at) }));
    refused([{ op: 'setctty' }], 'plan[0]');
    refused([{ op: 'setsid' }, { op: 'fork' }, { op: 'setctty' }], 'plan[2]');
    refused([{ op: 'fork' }, { op: 'fork' }], 'plan[1]');
    expect(() => encodePlan([{ op: 'setsid' }, { op: 'setctty', fd: -1 }], exec)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => encodePlan([{ op: 'fork', x: 1 } as never], exec)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('encodes openConsole (op 32, the socket fd); it makes its own session, so no setsid before it; a setctty may follow', () => {
    const { ops, args, buffer } = decoded([{ op: 'openConsole', socket: 9 }, { op: 'setctty' }]);
    expect(ops).toEqual(['openConsole', 'setctty', 'exec']);
    expect(buffer.readUInt32LE(16)).toBe(32);
    expect(args[0][0]).toBe(9);
    expect(() => encodePlan([{ op: 'setsid' }, { op: 'openConsole', socket: 9 }], exec))
      .toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('plan[1]') }));
    expect(() => encodePlan([{ op: 'openConsole', socket: -1 }], exec)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('plan[0].socket') }));
    expect(() => encodePlan([{ op: 'openConsole' } as never], exec)).toThrow(expect.objectContaining({ message: expect.stringContaining('plan[0].socket') }));
  });

  it("encodes openConsole's size (set in the child before the program runs), 0×0 when not given", () => {
    expect(decoded([{ op: 'openConsole', socket: 9, size: { cols: 100, rows: 40 } }]).args[0].slice(0, 3)).toEqual([9, 100, 40]);
    expect(decoded([{ op: 'openConsole', socket: 9 }]).args[0].slice(0, 3)).toEqual([9, 0, 0]);
    expect(() => encodePlan([{ op: 'openConsole', socket: 9, size: { cols: 0, rows: 40 } }], exec)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('plan[0].size.cols') }));
  });

  it('encodes the internal wait mark as a WAIT step at its position, only when the caller allows it', () => {
    expect(decoded([{ op: 'setsid' }, { op: 'wait' }, { op: 'setsid' }]).ops).toEqual(['setsid', 'wait', 'setsid', 'exec']);
    expect(() => encodePlan([{ op: 'wait' }], exec)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('stores each string once, NUL-terminated, and points every use at it', () => {
    const p = decoded([
      { op: 'mkdir', path: '/tmp/a' },
      { op: 'chdir', path: '/tmp/a' },
      { op: 'sethostname', hostname: 'box' },
    ]);
    expect(p.args[0][0]).toBe(p.args[1][0]);
    expect(p.str(p.args[0][0])).toBe('/tmp/a');
    expect(p.str(p.args[2][0])).toBe('box');
    // argv[2] is '/tmp/a' too, and argv[0] is the exec file: the same offsets again.
    const ex = p.args[3];
    const argv = p.u32s(ex[1], ex[2]);
    expect(argv.map(p.str)).toEqual(exec.argv);
    expect(argv[0]).toBe(ex[0]);
    expect(argv[2]).toBe(p.args[0][0]);
    expect(p.u32s(ex[3], ex[4]).map(p.str)).toEqual(exec.env);
    expect(ex[5]).toBe(NONE);
    // Each distinct string appears exactly once in the table.
    const all = p.strings.toString('latin1');
    for (const s of ['/tmp/a\0', 'box\0', '/bin/echo\0', 'PATH=/usr/bin\0']) {
      expect(all.indexOf(s)).toBe(all.lastIndexOf(s));
    }
  });

  it('passes the PATH to search when the program has no slash', () => {
    const p = decoded([], { file: 'ls', argv: ['ls'], env: [], searchPath: '/usr/bin:/bin' });
    expect(p.ops).toEqual(['exec']);
    expect(p.str(p.args[0][0])).toBe('ls');
    expect(p.str(p.args[0][5])).toBe('/usr/bin:/bin');
    expect(p.args[0][4]).toBe(0);
  });

  it('aligns blobs to 4 bytes after odd-length strings, padding with zeros', () => {
    const filter = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const p = decoded([
      { op: 'sethostname', hostname: 'abcde' }, // 6 bytes with its NUL
      { op: 'setgroups', groups: [10, 20, 0xfffffffe] },
      { op: 'sethostname', hostname: 'x' },
      { op: 'seccomp', filter, flags: { tsync: true, log: true } },
    ]);
    const [groupsAt, count] = p.args[1];
    expect(groupsAt % 4).toBe(0);
    expect(groupsAt).toBeGreaterThan(p.args[0][0]);
    expect([...p.strings.subarray(6, groupsAt)].every((b) => b === 0)).toBe(true);
    expect(count).toBe(3);
    expect(p.u32s(groupsAt, count)).toEqual([10, 20, 0xfffffffe]);
    const [filterAt, length, flags] = p.args[3];
    expect(filterAt % 4).toBe(0);
    expect(length).toBe(16);
    expect([...p.strings.subarray(filterAt, filterAt + 16)]).toEqual([...filter]);
    expect(flags).toBe(1 | 2); // SECCOMP_FILTER_FLAG_TSYNC | _LOG
  });

  it('splits 64-bit rlimits into lo/hi words; unlimited is RLIM_INFINITY', () => {
    const p = decoded([
      { op: 'setrlimit', resource: 'fsize', soft: 2 ** 40 + 5, hard: 'unlimited' },
      { op: 'setrlimit', resource: 'nofile', soft: 1024n, hard: (1n << 63n) + 7n },
      { op: 'setrlimit', resource: 'rttime', soft: 0, hard: 0 },
    ]);
    expect(p.args[0].slice(0, 5)).toEqual([1, 5, 256, NONE, NONE]); // RLIMIT_FSIZE = 1
    expect(p.args[1].slice(0, 5)).toEqual([7, 1024, 0, 7, 0x80000000]); // RLIMIT_NOFILE = 7
    expect(p.args[2].slice(0, 5)).toEqual([15, 0, 0, 0, 0]); // RLIMIT_RTTIME = 15
  });

  it('splits capability masks into lo/hi words', () => {
    const p = decoded([
      {
        op: 'capabilities',
        bounding: ['CAP_SYS_ADMIN', 'CAP_CHECKPOINT_RESTORE', 'CAP_KILL'],
        permitted: ['CAP_SYS_ADMIN', 'CAP_CHECKPOINT_RESTORE', 'CAP_KILL'],
        effective: ['CAP_CHECKPOINT_RESTORE'],
        inheritable: ['CAP_KILL'],
        ambient: ['CAP_KILL'],
      },
    ]);
    const [bndLo, bndHi, effLo, effHi, prmLo, prmHi, inhLo, inhHi, ambLo, ambHi] = p.args[0];
    expect([bndLo, bndHi]).toEqual([(1 << 21) | (1 << 5), 1 << 8]);
    expect([effLo, effHi]).toEqual([0, 1 << 8]);
    expect([prmLo, prmHi]).toEqual([bndLo, bndHi]);
    expect([inhLo, inhHi, ambLo, ambHi]).toEqual([1 << 5, 0, 1 << 5, 0]);
  });

  it('defaults capability sets: bounding all, effective and permitted the bounding set, the rest empty', () => {
    const all = capabilityMask('c', 'all');
    const lo = Number(all & 0xffffffffn);
    const hi = Number(all >> 32n);
    expect(decoded([{ op: 'capabilities' }]).args[0].slice(0, 10)).toEqual([lo, hi, lo, hi, lo, hi, 0, 0, 0, 0]);
    expect(decoded([{ op: 'capabilities', bounding: ['CAP_CHOWN'] }]).args[0].slice(0, 10)).toEqual([1, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
    // An explicit empty set is empty, not the default.
    expect(decoded([{ op: 'capabilities', effective: [] }]).args[0].slice(0, 6)).toEqual([lo, hi, 0, 0, lo, hi]);
  });

  it('encodes mount, bind, mountSetattr and umount arguments', () => {
    const p = decoded([
      { op: 'mount', source: 'tmpfs', target: '/t', type: 'tmpfs', flags: { nosuid: true, nodev: true }, data: 'size=1m' },
      { op: 'mount', target: '/', flags: { private: true, recursive: true } },
      { op: 'bind', source: '/a', target: '/b', recursive: true, createTarget: true, readonly: true, nosuid: false, propagation: 'slave' },
      { op: 'mountSetattr', path: '/b', recursive: true, atime: 'noatime' },
      { op: 'umount', target: '/t', detach: true },
      { op: 'remountReadonly', path: '/b', recursive: true },
    ]);
    const [src, tgt, type, flags, data] = p.args[0];
    expect([p.str(src), p.str(tgt), p.str(type), flags, p.str(data)]).toEqual(['tmpfs', '/t', 'tmpfs', 2 | 4, 'size=1m']);
    expect(p.args[1].slice(0, 5)).toEqual([NONE, p.args[1][1], NONE, (1 << 18) | 16384, NONE]);
    expect(p.str(p.args[1][1])).toBe('/');
    expect(p.args[2].slice(2, 6)).toEqual([1 | 2, 0x1, 0x2, 1 << 19]);
    expect(p.args[3].slice(1, 5)).toEqual([0x8000, 0x10, 0x70, 0]); // AT_RECURSIVE
    expect(p.args[4].slice(1, 2)).toEqual([2]); // MNT_DETACH
    expect(p.args[5].slice(1, 2)).toEqual([1]);
  });

  it('encodes pivotRoot with and without putOld, trailing slashes dropped', () => {
    const p = decoded([
      { op: 'pivotRoot', newRoot: '/new/' },
      { op: 'pivotRoot', newRoot: '/new', putOld: '/new/.old/' },
    ]);
    expect(p.str(p.args[0][0])).toBe('/new');
    expect(p.args[0].slice(1, 3)).toEqual([NONE, NONE]);
    expect([p.str(p.args[1][1]), p.str(p.args[1][2])]).toEqual(['/new/.old', '/.old']);
  });

  it('encodes nodes: S_IF* | mode, and the device as new_encode_dev', () => {
    const p = decoded([
      { op: 'mknod', path: '/dev/null', type: 'char', major: 1, minor: 3 },
      { op: 'mknod', path: '/dev/big', type: 'block', major: 259, minor: 300, mode: 0o600 },
      { op: 'mknod', path: '/fifo', type: 'fifo', mode: 0o640 },
      { op: 'mkdir', path: '/d', recursive: true },
      { op: 'mask', path: '/secret' },
    ]);
    expect(p.args[0].slice(1, 3)).toEqual([0o020666, 0x103]);
    expect(p.args[1].slice(1, 3)).toEqual([0o060600, (300 & 0xff) | (259 << 8) | ((300 & ~0xff) << 12)]);
    expect(p.args[2].slice(1, 3)).toEqual([0o010640, 0]);
    expect(p.args[3].slice(1, 3)).toEqual([0o755, 1]);
    expect(p.str(p.args[4][1])).toBe('/dev/null');
  });

  it('describes each step for error messages, exec included', () => {
    const { steps } = encodePlan([{ op: 'chdir', path: '/x' }, { op: 'sethostname', hostname: 'h' }, { op: 'setsid' }], exec);
    expect(steps).toEqual([
      { op: 'chdir', path: '/x' },
      { op: 'sethostname', path: 'h' },
      { op: 'setsid', path: undefined },
      { op: 'exec', path: '/bin/echo' },
    ]);
  });
});

describe('the addon decodes plans before cloning, and refuses broken ones', () => {
  const good = () => Buffer.from(encodePlan([{ op: 'chdir', path: '/' }], { file: '/bin/true', argv: ['/bin/true'], env: [], searchPath: null }).buffer);
  const options = () => ({ flags: 0, cgroupFd: -1, stdio: [] as number[] });
  /** The addon's TypeError message; a buffer it accepted would have been cloned, so that fails too. */
  const refuse = (buffer: Buffer): string => {
    try {
      native.spawn(buffer, options(), () => {});
    } catch (e) {
      expect(e).toBeInstanceOf(TypeError);
      return (e as Error).message;
    }
    return 'accepted';
  };

  it('bad magic, bad version, wrong length', () => {
    const a = good();
    a.writeUInt32LE(0x12345678, 0);
    expect(refuse(a)).toBe('plan: bad magic or version');
    const b = good();
    b.writeUInt32LE(2, 4);
    expect(refuse(b)).toBe('plan: bad magic or version');
    expect(refuse(good().subarray(0, good().length - 1))).toBe('plan: length mismatch');
    expect(refuse(good().subarray(0, 8))).toBe('plan: truncated header');
  });

  it('exec not last, an unknown op, a string offset outside the table', () => {
    const notLast = good();
    notLast.writeUInt32LE(24, 16); // step 0 becomes exec
    notLast.writeUInt32LE(12, 16 + 52); // the last becomes chdir
    expect(refuse(notLast)).toBe('plan: exec must be the last step, once');
    const unknown = good();
    unknown.writeUInt32LE(99, 16);
    expect(refuse(unknown)).toBe('plan: unknown op at step 0');
    const outside = good();
    outside.writeUInt32LE(outside.readUInt32LE(12) + 10, 16 + 4); // chdir's path
    expect(refuse(outside)).toBe('plan: bad string or blob at step 0');
  });

  it('a second fork step (the parent follows one switch to a grandchild)', () => {
    const twice = Buffer.from(encodePlan([{ op: 'chdir', path: '/' }, { op: 'fork' }], { file: '/bin/true', argv: ['/bin/true'], env: [], searchPath: null }).buffer);
    twice.writeUInt32LE(27, 16); // the chdir becomes a fork
    expect(refuse(twice)).toBe('plan: at most one fork step');
  });
});
