import { RingReader, RingWriter } from '../src/internal/ring';
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
