// What the kernel allows, measured by trying (lib/probe.ts composes these into probe()).
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>

#include "errors.h"
#include "fd.h"
#include "syscalls.h"

namespace nsbox {

// Calls each syscall with arguments that fail harmlessly; ENOSYS means the kernel lacks it.
Napi::Value ProbeSyscalls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  auto has = [](long rc) { return !(rc < 0 && errno == ENOSYS); };

  // clone3 with a zero size is EINVAL where it exists.
  r.Set("clone3", has(syscall(SYS_clone3, nullptr, 0)));
  // pidfd_open of ourselves.
  long pidfd = syscall(SYS_pidfd_open, getpid(), 0);
  r.Set("pidfd", pidfd >= 0);
  if (pidfd >= 0) close(static_cast<int>(pidfd));
  // The new mount API: open_tree of / without cloning only yields an O_PATH fd.
  long tree = syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLOEXEC);
  r.Set("newMountApi", has(tree));
  if (tree >= 0) close(static_cast<int>(tree));
  // mount_setattr with an invalid size is EINVAL where it exists.
  r.Set("mountSetattr", has(syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0)));
  r.Set("closeRange", has(syscall(SYS_close_range, ~0U, ~0U, 0)));
  // seccomp: the filter mode exists if SECCOMP_GET_ACTION_AVAIL answers for KILL_PROCESS.
  uint32_t action = SECCOMP_RET_KILL_PROCESS;
  r.Set("seccompFilter", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0);
  r.Set("seccompMode", static_cast<double>(prctl(PR_GET_SECCOMP, 0, 0, 0, 0)));
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  r.Set("landlockAbi", abi > 0 ? static_cast<double>(abi) : 0.0);
  r.Set("landlockErrno", abi > 0 ? 0.0 : static_cast<double>(errno));
  return r;
}

// probeIdmappedMount(path, usernsFd): a detached clone of the mount at path
// (open_tree(OPEN_TREE_CLONE), 5.2) given the idmapping of a user namespace
// (mount_setattr(MOUNT_ATTR_IDMAP), 5.12). The clone is never attached, and closing its fd
// unmounts it. Throws the failing call's error: EINVAL where the filesystem cannot be
// idmapped, EPERM without CAP_SYS_ADMIN over its superblock.
Napi::Value ProbeIdmappedMount(const Napi::CallbackInfo& info) {
  std::string path;
  int64_t userns_fd;
  if (!ArgString(info, 0, &path) || !ArgInt(info, 1, &userns_fd)) {
    return ThrowTypeError(info.Env(), "probeIdmappedMount(path, usernsFd)");
  }
  UniqueFd tree(static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (!tree.valid()) return ThrowSystemError(info.Env(), errno, "open_tree", path.c_str());
  MountAttr attr = {MOUNT_ATTR_IDMAP, 0, 0, static_cast<uint64_t>(userns_fd)};
  if (syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    return ThrowSystemError(info.Env(), errno, "mount_setattr", path.c_str());
  }
  return info.Env().Undefined();
}

}  // namespace nsbox
