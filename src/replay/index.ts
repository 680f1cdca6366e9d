import type { Timeline } from '../timeline/types.js';
import { calibrateStock, type CalibrationError } from './calibrate.js';
import { jainFairness } from './fairness.js';
import { MEASURED_COSTS, modelInputOf, type CostPoint } from './input.js';
import { INLINE_GAIN_RANGE, threadCosts, type Parameter } from './parameters.js';
import { runInline } from './models/inline.js';
import { monteCarlo, runModel, type MonteCarloResult } from './montecarlo.js';
import { Prng, runSeed } from './prng.js';
import { CALIBRATION_WARN_MAE, ReplayOptions, type ReplayOptionsInput } from './options.js';
import type { Assumption, ModelName, ModelRun, Workload } from './types.js';
import { extractWorkload } from './workload.js';

export { extractWorkload } from './workload.js';
export { ReplayOptions, type ReplayOptionsInput } from './options.js';
export type { Workload, ModelRun, ModelName, Assumption } from './types.js';
export type { Parameter, ParameterBasis } from './parameters.js';
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

/** A predicted figure as a range with the point inside it. */
export interface Interval {
  low: number;
  point: number;
  high: number;
}

export interface ModelResult extends ModelRun {
  /** throughputPps / measured throughputPps - 1 (NaN when nothing was measured). */
  changeVsMeasured: number;
  /**
   * Throughput over the parameters' ranges and the measured costs' bootstrap spread (and, where
   * placement is random, the Monte Carlo p5..p95): packets/s.
   */
  throughputInterval: Interval;
  /** Per core, its utilization over the same ranges (on the placement of Monte Carlo run 0, applied to this run's cores). */
  cpuIntervals: { cpu: number; low: number; point: number; high: number }[];
  /** throughputInterval / measured throughput in the traffic window; undefined when nothing was measured. */
  vsMeasured: Interval | undefined;
  /** How this configuration was chosen: the Monte Carlo run with the median throughput, or the measured RSS placement (inline). */
  basis: 'median-run' | 'measured-rss';
}

/** A model that cannot predict this capture, and why. */
export interface Abstention {
  model: ModelName;
  reason: string;
}

export interface ReplayResult {
  options: ReplayOptions;
  /** Models that said `cannot predict` (not in `models`). */
  abstained: Abstention[];
  /** Every parameter the models used, with its range and basis. */
  parameters: Parameter[];
  trafficWindow: Workload['trafficWindow'];
  untraced: Workload['untraced'];
  placement: Workload['placement'];
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

/** More events lost than this share and the capture's rates cannot be trusted: every model abstains. */
export const ABSTAIN_LOST_FRACTION = 0.01;

/** Why `model` cannot predict this workload, or undefined. */
function abstainReason(w: Workload, model: ModelName): string | undefined {
  if (w.trafficWindow === undefined || w.tunnels.every((t) => !(t.measuredPps > 0))) return 'no tunnel carried traffic in this capture';
  if (w.lostFraction > ABSTAIN_LOST_FRACTION)
    return `the capture lost ${(w.lostFraction * 100).toFixed(1)}% of its events (more than ${ABSTAIN_LOST_FRACTION * 100}%): its rates and costs are not the kernel's`;
  if (model === 'inline' && !w.wireguard) return 'Inline moves WireGuard decryption into the receive softirq; these tunnels are not WireGuard (no decryption stage to move)';
  return undefined;
}

/** Replays an extracted workload through the models. Throws a ZodError on bad options. */
export function replayWorkload(w: Workload, opts: ReplayOptionsInput = {}): ReplayResult {
  const o = ReplayOptions.parse(opts);
  const tc = threadCosts(w, opts.threadedOverheadRatio, o.threadedOverheadRatio, {
    pollFactor: o.vethThreadPollFactor,
    wakeFactor: o.vethThreadWakeFactor,
    wakeBusyShare: o.vethThreadWakeBusyShare,
  });
  const point: CostPoint = MEASURED_COSTS(tc.pollFactor.value, tc.wake.value, tc.wakeBusy.value);
  // With a WireGuard capture the wake ratio is the threaded sim's own parameter.
  const optsAt = (c: CostPoint): ReplayOptions => (w.wireguard ? { ...o, threadedOverheadRatio: c.threadWake } : o);
  const inp = modelInputOf(w, o.demand, point.threadWake, point);
  const assumptions = [...w.assumptions];
  if (w.threaded === true && w.wireguard && o.threadedOverheadRatio > 0) {
    assumptions.push({
      code: 'threaded-capture',
      message: `the capture ran threaded NAPI: its decryption time includes the kthread wake-ups, taken out for stock and Inline with threadedOverheadRatio ${point.threadWake}`,
    });
  }
  if (w.placement === 'observed') assumptions.push({ code: 'placement-observed', message: 'the polls stay where the capture saw them (veth: the sending CPU): no Monte Carlo over placement' });
  const measured = measuredOf(w);
  const abstained: Abstention[] = [];
  const predicted = o.models.filter((name) => {
    const reason = abstainReason(w, name);
    if (reason !== undefined) abstained.push({ model: name, reason });
    return reason === undefined;
  });
  // Run 0 of each model at the point, kept for the interval below (the same run it would make again).
  const run0 = new Map<ModelName, ModelRun>();
  const mc = monteCarlo(inp, optsAt(point), predicted, run0);
  // The interval's ends: every cost at the cheap end of its range, and every cost at the dear end.
  const ends: CostPoint[] = [
    { pollScale: w.costSpread.poll[0], coupledScale: w.costSpread.coupled[0], threadPollFactor: tc.pollFactor.low, threadWake: tc.wake.low, threadWakeBusy: tc.wakeBusy.low },
    { pollScale: w.costSpread.poll[1], coupledScale: w.costSpread.coupled[1], threadPollFactor: tc.pollFactor.high, threadWake: tc.wake.high, threadWakeBusy: tc.wakeBusy.high },
  ];
  // How far each end moves a model, read on one placement (Monte Carlo run 0) at the point and at
  // both ends: the factors scale the point runs' p5..p95 (a whole Monte Carlo per end would
  // cost as much again as the prediction).
  // Per core, how far the ends move its utilization (the same placement), in points.
  const endShift = (runs: ModelRun[], base: ModelRun): [number, number][] =>
    base.cpus.map((c, p) => {
      const d = runs.map((r) => (r.cpus[p]?.utilization ?? c.utilization) - c.utilization);
      return [Math.min(0, ...d), Math.max(0, ...d)];
    });
  const endFactor = (name: ModelName): { f: [number, number]; util: [number, number][] } => {
    const at = (c: CostPoint): ModelRun => runModel(name, modelInputOf(w, o.demand, c.threadWake, c), optsAt(c), new Prng(runSeed(o.seed, 0)));
    // At the point, on run 0's placement: Monte Carlo run 0 itself (same input, options and seed).
    const base = run0.get(name) ?? at(point);
    const runs = ends.map(at);
    if (!(base.throughputPps > 0)) return { f: [1, 1], util: endShift(runs, base) };
    const f = runs.map((r) => r.throughputPps / base.throughputPps);
    return { f: [Math.min(1, ...f), Math.max(1, ...f)], util: endShift(runs, base) };
  };
  const models: ModelResult[] = predicted.map((name: ModelName) => {
    const run = name === 'inline' ? runInline(inp, o) : mc.models.find((m) => m.model === name)!.median;
    let lo = run.throughputPps;
    let hi = run.throughputPps;
    let shift: [number, number][];
    if (name === 'inline') {
      const runs: ModelRun[] = [];
      for (const gain of [INLINE_GAIN_RANGE.low, INLINE_GAIN_RANGE.high]) {
        for (const c of ends) {
          const r = runInline(modelInputOf(w, o.demand, c.threadWake, c), { ...o, inlineLocalityGain: gain });
          runs.push(r);
          lo = Math.min(lo, r.throughputPps);
          hi = Math.max(hi, r.throughputPps);
        }
      }
      shift = endShift(runs, run);
    } else {
      const own = mc.models.find((m) => m.model === name)!.throughputPps;
      const e = endFactor(name);
      lo = Math.min(lo, own.p5) * e.f[0];
      hi = Math.max(hi, own.p95) * e.f[1];
      shift = e.util;
    }
    const clamp = (v: number): number => Math.min(1, Math.max(0, v));
    const cpuIntervals = run.cpus.map((c, p) => ({ cpu: c.cpu, low: clamp(c.utilization + (shift[p]?.[0] ?? 0)), point: c.utilization, high: clamp(c.utilization + (shift[p]?.[1] ?? 0)) }));
    const throughputInterval = { low: lo, point: run.throughputPps, high: hi };
    const mp = measured.throughputPps;
    return {
      ...run,
      changeVsMeasured: mp > 0 ? run.throughputPps / mp - 1 : NaN,
      throughputInterval,
      cpuIntervals,
      vsMeasured: mp > 0 ? { low: lo / mp, point: run.throughputPps / mp, high: hi / mp } : undefined,
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
    abstained,
    parameters: parametersOf(w, o, tc, opts),
    trafficWindow: w.trafficWindow,
    untraced: w.untraced,
    placement: w.placement,
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

/** The parameters of this replay, each with its basis (parameters.ts). */
function parametersOf(w: Workload, o: ReplayOptions, tc: ReturnType<typeof threadCosts>, opts: ReplayOptionsInput): Parameter[] {
  const active = w.tunnels.filter((t) => t.measuredPps > 0);
  const mean = (f: (t: (typeof active)[number]) => number): number => (active.length ? active.reduce((a, t) => a + f(t), 0) / active.length : 0);
  const out: Parameter[] = [
    {
      name: 'forwardNsPerPacket',
      value: mean((t) => t.forwardNsPerPacket),
      low: mean((t) => t.forwardNsPerPacket) * w.costSpread.poll[0],
      high: mean((t) => t.forwardNsPerPacket) * w.costSpread.poll[1],
      unit: 'ns per packet (mean over tunnels)',
      basis: 'measured',
      source: 'poll time / poll work over the traffic window; range: bootstrap p5..p95 over its windows',
    },
  ];
  if (w.wireguard) {
    const defaulted = (code: string): boolean => w.assumptions.some((a) => a.code === code);
    // A per-packet stage cost: measured, or the papers' default when the capture lacked it.
    const stage = (name: string, f: (t: (typeof active)[number]) => number, code: string, dflt: string, from: string): Parameter => {
      const v = mean(f);
      const fitted = defaulted(code);
      return { name, value: v, low: v, high: v, unit: 'ns per packet', basis: fitted ? 'fitted-to-paper' : 'measured', source: fitted ? `${dflt} (the papers' scenario)` : from };
    };
    out.push(stage('decryptNsPerPacket', (t) => t.decryptNsPerPacket, 'decrypt-cost-default', 'DEFAULT_DECRYPT_NS_PER_PACKET', 'wg-crypt work time / packets'));
    out.push(stage('rxNsPerPacket', (t) => t.rxNsPerPacket, 'rx-cost-default', 'DEFAULT_RX_NS_PER_PACKET', 'NET_RX time outside tunnel polls on the receive core / packets'));
  }
  if (w.untraced === 'coupled') {
    const v = w.cores.reduce((a, c) => a + c.coupledNsPerPacket, 0);
    out.push({
      name: 'coupledNsPerPacket',
      value: v,
      low: v * w.costSpread.coupled[0],
      high: v * w.costSpread.coupled[1],
      unit: 'ns per packet, all cores',
      basis: 'measured',
      source: 'whole-core busy - traced busy over the traffic window, per packet; range: bootstrap p5..p95',
    });
  }
  if (w.untraced === 'fixed')
    out.push({
      name: 'fixedTaskShare',
      value: 0.5,
      low: 0.5,
      high: 0.5,
      unit: 'of a contended core',
      basis: 'kernel-mechanism',
      source: 'kernel/sched/fair.c: equal nice-0 weights; kernel/softirq.c: ksoftirqd takes over a saturated NET_RX',
    });
  if (o.models.includes('threaded')) out.push(tc.pollFactor, tc.wake, ...(w.wireguard ? [] : [tc.wakeBusy]));
  if (o.models.includes('inline') && w.wireguard) {
    out.push({
      name: 'inlineLocalityGain',
      value: o.inlineLocalityGain,
      low: INLINE_GAIN_RANGE.low,
      high: INLINE_GAIN_RANGE.high,
      unit: 'x',
      basis: opts.inlineLocalityGain !== undefined ? 'option' : 'fitted-to-paper',
      source: "Inline carries 2x threaded on the papers' scenario (options.ts)",
    });
  }
  if (w.placement === 'random' && o.models.some((m) => m !== 'inline')) {
    out.push({
      name: 'stepNs',
      value: o.stepNs,
      low: o.stepNs,
      high: o.stepNs,
      unit: 'ns',
      basis: 'option',
      source: 'model time step: only the steady state is reported as a prediction; convergence times are in model steps',
    });
  }
  return out;
}

/** The entry point for other layers (analyze puts a predicted gain beside each recommendation). */
export function replayTimeline(timeline: Timeline, opts: ReplayOptionsInput = {}): ReplayResult {
  const o = ReplayOptions.parse(opts);
  return replayWorkload(extractWorkload(timeline, { utilization: o.utilization, untraced: o.untraced, seed: o.seed }), opts);
}
