import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'http';
import { isIPv4, isIPv6, type Socket } from 'net';
import type { TLSSocket } from 'tls';
import type { ActionRunner } from './action-runner';
import type { AccessLogWriter } from './access-log';
import type { CompiledConfig, Forwarded } from './compiled-config';
import { closingErrorPage, errorPageBody, sendError } from './error-page';
import { kLean, idleCloseResponse, type FastConnection } from './fast-connection';
import { lowerIs } from './fast-parser';
import { parseIp } from './address-pattern';
import { headCeiling } from './head-buffers';
import { normalizeHeads, type HeadNormalizer } from './head-normalizer';
import { ListenerEntry, type ConnState as BaseConnState } from './listener-entry';
import type { ApplicationGateway, RequestInfo, RouterLogger } from './ports';
import { NodeRequestContext, RequestContext } from './request-context';
import { isValidHost, normalizePath, pathLength } from './request-target';
import type { RouterCounters } from './router-stats';
import { responseClass, type ServerHeaderSource } from './server-response';
import { upgradeResponse } from './upgrade';

/** What node:http's path needs from the router. */
export interface NodeHttpDeps {
  gateway: ApplicationGateway;
  log: RouterLogger;
  counters: RouterCounters;
  accessLog: AccessLogWriter;
  actions: ActionRunner;
  /** The `Server` header value source. */
  server: ServerHeaderSource;
  /** The running config (null: none yet). */
  config(): CompiledConfig | null;
}

const kConn = Symbol('warden.router.conn');
const kCtx = Symbol('warden.router.ctx');
/** A refused head waits for the answer to the request before it (clientError). */
const kRefusing = Symbol('warden.router.refusing');

/** A connection's bookkeeping on both paths, with what node:http's path adds. */
export interface ConnState extends BaseConnState {
  owner: NodeHttpPath;
  /** When node:http's parser began the current request (its first byte), ms; 0 when not watched. */
  requestStart: number;
  /** Requests node:http parsed on this connection. */
  httpRequests: number;
  /** What rewrites the heads node:http reads (set when node:http gets the connection). */
  heads: HeadNormalizer | null;
  /** The application the current node:http request was handed to (null: none). */
  app: string | null;
}

type Sock = Socket & { [kConn]?: ConnState; [kLean]?: FastConnection; [kRefusing]?: boolean };
type Res = ServerResponse & { [kConn]?: ConnState; [kCtx]?: NodeRequestContext };

/**
 * node:http's side of the router: each listener's node:http server (it never listens: connections are handed to
 * it), connection bookkeeping for both paths, and the requests node:http parses: Unit's head checks, body limits
 * and timeouts, `forwarded`, then the listener's pass through the action runner; the access log line and the
 * completion hook when the response is done.
 */
export class NodeHttpPath {
  private readonly responseClass: typeof ServerResponse;

  constructor(private readonly deps: NodeHttpDeps) {
    this.responseClass = responseClass(deps.server);
  }

  /** The node:http server of a new listener (its connections come from handOff). */
  createServer(compiled: CompiledConfig, entryOf: () => ListenerEntry): Server {
    const http = createServer({
      ServerResponse: this.responseClass,
      requireHostHeader: false, // Unit takes HTTP/1.1 without Host (an empty host for matching)
      maxHeaderSize: headCeiling(compiled.settings.headBuffers),
      requestTimeout: 0,
      connectionsCheckingInterval: checkingInterval(compiled.settings.headerReadTimeout),
    });
    // The node:http server never listens itself (the net server accepts and hands connections over); this starts
    // its connection tracking (header_read_timeout checks, closeIdleConnections) as listening would.
    http.emit('listening');
    // A client that half-closes after its request gets the answer, then the connection closes (as on the lean path
    // and in Unit); node:http's default ends our side at the client's FIN and drops the answer.
    (http as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    applyTimeouts(http, compiled);
    http.on('connection', (sock: Sock) => {
      this.track(entryOf(), sock);
      if (this.deps.config()?.timesRequests) watchRequestStart(sock);
    });
    http.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(entryOf(), req, res));
    // Upgrade requests are routed like others, answered on the raw socket (see upgrade.ts).
    http.on('upgrade', (req: IncomingMessage, sock: Socket, head: Buffer) =>
      afterAnswered(sock, () =>
        this.onRequest(entryOf(), req, upgradeResponse(this.responseClass, req, sock, head, this.deps.config()?.settings.websocket ?? null)),
      ),
    );
    http.on('timeout', this.onSocketTimeout);
    http.on('connect', (req: IncomingMessage, sock: Socket) =>
      afterAnswered(sock, () => {
        this.deps.counters.requestRefused();
        refuseHead(sock, (req.url ?? '').charCodeAt(0) === 47 ? 405 : 400, this.deps.server.serverHeader);
      }),
    );
    http.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, sock: Socket) => this.clientError(err, sock));
    return http;
  }

  /**
   * What node:http's parser refused (or a head Unit's limits refuse, refuseOversized): Unit's error page and the
   * close. Bytes that follow a request read whole and not answered yet wait for that answer, as Unit reads the next
   * head only then; after a `Connection: close` request they are not read at all (`test_chunked_after_last`).
   */
  private clientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, sock: Socket): void {
    const inFlight = (sock as Socket & { _httpMessage?: (ServerResponse & { req?: IncomingMessage }) | null })._httpMessage;
    if (inFlight && !inFlight.headersSent && inFlight.req?.complete === true && err.code !== 'ECONNRESET' && !sock.destroyed) {
      const s = sock as Sock;
      if (inFlight.shouldKeepAlive && s[kRefusing] !== true) {
        s[kRefusing] = true; // node's parser reports the same error again for every chunk the client sends
        inFlight.once('finish', () =>
          setImmediate(() => {
            s[kRefusing] = false;
            this.clientError(err, sock);
          }),
        );
      }
      return;
    }
    const status = clientErrorStatus(err);
    // A client that ended or reset its side in the middle of a head gets no answer (as in Unit).
    const gone = err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE' || !sock.writable;
    const info = connInfo((sock as Sock)[kConn] ?? null, sock); // while the socket can still say
    let sent = 0;
    if (gone || (inFlight && inFlight.headersSent)) sock.destroy();
    else sent = refuseHead(sock, status, this.deps.server.serverHeader);
    // A refused head between requests is logged as Unit logs it; one in a request's body is that request's line.
    if (!inFlight) this.logRefusedHead(info, status, sent);
  }

  /** Applies a committed config's timeouts to a listener's node:http server. */
  configure(entry: ListenerEntry, compiled: CompiledConfig): void {
    applyTimeouts(entry.http, compiled);
    entry.setHeadBuffers(compiled.settings.headBuffers);
  }

  /** Counts and tracks a new connection of `entry` (once: a connection handed over from the lean path is known). */
  track(entry: ListenerEntry, sock: Sock): ConnState {
    const known = sock[kConn];
    if (known !== undefined) return known;
    this.deps.counters.connectionOpened();
    const st: ConnState = { sock, busy: 0, info: null, entry, startedAt: 0, owner: this, requestStart: 0, httpRequests: 0, heads: null, app: null };
    sock[kConn] = st;
    entry.sockets.add(sock);
    sock.on('close', onSocketClose); // once per connection: `once` would add a wrapper
    return st;
  }

  /**
   * Gives a connection to the listener's node:http server, with `rest` (bytes read and not consumed) put back first.
   * Every byte node:http reads goes through a HeadNormalizer, so node:http takes the heads Unit takes and llhttp
   * refuses (bare LF line ends, spaces in the target) and keeps refusing the rest.
   */
  handOff(entry: ListenerEntry, sock: Socket, rest: Buffer | null): void {
    const heads = normalizeHeads(sock, entry.maxHeaderSize, entry.headBuffers, () => setImmediate(refuseOversized, entry, sock));
    const st = (sock as Sock)[kConn];
    if (st !== undefined) st.heads = heads;
    if (rest !== null) {
      const out = heads.feed(rest);
      if (out.length > 0) sock.unshift(out);
    }
    entry.http.emit('connection', sock);
  }

  /**
   * A new connection of a listener node:http serves, before its first bytes: it waits `idle_timeout` (of the config
   * at accept) as Unit's connections do, then gets Unit's 408 and is closed (nxt_h1p_idle_timeout); its first bytes
   * hand it to node:http, whose header_read_timeout counts from there. A peer that closes first is closed.
   */
  handOffOnData(entry: ListenerEntry, sock: Sock): void {
    const idle = this.deps.config()?.settings.idleTimeout ?? 0;
    let timer: NodeJS.Timeout | null = null;
    const done = (): void => {
      if (timer !== null) clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', done);
    };
    const onData = (chunk: Buffer): void => {
      done();
      // Paused while the bytes go back and node:http attaches (as FastConnection's hand-off does).
      sock.pause();
      this.handOff(entry, sock, chunk);
      sock.resume();
    };
    const onEnd = (): void => {
      done();
      sock.destroy();
    };
    if (idle > 0) {
      timer = setTimeout(() => {
        done();
        if (!sock.writable) {
          sock.destroy();
          return;
        }
        sock.end(idleCloseResponse(this.deps.server.serverHeader));
        sock.destroySoon();
      }, idle);
    }
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('close', done);
  }

  /** A node:http connection of a listener a reconfiguration removed: Unit's 408 if it is idle. */
  answerIdle(sock: Socket): void {
    const st = (sock as Sock)[kConn];
    // A connection in the middle of a head is not idle: its request is served (Unit's test_reconfigure).
    if ((sock as Sock)[kLean] === undefined && st !== undefined && st.busy === 0 && st.heads?.inHead !== true && sock.writable)
      sock.end(idleCloseResponse(this.deps.server.serverHeader));
  }

  /** Connection facts of `st` (built once per connection). */
  info(st: BaseConnState): RequestInfo {
    return connInfo(st as ConnState, st.sock);
  }

  /** @internal Current send_timeout in ms. */
  sendTimeout(): number {
    return this.deps.config()?.settings.sendTimeout ?? 0;
  }

  /** @internal */
  connectionClosed(st: ConnState, sock: Socket): void {
    this.deps.counters.connectionClosed(st);
    st.entry.sockets.delete(sock);
    st.entry.socketGone();
  }

  /**
   * The access log line of a head refused before it was a request (a client that ended its side in the middle of
   * one, a head node:http's parser or Unit's limits refuse): Unit logs it with `$request_line` "-", the status it
   * answered and the body bytes sent (0 when the client was gone).
   */
  private logRefusedHead(i: RequestInfo, status: number, bytes: number): void {
    const log = this.deps.config()?.accessLog;
    if (!log) return;
    const ctx = new RequestContext(
      { method: '', url: '', httpVersion: '', headers: {} },
      null,
      i.remoteAddress,
      i.remotePort,
      i.localAddress,
      i.localPort,
      i.scheme,
    );
    ctx.noRequestLine = true;
    ctx.rawStatus = status;
    ctx.bodyBytes = bytes;
    this.deps.accessLog.write(log, ctx);
  }

  /** @internal The response of the node:http request in flight on `st` is done (completed or dropped). */
  responseDone(st: ConnState, res: Res): void {
    const ctx = res[kCtx];
    const status = !res.headersSent ? 0 : ctx !== undefined && ctx.rawStatus >= 0 ? ctx.rawStatus : res.statusCode;
    this.deps.counters.requestDone(st, status, ctx !== undefined ? ctx.app : st.app, 'node:http');
    st.app = null;
    // node:http waits idle_timeout + 1 s on a kept-alive connection (a margin for its Keep-Alive hint); Unit closes
    // at idle_timeout (with its 408: onSocketTimeout).
    const idle = st.entry.http.keepAliveTimeout;
    if (st.busy === 0 && idle > 0 && st.sock.timeout === idle + 1000) st.sock.setTimeout(idle);
    const log = this.deps.config()?.accessLog;
    if (ctx && log) this.deps.accessLog.write(log, ctx);
    if (st.entry.closing && st.busy === 0) {
      if (!st.sock.destroyed) st.sock.end();
    }
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
    sock.end(idleCloseResponse(this.deps.server.serverHeader));
    sock.destroySoon();
  };

  private onRequest(entry: ListenerEntry, req: IncomingMessage, res: Res): void {
    const sock = req.socket as Sock;
    const st = sock[kConn];
    if (!st) this.deps.counters.requestRefused();
    else {
      this.deps.counters.requestStarted(st);
      res[kConn] = st;
      res.on('close', onResponseClose);
      // A target whose spaces the HeadNormalizer encoded for llhttp: routing, variables and the app see it as
      // received, as in Unit.
      const original = st.heads?.originalTarget(++st.httpRequests);
      if (original !== undefined) req.url = original;
    }
    const refusal = headRefusal(req);
    // A listener a reconfiguration removed serves the requests begun before with the config they began under.
    const cfg = entry.closing ? entry.config : this.deps.config();
    if ((!entry.live && !entry.closing) || cfg === null) {
      sendError(res, 503, true);
      return;
    }
    if (entry.closing) res.shouldKeepAlive = false;
    const s = cfg.settings;
    if (s.discardUnsafeFields) discardUnsafe(req);
    let ctx: NodeRequestContext | null = null;
    if (!entry.fast) {
      const info = connInfo(st ?? null, sock);
      ctx = new NodeRequestContext(req, res, info.remoteAddress, info.remotePort, info.localAddress, info.localPort, info.scheme);
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
          if (url.charCodeAt(0) !== 47 || normalizePath(url.slice(0, pathLength(url))) === null) {
            sendError(res, 400, true);
            return;
          }
        }
        const t = l.pass.target as { app: string; target: string | undefined };
        if (st) st.app = t.app;
        this.deps.gateway.handle(t.app, t.target, req, res, connInfo(st ?? null, sock));
        return;
      }
      if (!ctx.parse()) {
        sendError(res, 400, true);
        return;
      }
      this.deps.actions.run(ctx, l.pass, cfg);
    } catch (err) {
      this.deps.log.error({ err, url: req.url }, 'request handling failed');
      sendError(res, 500);
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
    } else if (name.length === 17 && lowerIs(name, 0, 'transfer-encoding')) {
      if (req.httpVersionMinor === 0) return 400;
      // Unit takes only `chunked` itself (nxt_h1p_transfer_encoding); any other coding is 501 (llhttp decodes a
      // `gzip, chunked` body as chunked and would hand the app a body still gzip-coded without saying so).
      if (raw[i + 1].trim().toLowerCase() !== 'chunked') return 501;
    }
  }
  return req.headers.upgrade === undefined ? 0 : websocketHandshakeRefusal(req);
}

/**
 * Unit's checks of a WebSocket opening handshake (`Connection` naming `upgrade` and `Upgrade: websocket`), made
 * before routing, whatever the route does: GET on HTTP/1.1 with a 24-character Sec-WebSocket-Key, else 400, and
 * Sec-WebSocket-Version 13, else 426. Other upgrades (`Upgrade: h2c`, ...) are not checked.
 */
function websocketHandshakeRefusal(req: IncomingMessage): number {
  const h = req.headers;
  if (!/upgrade/i.test(h.connection ?? '') || (h.upgrade ?? '').toLowerCase() !== 'websocket') return 0;
  if (req.method !== 'GET' || req.httpVersionMinor !== 1) return 400;
  const key = h['sec-websocket-key'];
  if (typeof key !== 'string' || key.length !== 24) return 400;
  return h['sec-websocket-version'] === '13' ? 0 : 426;
}

/**
 * Answers a request node:http does not hand to 'request' with Unit's error page and closes the connection: a CONNECT
 * (node:http offers it as a tunnel; Unit parses only origin-form targets, so its `host:port` CONNECT is 400 there,
 * and one with a `/` target is 405 here: Warden tunnels nothing), or a head node:http's parser refused.
 */
/**
 * A head Unit's header buffers refuse (head-buffers.ts): once the requests before it on the connection are answered,
 * node:http's answer to a head over its limit (431; 'clientError' with its parser's error).
 */
/**
 * Runs `take` once no answer to an earlier request is pending on `sock`. node:http gives an upgrade (or CONNECT)
 * request's socket up as soon as it has parsed its head, while the requests pipelined before it may still be
 * answering; Unit reads the next head only once it has answered. Nothing runs if such an answer closed the
 * connection (`Connection: close`) or the connection went away first.
 */
function afterAnswered(sock: Socket, take: () => void): void {
  const pending = (sock as Socket & { _httpMessage?: (ServerResponse & { _last?: boolean }) | null })._httpMessage;
  if (pending === null || pending === undefined) {
    take();
    return;
  }
  const onClose = (): void => {
    pending.off('finish', onFinish);
  };
  const onFinish = (): void => {
    sock.off('close', onClose);
    // node:http's own 'finish' listener ran first: it detached the response, gave the socket to the next pipelined
    // response if there is one, or ended it after a last response, or armed its keep-alive timeout.
    if (pending._last === true || sock.destroyed || !sock.writable) return;
    if (sock.timeout !== undefined && sock.timeout > 0) sock.setTimeout(0); // as node:http leaves it at a head
    afterAnswered(sock, take);
  };
  pending.once('finish', onFinish);
  sock.once('close', onClose);
}

function refuseOversized(entry: ListenerEntry, sock: Socket): void {
  if (!sock.destroyed) entry.http.emit('clientError', Object.assign(new Error('Header overflow'), { code: 'HPE_HEADER_OVERFLOW' }), sock);
}

/** Answers a refused head with Unit's error page and closes; returns the body's length. */
function refuseHead(sock: Socket, status: number, serverHeader: string): number {
  sock.end(closingErrorPage(status, serverHeader));
  sock.destroySoon();
  return errorPageBody(status).length;
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

/** The connection's one 'close' listener of ours: its lean side (if any) first, then the bookkeeping. */
function onSocketClose(this: Sock): void {
  this[kLean]?.closed();
  const st = this[kConn];
  if (st) st.owner.connectionClosed(st, this);
}

function onResponseClose(this: Res): void {
  const st = this[kConn];
  if (st) st.owner.responseDone(st, this);
}

/** Socket inactivity: a client that stops sending its body or stops reading the response is dropped. */
function onResponseTimeout(this: Res, sock: Socket): void {
  const req = this.req;
  if (!req.complete && !this.headersSent) {
    // The body stopped arriving (body_read_timeout): Unit's 408 page and the close (nxt_h1p_conn_request_timeout);
    // the app sees the request abandoned when the connection closes.
    sendError(this, 408, true);
    return;
  }
  if (!req.complete || this.writableLength > 0 || this.writableNeedDrain) {
    sock.destroy();
    return;
  }
  // The body is in and the client is waiting for an app that is still working: not the client's fault. Keep
  // watching the connection, from now on with send_timeout (the response side).
  const send = this[kConn]?.owner.sendTimeout();
  sock.setTimeout(send !== undefined && send > 0 ? send : (sock.timeout ?? 0));
}

function connInfo(st: ConnState | null, sock: Socket): RequestInfo {
  if (st && st.info) return st.info;
  const info = addressesOf(sock);
  if (st) st.info = info;
  return info;
}

type AddressOut = { address?: string; port?: number };
type AddressHandle = { getpeername?(out: AddressOut): number; getsockname?(out: AddressOut): number };
/** The last address strings seen: connections from one client, and to one listener, share one string each. */
let lastRemote = '';
let lastLocal = '';

/**
 * A connection's addresses, read from its handle (TCP, or TLS over TCP). Node's `remoteAddress` and `localAddress`
 * getters keep two address objects on the socket for its whole life, and each connection kept its own copy of equal
 * address strings; the connection's info holds what its requests need: 176 bytes less of V8 heap per idle keep-alive
 * connection (heap snapshots with 2,000 open). A socket whose handle cannot say (closed) is asked through the getters.
 */
function addressesOf(sock: Socket): RequestInfo {
  const h = (sock as Socket & { _handle?: AddressHandle | null })._handle;
  const peer: AddressOut = {};
  const local: AddressOut = {};
  if (h == null || typeof h.getpeername !== 'function' || typeof h.getsockname !== 'function' || h.getpeername(peer) !== 0 || h.getsockname(local) !== 0) {
    // A unix socket's handle (a pipe) has no addresses: Unit calls both ends "unix:" ($remote_addr, `source: "unix"`).
    const unix = h != null && typeof h.getpeername !== 'function';
    return {
      remoteAddress: sock.remoteAddress ?? (unix ? 'unix:' : ''),
      remotePort: sock.remotePort ?? 0,
      localAddress: sock.localAddress ?? (unix ? 'unix:' : ''),
      localPort: sock.localPort ?? 0,
      scheme: schemeOf(sock),
    };
  }
  const remote = peer.address ?? '';
  const here = local.address ?? '';
  if (remote !== lastRemote) lastRemote = remote;
  if (here !== lastLocal) lastLocal = here;
  return { remoteAddress: lastRemote, remotePort: peer.port ?? 0, localAddress: lastLocal, localPort: local.port ?? 0, scheme: schemeOf(sock) };
}

/**
 * `forwarded` as Unit applies it (nxt_http_request_forward): only for a client in `source`; `client_ip` from the
 * fields of that name that are not empty, items separated by commas and spaces, read from the last; `protocol`
 * from the first such field, whose whole value must be `http`, `https` or `on` (any case).
 */
function applyForwarded(ctx: NodeRequestContext, fw: Forwarded): void {
  if (!fw.source(ctx.remoteAddress, ctx.remotePort)) return;
  if (fw.clientIp !== null) {
    const fields = nonEmpty(ctx.headerAll(fw.clientIp));
    if (fields.length > 0) forwardClientIp(ctx, fw, fields);
  }
  if (fw.protocol !== null) {
    const first = nonEmpty(ctx.headerAll(fw.protocol))[0];
    const v = first === undefined ? '' : first.toLowerCase();
    if (v === 'http') ctx.scheme = 'http';
    else if (v === 'https' || v === 'on') ctx.scheme = 'https';
  }
}

function nonEmpty(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (typeof v === 'string' ? [v] : v).filter((f) => f !== '');
}

/**
 * The client address from `X-Forwarded-For`-like fields (nxt_http_request_forward_client_ip): the last item, or
 * with `recursive` the last one not in `source` (the first item when all are); an item that is not an address
 * (`ip`, `ip:port`, `[ipv6]`, `[ipv6]:port`; not an unspecified one) ends the search with the last address taken.
 */
function forwardClientIp(ctx: NodeRequestContext, fw: Forwarded, fields: string[]): void {
  let prev: ForwardedAddress = { address: ctx.remoteAddress, port: ctx.remotePort };
  let found = prev;
  search: for (let i = fields.length - 1; i >= 0; i--) {
    const v = fields[i];
    let len = v.length;
    do {
      let p = len - 1;
      while (p > 0 && (v[p] === ' ' || v[p] === ',')) {
        p--;
        len--;
      }
      while (p > 0) {
        if (v[p] === ' ' || v[p] === ',') {
          p++;
          break;
        }
        p--;
      }
      const sa = forwardedAddress(v.slice(p, len));
      if (sa === null) {
        found = prev;
        break search;
      }
      if (!fw.recursive || !fw.source(sa.address, sa.port) || (i === 0 && p === 0)) {
        found = sa;
        break search;
      }
      prev = sa;
      len = p - 1;
    } while (len > 0);
  }
  ctx.remoteAddress = found.address;
  ctx.remotePort = found.port;
}

interface ForwardedAddress {
  address: string;
  port: number;
}

/** `ip`, `ip:port`, `[ipv6]`, `[ipv6]:port` or a bare IPv6 address; null for anything else or an unspecified one. */
function forwardedAddress(s: string): ForwardedAddress | null {
  let address = s;
  let port = 0;
  if (s.charCodeAt(0) === 91 /* [ */) {
    const close = s.indexOf(']');
    if (close < 0) return null;
    address = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (rest.charCodeAt(0) !== 58 /* : */) return null;
      port = portOf(rest.slice(1));
    }
    if (!isIPv6(address)) return null;
  } else if (!isIPv6(s)) {
    const colon = s.indexOf(':');
    if (colon >= 0) {
      address = s.slice(0, colon);
      port = portOf(s.slice(colon + 1));
    }
    if (!isIPv4(address)) return null;
  }
  if (port < 0) return null;
  const ip = parseIp(address);
  if (ip === null || (ip.value === 0n && (ip.family === 4 ? address === '0.0.0.0' : true))) return null;
  return { address, port };
}

/** A port number 1-65535, or -1. */
function portOf(s: string): number {
  if (!/^\d{1,5}$/.test(s)) return -1;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : -1;
}

/** Drops header fields whose names hold anything but letters, digits and `-` (Unit's discard_unsafe_fields). */
function discardUnsafe(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    for (let k = 0; k < name.length; k++) {
      const c = name.charCodeAt(k) | 0x20;
      if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 0x2d)) {
        // node:http builds `headers` and `headersDistinct` from rawHeaders by the count it parsed, when first read:
        // both are built before rawHeaders shrinks (else a read of headersDistinct threw), and the field goes from each.
        const lower = name.toLowerCase();
        delete req.headers[lower];
        delete req.headersDistinct[lower];
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
function countBodyBytes(ctx: NodeRequestContext): void {
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

/** How often node:http checks its connections' head timers: a quarter of header_read_timeout, 250 ms to 30 s. */
function checkingInterval(headerReadTimeout: number): number {
  return Math.max(250, Math.min(30_000, headerReadTimeout / 4 || 30_000));
}

type CheckedServer = Server & Record<symbol, (NodeJS.Timeout & { _onTimeout?: unknown; _repeat?: number | null }) | undefined>;

/**
 * Makes node:http check its connections at the interval a new header_read_timeout needs. node:http fixes it when the
 * server starts (its `connectionsCheckingInterval`), so a timeout lowered on a running listener was only noticed at
 * the old, longer interval (a head 3 s late under a new 2 s timeout was served). The check node:http runs is kept;
 * only its timer changes.
 */
function setCheckingInterval(server: Server, ms: number): void {
  const sym = Object.getOwnPropertySymbols(server).find((k) => k.description === 'http.server.connectionsCheckingInterval');
  if (sym === undefined) return;
  const srv = server as CheckedServer;
  const timer = srv[sym];
  if (timer === undefined || typeof timer._onTimeout !== 'function' || timer._repeat === ms) return;
  const check = timer._onTimeout as () => void;
  clearInterval(timer);
  srv[sym] = setInterval(check, ms).unref();
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = ms;
}

function applyTimeouts(server: Server, cfg: CompiledConfig): void {
  const s = cfg.settings;
  server.headersTimeout = s.headerReadTimeout;
  setCheckingInterval(server, checkingInterval(s.headerReadTimeout));
  server.keepAliveTimeout = s.idleTimeout;
}

/** `https` on a TLS connection. */
function schemeOf(sock: Socket): 'http' | 'https' {
  return (sock as TLSSocket).encrypted === true ? 'https' : 'http';
}
