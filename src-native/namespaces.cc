// unshare(2) and setns(2). Flags arrive as kernel CLONE_NEW* bits built by lib/namespaces.ts.
#include <sched.h>
#include <errno.h>

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
