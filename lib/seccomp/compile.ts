// An OCI seccomp profile (./types.ts) validated, normalised as runc and crun normalise it,
// and compiled once per process by libseccomp (src-native/seccomp.cc) into the classic BPF
// program that a plan's `seccomp` step loads in the child.
import util from 'node:util';
import { InvalidArgTypeError, InvalidArgValueError, NsboxSystemError, OutOfRangeError } from '../errors';
import { native } from '../native';
import type { Step } from '../plan';
import * as v from '../validate';
import type { LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArch, LinuxSeccompFlag, LinuxSeccompOperator } from './types';

/** Something the profile asks for that nsbox cannot do (a notify supervisor, an unknown flag…), naming the field. */
export class SeccompUnsupportedError extends Error {
  readonly code = 'ERR_NSBOX_SECCOMP_UNSUPPORTED';
  constructor(
    /** The field, as `seccomp.syscalls[3].action`. */
    readonly field: string,
    readonly value: unknown,
    reason: string,
  ) {
    super(`The seccomp profile's "${field}" is not supported: ${reason}. Received ${util.inspect(value, { depth: 1 })}`);
  }
}

export const SECCOMP_ACTIONS: readonly LinuxSeccompAction[] = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
];

// SCMP_CMP_* (seccomp.h enum scmp_compare), by position: NE = 1 … MASKED_EQ = 7.
const OPERATORS: readonly LinuxSeccompOperator[] = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
];

const ARCHES: readonly LinuxSeccompArch[] = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
];

const FLAGS: readonly LinuxSeccompFlag[] = [
  'SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
];

const EPERM = 1;
const EDOM = 33;
const MAX_ERRNO = 4095; // the kernel caps SECCOMP_RET_ERRNO's data there (include/linux/err.h)
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * libseccomp's action values (seccomp.h), computed as its macros do: SCMP_ACT_ERRNO(x) is
 * 0x00050000 | (x & 0xffff), SCMP_ACT_TRACE(x) 0x7ff00000 | (x & 0xffff). They are the
 * kernel's SECCOMP_RET_* values (linux/seccomp.h); SCMP_ACT_KILL is KILL_THREAD.
 */
function actionValue(action: Exclude<LinuxSeccompAction, 'SCMP_ACT_NOTIFY'>, errnoRet: number): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return 0x00000000;
    case 'SCMP_ACT_KILL_PROCESS':
      return 0x80000000;
    case 'SCMP_ACT_TRAP':
      return 0x00030000;
    case 'SCMP_ACT_ERRNO':
      return (0x00050000 | (errnoRet & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (0x7ff00000 | (errnoRet & 0xffff)) >>> 0;
    case 'SCMP_ACT_LOG':
      return 0x7ffc0000;
    case 'SCMP_ACT_ALLOW':
      return 0x7fff0000;
  }
}

/** An action and its errno field, as one libseccomp action value. */
function action(name: string, value: unknown, errnoName: string, errnoRet: unknown): number {
  const a = v.oneOf(name, value, SECCOMP_ACTIONS);
  if (a === 'SCMP_ACT_NOTIFY') {
    throw new SeccompUnsupportedError(name, a, 'nsbox has no seccomp notify supervisor (listenerPath)');
  }
  if (errnoRet === undefined) return actionValue(a, EPERM);
  if (a !== 'SCMP_ACT_ERRNO' && a !== 'SCMP_ACT_TRACE') {
    throw new InvalidArgValueError(errnoName, errnoRet, `is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE (the action is ${a})`);
  }
  // ERRNO: an errno the kernel passes through; TRACE: a 16-bit message for the tracer.
  return actionValue(a, v.integer(errnoName, errnoRet, 0, a === 'SCMP_ACT_ERRNO' ? MAX_ERRNO : 0xffff));
}

function u64(name: string, value: unknown): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > UINT64_MAX) throw new OutOfRangeError(name, '>= 0 and < 2^64', value);
    return value;
  }
  if (typeof value !== 'number') throw new InvalidArgTypeError(name, 'of type number or bigint', value);
  return BigInt(v.integer(name, value, 0, Number.MAX_SAFE_INTEGER));
}

interface NativeArg {
  index: number;
  op: number;
  value: bigint;
  valueTwo: bigint;
}

interface NativeRule {
  names: string[];
  action: number;
  args: NativeArg[];
}

/** What the addon compiles, with where each rule came from. */
interface Normalised {
  spec: { defaultAction: number; architectures: string[]; rules: NativeRule[] };
  /** rules[i] came from profile.syscalls[source[i]] */
  source: number[];
  flags: { log?: boolean; tsync?: boolean };
}

/**
 * Validates every field (errors name it: `seccomp.syscalls[3].action`) and normalises as
 * runc and crun do: a rule whose action is the default action is dropped (libseccomp refuses
 * it with EACCES), and a rule with two conditions on the same argument becomes one rule per
 * condition (libseccomp cannot AND two conditions on one argument).
 */
function normalise(field: string, profile: unknown): Normalised {
  const p = v.object(field, profile);
  v.knownKeys(field, p, ['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'listenerPath', 'listenerMetadata', 'syscalls']);
  for (const key of ['listenerPath', 'listenerMetadata']) {
    if (p[key] !== undefined && p[key] !== '') {
      throw new SeccompUnsupportedError(`${field}.${key}`, p[key], 'nsbox has no seccomp notify supervisor (SCMP_ACT_NOTIFY)');
    }
  }
  const defaultAction = action(`${field}.defaultAction`, p.defaultAction, `${field}.defaultErrnoRet`, p.defaultErrnoRet);

  const architectures = p.architectures === undefined ? [] : v.array(`${field}.architectures`, p.architectures).map((a, i) =>
    // libseccomp's names: SCMP_ARCH_X86_64 → 'x86_64' (as crun converts them).
    v.oneOf(`${field}.architectures[${i}]`, a, ARCHES).slice('SCMP_ARCH_'.length).toLowerCase());

  const flags: Normalised['flags'] = {};
  if (p.flags !== undefined) {
    v.array(`${field}.flags`, p.flags).forEach((f, i) => {
      const name = `${field}.flags[${i}]`;
      const flag = v.string(name, f);
      if (flag === 'SECCOMP_FILTER_FLAG_TSYNC') flags.tsync = true;
      else if (flag === 'SECCOMP_FILTER_FLAG_LOG') flags.log = true;
      else if ((FLAGS as readonly string[]).includes(flag)) {
        throw new SeccompUnsupportedError(name, flag, "a plan's seccomp step can set SECCOMP_FILTER_FLAG_TSYNC and SECCOMP_FILTER_FLAG_LOG only");
      } else {
        throw new SeccompUnsupportedError(name, flag, `not a seccomp flag nsbox knows (${FLAGS.join(', ')})`);
      }
    });
  }

  const rules: NativeRule[] = [];
  const source: number[] = [];
  const syscalls = p.syscalls === undefined ? [] : v.array(`${field}.syscalls`, p.syscalls);
  syscalls.forEach((s, i) => {
    const name = `${field}.syscalls[${i}]`;
    const rule = v.object(name, s);
    v.knownKeys(name, rule, ['names', 'action', 'errnoRet', 'args']);
    const names = v.array(`${name}.names`, rule.names).map((n, j) => v.string(`${name}.names[${j}]`, n));
    if (names.length === 0) throw new InvalidArgValueError(`${name}.names`, rule.names, 'must name at least one system call');
    const act = action(`${name}.action`, rule.action, `${name}.errnoRet`, rule.errnoRet);
    const args = rule.args === undefined ? [] : v.array(`${name}.args`, rule.args).map((a, k): NativeArg => {
      const argName = `${name}.args[${k}]`;
      const arg = v.object(argName, a);
      v.knownKeys(argName, arg, ['index', 'value', 'valueTwo', 'op']);
      return {
        index: v.integer(`${argName}.index`, arg.index, 0, 5),
        op: OPERATORS.indexOf(v.oneOf(`${argName}.op`, arg.op, OPERATORS)) + 1,
        value: u64(`${argName}.value`, arg.value),
        valueTwo: arg.valueTwo === undefined ? 0n : u64(`${argName}.valueTwo`, arg.valueTwo),
      };
    });
    if (act === defaultAction) return;
    const sameIndex = new Set(args.map((a) => a.index)).size !== args.length;
    for (const group of sameIndex ? args.map((a) => [a]) : [args]) {
      rules.push({ names, action: act, args: group });
      source.push(i);
    }
  });
  return { spec: { defaultAction, architectures, rules }, source, flags };
}

/** A compiled profile. */
export interface SeccompProgram {
  /**
   * struct sock_filter[] for the kernel (8 bytes per instruction). Shared by every caller
   * that compiled the same profile: do not modify it.
   */
  readonly filter: Uint8Array;
  /**
   * System call names in the profile that this libseccomp does not know, so no rule of the
   * filter matches them (runc and crun skip them too): a call newer than the library gets
   * the default action.
   */
  readonly unknownSyscalls: readonly string[];
  /** The plan step that loads the filter, with the profile's flags. */
  readonly step: Extract<Step, { op: 'seccomp' }>;
}

export interface CompileSeccompOptions {
  /** The profile's name in error messages. @default 'seccomp' */
  field?: string;
}

const CACHE_SIZE = 32;
const cache = new Map<string, SeccompProgram>();

/**
 * Compiles a profile and says what it skipped. Results are cached for the process, keyed by
 * the normalised profile: compiling the same profile again (Docker's default for every
 * container) returns the same object without calling libseccomp.
 */
export function compileSeccompProgram(profile: LinuxSeccomp, options: CompileSeccompOptions = {}): SeccompProgram {
  const o = v.object('options', options);
  v.knownKeys('options', o, ['field']);
  const field = o.field === undefined ? 'seccomp' : v.string('options.field', o.field);
  const n = normalise(field, profile);
  const key = JSON.stringify(n, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
  const hit = cache.get(key);
  if (hit) return hit;

  let compiled: { filter: Buffer; unknownSyscalls: string[] };
  try {
    compiled = native.seccompCompile(n.spec);
  } catch (e) {
    throw explain(e, field, profile, n);
  }
  const filter = new Uint8Array(compiled.filter.buffer, compiled.filter.byteOffset, compiled.filter.byteLength);
  const program: SeccompProgram = Object.freeze({
    filter,
    unknownSyscalls: Object.freeze([...new Set(compiled.unknownSyscalls)]),
    step: Object.freeze({ op: 'seccomp' as const, filter, ...(Object.keys(n.flags).length > 0 && { flags: Object.freeze({ ...n.flags }) }) }),
  });
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, program);
  return program;
}

/**
 * Compiles an OCI seccomp profile into the BPF program for a plan's
 * `{ op: 'seccomp', filter }` step (put `{ op: 'noNewPrivileges' }` before it). System
 * calls this libseccomp does not know are skipped, as runc and crun skip them
 * ({@link compileSeccompProgram} lists them). Cached: the same profile gives the same array.
 * @example spawn({ command, plan: [{ op: 'noNewPrivileges' }, { op: 'seccomp', filter: compileSeccomp(dockerDefaultProfile()) }] })
 */
export function compileSeccomp(profile: LinuxSeccomp, options?: CompileSeccompOptions): Uint8Array {
  return compileSeccompProgram(profile, options).filter;
}

/** A libseccomp refusal as an error about the field that caused it. */
function explain(e: unknown, field: string, profile: LinuxSeccomp, n: Normalised): unknown {
  if (!(e instanceof NsboxSystemError)) return e;
  let error: Error | undefined;
  if (e.syscall === 'seccomp_arch_resolve_name' || e.syscall === 'seccomp_arch_add') {
    const i = n.spec.architectures.indexOf(e.path ?? '');
    const reason = e.syscall === 'seccomp_arch_resolve_name'
      ? 'this libseccomp does not know that architecture'
      : e.errno === -EDOM
        ? "libseccomp cannot filter it together with this machine's architecture (EDOM: another byte order)"
        : `libseccomp refused to add it (${e.code})`;
    error = new SeccompUnsupportedError(`${field}.architectures[${i}]`, profile.architectures?.[i], reason);
  } else if (e.syscall === 'seccomp_init') {
    error = new SeccompUnsupportedError(`${field}.defaultAction`, profile.defaultAction, `libseccomp refused it (${e.code}): the kernel may lack this action`);
  } else if (e.syscall === 'seccomp_rule_add') {
    const i = n.source[(e as { ruleIndex?: number }).ruleIndex ?? -1];
    if (i !== undefined) {
      error = new InvalidArgValueError(`${field}.syscalls[${i}]`, profile.syscalls?.[i], `was refused by libseccomp for '${e.path}' (${e.message})`);
    }
  }
  if (!error) return e;
  error.cause = e;
  return error;
}
