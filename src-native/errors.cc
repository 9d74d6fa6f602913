#include "errors.h"

namespace nsbox {

Napi::Value MakeSystemError(Napi::Env env, int err, const char* syscall, const char* path,
                            const char* dest) {
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Value p = path ? Napi::String::New(env, path) : env.Undefined();
  Napi::Value d = dest ? Napi::String::New(env, dest) : env.Undefined();
  if (data == nullptr || data->systemError.IsEmpty()) {
    Napi::Error e = Napi::Error::New(env, std::string(syscall) + " failed: errno " + std::to_string(err));
    return e.Value();
  }
  return data->systemError.Call({Napi::Number::New(env, err), Napi::String::New(env, syscall), p, d});
}

Napi::Value ThrowSystemError(Napi::Env env, int err, const char* syscall, const char* path,
                             const char* dest) {
  Napi::Value e = MakeSystemError(env, err, syscall, path, dest);
  if (!env.IsExceptionPending()) Napi::Error(env, e).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowTypeError(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ArgInt(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  *out = info[i].As<Napi::Number>().Int64Value();
  return true;
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) return false;
  *out = info[i].As<Napi::String>().Utf8Value();
  return out->find('\0') == std::string::npos;
}

bool ArgOptString(const Napi::CallbackInfo& info, size_t i, std::string* out, bool* is_null) {
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) {
    *is_null = true;
    return true;
  }
  *is_null = false;
  return ArgString(info, i, out);
}

}  // namespace nsbox
