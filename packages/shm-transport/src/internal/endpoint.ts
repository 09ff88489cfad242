// Machinery shared by both ends of a channel: the two rings, the doorbell, the drain loop, the queue of frames that
// wait for ring space, and per-stream flow control. RouterChannel and AppChannel add the frame semantics.
import { EventEmitter } from 'events';
import * as net from 'net';
import type { ShmLogger as Logger } from '../types';
import { ShmError, ShmErrorCode } from '../errors';
import { EncodeCache, encodeHeaderFrame, encodeRequest, encodeResponse, headerFrameBytes, protocolError, writeFrameHeader } from './codec';
import type { RequestHead, StreamSink } from '../types';
import { FLAG_END, FRAME_HEADER, FrameType, HEADER_BYTES, RING_CTL } from './layout';
import { RingReader, RingWriter } from './ring';
import { StreamTable } from './stream-table';
import { native, tuneAllocatorOnce, type NativeShm } from './native';

/** Frames handled per event-loop turn before yielding (keeps other I/O of the process responsive). */
const DRAIN_BUDGET = 512;

/**
 * Doorbell flood bound (router end): within {@link FLOOD_WINDOW_MS}, more wake-ups that found no frame to read (and no
 * ring space we waited for) than frames read, by more than this, is a protocol violation. A peer that follows
 * PROTOCOL.md §4 rings only after publishing, so a wake-up finds nothing only when a race made us read its frames
 * before its byte arrived: at most one such wake-up per batch of frames it published.
 */
export const DOORBELL_FLOOD_WAKEUPS = 1000;
/** Window of {@link DOORBELL_FLOOD_WAKEUPS}, in ms. */
export const FLOOD_WINDOW_MS = 1000;

/** Construction parameters of an endpoint. */
export interface EndpointInit {
  mem: ArrayBuffer;
  doorbellFd: number;
  /** 0 = router (produces into ring 0), 1 = app (produces into ring 1). */
  side: 0 | 1;
  ringBytes: number;
  maxFrame: number;
  window: number;
  logger?: Logger;
  /** Event-loop turns to keep polling after the ring ran empty while streams are open (latency vs CPU). */
  spinTurns?: number;
}

/** Largest body chunk copied out of the ring into a slab (larger ones get their own Buffer). */
const SLAB_CHUNK_MAX = 1024;
const SLAB_BYTES = 16 * 1024;

/**
 * Small body chunks copied out of the ring, carved from 16 KiB slabs a 32-bit word at a time (the frame's padding
 * makes whole words safe to read, and each chunk starts on a word). Buffer.copy cost a view allocation and a native
 * call per chunk, more than the copy itself for small bodies. Like Node's own Buffer pool, a slab lives as long as
 * any chunk carved from it.
 */
class ChunkSlab {
  private ab = new ArrayBuffer(SLAB_BYTES);
  private words = new Int32Array(this.ab);
  private used = 0;

  /** A new Buffer holding the n bytes that start at word `from` of `src`. */
  copy(src: Int32Array, from: number, n: number): Buffer {
    const need = (n + 7) & ~7;
    if (this.used + need > SLAB_BYTES) {
      this.ab = new ArrayBuffer(SLAB_BYTES);
      this.words = new Int32Array(this.ab);
      this.used = 0;
    }
    const at = this.used;
    this.used += need;
    const dst = this.words;
    const to = at >>> 2;
    const nw = (n + 3) >>> 2;
    for (let k = 0; k < nw; k++) dst[to + k] = src[from + k];
    return Buffer.from(this.ab, at, n);
  }
}

/**
 * Flow-control state and buffering of one stream, both directions. Base of RouterStream and AppRequest.
 *
 * An EventEmitter whose constructor is not run: EventEmitter's methods create the listener table on first use
 * (Node supports emitters that never called the constructor, as `util.inherits` users did), so a stream that
 * delivers through a sink — one per request on the hot path — never pays for a table it does not use.
 */
// The interface merges EventEmitter's methods into the class's type (the prototype gets them at the end of the file).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unused-vars
export interface StreamCore<S extends StreamSink = StreamSink> extends EventEmitter {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class StreamCore<S extends StreamSink = StreamSink> {
  /** @internal */ _ep: Endpoint;
  /** Stream id (unique per channel while the stream is open). */
  readonly id: number;
  // send side
  /** @internal */ _sendCredit: number;
  /** @internal */ _backlog: Buffer[] | null = null; // allocated on first use: most streams send one chunk or none
  /** @internal */ _backlogBytes = 0;
  /** @internal */ _pumpQueued = false;
  /** @internal */ _endQueued = false;
  /** @internal */ _needDrain = false;
  /** @internal */ _sendDone = false;
  /** @internal Trailers to send (TRAILERS frame) right before our END; null = none (the usual case). */
  _trailers: string[] | null = null;
  // receive side
  /** @internal */ _recvCredit: number;
  /** @internal */ _unacked = 0;
  /** @internal */ _paused = false;
  /** @internal */ _queue: Buffer[] | null = null; // only while paused
  /** @internal */ _recvEnded = false;
  /** @internal */ _endEmitted = false;
  /** @internal */ _dead = false;
  /** @internal Callback slots replacing the events, see RouterStream.setSink and AppRequest.setSink. */
  _sink: S | null = null;

  constructor(ep: Endpoint, id: number) {
    this._ep = ep;
    this.id = id;
    this._sendCredit = ep.window;
    this._recvCredit = ep.window;
  }

  /**
   * Queues body bytes (by reference) and schedules their sending at the end of the current tick, so that a write
   * followed by end() goes out as one DATA frame with the END flag. False when more is queued than the peer's
   * credit covers: the caller should wait for 'drain'. Memory held per stream is thus bounded by one window (plus
   * the chunk that crossed it).
   */
  protected sendData(chunk: Buffer): boolean {
    if (this._dead || this._sendDone || this._endQueued) return false;
    if (chunk.length > 0) {
      if (this._backlog === null)
        this._backlog = [chunk]; // most streams send one chunk: no growing
      else this._backlog.push(chunk);
      this._backlogBytes += chunk.length;
      this._ep._schedulePump(this);
    }
    if (this._backlogBytes <= this._sendCredit) return true;
    this._needDrain = true;
    this._ep.creditWaits++;
    return false;
  }

  /**
   * The last chunk of the body, and its end. When nothing is queued before it, the credit covers it and the ring has
   * room, it goes out at once as one DATA frame with the END flag (no backlog, no pump); otherwise as sendData and
   * sendEnd would send it.
   */
  protected sendLast(chunk: Buffer): void {
    if (this._dead || this._sendDone || this._endQueued) return;
    const idle = (this._backlog === null || this._backlog.length === 0) && this._trailers === null;
    if (idle && chunk.length <= this._sendCredit && this._ep._writeLast(this, chunk)) return;
    this.sendData(chunk);
    this.sendEnd();
  }

  /**
   * As sendData, with a chunk valid only during this call (`last`: then the end of the body). What the credit and the
   * ring take goes into the ring at once (with `last`, in one frame with END when it fits); the rest is copied into
   * the backlog, and the answer is then false, also when only the ring was short: the caller stops reading its
   * source, so that bytes waiting for ring space wait there, not in our memory, until 'drain'.
   */
  protected sendView(view: Buffer, last: boolean): boolean {
    if (this._dead || this._sendDone || this._endQueued) return false;
    let rest = view;
    if ((this._backlog === null || this._backlog.length === 0) && this._trailers === null) {
      if (last && view.length <= this._sendCredit && this._ep._writeLast(this, view)) return true;
      const n = this._ep._writeNow(this, view);
      if (n === view.length) {
        if (last) this.sendEnd();
        return true;
      }
      rest = view.subarray(n);
    }
    if (this._dead) return false;
    this.sendData(Buffer.from(rest));
    if (last) this.sendEnd();
    this._needDrain = true;
    return false;
  }

  /** Queues the end of the body (sent after the backlog). */
  protected sendEnd(): void {
    if (this._dead || this._sendDone || this._endQueued) return;
    this._endQueued = true;
    this._ep._schedulePump(this);
  }

  /** Drops what is queued for sending (the peer does not need it any more). */
  /** @internal */ _dropBacklog(): void {
    this._backlog = null;
    this._backlogBytes = 0;
    this._endQueued = false;
  }

  /** Body chunk received from the peer (already copied out of the ring). */
  /** @internal */ _onData(chunk: Buffer, last = false): void {
    this.charge(chunk.length);
    if (this._paused || (this._queue !== null && this._queue.length > 0)) (this._queue ??= []).push(chunk);
    else this.deliver(chunk, last);
  }

  /** @internal Whether a chunk received now could be given as a view: flowing, nothing queued, a sink that takes views. */
  _takesView(): boolean {
    return !this._paused && (this._queue === null || this._queue.length === 0) && this._sink !== null && this._sink.onDataView !== undefined;
  }

  /** @internal Body chunk still in the ring (see _takesView), valid only during this call: the sink's onDataView gets it. */
  _onDataView(view: Buffer, last: boolean): void {
    this.charge(view.length);
    this._sink!.onDataView!(view, last);
    this.consumed(view.length);
  }

  private charge(n: number): void {
    if (n > this._recvCredit) throw protocolError(`stream ${this.id} sent ${n} bytes with only ${this._recvCredit} of credit`);
    this._recvCredit -= n;
  }

  /** @internal */ _onEnd(): void {
    this._recvEnded = true;
    if (!this._paused && (this._queue === null || this._queue.length === 0)) this.emitEnd();
  }

  private deliver(chunk: Buffer, last = false): void {
    if (this._sink !== null) this._sink.onData(chunk, last);
    else this.emit('data', chunk);
    this.consumed(chunk.length);
  }

  /** `n` bytes were delivered: credit goes back to the peer. */
  private consumed(n: number): void {
    this._unacked += n;
    // Return credit in batches of a quarter window: few WINDOW frames, and the peer never stalls for long.
    if (this._unacked >= this._ep.window >>> 2 && !this._dead && !this._recvEnded) {
      this._recvCredit += this._unacked;
      this._ep._sendWindow(this.id, this._unacked);
      this._unacked = 0;
    }
  }

  private emitEnd(): void {
    if (this._endEmitted || this._dead) return;
    this._endEmitted = true;
    if (this._sink !== null) this._sink.onEnd();
    else this.emit('end');
  }

  /** Stops 'data' events and stops granting credit (the peer stops after at most one window). */
  pause(): void {
    this._paused = true;
  }

  /** Resumes 'data' events; queued chunks are delivered first. */
  resume(): void {
    if (!this._paused) return;
    this._paused = false;
    const q = this._queue;
    while (!this._paused && q !== null && q.length > 0 && !this._dead) this.deliver(q.shift()!, this._recvEnded && q.length === 0);
    if (!this._paused && (q === null || q.length === 0) && this._recvEnded) this.emitEnd();
  }

  /** Called by the endpoint when the stream is torn down (abort, channel closed). */
  /** @internal */ _kill(): void {
    this._dead = true;
    this._dropBacklog();
    this._queue = null;
  }

  /** @internal */ _emitDrain(): void {
    if (this._sink !== null) this._sink.onDrain();
    else this.emit('drain');
  }

  /** The END frame of our side went out. */
  /** @internal */ _onEndSent(): void {
    this._sendDone = true;
  }
}

Object.setPrototypeOf(StreamCore.prototype, EventEmitter.prototype);

/** One end of a channel; subclasses implement {@link handleFrame}. */
export abstract class Endpoint extends EventEmitter {
  /** @internal */ readonly window: number;
  /** @internal */ readonly maxChunk: number;
  /** The shared mapping (unmapped a turn after the channel closed: see releaseMemory). */
  private readonly mem: ArrayBuffer;
  protected readonly buf: Buffer;
  protected readonly u32: Uint32Array;
  /** The whole mapping as 32-bit words (frames are 8-byte aligned: their header fields are whole words). */
  protected readonly w32: Int32Array;
  private readonly chunks = new ChunkSlab();
  protected readonly out: RingWriter;
  protected readonly in: RingReader;
  protected readonly log?: Logger;
  protected readonly streams = new StreamTable<StreamCore>();
  protected closed = false;
  private readonly doorbell: net.Socket;
  private readonly doorbellFd: number;
  private readonly nat: NativeShm;
  private pending: Buffer[] = [];
  /**
   * Back-pressure counters (monotonic, for metrics): times a frame found the outgoing ring full and waited for the peer
   * to free space, and times a stream's body went beyond the peer's credit (its writer was told to wait for 'drain').
   */
  ringFullWaits = 0;
  creditWaits = 0;
  private blocked = new Set<StreamCore>();
  private readonly dirty: (StreamCore | null)[] = [];
  private dirtyCount = 0;
  private flushQueued = false;
  private draining = false;
  private drainScheduled = false;
  private spinLeft = 0;
  private bellQueued = false;
  private inDrain = false;
  private unpublished = false;
  /** teardown() is pumping the streams' queued bytes before a deliberate close. */
  private flushingForClose = false;
  private readonly spinTurns: number;
  protected readonly headEncoder = new EncodeCache();
  /** The router end checks for doorbell floods (the app end trusts wardend). */
  private readonly floodCheck: boolean;
  /** Frames read since the channel opened. */
  private framesIn = 0;
  private floodWindowStart = 0;
  private floodWindowFrames = 0;
  private emptyWakeups = 0;

  constructor(init: EndpointInit) {
    super();
    this.window = init.window;
    this.maxChunk = init.maxFrame - FRAME_HEADER;
    this.log = init.logger;
    this.spinTurns = init.spinTurns ?? 0;
    this.floodCheck = init.side === 0;
    this.mem = init.mem;
    this.buf = Buffer.from(init.mem);
    this.u32 = new Uint32Array(init.mem, 0, HEADER_BYTES >> 2);
    this.w32 = new Int32Array(init.mem, 0, init.mem.byteLength >>> 2);
    const outRing = init.side;
    const inRing = 1 - init.side;
    this.out = new RingWriter(this.u32, this.buf, RING_CTL[outRing], HEADER_BYTES + outRing * init.ringBytes, init.ringBytes);
    this.in = new RingReader(this.u32, this.buf, RING_CTL[inRing], HEADER_BYTES + inRing * init.ringBytes, init.ringBytes, init.maxFrame);
    // The doorbell: libuv watches the socket; a byte means "look at the rings", EOF means the peer is gone.
    // `onread` with one small reused buffer: otherwise libuv reads allocate 64 KiB per wake-up, and that external
    // memory churn alone drove a quarter of the CPU time into the garbage collector under load.
    this.doorbellFd = init.doorbellFd;
    this.nat = native();
    tuneAllocatorOnce(this.nat);
    this.doorbell = new net.Socket({
      fd: init.doorbellFd,
      readable: true,
      writable: true,
      onread: { buffer: Buffer.alloc(64), callback: this.onBell },
    } as net.SocketConstructorOpts);
    this.doorbell.on('end', () => this.peerGone());
    this.doorbell.on('error', (e) => this.peerGone(e));
    this.doorbell.on('close', () => this.peerGone());
    this.scheduleDrain();
  }

  /** Number of open streams. */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** Handles one non-PAD frame whose bytes lie in `this.buf` at [off, off+len). */
  protected abstract handleFrame(type: number, flags: number, stream: number, arg: number, off: number, len: number): void;

  /** The doorbell socket reached EOF or failed. */
  protected abstract onPeerGone(err?: Error): void;

  /**
   * The peer is gone: first take what it published before it went (a last response whose doorbell never came, e.g.
   * an app that exits right after answering), then close.
   */
  private peerGone(err?: Error): void {
    if (this.closed) return;
    const left = this.takePublished();
    if (this.closed) return;
    // When the peer left frames behind, 'close' comes a turn after what they delivered (as it would have after the
    // doorbell byte), so that code reacting to a stream's end can still subscribe to the channel's close.
    if (left) setImmediate(() => this.onPeerGone(err));
    else this.onPeerGone(err);
  }

  /**
   * Handles every frame the peer published and has not been read yet, whether or not its doorbell byte came (a peer
   * that is gone publishes nothing new, so this ends). Returns whether there were any. A protocol error fails the
   * channel, as in any drain.
   */
  protected takePublished(): boolean {
    let left = false;
    try {
      // Bounded: a ring holds fewer frames than this many drain budgets, and a dead peer publishes nothing new.
      for (let turns = 0; turns < 1024 && !this.closed && this.in.available() > 0; turns++) {
        left = true;
        this.runDrain();
      }
    } catch (e) {
      this.fail(e); // counters moved the wrong way: a protocol error, as in any drain
    }
    return left;
  }

  /** Tears down everything; emits 'close' once. Subclasses extend it to fail their streams. */
  protected teardown(err?: Error): boolean {
    if (this.closed) return false;
    if (err === undefined && this.dirtyCount > 0 && !this.flushingForClose) {
      // A deliberate close: body bytes and ends queued for the end of this tick (sendData, sendEnd) go into the ring
      // first, as far as credit and space allow (an app that ends a response and exits in one callback; the
      // microtask that would pump them never runs after process.exit()).
      this.flushingForClose = true;
      try {
        this.flushDirty();
      } finally {
        this.flushingForClose = false;
      }
      if (this.closed) return false; // the flush failed the channel (and tore it down)
    }
    // Frames written in this drain but not yet published (an app that answers and closes in one callback) go out.
    if (this.unpublished) {
      this.unpublished = false;
      if (this.out.publish()) this.bellQueued = true;
    }
    this.closed = true;
    // A doorbell still deferred to the end of this turn goes out now: frames published just before a close (the
    // last response of an app that exits) must be seen by the peer before it sees EOF. libuv writes at once when
    // nothing is queued, so the byte leaves before the fd is closed.
    if (this.bellQueued && !this.doorbell.destroyed) this.nat.ring(this.doorbellFd);
    this.bellQueued = false;
    this.doorbell.destroy();
    this.pending = [];
    this.blocked.clear();
    for (const s of this.streams.values()) s._kill();
    // The mapping goes a turn later, when the close and its listeners are done: released now, not when the garbage
    // collector gets to it (an app process that crashes in a loop left 4 MiB of resident pages per channel behind).
    setImmediate(() => this.releaseMemory());
    return true;
  }

  /** True once the shared memory is unmapped (after a close): every view of it is empty. */
  protected memoryReleased = false;

  private releaseMemory(): void {
    this.beforeRelease();
    this.memoryReleased = this.nat.releaseMemory(this.mem);
  }

  /** Reads what must stay readable from the shared memory after the close (just before it is unmapped). */
  protected beforeRelease(): void {}

  // ---- sending ----

  /** Sends a header-only frame. Never throws: a protocol error found on the way closes the channel. */
  protected sendSimple(type: number, stream: number, arg: number): void {
    if (this.closed) return;
    try {
      if (this.pending.length === 0) {
        const off = this.out.reserve(FRAME_HEADER);
        if (off >= 0) {
          writeFrameHeader(this.buf, off, FRAME_HEADER, type, 0, stream, arg);
          this.committed(FRAME_HEADER);
          return;
        }
      }
      const b = Buffer.allocUnsafe(FRAME_HEADER);
      writeFrameHeader(b, 0, FRAME_HEADER, type, 0, stream, arg);
      this.pending.push(b);
      this.needSpace(FRAME_HEADER);
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Sends a REQUEST (`req` given) or RESPONSE frame of `len` bytes, encoded straight into the ring when it fits
   * (no closure, no scratch buffer on the hot path). Never throws.
   */
  protected sendHead(
    len: number,
    id: number,
    req: RequestHead | null,
    status: number,
    headers: string[] | null,
    reason: string | null = null,
    http10 = false,
  ): void {
    if (this.closed) return;
    try {
      if (this.pending.length === 0) {
        const off = this.out.reserve(len);
        if (off >= 0) {
          if (req) encodeRequest(this.buf, off, len, id, req, this.headEncoder);
          else encodeResponse(this.buf, off, len, id, status, headers!, this.headEncoder, reason, http10);
          this.committed(len);
          return;
        }
      }
      const b = Buffer.allocUnsafe(len);
      if (req) encodeRequest(b, 0, len, id, req, this.headEncoder);
      else encodeResponse(b, 0, len, id, status, headers!, this.headEncoder, reason, http10);
      this.pending.push(b);
      this.needSpace(len);
    } catch (e) {
      this.fail(e);
    }
  }

  /** Sends a TRAILERS or INFO frame (header pairs; `arg`: INFO's status). Never throws. */
  protected sendHeaders(type: number, stream: number, arg: number, headers: string[]): void {
    if (this.closed) return;
    const len = headerFrameBytes(headers);
    try {
      if (this.pending.length === 0) {
        const off = this.out.reserve(len);
        if (off >= 0) {
          encodeHeaderFrame(this.buf, off, len, type, stream, arg, headers);
          this.committed(len);
          return;
        }
      }
      const b = Buffer.allocUnsafe(len);
      encodeHeaderFrame(b, 0, len, type, stream, arg, headers);
      this.pending.push(b);
      this.needSpace(len);
    } catch (e) {
      this.fail(e);
    }
  }

  /** @internal */ _sendWindow(stream: number, credit: number): void {
    this.sendSimple(FrameType.WINDOW, stream, credit);
  }

  /** Schedules a pump of the stream at the end of the current tick (one microtask for all streams). */
  /** @internal */ _schedulePump(s: StreamCore): void {
    if (s._pumpQueued) return;
    s._pumpQueued = true;
    this.dirty[this.dirtyCount++] = s;
    // Inside the drain loop the flush happens before it publishes; elsewhere at the end of the tick.
    if (!this.flushQueued && !this.draining) {
      this.flushQueued = true;
      queueMicrotask(this.flushDirty);
    }
  }

  private readonly flushDirty = (): void => {
    this.flushQueued = false;
    if (this.dirtyCount === 0) return;
    // One array for the endpoint's life, with its own count (a fresh array per flush was an allocation per message,
    // and setting `length` a runtime call). Streams queued by callbacks during the loop (a 'drain' listener writing)
    // are appended and pumped in this same loop.
    const list = this.dirty;
    let i = 0;
    try {
      for (; i < this.dirtyCount; i++) {
        const s = list[i]!;
        list[i] = null;
        s._pumpQueued = false;
        this.pumpStream(s);
      }
    } catch (e) {
      for (; i < this.dirtyCount; i++) list[i] = null;
      this.fail(e);
    } finally {
      this.dirtyCount = 0;
    }
  };

  /**
   * Writes as much of a stream's backlog as its credit and the ring allow; then its END if queued. Streams that wait
   * for ring space get it in the order they began to wait: a stream pumped while others wait goes behind them (unless
   * `turn`: it is the first of them, pumped by flushOutgoing). Returns whether the stream is left waiting.
   */
  private pumpStream(s: StreamCore, turn = false): boolean {
    if (this.closed || s._dead) return false;
    if (this.pending.length > 0 || (!turn && this.blocked.size > 0)) {
      this.blocked.add(s); // a stream already waiting keeps its place
      return true;
    }
    const backlog = s._backlog;
    while (backlog !== null && backlog.length > 0) {
      if (s._sendCredit <= 0) return false; // a WINDOW frame will pump again
      const chunk = backlog[0];
      const n = Math.min(chunk.length, s._sendCredit, this.maxChunk);
      const len = FRAME_HEADER + n;
      const off = this.out.reserve(len);
      if (off < 0) {
        this.blocked.add(s);
        this.needSpace(len);
        return true;
      }
      // The last chunk of a body whose end is queued carries the END flag: one frame less per message.
      const last = n === chunk.length && backlog.length === 1 && s._endQueued && s._trailers === null;
      this.putData(off, s, chunk, n, last);
      s._backlogBytes -= n;
      if (n === chunk.length) backlog.shift();
      else backlog[0] = chunk.subarray(n);
      if (last) {
        s._endQueued = false;
        this.endSent(s);
      }
    }
    if (s._endQueued) {
      s._endQueued = false;
      if (s._trailers !== null) {
        this.sendHeaders(FrameType.TRAILERS, s.id, 0, s._trailers);
        s._trailers = null;
      }
      this.sendSimple(FrameType.END, s.id, 0);
      this.endSent(s);
    }
    if (s._needDrain && !s._dead && s._backlogBytes <= s._sendCredit) {
      s._needDrain = false;
      s._emitDrain();
    }
    return false;
  }

  /** @internal Writes `chunk` (1 byte or more) as the stream's last DATA frame straight into the ring; false if not now. */
  _writeLast(s: StreamCore, chunk: Buffer): boolean {
    const n = chunk.length;
    if (this.closed || this.pending.length > 0 || this.blocked.size > 0 || n === 0 || n > this.maxChunk) return false;
    try {
      const off = this.out.reserve(FRAME_HEADER + n);
      if (off < 0) return false;
      this.putData(off, s, chunk, n, true);
    } catch (e) {
      this.fail(e); // the peer moved our ring's head the wrong way
      return true;
    }
    this.endSent(s);
    return true;
  }

  /**
   * @internal Writes as much of `chunk` as the stream's credit and the ring take now, in DATA frames, when no other
   * stream waits for ring space; returns the bytes written (all of them, once a protocol error closed the channel).
   */
  _writeNow(s: StreamCore, chunk: Buffer): number {
    if (this.closed || this.pending.length > 0 || this.blocked.size > 0) return 0;
    let done = 0;
    try {
      while (done < chunk.length && s._sendCredit > 0) {
        const n = Math.min(chunk.length - done, s._sendCredit, this.maxChunk);
        const off = this.out.reserve(FRAME_HEADER + n);
        if (off < 0) break;
        this.putData(off, s, done === 0 ? chunk : chunk.subarray(done), n, false);
        done += n;
      }
    } catch (e) {
      this.fail(e); // the peer moved our ring's head the wrong way
      return chunk.length;
    }
    return done;
  }

  /** Writes a DATA frame of the first `n` bytes of `chunk` at `off` (reserved), counts it and takes its credit. */
  private putData(off: number, s: StreamCore, chunk: Buffer, n: number, last: boolean): void {
    const len = FRAME_HEADER + n;
    writeFrameHeader(this.buf, off, len, FrameType.DATA, last ? FLAG_END : 0, s.id, 0);
    if (n === chunk.length) this.buf.set(chunk, off + FRAME_HEADER);
    else chunk.copy(this.buf, off + FRAME_HEADER, 0, n);
    this.committed(len);
    s._sendCredit -= n;
  }

  protected endSent(s: StreamCore): void {
    s._onEndSent();
    this.onStreamEndSent(s);
  }

  /** Hook: our END for the stream is out. */
  protected onStreamEndSent(_s: StreamCore): void {}

  /** Flushes queued control frames, then the streams that waited for space. */
  private flushOutgoing(): void {
    while (this.pending.length > 0) {
      const f = this.pending[0];
      const off = this.out.reserve(f.length);
      if (off < 0) {
        this.needSpace(f.length);
        return;
      }
      f.copy(this.buf, off);
      this.committed(f.length);
      this.pending.shift();
    }
    // In the order they began to wait; the first that still finds no room stays first.
    for (const s of this.blocked) {
      if (this.pumpStream(s, true)) return;
      this.blocked.delete(s);
      if (this.closed || this.pending.length > 0) return;
    }
  }

  /**
   * A frame was written into the ring. Inside the drain loop its publication waits for the end of the current frame's
   * handling (a response and its body, a request and its body: one counter store and one wake-up check for all);
   * elsewhere it is published at once.
   */
  private committed(len: number): void {
    if (this.inDrain) {
      this.out.advance(len);
      this.unpublished = true;
    } else if (this.out.commit(len)) {
      this.ring();
    }
  }

  /** Publishes frames written during the drain loop. */
  private publishOut(): void {
    this.unpublished = false;
    if (this.out.publish()) this.ring();
  }

  private needSpace(len: number): void {
    this.ringFullWaits++;
    // Ask the consumer to ring when it frees space; if space appeared meanwhile, retry on the next turn.
    if (this.out.waitForSpace(len)) this.scheduleDrain();
  }

  private ring(): void {
    // Inside the drain loop (frames sent from our handlers while we consume the peer's batch): at once, so the peer
    // works on them in parallel with the rest of our batch. Elsewhere (wardend: requests parsed from client sockets):
    // deferred to the check phase of this event-loop turn, when every request of the turn is in the ring, so the
    // peer wakes once per turn instead of once per request that found it asleep (measured: the Go app's CPU per
    // request fell from 22-32 µs to 15-16 µs under wrk, fewer write(2) calls in wardend).
    if (this.bellQueued || this.closed) return;
    this.bellQueued = true;
    if (this.inDrain) this.flushBell();
    else setImmediate(this.flushBell);
  }

  private readonly flushBell = (): void => {
    if (!this.bellQueued) return; // already rung at the end of a drain
    this.bellQueued = false;
    // A non-blocking send: when the socket buffer is full the peer has unread bytes and will look anyway, so a
    // hostile app that keeps setting its sleeping flag and never reads its doorbell cannot make us buffer anything.
    if (!this.closed) this.nat.ring(this.doorbellFd);
  };

  // ---- receiving ----

  private readonly onBell = (): boolean => {
    if (!this.floodCheck) {
      this.runDrain();
      return true; // keep reading
    }
    const frames = this.framesIn;
    const waitedForSpace = this.pending.length > 0 || this.blocked.size > 0;
    this.runDrain();
    if (this.framesIn === frames && !waitedForSpace && !this.closed) this.emptyWakeup();
    return true;
  };

  /** A doorbell read that found nothing to do: a protocol violation past {@link DOORBELL_FLOOD_WAKEUPS} a window. */
  private emptyWakeup(): void {
    const now = Date.now(); // only on empty wake-ups: rare for a peer that keeps the protocol
    if (now - this.floodWindowStart >= FLOOD_WINDOW_MS) {
      this.floodWindowStart = now;
      this.floodWindowFrames = this.framesIn;
      this.emptyWakeups = 0;
    }
    const n = ++this.emptyWakeups;
    const frames = this.framesIn - this.floodWindowFrames;
    if (n - frames > DOORBELL_FLOOD_WAKEUPS) {
      this.fail(protocolError(`doorbell flood: ${n} doorbell wake-ups within ${FLOOD_WINDOW_MS} ms found no frame to read (${frames} frames read)`));
    }
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    setImmediate(this.runDrain);
  }

  private readonly runDrain = (): void => {
    this.drainScheduled = false;
    if (this.closed) return;
    this.inDrain = true;
    try {
      this.in.wake();
      let n = 0;
      const b = this.buf;
      const w32 = this.w32;
      this.draining = true;
      for (; n < DRAIN_BUDGET; n++) {
        const off = this.in.next();
        if (off < 0) break;
        const w = off >>> 2;
        const len = w32[w]; // checked by next(): 16 .. maxFrame
        this.frameReleased = false;
        this.handleFrame(b[off + 4], b[off + 5], w32[w + 2] >>> 0, w32[w + 3] >>> 0, off, len);
        if (this.closed) return;
        if (!this.frameReleased) this.in.release(len);
        // What the handler wrote goes out now, not after the batch: the peer works on it in parallel with the rest
        // of our batch (flushing after the whole batch made the two sides take turns, each idle half the time).
        if (this.dirtyCount > 0) this.flushDirty();
        if (this.unpublished) this.publishOut();
      }
      this.draining = false;
      this.framesIn += n;
      if (this.dirtyCount > 0) this.flushDirty();
      if (this.closed) return;
      if (this.in.publish()) this.ring();
      if (this.pending.length > 0 || this.blocked.size > 0) this.flushOutgoing();
      if (this.unpublished) this.publishOut();
      if (this.closed) return;
      if (n > 0) this.spinLeft = this.spinTurns;
      if (n >= DRAIN_BUDGET) {
        this.scheduleDrain();
      } else if (this.spinLeft > 0) {
        this.spinLeft--;
        this.scheduleDrain();
      } else if (this.in.sleep()) {
        this.scheduleDrain();
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.draining = false;
      this.inDrain = false;
      if (this.unpublished && !this.closed) this.publishOut(); // after an exception or an early return
      if (this.bellQueued) this.flushBell(); // one deferred from before the drain: no need to wait any longer
    }
  };

  /** Set by a frame handler that released its frame itself ({@link consumed}): the drain must not release it again. */
  private frameReleased = false;

  /**
   * Releases the frame being handled now and publishes the read position, before what the handler does next may run
   * long (an app's request handler, synchronous): the router's stall watch judges a process by that position, and a
   * request read but not yet published as read looked unread, so it was moved to another process and ran again
   * (a GET whose handler took 2 s ran 49 times). Only for a frame whose bytes are not used afterwards.
   */
  protected consumed(len: number): void {
    if (this.frameReleased || !this.draining) return;
    this.frameReleased = true;
    this.in.release(len);
    if (this.in.publish()) this.ring();
  }

  /** Closes the channel because of `e` (protocol violation, or a listener of ours threw). */
  protected fail(e: unknown): void {
    const err = e instanceof ShmError ? e : new ShmError(ShmErrorCode.LISTENER, `listener threw: ${(e as Error)?.stack ?? e}`);
    this.log?.error({ err }, 'shm channel closed on error');
    this.closeWith(err);
  }

  /** Subclass close with an error. */
  protected abstract closeWith(err?: Error): void;

  /** Gives the body of a DATA frame to `s`: as a view of the ring when it can take one (see _takesView), else a copy. */
  protected giveData(s: StreamCore, off: number, len: number, last: boolean): void {
    if (len - FRAME_HEADER > SLAB_CHUNK_MAX && s._takesView()) s._onDataView(this.buf.subarray(off + FRAME_HEADER, off + len), last);
    else s._onData(this.copyData(off, len), last);
  }

  /** Copies the body of a DATA frame out of the ring. */
  protected copyData(off: number, len: number): Buffer {
    const n = len - FRAME_HEADER;
    if (n <= SLAB_CHUNK_MAX) return this.chunks.copy(this.w32, (off + FRAME_HEADER) >>> 2, n);
    const c = Buffer.allocUnsafe(n);
    this.buf.copy(c, 0, off + FRAME_HEADER, off + len);
    return c;
  }

  /** Common stream frames: DATA, END, WINDOW. Returns false for other types. */
  protected handleStreamFrame(type: number, stream: number, arg: number, off: number, len: number): boolean {
    switch (type) {
      case FrameType.DATA: {
        const s = this.streams.get(stream);
        if (s) this.onStreamData(s, off, len, this.buf[off + 5]);
        return true;
      }
      case FrameType.WINDOW: {
        if (len !== FRAME_HEADER) throw protocolError('WINDOW frame with a payload');
        const s = this.streams.get(stream);
        if (s && !s._dead) {
          if (arg === 0 || s._sendCredit + arg > 0x7fffffff) throw protocolError(`bad WINDOW credit ${arg}`);
          s._sendCredit += arg;
          this.pumpStream(s);
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** Hook for DATA on a known stream (subclasses check state first and handle FLAG_END). */
  protected onStreamData(s: StreamCore, off: number, len: number, flags: number): void {
    this.giveData(s, off, len, (flags & FLAG_END) !== 0);
  }
}
