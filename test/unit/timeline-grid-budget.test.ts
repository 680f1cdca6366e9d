import { describe, expect, it } from 'vitest';
import { WindowGrid } from '../../src/timeline/grid.js';

/**
 * The grid's byte budget holds when series are added, not only when its range grows (issue 16:
 * a stock gateway's polls visit many cores, 4 series per NAPI-CPU pair, and pairs first seen
 * late added 8 KB each past the budget: 963 MB on a 256 x 128 synth capture). Past it the range
 * shrinks to what is in use, widening the window; sums stay exact.
 */
describe('WindowGrid budget with many series', () => {
  it('keeps series x slots x 8 bytes within the budget and every sum exact', () => {
    const budget = 1 << 20; // 1 MiB
    const g = new WindowGrid(10, budget);
    const series = [g.create()];
    // 500 windows of data in the first series: one value per window.
    for (let k = 0; k < 500; k++) g.addAt(series[0]!, k * 10 + 5, k + 1);
    // 2,000 more series, each with one value somewhere in the range.
    for (let i = 1; i <= 2000; i++) {
      const s = g.create();
      series.push(s);
      g.addAt(s, ((i * 37) % 500) * 10 + 1, 1);
      expect(series.length * g.cap * 8).toBeLessThanOrEqual(budget);
    }
    expect(g.coarsenings).toBeGreaterThan(0);
    expect(g.windowNs).toBe(10 * 2 ** g.coarsenings);
    // Every value is still there, in the window that holds its time.
    const n = Math.ceil(5000 / g.windowNs);
    const first = g.extract(series[0]!, 0, n);
    expect(first.reduce((a, b) => a + b, 0)).toBe((500 * 501) / 2);
    for (let k = 0; k < 500; k++) expect(first[Math.floor((k * 10 + 5) / g.windowNs)]).toBeGreaterThanOrEqual(k + 1);
    let ones = 0;
    for (let i = 1; i <= 2000; i++) {
      const a = g.extract(series[i]!, 0, n);
      ones += a.reduce((x, y) => x + y, 0);
      expect(a[Math.floor((((i * 37) % 500) * 10 + 1) / g.windowNs)]).toBe(1);
    }
    expect(ones).toBe(2000);
  });

  it('does not shrink or widen while the series fit', () => {
    const g = new WindowGrid(10, 96 * 1024 * 1024);
    const s = [g.create(), g.create()];
    for (let k = 0; k < 300; k++) g.addAt(s[k % 2]!, k * 10, 1);
    for (let i = 0; i < 100; i++) g.create();
    expect(g.coarsenings).toBe(0);
    expect(g.windowNs).toBe(10);
    expect(g.cap).toBe(1024);
  });

  it('allocates the windows written, not the whole slot range the budget allows', () => {
    // 20,000 series over 50 windows: the budget (96 MiB) allows a range of 512 windows for
    // them (80 MB); what is allocated follows the 50 windows written (8 MB), within a factor
    // of the growth (doubling) and the last block's free slots.
    const g = new WindowGrid(10, 96 * 1024 * 1024);
    const series = Array.from({ length: 20000 }, () => g.create());
    for (let k = 0; k < 50; k++) for (let i = 0; i < series.length; i += 7) g.addAt(series[(i + k) % series.length]!, k * 10 + 3, 1);
    expect(g.cap).toBeGreaterThanOrEqual(512);
    const needed = 20000 * 50 * 8;
    expect(g.allocatedBytes()).toBeGreaterThanOrEqual(needed);
    expect(g.allocatedBytes()).toBeLessThanOrEqual(2.2 * needed);
    let total = 0;
    for (const s of series) total += g.extract(s, 0, 50).reduce((a, b) => a + b, 0);
    expect(total).toBe(50 * Math.ceil(20000 / 7));
  });
});
