// ASYNC-SIGNAL-SAFE. Everything in this file runs in the child between clone and execve.
//
// The child is a copy of a multithreaded Node process (or, in CLONE_VM mode, shares its
// memory), so only raw system calls may run here: no allocation, no locks, no C++
// exceptions, no N-API, and no errno (raw_syscall returns -errno instead; in CLONE_VM mode
// errno would be a parent thread's). The context it reads was built by the parent and is
// never written here (only the timing array a vfork'd child is given, for benchmarks).
#include <initializer_list>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include "plan.h"
#include "syscalls.h"

namespace nsbox {

namespace {

struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

size_t Len(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

[[noreturn]] void Exit(int code) {
  for (;;) raw_syscall(SYS_exit_group, code);
}

[[noreturn]] void Die(int report_fd, int32_t step, long rc, int32_t sysop) {
  ChildReport r = {step, static_cast<int32_t>(-rc), sysop};
  raw_syscall(SYS_write, report_fd, P(&r), sizeof r);
  Exit(127);
}

class Executor {
 public:
  explicit Executor(const ChildContext* c)
      : c_(c), report_(c->report_fd), sync_(c->sync_fd), go_r_(c->fork_go_r), go_w_(c->fork_go_w), sysfs_(c->sysfs_fd), mask_(c->mask_fd),
        trampoline_(c->trampoline_fd) {}

  // Only with CLONE_VM (the parent reads it after a vfork): the benchmark's stages.
  void Stamp(int i) {
    if (c_->timing == nullptr) return;
    struct timespec ts;
    if (raw_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, P(&ts)) == 0) {
      c_->timing[i] = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
    }
  }

  [[noreturn]] void Run() {
    Stamp(0);
    if (c_->non_dumpable) {
      long rc = raw_syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
      if (rc < 0) Die(report_, STEP_SIGNALS, rc, SYS_OP_PRCTL);
    }
    ResetSignals();
    if (c_->sync_first && !WaitForParent()) Exit(1);
    // Before stdio, whose dup3s could land on the fd's number.
    if (c_->netns_fd >= 0) {
      long rc = Sys(SYS_OP_SETNS, SYS_setns, c_->netns_fd, CLONE_NEWNET);
      if (rc < 0) Die(report_, STEP_NETNS, rc, sysop_);
    }
    SetUpStdio();
    for (uint32_t i = 0; i < c_->count; i++) {
      sysop_ = SYS_OP_FAULT;
      long rc = static_cast<int>(i) == c_->fault_step ? -c_->fault_errno : RunStep(i, c_->steps[i]);
      CloseStepFds();
      if (rc < 0) Die(report_, static_cast<int32_t>(i), rc, sysop_);
    }
    Exit(127);  // unreachable: the last step is exec, which either replaces us or fails
  }

 private:
  const char* Str(uint32_t off) const { return off == kNone ? nullptr : c_->strings + off; }
  const void* Blob(uint32_t off) const { return c_->strings + off; }
  static uint64_t U64(uint32_t lo, uint32_t hi) { return (static_cast<uint64_t>(hi) << 32) | lo; }

  void ResetSignals() {
    // Node's handlers must never run here: reset every disposition (as libuv does before
    // exec, ignored ones included), then unblock what the parent blocked around clone.
    KernelSigaction dfl = {};
    for (int sig = 1; sig <= 64; sig++) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      raw_syscall(SYS_rt_sigaction, sig, P(&dfl), 0, 8);
    }
    uint64_t empty = 0;
    long rc = raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, P(&empty), 0, 8);
    if (rc < 0) Die(report_, STEP_SIGNALS, rc, SYS_OP_RT_SIGPROCMASK);
  }

  // Closes every fd from `from` up but those in `keep` (-1 entries ignored).
  static void CloseAllBut(int from, std::initializer_list<int> keep) { CloseAllBut(from, keep.begin(), keep.size()); }

  static void CloseAllBut(int from, const int* keep, size_t count) {
    constexpr size_t kMax = kKeptFds;
    if (count > kMax) return;  // never: CloseUnneeded refuses such a plan
    int sorted[kMax];
    int k = 0;
    for (size_t n = 0; n < count; n++) {
      int fd = keep[n];
      if (fd < from) continue;
      int j = k++;
      while (j > 0 && sorted[j - 1] > fd) {
        sorted[j] = sorted[j - 1];
        j--;
      }
      sorted[j] = fd;
    }
    unsigned lo = static_cast<unsigned>(from);
    for (int i = 0; i <= k; i++) {
      unsigned hi = i < k ? static_cast<unsigned>(sorted[i]) : ~0U;
      if (hi > lo) CloseRange(lo, i < k ? hi - 1 : ~0U);
      if (i < k) lo = hi + 1;
    }
  }

  static void CloseRange(unsigned lo, unsigned hi) {
    if (raw_syscall(SYS_close_range, lo, hi, 0) == 0) return;
    // Before 5.11: one close per fd, up to the fd limit.
    struct rlimit lim;
    long max = raw_syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, P(&lim)) == 0 ? static_cast<long>(lim.rlim_cur) : 1024;
    if (max > (1 << 20)) max = 1 << 20;
    for (long fd = lo; fd < max && static_cast<unsigned long>(fd) <= hi; fd++) raw_syscall(SYS_close, fd);
  }

  // Closes every fd of Node's the plan does not use, before any step runs: a directory fd
  // left open until exec (a cgroup's, given for CLONE_INTO_CGROUP or held by a Cgroup) is a
  // way out of the new root for a path through /proc/self/fd/N (a cwd the image links
  // there: CVE-2024-21626), even while it is marked close-on-exec.
  void CloseUnneeded(int n) {
    int keep[kKeptFds] = {report_, sync_, go_r_, go_w_, sysfs_, mask_, trampoline_};
    size_t count = 7;
    for (uint32_t i = 0; i < c_->count; i++) {
      const RawStep& s = c_->steps[i];
      if (s.op != OP_SETNS && s.op != OP_SETCTTY && s.op != OP_OPEN_CONSOLE) continue;
      int fd = static_cast<int>(s.a[0]);
      bool seen = false;
      for (size_t j = 0; j < count; j++) seen |= keep[j] == fd;
      if (seen) continue;
      if (count == kKeptFds) Die(report_, STEP_CLOSE_FDS, -E2BIG, SYS_OP_CLOSE_RANGE);  // never from lib/
      keep[count++] = fd;
    }
    CloseAllBut(n, keep, count);
  }

  bool WaitForParent() {
    char b;
    long rc;
    do rc = raw_syscall(SYS_read, sync_, P(&b), 1);
    while (rc == -EINTR);
    return rc == 1;
  }

  int MoveAbove(int fd, int floor, int32_t step) {
    long rc = raw_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor);
    if (rc < 0) Die(report_, step, rc, SYS_OP_DUP);
    return static_cast<int>(rc);
  }

  void SetUpStdio() {
    int n = c_->stdio_count;
    // Our own pipes must not be overwritten by the dup3s below.
    if (report_ < n) report_ = MoveAbove(report_, n, STEP_STDIO);
    if (sync_ >= 0 && sync_ < n) sync_ = MoveAbove(sync_, n, STEP_STDIO);
    if (go_r_ >= 0 && go_r_ < n) go_r_ = MoveAbove(go_r_, n, STEP_STDIO);
    if (go_w_ >= 0 && go_w_ < n) go_w_ = MoveAbove(go_w_, n, STEP_STDIO);
    if (sysfs_ >= 0 && sysfs_ < n) sysfs_ = MoveAbove(sysfs_, n, STEP_STDIO);
    if (mask_ >= 0 && mask_ < n) mask_ = MoveAbove(mask_, n, STEP_STDIO);
    if (trampoline_ >= 0 && trampoline_ < n) trampoline_ = MoveAbove(trampoline_, n, STEP_STDIO);
    int src[kMaxStdio];
    int null_fd = -1;
    for (int i = 0; i < n; i++) {
      src[i] = c_->stdio[i];
      if (src[i] == kStdioNull) {
        if (null_fd < 0) {
          long rc = raw_syscall(SYS_openat, AT_FDCWD, P("/dev/null"), O_RDWR | O_CLOEXEC | O_NOCTTY);
          if (rc < 0) Die(report_, STEP_STDIO, rc, SYS_OP_OPEN);
          null_fd = static_cast<int>(rc);
          if (null_fd < n) null_fd = MoveAbove(null_fd, n, STEP_STDIO);
        }
        src[i] = null_fd;
      } else if (src[i] >= 0 && src[i] < n) {
        src[i] = MoveAbove(src[i], n, STEP_STDIO);
      }
    }
    for (int i = 0; i < n; i++) {
      long rc = src[i] >= 0 ? raw_syscall(SYS_dup3, src[i], i, 0) : raw_syscall(SYS_close, i);
      if (rc < 0 && !(src[i] < 0 && rc == -EBADF)) Die(report_, STEP_STDIO, rc, SYS_OP_DUP);
    }
    CloseUnneeded(n);
    // What is left closes at exec (CVE-2024-21626: no parent fd reaches the program).
    // CLOEXEC rather than close: the report pipe must stay open until exec.
    long rc = raw_syscall(SYS_close_range, n, ~0U, CLOSE_RANGE_CLOEXEC);
    if (rc == -ENOSYS || rc == -EINVAL) {  // before 5.11
      struct rlimit lim;
      long max = raw_syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, P(&lim)) == 0 ? static_cast<long>(lim.rlim_cur) : 1024;
      if (max > (1 << 20)) max = 1 << 20;
      for (long fd = n; fd < max; fd++) raw_syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
    } else if (rc < 0) {
      Die(report_, STEP_CLOSE_FDS, rc, SYS_OP_CLOSE_RANGE);
    }
  }

  long Sys(SysOp op, long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
    sysop_ = op;
    return raw_syscall(n, a, b, c, d, e);
  }

  long Statx(const char* path, struct statx* st) {
    return Sys(SYS_OP_STATX, SYS_statx, AT_FDCWD, P(path), AT_STATX_SYNC_AS_STAT, STATX_TYPE, P(st));
  }

  // ---- Confinement (a CONFINE step): paths below the new root resolve inside it ----

  // The part of path below the confined root ("" for the root itself), or nullptr.
  const char* BelowRoot(const char* path) const {
    if (root_fd_ < 0) return nullptr;
    for (size_t i = 0; i < root_len_; i++) {
      if (path[i] != root_[i]) return nullptr;
    }
    if (path[root_len_] != '\0' && path[root_len_] != '/') return nullptr;
    const char* rel = path + root_len_;
    while (*rel == '/') rel++;
    return rel;
  }

  // An O_PATH fd of rel ("" is the root) resolved inside the root: symlinks, absolute or
  // not, resolve as they will once it is the root, and `..` stops at it. -errno on failure.
  long OpenInRoot(const char* rel, int extra_flags) {
    if (*rel == '\0') rel = ".";
    if (!no_openat2_) {
      struct open_how how = {};
      how.flags = O_PATH | O_CLOEXEC | static_cast<uint64_t>(extra_flags);
      how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
      long fd = Sys(SYS_OP_OPENAT2, SYS_openat2, root_fd_, P(rel), P(&how), sizeof how);
      if (fd != -ENOSYS) return fd;
      no_openat2_ = true;
    }
    // Before 5.6: component by component without following; a symlink is refused.
    char buf[4096];
    size_t n = Len(rel);
    if (n >= sizeof buf) return -ENAMETOOLONG;
    for (size_t i = 0; i <= n; i++) buf[i] = rel[i];
    long dir = Sys(SYS_OP_OPEN, SYS_openat, root_fd_, P("."), O_PATH | O_CLOEXEC | O_DIRECTORY);
    for (size_t start = 0; dir >= 0 && start < n;) {
      size_t end = start;
      while (end < n && buf[end] != '/') end++;
      buf[end] = '\0';
      long next = Sys(SYS_OP_OPEN, SYS_openat, dir, P(buf + start), O_PATH | O_CLOEXEC | O_NOFOLLOW);
      raw_syscall(SYS_close, dir);
      dir = next;
      if (dir >= 0) {
        struct statx st;
        long rc = Sys(SYS_OP_STATX, SYS_statx, dir, P(""), AT_EMPTY_PATH, STATX_TYPE, P(&st));
        if (rc < 0 || S_ISLNK(st.stx_mode)) {
          raw_syscall(SYS_close, dir);
          dir = rc < 0 ? rc : -ELOOP;
        }
      }
      start = end + 1;
      while (start < n && buf[start] == '/') start++;
    }
    return dir;
  }

  // Keeps fd open until the step ends and names it: "/proc/self/fd/N" (the host's /proc:
  // confinement ends at pivot_root), which every path-taking system call follows to it.
  const char* FdPath(long fd) {
    if (step_fd_count_ == kStepFds) CloseStepFds();  // never: a step holds at most four
    int i = step_fd_count_++;
    step_fds_[i] = static_cast<int>(fd);
    char* out = fd_paths_[i];
    const char prefix[] = "/proc/self/fd/";
    size_t k = 0;
    for (; prefix[k]; k++) out[k] = prefix[k];
    char digits[12];
    int d = 0;
    for (unsigned long v = static_cast<unsigned long>(fd); d == 0 || v > 0; v /= 10) digits[d++] = static_cast<char>('0' + v % 10);
    while (d > 0) out[k++] = digits[--d];
    out[k] = '\0';
    return out;
  }

  void CloseStepFds() {
    while (step_fd_count_ > 0) raw_syscall(SYS_close, step_fds_[--step_fd_count_]);
  }

  // A bind made as a detached clone (open_tree), its attributes set (mount_setattr), then
  // moved onto target: -ENOSYS where the kernel has not the calls (before 5.12), and the
  // caller binds the old way.
  long BindDetached(const char* src, const char* target, bool recursive, uint64_t set, uint64_t clr) {
    long tree = Sys(SYS_OP_OPEN_TREE, SYS_open_tree, AT_FDCWD, P(src), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
    if (tree == -ENOSYS || tree == -EINVAL) return -ENOSYS;
    if (tree < 0) return tree;
    MountAttr attr = {set, clr, 0, 0};
    long rc = Sys(SYS_OP_MOUNT_SETATTR, SYS_mount_setattr, tree, P(""), AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), P(&attr), sizeof attr);
    if (rc == 0) rc = Sys(SYS_OP_MOVE_MOUNT, SYS_move_mount, tree, P(""), AT_FDCWD, P(target), MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS);
    raw_syscall(SYS_close, tree);
    return rc;  // -ENOSYS from mount_setattr (5.2-5.11): the clone was never attached, bind the old way
  }

  // PLAIN mkdir: path is a directory reached through no symlink (below the confined root:
  // from it; else from /). ELOOP if a link is on the way, ENOTDIR if it is no directory.
  long PlainDirectory(const char* path) {
    const char* rel = BelowRoot(path);
    int dir = rel != nullptr ? root_fd_ : AT_FDCWD;
    if (rel == nullptr) rel = path;
    if (*rel == '\0') return 0;
    struct open_how how = {};
    how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS;
    long fd = Sys(SYS_OP_OPENAT2, SYS_openat2, dir, P(rel), P(&how), sizeof how);
    if (fd == -ENOSYS) {
      // Before 5.6: the last component at least (the confined walk refuses the others).
      struct statx st;
      long rc = Sys(SYS_OP_STATX, SYS_statx, dir, P(rel), AT_SYMLINK_NOFOLLOW, STATX_TYPE, P(&st));
      if (rc < 0) return rc;
      return S_ISLNK(st.stx_mode) ? -ELOOP : S_ISDIR(st.stx_mode) ? 0 : -ENOTDIR;
    }
    if (fd < 0) return fd;
    raw_syscall(SYS_close, fd);
    return 0;
  }

  // What the step's system call should be given for path: below the confined root, the
  // fd path of its resolution there; else path. nullptr with *err set when it cannot resolve.
  const char* Resolve(const char* path, long* err) {
    const char* rel = BelowRoot(path);
    if (rel == nullptr) return path;
    long fd = OpenInRoot(rel, 0);
    if (fd < 0) {
      *err = fd;
      return nullptr;
    }
    const char* named = FdPath(fd);
    // A path below the root that leads back to it (a link to /): a mount there would cover
    // the root itself, and what is made after it would land in the image on the host.
    if (*rel != '\0' && SameAsRoot(static_cast<int>(fd))) {
      *err = -ELOOP;
      return nullptr;
    }
    return named;
  }

  bool SameAsRoot(int fd) {
    struct statx a;
    if (!root_stat_ok_ || raw_syscall(SYS_statx, fd, P(""), AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, P(&a)) < 0) return false;
    const struct statx& b = root_stat_;
    return a.stx_ino == b.stx_ino && a.stx_dev_major == b.stx_dev_major && a.stx_dev_minor == b.stx_dev_minor &&
           ((a.stx_mask & b.stx_mask & STATX_MNT_ID) == 0 || a.stx_mnt_id == b.stx_mnt_id);
  }

  // For making path: the directory to make it in and its name there. Below the confined root,
  // the parent resolved inside it (made first when make_parents); else AT_FDCWD and path.
  long ParentOf(const char* path, bool make_parents, int* dir, const char** name) {
    const char* rel = BelowRoot(path);
    *dir = AT_FDCWD;
    *name = path;
    if (rel == nullptr) return 0;
    if (*rel == '\0') return -EEXIST;  // the root itself
    size_t n = Len(rel), slash = n;
    while (slash > 0 && rel[slash - 1] != '/') slash--;
    *name = rel + slash;
    char parent[4096];
    if (slash >= sizeof parent) return -ENAMETOOLONG;
    size_t m = slash > 0 ? slash - 1 : 0;
    for (size_t i = 0; i < m; i++) parent[i] = rel[i];
    parent[m] = '\0';
    if (make_parents && m > 0) {
      long rc = MkdirAllInRoot(parent, 0755);
      if (rc < 0) return rc;
    }
    long fd = OpenInRoot(parent, O_DIRECTORY);
    if (fd < 0) return fd;
    FdPath(fd);  // closed with the step
    *dir = static_cast<int>(fd);
    return 0;
  }

  // mkdir -p of rel inside the root: each missing level made in its parent as resolved there.
  long MkdirAllInRoot(const char* rel, uint32_t mode) {
    long fd = OpenInRoot(rel, 0);
    if (fd >= 0) {
      raw_syscall(SYS_close, fd);
      return 0;
    }
    if (fd != -ENOENT) return fd;
    char buf[4096];
    size_t n = Len(rel);
    if (n >= sizeof buf) return -ENAMETOOLONG;
    for (size_t i = 0; i <= n; i++) buf[i] = rel[i];
    size_t parent_end = 0;  // where the parent of the level being looked at ends
    for (size_t i = 1; i <= n; i++) {
      if (buf[i] != '/' && buf[i] != '\0') continue;
      buf[i] = '\0';
      long level = OpenInRoot(buf, 0);
      if (level == -ENOENT) {
        char saved = buf[parent_end];
        buf[parent_end] = '\0';
        long dir = OpenInRoot(parent_end == 0 ? "" : buf, O_DIRECTORY);
        buf[parent_end] = saved;
        if (dir < 0) return dir;
        const char* name = buf + parent_end + (parent_end == 0 ? 0 : 1);
        long rc = Sys(SYS_OP_MKDIR, SYS_mkdirat, dir, P(name), mode);
        raw_syscall(SYS_close, dir);
        // EEXIST: a dangling symlink, whose target is not made through it.
        if (rc < 0) return rc == -EEXIST ? -ENOENT : rc;
      } else if (level < 0) {
        return level;
      } else {
        raw_syscall(SYS_close, level);
      }
      parent_end = i;
      if (i < n) buf[i] = '/';
    }
    return 0;
  }

  long MkdirAll(const char* path, uint32_t mode) {
    if (const char* rel = BelowRoot(path)) return MkdirAllInRoot(rel, mode);
    // Most targets' parents exist: one mkdir then, not one per level.
    long first = Sys(SYS_OP_MKDIR, SYS_mkdirat, AT_FDCWD, P(path), mode);
    if (first == 0 || first == -EEXIST) return 0;
    if (first != -ENOENT) return first;
    char buf[4096];
    size_t n = Len(path);
    if (n >= sizeof buf) return -ENAMETOOLONG;
    for (size_t i = 0; i <= n; i++) buf[i] = path[i];
    for (size_t i = 1; i <= n; i++) {
      if (buf[i] != '/' && buf[i] != '\0') continue;
      char saved = buf[i];
      buf[i] = '\0';
      long rc = Sys(SYS_OP_MKDIR, SYS_mkdirat, AT_FDCWD, P(buf), mode);
      buf[i] = saved;
      if (rc < 0 && rc != -EEXIST) return rc;
    }
    return 0;
  }

  long CreateFile(const char* path) {
    // the parent directory first (inside the root when confined: MkdirAll sees to it)
    char buf[4096];
    size_t n = Len(path);
    if (n >= sizeof buf) return -ENAMETOOLONG;
    for (size_t i = 0; i <= n; i++) buf[i] = path[i];
    while (n > 1 && buf[n - 1] != '/') n--;
    if (n > 1) {
      buf[n - 1] = '\0';
      long rc = MkdirAll(buf, 0755);
      if (rc < 0) return rc;
    }
    const char* rel = BelowRoot(path);
    long fd;
    if (rel == nullptr) {
      fd = Sys(SYS_OP_OPEN, SYS_openat, AT_FDCWD, P(path), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    } else if (!no_openat2_ && (fd = CreateInRoot(rel)) != -ENOSYS) {
      // the file, or where a link there leads inside the root (a dangling one's target is
      // made there, as runc's securejoin would)
    } else {
      // Before 5.6: made where no link leads; one already there must resolve inside the root.
      no_openat2_ = true;
      int dir;
      const char* name;
      long rc = ParentOf(path, false, &dir, &name);
      if (rc < 0) return rc;
      fd = Sys(SYS_OP_OPEN, SYS_openat, dir, P(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
      if (fd == -EEXIST) {
        long err = 0;
        return Resolve(path, &err) == nullptr ? err : 0;
      }
    }
    if (fd < 0) return fd;
    raw_syscall(SYS_close, fd);
    return 0;
  }

  long CreateInRoot(const char* rel) {
    struct open_how how = {};
    how.flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY;
    how.mode = 0644;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return Sys(SYS_OP_OPEN, SYS_openat2, root_fd_, P(rel), P(&how), sizeof how);
  }

  // Sets mount attributes; before 5.12, falls back to a bind remount that keeps the
  // flags the mount already has (the kernel refuses to clear locked ones in a user namespace).
  long SetAttr(const char* path, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation) {
    MountAttr attr = {set, clr, propagation, 0};
    long rc = c_->no_mount_setattr ? -ENOSYS
                                   : Sys(SYS_OP_MOUNT_SETATTR, SYS_mount_setattr, AT_FDCWD, P(path),
                                         recursive ? AT_RECURSIVE : 0, P(&attr), sizeof attr);
    if (rc != -ENOSYS) return rc;
    // Before 5.12. Note: the remount below changes the mount at path only, not its
    // submounts, even when recursive is asked for.
    if (propagation) {
      rc = Sys(SYS_OP_MOUNT, SYS_mount, 0, P(path), 0, static_cast<long>(propagation | (recursive ? MS_REC : 0)), 0);
      if (rc < 0) return rc;
    }
    if (!(set | clr)) return 0;
    struct statfs fs;
    rc = Sys(SYS_OP_STATFS, SYS_statfs, P(path), P(&fs));
    if (rc < 0) return rc;
    unsigned long keep = fs.f_flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
    unsigned long flags = keep;
    if (set & MOUNT_ATTR_RDONLY) flags |= MS_RDONLY;
    if (set & MOUNT_ATTR_NOSUID) flags |= MS_NOSUID;
    if (set & MOUNT_ATTR_NODEV) flags |= MS_NODEV;
    if (set & MOUNT_ATTR_NOEXEC) flags |= MS_NOEXEC;
    if (clr & MOUNT_ATTR_RDONLY) flags &= ~static_cast<unsigned long>(MS_RDONLY);
    return Sys(SYS_OP_MOUNT, SYS_mount, 0, P(path), 0, static_cast<long>(MS_REMOUNT | MS_BIND | flags), 0);
  }

  // chdir, refused if the directory it reached is not below this process's root: a path
  // through /proc/self/fd/N of an fd still open here leads out of it (CVE-2024-21626; the
  // plan's fds are closed by then, this is the second line, as runc checks too).
  long Chdir(const char* path) {
    long rc = Sys(SYS_OP_CHDIR, SYS_chdir, P(path));
    if (rc < 0) return rc;
    // Not below the root, getcwd(2) answers "(unreachable)/…".
    char cwd[4096];
    rc = raw_syscall(SYS_getcwd, P(cwd), sizeof cwd);
    if (rc < 0) return rc;  // ERANGE too: a path longer than PATH_MAX is not taken on trust
    return cwd[0] == '/' ? 0 : -EXDEV;
  }

  static char* Decimal(char* out, unsigned long v) {
    char digits[24];
    int d = 0;
    do digits[d++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) > 0);
    char* p = out;
    while (d > 0) *p++ = digits[--d];
    *p = '\0';
    return out;
  }

  // "<dir>/<file>" into out (an empty PATH entry is "."); false if it does not fit.
  static bool PathEntry(const char* dir, size_t dlen, const char* file, size_t flen, char* out, size_t size) {
    if ((dlen == 0 ? 1 : dlen) + 1 + flen + 1 > size) return false;  // dir, '/', file, NUL
    size_t k = 0;
    if (dlen == 0) out[k++] = '.';
    for (size_t i = 0; i < dlen; i++) out[k++] = dir[i];
    out[k++] = '/';
    for (size_t i = 0; i <= flen; i++) out[k++] = file[i];
    return true;
  }

  // The program's path, as execvp would find it, by looking (statx, faccessat): the first
  // PATH entry holding a regular file this process may execute; else EACCES if one was found
  // that it may not, else ENOENT. Done once; kept in exec_path_ / search_rc_.
  long SearchPath(const RawStep& s) {
    if (search_rc_ != 1) return search_rc_;
    const char* file = Str(s.a[0]);
    const char* search = Str(s.a[5]);
    bool has_slash = false;
    for (const char* p = file; *p; p++) has_slash |= *p == '/';
    size_t flen = Len(file);
    if (has_slash || search == nullptr) {
      if (flen >= sizeof exec_path_) return search_rc_ = -ENAMETOOLONG;
      for (size_t i = 0; i <= flen; i++) exec_path_[i] = file[i];
      return search_rc_ = 0;
    }
    bool eacces = false;
    for (const char* p = search;;) {
      const char* end = p;
      while (*end && *end != ':') end++;
      size_t dlen = static_cast<size_t>(end - p);
      if (PathEntry(p, dlen, file, flen, exec_path_, sizeof exec_path_)) {
        struct statx st;
        long rc = Statx(exec_path_, &st);
        if (rc == 0 && S_ISREG(st.stx_mode) && raw_syscall(SYS_faccessat, AT_FDCWD, P(exec_path_), X_OK) == 0) return search_rc_ = 0;
        if (rc == 0 || rc == -EACCES) eacces = true;
      }
      if (*end == '\0') break;
      p = end + 1;
    }
    return search_rc_ = eacces ? -EACCES : -ENOENT;
  }

  // The program through the exec trampoline (exec-trampoline.h): this process's
  // /proc/self/exe is Node's binary until an execve succeeds, so it must not be the one that
  // runs the program (a `#!/proc/self/exe` would run the host's Node in the container). The
  // trampoline reports the execve's own failure. Exec'd by execve of /proc/self/fd/N (all a
  // seccomp profile must allow is execve), else execveat where no /proc is mounted; if both
  // fail, the step fails: never the program without it.
  long ExecThroughTrampoline(uint32_t index, const RawStep& s) {
    long rc = SearchPath(s);
    if (rc < 0) {
      sysop_ = SYS_OP_EXECVE;
      return rc;
    }
    char fd_arg[24], step_arg[24], self[40];
    const char** targv = c_->trampoline_argv;
    targv[0] = kExecName;
    targv[1] = Decimal(fd_arg, static_cast<unsigned long>(report_));
    targv[2] = Decimal(step_arg, index);
    targv[3] = exec_path_;
    const char prefix[] = "/proc/self/fd/";
    size_t k = 0;
    for (; prefix[k]; k++) self[k] = prefix[k];
    Decimal(self + k, static_cast<unsigned long>(trampoline_));
    // The report pipe stays open into the trampoline, which makes it close-on-exec again.
    raw_syscall(SYS_fcntl, report_, F_SETFD, 0);
    rc = Sys(SYS_OP_EXECVE, SYS_execve, P(self), P(targv), P(c_->envp));
    if (rc == -ENOENT || rc == -ENOTDIR) rc = Sys(SYS_OP_EXECVE, SYS_execveat, trampoline_, P(""), P(targv), P(c_->envp), AT_EMPTY_PATH);
    raw_syscall(SYS_fcntl, report_, F_SETFD, FD_CLOEXEC);
    return rc;
  }

  long Exec(const RawStep& s, uint32_t index) {
    const char* file = Str(s.a[0]);
    const char* const* argv = c_->argv;
    const char* const* envp = c_->envp;
    const char* search = Str(s.a[5]);
    if (trampoline_ >= 0) return ExecThroughTrampoline(index, s);
    bool has_slash = false;
    for (const char* p = file; *p; p++) has_slash |= *p == '/';
    if (has_slash || search == nullptr) {
      return Sys(SYS_OP_EXECVE, SYS_execve, P(file), P(argv), P(envp));
    }
    // execvpe(3) without the allocation: try each PATH entry, remember EACCES.
    char buf[4096];
    size_t flen = Len(file);
    long result = -ENOENT;
    bool eacces = false;
    const char* p = search;
    for (;;) {
      const char* end = p;
      while (*end && *end != ':') end++;
      size_t dlen = static_cast<size_t>(end - p);
      if (PathEntry(p, dlen, file, flen, buf, sizeof buf)) {
        long rc = Sys(SYS_OP_EXECVE, SYS_execve, P(buf), P(argv), P(envp));
        if (rc == -EACCES) eacces = true;
        else if (rc != -ENOENT && rc != -ENOTDIR && rc != -ESTALE && rc != -ENODEV && rc != -ETIMEDOUT) return rc;
      }
      if (*end == '\0') break;
      p = end + 1;
    }
    sysop_ = SYS_OP_EXECVE;
    return eacces ? -EACCES : result;
  }

  // FORK: the rest of the plan and the exec run in a grandchild made with CLONE_PARENT, so
  // that it is the parent's (Node's) own child, watched and reaped there like any other.
  // Joining a pid namespace with setns places only the joiner's later children in it
  // (setns(2)): forking after it is how a process entering a container comes to run in the
  // container's pid namespace (runc's nsexec forks there too). This process reports the
  // grandchild's pid, then releases it, then exits 0: the grandchild's own reports (exec, a
  // failed step) can only come after that one.
  long Fork(uint32_t index) {
    // Plain clone without a stack: the grandchild goes on from here in its own copy of the
    // memory. (A plan with a fork step never runs with CLONE_VM: see process.cc.) The kernel
    // writes the grandchild's pid to fork_pid before clone returns, in memory the parent
    // shares (MAP_SHARED). clone(2) refuses CLONE_PARENT to the init of a pid namespace
    // (EINVAL): lib/spawn.ts refuses a fork step with a new pid namespace.
    long pid = Sys(SYS_OP_CLONE, SYS_clone, CLONE_PARENT | CLONE_PARENT_SETTID, 0, P(c_->fork_pid), 0, 0);
    if (pid < 0) return pid;
    if (pid == 0) {
      raw_syscall(SYS_close, go_w_);
      char b;
      long rc;
      do rc = raw_syscall(SYS_read, go_r_, P(&b), 1);
      while (rc == -EINTR);
      raw_syscall(SYS_close, go_r_);
      go_r_ = go_w_ = -1;
      // EOF without the byte: the forking process died before it reported this one. The
      // parent finds this process through fork_pid and ends and reaps it.
      if (rc != 1) Exit(1);
      return 0;
    }
    if (c_->fault_fork_lost) raw_syscall(SYS_kill, raw_syscall(SYS_getpid), SIGKILL);
    ChildReport r = {static_cast<int32_t>(index), 0, kReportForked, static_cast<int32_t>(pid)};
    raw_syscall(SYS_write, report_, P(&r), sizeof r);
    char go = 1;
    raw_syscall(SYS_write, go_w_, P(&go), 1);
    Exit(0);
  }

  // MOUNT_SYSFS: with a template (ChildContext::sysfs_fd, the sysfs of a namespace holding only
  // `lo`, read-only, nosuid, nodev, noexec), a clone of it. Else a new sysfs of the child's
  // network namespace with those flags.
  long MountSysfs(const char* target) {
    long rc = CloneTemplate(sysfs_, target);
    if (rc <= 0) return rc;
    return Sys(SYS_OP_MOUNT, SYS_mount, P("sysfs"), P(target), P("sysfs"), MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
  }

  // A clone of one of the addon's template mounts (open_tree) moved onto target: 0, or -errno.
  // 1 without a template (none given, or the kernel cannot clone one: MakeTemplateMount), and
  // the caller mounts its own.
  long CloneTemplate(int templ, const char* target) {
    if (templ < 0) return 1;
    long tree = Sys(SYS_OP_OPEN_TREE, SYS_open_tree, templ, P(""), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0) return tree;
    // T_SYMLINKS: as mount(2) does, and a confined target is a /proc/self/fd link.
    long rc = Sys(SYS_OP_MOVE_MOUNT, SYS_move_mount, tree, P(""), AT_FDCWD, P(target), MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS);
    raw_syscall(SYS_close, tree);
    return rc;
  }

  // OPEN_CONSOLE: the terminal is made inside the container, on its own devpts instance, as
  // runc's console socket does it: `tty` in the program then names a /dev/pts/N that exists
  // there. The master goes to the parent over the socket (unix(7), SCM_RIGHTS); the slave
  // becomes fds 0-2 and the controlling terminal of a new session.
  long OpenConsole(int sock, uint32_t cols, uint32_t rows, uint32_t uid, uint32_t gid) {
    long master = Sys(SYS_OP_OPEN, SYS_openat, AT_FDCWD, P("/dev/pts/ptmx"), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return master;
    // The size before the program can run: set later by the parent, it would race the program's
    // first look at it (`stty size` seeing 0 0).
    if (cols != 0 && rows != 0) {
      struct winsize ws = {static_cast<unsigned short>(rows), static_cast<unsigned short>(cols), 0, 0};
      long rc = Sys(SYS_OP_IOCTL, SYS_ioctl, master, TIOCSWINSZ, P(&ws));
      if (rc < 0) {
        raw_syscall(SYS_close, master);
        return rc;
      }
    }
    long slave = SendMaster(static_cast<int>(master), sock);
    // Closed before the dup3s below: with a closed stdio entry it may be one of fds 0-2.
    raw_syscall(SYS_close, master);
    if (slave < 0) return slave;
    // The program's user's, as runc gives it the console: it may open it by name then.
    if (uid != kNone) {
      long rc = Sys(SYS_OP_FCHOWN, SYS_fchown, slave, uid, gid);
      if (rc < 0) {
        raw_syscall(SYS_close, slave);
        return rc;
      }
    }
    long rc = StdioFrom(static_cast<int>(slave));
    if (rc < 0) return rc;
    if ((rc = Sys(SYS_OP_SETSID, SYS_setsid)) < 0) return rc;
    // Argument 0: never steal a terminal that is another session's (tty_ioctl(4)).
    return Sys(SYS_OP_IOCTL, SYS_ioctl, 0, TIOCSCTTY, 0);
  }

  // Unlocks the pty, opens its slave, sends the master; returns the slave fd.
  long SendMaster(int master, int sock) {
    int unlock = 0;
    long rc = Sys(SYS_OP_IOCTL, SYS_ioctl, master, TIOCSPTLCK, P(&unlock));
    if (rc < 0) return rc;
    // The slave through the master (Linux 4.13, older than any kernel Node 20 runs on): no
    // path lookup in a /dev/pts the program could have changed.
    long slave = Sys(SYS_OP_IOCTL, SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) return slave;
    // One byte of data carries the fd: a stream socket sends no message without any.
    char byte = 0;
    struct iovec iov = {&byte, 1};
    union {
      struct cmsghdr align;
      char buf[CMSG_SPACE(sizeof(int))];
    } control = {};
    struct cmsghdr* cmsg = &control.align;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    const char* from = reinterpret_cast<const char*>(&master);
    for (size_t i = 0; i < sizeof(int); i++) CMSG_DATA(cmsg)[i] = static_cast<unsigned char>(from[i]);  // no memcpy here
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    // MSG_NOSIGNAL: a parent that closed its end is EPIPE here, not a SIGPIPE death.
    rc = Sys(SYS_OP_SENDMSG, SYS_sendmsg, sock, P(&msg), MSG_NOSIGNAL);
    if (rc < 0) {
      raw_syscall(SYS_close, slave);
      return rc;
    }
    return slave;
  }

  // dup3 of fd onto 0, 1 and 2 (without close-on-exec), then closes fd. With a closed stdio
  // entry fd may itself be one of them: it is moved above first.
  long StdioFrom(int fd) {
    long rc = 0;
    if (fd < 3) {
      rc = Sys(SYS_OP_DUP, SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
      raw_syscall(SYS_close, fd);
      if (rc < 0) return rc;
      fd = static_cast<int>(rc);
    }
    for (int i = 0; i < 3 && rc >= 0; i++) rc = Sys(SYS_OP_DUP, SYS_dup3, fd, i, 0);
    raw_syscall(SYS_close, fd);
    return rc < 0 ? rc : 0;
  }

  long Caps(const RawStep& s) {
    uint64_t bounding = U64(s.a[0], s.a[1]), eff = U64(s.a[2], s.a[3]), perm = U64(s.a[4], s.a[5]),
             inh = U64(s.a[6], s.a[7]), ambient = U64(s.a[8], s.a[9]);
    // Bounding set first: dropping needs CAP_SETPCAP in the effective set, which capset
    // may remove, and which a setuid step to a non-zero uid has cleared (keeping only the
    // permitted set, through PR_SET_KEEPCAPS): raise effective to permitted for it.
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct cur[2];
    long rc = Sys(SYS_OP_CAPGET, SYS_capget, P(&hdr), P(cur));
    if (rc < 0) return rc;
    uint64_t held = (static_cast<uint64_t>(cur[1].permitted) << 32) | cur[0].permitted;
    if (s.a[11] & 1) perm = held & bounding;
    if (s.a[11] & 2) eff = perm;
    if (cur[0].effective != cur[0].permitted || cur[1].effective != cur[1].permitted) {
      cur[0].effective = cur[0].permitted;
      cur[1].effective = cur[1].permitted;
      if ((rc = Sys(SYS_OP_CAPSET, SYS_capset, P(&hdr), P(cur))) < 0) return rc;
    }
    // Only up to the kernel's last capability (/proc/sys/kernel/cap_last_cap, read by
    // lib/): the kernel checks CAP_SETPCAP before the number, so a caller without it gets
    // EPERM rather than EINVAL for a capability past the last.
    uint32_t last = s.a[10] < 64 ? s.a[10] : 63;
    for (uint32_t cap = 0; cap <= last; cap++) {
      if (bounding & (1ULL << cap)) continue;
      rc = Sys(SYS_OP_PRCTL, SYS_prctl, PR_CAPBSET_DROP, cap);
      if (rc < 0) return rc;
    }
    struct __user_cap_data_struct data[2] = {
        {static_cast<uint32_t>(eff), static_cast<uint32_t>(perm), static_cast<uint32_t>(inh)},
        {static_cast<uint32_t>(eff >> 32), static_cast<uint32_t>(perm >> 32), static_cast<uint32_t>(inh >> 32)}};
    rc = Sys(SYS_OP_CAPSET, SYS_capset, P(&hdr), P(data));
    if (rc < 0) return rc;
    rc = Sys(SYS_OP_PRCTL, SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (rc < 0 && !(rc == -EINVAL && ambient == 0)) return rc;
    for (int cap = 0; cap < 64; cap++) {
      if (!(ambient & (1ULL << cap))) continue;
      rc = Sys(SYS_OP_PRCTL, SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
      if (rc < 0) return rc;
    }
    return 0;
  }

  long RunStep(uint32_t index, const RawStep& s) {
    switch (s.op) {
      case OP_MOUNT: {
        long err = 0;
        const char* target = Resolve(Str(s.a[1]), &err);
        if (target == nullptr) return err;
        return Sys(SYS_OP_MOUNT, SYS_mount, P(Str(s.a[0])), P(target), P(Str(s.a[2])), s.a[3], P(Str(s.a[4])));
      }
      case OP_BIND: {
        const char* src = Str(s.a[0]);
        const char* dst = Str(s.a[1]);
        bool recursive = s.a[2] & 1;
        if (s.a[2] & (2 | 4)) {  // create the target, or an optional source: look at the source
          struct statx st;
          long rc = Statx(src, &st);
          if (rc == -ENOENT && (s.a[2] & 4)) return 0;
          if (rc < 0 && (s.a[2] & 2)) return rc;
          if (s.a[2] & 2) {
            rc = S_ISDIR(st.stx_mode) ? MkdirAll(dst, 0755) : CreateFile(dst);
            if (rc < 0) return rc;
          }
        }
        long err = 0;
        const char* target = Resolve(dst, &err);
        if (target == nullptr) return err;
        // Below the confined root, with attributes and no propagation to set: a detached clone
        // of the source gets them first, then goes onto the target already resolved. Bound,
        // then given them through the path again, they could land on whatever a link swapped
        // in there meanwhile (an image another container is changing).
        if (BelowRoot(dst) != nullptr && (s.a[3] | s.a[4]) != 0 && s.a[5] == 0 && !c_->no_mount_setattr) {
          long rc = BindDetached(src, target, recursive, s.a[3], s.a[4]);
          if (rc != -ENOSYS) return rc;
        }
        long rc = Sys(SYS_OP_MOUNT, SYS_mount, P(src), P(target), 0, MS_BIND | (recursive ? MS_REC : 0), 0);
        if (rc < 0 || !(s.a[3] | s.a[4] | s.a[5])) return rc;
        // Resolved again: the target is now the new mount, which the fd above is not.
        if ((target = Resolve(dst, &err)) == nullptr) return err;
        return SetAttr(target, recursive, s.a[3], s.a[4], s.a[5]);
      }
      case OP_MOUNT_SETATTR: {
        long err = 0;
        const char* path = Resolve(Str(s.a[0]), &err);
        if (path == nullptr) return err;
        return SetAttr(path, s.a[1] & AT_RECURSIVE, s.a[2], s.a[3], s.a[4]);
      }
      case OP_CONFINE: {
        long fd = Sys(SYS_OP_OPEN, SYS_openat, AT_FDCWD, P(Str(s.a[0])), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return fd;
        if (root_fd_ >= 0) raw_syscall(SYS_close, root_fd_);
        root_fd_ = static_cast<int>(fd);
        root_stat_ok_ = raw_syscall(SYS_statx, root_fd_, P(""), AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, P(&root_stat_)) == 0;
        root_ = Str(s.a[0]);
        root_len_ = Len(root_);
        while (root_len_ > 1 && root_[root_len_ - 1] == '/') root_len_--;
        return 0;
      }
      case OP_PIVOT_ROOT: {
        // Confinement ends: from here the root is the new one, and paths resolve in it anyway.
        if (root_fd_ >= 0) raw_syscall(SYS_close, root_fd_);
        root_fd_ = -1;
        const char* root = Str(s.a[0]);
        const char* put_old = Str(s.a[1]);
        long rc;
        if (put_old == nullptr) {
          // pivot_root(".", "."): the old root is stacked under the new one, then detached;
          // no directory is needed for it (pivot_root(2), NOTES).
          if ((rc = Sys(SYS_OP_CHDIR, SYS_chdir, P(root))) < 0) return rc;
          if ((rc = Sys(SYS_OP_PIVOT_ROOT, SYS_pivot_root, P("."), P("."))) < 0) return rc;
          if ((rc = Sys(SYS_OP_UMOUNT2, SYS_umount2, P("."), MNT_DETACH)) < 0) return rc;
          return Sys(SYS_OP_CHDIR, SYS_chdir, P("/"));
        }
        if ((rc = Sys(SYS_OP_PIVOT_ROOT, SYS_pivot_root, P(root), P(put_old))) < 0) return rc;
        if ((rc = Sys(SYS_OP_CHDIR, SYS_chdir, P("/"))) < 0) return rc;
        if ((rc = Sys(SYS_OP_UMOUNT2, SYS_umount2, P(Str(s.a[2])), MNT_DETACH)) < 0) return rc;
        // Removing the now empty directory is tidiness, not isolation: a read-only new root
        // (EROFS) must not fail a pivot that has happened.
        raw_syscall(SYS_unlinkat, AT_FDCWD, P(Str(s.a[2])), AT_REMOVEDIR);
        return 0;
      }
      case OP_SETHOSTNAME:
        return Sys(SYS_OP_SETHOSTNAME, SYS_sethostname, P(Str(s.a[0])), Len(Str(s.a[0])));
      case OP_SETDOMAINNAME:
        return Sys(SYS_OP_SETDOMAINNAME, SYS_setdomainname, P(Str(s.a[0])), Len(Str(s.a[0])));
      case OP_MKDIR: {
        long rc;
        if (s.a[2] & 1) {
          rc = MkdirAll(Str(s.a[0]), s.a[1]);
        } else {
          int dir;
          const char* name;
          rc = ParentOf(Str(s.a[0]), false, &dir, &name);
          if (rc == 0) rc = Sys(SYS_OP_MKDIR, SYS_mkdirat, dir, P(name), s.a[1]);
          if (rc == -EEXIST && (s.a[2] & 2)) rc = 0;
        }
        if (rc < 0 || !(s.a[2] & 2)) return rc;
        return PlainDirectory(Str(s.a[0]));
      }
      case OP_SYMLINK: {
        int dir;
        const char* name;
        long rc = ParentOf(Str(s.a[1]), false, &dir, &name);
        return rc < 0 ? rc : Sys(SYS_OP_SYMLINK, SYS_symlinkat, P(Str(s.a[0])), dir, P(name));
      }
      case OP_MKNOD: {
        int dir;
        const char* name;
        long rc = ParentOf(Str(s.a[0]), false, &dir, &name);
        return rc < 0 ? rc : Sys(SYS_OP_MKNOD, SYS_mknodat, dir, P(name), s.a[1], static_cast<long>(U64(s.a[2], s.a[3])));
      }
      case OP_MASK: {
        // As runc: a directory is covered by an empty read-only tmpfs, a file by the null
        // device; a path that does not exist needs no mask. A step marked shared (a2 bit 0)
        // clones the addon's template where the spawn gave one (ChildContext::mask_fd).
        long err = 0;
        const char* path = Resolve(Str(s.a[0]), &err);
        if (path == nullptr) return err == -ENOENT ? 0 : err;
        struct statx st;
        long rc = Statx(path, &st);
        if (rc == -ENOENT) return 0;
        if (rc < 0) return rc;
        if (S_ISDIR(st.stx_mode)) {
          rc = CloneTemplate(s.a[2] & 1 ? mask_ : -1, path);
          if (rc <= 0) return rc;
          return Sys(SYS_OP_MOUNT, SYS_mount, P("tmpfs"), P(path), P("tmpfs"),
                     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, P("size=0"));
        }
        return Sys(SYS_OP_MOUNT, SYS_mount, P(Str(s.a[1])), P(path), 0, MS_BIND, 0);
      }
      case OP_REMOUNT_RO: {
        long err = 0;
        const char* path = Resolve(Str(s.a[0]), &err);
        return path == nullptr ? err : SetAttr(path, s.a[1], MOUNT_ATTR_RDONLY, 0, 0);
      }
      case OP_CHDIR: {
        long err = 0;
        const char* path = Resolve(Str(s.a[0]), &err);
        return path == nullptr ? err : Chdir(path);
      }
      case OP_SETRLIMIT: {
        struct rlimit lim = {U64(s.a[1], s.a[2]), U64(s.a[3], s.a[4])};
        return Sys(SYS_OP_PRLIMIT, SYS_prlimit64, 0, s.a[0], P(&lim), 0);
      }
      case OP_SETGROUPS:
        return Sys(SYS_OP_SETGROUPS, SYS_setgroups, s.a[1], P(Blob(s.a[0])));
      case OP_SETGID:
        return Sys(SYS_OP_SETRESGID, SYS_setresgid, s.a[0], s.a[0], s.a[0]);
      case OP_SETUID: {
        // Keep the permitted set across the uid change so a later caps step can keep what
        // it asks for (capabilities(7), "Effect of user ID changes on capabilities").
        long rc = Sys(SYS_OP_PRCTL, SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0);
        if (rc < 0) return rc;
        return Sys(SYS_OP_SETRESUID, SYS_setresuid, s.a[0], s.a[0], s.a[0]);
      }
      case OP_CAPS:
        return Caps(s);
      case OP_NO_NEW_PRIVS:
        return Sys(SYS_OP_PRCTL, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      case OP_SECCOMP: {
        // The program's PATH search before the filter, when the exec comes next: the
        // filter may refuse the statx and faccessat that look (it allows execve).
        if (trampoline_ >= 0 && index + 2 == c_->count) SearchPath(c_->steps[index + 1]);
        struct sock_fprog prog = {static_cast<unsigned short>(s.a[1] / 8),
                                  const_cast<struct sock_filter*>(static_cast<const struct sock_filter*>(Blob(s.a[0])))};
        return Sys(SYS_OP_SECCOMP, SYS_seccomp, SECCOMP_SET_MODE_FILTER, s.a[2], P(&prog));
      }
      case OP_DUMPABLE:
        // Per address space: lib/spawn.ts never runs this step in a CLONE_VM child.
        return Sys(SYS_OP_PRCTL, SYS_prctl, PR_SET_DUMPABLE, s.a[0], 0, 0, 0);
      case OP_UMOUNT: {
        long err = 0;
        const char* path = Resolve(Str(s.a[0]), &err);
        return path == nullptr ? err : Sys(SYS_OP_UMOUNT2, SYS_umount2, P(path), s.a[1]);
      }
      case OP_SETSID:
        return Sys(SYS_OP_SETSID, SYS_setsid);
      case OP_SETNS:
        return Sys(SYS_OP_SETNS, SYS_setns, static_cast<long>(s.a[0]), static_cast<long>(s.a[1]));
      case OP_FORK:
        return Fork(index);
      case OP_SETCTTY:
        // Only a session leader without a terminal may take one (a setsid step comes first:
        // lib/plan.ts checks); argument 0: never steal one that is another session's (tty_ioctl(4)).
        return Sys(SYS_OP_IOCTL, SYS_ioctl, static_cast<long>(s.a[0]), TIOCSCTTY, 0);
      case OP_LOOPBACK_UP: {
        // Up already where the spawn joined a namespace the pool made for such a plan.
        if (c_->netns_lo_up) return 0;
        const char* failed = nullptr;
        long rc = BringLoopbackUp(&failed);
        if (rc < 0) sysop_ = failed[0] == 's' ? SYS_OP_SOCKET : SYS_OP_IOCTL;
        return rc;
      }
      case OP_OPEN_CONSOLE:
        return OpenConsole(static_cast<int>(s.a[0]), s.a[1], s.a[2], s.a[3], s.a[4]);
      case OP_MOUNT_SYSFS: {
        long err = 0;
        const char* path = Resolve(Str(s.a[0]), &err);
        return path == nullptr ? err : MountSysfs(path);
      }
      case OP_UNSHARE:
        return Sys(SYS_OP_UNSHARE, SYS_unshare, static_cast<long>(s.a[0]));
      case OP_UMASK:
        raw_syscall(SYS_umask, s.a[0]);  // cannot fail
        return 0;
      case OP_WRITE_FILE: {
        // One write: the files written here are small (/etc/hostname, a sysctl value);
        // a short write is reported as EIO rather than retried.
        int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | ((s.a[3] & 1) ? O_CREAT : 0) | ((s.a[3] & 2) ? O_TRUNC : 0);
        int dir;
        const char* name;
        long fd = ParentOf(Str(s.a[0]), false, &dir, &name);
        if (fd < 0) return fd;
        fd = Sys(SYS_OP_OPEN, SYS_openat, dir, P(name), flags, s.a[4]);
        if (fd < 0) return fd;
        long rc = s.a[2] ? Sys(SYS_OP_WRITE, SYS_write, fd, P(Blob(s.a[1])), s.a[2]) : 0;
        raw_syscall(SYS_close, fd);
        if (rc >= 0 && static_cast<uint32_t>(rc) != s.a[2]) rc = -EIO;
        return rc < 0 ? rc : 0;
      }
      case OP_WAIT: {
        // Held for as long as the caller likes: close, not only mark close-on-exec, every fd
        // it no longer needs. Node's fds copied at the clone include other spawns' pipes
        // (made on Node's thread while this one was cloned), whose ends must not stay open
        // here: those spawns would see no EOF until this one is released.
        CloseAllBut(c_->stdio_count, {report_, sync_, go_r_, go_w_, trampoline_});
        ChildReport r = {static_cast<int32_t>(index), 0, kReportHeld};
        raw_syscall(SYS_write, report_, P(&r), sizeof r);
        if (!WaitForParent()) Exit(1);
        return 0;
      }
      case OP_EXEC: {
        Stamp(1);
        // Named for the parent: a process that dies with this name never left execve (a
        // seccomp filter killed it there); after execve it has the program's.
        raw_syscall(SYS_prctl, PR_SET_NAME, P(kExecName), 0, 0, 0);
        ChildReport r = {static_cast<int32_t>(index), 0, kReportExec};
        raw_syscall(SYS_write, report_, P(&r), sizeof r);
        return Exec(s, index);
      }
    }
    return -EINVAL;
  }

  static constexpr int kStepFds = 8;
  static constexpr size_t kKeptFds = 64;
  const ChildContext* c_;
  // The CONFINE step's root (an O_PATH fd and its path), until pivot_root.
  int root_fd_ = -1;
  const char* root_ = nullptr;
  size_t root_len_ = 0;
  bool no_openat2_ = false;
  struct statx root_stat_;  // the root's, for SameAsRoot
  bool root_stat_ok_ = false;
  // fds a step opened to name its paths, closed when it ends.
  int step_fds_[kStepFds];
  int step_fd_count_ = 0;
  char fd_paths_[kStepFds][32];
  int report_;
  int sync_;
  int go_r_;
  int go_w_;
  int sysfs_;
  int mask_;
  int trampoline_;
  long search_rc_ = 1;  // SearchPath's answer; 1: not searched yet
  char exec_path_[4096];
  int32_t sysop_ = SYS_OP_FAULT;
};

}  // namespace

extern "C" int ChildMain(void* arg) {
  Executor(static_cast<const ChildContext*>(arg)).Run();
}

}  // namespace nsbox
