import { closeSync } from 'fs';
import { ShmError, ShmErrorCode } from './errors';
import type { AppRequestSink } from './types';
import { decodeRequest, headerFrameBytes, PositionCache, protocolError, responseFrameBytes } from './internal/codec';
import { Endpoint, StreamCore } from './internal/endpoint';
import {
  AbortReason,
  CAP_CONNECTIONS,
  CAP_UPGRADE,
  FEATURE_CONNECTIONS,
  FEATURE_EARLY_HINTS,
  FEATURE_RESPONSE_LINE,
  FEATURE_TRAILERS,
  FEATURE_UPGRADE,
  FLAG_END,
  FRAME_HEADER,
  FrameType,
  H_FEATURES,
  H_HEADER_BYTES,
  H_MAGIC,
  H_MAX_FRAME,
  H_RING_BYTES,
  H_STREAM_WINDOW,
  H_VERSION,
  HEADER_BYTES,
  HOST_LITTLE_ENDIAN,
  MAGIC,
  MAX_RING_BYTES,
  MIN_RING_BYTES,
  memoryBytes,
  VERSION,
} from './internal/layout';
import { native } from './internal/native';
import { closeQuietly } from './fd-socket';

/**
 * One request received by the app. Request body: 'data' (Buffer, a copy: safe to keep), 'end', 'abort' (client went
 * away or channel closed). Response: respond(), write(), end().
 */
export class AppRequest extends StreamCore<AppRequestSink> {
  readonly method: string;
  readonly target: string;
  readonly httpVersion: string;
  /** Flat [name, value, ...] (latin1). */
  readonly headers: string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: boolean;
  /** -1 when unknown (chunked). */
  readonly contentLength: number;
  /**
   * Id of the client connection this request came on (the same for all requests of a keep-alive connection); 0 when
   * the router does not say (an app that did not ask with `markReady({connections: true})`, or an older router).
   */
  readonly connection: number;
  /**
   * An upgrade request (REQUEST flag UPGRADE): its body is the client's byte stream after the head. Answering 101
   * makes the stream a tunnel: `write`/`end` send bytes to the client and 'data'/'end' deliver the client's until each
   * direction's end (or abort()).
   */
  readonly upgrade: boolean;
  /** @internal Answered 101 to an upgrade request. */ _tunnel = false;
  /** @internal */ _responded = false;
  /** @internal */ _aborted = false;

  constructor(ep: AppChannel, id: number, h: import('./types').RequestHead) {
    super(ep, id);
    this.method = h.method;
    this.target = h.target;
    this.httpVersion = h.httpVersion;
    this.headers = h.headers;
    this.remoteAddress = h.remoteAddress;
    this.remotePort = h.remotePort;
    this.localAddress = h.localAddress;
    this.localPort = h.localPort;
    this.tls = h.tls;
    this.upgrade = h.upgrade === true;
    this.contentLength = h.contentLength;
    this.connection = h.connection ? ep._connectionBase + h.connection : 0;
  }

  /**
   * Sends response trailers (flat [name, value, ...]) after the body, right before the end: the router writes them
   * as the trailer section of a chunked response, as node:http does. Returns false (and sends nothing) when the
   * router does not take trailers (`AppChannel.trailers` false) or the response already ended.
   */
  trailers(headers: string[]): boolean {
    const ep = this._ep as AppChannel;
    if (!ep.trailersSupported || this._dead || this._sendDone || this._endQueued) return false;
    ep._checkTrailers(headers);
    this._trailers = headers.slice();
    return true;
  }

  /**
   * Sends a 1xx response (e.g. 103 Early Hints) before the final one. Returns false (and sends nothing) when the
   * router does not take them (`AppChannel.earlyHints` false) or the final response head was sent already.
   */
  info(status: number, headers: string[]): boolean {
    const ep = this._ep as AppChannel;
    if (!ep.earlyHints || this._dead || this._responded) return false;
    if (!Number.isInteger(status) || status < 100 || status > 199 || status === 101) {
      throw new ShmError(ShmErrorCode.PROTOCOL, `informational status ${status} must be 1xx other than 101`);
    }
    ep._checkTrailers(headers);
    ep._info(this, status, headers);
    return true;
  }

  /**
   * Sends the status line and headers (flat list). Throws if called twice. `reason`: a reason phrase other than the
   * router's standard one; `http10`: the status line says HTTP/1.0. Both reach the client only through a router that
   * offers them (`AppChannel.statusLineExtensions`), and are dropped otherwise.
   */
  respond(status: number, headers: string[], reason?: string, http10?: boolean): void {
    if (this._responded) throw new ShmError(ShmErrorCode.PROTOCOL, 'respond() called twice');
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      throw new ShmError(ShmErrorCode.PROTOCOL, `status ${status} out of range 100..999`);
    }
    (this._ep as AppChannel)._checkHeaders(headers);
    if (reason !== undefined && (typeof reason !== 'string' || /[^\t\x20-\x7e\x80-\xff]/.test(reason))) {
      throw new ShmError(ShmErrorCode.PROTOCOL, 'the reason phrase must be a string of HTAB, SP, visible ASCII or obs-text');
    }
    this._responded = true;
    if (status === 101 && this.upgrade) this._tunnel = true;
    (this._ep as AppChannel)._respond(this, status, headers, reason, http10 === true);
  }

  /** Writes a response body chunk (respond(200, []) implied if not yet called); false => wait for 'drain'. */
  write(chunk: Buffer | string): boolean {
    if (!this._responded) this.respond(200, []);
    return this.sendData(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }

  /** Ends the response, optionally with a last chunk. */
  end(chunk?: Buffer | string): void {
    if (!this._responded) this.respond(200, []);
    if (chunk !== undefined && chunk.length > 0) this.sendLast(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    else this.sendEnd();
  }

  /**
   * Routes this request's events to `sink` instead of emitting them: 'data' and 'end' of the request body, 'drain'
   * of the response body, 'abort' (no EventEmitter listeners per request). Set it in the 'request' listener.
   */
  setSink(sink: AppRequestSink): void {
    this._sink = sink;
  }

  /** @internal */ _emitAbort(): void {
    this._aborted = true;
    if (this._sink !== null) this._sink.onAbort();
    else this.emit('abort');
  }

  /**
   * The app failed this request: the router answers 502 if no response was sent yet, else cuts the response. With
   * `reset`, the app dropped the connection on purpose (node's `res.destroy()`): the router resets the client
   * connection without an error page, as a server that closed its socket would.
   */
  abort(reset = false): void {
    (this._ep as AppChannel)._abortStream(this, reset ? AbortReason.RESET : AbortReason.APP_ERROR);
  }

  /** Whether the request was aborted (client gone, channel closed, or abort() called). */
  get aborted(): boolean {
    return this._aborted;
  }
}

/** App end of a channel: receives requests from the router and answers them. */
export class AppChannel extends Endpoint {
  private closeEmitted = false;
  /**
   * @internal Added to the router's connection ids (requests' `connection`, 'connection-close'): an AppChannelSet
   * makes them unique across its channels this way. 0 for a channel of its own.
   */
  _connectionBase = 0;
  private readonly headCache = new PositionCache();

  /**
   * The router carries a reason phrase and an HTTP/1.0 status line (FEATURE_RESPONSE_LINE in the header's features):
   * `respond()` sends them only then (an older router would refuse the frame).
   */
  readonly statusLineExtensions: boolean;
  /** The router gives connection ids and CONN_CLOSED (FEATURE_CONNECTIONS) to an app that asks in `markReady`. */
  readonly connectionIds: boolean;
  /** The router takes response trailers (FEATURE_TRAILERS): `AppRequest.trailers()` sends them only then. */
  readonly trailersSupported: boolean;
  /** The router takes 1xx responses (FEATURE_EARLY_HINTS): `AppRequest.info()` sends them only then. */
  readonly earlyHints: boolean;

  /** The router tunnels upgraded streams (FEATURE_UPGRADE): announce CAP_UPGRADE with markReady to get them. */
  readonly upgrades: boolean;

  private constructor(mem: ArrayBuffer, doorbellFd: number, ringBytes: number, maxFrame: number, window: number, features = 0) {
    super({ mem, doorbellFd, side: 1, ringBytes, maxFrame, window, spinTurns: Number(process.env.WARDEN_SHM_SPIN ?? 0) });
    this.statusLineExtensions = (features & FEATURE_RESPONSE_LINE) !== 0;
    this.connectionIds = (features & FEATURE_CONNECTIONS) !== 0;
    this.trailersSupported = (features & FEATURE_TRAILERS) !== 0;
    this.earlyHints = (features & FEATURE_EARLY_HINTS) !== 0;
    this.upgrades = (features & FEATURE_UPGRADE) !== 0;
  }

  /**
   * Opens the channel described by WARDEN_CHANNEL (see PROTOCOL.md), or returns null when the variable is unset
   * (not running under wardend). Throws ShmError WARDEN_ERR_SHM_SETUP when it is set but unusable.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): AppChannel | null {
    const v = env.WARDEN_CHANNEL;
    if (v === undefined || v === '') return null;
    const m = /^v1:fds=(\d+),(\d+)$/.exec(v);
    if (!m) throw new ShmError(ShmErrorCode.BAD_SETUP, `WARDEN_CHANNEL="${v}" is not of the form v1:fds=<memfd>,<doorbell>`);
    return AppChannel.open(Number(m[1]), Number(m[2]));
  }

  /**
   * Opens a channel from its two inherited fds (memfd, doorbell). Takes ownership of both: the memfd is closed once
   * mapped, and both are closed when it throws.
   */
  static open(memFd: number, doorbellFd: number): AppChannel {
    let memOpen = true;
    try {
      const mem = AppChannel.map(memFd);
      memOpen = false;
      return AppChannel.openMapped(mem, memFd, doorbellFd);
    } catch (e) {
      if (memOpen) closeQuietly(memFd);
      closeQuietly(doorbellFd);
      throw e;
    }
  }

  /** Maps the channel memory and closes `memFd` (the mapping keeps the memory alive). */
  private static map(memFd: number): ArrayBuffer {
    if (!HOST_LITTLE_ENDIAN) throw new ShmError(ShmErrorCode.BAD_SETUP, 'the channel needs a little-endian host');
    const n = native();
    let mem: ArrayBuffer;
    try {
      mem = n.mapMemory(memFd);
      closeSync(memFd);
    } catch (e) {
      throw new ShmError(ShmErrorCode.BAD_SETUP, `cannot map the channel memory at fd ${memFd}: ${(e as Error).message}`);
    }
    return mem;
  }

  private static openMapped(mem: ArrayBuffer, memFd: number, doorbellFd: number): AppChannel {
    try {
      // Our children must not inherit the channel (the doorbell would hide our death from the router).
      native().setCloexec(doorbellFd);
    } catch (e) {
      throw new ShmError(ShmErrorCode.BAD_SETUP, `cannot use fd ${doorbellFd} as the doorbell: ${(e as Error).message}`);
    }
    const h = Buffer.from(mem, 0, Math.min(HEADER_BYTES, mem.byteLength));
    const bad = (why: string) => new ShmError(ShmErrorCode.BAD_SETUP, `channel memory at fd ${memFd}: ${why}`);
    if (mem.byteLength < HEADER_BYTES) throw bad('smaller than the header');
    if (h.readUInt32LE(H_MAGIC) !== MAGIC) throw bad('bad magic');
    if (h.readUInt32LE(H_VERSION) !== VERSION) throw bad(`protocol version ${h.readUInt32LE(H_VERSION)}, expected ${VERSION}`);
    if (h.readUInt32LE(H_HEADER_BYTES) !== HEADER_BYTES) throw bad('unexpected header size');
    const ringBytes = h.readUInt32LE(H_RING_BYTES);
    const maxFrame = h.readUInt32LE(H_MAX_FRAME);
    const window = h.readUInt32LE(H_STREAM_WINDOW);
    if (ringBytes < MIN_RING_BYTES || ringBytes > MAX_RING_BYTES || (ringBytes & (ringBytes - 1)) !== 0) throw bad(`ring size ${ringBytes}`);
    if (memoryBytes(ringBytes) > mem.byteLength) throw bad('rings larger than the memory');
    if (maxFrame < 256 || maxFrame > ringBytes / 4 || maxFrame % 8 !== 0) throw bad(`max frame ${maxFrame}`);
    if (window < 1024 || window > 0x40000000) throw bad(`stream window ${window}`);
    try {
      return new AppChannel(mem, doorbellFd, ringBytes, maxFrame, window, h.readUInt32LE(H_FEATURES));
    } catch (e) {
      throw new ShmError(ShmErrorCode.BAD_SETUP, `cannot use fd ${doorbellFd} as the doorbell: ${(e as Error).message}`);
    }
  }

  /**
   * Tells the router that the app serves (READY). `connections`: ask for connection ids in requests and
   * 'connection-close' events (CONN_CLOSED frames); a router without FEATURE_CONNECTIONS ignores the request.
   * `upgrade`: the app takes upgrade requests (REQUEST flag UPGRADE: it answers 101 and then tunnels); asked only of a
   * router that offers FEATURE_UPGRADE.
   */
  markReady(capabilities: { connections?: boolean; upgrade?: boolean } = {}): void {
    const upgrade = capabilities.upgrade === true && this.upgrades ? CAP_UPGRADE : 0;
    this.sendSimple(FrameType.READY, 0, (capabilities.connections ? CAP_CONNECTIONS : 0) | upgrade);
  }

  /** READY capability: the app takes upgrade requests (see PROTOCOL.md). */
  static readonly CAP_UPGRADE = CAP_UPGRADE;

  /** Closes the channel (the router sees the app as gone). */
  close(): void {
    this.closeWith(undefined);
  }

  /** @internal Throws unless `headers` is a flat [name, value, ...] array of strings. */
  _checkHeaders(headers: string[]): void {
    // The same strings as the last response head sent (an app answering with a fixed head) are known to be valid.
    if (this.headEncoder.matchesResponse(headers) || isStringPairs(headers)) return;
    throw new ShmError(ShmErrorCode.PROTOCOL, 'headers must be a flat [name, value, ...] array of strings');
  }

  /** @internal Throws unless `headers` is a flat [name, value, ...] array of strings (trailers, 1xx heads). */
  _checkTrailers(headers: string[]): void {
    if (!isStringPairs(headers)) throw new ShmError(ShmErrorCode.PROTOCOL, 'headers must be a flat [name, value, ...] array of strings');
    const len = headerFrameBytes(headers);
    if (len > this.maxChunk + FRAME_HEADER) throw new ShmError(ShmErrorCode.HEAD_TOO_LARGE, `a header section of ${len} bytes exceeds the frame limit`);
  }

  /** @internal */ _info(s: AppRequest, status: number, headers: string[]): void {
    if (this.closed || s._dead) return;
    this.sendHeaders(FrameType.INFO, s.id, status, headers);
  }

  /** @internal */ _respond(s: AppRequest, status: number, headers: string[], reason?: string, http10 = false): void {
    if (this.closed || s._dead) return;
    const ext = this.statusLineExtensions;
    const why = ext && reason !== undefined ? reason : null;
    const len =
      why !== null
        ? responseFrameBytes(headers, why)
        : this.headEncoder.matchesResponse(headers)
          ? this.headEncoder.responseBytes()
          : responseFrameBytes(headers);
    if (len > this.maxChunk + FRAME_HEADER) {
      throw new ShmError(ShmErrorCode.HEAD_TOO_LARGE, `response head of ${len} bytes exceeds the frame limit`);
    }
    this.sendHead(len, s.id, null, status, headers, why, ext && http10);
  }

  /** @internal */ _abortStream(s: AppRequest, reason: AbortReason = AbortReason.APP_ERROR): void {
    if (s._dead || this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    s._aborted = true;
    s._kill();
    this.sendSimple(FrameType.ABORT, s.id, reason);
  }

  protected override onStreamData(s: StreamCore, off: number, len: number, flags: number): void {
    super.onStreamData(s, off, len, flags);
    if (flags & FLAG_END && !s._dead) this.requestEnded(s as AppRequest);
  }

  protected override onStreamEndSent(s: StreamCore): void {
    // Response complete: the request is over (late request-body frames are ignored) — except on a tunnel, whose
    // client side is open until its own END.
    if ((s as AppRequest)._tunnel && !s._recvEnded) return;
    if (this.streams.get(s.id) === s) this.streams.delete(s.id);
  }

  /** The router's direction ended: a tunnel whose app side ended too is over. */
  private requestEnded(s: AppRequest): void {
    s._onEnd();
    if (s._tunnel && s._sendDone && this.streams.get(s.id) === s) this.streams.delete(s.id);
  }

  protected closeWith(err?: Error): void {
    const streams = this.streams.values() as AppRequest[];
    if (!this.teardown(err)) return;
    this.streams.clear();
    for (const s of streams) s._emitAbort();
    if (!this.closeEmitted) {
      this.closeEmitted = true;
      this.emit('close', err);
    }
  }

  protected onPeerGone(err?: Error): void {
    if (this.closed) return;
    this.closeWith(err ? new ShmError(ShmErrorCode.PEER_GONE, `the router closed the channel (${err.message})`) : undefined);
  }

  protected handleFrame(type: number, _flags: number, stream: number, arg: number, off: number, len: number): void {
    if (this.handleStreamFrame(type, stream, arg, off, len)) return;
    if (type !== FrameType.REQUEST && len !== FRAME_HEADER) throw protocolError(`frame type ${type} with a payload`);
    switch (type) {
      case FrameType.REQUEST: {
        const head = decodeRequest(this.buf, off, len, this.headCache);
        if (this.streams.has(stream)) throw protocolError(`REQUEST for open stream ${stream}`);
        const r = new AppRequest(this, stream, head);
        this.streams.set(r);
        this.consumed(len); // the head is decoded: read, before the app's handler runs (it may block)
        this.emit('request', r);
        return;
      }
      case FrameType.END: {
        const s = this.streams.get(stream) as AppRequest | undefined;
        if (s) this.requestEnded(s);
        return;
      }
      case FrameType.ABORT: {
        const s = this.streams.get(stream) as AppRequest | undefined;
        if (!s) return;
        this.streams.delete(stream);
        s._kill();
        s._emitAbort();
        return;
      }
      case FrameType.SHUTDOWN:
        this.emit('shutdown');
        return;
      case FrameType.CONN_CLOSED:
        // The client connection `arg` closed (only sent to an app that asked for connection ids).
        this.emit('connection-close', this._connectionBase + arg);
        return;
      default:
        throw protocolError(`unexpected frame type ${type} from the router`);
    }
  }
}

/** Whether `list` is a flat [name, value, ...] array of strings (a plain loop: no closure per response). */
function isStringPairs(list: unknown): list is string[] {
  if (!Array.isArray(list) || list.length % 2 !== 0) return false;
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== 'string') return false;
  return true;
}
