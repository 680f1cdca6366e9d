import { describe, expect, it } from 'vitest';
import { monteCarloModel } from '../../src/replay/montecarlo.js';
import { runInline } from '../../src/replay/models/inline.js';
import { ReplayOptions } from '../../src/replay/options.js';
import { PUBLISHED, papersScenario, ppsToGbps, scenarioModelInput } from '../../src/synth/scenario.js';
import { publishedFiguresTable } from '../../src/synth/published.js';

/**
 * The published figures (docs/BACKGROUND.md) on the papers' scenario: 16 tunnels, 32 cores,
 * costs derived in src/synth/scenario.ts. The costs are fitted to the figures through the
 * models' steady-state equations; what this test checks is that the simulated dynamics reach
 * those steady states: stock polls converge onto one core, the threaded balancer spreads the
 * threads until every core is busy, Inline keeps each tunnel on its RSS core.
 *
 * Tolerance: 15% on each ratio (the papers give "about" figures; the stock black hole lands on
 * an RSS core in some runs, which costs it 5%).
 */
const TOLERANCE = 0.15;

describe('published figures on the papers scenario', () => {
  const s = papersScenario(1);
  const o = ReplayOptions.parse({
    runs: 24,
    seed: 1,
    horizonNs: 400_000_000,
    threadedOverheadRatio: s.costs.threadedOverheadRatio,
    inlineLocalityGain: s.costs.inlineLocalityGain,
  });
  const stock = monteCarloModel('stock', scenarioModelInput(s, 'offered'), o);
  const threaded = monteCarloModel('threaded', scenarioModelInput(s, 'offered'), o);
  const inline = runInline(scenarioModelInput(s, 'elastic'), o);
  const one = monteCarloModel('stock', scenarioModelInput(s, 'offered', 1), o);
  const t1 = one.throughputPps.p50;

  it('stock reaches less than 3x one tunnel, all polls on one core', () => {
    expect(stock.throughputPps.p95 / t1).toBeLessThan(PUBLISHED.stockOverOneTunnelMax);
    expect(ppsToGbps(stock.throughputPps.p50)).toBeGreaterThan(PUBLISHED.stockGbps * (1 - TOLERANCE));
    expect(stock.convergedFraction).toBe(1);
    expect(stock.singleCoreFraction).toBeGreaterThanOrEqual(0.9);
    // "shortly after a surge began": well under a second.
    expect(stock.convergenceNs!.p95).toBeLessThan(400_000_000);
  });

  it('threaded is about 3.7x stock (13 -> 48 Gbps) and uses every core', () => {
    const ratio = threaded.throughputPps.p50 / stock.throughputPps.p50;
    expect(Math.abs(ratio / (PUBLISHED.threadedGbps / PUBLISHED.stockGbps) - 1)).toBeLessThan(TOLERANCE);
    const mean = threaded.median.cpus.reduce((a, c) => a + c.utilization, 0) / threaded.median.cpus.length;
    expect(mean).toBeGreaterThan(0.95);
    const stockMean = stock.median.cpus.reduce((a, c) => a + c.utilization, 0) / stock.median.cpus.length;
    expect(Math.abs(stockMean - PUBLISHED.stockCpu)).toBeLessThan(0.05);
  });

  it('inline is about 2x threaded and 18x one tunnel', () => {
    expect(Math.abs(inline.throughputPps / threaded.throughputPps.p50 / PUBLISHED.inlineOverThreaded - 1)).toBeLessThan(TOLERANCE);
    expect(Math.abs(inline.throughputPps / t1 / PUBLISHED.inlineOverOneTunnel - 1)).toBeLessThan(TOLERANCE);
  });

  it('docs/models.md carries the current table (regenerate: npm run models-table)', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/models.md', import.meta.url), 'utf8');
    expect(doc).toContain(publishedFiguresTable());
  });
});
