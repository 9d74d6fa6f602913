// Capability names (capabilities(7)) to bit numbers, in one place.
import fs from 'node:fs';
import * as v from './validate';

export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

export type Capability = (typeof CAPABILITIES)[number];

let lastCap: number | undefined;
/** The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap). */
export function lastCapability(): number {
  if (lastCap === undefined) {
    try {
      lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
    } catch {
      lastCap = CAPABILITIES.length - 1;
    }
    lastCap = Math.min(lastCap, CAPABILITIES.length - 1);
  }
  return lastCap;
}

/** A set of capability names as a 64-bit mask; 'all' is every capability this kernel knows. */
export function capabilityMask(name: string, value: unknown): bigint {
  if (value === 'all') return (1n << BigInt(lastCapability() + 1)) - 1n;
  let mask = 0n;
  v.array(name, value).forEach((c, i) => {
    const cap = v.oneOf(`${name}[${i}]`, c, CAPABILITIES);
    mask |= 1n << BigInt(CAPABILITIES.indexOf(cap));
  });
  return mask;
}

/** Capability names in a mask, as /proc/PID/status shows it in hex (CapEff: 000001ffffffffff). */
export function capabilityNames(mask: bigint | string): Capability[] {
  const m = typeof mask === 'string' ? BigInt(`0x${mask}`) : mask;
  return CAPABILITIES.filter((_, i) => (m >> BigInt(i)) & 1n);
}
