// Errors are Node-shaped: system errors carry code, a negative errno, syscall, path/dest
// and a message like Node's; argument errors carry ERR_INVALID_ARG_* codes.
import util from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidArgTypeError, InvalidArgValueError, NsboxSystemError, OutOfRangeError, StateError, pidfdOpen } from '../../lib/index';
import { THREADED_HINT, errnoName, systemError, withHint } from '../../lib/errors';

describe('NsboxSystemError', () => {
  it("formats like Node's own: CODE: description, syscall 'path' -> 'dest'", () => {
    const e = new NsboxSystemError(1, 'mount', 'proc', '/rootfs/proc');
    expect(e.message).toBe("EPERM: operation not permitted, mount 'proc' -> '/rootfs/proc'");
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('SystemError');
    expect(e).toMatchObject({ code: 'EPERM', errno: -1, syscall: 'mount', path: 'proc', dest: '/rootfs/proc' });
  });

  it('has the same code, errno and description as a Node fs error for the same errno', () => {
    let nodeError!: NodeJS.ErrnoException;
    try {
      require('node:fs').readFileSync('/nonexistent/nsbox');
    } catch (e) {
      nodeError = e as NodeJS.ErrnoException;
    }
    const e = new NsboxSystemError(2, 'open', '/nonexistent/nsbox');
    expect(e.code).toBe(nodeError.code);
    expect(e.errno).toBe(nodeError.errno);
    expect(e.message).toBe(nodeError.message);
  });

  it('leaves out path and dest when there are none', () => {
    const e = new NsboxSystemError(22, 'unshare');
    expect(e.message).toBe('EINVAL: invalid argument, unshare');
    expect(e.path).toBeUndefined();
    expect(e.dest).toBeUndefined();
    expect(e.step).toBeUndefined();
  });

  it('names errnos the way libuv does', () => {
    expect(errnoName(13)).toBe('EACCES');
    expect(errnoName(38)).toBe('ENOSYS');
    expect(errnoName(util.getSystemErrorMap().size + 100000)).toMatch(/^Unknown system error/);
  });

  it('withHint records the hint and adds it to the message; no hint changes nothing', () => {
    const e = withHint(new NsboxSystemError(22, 'unshare'), THREADED_HINT);
    expect(e.hint).toBe(THREADED_HINT);
    expect(e.message).toBe(`EINVAL: invalid argument, unshare (hint: ${THREADED_HINT})`);
    const f = withHint(new NsboxSystemError(22, 'unshare'), undefined);
    expect(f.hint).toBeUndefined();
    expect(f.message).toBe('EINVAL: invalid argument, unshare');
  });

  it('is what the addon throws: its errors are built by the factory (a pid that cannot exist)', () => {
    expect(systemError(3, 'kill')).toBeInstanceOf(NsboxSystemError);
    // pid_max is at most 2^22: pidfd_open of 2^30-1 is ESRCH on every kernel.
    let e: unknown;
    try {
      pidfdOpen(0x3fffffff);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(NsboxSystemError);
    expect(e).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'pidfd_open', message: 'ESRCH: no such process, pidfd_open' });
  });
});

describe('argument errors', () => {
  it('InvalidArgTypeError: TypeError, ERR_INVALID_ARG_TYPE, what was received', () => {
    const e = new InvalidArgTypeError('options.command', 'an instance of Array', 'ls');
    expect(e).toBeInstanceOf(TypeError);
    expect(e.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(e.message).toBe(`The "options.command" argument must be an instance of Array. Received type string ('ls')`);
    expect(new InvalidArgTypeError('x', 'of type string', null).message).toContain('Received null');
    expect(new InvalidArgTypeError('x', 'of type string', new Map()).message).toContain('Received an instance of Map');
    expect(new InvalidArgTypeError('x', 'of type string', 'y'.repeat(100)).message).toMatch(/Received type string \('y{24}\.\.\.\)$/);
  });

  it('InvalidArgValueError: TypeError, ERR_INVALID_ARG_VALUE, the reason and the value', () => {
    const e = new InvalidArgValueError('options.plan[0].path', 'tmp', 'must be an absolute path');
    expect(e).toBeInstanceOf(TypeError);
    expect(e.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(e.message).toBe("The argument 'options.plan[0].path' must be an absolute path. Received 'tmp'");
  });

  it('OutOfRangeError: RangeError, ERR_OUT_OF_RANGE, the range and the value', () => {
    const e = new OutOfRangeError('options.plan[0].hostname.length', 'at most 64 bytes', 65);
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe('ERR_OUT_OF_RANGE');
    expect(e.message).toBe('The value of "options.plan[0].hostname.length" is out of range. It must be at most 64 bytes. Received 65');
  });

  it('StateError keeps its stable code', () => {
    const e = new StateError('ERR_NSBOX_CHILD_LOST', 'gone');
    expect(e.code).toBe('ERR_NSBOX_CHILD_LOST');
    expect(e.message).toBe('gone');
  });
});
