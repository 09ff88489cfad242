import type { Server as HttpServer } from 'http';
import type { Server as NetServer, Socket } from 'net';
import type { CompiledListener } from './compiled-config';
import type { RequestInfo } from './ports';

/** Per-connection bookkeeping for the `/status` counters (both paths). */
export interface ConnState {
  sock: Socket;
  /** Requests of this connection in flight (0 or 1 on the lean path). */
  busy: number;
  /** Connection facts, built on first use. */
  info: RequestInfo | null;
  entry: ListenerEntry;
  /** When the request in flight started (ms; only noted when a completion hook wants durations). */
  startedAt: number;
}

/**
 * A bound listener: the `net` server that accepts (lean path first), the node:http server that connections are
 * handed to (never listening itself), the sockets it holds and the compiled config it serves (swapped at commit).
 */
export class ListenerEntry {
  /** False until the prepare that bound it is committed: requests before that get 503. */
  live = false;
  /** Set when a reconfiguration removed it: finishing responses close their connections. */
  closing = false;
  /** Requests may take the fast path straight to the gateway (node:http path). */
  fast = false;
  /** Requests may take the lean HTTP/1.1 path (needs `fast` and a gateway with handleLean). */
  lean = false;
  readonly sockets = new Set<Socket>();
  /** The socket a ListenerHost bound, until the commit starts accepting on it (then the server owns it). */
  pendingFd: number | null = null;
  /**
   * TLS listeners: connections whose handshake is not done yet, by `address|port` of the client (the TLS socket
   * made over a connection has the same peer), so that closing the listener can drop them at once.
   */
  readonly handshakes = new Map<string, Socket>();
  /** Resolvers waiting for `sockets` to become empty. */
  private emptyWaiters: Array<() => void> = [];

  constructor(
    /** Accepts the connections (listens). */
    readonly server: NetServer,
    /** node:http: gets every connection the lean path does not take. */
    readonly http: HttpServer,
    public listener: CompiledListener,
    /** node:http's header size limit of this listener (fixed when it was created); the lean path stays below it. */
    readonly maxHeaderSize: number,
  ) {}

  /** Resolves once no connection of this listener is open. */
  whenEmpty(): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  /** @internal Called when a socket left `sockets`. */
  socketGone(): void {
    if (this.sockets.size !== 0 || this.emptyWaiters.length === 0) return;
    const w = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const r of w) r();
  }
}
