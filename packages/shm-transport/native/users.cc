// Native part of @warden/shm-transport: the host's user database, asked in-process through NSS as Unit asks it
// (getpwnam/getgrnam/getgrouplist in its main process), so that users of every source nsswitch.conf names (files,
// LDAP, sssd, systemd) are found without a process per lookup.
//
//  - lookupUser(name | uid)     { name, uid, gid, home } or null
//  - lookupGroup(name | gid)    { name, gid, members } or null
//  - groupList(user, gid)       getgrouplist(user, gid): gid first, then every group listing the user
//
// The reentrant variants, with a buffer grown on ERANGE. "Not found" is null (the NSS modules report it as 0 with no
// result, or as ENOENT, ESRCH, EBADF or EPERM: getpwnam_r(3)); any other failure (EIO from an unreachable source,
// EMFILE, ENOMEM) is thrown with its errno, so that a lookup that could not be made is not taken for a missing user.

#include <napi.h>

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <string>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

#include "throw-errno.h"

namespace {

constexpr size_t kMaxBuffer = 1 << 24;  // 16 MiB: a group with a very long member list, never more

bool NotFound(int err) { return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM; }

size_t InitialSize(int which) {
  long n = sysconf(which);
  return n > 0 ? static_cast<size_t>(n) : 4096;
}

Napi::Value User(Napi::Env env, const passwd& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, p.pw_name));
  o.Set("uid", Napi::Number::New(env, p.pw_uid));
  o.Set("gid", Napi::Number::New(env, p.pw_gid));
  o.Set("home", Napi::String::New(env, p.pw_dir != nullptr ? p.pw_dir : ""));
  return o;
}

Napi::Value Group(Napi::Env env, const group& g) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, g.gr_name));
  o.Set("gid", Napi::Number::New(env, g.gr_gid));
  Napi::Array members = Napi::Array::New(env);
  uint32_t i = 0;
  for (char** m = g.gr_mem; m != nullptr && *m != nullptr; m++) members.Set(i++, Napi::String::New(env, *m));
  o.Set("members", members);
  return o;
}

// Runs `call(buf, size, result)` (a getpw*_r / getgr*_r), growing the buffer while it answers ERANGE.
template <typename Entry, typename Call>
Napi::Value Lookup(Napi::Env env, const char* name, int sizeHint, Call call, Napi::Value (*convert)(Napi::Env, const Entry&)) {
  std::vector<char> buf(InitialSize(sizeHint));
  for (;;) {
    Entry entry;
    Entry* result = nullptr;
    int err = call(&entry, buf.data(), buf.size(), &result);
    if (err == ERANGE && buf.size() < kMaxBuffer) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (result != nullptr) return convert(env, entry);
    if (NotFound(err)) return env.Null();
    return ThrowErrno(env, name, err);
  }
}

// lookupUser(key) / lookupGroup(key): a number is an id (getpwuid_r, getgrgid_r), a string a name (getpwnam_r,
// getgrnam_r).
Napi::Value LookupUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() >= 1 && info[0].IsNumber()) {
    uid_t uid = static_cast<uid_t>(info[0].As<Napi::Number>().Uint32Value());
    return Lookup<passwd>(
        env, "getpwuid_r", _SC_GETPW_R_SIZE_MAX, [&](passwd* e, char* b, size_t n, passwd** r) { return getpwuid_r(uid, e, b, n, r); }, User);
  }
  if (info.Length() >= 1 && info[0].IsString()) {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    return Lookup<passwd>(
        env, "getpwnam_r", _SC_GETPW_R_SIZE_MAX, [&](passwd* e, char* b, size_t n, passwd** r) { return getpwnam_r(name.c_str(), e, b, n, r); },
        User);
  }
  Napi::TypeError::New(env, "lookupUser(name | uid)").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value LookupGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() >= 1 && info[0].IsNumber()) {
    gid_t gid = static_cast<gid_t>(info[0].As<Napi::Number>().Uint32Value());
    return Lookup<group>(
        env, "getgrgid_r", _SC_GETGR_R_SIZE_MAX, [&](group* e, char* b, size_t n, group** r) { return getgrgid_r(gid, e, b, n, r); }, Group);
  }
  if (info.Length() >= 1 && info[0].IsString()) {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    return Lookup<group>(
        env, "getgrnam_r", _SC_GETGR_R_SIZE_MAX, [&](group* e, char* b, size_t n, group** r) { return getgrnam_r(name.c_str(), e, b, n, r); },
        Group);
  }
  Napi::TypeError::New(env, "lookupGroup(name | gid)").ThrowAsJavaScriptException();
  return env.Undefined();
}

// groupList(user, gid) -> number[]: getgrouplist, its array grown until every group fits.
Napi::Value GroupList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "groupList(user, gid)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string user = info[0].As<Napi::String>().Utf8Value();
  gid_t gid = static_cast<gid_t>(info[1].As<Napi::Number>().Uint32Value());
  std::vector<gid_t> groups(32);
  for (;;) {
    int n = static_cast<int>(groups.size());
    if (getgrouplist(user.c_str(), gid, groups.data(), &n) >= 0) {
      Napi::Array out = Napi::Array::New(env, static_cast<size_t>(n));
      for (int i = 0; i < n; i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, groups[static_cast<size_t>(i)]));
      return out;
    }
    // -1: the array was too small; n is now the number needed (glibc), or unchanged (a libc that does not say).
    size_t want = static_cast<size_t>(n) > groups.size() ? static_cast<size_t>(n) : groups.size() * 2;
    if (want > 65536) return ThrowErrno(env, "getgrouplist", ERANGE);
    groups.resize(want);
  }
}

}  // namespace

void RegisterUsers(Napi::Env env, Napi::Object exports) {
  exports.Set("lookupUser", Napi::Function::New(env, LookupUser));
  exports.Set("lookupGroup", Napi::Function::New(env, LookupGroup));
  exports.Set("groupList", Napi::Function::New(env, GroupList));
}
