// nsbox: Linux namespaces, mounts, pivot_root, clone3 and cgroup v2 as typed functions.
export { unshare, setns, openNamespace, namespaceId, listNamespaces, NAMESPACE_TYPES } from './namespaces';
export type { NamespaceType, SetnsTarget, NamespaceId, NamespaceEntry } from './namespaces';
export { mount, umount, pivotRoot, mountSetattr, openTree, moveMount } from './mounts';
export type { MountOptions, MountFlags, UmountOptions, MountAttributes, MountSetattrOptions, OpenTreeOptions, Propagation } from './mounts';
export { sethostname, setdomainname } from './identity';
export { pidfdOpen, pidfdSendSignal } from './pidfd';
export { spawn, Subprocess } from './spawn';
export type { SpawnOptions, ExitStatus, IdMapping, StdioEntry } from './spawn';
export type { Step, StepOp, CapabilitySets, RlimitResource, RlimitValue } from './plan';
export { CAPABILITIES, capabilityNames } from './capabilities';
export type { Capability } from './capabilities';
export { NsboxSystemError, InvalidArgTypeError, InvalidArgValueError, OutOfRangeError, StateError } from './errors';
export { probe } from './probe';
export type { HostProbe, Support, UserNamespaceProbe, UserNamespaceSysctls, CgroupProbe, SeccompProbe, LandlockProbe } from './probe';
export * from './cgroup/index';
export { CgroupControllerError, CgroupInternalProcessError, CgroupUnavailableError } from './errors';
export { setNetnsPoolSize, drainNetnsPool } from './netns-pool';
export * from './seccomp/index';
