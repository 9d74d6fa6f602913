// Errors: Node-shaped system errors (built here for the addon through init()), argument
// errors with Node's ERR_INVALID_ARG_* codes, and lifecycle errors with stable codes.
import fs from 'node:fs';
import util from 'node:util';

/** A failed system call, shaped like Node's own system errors, plus where nsbox knows more. */
export class NsboxSystemError extends Error {
  override name = 'SystemError';
  /** `'EPERM'`, `'ENOENT'`, … */
  code: string;
  /** Negative, as in Node's system errors: `-1` for EPERM. */
  errno: number;
  syscall: string;
  path?: string;
  dest?: string;
  /** The plan step that failed in the child (`'pivotRoot'`, `'exec'`, …), or a parent-side step (`'uidMap'`). */
  step?: string;
  /** Index of that step in the plan passed to `spawn`. */
  stepIndex?: number;
  /** What to do about it, where that is known. */
  hint?: string;

  constructor(errno: number, syscall: string, path?: string, dest?: string) {
    const code = errnoName(errno);
    const description = util.getSystemErrorMap().get(-errno)?.[1] ?? 'unknown error';
    let message = `${code}: ${description}, ${syscall}`;
    if (path !== undefined) message += ` '${path}'`;
    if (dest !== undefined) message += ` -> '${dest}'`;
    super(message);
    this.code = code;
    this.errno = -errno;
    this.syscall = syscall;
    if (path !== undefined) this.path = path;
    if (dest !== undefined) this.dest = dest;
  }
}

export function errnoName(errno: number): string {
  try {
    return util.getSystemErrorName(-errno);
  } catch {
    return `Unknown system error ${errno}`;
  }
}

/** The factory the addon calls to build every system error (errno positive, as the kernel gives it). */
export function systemError(errno: number, syscall: string, path?: string, dest?: string): NsboxSystemError {
  return new NsboxSystemError(errno, syscall, path, dest);
}

/**
 * An ERR_INVALID_ARG_* / ERR_OUT_OF_RANGE error about an option (`'options.cwd'`), renamed to
 * say where that option came from: "'<name>' (as options.cwd)". `nameOf` gets the option's key
 * and index (`options.mounts[3].target` → 'mounts', 3) and returns the name, or undefined to
 * leave the error as it is. Returns the error.
 */
export function renameOptionError(e: unknown, nameOf: (key: string, index: number | undefined) => string | undefined): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (!(e instanceof Error) || (code !== 'ERR_INVALID_ARG_VALUE' && code !== 'ERR_INVALID_ARG_TYPE' && code !== 'ERR_OUT_OF_RANGE')) return e;
  const m = /(["'])(options\.([A-Za-z]+)(?:\[(\d+)\])?[^"']*)\1/.exec(e.message);
  const name = m ? nameOf(m[3], m[4] === undefined ? undefined : Number(m[4])) : undefined;
  if (m && name !== undefined) e.message = e.message.replace(m[0], `${m[1]}${name}${m[1]} (as ${m[2]})`);
  return e;
}

/** Adds a hint and returns the error: `throw withHint(err, '…')`. */
export function withHint<E extends NsboxSystemError>(error: E, hint: string | undefined): E {
  if (hint) {
    error.hint = hint;
    error.message += ` (hint: ${hint})`;
  }
  return error;
}

function readSysctl(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Why this user may not create a user namespace, if the host says so. */
export function userNamespaceHint(): string | undefined {
  if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0' && process.getuid?.() !== 0) {
    return 'unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone=1, or run as root';
  }
  if (readSysctl('/proc/sys/user/max_user_namespaces') === '0') {
    return 'user namespaces are disabled: user.max_user_namespaces is 0; raise it (sysctl -w user.max_user_namespaces=15000)';
  }
  if (readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1' && process.getuid?.() !== 0) {
    return 'AppArmor restricts unprivileged user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for node with "userns,"';
  }
  return undefined;
}

export const THREADED_HINT =
  'Node is multithreaded and the kernel refuses this in a threaded process: ' +
  'use spawn() to run a process in the new namespace instead';

/** A hint for a failure of a namespace-creating call, from what it asked for. */
export function namespaceHint(error: NsboxSystemError, types: readonly string[]): string | undefined {
  if (error.code === 'ENOSYS') return 'this kernel lacks the system call: Linux 5.3 or later is needed for clone3';
  if (error.code === 'EINVAL' && error.syscall === 'clone' && types.includes('time')) {
    return 'a time namespace needs clone3 (Linux 5.6 or later); plain clone cannot ask for one';
  }
  if (types.includes('user') && ['EPERM', 'EACCES', 'ENOSPC', 'EUSERS'].includes(error.code)) {
    return userNamespaceHint() ?? (error.code === 'ENOSPC' || error.code === 'EUSERS'
      ? 'the limit on user namespaces is reached: raise user.max_user_namespaces (sysctl -w user.max_user_namespaces=…)'
      : undefined);
  }
  if (error.code === 'EPERM' && process.getuid?.() !== 0) {
    return 'creating namespaces other than user needs CAP_SYS_ADMIN: run as root, or add "user" to the namespaces';
  }
  return undefined;
}

// ---- argument errors -------------------------------------------------------------------

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${(value as { name?: string }).name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor?.name;
    return ctor ? `an instance of ${ctor}` : util.inspect(value, { depth: -1 });
  }
  let shown = util.inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

export class InvalidArgTypeError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_TYPE';
  constructor(name: string, expected: string, actual: unknown) {
    super(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`);
  }
}

export class InvalidArgValueError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_VALUE';
  constructor(name: string, value: unknown, reason: string) {
    super(`The argument '${name}' ${reason}. Received ${util.inspect(value, { depth: 1 })}`);
  }
}

export class OutOfRangeError extends RangeError {
  readonly code = 'ERR_OUT_OF_RANGE';
  constructor(name: string, range: string, value: unknown) {
    super(`The value of "${name}" is out of range. It must be ${range}. Received ${util.inspect(value)}`);
  }
}

/** The error an aborted `signal` rejects with, as Node's own APIs do (`AbortError`, `ABORT_ERR`). */
export function abortError(signal: AbortSignal): Error {
  const e = new Error('The operation was aborted', { cause: signal.reason });
  e.name = 'AbortError';
  (e as Error & { code: string }).code = 'ABORT_ERR';
  return e;
}

/** Misuse of an object's lifecycle (killing an exited process, …), with a stable code. */
export class StateError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// ---- cgroups ---------------------------------------------------------------------------

/**
 * A cgroup controller this host does not offer where it is needed, never silently ignored:
 * names the controller, the group whose `cgroup.controllers` lacks it, and the host's mode.
 */
export class CgroupControllerError extends Error {
  readonly code = 'ERR_NSBOX_CGROUP_CONTROLLER';
  readonly hint?: string;
  constructor(
    readonly controller: string,
    readonly path: string,
    readonly mode: string,
    hint?: string,
  ) {
    super(`the cgroup controller '${controller}' is not available at ${path} (cgroup mode: ${mode})${hint ? ` (hint: ${hint})` : ''}`);
    if (hint) this.hint = hint;
  }
}

/**
 * A group that holds processes cannot enable controllers for groups below it (cgroup v2's
 * no-internal-process rule; the root is exempt): refused before anything is written.
 */
export class CgroupInternalProcessError extends Error {
  readonly code = 'ERR_NSBOX_CGROUP_INTERNAL_PROCESS';
  constructor(
    readonly path: string,
    readonly controllers: readonly string[],
    readonly hint: string,
  ) {
    super(`${path} holds processes, so it cannot enable ${controllers.join(', ')} for the groups below it (the no-internal-process rule) (hint: ${hint})`);
  }
}

/** No cgroup v2 hierarchy to work in (a legacy-only host, or none mounted), or a path outside it. */
export class CgroupUnavailableError extends Error {
  readonly code = 'ERR_NSBOX_CGROUP_UNAVAILABLE';
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(hint ? `${message} (hint: ${hint})` : message);
    if (hint) this.hint = hint;
  }
}

// ---- OCI runtime spec ------------------------------------------------------------------

/**
 * A field of an OCI config.json that nsbox cannot honour, or an nsbox option that config.json
 * cannot express: never silently dropped. `field` is the JSON path (`'linux.intelRdt'`,
 * `'mounts[3].type'`) or the option (`'options.rootfs'`); `path` the file, when read from one.
 */
export class OciUnsupportedError extends Error {
  readonly code = 'ERR_NSBOX_OCI_UNSUPPORTED';
  readonly path?: string;
  constructor(
    readonly field: string,
    reason: string,
    path?: string,
  ) {
    super(`${path === undefined ? '' : `${path}: `}${field}: ${reason}`);
    if (path !== undefined) this.path = path;
  }
}

/** A Node fs error as an NsboxSystemError naming the file, with a hint where the fix is known. */
export function fsError(e: unknown, syscall: string, file: string, hint?: string): NsboxSystemError | unknown {
  const errno = (e as NodeJS.ErrnoException | null)?.errno;
  if (typeof errno !== 'number') return e;
  const error = new NsboxSystemError(-errno, syscall, file);
  error.cause = e;
  return withHint(error, hint);
}
