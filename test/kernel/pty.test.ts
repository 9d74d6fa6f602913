// A program on a pseudoterminal: the slave as its stdio and controlling terminal (setsid,
// setctty), the master as a Duplex in this process with the window size set through it; the
// stream ends cleanly once the program has exited, and no fd is left. Then the terminal made
// in the child (openConsole) on its own devpts instance, the master sent back over a socket.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Step } from '../../lib/plan';
import { openConsoleSocket, openPty, type Pty } from '../../lib/pty';
import { spawn, spawnWith, type StdioEntry } from '../../lib/spawn';
import { isRoot, ns, repoRoot, runNode, sh, STRATEGIES } from '../helpers/env';
import { expectNoLeaks, openFds } from '../helpers/proc';

/** Everything the terminal prints until its end; `until` gets the text so far. */
/** The terminal's output; `input` is typed once `marker` has appeared (the terminal echoes at once). */
function typeAfter(pty: Pty, marker: string, input: string): Promise<string> {
  let typed = false;
  return output(pty, (out) => {
    if (!typed && out.includes(marker)) {
      typed = true;
      pty.write(input);
    }
  });
}

function output(pty: Pty, until?: (text: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    pty.setEncoding('utf8');
    pty.on('data', (d: string) => {
      out += d;
      until?.(out);
    });
    pty.on('error', reject);
    pty.on('end', () => resolve(out));
  });
}

describe('pty', () => {
  it('a shell on the slave: its tty, the size set through the master, what is typed, and a clean end', async () => {
    const before = openFds();
    const pty = openPty();
    expect([pty.cols, pty.rows]).toEqual([80, 24]);
    pty.resize(100, 40);
    expect([pty.cols, pty.rows]).toEqual([100, 40]);
    expect(pty.path).toMatch(/^\/dev\/pts\/\d+$/);
    const slave = pty.slaveFd;
    // spawn(): its defaults (CLONE_VM on x86_64); the other tests copy the memory.
    const child = await spawn({
      command: sh('tty; stty size; read x; echo got:$x'),
      namespaces: ns(),
      stdio: [slave, slave, slave],
      plan: [{ op: 'setsid' }, { op: 'setctty' }],
    });
    pty.closeSlave();
    expect(pty.slaveFd).toBe(-1);
    const text = typeAfter(pty, '40 100\r\n', 'hello\n');
    const [out, status] = await Promise.all([text, child.exited]);
    expect(status).toEqual({ code: 0, signal: null });
    // The terminal's line ends (ONLCR) and its echo of what was typed.
    expect(out).toBe(`${pty.path}\r\n40 100\r\nhello\r\ngot:hello\r\n`);
    if (!pty.closed) await new Promise((r) => pty.once('close', r));
    expect(pty.fd).toBe(-1);
    expect(() => pty.resize(80, 24)).toThrow(expect.objectContaining({ code: 'ERR_NSBOX_PTY_CLOSED' }));
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it('the terminal is the controlling one: /dev/tty opens, its session is the shell, and a resize sends SIGWINCH', async () => {
    const before = openFds();
    const pty = openPty({ cols: 50, rows: 10 });
    const slave = pty.slaveFd;
    const script = "trap 'echo winch; stty size' WINCH; exec 3</dev/tty && echo ctty; ps -o sid= -p $$ | tr -d ' '; echo $$; read x; echo done";
    const child = await spawnWith({ command: sh(script), stdio: [slave, slave, slave], plan: [{ op: 'setsid' }, { op: 'setctty' }] }, {});
    pty.closeSlave();
    let step = 0;
    const text = output(pty, (out) => {
      if (step === 0 && /ctty\r\n\d+\r\n\d+\r\n/.test(out)) {
        step = 1;
        pty.resize(120, 30);
      } else if (step === 1 && out.includes('30 120\r\n')) {
        step = 2;
        pty.write('\n');
      }
    });
    const [out, status] = await Promise.all([text, child.exited]);
    expect(status).toEqual({ code: 0, signal: null });
    const [, sid, pid] = /ctty\r\n(\d+)\r\n(\d+)\r\n/.exec(out)!;
    expect(sid).toBe(pid); // a session leader
    expect(out).toContain('winch\r\n30 120\r\n');
    expect(out).toContain('done\r\n');
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it('a write larger than the terminal holds waits for the program to read it, never blocking the event loop', async () => {
    const before = openFds();
    const pty = openPty();
    const slave = pty.slaveFd;
    // Reads nothing until a resize (SIGWINCH), then counts what it reads up to the end of input.
    const script = "stty -echo; trap 'exec wc -c' WINCH; echo ready; while :; do sleep 0.05; done";
    const child = await spawnWith({ command: sh(script), stdio: [slave, slave, slave], plan: [{ op: 'setsid' }, { op: 'setctty' }] }, {});
    pty.closeSlave();
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const text = output(pty, (out) => out.includes('ready') && ready());
    await isReady;
    const big = Buffer.from(`${'x'.repeat(99)}\n`.repeat(10_000)); // 1 MB, in lines the terminal takes
    let written = false;
    const done = new Promise<void>((resolve, reject) => pty.write(big, (e) => (e ? reject(e) : resolve())));
    void done.then(() => (written = true));
    // The event loop runs on (a blocking write would never return) and the write waits.
    await new Promise((r) => setTimeout(r, 100));
    expect(written).toBe(false);
    pty.resize(81, 24);
    await done;
    pty.write('\x04'); // the end of input, at the start of a line
    const [out, status] = await Promise.all([text, child.exited]);
    expect(status).toEqual({ code: 0, signal: null });
    expect(out).toMatch(new RegExp(`ready\\r\\n\\s*${big.length}\\r\\n$`));
    if (!pty.closed) await new Promise((r) => pty.once('close', r));
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it('a program that writes without pause leaves the event loop its turns; destroy() during a waiting write calls back every write and end()', async () => {
    const before = openFds();
    const pty = openPty();
    const slave = pty.slaveFd;
    const child = await spawnWith({ command: ['/usr/bin/yes'], stdio: [slave, slave, slave], plan: [{ op: 'setsid' }, { op: 'setctty' }] }, {});
    pty.closeSlave();
    // 'data' events between two turns of the loop: a few reads' worth, never all that comes.
    let chunks = 0;
    let most = 0;
    pty.on('data', () => chunks++);
    await new Promise((r) => pty.once('data', r));
    for (let turn = 0; turn < 50; turn++) {
      await new Promise((r) => setImmediate(r));
      most = Math.max(most, chunks);
      chunks = 0;
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(64);
    pty.pause();
    // yes reads nothing: the first write waits, the second queues behind it, then end().
    const calls: string[] = [];
    pty.on('error', () => undefined);
    pty.write(Buffer.alloc(1 << 20, 0x61), (e) => calls.push(`first ${(e as NodeJS.ErrnoException | null)?.code}`));
    pty.write('second', (e) => calls.push(`second ${(e as NodeJS.ErrnoException | null)?.code}`));
    pty.end(() => calls.push('end'));
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([]);
    pty.destroy();
    await new Promise((r) => pty.once('close', r));
    expect(calls.slice(0, 2)).toEqual(['first ERR_STREAM_DESTROYED', 'second ERR_STREAM_DESTROYED']);
    expect(await child.exited).toEqual({ code: null, signal: 'SIGHUP' }); // the hang-up
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it('unref() lets Node exit with the terminal open, but not before a waiting write is written', async () => {
    const lib = JSON.stringify(path.join(repoRoot, 'lib', 'index.ts'));
    const out = await runNode(`
      const { openPty, spawn } = require(${lib});
      const pty = openPty();
      spawn({ command: ['/bin/sh', '-c', 'sleep 0.3; exec cat >/dev/null'], stdio: [pty.slaveFd, pty.slaveFd, pty.slaveFd], plan: [{ op: 'setsid' }, { op: 'setctty' }] }).then((child) => {
        pty.closeSlave();
        child.unref();
        pty.unref();
        pty.write(('y'.repeat(99) + '\\n').repeat(5000)); // 500 kB: far more than the terminal holds
        process.on('exit', () => console.log('left to write: ' + pty.writableLength));
      });`);
    expect(out).toMatchObject({ code: 0, stdout: 'left to write: 0\n' });
  });

  it('setctty needs a setsid step before it (and after any fork); sizes are checked', async () => {
    const pty = openPty();
    try {
      const slave = pty.slaveFd;
      const stdio = [slave, slave, slave];
      await expect(spawnWith({ command: ['/bin/true'], stdio, plan: [{ op: 'setctty' }] }, {}))
        .rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("options.plan[0]") });
      await expect(spawnWith({ command: ['/bin/true'], stdio, plan: [{ op: 'setsid' }, { op: 'fork' }, { op: 'setctty' }] }, {}))
        .rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("options.plan[2]") });
      // The kernel's own answer for a terminal that is not one: ENOTTY at that step.
      await expect(spawnWith({ command: ['/bin/true'], stdio: 'ignore', plan: [{ op: 'setsid' }, { op: 'setctty', fd: 0 }] }, {}))
        .rejects.toMatchObject({ code: 'ENOTTY', syscall: 'ioctl', step: 'setctty', stepIndex: 1 });
      expect(() => pty.resize(0, 10)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => pty.resize(10, 65536)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => openPty({ cols: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    } finally {
      pty.destroy();
    }
    // destroy() closed both ends.
    expect(pty.slaveFd).toBe(-1);
    await new Promise((r) => setImmediate(r));
    expect(fs.readdirSync('/proc/self/fd').map((fd) => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } })).not.toContain(pty.path);
  });
});

describe('openConsole', () => {
  // The child's own devpts instance on /dev/pts, as a container has: nothing mounted there
  // propagates back. In a user namespace gid 5 (tty) is not mapped.
  const devpts: Step[] = [
    { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
    { op: 'mount', source: 'devpts', target: '/dev/pts', type: 'devpts', flags: { nosuid: true, noexec: true }, data: `newinstance,ptmxmode=0666,mode=0620${isRoot ? ',gid=5' : ''}` },
  ];

  const cases: { name: string; stdio: StdioEntry[]; internals: (typeof STRATEGIES)[number]['internals'] }[] = [
    ...STRATEGIES.map(({ name, internals }) => ({ name, stdio: ['ignore', 'ignore', 'ignore'] as StdioEntry[], internals })),
    // fds 0-2 closed: the ptmx and the slave are opened onto them, and must be moved off.
    { name: 'stdio closed', stdio: [null, null, null], internals: { vm: false } },
  ];
  it.each(cases)('the pty is made in the child: tty names /dev/pts/0 of its devpts, the controlling terminal, sized from here ($name)', async ({ stdio, internals }) => {
    const before = openFds();
    const sock = openConsoleSocket();
    let pty: Pty;
    let child;
    try {
      child = await spawnWith({
        // The size after the input: the program runs before receive() sets it.
        command: sh('tty; exec 3</dev/tty && echo ctty; read x; stty size; echo got:$x'),
        namespaces: ns('mount', 'pid'),
        stdio,
        plan: [...devpts, { op: 'openConsole', socket: sock.childFd }],
      }, internals);
      pty = sock.receive({ cols: 100, rows: 40 });
    } finally {
      sock.close();
    }
    expect(pty.path).toBe('/dev/pts/0');
    expect(pty.slaveFd).toBe(-1);
    const text = typeAfter(pty, 'ctty\r\n', 'hello\n');
    const [out, status] = await Promise.all([text, child.exited]);
    expect(status).toEqual({ code: 0, signal: null });
    expect(out).toBe('/dev/pts/0\r\nctty\r\nhello\r\n40 100\r\ngot:hello\r\n');
    if (!pty.closed) await new Promise((r) => pty.once('close', r));
    expect(await expectNoLeaks(before)).toEqual([]);
  });

  it('the socket must be above the stdio fds, and no setsid before it; failures name the step and leave no fd', async () => {
    const before = openFds();
    const sock = openConsoleSocket();
    const notSocket = fs.openSync('/dev/null', 'r');
    try {
      const stdio: StdioEntry[] = ['ignore', 'ignore', 'ignore', 'ignore'];
      await expect(spawnWith({ command: ['/bin/true'], stdio, plan: [{ op: 'openConsole', socket: 3 }] }, {}))
        .rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.plan[0].socket') });
      await expect(spawnWith({ command: ['/bin/true'], plan: [{ op: 'setsid' }, { op: 'openConsole', socket: sock.childFd }] }, {}))
        .rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.plan[1]') });
      // Nothing sent yet.
      expect(() => sock.receive()).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'recvmsg' }));
      const namespaces = ns('mount');
      // No ptmx: an empty tmpfs on /dev/pts.
      await expect(spawnWith({
        command: ['/bin/true'],
        namespaces,
        stdio: 'ignore',
        plan: [devpts[0], { op: 'mount', source: 'tmpfs', target: '/dev/pts', type: 'tmpfs' }, { op: 'openConsole', socket: sock.childFd }],
      }, {})).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open', path: '/dev/pts/ptmx', step: 'openConsole', stepIndex: 2 });
      // Not a socket: the pty is made, the send fails.
      const e = await spawnWith({ command: ['/bin/true'], namespaces, stdio: 'ignore', plan: [...devpts, { op: 'openConsole', socket: notSocket }] }, {}).catch((x) => x);
      expect(e).toMatchObject({ code: 'ENOTSOCK', syscall: 'sendmsg', step: 'openConsole', stepIndex: 2 });
      expect(e.path).toBeUndefined();
      // A failure after the send: the master stays in the socket until it is closed.
      await expect(spawnWith({ command: ['/no/such/program'], namespaces, stdio: 'ignore', plan: [...devpts, { op: 'openConsole', socket: sock.childFd }] }, {}))
        .rejects.toMatchObject({ code: 'ENOENT', step: 'exec' });
    } finally {
      sock.close();
      fs.closeSync(notSocket);
    }
    expect(sock.childFd).toBe(-1);
    expect(() => sock.receive()).toThrow(expect.objectContaining({ code: 'ERR_NSBOX_CONSOLE_CLOSED' }));
    expect(await expectNoLeaks(before)).toEqual([]);
  });
});

