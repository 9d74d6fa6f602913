// cgroup fds: a pressure stall (PSI) trigger. The kernel signals a trigger written to a
// pressure file with POLLPRI on that fd (Documentation/accounting/psi.rst, "Monitoring for
// pressure thresholds"), and POLLERR once the trigger is gone with its group (rmdir). Node
// cannot wait for POLLPRI: an fdWatch (watch.cc) does.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "errors.h"
#include "fd.h"

namespace nsbox {

// psiTrigger(path, trigger) -> fd: opens the pressure file (non-blocking) and writes the
// trigger ("some 150000 1000000"); the trigger lives as long as the fd, which an fdWatch
// started for prioritized events then watches (watch.cc).
Napi::Value PsiTrigger(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, trigger;
  if (!ArgString(info, 0, &path) || !ArgString(info, 1, &trigger)) return ThrowTypeError(env, "psiTrigger(path, trigger)");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return ThrowSystemError(env, errno, "open", path.c_str());
  // The trigger is the whole write, NUL included (psi.rst).
  if (::write(fd.get(), trigger.c_str(), trigger.size() + 1) < 0) return ThrowSystemError(env, errno, "write", path.c_str());
  return Napi::Number::New(env, fd.release());
}

}  // namespace nsbox
