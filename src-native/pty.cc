// Pseudoterminals: openpty (a master and its slave, both close-on-exec), the window size,
// and the console socket a child sends the master of its own pty over (openConsole step).
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

#include "errors.h"
#include "fd.h"
#include "syscalls.h"

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

// ptyNumber(masterFd) -> N: the slave is /dev/pts/N in the devpts instance of the master
// (TIOCGPTN), which for a master received from a container is the container's.
Napi::Value PtyNumber(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!ArgInt(info, 0, &fd)) return ThrowTypeError(info.Env(), "ptyNumber(fd)");
  unsigned int n;
  if (ioctl(static_cast<int>(fd), TIOCGPTN, &n) != 0) return ThrowSystemError(info.Env(), errno, "ioctl");
  return Napi::Number::New(info.Env(), n);
}

// socketpair() -> [a, b]: AF_UNIX, SOCK_STREAM, both close-on-exec. A child inherits them
// through clone and holds them until its exec.
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return ThrowSystemError(info.Env(), errno, "socketpair");
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  result.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return result;
}

// recvFd(fd) -> the fd sent with SCM_RIGHTS (close-on-exec), never blocking: EAGAIN when
// nothing has been sent, ENOMSG when what arrived carries no fd (or the peer closed).
// Any further fd in the message is closed.
Napi::Value RecvFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t sock;
  if (!ArgInt(info, 0, &sock)) return ThrowTypeError(env, "recvFd(fd)");
  char byte;
  struct iovec iov = {&byte, 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * 4)];
  } control;
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n;
  do n = recvmsg(static_cast<int>(sock), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowSystemError(env, errno, "recvmsg");
  UniqueFd received;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (received.valid()) close(fd);
      else received.reset(fd);
    }
  }
  if (!received.valid()) return ThrowSystemError(env, ENOMSG, "recvmsg");
  return Napi::Number::New(env, received.release());
}

}  // namespace nsbox
