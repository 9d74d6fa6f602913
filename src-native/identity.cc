// sethostname(2), setdomainname(2): they change the calling process's UTS namespace.
#include <errno.h>
#include <unistd.h>

#include "errors.h"

namespace nsbox {

Napi::Value Sethostname(const Napi::CallbackInfo& info) {
  std::string name;
  if (!ArgString(info, 0, &name)) return ThrowTypeError(info.Env(), "sethostname(name)");
  if (::sethostname(name.data(), name.size()) != 0) return ThrowSystemError(info.Env(), errno, "sethostname");
  return info.Env().Undefined();
}

Napi::Value Setdomainname(const Napi::CallbackInfo& info) {
  std::string name;
  if (!ArgString(info, 0, &name)) return ThrowTypeError(info.Env(), "setdomainname(name)");
  if (::setdomainname(name.data(), name.size()) != 0) {
    return ThrowSystemError(info.Env(), errno, "setdomainname");
  }
  return info.Env().Undefined();
}

}  // namespace nsbox
