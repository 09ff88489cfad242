import * as fs from 'fs';
import type { ShmLogger as Logger } from './types';
import { ShmError, ShmErrorCode } from './errors';
import type { RequestHead, RouterStreamSink } from './types';
import {
  checkRequestHead,
  checkRequestNumbers,
  decodeHeaderFrame,
  decodeResponseHeaders,
  decodeResponseWithReason,
  PositionCache,
  protocolError,
  requestFrameBytes,
} from './internal/codec';
import { Endpoint, StreamCore } from './internal/endpoint';
import {
  AbortReason,
  CAP_CONNECTIONS,
  CAP_UPGRADE,
  DEFAULT_RING_BYTES,
  FLAG_END,
  FRAME_HEADER,
  FrameType,
  H_HEADER_BYTES,
  H_MAGIC,
  H_MAX_FRAME,
  H_RING_BYTES,
  H_FEATURES,
  H_STREAM_WINDOW,
  H_VERSION,
  ROUTER_FEATURES,
  FLAG_HTTP10,
  FLAG_REASON,
  HEADER_BYTES,
  HOST_LITTLE_ENDIAN,
  RING_CTL,
  C_TAIL,
  C_HEAD,
  MAGIC,
  MAX_RING_BYTES,
  MIN_RING_BYTES,
  memoryBytes,
  VERSION,
} from './internal/layout';
import { native } from './internal/native';

/** Options of {@link RouterChannel.create}. */
export interface RouterChannelOptions {
  /** Bytes per ring (power of two, 64 KiB .. 256 MiB). Default 8 MiB. */
  ringBytes?: number;
  /** Logger for channel-level events (errors that close the channel). */
  logger?: Logger;
  /** Per-stream flow-control window in bytes. Default ringBytes / 4, at most 512 KiB. */
  streamWindow?: number;
  /** Event-loop turns to keep polling after the ring ran empty while requests are in flight. Default 0. */
  spinTurns?: number;
  /** Initial value of the four ring counters (tests use a value just below 2^32 to exercise the wrap). Default 0. */
  counterStart?: number;
}

/** Router side of one request: send the body, receive the response. */
export class RouterStream extends StreamCore<RouterStreamSink> {
  /** @internal */ _gotResponse = false;
  /** @internal */ _responseEnded = false;
  /** @internal Sent with the UPGRADE flag. */ _upgrade = false;
  /**
   * The app answered this upgrade request with 101: the stream is a tunnel, open in each direction until that
   * direction's END (retired when both ended, or on ABORT).
   */
  tunnel = false;

  /** Sends a request body chunk (on a tunnel: client bytes); false => wait for 'drain' (memory stays bounded). */
  writeBody(chunk: Buffer): boolean {
    if (this._responseEnded && !this.tunnel) return true; // the app answered already: the rest of the body is not needed
    return this.sendData(chunk);
  }

  /**
   * As writeBody (with `last`: then endBody), with a chunk valid only during this call (a view of a buffer the caller
   * reuses, such as the one a router reads its client sockets into). What the credit and the ring take is written at
   * once; the rest is copied, and then the answer is false even when only the ring was short: stop reading the
   * client until 'drain', so that the bytes wait in its socket, not in memory.
   */
  writeBodyView(view: Buffer, last = false): boolean {
    if (this._responseEnded && !this.tunnel) return true;
    return this.sendView(view, last);
  }

  /**
   * Ends the request body, optionally with its last chunk (which then usually goes out at once, in one frame with
   * the end). Like a last writeBody it may exceed the app's credit: it is then held by reference until credit comes.
   */
  endBody(chunk?: Buffer): void {
    if (this._responseEnded && !this.tunnel) return;
    if (chunk !== undefined && chunk.length > 0) this.sendLast(chunk);
    else this.sendEnd();
  }

  /**
   * Routes this stream's response to `sink` instead of emitting events (no EventEmitter listeners per request:
   * the fast path of wardend's gateway). Set it right after `request()`, before any event could fire.
   */
  setSink(sink: RouterStreamSink): void {
    this._sink = sink;
  }

  /** The client went away: tells the app and forgets the stream (no further events). */
  abort(): void {
    (this._ep as RouterChannel)._abortStream(this);
  }
}

/**
 * Router (wardend) end of a channel: creates the shared memory and doorbell, sends requests, receives responses.
 * Hostile-peer safe: whatever the app writes into the shared memory, this end closes with an error at worst.
 */
export class RouterChannel extends Endpoint {
  /** fds the app must inherit at 3, 4, ... in this order: [memfd, doorbell]. */
  readonly fds: number[];
  /** Resolves when the app sent READY; rejects if the channel closes first. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private isReady = false;
  /** The app asked for connection ids (CAP_CONNECTIONS in its READY). */
  private connectionIdsWanted = false;
  private nextId = 1;
  private shutdownSent = false;
  private capabilities = 0;
  private childFdsOpen = true;
  private closeErr?: Error;
  private readonly headCache = new PositionCache();

  private constructor(mem: ArrayBuffer, memFd: number, fds: [number, number], ringBytes: number, maxFrame: number, window: number, opts: RouterChannelOptions) {
    super({ mem, doorbellFd: fds[0], side: 0, ringBytes, maxFrame, window, logger: opts.logger, spinTurns: opts.spinTurns });
    this.fds = [memFd, fds[1]];
    this.ready = new Promise<void>((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => undefined); // observed through 'close' as well; never an unhandled rejection
  }

  /** Creates the memfd (size sealed), maps it, initialises the header and creates the doorbell pair. */
  static create(opts: RouterChannelOptions = {}): RouterChannel {
    if (!HOST_LITTLE_ENDIAN) throw new ShmError(ShmErrorCode.BAD_SETUP, 'the channel needs a little-endian host');
    const ringBytes = opts.ringBytes ?? DEFAULT_RING_BYTES;
    if (!Number.isInteger(ringBytes) || ringBytes < MIN_RING_BYTES || ringBytes > MAX_RING_BYTES || (ringBytes & (ringBytes - 1)) !== 0) {
      throw new ShmError(ShmErrorCode.BAD_SETUP, `ringBytes ${ringBytes} must be a power of two between ${MIN_RING_BYTES} and ${MAX_RING_BYTES}`);
    }
    const maxFrame = Math.min(ringBytes >>> 2, 256 * 1024);
    const window = opts.streamWindow ?? Math.min(ringBytes >>> 2, 512 * 1024);
    if (!Number.isInteger(window) || window < 1024 || window > 0x40000000) {
      throw new ShmError(ShmErrorCode.BAD_SETUP, `streamWindow ${window} must be an integer between 1024 and 2^30`);
    }
    const n = native();
    let mem: { fd: number; buffer: ArrayBuffer };
    let pair: [number, number];
    try {
      mem = n.createMemory(memoryBytes(ringBytes));
    } catch (e) {
      throw new ShmError(ShmErrorCode.NATIVE, `cannot create the channel memory: ${(e as Error).message}`);
    }
    try {
      pair = n.socketpair();
    } catch (e) {
      fs.closeSync(mem.fd);
      throw new ShmError(ShmErrorCode.NATIVE, `cannot create the doorbell socketpair: ${(e as Error).message}`);
    }
    const h = Buffer.from(mem.buffer, 0, HEADER_BYTES);
    h.writeUInt32LE(MAGIC, H_MAGIC);
    h.writeUInt32LE(VERSION, H_VERSION);
    h.writeUInt32LE(HEADER_BYTES, H_HEADER_BYTES);
    h.writeUInt32LE(ringBytes, H_RING_BYTES);
    h.writeUInt32LE(maxFrame, H_MAX_FRAME);
    h.writeUInt32LE(window, H_STREAM_WINDOW);
    h.writeUInt32LE(ROUTER_FEATURES, H_FEATURES);
    const start = (opts.counterStart ?? 0) >>> 0;
    for (const ctl of RING_CTL) {
      h.writeUInt32LE(start, ctl + C_TAIL);
      h.writeUInt32LE(start, ctl + C_HEAD);
    }
    return new RouterChannel(mem.buffer, mem.fd, pair, ringBytes, maxFrame, window, opts);
  }

  /**
   * The app announced (READY capability UPGRADE) that it takes upgrade requests: only then may a head carry
   * `upgrade: true`.
   */
  get takesUpgrades(): boolean {
    return (this.capabilities & CAP_UPGRADE) !== 0;
  }

  /** Environment variables for the app process (WARDEN_CHANNEL, see PROTOCOL.md). */
  env(): Record<string, string> {
    return { WARDEN_CHANNEL: `v${VERSION}:fds=3,4` };
  }

  /** Closes this process's copies of the fds given to the child (call once the child is spawned). */
  closeChildFds(): void {
    if (!this.childFdsOpen) return;
    this.childFdsOpen = false;
    for (const fd of this.fds) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed: nothing to do
      }
    }
  }

  /** @internal For in-process tests: the fds were handed to an AppChannel in this process, which owns them now. */
  _forgetChildFds(): void {
    this.childFdsOpen = false;
  }

  /**
   * Whether the app asked for connection ids (CAP_CONNECTIONS in its READY): then `request()` passes
   * `head.connection` on, and {@link connectionClosed} tells the app when that client connection closed.
   */
  get connectionIds(): boolean {
    return this.connectionIdsWanted;
  }

  /** Tells the app that client connection `id` closed (CONN_CLOSED), if it asked for connection ids. */
  connectionClosed(id: number): void {
    if (this.connectionIdsWanted && id !== 0 && !this.closed) this.sendSimple(FrameType.CONN_CLOSED, 0, id >>> 0);
  }

  /**
   * Starts a request. Never throws for a closed channel: the stream errors instead (on the next tick).
   * `head.connection` reaches the app only when it asked for connection ids ({@link connectionIds}).
   */
  request(head: RequestHead): RouterStream {
    if (head.connection && !this.connectionIdsWanted) head = { ...head, connection: 0 };
    let id = this.nextId;
    while (this.streams.has(id)) id = id >= 0xffffffff ? 1 : id + 1; // after a wrap: skip ids still open
    this.nextId = id >= 0xffffffff ? 1 : id + 1;
    const s = new RouterStream(this, id);
    if (this.closed) {
      this.failLater(s, this.closeErr ?? new ShmError(ShmErrorCode.CLOSED, 'the channel is closed'));
      return s;
    }
    // The same strings as the last head sent (a keep-alive client repeating itself): they are valid strings and
    // their length is known; only the numbers need checking.
    const same = this.headEncoder.matchesRequest(head);
    const bad = same ? checkRequestNumbers(head) : checkRequestHead(head);
    if (bad) {
      this.failLater(s, new ShmError(ShmErrorCode.PROTOCOL, `invalid request head: ${bad}`));
      return s;
    }
    if (head.upgrade === true) {
      if (!this.takesUpgrades || head.contentLength !== -1) {
        this.failLater(s, new ShmError(ShmErrorCode.PROTOCOL, 'invalid request head: upgrade needs an app that announced UPGRADE and contentLength -1'));
        return s;
      }
      s._upgrade = true;
    }
    const len = same ? this.headEncoder.requestBytes() : requestFrameBytes(head);
    if (len > this.maxChunk + FRAME_HEADER) {
      this.failLater(
        s,
        new ShmError(ShmErrorCode.HEAD_TOO_LARGE, `request head of ${len} bytes exceeds the frame limit of ${this.maxChunk + FRAME_HEADER} bytes`),
      );
      return s;
    }
    this.streams.set(s);
    this.sendHead(len, id, head, 0, null);
    if (head.contentLength === 0) {
      // No body: END goes out right behind the REQUEST (no pump scheduled); endBody() by the caller is a no-op.
      this.sendSimple(FrameType.END, id, 0);
      this.endSent(s);
    }
    return s;
  }

  /**
   * Free-running count (u32) of the bytes written for the app so far: a frame sent after reading it lies at or after
   * this position. With {@link readPosition} it tells whether the app has read anything since (its position passed
   * this one), without any per-frame bookkeeping: the supervisor uses it to find app processes that stopped reading.
   */
  get writePosition(): number {
    return this.out.position;
  }

  /** How far the app has read the request ring (free-running u32, as the app wrote it: not validated). */
  readPosition(): number {
    return this.memoryReleased ? this.finalReadPosition : this.out.consumerPosition();
  }

  /** readPosition() as it was when the channel's memory was released. */
  private finalReadPosition = 0;

  protected override beforeRelease(): void {
    this.finalReadPosition = this.out.consumerPosition();
  }

  /** Asks the app to finish in-flight requests and exit. */
  shutdown(): void {
    if (this.closed || this.shutdownSent) return;
    this.shutdownSent = true;
    this.sendSimple(FrameType.SHUTDOWN, 0, 0);
  }

  /** Hard close: open streams get 'error', 'close' is emitted with `err`. */
  close(err?: Error): void {
    this.closeWith(err);
  }

  /**
   * The app process is known to have exited (its exit status came, possibly before its doorbell's EOF): first
   * deliver what it published before it went — the end of a response it finished while draining after SHUTDOWN —
   * then close; streams still open get `err`.
   */
  closeAfterExit(err: Error): void {
    if (this.closed) return;
    this.takePublished();
    if (!this.closed) this.closeWith(err);
  }

  /** @internal */ _abortStream(s: RouterStream): void {
    if (s._dead || this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    s._kill();
    this.sendSimple(FrameType.ABORT, s.id, AbortReason.CLIENT_GONE);
  }

  protected closeWith(err?: Error): void {
    const streams = this.streams.values() as RouterStream[];
    if (!this.teardown(err)) return;
    this.closeErr = err;
    this.streams.clear();
    this.childFdsOpen && this.closeChildFds();
    const se = err ?? new ShmError(ShmErrorCode.CLOSED, 'the channel was closed');
    for (const s of streams) emitError(s, se);
    if (!this.isReady) this.rejectReady(err ?? new ShmError(ShmErrorCode.CLOSED, 'the channel closed before the app was ready'));
    this.emit('close', err);
  }

  protected onPeerGone(err?: Error): void {
    if (this.closed) return;
    if (this.shutdownSent && !err) this.closeWith(undefined);
    else {
      this.closeWith(new ShmError(ShmErrorCode.PEER_GONE, `the app process closed the channel${err ? ` (${err.message})` : ''}`));
    }
  }

  private failLater(s: RouterStream, err: Error): void {
    s._kill();
    process.nextTick(() => emitError(s, err));
  }

  private retireIfDone(s: RouterStream): void {
    if (s._responseEnded && (!s.tunnel || s._sendDone) && this.streams.get(s.id) === s) this.streams.delete(s.id);
  }

  protected override onStreamEndSent(s: StreamCore): void {
    // A tunnel whose app side had ended already is over once the client side's END is out.
    if ((s as RouterStream).tunnel) this.retireIfDone(s as RouterStream);
  }

  protected handleFrame(type: number, flags: number, stream: number, arg: number, off: number, len: number): void {
    if (this.handleStreamFrame(type, stream, arg, off, len)) return;
    switch (type) {
      case FrameType.RESPONSE: {
        let headers: string[];
        let reason: string | undefined;
        if (flags & FLAG_REASON) ({ headers, reason } = decodeResponseWithReason(this.buf, off, len));
        else headers = decodeResponseHeaders(this.buf, off, len, this.headCache);
        const http10 = (flags & FLAG_HTTP10) !== 0;
        const status = this.buf.readUInt32LE(off + 12);
        const s = this.streams.get(stream) as RouterStream | undefined;
        if (!s) return; // aborted by us meanwhile
        if (s._gotResponse) throw protocolError(`second RESPONSE on stream ${stream}`);
        s._gotResponse = true;
        if (status === 101 && s._upgrade) s.tunnel = true;
        if (s._sink !== null) s._sink.onResponse(status, headers, reason, http10);
        else s.emit('response', status, headers, reason, http10);
        return;
      }
      case FrameType.END: {
        if (len !== FRAME_HEADER) throw protocolError('END frame with a payload');
        const s = this.streams.get(stream) as RouterStream | undefined;
        if (!s) return;
        if (!s._gotResponse) throw protocolError(`END before RESPONSE on stream ${stream}`);
        this.endResponse(s);
        return;
      }
      case FrameType.ABORT: {
        if (len !== FRAME_HEADER) throw protocolError('ABORT frame with a payload');
        const s = this.streams.get(stream) as RouterStream | undefined;
        if (!s) return;
        this.streams.delete(stream);
        s._kill();
        emitError(
          s,
          arg === AbortReason.RESET
            ? new ShmError(ShmErrorCode.STREAM_RESET, `the app reset stream ${stream}`)
            : new ShmError(ShmErrorCode.STREAM_ABORTED, `the app aborted stream ${stream} (reason ${arg})`),
        );
        return;
      }
      case FrameType.TRAILERS: {
        const headers = decodeHeaderFrame(this.buf, off, len);
        const s = this.streams.get(stream) as RouterStream | undefined;
        if (!s) return;
        if (!s._gotResponse) throw protocolError(`TRAILERS before RESPONSE on stream ${stream}`);
        if (s._sink !== null) s._sink.onTrailers?.(headers);
        else s.emit('trailers', headers);
        return;
      }
      case FrameType.INFO: {
        const headers = decodeHeaderFrame(this.buf, off, len);
        const s = this.streams.get(stream) as RouterStream | undefined;
        if (!s) return;
        if (s._gotResponse) throw protocolError(`INFO after RESPONSE on stream ${stream}`);
        if (s._sink !== null) s._sink.onInfo?.(arg, headers);
        else s.emit('info', arg, headers);
        return;
      }
      case FrameType.READY:
        if (len !== FRAME_HEADER) throw protocolError('READY frame with a payload');
        if (!this.isReady) {
          this.isReady = true;
          this.connectionIdsWanted = (arg & CAP_CONNECTIONS) !== 0;
          this.capabilities = arg;
          this.resolveReady();
          this.emit('ready');
        }
        return;
      default:
        throw protocolError(`unexpected frame type ${type} from the app`);
    }
  }

  protected override onStreamData(s: StreamCore, off: number, len: number, flags: number): void {
    const rs = s as RouterStream;
    if (!rs._gotResponse) throw protocolError(`DATA before RESPONSE on stream ${s.id}`);
    this.giveData(s, off, len, (flags & FLAG_END) !== 0);
    if (flags & FLAG_END && !rs._dead) this.endResponse(rs);
  }

  /** The response is complete: the rest of the request body (if any) is not needed any more (unless a tunnel). */
  private endResponse(s: RouterStream): void {
    s._responseEnded = true;
    if (s.tunnel) {
      // Only the app's direction ended: the client's keeps flowing until its own END.
      if (s._sendDone) this.retireIfDone(s);
      s._onEnd();
      return;
    }
    s._dropBacklog();
    if (s._needDrain) {
      s._needDrain = false;
      s._emitDrain();
    }
    this.retireIfDone(s);
    s._onEnd();
  }
}

function emitError(s: RouterStream, err: Error): void {
  if (s._sink !== null) s._sink.onError(err);
  else if (s.listenerCount('error') > 0) s.emit('error', err);
}
