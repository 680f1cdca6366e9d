import { describe, expect, it } from 'vitest';
import { collisionProbabilityClosedForm, jainFairness, maxMinFair, percentile } from '../../src/replay/fairness.js';
import type { ModelInput } from '../../src/replay/models/common.js';
import { runInline } from '../../src/replay/models/inline.js';
import { runStock } from '../../src/replay/models/stock.js';
import { runThreaded } from '../../src/replay/models/threaded.js';
import { monteCarloModel } from '../../src/replay/montecarlo.js';
import { ReplayOptions } from '../../src/replay/options.js';
import { Prng } from '../../src/replay/prng.js';

/** Tiny gateways whose answers are worked out by hand in the comments. Costs in ns per packet. */
function gateway(m: number, tunnels: { rx?: number; dec?: number; fwd: number; rxPos?: number; demand?: number }[]): ModelInput {
  return {
    cpus: Array.from({ length: m }, (_, i) => i),
    capacity: new Float64Array(m).fill(1),
    tunnels: tunnels.map((t, i) => ({
      dev: `wg${i}`,
      napi: `0x${i}`,
      rxNs: t.rx ?? 0,
      decryptNs: t.dec ?? 0,
      forwardNs: t.fwd,
      rxPos: t.rxPos ?? 0,
      demandPps: t.demand ?? Infinity,
    })),
  };
}

const opts = ReplayOptions.parse({ horizonNs: 200_000_000, threadedOverheadRatio: 0, migrationCostNs: 0 });

describe('max-min fair sharing of a core', () => {
  it('two elastic tunnels at 1 us/packet on one core get 500 kpps each', () => {
    // 1e-6 s/packet * (x1 + x2) <= 1 s/s, equal shares: x = 500,000.
    const coef = new Float64Array([1e-6, 1e-6]);
    const a = maxMinFair(2, [{ id: 'core 0', cpu: 0, capacity: 1, coef }], new Float64Array([Infinity, Infinity]));
    expect([...a.x]).toEqual([500_000, 500_000].map((v) => expect.closeTo(v, 3)));
    expect([...a.bottleneck]).toEqual([0, 0]);
  });

  it('a tunnel that offers less keeps it; the other takes the rest', () => {
    // A offers 100 kpps (0.1 s/s of the core), B takes the remaining 0.9 s/s: 900 kpps.
    const coef = new Float64Array([1e-6, 1e-6]);
    const a = maxMinFair(2, [{ id: 'core 0', cpu: 0, capacity: 1, coef }], new Float64Array([100_000, Infinity]));
    expect(a.x[0]).toBeCloseTo(100_000, 3);
    expect(a.x[1]).toBeCloseTo(900_000, 3);
    expect([...a.bottleneck]).toEqual([-1, 0]);
  });

  it("Jain's index is 1 for equal shares and 1/n when one takes all", () => {
    expect(jainFairness([3, 3, 3])).toBeCloseTo(1);
    expect(jainFairness([1, 0])).toBeCloseTo(0.5);
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
  });
});

describe('stock model', () => {
  it('two tunnels on separate cores with round-robin decryption: 500 kpps each, stuck at once', () => {
    // 2 cores, fwd 1000 ns, dec 1000 ns spread over 2 cores (500 ns each). Core p:
    // 1000e-9 x_p + 500e-9 (x_0 + x_1) <= 1; symmetric x: 2000e-9 x = 1 -> x = 500,000.
    const inp = gateway(2, [
      { fwd: 1000, dec: 1000 },
      { fwd: 1000, dec: 1000 },
    ]);
    const r = runStock(inp, opts, new Prng(1), [0, 1]);
    expect(r.throughputPps).toBeCloseTo(1_000_000, 0);
    expect(r.convergenceNs).toBe(0);
    expect(r.cpus.map((c) => c.utilization)).toEqual([expect.closeTo(1, 6), expect.closeTo(1, 6)]);
  });

  it('two polls sharing a core: 333 kpps each and the other core a third busy', () => {
    // Core 0: 1000e-9 (x0 + x1) + 500e-9 (x0 + x1) = 3000e-9 x <= 1 -> x = 333,333.
    // Core 1 only decrypts: 500e-9 * 666,667 = 0.333.
    const inp = gateway(2, [
      { fwd: 1000, dec: 1000 },
      { fwd: 1000, dec: 1000 },
    ]);
    const r = runStock(inp, opts, new Prng(1), [0, 0]);
    expect(r.throughputPps).toBeCloseTo(666_667, 0);
    expect(r.cpus[1]!.utilization).toBeCloseTo(1 / 3, 6);
    expect(r.initialCollision).toBe(true);
    expect(r.busiestCpu).toBe(0);
  });

  it('a saturated core absorbs the poll that keeps moving: 857 kpps before, 667 kpps after', () => {
    // 3 cores, 3 tunnels, fwd 1000, dec 1500 (500 per core). Polls start on [0, 0, 1].
    // Core 0 (2 polls): 2000e-9 x + 500e-9 * 3x = 3500e-9 x <= 1 binds first, at
    // x = 285,714 (857 kpps in all): it limits every tunnel, so only its two polls are stuck;
    // the third poll's queue drains, it moves at random, and once it lands on core 0 it is
    // stuck too: 3000e-9 x + 1500e-9 x <= 1 -> x = 222,222, 667 kpps, one core holds every poll.
    const inp = gateway(3, [
      { fwd: 1000, dec: 1500 },
      { fwd: 1000, dec: 1500 },
      { fwd: 1000, dec: 1500 },
    ]);
    const r = runStock(inp, opts, new Prng(7), [0, 0, 1]);
    expect(r.convergenceNs).not.toBeNull();
    expect(r.convergenceNs!).toBeGreaterThan(0);
    expect(r.pollCores).toBe(1);
    expect(r.tunnels.every((t) => t.pollCore === 0)).toBe(true);
    expect(r.throughputPps).toBeCloseTo(666_667, 0);
    // Before the third poll is absorbed the same gateway carries more:
    const first = runStock(inp, { ...opts, horizonNs: opts.stepNs }, new Prng(7), [0, 0, 1]);
    expect(first.throughputPps).toBeCloseTo(857_143, 0);
  });

  it('polls whose tunnels are limited elsewhere never converge', () => {
    // One tunnel offering 100 kpps at 1000 ns/packet uses 10% of a core: its poll always
    // drains and moves; nothing gets stuck.
    const inp = gateway(4, [{ fwd: 1000, demand: 100_000 }]);
    const r = runStock(inp, opts, new Prng(3));
    expect(r.convergenceNs).toBeNull();
    expect(r.moves).toBeGreaterThan(0);
    expect(r.throughputPps).toBeCloseTo(100_000, 3);
  });
});

describe('threaded model', () => {
  it('the balancer pulls a thread off the shared core: 400 kpps each instead of 286', () => {
    // Same gateway as the black-hole case. Once each thread has its own core, core p:
    // 1000e-9 x + 500e-9 * 3x = 2500e-9 x <= 1 -> x = 400,000: 1.2 Mpps.
    const inp = gateway(3, [
      { fwd: 1000, dec: 1500 },
      { fwd: 1000, dec: 1500 },
      { fwd: 1000, dec: 1500 },
    ]);
    const r = runThreaded(inp, opts, new Prng(1), [0, 0, 1]);
    expect(r.moves).toBe(1);
    expect(new Set(r.tunnels.map((t) => t.pollCore)).size).toBe(3);
    expect(r.throughputPps).toBeCloseTo(1_200_000, 0);
  });

  it('a migration costs capacity in the step it happens', () => {
    const inp = gateway(3, [
      { fwd: 1000, dec: 1500 },
      { fwd: 1000, dec: 1500 },
      { fwd: 1000, dec: 1500 },
    ]);
    // Horizon of one balancing interval + 1 step; the tail (last quarter) includes the step of the move.
    const o = ReplayOptions.parse({ horizonNs: 4_000_000, balanceIntervalNs: 3_000_000, threadedOverheadRatio: 0, migrationCostNs: 500_000 });
    const noCost = runThreaded(inp, { ...o, migrationCostNs: 0 }, new Prng(1), [0, 0, 1]);
    const withCost = runThreaded(inp, o, new Prng(1), [0, 0, 1]);
    expect(withCost.throughputPps).toBeLessThan(noCost.throughputPps);
  });
});

describe('inline model', () => {
  it('one tunnel never uses more than its receive core', () => {
    // rx + dec + fwd = 3000 ns, gain 1.5 -> 2000 ns/packet on the RSS core. Two tunnels on
    // RSS core 0 share it: 2000e-9 (x0 + x1) <= 1 -> 250 kpps each; core 1 stays idle.
    const inp = gateway(2, [
      { rx: 1000, dec: 1000, fwd: 1000, rxPos: 0 },
      { rx: 1000, dec: 1000, fwd: 1000, rxPos: 0 },
    ]);
    const r = runInline(inp, { inlineLocalityGain: 1.5 });
    expect(r.throughputPps).toBeCloseTo(500_000, 0);
    expect(r.cpus[1]!.utilization).toBe(0);
    // On separate RSS cores each gets a whole core: 500 kpps each.
    const apart = runInline(inp, { inlineLocalityGain: 1.5 }, [0, 1]);
    expect(apart.throughputPps).toBeCloseTo(1_000_000, 0);
    expect(apart.jainFairness).toBeCloseTo(1);
  });
});

describe('Monte Carlo', () => {
  it('collision probability follows 1 - m!/((m-n)! m^n): 8 tunnels on 32 cores ~ 0.61', () => {
    // 1 - (32*31*...*25)/32^8 = 0.6143.
    expect(collisionProbabilityClosedForm(8, 32)).toBeCloseTo(0.6143, 3);
    expect(collisionProbabilityClosedForm(2, 2)).toBeCloseTo(0.5, 12);
    expect(collisionProbabilityClosedForm(33, 32)).toBe(1);
    // Sampled: 3000 runs of one step each. Standard error sqrt(p(1-p)/N) = 0.0089: 4 sigma = 0.036.
    const inp = gateway(
      32,
      Array.from({ length: 8 }, () => ({ fwd: 1000, demand: 1000 })),
    );
    const o = ReplayOptions.parse({ runs: 3000, seed: 11, horizonNs: 1_000_000 });
    const mc = monteCarloModel('stock', inp, o);
    expect(Math.abs(mc.collisionProbability - collisionProbabilityClosedForm(8, 32))).toBeLessThan(0.036);
  });

  it('is deterministic for a seed and changes with it', () => {
    const inp = gateway(
      8,
      Array.from({ length: 4 }, () => ({ fwd: 1000, dec: 2000 })),
    );
    const o = ReplayOptions.parse({ runs: 30, seed: 5, horizonNs: 100_000_000 });
    const a = monteCarloModel('stock', inp, o);
    const b = monteCarloModel('stock', inp, o);
    expect(b).toEqual(a);
    const c = monteCarloModel('stock', inp, { ...o, seed: 6 });
    expect(c.convergenceNs).not.toEqual(a.convergenceNs);
  });

  it('options are validated', () => {
    expect(() => ReplayOptions.parse({ runs: 0 })).toThrow();
    expect(() => ReplayOptions.parse({ models: ['warp'] })).toThrow();
    expect(() => ReplayOptions.parse({ horizonNs: 10, stepNs: 100 })).toThrow();
  });
});

describe('the stock sim, step by step', () => {
  it('rules only the polls that moved when the stuck ones must stay stuck, with the same moves and draws as ruling every poll', async () => {
    const { maxMinFairCores } = await import('../../src/replay/fairness.js');
    const { StockSim } = await import('../../src/replay/models/stock.js');
    const { placedProblem, demandsOf } = await import('../../src/replay/models/common.js');
    const gen = new Prng(11);
    let movedOnly = 0;
    for (let k = 0; k < 12; k++) {
      const n = 20 + gen.int(60);
      const m = 4 + gen.int(12);
      // Some tunnels without decryption (no shared share: ruled by the later rounds), some idle.
      const inp = gateway(
        m,
        Array.from({ length: n }, () => ({
          rx: gen.next() < 0.7 ? 200 + gen.int(800) : 0,
          dec: gen.next() < 0.1 ? 0 : 500 + gen.int(3000),
          fwd: 300 + gen.int(2000),
          rxPos: gen.int(m),
          demand: gen.next() < 0.05 ? 0 : Infinity,
        })),
      );
      const sim = new StockSim(inp, new Prng(100 + k));
      // The reference: every poll ruled every step, from a solve with no scratch (nothing kept
      // between steps), drawing from a generator with the same seed.
      const rng = new Prng(100 + k);
      const poll = Int32Array.from({ length: n }, () => rng.int(m));
      expect([...sim.poll]).toEqual([...poll]);
      const demand = demandsOf(inp);
      for (let s = 0; s < 400; s++) {
        const placement = Int32Array.from(poll);
        const { bottleneck, frozenAt, tightAt } = maxMinFairCores(placedProblem(inp, placement), demand);
        const sticky = new Uint8Array(n);
        let allSticky = true;
        for (let i = 0; i < n; i++) {
          if (!(demand[i]! > 0)) continue;
          if (bottleneck[i]! >= 0 && tightAt[placement[i]!] === frozenAt[i]) sticky[i] = 1;
          else {
            allSticky = false;
            poll[i] = rng.int(m);
          }
        }
        const st = sim.step(false);
        expect([...st.sticky], `gateway ${k}, step ${s}`).toEqual([...sticky]);
        expect([...sim.poll], `gateway ${k}, step ${s}`).toEqual([...poll]);
        expect(st.allSticky).toBe(allSticky);
        if (allSticky) break;
      }
      movedOnly += sim.movedOnlySteps;
    }
    // The shortcut was taken (the comparison above is of it, not only of the full pass).
    expect(movedOnly).toBeGreaterThan(100);
  });
});

describe('the structured solver', () => {
  it('agrees with the generic progressive filling on random gateways', async () => {
    const { maxMinFairCores, denseConstraints } = await import('../../src/replay/fairness.js');
    const rng = new Prng(42);
    for (let k = 0; k < 200; k++) {
      const n = 1 + rng.int(6);
      const m = 1 + rng.int(5);
      const pb = {
        capacity: Float64Array.from({ length: m }, () => (rng.next() < 0.2 ? 0.3 : 1)),
        shared: Float64Array.from({ length: n }, () => (rng.next() < 0.3 ? 0 : rng.next() * 1e-6)),
        extras: Array.from({ length: m }, () => [] as [number, number][]),
      };
      for (let i = 0; i < n; i++) {
        pb.extras[rng.int(m)]!.push([i, 1e-7 + rng.next() * 2e-6]);
        if (rng.next() < 0.5) pb.extras[rng.int(m)]!.push([i, rng.next() * 1e-6]);
      }
      const demand = Float64Array.from({ length: n }, () => (rng.next() < 0.3 ? 1e5 * rng.next() : Infinity));
      const a = maxMinFairCores(pb, demand);
      const b = maxMinFair(
        n,
        denseConstraints(
          pb,
          Array.from({ length: m }, (_, p) => p),
        ),
        demand,
      );
      for (let i = 0; i < n; i++) expect(a.x[i]).toBeCloseTo(b.x[i]!, 3);
      expect([...a.bottleneck]).toEqual([...b.bottleneck]);
    }
  });

  it('gives exactly the same allocation and usage for a problem given per tunnel (placed) as for its packed stages', async () => {
    const { maxMinFairCores, coreUsage, SolverScratch } = await import('../../src/replay/fairness.js');
    const rng = new Prng(5);
    const scratch = new SolverScratch();
    for (let k = 0; k < 600; k++) {
      const n = 1 + rng.int(50);
      const m = 1 + rng.int(16);
      const placed = {
        capacity: Float64Array.from({ length: m }, () => (rng.next() < 0.2 ? 0.3 : rng.next() < 0.1 ? 0 : 1)),
        // Some tunnels without a shared share (several rounds), some with one under EPS.
        // One problem in eight with no shared share at all (the first round freezes none by it).
        shared: Float64Array.from({ length: n }, () => (k % 8 === 7 || rng.next() < 0.3 ? 0 : rng.next() < 0.1 ? 1e-13 : rng.next() * 1e-7)),
        rxPos: Int32Array.from({ length: n }, () => rng.int(m)),
        rxCoef: Float64Array.from({ length: n }, () => (rng.next() < 0.1 ? 1e-13 : rng.next() * 1e-6)),
        hasRx: Uint8Array.from({ length: n }, () => (rng.next() < 0.8 ? 1 : 0)),
        place: Int32Array.from({ length: n }, () => rng.int(m)),
        fwdCoef: Float64Array.from({ length: n }, () => 1e-7 + rng.next() * 2e-6),
        hasFwd: Uint8Array.from({ length: n }, () => (rng.next() < 0.9 ? 1 : 0)),
        nonNegative: true,
      };
      const extras = Array.from({ length: m }, () => [] as [number, number][]);
      for (let i = 0; i < n; i++) {
        if (placed.hasRx[i]) extras[placed.rxPos[i]!]!.push([i, placed.rxCoef[i]!]);
        if (placed.hasFwd[i]) extras[placed.place[i]!]!.push([i, placed.fwdCoef[i]!]);
      }
      const pb = { capacity: placed.capacity, shared: placed.shared, extras };
      // Every demand infinite or zero (idle tunnels: the per-tunnel first round; all idle now
      // and then), or some finite (packed at once).
      const kind = rng.int(4);
      const demand = Float64Array.from({ length: n }, () =>
        kind === 0 ? Infinity : kind === 1 ? (rng.next() < 0.3 ? 0 : Infinity) : kind === 2 ? (rng.next() < 0.9 ? 0 : Infinity) : rng.next() < 0.2 ? 0 : rng.next() < 0.5 ? 1e5 * rng.next() : Infinity,
      );
      let want;
      try {
        want = maxMinFairCores(pb, demand);
      } catch (e) {
        expect(() => maxMinFairCores(placed, demand, scratch)).toThrow((e as Error).message);
        continue;
      }
      // Twice with the same scratch: the second solve starts from the first round kept for the
      // same shares and demands, and from whatever the first left in the scratch (as a sim's steps do).
      for (let again = 0; again < 2; again++) {
        const got = maxMinFairCores(placed, demand, scratch);
        expect([...got.x]).toEqual([...want.x]);
        expect([...got.bottleneck]).toEqual([...want.bottleneck]);
        expect([...got.frozenAt]).toEqual([...want.frozenAt]);
        expect([...got.tightAt]).toEqual([...want.tightAt]);
      }
      expect([...coreUsage(placed, want.x)]).toEqual([...coreUsage(pb, want.x)]);
    }
  });

  it('agrees with it on larger gateways where most tunnels have no shared share (rounds over the loaded cores only)', async () => {
    const { maxMinFairCores, denseConstraints, packCoreProblem, SolverScratch } = await import('../../src/replay/fairness.js');
    const rng = new Prng(11);
    const scratch = new SolverScratch();
    for (let k = 0; k < 60; k++) {
      const n = 20 + rng.int(60);
      const m = 4 + rng.int(28);
      const pb = {
        capacity: Float64Array.from({ length: m }, () => (rng.next() < 0.2 ? 0.3 : 1)),
        shared: Float64Array.from({ length: n }, () => (rng.next() < 0.7 ? 0 : rng.next() * 1e-7)),
        extras: Array.from({ length: m }, () => [] as [number, number][]),
      };
      const pairCores = new Int32Array(2 * n).fill(-1);
      for (let i = 0; i < n; i++) {
        const a = rng.int(m);
        pb.extras[a]!.push([i, 1e-7 + rng.next() * 2e-6]);
        pairCores[2 * i] = a;
        if (rng.next() < 0.5) {
          const b = rng.int(m);
          pb.extras[b]!.push([i, rng.next() * 1e-6]);
          pairCores[2 * i + 1] = b;
        }
      }
      const demand = Float64Array.from({ length: n }, () => (rng.next() < 0.2 ? 1e5 * rng.next() : Infinity));
      const want = maxMinFair(
        n,
        denseConstraints(
          pb,
          Array.from({ length: m }, (_, p) => p),
        ),
        demand,
      );
      const packed = packCoreProblem(pb);
      // Fresh arrays, the transpose path; then a reused scratch with the cores given per tunnel.
      for (const got of [maxMinFairCores(pb, demand), maxMinFairCores({ ...packed, pairCores }, demand, scratch)]) {
        for (let i = 0; i < n; i++) expect(got.x[i]).toBeCloseTo(want.x[i]!, 3);
        expect([...got.bottleneck]).toEqual([...want.bottleneck]);
        expect([...got.frozenAt]).toEqual([...want.frozenAt]);
      }
    }
  });
});
