/*
 * child-ops.h: the child op vocabulary of warden-spawn. GENERATED from CHILD_OPS in
 * packages/core/src/contracts/child-ops.ts by packages/ns-linux/scripts/child-ops-header.js: do not edit here
 * (test/child-ops-header.test.ts fails when this file is stale).
 *
 * An op record on the wire is [name, arg...]; ARG_<OP>_<NAME> is the index of an argument in it. Values are
 * strings: uint in decimal, limit a uint or "inf", bool "1"/"0".
 */
#ifndef WARDEN_CHILD_OPS_H
#define WARDEN_CHILD_OPS_H

/* Where an op runs: once in the prototype (in plan order), or in every app process (in the helper's order). */
enum op_runs { RUNS_PROTOTYPE, RUNS_PROCESS };

enum child_op {
  OP_MAKE_RPRIVATE, /* mount(NULL, "/", MS_REC|MS_PRIVATE): no mount events cross to or from the host */
  OP_MOUNT, /* mount(2) a filesystem at `target` */
  OP_BIND, /* bind-mount (recursive) host path `source` at `target`; read-only by a second remount that keeps the locked flags */
  OP_MKDIR, /* create a directory and its parents */
  OP_PIVOT_ROOT, /* pivot_root(".", ".") in `root`, then the old root detached */
  OP_CHROOT, /* chroot(2), without a mount namespace (as Unit) */
  OP_SETHOSTNAME, /* sethostname(2) */
  OP_LOOPBACK_UP, /* SIOCSIFFLAGS IFF_UP on "lo" (a new network namespace starts with it down) */
  OP_UNSHARE, /* unshare(2): a namespace created after the release, whose first members are the app processes (CLONE_NEWCGROUP rooted at the cgroup wardend placed the prototype in; CLONE_NEWTIME, whose offsets can be written until a process enters it) */
  OP_WRITE_FILE, /* open an existing file and write `data` with one write(2), as /proc files such as timens_offsets require */
  OP_RLIMIT, /* setrlimit(2), before privileges are dropped */
  OP_NO_NEW_PRIVS, /* prctl(PR_SET_NO_NEW_PRIVS) */
  OP_CAPS, /* keep only these capabilities (bounding, permitted, effective, inheritable; ambient for a non-root uid) */
  OP_SECCOMP, /* install a seccomp filter, the last step before execve (with no_new_privs) */
  OP_COUNT
};

/* mount */
#define ARG_MOUNT_ROOT 1 /* string: rootfs the target is resolved in (openat2 RESOLVE_IN_ROOT, missing parts created); "" = host path */
#define ARG_MOUNT_TARGET 2 /* string: mount point */
#define ARG_MOUNT_SOURCE 3 /* string: source (device, "proc", "tmpfs", ...) */
#define ARG_MOUNT_FSTYPE 4 /* string: filesystem type */
#define ARG_MOUNT_FLAGS 5 /* uint: MS_* flags */
#define ARG_MOUNT_DATA 6 /* string: mount data, e.g. "size=1m,mode=1777" */
/* bind */
#define ARG_BIND_ROOT 1 /* string: rootfs the target is resolved in (openat2 RESOLVE_IN_ROOT, missing parts created); "" = host path */
#define ARG_BIND_TARGET 2 /* string: mount point (a file when `source` is one) */
#define ARG_BIND_SOURCE 3 /* string: host path */
#define ARG_BIND_READONLY 4 /* bool: remount read-only */
/* mkdir */
#define ARG_MKDIR_ROOT 1 /* string: rootfs the target is resolved in (openat2 RESOLVE_IN_ROOT, missing parts created); "" = host path */
#define ARG_MKDIR_PATH 2 /* string: directory */
/* pivot_root */
#define ARG_PIVOT_ROOT_ROOT 1 /* string: the new root (a mount point) */
/* chroot */
#define ARG_CHROOT_ROOT 1 /* string: the new root */
/* sethostname */
#define ARG_SETHOSTNAME_HOSTNAME 1 /* string: host name */
/* unshare */
#define ARG_UNSHARE_FLAGS 1 /* uint: CLONE_NEW* flags */
/* write_file */
#define ARG_WRITE_FILE_PATH 1 /* string: file */
#define ARG_WRITE_FILE_DATA 2 /* string: contents */
/* rlimit */
#define ARG_RLIMIT_RESOURCE 1 /* uint: RLIMIT_* number */
#define ARG_RLIMIT_SOFT 2 /* limit: soft limit ("inf" = unlimited) */
#define ARG_RLIMIT_HARD 3 /* limit: hard limit ("inf" = unlimited) */
/* caps */
#define ARG_CAPS_KEEP 1 /* uint: capability bit mask */
/* seccomp */
#define ARG_SECCOMP_FILTER 1 /* string: classic BPF program, 16 hex digits per instruction (code, jt, jf, k) */

static const struct child_op_def {
  const char *name;
  int nargs;
  enum op_runs runs;
} CHILD_OP_DEFS[OP_COUNT] = {
  [OP_MAKE_RPRIVATE] = {"make_rprivate", 0, RUNS_PROTOTYPE},
  [OP_MOUNT] = {"mount", 6, RUNS_PROTOTYPE},
  [OP_BIND] = {"bind", 4, RUNS_PROTOTYPE},
  [OP_MKDIR] = {"mkdir", 2, RUNS_PROTOTYPE},
  [OP_PIVOT_ROOT] = {"pivot_root", 1, RUNS_PROTOTYPE},
  [OP_CHROOT] = {"chroot", 1, RUNS_PROTOTYPE},
  [OP_SETHOSTNAME] = {"sethostname", 1, RUNS_PROTOTYPE},
  [OP_LOOPBACK_UP] = {"loopback_up", 0, RUNS_PROTOTYPE},
  [OP_UNSHARE] = {"unshare", 1, RUNS_PROTOTYPE},
  [OP_WRITE_FILE] = {"write_file", 2, RUNS_PROTOTYPE},
  [OP_RLIMIT] = {"rlimit", 3, RUNS_PROCESS},
  [OP_NO_NEW_PRIVS] = {"no_new_privs", 0, RUNS_PROCESS},
  [OP_CAPS] = {"caps", 1, RUNS_PROCESS},
  [OP_SECCOMP] = {"seccomp", 1, RUNS_PROCESS},
};

#endif
