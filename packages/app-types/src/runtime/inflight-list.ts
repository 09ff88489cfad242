/**
 * The requests a server has in flight: a slot array with a free list, not a `Set`. A `Set` that gains and loses an
 * entry per request rehashes into a new table every few hundred requests, and V8 links each obsolete table to its
 * successor; once an obsolete table is in the old generation, every request added since stays reachable for the
 * scavenger until the next full GC. Measured in a Node app under load: 35-41 % of the young generation survived each
 * scavenge and scavenges took 5-15 ms (a few per cent and 0.3 ms with this list; bench/README.md "Node tail latency").
 */
export class InflightList<T> {
  private readonly slots: (T | null)[] = [];
  private readonly free: number[] = [];
  private count = 0;

  /** Adds `item`; returns its slot for {@link remove}. */
  add(item: T): number {
    const slot = this.free.length > 0 ? this.free.pop()! : this.slots.length;
    this.slots[slot] = item;
    this.count++;
    return slot;
  }

  /** Removes the item in `slot` (from {@link add}). */
  remove(slot: number): void {
    if (this.slots[slot] === null || this.slots[slot] === undefined) return;
    this.slots[slot] = null;
    this.free.push(slot);
    this.count--;
  }

  get size(): number {
    return this.count;
  }

  /** The items in flight now (a copy: callers may remove while they iterate). */
  values(): T[] {
    const out: T[] = [];
    for (const x of this.slots) if (x !== null) out.push(x);
    return out;
  }
}
