// Raw system calls and constants that older libc headers lack.
//
// The raw_* functions return the kernel's result (-errno on failure) and never touch
// errno: a child cloned with CLONE_VM shares the parent's memory, so writing errno there
// would write the errno of a parent thread (see child.cc).
#pragma once
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC 02000000
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef MOVE_MOUNT_T_SYMLINKS
#define MOVE_MOUNT_T_SYMLINKS 0x00000010
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#define MOUNT_ATTR__ATIME 0x00000070
#define MOUNT_ATTR_RELATIME 0x00000000
#define MOUNT_ATTR_NOATIME 0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME 0x00000080
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef TIOCGPTPEER  // asm-generic/ioctls.h, 4.13
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace nsbox {

// The kernel's struct mount_attr (linux/mount.h, 5.12).
struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

// The kernel's struct clone_args up to CLONE_ARGS_SIZE_VER2 (5.7: the cgroup field).
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};

#if defined(__x86_64__)
static inline long raw_syscall6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  long ret;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
static inline long raw_syscall6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 asm("x8") = n;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  register long x3 asm("x3") = d;
  register long x4 asm("x4") = e;
  register long x5 asm("x5") = f;
  asm volatile("svc 0"
               : "+r"(x0)
               : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
               : "memory");
  return x0;
}
#else
#error "nsbox supports x86_64 and aarch64"
#endif

static inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0,
                               long f = 0) {
  return raw_syscall6(n, a, b, c, d, e, f);
}

template <typename T>
static inline long P(T* p) {
  return reinterpret_cast<long>(p);
}

// `lo` up in the caller's network namespace: SIOCSIFFLAGS on any socket of it (netdevice(7),
// no netlink needed); nothing if it is up already. Raw system calls only (the child runs it):
// 0, or -errno with *failed set to the call that failed ("socket" or "ioctl").
static inline long BringLoopbackUp(const char** failed) {
  long fd = raw_syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *failed = "socket";
    return fd;
  }
  struct ifreq req = {};
  req.ifr_name[0] = 'l', req.ifr_name[1] = 'o';
  long rc = raw_syscall(SYS_ioctl, fd, SIOCGIFFLAGS, P(&req));
  if (rc == 0 && !(req.ifr_flags & IFF_UP)) {
    req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
    rc = raw_syscall(SYS_ioctl, fd, SIOCSIFFLAGS, P(&req));
  }
  if (rc < 0) *failed = "ioctl";
  raw_syscall(SYS_close, fd);
  return rc;
}

// A template mount: a new filesystem of `type`, mounted detached (fsopen, fsconfig, fsmount;
// 5.2) with the mount attributes `attrs`, that the kernel lets a child clone (open_tree with
// OPEN_TREE_CLONE of a detached mount: refused before 6.x, EINVAL). Its fd (close-on-exec),
// or -1: asked once here rather than by every child. `options`: key=value strings, a null
// value for a flag ("ro": the superblock itself read-only). Raw system calls.
struct FsOption {
  const char* key;
  const char* value;
};
static inline long MakeTemplateMount(const char* type, const FsOption* options, size_t count, unsigned attrs) {
  long fs = raw_syscall(SYS_fsopen, P(type), FSOPEN_CLOEXEC);
  if (fs < 0) return -1;
  long rc = 0;
  for (size_t i = 0; i < count && rc == 0; i++) {
    const FsOption& o = options[i];
    rc = raw_syscall(SYS_fsconfig, fs, o.value ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, P(o.key), P(o.value), 0);
  }
  if (rc == 0) rc = raw_syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0);
  long mnt = rc == 0 ? raw_syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs) : -1;
  raw_syscall(SYS_close, fs);
  if (mnt < 0) return -1;
  long clone = raw_syscall(SYS_open_tree, mnt, P(""), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (clone < 0) {
    raw_syscall(SYS_close, mnt);
    return -1;
  }
  raw_syscall(SYS_close, clone);
  return mnt;
}

}  // namespace nsbox
