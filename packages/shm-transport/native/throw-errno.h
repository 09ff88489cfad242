// Shared by the addon's source files: a failed system call becomes a JS exception carrying the errno (the TS
// wrappers turn it into a WARDEN_ERR_SHM_* code).
#pragma once

#include <napi.h>

#include <cstring>
#include <string>

inline Napi::Value ThrowErrno(Napi::Env env, const char* what, int err) {
  std::string msg = std::string(what) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}
