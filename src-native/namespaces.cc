// unshare(2) and setns(2), and network namespaces made ahead on a thread of the addon's.
// Flags arrive as kernel CLONE_NEW* bits built by lib/namespaces.ts.
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "errors.h"
#include "fd.h"
#include "syscalls.h"

namespace nsbox {

Napi::Value Unshare(const Napi::CallbackInfo& info) {
  int64_t flags;
  if (!ArgInt(info, 0, &flags)) return ThrowTypeError(info.Env(), "unshare(flags)");
  if (::unshare(static_cast<int>(flags)) != 0) return ThrowSystemError(info.Env(), errno, "unshare");
  return info.Env().Undefined();
}

// setns(fd, nstype): fd is a namespace fd or a pidfd (5.8: several CLONE_NEW* bits at once).
Napi::Value Setns(const Napi::CallbackInfo& info) {
  int64_t fd, nstype;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &nstype)) return ThrowTypeError(info.Env(), "setns(fd, nstype)");
  if (::setns(static_cast<int>(fd), static_cast<int>(nstype)) != 0) {
    return ThrowSystemError(info.Env(), errno, "setns");
  }
  return info.Env().Undefined();
}

}  // namespace nsbox

namespace nsbox {

// Network namespaces made ahead, off the main thread: one thread per environment makes them
// all. unshare(CLONE_NEWNET) moves the calling thread into the new namespace; this thread
// runs nothing else, and each namespace is kept alive by the fd it opens. Between two it
// waits in a namespace of its own (below), never in one it handed out. One long-lived thread
// rather than one per namespace: a thread's creation, exit and first /proc lookups cost
// ~60 µs of CPU per namespace here. Results reach the loop through a uv_async_t (referenced
// only while work is outstanding); the pool's fds belong to the addon, so they are closed
// with the environment (a worker).
struct NetnsRequest {
  int kind;
  int generation;
  bool make_template;
};
struct NetnsMade {
  NetnsRequest request;
  int fd = -1;
  int sysfs = -1;
  int template_netns = -1;
  int err = 0;
  const char* syscall = "";
};

class NetnsMaker {
 public:
  NetnsMaker(Napi::Env env, AddonData* data) : env_(env), data_(data) {}

  // False (errno set) where the thread or the handle cannot be had; the maker is then gone
  // (at once, or once its handle has closed).
  bool Start() {
    uv_loop_t* loop = nullptr;
    int err = napi_get_uv_event_loop(env_, &loop) == napi_ok ? uv_async_init(loop, &async_, OnAsync) : UV_EINVAL;
    if (err != 0) {
      delete this;
      return errno = -err, false;
    }
    async_.data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
    data_->live_handles++;
    // No signal is for this thread: it is created with all of them blocked.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&thread_, nullptr, [](void* self) -> void* { return static_cast<NetnsMaker*>(self)->Run(), nullptr; }, this);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (err != 0) {
      Close();
      return errno = err, false;
    }
    running_ = true;
    return true;
  }

  // Loop thread. Each request keeps its caller's callback and async context: results come
  // back in the order asked (one thread, one queue).
  void Request(const NetnsRequest& r, const Napi::Function& callback) {
    waiting_.push_back({Napi::Persistent(callback), std::make_unique<Napi::AsyncContext>(env_, "nsbox:netnsCreate")});
    if (waiting_.size() == 1) uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
    }
    cv_.notify_one();
  }

  // Environment teardown: the thread ends (after the namespace it may be making), what it
  // made is closed, and the handle goes (FinishTeardownIfIdle counts it).
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      requests_.clear();
    }
    cv_.notify_one();
    if (running_) pthread_join(thread_, nullptr);
    running_ = false;
    for (NetnsMade& m : done_) CloseMade(m);
    done_.clear();
    waiting_.clear();
    Close();
  }

 private:
  struct Waiting {
    Napi::FunctionReference callback;
    std::unique_ptr<Napi::AsyncContext> context;
  };

  void Run() {
    // Background work, at the lowest priority (nice 19; on Linux a thread's own). As an
    // ordinary thread it was woken onto the core of the thread that asked (Node's), and a
    // spawn's next step then waited out its unshare (~0.25 ms in the kernel, where this
    // kernel does not preempt): +0.15-0.2 ms on a lone Container.run's p50. Not SCHED_IDLE:
    // it takes the kernel's global rtnl lock, and a thread starved while holding it would
    // stall every network configuration on the machine. Starved, it leaves the pool empty
    // and a spawn makes its namespace in its clone, as without one.
    setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
    // Between namespaces the thread waits in one of its own, made here (setns back into it
    // is allowed wherever unshare was), so that it holds none it made for the pool (a
    // container's, once taken) nor whatever namespace Node's thread was in when it started.
    // Where the way back fails, it makes itself a new one.
    UniqueFd park;
    for (;;) {
      NetnsRequest r;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !requests_.empty(); });
        if (stop_) return;
        r = requests_.front();
        requests_.pop_front();
      }
      NetnsMade m = Make(r);
      if (!park.valid() || ::setns(park.get(), CLONE_NEWNET) != 0) {
        park.reset(::unshare(CLONE_NEWNET) == 0 ? ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC) : -1);
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) {
          CloseMade(m);
          return;
        }
        done_.push_back(m);
      }
      // The handle is closed only after this thread is joined (Stop).
      uv_async_send(&async_);
    }
  }

  static NetnsMade Make(const NetnsRequest& r) {
    NetnsMade m{r};
    if (::unshare(CLONE_NEWNET) != 0) return Fail(m, errno, "unshare");
    if (r.kind == 1 && !LoopbackUp(&m)) return m;
    m.fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (m.fd < 0) return Fail(m, errno, "open");
    // The template (see AddonData::sysfs_template), once: in a namespace of its own, made
    // after the pooled one (the thread moves on from it), never one a program runs in. The
    // sysfs holds its namespace only passively: without an fd of it (an active reference),
    // the namespace is dismantled once the thread leaves it and its sysfs shows no device.
    // Best effort: a failure there is no error.
    const char* failed = nullptr;
    if (r.make_template && ::unshare(CLONE_NEWNET) == 0 && BringLoopbackUp(&failed) == 0) {
      m.template_netns = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (m.template_netns >= 0) m.sysfs = MakeSysfs();
    }
    return m;
  }

  static NetnsMade Fail(NetnsMade& m, int err, const char* syscall) {
    m.err = err;
    m.syscall = syscall;
    return m;
  }

  // This thread's namespace's sysfs as a template mount, read-only, nosuid, nodev, noexec
  // ("sysfs" as its source, as mount(2) of it shows in /proc/self/mounts). -1 where the
  // kernel cannot make or clone one.
  static int MakeSysfs() {
    static const FsOption options[] = {{"source", "sysfs"}};
    return static_cast<int>(MakeTemplateMount("sysfs", options, 1, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  }

  // `lo` up in this thread's new namespace, as the child's loopbackUp step does.
  static bool LoopbackUp(NetnsMade* m) {
    const char* failed = nullptr;
    long rc = BringLoopbackUp(&failed);
    if (rc < 0) Fail(*m, static_cast<int>(-rc), failed);
    return rc == 0;
  }

  static void CloseMade(NetnsMade& m) {
    for (int fd : {m.fd, m.sysfs, m.template_netns}) {
      if (fd >= 0) ::close(fd);
    }
  }

  // On the loop: each namespace made lands in the pool (unless drained meanwhile), then its
  // caller hears of it (callback(err)).
  static void OnAsync(uv_async_t* h) {
    NetnsMaker* self = static_cast<NetnsMaker*>(h->data);
    std::vector<NetnsMade> done;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      done.swap(self->done_);
    }
    AddonData* data = self->data_;
    for (NetnsMade& m : done) {
      int kind = m.request.kind;
      data->netns_making[kind]--;
      if (m.err == 0 && m.sysfs >= 0 && data->sysfs_template < 0 && !data->tearing_down) {
        data->sysfs_template = m.sysfs;
        data->sysfs_template_netns = m.template_netns;
        m.sysfs = m.template_netns = -1;
      }
      if (m.err == 0 && m.request.generation == data->netns_generation && !data->tearing_down) {
        data->netns_ready[kind].push_back(m.fd);
        m.fd = -1;
      }
      CloseMade(m);
      if (self->waiting_.empty()) continue;  // cleared by Stop
      Waiting w = std::move(self->waiting_.front());
      self->waiting_.pop_front();
      if (self->waiting_.empty()) uv_unref(reinterpret_cast<uv_handle_t*>(&self->async_));
      self->Emit(w, m.err, m.syscall);
    }
  }

  void Emit(const Waiting& w, int err, const char* syscall) {
    if (data_->tearing_down) return;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env_, &scope) != napi_ok) return;
    napi_value argv[1];
    if (err != 0) {
      argv[0] = MakeSystemError(env_, err, syscall);
    } else {
      napi_get_null(env_, &argv[0]);
    }
    CallBack(env_, *w.context, w.callback.Value(), 1, argv);
    napi_close_handle_scope(env_, scope);
  }

  void Close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* h) {
      NetnsMaker* self = static_cast<NetnsMaker*>(h->data);
      AddonData* data = self->data_;
      // A maker that failed to start closes after the fill that made it returned: by then
      // another may be the environment's.
      if (data->netns_maker == self) data->netns_maker = nullptr;
      delete self;
      data->live_handles--;
      FinishTeardownIfIdle(data);
    });
  }

  Napi::Env env_;
  AddonData* data_;
  uv_async_t async_{};
  std::deque<Waiting> waiting_;  // loop thread only: one per request not yet answered
  pthread_t thread_{};
  bool running_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<NetnsRequest> requests_;
  std::vector<NetnsMade> done_;
  bool stop_ = false;
};

static bool ArgKind(const Napi::CallbackInfo& info, size_t i, int* kind) {
  int64_t k;
  if (!ArgInt(info, i, &k) || (k != 0 && k != 1)) return false;
  *kind = static_cast<int>(k);
  return true;
}

// netnsPoolFill(count, kind, callback(err)): starts `count` more namespaces of a kind (0: as
// CLONE_NEWNET makes them, 1: loopback up) on the environment's namespace thread; each lands
// in the pool (unless drained meanwhile) and then calls back.
Napi::Value NetnsPoolFill(const Napi::CallbackInfo& info) {
  int64_t count;
  int kind;
  if (!ArgInt(info, 0, &count) || !ArgKind(info, 1, &kind) || info.Length() < 3 || !info[2].IsFunction()) {
    return ThrowTypeError(info.Env(), "netnsPoolFill(count, kind, callback)");
  }
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  if (data->tearing_down || count <= 0) return info.Env().Undefined();
  if (data->netns_maker == nullptr) {
    NetnsMaker* maker = new NetnsMaker(info.Env(), data);
    if (!maker->Start()) return ThrowSystemError(info.Env(), errno, "netnsPoolFill");
    data->netns_maker = maker;
  }
  for (int64_t i = 0; i < count; i++) {
    data->netns_making[kind]++;
    // Tried once per environment: a kernel that cannot (before 5.2, not allowed) will not later.
    bool make_template = kind == 1 && !data->sysfs_template_tried;
    if (make_template) data->sysfs_template_tried = true;
    data->netns_maker->Request({kind, data->netns_generation, make_template}, info[2].As<Napi::Function>());
  }
  return info.Env().Undefined();
}

// netnsPoolTake(kind): a pooled namespace's fd, now the caller's to close; -1 if none is ready.
Napi::Value NetnsPoolTake(const Napi::CallbackInfo& info) {
  int kind;
  if (!ArgKind(info, 0, &kind)) return ThrowTypeError(info.Env(), "netnsPoolTake(kind)");
  std::vector<int>& ready = info.Env().GetInstanceData<AddonData>()->netns_ready[kind];
  int fd = -1;
  if (!ready.empty()) {
    fd = ready.back();
    ready.pop_back();
  }
  return Napi::Number::New(info.Env(), fd);
}

// netnsSysfsTemplate(): the addon's sysfs template mount fd (kept by the addon), or -1 while
// there is none (before the first container-kind namespace is made, or the kernel cannot).
Napi::Value NetnsSysfsTemplate(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), info.Env().GetInstanceData<AddonData>()->sysfs_template);
}

// netnsPoolDrain(): closes the pooled fds; those being made are closed when they arrive.
Napi::Value NetnsPoolDrain(const Napi::CallbackInfo& info) {
  DrainNetnsPool(info.Env().GetInstanceData<AddonData>());
  return info.Env().Undefined();
}

// netnsPoolState(): [ready, making] of kind 0, then of kind 1.
Napi::Value NetnsPoolState(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  Napi::Array a = Napi::Array::New(info.Env(), 4);
  for (uint32_t k = 0; k < 2; k++) {
    a.Set(2 * k, Napi::Number::New(info.Env(), static_cast<double>(data->netns_ready[k].size())));
    a.Set(2 * k + 1, Napi::Number::New(info.Env(), data->netns_making[k]));
  }
  return a;
}

void DrainNetnsPool(AddonData* data) {
  data->netns_generation++;
  for (std::vector<int>& ready : data->netns_ready) {
    for (int fd : ready) ::close(fd);
    ready.clear();
  }
}

void StopNetnsMaker(AddonData* data) {
  if (data->netns_maker != nullptr) data->netns_maker->Stop();
}

}  // namespace nsbox
