// Streams whose bodies wait for ring space get it in the order they began to wait: the first of them keeps its place
// when the space freed is not enough for it, and a stream that writes later goes behind them. Tested on the router
// end (request bodies) against a raw app that frees space frame by frame; the app end runs the same code.
import * as fs from 'fs';
import { RouterChannel, RouterStream } from '../src';
import { native } from '../src/internal/native';
import { C_HEAD, C_TAIL, FrameType, HEADER_BYTES, RING_CTL } from '../src/internal/layout';
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
    if (this.buf[off + 4] === FrameType.DATA) this.data.push(this.buf.readUInt32LE(off + 8));
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
