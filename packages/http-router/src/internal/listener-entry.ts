import type { Server as HttpServer } from 'http';
import type { Server as NetServer, Socket } from 'net';
import type { CompiledConfig, CompiledListener } from './compiled-config';
import { headCeiling, type HeadBufferLimits } from './head-buffers';
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
  /**
   * The config committed with it, kept when a reconfiguration removes it: a request whose head had begun then is
   * served with it, as Unit binds a request to its configuration at its first byte.
   */
  config: CompiledConfig | null = null;
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
    headBuffers: HeadBufferLimits,
  ) {
    this.headBuffers = headBuffers;
    this.maxHeaderSize = headCeiling(headBuffers);
  }

  /** Which heads Unit takes (`settings.http` of the config in force: setHeadBuffers). */
  headBuffers: HeadBufferLimits;
  /** The largest head those take: node:http's limit for the connections it gets from now on, and the lean path's. */
  maxHeaderSize: number;

  /** A config changed the limits: they hold for the heads read from now on. */
  setHeadBuffers(limits: HeadBufferLimits): void {
    this.headBuffers = limits;
    this.maxHeaderSize = headCeiling(limits);
    // node:http reads its server's maxHeaderSize for each connection it is given (connectionListenerInternal).
    (this.http as HttpServer & { maxHeaderSize: number }).maxHeaderSize = this.maxHeaderSize;
  }

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
