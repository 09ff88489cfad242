import type { EventEmitter } from 'events';
import { ChannelDuplex } from './channel-duplex';
import type { ChannelRequest } from './channel-types';

/**
 * Stands in for the TCP socket of a client connection: `req.socket` / `res.socket`. It carries the peer's addresses,
 * takes the response body (the ServerResponse writes its body bytes to it; no HTTP framing, see channel-exchange.ts)
 * and passes it to the current request's channel stream with the channel's flow control.
 *
 * With a router that gives connection ids (PROTOCOL.md "Connections") it is one object per client connection, as in
 * node:http: the requests of a keep-alive connection share it, one response at a time (a pipelined request waits
 * for the socket, see {@link use}), and it closes when the client connection closes. Without them (an older
 * wardend) it serves one request.
 */
export class ChannelSocket extends ChannelDuplex {
  /** Set by `ServerResponse.assignSocket`. */
  _httpMessage: unknown = null;
  /** The http.Server this request came to (as `net.Socket.server`): its 'timeout' event is emitted on a timeout. */
  server: EventEmitter | null = null;
  /** Armed by setTimeout (req.setTimeout, res.setTimeout call it) only: no timer per request otherwise. */
  private timer: NodeJS.Timeout | null = null;
  private written = 0;
  private responseEnded = false;
  /** The request whose response the socket carries now (its writes go to this stream). */
  private stream: ChannelRequest;
  /** A response is assigned and not finished yet. */
  private busy = false;
  /** Requests of this connection waiting for the socket (pipelined); null when none. */
  private waiting: { stream: ChannelRequest; start: () => void }[] | null = null;
  /** Bytes read for the requests served before the current one. */
  private readBefore = 0;

  constructor(stream: ChannelRequest) {
    super(stream);
    this.stream = stream;
  }

  /** Bytes of response body handed to the channel. */
  get bytesWritten(): number {
    return this.written;
  }

  /** @internal Request body bytes received (counted by the exchange). */
  bodyRead = 0;

  /**
   * Bytes of this request read from the client: its head as HTTP/1.1 text (request line, fields, CRLFs; computed on
   * access, as wardend received it up to whitespace and case) plus the body bytes received so far.
   */
  get bytesRead(): number {
    return this.readBefore + headBytes(this.stream) + this.bodyRead;
  }

  /**
   * Gives the socket to `stream`'s response `res` (`res.assignSocket`) now when the socket is free, else once the
   * responses before it finished (node:http queues a pipelined response the same way).
   */
  use(stream: ChannelRequest, res: { assignSocket(socket: never): void }): void {
    if (!this.busy) this.start(stream, res);
    else (this.waiting ??= []).push({ stream, start: () => this.start(stream, res) });
  }

  private start(stream: ChannelRequest, res: { assignSocket(socket: never): void }): void {
    if (this.stream !== stream) {
      this.readBefore += headBytes(this.stream) + this.bodyRead;
      this.bodyRead = 0;
      this.stream = stream;
    }
    this.responseEnded = false;
    this.busy = true;
    res.assignSocket(this as never);
  }

  /** The current response finished and was detached: the next waiting request gets the socket. */
  release(): void {
    this.busy = false;
    const next = this.waiting?.shift();
    if (next !== undefined && !this.destroyed) next.start();
  }

  /** The client connection closed (CONN_CLOSED): the socket closes, nothing is sent to the router for it. */
  clientClosed(): void {
    this.responseEnded = true;
    this.waiting = null;
    this.destroy();
  }

  /** As `net.Socket.readyState`: 'open' while the request is served, 'closed' once destroyed. */
  get readyState(): 'open' | 'closed' {
    return this.destroyed ? 'closed' : 'open';
  }

  /** The request body is delivered to the IncomingMessage directly; the socket's readable side stays empty. */
  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (chunk.length === 0) {
      callback();
      return;
    }
    this.written += chunk.length;
    if (this.timer !== null) this.timer.refresh();
    if (this.stream.write(chunk)) {
      callback();
    } else {
      this.stream.once('drain', () => callback());
    }
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    let ok = true;
    if (this.timer !== null) this.timer.refresh();
    for (const { chunk } of chunks) {
      if (chunk.length === 0) continue;
      this.written += chunk.length;
      ok = this.stream.write(chunk) && ok;
    }
    if (ok) callback();
    else this.stream.once('drain', () => callback());
  }

  /** Called once the response is complete: the stream is ended and a later destroy must not abort it. */
  endResponse(): void {
    this.clearTimer();
    if (this.responseEnded) return;
    this.responseEnded = true;
    this.stream.end();
  }

  /** The client went away: the stream is gone, destroying the socket must not abort it again. */
  markAborted(stream: ChannelRequest = this.stream): void {
    if (stream === this.stream) this.responseEnded = true;
    else if (this.waiting !== null) this.waiting = this.waiting.filter((w) => w.stream !== stream);
  }

  /** The app failed the request (a throwing handler, a head the channel cannot carry): the router answers 502. */
  fail(): void {
    if (!this.responseEnded) {
      this.responseEnded = true;
      this.stream.abort(false);
    }
    this.destroy();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.clearTimer();
    if (!this.responseEnded) {
      // The app destroyed the socket or the response (`res.destroy()`): as node:http's socket.destroy(), the client
      // connection is reset, with no response if none was sent.
      this.responseEnded = true;
      this.stream.abort(true);
    }
    // Pipelined requests still waiting for the socket go with the connection.
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting !== null) for (const w of waiting) w.stream.abort(true);
    callback(err);
  }

  /**
   * As `net.Socket.setTimeout` inside an http.Server: after `ms` without response bytes written, 'timeout' is emitted
   * here, then as node:http's server does: on the request (if its body is incomplete), the response and the server;
   * when none of them listens, the socket is destroyed (the client connection reset). 0 disarms it.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    this.clearTimer();
    if (ms > 0 && !this.destroyed && !this.responseEnded) this.timer = setTimeout(onSocketTimeout, ms, this);
    return this;
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** @internal The timer of setTimeout fired (node:http's socketOnTimeout). */
  _timedOut(): void {
    this.timer = null;
    this.emit('timeout');
    const res = this._httpMessage as (EventEmitter & { req?: EventEmitter & { complete?: boolean } }) | null;
    const req = res?.req;
    const reqHandled = req !== undefined && !req.complete && req.emit('timeout', this);
    const resHandled = res !== null && res.emit('timeout', this);
    const serverHandled = this.server !== null && this.server.emit('timeout', this);
    if (!reqHandled && !resHandled && !serverHandled) this.destroy();
  }
}

/** Bytes of a request head as HTTP/1.1 text (request line, fields, CRLFs), as wardend received it up to case. */
function headBytes(s: ChannelRequest): number {
  let n = s.method.length + s.target.length + s.httpVersion.length + 9 + 2; // "M T HTTP/v\r\n" ... "\r\n"
  const h = s.headers;
  for (let i = 0; i < h.length; i += 2) n += h[i].length + h[i + 1].length + 4;
  return n;
}

function onSocketTimeout(socket: ChannelSocket): void {
  socket._timedOut();
}
