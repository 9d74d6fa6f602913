// Module init and the export table; every function lives in the file of its concern.
#include <napi.h>

#include "errors.h"

namespace nsbox {
// namespaces.cc
Napi::Value Unshare(const Napi::CallbackInfo& info);
Napi::Value Setns(const Napi::CallbackInfo& info);
Napi::Value NetnsPoolFill(const Napi::CallbackInfo& info);
Napi::Value NetnsPoolTake(const Napi::CallbackInfo& info);
Napi::Value NetnsPoolDrain(const Napi::CallbackInfo& info);
Napi::Value NetnsPoolState(const Napi::CallbackInfo& info);
Napi::Value NetnsSysfsTemplate(const Napi::CallbackInfo& info);
// mounts.cc
Napi::Value Mount(const Napi::CallbackInfo& info);
Napi::Value Umount2(const Napi::CallbackInfo& info);
Napi::Value PivotRoot(const Napi::CallbackInfo& info);
Napi::Value MountSetattr(const Napi::CallbackInfo& info);
Napi::Value OpenTree(const Napi::CallbackInfo& info);
Napi::Value MoveMount(const Napi::CallbackInfo& info);
Napi::Value MaskTemplate(const Napi::CallbackInfo& info);
// identity.cc
Napi::Value Sethostname(const Napi::CallbackInfo& info);
Napi::Value Setdomainname(const Napi::CallbackInfo& info);
// process.cc
Napi::Value PidfdOpen(const Napi::CallbackInfo& info);
Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info);
Napi::Value Spawn(const Napi::CallbackInfo& info);
Napi::Value SpawnAsync(const Napi::CallbackInfo& info);
bool HaveVmClone();
Napi::Value ChildRef(const Napi::CallbackInfo& info);
Napi::Value ChildRelease(const Napi::CallbackInfo& info);
// cgroup.cc
Napi::Value PsiTrigger(const Napi::CallbackInfo& info);
Napi::Value FdWatchNew(const Napi::CallbackInfo& info);
Napi::Value FdWatchStart(const Napi::CallbackInfo& info);
Napi::Value FdWatchRef(const Napi::CallbackInfo& info);
Napi::Value FdWatchClose(const Napi::CallbackInfo& info);
// probe.cc
Napi::Value ProbeSyscalls(const Napi::CallbackInfo& info);
Napi::Value ProbeIdmappedMount(const Napi::CallbackInfo& info);
// seccomp.cc
Napi::Value SeccompCompile(const Napi::CallbackInfo& info);
// pty.cc
Napi::Value Openpty(const Napi::CallbackInfo& info);
Napi::Value PtyResize(const Napi::CallbackInfo& info);
Napi::Value PtyNumber(const Napi::CallbackInfo& info);
Napi::Value Socketpair(const Napi::CallbackInfo& info);
Napi::Value RecvFd(const Napi::CallbackInfo& info);

static Napi::Value Init(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  if (info.Length() < 1 || !info[0].IsFunction()) return ThrowTypeError(info.Env(), "init(factory)");
  data->systemError = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  AddonData* data = new AddonData();
  data->env = env;
  env.SetInstanceData(data);
  RegisterProcessCleanup(env, data);
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Entry table[] = {
      {"init", Init},
      {"unshare", Unshare},
      {"setns", Setns},
      {"netnsPoolFill", NetnsPoolFill},
      {"netnsPoolTake", NetnsPoolTake},
      {"netnsPoolDrain", NetnsPoolDrain},
      {"netnsPoolState", NetnsPoolState},
      {"netnsSysfsTemplate", NetnsSysfsTemplate},
      {"mount", Mount},
      {"umount2", Umount2},
      {"pivotRoot", PivotRoot},
      {"mountSetattr", MountSetattr},
      {"openTree", OpenTree},
      {"moveMount", MoveMount},
      {"maskTemplate", MaskTemplate},
      {"sethostname", Sethostname},
      {"setdomainname", Setdomainname},
      {"pidfdOpen", PidfdOpen},
      {"pidfdSendSignal", PidfdSendSignal},
      {"spawn", Spawn},
      {"spawnAsync", SpawnAsync},
      {"childRef", ChildRef},
      {"childRelease", ChildRelease},
      {"psiTrigger", PsiTrigger},
      {"fdWatch", FdWatchNew},
      {"fdWatchStart", FdWatchStart},
      {"fdWatchRef", FdWatchRef},
      {"fdWatchClose", FdWatchClose},
      {"probeSyscalls", ProbeSyscalls},
      {"probeIdmappedMount", ProbeIdmappedMount},
      {"seccompCompile", SeccompCompile},
      {"openpty", Openpty},
      {"ptyResize", PtyResize},
      {"ptyNumber", PtyNumber},
      {"socketpair", Socketpair},
      {"recvFd", RecvFd},
  };
  for (const Entry& e : table) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  // Whether this build clones with CLONE_VM (x86_64): vfork spawns, and so spawnAsync, need it.
  exports.Set("vmClone", Napi::Boolean::New(env, HaveVmClone()));
  return exports;
}

}  // namespace nsbox

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return nsbox::InitModule(env, exports); }

NODE_API_MODULE(nsbox, Init)
