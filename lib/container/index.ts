export { Container, ContainerStateError } from './container';
export type { ContainerState, ContainerResult, ContainerUsage, ExitReason, RunOptions, RunResult, ExecOptions, ExecProcess } from './container';
export type { ContainerOptions, ContainerMount, BindMount, TmpfsMount, OverlayMount, RootfsOptions, CapabilityOptions, ContainerStdioEntry } from './options';
export { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from './defaults';
