import { collisionProbabilityClosedForm, percentile } from './fairness.js';
import type { ModelInput } from './models/common.js';
import { runInline } from './models/inline.js';
import { runStock } from './models/stock.js';
import { runThreaded } from './models/threaded.js';
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

export function distribution(v: readonly number[]): Distribution {
  return {
    p5: percentile(v, 5),
    p50: percentile(v, 50),
    p95: percentile(v, 95),
    mean: v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN,
  };
}

export function runModel(model: ModelName, inp: ModelInput, o: ReplayOptions, rng: Prng): ModelRun {
  switch (model) {
    case 'stock':
      return runStock(inp, o, rng);
    case 'threaded':
      return runThreaded(inp, o, rng);
    case 'inline': {
      const rx = inp.tunnels.map(() => rng.int(inp.cpus.length));
      return runInline(inp, o, rx);
    }
  }
}

export function monteCarloModel(model: ModelName, inp: ModelInput, o: ReplayOptions): ModelMonteCarlo {
  const runs: ModelRun[] = [];
  for (let k = 0; k < o.runs; k++) runs.push(runModel(model, inp, o, new Prng(runSeed(o.seed, k))));
  const tp = runs.map((r) => r.throughputPps);
  const p50 = percentile(tp, 50);
  let median = runs[0]!;
  for (const r of runs) if (Math.abs(r.throughputPps - p50) < Math.abs(median.throughputPps - p50)) median = r;
  const converged = runs.filter((r) => r.convergenceNs !== null);
  return {
    model,
    throughputPps: distribution(tp),
    collisionProbability: runs.filter((r) => r.initialCollision).length / runs.length,
    convergedFraction: model === 'stock' ? converged.length / runs.length : null,
    convergenceNs: model === 'stock' && converged.length ? distribution(converged.map((r) => r.convergenceNs!)) : null,
    singleCoreFraction: model === 'stock' && converged.length ? converged.filter((r) => r.pollCores === 1).length / converged.length : null,
    median,
  };
}

export function monteCarlo(inp: ModelInput, o: ReplayOptions, models: readonly ModelName[]): MonteCarloResult {
  const per = models.map((m) => monteCarloModel(m, inp, o));
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
