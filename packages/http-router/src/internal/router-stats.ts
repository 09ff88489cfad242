import type { ConnState } from './listener-entry';

/** Unit's `/status` connection and request counters. */
export interface RouterStats {
  connections: { accepted: number; active: number; idle: number; closed: number };
  requests: { total: number };
}

/**
 * What the router knows when a request's response is complete (or the request ended without one): the one place a
 * per-request observer (metrics) hooks onto. Reused for every request: copy what you keep.
 */
export interface CompletedRequest {
  /** The listener's name as written in the config. */
  listener: string;
  /** The status sent (0: none, the connection was dropped). */
  status: number;
  /** The application that served it, or null (return, share, proxy, an error answered by the router). */
  app: string | null;
  /** ms from the start of the request to its completion. */
  durationMs: number;
  /** 'lean' or 'node:http'. */
  path: 'lean' | 'node:http';
}

/** Called once per completed request (see CompletedRequest). Must not throw; runs on the request path. */
export type RequestDoneHook = (r: CompletedRequest) => void;

/** The counters of both paths, and the per-request completion hook. */
export class RouterCounters {
  private accepted = 0;
  private closed = 0;
  private open = 0;
  private busy = 0;
  private requests = 0;
  private readonly record: CompletedRequest = { listener: '', status: 0, app: null, durationMs: 0, path: 'lean' };

  constructor(private readonly hook: RequestDoneHook | null) {}

  /** Whether requests need their start time noted (a hook wants durations). */
  get timed(): boolean {
    return this.hook !== null;
  }

  connectionOpened(): void {
    this.accepted++;
    this.open++;
  }

  connectionClosed(st: ConnState): void {
    this.open--;
    this.closed++;
    if (st.busy > 0) this.busy--;
    st.busy = 0;
  }

  /** A request began on `st` (both paths). */
  requestStarted(st: ConnState): void {
    this.requests++;
    if (st.busy++ === 0) this.busy++;
    if (this.hook !== null) st.startedAt = Date.now();
  }

  /** A request CONNECT or a refused head: counted, never in flight. */
  requestRefused(): void {
    this.requests++;
  }

  /**
   * The response of the request in flight on `st` is complete (both paths): `status` sent (0: none), `app` that
   * served it or null. The per-request completion hook runs here.
   */
  requestDone(st: ConnState, status: number, app: string | null, path: 'lean' | 'node:http'): void {
    if (st.busy > 0 && --st.busy === 0) this.busy--;
    const hook = this.hook;
    if (hook === null) return;
    const r = this.record;
    r.listener = st.entry.listener.name;
    r.status = status;
    r.app = app;
    r.durationMs = st.startedAt === 0 ? 0 : Date.now() - st.startedAt;
    r.path = path;
    hook(r);
  }

  snapshot(): RouterStats {
    return {
      connections: { accepted: this.accepted, active: this.busy, idle: this.open - this.busy, closed: this.closed },
      requests: { total: this.requests },
    };
  }
}
