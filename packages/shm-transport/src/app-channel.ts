import { closeSync } from 'fs';
import { ShmError, ShmErrorCode } from './errors';
import type { AppRequestSink } from './types';
import { decodeRequest, PositionCache, protocolError, responseFrameBytes } from './internal/codec';
import { Endpoint, StreamCore } from './internal/endpoint';
import {
  AbortReason, FEATURE_RESPONSE_LINE, FLAG_END, FRAME_HEADER, FrameType, H_FEATURES, H_HEADER_BYTES, H_MAGIC, H_MAX_FRAME, H_RING_BYTES, H_STREAM_WINDOW,
  H_VERSION, HEADER_BYTES, HOST_LITTLE_ENDIAN, MAGIC, MAX_RING_BYTES, MIN_RING_BYTES, memoryBytes, VERSION,
} from './internal/layout';
import { native } from './internal/native';

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
    this.contentLength = h.contentLength;
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
  private readonly headCache = new PositionCache();

  /**
   * The router carries a reason phrase and an HTTP/1.0 status line (FEATURE_RESPONSE_LINE in the header's features):
   * `respond()` sends them only then (an older router would refuse the frame).
   */
  readonly statusLineExtensions: boolean;

  private constructor(mem: ArrayBuffer, doorbellFd: number, ringBytes: number, maxFrame: number, window: number, features = 0) {
    super({ mem, doorbellFd, side: 1, ringBytes, maxFrame, window, spinTurns: Number(process.env.WARDEN_SHM_SPIN ?? 0) });
    this.statusLineExtensions = (features & FEATURE_RESPONSE_LINE) !== 0;
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

  /** Opens a channel from its two inherited fds (memfd, doorbell). */
  static open(memFd: number, doorbellFd: number): AppChannel {
    if (!HOST_LITTLE_ENDIAN) throw new ShmError(ShmErrorCode.BAD_SETUP, 'the channel needs a little-endian host');
    const n = native();
    let mem: ArrayBuffer;
    try {
      mem = n.mapMemory(memFd);
      // Our children must not inherit the channel (the doorbell would hide our death from the router).
      n.setCloexec(doorbellFd);
      closeSync(memFd); // the mapping keeps the memory alive
    } catch (e) {
      throw new ShmError(ShmErrorCode.BAD_SETUP, `cannot map the channel memory at fd ${memFd}: ${(e as Error).message}`);
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

  /** Tells the router that the app serves (READY). */
  markReady(): void {
    this.sendSimple(FrameType.READY, 0, 0);
  }

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

  /** @internal */ _respond(s: AppRequest, status: number, headers: string[], reason?: string, http10 = false): void {
    if (this.closed || s._dead) return;
    const ext = this.statusLineExtensions;
    const why = ext && reason !== undefined ? reason : null;
    const len = why !== null ? responseFrameBytes(headers, why)
      : this.headEncoder.matchesResponse(headers) ? this.headEncoder.responseBytes() : responseFrameBytes(headers);
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
    if (flags & FLAG_END && !s._dead) s._onEnd();
  }

  protected override onStreamEndSent(s: StreamCore): void {
    // Response complete: the request is over (late request-body frames are ignored).
    if (this.streams.get(s.id) === s) this.streams.delete(s.id);
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
        this.emit('request', r);
        return;
      }
      case FrameType.END: {
        const s = this.streams.get(stream);
        if (s) s._onEnd();
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
