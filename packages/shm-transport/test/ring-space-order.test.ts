// Streams whose bodies wait for ring space get it in the order they began to wait: the first of them keeps its place
// when the space freed is not enough for it, and a stream that writes later goes behind them. Tested on the router
// end (request bodies) against a raw app that frees space frame by frame; the app end runs the same code.
import * as fs from 'fs';
import { RouterChannel, RouterStream } from '../src';
import { native } from '../src/internal/native';
import { C_HEAD, C_TAIL, FLAG_END, FRAME_HEADER, FrameType, HEADER_BYTES, RING_CTL } from '../src/internal/layout';
import { head } from './helpers';

const RING = 1 << 16; // max frame and stream window: 16 KiB
const BODY = 12 * 1024; // five bodies fill the ring

/** Reads ring 0 (router → app) through a second mapping of the memfd, freeing space only when told to. */
class RawApp {
  private readonly buf: Buffer;
  private readonly u32: Uint32Array;
  private head = 0;
  /** Stream ids of the DATA frames read, in ring order. */
  readonly data: number[] = [];
  /** The DATA frames read: stream id, flags and a copy of the payload. */
  readonly frames: Array<{ stream: number; flags: number; payload: Buffer }> = [];
  constructor(private readonly router: RouterChannel) {
    const ab = native().mapMemory(router.fds[0]);
    this.buf = Buffer.from(ab);
    this.u32 = new Uint32Array(ab, 0, HEADER_BYTES / 4);
  }
  private get tail(): number {
    return Atomics.load(this.u32, (RING_CTL[0] + C_TAIL) >> 2);
  }
  /** Reads the next published frame and frees its space; false when none is published. */
  private take(): boolean {
    if (this.head === this.tail) return false;
    const off = HEADER_BYTES + (this.head & (RING - 1));
    const len = this.buf.readUInt32LE(off);
    if (this.buf[off + 4] === FrameType.DATA) {
      this.data.push(this.buf.readUInt32LE(off + 8));
      this.frames.push({
        stream: this.buf.readUInt32LE(off + 8),
        flags: this.buf[off + 5]!,
        payload: Buffer.from(this.buf.subarray(off + FRAME_HEADER, off + len)),
      });
    }
    this.head = (this.head + ((len + 7) & ~7)) >>> 0;
    return true;
  }
  /** Frees the space of the next `n` DATA frames and of the frames before them; rings unless told not to. */
  freeDataFrames(n: number, ring = true): void {
    const want = this.data.length + n;
    while (this.data.length < want && this.take());
    this.publishHead(ring);
  }
  /** Frees the space of the frames before the next DATA frame (heads: less room than a body needs), then rings. */
  freeHeads(): void {
    while (this.head !== this.tail && this.buf[HEADER_BYTES + (this.head & (RING - 1)) + 4] !== FrameType.DATA) this.take();
    this.publishHead(true);
  }
  /** Reads and frees everything published, then rings. */
  drain(): void {
    while (this.take());
    this.publishHead(true);
  }
  private publishHead(ring: boolean): void {
    Atomics.store(this.u32, (RING_CTL[0] + C_HEAD) >> 2, this.head);
    if (ring) fs.writeSync(this.router.fds[1], Buffer.from([1]));
  }
}

/** A few event-loop turns: the router reads its doorbell and writes what now fits. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('streams waiting for ring space', () => {
  let router: RouterChannel;
  afterEach(() => router.close());

  // Doorbells that bring less room than a body, once and twice: the first waiting stream must stay first whatever
  // their number (an endpoint that sent it to the back of the line on each of them got the order right only by parity).
  it.each([1, 2])('get it in the order they began to wait, however the space comes free (%i short doorbells)', async (shortRings) => {
    router = RouterChannel.create({ ringBytes: RING });
    const app = new RawApp(router);
    const streams: RouterStream[] = [];
    const post = (): RouterStream => {
      const s = router.request(head({ method: 'POST', target: `/${streams.length}`, contentLength: BODY }));
      s.on('error', () => undefined);
      streams.push(s);
      s.endBody(Buffer.alloc(BODY, streams.length));
      return s;
    };
    // Seven bodies: the ring takes the first five (and all seven heads); #5 and #6 wait, in that order.
    for (let i = 0; i < 7; i++) post();
    await turns();
    // Room for less than a body: #5 still finds none and stays first.
    for (let i = 0; i < shortRings; i++) {
      app.freeHeads();
      await turns();
    }
    // Room for one body: #5's.
    app.freeDataFrames(1);
    await turns();
    // Room for one more body, but the router is not told yet: a body written now (#7) must not take it from #6.
    app.freeDataFrames(1, false);
    post();
    await turns();
    for (let i = 0; i < 20 && app.data.length < streams.length; i++) {
      app.drain();
      await turns();
    }
    expect(app.data).toEqual(streams.map((s) => s.id));
  });
});

// writeBodyView: a chunk valid only during the call (a router's shared read buffer). What fits goes into the ring at
// once; the rest is copied and the writer is told to stop (false) even when only the ring, not the credit, is short,
// so that the client's bytes wait in its socket; 'drain' follows once the rest is written.
describe('request body views', () => {
  let router: RouterChannel;
  afterEach(() => router.close());

  it('are written into the ring at once, the last one in one frame with END', () => {
    router = quietRouter();
    const app = new RawApp(router);
    const s = router.request(head({ method: 'POST', target: '/v', contentLength: 6000 }));
    const view = Buffer.alloc(4000, 0x41);
    expect(s.writeBodyView(view)).toBe(true);
    view.fill(0xee); // the caller reuses its buffer at once
    view.fill(0x42, 0, 2000);
    expect(s.writeBodyView(view.subarray(0, 2000), true)).toBe(true);
    view.fill(0xee);
    app.drain(); // no event-loop turn in between: the frames are in the ring already
    expect(app.frames.map((f) => [f.stream, f.flags & FLAG_END, f.payload.length])).toEqual([
      [s.id, 0, 4000],
      [s.id, FLAG_END, 2000],
    ]);
    expect(app.frames[0]!.payload.equals(Buffer.alloc(4000, 0x41))).toBe(true);
    expect(app.frames[1]!.payload.equals(Buffer.alloc(2000, 0x42))).toBe(true);
  });

  it('wait for ring space in a copy, tell the writer to stop, and drain once written', async () => {
    router = quietRouter();
    const app = new RawApp(router);
    // Five bodies of 12 KiB fill the 64 KiB ring.
    for (let i = 0; i < 5; i++) router.request(head({ method: 'POST', target: `/${i}`, contentLength: BODY })).endBody(Buffer.alloc(BODY, i));
    await turns();
    const s = router.request(head({ method: 'POST', target: '/v', contentLength: 8000 }));
    let drained = 0;
    s.on('drain', () => drained++);
    const view = Buffer.alloc(8000, 0x43);
    expect(s.writeBodyView(view)).toBe(false); // its credit (16 KiB) covers it; the ring does not
    view.fill(0xee);
    await turns();
    expect(drained).toBe(0);
    for (let i = 0; i < 10 && drained === 0; i++) {
      app.drain();
      await turns();
    }
    expect(drained).toBe(1);
    app.drain(); // what the last turn wrote
    const mine = app.frames.filter((f) => f.stream === s.id);
    expect(Buffer.concat(mine.map((f) => f.payload)).equals(Buffer.alloc(8000, 0x43))).toBe(true);
  });
});

function quietRouter(): RouterChannel {
  const r = RouterChannel.create({ ringBytes: RING });
  r.on('error', () => undefined);
  return r;
}
