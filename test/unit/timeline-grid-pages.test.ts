import { describe, expect, it } from 'vitest';
import { WindowGrid } from '../../src/timeline/grid.js';

/**
 * The grid keeps series in fixed pages (issue 16: growth by copying every series' block left
 * tens of MB of freed blocks in the C heap). Whatever the pages, a series' windows must be the
 * sums of what was added in them: checked against a plain per-window sum at the grid's final
 * window, over negative times, page boundaries, moves of the slot range and coarsenings.
 */

/** A small deterministic generator (the test must replay the same adds). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

type Op = { s: number; kind: 'at'; t: number; v: number } | { s: number; kind: 'span'; a: number; b: number };

function run(budget: number, nSeries: number, ops: Op[], lateSeries: number) {
  const g = new WindowGrid(10, budget);
  const series = Array.from({ length: nSeries }, () => g.create());
  ops.forEach((op, i) => {
    // Series added while data streams in, as a gateway's NAPI-CPU pairs are first seen.
    if (i % Math.max(1, Math.floor(ops.length / lateSeries)) === 0) series.push(g.create());
    const s = series[op.s % series.length]!;
    if (op.kind === 'at') g.addAt(s, op.t, op.v);
    else g.addSpan(s, op.a, op.b);
  });
  return { g, series };
}

function reference(ops: Op[], nSeries: number, lateSeries: number, W: number, k0: number, n: number): Float64Array[] {
  const out: Float64Array[] = [];
  const count = { n: nSeries };
  const ref = (i: number): Float64Array => (out[i] ??= new Float64Array(n));
  for (let i = 0; i < nSeries; i++) ref(i);
  ops.forEach((op, i) => {
    if (i % Math.max(1, Math.floor(ops.length / lateSeries)) === 0) ref(count.n++);
    const a = ref(op.s % count.n);
    if (op.kind === 'at') {
      const k = Math.floor(op.t / W) - k0;
      a[Math.min(k, n - 1)]! += op.v;
    } else {
      for (let k = Math.floor(op.a / W); k * W < op.b; k++) {
        const ov = Math.min(op.b, (k + 1) * W) - Math.max(op.a, k * W);
        a[Math.min(k - k0, n - 1)]! += ov;
      }
    }
  });
  return out;
}

describe('WindowGrid pages', () => {
  for (const [name, budget] of [
    ['no widening', 64 * 1024 * 1024],
    ['widened several times', 96 * 1024],
  ] as const) {
    it(`holds the per-window sums of every series (${name})`, () => {
      const rnd = lcg(7);
      const ops: Op[] = [];
      // Times from -2,000 to 60,000 ns, mostly forward, windows of 10 ns at first: the slot
      // range moves, grows, and pages are made on both sides of the origin.
      for (let i = 0; i < 20000; i++) {
        const t = Math.floor(-2000 + (62000 * i) / 20000 + rnd() * 3000 - 1500);
        const s = Math.floor(rnd() * 1000);
        if (rnd() < 0.5) ops.push({ s, kind: 'at', t, v: 1 + Math.floor(rnd() * 5) });
        else ops.push({ s, kind: 'span', a: t, b: t + 1 + Math.floor(rnd() * 400) });
      }
      const nSeries = 150;
      const late = 200;
      const { g, series } = run(budget, nSeries, ops, late);
      if (budget < 1024 * 1024) expect(g.coarsenings).toBeGreaterThan(1);
      else expect(g.coarsenings).toBe(0);
      const W = g.windowNs;
      const minT = Math.min(...ops.map((o) => (o.kind === 'at' ? o.t : o.a)));
      const maxT = Math.max(...ops.map((o) => (o.kind === 'at' ? o.t : o.b)));
      const k0 = Math.floor(minT / W);
      const n = Math.floor(maxT / W) - k0; // the last instant's window folds into the one before
      const want = reference(ops, nSeries, late, W, k0, n);
      expect(series.length).toBe(want.length);
      series.forEach((s, i) => expect(Array.from(g.extract(s, k0, n))).toEqual(Array.from(want[i]!)));
    });
  }

  it('grows in time without reallocating what it holds', () => {
    const g = new WindowGrid(10);
    const s = Array.from({ length: 100 }, () => g.create());
    for (let k = 0; k < 16; k++) for (const x of s) g.addAt(x, k * 10, 1);
    const before = g.allocatedBytes();
    expect(before).toBeGreaterThan(0);
    // 16 windows per page and 64 series per page: the next 16 windows add one page per group.
    for (let k = 16; k < 32; k++) for (const x of s) g.addAt(x, k * 10, 1);
    expect(g.allocatedBytes()).toBe(2 * before);
    const n = 32;
    for (const x of s) expect(g.extract(x, 0, n).reduce((a, b) => a + b, 0)).toBe(n);
  });

  it('refuses a second extraction over other windows', () => {
    const g = new WindowGrid(10);
    const a = g.create();
    const b = g.create();
    g.addAt(a, 5, 1);
    g.extract(a, 0, 4);
    expect(() => g.extract(b, 0, 5)).toThrow(/extracted over windows/);
  });
});
