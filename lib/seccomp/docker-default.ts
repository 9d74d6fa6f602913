// Docker's default seccomp profile for a given container: the rules of moby's profile
// (./docker-default-data.ts) whose conditions hold, resolved as moby's setupSeccomp does
// (github.com/moby/profiles/seccomp, seccomp_linux.go and kernel_linux.go).
import os from 'node:os';
import { CAPABILITIES, type Capability } from '../capabilities';
import { DEFAULT_CAPABILITIES } from '../container/defaults';
import { InvalidArgValueError } from '../errors';
import * as v from '../validate';
import { DOCKER_DEFAULT_SECCOMP } from './docker-default-data';
import type { LinuxSeccomp, LinuxSeccompArch, LinuxSyscall } from './types';

/** When a rule of a Docker profile applies: every listed condition must hold. */
export interface DockerSeccompFilter {
  /** Capabilities (all of them, for includes; any, for excludes) in the container's bounding set. */
  caps?: string[];
  /** Architectures in Docker's (libseccomp's Go) names: 'amd64', 'x86', 'arm64'… */
  arches?: string[];
  /** The host kernel is at least this "major.minor". */
  minKernel?: string;
}

/** A rule of a Docker profile: an OCI rule with conditions (moby's `Syscall`). */
export interface DockerSeccompRule extends LinuxSyscall {
  comment?: string;
  includes?: DockerSeccompFilter;
  excludes?: DockerSeccompFilter;
}

/** A Docker seccomp profile (moby's `Seccomp`): OCI fields plus `archMap` and conditional rules. */
export interface DockerSeccompProfile extends Omit<LinuxSeccomp, 'syscalls'> {
  archMap?: { architecture: LinuxSeccompArch; subArchitectures: LinuxSeccompArch[] }[];
  syscalls: DockerSeccompRule[];
}

export interface DockerDefaultProfileOptions {
  /**
   * The container's bounding set: Docker lets a container call what its capabilities allow
   * (`mount`, `unshare`… with CAP_SYS_ADMIN, `ptrace` with CAP_SYS_PTRACE).
   * @default Docker's default capabilities
   */
  capabilities?: readonly Capability[];
  /** The architecture the container runs on, as Node names it. @default process.arch */
  arch?: string;
  /** The kernel release that rules with `minKernel` are checked against ('6.1.0-18-amd64'). @default os.release() */
  kernelRelease?: string;
}

// Node's process.arch → the name Docker's conditions use (Go's GOARCH through moby's
// goToNative) and the OCI architecture that picks its archMap entry (moby's nativeToSeccomp).
const ARCHES: Record<string, { docker: string; oci: LinuxSeccompArch }> = {
  x64: { docker: 'amd64', oci: 'SCMP_ARCH_X86_64' },
  ia32: { docker: 'x86', oci: 'SCMP_ARCH_X86' },
  arm64: { docker: 'arm64', oci: 'SCMP_ARCH_AARCH64' },
  arm: { docker: 'arm', oci: 'SCMP_ARCH_ARM' },
  ppc64: { docker: 'ppc64le', oci: 'SCMP_ARCH_PPC64LE' }, // Node on Linux/ppc64 is little-endian
  s390x: { docker: 's390x', oci: 'SCMP_ARCH_S390X' },
  s390: { docker: 's390', oci: 'SCMP_ARCH_S390' },
  riscv64: { docker: 'riscv64', oci: 'SCMP_ARCH_RISCV64' },
};

/** "major.minor" of a release as moby reads it (`%d.%d`): '6.1.0-18-amd64' → [6, 1]. */
function kernelVersion(name: string, release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new InvalidArgValueError(name, release, 'must start with "<kernel>.<major>" (like uname -r)');
  return [Number(m[1]), Number(m[2])];
}

function atLeast(kernel: [number, number], min: string): boolean {
  const [k, m] = min.split('.').map(Number);
  return kernel[0] > k || (kernel[0] === k && kernel[1] >= m);
}

/**
 * Docker's default seccomp profile as Docker resolves it for a container with these
 * capabilities on this architecture and kernel: a plain OCI profile, ready for
 * {@link compileSeccomp} or a config.json. Like Docker: calls not listed fail with EPERM,
 * namespace and mount calls need CAP_SYS_ADMIN, `clone3` fails with ENOSYS without it (so
 * that libc falls back to `clone`, whose namespace flags the filter can see), and the
 * architectures are the native one and its compat ones (x86_64: x86 and x32).
 * @example compileSeccomp(dockerDefaultProfile({ capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] }))
 */
export function dockerDefaultProfile(options: DockerDefaultProfileOptions = {}): LinuxSeccomp {
  const o = v.object('options', options);
  v.knownKeys('options', o, ['capabilities', 'arch', 'kernelRelease']);
  const caps = new Set<string>(o.capabilities === undefined
    ? DEFAULT_CAPABILITIES
    : v.array('options.capabilities', o.capabilities).map((c, i) => v.oneOf(`options.capabilities[${i}]`, c, CAPABILITIES)));
  const archName = o.arch === undefined ? process.arch : v.oneOf('options.arch', o.arch, Object.keys(ARCHES));
  const arch = ARCHES[archName];
  if (!arch) throw new InvalidArgValueError('options.arch', archName, `is not an architecture Docker's profile knows (${Object.keys(ARCHES).join(', ')})`);
  const kernel = kernelVersion('options.kernelRelease', o.kernelRelease === undefined ? os.release() : v.string('options.kernelRelease', o.kernelRelease));
  return resolveDockerProfile(DOCKER_DEFAULT_SECCOMP, { caps, arch: arch.docker, oci: arch.oci, kernel });
}

/** moby's setupSeccomp: archMap → architectures, then each rule kept or dropped by its conditions. */
function resolveDockerProfile(
  profile: DockerSeccompProfile,
  host: { caps: ReadonlySet<string>; arch: string; oci: LinuxSeccompArch; kernel: [number, number] },
): LinuxSeccomp {
  const entry = profile.archMap?.find((a) => a.architecture === host.oci);
  const out: LinuxSeccomp = {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined && { defaultErrnoRet: profile.defaultErrnoRet }),
    architectures: entry ? [entry.architecture, ...entry.subArchitectures] : [],
    syscalls: [],
  };
  for (const rule of profile.syscalls) {
    const ex = rule.excludes;
    if (ex) {
      // Dropped if any exclusion holds.
      if (ex.arches?.includes(host.arch)) continue;
      if (ex.caps?.some((c) => host.caps.has(c))) continue;
      if (ex.minKernel !== undefined && atLeast(host.kernel, ex.minKernel)) continue;
    }
    const inc = rule.includes;
    if (inc) {
      // Kept only if every inclusion holds.
      if (inc.arches?.length && !inc.arches.includes(host.arch)) continue;
      if (inc.caps?.some((c) => !host.caps.has(c))) continue;
      if (inc.minKernel !== undefined && !atLeast(host.kernel, inc.minKernel)) continue;
    }
    out.syscalls!.push({
      names: [...rule.names],
      action: rule.action,
      ...(rule.errnoRet !== undefined && { errnoRet: rule.errnoRet }),
      ...(rule.args && { args: rule.args.map((a) => ({ ...a })) }),
    });
  }
  return out;
}
