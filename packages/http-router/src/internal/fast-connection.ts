import { STATUS_CODES } from 'http';
import { writevSync } from 'fs';
import type { Socket } from 'net';
import type { HttpSettings } from './compiled-config';
import { closingErrorPage, errorPageBody, errorPageHead, informationalFits, statusLine } from './error-page';
import { HEAD_FALLBACK, HEAD_INCOMPLETE, lowerIs, parseHead, TCHAR, type LeanHead } from './fast-parser';
import { flushLater, type HeadHolder } from './head-flush';
import { HEADER_BUFFER_SIZE, headFits } from './head-buffers';
import type { ConnState, ListenerEntry } from './listener-entry';
import type { LeanExchange, LeanHandler, RequestInfo } from './ports';
import { normalizePath, pathLength } from './request-target';
import { latin1Write } from '@warden/latin1';
import { isSharedRead, ownBytes, pushCopy, readShared } from './shared-read';

/** What a lean connection needs from the router. */
export interface LeanHost {
  /** Current `Server` header value. */
  readonly serverHeader: string;
  /** The lean connections and their timeout sweep. */
  readonly leanConnections: LeanConnections;
  /** Settings of the running config (null: none yet). */
  leanSettings(): HttpSettings | null;
  /**
   * The application a request on `entry` goes to on the lean path (routes matched; a rewrite changes ex.target),
   * or null when it must take node:http.
   */
  leanTarget(entry: ListenerEntry, st: ConnState, ex: FastExchange): { app: string; target: string | undefined } | null;
  /** Connection facts of `st` (built once). */
  leanInfo(st: ConnState): RequestInfo;
  /** A request started / its response completed (`status` sent, 0: none; `app` that served it, or null). */
  leanStarted(st: ConnState): void;
  leanDone(st: ConnState, status: number, app: string | null): void;
  /** Hands the request to the gateway (errors answered 500 by the caller). */
  leanDispatch(app: string, target: string | undefined, ex: FastExchange): void;
  /** Logs an unexpected error. */
  leanError(err: unknown, what: string): void;
  /** Gives the socket to the listener's node:http server, with the bytes not consumed yet (`rest`). */
  leanHandOff(entry: ListenerEntry, sock: Socket, rest: Buffer | null): void;
}

/** Where a socket on the lean path keeps its FastConnection. */
export const kLean = Symbol('warden.lean');
type LeanSocket = Socket & { [kLean]?: FastConnection };

// Connection phases.
const IDLE = 0; // waiting for the first byte of a request
const HEAD = 1; // part of a request head received
const BODY = 2; // reading the request body
const RESPONSE = 3; // request read, response not complete
const DISCARD = 4; // response complete, dropping the rest of the request body
const CLOSED = 5; // closing (Connection: close sent, or handed to node:http)

// Why the socket is paused (bits).
const P_BODY = 1; // the gateway asked (request-body back-pressure)
const P_QUEUE = 2; // body bytes queued while no handler is attached yet
const P_PIPELINE = 4; // too many pipelined bytes buffered behind the request in flight

/** Bytes of pipelined requests buffered behind the one in flight before reading stops. */
const PIPELINE_LIMIT = 64 * 1024;
/** Request body bytes queued before the gateway attached a handler before reading stops. */
const QUEUE_LIMIT = 64 * 1024;
/** Heads and bodies up to this size are copied into one buffer and written at once. */
const COPY_LIMIT = 16 * 1024;

const EMPTY: string[] = [];

// The Date header, as node:http makes it: cached for the current second.
let dateCache = '';
function resetDate(): void {
  dateCache = '';
}
function utcDate(): string {
  if (dateCache === '') {
    const d = new Date();
    dateCache = d.toUTCString();
    setTimeout(resetDate, 1000 - d.getMilliseconds()).unref();
  }
  return dateCache;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TCHAR[c] === 0) return false;
  }
  return true;
}
/** node:http's rule for header values: HTAB, SP, visible ASCII and obs-text. */
function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127 || c > 255) return false;
  }
  return true;
}

/**
 * The status line with the app's own reason phrase and/or HTTP/1.0 (the cached line when neither differs), or null
 * when the phrase has bytes a status line cannot carry.
 */
function customStatusLine(status: number, reason: string | undefined, http10: boolean | undefined): string | null {
  const standard = STATUS_CODES[status] || 'unknown';
  if (reason === undefined || reason === standard) {
    if (http10 !== true) return statusLine(status);
    reason = standard;
  } else if (typeof reason !== 'string' || !isFieldValue(reason)) return null;
  return (http10 === true ? 'HTTP/1.0 ' : 'HTTP/1.1 ') + status + ' ' + reason + '\r\n';
}

/** 'Connection: keep-alive' with node:http's Keep-Alive line for an idle_timeout, cached for the last value. */
let keepAliveFor = -1;
let keepAliveLines = '';
function keepAliveHead(idleMs: number, withTimeout: boolean): string {
  if (!withTimeout || idleMs <= 0) return 'Connection: keep-alive\r\n';
  if (idleMs !== keepAliveFor) {
    keepAliveFor = idleMs;
    keepAliveLines = 'Connection: keep-alive\r\nKeep-Alive: timeout=' + Math.floor(idleMs / 1000) + '\r\n';
  }
  return keepAliveLines;
}

/**
 * What Unit sends a kept-alive connection it closes (idle_timeout, or its listener removed: nxt_h1p_idle_response):
 * 408 without a body.
 */
export function idleCloseResponse(serverHeader: string): string {
  return `HTTP/1.1 408 Request Timeout\r\nServer: ${serverHeader}\r\nConnection: close\r\nContent-Length: 0\r\nDate: ${utcDate()}\r\n\r\n`;
}

/** The fd of a plain TCP socket (its libuv handle's), or -1: a TLS socket's bytes must go through TLS. */
function socketFd(sock: Socket): number {
  if ((sock as Socket & { encrypted?: boolean }).encrypted === true) return -1;
  const fd = (sock as Socket & { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

const RE_CLOSE = /(?:^|\W)close(?:$|\W)/i;
const RE_CHUNKED = /(?:^|\W)chunked(?:$|\W)/i;

/** The set of lean connections of a router and their timeout sweep (one interval for all, not a timer per socket). */
export class LeanConnections {
  private readonly all = new Set<FastConnection>();
  private timer: NodeJS.Timeout | null = null;
  private period = 1000;
  private settings: HttpSettings | null = null;

  /** Settings changed: the sweep period follows the smallest timeout. */
  configure(s: HttpSettings): void {
    this.settings = s;
    let min = Infinity;
    for (const t of [s.headerReadTimeout, s.bodyReadTimeout, s.sendTimeout, s.idleTimeout]) if (t > 0 && t < min) min = t;
    const period = Math.max(25, Math.min(1000, Math.floor(min / 4)));
    if (period !== this.period) {
      this.period = period;
      if (this.timer !== null) {
        clearInterval(this.timer);
        this.timer = null;
        this.start();
      }
    }
  }

  add(c: FastConnection): void {
    this.all.add(c);
    if (this.timer === null) this.start();
  }

  delete(c: FastConnection): void {
    this.all.delete(c);
    if (this.all.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Stops the sweep (router closed). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private start(): void {
    this.timer = setInterval(() => this.sweep(), this.period);
    this.timer.unref();
  }

  private sweep(): void {
    const s = this.settings;
    if (s === null) return;
    const now = Date.now();
    for (const c of this.all) c.checkTimeout(now, s);
  }
}

/**
 * One client connection on the lean path: parses requests with parseHead, serves them one at a time in order
 * (pipelined ones wait in the buffer), streams Content-Length bodies to the gateway with back-pressure, and writes
 * responses itself. Anything it does not take is handed, with every byte not yet consumed, to node:http.
 */
export class FastConnection {
  /** Received bytes not consumed yet. */
  private buf: Buffer | null = null;
  /** The growing buffer `buf` may be a view of (see append). */
  private spare: Buffer | null = null;
  /** Bytes of `buf` already searched for the end of a head. */
  private searched = 0;
  private phase = IDLE;
  /** When the phase started (IDLE, HEAD) or the body was last read (BODY, DISCARD), ms. */
  private since: number;
  /** When the response bytes now buffered in the socket started waiting, ms. */
  private writeSince = 0;
  private paused = 0;
  private driving = false;
  private peerEnded = false;
  private served = 0;
  private bodyLeft = 0;
  /** The request in flight. */
  private ex: FastExchange | null = null;
  /** The socket's fd for writes that skip its stream (writeNow), or -1 (a TLS socket, or no fd). */
  private readonly fd: number;
  // The socket's listeners: shared by every connection (called with the socket as `this`), not four closures and a
  // context per connection (about 330 bytes each of 10,000 idle connections). 'close' has no listener of ours: the
  // router's one for the connection calls closed() (a third 'close' listener grew the socket's array by 144 bytes).
  private static onData(this: LeanSocket, chunk: Buffer): void {
    this[kLean]?.data(chunk);
  }
  /** A read into the shared buffer (readShared); once the socket is not ours any more, Node's own 'data' events. */
  private static onSharedRead(this: LeanSocket, nread: number, buf: Buffer): boolean {
    const c = this[kLean];
    if (c === undefined) return pushCopy(this, nread, buf);
    c.data(buf.subarray(0, nread));
    return true;
  }
  private static onEnd(this: LeanSocket): void {
    this[kLean]?.peerEnd();
  }
  private static onDrain(this: LeanSocket): void {
    this[kLean]?.drained();
  }

  constructor(
    readonly sock: Socket,
    readonly entry: ListenerEntry,
    readonly st: ConnState,
    readonly host: LeanHost,
  ) {
    this.since = Date.now();
    this.fd = socketFd(sock);
    (sock as LeanSocket)[kLean] = this;
    // Plain TCP: reads land in the router's one read buffer; bytes kept past a read are copied (see data()).
    if (!readShared(sock, FastConnection.onSharedRead)) sock.on('data', FastConnection.onData);
    sock.on('end', FastConnection.onEnd);
    sock.on('drain', FastConnection.onDrain);
    sock.on('error', noop); // 'close' follows and does the cleanup (the router's listener calls closed())
    host.leanConnections.add(this);
  }

  /**
   * Closes the connection now if no request is in flight (a listener being removed); with `answer`, as Unit does
   * for a kept-alive connection of a removed listener: Unit's 408 response (idleCloseResponse), then the close.
   */
  closeIfIdle(answer: boolean): void {
    // A head that has begun is a request (Unit binds it to its configuration at its first byte): when its listener is
    // removed (`answer`), it is served and the connection closes after it; on shutdown it is dropped.
    if (this.phase !== IDLE && (this.phase !== HEAD || answer)) return;
    if (answer) {
      this.phase = CLOSED;
      this.since = Date.now(); // the client gets send_timeout (or 30 s) to take the answer and close
      this.buf = null;
      this.sock.end(idleCloseResponse(this.host.serverHeader));
    } else this.sock.destroy();
  }

  private data(chunk: Buffer): void {
    if (this.phase === CLOSED) return; // after Connection: close: the rest is not read
    const b = this.buf;
    this.buf = b === null ? chunk : this.append(b, chunk);
    this.safeDrive();
    // Bytes of a shared read not consumed (a head in pieces, pipelined requests, a body held back) are kept in a
    // buffer of our own, the growing one append() extends.
    const rest = this.buf;
    if (rest !== null && isSharedRead(rest)) {
      const own = Buffer.allocUnsafe(Math.max(rest.length, 4096));
      rest.copy(own, 0);
      this.spare = own;
      this.buf = own.subarray(0, rest.length);
    }
  }

  /**
   * `b` + `chunk` (a head arriving in pieces, pipelined bytes behind a request). The bytes gather in a buffer that
   * grows by doubling, so a head trickled byte by byte costs linear copying, not quadratic. Bytes already handed
   * out (body slices) are never overwritten: only a view that still starts the spare buffer is extended in place.
   */
  private append(b: Buffer, chunk: Buffer): Buffer {
    const need = b.length + chunk.length;
    const spare = this.spare;
    if (spare !== null && b.buffer === spare.buffer && b.byteOffset === spare.byteOffset && spare.length >= need) {
      chunk.copy(spare, b.length);
      return spare.subarray(0, need);
    }
    const grown = Buffer.allocUnsafe(Math.max(need, 2 * b.length, 4096));
    b.copy(grown, 0);
    chunk.copy(grown, b.length);
    this.spare = grown;
    return grown.subarray(0, need);
  }

  private safeDrive(): void {
    try {
      this.drive();
    } catch (err) {
      // A bug must cost this connection only, never the process (nor the app channel whose callback got here).
      this.host.leanError(err, 'lean connection failed');
      this.sock.destroy();
    }
  }

  /** Consumes buffered bytes as far as the current state allows. */
  private drive(): void {
    if (this.driving) return;
    this.driving = true;
    try {
      for (;;) {
        const b = this.buf;
        if (b === null) break;
        const ph = this.phase;
        if (ph === BODY || ph === DISCARD) {
          this.buf = null;
          this.feedBody(b);
          continue;
        }
        if (ph !== IDLE && ph !== HEAD) break;
        const s = this.host.leanSettings();
        if (s === null) {
          this.handOff();
          return;
        }
        const ex = new FastExchange(this);
        const n = parseHead(b, b.length, this.searched, this.entry.maxHeaderSize, s.discardUnsafeFields, ex);
        if (n === HEAD_INCOMPLETE) {
          if (ph === IDLE) {
            this.phase = HEAD;
            this.since = Date.now(); // header_read_timeout counts from the head's first bytes (the wait before was idle)
          }
          this.searched = b.length;
          break;
        }
        if (n === HEAD_FALLBACK || (n > HEADER_BUFFER_SIZE && !headFits(b, n, this.entry.headBuffers))) {
          // node:http's path answers it (a head Unit's buffers refuse: 431 there).
          this.handOff();
          return;
        }
        const t = this.host.leanTarget(this.entry, this.st, ex);
        if (t === null) {
          // node:http serves it (a head Unit takes and llhttp would refuse is rewritten on the way: HeadNormalizer).
          this.handOff();
          return;
        }
        this.buf = n === b.length ? null : b.subarray(n);
        this.searched = 0;
        this.start(ex, t.app, t.target, s);
      }
      if (this.phase === RESPONSE && this.buf !== null && this.buf.length > PIPELINE_LIMIT) this.pause(P_PIPELINE);
      if (this.peerEnded && (this.phase === IDLE || this.phase === HEAD)) this.finish();
    } finally {
      this.driving = false;
    }
  }

  private start(ex: FastExchange, app: string, target: string | undefined, s: HttpSettings): void {
    this.ex = ex;
    this.host.leanStarted(this.st);
    const cl = ex.contentLength;
    this.bodyLeft = cl;
    this.phase = cl > 0 ? BODY : RESPONSE;
    this.since = Date.now();
    if (this.entry.closing) ex.keepAlive = false;
    if (cl > s.maxBodySize) {
      ex.sendError(413, true);
      return;
    }
    const t = ex.target;
    if (!ex.targetChecked && (t.indexOf('%') !== -1 || t.indexOf('/.') !== -1)) {
      if (normalizePath(t.slice(0, pathLength(t))) === null) {
        ex.sendError(400, true);
        return;
      }
    }
    ex.info = this.host.leanInfo(this.st);
    ex.app = app;
    try {
      this.host.leanDispatch(app, target, ex);
    } catch (err) {
      this.host.leanError(err, 'request handling failed');
      ex.sendError(500, false);
    }
  }

  private feedBody(b: Buffer): void {
    const left = this.bodyLeft;
    let part = b;
    if (b.length > left) {
      part = b.subarray(0, left);
      this.buf = b.subarray(left);
    }
    this.bodyLeft = left - part.length;
    this.since = Date.now();
    const last = this.bodyLeft === 0;
    if (this.phase === DISCARD) {
      if (last) this.next();
      return;
    }
    if (last) this.phase = RESPONSE;
    this.ex!.body(part, last);
  }

  /** @internal The response of `ex` is complete. */
  exchangeDone(ex: FastExchange): void {
    if (ex !== this.ex) return;
    this.host.leanDone(this.st, ex.status, ex.app);
    if (ex.last || this.entry.closing) {
      this.finish();
      return;
    }
    if (this.phase === BODY) {
      // Answered before the body was read: read the rest and drop it (node:http does the same), then go on.
      this.phase = DISCARD;
      this.unpause(P_BODY | P_QUEUE);
      return;
    }
    this.next();
  }

  private next(): void {
    this.ex = null;
    this.phase = IDLE;
    this.since = Date.now();
    this.served++;
    this.searched = 0;
    this.unpause(P_BODY | P_QUEUE | P_PIPELINE);
    if (this.entry.closing) {
      this.finish();
      return;
    }
    this.safeDrive();
  }

  /** Ends our side once the written bytes are out; what the client still sends is ignored. */
  private finish(): void {
    if (this.phase === CLOSED) return;
    this.phase = CLOSED;
    this.since = Date.now();
    this.buf = null;
    this.unpause(P_BODY | P_QUEUE | P_PIPELINE);
    if (!this.sock.destroyed) this.sock.end();
  }

  private handOff(): void {
    const sock = this.sock;
    this.phase = CLOSED;
    this.detach();
    const rest = this.buf === null ? null : ownBytes(this.buf);
    this.buf = null;
    if (sock.destroyed) return;
    if (this.peerEnded) {
      // node:http cannot take a socket whose readable side already ended; the bytes are an incomplete request.
      sock.destroy();
      return;
    }
    // Paused while the bytes go back and node:http attaches, then resumed: the bytes put back are emitted to
    // node:http on the next tick, before anything the socket reads later.
    sock.pause();
    this.host.leanHandOff(this.entry, sock, rest);
    this.paused = 0;
    sock.resume();
  }

  private detach(): void {
    const sock = this.sock;
    sock.off('data', FastConnection.onData); // a shared socket's reads are pushed as 'data' from now on (onSharedRead)
    sock.off('end', FastConnection.onEnd);
    sock.off('drain', FastConnection.onDrain);
    sock.off('error', noop);
    (sock as LeanSocket)[kLean] = undefined;
    this.host.leanConnections.delete(this);
  }

  private peerEnd(): void {
    this.peerEnded = true;
    if (this.phase === IDLE || this.phase === HEAD) {
      this.finish();
      return;
    }
    // A client that ends its side after a complete request still gets the answer, and the connection closes after
    // it (exchangeDone -> next -> drive): Unit reads nothing while a request is being answered, so a half-close is
    // only seen afterwards. A client that went away altogether is found when the answer's write fails ('close').
    if (this.phase === CLOSED || this.phase === RESPONSE) return;
    // In a body: the request cannot be complete any more (Unit: the request fails); the app is told.
    const ex = this.ex;
    this.ex = null;
    if (ex !== null && !ex.done) {
      this.host.leanDone(this.st, 0, ex.app);
      ex.abort();
    }
    this.finish();
  }

  private drained(): void {
    this.writeSince = Date.now();
    const ex = this.ex;
    if (ex !== null && ex.waitingDrain) {
      ex.waitingDrain = false;
      if (ex.handler !== null && !ex.done) ex.handler.onWritable();
    }
  }

  /** @internal The socket closed (called by the router's 'close' listener of the connection). */
  closed(): void {
    this.phase = CLOSED;
    this.detach();
    const ex = this.ex;
    this.ex = null;
    this.buf = null;
    if (ex !== null) ex.abort();
  }

  /** @internal */
  pause(bit: number): void {
    if (this.paused === 0) this.sock.pause();
    this.paused |= bit;
  }

  /** @internal */
  unpause(bits: number): void {
    if (this.paused === 0) return;
    this.paused &= ~bits;
    if (this.paused === 0) {
      this.since = Date.now();
      this.sock.resume();
    }
  }

  /**
   * @internal Writes head, body and tail as one socket write (one buffer when small, corked writev otherwise).
   * `view`: the body is valid only during this call; over COPY_LIMIT it goes to the socket's fd at once (writev) when
   * nothing of ours waits in the socket, and what the kernel does not take (or all of it, when something waits) is
   * copied. Returns the socket's write result.
   */
  send(head: string | null, body: Buffer | null, tail: string | null, view = false): boolean {
    const sock = this.sock;
    if (!sock.writable) return true;
    const idle = sock.writableLength === 0;
    if (idle) this.writeSince = Date.now();
    const hl = head === null ? 0 : head.length;
    const bl = body === null ? 0 : body.length;
    const tl = tail === null ? 0 : tail.length;
    if (bl <= COPY_LIMIT) {
      const out = Buffer.allocUnsafe(hl + bl + tl);
      let o = 0;
      if (hl > 0) o += latin1Write(out, head!, 0, hl);
      if (bl > 0) o += body!.copy(out, o);
      if (tl > 0) latin1Write(out, tail!, o, tl);
      return sock.write(out);
    }
    if (view) {
      if (idle && this.fd >= 0 && !sock.writableCorked) return this.writeNow(head, body!, tail);
      body = Buffer.from(body!);
    }
    sock.cork();
    if (hl > 0) sock.write(head!, 'latin1');
    sock.write(body!);
    if (tl > 0) sock.write(tail!, 'latin1');
    sock.uncork();
    return !sock.writableNeedDrain;
  }

  /**
   * head + body + tail straight to the socket's fd (one writev, no copy of the body), when nothing of ours waits in
   * the socket; the rest, if the kernel took less, through the socket's stream, the body's part copied (it is a view
   * the caller reuses). An error (EAGAIN: the socket buffer is full) leaves it all to the stream, which reports any
   * other error as it would have.
   */
  private writeNow(head: string | null, body: Buffer, tail: string | null): boolean {
    const sock = this.sock;
    const parts: Buffer[] = [];
    if (head !== null && head.length > 0) parts.push(Buffer.from(head, 'latin1'));
    const bodyAt = parts.length;
    parts.push(body);
    if (tail !== null && tail.length > 0) parts.push(Buffer.from(tail, 'latin1'));
    let n = 0;
    try {
      n = writevSync(this.fd, parts);
    } catch {
      n = 0;
    }
    let rest = false;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (n >= p.length) {
        n -= p.length;
        continue;
      }
      const left = n === 0 ? p : p.subarray(n);
      sock.write(i === bodyAt ? Buffer.from(left) : left);
      n = 0;
      rest = true;
    }
    return !rest || !sock.writableNeedDrain;
  }

  /** @internal idle_timeout of the running config (for the Keep-Alive line), ms. */
  settingsIdle(): number {
    return this.host.leanSettings()?.idleTimeout ?? 0;
  }

  /** @internal Called by the sweep with the current time. */
  checkTimeout(now: number, s: HttpSettings): void {
    const sock = this.sock;
    if (sock.destroyed) return;
    if (s.sendTimeout > 0 && sock.writableLength > 0 && now - this.writeSince >= s.sendTimeout) {
      sock.destroy(); // the client stopped reading the response
      return;
    }
    const elapsed = now - this.since;
    switch (this.phase) {
      case IDLE:
        // No byte of a request yet, on a new connection or a kept-alive one: idle_timeout, then Unit's 408 and the
        // close (nxt_h1p_idle_timeout; Unit starts every connection in that idle state, header_read_timeout applies
        // once a head has begun).
        if (s.idleTimeout > 0 && elapsed >= s.idleTimeout) this.closeIfIdle(true);
        return;
      case HEAD:
        if (s.headerReadTimeout > 0 && elapsed >= s.headerReadTimeout) {
          // Unit's error page (nxt_h1p_conn_request_timeout), then the close.
          sock.end(closingErrorPage(408, this.host.serverHeader));
          sock.destroySoon();
        }
        return;
      case BODY:
      case DISCARD:
        // A client held back by us (the app is slow to take the body) is not timed out.
        if ((this.paused & (P_BODY | P_QUEUE)) === 0 && s.bodyReadTimeout > 0 && elapsed >= s.bodyReadTimeout) {
          if (this.phase === BODY && this.ex !== null) this.ex.bodyTimedOut();
          else sock.destroy();
        }
        return;
      case CLOSED: {
        // Our side ended; a client that never closes its side is dropped after a while.
        const t = s.sendTimeout > 0 ? s.sendTimeout : 30_000;
        if (elapsed >= t) sock.destroy();
        return;
      }
      default:
      // RESPONSE: waiting for the app is not the client's fault (send_timeout above covers a client not reading).
    }
  }
}

function noop(): void {}

/** One request on the lean path (see LeanExchange in ports.ts for the contract). */
export class FastExchange implements LeanExchange, LeanHead, HeadHolder {
  /** 1xx responses the app sent for this request (see informationalFits). */
  private infos = 0;
  method = '';
  target = '';
  httpVersion = '1.1';
  rawHeaders: string[] = EMPTY;
  contentLength = 0;
  keepAlive = true;
  lenient = false;
  info!: RequestInfo;
  /** @internal Set by route matching, which validated the target already (and may have rewritten it). */
  targetChecked = false;
  /** @internal The status sent (0: none yet). */
  status = 0;
  /** @internal The application the request was handed to (null: answered by the router). */
  app: string | null = null;
  /** @internal */ handler: LeanHandler | null = null;
  /** @internal The response is complete, or the client went away. */
  done = false;
  /** @internal */ waitingDrain = false;
  /** @internal Close the connection after this response. */
  last = false;
  private aborted = false;
  private queue: Buffer[] | null = null;
  private queued = 0;
  private bodyEnded = false;
  /** The response head, built by respond() and sent with the first body bytes (or at end). */
  private head: string | null = null;
  private started = false;
  private noBody = false;
  private chunked = false;
  private lengthLeft = -1;
  /** The trailer section ("Name: value\r\n" lines) to send with the last chunk; '' = none. */
  private trailer = '';

  constructor(private readonly conn: FastConnection) {}

  attach(handler: LeanHandler): void {
    if (this.handler !== null) return;
    this.handler = handler;
    if (this.aborted) {
      handler.onAbort();
      return;
    }
    const q = this.queue;
    let more = true;
    if (q !== null) {
      this.queue = null;
      this.queued = 0;
      for (let i = 0; i < q.length; i++) if (!handler.onBody(q[i])) more = false;
    }
    if (this.bodyEnded) handler.onBodyEnd();
    if (!more) this.conn.pause(P_BODY);
    this.conn.unpause(P_QUEUE);
  }

  resumeBody(): void {
    if (!this.done) this.conn.unpause(P_BODY);
  }

  /** @internal Request body bytes from the connection (a view of the shared read buffer, or bytes of our own). */
  body(chunk: Buffer, last: boolean): void {
    if (this.done) return;
    const h = this.handler;
    if (h !== null) {
      let more: boolean;
      if (!isSharedRead(chunk)) more = h.onBody(chunk);
      else if (h.onBodyView !== undefined) more = h.onBodyView(chunk, last);
      else more = h.onBody(Buffer.from(chunk));
      if (!more) this.conn.pause(P_BODY);
      if (last) h.onBodyEnd();
      return;
    }
    (this.queue ??= []).push(ownBytes(chunk));
    this.queued += chunk.length;
    if (last) this.bodyEnded = true;
    else if (this.queued > QUEUE_LIMIT) this.conn.pause(P_QUEUE);
  }

  respond(status: number, headers: string[], reason?: string, http10?: boolean): boolean {
    if (this.done) return true; // the client is gone: nothing to refuse
    if (this.head !== null || this.started) return false;
    // A final head is 200-999: a 1xx here (101 to a request that asked for no upgrade, say) would tell the client the
    // protocol switched, or that more is to come, while the connection carries on as HTTP (RFC 9110 15.2).
    if (!Number.isInteger(status) || status < 200 || status > 999 || !Array.isArray(headers) || headers.length % 2 !== 0) return false;
    let h = reason === undefined && http10 !== true ? statusLine(status) : customStatusLine(status, reason, http10);
    if (h === null) return false;
    let hasServer = false;
    let hasDate = false;
    let conn = 0; // 0: none from the app, 1: keep, 2: close
    let te = 0; // 0: none, 1: chunked, 2: other
    let cl = -1;
    let ownKeepAlive = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      if (typeof name !== 'string' || typeof value !== 'string' || !isToken(name) || !isFieldValue(value)) return false;
      h += name + ': ' + value + '\r\n';
      switch (name.length) {
        case 4:
          if (lowerIs(name, 0, 'date')) hasDate = true;
          break;
        case 6:
          if (lowerIs(name, 0, 'server')) hasServer = true;
          break;
        case 10:
          if (lowerIs(name, 0, 'connection')) conn = RE_CLOSE.test(value) ? 2 : conn === 2 ? 2 : 1;
          else if (lowerIs(name, 0, 'keep-alive')) ownKeepAlive = true;
          break;
        case 14:
          if (lowerIs(name, 0, 'content-length')) {
            if (cl !== -1 || !/^\d{1,15}$/.test(value)) return false; // framing we could not keep
            cl = Number(value);
          }
          break;
        case 17:
          if (lowerIs(name, 0, 'transfer-encoding')) te = RE_CHUNKED.test(value) ? 1 : 2;
          break;
      }
    }
    if (cl !== -1 && te !== 0) return false; // both framings: refuse rather than pass on an ambiguous response
    const c = this.conn;
    const host = c.host;
    const bodyless = this.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    if (!hasServer) h += 'Server: ' + host.serverHeader + '\r\n';
    if (!hasDate) h += 'Date: ' + utcDate() + '\r\n';
    let keep = this.keepAlive && !c.entry.closing;
    if (te === 1 && (status === 204 || status === 304)) keep = false; // node:http closes these too
    const http11 = this.httpVersion === '1.1';
    if (conn === 0) {
      if (keep && (cl !== -1 || http11 || bodyless)) {
        h += keepAliveHead(c.settingsIdle(), !ownKeepAlive);
      } else {
        keep = false;
        h += 'Connection: close\r\n';
      }
    } else if (conn === 2) keep = false;
    if (!bodyless) {
      if (te === 1) this.chunked = true;
      else if (te === 2)
        keep = false; // an encoding we do not frame: the body ends with the connection
      else if (cl === -1) {
        if (http11) {
          h += 'Transfer-Encoding: chunked\r\n';
          this.chunked = true;
        } else keep = false; // HTTP/1.0: the body ends with the connection
      }
    }
    this.noBody = bodyless;
    this.status = status;
    this.lengthLeft = bodyless ? -1 : cl;
    this.last = !keep;
    this.head = h + '\r\n';
    flushLater(this);
    return true;
  }

  flushPendingHead(): void {
    const head = this.head;
    if (this.done || head === null) return;
    this.head = null;
    this.started = true;
    this.conn.send(head, null, null);
  }

  write(chunk: Buffer, last: boolean): boolean {
    return this.put(chunk, last, false);
  }

  writeView(view: Buffer, last: boolean): boolean {
    return this.put(view, last, true);
  }

  /** Response body bytes; `view`: `chunk` is valid only during this call (see LeanExchange.writeView). */
  private put(chunk: Buffer, last: boolean, view: boolean): boolean {
    if (this.done) return true;
    if (this.head === null && !this.started) {
      // A body before a head: the gateway's bug, not the client's; answer 502.
      this.fail(502);
      return true;
    }
    let ok = true;
    if (!this.noBody && chunk.length > 0) {
      let data = chunk;
      const left = this.lengthLeft;
      if (left !== -1) {
        if (data.length > left) {
          data = chunk.subarray(0, left); // more than announced: cut, and do not reuse the connection
          this.last = true;
        }
        this.lengthLeft = left - data.length;
      }
      let head = this.head;
      this.head = null;
      let tail: string | null = null;
      if (this.chunked) {
        const size = data.length.toString(16) + '\r\n';
        head = head === null ? size : head + size;
        tail = last ? '\r\n0\r\n' + this.trailer + '\r\n' : '\r\n';
      }
      this.started = true;
      ok = data.length > 0 || head !== null ? this.conn.send(head, data, tail, view) : true;
    } else if (last) {
      this.end();
      return true;
    }
    if (last) this.complete();
    else if (!ok) this.waitingDrain = true;
    return ok;
  }

  end(): void {
    if (this.done) return;
    const head = this.head;
    this.head = null;
    const tail = this.chunked ? '0\r\n' + this.trailer + '\r\n' : null;
    if (head !== null || tail !== null) {
      this.started = true;
      this.conn.send(head, null, tail === null ? null : tail);
    }
    this.complete();
  }

  fail(status: number): void {
    if (this.done) return;
    if (this.started) {
      // Part of the response is out: the only honest end is to drop the connection.
      this.done = true;
      this.conn.sock.destroy();
      return;
    }
    this.head = null;
    this.sendError(status, false);
  }

  reset(): void {
    if (this.done) return;
    this.done = true;
    this.queue = null;
    this.conn.sock.destroy();
  }

  get socket(): Socket {
    return this.conn.sock;
  }

  trailers(headers: string[]): void {
    if (this.done || !Array.isArray(headers)) return;
    let t = '';
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      if (typeof name !== 'string' || typeof value !== 'string' || !isToken(name) || !isFieldValue(value)) return;
      t += name + ': ' + value + '\r\n';
    }
    this.trailer = t;
  }

  informational(status: number, headers: string[]): void {
    if (this.done || this.started || this.httpVersion !== '1.1' || status < 100 || status > 199 || status === 101) return;
    if (!informationalFits(++this.infos, this.conn.sock)) return;
    if (!Array.isArray(headers)) return;
    let h = statusLine(status);
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      if (typeof name !== 'string' || typeof value !== 'string' || !isToken(name) || !isFieldValue(value)) return;
      h += name + ': ' + value + '\r\n';
    }
    this.conn.send(h + '\r\n', null, null);
  }

  /** @internal Unit's error page; `close` ends the connection after it. */
  sendError(status: number, close: boolean): void {
    if (this.done) return;
    const body = errorPageBody(status);
    const c = this.conn;
    this.status = status;
    let h = errorPageHead(status, body, c.host.serverHeader, utcDate());
    const keep = !close && this.keepAlive && !c.entry.closing;
    h += keep ? keepAliveHead(c.settingsIdle(), true) : 'Connection: close\r\n';
    h += '\r\n';
    if (this.method !== 'HEAD') h += body;
    this.last = !keep;
    this.started = true;
    c.send(h, null, null);
    this.complete();
  }

  /**
   * @internal The client's body stopped arriving (body_read_timeout): the app is told the request is abandoned and
   * the client gets Unit's 408 page and the close, or, once part of a response is out, the connection is dropped.
   */
  bodyTimedOut(): void {
    if (this.done) return;
    const handler = this.handler;
    if (this.started) {
      this.done = true;
      this.conn.sock.destroy();
    } else {
      this.head = null;
      this.sendError(408, true);
    }
    if (handler !== null) handler.onAbort();
  }

  /** @internal The client went away. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.aborted = true;
    this.queue = null;
    if (this.handler !== null) this.handler.onAbort();
  }

  private complete(): void {
    this.done = true;
    this.queue = null;
    if (this.lengthLeft > 0) this.last = true; // fewer bytes than announced: the framing is lost
    this.conn.exchangeDone(this);
  }
}
