// Processes: pidfd_open, pidfd_send_signal, and spawn — clone3 (CLONE_PIDFD, namespaces,
// CLONE_INTO_CGROUP) followed by the plan executor (child.cc), watched on libuv's loop.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <poll.h>
#include <time.h>

#include <memory>
#include <mutex>

#include "errors.h"
#include "exec-trampoline.h"
#include "fd.h"
#include "plan.h"
#include "syscalls.h"

namespace nsbox {

namespace {

enum Event { EVENT_EXEC = 1, EVENT_FAILED = 2, EVENT_HELD = 3, EVENT_EXIT = 4, EVENT_FORKED = 5 };
constexpr size_t kForkPage = 4096;
constexpr size_t kStackSize = 64 * 1024;
// Children are cloned with exit signal SIGCHLD (execve resets it to SIGCHLD anyway:
// de_thread in fs/exec.c). nsbox does not use the signal: exit is seen through the pidfd
// and reaped with waitid(P_PIDFD); libuv's own SIGCHLD handler reaps only the pids it
// spawned, so it never takes ours.

#if defined(__x86_64__)
// Runs a clone-family syscall. The parent gets its result; the child runs fn(arg) on the
// stack the syscall gave it (it cannot return into this frame, which lives on the parent's
// stack) and exits with fn's result. syscall clobbers only rax, rcx and r11, so fn and arg
// survive in r12/r13.
long CloneRun(long nr, long a1, long a2, long a3, long a4, long a5, int (*fn)(void*), void* arg) {
  register long r10 asm("r10") = a4;
  register long r8 asm("r8") = a5;
  register long r12 asm("r12") = reinterpret_cast<long>(fn);
  register long r13 asm("r13") = reinterpret_cast<long>(arg);
  long ret;
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "mov %%eax, %%edi\n\t"
      "mov $231, %%eax\n\t"  // exit_group
      "syscall\n\t"
      "ud2\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return ret;
}
constexpr bool kHaveVmClone = true;
#else
constexpr bool kHaveVmClone = false;
#endif

// Stacks for CLONE_VM children, kept for reuse: a fresh mapping costs mmap, mprotect and
// page faults in the child on every spawn.
constexpr size_t kKeptStacks = 16;

void* AcquireStack(Napi::Env env) {
  std::vector<void*>& free = env.GetInstanceData<AddonData>()->free_stacks;
  if (!free.empty()) {
    void* s = free.back();
    free.pop_back();
    return s;
  }
  void* s = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (s == MAP_FAILED) return nullptr;
  if (mprotect(s, 4096, PROT_NONE) != 0) {  // guard page
    munmap(s, kStackSize);
    return nullptr;
  }
  return s;
}

void ReleaseStack(Napi::Env env, void* stack) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!data->tearing_down && data->free_stacks.size() < kKeptStacks) data->free_stacks.push_back(stack);
  else munmap(stack, kStackSize);
}

// Ends a child and reaps it, waiting as long as that takes. The pidfd may be non-blocking
// (uv_poll_init makes it so), where waitid answers EAGAIN until the child is gone: poll
// for its exit first.
void KillAndReap(int pidfd) {
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  for (;;) {
    siginfo_t si;
    if (waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &si, WEXITED | __WALL) == 0) return;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return;
    struct pollfd p = {pidfd, POLLIN, 0};
    poll(&p, 1, -1);
  }
}

}  // namespace

// Calls a JavaScript callback in its async context with the C API, not node-addon-api's
// wrappers: while a worker is being terminated no JavaScript can run, and node-addon-api turns
// the failure to throw into a fatal error. A JavaScript exception (from a nextTick run at the
// end of the callback scope) goes to 'uncaughtException'; a terminating environment leaves
// nothing to report.
// The exec trampoline's memfd (exec-trampoline.h), made once: written, then sealed against
// any change, so that a container's process that reaches it through /proc/PID/exe can only
// read it. -1 where there is none (not x86_64) or the kernel cannot make it.
static int ExecTrampoline(AddonData* data) {
  if (!kHaveExecTrampoline || data->exec_trampoline_tried || data->tearing_down) return data->exec_trampoline;
  data->exec_trampoline_tried = true;
  constexpr unsigned kMfdExec = 0x10U;  // MFD_EXEC (6.3): executable whatever vm.memfd_noexec says
  int fd = static_cast<int>(syscall(SYS_memfd_create, "nsbox-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | kMfdExec));
  if (fd < 0 && errno == EINVAL) fd = static_cast<int>(syscall(SYS_memfd_create, "nsbox-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) return -1;
  const uint8_t* p = kExecTrampoline;
  size_t left = sizeof kExecTrampoline;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n <= 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  // Execute-only: a process that execs a file it may not read is made non-dumpable by the
  // kernel from the exec on (would_dump), so a process in the container can reach neither its
  // memory nor its fds (the report pipe). Root in a container without a user namespace may
  // read it anyway (CAP_DAC_OVERRIDE): there the trampoline's own first system call does it.
  if (fchmod(fd, 0111) != 0) {
    ::close(fd);
    return -1;
  }
  constexpr int kSealExec = 0x20;  // F_SEAL_EXEC (6.3): its mode cannot change either
  int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  if (fcntl(fd, F_ADD_SEALS, seals | kSealExec) != 0 && fcntl(fd, F_ADD_SEALS, seals) != 0) {
    ::close(fd);
    return -1;
  }
  return data->exec_trampoline = fd;
}

void CallBack(napi_env env, napi_async_context context, napi_value fn, size_t argc, const napi_value* argv) {
  napi_value global, result;
  if (napi_get_global(env, &global) != napi_ok) return;
  if (napi_make_callback(env, context, global, fn, argc, argv, &result) == napi_ok) return;
  bool pending = false;
  napi_value error;
  napi_valuetype type;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(env, &error) == napi_ok && napi_typeof(env, error, &type) == napi_ok &&
      type != napi_undefined) {
    napi_fatal_exception(env, error);
  }
}

struct Child {
  Napi::Env env;
  Napi::FunctionReference callback;
  // The async context of the spawn() call, so that AsyncLocalStorage and async_hooks see
  // the child's events where the spawn happened.
  std::unique_ptr<Napi::AsyncContext> async_context;
  int pid = -1;
  UniqueFd pidfd;  // the program's process: after a FORK step, the grandchild
  UniqueFd report;
  UniqueFd sync;  // write end: one byte releases one wait
  std::unique_ptr<Plan> plan;
  void* stack = nullptr;
  uint32_t waits_left = 0;
  bool failed = false;
  bool exec_started = false;  // the child reached execve (kReportExec)
  ChildReport failure{};
  uv_poll_t report_poll{};
  uv_poll_t exit_poll{};  // the first process's pidfd: the program's, or the one that forks it
  bool report_open = false;
  int handles_open = 0;
  bool refed = true;
  // A plan with a FORK step (child.cc Fork). The forking process reports the grandchild's
  // pid; the watch then moves to the grandchild (forked_poll on its own pidfd, under its
  // own key in AddonData::children), and the forking process, now `intermediate`, is reaped
  // silently through exit_poll. fork_slot is the MAP_SHARED word where the kernel wrote the
  // grandchild's pid as it made it: the pid of a grandchild whose report never came. The
  // intermediate keeps its entry in children until reaped, so that teardown finds it.
  int* fork_slot = nullptr;
  bool fork_reported = false;
  bool forked = false;
  UniqueFd intermediate;
  uv_poll_t forked_poll{};
  // The forking process died between fork and report: its status, reported when the
  // grandchild (ended at once) is reaped.
  bool fork_lost = false;
  siginfo_t lost_status{};
  bool abandoned = false;

  explicit Child(Napi::Env e) : env(e) {}
  ~Child() {
    FreeSetupMemory();
    if (fork_slot) munmap(fork_slot, kForkPage);
  }

  // The child no longer reads the plan or runs on the stack once it has exec'd or exited.
  void FreeSetupMemory() {
    plan.reset();
    if (stack) ReleaseStack(env, stack), stack = nullptr;
  }

  // The C API, not node-addon-api's wrappers: while a worker is being terminated no
  // JavaScript can run, and node-addon-api turns the failure to throw into a fatal error.
  // Our callback only settles promises; what it cannot do then, nobody waits for.
  void Emit(Event ev, double a = 0, double b = 0, double c = 0) {
    if (env.GetInstanceData<AddonData>()->tearing_down) return;  // no JavaScript runs any more
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value argv[4];
    double values[4] = {static_cast<double>(ev), a, b, c};
    bool ok = true;
    for (int i = 0; ok && i < 4; i++) ok = napi_create_double(env, values[i], &argv[i]) == napi_ok;
    if (ok) CallBack(env, *async_context, callback.Value(), 4, argv);
    napi_close_handle_scope(env, scope);
  }


  void ReadReports() {
    for (;;) {
      ChildReport r;
      ssize_t n = read(report.get(), &r, sizeof r);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n == static_cast<ssize_t>(sizeof r)) {
        if (r.err == 0 && r.sysop == kReportHeld) {
          Emit(EVENT_HELD, r.step);
        } else if (r.err == 0 && r.sysop == kReportExec) {
          exec_started = true;
        } else if (r.err == 0 && r.sysop == kReportForked && fork_slot && !fork_reported) {
          fork_reported = true;
          if (int err = SwitchTo(r.pid, true)) {
            // No fd left to watch it: end it now. It is our child and unreaped, so the pid
            // is still its own; the wait is for a killed process to go.
            kill(r.pid, SIGKILL);
            siginfo_t si;
            while (waitid(P_PID, static_cast<id_t>(r.pid), &si, WEXITED | __WALL) != 0 && errno == EINTR) {}
            failed = true;
            failure = {r.step, err, SYS_OP_CLONE};
          }
        } else {
          failed = true;
          failure = r;
        }
        continue;
      }
      // EOF: exec closed the CLOEXEC pipe, or the child exited (or a torn read).
      Settle();
      return;
    }
  }

  // What the reports say happened, once the child has exec'd or died. A child that died
  // before execve without reporting (killed by a signal, a seccomp filter) gets no event:
  // its exit tells JavaScript that it never started.
  //
  // A failure after the exec notice comes from the exec step (the child's execve, or the exec
  // trampoline's: exec-trampoline.h), which both still bear the pre-exec name when they die of
  // it. A report whose process no longer does ran the program: some process that reached the
  // pipe wrote it (one of the container's, while the trampoline was still dumpable), and it is
  // not believed.
  void Settle() {
    CloseReport();
    FreeSetupMemory();
    bool named = false, exiting = false;
    if (exec_started) ExecNameState(&named, &exiting);
    if (failed && !(exec_started && !named)) Emit(EVENT_FAILED, failure.step, failure.err, failure.sysop);
    else if (exec_started && !(named && exiting)) Emit(EVENT_EXEC);
  }

  // EOF after the exec notice: execve succeeded (the close-on-exec pipe closed), or the
  // process was killed inside it, or before it. Which, its /proc stat tells: still named as
  // before the exec (the kernel renames it to the program only once it is past the point of
  // no return) and exiting (PF_EXITING, set at the start of do_exit, before its files close:
  // the EOF can come before the process is a zombie). A process killed in the moment between
  // the close-on-exec and the rename never ran the program either.
  // Whether the process still bears the pre-exec name, and whether it is exiting. Unreadable
  // (never here: it is our unreaped child), it counts as named and not exiting: a failure
  // report is believed, an EOF is an exec.
  void ExecNameState(bool* named, bool* exiting) {
    *named = true;
    *exiting = false;
    char path[40], stat[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0) return;
    stat[n] = '\0';
    // "<pid> (<comm>) <state> <ppid> <pgrp> <session> <tty_nr> <tpgid> <flags> …": comm is at
    // most 15 characters, and ours has no ')' or space.
    const char* open_paren = strchr(stat, '(');
    if (open_paren == nullptr) return;
    size_t len = strlen(kExecName);
    *named = strncmp(open_paren + 1, kExecName, len) == 0 && open_paren[1 + len] == ')';
    if (!*named) {
      *exiting = false;
      return;
    }
    const char* field = open_paren + 1 + len + 1;  // " <state> …"
    for (int i = 0; i < 6 && field != nullptr; i++) field = strchr(field + 1, ' ');  // to the space before flags
    if (field == nullptr) return;
    constexpr unsigned long kPfExiting = 0x4;  // include/linux/sched.h
    *exiting = (strtoul(field + 1, nullptr, 10) & kPfExiting) != 0;
  }

  // uv_poll_stop takes the fd out of epoll at once, so it can be closed now: a long-running
  // child holds no fd in the parent but its pidfd.
  void CloseReport() {
    if (!report_open) return;
    report_open = false;
    uv_poll_stop(&report_poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&report_poll), OnHandleClosed);
    report.reset();
  }

  // Moves the exit watch to a grandchild (a FORK step's): a pidfd for it, race-free as
  // it is our child (CLONE_PARENT) and only we reap it, then forked_poll on that pidfd
  // and the children entry under its number. JavaScript learns its pid and pidfd first
  // (EVENT_FORKED). The forking process, if alive, stays watched by exit_poll as
  // `intermediate`. Returns 0 or an errno.
  int SwitchTo(int grandchild, bool intermediate_alive) {
    UniqueFd next(static_cast<int>(syscall(SYS_pidfd_open, grandchild, 0)));
    if (!next.valid()) return errno;
    forked_poll.data = this;
    if (uv_poll_init(uv_handle_get_loop(reinterpret_cast<uv_handle_t*>(&exit_poll)), &forked_poll, next.get()) != 0) {
      abort();  // cannot fail for a pidfd on Linux, as in Spawn
    }
    handles_open++;
    auto& children = env.GetInstanceData<AddonData>()->children;
    if (intermediate_alive) {
      intermediate = std::move(pidfd);
    } else {
      children.erase(pidfd.get());
      uv_poll_stop(&exit_poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&exit_poll), OnHandleClosed);
    }
    pidfd = std::move(next);
    pid = grandchild;
    forked = true;
    children[pidfd.get()] = this;
    uv_poll_start(&forked_poll, UV_READABLE, OnExit);
    if (!refed) uv_unref(reinterpret_cast<uv_handle_t*>(&forked_poll));
    Emit(EVENT_FORKED, pid, pidfd.get());
    return 0;
  }

  // The forking process exited after its report: reaped, its status unused (a failure
  // after the fork is the grandchild's, and reported by it).
  void IntermediateExited() {
    siginfo_t si{};
    int rc;
    do rc = waitid(static_cast<idtype_t>(P_PIDFD), intermediate.get(), &si, WEXITED | WNOHANG | __WALL);
    while (rc != 0 && errno == EINTR);
    if (rc == 0 && si.si_pid == 0) return;
    uv_poll_stop(&exit_poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&exit_poll), OnHandleClosed);
    env.GetInstanceData<AddonData>()->children.erase(intermediate.get());
    intermediate.reset();
  }

  // The forking process died (reaped, status `si`) after the kernel made the grandchild but
  // before its report: the grandchild, waiting on the go pipe, would exit unseen and stay
  // a zombie. Adopt it, end it, and report the forking process's status at its exit.
  bool AdoptLostGrandchild(const siginfo_t& si) {
    if (fork_slot == nullptr || fork_reported) return false;
    int grandchild = __atomic_load_n(fork_slot, __ATOMIC_ACQUIRE);
    if (grandchild <= 0) return false;  // it died before clone (or clone failed)
    fork_reported = true;
    if (int err = SwitchTo(grandchild, false)) {
      (void)err;
      kill(grandchild, SIGKILL);  // as in ReadReports: unreaped, so still its own pid
      siginfo_t gone;
      while (waitid(P_PID, static_cast<id_t>(grandchild), &gone, WEXITED | __WALL) != 0 && errno == EINTR) {}
      return false;
    }
    fork_lost = true;
    lost_status = si;
    syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    return true;
  }

  // exit_poll (before a fork, or for a lost fork) or forked_poll fired for the program's process.
  void Exited() {
    bool was_forked = forked;
    if (report_open) ReadReports();  // all it wrote is in the pipe; a fork report switches
    if (forked != was_forked) return IntermediateExited();  // the one that exited forked the program
    siginfo_t si{};
    int rc;
    do rc = waitid(static_cast<idtype_t>(P_PIDFD), pidfd.get(), &si, WEXITED | WNOHANG | __WALL);
    while (rc != 0 && errno == EINTR);
    if (rc == 0 && si.si_pid == 0) return;  // not reapable yet; the pidfd stays readable
    // rc != 0: reaped by someone else (ECHILD: a waitpid(-1) elsewhere) or no P_PIDFD
    // (EINVAL before 5.4): the status is lost, but the child is gone; never poll again.
    if (rc != 0) si.si_code = 0;
    if (!forked && AdoptLostGrandchild(si)) return;
    // No EOF yet: another process holds a copy of the write end (a fork elsewhere in this
    // process between our pipe2 and its exec, or the intermediate of a fork). The reports decide.
    if (report_open) Settle();
    uv_poll_t* watch = forked ? &forked_poll : &exit_poll;
    uv_poll_stop(watch);
    uv_close(reinterpret_cast<uv_handle_t*>(watch), OnHandleClosed);
    env.GetInstanceData<AddonData>()->children.erase(pidfd.get());
    sync.reset();
    pidfd.reset();
    if (fork_lost) si = lost_status;
    bool killed = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
    bool exited = si.si_code == CLD_EXITED;
    // (code, signal): (status, 0) exited; (-1, signal) killed; (-1, 0) status unknown
    Emit(EVENT_EXIT, exited ? si.si_status : -1, killed ? si.si_status : 0);
  }

  static void OnReport(uv_poll_t* h, int, int) { static_cast<Child*>(h->data)->ReadReports(); }
  static void OnExit(uv_poll_t* h, int, int) {
    Child* c = static_cast<Child*>(h->data);
    if (c->forked && h == &c->exit_poll) c->IntermediateExited();
    else c->Exited();
  }
  static void OnHandleClosed(uv_handle_t* h) {
    Child* c = static_cast<Child*>(h->data);
    if (--c->handles_open > 0) return;
    AddonData* data = c->env.GetInstanceData<AddonData>();
    delete c;
    data->live_children--;
    FinishTeardownIfIdle(data);
  }

  // Environment teardown. When the process exits (main thread), a running program is
  // left running, as child_process leaves its children, and init reaps it. When a worker
  // ends, the process goes on and nobody could reap it: it is ended and reaped. A child
  // still in its plan reads our memory (with CLONE_VM, runs on our stack): always ended
  // and reaped before that memory goes.
  void Abandon(bool process_exiting) {
    if (abandoned) return;  // listed twice in children while a fork's intermediate lives
    abandoned = true;
    if (pidfd.valid() && (report_open || !process_exiting)) KillAndReap(pidfd.get());
    // A fork's intermediate had only to exit; a grandchild whose report was not read
    // (or never written) is known only by fork_slot: both end here too.
    if (intermediate.valid()) KillAndReap(intermediate.get());
    int grandchild = fork_slot && !fork_reported ? __atomic_load_n(fork_slot, __ATOMIC_ACQUIRE) : 0;
    if (grandchild > 0) {
      UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_open, grandchild, 0)));
      if (fd.valid()) KillAndReap(fd.get());
    }
    CloseReport();
    uv_poll_t* watches[] = {&exit_poll, forked ? &forked_poll : nullptr};
    for (uv_poll_t* w : watches) {
      if (w == nullptr || uv_is_closing(reinterpret_cast<uv_handle_t*>(w))) continue;
      uv_poll_stop(w);
      uv_close(reinterpret_cast<uv_handle_t*>(w), OnHandleClosed);
    }
  }
};

static void OnEnvTeardown(napi_async_cleanup_hook_handle handle, void* arg) {
  AddonData* data = static_cast<AddonData*>(arg);
  data->tearing_down = true;
  data->cleanup_hook = handle;
  for (void* s : data->free_stacks) munmap(s, kStackSize);
  data->free_stacks.clear();
  std::unordered_map<int, Child*> children;
  children.swap(data->children);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(data->env, &loop);
  bool process_exiting = loop == uv_default_loop();  // the main thread's environment
  for (auto& entry : children) entry.second->Abandon(process_exiting);
  CloseFdWatches(data);
  DrainNetnsPool(data);
  StopNetnsMaker(data);
  FinishTeardownIfIdle(data);
}

void FinishTeardownIfIdle(AddonData* data) {
  if (data->tearing_down && data->cleanup_hook && data->live_children == 0 && data->live_handles == 0 &&
      data->pending_spawns == 0) {
    // Not before: a clone still on a pool thread may hand it to its child.
    if (data->sysfs_template >= 0) ::close(data->sysfs_template);
    if (data->sysfs_template_netns >= 0) ::close(data->sysfs_template_netns);
    data->sysfs_template = data->sysfs_template_netns = -1;
    if (data->mask_template >= 0) ::close(data->mask_template);
    data->mask_template = -1;
    if (data->exec_trampoline >= 0) ::close(data->exec_trampoline);
    data->exec_trampoline = -1;
    napi_remove_async_cleanup_hook(data->cleanup_hook);
    data->cleanup_hook = nullptr;
  }
}

void RegisterProcessCleanup(Napi::Env env, AddonData* data) {
  napi_add_async_cleanup_hook(env, OnEnvTeardown, data, nullptr);
}

namespace {

uint64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

int CloexecPipe(UniqueFd* r, UniqueFd* w) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return errno;
  r->reset(fds[0]);
  w->reset(fds[1]);
  return 0;
}

int WriteFile(const char* path, const std::string& data) {
  UniqueFd fd(open(path, O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return errno;
  ssize_t n = write(fd.get(), data.data(), data.size());
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(data.size()) ? 0 : EIO;
}

std::string OptString(Napi::Object o, const char* key, bool* present) {
  Napi::Value v = o.Get(key);
  *present = v.IsString();
  return *present ? v.As<Napi::String>().Utf8Value() : std::string();
}

int64_t OptInt(Napi::Object o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : fallback;
}

}  // namespace

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int64_t pid, flags;
  if (!ArgInt(info, 0, &pid) || !ArgInt(info, 1, &flags)) return ThrowTypeError(info.Env(), "pidfdOpen(pid, flags)");
  long fd = syscall(SYS_pidfd_open, static_cast<pid_t>(pid), static_cast<unsigned>(flags));
  if (fd < 0) return ThrowSystemError(info.Env(), errno, "pidfd_open");
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  int64_t fd, sig;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &sig)) return ThrowTypeError(info.Env(), "pidfdSendSignal(pidfd, signal)");
  if (syscall(SYS_pidfd_send_signal, static_cast<int>(fd), static_cast<int>(sig), nullptr, 0) != 0) {
    return ThrowSystemError(info.Env(), errno, "pidfd_send_signal");
  }
  return info.Env().Undefined();
}

// One spawn, from its options to its result: prepared on the main thread (PrepareSpawn), cloned
// there or on a libuv pool thread (CloneJob: system calls only), and finished on the main
// thread (FinishSpawn: the Child, its watches, the result). A vfork clone keeps the thread
// that makes it until the child has exec'd: spawnAsync runs it on a pool thread so that
// JavaScript goes on meanwhile (lib/spawn.ts uses it when other spawns are in flight).
struct SpawnJob {
  std::unique_ptr<Plan> plan;
  uint64_t flags = 0;
  int cgroup_fd = -1;
  bool has_uid_map = false, has_gid_map = false, has_setgroups = false;
  std::string uid_map, gid_map, setgroups;
  bool vm = false, vfork = false, no_clone3 = false, cgroup_fallback = false, timing = false;
  bool non_dumpable = false;  // the setup process must be non-dumpable (options.nonDumpable)
  // spawnAsync: the options' fds (cgroupFd, netnsFd), duplicated so that the job owns them
  // (JavaScript's copies are closed at once: a worker ended mid-spawn never runs its finally).
  UniqueFd own_cgroup, own_netns;
  std::vector<UniqueFd> parent_ends, child_ends;
  UniqueFd report_r, report_w, sync_r, sync_w, go_r, go_w;
  std::unique_ptr<int, void (*)(int*)> fork_slot{nullptr, [](int* p) { munmap(p, kForkPage); }};
  void* stack = nullptr;
  // What the clone did.
  long pid = -1;
  int pidfd = -1;
  const char* clone_name = "clone3";
  bool into_cgroup = false;
  uint64_t stamps[2] = {0, 0};
  uint64_t clone_start = 0, clone_end = 0;
  // The parent's work after the clone (maps, cgroup.procs) failed: errno, step, path.
  int parent_err = 0;
  const char* parent_step = nullptr;
  std::string parent_path;
  // spawnAsync
  uv_work_t req{};
  Napi::FunctionReference on_event, on_done;
  std::unique_ptr<Napi::AsyncContext> async_context;
};

namespace {

// Reads the options and makes what the child needs (pipes, stack); false with a JavaScript
// exception pending if they are wrong or a call fails.
bool PrepareSpawn(Napi::Env env, Napi::Value plan_v, Napi::Value opts_v, SpawnJob* job) {
  Napi::Uint8Array buf = plan_v.As<Napi::Uint8Array>();
  Napi::Object opts = opts_v.As<Napi::Object>();

  job->plan = std::make_unique<Plan>();
  Plan* plan = job->plan.get();
  std::string error;
  if (!DecodePlan(buf.Data(), buf.ByteLength(), plan, &error)) return ThrowTypeError(env, error.c_str()), false;
  ChildContext& ctx = plan->ctx;

  job->flags = static_cast<uint64_t>(OptInt(opts, "flags", 0));
  constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET |
                                       CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWTIME;
  if (job->flags & ~kNamespaceFlags) return ThrowTypeError(env, "spawn: options.flags may hold only CLONE_NEW* bits"), false;
  job->cgroup_fd = static_cast<int>(OptInt(opts, "cgroupFd", -1));
  job->uid_map = OptString(opts, "uidMap", &job->has_uid_map);
  job->gid_map = OptString(opts, "gidMap", &job->has_gid_map);
  job->setgroups = OptString(opts, "setgroups", &job->has_setgroups);
  // Not with a FORK step: its grandchild needs its own copy of the memory anyway (it
  // outlives the forking process, whose stack is ours), so CLONE_VM would save nothing.
  job->vm = opts.Get("vm").ToBoolean() && kHaveVmClone && plan->fork_steps == 0;
  // CLONE_VM|CLONE_VFORK: the cloning thread waits until the child has exec'd or exited. Not
  // with a wait step (it would wait for a release that this thread must give) nor a fork step.
  job->vfork = opts.Get("vfork").ToBoolean() && kHaveVmClone && plan->fork_steps == 0 && plan->wait_steps == 0;
  job->no_clone3 = opts.Get("noClone3").ToBoolean();
  job->cgroup_fallback = job->cgroup_fd >= 0 && opts.Get("noIntoCgroup").ToBoolean();
  // timing (a benchmark's stages): when the clone started, when the child ran its first
  // step, when it reached execve, when the clone returned. Only a vfork child can write
  // them where the cloning thread reads them (and is done writing when the clone returns).
  job->timing = job->vfork && opts.Get("timing").ToBoolean();
  job->non_dumpable = opts.Get("nonDumpable").ToBoolean();
  // Non-dumpable is per address space: a CLONE_VM child that is not a vfork child (whose
  // address space the parent makes non-dumpable around the clone) cannot be made so alone.
  if (job->non_dumpable) job->vm = false;
  ctx.fault_step = static_cast<int>(OptInt(opts, "faultStep", -1));
  ctx.fault_errno = static_cast<int>(OptInt(opts, "faultErrno", 0));
  ctx.no_mount_setattr = opts.Get("noMountSetattr").ToBoolean();
  ctx.fault_fork_lost = opts.Get("faultForkLost").ToBoolean();
  ctx.netns_fd = static_cast<int>(OptInt(opts, "netnsFd", -1));
  ctx.netns_lo_up = ctx.netns_fd >= 0 && opts.Get("netnsLoopbackUp").ToBoolean();
  ctx.sysfs_fd = static_cast<int>(OptInt(opts, "sysfsFd", -1));
  ctx.mask_fd = static_cast<int>(OptInt(opts, "maskFd", -1));
  ctx.trampoline_fd = ExecTrampoline(env.GetInstanceData<AddonData>());

  // stdio: parent ends of pipes are returned; child ends close after clone.
  Napi::Value stdio_v = opts.Get("stdio");
  if (!stdio_v.IsArray()) return ThrowTypeError(env, "spawn: options.stdio"), false;
  Napi::Array stdio = stdio_v.As<Napi::Array>();
  if (stdio.Length() > static_cast<uint32_t>(kMaxStdio)) return ThrowTypeError(env, "spawn: too many stdio entries"), false;
  job->parent_ends.resize(stdio.Length());
  job->child_ends.resize(stdio.Length());
  ctx.stdio_count = static_cast<int>(stdio.Length());
  for (uint32_t i = 0; i < stdio.Length(); i++) {
    Napi::Value entry = stdio.Get(i);
    if (!entry.IsNumber()) return ThrowTypeError(env, "spawn: options.stdio entries are numbers"), false;
    int64_t v = entry.As<Napi::Number>().Int64Value();
    if (v < kStdioNull || v > 0x7fffffff) return ThrowTypeError(env, "spawn: options.stdio entry out of range"), false;
    // A closed fd here could be taken by one of our pipes below, handing it to the program.
    if (v >= 0 && fcntl(static_cast<int>(v), F_GETFD) < 0) {
      Napi::Value e = MakeSystemError(env, errno, "fcntl");
      if (e.IsObject()) e.As<Napi::Object>().Set("step", "stdio");
      Napi::Error(env, e).ThrowAsJavaScriptException();
      return false;
    }
    ctx.stdio[i] = static_cast<int>(v);
    if (v != -2) continue;
    UniqueFd r, w;
    if (int err = CloexecPipe(&r, &w)) return ThrowSystemError(env, err, "pipe2"), false;
    // fd 0 is read by the child; every other pipe is written by it.
    job->parent_ends[i] = i == 0 ? std::move(w) : std::move(r);
    job->child_ends[i] = i == 0 ? std::move(r) : std::move(w);
    ctx.stdio[i] = job->child_ends[i].get();
  }

  if (int err = CloexecPipe(&job->report_r, &job->report_w)) return ThrowSystemError(env, err, "pipe2"), false;
  ctx.report_fd = job->report_w.get();
  if (plan->fork_steps > 0) {
    if (int err = CloexecPipe(&job->go_r, &job->go_w)) return ThrowSystemError(env, err, "pipe2"), false;
    void* page = mmap(nullptr, kForkPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return ThrowSystemError(env, errno, "mmap"), false;
    job->fork_slot.reset(static_cast<int*>(page));
    ctx.fork_go_r = job->go_r.get();
    ctx.fork_go_w = job->go_w.get();
    ctx.fork_pid = job->fork_slot.get();
  }
  if ((job->vm || job->vfork) && (job->stack = AcquireStack(env)) == nullptr) return ThrowSystemError(env, errno, "mmap"), false;
  return true;
}

// A vfork child shares Node's address space until it execs, and the dumpable flag is the
// address space's: the child cannot be made non-dumpable during its setup without making Node
// so. That is what happens, for as long as any vfork child of this process is in its setup
// (they may overlap, on pool threads: counted), and the flag goes back after the last: the
// container's setup process is non-dumpable, as runc's init is, so that nothing that could
// otherwise trace a process with its reduced credentials reaches Node's memory through it.
// While it is, Node is too: no core dump, and only CAP_SYS_PTRACE traces it. A uid or gid
// change in the child would reset the flag (commit_creds): lib/ sends none to a vfork child.
std::mutex vfork_setup_mutex;
int vfork_setups = 0;
int dumpable_outside = -1;

void EnterVforkSetup() {
  std::lock_guard<std::mutex> lock(vfork_setup_mutex);
  if (vfork_setups++ > 0) return;
  // Only from 1 (SUID_DUMP_USER): 0 is what we want already, and 2 (suid_dumpable's root
  // mode) keeps non-root tracers away as 0 does, and could not be set back (prctl takes 0 or 1).
  dumpable_outside = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (dumpable_outside == 1) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void LeaveVforkSetup() {
  std::lock_guard<std::mutex> lock(vfork_setup_mutex);
  if (--vfork_setups > 0) return;
  if (dumpable_outside == 1) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

// clone3, then the fallbacks, then the parent's work while the child waits. System calls
// only: it may run on a pool thread.
void CloneJob(SpawnJob* job) {
  ChildContext& ctx = job->plan->ctx;
  bool parent_work = job->has_uid_map || job->has_gid_map || job->has_setgroups;
  if (job->timing) job->clone_start = MonotonicNs();

  // clone3, then the fallbacks: without CLONE_INTO_CGROUP (before 5.7: EINVAL/E2BIG), and
  // plain clone (before 5.3: ENOSYS). Signals stay blocked across clone so that no Node
  // handler runs in the child; the child resets them before unblocking (child.cc).
  uint64_t all = ~0ULL, old = 0;
  bool no_clone3 = job->no_clone3;
  long pid = -1;
  for (int attempt = 0; attempt < 3; attempt++) {
    // Plain clone has no CLONE_INTO_CGROUP: the parent then writes cgroup.procs.
    job->into_cgroup = job->cgroup_fd >= 0 && !job->cgroup_fallback && !no_clone3;
    ctx.sync_first = parent_work || (job->cgroup_fd >= 0 && !job->into_cgroup);
    if ((ctx.sync_first || job->plan->wait_steps > 0) && !job->sync_w.valid()) {
      if (int err = CloexecPipe(&job->sync_r, &job->sync_w)) {
        job->clone_name = "pipe2";
        pid = -err;
        break;
      }
      ctx.sync_fd = job->sync_r.get();
    }
    // The parent's work (maps, cgroup.procs) is done while the child waits: not with vfork.
    bool use_vfork = job->vfork && !ctx.sync_first;
    bool use_vm = job->vm || use_vfork;
    ctx.timing = job->timing && use_vfork ? job->stamps : nullptr;
    ctx.non_dumpable = job->non_dumpable && !use_vfork;
    uint64_t cflags = job->flags | CLONE_PIDFD | (use_vm ? CLONE_VM : 0) | (use_vfork ? CLONE_VFORK : 0);
    if (use_vfork) EnterVforkSetup();
    raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, P(&all), P(&old), 8);
    if (!no_clone3) {
      job->clone_name = "clone3";
      CloneArgs args{};
      args.flags = cflags | (job->into_cgroup ? CLONE_INTO_CGROUP : 0);
      args.pidfd = reinterpret_cast<uint64_t>(&job->pidfd);
      args.exit_signal = SIGCHLD;
      if (use_vm) args.stack = reinterpret_cast<uint64_t>(job->stack), args.stack_size = kStackSize;
      args.cgroup = job->into_cgroup ? static_cast<uint64_t>(job->cgroup_fd) : 0;
      size_t size = job->into_cgroup ? sizeof args : offsetof(CloneArgs, cgroup);
#if defined(__x86_64__)
      if (use_vm) pid = CloneRun(SYS_clone3, P(&args), size, 0, 0, 0, ChildMain, &ctx);
      else
#endif
      {
        pid = raw_syscall(SYS_clone3, P(&args), size);
        if (pid == 0) ChildMain(&ctx);
      }
    } else if (job->flags & CLONE_NEWTIME) {
      job->clone_name = "clone";
      pid = -EINVAL;  // 0x80 is in clone's exit-signal byte: only clone3 can ask for it
    } else {
      job->clone_name = "clone";
      long lflags = static_cast<long>(cflags) | SIGCHLD;
#if defined(__x86_64__)
      if (use_vm) pid = CloneRun(SYS_clone, lflags, P(static_cast<char*>(job->stack) + kStackSize), P(&job->pidfd), 0, 0, ChildMain, &ctx);
      else
#endif
      {
        pid = raw_syscall(SYS_clone, lflags, 0, P(&job->pidfd), 0, 0);
        if (pid == 0) ChildMain(&ctx);
      }
    }
    raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, P(&old), 0, 8);
    if (use_vfork) LeaveVforkSetup();
    if (pid == -ENOSYS && !no_clone3) { no_clone3 = true; continue; }
    if ((pid == -EINVAL || pid == -E2BIG) && job->into_cgroup) { job->cgroup_fallback = true; continue; }
    break;
  }
  if (job->timing) job->clone_end = MonotonicNs();
  job->pid = pid;
  job->report_w.reset();
  job->sync_r.reset();
  job->go_r.reset();
  job->go_w.reset();
  job->child_ends.clear();
  if (pid < 0) return;

  // Parent work while the child waits: uid/gid maps (user_namespaces(7): one write each,
  // setgroups "deny" before an unprivileged gid_map), then cgroup.procs if the child could
  // not be born in its cgroup.
  if (ctx.sync_first) {
    std::string proc = "/proc/" + std::to_string(pid) + "/";
    struct Write { bool present; const char* step; std::string path; const std::string* data; };
    std::string procs = std::to_string(pid);
    Write writes[] = {
        {job->has_uid_map, "uidMap", proc + "uid_map", &job->uid_map},
        {job->has_setgroups, "setgroups", proc + "setgroups", &job->setgroups},
        {job->has_gid_map, "gidMap", proc + "gid_map", &job->gid_map},
    };
    int err = 0;
    for (const Write& w : writes) {
      if (!w.present) continue;
      if ((err = WriteFile(w.path.c_str(), *w.data))) { job->parent_step = w.step; job->parent_path = w.path; break; }
    }
    if (!err && job->cgroup_fd >= 0 && !job->into_cgroup) {
      UniqueFd procs_fd(openat(job->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC));
      err = !procs_fd.valid() ? errno : write(procs_fd.get(), procs.data(), procs.size()) < 0 ? errno : 0;
      if (err) job->parent_step = "cgroup", job->parent_path = "cgroup.procs";
    }
    if (err) {
      // The child is blocked on the sync pipe: end it and reap it before reporting.
      KillAndReap(job->pidfd);
      ::close(job->pidfd);
      job->pidfd = -1;
      job->parent_err = err;
      return;
    }
    char go = 1;
    if (write(job->sync_w.get(), &go, 1) != 1) {}  // a dead child is reported through the pidfd
  }
  if (job->plan->wait_steps == 0) job->sync_w.reset();
}

// The Child and its watches, and the result object; or the clone's error, thrown.
Napi::Value FinishSpawn(Napi::Env env, SpawnJob* job, Napi::Function on_event) {
  if (job->pid < 0 || job->parent_err != 0) {
    if (job->stack) ReleaseStack(env, job->stack), job->stack = nullptr;
    Napi::Value e = job->pid < 0 ? MakeSystemError(env, static_cast<int>(-job->pid), job->clone_name)
                                 : MakeSystemError(env, job->parent_err, "write", job->parent_path.c_str());
    if (e.IsObject()) e.As<Napi::Object>().Set("step", job->pid < 0 ? "clone" : job->parent_step);
    Napi::Error(env, e).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Child* child = new Child(env);
  env.GetInstanceData<AddonData>()->live_children++;
  child->callback = Napi::Persistent(on_event);
  child->async_context = std::make_unique<Napi::AsyncContext>(env, "nsbox:child");
  child->pid = static_cast<int>(job->pid);
  child->pidfd.reset(job->pidfd);
  job->pidfd = -1;
  child->report = std::move(job->report_r);
  child->sync = std::move(job->sync_w);
  child->waits_left = job->plan->wait_steps;
  child->plan = std::move(job->plan);
  child->stack = job->stack;
  job->stack = nullptr;
  child->fork_slot = job->fork_slot.release();
  fcntl(child->report.get(), F_SETFL, O_NONBLOCK);

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  child->report_poll.data = child;
  child->exit_poll.data = child;
  // Cannot fail for a pipe and a pidfd on Linux (epoll accepts both); checked all the same.
  int uv_err = uv_poll_init(loop, &child->report_poll, child->report.get());
  if (uv_err == 0) uv_err = uv_poll_init(loop, &child->exit_poll, child->pidfd.get());
  if (uv_err != 0) abort();
  child->handles_open = 2;
  child->report_open = true;
  uv_poll_start(&child->report_poll, UV_READABLE, Child::OnReport);
  uv_poll_start(&child->exit_poll, UV_READABLE, Child::OnExit);
  env.GetInstanceData<AddonData>()->children[child->pidfd.get()] = child;

  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, static_cast<double>(job->pid)));
  result.Set("pidfd", Napi::Number::New(env, child->pidfd.get()));
  Napi::Array ends = Napi::Array::New(env, job->parent_ends.size());
  for (uint32_t i = 0; i < job->parent_ends.size(); i++) {
    ends.Set(i, Napi::Number::New(env, job->parent_ends[i].valid() ? job->parent_ends[i].release() : -1));
  }
  result.Set("stdio", ends);
  result.Set("clone", Napi::String::New(env, job->clone_name));
  result.Set("intoCgroup", Napi::Boolean::New(env, job->into_cgroup));
  if (job->timing && job->stamps[0] != 0 && job->stamps[1] != 0) {
    // milliseconds: clone until the child ran, its setup, execve until the cloning thread went on
    Napi::Object t = Napi::Object::New(env);
    t.Set("clone", Napi::Number::New(env, static_cast<double>(job->stamps[0] - job->clone_start) / 1e6));
    t.Set("setup", Napi::Number::New(env, static_cast<double>(job->stamps[1] - job->stamps[0]) / 1e6));
    t.Set("exec", Napi::Number::New(env, static_cast<double>(job->clone_end - job->stamps[1]) / 1e6));
    result.Set("timing", t);
  }
  return result;
}

void SpawnWork(uv_work_t* req) { CloneJob(static_cast<SpawnJob*>(req->data)); }

napi_value DoNothing(napi_env, napi_callback_info) { return nullptr; }

// Whether JavaScript may run in this environment now (not while a worker is terminated):
// N-API refuses a call into it then (napi_pending_exception, with no exception to show).
bool CanCallIntoJs(napi_env env) {
  napi_value fn, global, result;
  if (napi_create_function(env, "", 0, DoNothing, nullptr, &fn) != napi_ok || napi_get_global(env, &global) != napi_ok) return false;
  if (napi_call_function(env, global, fn, 0, nullptr, &result) == napi_ok) return true;
  bool pending = false;
  napi_value ignored;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
  return false;
}

void SpawnWorkDone(uv_work_t* req, int) {
  std::unique_ptr<SpawnJob> job(static_cast<SpawnJob*>(req->data));
  Napi::Env env = job->on_done.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  data->pending_spawns--;
  napi_handle_scope scope;
  bool scoped = !data->tearing_down && napi_open_handle_scope(env, &scope) == napi_ok;
  // A worker being terminated runs its loop once more before the addon's cleanup hook
  // (tearing_down): JavaScript can no longer be entered, and pipe ends handed to it would
  // never be closed. Ask first, with a call that does nothing.
  if (scoped && !CanCallIntoJs(env)) {
    napi_close_handle_scope(env, scope);
    scoped = false;
  }
  if (!scoped) {
    // Nobody waits for it any more: the program it started is ended (as Abandon does), and
    // the job's pipe ends close with it. A vfork clone has exec'd or died when it returns:
    // the stack is free.
    if (job->pidfd >= 0) {
      KillAndReap(job->pidfd);
      ::close(job->pidfd);
    }
    if (job->stack) ReleaseStack(env, job->stack);
    FinishTeardownIfIdle(data);
    return;
  }
  Napi::Value result = FinishSpawn(env, job.get(), job->on_event.Value());
  napi_value argv[2];
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_get_and_clear_last_exception(env, &argv[0]);
    napi_get_undefined(env, &argv[1]);
  } else {
    napi_get_null(env, &argv[0]);
    argv[1] = result;
  }
  CallBack(env, *job->async_context, job->on_done.Value(), 2, argv);
  napi_close_handle_scope(env, scope);
}

}  // namespace

// spawn(plan, options, onEvent) -> { pid, pidfd, stdio, clone, intoCgroup, timing? }
//   options: flags (CLONE_NEW*), cgroupFd, stdio (fd | -1 closed | -2 pipe | -3 /dev/null), uidMap, gidMap,
//   setgroups, vm (CLONE_VM with a private stack), vfork (CLONE_VM|CLONE_VFORK), timing,
//   noClone3 / noIntoCgroup (exercise the fallbacks), faultStep / faultErrno (fail that step:
//   tests of cleanup), netnsFd.
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsObject() || !info[2].IsFunction()) {
    return ThrowTypeError(env, "spawn(plan, options, onEvent)");
  }
  SpawnJob job;
  if (!PrepareSpawn(env, info[0], info[1], &job)) {
    if (job.stack) ReleaseStack(env, job.stack);
    return env.Undefined();
  }
  CloneJob(&job);
  return FinishSpawn(env, &job, info[2].As<Napi::Function>());
}

// spawnAsync(plan, options, onEvent, onDone(error, result)): spawn with the clone on a libuv
// pool thread. The options' fds (cgroupFd, netnsFd, stdio) must stay open until onDone.
bool HaveVmClone() { return kHaveVmClone; }

Napi::Value SpawnAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsObject() || !info[2].IsFunction() || !info[3].IsFunction()) {
    return ThrowTypeError(env, "spawnAsync(plan, options, onEvent, onDone)");
  }
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data->tearing_down) return ThrowTypeError(env, "spawnAsync: the environment is shutting down");
  auto job = std::make_unique<SpawnJob>();
  if (!PrepareSpawn(env, info[0], info[1], job.get())) {
    if (job->stack) ReleaseStack(env, job->stack);
    return env.Undefined();
  }
  // Only vfork clones, the ones that keep their thread (no wait or fork step: nothing the
  // teardown of an ended worker would have to follow further than the process itself).
  if (!job->vfork) {
    if (job->stack) ReleaseStack(env, job->stack);
    return ThrowTypeError(env, "spawnAsync: only for vfork spawns (options.vfork, no wait or fork step)");
  }
  ChildContext& ctx = job->plan->ctx;
  for (auto [fd, owned] : {std::pair<int*, UniqueFd*>{&job->cgroup_fd, &job->own_cgroup}, {&ctx.netns_fd, &job->own_netns}}) {
    if (*fd < 0) continue;
    owned->reset(fcntl(*fd, F_DUPFD_CLOEXEC, 3));
    if (!owned->valid()) {
      if (job->stack) ReleaseStack(env, job->stack);
      return ThrowSystemError(env, errno, "fcntl");
    }
    *fd = owned->get();
  }
  job->on_event = Napi::Persistent(info[2].As<Napi::Function>());
  job->on_done = Napi::Persistent(info[3].As<Napi::Function>());
  job->async_context = std::make_unique<Napi::AsyncContext>(env, "nsbox:spawn");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  job->req.data = job.get();
  if (int err = uv_queue_work(loop, &job->req, SpawnWork, SpawnWorkDone)) {
    if (job->stack) ReleaseStack(env, job->stack);
    return ThrowSystemError(env, -err, "uv_queue_work");
  }
  data->pending_spawns++;
  job.release();
  return env.Undefined();
}

static Child* FindChild(const Napi::CallbackInfo& info) {
  int64_t pidfd;
  if (!ArgInt(info, 0, &pidfd)) return nullptr;
  auto& m = info.Env().GetInstanceData<AddonData>()->children;
  auto it = m.find(static_cast<int>(pidfd));
  return it == m.end() ? nullptr : it->second;
}

// childRef(pidfd, ref): whether this child keeps the event loop alive.
Napi::Value ChildRef(const Napi::CallbackInfo& info) {
  Child* c = FindChild(info);
  if (c == nullptr) return info.Env().Undefined();
  bool ref = info[1].ToBoolean();
  c->refed = ref;
  uv_handle_t* hs[] = {reinterpret_cast<uv_handle_t*>(&c->exit_poll), reinterpret_cast<uv_handle_t*>(&c->report_poll),
                       c->forked ? reinterpret_cast<uv_handle_t*>(&c->forked_poll) : nullptr};
  for (uv_handle_t* h : hs) {
    if (h == nullptr || uv_is_closing(h)) continue;
    if (ref) uv_ref(h); else uv_unref(h);
  }
  return info.Env().Undefined();
}

// childRelease(pidfd): lets a child held at a wait step go on. Returns false if it cannot.
Napi::Value ChildRelease(const Napi::CallbackInfo& info) {
  Child* c = FindChild(info);
  if (c == nullptr || !c->sync.valid() || c->waits_left == 0) return Napi::Boolean::New(info.Env(), false);
  char go = 1;
  bool ok = write(c->sync.get(), &go, 1) == 1;
  if (--c->waits_left == 0) c->sync.reset();
  return Napi::Boolean::New(info.Env(), ok);
}

}  // namespace nsbox
