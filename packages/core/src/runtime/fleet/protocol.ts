/**
 * The messages between wardend's main process and its router processes (packages/core/README.md "Process model").
 * JSON messages go over the Node IPC channel of each router; file descriptors (listeners, the access log, the app
 * ends of channels) go over a SOCK_SEQPACKET FdSocket beside it, each with a small JSON payload naming what it is.
 * A message that refers to fds is sent after them, and the receiver drains the FdSocket before acting on it.
 */

/** Process-count policy a router needs to dispatch (the rest of the pool policy stays in main). */
export interface RouterPoolPolicy {
  /** `processes.max`: the router asks main for another process while it has fewer and all are busy. */
  max: number;
  /** `processes.spare`: below `max`, the router also asks for one while fewer than this many are idle or starting. */
  spare: number;
  /** `limits.timeout` in ms (0 = none): 503 when the app has not answered. */
  timeoutMs: number;
  /** `limits.requests` (0 = none): a router stops sending to a process that served this many and tells main. */
  maxRequests: number;
  /** Longest wait for a process before a request gets 503. */
  waitMs: number;
  /** A stalled process is reported for replacement after this long. */
  healthDeadlineMs: number;
}

/** Main → router. */
export type MainMessage =
  | {
      op: 'config';
      id: number;
      change: number;
      config: unknown;
      certificates: Record<string, { key: string | Buffer; cert: string | Buffer }>;
      /** Texts of the modules `settings.js_module` names (absent from an older main: none). */
      jsModules?: Record<string, string>;
      now?: boolean;
      apps?: Record<string, number>;
    }
  | { op: 'commit'; id: number; change: number; apps: Record<string, number> }
  | { op: 'rollback'; id: number; change: number }
  | { op: 'apps'; apps: Record<string, number> }
  | { op: 'pool'; pool: number; app: string; policy: RouterPoolPolicy }
  | { op: 'pool-closed'; pool: number }
  | { op: 'pool-failed'; pool: number }
  | { op: 'open-channel'; token: number; pool: number }
  /** Open a channel ahead of time, for a process not started yet (its fds come back as `channel` with this token). */
  | { op: 'spare-channel'; token: number }
  /** The spare channel `spare` goes to process `token` of `pool`, which main is about to start with it. */
  | { op: 'bind-channel'; spare: number; token: number; pool: number }
  | { op: 'process'; token: number; pid: number }
  | { op: 'retire'; token: number }
  | { op: 'gone'; token: number; reason: string }
  | { op: 'status'; id: number }
  | { op: 'reopen-logs'; id: number }
  /** Answered once the router acted on every fd message sent before it (a barrier: the metrics listener's handover). */
  | { op: 'sync'; id: number }
  | { op: 'stop'; graceMs: number }
  | { op: 'observed'; id: number; status: number; contentType: string; body: string };

/** Per-process activity a router reports (only processes whose numbers changed since the last report). */
export interface ProcessActivity {
  token: number;
  inflight: number;
  /** Requests this router sent to it in all. */
  served: number;
  /** When its last request on this router finished (ms since the epoch). */
  idleSince: number;
  stalled: boolean;
  ringFullWaits: number;
  creditWaits: number;
}

/** Router → main. */
export type RouterMessage =
  | { op: 'up'; pid: number; uid: number; gid: number }
  /** Sent when the router has sent nothing else for a second: its event loop turns (main's watchdog, router-link.ts). */
  | { op: 'alive' }
  | { op: 'answer'; id: number; ok: true; value?: unknown }
  | {
      op: 'answer';
      id: number;
      ok: false;
      error: { message: string; code?: string; path?: string; errno?: number; address?: string; port?: number; kind: 'config' | 'apply' };
    }
  | { op: 'listen'; id: number; key: string }
  | { op: 'open-log'; id: number; path: string }
  | { op: 'channel-ready'; token: number }
  | { op: 'channel-failed'; token: number; message: string; code?: string }
  | { op: 'demand'; pool: number }
  | { op: 'replace'; token: number; why: 'stalled' | 'protocol' | 'requests' }
  | { op: 'activity'; processes: ProcessActivity[] }
  | { op: 'observe'; id: number; method: string; path: string }
  | { op: 'counters'; connections: { accepted: number; active: number; idle: number; closed: number }; total: number; metrics?: unknown };

/** Payload of an FdSocket message (the fds ride with it). */
export type FdMessage =
  | { op: 'listener'; id: number; ok: true }
  | { op: 'listener'; id: number; ok: false; error: { message: string; code?: string; errno?: number; syscall?: string; address?: string; port?: number } }
  | { op: 'log'; id: number; ok: boolean; message?: string; code?: string }
  | { op: 'channel'; token: number }
  /** The metrics listener's socket (with one fd), or none any more (no fd). */
  | { op: 'metrics' };

/** A main → router message that is a request (answered with `answer`). */
export type MainRequest = Extract<MainMessage, { id: number }>;
