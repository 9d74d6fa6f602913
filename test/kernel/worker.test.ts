// The addon in a worker thread: terminating the worker while its child runs must not abort
// Node (our uv handles are closed through an async cleanup hook), and must not leave the
// child behind: the process goes on, and nobody else could reap it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const helpers = path.join(__dirname, '..', 'helpers');

describe('worker threads', () => {
  it.each([
    ['', []],
    [' (the grandchild of a fork step)', ['fork']],
  ])('terminating a worker with a live child leaves Node running, and the child ended and reaped%s', (_, extra) => {
    const out = execFileSync(process.execPath, ['-r', path.join(helpers, 'register-ts.cjs'), path.join(helpers, 'worker-child.cjs'),
      path.join(__dirname, '..', '..', 'lib', 'index.ts'), ...extra], { encoding: 'utf8', timeout: 15_000 });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ terminated: true, state: 'gone' });
  });

  it('terminating a worker while its vfork clones are on pool threads (spawnAsync) leaves Node running and nothing they started', () => {
    const mark = `30.${process.pid}${Date.now() % 100000}`;
    const out = execFileSync(process.execPath, ['-r', path.join(helpers, 'register-ts.cjs'), path.join(helpers, 'worker-async-child.cjs'),
      path.join(__dirname, '..', '..', 'lib', 'spawn.ts'), mark], { encoding: 'utf8', timeout: 15_000 });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ terminated: true, started: 6, left: 0 });
  });

  it('a program spawned just before the process exits is left running (as child_process leaves its children)', async () => {
    const file = path.join(os.tmpdir(), `nsbox-left-running-${process.pid}-${Date.now()}`);
    // spawn() called, its program started, and Node exits without another turn of its loop.
    const script = `
      const { spawnWith } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib', 'spawn.ts'))});
      (async () => {
        spawnWith({ command: ['/bin/sh', '-c', 'sleep 0.3; echo alive > ${file}'], stdio: 'ignore' }, {}).catch(() => {});
        for (let i = 0; i < 50; i++) await null;
        const until = Date.now() + 200;
        while (Date.now() < until) {}
        process.exit(0);
      })();`;
    try {
      execFileSync(process.execPath, ['-r', path.join(helpers, 'register-ts.cjs'), '-e', script], { encoding: 'utf8', timeout: 15_000 });
      for (let i = 0; i < 60 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
      expect(fs.existsSync(file) && fs.readFileSync(file, 'utf8')).toBe('alive\n');
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it.skipIf(process.geteuid?.() !== 0)('terminating a worker while its network namespace thread is at work leaves Node running, the thread gone and no namespace it made open', () => {
    const out = execFileSync(process.execPath, ['-r', path.join(helpers, 'register-ts.cjs'), path.join(helpers, 'worker-netns-child.cjs'),
      path.join(__dirname, '..', '..', 'lib', 'spawn.ts')], { encoding: 'utf8', timeout: 15_000 });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ terminated: true, madeDuring: true, netnsFdsLeft: 0, threadsLeft: 0, threadsElsewhere: 0 });
  });
});
