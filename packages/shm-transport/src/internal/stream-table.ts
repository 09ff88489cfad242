// The open streams of an endpoint, by stream id: an open-addressing hash table (linear probing, backward-shift
// deletion) instead of a Map. Slots are chosen by Fibonacci hashing of the id, not by `id & mask`: ids are handed out
// sequentially, and with `id & mask` the streams in flight formed one contiguous probe run, which every deletion
// (backward shift) scanned to its end — O(streams in flight) per response. Hashed, runs stay a few slots long. Measured reason: V8's Map, fed a key that grows forever and deleted
// again within microseconds, kept the deleted values reachable from its old-generation backing store until the next
// rehash, so every stream object and what it pointed to survived scavenges and was promoted — 3.6 MB per scavenge
// and 15 % of the router's CPU in the garbage collector at 200k round trips/s. With this table: nothing promoted.

/** What the table stores: anything with its own id. */
export interface HasId {
  readonly id: number;
}

const MIN_CAPACITY = 256;
const SHRINK_ABOVE = 4096;

/** Id → stream table; ids are u32, values carry their id. */
export class StreamTable<T extends HasId> {
  private slots: (T | null)[];
  private mask: number;
  private shift: number;
  private count = 0;

  constructor() {
    this.slots = new Array<T | null>(MIN_CAPACITY).fill(null);
    this.mask = MIN_CAPACITY - 1;
    this.shift = 32 - Math.log2(MIN_CAPACITY);
  }

  /** Home slot of an id: the top bits of id * 2^32/phi (Knuth's multiplicative hashing). */
  private home(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> this.shift;
  }

  /** Number of streams in the table. */
  get size(): number {
    return this.count;
  }

  /** The stream with this id, or undefined. `id` may be anything a peer wrote (only compared, never trusted). */
  get(id: number): T | undefined {
    const slots = this.slots;
    const mask = this.mask;
    for (let i = this.home(id); ; i = (i + 1) & mask) {
      const v = slots[i];
      if (v === null) return undefined;
      if (v.id === id) return v;
    }
  }

  /** Whether a stream with this id is in the table. */
  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds `v` under `v.id`, replacing a stream with the same id. */
  set(v: T): void {
    if ((this.count + 1) * 2 > this.slots.length) this.resize(this.slots.length * 2);
    const slots = this.slots;
    const mask = this.mask;
    const id = v.id;
    for (let i = this.home(id); ; i = (i + 1) & mask) {
      const cur = slots[i];
      if (cur === null) {
        slots[i] = v;
        this.count++;
        return;
      }
      if (cur.id === id) {
        slots[i] = v;
        return;
      }
    }
  }

  /** Removes the stream with this id; true if there was one. */
  delete(id: number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    let i = this.home(id);
    for (;;) {
      const v = slots[i];
      if (v === null) return false;
      if (v.id === id) break;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: move later members of the probe run into the hole so lookups never stop early.
    let hole = i;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const v = slots[j];
      if (v === null) break;
      const home = this.home(v.id);
      // v may move to the hole if its home is not inside (hole, j] (cyclically).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = v;
        hole = j;
      }
    }
    slots[hole] = null;
    this.count--;
    // Shrink only a table that grew large and is nearly empty (never back and forth around a burst).
    if (this.slots.length > SHRINK_ABOVE && this.count * 16 < this.slots.length) this.resize(this.slots.length >>> 1);
    return true;
  }

  /** The streams, in no particular order (a snapshot: safe to modify the table while iterating it). */
  values(): T[] {
    const out: T[] = [];
    for (const v of this.slots) if (v !== null) out.push(v);
    return out;
  }

  /** Removes every stream. */
  clear(): void {
    this.slots = new Array<T | null>(MIN_CAPACITY).fill(null);
    this.mask = MIN_CAPACITY - 1;
    this.shift = 32 - Math.log2(MIN_CAPACITY);
    this.count = 0;
  }

  private resize(capacity: number): void {
    const old = this.slots;
    this.slots = new Array<T | null>(capacity).fill(null);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    this.count = 0;
    for (const v of old) if (v !== null) this.set(v);
  }
}
