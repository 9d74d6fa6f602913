// fd watches: libuv polls an fd on the environment's loop and JavaScript is called per
// event. Node has no public way to wait on an arbitrary fd: not for POLLPRI (a pressure
// stall trigger, Documentation/accounting/psi.rst), and not for a pty master, which no Node
// stream can carry without blocking (lib/pty.ts says why). The watch owns its fd from
// creation: closing the watch closes it, as does the environment's teardown.
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <uv.h>

#include <memory>

#include "errors.h"
#include "fd.h"

namespace nsbox {

// The events JavaScript sees (lib/native.ts WATCH_*): readable, writable, prioritized as
// libuv waits for them, and two it does not pass on. kWatchError for
// POLLERR/POLLNVAL, which libuv reports only when it comes without POLLPRI (a gone PSI
// trigger answers both). kWatchHangup for POLLHUP, which libuv turns into whatever the watch
// waits for: a pty master whose slave is closed everywhere polls writable for good while its
// writes fail with EAGAIN (the master's own reference keeps the slave's count above zero, so
// n_tty_write never answers EIO), and only POLLHUP tells that apart.
constexpr int kWatchReadable = 1;
constexpr int kWatchWritable = 2;
constexpr int kWatchPrioritized = 4;
constexpr int kWatchEvents = kWatchReadable | kWatchWritable | kWatchPrioritized;
constexpr int kWatchError = 8;
constexpr int kWatchHangup = 16;

static int ToUv(int events) {
  return ((events & kWatchReadable) ? UV_READABLE : 0) | ((events & kWatchWritable) ? UV_WRITABLE : 0) |
         ((events & kWatchPrioritized) ? UV_PRIORITIZED : 0);
}

static int FromUv(int uv_events) {
  return ((uv_events & UV_READABLE) ? kWatchReadable : 0) | ((uv_events & UV_WRITABLE) ? kWatchWritable : 0) |
         ((uv_events & UV_PRIORITIZED) ? kWatchPrioritized : 0);
}

struct FdWatch {
  Napi::Env env;
  Napi::FunctionReference callback;
  std::unique_ptr<Napi::AsyncContext> async_context;
  UniqueFd fd;
  uv_poll_t poll{};
  int id = 0;
  int events = 0;  // what the watch waits for now; 0: stopped
  bool closing = false;

  explicit FdWatch(Napi::Env e) : env(e) {}

  // 0, or libuv's error (the watch then waits for nothing).
  int Start(int wanted) {
    events = wanted;
    if (wanted == 0) return uv_poll_stop(&poll);
    int err = uv_poll_start(&poll, ToUv(wanted), OnEvent);
    if (err != 0) events = 0;
    return err;
  }

  // Stops the watch and closes the fd at once (uv_poll_stop takes it out of epoll); the
  // handle goes a loop turn later.
  void Close() {
    if (closing) return;
    closing = true;
    env.GetInstanceData<AddonData>()->fd_watches.erase(id);
    uv_poll_stop(&poll);
    fd.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), OnClosed);
  }

  static void OnClosed(uv_handle_t* h) {
    FdWatch* w = static_cast<FdWatch*>(h->data);
    AddonData* data = w->env.GetInstanceData<AddonData>();
    delete w;
    data->live_handles--;
    FinishTeardownIfIdle(data);
  }

  static void OnEvent(uv_poll_t* h, int status, int uv_events) {
    FdWatch* w = static_cast<FdWatch*>(h->data);
    int reported = FromUv(uv_events);
    if (status < 0) {
      reported = kWatchError;  // libuv stopped the handle
    } else {
      // What epoll said beside the events, asked again: a zero-timeout poll for nothing
      // reports only POLLERR, POLLHUP and POLLNVAL.
      struct pollfd p = {w->fd.get(), 0, 0};
      if (::poll(&p, 1, 0) > 0) {
        if ((p.revents & (POLLERR | POLLNVAL)) != 0) reported |= kWatchError;
        if ((p.revents & POLLHUP) != 0) reported |= kWatchHangup;
      }
    }
    // After an error the watch waits for nothing until started again.
    if ((reported & kWatchError) != 0) w->Start(0);
    AddonData* data = w->env.GetInstanceData<AddonData>();
    if (data->tearing_down) return;
    napi_handle_scope scope;
    if (napi_open_handle_scope(w->env, &scope) != napi_ok) return;
    napi_value argv[1];
    if (napi_create_int32(w->env, reported, &argv[0]) == napi_ok) {
      CallBack(w->env, *w->async_context, w->callback.Value(), 1, argv);
    }
    napi_close_handle_scope(w->env, scope);
  }
};

static FdWatch* FindWatch(const Napi::CallbackInfo& info, int64_t id) {
  auto& watches = info.Env().GetInstanceData<AddonData>()->fd_watches;
  auto it = watches.find(static_cast<int>(id));
  return it == watches.end() ? nullptr : it->second;
}

// fdWatch(fd, callback(events)) -> id. The watch owns fd from here (closed here if this
// throws) and makes it non-blocking (uv_poll_init does); it waits for nothing until started.
Napi::Value FdWatchNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t raw;
  if (!ArgInt(info, 0, &raw) || raw < 0 || raw > 0x7fffffff) return ThrowTypeError(env, "fdWatch(fd, callback)");
  UniqueFd fd(static_cast<int>(raw));
  if (info.Length() < 2 || !info[1].IsFunction()) return ThrowTypeError(env, "fdWatch(fd, callback)");
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data->tearing_down) return ThrowTypeError(env, "fdWatch: the environment is shutting down");
  auto w = std::make_unique<FdWatch>(env);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int err = uv_poll_init(loop, &w->poll, fd.get());
  if (err != 0) return ThrowSystemError(env, -err, "uv_poll_init");
  w->fd = std::move(fd);
  w->poll.data = w.get();
  w->callback = Napi::Persistent(info[1].As<Napi::Function>());
  w->async_context = std::make_unique<Napi::AsyncContext>(env, "nsbox:fdwatch");
  w->id = ++data->next_watch_id;
  data->live_handles++;
  data->fd_watches[w->id] = w.get();
  return Napi::Number::New(env, w.release()->id);
}

// fdWatchStart(id, events): waits for these events (readable 1, writable 2,
// prioritized 4) from now on, instead of the ones before; 0 stops the watch.
Napi::Value FdWatchStart(const Napi::CallbackInfo& info) {
  int64_t id, events;
  if (!ArgInt(info, 0, &id) || !ArgInt(info, 1, &events) || (events & ~kWatchEvents) != 0) {
    return ThrowTypeError(info.Env(), "fdWatchStart(id, events)");
  }
  FdWatch* w = FindWatch(info, id);
  if (w != nullptr && w->events != events) {
    if (int err = w->Start(static_cast<int>(events))) return ThrowSystemError(info.Env(), -err, "epoll_ctl");
  }
  return info.Env().Undefined();
}

// fdWatchRef(id, ref): whether a started watch keeps the event loop alive (it does by default).
Napi::Value FdWatchRef(const Napi::CallbackInfo& info) {
  int64_t id;
  if (!ArgInt(info, 0, &id) || info.Length() < 2 || !info[1].IsBoolean()) return ThrowTypeError(info.Env(), "fdWatchRef(id, ref)");
  FdWatch* w = FindWatch(info, id);
  if (w == nullptr) return info.Env().Undefined();
  uv_handle_t* h = reinterpret_cast<uv_handle_t*>(&w->poll);
  if (info[1].As<Napi::Boolean>().Value()) uv_ref(h);
  else uv_unref(h);
  return info.Env().Undefined();
}

// fdWatchClose(id): stops the watch and closes its fd. Unknown or closed ids are ignored.
Napi::Value FdWatchClose(const Napi::CallbackInfo& info) {
  int64_t id;
  if (!ArgInt(info, 0, &id)) return ThrowTypeError(info.Env(), "fdWatchClose(id)");
  if (FdWatch* w = FindWatch(info, id)) w->Close();
  return info.Env().Undefined();
}

void CloseFdWatches(AddonData* data) {
  auto watches = data->fd_watches;  // Close() erases from the map
  for (auto& entry : watches) entry.second->Close();
}

}  // namespace nsbox
