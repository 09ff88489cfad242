import { readFileSync } from 'fs';
import type { Socket } from 'net';
import type { HttpSettings } from './compiled-config';
import type { RouterLogger } from './ports';

/**
 * The soft RLIMIT_NOFILE of this process, or null when it cannot be read. Node has no getrlimit binding; the
 * process's own `/proc/self/limits` gives the limit in force now (after Node raised its soft limit to the hard one
 * at start, and after an operator lowered it with `prlimit --pid`), with no child process (`ulimit -n` in a shell
 * would cost a spawn per apply and report the shell's limit). "unlimited" counts as no limit.
 */
export function readOpenFilesLimit(path = '/proc/self/limits'): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (m === null) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * Descriptors kept out of the connection limit for everything else wardend opens: the control socket and its
 * clients, app processes (a doorbell, output pipes and, while spawning, the child's pipes), prototypes, the access
 * log, certificates, static files. An eighth of the limit, at least 128 and at most 8192.
 */
export function reservedDescriptors(nofile: number): number {
  return Math.min(8192, Math.max(128, Math.floor(nofile / 8)));
}

/**
 * The default `max_connections`: what the fd limit leaves after the reserve, halved when some action proxies (a
 * proxied request holds an upstream connection beside the client's). Infinity when the limit is unknown; at least 1.
 */
export function defaultMaxConnections(nofile: number | null, proxies: boolean): number {
  if (nofile === null) return Infinity;
  const usable = Math.max(1, nofile - reservedDescriptors(nofile));
  return Math.max(1, Math.floor(proxies ? usable / 2 : usable));
}

/** Back-off after an accept failed for want of descriptors: first step, and the longest. */
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

/**
 * Client connections of all listeners of a router, against `max_connections`. A connection over the limit is closed
 * at once (as nginx does when `worker_connections` are used up), which keeps the reserve free for the control API
 * and app spawning; the first one of an episode logs a warning, and the next warning waits until the count fell
 * below 90 % of the limit. An accept that failed with EMFILE/ENFILE (descriptors taken by something else) starts a
 * back-off: for 100 ms, doubling up to 5 s while failures repeat, new connections are closed as if at the limit.
 * (Node offers no way to stop accepting on a listening socket short of closing it; libuv's accept loop itself does
 * not spin on EMFILE: it closes its reserved descriptor, accepts and closes the waiting connections, and reopens it.)
 */
export class ConnectionLimit {
  private open = 0;
  private max = Infinity;
  private warned = false;
  private backoffUntil = 0;
  private backoffMs = 0;
  private emfileWarned = false;
  /** Connections closed because of the limit or a back-off (for tests and status). */
  refused = 0;

  constructor(private readonly log: RouterLogger) {}

  /** The limit in force. */
  get limit(): number {
    return this.max;
  }

  /** Takes `max_connections`, or derives it from the current fd limit. */
  configure(s: HttpSettings): void {
    const nofile = s.maxConnections === null ? readOpenFilesLimit() : null;
    this.max = s.maxConnections ?? defaultMaxConnections(nofile, s.proxies);
  }

  /** Counts an accepted connection, or closes it (false) when the limit is reached or accepting backs off. */
  admit(sock: Socket): boolean {
    if (this.open >= this.max) {
      if (!this.warned) {
        this.warned = true;
        this.log.warn(
          { max_connections: this.max, nofile: readOpenFilesLimit() },
          `connection limit reached: ${this.max} client connections are open; new ones are closed until some end (settings.http.max_connections)`,
        );
      }
      return this.refuse(sock);
    }
    if (this.backoffUntil !== 0) {
      if (Date.now() < this.backoffUntil) return this.refuse(sock);
      this.backoffUntil = 0;
    }
    this.open++;
    sock.on('close', this.release); // 'close' comes once: `once` would add a wrapper per connection
    return true;
  }

  private refuse(sock: Socket): false {
    this.refused++;
    sock.destroy();
    return false;
  }

  private readonly release = (): void => {
    this.open--;
    if (this.warned && this.open < this.max * 0.9) {
      this.warned = false;
      this.log.info({ open: this.open, max_connections: this.max }, 'client connections are below the limit again');
    }
  };

  /**
   * A listener reported an error; true when it was an accept that failed for want of descriptors (handled here:
   * logged once per episode, accepting backs off), false for any other error.
   */
  acceptFailed(err: NodeJS.ErrnoException): boolean {
    if (err.code !== 'EMFILE' && err.code !== 'ENFILE') return false;
    const now = Date.now();
    const repeated = now < this.backoffUntil + BACKOFF_MAX_MS;
    this.backoffMs = repeated && this.backoffMs > 0 ? Math.min(BACKOFF_MAX_MS, this.backoffMs * 2) : BACKOFF_MIN_MS;
    this.backoffUntil = now + this.backoffMs;
    if (!this.emfileWarned || !repeated) {
      this.emfileWarned = true;
      this.log.warn(
        { code: err.code, open: this.open, max_connections: this.max, nofile: readOpenFilesLimit(), backoff_ms: this.backoffMs },
        'out of file descriptors while accepting a connection: new connections are closed for a while',
      );
    }
    return true;
  }
}
