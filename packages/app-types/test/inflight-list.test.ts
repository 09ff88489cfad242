import { InflightList } from '../src/runtime/inflight-list';

describe('InflightList (the requests a server has in flight)', () => {
  it('counts, lists and removes by slot, reusing freed slots', () => {
    const l = new InflightList<string>();
    const a = l.add('a');
    const b = l.add('b');
    expect(l.size).toBe(2);
    expect(l.values()).toEqual(['a', 'b']);
    l.remove(a);
    expect(l.size).toBe(1);
    expect(l.values()).toEqual(['b']);
    expect(l.add('c')).toBe(a); // the freed slot
    expect(l.values().sort()).toEqual(['b', 'c']);
    l.remove(b);
    l.remove(b); // twice: no effect
    expect(l.size).toBe(1);
  });

  it('lets a caller remove while it goes over a copy of the values', () => {
    const l = new InflightList<number>();
    const slots = [1, 2, 3].map((n) => l.add(n));
    for (const v of l.values()) l.remove(slots[v - 1]!);
    expect(l.size).toBe(0);
    expect(l.values()).toEqual([]);
  });
});
