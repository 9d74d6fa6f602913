// unshare(2) and setns(2), and network namespaces made ahead on a pool thread. Flags arrive as
// kernel CLONE_NEW* bits built by lib/namespaces.ts.
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
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
namespace {

// unshare(CLONE_NEWNET) off the main thread: a network namespace kept alive by an fd in the
// addon's pool, for spawn to join in the child (setns) instead of creating one during clone.
// A network namespace is per thread: a short-lived thread makes it and opens it. The pool's
// fds belong to the addon so that they are closed with the environment (a worker).
class NetnsWorker : public Napi::AsyncWorker {
 public:
  NetnsWorker(const Napi::Function& callback, int kind, int generation, bool make_template)
      : Napi::AsyncWorker(callback, "nsbox:netnsCreate"), kind_(kind), generation_(generation), make_template_(make_template) {}
  ~NetnsWorker() override {
    // not handed to the pool (drained, or the environment went away)
    if (fd_ >= 0) ::close(fd_);
    if (sysfs_ >= 0) ::close(sysfs_);
    if (template_netns_ >= 0) ::close(template_netns_);
  }

  // On a thread of its own that ends right after: the pool thread running this never changes
  // namespace, so nothing has to go back (which the kernel may refuse, e.g. as root of a user
  // namespace whose network namespace belongs to its parent).
  void Execute() override {
    pthread_t t;
    int err = pthread_create(&t, nullptr, Make, this);
    if (err != 0) return Fail(err, "pthread_create");
    pthread_join(t, nullptr);
  }

  static void* Make(void* arg) {
    NetnsWorker* w = static_cast<NetnsWorker*>(arg);
    if (::unshare(CLONE_NEWNET) != 0) {
      w->Fail(errno, "unshare");
      return nullptr;
    }
    if (w->kind_ == 1 && !LoopbackUp(w)) return nullptr;
    w->fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (w->fd_ < 0) w->Fail(errno, "open");
    // The template (see AddonData::sysfs_template), once: in a namespace of its own, made
    // here after the pooled one (this thread ends right after), never one a program runs in.
    // The sysfs holds its namespace only passively: without an fd of it (an active reference),
    // the namespace is dismantled when this thread ends and its sysfs shows no device at all.
    if (w->fd_ >= 0 && w->make_template_ && ::unshare(CLONE_NEWNET) == 0 && LoopbackUp(w)) {
      w->template_netns_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (w->template_netns_ >= 0) w->sysfs_ = MakeSysfs();
    }
    w->err_ = w->fd_ >= 0 ? 0 : w->err_;  // the template is best effort: a failure there is no error
    return nullptr;
  }

  // A namespace's sysfs, mounted and detached, read-only, nosuid, nodev, noexec ("sysfs" as
  // its source, as mount(2) of it shows in /proc/self/mounts). -1 where the kernel cannot
  // (before 5.2, or not allowed).
  static int MakeSysfs() {
    static const FsOption options[] = {{"source", "sysfs"}};
    return static_cast<int>(MakeDetachedMount("sysfs", options, 1, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  }

  // `lo` up in this thread's new namespace, as the child's loopbackUp step does.
  static bool LoopbackUp(NetnsWorker* w) {
    const char* failed = nullptr;
    long rc = BringLoopbackUp(&failed);
    if (rc < 0) w->Fail(static_cast<int>(-rc), failed);
    return rc == 0;
  }
  void OnOK() override {
    Napi::Env env = Env();
    AddonData* data = env.GetInstanceData<AddonData>();
    data->netns_making[kind_]--;
    if (err_ != 0) {
      Callback().Call({MakeSystemError(env, err_, syscall_)});
      return;
    }
    if (sysfs_ >= 0 && data->sysfs_template < 0 && !data->tearing_down) {
      data->sysfs_template = sysfs_;
      data->sysfs_template_netns = template_netns_;
      sysfs_ = template_netns_ = -1;
    }
    if (generation_ == data->netns_generation) {
      data->netns_ready[kind_].push_back(fd_);
      fd_ = -1;
    }
    Callback().Call({env.Null()});
  }

 private:
  void Fail(int err, const char* syscall) {
    err_ = err;
    syscall_ = syscall;
  }
  int kind_;
  int generation_;
  bool make_template_;
  int fd_ = -1;
  int sysfs_ = -1;
  int template_netns_ = -1;
  int err_ = 0;
  const char* syscall_ = "";
};

}  // namespace

static bool ArgKind(const Napi::CallbackInfo& info, size_t i, int* kind) {
  int64_t k;
  if (!ArgInt(info, i, &k) || (k != 0 && k != 1)) return false;
  *kind = static_cast<int>(k);
  return true;
}

// netnsPoolFill(count, kind, callback(err)): starts `count` more namespaces of a kind (0: as
// CLONE_NEWNET makes them, 1: loopback up) on pool threads; each lands in the pool (unless
// drained meanwhile) and then calls back.
Napi::Value NetnsPoolFill(const Napi::CallbackInfo& info) {
  int64_t count;
  int kind;
  if (!ArgInt(info, 0, &count) || !ArgKind(info, 1, &kind) || info.Length() < 3 || !info[2].IsFunction()) {
    return ThrowTypeError(info.Env(), "netnsPoolFill(count, kind, callback)");
  }
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  for (int64_t i = 0; i < count; i++) {
    data->netns_making[kind]++;
    // Tried once per environment: a kernel that cannot (before 5.2, not allowed) will not later.
    bool make_template = kind == 1 && !data->sysfs_template_tried;
    if (make_template) data->sysfs_template_tried = true;
    (new NetnsWorker(info[2].As<Napi::Function>(), kind, data->netns_generation, make_template))->Queue();
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

}  // namespace nsbox
