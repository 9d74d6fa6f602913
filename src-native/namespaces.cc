// unshare(2) and setns(2), and network namespaces made ahead on a pool thread. Flags arrive as
// kernel CLONE_NEW* bits built by lib/namespaces.ts.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "errors.h"

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

// unshare(CLONE_NEWNET) on a libuv pool thread: a network namespace made off the main thread,
// kept alive by an fd, for spawn to join in the child (setns) instead of creating one during
// clone. A network namespace is per thread, so the pool thread makes one, opens it and goes
// back to the process's own; the main thread never changes namespace.
class NetnsWorker : public Napi::AsyncWorker {
 public:
  explicit NetnsWorker(const Napi::Function& callback) : Napi::AsyncWorker(callback, "nsbox:netnsCreate") {}
  ~NetnsWorker() override {
    if (fd_ >= 0 && !delivered_) ::close(fd_);  // the environment went away before the callback
  }

  void Execute() override {
    int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return Fail(errno, "open");
    if (::unshare(CLONE_NEWNET) != 0) {
      int err = errno;
      ::close(self);
      return Fail(err, "unshare");
    }
    fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int open_err = errno;
    // This thread runs the process's DNS lookups and file work next: it must not stay in the
    // new namespace. Going back is allowed to whoever could leave (CAP_SYS_ADMIN in both).
    if (::setns(self, CLONE_NEWNET) != 0) ::abort();
    ::close(self);
    if (fd_ < 0) Fail(open_err, "open");
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      Callback().Call({MakeSystemError(env, err_, syscall_), env.Undefined()});
      return;
    }
    delivered_ = true;
    Callback().Call({env.Null(), Napi::Number::New(env, fd_)});
  }

 private:
  void Fail(int err, const char* syscall) {
    err_ = err;
    syscall_ = syscall;
  }
  int fd_ = -1;
  int err_ = 0;
  const char* syscall_ = "";
  bool delivered_ = false;
};

}  // namespace

// netnsCreate(callback(err, fd)): a new network namespace, made on a pool thread.
Napi::Value NetnsCreate(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) return ThrowTypeError(info.Env(), "netnsCreate(callback)");
  (new NetnsWorker(info[0].As<Napi::Function>()))->Queue();
  return info.Env().Undefined();
}

}  // namespace nsbox
