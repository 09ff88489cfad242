// Native part of FdSocket (src/fd-socket.ts): messages with file descriptors over an AF_UNIX SOCK_SEQPACKET socket.
// Node's net module cannot carry SCM_RIGHTS on a seqpacket socket, so the few system calls are here; framing,
// dispatch and error codes are in TypeScript.
//
//  - fdSocketPair()            socketpair(AF_UNIX, SOCK_SEQPACKET), both ends CLOEXEC + NONBLOCK
//  - fdSend(fd, buf, fds)      one sendmsg: the payload + SCM_RIGHTS, MSG_NOSIGNAL | MSG_DONTWAIT; 0 or the errno
//  - fdRecv(fd, buf)           one recvmsg (MSG_CMSG_CLOEXEC | MSG_DONTWAIT) into buf: undefined when nothing is
//                              queued, else {bytes, fds, truncated, error}; bytes -1 = EOF
//  - FdPoll(fd, cb)            a uv_poll_t on the loop of this env (napi_get_uv_event_loop): cb(status) when the fd
//                              is readable (status 0) or polling failed (a negative libuv error); ref/unref/stop
//
// A message is one datagram: SEQPACKET keeps the boundaries and the order, and the kernel attaches the fds to exactly
// the message they were sent with, so a receiver can never get a message's fds without its payload or the reverse.

#include <napi.h>
#include <uv.h>

#include "throw-errno.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <sys/socket.h>
#include <unistd.h>

namespace {

// The limits of one message (PROTOCOL.md "Several routers", README "FdSocket"): the TS side checks them before send.
constexpr size_t kMaxFds = 16;

// One datagram's message header: the payload buffer as the only iovec, room for kMaxFds in the control buffer.
struct Datagram {
  struct iovec iov;
  struct msghdr msg;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];

  Datagram(void* data, size_t len) {
    memset(&msg, 0, sizeof msg);
    memset(control, 0, sizeof control);
    iov.iov_base = data;
    iov.iov_len = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
};

// fdSocketPair() -> [a, b]
Napi::Value FdSocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  // socketpair(AF_UNIX, SOCK_SEQPACKET): reliable, ordered, message boundaries kept (one control message = one
  // datagram), and EOF when the peer's last copy closes. CLOEXEC: only the process we hand an end to explicitly gets
  // it. NONBLOCK: the loop never blocks on it (send reports EAGAIN, recv "nothing queued").
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
    return ThrowErrno(env, "socketpair", errno);
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, sv[0]));
  out.Set(1u, Napi::Number::New(env, sv[1]));
  return out;
}

// fdSend(fd, payload: Buffer, fds: number[]) -> 0 or errno
Napi::Value FdSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<char> payload = info[1].As<Napi::Buffer<char>>();
  Napi::Array list = info[2].As<Napi::Array>();
  size_t nfds = list.Length();
  if (nfds > kMaxFds) {
    Napi::RangeError::New(env, "too many fds").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fds[kMaxFds];
  for (size_t i = 0; i < nfds; i++) fds[i] = list.Get(static_cast<uint32_t>(i)).As<Napi::Number>().Int32Value();

  Datagram d(payload.Data(), payload.Length());
  struct msghdr& msg = d.msg;
  if (nfds > 0) {
    // SCM_RIGHTS: the kernel installs duplicates of these fds in the receiver when it reads the message; ours stay
    // open (the caller closes them when it no longer needs them).
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  } else {
    msg.msg_control = nullptr;
    msg.msg_controllen = 0;
  }
  ssize_t r;
  // sendmsg: MSG_NOSIGNAL (a gone peer is EPIPE, never SIGPIPE), MSG_DONTWAIT (a peer that does not read gives
  // EAGAIN instead of blocking the loop). A datagram is sent whole or not at all.
  do {
    r = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  return Napi::Number::New(env, r < 0 ? errno : 0);
}

// fdRecv(fd, buf: Buffer) -> undefined | { bytes, fds, truncated, error }
Napi::Value FdRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<char> buf = info[1].As<Napi::Buffer<char>>();

  // Room for the allowed fds only: a sender that passes more makes the kernel set MSG_CTRUNC (and close the extra).
  Datagram d(buf.Data(), buf.Length());
  struct msghdr& msg = d.msg;
  ssize_t r;
  // recvmsg: one datagram. MSG_CMSG_CLOEXEC: received fds are close-on-exec from the start (no window in which a
  // concurrent exec could leak them). MSG_DONTWAIT: "nothing queued" is EAGAIN, never a blocked loop.
  do {
    r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return env.Undefined();

  Napi::Object out = Napi::Object::New(env);
  Napi::Array fds = Napi::Array::New(env);
  uint32_t n = 0;
  if (r >= 0) {
    // Every SCM_RIGHTS header (a sender could split them): each fd is now ours, reported so it gets closed or used.
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* p = reinterpret_cast<const int*>(CMSG_DATA(c));
      for (size_t i = 0; i < count; i++) {
        int got;
        memcpy(&got, p + i, sizeof got);
        fds.Set(n++, Napi::Number::New(env, got));
      }
    }
  }
  // A zero-byte read with no fds is the peer's EOF (the TS side never sends an empty payload).
  bool eof = r == 0 && n == 0;
  out.Set("bytes", Napi::Number::New(env, r < 0 || eof ? -1 : static_cast<double>(r)));
  out.Set("error", Napi::Number::New(env, r < 0 ? errno : 0));
  out.Set("fds", fds);
  out.Set("truncated", Napi::Boolean::New(env, r >= 0 && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0));
  return out;
}

// FdPoll: readability of one fd, from libuv's loop.
class FdPoll : public Napi::ObjectWrap<FdPoll> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdPoll",
                       {InstanceMethod("ref", &FdPoll::Ref), InstanceMethod("unref", &FdPoll::Unref),
                        InstanceMethod("stop", &FdPoll::Stop)});
  }

  FdPoll(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdPoll>(info) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    // The JS callback is held strongly until stop(): it (through its closure) keeps this object alive while polling.
    cb_ = Napi::Persistent(info[1].As<Napi::Function>());
    // The async resource of the callbacks (async_hooks), destroyed by stop(): it lives exactly as long as the poll.
    ctx_ = std::make_unique<Napi::AsyncContext>(env, "WardenFdSocket");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "no event loop").ThrowAsJavaScriptException();
      return;
    }
    handle_ = new uv_poll_t;
    // uv_poll_init: epoll on a foreign fd (libuv does not own or close it). uv_poll_start(UV_READABLE): readable =
    // a message or EOF is queued; the callback drains everything, so level-triggered wake-ups stay rare.
    int err = uv_poll_init(loop, handle_, fd);
    if (err == 0) {
      handle_->data = this;
      err = uv_poll_start(handle_, UV_READABLE, OnPoll);
      if (err != 0) Release();
    } else {
      delete handle_;
      handle_ = nullptr;
    }
    if (err != 0) ThrowErrno(env, "uv_poll_start", -err);
  }

  ~FdPoll() override { Release(); }

 private:
  static void OnPoll(uv_poll_t* h, int status, int /*events*/) {
    FdPoll* self = static_cast<FdPoll*>(h->data);
    if (self == nullptr || self->cb_.IsEmpty()) return;
    Napi::Env env = self->cb_.Env();
    Napi::HandleScope scope(env);
    // MakeCallback: runs the JS callback as a libuv-originated call (async hooks, then nextTick queue and microtasks
    // when it returns), like any other I/O callback in Node.
    // The callback may call stop(): the async context is then destroyed after it returned, not under it.
    self->inCallback_ = true;
    self->cb_.MakeCallback(env.Global(), {Napi::Number::New(env, status)}, *self->ctx_);
    self->inCallback_ = false;
    if (self->cb_.IsEmpty()) self->ctx_.reset();
  }

  // Stops polling and frees the handle (asynchronously: libuv needs a loop turn to close it). The fd is the caller's.
  void Release() {
    if (handle_ == nullptr) return;
    // uv_poll_stop before anything closes the fd (libuv's rule: never close an fd a poll handle still watches).
    uv_poll_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    // uv_unref: a pending poll does not keep the loop (and so the process) alive on its own.
    if (handle_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Release();
    cb_.Reset();
    if (!inCallback_) ctx_.reset();
    return info.Env().Undefined();
  }

  Napi::FunctionReference cb_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
  bool inCallback_ = false;
  uv_poll_t* handle_ = nullptr;
};

}  // namespace

// Called from Init in shm.cc: adds this file's functions to the addon's exports.
void InitFdSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("fdSocketPair", Napi::Function::New(env, FdSocketPair));
  exports.Set("fdSend", Napi::Function::New(env, FdSend));
  exports.Set("fdRecv", Napi::Function::New(env, FdRecv));
  exports.Set("FdPoll", FdPoll::Define(env));
  exports.Set("FD_SOCKET_MAX_FDS", Napi::Number::New(env, kMaxFds));
}
