import { RingReader, RingWriter, rewindPosition } from '../src/internal/ring';
import { FRAME_HEADER, FrameType, HEADER_BYTES, RING_CTL } from '../src/internal/layout';

/** One ring (64 KiB) of a mapping, with both of its ends. */
function ring(size = 1 << 16) {
  const mem = new ArrayBuffer(HEADER_BYTES + size);
  const u32 = new Uint32Array(mem);
  const buf = Buffer.from(mem);
  const writer = new RingWriter(u32, buf, RING_CTL[0], HEADER_BYTES, size);
  const reader = new RingReader(u32, buf, RING_CTL[0], HEADER_BYTES, size, size >>> 2);
  /** Writes one DATA frame of `len` bytes (header included); false when the ring is full. */
  const write = (len: number): boolean => {
    const off = writer.reserve(len);
    if (off < 0) return false;
    buf.writeUInt32LE(len, off);
    buf[off + 4] = FrameType.DATA;
    writer.commit(len);
    return true;
  };
  /** Reads and releases one frame; its length. */
  const read = (): number => {
    const off = reader.next();
    const len = buf.readUInt32LE(off);
    reader.release(len);
    return len;
  };
  return { writer, reader, write, read, size };
}

describe('ring: waking a producer that waits for space', () => {
  it('wakes it once a quarter of the ring is free, not at the first frame released', () => {
    const r = ring();
    const frame = 4096;
    while (r.write(frame)); // full: 16 frames of 4 KiB
    expect(r.writer.waitForSpace(frame)).toBe(false); // declared waiting
    const released: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      r.read();
      released.push(r.reader.publish());
    }
    // 4 KiB, 8 KiB, 12 KiB free: not yet; 16 KiB = a quarter of 64 KiB: wake.
    expect(released).toEqual([false, false, false, true]);
    expect(r.reader.publish()).toBe(false); // woken once: the flag is cleared
  });

  it('never wakes a producer that does not wait; wakes one waiting with larger frames after two of them', () => {
    const r = ring();
    expect(r.write(FRAME_HEADER + 8)).toBe(true);
    r.read();
    expect(r.reader.publish()).toBe(false); // nobody waits
    while (r.write(8192));
    expect(r.writer.waitForSpace(8192)).toBe(false);
    let woke = false;
    for (let i = 0; i < 8 && !woke; i++) {
      r.read();
      woke = r.reader.publish();
    }
    expect(woke).toBe(true);
  });
});

describe('ring: going back to position 0 when the consumer has read everything', () => {
  const pos = (r: ReturnType<typeof ring>): number => r.writer.position & (r.size - 1);

  it('small frames read as they come stay within the first eighth of the ring (so only its pages are touched)', () => {
    const r = ring();
    const limit = rewindPosition(r.size);
    expect(limit).toBe(r.size / 8);
    let furthest = 0;
    for (let i = 0; i < 5000; i++) {
      expect(r.write(FRAME_HEADER + 100)).toBe(true);
      furthest = Math.max(furthest, pos(r));
      expect(r.read()).toBe(FRAME_HEADER + 100); // the PAD before a rewound frame is skipped by next()
      r.reader.publish();
    }
    expect(furthest).toBeLessThanOrEqual(limit + 120);
  });

  it('does not go back while frames wait to be read: they are kept in order', () => {
    const r = ring();
    const limit = rewindPosition(r.size);
    while (pos(r) < limit) {
      r.write(1024);
      r.read();
      r.reader.publish();
    }
    const at = pos(r);
    expect(r.write(1000)).toBe(true); // ring empty past the limit: this one goes to 0
    expect(pos(r)).toBe(1000);
    expect(r.write(2000)).toBe(true); // not empty now: it follows
    expect(r.writer.used()).toBe(r.size - at + 1000 + 2000); // the PAD holds the rest of the ring until it is read
    expect([r.read(), r.read()]).toEqual([1000, 2000]);
    r.reader.publish();
    expect(r.writer.used()).toBe(0);
  });

  it('does not go back for a frame larger than the space before its position', () => {
    const r = ring();
    const limit = rewindPosition(r.size); // 8 KiB; frames may be up to a quarter of the ring (16 KiB)
    while (pos(r) < limit) {
      r.write(1024);
      r.read();
      r.reader.publish();
    }
    const at = pos(r);
    expect(r.write(12 * 1024)).toBe(true);
    expect(pos(r)).toBe(at + 12 * 1024);
    expect(r.read()).toBe(12 * 1024);
  });
});
