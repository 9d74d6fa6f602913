// The OCI runtime spec's seccomp profile (config-linux.md, "Seccomp"; specs-go/config.go
// LinuxSeccomp): the `linux.seccomp` object of a bundle's config.json, field for field.

/** What the filter does with a system call (libseccomp's SCMP_ACT_*). */
export type LinuxSeccompAction =
  /** Kill the calling thread (SCMP_ACT_KILL_THREAD). */
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  /** SIGSYS to the thread. */
  | 'SCMP_ACT_TRAP'
  /** Fail with `errnoRet` (default EPERM) without running the call. */
  | 'SCMP_ACT_ERRNO'
  /** Stop for a ptrace tracer (PTRACE_O_TRACESECCOMP) with `errnoRet` as the message; ENOSYS without one. */
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  /** Allow and log (Linux 4.14). */
  | 'SCMP_ACT_LOG'
  /** Ask a supervisor through `listenerPath` (not supported by nsbox). */
  | 'SCMP_ACT_NOTIFY';

/** How an argument is compared with `value` (for SCMP_CMP_MASKED_EQ: `(arg & value) == valueTwo`). */
export type LinuxSeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

/** Architectures whose system calls the filter also handles (the native one always is). */
export type LinuxSeccompArch =
  | 'SCMP_ARCH_X86'
  | 'SCMP_ARCH_X86_64'
  | 'SCMP_ARCH_X32'
  | 'SCMP_ARCH_ARM'
  | 'SCMP_ARCH_AARCH64'
  | 'SCMP_ARCH_MIPS'
  | 'SCMP_ARCH_MIPS64'
  | 'SCMP_ARCH_MIPS64N32'
  | 'SCMP_ARCH_MIPSEL'
  | 'SCMP_ARCH_MIPSEL64'
  | 'SCMP_ARCH_MIPSEL64N32'
  | 'SCMP_ARCH_PPC'
  | 'SCMP_ARCH_PPC64'
  | 'SCMP_ARCH_PPC64LE'
  | 'SCMP_ARCH_S390'
  | 'SCMP_ARCH_S390X'
  | 'SCMP_ARCH_PARISC'
  | 'SCMP_ARCH_PARISC64'
  | 'SCMP_ARCH_RISCV64'
  | 'SCMP_ARCH_LOONGARCH64'
  | 'SCMP_ARCH_M68K'
  | 'SCMP_ARCH_SH'
  | 'SCMP_ARCH_SHEB';

/** Flags for seccomp(2) when the filter is loaded. */
export type LinuxSeccompFlag =
  | 'SECCOMP_FILTER_FLAG_TSYNC'
  | 'SECCOMP_FILTER_FLAG_LOG'
  | 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'
  | 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV';

/** A condition on one argument of the call; a rule's conditions must all hold. */
export interface LinuxSeccompArg {
  /** Which argument, 0 to 5. */
  index: number;
  /** An unsigned 64-bit value (a bigint above 2^53). */
  value: number | bigint;
  /** The compared value of SCMP_CMP_MASKED_EQ (then `value` is the mask). @default 0 */
  valueTwo?: number | bigint;
  op: LinuxSeccompOperator;
}

/** A rule: these calls, under these conditions, get this action. */
export interface LinuxSyscall {
  names: string[];
  action: LinuxSeccompAction;
  /** The errno of SCMP_ACT_ERRNO, the message of SCMP_ACT_TRACE. @default 1 (EPERM) */
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

/**
 * A seccomp profile as the OCI runtime spec writes it (config.json `linux.seccomp`).
 * @example { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 30 }] }
 */
export interface LinuxSeccomp {
  /** The action for every call no rule matches. */
  defaultAction: LinuxSeccompAction;
  /** The errno of a SCMP_ACT_ERRNO (or message of SCMP_ACT_TRACE) default action. @default 1 (EPERM) */
  defaultErrnoRet?: number;
  /** @default [] (the native architecture only) */
  architectures?: LinuxSeccompArch[];
  /** @default [] */
  flags?: LinuxSeccompFlag[];
  /** A Unix socket for SCMP_ACT_NOTIFY's supervisor: not supported by nsbox. */
  listenerPath?: string;
  /** Passed to that supervisor: not supported by nsbox. */
  listenerMetadata?: string;
  /** @default [] */
  syscalls?: LinuxSyscall[];
}
