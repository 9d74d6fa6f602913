// The secure defaults a Container starts from: Docker's (moby `oci/defaults.go`,
// `oci/caps/defaults.go`) and runc's `runc spec`, where the two agree.
import type { Capability } from '../capabilities';
import type { RlimitResource, RlimitValue } from '../plan';

/**
 * Docker's default capability set, without CAP_MKNOD: what a container's root may do.
 * Docker keeps CAP_MKNOD because its device cgroup stops a made node from being opened;
 * nsbox installs no device filter, so a node made on a mount without nodev (a bound
 * rootfs, /dev) would open the host's disk. Add it back with `capabilities.add`.
 */
export const DEFAULT_CAPABILITIES: readonly Capability[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Hidden from the container: they leak host information or reach the kernel. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Visible but read-only: writing them would change the host's kernel. */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** `runc spec`'s only rlimit. */
export const DEFAULT_RLIMITS: Readonly<Partial<Record<RlimitResource, { soft: RlimitValue; hard: RlimitValue }>>> = {
  nofile: { soft: 1024, hard: 1024 },
};

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Character devices every container's /dev has (major, minor), as runc's default devices. */
export const DEFAULT_DEVICES: readonly { name: string; major: number; minor: number }[] = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

/** The links in /dev that programs expect. */
export const DEV_LINKS: readonly [target: string, link: string][] = [
  ['/proc/self/fd', 'fd'],
  ['/proc/self/fd/0', 'stdin'],
  ['/proc/self/fd/1', 'stdout'],
  ['/proc/self/fd/2', 'stderr'],
  ['pts/ptmx', 'ptmx'],
  ['/proc/kcore', 'core'],
];

/**
 * Namespaced sysctls a container may set (runc's validator): they change only the
 * container's own ipc or network namespace.
 */
export function namespacedSysctl(name: string): 'ipc' | 'net' | 'uts' | undefined {
  if (/^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/.test(name) || name.startsWith('fs.mqueue.')) return 'ipc';
  if (name.startsWith('net.')) return 'net';
  if (name === 'kernel.hostname' || name === 'kernel.domainname') return 'uts';
  return undefined;
}
