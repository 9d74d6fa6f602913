// Pseudoterminals for spawned programs: openPty() gives the master end as a Node Duplex
// (reading gives the terminal's output, writing types into it) and the slave end as an fd
// to pass as a child's stdio, with `setsid` and `setctty` plan steps before the exec.
//
// How the master becomes a stream. Node has no stream that carries a tty fd without blocking:
// - net.Socket({ fd }) refuses one (guessHandleType says 'TTY': ERR_INVALID_FD_TYPE);
//   node-pty builds a pipe handle itself through process.binding('pipe_wrap'), an internal
//   API deprecated since Node 11 (DEP0111);
// - tty.ReadStream/WriteStream leave a master's writes blocking: libuv makes a tty handle
//   non-blocking only by reopening a slave (uv_tty_init, uv__tty_is_slave); for anything else
//   it sets UV_HANDLE_BLOCKING_WRITES. A write then waits in the event loop until the program
//   reads it, for good if it never does (and its timeout, on the same loop, never fires);
// - fs streams read and write on the thread pool, one blocked thread per terminal.
// So the master is non-blocking, an fd watch of the addon's (fdWatch, libuv's poll on this
// loop) says when it can be read or written, and this class reads and writes it itself.
//
// How it ends. On Linux a master's read fails with EIO once no slave fd is open anywhere,
// after the output still buffered (n_tty_read flushes the kernel's hand-over of it first).
// That ends this stream. Writes do not fail then: they fill the terminal's buffer, and then
// wait for a reader that never comes. The master polls POLLHUP meanwhile (the watch reports
// it): the program is gone, and what is being written is dropped, as a terminal drops what
// is typed after its program exited. So the parent must close its own slave fd once the child
// has it (closeSlave): until then the terminal has a holder and never hangs up.
//
// A terminal made in the child. A container has its own devpts instance at /dev/pts: a pty
// of the host's is not in it, so `tty` there says "not a tty". An `openConsole` plan step
// makes the pty in the child after pivot_root and sends the master back over a unix socket
// (runc's console socket): openConsoleSocket() makes that socket, and its receive() wraps
// the master as a Pty that has no slave fd in this process at all.
import fs from 'node:fs';
import { Duplex } from 'node:stream';
import { StateError } from './errors';
import { native, WATCH_ERROR, WATCH_HANGUP, WATCH_READABLE, WATCH_WRITABLE } from './native';
import * as v from './validate';

export interface PtyOptions {
  /** Columns of the window. @default 80 */
  cols?: number;
  /** Rows of the window. @default 24 */
  rows?: number;
}

/** One read's worth; what is read is copied out of it. */
const READ_SIZE = 65536;
/**
 * Reads per event at most, as libuv's streams do (32 per loop turn): a program that writes
 * without pause (`yes`) would otherwise hold the event loop, its timers and signals, for as
 * long as it runs. The watch is level-triggered: the rest is read on the next turn.
 */
const READS_PER_TURN = 32;
let scratch: Buffer | undefined;

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  callback: (error?: Error | null) => void;
}

/**
 * The master end of a pseudoterminal as a Duplex: read the program's output (with the
 * terminal's echo and its `\r\n` line ends), write what is typed. Neither ever blocks the
 * event loop: a write the terminal cannot take yet waits for the program to read.
 *
 * `end()` only stops writing; an end of input on the terminal is `'\x04'` (VEOF) at the start
 * of a line. The stream ends once every slave fd is closed (the program and its children have
 * exited); what is still being written then is dropped. `destroy()` closes the master, which
 * hangs up the terminal (SIGHUP to its session), and the slave fd if still open: both are
 * closed when the stream emits 'close'.
 */
export class Pty extends Duplex {
  /** The slave's path (`/dev/pts/N`): what `tty` prints in the child. */
  readonly path: string;
  #fd: number;
  #watch: number;
  #slave: number;
  #cols: number;
  #rows: number;
  /** Wanted by the consumer (_read called, push not yet refused). */
  #reading = false;
  #pending: PendingWrite | null = null;
  /** No slave is open (POLLHUP, or a write failed with EIO): what is written is dropped. */
  #hungUp = false;
  /** The read side has ended (EIO). */
  #readEnded = false;
  /** Whether the user lets the event loop exit while the terminal is open (unref()). */
  #unref = false;
  /** Whether the native watch keeps the loop alive now: unless unref'd with nothing to write. */
  #reffed = true;
  /** Reads since the last watch event: the turn's budget, shared with the stream's own _read calls. */
  #turnReads = 0;

  /** @internal use {@link openPty} */
  constructor(master: number, slave: number, path: string, cols: number, rows: number) {
    super({ allowHalfOpen: false });
    this.path = path;
    this.#slave = slave;
    this.#cols = cols;
    this.#rows = rows;
    // The watch owns the master from here (and makes it non-blocking).
    this.#watch = native.fdWatch(master, (events) => this.#onEvents(events));
    this.#fd = master;
  }

  #onEvents(events: number): void {
    if (this.destroyed) return;
    this.#turnReads = 0; // a new turn of the event loop
    // No slave is open: the program is gone, and a write would only fill the terminal's buffer.
    if (events & WATCH_HANGUP) this.#hangUp();
    if (events & (WATCH_WRITABLE | WATCH_ERROR)) this.#flush();
    if (events & (WATCH_READABLE | WATCH_ERROR)) this.#readAll();
    this.#rearm();
  }

  /**
   * Waits for what is wanted now: readable while read, writable while a write waits. A write
   * that waits keeps the event loop alive even after unref(), as a socket's does.
   */
  #rearm(): void {
    if (this.#fd < 0) return;
    native.fdWatchStart(this.#watch, (this.#reading ? WATCH_READABLE : 0) | (this.#pending ? WATCH_WRITABLE : 0));
    const ref = !this.#unref || this.#pending !== null;
    if (ref !== this.#reffed) native.fdWatchRef(this.#watch, ref);
    this.#reffed = ref;
  }

  /** Reads until the terminal has nothing more (EAGAIN), the consumer has enough, it hung up, or for a turn's worth. */
  #readAll(): void {
    // The budget is the turn's: the stream calls _read again as its consumer drains what was
    // pushed, within the same turn, and those reads count too.
    for (; this.#reading && this.#fd >= 0 && this.#turnReads < READS_PER_TURN; this.#turnReads++) {
      scratch ??= Buffer.allocUnsafe(READ_SIZE);
      let n = 0; // EIO: no slave is open any more, and all of the output is read
      try {
        n = fs.readSync(this.#fd, scratch, 0, READ_SIZE, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return;
        if (code === 'EINTR') continue;
        if (code !== 'EIO') return void this.destroy(e as Error);
      }
      if (n === 0) {
        this.#readEnded = true;
        this.#reading = false;
        this.push(null);
        return;
      }
      if (!this.push(Buffer.from(scratch.subarray(0, n)))) this.#reading = false;
    }
  }

  /** What is being written, and all that follows, is dropped. */
  #hangUp(): void {
    this.#hungUp = true;
    const p = this.#pending;
    this.#pending = null;
    p?.callback();
  }

  /** Writes what waits until the terminal takes no more (EAGAIN) or the program is gone (EIO). */
  #flush(): void {
    const p = this.#pending;
    if (!p) return;
    while (p.offset < p.chunk.length) {
      try {
        p.offset += fs.writeSync(this.#fd, p.chunk, p.offset, p.chunk.length - p.offset);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return;
        if (code === 'EINTR') continue;
        if (code === 'EIO') return this.#hangUp();
        this.#pending = null;
        return p.callback(e as Error);
      }
    }
    this.#pending = null;
    p.callback();
  }

  /** The master fd, owned by this stream; -1 once closed. */
  get fd(): number {
    return this.#fd;
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
    if (this.#fd < 0) throw new StateError('ERR_NSBOX_PTY_CLOSED', 'the pty is closed');
    native.ptyResize(this.#fd, cols, rows);
    this.#cols = cols;
    this.#rows = rows;
  }

  /** Lets the event loop exit while the terminal is open (but not while a write waits). */
  unref(): this {
    this.#unref = true;
    this.#rearm();
    return this;
  }

  ref(): this {
    this.#unref = false;
    this.#rearm();
    return this;
  }

  override _read(): void {
    if (this.#reading || this.#readEnded || this.#fd < 0) return;
    this.#reading = true;
    // What is there now, at once; the watch says when more comes.
    this.#readAll();
    this.#rearm();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // The program is gone: dropped, as what is typed into a terminal nobody reads.
    if (this.#hungUp || this.#fd < 0) return callback();
    this.#pending = { chunk, offset: 0, callback };
    this.#flush();
    this.#rearm();
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
    if (this.#fd >= 0) {
      this.#fd = -1;
      native.fdWatchClose(this.#watch); // and the master with it
    }
    // A write still waiting is told, and so (by the stream) are those queued behind it.
    const p = this.#pending;
    this.#pending = null;
    p?.callback(Object.assign(new Error('the pty was destroyed before this write completed'), { code: 'ERR_STREAM_DESTROYED' }));
    callback(error);
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
  } catch (e) {
    fs.closeSync(master);
    fs.closeSync(slave);
    throw e;
  }
  try {
    return new Pty(master, slave, path, cols, rows); // owns the master, even when it throws
  } catch (e) {
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
  let size, path;
  try {
    size = windowSize(options);
    path = `/dev/pts/${native.ptyNumber(master)}`;
    native.ptyResize(master, size.cols, size.rows);
  } catch (e) {
    fs.closeSync(master);
    throw e;
  }
  return new Pty(master, -1, path, size.cols, size.rows); // owns the master, even when it throws
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
