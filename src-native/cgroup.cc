// cgroup fds: a pressure stall (PSI) trigger. The kernel signals a trigger written to a
// pressure file with POLLPRI on that fd (Documentation/accounting/psi.rst, "Monitoring for
// pressure thresholds"); Node cannot wait for POLLPRI, so libuv watches it here
// (UV_PRIORITIZED) and JavaScript is called per event. The kernel answers POLLERR once the
// trigger is gone with its group (rmdir): that ends the watch.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>

#include "errors.h"
#include "fd.h"

namespace nsbox {

struct PressureWatch {
  Napi::Env env;
  Napi::FunctionReference callback;
  std::unique_ptr<Napi::AsyncContext> async_context;
  UniqueFd fd;
  uv_poll_t poll{};
  int id = 0;
  bool closing = false;

  explicit PressureWatch(Napi::Env e) : env(e) {}

  // ended: the trigger is gone (its group removed), no more events come.
  void Emit(bool ended) {
    AddonData* data = env.GetInstanceData<AddonData>();
    if (data->tearing_down) return;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value argv[1], global, result;
    if (napi_get_boolean(env, ended, &argv[0]) == napi_ok && napi_get_global(env, &global) == napi_ok &&
        napi_make_callback(env, *async_context, global, callback.Value(), 1, argv, &result) != napi_ok) {
      bool pending = false;
      napi_value error;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(env, &error) == napi_ok) {
        napi_fatal_exception(env, error);
      }
    }
    napi_close_handle_scope(env, scope);
  }

  void Close() {
    if (closing) return;
    closing = true;
    env.GetInstanceData<AddonData>()->pressure_watches.erase(id);
    uv_poll_stop(&poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), OnClosed);
  }

  static void OnClosed(uv_handle_t* h) {
    PressureWatch* w = static_cast<PressureWatch*>(h->data);
    AddonData* data = w->env.GetInstanceData<AddonData>();
    delete w;
    data->live_handles--;
    FinishTeardownIfIdle(data);
  }

  static void OnEvent(uv_poll_t* h, int status, int) {
    PressureWatch* w = static_cast<PressureWatch*>(h->data);
    // epoll's poll already took the event; a zero-timeout poll tells a gone trigger (POLLERR) apart.
    struct pollfd p = {w->fd.get(), POLLPRI, 0};
    bool ended = status < 0 || (::poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLNVAL)) != 0);
    if (ended) w->Close();
    w->Emit(ended);
  }
};

// psiTrigger(path, trigger, callback(ended)): opens the pressure file, writes the trigger
// ("some 150000 1000000"), and calls back on every event; returns an id for psiClose.
Napi::Value PsiTrigger(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, trigger;
  if (!ArgString(info, 0, &path) || !ArgString(info, 1, &trigger) || info.Length() < 3 || !info[2].IsFunction()) {
    return ThrowTypeError(env, "psiTrigger(path, trigger, callback)");
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return ThrowSystemError(env, errno, "open", path.c_str());
  // The trigger is the whole write, NUL included (psi.rst).
  if (::write(fd.get(), trigger.c_str(), trigger.size() + 1) < 0) return ThrowSystemError(env, errno, "write", path.c_str());
  AddonData* data = env.GetInstanceData<AddonData>();
  auto w = std::make_unique<PressureWatch>(env);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int err = uv_poll_init(loop, &w->poll, fd.get());
  if (err != 0) return ThrowSystemError(env, -err, "uv_poll_init", path.c_str());
  w->fd = std::move(fd);
  w->poll.data = w.get();
  w->callback = Napi::Persistent(info[2].As<Napi::Function>());
  w->async_context = std::make_unique<Napi::AsyncContext>(env, "nsbox:pressure");
  w->id = ++data->next_watch_id;
  uv_poll_start(&w->poll, UV_PRIORITIZED, PressureWatch::OnEvent);
  data->live_handles++;
  data->pressure_watches[w->id] = w.get();
  int id = w->id;
  w.release();
  return Napi::Number::New(env, id);
}

// psiClose(id): stops the watch and closes its fd (which destroys the trigger).
Napi::Value PsiClose(const Napi::CallbackInfo& info) {
  int64_t id;
  if (!ArgInt(info, 0, &id)) return ThrowTypeError(info.Env(), "psiClose(id)");
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  auto it = data->pressure_watches.find(static_cast<int>(id));
  if (it != data->pressure_watches.end()) it->second->Close();
  return info.Env().Undefined();
}

void ClosePressureWatches(AddonData* data) {
  auto watches = data->pressure_watches;  // Close() erases from the map
  for (auto& entry : watches) entry.second->Close();
}

}  // namespace nsbox
