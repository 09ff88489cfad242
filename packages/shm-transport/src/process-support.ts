import { closeSync, openSync } from 'fs';
import { Socket } from 'net';
import { constants } from 'os';
import { errnoName } from './internal/errno';
import { native } from './internal/native';

/** Where a listener socket is bound: an IP address and port, or a unix socket path. */
export type ListenAddress = { host: string; port: number; backlog?: number; ipv6Only?: boolean; reusePort?: boolean } | { path: string; backlog?: number };

/** A listener socket bound by {@link listenSocket}: its fd and the port really bound (0 for a unix socket). */
export interface BoundSocket {
  fd: number;
  port: number;
}

/**
 * Binds and listens without accepting: a non-blocking, close-on-exec stream socket that another process (wardend's
 * routers, which get the fd) accepts on. TCP listeners get SO_REUSEADDR as libuv's do, IPV6_V6ONLY as asked, and
 * SO_REUSEPORT with `reusePort` (one socket per acceptor; bench/listen-balance.js compares the two ways).
 * Throws an error shaped like Node's listen errors: `code` (`EADDRINUSE`, `EACCES`, ...), negative `errno`, `syscall`,
 * `address` and `port`. Close the fd with `fs.closeSync`; a unix socket's path is the caller's to remove.
 */
export function listenSocket(addr: ListenAddress): BoundSocket {
  try {
    return native().listenSocket(addr);
  } catch (e) {
    const err = e as Error & { errno?: number; syscall?: string };
    const code = typeof err.errno === 'number' ? errnoName(err.errno) : 'EINVAL';
    const where = 'path' in addr ? addr.path : `${addr.host}:${addr.port}`;
    throw Object.assign(new Error(`${err.syscall ?? 'listen'} ${code} ${where}`), {
      code,
      errno: typeof err.errno === 'number' ? -err.errno : undefined,
      syscall: err.syscall ?? 'listen',
      address: 'path' in addr ? addr.path : addr.host,
      port: 'path' in addr ? undefined : addr.port,
    });
  }
}

/**
 * Sets no_new_privs (no later exec can gain privileges: setuid binaries, file capabilities) and makes the process not
 * dumpable (no ptrace attach or /proc/PID/mem by another process of the same uid, no core dump). wardend's routers
 * call it right after dropping root. Irreversible.
 */
export function hardenProcess(): void {
  native().hardenProcess();
}

/** A user of the host's database, as getpwnam(3) gives it. */
export interface HostUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** A group of the host's database, as getgrnam(3) gives it. */
export interface HostGroup {
  name: string;
  gid: number;
  members: string[];
}

/** The host's user database, asked in-process (see {@link hostUserDatabase}). */
export interface HostUserDatabase {
  /** The user of that name, or of that uid when `key` is all digits (as getent takes keys); undefined if none. */
  user(key: string): HostUser | undefined;
  /** The group of that name, or of that gid when `key` is all digits; undefined if none. */
  group(key: string): HostGroup | undefined;
  /** getgrouplist(user, gid): `gid` and the gids of every group that lists `user`. */
  groupsOf(user: string, gid: number): number[];
}

const isId = (key: string): boolean => /^\d+$/.test(key) && Number(key) <= 0xffffffff;

/**
 * The host's user database through NSS, asked in this process as Unit asks it (getpwnam_r, getgrnam_r and
 * getgrouplist in native/users.cc): every source nsswitch.conf names (files, LDAP, sssd, systemd) answers, in
 * microseconds for local files, with no process started per lookup. Each call asks NSS again (its own caches, nscd or
 * sssd's, apply). A lookup that fails for another reason than "not found" (an unreachable LDAP server: EIO) throws
 * with `errno` and `syscall`. Undefined when the loaded native addon predates these calls.
 */
export function hostUserDatabase(): HostUserDatabase | undefined {
  const n = native();
  const { lookupUser, lookupGroup, groupList } = n;
  if (!lookupUser || !lookupGroup || !groupList) return undefined;
  const key = (k: string): string | number => (isId(k) ? Number(k) : k);
  return {
    user: (k) => lookupUser.call(n, key(k)) ?? undefined,
    group: (k) => lookupGroup.call(n, key(k)) ?? undefined,
    groupsOf: (user, gid) => [...new Set([gid, ...groupList.call(n, user, gid)])],
  };
}

/** What {@link spawnProcess} starts. */
export interface SpawnOptions {
  /** The executable: with a `/`, used as it is (relative to `cwd`); without, searched in `env.PATH` as execvp does. */
  file: string;
  /** The whole argv, argv[0] included. */
  argv: string[];
  env: Record<string, string>;
  /** Working directory (default: wardend's). */
  cwd?: string;
  /** Credentials to switch to (root only). */
  uid?: number;
  gid?: number;
  /** Supplementary groups set with `uid` (Unit sets the user's: getgrouplist); without, none (as libuv does). */
  groups?: number[];
  /** A session of its own (setsid), so that a terminal's Ctrl-C does not reach it. */
  setsid?: boolean;
  /**
   * A new anonymous session keyring (keyctl JOIN_SESSION_KEYRING), joined after the credential change: the process
   * does not possess the caller's session keyring (whose keys, a systemd service's say, it could otherwise read and
   * change). Ignored where keyctl is refused (a container's seccomp profile).
   */
  newSessionKeyring?: boolean;
  /** stdin: an open fd to read from (default /dev/null). */
  stdin?: number;
  /** stdout and stderr: an open fd to write to (a log file), or 'pipe' (read them from `stdout`/`stderr`). */
  stdout: number | 'pipe';
  stderr: number | 'pipe';
  /** Inherited at 3, 4, ... (each must be open). */
  fds?: number[];
}

/** A process started by {@link spawnProcess}. */
export interface SpawnedProcess {
  readonly pid: number;
  /** Resolves when it exited (it is reaped then): `code` for an exit, `signal` for a kill. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The read ends of 'pipe' outputs (unix stream sockets, as libuv gives a ChildProcess). */
  readonly stdout: Socket | null;
  readonly stderr: Socket | null;
  /** The watch on the exit no longer keeps the event loop alive (as ChildProcess.unref). */
  unref(): void;
}

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/**
 * Starts a process without fork(): clone(CLONE_VM | CLONE_VFORK) and exec, as glibc's posix_spawn does, plus the
 * setgid/setuid posix_spawn cannot do (native/spawn.cc). The caller waits only until the child exec'd, about 0.6 ms
 * whatever the caller's size, where child_process.spawn's fork() copies every page table of the caller first (5-9 ms
 * in wardend's main process on a 2-core VM). Signal dispositions are reset and the mask emptied in the child; fds
 * other than `fds` are not inherited (Node opens everything close-on-exec). The exit is watched on a pidfd (a poll
 * that keeps the event loop alive, as a ChildProcess does, until `unref()`) and the process reaped when it comes.
 *
 * Throws like child_process's 'error' event: `code` (`ENOENT`, `EACCES`, ...), negative `errno`, `syscall` (the step
 * that failed: `execve`, `chdir`, `setuid`, ...), `path`.
 */
export function spawnProcess(opts: SpawnOptions): SpawnedProcess {
  const n = native();
  const devNull = openSync('/dev/null', 'r');
  const opened: number[] = [devNull]; // closed here once the child has its copies
  const ours: Array<number | null> = [null, null]; // our ends of the 'pipe' outputs
  let r: { pid: number; pidfd: number };
  try {
    const out = (which: 0 | 1, o: number | 'pipe'): number => {
      if (o !== 'pipe') return o;
      const [mine, theirs] = n.socketpair();
      ours[which] = mine;
      opened.push(theirs);
      return theirs;
    };
    const fds = [opts.stdin ?? devNull, out(0, opts.stdout), out(1, opts.stderr), ...(opts.fds ?? [])];
    r = n.spawnProcess({
      file: opts.file,
      argv: opts.argv,
      env: Object.entries(opts.env).map(([k, v]) => `${k}=${v}`),
      cwd: opts.cwd,
      uid: opts.uid,
      gid: opts.gid,
      groups: opts.groups,
      setsid: opts.setsid === true,
      newSessionKeyring: opts.newSessionKeyring === true,
      fds,
    });
  } catch (e) {
    for (const fd of ours) if (fd !== null) closeSync(fd);
    const err = e as Error & { errno?: number; syscall?: string };
    const code = typeof err.errno === 'number' ? errnoName(err.errno) : 'EINVAL';
    const step = err.syscall ?? 'spawn';
    throw Object.assign(new Error(`spawn ${opts.file}${step === 'execve' ? '' : ` (${step})`} ${code}`), {
      code,
      errno: typeof err.errno === 'number' ? -err.errno : undefined,
      syscall: step,
      path: opts.file,
    });
  } finally {
    for (const fd of opened) closeSync(fd);
  }
  const { pid, pidfd } = r;
  const reader = (fd: number | null): Socket | null => (fd === null ? null : new Socket({ fd, readable: true, writable: false }));
  let poll: { ref(): void; unref(): void; stop(): void } | null = null;
  let timer: NodeJS.Timeout | null = null;
  let referenced = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const check = (): void => {
      const st = n.reapProcess(pid);
      if (st === null) return; // still running (the pidfd is readable only once it exited)
      poll?.stop();
      if (timer !== null) clearInterval(timer);
      closeSync(pidfd);
      resolve({ code: st.code, signal: st.signal === 0 ? null : (signalNames.get(st.signal) ?? null) });
    };
    // Should polling the pidfd fail (never seen: epoll takes pidfds), the exit is checked ten times a second.
    const fallBack = (): void => {
      poll?.stop();
      poll = null;
      timer = setInterval(check, 100);
      if (!referenced) timer.unref();
    };
    try {
      poll = new n.FdPoll(pidfd, (status) => {
        if (status < 0 && timer === null) fallBack();
        check();
      });
    } catch {
      fallBack();
    }
  });
  return {
    pid,
    exited,
    stdout: reader(ours[0]),
    stderr: reader(ours[1]),
    unref() {
      referenced = false;
      poll?.unref();
      timer?.unref();
    },
  };
}
