// Seccomp profiles: validation that names the field before libseccomp is reached, Docker's
// default profile resolved by capabilities, architecture and kernel as Docker resolves it,
// runc's normalisation, and one compilation per profile per process.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  compileSeccomp, compileSeccompProgram, dockerDefaultProfile, SeccompUnsupportedError,
  type Capability, type LinuxSeccomp, type LinuxSyscall,
} from '../../lib/index';
import { DEFAULT_CAPABILITIES } from '../../lib/container/defaults';
import { native } from '../../lib/native';
import { caught } from '../helpers/caught';

afterEach(() => {
  vi.restoreAllMocks();
});

/** The rules of a resolved profile that name this call. */
function rulesFor(profile: LinuxSeccomp, name: string): LinuxSyscall[] {
  return (profile.syscalls ?? []).filter((s) => s.names.includes(name));
}

/** Allowed with no condition on its arguments. */
function allowed(profile: LinuxSeccomp, name: string): boolean {
  return rulesFor(profile, name).some((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args?.length);
}

/** The filter's instructions, struct sock_filter { u16 code; u8 jt, jf; u32 k }. */
function instructions(filter: Uint8Array): { code: number; k: number }[] {
  const b = Buffer.from(filter.buffer, filter.byteOffset, filter.byteLength);
  return Array.from({ length: b.length / 8 }, (_, i) => ({ code: b.readUInt16LE(i * 8), k: b.readUInt32LE(i * 8 + 4) }));
}
const BPF_RET_K = 0x06;
const returns = (filter: Uint8Array) => new Set(instructions(filter).filter((i) => i.code === BPF_RET_K).map((i) => i.k >>> 0));

const allow = (syscalls: LinuxSyscall[] = []): LinuxSeccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls });

describe('compileSeccomp validates every field before libseccomp is reached', () => {
  const rule = (r: Record<string, unknown>) => allow([{ names: ['getpid'], action: 'SCMP_ACT_ALLOW' }, r as unknown as LinuxSyscall]);
  const cases: [string, unknown, string, string][] = [
    ['not an object', 'SCMP_ACT_ALLOW', 'ERR_INVALID_ARG_TYPE', '"seccomp" argument must be of type object'],
    ['an unknown default action', { defaultAction: 'SCMP_ACT_DENY' }, 'ERR_INVALID_ARG_VALUE', "'seccomp.defaultAction' must be one of 'SCMP_ACT_KILL'"],
    ['a missing default action', { syscalls: [] }, 'ERR_INVALID_ARG_VALUE', "'seccomp.defaultAction' must be one of"],
    ['defaultErrnoRet with ALLOW', { defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 }, 'ERR_INVALID_ARG_VALUE',
      "'seccomp.defaultErrnoRet' is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE (the action is SCMP_ACT_ALLOW)"],
    ['an errno above MAX_ERRNO', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 4096 }, 'ERR_OUT_OF_RANGE',
      '"seccomp.defaultErrnoRet" is out of range. It must be an integer >= 0 and <= 4095'],
    ['an unknown architecture', { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_Z80'] },
      'ERR_INVALID_ARG_VALUE', "'seccomp.architectures[1]' must be one of"],
    ['an unknown key', { defaultAction: 'SCMP_ACT_ALLOW', syscall: [] }, 'ERR_INVALID_ARG_VALUE', "'seccomp.syscall' is not a known option"],
    ['syscalls not an array', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: {} }, 'ERR_INVALID_ARG_TYPE', '"seccomp.syscalls" argument must be an instance of Array'],
    ['a rule action', rule({ names: ['mkdir'], action: 'ALLOW' }), 'ERR_INVALID_ARG_VALUE', "'seccomp.syscalls[1].action' must be one of"],
    ['no names', rule({ names: [], action: 'SCMP_ACT_ERRNO' }), 'ERR_INVALID_ARG_VALUE', "'seccomp.syscalls[1].names' must name at least one system call"],
    ['a name not a string', rule({ names: ['mkdir', 83], action: 'SCMP_ACT_ERRNO' }), 'ERR_INVALID_ARG_TYPE', '"seccomp.syscalls[1].names[1]" argument must be of type string'],
    ['an empty name', rule({ names: [''], action: 'SCMP_ACT_ERRNO' }), 'ERR_INVALID_ARG_VALUE', "'seccomp.syscalls[1].names[0]' must not be empty"],
    ['errnoRet with KILL', rule({ names: ['mkdir'], action: 'SCMP_ACT_KILL', errnoRet: 1 }), 'ERR_INVALID_ARG_VALUE',
      "'seccomp.syscalls[1].errnoRet' is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE"],
    ['a negative errnoRet', rule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: -1 }), 'ERR_OUT_OF_RANGE', '"seccomp.syscalls[1].errnoRet" is out of range'],
    ['a TRACE message above 16 bits', rule({ names: ['mkdir'], action: 'SCMP_ACT_TRACE', errnoRet: 65536 }), 'ERR_OUT_OF_RANGE',
      'It must be an integer >= 0 and <= 65535'],
    ['a Docker condition left in', rule({ names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } }),
      'ERR_INVALID_ARG_VALUE', "'seccomp.syscalls[1].includes' is not a known option"],
    ['an argument index', rule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }),
      'ERR_OUT_OF_RANGE', '"seccomp.syscalls[1].args[0].index" is out of range. It must be an integer >= 0 and <= 5'],
    ['an operator', rule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0, op: '==' }] }),
      'ERR_INVALID_ARG_VALUE', "'seccomp.syscalls[1].args[0].op' must be one of 'SCMP_CMP_NE'"],
    ['a negative value', rule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: -1, op: 'SCMP_CMP_EQ' }] }),
      'ERR_OUT_OF_RANGE', '"seccomp.syscalls[1].args[0].value" is out of range'],
    ['a value above 2^64', rule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 1n << 64n, op: 'SCMP_CMP_EQ' }] }),
      'ERR_OUT_OF_RANGE', '"seccomp.syscalls[1].args[0].value" is out of range. It must be >= 0 and < 2^64'],
    ['an unsafe integer', rule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] }),
      'ERR_OUT_OF_RANGE', '"seccomp.syscalls[1].args[0].value" is out of range. It must be an integer >= 0 and <= 9007199254740991'],
    ['a value as a string', rule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: '448', op: 'SCMP_CMP_EQ' }] }),
      'ERR_INVALID_ARG_TYPE', '"seccomp.syscalls[1].args[0].value" argument must be of type number or bigint'],
    ['valueTwo', rule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 1, valueTwo: 0.5, op: 'SCMP_CMP_MASKED_EQ' }] }),
      'ERR_OUT_OF_RANGE', '"seccomp.syscalls[1].args[0].valueTwo" is out of range'],
  ];
  it.each(cases)('%s', (_, profile, code, message) => {
    const compile = vi.spyOn(native, 'seccompCompile');
    const e = caught(() => compileSeccomp(profile as LinuxSeccomp));
    expect(e.code).toBe(code);
    expect(e).toBeInstanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
    expect(e.message).toContain(message);
    expect(compile).not.toHaveBeenCalled();
  });

  it('names the profile as the caller does (field)', () => {
    const e = caught(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'nope' as 'SCMP_ACT_LOG' }] }, { field: 'config.linux.seccomp' }));
    expect(e.message).toContain("'config.linux.seccomp.syscalls[0].action'");
  });

  const unsupported: [string, LinuxSeccomp, string][] = [
    ['SCMP_ACT_NOTIFY as default', { defaultAction: 'SCMP_ACT_NOTIFY' }, 'seccomp.defaultAction'],
    ['SCMP_ACT_NOTIFY in a rule', allow([{ names: ['getpid'], action: 'SCMP_ACT_LOG' }, { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }]), 'seccomp.syscalls[1].action'],
    ['listenerPath', { ...allow(), listenerPath: '/run/seccomp-agent.sock' }, 'seccomp.listenerPath'],
    ['listenerMetadata', { ...allow(), listenerMetadata: 'x' }, 'seccomp.listenerMetadata'],
    ['SECCOMP_FILTER_FLAG_SPEC_ALLOW', { ...allow(), flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }, 'seccomp.flags[1]'],
    ['an unknown flag', { ...allow(), flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER' as 'SECCOMP_FILTER_FLAG_LOG'] }, 'seccomp.flags[0]'],
  ];
  it.each(unsupported)('unsupported: %s is a SeccompUnsupportedError naming %s', (_, profile, field) => {
    const compile = vi.spyOn(native, 'seccompCompile');
    const e = caught(() => compileSeccomp(profile));
    expect(e).toBeInstanceOf(SeccompUnsupportedError);
    expect(e).toMatchObject({ code: 'ERR_NSBOX_SECCOMP_UNSUPPORTED', field });
    expect(e.message).toContain(`"${field}" is not supported`);
    expect(compile).not.toHaveBeenCalled();
  });
});

describe('what libseccomp refuses is an error about the field that asked for it', () => {
  it('two actions for the same call and condition: EEXIST, naming the second rule', () => {
    const arg = { index: 1, value: 0o700, op: 'SCMP_CMP_EQ' } as const;
    const e = caught(() => compileSeccomp(allow([
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [arg] },
      { names: ['getpid'], action: 'SCMP_ACT_LOG' },
      { names: ['mkdir'], action: 'SCMP_ACT_KILL', args: [arg] },
    ])));
    expect(e).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', cause: { code: 'EEXIST', syscall: 'seccomp_rule_add', path: 'mkdir' } });
    expect(e.message).toContain("'seccomp.syscalls[2]' was refused by libseccomp for 'mkdir'");
  });

  it('an architecture this libseccomp cannot filter with x86_64 (another byte order)', () => {
    const e = caught(() => compileSeccomp({ ...allow(), architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_S390X'] }));
    expect(e).toBeInstanceOf(SeccompUnsupportedError);
    expect(e).toMatchObject({ field: 'seccomp.architectures[1]', cause: { syscall: 'seccomp_arch_add', path: 's390x' } });
  });
});

describe('compileSeccomp', () => {
  it('computes libseccomp actions: the filter returns ERRNO|errnoRet, KILL_PROCESS, TRAP, LOG, TRACE and the default', () => {
    const filter = compileSeccomp({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [
        { names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 30 },
        { names: ['rmdir'], action: 'SCMP_ACT_ERRNO' },
        { names: ['reboot'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['kexec_load'], action: 'SCMP_ACT_KILL' },
        { names: ['uname'], action: 'SCMP_ACT_TRAP' },
        { names: ['getpid'], action: 'SCMP_ACT_LOG' },
        { names: ['ptrace'], action: 'SCMP_ACT_TRACE', errnoRet: 7 },
      ],
    });
    const ret = returns(filter);
    for (const k of [0x7fff0000, 0x0005001e, 0x00050001, 0x80000000, 0x00000000, 0x00030000, 0x7ffc0000, 0x7ff00007, 0x00050026]) {
      expect(ret, `a return of 0x${k.toString(16)}`).toContain(k);
    }
    // The program starts by checking the architecture (seccomp_data.arch, offset 4).
    expect(instructions(filter)[0]).toEqual({ code: 0x20, k: 4 });
  });

  it('skips system calls libseccomp does not know and lists them, as runc and crun do', () => {
    const p = compileSeccompProgram(allow([{ names: ['mkdir', 'nsbox_no_such_call', 'mkdirat'], action: 'SCMP_ACT_ERRNO' },
      { names: ['nsbox_no_such_call'], action: 'SCMP_ACT_KILL' }]));
    expect(p.unknownSyscalls).toEqual(['nsbox_no_such_call']);
    expect(returns(p.filter)).toContain(0x00050001);
  });

  it("drops rules with the default action (libseccomp's EACCES) and splits conditions on one argument (its EINVAL)", () => {
    const ruleless = compileSeccomp(allow());
    expect(compileSeccomp(allow([{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW' }]))).toEqual(ruleless);
    // Two conditions on one argument: one rule each, as runc and crun add them (either matches).
    const filter = compileSeccomp(allow([{
      names: ['mkdir'], action: 'SCMP_ACT_ERRNO',
      args: [{ index: 1, value: 0o700, op: 'SCMP_CMP_EQ' }, { index: 1, value: 0o750n, op: 'SCMP_CMP_EQ' }],
    }]));
    const ks = instructions(filter).map((i) => i.k);
    expect(ks).toContain(0o700);
    expect(ks).toContain(0o750);
  });

  it('64-bit values: the high and low words are compared', () => {
    const filter = compileSeccomp(allow([{ names: ['mmap'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x1234_5678_9abc_def0n, op: 'SCMP_CMP_EQ' }] }]));
    const ks = instructions(filter).map((i) => i.k);
    expect(ks).toContain(0x12345678);
    expect(ks).toContain(0x9abcdef0);
  });

  it('caches: the same profile (even another object) gives the same program without calling libseccomp again', () => {
    const profile = () => allow([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }, { names: ['sethostname'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 }]);
    const compile = vi.spyOn(native, 'seccompCompile');
    const first = compileSeccomp(profile());
    const again = compileSeccomp(profile());
    expect(again).toBe(first);
    expect(compile).toHaveBeenCalledTimes(1);
    // Another errno is another program.
    const other = profile();
    other.syscalls![0].errnoRet = 14;
    expect(compileSeccomp(other)).not.toBe(first);
    expect(compile).toHaveBeenCalledTimes(2);
  });

  it("Docker's default compiles once per process; its step carries the profile's flags", () => {
    const first = compileSeccompProgram(dockerDefaultProfile());
    const compile = vi.spyOn(native, 'seccompCompile');
    const again = compileSeccompProgram(dockerDefaultProfile());
    expect(again).toBe(first);
    expect(compile).not.toHaveBeenCalled();
    expect(first.step).toEqual({ op: 'seccomp', filter: first.filter });
    // Fits one seccomp program (BPF_MAXINSNS = 4096 instructions).
    expect(first.filter.byteLength % 8).toBe(0);
    expect(first.filter.byteLength / 8).toBeLessThanOrEqual(4096);
    expect(first.unknownSyscalls.every((n) => rulesFor(dockerDefaultProfile(), n).length > 0)).toBe(true);

    const flagged = compileSeccompProgram({ ...dockerDefaultProfile(), flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_TSYNC'] });
    expect(flagged.step).toEqual({ op: 'seccomp', filter: flagged.filter, flags: { log: true, tsync: true } });
  });
});

describe("dockerDefaultProfile resolves Docker's conditions", () => {
  const withCaps = (...extra: Capability[]) => dockerDefaultProfile({ capabilities: [...DEFAULT_CAPABILITIES, ...extra], arch: 'x64', kernelRelease: '6.1.0-18-amd64' });
  const NAMESPACE_CALLS = ['mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'mount_setattr', 'open_tree', 'move_mount', 'fsopen', 'sethostname'];

  it("Docker's default capabilities: EPERM for everything not listed, no namespace or mount calls, clone without namespace flags, clone3 ENOSYS", () => {
    const p = dockerDefaultProfile();
    expect(p.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(p.defaultErrnoRet).toBe(1);
    for (const name of NAMESPACE_CALLS) expect(rulesFor(p, name), name).toEqual([]);
    for (const name of ['read', 'execve', 'openat', 'chroot', 'arch_prctl', 'ptrace']) expect(allowed(p, name), name).toBe(true);
    for (const name of ['reboot', 'init_module', 'bpf', 'perf_event_open', 'syslog', 'kcmp', 'iopl', 'settimeofday']) expect(rulesFor(p, name), name).toEqual([]);
    // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET = 0x7e020000: clone only without them.
    expect(rulesFor(p, 'clone')).toEqual([{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }] }]);
    expect(rulesFor(p, 'clone3')).toEqual([{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  });

  it('with CAP_SYS_ADMIN: mount, unshare, setns… and clone/clone3 without conditions', () => {
    const p = withCaps('CAP_SYS_ADMIN');
    for (const name of [...NAMESPACE_CALLS.filter((n) => n !== 'pivot_root'), 'clone', 'clone3', 'bpf', 'perf_event_open', 'syslog']) {
      expect(allowed(p, name), name).toBe(true);
    }
    expect(rulesFor(p, 'clone').every((r) => !r.args)).toBe(true);
    expect(rulesFor(p, 'clone3').every((r) => r.action === 'SCMP_ACT_ALLOW')).toBe(true);
    // Not even CAP_SYS_ADMIN gives pivot_root in Docker's profile.
    expect(rulesFor(p, 'pivot_root')).toEqual([]);
  });

  it.each([
    ['CAP_SYS_PTRACE', ['kcmp', 'pidfd_getfd', 'process_madvise']],
    ['CAP_SYS_BOOT', ['reboot']],
    ['CAP_SYS_MODULE', ['init_module', 'finit_module', 'delete_module']],
    ['CAP_SYS_TIME', ['settimeofday', 'clock_settime']],
    ['CAP_SYS_RAWIO', ['iopl', 'ioperm']],
    ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
    ['CAP_BPF', ['bpf']],
    ['CAP_PERFMON', ['perf_event_open']],
    ['CAP_SYS_NICE', ['mbind', 'set_mempolicy']],
  ] as [Capability, string[]][])('%s allows %j', (cap, names) => {
    for (const name of names) {
      expect(rulesFor(withCaps(), name), name).toEqual([]);
      expect(allowed(withCaps(cap), name), name).toBe(true);
    }
  });

  it('without CAP_SYS_CHROOT (not in the set given) chroot is not allowed', () => {
    const p = dockerDefaultProfile({ capabilities: DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_SYS_CHROOT') });
    expect(rulesFor(p, 'chroot')).toEqual([]);
    expect(allowed(dockerDefaultProfile({ capabilities: [] }), 'chroot')).toBe(false);
  });

  it('minKernel: ptrace and process_vm_* need kernel 4.8 (or CAP_SYS_PTRACE)', () => {
    const at = (kernelRelease: string, capabilities: readonly Capability[] = DEFAULT_CAPABILITIES) => dockerDefaultProfile({ kernelRelease, capabilities, arch: 'x64' });
    for (const release of ['4.8', '4.8.0-1-amd64', '5.4.0', '6.18.0', '10.0']) expect(allowed(at(release), 'ptrace'), release).toBe(true);
    for (const release of ['4.4.0-210-generic', '4.7.10', '3.10.0-1160.el7.x86_64']) {
      expect(rulesFor(at(release), 'ptrace'), release).toEqual([]);
      expect(rulesFor(at(release), 'process_vm_readv'), release).toEqual([]);
    }
    expect(allowed(at('4.4.0', [...DEFAULT_CAPABILITIES, 'CAP_SYS_PTRACE']), 'ptrace')).toBe(true);
  });

  it('architectures: the native one with its compat ones, and the per-arch rules', () => {
    const x64 = dockerDefaultProfile({ arch: 'x64' });
    expect(x64.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(allowed(x64, 'arch_prctl')).toBe(true);
    expect(allowed(x64, 'modify_ldt')).toBe(true);
    expect(rulesFor(x64, 'arm_fadvise64_64')).toEqual([]);

    const arm64 = dockerDefaultProfile({ arch: 'arm64' });
    expect(arm64.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(allowed(arm64, 'arm_fadvise64_64')).toBe(true);
    expect(rulesFor(arm64, 'arch_prctl')).toEqual([]);

    // s390's clone takes the flags in its second argument.
    const s390x = dockerDefaultProfile({ arch: 's390x' });
    expect(s390x.architectures).toEqual(['SCMP_ARCH_S390X', 'SCMP_ARCH_S390']);
    expect(rulesFor(s390x, 'clone')).toEqual([{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }] }]);
    expect(allowed(s390x, 's390_pci_mmio_read')).toBe(true);

    // No archMap entry for 32-bit x86 in Docker's profile: the native architecture only.
    expect(dockerDefaultProfile({ arch: 'ia32' }).architectures).toEqual([]);
  });

  it('is a plain OCI profile, a new object each time, that compiles', () => {
    const p = dockerDefaultProfile();
    for (const rule of p.syscalls!) expect(Object.keys(rule).every((k) => ['names', 'action', 'errnoRet', 'args'].includes(k))).toBe(true);
    p.syscalls![0].names.push('reboot');
    p.syscalls!.push({ names: ['mount'], action: 'SCMP_ACT_ALLOW' });
    expect(rulesFor(dockerDefaultProfile(), 'reboot')).toEqual([]);
    expect(rulesFor(dockerDefaultProfile(), 'mount')).toEqual([]);
    expect(compileSeccomp(p)).not.toBe(compileSeccomp(dockerDefaultProfile()));
  });

  it('rejects bad options with the option named', () => {
    expect(caught(() => dockerDefaultProfile({ arch: 'pdp11' }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.arch' must be one of 'x64'") });
    expect(caught(() => dockerDefaultProfile({ capabilities: ['CAP_SYS_ADMIN', 'SYS_ADMIN' as Capability] })))
      .toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.capabilities[1]'") });
    expect(caught(() => dockerDefaultProfile({ kernelRelease: 'linux' }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.kernelRelease'") });
    expect(caught(() => dockerDefaultProfile({ caps: [] } as object))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.caps' is not a known option") });
  });
});
