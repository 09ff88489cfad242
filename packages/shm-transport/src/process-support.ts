import { getSystemErrorName } from 'util';
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
    const code = typeof err.errno === 'number' ? getSystemErrorName(-err.errno) : 'EINVAL';
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
