import type * as http from 'http';
import * as net from 'net';
import { createExchange, type ChannelExchange } from './channel-exchange';
import { ChannelSocket } from './channel-socket';
import { emitUpgrade, type UpgradeSocket } from './channel-upgrade';
import { InflightList } from './inflight-list';
import type { ChannelEndpoint, ChannelRequest } from './channel-types';
import { serverClasses } from './node-internals';
import { runtimeLogger } from './runtime-logger';

/** Options of {@link ChannelBinding}. */
export interface ChannelBindingOptions {
  /** Ends the process after a shutdown or when wardend goes away (default `process.exit`). */
  exit?: (code: number) => void;
  /** Rethrows an exception a request handler threw, outside the channel's event (default: uncaught on next tick). */
  rethrow?: (err: unknown) => void;
}

interface ServerState {
  address: net.AddressInfo | string;
  /** The server's `IncomingMessage`/`ServerResponse` options (http.createServer({IncomingMessage, ServerResponse})). */
  IncomingMessage?: typeof http.IncomingMessage;
  ServerResponse?: typeof http.ServerResponse;
  inflight: InflightList<ChannelExchange>;
  /** Upgraded connections (WebSockets) open: a closing server waits for them, as node:http's waits for its sockets. */
  tunnels: Set<UpgradeSocket>;
  /** Called when the last tunnel of a closing server ends. */
  tunnelsClosed?: () => void;
  closing: boolean;
  closed: boolean;
}

/** Error with Node's `code` property, as net.Server produces them. */
function nodeError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** What `listen(...)` was asked for, and its callback. */
export interface ListenRequest {
  port?: number;
  host?: string;
  path?: string;
  callback?: (...args: unknown[]) => void;
}

/** Parses the argument forms of `server.listen()`: (port, host?, backlog?, cb?), (path, cb?), (options, cb?). */
export function parseListenArgs(args: unknown[]): ListenRequest {
  const rest = args.slice();
  const out: ListenRequest = {};
  if (typeof rest[rest.length - 1] === 'function') out.callback = rest.pop() as ListenRequest['callback'];
  const first = rest[0];
  if (first !== null && typeof first === 'object') {
    const o = first as { port?: unknown; host?: unknown; path?: unknown };
    if (o.port !== undefined && o.port !== null && o.port !== '') out.port = Number(o.port);
    if (typeof o.host === 'string') out.host = o.host;
    if (typeof o.path === 'string') out.path = o.path;
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    out.port = Number(first);
    if (typeof rest[1] === 'string') out.host = rest[1];
  } else if (typeof first === 'string') {
    out.path = first;
  }
  return out;
}

function addressFor(request: ListenRequest): net.AddressInfo | string {
  if (request.path !== undefined) return request.path;
  const port = Number.isInteger(request.port) && request.port! >= 0 && request.port! < 65536 ? request.port! : 0;
  let host = request.host;
  if (host === 'localhost') host = '127.0.0.1';
  if (host !== undefined && net.isIP(host)) return { address: host, family: net.isIP(host) === 6 ? 'IPv6' : 'IPv4', port };
  return { address: '::', family: 'IPv6', port };
}

/**
 * Serves `http.Server` instances over the process's channels (one per wardend router, as one endpoint: an
 * AppChannelSet): `listen()` on them binds no port, the server emits 'listening' and the channels send READY; every
 * request becomes a `'request'` event of the first listening server. On the channel's 'shutdown' the servers stop taking requests, in-flight ones finish, then the process
 * exits. One binding per process (the channel of the process).
 */
export class ChannelBinding {
  private readonly servers = new Map<http.Server, ServerState>();
  /** The sockets of the client connections the router told us about (by connection id), until they close. */
  private readonly connections = new Map<number, ChannelSocket>();
  private readySent = false;
  private shuttingDown = false;
  private channelClosed = false;
  private readonly exit: (code: number) => void;
  private readonly rethrow: (err: unknown) => void;

  constructor(
    private readonly channel: ChannelEndpoint,
    options: ChannelBindingOptions = {},
  ) {
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.rethrow =
      options.rethrow ??
      ((err) =>
        process.nextTick(() => {
          throw err;
        }));
    channel.on('request', (stream: ChannelRequest) => this.onRequest(stream));
    channel.on('shutdown', () => this.onShutdown());
    channel.on('connection-close', (id: number) => this.clientClosed(id));
    channel.on('channel-close', (ordinal: number) => this.onOneChannelClose(ordinal));
    channel.on('close', (err?: Error) => this.onChannelClose(err));
    // The process that this binding serves: what its responses finished when it exits goes out first.
    if (options.exit === undefined) process.once('exit', () => this.flushOnExit());
  }

  /**
   * The process is exiting (`process.exit()`, in a handler right after `res.end(body)` say): a response the app ended
   * is still on its way to the channel (node:http ends it on 'finish', a turn later; frames written inside the
   * channel's read loop are published when the loop returns). Served directly, the kernel already holds such a
   * response and sends it; here it is ended and published now, before the channel closes with the process.
   */
  private flushOnExit(): void {
    if (this.channelClosed) return;
    for (const state of this.servers.values()) {
      for (const ex of state.inflight.values()) {
        if (!ex.res.writableEnded) continue;
        while (ex.socket.writableCorked > 0) ex.socket.uncork(); // node:http corks while it writes a response
        ex.socket.endResponse();
      }
    }
    this.channelClosed = true;
    this.channel.close(); // publishes what the read loop wrote and rings the router
  }

  /**
   * One channel of several closed (its router died; AppChannelSet): its client connections are gone — their sockets
   * close as if the clients had left (their requests in flight were aborted by the channel). Ids of channel n are
   * n * 2^32 + the router's id.
   */
  private onOneChannelClose(ordinal: number): void {
    for (const id of [...this.connections.keys()]) if (Math.floor(id / 2 ** 32) === ordinal) this.clientClosed(id);
  }

  /** The client connection `id` closed: its socket closes. */
  private clientClosed(id: number): void {
    const socket = this.connections.get(id);
    if (socket === undefined) return;
    this.connections.delete(id);
    socket.clientClosed();
  }

  /** Requests in flight over all servers. */
  get activeRequests(): number {
    let n = 0;
    for (const state of this.servers.values()) n += state.inflight.size;
    return n;
  }

  /**
   * The replacement of `server.listen(...args)`: records the address asked for, makes `address()`, `listening`
   * and `close()` behave as for a bound server, emits 'listening' (calling the listen callback) on the next tick,
   * and sends READY after the first server's 'listening'.
   */
  listen(server: http.Server, args: unknown[]): http.Server {
    const existing = this.servers.get(server);
    if (existing && !existing.closed) {
      throw nodeError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
    }
    const request = parseListenArgs(args);
    if (request.callback) server.once('listening', request.callback);
    if (this.channelClosed || this.shuttingDown) {
      process.nextTick(() =>
        server.emit('error', nodeError('WARDEN_ERR_NODE_CHANNEL_CLOSED', 'The Warden channel is closed; this process cannot listen again.')),
      );
      return server;
    }
    const state: ServerState = {
      address: addressFor(request),
      ...serverClasses(server),
      inflight: new InflightList(),
      tunnels: new Set(),
      closing: false,
      closed: false,
    };
    this.servers.delete(server);
    this.servers.set(server, state);
    this.patchServer(server, state);
    process.nextTick(() => {
      if (state.closing) return;
      server.emit('listening');
      if (!this.readySent && !this.channelClosed) {
        this.readySent = true;
        this.channel.markReady({ connections: true, upgrade: true });
      }
    });
    return server;
  }

  private patchServer(server: http.Server, state: ServerState): void {
    const binding = this;
    const s = server as unknown as Record<string, unknown>;
    s.address = function address(): net.AddressInfo | string | null {
      return state.closed ? null : state.address;
    };
    Object.defineProperty(server, 'listening', {
      configurable: true,
      enumerable: false,
      get: () => !state.closing && !state.closed,
    });
    s.close = function close(this: http.Server, cb?: (err?: Error) => void): http.Server {
      if (state.closing || state.closed) {
        if (cb) process.nextTick(cb, nodeError('ERR_SERVER_NOT_RUNNING', 'Server is not running.'));
        return this;
      }
      if (cb) this.once('close', cb);
      binding.closeServer(server, state);
      return this;
    };
    s.getConnections = function getConnections(cb: (err: Error | null, count: number) => void): http.Server {
      process.nextTick(cb, null, state.inflight.size);
      return server;
    };
    // Requests in flight over the channel have no idle connections to close: a no-op is Node's answer for them.
    s.closeIdleConnections = function closeIdleConnections(): void {};
    s.closeAllConnections = function closeAllConnections(): void {
      for (const ex of state.inflight.values()) ex.socket.destroy();
    };
    // node:http's own 'connection' listener would parse our socket as a TCP connection (and arm its own timeouts):
    // under wardend the server accepts nothing, and 'connection' reaches the app's listeners only.
    for (const l of server.listeners('connection')) {
      if ((l as { name?: string }).name === 'connectionListener') server.removeListener('connection', l as (...a: unknown[]) => void);
    }
    s.ref = () => server;
    s.unref = () => server;
  }

  private closeServer(server: http.Server, state: ServerState): void {
    state.closing = true;
    const finish = (): void => {
      if (state.closed) return;
      state.closed = true;
      process.nextTick(() => server.emit('close'));
      this.afterServerClosed();
    };
    // As node:http's server.close(): 'close' once every request is answered and every upgraded connection (a
    // WebSocket) has ended. A process retired by wardend (an app restart) so keeps its WebSockets to their end, as
    // Unit quits only processes without responses pending; wardend stopping closes the channel, which ends them.
    const tunnelsClosed = new Promise<void>((done) => {
      if (state.tunnels.size === 0) return done();
      state.tunnelsClosed = done;
    });
    if (state.inflight.size === 0 && state.tunnels.size === 0) finish();
    else Promise.all([...state.inflight.values().map((ex) => ex.done), tunnelsClosed]).then(finish, finish);
  }

  private afterServerClosed(): void {
    for (const state of this.servers.values()) if (!state.closed) return;
    // No server listens any more: release the channel so that the process can end like any Node process whose
    // servers closed, or exit now when wardend asked for it.
    if (!this.channelClosed) {
      this.channelClosed = true;
      this.channel.close();
    }
    if (this.shuttingDown) setImmediate(() => this.exit(0));
  }

  private pickServer(): [http.Server, ServerState] | undefined {
    for (const entry of this.servers) if (!entry[1].closing && !entry[1].closed) return entry;
    return undefined;
  }

  private onRequest(stream: ChannelRequest): void {
    const entry = this.shuttingDown ? undefined : this.pickServer();
    if (!entry) {
      // Nothing listens (closed, or shutting down): the router answers 502/503 for an aborted stream.
      stream.abort();
      return;
    }
    const [server, state] = entry;
    if (stream.upgrade === true && server.listenerCount('upgrade') > 0) {
      // node:http emits 'upgrade' only when someone listens; otherwise the request goes to 'request' (below).
      try {
        const tunnel = emitUpgrade(server, stream, state.IncomingMessage);
        if (!tunnel.destroyed) {
          state.tunnels.add(tunnel);
          tunnel.once('close', () => {
            state.tunnels.delete(tunnel);
            if (state.closing && state.tunnels.size === 0) state.tunnelsClosed?.();
          });
        }
      } catch (err) {
        stream.abort(false);
        this.rethrow(err);
      }
      return;
    }
    const socket = this.connectionSocket(stream, server);
    const exchange = createExchange(stream, { IncomingMessage: state.IncomingMessage, ServerResponse: state.ServerResponse }, socket);
    exchange.socket.server = server;
    // server.setTimeout(ms) / server.timeout: node:http arms each connection's socket with it; here each request's
    // (idle connections are the router's: settings.http.idle_timeout).
    if (server.timeout > 0) exchange.socket.setTimeout(server.timeout);
    const slot = state.inflight.add(exchange);
    void exchange.done.then(() => state.inflight.remove(slot));
    try {
      server.emit('request', exchange.req, exchange.res);
    } catch (err) {
      // As with Node's own server, a throwing handler is an uncaught exception; the request is failed first so
      // the router answers at once instead of waiting for the process to die.
      exchange.socket.fail();
      this.rethrow(err);
    }
  }

  /**
   * The socket of the request's client connection: the one its earlier requests used, or a new one, announced with
   * the server's 'connection' event as node:http does. Undefined when the router gives no connection ids (an older
   * wardend): the exchange then has a socket of its own.
   */
  private connectionSocket(stream: ChannelRequest, server: http.Server): ChannelSocket | undefined {
    const id = stream.connection;
    if (!id) return undefined;
    let socket = this.connections.get(id);
    if (socket === undefined || socket.destroyed) {
      socket = new ChannelSocket(stream);
      socket.server = server;
      this.connections.set(id, socket);
      const s = socket;
      s.once('close', () => {
        if (this.connections.get(id) === s) this.connections.delete(id);
      });
      server.emit('connection', socket);
    }
    return socket;
  }

  private onShutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    runtimeLogger().info({ active: this.activeRequests }, 'shutdown requested by wardend; finishing in-flight requests');
    const open = [...this.servers].filter(([, st]) => !st.closing && !st.closed);
    if (open.length === 0) {
      this.afterServerClosed();
      return;
    }
    for (const [server, state] of open) this.closeServer(server, state);
  }

  private onChannelClose(err?: Error): void {
    if (this.channelClosed) return;
    this.channelClosed = true;
    if (err) runtimeLogger().error({ err }, 'the Warden channel closed; in-flight requests are aborted');
    for (const state of this.servers.values()) {
      for (const ex of state.inflight.values()) {
        ex.socket.markAborted();
        ex.req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
        ex.socket.destroy();
      }
    }
    for (const [server, state] of this.servers) {
      if (!state.closed) {
        state.closing = true;
        state.closed = true;
        process.nextTick(() => server.emit('close'));
      }
    }
    // wardend is gone or gave up on this process: nothing can reach it any more.
    setImmediate(() => this.exit(err ? 1 : 0));
  }
}
