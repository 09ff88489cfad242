import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'http';
import { createServer as createNetServer, isIP, type Server as NetServer, type Socket } from 'net';
import { promises as fsp, type WriteStream } from 'fs';
import { performance } from 'perf_hooks';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'tls';
import { readClientHello } from './internal/client-hello';
import type { Action, CompiledConfig, CompiledListener, Forwarded, HttpSettings, Pass, PassTarget } from './internal/compiled-config';
import { compileRouterConfig, type RouterConfig } from './internal/config-compiler';
import { ConnectionLimit } from './internal/connection-limit';
import { errorPageBody, sendError } from './internal/error-page';
import { normalizeHeads, type HeadNormalizer } from './internal/head-normalizer';
import { FastConnection, idleCloseResponse, LeanConnections, kLean, type FastExchange, type LeanHost } from './internal/fast-connection';
import { lowerIs } from './internal/fast-parser';
import { LeanRequestView } from './internal/lean-request-view';
import { ListenerEntry, type ConnState as BaseConnState } from './internal/listener-entry';
import type { ApplicationGateway, RequestInfo, RequestObserver, RouterLogger } from './internal/ports';
import { proxyRequest } from './internal/proxy';
import { RequestContext } from './internal/request-context';
import { encodeLocation, isValidHost } from './internal/request-target';
import { installResponseHeaders, safeHeaderValue } from './internal/response-headers';
import { responseClass } from './internal/server-response';
import { serveShare } from './internal/share';
import { UpstreamAgent } from './internal/upstream';
import type { FileIdentity } from './internal/share-path';
import { selectCertificate, type TlsCertificateEntry } from './internal/tls-config';

/** Options of an HttpRouter. */
export interface HttpRouterOptions {
  gateway: ApplicationGateway;
  logger?: RouterLogger;
  /**
   * `share` serves only files this user could open (see FileIdentity). Set it when the router runs with more
   * privileges than the user files should be served as (wardend as root: its `--user`); unset, the router's own
   * permissions decide.
   */
  fileIdentity?: FileIdentity;
  /** Told once per request when it completed (metrics); unset, nothing is timed. */
  observer?: RequestObserver;
}

/** What prepare() hands back: install the new config, or undo what prepare bound. */
export interface PreparedRouterChange {
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** Unit's `/status` connection and request counters. */
export interface RouterStats {
  connections: { accepted: number; active: number; idle: number; closed: number };
  requests: { total: number };
}

const VERSION = '0.1.0';
const MAX_PASS_DEPTH = 16;
const kConn = Symbol('warden.router.conn');
const kCtx = Symbol('warden.router.ctx');
const kStart = Symbol('warden.router.start');
const kApp = Symbol('warden.router.app');

interface ConnState extends BaseConnState {
  router: HttpRouter;
  /** When node:http's parser began the current request (its first byte), ms; 0 when not watched. */
  requestStart: number;
  /** Requests node:http parsed on this connection. */
  httpRequests: number;
  /** What rewrites the heads node:http reads (set when node:http gets the connection). */
  heads: HeadNormalizer | null;
}

type Sock = Socket & { [kConn]?: ConnState; [kLean]?: FastConnection };
type Res = ServerResponse & { [kConn]?: ConnState; [kCtx]?: RequestContext; [kStart]?: number; [kApp]?: string };

const noopLogger: RouterLogger = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * Everything between a TCP connection and an application: binds Unit listeners, matches Unit routes and runs the
 * actions (pass, return, share, proxy). Reconfiguration is two-phase (prepare binds, commit switches atomically),
 * so a failed apply leaves the running config untouched.
 */
export class HttpRouter implements LeanHost {
  private readonly gateway: ApplicationGateway;
  /** The gateway has the lean method: listeners passing straight to an app take the lean HTTP/1.1 path. */
  private readonly leanCapable: boolean;
  /** @internal Connections on the lean path and their timeout sweep. */
  readonly leanConnections = new LeanConnections();
  private readonly log: RouterLogger;
  private readonly entries = new Map<string, ListenerEntry>();
  /** Listeners removed by a reconfiguration whose last connections are still finishing. */
  private readonly draining = new Set<ListenerEntry>();
  private active: CompiledConfig | null = null;
  private pending = false;
  private accessLogStream: WriteStream | null = null;
  private accessLogPath: string | null = null;
  /** Current `Server` header value (read by the response class of every listener). */
  serverHeader = `Warden/${VERSION}`;
  private readonly responseClass = responseClass(this);
  /** Keep-alive agent for `proxy` and upstreams. */
  readonly agent = new UpstreamAgent();
  private accepted = 0;
  private closedConns = 0;
  private openConns = 0;
  private busyConns = 0;
  private requestsTotal = 0;
  private closed = false;
  /** `max_connections` over all listeners. */
  private readonly connections: ConnectionLimit;
  private readonly fileIdentity: FileIdentity | null;
  private readonly observer: RequestObserver | null;

  constructor(opts: HttpRouterOptions) {
    this.gateway = opts.gateway;
    this.leanCapable = typeof opts.gateway.handleLean === 'function';
    this.log = opts.logger ?? noopLogger;
    this.connections = new ConnectionLimit(this.log);
    this.fileIdentity = opts.fileIdentity ?? null;
    this.observer = opts.observer ?? null;
  }

  /**
   * Compiles `config` and binds the listeners it adds. Nothing changes for running traffic until commit().
   * Throws RouterConfigError for bad semantics, or the listen error (code EADDRINUSE, EACCES, ...).
   */
  async prepare(config: RouterConfig): Promise<PreparedRouterChange> {
    if (this.closed) throw new Error('the router is closed');
    if (this.pending) throw new Error('another router change is prepared and not yet committed or rolled back');
    const compiled = compileRouterConfig(config);
    const added: ListenerEntry[] = [];
    const logPath = compiled.accessLog?.path ?? null;
    let logFile: fsp.FileHandle | null = null;
    this.pending = true;
    try {
      if (logPath !== null && logPath !== this.accessLogPath) {
        // Opened now so that an access log that cannot be written fails the apply instead of every request.
        logFile = await fsp.open(logPath, 'a').catch((err: NodeJS.ErrnoException) => {
          err.message = `access log "${logPath}": ${err.message}`;
          throw err;
        });
      }
      for (const l of compiled.listeners.values()) {
        if (this.entries.has(l.key)) continue;
        const entry = this.createEntry(l, compiled);
        await listen(entry.server, l);
        added.push(entry);
        this.entries.set(l.key, entry);
      }
    } catch (err) {
      for (const e of added) {
        this.entries.delete(e.listener.key);
        e.server.close();
        e.http.close();
      }
      await logFile?.close();
      this.pending = false;
      throw err;
    }
    let done = false;
    return {
      commit: async () => {
        if (done) return;
        done = true;
        this.pending = false;
        this.install(compiled, logFile);
      },
      rollback: async () => {
        if (done) return;
        done = true;
        this.pending = false;
        await logFile?.close();
        await Promise.all(
          added.map(async (e) => {
            this.entries.delete(e.listener.key);
            await closeServer(e);
          }),
        );
      },
    };
  }

  /** The bound address of each listener, by its config name (useful with port 0). */
  addresses(): Record<string, { address: string; port: number }> {
    const out: Record<string, { address: string; port: number }> = {};
    for (const e of this.entries.values()) {
      const a = e.server.address();
      if (a && typeof a === 'object') out[e.listener.name] = { address: a.address, port: a.port };
    }
    return out;
  }

  /** Unit status counters. */
  stats(): RouterStats {
    return {
      connections: {
        accepted: this.accepted,
        active: this.busyConns,
        idle: this.openConns - this.busyConns,
        closed: this.closedConns,
      },
      requests: { total: this.requestsTotal },
    };
  }

  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then drops what is left. */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const entries = [...this.entries.values(), ...this.draining];
    this.entries.clear();
    this.draining.clear();
    await Promise.all(
      entries.map(async (e) => {
        e.live = false;
        // Connections still open after the grace period are dropped.
        const timer = setTimeout(() => {
          for (const sock of e.sockets) sock.destroy();
        }, graceMs);
        timer.unref();
        await closeServer(e);
        clearTimeout(timer);
      }),
    );
    this.leanConnections.stop();
    this.agent.destroy();
    if (this.accessLogStream) await endStream(this.accessLogStream);
    this.accessLogStream = null;
  }

  private install(compiled: CompiledConfig, logFile: fsp.FileHandle | null): void {
    this.active = compiled;
    const s = compiled.settings;
    this.serverHeader = s.serverVersion ? `Warden/${VERSION}` : 'Warden';
    this.leanConnections.configure(s);
    this.connections.configure(s);
    this.setAccessLog(compiled.accessLog?.path ?? null, logFile);
    for (const [key, entry] of this.entries) {
      const l = compiled.listeners.get(key);
      if (!l) {
        this.entries.delete(key);
        entry.closing = true;
        entry.live = false;
        this.draining.add(entry);
        void closeServer(entry, this.serverHeader).then(() => this.draining.delete(entry));
        continue;
      }
      const prevTls = entry.listener.tls;
      if (l.tls !== null && prevTls !== null && l.tls.signature === prevTls.signature) l.tls = prevTls; // keeps sessions
      entry.listener = l;
      entry.live = true;
      entry.fast = l.pass.target?.kind === 'app' && !l.forwarded && !compiled.accessLog;
      // The lean path: a pass straight to an app, or through routes when nothing needs the per-request log.
      entry.lean = this.leanCapable && !l.forwarded && !compiled.accessLog && (entry.fast || !s.logRoute);
      applyTimeouts(entry.http, compiled);
    }
  }

  /**
   * Reopens the access log at its configured path (SIGUSR1 after logrotate moved the file): lines written from now
   * on go to a new file. If the path cannot be opened, the old file stays in use and the error is thrown.
   */
  async reopenAccessLog(): Promise<void> {
    const path = this.accessLogPath;
    if (path === null || this.closed) return;
    const file = await fsp.open(path, 'a');
    if (this.accessLogPath !== path || this.closed) {
      await file.close(); // reconfigured meanwhile: the new config's log is already in place
      return;
    }
    this.accessLogPath = null; // makes setAccessLog replace the stream for the same path
    this.setAccessLog(path, file);
  }

  private setAccessLog(path: string | null, file: fsp.FileHandle | null): void {
    if (path === this.accessLogPath) return;
    if (this.accessLogStream) void endStream(this.accessLogStream);
    this.accessLogStream = null;
    this.accessLogPath = path;
    if (path === null || file === null) return;
    const stream = file.createWriteStream();
    stream.on('error', (err) => this.log.error({ err, path }, 'access log write failed'));
    this.accessLogStream = stream;
  }

  private createEntry(l: CompiledListener, compiled: CompiledConfig): ListenerEntry {
    const http = createServer({
      ServerResponse: this.responseClass,
      requireHostHeader: false, // Unit takes HTTP/1.1 without Host (an empty host for matching)
      maxHeaderSize: compiled.settings.maxHeaderSize,
      requestTimeout: 0,
      connectionsCheckingInterval: Math.max(250, Math.min(30_000, compiled.settings.headerReadTimeout / 4 || 30_000)),
    });
    // The node:http server never listens itself (the net server below accepts and hands connections over); this
    // starts its connection tracking (header_read_timeout checks, closeIdleConnections) as listening would.
    http.emit('listening');
    // Same socket options as node:http's own listening server.
    const server = createNetServer({ allowHalfOpen: true, noDelay: true });
    const entry = new ListenerEntry(server, http, l, compiled.settings.maxHeaderSize);
    applyTimeouts(http, compiled);
    server.on('connection', (sock: Sock) => {
      if (!this.connections.admit(sock)) return;
      if (entry.listener.tls !== null) this.startTls(entry, sock);
      else this.onAccept(entry, sock);
    });
    http.on('connection', (sock: Sock) => {
      this.onConnection(entry, sock);
      if (this.active?.timesRequests) watchRequestStart(sock);
    });
    http.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(entry, req, res));
    http.on('timeout', this.onSocketTimeout);
    http.on('connect', (req: IncomingMessage, sock: Socket) => {
      this.requestsTotal++;
      refuseHead(sock, (req.url ?? '').charCodeAt(0) === 47 ? 405 : 400, this.serverHeader);
    });
    http.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, sock: Socket) => {
      const inFlight = (sock as Socket & { _httpMessage?: ServerResponse })._httpMessage;
      if (err.code === 'ECONNRESET' || !sock.writable || (inFlight && inFlight.headersSent)) sock.destroy();
      else refuseHead(sock, clientErrorStatus(err), this.serverHeader);
    });
    server.on('error', (err) => {
      if (!this.connections.acceptFailed(err)) this.log.error({ err, listener: l.name }, 'listener error');
    });
    return entry;
  }

  /**
   * A connection to a TLS listener: the certificate is chosen by the SNI name of the ClientHello as Unit does
   * (exact name, wildcard, else the first), from the listener's config when the ClientHello arrives, and that
   * certificate's TLS server does the handshake. A reconfiguration thus changes certificates for new handshakes only.
   */
  private startTls(entry: ListenerEntry, sock: Socket): void {
    const timeout = this.active?.settings.headerReadTimeout ?? 30_000;
    const peer = peerKey(sock);
    entry.handshakes.set(peer, sock);
    sock.once('close', () => {
      if (entry.handshakes.get(peer) === sock) entry.handshakes.delete(peer);
    });
    readClientHello(sock, timeout, (servername) => {
      const tls = entry.listener.tls;
      if (tls === null) {
        sock.destroy(); // TLS was switched off while the ClientHello came
        return;
      }
      const cert = servername === null ? tls.certs[0] : selectCertificate(tls, servername);
      (cert.server ??= this.createTlsServer(entry, cert, timeout)).emit('connection', sock);
    });
  }

  private createTlsServer(entry: ListenerEntry, cert: TlsCertificateEntry, handshakeTimeout: number): TlsServer {
    const server = createTlsServer({ ...cert.options, handshakeTimeout: handshakeTimeout > 0 ? handshakeTimeout : 30_000 });
    server.on('secureConnection', (sock: TLSSocket) => {
      entry.handshakes.delete(peerKey(sock));
      this.onAccept(entry, sock);
    });
    server.on('tlsClientError', (err, sock) => {
      this.log.debug({ err, listener: entry.listener.name, certificate: cert.name }, 'TLS handshake failed');
      sock.destroy();
    });
    // `session.cache_size`: server-side session cache (ids → session data), oldest entries dropped first.
    const sessions = new Map<string, Buffer>();
    server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
      const max = entry.listener.tls?.sessionCacheSize ?? 0;
      if (max > 0) {
        sessions.set(id.toString('hex'), data);
        for (const k of sessions.keys()) {
          if (sessions.size <= max) break;
          sessions.delete(k);
        }
      } else sessions.clear();
      done();
    });
    server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
      done(null, sessions.get(id.toString('hex')) ?? null);
    });
    return server;
  }

  /** A new connection (after the TLS handshake on a TLS listener): the lean path when the listener allows it, else node:http. */
  private onAccept(entry: ListenerEntry, sock: Sock): void {
    this.onConnection(entry, sock);
    if (entry.lean && entry.live) new FastConnection(sock, entry, sock[kConn]!, this);
    else this.leanHandOff(entry, sock, null);
  }

  /**
   * A socket timeout of a node:http connection ('timeout' of its http.Server, which then leaves the socket to us): a request or response that watches
   * its own timeout (body_read_timeout, send_timeout) decides there; a kept-alive connection idle for idle_timeout
   * gets Unit's 408 and is closed (nxt_h1p_idle_timeout); anything else is dropped, as node:http would.
   */
  private readonly onSocketTimeout = (sock: Sock): void => {
    const s = sock as Sock & { _httpMessage?: ServerResponse | null; parser?: { incoming?: IncomingMessage | null } | null };
    const res = s._httpMessage;
    if (res !== null && res !== undefined) {
      if (res.listenerCount('timeout') === 0) sock.destroy();
      return;
    }
    const req = s.parser?.incoming;
    if (req !== null && req !== undefined && !req.complete) {
      if (req.listenerCount('timeout') === 0) sock.destroy();
      return;
    }
    const st = sock[kConn];
    if (st === undefined || st.busy > 0 || !sock.writable) {
      sock.destroy();
      return;
    }
    sock.end(idleCloseResponse(this.serverHeader));
    sock.destroySoon();
  };

  /** @internal LeanHost */
  leanSettings(): HttpSettings | null {
    return this.active === null ? null : this.active.settings;
  }

  /** @internal LeanHost */
  leanTarget(entry: ListenerEntry, st: BaseConnState, ex: FastExchange): { app: string; target: string | undefined } | null {
    const cfg = this.active;
    if (!entry.lean || !entry.live || cfg === null) return null;
    const pass = entry.listener.pass;
    const t = pass.target;
    if (t !== null && t.kind === 'app') return t;
    try {
      return this.leanRoute(pass, cfg, st as ConnState, ex);
    } catch {
      return null; // e.g. a variable only a response has ($status) in a pass: node:http's path reports it
    }
  }

  /**
   * Follows routes for a lean request as runPass/runAction would, without side effects: the app when the matched
   * step (and every step on the way) is a plain `pass` (a `rewrite` allowed), else null so that node:http serves
   * the request (return, share, proxy, upstreams, response_headers, 404, 400, loops, repeated header fields).
   */
  private leanRoute(pass: Pass, cfg: CompiledConfig, st: ConnState, ex: FastExchange): { app: string; target: string | undefined } | null {
    const view = LeanRequestView.of(ex);
    if (view === null) return null;
    const info = connInfo(st, st.sock);
    const ctx = new RequestContext(view as unknown as IncomingMessage, null as unknown as ServerResponse, info.remoteAddress, info.remotePort, info.localAddress, info.localPort, info.scheme);
    if (!ctx.parse()) return null;
    let p = pass;
    for (let depth = 0; depth <= MAX_PASS_DEPTH; depth++) {
      const target = p.target !== null ? p.target : cfg.resolvePass(p.dynamic!(ctx));
      if (target === null) return null;
      if (target.kind === 'app') {
        ex.target = ctx.target;
        ex.targetChecked = true;
        return target;
      }
      if (target.kind !== 'route') return null;
      const uri = ctx.path;
      let action: Action | null = null;
      for (const step of target.steps) {
        if (step.uriPrefix !== null && !uri.startsWith(step.uriPrefix)) continue;
        if (step.test === null || step.test(ctx)) {
          action = step.action;
          break;
        }
      }
      if (action === null || action.kind !== 'pass' || action.responseHeaders !== null) return null;
      if (action.rewrite !== null && !ctx.rewrite(action.rewrite(ctx))) return null;
      p = action.pass!;
    }
    return null;
  }

  /** @internal LeanHost */
  leanInfo(st: BaseConnState): RequestInfo {
    return connInfo(st as ConnState, st.sock);
  }

  /** @internal LeanHost */
  leanStarted(st: BaseConnState, ex: FastExchange): void {
    this.requestsTotal++;
    if (this.observer !== null) ex.start = performance.now();
    if (st.busy++ === 0) this.busyConns++;
  }

  /** @internal LeanHost */
  leanDone(st: BaseConnState, ex: FastExchange): void {
    if (st.busy > 0 && --st.busy === 0) this.busyConns--;
    if (this.observer !== null) this.observer.requestDone(st.entry.listener.name, ex.app, ex.done ? ex.status : 0, ex.start);
  }

  /** @internal LeanHost */
  leanDispatch(app: string, target: string | undefined, ex: FastExchange): void {
    this.gateway.handleLean!(app, target, ex);
  }

  /** @internal LeanHost */
  leanError(err: unknown, what: string): void {
    this.log.error({ err }, what);
  }

  /**
   * @internal LeanHost. Gives a connection to the listener's node:http server, with `rest` (bytes read and not
   * consumed) put back first. Every byte node:http reads goes through a HeadNormalizer, so node:http takes the heads
   * Unit takes and llhttp refuses (bare LF line ends, spaces in the target) and keeps refusing the rest.
   */
  leanHandOff(entry: ListenerEntry, sock: Socket, rest: Buffer | null): void {
    const heads = normalizeHeads(sock, entry.maxHeaderSize);
    const st = (sock as Sock)[kConn];
    if (st !== undefined) st.heads = heads;
    if (rest !== null) {
      const out = heads.feed(rest);
      if (out.length > 0) sock.unshift(out);
    }
    entry.http.emit('connection', sock);
  }

  private onConnection(entry: ListenerEntry, sock: Sock): void {
    if (sock[kConn] !== undefined) return; // counted when accepted (handed over from the lean path)
    this.accepted++;
    this.openConns++;
    sock[kConn] = { sock, busy: 0, info: null, entry, router: this, requestStart: 0, httpRequests: 0, heads: null };
    entry.sockets.add(sock);
    sock.once('close', onSocketClose);
  }

  /** @internal Current send_timeout in ms. */
  sendTimeout(): number {
    return this.active?.settings.sendTimeout ?? 0;
  }

  /** @internal */
  connectionClosed(st: ConnState, sock: Socket): void {
    this.openConns--;
    this.closedConns++;
    if (st.busy > 0) this.busyConns--;
    st.busy = 0;
    st.entry.sockets.delete(sock);
    st.entry.socketGone();
  }

  /** @internal */
  responseDone(st: ConnState, res: Res): void {
    if (st.busy > 0 && --st.busy === 0) this.busyConns--;
    // node:http waits idle_timeout + 1 s on a kept-alive connection (a margin for its Keep-Alive hint); Unit closes
    // at idle_timeout (with its 408: onSocketTimeout).
    const idle = st.entry.http.keepAliveTimeout;
    if (st.busy === 0 && idle > 0 && st.sock.timeout === idle + 1000) st.sock.setTimeout(idle);
    const ctx = res[kCtx];
    if (ctx && this.active?.accessLog && this.accessLogStream) this.writeAccessLog(ctx);
    if (this.observer !== null) {
      this.observer.requestDone(st.entry.listener.name, res[kApp] ?? '', res.headersSent ? res.statusCode : 0, res[kStart] ?? 0);
    }
    if (st.entry.closing && st.busy === 0) {
      if (!st.sock.destroyed) st.sock.end();
    }
  }

  private writeAccessLog(ctx: RequestContext): void {
    const log = this.active!.accessLog!;
    try {
      if (log.cond && !log.cond(ctx)) return;
      this.accessLogStream!.write(log.format(ctx) + '\n');
    } catch (err) {
      this.log.warn({ err }, 'access log line failed');
    }
  }

  private onRequest(entry: ListenerEntry, req: IncomingMessage, res: Res): void {
    this.requestsTotal++;
    if (this.observer !== null) res[kStart] = performance.now();
    const sock = req.socket as Sock;
    const st = sock[kConn];
    if (st) {
      if (st.busy++ === 0) this.busyConns++;
      res[kConn] = st;
      res.on('close', onResponseClose);
      // A target whose spaces the HeadNormalizer encoded for llhttp: routing, variables and the app see it as
      // received, as in Unit.
      const original = st.heads?.originalTarget(++st.httpRequests);
      if (original !== undefined) req.url = original;
    }
    const refusal = headRefusal(req);
    const cfg = this.active;
    if (!entry.live || cfg === null) {
      sendError(res, 503, true);
      return;
    }
    if (entry.closing) res.shouldKeepAlive = false;
    const s = cfg.settings;
    if (s.discardUnsafeFields) discardUnsafe(req);
    let ctx: RequestContext | null = null;
    if (!entry.fast) {
      ctx = new RequestContext(req, res, sock.remoteAddress ?? '', sock.remotePort ?? 0, sock.localAddress ?? '', sock.localPort ?? 0, schemeOf(sock));
      res[kCtx] = ctx;
      ctx.startTime = st !== undefined && st.requestStart !== 0 ? st.requestStart : Date.now();
      if (cfg.accessLog !== null && cfg.accessLog.countsBytes) countBodyBytes(ctx);
      if (entry.listener.forwarded) applyForwarded(ctx, entry.listener.forwarded);
    }
    if (refusal !== 0) {
      sendError(res, refusal, true); // after the context exists: the access log records it
      return;
    }

    // Body limits and timeouts.
    const cl = req.headers['content-length'];
    const hasBody = cl !== undefined ? cl !== '0' : req.headers['transfer-encoding'] !== undefined;
    if (cl !== undefined && Number(cl) > s.maxBodySize) {
      sendError(res, 413, true);
      return;
    }
    if (hasBody && cl === undefined) limitChunkedBody(req, res, s.maxBodySize);
    const timeout = hasBody ? s.bodyReadTimeout : s.sendTimeout;
    if (timeout > 0) {
      sock.setTimeout(timeout);
      res.on('timeout', onResponseTimeout);
    }

    const l = entry.listener;
    try {
      if (ctx === null) {
        const url = req.url ?? '';
        if (url.charCodeAt(0) !== 47 || url.indexOf('%') !== -1 || url.indexOf('/.') !== -1) {
          const probe = new RequestContext(req, res, '', 0, '', 0, 'http');
          if (!probe.parse()) {
            sendError(res, 400, true);
            return;
          }
        }
        const t = l.pass.target as { app: string; target: string | undefined };
        if (this.observer !== null) res[kApp] = t.app;
        this.gateway.handle(t.app, t.target, req, res, st ? connInfo(st, sock) : connInfo(null, sock));
        return;
      }
      if (!ctx.parse()) {
        sendError(res, 400, true);
        return;
      }
      this.runPass(ctx, l.pass, cfg);
    } catch (err) {
      this.log.error({ err, url: req.url }, 'request handling failed');
      sendError(res, 500);
    }
  }

  private runPass(ctx: RequestContext, pass: Pass, cfg: CompiledConfig): void {
    let target: PassTarget | null = pass.target;
    if (target === null) {
      target = cfg.resolvePass(pass.dynamic!(ctx));
      if (target === null) {
        sendError(ctx.res, 404);
        return;
      }
    }
    if (++ctx.depth > MAX_PASS_DEPTH) {
      this.log.warn({ pass: pass.text }, 'too many nested passes');
      sendError(ctx.res, 500);
      return;
    }
    switch (target.kind) {
      case 'app':
        if (this.observer !== null) (ctx.res as Res)[kApp] = target.app;
        this.gateway.handle(target.app, target.target, ctx.req, ctx.res, {
          remoteAddress: ctx.remoteAddress,
          remotePort: ctx.remotePort,
          localAddress: ctx.localAddress,
          localPort: ctx.localPort,
          scheme: ctx.scheme,
        });
        return;
      case 'route': {
        const steps = target.steps;
        const uri = ctx.path;
        const logRoute = cfg.settings.logRoute;
        for (let i = 0; i < steps.length; i++) {
          const step = steps[i];
          const hit = (step.uriPrefix === null || uri.startsWith(step.uriPrefix)) && (step.test === null || step.test(ctx));
          // Unit's log_route lines (nxt_http_route_handler): every step tried, then the one taken.
          if (logRoute) this.log.info({ route: routeLabel(target.name), step: i }, `"${routeLabel(target.name)}/${i}" ${hit ? 'selected' : 'discarded'}`);
          if (hit) {
            this.runAction(ctx, step.action, cfg);
            return;
          }
        }
        sendError(ctx.res, 404);
        return;
      }
      case 'upstream': {
        const server = target.upstream.pick();
        if (!server) sendError(ctx.res, 502);
        else proxyRequest(ctx, server, this.agent, cfg.settings, this.log);
        return;
      }
    }
  }

  private runAction(ctx: RequestContext, action: Action, cfg: CompiledConfig): void {
    if (action.rewrite !== null) {
      if (!ctx.rewrite(action.rewrite(ctx))) {
        sendError(ctx.res, 400);
        return;
      }
      if (cfg.settings.logRoute) this.log.info({ uri: ctx.path }, `URI rewritten to "${ctx.path}"`);
    }
    if (action.responseHeaders !== null) installResponseHeaders(ctx, action.responseHeaders);
    switch (action.kind) {
      case 'pass':
        this.runPass(ctx, action.pass!, cfg);
        return;
      case 'return':
        sendReturn(ctx, action, this.serverHeader);
        return;
      case 'proxy':
        proxyRequest(ctx, action.proxy!, this.agent, cfg.settings, this.log);
        return;
      case 'share':
        serveShare(ctx, action.share!, cfg.settings, this.fileIdentity).then(
          (status) => {
            if (status === 0) return;
            const fb = action.share!.fallback;
            if (!fb) {
              sendError(ctx.res, status);
              return;
            }
            if (cfg.settings.logRoute) this.log.info({}, '"fallback" taken');
            try {
              this.runAction(ctx, fb, cfg);
            } catch (err) {
              this.log.error({ err, url: ctx.req.url }, 'fallback action failed');
              sendError(ctx.res, 500);
            }
          },
          (err) => {
            this.log.error({ err }, 'share failed');
            sendError(ctx.res, 500);
          },
        );
        return;
    }
  }
}

/**
 * What Unit refuses in a request head that node:http accepts (0: nothing). Unit's parser (nxt_http_parse.c) takes
 * HTTP/1.x only: another `HTTP/d.d` is 505, a line without a version (HTTP/0.9) 400; a target that is not
 * origin-form is 400 (see RequestContext.parse); a second Host field or a Host with `/` or an empty label is 400
 * (nxt_http_request_host). Transfer-Encoding in an HTTP/1.0 request is 400 as in nginx: a 1.0 peer cannot mean it,
 * and a proxy in front may frame the body differently (request smuggling).
 */
function headRefusal(req: IncomingMessage): number {
  if (req.httpVersionMajor !== 1) return req.httpVersionMajor === 0 ? 400 : 505;
  const url = req.url ?? '';
  if (url.charCodeAt(0) !== 47 /* / */) return 400;
  const raw = req.rawHeaders;
  let host = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 4 && lowerIs(name, 0, 'host')) {
      if (host || !isValidHost(raw[i + 1])) return 400;
      host = true;
    } else if (name.length === 17 && req.httpVersionMinor === 0 && lowerIs(name, 0, 'transfer-encoding')) return 400;
  }
  return 0;
}

/**
 * Answers a request node:http does not hand to 'request' with Unit's error page and closes the connection: a CONNECT
 * (node:http offers it as a tunnel; Unit parses only origin-form targets, so its `host:port` CONNECT is 400 there,
 * and one with a `/` target is 405 here: Warden tunnels nothing), or a head node:http's parser refused.
 */
function refuseHead(sock: Socket, status: number, serverHeader: string): void {
  const body = errorPageBody(status);
  sock.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nServer: ${serverHeader}\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
  sock.destroySoon();
}

/**
 * The status for a head node:http's parser refused, as node:http's own default answers (431 for a head too large,
 * 408 for header_read_timeout, 400 otherwise), except that a well-formed `HTTP/d.d` version other than 1.x is 505,
 * as in Unit.
 */
function clientErrorStatus(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): number {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    case 'HPE_INVALID_VERSION': {
      const raw = err.rawPacket;
      if (raw === undefined) return 400;
      const eol = raw.indexOf(10);
      const line = raw.toString('latin1', 0, eol === -1 ? raw.length : eol);
      const m = / HTTP\/(\d)\.\d\r?$/.exec(line);
      return m !== null && m[1] !== '1' ? 505 : 400; // HTTP/1.x: the version is not what node:http refused
    }
    default:
      return 400;
  }
}

/** node:http's parser calls the function in this slot when it begins a message (HTTPParser.kOnMessageBegin). */
const kOnMessageBegin = 0;

/**
 * Notes on the connection when node:http's parser begins each request, for `$request_time` (Unit counts from the
 * first byte of the request, not from the end of its head). Without node's parser object (another Node version),
 * requests are timed from their head instead.
 */
function watchRequestStart(sock: Sock): void {
  const st = sock[kConn];
  const parser = (sock as Socket & { parser?: Record<number, unknown> }).parser;
  if (st === undefined || parser === undefined || parser === null) return;
  parser[kOnMessageBegin] = () => {
    st.requestStart = Date.now();
  };
}

function routeLabel(name: string): string {
  return name === '' ? 'routes' : `routes/${name}`;
}

function onSocketClose(this: Sock): void {
  const st = this[kConn];
  if (st) st.router.connectionClosed(st, this);
}

function onResponseClose(this: Res): void {
  const st = this[kConn];
  if (st) st.router.responseDone(st, this);
}

/** Socket inactivity: a client that stops sending its body or stops reading the response is dropped. */
function onResponseTimeout(this: Res, sock: Socket): void {
  const req = this.req;
  if (!req.complete || this.writableLength > 0 || this.writableNeedDrain) {
    sock.destroy();
    return;
  }
  // The body is in and the client is waiting for an app that is still working: not the client's fault. Keep
  // watching the connection, from now on with send_timeout (the response side).
  const send = this[kConn]?.router.sendTimeout();
  sock.setTimeout(send !== undefined && send > 0 ? send : (sock.timeout ?? 0));
}

function connInfo(st: ConnState | null, sock: Socket): RequestInfo {
  if (st && st.info) return st.info;
  const info: RequestInfo = {
    remoteAddress: sock.remoteAddress ?? '',
    remotePort: sock.remotePort ?? 0,
    localAddress: sock.localAddress ?? '',
    localPort: sock.localPort ?? 0,
    scheme: schemeOf(sock),
  };
  if (st) st.info = info;
  return info;
}

/** A connection's client address and port (the same for a TLS socket and the connection under it). */
function peerKey(sock: Socket): string {
  return `${sock.remoteAddress}|${sock.remotePort}`;
}

/** `https` on a TLS connection. */
function schemeOf(sock: Socket): 'http' | 'https' {
  return (sock as TLSSocket).encrypted === true ? 'https' : 'http';
}

/** Unit's reason phrases (nxt_h1proto.c); a code without one gets an empty phrase (Unit: none). */
const UNIT_REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols',
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content', 205: 'Reset Content', 206: 'Partial Content',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone',
  411: 'Length Required', 412: 'Precondition Failed', 413: 'Payload Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable', 417: 'Expectation Failed', 426: 'Upgrade Required', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/**
 * The `return` action as Unit answers it (nxt_http_return.c): 400–599 with Unit's error page; any other code
 * (0–399, 600–999) with `Content-Length: 0` and no body; Unit's reason phrase or none; `location` encoded as Unit
 * encodes it (see encodeLocation).
 */
function sendReturn(ctx: RequestContext, action: Action, serverHeader: string): void {
  const res = ctx.res;
  const status = action.status;
  const location = action.location === null ? null : encodeLocation(action.location(ctx));
  if (status < 100) {
    // Node refuses to send status codes below 100; Unit allows 0–999, so write the response head ourselves.
    ctx.rawStatus = status;
    const sock = ctx.req.socket;
    const code = String(status).padStart(3, '0');
    let head = `HTTP/1.1 ${code} \r\nServer: ${serverHeader}\r\n`;
    if (location !== null) head += `Location: ${safeHeaderValue(location)}\r\n`;
    head += 'Content-Length: 0\r\nConnection: close\r\n\r\n';
    sock.end(head);
    return;
  }
  if (location !== null) res.setHeader('Location', safeHeaderValue(location));
  let body: string | undefined;
  if (status >= 400 && status <= 599) {
    body = errorPageBody(status);
    res.setHeader('Content-Type', 'text/html');
    res.setHeader('Content-Length', body.length);
  } else if (status >= 200 && status !== 204 && status !== 304) {
    res.setHeader('Content-Length', 0); // 1xx, 204 and 304 carry no body and must not announce one
  }
  res.writeHead(status, UNIT_REASONS[status] ?? ''); // an explicit phrase: node:http would put in its own
  res.end(body);
}

function applyForwarded(ctx: RequestContext, fw: Forwarded): void {
  if (!fw.source(ctx.remoteAddress, ctx.remotePort)) return;
  if (fw.clientIp !== null) {
    const v = ctx.header(fw.clientIp);
    if (v) {
      const list = v.split(',');
      let chosen = '';
      for (let i = list.length - 1; i >= 0; i--) {
        chosen = list[i].trim();
        if (!fw.recursive || !isIP(chosen) || !fw.source(chosen, -1)) break;
      }
      if (isIP(chosen)) {
        ctx.remoteAddress = chosen;
        ctx.remotePort = 0;
      }
    }
  }
  if (fw.protocol !== null) {
    const v = ctx.header(fw.protocol);
    if (v) {
      const last = v.slice(v.lastIndexOf(',') + 1).trim().toLowerCase();
      if (last === 'https' || last === 'on') ctx.scheme = 'https';
      else if (last === 'http') ctx.scheme = 'http';
    }
  }
}

/** Drops header fields whose names hold anything but letters, digits and `-` (Unit's discard_unsafe_fields). */
function discardUnsafe(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    for (let k = 0; k < name.length; k++) {
      const c = name.charCodeAt(k) | 0x20;
      if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 0x2d)) {
        delete req.headers[name.toLowerCase()];
        raw.splice(i, 2);
        i -= 2;
        break;
      }
    }
  }
}

/** Counts the body bytes of a chunked request as the parser pushes them, answering 413 past `max`. */
function limitChunkedBody(req: IncomingMessage, res: ServerResponse, max: number): void {
  let total = 0;
  const push = req.push;
  req.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null && chunk !== undefined) {
      total += (chunk as Buffer).length;
      if (total > max) {
        // Swallow the rest (no 'end' reaches the handler) and answer 413 once; later writes by the handler are
        // ignored so a gateway still streaming cannot throw on a response that is already sent.
        req.push = () => false;
        if (!res.headersSent) {
          sendError(res, 413, true);
          res.writeHead = () => res;
          res.write = () => true;
          res.end = () => res;
        } else res.destroy();
        return false;
      }
    }
    return push.call(this, chunk, encoding);
  };
}

/** Counts response body bytes for `$body_bytes_sent`. */
function countBodyBytes(ctx: RequestContext): void {
  const res = ctx.res;
  const write = res.write;
  const end = res.end;
  const add = (chunk: unknown, enc: unknown) => {
    if (typeof chunk === 'string') ctx.bodyBytes += Buffer.byteLength(chunk, typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8');
    else if (chunk && typeof (chunk as Buffer).length === 'number') ctx.bodyBytes += (chunk as Buffer).length;
  };
  res.write = function (this: ServerResponse, chunk: unknown, enc?: unknown, cb?: unknown) {
    add(chunk, enc);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, enc, cb);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, enc?: unknown, cb?: unknown) {
    if (typeof chunk !== 'function') add(chunk, enc);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, enc, cb);
  } as ServerResponse['end'];
}

function applyTimeouts(server: Server, cfg: CompiledConfig): void {
  const s = cfg.settings;
  server.headersTimeout = s.headerReadTimeout;
  server.keepAliveTimeout = s.idleTimeout;
}

function listen(server: NetServer, l: CompiledListener): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: l.host, port: l.port, backlog: l.backlog, ipv6Only: l.ipv6Only, exclusive: true });
  });
}

/**
 * Stops accepting; idle connections close now, busy ones after their current response. Resolves once the last
 * connection closed. `serverHeader`: answer idle connections with Unit's 408 first (a listener removed by a
 * reconfiguration, as Unit does); null: close them silently (shutdown, rollback).
 */
function closeServer(entry: ListenerEntry, serverHeader: string | null = null): Promise<void> {
  entry.closing = true;
  if (entry.server.listening) entry.server.close();
  if (serverHeader !== null) {
    // Before node:http's close drops its idle connections: the answer is written first.
    for (const sock of entry.sockets as Set<Sock>) {
      const st = sock[kConn];
      if (sock[kLean] === undefined && st !== undefined && st.busy === 0 && sock.writable) sock.end(idleCloseResponse(serverHeader));
    }
  }
  entry.http.close(); // stops node:http's connection checks and closes its idle connections
  for (const sock of entry.handshakes.values()) sock.destroy(); // TLS handshakes not done yet
  entry.handshakes.clear();
  for (const sock of entry.sockets) (sock as Sock)[kLean]?.closeIfIdle(serverHeader !== null);
  return entry.whenEmpty();
}

function endStream(s: WriteStream): Promise<void> {
  return new Promise((resolve) => s.end(() => resolve()));
}
