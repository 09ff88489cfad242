/*
 * fd-pass.node: the smallest N-API addon that lets wardend hand file descriptors to a prototype. Node cannot send
 * arbitrary fds (memfd, eventfd) over a socket itself, so this exports two functions:
 *   socketpair() -> [ours, theirs]   AF_UNIX stream pair, both close-on-exec (libuv dup2s `theirs` to fd 3 of the
 *                                    helper, which clears the flag there)
 *   send(fd, buffer, fds)            one sendmsg() carrying the buffer and, attached to its first byte, the fds
 *                                    (SCM_RIGHTS); blocks until all bytes are queued (SO_SNDTIMEO bounds the wait)
 */
#include <errno.h>
#include <stdio.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define MAX_FDS 64

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  char code[32];
  snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
  snprintf(code, sizeof(code), "E%d", err);
  napi_throw_error(env, code, msg);
  return NULL;
}

static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, "socketpair", errno);
  /* Never block wardend for long on a prototype that stopped reading. */
  struct timeval tv = {5, 0};
  setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, sv[0], &a);
  napi_create_int32(env, sv[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  int32_t fd;
  void *data;
  size_t len;
  uint32_t nfds = 0;
  int fds[MAX_FDS];
  if (argc < 2 || napi_get_value_int32(env, args[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, args[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(fd: number, data: Buffer, fds?: number[])");
    return NULL;
  }
  if (argc > 2) {
    bool is_array = false;
    napi_is_array(env, args[2], &is_array);
    if (is_array) {
      napi_get_array_length(env, args[2], &nfds);
      if (nfds > MAX_FDS) return throw_errno(env, "send", E2BIG);
      for (uint32_t i = 0; i < nfds; i++) {
        napi_value v;
        napi_get_element(env, args[2], i, &v);
        if (napi_get_value_int32(env, v, &fds[i]) != napi_ok) {
          napi_throw_type_error(env, NULL, "fds must be numbers");
          return NULL;
        }
      }
    }
  }
  size_t sent = 0;
  while (sent < len) {
    char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct iovec iov = {(char *)data + sent, len - sent};
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (sent == 0 && nfds > 0) {
      memset(cbuf, 0, sizeof(cbuf));
      mh.msg_control = cbuf;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
      struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return throw_errno(env, "sendmsg", errno);
    }
    sent += (size_t)n;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value f;
  napi_create_function(env, "socketpair", NAPI_AUTO_LENGTH, js_socketpair, NULL, &f);
  napi_set_named_property(env, exports, "socketpair", f);
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, js_send, NULL, &f);
  napi_set_named_property(env, exports, "send", f);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
