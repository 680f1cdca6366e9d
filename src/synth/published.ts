import { monteCarloModel, type ModelMonteCarlo } from '../replay/montecarlo.js';
import { runInline } from '../replay/models/inline.js';
import { ReplayOptions } from '../replay/options.js';
import type { ModelRun } from '../replay/types.js';
import { PUBLISHED, papersScenario, ppsToGbps, scenarioModelInput, type Scenario } from './scenario.js';

/**
 * The models on the papers' scenario, side by side with the published figures: the table
 * printed in docs/models.md (`npm run models-table` regenerates it; a test checks it is
 * current). Fixed Monte Carlo settings so the table is reproducible.
 */
export const PUBLISHED_RUNS = 24;
export const PUBLISHED_SEED = 1;
export const PUBLISHED_HORIZON_NS = 400_000_000;

export interface PublishedFigures {
  scenario: Scenario;
  stock: ModelMonteCarlo;
  threaded: ModelMonteCarlo;
  inline: ModelRun;
  oneTunnel: ModelMonteCarlo;
}

export function computePublishedFigures(): PublishedFigures {
  const s = papersScenario(PUBLISHED_SEED);
  const o = ReplayOptions.parse({
    runs: PUBLISHED_RUNS,
    seed: PUBLISHED_SEED,
    horizonNs: PUBLISHED_HORIZON_NS,
    threadedOverheadRatio: s.costs.threadedOverheadRatio,
    inlineLocalityGain: s.costs.inlineLocalityGain,
  });
  return {
    scenario: s,
    stock: monteCarloModel('stock', scenarioModelInput(s, 'offered'), o),
    threaded: monteCarloModel('threaded', scenarioModelInput(s, 'offered'), o),
    inline: runInline(scenarioModelInput(s, 'elastic'), o),
    oneTunnel: monteCarloModel('stock', scenarioModelInput(s, 'offered', 1), o),
  };
}

const meanUtil = (r: ModelRun): number => r.cpus.reduce((a, c) => a + c.utilization, 0) / Math.max(1, r.cpus.length);
const g = (pps: number): string => ppsToGbps(pps).toFixed(1);
const x = (v: number): string => `${v.toFixed(2)}x`;

export function publishedFiguresTable(f: PublishedFigures = computePublishedFigures()): string {
  const t1 = f.oneTunnel.throughputPps.p50;
  const st = f.stock.throughputPps.p50;
  const th = f.threaded.throughputPps.p50;
  const il = f.inline.throughputPps;
  const rows = [
    '| architecture | model Gbps (p50) | model vs one tunnel | model vs stock | model CPU use | published |',
    '| --- | --- | --- | --- | --- | --- |',
    `| one tunnel (stock) | ${g(t1)} | 1.00x | | ${(meanUtil(f.oneTunnel.median) * 100).toFixed(0)}% | 96/18 = 5.3 Gbps (derived) |`,
    `| stock, 16 tunnels | ${g(st)} (p5 ${g(f.stock.throughputPps.p5)}, p95 ${g(f.stock.throughputPps.p95)}) | ${x(st / t1)} | 1.00x | ${(meanUtil(f.stock.median) * 100).toFixed(0)}% | about ${PUBLISHED.stockGbps} Gbps, < ${PUBLISHED.stockOverOneTunnelMax}x one tunnel, CPU 20% |`,
    `| threaded NAPI | ${g(th)} | ${x(th / t1)} | ${x(th / st)} | ${(meanUtil(f.threaded.median) * 100).toFixed(0)}% | about ${PUBLISHED.threadedGbps} Gbps (3.7x stock), CPU 100% |`,
    `| Inline | ${g(il)} | ${x(il / t1)} | ${x(il / st)} | ${(meanUtil(f.inline) * 100).toFixed(0)}% | about 2x threaded, 18x one tunnel |`,
    '',
    `Stock dynamics over ${PUBLISHED_RUNS} runs (seed ${PUBLISHED_SEED}): polls converged in ${((f.stock.convergedFraction ?? 0) * 100).toFixed(0)}% of runs, onto a single core in ${((f.stock.singleCoreFraction ?? 0) * 100).toFixed(0)}% of those, after ${((f.stock.convergenceNs?.p50 ?? NaN) / 1e6).toFixed(0)} model steps of 1 ms (p50; p95 ${((f.stock.convergenceNs?.p95 ?? NaN) / 1e6).toFixed(0)}; a pace the model sets, not a measured time); 2+ polls shared a core at the surge start in ${(f.stock.collisionProbability * 100).toFixed(0)}% of runs.`,
  ];
  return rows.join('\n');
}
