/*
 * warden-spawn: the spawn helper and application prototype of @warden/ns-linux.
 *
 * Process structure (see ../README.md, "How a prototype is built"):
 *
 *   wardend (Node) --spawn--> helper H (host namespaces)
 *                               | clone3(CLONE_NEW*)
 *                               v
 *                             prototype P (new namespaces; PID 1 of the new pid namespace)
 *                               | fork + exec, once per app process, on command
 *                               v
 *                             app processes
 *
 * fd 3 (both H and P): a unix stream socket from wardend carrying length-prefixed messages (plan, release, spawn)
 *      and, with a spawn message, the app process's file descriptors as SCM_RIGHTS.
 * fd 4 (both H and P): status channel to wardend, one JSON object per line ("ev" names the event).
 *
 * Message: u32 payload length (little endian), then payload = u32 record count, then per record: u32 string count
 * and that many NUL-terminated strings.
 *
 * H: reads the plan, clones P, reports P's host pid ("cloned"), then only waits for P and exits with its status.
 * P: waits for "release" (wardend writes the id maps and places P in its cgroup meanwhile), performs the
 *    namespace-wide child ops in plan order, reports "ready", then serves spawn commands and reaps children.
 * Between fork and exec of an app process only async-signal-safe calls are made (raw syscalls, no malloc, no stdio).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child-ops.h" /* the op vocabulary, generated from @warden/core's CHILD_OPS */
#include "seccomp.h"

#define CTL_FD 3
#define STATUS_FD 4
#define MAX_MSG (8 * 1024 * 1024)
#define MAX_FDS 64
#define MAX_STEP 48

/* Credential bits of the plan record. */
#define CRED_SETGROUPS 1 /* call setgroups(): only when wardend is privileged */
#define CRED_SETIDS 2    /* call setresgid/setresuid */

/* ------------------------------------------------------------------------------------------------ messages */

struct rec {
  int n;
  char **s;
};

struct msg {
  char *buf;
  int nrec;
  struct rec *recs;
  int fds[MAX_FDS];
  int nfds;
};

static void msg_free(struct msg *m) {
  for (int i = 0; i < m->nrec; i++) free(m->recs[i].s);
  free(m->recs);
  free(m->buf);
  memset(m, 0, sizeof(*m));
}

static int read_full(int fd, void *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)p + got, n - got);
    if (r == 0) return 0;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    got += (size_t)r;
  }
  return 1;
}

static uint32_t get_u32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] | ((uint32_t)u[1] << 8) | ((uint32_t)u[2] << 16) | ((uint32_t)u[3] << 24);
}

/* Parses the payload into records; every offset is bounds-checked. Returns 0 or -1 (EBADMSG). */
static int parse_payload(struct msg *m, uint32_t len) {
  const char *p = m->buf, *end = m->buf + len;
  if (len < 4) return -1;
  uint32_t nrec = get_u32(p);
  p += 4;
  if (nrec > 4096) return -1;
  m->recs = calloc(nrec ? nrec : 1, sizeof(struct rec));
  if (!m->recs) return -1;
  m->nrec = (int)nrec;
  for (uint32_t r = 0; r < nrec; r++) {
    if (end - p < 4) return -1;
    uint32_t n = get_u32(p);
    p += 4;
    if (n > 1u << 20 || n > (uint32_t)(end - p)) return -1;
    m->recs[r].s = calloc(n + 1, sizeof(char *)); /* NULL-terminated: usable as argv/envp */
    if (!m->recs[r].s) return -1;
    m->recs[r].n = (int)n;
    for (uint32_t i = 0; i < n; i++) {
      const char *z = memchr(p, 0, (size_t)(end - p));
      if (!z) return -1;
      m->recs[r].s[i] = (char *)p;
      p = z + 1;
    }
  }
  return 0;
}

/*
 * Reads one message. The header is read with recvmsg() so that file descriptors sent with the message (they are
 * attached to its first byte) arrive too; MSG_CMSG_CLOEXEC keeps them from leaking into app processes.
 * Returns 1, 0 on EOF, -1 on error (errno set).
 */
static int read_msg(int fd, struct msg *m) {
  char hdr[4];
  size_t got = 0;
  memset(m, 0, sizeof(*m));
  while (got < 4) {
    char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct iovec iov = {hdr + got, 4 - got};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    ssize_t r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (r == 0) return 0;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *fds = (int *)CMSG_DATA(c);
        for (int i = 0; i < n; i++) {
          if (m->nfds < MAX_FDS) m->fds[m->nfds++] = fds[i];
          else close(fds[i]);
        }
      }
    }
    got += (size_t)r;
  }
  uint32_t len = get_u32(hdr);
  if (len > MAX_MSG) {
    errno = EMSGSIZE;
    return -1;
  }
  m->buf = malloc(len ? len : 1);
  if (!m->buf) return -1;
  int r = read_full(fd, m->buf, len);
  if (r <= 0) return r == 0 ? (errno = EPIPE, -1) : -1;
  if (parse_payload(m, len) < 0) {
    errno = EBADMSG;
    return -1;
  }
  return 1;
}

/* ------------------------------------------------------------------------------------------------ status */

static void json_escape(char *out, size_t cap, const char *s) {
  size_t o = 0;
  for (; *s && o + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o] = 0;
}

/* One status line, written with a single write(2) so lines of H and P never interleave. */
static void emit(const char *fmt, ...) {
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof(line) - 2) n = (int)sizeof(line) - 2;
  line[n++] = '\n';
  ssize_t w;
  do w = write(STATUS_FD, line, (size_t)n);
  while (w < 0 && errno == EINTR);
}

static void emit_error(const char *ev, long id, const char *step, int err, const char *detail) {
  char msg[1024], esc[2048], estep[128];
  snprintf(msg, sizeof(msg), "%s failed: %s%s%s", step, strerror(err), detail && *detail ? ": " : "",
           detail ? detail : "");
  json_escape(esc, sizeof(esc), msg);
  json_escape(estep, sizeof(estep), step);
  if (id >= 0)
    emit("{\"ev\":\"%s\",\"id\":%ld,\"step\":\"%s\",\"errno\":%d,\"message\":\"%s\"}", ev, id, estep, err, esc);
  else
    emit("{\"ev\":\"%s\",\"step\":\"%s\",\"errno\":%d,\"message\":\"%s\"}", ev, estep, err, esc);
}

/* A fatal setup failure of H or P: report it and exit. */
static void die(const char *step, int err, const char *detail) {
  emit_error("error", -1, step, err, detail);
  _exit(1);
}

/* ------------------------------------------------------------------------------------------------ fd hygiene */

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* How seal_fds() finds the fds: close_range(2) first; WARDEN_SPAWN_FD_SWEEP=proc|rlimit forces a fallback (tests). */
enum { SWEEP_AUTO, SWEEP_PROC, SWEEP_RLIMIT };
static int sweep_mode = SWEEP_AUTO;

/* Closes fd, or marks it close-on-exec when `cloexec`. Raw syscalls only (async-signal-safe). */
static void seal_one(int fd, int cloexec) {
  if (cloexec) {
    int fl = (int)syscall(SYS_fcntl, fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC)) syscall(SYS_fcntl, fd, F_SETFD, fl | FD_CLOEXEC);
  } else {
    syscall(SYS_close, fd);
  }
}

/* Fallback 1: every fd listed in /proc/self/fd (absent inside a rootfs without procfs). Returns -1 without it. */
static int seal_listed(int first, int cloexec) {
  int dfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return -1;
  char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[] */
      unsigned short reclen;
      memcpy(&reclen, buf + off + 16, sizeof(reclen));
      const char *name = buf + off + 19;
      int fd = 0, digits = 0;
      for (; *name >= '0' && *name <= '9'; name++, digits++) fd = fd * 10 + (*name - '0');
      if (digits && !*name && fd >= first && fd != dfd) seal_one(fd, cloexec);
      off += reclen;
    }
  }
  syscall(SYS_close, dfd);
  return 0;
}

/* Fallback 2: every fd number below RLIMIT_NOFILE (capped: a huge limit would make this take seconds). */
static void seal_upto_rlimit(int first, int cloexec) {
  struct rlimit rl;
  long max = syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
  if (max > (1L << 20)) max = 1L << 20;
  for (long fd = first; fd < max; fd++) seal_one((int)fd, cloexec);
}

/*
 * No fd >= first survives the next execve: each one is closed, or marked close-on-exec when `cloexec` (the app
 * process keeps its exec-error pipe until execve). Only the fds Warden means to pass on (0-2 and the channel fds
 * placed below `first`) reach an app: an fd its launcher inherited by accident (a directory fd outside a rootfs, a
 * socket) would let it escape. close_range(2) (Linux 5.9; CLOSE_RANGE_CLOEXEC 5.11), else /proc/self/fd, else
 * every number up to RLIMIT_NOFILE. Async-signal-safe.
 */
static void seal_fds(int first, int cloexec) {
  if (sweep_mode == SWEEP_AUTO && syscall(SYS_close_range, first, ~0U, cloexec ? CLOSE_RANGE_CLOEXEC : 0) == 0) return;
  if (sweep_mode != SWEEP_RLIMIT && seal_listed(first, cloexec) == 0) return;
  seal_upto_rlimit(first, cloexec);
}

/* ------------------------------------------------------------------------------------------------ plan */

struct plan {
  unsigned long long clone_flags;
  uid_t uid;
  gid_t gid;
  gid_t groups[NGROUPS_MAX > 256 ? 256 : NGROUPS_MAX];
  int ngroups;
  int cred_mode;
  struct msg m;          /* records 1.. are child ops */
  enum child_op *ops;    /* ops[i]: which op record i is (index 0 unused) */
  /* per-process ops, collected from the op records */
  struct {
    int resource;
    struct rlimit lim;
  } rlimits[32];
  int nrlimits;
  int no_new_privs;
  int has_caps;
  unsigned long long keep_caps;
};

static long num(const char *s, const char *what) {
  char *e;
  errno = 0;
  long long v = strtoll(s, &e, 0);
  if (errno || *e || e == s) die("plan", EINVAL, what);
  return (long)v;
}

static unsigned long long unum(const char *s, const char *what) {
  char *e;
  errno = 0;
  unsigned long long v = strtoull(s, &e, 0);
  if (errno || *e || e == s) die("plan", EINVAL, what);
  return v;
}

static void parse_plan(struct plan *pl) {
  struct rec *r0 = &pl->m.recs[0];
  if (pl->m.nrec < 1 || r0->n < 6 || strcmp(r0->s[0], "plan") != 0) die("plan", EBADMSG, "first record is not a plan");
  pl->clone_flags = unum(r0->s[1], "clone flags");
  pl->uid = (uid_t)unum(r0->s[2], "uid");
  pl->gid = (gid_t)unum(r0->s[3], "gid");
  pl->ngroups = 0;
  for (char *p = r0->s[4]; *p;) {
    char *e;
    unsigned long g = strtoul(p, &e, 10);
    if (e == p) die("plan", EINVAL, "groups");
    if (pl->ngroups < (int)(sizeof(pl->groups) / sizeof(pl->groups[0]))) pl->groups[pl->ngroups++] = (gid_t)g;
    p = *e == ',' ? e + 1 : e;
  }
  pl->cred_mode = (int)num(r0->s[5], "credential mode");
  pl->ops = calloc((size_t)pl->m.nrec, sizeof(*pl->ops));
  if (!pl->ops) die("plan", ENOMEM, NULL);
  for (int i = 1; i < pl->m.nrec; i++) {
    struct rec *r = &pl->m.recs[i];
    if (r->n < 1) die("plan", EBADMSG, "empty op");
    /* Name -> op by the generated table; the argument count is checked here, once, for every op. */
    int op = 0;
    while (op < OP_COUNT && strcmp(r->s[0], CHILD_OP_DEFS[op].name) != 0) op++;
    if (op == OP_COUNT) die(r->s[0], EINVAL, "unknown op");
    if (r->n != CHILD_OP_DEFS[op].nargs + 1) die(r->s[0], EINVAL, "wrong number of arguments");
    pl->ops[i] = (enum child_op)op;
    if (CHILD_OP_DEFS[op].runs != RUNS_PROCESS) continue;
    /* Per-process ops are collected here and applied in each app process (app_child), in its fixed order. */
    switch ((enum child_op)op) {
    case OP_RLIMIT:
      if (pl->nrlimits >= 32) die("plan", EINVAL, "rlimit op");
      pl->rlimits[pl->nrlimits].resource = (int)num(r->s[ARG_RLIMIT_RESOURCE], "rlimit resource");
      pl->rlimits[pl->nrlimits].lim.rlim_cur = !strcmp(r->s[ARG_RLIMIT_SOFT], "inf") ? RLIM_INFINITY : unum(r->s[ARG_RLIMIT_SOFT], "rlimit");
      pl->rlimits[pl->nrlimits].lim.rlim_max = !strcmp(r->s[ARG_RLIMIT_HARD], "inf") ? RLIM_INFINITY : unum(r->s[ARG_RLIMIT_HARD], "rlimit");
      pl->nrlimits++;
      break;
    case OP_NO_NEW_PRIVS:
      pl->no_new_privs = 1;
      break;
    case OP_CAPS:
      pl->has_caps = 1;
      pl->keep_caps = unum(r->s[ARG_CAPS_KEEP], "caps mask");
      break;
    case OP_SECCOMP:
      if (seccomp_parse(r->s[ARG_SECCOMP_FILTER]) < 0) die("plan", EINVAL, "seccomp op");
      break;
    default:
      die(r->s[0], EINVAL, "per-process op not implemented");
    }
  }
}

/* ------------------------------------------------------------------------------------------------ child ops (P) */

/*
 * Opens `rel` inside `root` without ever leaving it: openat2(RESOLVE_IN_ROOT) resolves ".." and absolute symlinks
 * against `root`, so a symlink pointing outside lands inside. Missing components are created (directories, or a
 * regular file for the last one when `last_is_file`). Returns an O_PATH fd or -1 with errno.
 */
static int open_in_root(const char *root, const char *rel, int create, int last_is_file) {
  int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return -1;
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  char path[PATH_MAX];
  while (*rel == '/') rel++;
  if (!*rel) return rootfd;
  if (snprintf(path, sizeof(path), "%s", rel) >= (int)sizeof(path)) {
    close(rootfd);
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
  if (fd >= 0 || errno != ENOENT || !create) {
    int e = errno;
    close(rootfd);
    errno = e;
    return fd;
  }
  /* Create the missing components one by one, each one resolved inside root again. */
  for (char *slash = path;; slash++) {
    char *next = strchr(slash, '/');
    int last = next == NULL;
    if (next) *next = 0;
    int cfd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    if (cfd < 0 && errno == ENOENT) {
      char *base = strrchr(path, '/');
      int parent;
      if (base) {
        *base = 0;
        parent = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        *base = '/';
        base++;
      } else {
        parent = dup(rootfd);
        base = path;
      }
      if (parent < 0) break;
      int rc;
      if (last && last_is_file) {
        /* openat on an O_PATH dir fd is not allowed; go through the magic link of the parent. */
        char pp[64];
        snprintf(pp, sizeof(pp), "/proc/self/fd/%d", parent);
        int dfd = open(pp, O_DIRECTORY | O_CLOEXEC);
        rc = dfd < 0 ? -1 : openat(dfd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (rc >= 0) close(rc), rc = 0;
        if (dfd >= 0) close(dfd);
      } else {
        rc = mkdirat(parent, base, 0755);
      }
      int e = errno;
      close(parent);
      if (rc < 0 && e != EEXIST) {
        errno = e;
        break;
      }
      cfd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    }
    if (cfd < 0) break;
    if (last) {
      close(rootfd);
      return cfd;
    }
    close(cfd);
    *next = '/';
    slash = next;
  }
  int e = errno;
  close(rootfd);
  errno = e;
  return -1;
}

/* The mount target as a path: "/proc/self/fd/N" of an fd resolved inside the root, or the plain path. */
struct target {
  int fd;
  char path[PATH_MAX];
};

static int resolve_target(struct target *t, const char *root, const char *target, int create, int last_is_file) {
  t->fd = -1;
  if (!*root) {
    snprintf(t->path, sizeof(t->path), "%s", target);
    return 0;
  }
  t->fd = open_in_root(root, target, create, last_is_file);
  if (t->fd < 0) return -1;
  snprintf(t->path, sizeof(t->path), "/proc/self/fd/%d", t->fd);
  return 0;
}

static void target_close(struct target *t) {
  if (t->fd >= 0) close(t->fd);
}

/* Flags of an existing mount that a remount inside a user namespace must keep (they are locked). */
static unsigned long locked_flags(const char *path) {
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs(path, &sv) < 0) return 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

/*
 * Runs one namespace-wide op in P (its argument count was checked by parse_plan). Per-process ops were collected by
 * parse_plan. The switch names every op of the generated enum and has no default: an op added to CHILD_OPS without
 * code here does not compile (-Werror=switch).
 */
static void run_op(struct rec *r, enum child_op op) {
  char **a = r->s;
  struct target t;
  switch (op) {
  case OP_RLIMIT:
  case OP_NO_NEW_PRIVS:
  case OP_CAPS:
  case OP_SECCOMP:
    return; /* per-process: applied in app_child */
  case OP_COUNT:
    die(a[0], EINVAL, "unknown op");
    return;
  case OP_MAKE_RPRIVATE:
    /* Stop mount events propagating between our new mount namespace and the host, in both directions. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die(a[0], errno, "/");
    return;
  case OP_MOUNT:
    /* A filesystem at TARGET resolved inside ROOT ("" = host path), mounted through /proc/self/fd/N. */
    if (resolve_target(&t, a[ARG_MOUNT_ROOT], a[ARG_MOUNT_TARGET], 1, 0) < 0) die(a[0], errno, a[ARG_MOUNT_TARGET]);
    if (mount(a[ARG_MOUNT_SOURCE], t.path, a[ARG_MOUNT_FSTYPE], (unsigned long)unum(a[ARG_MOUNT_FLAGS], "mount flags"),
              *a[ARG_MOUNT_DATA] ? a[ARG_MOUNT_DATA] : NULL) < 0)
      die(a[0], errno, a[ARG_MOUNT_TARGET]);
    target_close(&t);
    return;
  case OP_BIND: {
    /* Bind-mount host path SOURCE at TARGET inside ROOT (recursively), optionally read-only. */
    const char *target = a[ARG_BIND_TARGET], *source = a[ARG_BIND_SOURCE];
    struct stat st;
    if (stat(source, &st) < 0) die(a[0], errno, source);
    if (resolve_target(&t, a[ARG_BIND_ROOT], target, 1, !S_ISDIR(st.st_mode)) < 0) die(a[0], errno, target);
    if (mount(source, t.path, NULL, MS_BIND | MS_REC, NULL) < 0) die(a[0], errno, target);
    target_close(&t);
    if (!strcmp(a[ARG_BIND_READONLY], "1")) {
      /* Read-only needs a second, remount step on the new mount: resolve the target again (the fd we had names
       * the directory underneath), and repeat the flags the kernel locked for us. */
      if (resolve_target(&t, a[ARG_BIND_ROOT], target, 0, 0) < 0) die("bind_readonly", errno, target);
      unsigned long keep = locked_flags(t.path);
      if (mount(NULL, t.path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0) die("bind_readonly", errno, target);
      target_close(&t);
    }
    return;
  }
  case OP_MKDIR:
    /* A directory (and its parents) inside ROOT: resolving with create=1 makes them. */
    if (resolve_target(&t, a[ARG_MKDIR_ROOT], a[ARG_MKDIR_PATH], 1, 0) < 0) die(a[0], errno, a[ARG_MKDIR_PATH]);
    target_close(&t);
    return;
  case OP_PIVOT_ROOT:
    /* Make ROOT the root of this mount namespace and detach the old root entirely. */
    if (chdir(a[ARG_PIVOT_ROOT_ROOT]) < 0) die(a[0], errno, a[ARG_PIVOT_ROOT_ROOT]);
    /* pivot_root(".", "."): the old root ends up stacked on top of the new one, at "/". */
    if (syscall(SYS_pivot_root, ".", ".") < 0) die(a[0], errno, a[ARG_PIVOT_ROOT_ROOT]);
    /* Detach the old root (lazy: nothing may still use it, but a busy mount must not stop us). */
    if (umount2(".", MNT_DETACH) < 0) die(a[0], errno, "detach old root");
    if (chdir("/") < 0) die(a[0], errno, "/");
    return;
  case OP_CHROOT:
    /* Without a mount namespace, as Unit does. */
    if (chdir(a[ARG_CHROOT_ROOT]) < 0 || chroot(".") < 0 || chdir("/") < 0) die(a[0], errno, a[ARG_CHROOT_ROOT]);
    return;
  case OP_SETHOSTNAME:
    /* In our own UTS namespace. */
    if (sethostname(a[ARG_SETHOSTNAME_HOSTNAME], strlen(a[ARG_SETHOSTNAME_HOSTNAME])) < 0) die(a[0], errno, a[ARG_SETHOSTNAME_HOSTNAME]);
    return;
  case OP_LOOPBACK_UP: {
    /* A new network namespace has only "lo", and it is down: set IFF_UP with SIOCSIFFLAGS. */
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) die(a[0], errno, "socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die(a[0], errno, "SIOCGIFFLAGS");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die(a[0], errno, "SIOCSIFFLAGS");
    close(s);
    return;
  }
  case OP_UNSHARE:
    /* A namespace made now, after the release, rather than at the clone: the plan says which. Some kinds move P
     * itself (cgroup: rooted at the cgroup wardend has placed us in by now); others only its future children (time:
     * its offsets can be written until the first app process enters it). */
    if (unshare((int)unum(a[ARG_UNSHARE_FLAGS], "unshare flags")) < 0) die(a[0], errno, a[ARG_UNSHARE_FLAGS]);
    return;
  case OP_WRITE_FILE: {
    /* One write(2) of DATA to an existing file, as /proc files such as timens_offsets require. */
    const char *path = a[ARG_WRITE_FILE_PATH], *data = a[ARG_WRITE_FILE_DATA];
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die(a[0], errno, path);
    size_t n = strlen(data);
    if (write(fd, data, n) != (ssize_t)n) die(a[0], errno, path);
    close(fd);
    return;
  }
  }
}

/*
 * Runs in H, with the host credentials, before the clone: creates the mount points that the mount/bind/mkdir ops
 * need inside a rootfs. The prototype may be an unprivileged user on the host (root of a user namespace mapped to
 * e.g. uid 1000) and then could not create them in a root-owned rootfs. Same safe resolution as in P; failures are
 * ignored here and reported by P at the op's own step.
 */
static void prepare_mount_points(const struct plan *pl) {
  for (int i = 1; i < pl->m.nrec; i++) {
    char **a = pl->m.recs[i].s;
    const char *root, *target;
    int is_file = 0;
    if (pl->ops[i] == OP_BIND) {
      struct stat st;
      if (stat(a[ARG_BIND_SOURCE], &st) < 0) continue;
      is_file = !S_ISDIR(st.st_mode);
      root = a[ARG_BIND_ROOT], target = a[ARG_BIND_TARGET];
    } else if (pl->ops[i] == OP_MOUNT) {
      root = a[ARG_MOUNT_ROOT], target = a[ARG_MOUNT_TARGET];
    } else if (pl->ops[i] == OP_MKDIR) {
      root = a[ARG_MKDIR_ROOT], target = a[ARG_MKDIR_PATH];
    } else {
      continue;
    }
    if (!*root) continue; /* host path, not inside a rootfs: nothing to prepare */
    int fd = open_in_root(root, target, 1, is_file);
    if (fd >= 0) close(fd);
  }
}

/* ------------------------------------------------------------------------------------------------ app process */

struct child_err {
  int err;
  char step[MAX_STEP];
};

/* Async-signal-safe: report a failed step to P through the exec-error pipe and exit. */
static void child_fail(int errfd, const char *step, int err) {
  struct child_err ce;
  memset(&ce, 0, sizeof(ce));
  ce.err = err;
  for (int i = 0; step[i] && i < MAX_STEP - 1; i++) ce.step[i] = step[i];
  (void)!write(errfd, &ce, sizeof(ce));
  _exit(127);
}

struct spawn_req {
  char *exe, *cwd;
  char **argv, **envp;
  int fds[MAX_FDS];
  int nfds;
  int stdio_idx[3]; /* index into fds for 0,1,2, or -1 to inherit */
  int nextra;       /* the last nextra fds go to 3, 4, ... */
};

/*
 * Runs in the forked app process. Only async-signal-safe calls (raw syscalls) until execve. Order:
 * signals → report host pid → fds → rlimits → bounding set → setgroups/setresgid/setresuid → capabilities
 * → no_new_privs → parent-death signal → chdir → seccomp filter → execve.
 */
static void app_child(const struct plan *pl, const struct spawn_req *rq, int errfd, int hostproc) {
  /* P blocks SIGCHLD (for signalfd) and ignores terminal signals; the app starts with defaults. */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGINT, SIG_DFL);
  signal(SIGQUIT, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGTERM, SIG_DFL);

  /* Our pid as wardend sees it: "self" in the host's procfs (opened before any namespace change) names it. */
  int hostpid = (int)syscall(SYS_getpid);
  if (hostproc >= 0) {
    char buf[32];
    ssize_t n = readlinkat(hostproc, "self", buf, sizeof(buf) - 1);
    if (n > 0) {
      int v = 0;
      for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (buf[i] - '0');
      if (v > 0) hostpid = v;
    }
  }
  if (write(errfd, &hostpid, sizeof(hostpid)) != sizeof(hostpid)) _exit(127);

  /* Move every fd we keep above the targets first, then dup2 into place (dup2 clears FD_CLOEXEC). */
  int base = 3 + rq->nextra + 16;
  errfd = fcntl(errfd, F_DUPFD_CLOEXEC, base);
  if (errfd < 0) _exit(127);
  int tmp[MAX_FDS];
  for (int i = 0; i < rq->nfds; i++) {
    tmp[i] = fcntl(rq->fds[i], F_DUPFD_CLOEXEC, base);
    if (tmp[i] < 0) child_fail(errfd, "dup_fds", errno);
  }
  for (int s = 0; s < 3; s++)
    if (rq->stdio_idx[s] >= 0 && dup2(tmp[rq->stdio_idx[s]], s) < 0) child_fail(errfd, "dup_stdio", errno);
  for (int i = 0; i < rq->nextra; i++)
    if (dup2(tmp[rq->nfds - rq->nextra + i], 3 + i) < 0) child_fail(errfd, "dup_fds", errno);
  /* Everything above the placed fds (the prototype's own, the tmp copies, anything inherited) ends at execve. */
  seal_fds(3 + rq->nextra, 1);

  for (int i = 0; i < pl->nrlimits; i++)
    if (setrlimit(pl->rlimits[i].resource, &pl->rlimits[i].lim) < 0) child_fail(errfd, "setrlimit", errno);

  if (pl->has_caps) {
    /* Drop from the bounding set every capability not kept, while we still have CAP_SETPCAP. */
    for (int c = 0; c <= 63; c++)
      if (!(pl->keep_caps & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
        child_fail(errfd, "capbset_drop", errno);
    /* Keep the permitted set across setresuid to a non-root uid, so the kept ones can be raised below. */
    if (pl->keep_caps && pl->uid != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) child_fail(errfd, "keepcaps", errno);
  }

  /* Credentials: groups first (needs CAP_SETGID), then gid, then uid (after which privileges are gone). Raw
   * syscalls: the libc wrappers synchronise all threads, which is pointless and not async-signal-safe. */
  if ((pl->cred_mode & CRED_SETGROUPS) && syscall(SYS_setgroups, pl->ngroups, pl->groups) < 0)
    child_fail(errfd, "setgroups", errno);
  if (pl->cred_mode & CRED_SETIDS) {
    if (syscall(SYS_setresgid, pl->gid, pl->gid, pl->gid) < 0) child_fail(errfd, "setgid", errno);
    if (syscall(SYS_setresuid, pl->uid, pl->uid, pl->uid) < 0) child_fail(errfd, "setuid", errno);
  }

  if (pl->has_caps) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    for (int i = 0; i < 2; i++) {
      data[i].effective = data[i].permitted = data[i].inheritable = (uint32_t)(pl->keep_caps >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0) child_fail(errfd, "capset", errno);
    /* Ambient capabilities survive execve of a non-setuid program by a non-root user. */
    if (pl->uid != 0)
      for (int c = 0; c <= 63; c++)
        if ((pl->keep_caps & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
          child_fail(errfd, "cap_ambient", errno);
  }

  if (pl->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(errfd, "no_new_privs", errno);
  /* Die with the prototype (setresuid above cleared any earlier parent-death signal). */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) child_fail(errfd, "pdeathsig", errno);
  if (rq->cwd && *rq->cwd && chdir(rq->cwd) < 0) child_fail(errfd, "chdir", errno);
  /* Last: the syscall filter (with no_new_privs), so that none of the steps above needs to be allowed by it. */
  if (seccomp_install() < 0) child_fail(errfd, "seccomp", errno);
  execve(rq->exe, rq->argv, rq->envp);
  child_fail(errfd, "execve", errno);
}

/* ------------------------------------------------------------------------------------------------ prototype */

struct proc {
  pid_t inner, host;
};

static struct proc *procs;
static int nprocs, capprocs;
static int pid_ns;

static void procs_add(pid_t inner, pid_t host) {
  if (nprocs == capprocs) {
    capprocs = capprocs ? capprocs * 2 : 16;
    procs = realloc(procs, (size_t)capprocs * sizeof(*procs));
    if (!procs) die("spawn", ENOMEM, "process table");
  }
  procs[nprocs].inner = inner;
  procs[nprocs].host = host;
  nprocs++;
}

/* Reaps every exited child (app processes and orphans re-parented to us) and reports app process exits. */
static void reap(void) {
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) return;
    for (int i = 0; i < nprocs; i++) {
      if (procs[i].inner != p) continue;
      if (WIFSIGNALED(st))
        emit("{\"ev\":\"exit\",\"pid\":%d,\"code\":null,\"signal\":%d}", procs[i].host, WTERMSIG(st));
      else
        emit("{\"ev\":\"exit\",\"pid\":%d,\"code\":%d,\"signal\":null}", procs[i].host, WEXITSTATUS(st));
      procs[i] = procs[--nprocs];
      break;
    }
  }
}

static void do_spawn(struct plan *pl, struct msg *m, int hostproc) {
  struct rec *r0 = &m->recs[0];
  struct spawn_req rq;
  memset(&rq, 0, sizeof(rq));
  long id = r0->n > 1 ? strtol(r0->s[1], NULL, 10) : -1;
  if (r0->n != 8 || m->nrec != 3) {
    emit_error("spawn_error", id, "spawn", EBADMSG, "malformed spawn command");
    goto out;
  }
  rq.exe = r0->s[2];
  rq.cwd = r0->s[3];
  rq.nfds = m->nfds;
  memcpy(rq.fds, m->fds, sizeof(int) * (size_t)m->nfds);
  for (int s = 0; s < 3; s++) {
    rq.stdio_idx[s] = atoi(r0->s[4 + s]);
    if (rq.stdio_idx[s] >= m->nfds) rq.stdio_idx[s] = -1;
  }
  rq.nextra = atoi(r0->s[7]);
  if (rq.nextra < 0 || rq.nextra > m->nfds || m->recs[1].n < 1) {
    emit_error("spawn_error", id, "spawn", EBADMSG, "bad fd count or empty argv");
    goto out;
  }
  rq.argv = m->recs[1].s;
  rq.envp = m->recs[2].s;

  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0) {
    emit_error("spawn_error", id, "pipe", errno, NULL);
    goto out;
  }
  pid_t pid = fork();
  if (pid < 0) {
    emit_error("spawn_error", id, "fork", errno, NULL);
    close(ep[0]);
    close(ep[1]);
    goto out;
  }
  if (pid == 0) {
    close(ep[0]);
    app_child(pl, &rq, ep[1], hostproc);
  }
  close(ep[1]);
  int hostpid = 0;
  struct child_err ce;
  int ok = read_full(ep[0], &hostpid, sizeof(hostpid));
  int r = ok > 0 ? read_full(ep[0], &ce, sizeof(ce)) : -1;
  close(ep[0]);
  if (ok <= 0 || r != 0) {
    /* The child failed before exec: it has exited; collect it here so it is never reported as an app exit. */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (r > 0) {
      ce.step[MAX_STEP - 1] = 0;
      emit_error("spawn_error", id, ce.step, ce.err, rq.exe);
    } else {
      emit_error("spawn_error", id, "fork", EIO, "app process died before exec");
    }
    goto out;
  }
  procs_add(pid, hostpid);
  emit("{\"ev\":\"spawned\",\"id\":%ld,\"pid\":%d,\"inner\":%d}", id, hostpid, pid);
out:
  for (int i = 0; i < m->nfds; i++) close(m->fds[i]);
}

/* wardend closed the control socket (close() or wardend died): kill every app process, then exit. */
/* SIGKILLs every child listed in /proc/self/task/<pid>/children (read whole, however long). */
static void kill_children(void) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) break;
    if (len + 1 >= cap) {
      char *more = realloc(buf, cap * 2);
      if (more == NULL) break;
      buf = more;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  if (buf != NULL) {
    buf[len] = 0;
    for (char *p = buf; *p;) {
      char *e;
      long v = strtol(p, &e, 10);
      if (e == p) break;
      if (v > 0) kill((pid_t)v, SIGKILL);
      p = e;
    }
    free(buf);
  }
}

/* Every descendant of a child subreaper: we get the orphans of each process we kill once it is gone, a generation at
 * a time. Kill our children, reap them, and again, until we have none (a chain of processes each the child of the one
 * before went one generation deep, and the rest outlived the app). Bounded in time. */
static void kill_descendants(void) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    kill_children();
    pid_t r;
    while ((r = waitpid(-1, NULL, WNOHANG)) > 0) {
    }
    if (r < 0 && errno == ECHILD) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec > 5) break;
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
  }
}

static void shutdown_all(void) {
  if (pid_ns) _exit(0); /* PID 1 exiting makes the kernel SIGKILL every process in the namespace. */
  for (int i = 0; i < nprocs; i++) kill(procs[i].inner, SIGKILL);
  kill_descendants();
  _exit(0);
}

static void prototype_main(struct plan *pl, pid_t helper_pid) {
  /* Die when the helper dies (it dies with wardend). In a new pid namespace getppid() is 0, so the check after
   * prctl only applies without one; EOF on the control socket is the backstop either way. */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (!pid_ns && getppid() != helper_pid) _exit(1);

  /* Before any namespace change: the host's procfs, to learn the host pid of each app process. Only needed with a
   * pid namespace (without one getpid() is the host pid); not kept otherwise, to expose as little as possible. */
  int hostproc = pid_ns ? open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;

  /* Wait until wardend has written the id maps and placed us in our cgroup. */
  struct msg rel;
  int rr = read_msg(CTL_FD, &rel);
  if (rr == 0) _exit(0);
  if (rr < 0) die("release", errno, NULL);
  if (rel.nrec < 1 || rel.recs[0].n < 1 || strcmp(rel.recs[0].s[0], "release") != 0) _exit(0);
  msg_free(&rel);

  if (pl->clone_flags & CLONE_NEWUSER) {
    /* Become root of the new user namespace when 0 is mapped (else stay the unmapped/own id): the ops below then
     * create files as that user. Capabilities in the namespace are full either way. */
    if (syscall(SYS_setresgid, 0, 0, 0) == 0) syscall(SYS_setresuid, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* cleared by the credential change */
  }
  if (!pid_ns) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); /* orphans of app processes come back to us */
  /* A session keyring of the app's own (KEYCTL_JOIN_SESSION_KEYRING = 1, anonymous), inherited by every process of the
   * app: not wardend's (whose keys it could read, change and add to, whatever its namespaces), nor another app's.
   * Refused (ENOSYS, a seccomp profile) it is not done. */
  syscall(SYS_keyctl, 1, NULL);

  /* The namespace-wide ops, in plan order (namespaces created after the release by `unshare` among them). */
  for (int i = 1; i < pl->m.nrec; i++) run_op(&pl->m.recs[i], pl->ops[i]);

  /* Not dumpable from now on: ptrace of the prototype and its /proc files then need capabilities in the host's user
   * namespace (where its mm was created), so an app that is root inside its user namespace cannot take it over (it
   * holds the host procfs fd and the control socket). App processes become dumpable again at execve. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd", errno, NULL);
  emit("{\"ev\":\"ready\",\"pidns\":%s}", pid_ns ? "true" : "false");

  for (;;) {
    struct pollfd pf[2] = {{CTL_FD, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll", errno, NULL);
    }
    if (pf[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof(si)) > 0) {
      }
      reap();
    }
    if (pf[0].revents) {
      struct msg m;
      int r = read_msg(CTL_FD, &m);
      if (r <= 0) shutdown_all();
      if (m.nrec >= 1 && m.recs[0].n >= 1 && !strcmp(m.recs[0].s[0], "spawn")) do_spawn(pl, &m, hostproc);
      else {
        for (int i = 0; i < m.nfds; i++) close(m.fds[i]);
        emit_error("error_nonfatal", -1, "command", EINVAL, "unknown command");
      }
      msg_free(&m);
      reap();
    }
  }
}

/* ------------------------------------------------------------------------------------------------ helper (H) */

static pid_t clone_prototype(unsigned long long flags) {
  /* clone3 when available (it takes every CLONE_NEW* flag; clone() has no room for the newest); fork-like: no new
   * stack. The flags are the plan's, as they are: namespaces that must be made later come as `unshare` ops. */
  struct clone_args ca;
  memset(&ca, 0, sizeof(ca));
  ca.flags = flags;
  ca.exit_signal = SIGCHLD;
  long p = syscall(SYS_clone3, &ca, sizeof(ca));
  if (p < 0 && errno == ENOSYS) p = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
  return (pid_t)p;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--version")) {
    printf("warden-spawn 1\n");
    return 0;
  }
  pid_t wardend = getppid();
  /* Die with wardend (the thread that spawned us). If it is already gone, stop now. */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != wardend) return 1;
  /* `--setsid` (wardend's apps): a session and process group of our own, inherited by the prototype and every app
   * process, so that Ctrl-C on the terminal running wardend (SIGINT to its foreground process group) reaches only
   * wardend, which stops the apps gracefully. Without it (warden-isolate) terminal signals reach the app directly
   * (same process group); the helper and prototype ignore them. */
  if (argc > 1 && !strcmp(argv[1], "--setsid")) setsid();
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);
  fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
  /* Keep only stdio and our two channels: every other fd wardend's Node process let us inherit goes now, before
   * the prototype (and every app process it forks) could inherit it too. */
  const char *sweep = getenv("WARDEN_SPAWN_FD_SWEEP");
  if (sweep && !strcmp(sweep, "proc")) sweep_mode = SWEEP_PROC;
  if (sweep && !strcmp(sweep, "rlimit")) sweep_mode = SWEEP_RLIMIT;
  seal_fds(STATUS_FD + 1, 0);

  struct plan pl;
  memset(&pl, 0, sizeof(pl));
  int r = read_msg(CTL_FD, &pl.m);
  if (r == 0) return 0;
  if (r < 0) die("plan", errno, "reading the spawn plan");
  parse_plan(&pl);
  pid_ns = (pl.clone_flags & CLONE_NEWPID) != 0;

  prepare_mount_points(&pl);
  /* Without a pid namespace the prototype may die before its processes (an app running as the prototype's own host
   * uid can kill it): what it leaves then comes back to us, and goes with us, instead of to the host's init. */
  if (!pid_ns) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  pid_t self = getpid();
  pid_t p = clone_prototype(pl.clone_flags);
  if (p < 0) die("clone", errno, NULL);
  if (p == 0) {
    prototype_main(&pl, self);
    _exit(0);
  }
  emit("{\"ev\":\"cloned\",\"pid\":%d}", (int)p);
  close(CTL_FD);
  close(STATUS_FD);
  int st;
  while (waitpid(p, &st, 0) < 0) {
    if (errno != EINTR) return 1;
  }
  if (!pid_ns) kill_descendants();
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WEXITSTATUS(st);
}
