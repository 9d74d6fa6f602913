// The container's process settings as plan steps, last before exec and in runc's order:
// rlimits, cwd, umask, then ids (setgroups, setgid, setuid), capabilities, no_new_privs, and
// the seccomp filter last (it applies to every step after it). The same steps, after joining
// the container, make an exec'd process as confined as the container's first one.
import type { Capability } from '../capabilities';
import type { Step } from '../plan';
import type { NamespaceType } from '../namespaces';
import { compileSeccomp } from '../seccomp/compile';
import { dockerDefaultProfile } from '../seccomp/docker-default';
import type { LinuxSeccomp } from '../seccomp/types';
import type { ContainerConfig } from './options';

// Docker's default resolves differently per capability set; resolving and hashing it costs
// ~0.5 ms, so the filter is kept per set (there are few distinct sets in one program).
const defaultFilters = new Map<string, Uint8Array>();

/** The compiled filter for the container's seccomp setting, or null for 'unconfined'. */
export function seccompFilter(c: ContainerConfig): Uint8Array | null {
  if (c.seccomp === 'unconfined') return null;
  if (c.seccomp !== 'default') return compileSeccomp(c.seccomp as unknown as LinuxSeccomp, { field: 'options.seccomp' });
  const key = [...c.capabilities].sort().join(',');
  let filter = defaultFilters.get(key);
  if (!filter) {
    // The native architecture only: a 32-bit (x86) or x32 system call kills the thread.
    // Docker allows those too; its three architectures make a filter about 3x longer, and
    // every container loads it (JIT and the kernel's per-syscall cache: ~0.09 ms for the
    // native one, a binary tree of 415 instructions on x86_64: src-native/seccomp.cc).
    filter = compileSeccomp(defaultSeccompProfile(c.capabilities));
    if (defaultFilters.size >= 64) defaultFilters.clear();
    defaultFilters.set(key, filter);
  }
  return filter;
}

/**
 * The profile `seccomp: 'default'` loads: Docker's, resolved for these capabilities on this
 * host, for the native architecture only (what toOciSpec writes too).
 */
export function defaultSeccompProfile(capabilities: readonly Capability[]): LinuxSeccomp {
  const profile = dockerDefaultProfile({ capabilities });
  return { ...profile, architectures: profile.architectures?.slice(0, 1) };
}

function processSteps(c: ContainerConfig, filter: Uint8Array | null): Step[] {
  const steps: Step[] = [];
  for (const r of c.rlimits) steps.push({ op: 'setrlimit', resource: r.resource, soft: r.soft, hard: r.hard });
  steps.push({ op: 'chdir', path: c.cwd }, { op: 'umask', mask: c.umask });
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while the process still
  // holds it (as runc does), so the filter also applies to the id and capability steps below.
  const early = filter !== null && !c.noNewPrivileges;
  if (early) steps.push({ op: 'seccomp', filter });
  // An unprivileged user namespace denies setgroups(2) (its gid_map was written with 'deny').
  if (c.userns === null || process.geteuid?.() === 0) steps.push({ op: 'setgroups', groups: c.additionalGids });
  steps.push({ op: 'setgid', gid: c.gid }, { op: 'setuid', uid: c.uid });
  steps.push({
    op: 'capabilities',
    bounding: c.capabilities,
    permitted: c.capabilities,
    effective: c.capabilities,
    inheritable: [],
    ambient: [],
  });
  if (c.noNewPrivileges) steps.push({ op: 'noNewPrivileges' });
  if (filter && !early) steps.push({ op: 'seccomp', filter });
  return steps;
}

/** The container's first process: after its filesystem is set up. */
export function securitySteps(c: ContainerConfig): Step[] {
  return processSteps(c, seccompFilter(c));
}

/**
 * An exec'd process: non-dumpable before it can be seen from the container (its
 * /proc/PID/exe is Node until exec, CVE-2019-5736), joins every namespace of the container's
 * first process through its pidfd, forks into the pid namespace, starts `session` there (a
 * setsid step, or openConsole for a terminal), then is confined like it.
 */
export function execSteps(c: ContainerConfig, pidfd: number, types: readonly NamespaceType[], session: Step): Step[] {
  return [
    { op: 'dumpable', value: false },
    { op: 'setns', fd: pidfd, types },
    { op: 'fork' },
    // After the fork (the grandchild is no group leader): its own session, or its terminal's.
    session,
    ...processSteps(c, seccompFilter(c)),
  ];
}
