import { describe, expect, it } from 'vitest';
import { percentile } from '../../src/replay/fairness.js';
import { monteCarloModel, runModel } from '../../src/replay/montecarlo.js';
import { ReplayOptions } from '../../src/replay/options.js';
import { Prng, runSeed } from '../../src/replay/prng.js';
import type { ModelName, ModelRun } from '../../src/replay/types.js';
import { makeScenario, scenarioModelInput } from '../../src/synth/scenario.js';

/**
 * Monte Carlo aggregates as it goes (issue 16): it keeps two numbers a run and makes the
 * median run again from its seed. Its result must be exactly what keeping every ModelRun and
 * picking from them gives (the method it replaced, written out here).
 */
function keepEveryRun(model: ModelName, inp: Parameters<typeof runModel>[1], o: ReplayOptions) {
  const runs: ModelRun[] = [];
  for (let k = 0; k < o.runs; k++) runs.push(runModel(model, inp, o, new Prng(runSeed(o.seed, k))));
  const tp = runs.map((r) => r.throughputPps);
  const p50 = percentile(tp, 50);
  let median = runs[0]!;
  for (const r of runs) if (Math.abs(r.throughputPps - p50) < Math.abs(median.throughputPps - p50)) median = r;
  const converged = runs.filter((r) => r.convergenceNs !== null);
  const conv = converged.map((r) => r.convergenceNs!);
  return {
    tp: [percentile(tp, 5), p50, percentile(tp, 95), tp.reduce((a, b) => a + b, 0) / tp.length],
    collision: runs.filter((r) => r.initialCollision).length / runs.length,
    converged: converged.length / runs.length,
    conv: conv.length ? [percentile(conv, 5), percentile(conv, 50), percentile(conv, 95)] : null,
    single: converged.length ? converged.filter((r) => r.pollCores === 1).length / converged.length : null,
    median,
  };
}

describe('Monte Carlo aggregated as it goes', () => {
  it.each(['stock', 'threaded', 'inline'] as const)('%s: same distribution and median run as keeping every run', (model) => {
    const inp = scenarioModelInput(makeScenario({ tunnels: 6, cpus: 8, seed: 2 }), model === 'inline' ? 'elastic' : 'offered');
    const o = ReplayOptions.parse({ runs: 37, seed: 11, horizonNs: 100_000_000 });
    const got = monteCarloModel(model, inp, o);
    const want = keepEveryRun(model, inp, o);
    expect([got.throughputPps.p5, got.throughputPps.p50, got.throughputPps.p95, got.throughputPps.mean]).toEqual(want.tp);
    expect(got.collisionProbability).toBe(want.collision);
    expect(got.median).toEqual(want.median);
    if (model === 'stock') {
      expect(got.convergedFraction).toBe(want.converged);
      expect(got.convergenceNs === null ? null : [got.convergenceNs.p5, got.convergenceNs.p50, got.convergenceNs.p95]).toEqual(want.conv);
      expect(got.singleCoreFraction).toBe(want.single);
      // The case is not degenerate: some runs converge and the median is one of several values.
      expect(want.converged).toBeGreaterThan(0);
    } else expect(got.convergedFraction).toBeNull();
  });
});

describe('solver working arrays reused across problems', () => {
  it('gives exactly what a fresh solve gives, problem after problem of changing sizes', async () => {
    const { maxMinFairCores, SolverScratch } = await import('../../src/replay/fairness.js');
    const rng = new Prng(7);
    const scratch = new SolverScratch();
    for (let k = 0; k < 300; k++) {
      const n = 1 + rng.int(40);
      const m = 1 + rng.int(12);
      const pb = {
        capacity: Float64Array.from({ length: m }, () => (rng.next() < 0.2 ? 0.3 : 1)),
        // Some tunnels without a shared share: filled over several rounds (the dirty-core path).
        shared: Float64Array.from({ length: n }, () => (rng.next() < 0.4 ? 0 : rng.next() * 1e-7)),
        extras: Array.from({ length: m }, () => [] as [number, number][]),
      };
      for (let i = 0; i < n; i++) {
        pb.extras[rng.int(m)]!.push([i, 1e-7 + rng.next() * 2e-6]);
        if (rng.next() < 0.5) pb.extras[rng.int(m)]!.push([i, rng.next() * 1e-6]);
      }
      const demand = Float64Array.from({ length: n }, () => (rng.next() < 0.3 ? 1e5 * rng.next() : Infinity));
      const fresh = maxMinFairCores(pb, demand);
      const reused = maxMinFairCores(pb, demand, scratch);
      expect([...reused.x]).toEqual([...fresh.x]);
      expect([...reused.bottleneck]).toEqual([...fresh.bottleneck]);
      expect([...reused.frozenAt]).toEqual([...fresh.frozenAt]);
      expect([...reused.tightAt]).toEqual([...fresh.tightAt]);
    }
  });
});
