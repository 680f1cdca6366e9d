import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { columnList, itemsOf } from '../../src/detect/column-list.js';

/** column-list.ts: an array made from columns must read as the array of the same items would. */
describe('columnList', () => {
  const ns = Float64Array.from([5, 1.5, 7]);
  const who = Int32Array.from([2, 0, 1]);
  const names = ['wg0', 'wg1', 'wg2'];
  const plain = [0, 1, 2].map((i) => ({ dev: names[who[i]!]!, ns: ns[i]! }));
  const list = () => columnList(ns.length, (i) => ({ dev: names[who[i]!]!, ns: ns[i]! }));

  it('reads as the array of its items: indexing, length, iteration, array methods, JSON, zod', () => {
    const l = list();
    expect(Array.isArray(l)).toBe(true);
    expect(l.length).toBe(3);
    expect(l[1]).toEqual({ dev: 'wg0', ns: 1.5 });
    expect(l[3]).toBeUndefined();
    expect([...l]).toEqual(plain);
    expect(l.map((x) => x.dev)).toEqual(['wg2', 'wg0', 'wg1']);
    expect(l.slice(1)).toEqual(plain.slice(1));
    expect(l.filter((x) => x.ns > 2).length).toBe(2);
    expect(l.reduce((s, x) => s + x.ns, 0)).toBe(13.5);
    expect(Object.keys(l)).toEqual(['0', '1', '2']);
    expect(JSON.stringify(l)).toBe(JSON.stringify(plain));
    expect(JSON.stringify({ l }, null, 2)).toBe(JSON.stringify({ l: plain }, null, 2));
    expect(z.array(z.object({ dev: z.string(), ns: z.number() })).parse(l)).toEqual(plain);
    expect(l).toEqual(plain);
    expect(columnList(0, () => 1)).toEqual([]);
  });

  it("gives its items in a range directly (itemsOf), as slice gives them, and a plain array's slice", () => {
    const l = list();
    expect(itemsOf(l, 0, 3)).toEqual(plain);
    expect(itemsOf(l, 1, 2)).toEqual(l.slice(1, 2));
    expect(itemsOf(l, 2, 2)).toEqual([]);
    expect(Array.isArray(itemsOf(l, 0, 1))).toBe(true);
    expect(itemsOf(plain, 1, 3)).toEqual(plain.slice(1, 3));
  });

  it('is read-only', () => {
    const l = list();
    expect(() => l.push({ dev: 'x', ns: 0 })).toThrow(TypeError);
    expect(() => {
      l[0] = { dev: 'x', ns: 0 };
    }).toThrow(TypeError);
    expect(l.length).toBe(3);
  });
});
