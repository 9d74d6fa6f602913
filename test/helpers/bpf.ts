// A small classic-BPF assembler for seccomp filters (seccomp(2), "Filter programs";
// linux/filter.h, linux/bpf_common.h): enough to build the deny lists the tests load.
// Each instruction is struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }, little-endian.

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const BPF_LD = 0x00, BPF_JMP = 0x05, BPF_RET = 0x06;
const BPF_W = 0x00, BPF_ABS = 0x20, BPF_JEQ = 0x10, BPF_K = 0x00;

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
/** struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]. */
export const SECCOMP_DATA = { nr: 0, arch: 4 } as const;

/** A = *(u32 *)(data + offset) */
export function load(offset: number): Insn {
  return { code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: offset };
}

/** pc += (A == k) ? jt : jf */
export function jumpIfEqual(k: number, jt: number, jf: number): Insn {
  if (jt > 255 || jf > 255) throw new RangeError('BPF jump offsets are 8 bits');
  return { code: BPF_JMP | BPF_JEQ | BPF_K, jt, jf, k };
}

export function ret(k: number): Insn {
  return { code: BPF_RET | BPF_K, jt: 0, jf: 0, k };
}

export function assemble(program: readonly Insn[]): Uint8Array {
  const out = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8(insn.jt, i * 8 + 2);
    out.writeUInt8(insn.jf, i * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * A filter that makes the given system calls fail with `errno` and allows everything else;
 * a process of another architecture (a 32-bit binary) is let through unfiltered.
 *
 *   0      A = arch
 *   1      if A != arch goto allow
 *   2      A = nr
 *   3+i    if A == nrs[i] goto deny
 *   3+n    allow: return ALLOW
 *   4+n    deny:  return ERRNO | errno
 */
export function denySyscalls(nrs: readonly number[], errno: number, arch = AUDIT_ARCH_X86_64): Uint8Array {
  const n = nrs.length;
  return assemble([
    load(SECCOMP_DATA.arch),
    jumpIfEqual(arch, 0, n + 1),
    load(SECCOMP_DATA.nr),
    ...nrs.map((nr, i) => jumpIfEqual(nr, n - i, 0)),
    ret(SECCOMP_RET_ALLOW),
    ret(SECCOMP_RET_ERRNO | (errno & 0xffff)),
  ]);
}

/** x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
export const X86_64 = { mkdir: 83, mkdirat: 258 } as const;
