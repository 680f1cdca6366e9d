import { collisionProbabilityClosedForm, percentile } from './fairness.js';
import type { ModelInput } from './models/common.js';
import { runInline } from './models/inline.js';
import { runStock, runStockObserved } from './models/stock.js';
import { runThreaded, runThreadedObserved } from './models/threaded.js';
import { Prng, runSeed } from './prng.js';
import type { ReplayOptions } from './options.js';
import type { ModelName, ModelRun } from './types.js';

/**
 * Monte Carlo over placement: in stock the core each poll first lands on (uniform: the core of
 * the decrypt worker that schedules it), in threaded the thread's first core, in inline the
 * core RSS hashes each outer flow to (uniform: a hash of the 5-tuple). Run k draws from its own
 * seeded stream (prng.ts: runSeed), so results depend only on (seed, k).
 */
export interface Distribution {
  p5: number;
  p50: number;
  p95: number;
  mean: number;
}

export interface ModelMonteCarlo {
  model: ModelName;
  throughputPps: Distribution;
  /** Fraction of runs where 2+ tunnels shared a core at the start (polls, threads, or RSS cores for inline). */
  collisionProbability: number;
  /** Stock only: runs whose polls all got stuck within the horizon, and the time it took. */
  convergedFraction: number | null;
  convergenceNs: Distribution | null;
  /** Stock only: fraction of converged runs whose polls ended on a single core. */
  singleCoreFraction: number | null;
  /** The run whose throughput is the median (first such in run order): the representative configuration. */
  median: ModelRun;
}

export interface MonteCarloResult {
  runs: number;
  seed: number;
  /** Active tunnels and cores the closed form is computed for. */
  tunnels: number;
  cores: number;
  /** Stock: fraction of runs where 2+ polls shared a core when the surge started. */
  collisionProbability: number;
  /** 1 - m!/((m-n)! m^n): the same for uniform placement, exactly. */
  collisionProbabilityClosedForm: number;
  /** Stock aggregate throughput distribution (the default architecture). */
  throughputPps: Distribution;
  models: ModelMonteCarlo[];
}

export function distribution(v: ArrayLike<number>): Distribution {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]!;
  return {
    p5: percentile(v, 5),
    p50: percentile(v, 50),
    p95: percentile(v, 95),
    mean: v.length ? sum / v.length : NaN,
  };
}

export function runModel(model: ModelName, inp: ModelInput, o: ReplayOptions, rng: Prng): ModelRun {
  // Observed placement (veth: the sender's CPU): nothing random to draw.
  const observed = inp.placement === 'observed';
  switch (model) {
    case 'stock':
      return observed ? runStockObserved(inp) : runStock(inp, o, rng);
    case 'threaded':
      return observed ? runThreadedObserved(inp, o.threadedOverheadRatio) : runThreaded(inp, o, rng);
    case 'inline': {
      const rx = inp.tunnels.map(() => rng.int(inp.cpus.length));
      return runInline(inp, o, rx);
    }
  }
}

/**
 * Runs are aggregated as they are made: what a run leaves behind is its throughput and, when it
 * converged, its convergence time (two doubles: 16 bytes a run, at most 1.6 MB at the
 * 100,000-run cap of ReplayOptions), and four counters; the ModelRun itself (about 3.5 KB on
 * 16 tunnels x 32 cores, and growing with both) is dropped at once. The percentiles stay exact.
 * The representative run, the one whose throughput is nearest the median (the first such in
 * run order), is made again from its seed once the median is known: run k depends only on
 * (seed, k), so it is the same run, at the cost of one run more per model (unless there are at
 * most RUNS_KEPT runs: those are kept, and the median is taken from them).
 */
/** Runs kept whole up to this many (about 3.5 KB each on 16 tunnels x 32 cores, 150 KB on 1,024 x 128). */
const RUNS_KEPT = 32;

/** `first`, when given, receives run 0 (replayWorkload's interval reads that placement again at the point). */
export function monteCarloModel(model: ModelName, inp: ModelInput, o: ReplayOptions, first?: (r: ModelRun) => void): ModelMonteCarlo {
  const tp = new Float64Array(o.runs);
  const conv = new Float64Array(o.runs);
  let converged = 0;
  let collisions = 0;
  let singleCore = 0;
  // Up to RUNS_KEPT runs (analyze's 20) are kept whole, so the median need not be made again:
  // memory stays bounded, whatever --runs.
  const kept: ModelRun[] | undefined = o.runs <= RUNS_KEPT ? [] : undefined;
  for (let k = 0; k < o.runs; k++) {
    const r = runModel(model, inp, o, new Prng(runSeed(o.seed, k)));
    kept?.push(r);
    if (k === 0) first?.(r);
    tp[k] = r.throughputPps;
    if (r.initialCollision) collisions++;
    if (r.convergenceNs !== null) {
      conv[converged++] = r.convergenceNs;
      if (r.pollCores === 1) singleCore++;
    }
  }
  const p50 = percentile(tp, 50);
  let medianAt = 0;
  for (let k = 1; k < o.runs; k++) if (Math.abs(tp[k]! - p50) < Math.abs(tp[medianAt]! - p50)) medianAt = k;
  const median = kept?.[medianAt] ?? runModel(model, inp, o, new Prng(runSeed(o.seed, medianAt)));
  return {
    model,
    throughputPps: distribution(tp),
    collisionProbability: collisions / o.runs,
    convergedFraction: model === 'stock' ? converged / o.runs : null,
    convergenceNs: model === 'stock' && converged ? distribution(conv.subarray(0, converged)) : null,
    singleCoreFraction: model === 'stock' && converged ? singleCore / converged : null,
    median,
  };
}

/** `run0`, when given, gets each model's run 0 (read-only: the same object may be a model's median). */
export function monteCarlo(inp: ModelInput, opts: ReplayOptions, models: readonly ModelName[], run0?: Map<ModelName, ModelRun>): MonteCarloResult {
  // Monte Carlo only where placement is random (WireGuard's first poll, RSS for Inline): with an
  // observed placement every run would be the same run.
  const o = inp.placement === 'observed' ? { ...opts, runs: 1 } : opts;
  const per = models.map((m) => monteCarloModel(m, inp, o, run0 && ((r) => run0.set(m, r))));
  const stock = per.find((p) => p.model === 'stock') ?? monteCarloModel('stock', inp, o);
  const active = inp.tunnels.filter((t) => t.demandPps > 0).length;
  return {
    runs: o.runs,
    seed: o.seed,
    tunnels: active,
    cores: inp.cpus.length,
    collisionProbability: stock.collisionProbability,
    collisionProbabilityClosedForm: collisionProbabilityClosedForm(active, inp.cpus.length),
    throughputPps: stock.throughputPps,
    models: per,
  };
}
