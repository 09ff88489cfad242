// A hostile app writes garbage into the app→router ring and moves counters: the router end must close the channel
// with WARDEN_ERR_SHM_PROTOCOL (or ignore harmless frames), never throw, never read outside the mapping.
import * as crypto from 'crypto';
import * as fs from 'fs';
import { encodeFrame, Frame, RouterChannel, RouterStream } from '../src';
import { native } from '../src/internal/native';
import { C_HEAD, C_TAIL, HEADER_BYTES, RING_CTL } from '../src/internal/layout';
import { DOORBELL_FLOOD_WAKEUPS } from '../src/internal/endpoint';
import { head } from './helpers';

const RING = 1 << 16;

/** Raw writer of ring 1 through a second mapping of the memfd. */
class HostileApp {
  readonly buf: Buffer;
  readonly u32: Uint32Array;
  tail = 0;
  constructor(private readonly router: RouterChannel) {
    const ab = native().mapMemory(router.fds[0]);
    this.buf = Buffer.from(ab);
    this.u32 = new Uint32Array(ab, 0, HEADER_BYTES / 4);
  }
  /** Appends raw bytes (already a frame or garbage) at the tail, no validation. */
  put(bytes: Buffer): void {
    const base = HEADER_BYTES + RING;
    for (let i = 0; i < bytes.length; i++) this.buf[base + ((this.tail + i) & (RING - 1))] = bytes[i];
    this.tail = (this.tail + ((bytes.length + 7) & ~7)) >>> 0;
  }
  frame(f: Frame): void {
    this.put(encodeFrame(f));
  }
  publish(tail = this.tail): void {
    Atomics.store(this.u32, (RING_CTL[1] + C_TAIL) >> 2, tail >>> 0);
    fs.writeSync(this.router.fds[1], Buffer.from([1]));
  }
  setRouterRingHead(v: number): void {
    Atomics.store(this.u32, (RING_CTL[0] + C_HEAD) >> 2, v >>> 0);
  }
}

function closed(router: RouterChannel): Promise<Error | undefined> {
  return new Promise((r) => router.once('close', r));
}

/** The response body a stream delivers, as text; rejects when the stream fails. */
function bodyOf(stream: RouterStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    stream.on('data', (b: Buffer) => (body += b.toString()));
    stream.on('end', () => resolve(body));
    stream.on('error', reject);
  });
}

/** Waits until the router has consumed everything published (or closed). */
async function settle(router: RouterChannel, h: HostileApp): Promise<void> {
  const iHead = (RING_CTL[1] + C_HEAD) >> 2;
  for (let i = 0; i < 1000; i++) {
    if ((router as unknown as { closed: boolean }).closed) return;
    if (Atomics.load(h.u32, iHead) === h.tail) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('router neither consumed nor closed');
}

describe('router end against a hostile app', () => {
  let router: RouterChannel;
  let app: HostileApp;
  let stream: RouterStream;
  beforeEach(() => {
    router = RouterChannel.create({ ringBytes: RING });
    app = new HostileApp(router);
    stream = router.request(head());
    stream.on('error', () => undefined);
  });
  afterEach(() => router.close());

  const cases: [string, (a: HostileApp, r: RouterChannel, s: RouterStream) => void | Promise<void>, RegExp][] = [
    [
      'tail moved backwards',
      async (a, r) => {
        a.frame({ type: 'READY' });
        a.publish();
        await settle(r, a);
        a.publish(a.tail - 8);
      },
      /moved backwards/,
    ],
    ['tail more than a ring ahead', (a) => a.publish(RING + 8), /more than a ring ahead/],
    [
      'frame length 0',
      (a) => {
        a.put(Buffer.alloc(16));
        a.buf.writeUInt32LE(0, HEADER_BYTES + RING);
        a.buf[HEADER_BYTES + RING + 4] = 3;
        a.publish();
      },
      /length 0 out of range/,
    ],
    [
      'frame longer than the max frame',
      (a) => {
        const b = encodeFrame({ type: 'END', stream: 1 });
        b.writeUInt32LE(RING, 0);
        a.put(b);
        a.publish();
      },
      /out of range/,
    ],
    [
      'frame longer than published',
      (a) => {
        const b = encodeFrame({ type: 'DATA', stream: 1, data: Buffer.alloc(100) });
        a.put(b);
        a.publish(a.tail - 64);
      },
      /longer than the/,
    ],
    [
      'PAD of the wrong length',
      (a) => {
        const b = Buffer.alloc(16);
        b.writeUInt32LE(16, 0);
        a.put(b);
        a.publish();
      },
      /bad PAD/,
    ],
    [
      'unknown frame type',
      (a) => {
        const b = encodeFrame({ type: 'END', stream: 1 });
        b[4] = 200;
        a.put(b);
        a.publish();
      },
      /unexpected frame type 200/,
    ],
    [
      'REQUEST from the app',
      (a) => {
        a.frame({ type: 'REQUEST', stream: 1, head: head() });
        a.publish();
      },
      /unexpected frame type 1/,
    ],
    [
      'DATA before RESPONSE',
      (a) => {
        a.frame({ type: 'DATA', stream: 1, data: Buffer.from('x') });
        a.publish();
      },
      /DATA before RESPONSE/,
    ],
    [
      'END before RESPONSE',
      (a) => {
        a.frame({ type: 'END', stream: 1 });
        a.publish();
      },
      /END before RESPONSE/,
    ],
    [
      'second RESPONSE',
      (a) => {
        a.frame({ type: 'RESPONSE', stream: 1, status: 200, headers: [] });
        a.frame({ type: 'RESPONSE', stream: 1, status: 200, headers: [] });
        a.publish();
      },
      /second RESPONSE/,
    ],
    [
      'DATA beyond the credit',
      (a, _r, s) => {
        s.pause(); // no credit comes back while paused
        a.frame({ type: 'RESPONSE', stream: 1, status: 200, headers: [] });
        for (let i = 0; i < 3; i++) a.frame({ type: 'DATA', stream: 1, data: Buffer.alloc(RING / 8) });
        a.publish();
      },
      /credit/,
    ],
    [
      'RESPONSE with a header count past the frame',
      (a) => {
        const b = encodeFrame({ type: 'RESPONSE', stream: 1, status: 200, headers: ['a', 'b'] });
        b.writeUInt32LE(1000, 16);
        a.put(b);
        a.publish();
      },
      /header count/,
    ],
    [
      'RESPONSE string running past the frame',
      (a) => {
        const b = encodeFrame({ type: 'RESPONSE', stream: 1, status: 200, headers: ['a', 'b'] });
        b.writeUInt32LE(0xfffffff0, 20);
        a.put(b);
        a.publish();
      },
      /runs past/,
    ],
    [
      'WINDOW credit overflow',
      (a) => {
        a.frame({ type: 'WINDOW', stream: 1, credit: 0x7fffffff });
        a.publish();
      },
      /bad WINDOW credit/,
    ],
    [
      'READY with a payload',
      (a) => {
        const b = encodeFrame({ type: 'DATA', stream: 0, data: Buffer.alloc(8) });
        b[4] = 7;
        a.put(b);
        a.publish();
      },
      /READY frame with a payload/,
    ],
  ];

  it.each(cases)('closes the channel on %s', async (_name, act, why) => {
    const c = closed(router);
    const streamErr = new Promise<Error>((r) => stream.once('error', r));
    await act(app, router, stream);
    const err = await c;
    expect(err).toMatchObject({ code: 'WARDEN_ERR_SHM_PROTOCOL' });
    expect(err!.message).toMatch(why);
    expect((await streamErr).message).toMatch(/WARDEN_ERR_SHM_PROTOCOL/);
  });

  it('takes a response published without a doorbell before the app went away, then closes as peer gone', async () => {
    const c = closed(router);
    const got = bodyOf(stream);
    app.frame({ type: 'RESPONSE', stream: 1, status: 200, headers: [] });
    app.frame({ type: 'DATA', stream: 1, data: Buffer.from('last words'), end: true });
    Atomics.store(app.u32, (RING_CTL[1] + C_TAIL) >> 2, app.tail); // published, but no doorbell byte
    fs.closeSync(router.fds[1]); // the app exits: EOF on the doorbell
    router._forgetChildFds();
    expect(await got).toBe('last words');
    expect(await c).toMatchObject({ code: 'WARDEN_ERR_SHM_PEER_GONE' });
  });

  it('closeAfterExit: an exit status seen before the doorbell EOF still delivers what the app published, then closes with the given error', async () => {
    const c = closed(router);
    const got = bodyOf(stream);
    app.frame({ type: 'RESPONSE', stream: 1, status: 200, headers: [] });
    app.frame({ type: 'DATA', stream: 1, data: Buffer.from('drained to the end'), end: true });
    Atomics.store(app.u32, (RING_CTL[1] + C_TAIL) >> 2, app.tail); // published; its doorbell byte not read yet
    router.closeAfterExit(new Error('app process 1 exited (exit code 0)')); // wardend learnt of the exit first
    expect(await got).toBe('drained to the end');
    expect(await c).toMatchObject({ message: 'app process 1 exited (exit code 0)' });
  });

  it('closes with a protocol error, not as peer gone, when what the app left behind is malformed', async () => {
    const c = closed(router);
    Atomics.store(app.u32, (RING_CTL[1] + C_TAIL) >> 2, RING + 8); // more than a ring ahead, no doorbell byte
    fs.closeSync(router.fds[1]);
    router._forgetChildFds();
    expect(await c).toMatchObject({ code: 'WARDEN_ERR_SHM_PROTOCOL' });
  });

  it('closes the channel when the app moves the router ring head past the tail', async () => {
    const c = closed(router);
    app.setRouterRingHead(1 << 20);
    // The router re-reads the head when the space it already knew about is used up: at the latest after a ring.
    let n = 0;
    let isClosed = false;
    router.once('close', () => (isClosed = true));
    while (!isClosed && n++ < 5000) router.request(head()).on('error', () => undefined);
    expect(await c).toMatchObject({ code: 'WARDEN_ERR_SHM_PROTOCOL' });
    expect(n).toBeLessThan(1000);
  });

  it('ignores frames for streams it does not know', async () => {
    app.frame({ type: 'RESPONSE', stream: 999, status: 200, headers: [] });
    app.frame({ type: 'DATA', stream: 999, data: Buffer.from('x') });
    app.frame({ type: 'END', stream: 999 });
    app.frame({ type: 'ABORT', stream: 999, reason: 2 });
    app.frame({ type: 'WINDOW', stream: 999, credit: 5 });
    app.frame({ type: 'RESPONSE', stream: 1, status: 204, headers: [] });
    app.frame({ type: 'END', stream: 1 });
    const ended = new Promise((r) => stream.once('end', r));
    app.publish();
    await ended;
    expect(router.activeStreams).toBe(0);
  });
});

describe('router end under fuzzing', () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100000);
  let state = seed;
  const rand = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };

  async function run(write: (a: HostileApp) => void): Promise<'closed' | 'open'> {
    const router = RouterChannel.create({ ringBytes: RING });
    const app = new HostileApp(router);
    let result = 'open' as 'closed' | 'open'; // set by the 'close' listener
    let closeErr: Error | undefined;
    router.on('close', (e?: Error) => {
      result = 'closed';
      closeErr = e;
    });
    const s = router.request(head());
    s.on('error', () => undefined);
    write(app);
    app.publish();
    await settle(router, app);
    router.close();
    if (result === 'closed' && closeErr) expect((closeErr as { code?: string }).code).toBe('WARDEN_ERR_SHM_PROTOCOL');
    return result;
  }

  it(`survives random frames (seed ${seed})`, async () => {
    let closedCount = 0;
    for (let i = 0; i < 300; i++) {
      const r = await run((a) => {
        const n = 1 + rand(4);
        for (let k = 0; k < n; k++) {
          const b = crypto.randomBytes(16 + rand(200));
          if (rand(2)) b.writeUInt32LE(16 + rand(b.length - 15), 0); // often a plausible length
          if (rand(2)) b[4] = rand(10); // often a known type
          if (rand(2)) b.writeUInt32LE(1, 8); // often the open stream
          a.put(b);
        }
      });
      if (r === 'closed') closedCount++;
    }
    expect(closedCount).toBeGreaterThan(0);
  });

  it(`survives mutated valid responses (seed ${seed})`, async () => {
    const valid = Buffer.concat([
      encodeFrame({ type: 'RESPONSE', stream: 1, status: 200, headers: ['content-type', 'text/plain', 'x', 'y'] }),
      encodeFrame({ type: 'DATA', stream: 1, data: Buffer.from('hello world') }),
      encodeFrame({ type: 'WINDOW', stream: 1, credit: 100 }),
      encodeFrame({ type: 'END', stream: 1 }),
    ]);
    const outcomes = { closed: 0, open: 0 };
    for (let i = 0; i < 300; i++) {
      const m = Buffer.from(valid);
      const flips = 1 + rand(4);
      for (let k = 0; k < flips; k++) m[rand(m.length)] = rand(256);
      outcomes[await run((a) => a.put(m))]++;
    }
    expect(outcomes.closed).toBeGreaterThan(0);
    expect(outcomes.closed + outcomes.open).toBe(300);
  });
});

describe('router end against an app that never reads its doorbell', () => {
  it('keeps at most one doorbell byte queued however often the app claims to sleep', async () => {
    const router = RouterChannel.create({ ringBytes: RING });
    const app = new HostileApp(router);
    const iSleeping = (RING_CTL[0] + 128) >> 2; // consumerSleeping of ring 0
    const iHead = (RING_CTL[0] + C_HEAD) >> 2;
    const iTail = (RING_CTL[0] + C_TAIL) >> 2;
    for (let i = 0; i < 20000; i++) {
      Atomics.store(app.u32, iSleeping, 1);
      Atomics.store(app.u32, iHead, Atomics.load(app.u32, iTail)); // "consume" everything, never read the doorbell
      router.request(head()).on('error', () => undefined);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    const sock = (router as unknown as { doorbell: { writableLength: number } }).doorbell;
    expect(sock.writableLength).toBeLessThanOrEqual(1);
    router.close();
  });
});

describe('router end against an app that floods its doorbell', () => {
  let router: RouterChannel;
  let app: HostileApp;
  beforeEach(() => {
    router = RouterChannel.create({ ringBytes: RING });
    app = new HostileApp(router);
  });
  afterEach(() => router.close());

  /** Rings `times` doorbell bytes, one write each, letting the router run between rounds; stops once it closed. */
  async function ring(times: number, publishEach: boolean): Promise<boolean> {
    let isClosed = false;
    router.once('close', () => (isClosed = true));
    for (let i = 0; i < times && !isClosed; i++) {
      if (publishEach) {
        app.frame({ type: 'WINDOW', stream: 999, credit: 1 }); // a frame for a finished stream: ignored
        app.publish();
      } else fs.writeSync(router.fds[1], Buffer.from([1]));
      await new Promise((r) => setImmediate(r)); // one read (one wake-up) per byte
    }
    return isClosed;
  }

  it(`closes the channel with a protocol error after ${DOORBELL_FLOOD_WAKEUPS} empty wake-ups within a second`, async () => {
    const stream = router.request(head());
    const streamErr = new Promise<Error>((r) => stream.once('error', r));
    const c = closed(router);
    expect(await ring(DOORBELL_FLOOD_WAKEUPS * 20, false)).toBe(true); // stops at the close: the bound, not 20 x
    const err = await c;
    expect(err).toMatchObject({ code: 'WARDEN_ERR_SHM_PROTOCOL' });
    expect(err!.message).toMatch(/doorbell flood/);
    expect((await streamErr).message).toMatch(/WARDEN_ERR_SHM_PROTOCOL/);
  });

  it('keeps a channel whose app rings once per published frame, however often', async () => {
    expect(await ring(DOORBELL_FLOOD_WAKEUPS * 3, true)).toBe(false);
  });

  it('keeps a channel whose app rings an extra, spurious byte with each frame', async () => {
    let isClosed = false;
    router.once('close', () => (isClosed = true));
    for (let i = 0; i < DOORBELL_FLOOD_WAKEUPS * 2 && !isClosed; i++) {
      app.frame({ type: 'WINDOW', stream: 999, credit: 1 });
      app.publish();
      await new Promise((r) => setImmediate(r));
      fs.writeSync(router.fds[1], Buffer.from([1])); // the late byte of a race: a wake-up that finds nothing
      await new Promise((r) => setImmediate(r));
    }
    expect(isClosed).toBe(false);
  });
});
