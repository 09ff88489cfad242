// Native part of @warden/shm-transport used by wardend's process split (issue 18): what main and the router processes
// need from the kernel that Node does not offer.
//
//  - listenSocket(opts)   socket + bind + listen of a listener, without libuv accepting on it (main binds every
//                         listener and only hands the fd to the router processes, which accept)
//  - hardenProcess()      prctl(PR_SET_NO_NEW_PRIVS) and prctl(PR_SET_DUMPABLE, 0) (a router after it dropped root)
//
// Errors are thrown as JS exceptions carrying errno and the system call; the TS wrapper names them.

#include <napi.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

Napi::Value ThrowSys(Napi::Env env, const char* syscall, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// listenSocket({ host, port, backlog, ipv6Only } | { path, backlog }) -> { fd, port }
// A non-blocking, close-on-exec stream socket, bound and listening. TCP: SO_REUSEADDR (as libuv sets it), IPV6_V6ONLY
// as asked, the port really bound returned (port 0 picks one). Unix: the path must not exist (the caller removes a
// stale socket first, as for any listener).
Napi::Value ListenSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "listenSocket(options)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  int backlog = o.Has("backlog") && o.Get("backlog").IsNumber() ? o.Get("backlog").As<Napi::Number>().Int32Value() : 511;
  union {
    sockaddr sa;
    sockaddr_in in4;
    sockaddr_in6 in6;
    sockaddr_un un;
  } addr;
  memset(&addr, 0, sizeof addr);
  socklen_t len = 0;
  int family;
  if (o.Has("path") && o.Get("path").IsString()) {
    std::string path = o.Get("path").As<Napi::String>().Utf8Value();
    if (path.empty() || path.size() >= sizeof addr.un.sun_path) return ThrowSys(env, "bind", ENAMETOOLONG);
    family = AF_UNIX;
    addr.un.sun_family = AF_UNIX;
    memcpy(addr.un.sun_path, path.data(), path.size());
    // A Linux abstract name (a leading NUL) is exactly its bytes, as Unit binds it and as clients (curl, Python,
    // Node from 22) connect to it; a path name counts its terminating NUL.
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '\0' ? 0 : 1));
  } else {
    std::string host = o.Get("host").As<Napi::String>().Utf8Value();
    int port = o.Get("port").As<Napi::Number>().Int32Value();
    if (port < 0 || port > 65535) return ThrowSys(env, "bind", EINVAL);
    if (inet_pton(AF_INET, host.c_str(), &addr.in4.sin_addr) == 1) {
      family = AF_INET;
      addr.in4.sin_family = AF_INET;
      addr.in4.sin_port = htons(static_cast<uint16_t>(port));
      len = sizeof addr.in4;
    } else if (inet_pton(AF_INET6, host.c_str(), &addr.in6.sin6_addr) == 1) {
      family = AF_INET6;
      addr.in6.sin6_family = AF_INET6;
      addr.in6.sin6_port = htons(static_cast<uint16_t>(port));
      len = sizeof addr.in6;
    } else {
      return ThrowSys(env, "inet_pton", EINVAL);
    }
  }
  // socket(2): non-blocking (libuv in the routers expects it) and close-on-exec (no app process inherits a listener).
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowSys(env, "socket", errno);
  int one = 1;
  if (family != AF_UNIX) {
    // setsockopt(SO_REUSEADDR): rebinding a port with connections in TIME_WAIT works, as with libuv's listeners.
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
      int err = errno;
      close(fd);
      return ThrowSys(env, "setsockopt", err);
    }
  }
  if (family != AF_UNIX && o.Has("reusePort") && o.Get("reusePort").ToBoolean().Value()) {
    // setsockopt(SO_REUSEPORT): several sockets on one address, the kernel spreading connections over them by hash.
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      int err = errno;
      close(fd);
      return ThrowSys(env, "setsockopt", err);
    }
  }
  if (family == AF_INET6) {
    int v6only = o.Has("ipv6Only") && o.Get("ipv6Only").ToBoolean().Value() ? 1 : 0;
    // setsockopt(IPV6_V6ONLY): Unit's "ipv6only" listener option; explicit, whatever the sysctl default is.
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) {
      int err = errno;
      close(fd);
      return ThrowSys(env, "setsockopt", err);
    }
  }
  // bind(2) + listen(2): the listener exists from here on; the routers only accept.
  int bound_rc = bind(fd, &addr.sa, len);
  if (bound_rc != 0 && errno == EADDRINUSE && family == AF_UNIX && addr.un.sun_path[0] != '\0') {
    // A socket file nobody accepts on (left by a server that was killed): connect(2) is refused at once, and the file
    // is replaced, as wardend replaces a stale control socket. A socket someone serves, or any other file, stays.
    struct stat st;
    if (lstat(addr.un.sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
      int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (probe >= 0) {
        bool stale = connect(probe, &addr.sa, len) != 0 && errno == ECONNREFUSED;
        close(probe);
        if (stale && unlink(addr.un.sun_path) == 0) bound_rc = bind(fd, &addr.sa, len);
        else errno = EADDRINUSE;
      } else {
        errno = EADDRINUSE;
      }
    } else {
      errno = EADDRINUSE;
    }
  }
  if (bound_rc != 0) {
    int err = errno;
    close(fd);
    return ThrowSys(env, "bind", err);
  }
  if (family == AF_UNIX && addr.un.sun_path[0] != '\0' && chmod(addr.un.sun_path, 0666) != 0) {
    // chmod(2): as Unit's main process makes a unix listener, anyone may connect (a front proxy running as another
    // user, Warden's own unprivileged routers proxying to it); the file would otherwise keep the umask and root.
    int err = errno;
    close(fd);
    unlink(addr.un.sun_path);
    return ThrowSys(env, "chmod", err);
  }
  if (listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return ThrowSys(env, "listen", err);
  }
  int bound = 0;
  if (family != AF_UNIX) {
    // getsockname(2): the port really bound (a listener on port 0).
    socklen_t blen = sizeof addr;
    if (getsockname(fd, &addr.sa, &blen) == 0) bound = ntohs(family == AF_INET ? addr.in4.sin_port : addr.in6.sin6_port);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("port", Napi::Number::New(env, bound));
  return out;
}

// hardenProcess(): no_new_privs (no exec can gain privileges again: setuid binaries, file capabilities) and not
// dumpable (a process of the same uid, such as an app running as the same user, cannot ptrace it or read its memory).
Napi::Value HardenProcess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // prctl(PR_SET_NO_NEW_PRIVS): irreversible, inherited by children.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return ThrowSys(env, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
  // prctl(PR_SET_DUMPABLE, 0): no core dumps with TLS keys in them, no ptrace attach by the same uid.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return ThrowSys(env, "prctl(PR_SET_DUMPABLE)", errno);
  return env.Undefined();
}

}  // namespace

void RegisterProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("listenSocket", Napi::Function::New(env, ListenSocket));
  exports.Set("hardenProcess", Napi::Function::New(env, HardenProcess));
}
