// mount(2), umount2(2), pivot_root(2) and the new mount API (mount_setattr, open_tree,
// move_mount; 5.2/5.12). Flags arrive as kernel bits built by lib/mounts.ts.
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "errors.h"
#include "syscalls.h"

namespace nsbox {

// mount(source|null, target, fstype|null, flags, data|null)
Napi::Value Mount(const Napi::CallbackInfo& info) {
  std::string source, target, fstype, data;
  bool no_source, no_fstype, no_data;
  int64_t flags;
  if (!ArgOptString(info, 0, &source, &no_source) || !ArgString(info, 1, &target) ||
      !ArgOptString(info, 2, &fstype, &no_fstype) || !ArgInt(info, 3, &flags) ||
      !ArgOptString(info, 4, &data, &no_data)) {
    return ThrowTypeError(info.Env(), "mount(source, target, fstype, flags, data)");
  }
  if (::mount(no_source ? nullptr : source.c_str(), target.c_str(), no_fstype ? nullptr : fstype.c_str(),
              static_cast<unsigned long>(flags), no_data ? nullptr : data.c_str()) != 0) {
    return ThrowSystemError(info.Env(), errno, "mount", no_source ? (no_fstype ? "none" : fstype.c_str()) : source.c_str(),
                            target.c_str());
  }
  return info.Env().Undefined();
}

Napi::Value Umount2(const Napi::CallbackInfo& info) {
  std::string target;
  int64_t flags;
  if (!ArgString(info, 0, &target) || !ArgInt(info, 1, &flags)) return ThrowTypeError(info.Env(), "umount2(target, flags)");
  if (::umount2(target.c_str(), static_cast<int>(flags)) != 0) {
    return ThrowSystemError(info.Env(), errno, "umount2", target.c_str());
  }
  return info.Env().Undefined();
}

Napi::Value PivotRoot(const Napi::CallbackInfo& info) {
  std::string new_root, put_old;
  if (!ArgString(info, 0, &new_root) || !ArgString(info, 1, &put_old)) {
    return ThrowTypeError(info.Env(), "pivotRoot(newRoot, putOld)");
  }
  if (::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()) != 0) {
    return ThrowSystemError(info.Env(), errno, "pivot_root", new_root.c_str(), put_old.c_str());
  }
  return info.Env().Undefined();
}

// mountSetattr(dirfd, path, atFlags, attrSet, attrClr, propagation)
Napi::Value MountSetattr(const Napi::CallbackInfo& info) {
  int64_t dirfd, at_flags, set, clr, propagation;
  std::string path;
  if (!ArgInt(info, 0, &dirfd) || !ArgString(info, 1, &path) || !ArgInt(info, 2, &at_flags) ||
      !ArgInt(info, 3, &set) || !ArgInt(info, 4, &clr) || !ArgInt(info, 5, &propagation)) {
    return ThrowTypeError(info.Env(), "mountSetattr(dirfd, path, atFlags, set, clr, propagation)");
  }
  MountAttr attr = {static_cast<uint64_t>(set), static_cast<uint64_t>(clr), static_cast<uint64_t>(propagation), 0};
  if (::syscall(SYS_mount_setattr, static_cast<int>(dirfd), path.c_str(), static_cast<unsigned>(at_flags), &attr,
                sizeof attr) != 0) {
    return ThrowSystemError(info.Env(), errno, "mount_setattr", path.c_str());
  }
  return info.Env().Undefined();
}

// openTree(dirfd, path, flags) -> fd (always O_CLOEXEC)
Napi::Value OpenTree(const Napi::CallbackInfo& info) {
  int64_t dirfd, flags;
  std::string path;
  if (!ArgInt(info, 0, &dirfd) || !ArgString(info, 1, &path) || !ArgInt(info, 2, &flags)) {
    return ThrowTypeError(info.Env(), "openTree(dirfd, path, flags)");
  }
  long fd = ::syscall(SYS_open_tree, static_cast<int>(dirfd), path.c_str(),
                      static_cast<unsigned>(flags) | OPEN_TREE_CLOEXEC);
  if (fd < 0) return ThrowSystemError(info.Env(), errno, "open_tree", path.c_str());
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// moveMount(fromDirfd, fromPath, toDirfd, toPath, flags)
Napi::Value MoveMount(const Napi::CallbackInfo& info) {
  int64_t from_dirfd, to_dirfd, flags;
  std::string from_path, to_path;
  if (!ArgInt(info, 0, &from_dirfd) || !ArgString(info, 1, &from_path) || !ArgInt(info, 2, &to_dirfd) ||
      !ArgString(info, 3, &to_path) || !ArgInt(info, 4, &flags)) {
    return ThrowTypeError(info.Env(), "moveMount(fromDirfd, fromPath, toDirfd, toPath, flags)");
  }
  if (::syscall(SYS_move_mount, static_cast<int>(from_dirfd), from_path.c_str(), static_cast<int>(to_dirfd),
                to_path.c_str(), static_cast<unsigned>(flags)) != 0) {
    return ThrowSystemError(info.Env(), errno, "move_mount", from_path.empty() ? nullptr : from_path.c_str(),
                            to_path.c_str());
  }
  return info.Env().Undefined();
}

}  // namespace nsbox

namespace nsbox {

// maskTemplate(): the addon's mask template (AddonData::mask_template), made on the first call:
// an empty tmpfs whose superblock and mount are read-only (nosuid, nodev, noexec too), as
// runc's masks over directories ("size=0", shown as size=0k). Its fd stays the addon's; -1
// where it cannot be made or cloned (not allowed, or an older kernel), asked of the kernel once.
Napi::Value MaskTemplate(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  if (data->mask_template < 0 && !data->mask_template_tried && !data->tearing_down) {
    data->mask_template_tried = true;
    static const FsOption options[] = {{"source", "tmpfs"}, {"size", "0"}, {"ro", nullptr}};
    data->mask_template = static_cast<int>(
        MakeTemplateMount("tmpfs", options, 3, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  }
  return Napi::Number::New(info.Env(), data->mask_template);
}

}  // namespace nsbox
