// Runs around every test file (setupFiles): the file must leave the test process as it found
// it — the same fds, no zombie children — and leave no cgroup, mount or temp dir of its own
// (they are named nsbox-test-<pid>-…, see env.ts) behind.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { fdChanges, openFds, settled, zombieChildren } from './proc';
import { cgroupHost } from '../../lib/cgroup/discover';
import { drainNetnsPool } from '../../lib/netns-pool';

// The cgroup2 mount: /sys/fs/cgroup/unified on this hybrid host, /sys/fs/cgroup in the VM lane.
export const CGROUP_ROOT = cgroupHost().mount ?? '/sys/fs/cgroup/unified';
const ours = `nsbox-test-${process.pid}-`;

function leftovers(): string[] {
  const problems: string[] = [];
  let groups: string[] = [];
  try {
    groups = fs.readdirSync(CGROUP_ROOT);
  } catch {
    // no cgroup v2 mounted there: nothing of ours either
  }
  for (const g of groups) if (g.startsWith(ours)) problems.push(`cgroup ${CGROUP_ROOT}/${g} left`);
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes('nsbox-test')) problems.push(`mount left in the test's namespace: ${line}`);
  }
  for (const d of fs.readdirSync(os.tmpdir())) {
    if (d.startsWith(ours)) problems.push(`temp entry ${path.join(os.tmpdir(), d)} left`);
  }
  return problems;
}

let before: Map<number, string>;
// What a dead process with this one's pid left (pids wrap at pid_max, 32768 here, within a
// run that starts thousands of processes): not this file's to answer for.
let stale: Set<string>;

beforeAll(async () => {
  // libuv opens its SIGCHLD machinery (a pipe pair) on the first child_process spawn and
  // keeps it for the life of the process: open it now so that it is not counted as a leak.
  await new Promise<void>((resolve) => execFile('/bin/true', () => resolve()));
  // libuv's one inotify fd (fs.watch, cgroup events) is likewise opened once and kept.
  fs.watch(os.tmpdir()).close();
  before = openFds();
  stale = new Set(leftovers());
});

afterAll(async () => {
  // The network namespaces spawn keeps made ahead are the pool's, not a leak: give them back.
  await drainNetnsPool();
  const problems = await settled(() => [
    ...fdChanges(before),
    ...zombieChildren().map((pid) => `zombie child ${pid}`),
    ...leftovers().filter((p) => !stale.has(p)),
  ]);
  if (problems.length) throw new Error(`leaks after this test file:\n  ${problems.join('\n  ')}`);
});
