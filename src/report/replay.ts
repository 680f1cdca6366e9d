import { CALIBRATION_WARN_MAE } from '../replay/options.js';
import type { ModelResult, ReplayResult } from '../replay/index.js';
import type { Distribution } from '../replay/montecarlo.js';
import { REPLAY_VERSION, type ReplayJson } from './replay-schema.js';
import type { TimelineFacts } from '../detect/facts.js';

/** Turns a replay result into the versioned `--json` object (finite numbers only; NaN becomes null or 0). */
export function replayJson(file: string, r: ReplayResult, facts?: TimelineFacts): ReplayJson {
  const fin = (v: number): number => (Number.isFinite(v) ? v : 0);
  const u = (v: number): number => Math.min(1, Math.max(0, fin(v)));
  const dist = (d: Distribution): ReplayJson['monteCarlo']['throughputPps'] => ({ p5: fin(d.p5), p50: fin(d.p50), p95: fin(d.p95), mean: fin(d.mean) });
  const o = r.options;
  return {
    version: REPLAY_VERSION,
    file,
    options: {
      models: [...o.models],
      runs: o.runs,
      seed: o.seed,
      demand: o.demand,
      utilization: o.utilization,
      untraced: o.untraced,
      stepNs: o.stepNs,
      horizonNs: o.horizonNs,
      balanceIntervalNs: o.balanceIntervalNs,
      migrationCostNs: o.migrationCostNs,
      threadedOverheadRatio: o.threadedOverheadRatio,
      inlineLocalityGain: o.inlineLocalityGain,
    },
    tunnels: r.tunnels,
    cores: r.cores,
    durationNs: r.durationNs,
    trafficWindow: r.trafficWindow ? { fromNs: r.trafficWindow.fromNs, toNs: r.trafficWindow.toNs } : null,
    untraced: r.untraced,
    placement: r.placement,
    threaded: r.threaded ?? null,
    abstained: r.abstained,
    parameters: r.parameters.map((x) => ({ ...x, value: fin(x.value), low: fin(x.low), high: fin(x.high) })),
    measured: {
      ...r.measured,
      cpus: r.measured.cpus.map((c) => ({ cpu: c.cpu, utilization: u(c.utilization) })),
      maxCpuUtilization: u(r.measured.maxCpuUtilization),
      jainFairness: u(r.measured.jainFairness),
    },
    coreBusy: (facts?.cores ?? []).map((c) => ({ cpu: c.cpu, coreBusy: u(c.coreBusy), coreBusySource: c.coreBusySource })),
    models: r.models.map((m) => ({
      model: m.model,
      cpus: m.cpus.map((c) => ({ cpu: c.cpu, utilization: u(c.utilization) })),
      maxCpuUtilization: u(m.maxCpuUtilization),
      busiestCpu: m.busiestCpu,
      throughputPps: fin(m.throughputPps),
      tunnels: m.tunnels.map((t) => ({ ...t, throughputPps: fin(t.throughputPps) })),
      jainFairness: u(m.jainFairness),
      changeVsMeasured: Number.isFinite(m.changeVsMeasured) ? m.changeVsMeasured : null,
      throughputInterval: { low: fin(m.throughputInterval.low), point: fin(m.throughputInterval.point), high: fin(m.throughputInterval.high) },
      cpuIntervals: m.cpuIntervals.map((c) => ({ cpu: c.cpu, low: u(c.low), point: u(c.point), high: u(c.high) })),
      vsMeasured: m.vsMeasured ? { low: fin(m.vsMeasured.low), point: fin(m.vsMeasured.point), high: fin(m.vsMeasured.high) } : null,
      convergenceNs: m.convergenceNs,
      pollCores: m.pollCores,
      moves: m.moves,
      initialCollision: m.initialCollision,
      basis: m.basis,
      verdict: verdict(m, r),
    })),
    calibrationError: {
      meanAbsolute: fin(r.calibrationError.meanAbsolute),
      maxAbsolute: fin(r.calibrationError.maxAbsolute),
      throughputRatio: fin(r.calibrationError.throughputRatio),
      perCpu: r.calibrationError.perCpu.map((c) => ({ cpu: c.cpu, predicted: u(c.predicted), measured: u(c.measured), error: fin(c.error) })),
      warn: r.calibrationError.meanAbsolute > CALIBRATION_WARN_MAE,
    },
    monteCarlo: {
      runs: r.monteCarlo.runs,
      seed: r.monteCarlo.seed,
      tunnels: r.monteCarlo.tunnels,
      cores: r.monteCarlo.cores,
      collisionProbability: r.monteCarlo.collisionProbability,
      collisionProbabilityClosedForm: r.monteCarlo.collisionProbabilityClosedForm,
      throughputPps: dist(r.monteCarlo.throughputPps),
      models: r.monteCarlo.models.map((mc) => ({
        model: mc.model,
        throughputPps: dist(mc.throughputPps),
        collisionProbability: mc.collisionProbability,
        convergedFraction: mc.convergedFraction,
        convergenceNs: mc.convergenceNs ? dist(mc.convergenceNs) : null,
        singleCoreFraction: mc.singleCoreFraction,
      })),
    },
    assumptions: r.assumptions,
    warnings: r.warnings,
  };
}

const pct = (v: number): string => `${(v * 100).toFixed(0)}%`;
/** A change in whole percent, signed; one that rounds to zero is +0% (toFixed would print -0% for -0.001). */
const signed = (v: number): string => {
  if (!Number.isFinite(v)) return 'n/a';
  const r = Math.round(v * 100);
  return r > 0 ? `+${r}%` : r < 0 ? `${r}%` : '+0%';
};

/**
 * A convergence time in the model's steps: the step (1 ms by default) sets the pace at which
 * polls move in the model, it was not measured, so the time is not one (issue 12).
 */
const steps = (ns: number, r: ReplayResult): string => `${Math.round(ns / r.options.stepNs)} model steps`;

/** A one-line verdict per model, from its numbers only. */
export function verdict(m: ModelResult, r: ReplayResult): string {
  if (r.tunnels === 0) return 'no tunnel carried packets in this capture: nothing to predict';
  const change = `${signed(m.changeVsMeasured)} vs measured`;
  const saturated = m.cpus.filter((c) => c.utilization >= 0.95).length;
  const mean = m.cpus.reduce((a, c) => a + c.utilization, 0) / Math.max(1, m.cpus.length);
  switch (m.model) {
    case 'stock':
      if (r.placement === 'observed') return `${change}: the polls stay where the senders ran them; busiest core ${m.busiestCpu} at ${pct(m.maxCpuUtilization)}`;
      if (m.convergenceNs !== null && m.pollCores === 1) {
        return `${change}: every poll ends stuck on core ${m.tunnels[0]?.pollCore ?? m.busiestCpu} after ${steps(m.convergenceNs, r)}; the gateway runs at that one core's pace (${pct(mean)} of the CPUs used)`;
      }
      if (m.convergenceNs !== null) return `${change}: polls stuck on ${m.pollCores} cores after ${steps(m.convergenceNs, r)}; busiest core ${m.busiestCpu} at ${pct(m.maxCpuUtilization)}`;
      return `${change}: no core saturates, polls keep moving; busiest core ${m.busiestCpu} at ${pct(m.maxCpuUtilization)}`;
    case 'threaded':
      if (saturated >= Math.max(1, Math.floor(m.cpus.length * 0.9)) && r.placement === 'observed')
        return `${change}: the poll threads' own cost and their wake-ups take CPU the softirq polls did not, and every core is busy (${pct(mean)} mean)`;
      if (saturated >= Math.max(1, Math.floor(m.cpus.length * 0.9)))
        return `${change}: the scheduler spreads the poll threads until every core is busy (${pct(mean)} mean): CPU-bound, not placement-bound`;
      return `${change}: poll threads spread over ${m.pollCores} ${m.pollCores === 1 ? 'core' : 'cores'} after ${m.moves} ${m.moves === 1 ? 'migration' : 'migrations'}; busiest core ${m.busiestCpu} at ${pct(m.maxCpuUtilization)}`;
    case 'inline': {
      const shared = new Map<number, number>();
      for (const t of m.tunnels) shared.set(t.rxCore, (shared.get(t.rxCore) ?? 0) + 1);
      const sharedCores = [...shared.values()].filter((k) => k >= 2).length;
      const note = sharedCores > 0 ? `; ${sharedCores} RSS core(s) carry 2+ tunnels` : '';
      return `${change}: each tunnel on its RSS core, ${saturated} core(s) saturated, ${m.cpus.length - shared.size} never used${note} (locality gain ${r.options.inlineLocalityGain} is fitted, not measured)`;
    }
  }
}
