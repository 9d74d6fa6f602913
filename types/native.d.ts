// The exact surface of the addon (src-native/addon.cc). lib/native.ts is its only importer.
// Numbers in, numbers out: flags are kernel bits built in lib/; errors are built by the
// factory passed to init() (lib/errors.ts).

export type SystemErrorFactory = (errno: number, syscall: string, path?: string, dest?: string) => Error;

/** Events a spawned child reports: exec succeeded, a plan step failed, held at a wait step, exited, forked. */
export type ChildEvent = 1 | 2 | 3 | 4 | 5;

export interface NativeSpawnOptions {
  flags: number;
  cgroupFd: number;
  /** per child fd: a parent fd, -1 closed, -2 a new pipe, -3 /dev/null (opened by the child) */
  stdio: number[];
  uidMap?: string;
  gidMap?: string;
  setgroups?: 'allow' | 'deny';
  /** CLONE_VM with a private stack; the child runs while this thread goes on. */
  vm?: boolean;
  /**
   * CLONE_VM|CLONE_VFORK: this thread waits until the child has exec'd or died. Ignored with
   * a wait or fork step, and when the parent has work to do while the child waits (id maps,
   * cgroup.procs without CLONE_INTO_CGROUP).
   */
  vfork?: boolean;
  /** With vfork: the result's `timing`. */
  timing?: boolean;
  /** The setup process is non-dumpable: around a vfork clone the shared address space; otherwise the child makes itself so first (and CLONE_VM without vfork is not used). */
  nonDumpable?: boolean;
  noClone3?: boolean;
  noIntoCgroup?: boolean;
  noMountSetattr?: boolean;
  faultStep?: number;
  faultErrno?: number;
  /** A fork step's forking process dies (SIGKILL) between the fork and its report. */
  faultForkLost?: boolean;
  /** A network namespace fd the child joins before stdio (instead of CLONE_NEWNET in flags). */
  netnsFd?: number;
  /** That namespace's loopback is up already (the pool's kind 1): a loopbackUp step does nothing. */
  netnsLoopbackUp?: boolean;
  /** The addon's sysfs template (netnsSysfsTemplate), which a mountSysfs step clones. */
  sysfsFd?: number;
  /** The addon's mask template (maskTemplate), which a mask step marked `shared` clones over a directory. */
  maskFd?: number;
}

export interface NativeSpawnResult {
  pid: number;
  pidfd: number;
  /** parent ends of the pipes requested with -2, else -1 */
  stdio: number[];
  clone: 'clone3' | 'clone';
  intoCgroup: boolean;
  /** With options.timing and a vfork clone, in ms: until the child ran, its setup, its execve until the clone returned. */
  timing?: { clone: number; setup: number; exec: number };
}

/**
 * (event, a, b, c): Exec → (); Failed → (step, errno, sysop); Held → (step);
 * Exit → (code, 0) exited, (-1, signal) killed, (-1, 0) status unknown (reaped elsewhere);
 * Forked → (pid, pidfd): a fork step made the grandchild that runs the program: from then on
 * pid, pidfd (a new fd, the key of childRef/childRelease) and Exit are its; the forking
 * process is reaped without an event. A child that dies before exec without a failed step
 * gets no Exec or Failed, only Exit.
 */
export type NativeChildListener = (event: ChildEvent, a: number, b: number, c: number) => void;

export interface ProbeSyscallsResult {
  clone3: boolean;
  pidfd: boolean;
  newMountApi: boolean;
  mountSetattr: boolean;
  closeRange: boolean;
  seccompFilter: boolean;
  seccompMode: number;
  landlockAbi: number;
  landlockErrno: number;
}

export interface NativeAddon {
  init(factory: SystemErrorFactory): void;
  unshare(flags: number): void;
  setns(fd: number, nstype: number): void;
  /**
   * Starts `count` network namespaces of a kind (0: as CLONE_NEWNET makes them, 1: loopback up)
   * on the environment's namespace thread (one per environment, nice 19; it unshares and keeps
   * an fd of each) into the addon's pool; callback per namespace, in the order asked. Throws
   * where that thread cannot be started.
   */
  netnsPoolFill(count: number, kind: 0 | 1, callback: (error: Error | null) => void): void;
  /** A pooled namespace's fd of that kind (the caller closes it), or -1. */
  netnsPoolTake(kind: 0 | 1): number;
  /** The sysfs template's mount fd (the addon keeps it): made with the first kind-1 namespace; -1 before, or where the kernel cannot. */
  netnsSysfsTemplate(): number;
  /** Closes the pooled fds of both kinds; those still being made are closed when they arrive. */
  netnsPoolDrain(): void;
  /** [ready, being made] of kind 0, then of kind 1. */
  netnsPoolState(): [number, number, number, number];
  /** Opens a pressure file (non-blocking, close-on-exec) and writes the PSI trigger: the fd, which the trigger lives as long as. */
  psiTrigger(path: string, trigger: string): number;
  /**
   * Watches fd on the event loop, owning it from here (closed here if this throws) and making
   * it non-blocking; waits for nothing until fdWatchStart. callback(events) per event: the
   * readable 1, writable 2, prioritized 4; 8 for an error (POLLERR), after which the watch is
   * stopped; 16 for a hang-up (POLLHUP), which libuv also reports as whatever the watch waits
   * for. Returns an id.
   */
  fdWatch(fd: number, callback: (events: number) => void): number;
  /** What the watch waits for from now on (readable 1 | writable 2 | prioritized 4); 0 stops it. */
  fdWatchStart(id: number, events: number): void;
  /** Whether a started watch keeps the event loop alive (by default it does). */
  fdWatchRef(id: number, ref: boolean): void;
  /** Stops the watch and closes its fd; an unknown or closed id is ignored. */
  fdWatchClose(id: number): void;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  mountSetattr(dirfd: number, path: string, atFlags: number, set: number, clr: number, propagation: number): void;
  openTree(dirfd: number, path: string, flags: number): number;
  moveMount(fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number): void;
  /** The mask template's mount fd (the addon keeps it; made on the first call): an empty tmpfs, read-only in superblock and mount; -1 where it cannot be made. */
  maskTemplate(): number;
  sethostname(name: string): void;
  setdomainname(name: string): void;
  pidfdOpen(pid: number, flags: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  spawn(plan: Uint8Array, options: NativeSpawnOptions, onEvent: NativeChildListener): NativeSpawnResult;
  /**
   * spawn with the clone on a libuv pool thread (for vfork clones, which keep their thread until
   * the child has exec'd); onDone gets spawn's result or its error. The fds in options (cgroupFd,
   * netnsFd, stdio) must stay open until then.
   */
  /** This build clones with CLONE_VM (x86_64 only): vfork spawns, and spawnAsync, need it. */
  readonly vmClone: boolean;
  spawnAsync(plan: Uint8Array, options: NativeSpawnOptions, onEvent: NativeChildListener,
    onDone: (error: Error | null, result: NativeSpawnResult | undefined) => void): void;
  childRef(pidfd: number, ref: boolean): void;
  childRelease(pidfd: number): boolean;
  probeSyscalls(): ProbeSyscallsResult;
  /** open_tree(OPEN_TREE_CLONE) of path, then mount_setattr(MOUNT_ATTR_IDMAP) with usernsFd; the clone is closed, never attached. */
  probeIdmappedMount(path: string, usernsFd: number): void;
  /** posix_openpt, grantpt, unlockpt, ptsname_r, then the slave (TIOCGPTPEER, else by path): both O_NOCTTY, close-on-exec. */
  openpty(): [masterFd: number, slaveFd: number, slavePath: string];
  /** ioctl TIOCSWINSZ (0..65535 each). */
  ptyResize(fd: number, cols: number, rows: number): void;
  /** ioctl TIOCGPTN: N of the master's slave, /dev/pts/N in the master's devpts instance. */
  ptyNumber(fd: number): number;
  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC) */
  socketpair(): [a: number, b: number];
  /**
   * recvmsg(MSG_DONTWAIT | MSG_CMSG_CLOEXEC): the fd sent with SCM_RIGHTS (further ones are
   * closed). Throws EAGAIN when nothing was sent, ENOMSG when what arrived has no fd.
   */
  recvFd(fd: number): number;
  /**
   * libseccomp (seccomp_init, seccomp_arch_add, seccomp_rule_add_array, seccomp_export_bpf):
   * actions are SCMP_ACT_* values, ops SCMP_CMP_* (1..7), architectures libseccomp's names
   * ('x86_64'). Names libseccomp does not know are skipped and listed; a failed rule's error
   * has `ruleIndex`. NNP and TSYNC are off.
   */
  seccompCompile(spec: {
    defaultAction: number;
    architectures: string[];
    rules: { names: string[]; action: number; args: { index: number; op: number; value: bigint | number; valueTwo: bigint | number }[] }[];
  }): { filter: Buffer; unknownSyscalls: string[] };
}
