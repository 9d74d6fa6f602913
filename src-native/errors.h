// Errors are owned by JavaScript (lib/errors.ts): C++ only reports errno, syscall and paths,
// and the factory registered by init() builds the Node-shaped error with its hint.
#pragma once
#include <napi.h>

#include <unordered_map>
#include <vector>

namespace nsbox {

struct Child;
struct FdWatch;
class NetnsMaker;

struct AddonData {
  napi_env env = nullptr;
  Napi::FunctionReference systemError;
  std::unordered_map<int, Child*> children;  // by pidfd, until reaped (process.cc)
  std::vector<void*> free_stacks;            // CLONE_VM child stacks for reuse (process.cc)
  size_t live_children = 0;                  // Child objects not yet deleted
  size_t live_handles = 0;                   // other libuv handles not yet closed (watch.cc, namespaces.cc)
  size_t pending_spawns = 0;                 // spawnAsync clones on pool threads (process.cc)
  std::unordered_map<int, FdWatch*> fd_watches;  // by id (watch.cc)
  int next_watch_id = 0;
  // Network namespaces made ahead (namespaces.cc), fds owned here, per kind: [0] as
  // CLONE_NEWNET makes them, [1] with the loopback device up.
  std::vector<int> netns_ready[2];
  // A detached sysfs mount (fsmount) of a network namespace of its own holding only `lo`, up:
  // what a container whose namespace holds only `lo` sees as /sys, cloned into it (open_tree).
  // Mounting a sysfs per container makes the kernel scan every live one under a global lock.
  int sysfs_template = -1;
  int sysfs_template_netns = -1;  // its namespace, kept alive (the sysfs alone does not)
  bool sysfs_template_tried = false;
  // A detached, empty tmpfs, read-only in its superblock and its mount (fsmount): what a MASK
  // step clones over a directory. The kernel's memory cgroups pay for every superblock alive
  // (offlining one walks all their reclaim lists): one shared instead of one per masked path.
  int mask_template = -1;
  bool mask_template_tried = false;
  // The exec trampoline (exec-trampoline.h) in a sealed memfd, made on the first spawn.
  int exec_trampoline = -1;
  bool exec_trampoline_tried = false;
  int netns_making[2] = {0, 0};
  NetnsMaker* netns_maker = nullptr;  // the thread that makes them (namespaces.cc), from the first fill
  int netns_generation = 0;      // bumped by a drain: namespaces still being made are closed
  bool tearing_down = false;                 // the environment is exiting (worker terminated)
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
};

// Registers the environment teardown hook that closes the handles of live children
// (process.cc); without it a terminated worker would abort in uv_loop_close.
void RegisterProcessCleanup(Napi::Env env, AddonData* data);
// Closes every fd watch and its fd (watch.cc), at environment teardown.
void CloseFdWatches(AddonData* data);
// Ends the teardown once no child and no handle is left (process.cc).
void FinishTeardownIfIdle(AddonData* data);
// Closes the pooled network namespaces (namespaces.cc).
void DrainNetnsPool(AddonData* data);
// Ends the namespace thread and closes what it made (namespaces.cc), at environment teardown.
void StopNetnsMaker(AddonData* data);
// Calls fn through napi_make_callback in the async context; an exception goes to the process.
void CallBack(napi_env env, napi_async_context context, napi_value fn, size_t argc, const napi_value* argv);

// Builds the error through the JS factory: factory(errno, syscall, path?, dest?).
Napi::Value MakeSystemError(Napi::Env env, int err, const char* syscall, const char* path = nullptr,
                            const char* dest = nullptr);
// Throws it; returns undefined so callers can `return ThrowSystemError(...)`.
Napi::Value ThrowSystemError(Napi::Env env, int err, const char* syscall, const char* path = nullptr,
                             const char* dest = nullptr);
Napi::Value ThrowTypeError(Napi::Env env, const char* message);

// Argument helpers for the exported functions. lib/ validates everything before calling,
// so these only guard the addon against misuse from outside lib/.
bool ArgInt(const Napi::CallbackInfo& info, size_t i, int64_t* out);
bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out);
// A string, or null/undefined (out_null = true).
bool ArgOptString(const Napi::CallbackInfo& info, size_t i, std::string* out, bool* is_null);

}  // namespace nsbox
