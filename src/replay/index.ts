import type { Timeline } from '../timeline/types.js';
import { calibrateStock, type CalibrationError } from './calibrate.js';
import { jainFairness } from './fairness.js';
import { modelInputOf } from './input.js';
import { runInline } from './models/inline.js';
import { monteCarlo, type MonteCarloResult } from './montecarlo.js';
import { CALIBRATION_WARN_MAE, ReplayOptions, type ReplayOptionsInput } from './options.js';
import type { Assumption, ModelName, ModelRun, Workload } from './types.js';
import { extractWorkload, meanUtilization } from './workload.js';

export { extractWorkload } from './workload.js';
export { ReplayOptions, type ReplayOptionsInput } from './options.js';
export type { Workload, ModelRun, ModelName, Assumption } from './types.js';
export type { MonteCarloResult } from './montecarlo.js';
export type { CalibrationError } from './calibrate.js';
export { collisionProbabilityClosedForm, jainFairness } from './fairness.js';

export interface MeasuredResult {
  cpus: { cpu: number; utilization: number }[];
  maxCpuUtilization: number;
  busiestCpu: number;
  throughputPps: number;
  tunnels: { dev: string; napi: string; throughputPps: number; pollCore: number; rxCore: number }[];
  jainFairness: number;
}

export interface ModelResult extends ModelRun {
  /** throughputPps / measured throughputPps - 1 (NaN when nothing was measured). */
  changeVsMeasured: number;
  /** How this configuration was chosen: the Monte Carlo run with the median throughput, or the measured RSS placement (inline). */
  basis: 'median-run' | 'measured-rss';
}

export interface ReplayResult {
  options: ReplayOptions;
  tunnels: number;
  cores: number;
  durationNs: number;
  threaded: boolean | undefined;
  measured: MeasuredResult;
  models: ModelResult[];
  calibrationError: CalibrationError;
  monteCarlo: MonteCarloResult;
  assumptions: Assumption[];
  warnings: string[];
}

function measuredOf(w: Workload): MeasuredResult {
  const cpus = w.cores.map((c) => ({ cpu: c.cpu, utilization: c.measuredUtilization }));
  let busiest = cpus[0] ?? { cpu: -1, utilization: 0 };
  for (const c of cpus) if (c.utilization > busiest.utilization) busiest = c;
  const active = w.tunnels.filter((t) => t.measuredPps > 0);
  return {
    cpus,
    maxCpuUtilization: busiest.utilization,
    busiestCpu: busiest.cpu,
    throughputPps: w.tunnels.reduce((a, t) => a + t.measuredPps, 0),
    tunnels: w.tunnels.map((t) => ({ dev: t.dev, napi: t.napi, throughputPps: t.measuredPps, pollCore: t.observedPollCore, rxCore: t.rxCore })),
    jainFairness: jainFairness(active.map((t) => t.measuredPps)),
  };
}

/** Replays an extracted workload through the models. Throws a ZodError on bad options. */
export function replayWorkload(w: Workload, opts: ReplayOptionsInput = {}): ReplayResult {
  const o = ReplayOptions.parse(opts);
  const inp = modelInputOf(w, o.demand, o.threadedOverheadRatio);
  const assumptions = [...w.assumptions];
  if (w.threaded === true && o.threadedOverheadRatio > 0) {
    assumptions.push({
      code: 'threaded-capture',
      message: `the capture ran threaded NAPI: its decryption time includes the kthread wake-ups, taken out for stock and Inline with threadedOverheadRatio ${o.threadedOverheadRatio}`,
    });
  }
  const measured = measuredOf(w);
  const mc = monteCarlo(inp, o, o.models);
  const models: ModelResult[] = o.models.map((name: ModelName) => {
    const run = name === 'inline' ? runInline(inp, o) : mc.models.find((m) => m.model === name)!.median;
    return {
      ...run,
      changeVsMeasured: measured.throughputPps > 0 ? run.throughputPps / measured.throughputPps - 1 : NaN,
      basis: name === 'inline' ? 'measured-rss' : 'median-run',
    };
  });
  const calibrationError = calibrateStock(w);
  const warnings: string[] = [];
  if (calibrationError.meanAbsolute > CALIBRATION_WARN_MAE) {
    warnings.push(
      `calibration: the stock model with the observed placements misses the measured per-core utilization by ${(calibrationError.meanAbsolute * 100).toFixed(1)} points on average (max ${(calibrationError.maxAbsolute * 100).toFixed(1)}); predictions are rough`,
    );
  }
  if (w.tunnels.every((t) => !(t.measuredPps > 0))) warnings.push('no tunnel carried packets in this capture: nothing to replay');
  return {
    options: o,
    tunnels: w.tunnels.filter((t) => t.measuredPps > 0).length,
    cores: w.cpus.length,
    durationNs: w.durationNs,
    threaded: w.threaded,
    measured,
    models,
    calibrationError,
    monteCarlo: mc,
    assumptions,
    warnings,
  };
}

/** The entry point for other layers (analyze puts a predicted gain beside each recommendation). */
export function replayTimeline(timeline: Timeline, opts: ReplayOptionsInput = {}): ReplayResult {
  const o = ReplayOptions.parse(opts);
  return replayWorkload(extractWorkload(timeline, { utilization: o.utilization }), o);
}

export { meanUtilization };
