// What /proc says about the test process: its fds, its zombie children, its mounts. Shared
// by the per-file leak check (leaks.ts) and by tests that check for leaks after one call.
import fs from 'node:fs';
import { native } from '../../lib/native';

const SYSFS_MAGIC = 0x62656572;

/**
 * fd number -> what it refers to ("pipe:[123]", "/dev/null", "anon_inode:[pidfd]"), but the
 * network namespace pool's (lib/netns-pool.ts): its namespaces ("net:[…]") and their detached
 * sysfs mounts come and go on their own, made on pool threads and taken by spawns; and the
 * addon's mask template (made by the first spawn that asks, kept for the process), and its
 * exec trampoline's sealed memfd (made by the first spawn, kept too).
 */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${name}`);
      if (target.startsWith('net:') || target.startsWith('/memfd:nsbox-exec')) continue;
      if (target === '/' && fs.statfsSync(`/proc/self/fd/${name}`).type === SYSFS_MAGIC) continue;
      if (target === '/' && Number(name) === native.maskTemplate()) continue;
      fds.set(Number(name), target);
    } catch {
      // the fd readdir itself used, closed again
    }
  }
  return fds;
}

/** What changed between two snapshots: fds opened, closed, or now something else. */
export function fdChanges(before: Map<number, string>, after: Map<number, string> = openFds()): string[] {
  const changes: string[] = [];
  for (const [fd, target] of after) {
    if (!before.has(fd)) changes.push(`fd ${fd} opened (${target})`);
    else if (before.get(fd) !== target) changes.push(`fd ${fd} now ${target}, was ${before.get(fd)}`);
  }
  for (const [fd, target] of before) if (!after.has(fd)) changes.push(`fd ${fd} closed (was ${target})`);
  return changes;
}

/** Zombie children of this process (state Z, ppid = our pid). */
export function zombieChildren(): number[] {
  const zombies: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid ...; comm may hold spaces and parentheses.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' && Number(ppid) === process.pid) zombies.push(Number(name));
  }
  return zombies;
}

/** Mount points in a mountinfo file (field 5, with the kernel's octal escapes undone). */
export function mountPoints(mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  return mountinfo
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4].replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it reports nothing or `ms` passes: a destroyed socket's fd is closed
 * by libuv a loop turn later, and a killed child is reaped once its pidfd is polled.
 */
export async function settled(check: () => string[], ms = 1000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const problems = check();
    if (problems.length === 0 || Date.now() > deadline) return problems;
    await sleep(20);
  }
}

/** Everything that must be as it was after a spawn, failed or not: fds and zombies. */
export async function expectNoLeaks(before: Map<number, string>): Promise<string[]> {
  return settled(() => [...fdChanges(before), ...zombieChildren().map((pid) => `zombie child ${pid}`)]);
}
