// The two halves of a single-producer/single-consumer ring in the shared mapping.
//
// Counters are free-running u32 byte counts (wrap at 2^32); position = counter & (size - 1). Producer owns `tail`,
// consumer owns `head`; each side keeps its own counter locally and only *reads* the other side's from memory.
// Every value read from shared memory is validated, because the peer may be hostile or buggy (see PROTOCOL.md).
//
// Memory ordering: counters and flags are accessed with Atomics.* (sequentially consistent in V8 on any typed array,
// shared or not); frame bytes with plain Buffer accesses. Producer: write frame bytes, then Atomics.store(tail)
// (release). Consumer: Atomics.load(tail) (acquire), then read frame bytes, then Atomics.store(head). The sleep
// handshake is Dekker-style: consumer stores sleeping=1 then loads tail; producer stores tail then CAS(sleeping 1→0).
// With seq-cst on both sides at least one of them sees the other's store, so a wakeup is never lost.
import { align8, C_CONSUMER_SLEEPING, C_HEAD, C_PRODUCER_WAITING, C_TAIL, FRAME_HEADER, FrameType } from './layout';
import { protocolError } from './codec';

/** What both halves of a ring know: where its bytes are and the indexes of its control words in `u32`. */
abstract class RingEnd {
  protected readonly mask: number;
  protected readonly iTail: number;
  protected readonly iHead: number;
  protected readonly iSleeping: number;
  protected readonly iWaiting: number;

  constructor(
    protected readonly u32: Uint32Array,
    protected readonly buf: Buffer,
    ctl: number,
    protected readonly base: number,
    protected readonly size: number,
  ) {
    this.mask = size - 1;
    this.iTail = (ctl + C_TAIL) >> 2;
    this.iHead = (ctl + C_HEAD) >> 2;
    this.iSleeping = (ctl + C_CONSUMER_SLEEPING) >> 2;
    this.iWaiting = (ctl + C_PRODUCER_WAITING) >> 2;
  }
}

/**
 * Where a producer that finds its ring empty goes back to position 0 (with a PAD to the end, PROTOCOL.md §3): an
 * eighth of the ring. A channel whose traffic is small then keeps writing over its first pages instead of walking
 * through the whole ring, so only those stay resident; the rest of the ring is touched only by bursts that need it.
 */
export function rewindPosition(ringBytes: number): number {
  return ringBytes >>> 3;
}

/** Producer half: reserve space, write a frame in place, commit. */
export class RingWriter extends RingEnd {
  private tail = 0; // our counter (authoritative)
  private lastHead = 0; // last head we accepted from the consumer
  private knownFree = 0; // free bytes as of the last head we read (a lower bound: head only moves forward)
  private readonly rewindAt: number;

  constructor(u32: Uint32Array, buf: Buffer, ctl: number, base: number, size: number) {
    super(u32, buf, ctl, base, size);
    this.tail = Atomics.load(u32, this.iTail);
    this.lastHead = Atomics.load(u32, this.iHead);
    this.rewindAt = rewindPosition(size);
  }

  /** Free bytes; throws a protocol error if the consumer's head is not within [lastHead, tail]. */
  free(): number {
    const head = Atomics.load(this.u32, this.iHead);
    const moved = (head - this.lastHead) >>> 0;
    if (moved > (this.tail - this.lastHead) >>> 0) {
      throw protocolError(`ring head moved to ${head}, outside [${this.lastHead}, ${this.tail}]`);
    }
    this.lastHead = head;
    return this.size - ((this.tail - head) >>> 0);
  }

  /**
   * Reserves room for a frame of `len` bytes (unpadded) and returns its absolute offset in the mapping, or -1 when
   * the ring is full. Inserts a PAD frame first when the frame would not fit before the end of the ring.
   */
  reserve(len: number): number {
    const need = align8(len);
    const pos = this.tail & this.mask;
    const toEnd = this.size - pos;
    if (pos >= this.rewindAt && need <= toEnd && need <= pos && this.free() === this.size) {
      // The consumer has read everything: start again at position 0 (see rewindPosition).
      this.knownFree = this.size - toEnd - need;
      return this.pad(pos, toEnd);
    }
    const total = need <= toEnd ? need : toEnd + need;
    if (this.knownFree < total) {
      // Only read the consumer's head when what we knew is not enough (saves an atomic load per frame).
      this.knownFree = this.free();
      if (this.knownFree < total) return -1;
    }
    this.knownFree -= total;
    if (need <= toEnd) return this.base + pos;
    return this.pad(pos, toEnd);
  }

  /**
   * Writes a PAD from `pos` to the end of the ring (published together with the frame after it); returns where that
   * frame goes.
   */
  private pad(pos: number, toEnd: number): number {
    const b = this.buf;
    const p = this.base + pos;
    b.writeUInt32LE(toEnd, p);
    b[p + 4] = FrameType.PAD;
    this.tail = (this.tail + toEnd) >>> 0;
    return this.base;
  }

  /** Publishes a frame written at the offset returned by reserve(). Returns true if the consumer must be woken. */
  commit(len: number): boolean {
    this.advance(len);
    return this.publish();
  }

  /** Counts a frame written at the offset returned by reserve() without publishing it yet (see publish()). */
  advance(len: number): void {
    this.tail = (this.tail + align8(len)) >>> 0;
  }

  /** Publishes every frame counted so far. Returns true if the consumer must be woken. */
  publish(): boolean {
    Atomics.store(this.u32, this.iTail, this.tail);
    return Atomics.compareExchange(this.u32, this.iSleeping, 1, 0) === 1;
  }

  /**
   * Declares that we wait for space (the consumer rings the doorbell after freeing some). Returns true if space
   * appeared meanwhile (flag cleared again: go on writing).
   */
  waitForSpace(need: number): boolean {
    Atomics.store(this.u32, this.iWaiting, 1);
    if (this.free() >= 2 * align8(need) || this.free() === this.size) {
      Atomics.store(this.u32, this.iWaiting, 0);
      return true;
    }
    return false;
  }

  /** Our counter: where the next frame goes (free-running u32; frames queued for ring space come after it). */
  get position(): number {
    return this.tail;
  }

  /** The consumer's counter as it is in shared memory now (not validated: for progress checks only). */
  consumerPosition(): number {
    return Atomics.load(this.u32, this.iHead);
  }

  /** Bytes written but not yet consumed. */
  used(): number {
    return this.size - this.free();
  }
}

/** Consumer half: find the next frame, validate it, release it. */
export class RingReader extends RingEnd {
  private head = 0; // our counter (authoritative)
  private lastTail = 0; // last tail accepted from the producer
  private avail = 0; // bytes published beyond head as of the last tail we read

  constructor(
    u32: Uint32Array,
    buf: Buffer,
    ctl: number,
    base: number,
    size: number,
    private readonly maxFrame: number,
  ) {
    super(u32, buf, ctl, base, size);
    this.head = Atomics.load(u32, this.iHead);
    this.lastTail = Atomics.load(u32, this.iTail);
  }

  /** Bytes available; throws if the producer's tail moved backwards or claims more than the ring holds. */
  available(): number {
    const tail = Atomics.load(this.u32, this.iTail);
    const used = (tail - this.head) >>> 0;
    if (used > this.size) {
      throw protocolError(`ring tail ${tail} is outside [head ${this.head}, head + ring size]: moved backwards or more than a ring ahead`);
    }
    if ((tail - this.lastTail) >>> 0 > used) {
      throw protocolError(`ring tail moved backwards from ${this.lastTail} to ${tail}`);
    }
    this.lastTail = tail;
    this.avail = used;
    return used;
  }

  /**
   * Returns the absolute offset of the next frame (PAD frames skipped) or -1 if the ring is empty. The frame's
   * length (unpadded, >= 16, <= maxFrame) lies entirely inside the ring and inside what the producer published.
   */
  next(): number {
    // Re-read the producer's tail only when the bytes we already know about are used up.
    let used = this.avail > 0 ? this.avail : this.available();
    for (;;) {
      if (used === 0) return -1;
      const pos = this.head & this.mask;
      const toEnd = this.size - pos;
      if (used < 8) throw protocolError(`ring holds ${used} bytes, less than a frame`);
      const p = this.base + pos;
      const len = this.buf.readUInt32LE(p);
      const type = this.buf[p + 4];
      if (type === FrameType.PAD) {
        if (len !== toEnd || len > used) throw protocolError(`bad PAD frame of ${len} bytes (${toEnd} to the end)`);
        this.head = (this.head + len) >>> 0;
        used -= len;
        this.avail = used;
        continue;
      }
      if (len < FRAME_HEADER || len > this.maxFrame) throw protocolError(`frame length ${len} out of range`);
      const need = align8(len);
      if (need > toEnd) throw protocolError(`frame of ${len} bytes crosses the end of the ring`);
      if (need > used) throw protocolError(`frame of ${len} bytes is longer than the ${used} bytes published`);
      return p;
    }
  }

  /** Releases the frame returned by next() (its bytes may be overwritten afterwards). */
  release(len: number): void {
    const n = align8(len);
    this.head = (this.head + n) >>> 0;
    this.avail -= n;
  }

  /**
   * Publishes the head after a batch. Returns true if the producer waits for space and must be woken: only once a
   * quarter of the ring is free (at least one frame of the largest size), not at every frame released. A producer
   * writing faster than we read (large responses) then wakes once per quarter ring instead of once per frame, each
   * wake-up a doorbell write and a context switch on both sides (measured: 64 KiB responses through a full 1 MiB
   * ring cost the Go app 60 µs each; see PROTOCOL.md §4). The flag stays set until then; an empty ring always wakes.
   */
  publish(): boolean {
    Atomics.store(this.u32, this.iHead, this.head);
    if (Atomics.load(this.u32, this.iWaiting) !== 1) return false;
    const used = (Atomics.load(this.u32, this.iTail) - this.head) >>> 0; // the tail is validated by next(), not here
    if (used <= this.size && this.size - used < this.size >>> 2) return false;
    return Atomics.compareExchange(this.u32, this.iWaiting, 1, 0) === 1;
  }

  /** Announces that we are about to sleep; returns true if data arrived meanwhile (flag cleared: keep going). */
  sleep(): boolean {
    Atomics.store(this.u32, this.iSleeping, 1);
    if (this.available() > 0) {
      Atomics.store(this.u32, this.iSleeping, 0);
      return true;
    }
    return false;
  }

  /** Clears the sleeping flag (woken up). */
  wake(): void {
    Atomics.store(this.u32, this.iSleeping, 0);
  }
}
