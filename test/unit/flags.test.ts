// The one place each kernel constant lives: namespace types to CLONE_NEW*, mount flags to
// MS_*, mount attributes to MOUNT_ATTR_*, capability names to bits.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CAPABILITIES, NAMESPACE_TYPES, capabilityNames } from '../../lib/index';
import { capabilityMask, lastCapability } from '../../lib/capabilities';
import { encodeAttributes, mountFlagBits, propagationBits, umountFlagBits } from '../../lib/mounts';
import { namespaceFlags, namespaceTypes } from '../../lib/namespaces';
import { signalName, signalNumber } from '../../lib/signals';

describe('namespaceFlags', () => {
  // linux/sched.h
  const CLONE_NEW = {
    mount: 0x00020000, uts: 0x04000000, ipc: 0x08000000, pid: 0x20000000,
    net: 0x40000000, user: 0x10000000, cgroup: 0x02000000, time: 0x00000080,
  } as const;

  it.each(Object.entries(CLONE_NEW))('%s is 0x%s', (type, bit) => {
    expect(namespaceFlags([type as keyof typeof CLONE_NEW])).toBe(bit);
  });

  it('ORs several types, and no types is no flag', () => {
    expect(namespaceFlags(['pid', 'mount', 'net'])).toBe(0x20000000 | 0x00020000 | 0x40000000);
    expect(namespaceFlags([])).toBe(0);
    expect(namespaceFlags([...NAMESPACE_TYPES])).toBe(Object.values(CLONE_NEW).reduce((a, b) => a | b, 0));
  });

  it('knows exactly the eight kinds of namespace', () => {
    expect([...NAMESPACE_TYPES].sort()).toEqual(Object.keys(CLONE_NEW).sort());
  });

  it('namespaceTypes accepts one type alone and drops duplicates', () => {
    expect(namespaceTypes('t', 'net')).toEqual(['net']);
    expect(namespaceTypes('t', ['pid', 'net', 'pid'])).toEqual(['pid', 'net']);
  });
});

describe('mountFlagBits', () => {
  it('maps each flag to its MS_* bit (linux/mount.h)', () => {
    const MS = {
      readonly: 1, nosuid: 2, nodev: 4, noexec: 8, synchronous: 16, remount: 32, dirsync: 128, nosymfollow: 256,
      noatime: 1024, nodiratime: 2048, bind: 4096, move: 8192, recursive: 16384, silent: 32768,
      unbindable: 1 << 17, private: 1 << 18, slave: 1 << 19, shared: 1 << 20, relatime: 1 << 21,
      strictatime: 1 << 24, lazytime: 1 << 25,
    };
    for (const [flag, bit] of Object.entries(MS)) expect(mountFlagBits('f', { [flag]: true }), flag).toBe(bit);
  });

  it('combines flags, ignores false ones, and treats no flags as 0', () => {
    expect(mountFlagBits('f', { bind: true, recursive: true, readonly: false })).toBe(4096 | 16384);
    expect(mountFlagBits('f', { readonly: true, nosuid: true, nodev: true, noexec: true })).toBe(15);
    expect(mountFlagBits('f', undefined)).toBe(0);
    expect(mountFlagBits('f', {})).toBe(0);
  });

  it('propagation names are the MS_* propagation bits', () => {
    expect(propagationBits('p', 'private')).toBe(1 << 18);
    expect(propagationBits('p', 'slave')).toBe(1 << 19);
    expect(propagationBits('p', 'shared')).toBe(1 << 20);
    expect(propagationBits('p', 'unbindable')).toBe(1 << 17);
  });

  it('umount options are MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW', () => {
    expect(umountFlagBits('o', { force: true })).toBe(1);
    expect(umountFlagBits('o', { detach: true })).toBe(2);
    expect(umountFlagBits('o', { expire: true })).toBe(4);
    expect(umountFlagBits('o', { noFollow: true })).toBe(8);
    expect(umountFlagBits('o', { detach: true, noFollow: true, force: false })).toBe(10);
    expect(umountFlagBits('o', undefined)).toBe(0);
  });
});

describe('encodeAttributes (mount_setattr)', () => {
  it('true sets a MOUNT_ATTR_* bit, false clears it, absent leaves it alone', () => {
    expect(encodeAttributes('a', { readonly: true, nosuid: false })).toEqual({ set: 0x1, clr: 0x2, propagation: 0 });
    expect(encodeAttributes('a', { nodev: true, noexec: true, nodiratime: true })).toEqual({ set: 0x4 | 0x8 | 0x80, clr: 0, propagation: 0 });
    expect(encodeAttributes('a', {})).toEqual({ set: 0, clr: 0, propagation: 0 });
  });

  it('atime is one value in a field: it sets the value and clears MOUNT_ATTR__ATIME', () => {
    expect(encodeAttributes('a', { atime: 'noatime' })).toEqual({ set: 0x10, clr: 0x70, propagation: 0 });
    expect(encodeAttributes('a', { atime: 'strictatime' })).toEqual({ set: 0x20, clr: 0x70, propagation: 0 });
    expect(encodeAttributes('a', { atime: 'relatime' })).toEqual({ set: 0, clr: 0x70, propagation: 0 });
  });

  it('propagation is passed as the MS_* bit', () => {
    expect(encodeAttributes('a', { propagation: 'private' }).propagation).toBe(1 << 18);
    expect(encodeAttributes('a', { readonly: true, propagation: 'slave' })).toEqual({ set: 1, clr: 0, propagation: 1 << 19 });
  });
});

describe('capabilities', () => {
  it('lists the capabilities in kernel order (linux/capability.h)', () => {
    expect(CAPABILITIES[0]).toBe('CAP_CHOWN');
    expect(CAPABILITIES.indexOf('CAP_SYS_ADMIN')).toBe(21);
    expect(CAPABILITIES.indexOf('CAP_NET_ADMIN')).toBe(12);
    expect(CAPABILITIES.indexOf('CAP_CHECKPOINT_RESTORE')).toBe(40);
  });

  it('capabilityMask sets one bit per name', () => {
    expect(capabilityMask('c', [])).toBe(0n);
    expect(capabilityMask('c', ['CAP_CHOWN'])).toBe(1n);
    expect(capabilityMask('c', ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'])).toBe((1n << 21n) | (1n << 12n));
    expect(capabilityMask('c', ['CAP_CHECKPOINT_RESTORE'])).toBe(1n << 40n);
  });

  it("'all' is every capability this kernel knows (cap_last_cap)", () => {
    const last = Math.min(Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')), CAPABILITIES.length - 1);
    expect(lastCapability()).toBe(last);
    expect(capabilityMask('c', 'all')).toBe((1n << BigInt(last + 1)) - 1n);
  });

  it('capabilityNames reads a mask or the hex of /proc/PID/status', () => {
    expect(capabilityNames(1n << 21n)).toEqual(['CAP_SYS_ADMIN']);
    // Docker's default set, as CapBnd shows it.
    expect(capabilityNames('00000000a80425fb')).toEqual([
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
      'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP',
    ]);
    expect(capabilityNames('0')).toEqual([]);
  });

  it('names and masks round-trip for every capability', () => {
    for (const cap of CAPABILITIES) expect(capabilityNames(capabilityMask('c', [cap]))).toEqual([cap]);
    expect(capabilityNames(capabilityMask('c', [...CAPABILITIES]))).toEqual([...CAPABILITIES]);
  });
});

describe('signals', () => {
  it('maps names to numbers and back', () => {
    expect(signalNumber('s', 'SIGTERM')).toBe(15);
    expect(signalNumber('s', 'SIGKILL')).toBe(9);
    expect(signalName(15)).toBe('SIGTERM');
    // Real-time signals, as kill -l names them (Node names none), both ways for every one.
    expect([34, 35, 49, 50, 63, 64].map(signalName)).toEqual(['SIGRTMIN', 'SIGRTMIN+1', 'SIGRTMIN+15', 'SIGRTMAX-14', 'SIGRTMAX-1', 'SIGRTMAX']);
    for (let n = 34; n <= 64; n++) expect(signalNumber('s', signalName(n))).toBe(n);
    expect(signalName(65)).toBeNull();
    for (const bad of ['SIGRTMIN-1', 'SIGRTMAX+1', 'SIGRTMIN+31']) expect(() => signalNumber('s', bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(signalName(0)).toBeNull();
  });
});
