// Native part of @warden/shm-transport used by wardend's main process to start app processes without fork():
//
//  - spawnProcess(opts)      clone(CLONE_VM | CLONE_VFORK) + exec, as glibc's posix_spawn does, with what
//                            posix_spawn cannot do: setgroups/setgid/setuid in the child. Returns { pid, pidfd }.
//  - reapProcess(pid)        waitid(WEXITED | WNOHANG): null while it runs, else { code, signal }.
//
// Why not child_process.spawn: libuv forks, and fork() copies the page tables of the whole parent. In wardend's main
// process (60-80 MB resident) that took 5-9 ms per process on a 2-core VM, blocked the caller until the child had
// exec'd, and left every page of the parent copy-on-write until then. With CLONE_VM the child borrows the parent's
// memory until it execs (the parent thread waits meanwhile): about 0.6 ms whatever the parent's size.
//
// The child runs on the parent's memory, so between clone and exec it only makes system calls: everything it needs
// (argv, envp, the PATH candidates, the fd table) is built before the clone, and it reports a failure by writing
// errno and the failing step into memory the parent reads once the clone returned (CLONE_VFORK: after the exec or
// the exit). set*id go through syscall(2), not glibc: glibc's setuid() broadcasts the change to every thread of the
// process, and the child's "process" would be wardend's memory, threads and all.

#include <napi.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "throw-errno.h"

namespace {

constexpr size_t kChildStack = 64 * 1024;

struct ChildArgs {
  // Candidates for execve, in order (PATH search done here, in the parent).
  std::vector<const char*> paths;
  char* const* argv;
  // For a file the kernel cannot execute (ENOEXEC: no #! line): /bin/sh, the file, then argv[1..], as execvp runs it.
  // Slot 1 is filled in by the child with the candidate that failed.
  std::vector<const char*> shArgv;
  char* const* envp;
  const char* cwd;   // null: stay
  int uid;           // -1: keep
  int gid;           // -1: keep
  // Supplementary groups set with uid (as Unit's nxt_process_creds_set: getgrouplist of the user); empty: none.
  std::vector<gid_t> groups;
  bool setsid;
  bool newSessionKeyring;
  // fds[i] becomes fd i of the child (the rest of wardend's fds are close-on-exec).
  std::vector<int> fds;
  // Written by the child on failure, read by the parent after the clone returned.
  volatile int err;
  const char* volatile step;
};

[[noreturn]] void ChildFail(ChildArgs* a, const char* step) {
  a->err = errno;
  a->step = step;
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

int ChildMain(void* p) {
  ChildArgs* a = static_cast<ChildArgs*>(p);
  // Signal dispositions back to the default (Node ignores SIGPIPE, and an ignored signal stays ignored across exec),
  // then an empty mask: the parent blocked every signal around the clone so that none of its handlers runs here.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);  // glibc's internal signals refuse (EINVAL): nothing to reset there
  }
  if (a->setsid && syscall(SYS_setsid) < 0) ChildFail(a, "setsid");
  // The fd table: first every source that sits where another fd must go is moved above the table, then each is
  // duplicated into place (dup2 clears close-on-exec; a source already in place gets it cleared).
  const int n = static_cast<int>(a->fds.size());
  for (int i = 0; i < n; i++) {
    int src = a->fds[i];
    if (src >= 0 && src < n && src != i) {
      int moved = static_cast<int>(syscall(SYS_fcntl, src, F_DUPFD_CLOEXEC, n));
      if (moved < 0) ChildFail(a, "fcntl");
      a->fds[i] = moved;
    }
  }
  for (int i = 0; i < n; i++) {
    int src = a->fds[i];
    if (src == i) {
      if (syscall(SYS_fcntl, i, F_SETFD, 0) < 0) ChildFail(a, "fcntl");
    } else if (syscall(SYS_dup3, src, i, 0) < 0) {
      ChildFail(a, "dup3");
    }
  }
  // As libuv does: the working directory first, then the credentials (the supplementary groups given, else none).
  if (a->cwd != nullptr && syscall(SYS_chdir, a->cwd) < 0) ChildFail(a, "chdir");
  if (a->uid >= 0 && syscall(SYS_setgroups, a->groups.size(), a->groups.empty() ? nullptr : a->groups.data()) < 0 &&
      (errno != EPERM || !a->groups.empty()))
    ChildFail(a, "setgroups");
  if (a->gid >= 0 && syscall(SYS_setgid, a->gid) < 0) ChildFail(a, "setgid");
  if (a->uid >= 0 && syscall(SYS_setuid, a->uid) < 0) ChildFail(a, "setuid");
  // A keyring of its own, owned by the new uid (KEYCTL_JOIN_SESSION_KEYRING = 1, name NULL: anonymous). Refused
  // (ENOSYS, EPERM under a seccomp profile) it is simply not done: the process keeps the one it inherited.
  if (a->newSessionKeyring) syscall(SYS_keyctl, 1, nullptr);
  sigset_t none;
  sigemptyset(&none);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, _NSIG / 8);
  // execve each candidate as execvp does: the first EACCES is remembered, ENOENT/ENOTDIR move on, and a file without
  // a #! line is run by /bin/sh (child_process did the same through glibc's execvp).
  int firstAccess = 0;
  for (const char* path : a->paths) {
    syscall(SYS_execve, path, a->argv, a->envp);
    if (errno == ENOEXEC) {
      a->shArgv[1] = path;
      syscall(SYS_execve, a->shArgv[0], a->shArgv.data(), a->envp);
      errno = ENOEXEC;
      break;
    }
    if (errno == EACCES && firstAccess == 0) firstAccess = EACCES;
    if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) break;
  }
  if (firstAccess != 0 && (errno == ENOENT || errno == ENOTDIR)) errno = firstAccess;
  ChildFail(a, "execve");
}

// Waits for (and reaps) a child that exited or is about to.
void ReapNow(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

std::vector<std::string> StringArray(const Napi::Value& v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(arr.Get(i).ToString().Utf8Value());
  return out;
}

// spawnProcess({ file, argv, env, cwd?, uid?, gid?, setsid?, fds }) -> { pid, pidfd }
//   file   the executable: with a '/', used as it is (relative to cwd); without, searched in the PATH of env (or
//          /usr/local/bin:/usr/bin:/bin), as execvp does
//   argv   argv[0] included; env: "NAME=value" strings; fds: fd i of the child = fds[i] (-1 is not allowed)
// Throws an Error with errno and syscall (the step that failed: chdir, setuid, execve, ...).
Napi::Value SpawnProcess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "spawnProcess(options)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  std::string file = o.Get("file").ToString().Utf8Value();
  std::vector<std::string> argvS = StringArray(o.Get("argv"));
  std::vector<std::string> envS = StringArray(o.Get("env"));
  std::string cwd = o.Has("cwd") && o.Get("cwd").IsString() ? o.Get("cwd").As<Napi::String>().Utf8Value() : "";
  ChildArgs a;
  a.uid = o.Has("uid") && o.Get("uid").IsNumber() ? o.Get("uid").As<Napi::Number>().Int32Value() : -1;
  a.gid = o.Has("gid") && o.Get("gid").IsNumber() ? o.Get("gid").As<Napi::Number>().Int32Value() : -1;
  a.setsid = o.Has("setsid") && o.Get("setsid").ToBoolean().Value();
  a.newSessionKeyring = o.Has("newSessionKeyring") && o.Get("newSessionKeyring").ToBoolean().Value();
  Napi::Value groupsV = o.Get("groups");
  if (groupsV.IsArray()) {
    Napi::Array arr = groupsV.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) a.groups.push_back(static_cast<gid_t>(arr.Get(i).As<Napi::Number>().Uint32Value()));
  }
  Napi::Value fdsV = o.Get("fds");
  if (fdsV.IsArray()) {
    Napi::Array arr = fdsV.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) a.fds.push_back(arr.Get(i).As<Napi::Number>().Int32Value());
  }
  for (int fd : a.fds) {
    if (fd < 0) {
      Napi::TypeError::New(env, "spawnProcess: every entry of fds must be an open fd").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  if (file.empty() || argvS.empty()) {
    Napi::TypeError::New(env, "spawnProcess: file and argv[0] are required").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  std::vector<char*> argv, envp;
  for (auto& s : argvS) argv.push_back(&s[0]);
  argv.push_back(nullptr);
  for (auto& s : envS) envp.push_back(&s[0]);
  envp.push_back(nullptr);
  std::vector<std::string> candidates;
  if (file.find('/') != std::string::npos) {
    candidates.push_back(file);
  } else {
    std::string pathVar = "/usr/local/bin:/usr/bin:/bin";
    for (auto& s : envS)
      if (s.compare(0, 5, "PATH=") == 0) pathVar = s.substr(5);
    size_t start = 0;
    for (;;) {
      size_t colon = pathVar.find(':', start);
      std::string dir = pathVar.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      candidates.push_back((dir.empty() ? std::string(".") : dir) + "/" + file);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  for (auto& c : candidates) a.paths.push_back(c.c_str());
  a.shArgv.push_back("/bin/sh");
  a.shArgv.push_back(nullptr);  // the file, set by the child
  for (size_t i = 1; i + 1 < argv.size(); i++) a.shArgv.push_back(argv[i]);
  a.shArgv.push_back(nullptr);
  a.argv = argv.data();
  a.envp = envp.data();
  a.cwd = cwd.empty() ? nullptr : cwd.c_str();
  a.err = 0;
  a.step = nullptr;

  void* stack = mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return ThrowErrno(env, "mmap", errno);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(ChildMain, static_cast<char*>(stack) + kChildStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  int cloneErr = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(stack, kChildStack);
  if (pid < 0) return ThrowErrno(env, "clone", cloneErr);
  if (a.err != 0) {
    ReapNow(pid);
    return ThrowErrno(env, a.step ? a.step : "spawn", a.err);
  }
  // A pidfd to poll for the exit (readable once the process exited). The pid cannot be reused before reapProcess.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int err = errno;
    kill(pid, SIGKILL);
    ReapNow(pid);
    return ThrowErrno(env, "pidfd_open", err);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, pid));
  out.Set("pidfd", Napi::Number::New(env, pidfd));
  return out;
}

// reapProcess(pid) -> null (still running) | { code, signal } (signal: its number, 0 for a normal exit)
Napi::Value ReapProcess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "reapProcess(pid)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r;
  while ((r = waitid(P_PID, pid, &si, WEXITED | WNOHANG)) < 0 && errno == EINTR) {
  }
  if (r < 0) return ThrowErrno(env, "waitid", errno);
  if (si.si_pid == 0) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  bool exited = si.si_code == CLD_EXITED;
  out.Set("code", exited ? Napi::Value(Napi::Number::New(env, si.si_status)) : env.Null());
  out.Set("signal", Napi::Number::New(env, exited ? 0 : si.si_status));
  return out;
}

}  // namespace

void RegisterSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnProcess", Napi::Function::New(env, SpawnProcess));
  exports.Set("reapProcess", Napi::Function::New(env, ReapProcess));
}
