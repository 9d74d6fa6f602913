// Pseudoterminals: openpty (a master and its slave, both close-on-exec) and the window size.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "errors.h"
#include "fd.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace nsbox {

// openpty() -> [masterFd, slaveFd, slavePath]. O_NOCTTY on both: the pty must never become
// this process's controlling terminal; a child takes it with a setctty plan step.
Napi::Value Openpty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid()) return ThrowSystemError(env, errno, "open", "/dev/ptmx");
  if (grantpt(master.get()) != 0) return ThrowSystemError(env, errno, "grantpt");
  if (unlockpt(master.get()) != 0) return ThrowSystemError(env, errno, "ioctl");  // TIOCSPTLCK
  char path[128];
  if (int err = ptsname_r(master.get(), path, sizeof path)) return ThrowSystemError(env, err, "ioctl");  // TIOCGPTN
  // The slave through the master (Linux 4.13): no path lookup, so the right one even where
  // /dev/pts is another devpts instance than the master's. Before that, by its path.
  UniqueFd slave(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.valid() && (errno == EINVAL || errno == ENOTTY)) slave.reset(open(path, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.valid()) return ThrowSystemError(env, errno, "open", path);
  Napi::Array result = Napi::Array::New(env, 3);
  result.Set(0u, Napi::Number::New(env, master.release()));
  result.Set(1u, Napi::Number::New(env, slave.release()));
  result.Set(2u, Napi::String::New(env, path));
  return result;
}

// ptyResize(fd, cols, rows): TIOCSWINSZ; the kernel sends SIGWINCH to the terminal's
// foreground process group.
Napi::Value PtyResize(const Napi::CallbackInfo& info) {
  int64_t fd, cols, rows;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &cols) || !ArgInt(info, 2, &rows) || cols < 0 || cols > 0xffff ||
      rows < 0 || rows > 0xffff) {
    return ThrowTypeError(info.Env(), "ptyResize(fd, cols, rows)");
  }
  struct winsize ws = {};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  if (ioctl(static_cast<int>(fd), TIOCSWINSZ, &ws) != 0) return ThrowSystemError(info.Env(), errno, "ioctl");
  return info.Env().Undefined();
}

}  // namespace nsbox
