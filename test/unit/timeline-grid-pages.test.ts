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

  it("carves the extracted series out of the pages' own memory, disjoint, in any order of extraction", () => {
    // 200 series (4 groups, the last one partial) over 40 windows (3 pages per group).
    const g = new WindowGrid(10);
    const s = Array.from({ length: 200 }, () => g.create());
    for (let k = 0; k < 40; k++) s.forEach((x, i) => g.addAt(x, k * 10, i * 1000 + k));
    const n = 40;
    // Groups interleaved: series 150, 3, 70, 199, ... (a stride coprime with 200).
    const order = Array.from({ length: 200 }, (_, i) => (i * 67 + 150) % 200);
    const got = new Map<number, Float64Array>();
    for (const i of order) got.set(i, g.extract(s[i]!, 0, n));
    for (let i = 0; i < 200; i++) expect(Array.from(got.get(i)!)).toEqual(Array.from({ length: n }, (_, k) => i * 1000 + k));
    // Each series is a view of a page (8 KiB), and no two views overlap.
    const byBuffer = new Map<ArrayBufferLike, [number, number][]>();
    for (const v of got.values()) {
      expect(v.buffer.byteLength).toBe(64 * 16 * 8);
      const spans = byBuffer.get(v.buffer) ?? [];
      spans.push([v.byteOffset, v.byteOffset + v.byteLength]);
      byBuffer.set(v.buffer, spans);
    }
    for (const spans of byBuffer.values()) {
      spans.sort((x, y) => x[0] - y[0]);
      for (let j = 1; j < spans.length; j++) expect(spans[j]![0]).toBeGreaterThanOrEqual(spans[j - 1]![1]);
    }
    // 200 series of 40 windows fit in the 12 pages the grid made: 25 series per page, 8 pages.
    expect(byBuffer.size).toBe(8);
  });

  it('shares one array among the series of zeros extractShared hands out, and gives extract its own zeroed one', () => {
    // 130 series (3 groups): even ones written, odd ones never; group 0 extracted first, so the
    // later groups' rows are carved from its freed pages, which still hold its values.
    const g = new WindowGrid(10);
    const s = Array.from({ length: 130 }, () => g.create());
    for (let k = 0; k < 20; k++) s.forEach((x, i) => i % 2 === 0 && g.addAt(x, k * 10, i + 1));
    const n = 20;
    const shared = s.slice(0, 100).map((x) => g.extractShared(x, 0, n));
    const own = s.slice(100).map((x) => g.extract(x, 0, n));
    shared.forEach((v, i) => expect(Array.from(v)).toEqual(new Array<number>(n).fill(i % 2 === 0 ? i + 1 : 0)));
    own.forEach((v, j) => expect(Array.from(v)).toEqual(new Array<number>(n).fill((100 + j) % 2 === 0 ? 101 + j : 0)));
    const zero = shared[1]!;
    shared.forEach((v, i) => (i % 2 === 1 ? expect(v).toBe(zero) : expect(v).not.toBe(zero)));
    // extract's zero rows are arrays of their own, disjoint from every other series.
    const ownZero = own.filter((_, j) => (100 + j) % 2 === 1);
    expect(new Set(ownZero).size).toBe(15);
    for (const v of ownZero) {
      expect(v).not.toBe(zero);
      v[0] = 7;
    }
    expect(Array.from(zero)).toEqual(new Array<number>(n).fill(0));
    shared.forEach((v, i) => expect(v[0]).toBe(i % 2 === 0 ? i + 1 : 0));
    own.forEach((v, j) => expect(v[0]).toBe((100 + j) % 2 === 0 ? 101 + j : 7));
  });

  it('keeps the rows of a series made with several in one group, apart from every other row', () => {
    // A NAPI-CPU pair's four series are one grid series of four rows (napi-acc.ts), made among
    // single-row core series as CPUs and pairs are first seen: some would cross a group of 64.
    const rnd = lcg(11);
    const g = new WindowGrid(10);
    const made: { s: ReturnType<WindowGrid['create']>; rows: number }[] = [];
    for (let i = 0; i < 120; i++) {
      const rows = rnd() < 0.3 ? 1 : 4;
      made.push({ s: g.create(rows), rows });
    }
    const cells = made.flatMap(({ s, rows }) => Array.from({ length: rows }, (_, row) => ({ s, row })));
    for (const { s, rows } of made) expect((s.slot % 64) + rows).toBeLessThanOrEqual(64);
    expect(made.some(({ s }, i) => i > 0 && s.slot > made[i - 1]!.s.slot + made[i - 1]!.rows)).toBe(true);
    const n = 50;
    const want = cells.map(() => new Float64Array(n));
    for (let j = 0; j < 20000; j++) {
      const c = Math.floor(rnd() * cells.length);
      const { s, row } = cells[c]!;
      const t = Math.floor(rnd() * n * 10);
      if (rnd() < 0.5) {
        const v = 1 + Math.floor(rnd() * 5);
        g.addAt(s, t, v, row);
        want[c]![Math.floor(t / 10)]! += v;
      } else {
        const b = Math.min(n * 10, t + 1 + Math.floor(rnd() * 40));
        g.addSpan(s, t, b, row);
        for (let k = Math.floor(t / 10); k * 10 < b; k++) want[c]![k]! += Math.min(b, (k + 1) * 10) - Math.max(t, k * 10);
      }
    }
    cells.forEach(({ s, row }, c) => expect(Array.from(g.extractShared(s, 0, n, row))).toEqual(Array.from(want[c]!)));
  });

  it('counts in its budget the rows made, not the rows a series of several skipped', () => {
    // 62 single rows, then four rows that do not fit in group 0's last two: made at row 64.
    // The budget holds 66 rows of 1,024 windows (the most a slot range starts with), not 68.
    const g = new WindowGrid(10, 66 * 1024 * 8);
    for (let i = 0; i < 62; i++) g.create();
    const quad = g.create(4);
    expect(quad.slot).toBe(64);
    g.addAt(quad, 5, 1, 3);
    expect(g.cap).toBe(1024);
    expect(g.coarsenings).toBe(0);
    expect(Array.from(g.extractShared(quad, 0, 2, 3))).toEqual([1, 0]);
  });

  it('gives a series longer than a page an array of its own', () => {
    const g = new WindowGrid(1);
    const a = g.create();
    const b = g.create();
    const n = 64 * 16 + 5;
    for (let k = 0; k < n; k++) {
      g.addAt(a, k, 1);
      g.addAt(b, k, 2);
    }
    const va = g.extract(a, 0, n);
    const vb = g.extract(b, 0, n);
    expect(va.reduce((x, y) => x + y, 0)).toBe(n);
    expect(vb.reduce((x, y) => x + y, 0)).toBe(2 * n);
    expect(va.buffer).not.toBe(vb.buffer);
    expect(va.length).toBe(n);
  });

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
