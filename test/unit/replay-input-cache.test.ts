import { describe, expect, it } from 'vitest';
import { modelInputOf } from '../../src/replay/input.js';
import type { Workload } from '../../src/replay/types.js';
import { extractWorkload } from '../../src/replay/workload.js';
import { loadTimeline } from '../../src/timeline/load.js';

/**
 * modelInputOf takes the observed poll shares from a cache per workload (input.ts placementOf):
 * the inputs of one workload share them, each is what the workload says (positions of the
 * workload's cpus, shares as measured), and a workload whose cpus or tunnels were replaced is
 * read again.
 */
const fresh = (w: Workload): [number, number][][] => {
  const pos = new Map(w.cpus.map((c, p) => [c, p]));
  return w.tunnels.map((t) => [...t.observedPollShare].filter(([cpu]) => pos.has(cpu)).map(([cpu, f]) => [pos.get(cpu)!, f] as [number, number]));
};

describe('model input: observed shares', () => {
  it('the same shares for every input of a workload, read again when the workload changes', async () => {
    const tl = await loadTimeline(new URL('../../traces/synthetic-talk-8x32-stock.txt.gz', import.meta.url).pathname);
    const w = extractWorkload(tl, { utilization: 'proc-stat' });
    const a = modelInputOf(w, 'elastic', 0);
    const b = modelInputOf(w, 'measured', 0.5, { pollScale: 0.9, coupledScale: 1.1, threadPollFactor: 1.2, threadWake: 0.3 });
    const want = fresh(w);
    expect(want.some((s) => s.length > 1)).toBe(true);
    expect(a.tunnels.map((t) => t.observedShare)).toEqual(want);
    expect(b.tunnels.map((t) => t.observedShare)).toEqual(want);
    expect(b.tunnels[0]!.observedShare).toBe(a.tunnels[0]!.observedShare);
    // The same workload with its cpus replaced (one core fewer): read again, positions and the
    // shares kept change.
    (w as { cpus: number[] }).cpus = w.cpus.slice(1);
    const c = modelInputOf(w, 'elastic', 0);
    expect(c.tunnels.map((t) => t.observedShare)).toEqual(fresh(w));
    expect(fresh(w)).not.toEqual(want);
  });
});
