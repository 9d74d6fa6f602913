// The child plan: a flat list of fixed-size steps with a string table, encoded by
// lib/plan.ts and decoded (validated) by plan.cc in the parent before cloning.
// The numbering here is mirrored in lib/plan.ts; change both together.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

namespace nsbox {

enum Op : uint32_t {
  OP_MOUNT = 1,         // a0 source?, a1 target, a2 fstype?, a3 flags, a4 data?
  OP_BIND = 2,          // a0 source, a1 target, a2 bits(1 recursive, 2 create target, 4 optional source), a3 set, a4 clr, a5 propagation
  OP_MOUNT_SETATTR = 3, // a0 path, a1 at-flags, a2 set, a3 clr, a4 propagation
  OP_PIVOT_ROOT = 4,    // a0 new root, a1 put-old? (outside path), a2 put-old? (inside path)
  OP_SETHOSTNAME = 5,   // a0 name
  OP_SETDOMAINNAME = 6, // a0 name
  OP_MKDIR = 7,         // a0 path, a1 mode, a2 bits (1 recursive, 2 plain: no symlink on the way)
  OP_SYMLINK = 8,       // a0 target, a1 link path
  OP_MKNOD = 9,         // a0 path, a1 mode (with S_IF*), a2 dev lo, a3 dev hi
  OP_MASK = 10,         // a0 path, a1 null device path (bound over files), a2 bit 0: a directory may clone the mask template
  OP_REMOUNT_RO = 11,   // a0 path, a1 recursive
  OP_CHDIR = 12,        // a0 path
  OP_SETRLIMIT = 13,    // a0 resource, a1/a2 soft lo/hi, a3/a4 hard lo/hi
  OP_SETGROUPS = 14,    // a0 blob (u32 gids), a1 count
  OP_SETGID = 15,       // a0 gid
  OP_SETUID = 16,       // a0 uid
  OP_CAPS = 17,         // a0..a9: bounding, effective, permitted, inheritable, ambient (lo/hi); a10 last cap;
                        // a11 bits: 1 permitted, 2 effective not given (= what the process holds, within bounding)
  OP_NO_NEW_PRIVS = 18, //
  OP_SECCOMP = 19,      // a0 blob (struct sock_filter[]), a1 byte length, a2 flags
  OP_DUMPABLE = 20,     // a0 0|1
  OP_UMOUNT = 21,       // a0 path, a1 flags
  OP_SETSID = 22,       //
  OP_WAIT = 23,         // block until the parent releases the child
  OP_EXEC = 24,         // a0 path, a1 argv blob, a2 argc, a3 envp blob, a4 envc (both kNone: this process's environ), a5 search PATH?
  OP_SETNS = 25,        // a0 fd (inherited from the parent), a1 nstype (CLONE_NEW* bits, 0: whatever the fd is)
  OP_WRITE_FILE = 26,   // a0 path, a1 blob (contents), a2 byte length, a3 bits (1 create, 2 truncate), a4 mode
  OP_FORK = 27,         // the rest of the plan and the exec run in a grandchild (CLONE_PARENT); at most one
  OP_SETCTTY = 28,      // a0 fd: ioctl(fd, TIOCSCTTY, 0)
  OP_UMASK = 29,        // a0 mask
  OP_UNSHARE = 30,      // a0 CLONE_NEW* flags
  OP_LOOPBACK_UP = 31,  // bring `lo` up in the child's network namespace
  OP_OPEN_CONSOLE = 32, // a0 socket fd (inherited AF_UNIX), a1 cols, a2 rows (0: unset), a3 uid, a4 gid (kNone: unchanged): a pty from /dev/pts/ptmx, master sent, slave as 0-2 and ctty
  OP_MOUNT_SYSFS = 33,  // a0 target: a clone of the sysfs template (ChildContext::sysfs_fd) there, else a new sysfs; ro/nosuid/nodev/noexec
  OP_CONFINE = 34,      // a0 root: until pivot_root, paths below root resolve inside it (openat2 RESOLVE_IN_ROOT)
  OP_MAX = 34,
};

// The syscall a failing step reports (mirrored in lib/plan.ts SYSCALLS).
enum SysOp : int32_t {
  SYS_OP_READ = 0,
  SYS_OP_DUP = 1,
  SYS_OP_CLOSE_RANGE = 2,
  SYS_OP_MOUNT = 3,
  SYS_OP_MOUNT_SETATTR = 4,
  SYS_OP_PIVOT_ROOT = 5,
  SYS_OP_UMOUNT2 = 6,
  SYS_OP_CHDIR = 7,
  SYS_OP_SETHOSTNAME = 8,
  SYS_OP_SETDOMAINNAME = 9,
  SYS_OP_MKDIR = 10,
  SYS_OP_SYMLINK = 11,
  SYS_OP_MKNOD = 12,
  SYS_OP_OPEN = 13,
  SYS_OP_STATX = 14,
  SYS_OP_PRLIMIT = 15,
  SYS_OP_SETGROUPS = 16,
  SYS_OP_SETRESGID = 17,
  SYS_OP_SETRESUID = 18,
  SYS_OP_PRCTL = 19,
  SYS_OP_CAPSET = 20,
  SYS_OP_SECCOMP = 21,
  SYS_OP_SETSID = 22,
  SYS_OP_EXECVE = 23,
  SYS_OP_RT_SIGACTION = 24,
  SYS_OP_RT_SIGPROCMASK = 25,
  SYS_OP_FAULT = 26,  // the test-only fault hook
  SYS_OP_STATFS = 27,
  SYS_OP_CAPGET = 28,
  SYS_OP_SETNS = 29,
  SYS_OP_WRITE = 30,
  SYS_OP_CLONE = 31,
  SYS_OP_IOCTL = 32,
  SYS_OP_UNSHARE = 33,
  SYS_OP_SOCKET = 34,
  SYS_OP_SENDMSG = 35,
  SYS_OP_MOVE_MOUNT = 36,
  SYS_OP_OPEN_TREE = 37,
  SYS_OP_OPENAT2 = 38,
  SYS_OP_FCHOWN = 39,
};

// Pseudo step indices for work the executor does around the plan.
enum : int32_t { STEP_SIGNALS = -1, STEP_SYNC = -2, STEP_STDIO = -3, STEP_CLOSE_FDS = -4, STEP_NETNS = -5 };

constexpr uint32_t kPlanMagic = 0x5042534e;  // "NSBP"
constexpr uint32_t kPlanVersion = 1;
constexpr uint32_t kStepArgs = 12;
constexpr uint32_t kNone = 0xffffffffu;
constexpr int kMaxStdio = 64;
constexpr int kStdioNull = -3;  // /dev/null, opened by the child

struct RawStep {
  uint32_t op;
  uint32_t a[kStepArgs];
};

struct PlanHeader {
  uint32_t magic;
  uint32_t version;
  uint32_t count;
  uint32_t strings_len;
};

// Written by the child on the report pipe: a failure (err != 0, after which the child
// exits), or with err == 0 a notice: sysop kReportHeld when a WAIT step starts waiting,
// kReportExec just before execve, kReportForked when a FORK step has made the grandchild
// that goes on with the plan (pid: its pid, in the parent's pid namespace). EOF after
// kReportExec and no failure means the exec succeeded, unless the child has died still
// named kExecName (killed inside execve: a seccomp filter); EOF without it means the child
// died before exec (a signal, a seccomp kill).
struct ChildReport {
  int32_t step;
  int32_t err;
  int32_t sysop;
  int32_t pid = 0;
};
constexpr int32_t kReportHeld = -1;
constexpr int32_t kReportExec = -2;
constexpr int32_t kReportForked = -3;
// The child's name (comm) from its kReportExec until execve replaces it with the program's.
constexpr char kExecName[] = "nsbox-execve";

// Everything the child reads. Built by the parent, never written after clone.
// The exec trampoline's arguments before the program's argv (exec-trampoline.h).
constexpr size_t kTrampolineSlots = 4;

struct ChildContext {
  const RawStep* steps = nullptr;
  uint32_t count = 0;
  const char* strings = nullptr;
  uint32_t strings_len = 0;
  const char* const* argv = nullptr;
  const char* const* envp = nullptr;
  // argv with four free slots before it: the exec trampoline's own arguments, which the child
  // fills in (its memory: a CLONE_VM child writes what only it reads).
  const char** trampoline_argv = nullptr;
  int trampoline_fd = -1;  // the addon's exec trampoline (a sealed memfd), -1: exec directly
  int stdio[kMaxStdio];  // source fd in the child for each target fd, -1 (closed) or kStdioNull
  int stdio_count = 0;
  int report_fd = -1;
  int sync_fd = -1;        // read end: one byte per release
  bool sync_first = false; // wait for the parent (maps, cgroup.procs) before any step
  int netns_fd = -1;       // a network namespace made ahead (lib/netns-pool.ts), joined before stdio
  bool netns_lo_up = false;  // ... made with its loopback up: a LOOPBACK_UP step has nothing to do
  int sysfs_fd = -1;       // the addon's sysfs template (AddonData::sysfs_template): what a MOUNT_SYSFS step clones
  int mask_fd = -1;        // the addon's mask template (AddonData::mask_template): what a MASK step clones over a directory
  int fault_step = -1;     // test-only: fail this step with fault_errno instead of running it
  int fault_errno = 0;
  bool no_mount_setattr = false;  // test-only: act as a kernel before 5.12 (the remount fallback)
  // A FORK step's: the go pipe (the grandchild waits on go_r until the forking process
  // has reported its pid) and a MAP_SHARED word the kernel sets to the grandchild's pid as
  // it creates it (CLONE_PARENT_SETTID), so that the parent finds it even when the forking
  // process dies before its report.
  int fork_go_r = -1;
  int fork_go_w = -1;
  int* fork_pid = nullptr;
  // CLONE_VM only: the child writes CLOCK_MONOTONIC ns as it starts [0] and as it execs [1].
  uint64_t* timing = nullptr;
  bool fault_fork_lost = false;  // test-only: the forking process dies (SIGKILL) before its report
  // The child makes itself non-dumpable first (PR_SET_DUMPABLE 0): a spawn that asked for it
  // (nonDumpable) but is not a vfork clone, whose address space the parent makes so instead.
  bool non_dumpable = false;
};

// A decoded, validated plan and the memory the child reads.
struct Plan {
  std::vector<uint8_t> bytes;
  std::vector<const char*> argv;
  std::vector<const char*> envp;
  std::vector<std::string> environ_copy;  // when the plan inherits the environment
  uint32_t wait_steps = 0;
  uint32_t fork_steps = 0;
  ChildContext ctx;
};

// Validates every offset and string in the buffer; on failure returns false with a message.
bool DecodePlan(const uint8_t* data, size_t len, Plan* out, std::string* error);

// The executor (child.cc). Never returns: execs or exits.
extern "C" int ChildMain(void* ctx);

}  // namespace nsbox
