import { StreamTable } from '../src/internal/stream-table';

interface S {
  id: number;
}

/** Random operations checked against a Map (the reference). */
function fuzz(seed: number, ops: number, keyOf: (r: () => number) => number): void {
  let x = seed;
  const rnd = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
  const t = new StreamTable<S>();
  const ref = new Map<number, S>();
  for (let i = 0; i < ops; i++) {
    const id = keyOf(rnd);
    const op = rnd();
    if (op < 0.45) {
      const v = { id };
      t.set(v);
      ref.set(id, v);
    } else if (op < 0.8) {
      expect(t.delete(id)).toBe(ref.delete(id));
    } else {
      expect(t.get(id)).toBe(ref.get(id));
      expect(t.has(id)).toBe(ref.has(id));
    }
    expect(t.size).toBe(ref.size);
  }
  for (const [id, v] of ref) expect(t.get(id)).toBe(v);
  expect(new Set(t.values())).toEqual(new Set(ref.values()));
}

describe('StreamTable', () => {
  it('behaves like a Map under random set/get/delete with colliding keys', () => {
    // Keys that share their low bits collide in the table: probe runs, backward-shift deletion, growth, shrinking.
    fuzz(1, 6000, (r) => 1 + Math.floor(r() * 40) * 64);
    fuzz(2, 6000, (r) => 1 + Math.floor(r() * 500));
    fuzz(3, 6000, (r) => Math.floor(r() * 2 ** 32));
  });

  it('serves sequential ids the way the router allocates them (the hot path), across the u32 wrap', () => {
    const t = new StreamTable<S>();
    const live: S[] = [];
    let id = 0xffffff00;
    for (let i = 0; i < 5000; i++) {
      const v = { id };
      t.set(v);
      live.push(v);
      id = id >= 0xffffffff ? 1 : id + 1;
      if (live.length > 64) {
        const old = live.shift()!;
        expect(t.get(old.id)).toBe(old);
        expect(t.delete(old.id)).toBe(true);
        expect(t.get(old.id)).toBeUndefined();
      }
    }
    expect(t.size).toBe(64);
    for (const v of live) expect(t.get(v.id)).toBe(v);
  });

  it('grows for a burst of streams and shrinks again once they are gone', () => {
    const t = new StreamTable<S>();
    const all: S[] = [];
    for (let i = 1; i <= 20000; i++) {
      const v = { id: i * 7 };
      all.push(v);
      t.set(v);
    }
    for (const v of all) expect(t.get(v.id)).toBe(v);
    for (const v of all.slice(0, 19990)) expect(t.delete(v.id)).toBe(true);
    expect(t.size).toBe(10);
    for (const v of all.slice(19990)) expect(t.get(v.id)).toBe(v);
    expect((t as unknown as { slots: unknown[] }).slots.length).toBeLessThanOrEqual(4096);
  });

  it('replaces a value stored under the same id, and clear() empties it', () => {
    const t = new StreamTable<S>();
    const a = { id: 7 };
    const b = { id: 7 };
    t.set(a);
    t.set(b);
    expect(t.size).toBe(1);
    expect(t.get(7)).toBe(b);
    t.clear();
    expect(t.size).toBe(0);
    expect(t.get(7)).toBeUndefined();
    expect(t.delete(7)).toBe(false);
  });

  it('looks up ids a peer made up without trouble (absent ids, 0, 2^32-1)', () => {
    const t = new StreamTable<S>();
    for (let i = 1; i <= 100; i++) t.set({ id: i });
    for (const id of [0, 0xffffffff, 101, 64 * 1000 + 1]) expect(t.get(id)).toBeUndefined();
  });
});
