/**
 * Warden's `default` seccomp profile: the system calls a Go or Node server (and the programs they start) needs.
 * It starts from the calls Docker's default profile allows to a container without extra capabilities
 * (moby/profiles seccomp/default_linux.go) and differs where the README's "seccomp" section says why. Names are
 * the kernel's; a name missing from an architecture's table (e.g. `open` on aarch64) is skipped for it.
 */

/** Allowed without looking at arguments. */
export const DEFAULT_ALLOWED: readonly string[] = [
  // Files and directories.
  'access', 'chdir', 'chmod', 'chown', 'close', 'close_range', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3',
  'faccessat', 'faccessat2', 'fadvise64', 'fallocate', 'fchdir', 'fchmod', 'fchmodat', 'fchmodat2', 'fchown',
  'fchownat', 'fcntl', 'fdatasync', 'file_getattr', 'file_setattr', 'flock', 'fstat', 'fstatfs', 'fsync',
  'ftruncate', 'futimesat', 'getcwd', 'getdents', 'getdents64', 'lchown', 'link', 'linkat', 'lseek', 'lstat',
  'mkdir', 'mkdirat', 'mknod', 'mknodat', 'name_to_handle_at', 'newfstatat', 'open', 'openat', 'openat2',
  'pread64', 'preadv', 'preadv2', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat',
  'readv', 'rename', 'renameat', 'renameat2', 'rmdir', 'sendfile', 'splice', 'stat', 'statfs', 'statx', 'symlink',
  'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'tee', 'truncate', 'umask', 'unlink', 'unlinkat', 'utime',
  'utimensat', 'utimes', 'vmsplice', 'write', 'writev', 'cachestat', 'statmount', 'listmount',
  // Extended attributes.
  'fgetxattr', 'flistxattr', 'fremovexattr', 'fsetxattr', 'getxattr', 'getxattrat', 'lgetxattr', 'listxattr',
  'listxattrat', 'llistxattr', 'lremovexattr', 'lsetxattr', 'removexattr', 'removexattrat', 'setxattr', 'setxattrat',
  // Events, polling, timers.
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait',
  'epoll_wait_old', 'eventfd', 'eventfd2', 'pipe', 'pipe2', 'fanotify_mark', 'inotify_add_watch', 'inotify_init', 'inotify_init1',
  'inotify_rm_watch', 'pause', 'poll', 'ppoll', 'pselect6', 'select', 'signalfd', 'signalfd4', 'timerfd_create',
  'timerfd_gettime', 'timerfd_settime', 'alarm', 'getitimer', 'setitimer', 'timer_create', 'timer_delete',
  'timer_getoverrun', 'timer_gettime', 'timer_settime', 'nanosleep', 'clock_nanosleep', 'clock_getres',
  'clock_gettime', 'gettimeofday', 'time', 'times', 'adjtimex', 'clock_adjtime',
  // Asynchronous I/O (not io_uring: see the README).
  'io_cancel', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_setup', 'io_submit', 'ioctl', 'ioprio_get',
  'ioprio_set',
  // Memory.
  'brk', 'madvise', 'map_shadow_stack', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mlock', 'mlock2',
  'mlockall', 'mmap', 'mprotect', 'mremap', 'mseal', 'msync', 'munlock', 'munlockall', 'munmap', 'pkey_alloc',
  'pkey_free', 'pkey_mprotect', 'remap_file_pages',
  // Sockets (socket itself is checked by family, see SOCKET_FAMILIES).
  'accept', 'accept4', 'bind', 'connect', 'getpeername', 'getsockname', 'getsockopt', 'listen', 'recvfrom',
  'recvmmsg', 'recvmsg', 'sendmmsg', 'sendmsg', 'sendto', 'setsockopt', 'shutdown', 'socketpair',
  // Processes, threads, signals (clone is checked by flags, see CLONE_NAMESPACE_FLAGS).
  'execve', 'execveat', 'exit', 'exit_group', 'fork', 'vfork', 'wait4', 'waitid', 'kill', 'tgkill', 'tkill',
  'pidfd_open', 'pidfd_send_signal', 'process_mrelease', 'restart_syscall', 'rseq', 'set_robust_list',
  'get_robust_list', 'set_tid_address', 'gettid', 'getpid', 'getppid', 'getpgid', 'getpgrp', 'getsid', 'setpgid',
  'setsid', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend',
  'rt_sigtimedwait', 'rt_tgsigqueueinfo', 'sigaltstack', 'futex', 'futex_requeue', 'futex_wait', 'futex_waitv',
  'futex_wake', 'arch_prctl', 'get_thread_area', 'set_thread_area', 'prctl', 'seccomp', 'landlock_add_rule',
  'landlock_create_ruleset', 'landlock_restrict_self', 'uretprobe',
  // Scheduling and resources.
  'getcpu', 'getpriority', 'setpriority', 'getrlimit', 'setrlimit', 'prlimit64', 'getrusage', 'sched_getaffinity',
  'sched_getattr', 'sched_getparam', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_getscheduler',
  'sched_rr_get_interval', 'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler',
  'sched_yield', 'sysinfo', 'uname', 'getrandom',
  // Credentials (the kernel still checks privileges; a non-root app cannot gain any).
  'capget', 'capset', 'getegid', 'geteuid', 'getgid', 'getgroups', 'getresgid', 'getresuid', 'getuid', 'setfsgid',
  'setfsuid', 'setgid', 'setgroups', 'setregid', 'setresgid', 'setresuid', 'setreuid', 'setuid',
  // System V IPC and POSIX message queues (namespaced by `ipc`).
  'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedsend', 'mq_unlink', 'msgctl', 'msgget',
  'msgrcv', 'msgsnd', 'semctl', 'semget', 'semop', 'semtimedop', 'shmat', 'shmctl', 'shmdt', 'shmget',
];

/** `clone` is allowed only without these CLONE_NEW* flags (namespaces: NS, CGROUP, UTS, IPC, USER, PID, NET). */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** `personality` is allowed only for these values, as in Docker: PER_LINUX, PER_LINUX32, UNAME26 (alone and with
 * PER_LINUX32) and 0xffffffff (query the current one). */
export const PERSONALITY_VALUES: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** `socket` is allowed only for these address families: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK. */
export const SOCKET_FAMILIES: readonly number[] = [1, 2, 10, 16];

/**
 * Calls `deny` may not list: without them no program can start or end (execve is the filter's last allowed step
 * before the app runs; exit/exit_group end it; rt_sigreturn/restart_syscall return from signal handlers).
 */
export const ESSENTIAL: readonly string[] = ['execve', 'exit', 'exit_group', 'rt_sigreturn', 'restart_syscall'];
