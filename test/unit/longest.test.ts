import { describe, expect, it } from 'vitest';
import { Longest } from '../../src/detect/longest.js';

/** What Longest must give: every entry, stably sorted by ns (longest first), the first `limit`, back in arrival order. */
function reference(items: { a: number; b: number; ns: number }[], limit: number) {
  const order = items.map((x, i) => ({ ...x, i })).sort((x, y) => y.ns - x.ns);
  const kept = order.slice(0, limit).sort((x, y) => x.i - y.i);
  const left = order.slice(limit);
  return { kept: kept.map(({ a, b, ns }) => ({ a, b, ns })), leftCount: left.length, leftNs: left.reduce((s, x) => s + x.ns, 0) };
}

describe('Longest', () => {
  it('keeps a list of at most `limit` entries whole and in order, with nothing left out', () => {
    const l = new Longest(4);
    const items = [
      { a: 1, b: 2, ns: 5 },
      { a: 2, b: 1, ns: 9 },
      { a: 3, b: 1, ns: 5 },
    ];
    for (const x of items) l.add(x.a, x.b, x.ns);
    expect(l.entries()).toEqual(items);
    expect([l.count, l.leftOutCount, l.leftOutNs]).toEqual([3, 0, 0]);
  });

  it('keeps the longest, the first come among equal ns, and counts the rest exactly', () => {
    const l = new Longest(2);
    for (const [a, ns] of [
      [0, 3],
      [1, 7],
      [2, 7],
      [3, 1],
      [4, 7],
    ] as const)
      l.add(a, 0, ns);
    expect(l.entries().map((e) => e.a)).toEqual([1, 2]);
    expect([l.count, l.leftOutCount, l.leftOutNs]).toEqual([5, 3, 11]);
  });

  it('agrees with a full stable sort on random streams with many ties', () => {
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const [n, limit, spread] of [
      [0, 5, 10],
      [1000, 100, 50],
      [1000, 100, 1e6],
      [257, 1, 3],
      [50, 0, 10],
    ] as const) {
      const items = Array.from({ length: n }, (_, i) => ({ a: i, b: Math.floor(rnd() * 7), ns: 1 + Math.floor(rnd() * spread) }));
      const l = new Longest(limit);
      for (const x of items) l.add(x.a, x.b, x.ns);
      const ref = reference(items, limit);
      expect(l.entries()).toEqual(ref.kept);
      expect([l.count, l.leftOutCount, l.leftOutNs]).toEqual([n, ref.leftCount, ref.leftNs]);
    }
  });
});
