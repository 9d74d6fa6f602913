// Seccomp: OCI profiles, Docker's default, and their compilation for a plan's seccomp step.
export { compileSeccomp, compileSeccompProgram, SeccompUnsupportedError, SECCOMP_ACTIONS } from './compile';
export type { SeccompProgram, CompileSeccompOptions } from './compile';
export { dockerDefaultProfile } from './docker-default';
export type { DockerDefaultProfileOptions, DockerSeccompProfile, DockerSeccompRule, DockerSeccompFilter } from './docker-default';
export type { LinuxSeccomp, LinuxSyscall, LinuxSeccompArg, LinuxSeccompAction, LinuxSeccompOperator, LinuxSeccompArch, LinuxSeccompFlag } from './types';
