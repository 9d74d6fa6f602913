// Pseudoterminals for spawned programs: openPty() gives the master end as a Node Duplex
// (reading gives the terminal's output, writing types into it) and the slave end as an fd
// to pass as a child's stdio, with `setsid` and `setctty` plan steps before the exec.
//
// How the master becomes a stream. Node has no public stream over an arbitrary tty fd:
// - net.Socket({ fd }) refuses one (guessHandleType says 'TTY': ERR_INVALID_FD_TYPE);
//   node-pty builds a pipe handle itself through process.binding('pipe_wrap'), an internal
//   API deprecated since Node 11 (DEP0111);
// - tty.WriteStream makes the fd blocking (setBlocking(true), lib/tty.js), and the flag is
//   the open file's: a read on it would then block the event loop;
// - fs streams read on the thread pool, one blocked thread per terminal.
// tty.ReadStream is what works: its libuv TTY handle is non-blocking, polled on the loop,
// and on Unix readable and writable as the fd's access mode allows (uv_tty_init; the
// master is O_RDWR). Its constructor passes options on to net.Socket, so `writable: true`
// opens the write side. libuv does not reopen a master as it does a slave (uv__tty_is_slave).
//
// How it ends. On Linux a master's read fails with EIO once no slave fd is open anywhere
// (after the output still buffered: n_tty_read drains it first). The socket reports that
// as an 'error' (EIO), or as a plain end when libuv saw the hang-up first; both end this
// stream cleanly. So the parent must close its own slave fd once the child has it
// (closeSlave): until then the terminal has a reader-side holder and never hangs up.
//
// A terminal made in the child. A container has its own devpts instance at /dev/pts: a pty
// of the host's is not in it, so `tty` there says "not a tty". An `openConsole` plan step
// makes the pty in the child after pivot_root and sends the master back over a unix socket
// (runc's console socket): openConsoleSocket() makes that socket, and its receive() wraps
// the master as a Pty that has no slave fd in this process at all.
import fs from 'node:fs';
import { Duplex } from 'node:stream';
import tty from 'node:tty';
import { NsboxSystemError, StateError } from './errors';
import { native } from './native';
import * as v from './validate';

const EIO = 5;

export interface PtyOptions {
  /** Columns of the window. @default 80 */
  cols?: number;
  /** Rows of the window. @default 24 */
  rows?: number;
}

/**
 * The master end of a pseudoterminal as a Duplex: read the program's output (with the
 * terminal's echo and its `\r\n` line ends), write what is typed. `end()` only stops writing;
 * an end of input on the terminal is `'\x04'` (VEOF). The stream ends once every slave fd
 * is closed (the program and its children have exited); `destroy()` closes the master,
 * which hangs up the terminal (SIGHUP to its session), and the slave fd if still open:
 * both are closed when the stream emits 'close'.
 */
export class Pty extends Duplex {
  /** The slave's path (`/dev/pts/N`): what `tty` prints in the child. */
  readonly path: string;
  #socket: tty.ReadStream;
  #fd: number;
  #slave: number;
  #cols: number;
  #rows: number;

  /** @internal use {@link openPty} */
  constructor(master: number, slave: number, path: string, cols: number, rows: number) {
    super({ allowHalfOpen: false });
    this.path = path;
    this.#fd = master;
    this.#slave = slave;
    this.#cols = cols;
    this.#rows = rows;
    const socket = new tty.ReadStream(master, { readable: true, writable: true });
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => {
      this.#drain();
      this.push(null);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EIO' && e.syscall === 'read') this.push(null);
      else this.destroy(e);
    });
  }

  /**
   * libuv ends a stream on POLLHUP after a short read without reading on to the error
   * (uv__stream_io), but what the program wrote just before it exited may not have reached
   * the master yet: the kernel hands it over from a workqueue (tty_flip_buffer_push), and a
   * read once the slave is closed waits for that and returns it, then EIO (n_tty_read).
   * Read it here, at 'end', while the handle and so the fd are still open (non-blocking:
   * libuv made it so).
   */
  #drain(): void {
    if (this.#socket.destroyed) return;
    const buf = Buffer.allocUnsafe(16384);
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(this.#fd, buf);
      } catch {
        return; // EIO: all of it read; EAGAIN: nothing more
      }
      if (n === 0) return;
      this.push(Buffer.from(buf.subarray(0, n)));
    }
  }

  /** The master fd, owned by this stream; -1 once closed. */
  get fd(): number {
    return this.#socket.destroyed ? -1 : this.#fd;
  }

  /** This process's slave fd, for a child's stdio; -1 once closed. */
  get slaveFd(): number {
    return this.#slave;
  }

  get cols(): number {
    return this.#cols;
  }

  get rows(): number {
    return this.#rows;
  }

  /**
   * Closes this process's copy of the slave, once a child holds its own (after `spawn`
   * resolved or rejected): until then the terminal never hangs up and the stream never ends.
   */
  closeSlave(): void {
    if (this.#slave < 0) return;
    const fd = this.#slave;
    this.#slave = -1;
    fs.closeSync(fd);
  }

  /** Sets the window size (TIOCSWINSZ); the program's foreground process group gets SIGWINCH. */
  resize(cols: number, rows: number): void {
    v.integer('cols', cols, 1, 65535);
    v.integer('rows', rows, 1, 65535);
    if (this.#socket.destroyed) throw new StateError('ERR_NSBOX_PTY_CLOSED', 'the pty is closed');
    native.ptyResize(this.#fd, cols, rows);
    this.#cols = cols;
    this.#rows = rows;
  }

  /** Lets the event loop exit while the terminal is open. */
  unref(): this {
    this.#socket.unref();
    return this;
  }

  ref(): this {
    this.#socket.ref();
    return this;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // After the hang-up the master is closed: what a write to it would say.
    if (this.#socket.destroyed) callback(new NsboxSystemError(EIO, 'write', this.path));
    else this.#socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    callback(); // the master stays open for the output
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    try {
      this.closeSlave();
    } catch (e) {
      error ??= e as Error;
    }
    // 'close' once libuv has closed the master (a loop turn after destroy): then no fd is left.
    if (this.#socket.closed) return callback(error);
    this.#socket.once('close', () => callback(error));
    this.#socket.destroy();
  }
}

/**
 * Opens a pseudoterminal: the master as a {@link Pty} (close-on-exec, never this process's
 * controlling terminal), the slave as `pty.slaveFd` for a child's stdio.
 *
 * @example
 * const pty = openPty({ cols: 100, rows: 40 });
 * const child = await spawn({ command: ['sh'], stdio: [pty.slaveFd, pty.slaveFd, pty.slaveFd], plan: [{ op: 'setsid' }, { op: 'setctty' }] });
 * pty.closeSlave();
 * pty.pipe(process.stdout);
 */
export function openPty(options: PtyOptions = {}): Pty {
  const { cols, rows } = windowSize(options);
  const [master, slave, path] = native.openpty();
  try {
    native.ptyResize(master, cols, rows);
    return new Pty(master, slave, path, cols, rows);
  } catch (e) {
    fs.closeSync(master);
    fs.closeSync(slave);
    throw e;
  }
}

function windowSize(options: PtyOptions): { cols: number; rows: number } {
  const o = v.object('options', options);
  v.knownKeys('options', o, ['cols', 'rows']);
  const cols = o.cols === undefined ? 80 : v.integer('options.cols', o.cols, 1, 65535);
  const rows = o.rows === undefined ? 24 : v.integer('options.rows', o.rows, 1, 65535);
  return { cols, rows };
}

/**
 * Wraps a pty master fd this process received (from an `openConsole` step) as a {@link Pty},
 * which owns it from then on (closed here if this throws). `path` is `/dev/pts/N` in the
 * devpts instance the master came from (TIOCGPTN): the path the program sees. There is no
 * slave fd here (`slaveFd` is -1): the stream ends once the program's side has closed.
 */
export function ptyFromMaster(master: number, options: PtyOptions = {}): Pty {
  v.integer('master', master, 0, 0x7fffffff);
  let size;
  try {
    size = windowSize(options);
    const path = `/dev/pts/${native.ptyNumber(master)}`;
    native.ptyResize(master, size.cols, size.rows);
    return new Pty(master, -1, path, size.cols, size.rows);
  } catch (e) {
    fs.closeSync(master);
    throw e;
  }
}

/** Both ends of a console socket: see {@link openConsoleSocket}. */
export interface ConsoleSocket {
  /** The end the child inherits (close-on-exec, so never the program's): an `openConsole` step's `socket`. */
  readonly childFd: number;
  /**
   * The master the child sent, as a {@link Pty} sized as asked. Throws EAGAIN if it has not
   * been sent (the child failed or has not reached its `openConsole` step): call it once the
   * spawn has resolved.
   */
  receive(options?: PtyOptions): Pty;
  /** Closes both ends, and with them a master sent but not received. Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}

/**
 * A unix socket pair for an `openConsole` plan step (runc's console socket): the child sends
 * the master of the pty it made over `childFd`; this process receives it as a {@link Pty}.
 * Close it once the spawn has resolved or failed.
 *
 * @example
 * using sock = openConsoleSocket();
 * const child = await spawn({ command: ['sh'], namespaces: ['mount'], stdio: 'ignore', plan: [
 *   { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
 *   { op: 'mount', source: 'devpts', target: '/dev/pts', type: 'devpts', data: 'newinstance,ptmxmode=0666' },
 *   { op: 'openConsole', socket: sock.childFd },
 * ] });
 * const pty = sock.receive({ cols: 100, rows: 40 }); // pty.path: '/dev/pts/0'
 */
export function openConsoleSocket(): ConsoleSocket {
  let [fd, childFd] = native.socketpair();
  const close = () => {
    if (fd < 0) return;
    const ends = [fd, childFd];
    fd = childFd = -1;
    for (const end of ends) fs.closeSync(end);
  };
  return {
    get childFd() {
      return childFd;
    },
    receive(options: PtyOptions = {}) {
      const size = windowSize(options);
      if (fd < 0) throw new StateError('ERR_NSBOX_CONSOLE_CLOSED', 'the console socket is closed');
      return ptyFromMaster(native.recvFd(fd), size);
    },
    close,
    [Symbol.dispose]: close,
  };
}
