import type { IdleCalibration, Timeline } from '../timeline/types.js';
import { runDetectors, type Finding } from '../detect/registry.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../detect/thresholds.js';
import type { TimelineFacts } from '../detect/facts.js';
import { formatCpuList } from '../model/capture-text.js';
import { replayTimeline } from '../replay/index.js';
import { byName, count, pct } from '../detect/format.js';
import { ANALYZE_VERSION, type AnalyzeResult, type CaptureJson, type CpuJson, type FindingJson, type NapiJson, type PredictionJson } from './schema.js';

/**
 * `wgtrace analyze` as a function: a timeline in, the result object out (validated by the zod
 * schema in the CLI for --json, rendered as text by analyze-text.ts). Pure and deterministic:
 * nothing here reads the clock or the environment.
 */
export interface AnalyzeOptions {
  /** The input as the user named it. */
  file: string;
  thresholds?: Thresholds;
  /** Replay the capture through the models for a predicted gain beside each recommendation (default true). */
  predict?: boolean;
  /** `--tunnels GLOB`: devices whose NAPIs are tunnels (facts.ts: napiRole). */
  tunnels?: string;
}

/**
 * Monte Carlo runs for the predicted gains: a quick estimate beside a recommendation (the
 * median of 20 seeded runs is stable to a few percent on the papers' scenario); `wgtrace
 * replay` gives the full distribution.
 */
export const PREDICT_RUNS = 20;
export const PREDICT_SEED = 1;
/** Ratio: a predicted change below +5% is within the models' noise; say so rather than promise a gain. */
export const NO_GAIN_RATIO = 1.05;

export function analyzeTimeline(t: Timeline, opts: AnalyzeOptions): AnalyzeResult {
  const thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
  // The what-if runs before the detectors: it reads only the timeline, and what it keeps is a
  // few numbers, so its working set (the workload's per-tunnel shares, the kept runs) is never
  // live beside the detectors' facts and lists (at 1,024 tunnels x 128 cores, with the
  // placement detector's rows no longer copied, 4-8 MB off the peak: bench/README.md, issue 16,
  // "The what-if before the detectors").
  const prediction = opts.predict === false || !hasWork(t) ? undefined : predict(t);
  const { findings, facts } = runDetectors(t, { thresholds, ...(opts.tunnels !== undefined ? { tunnels: opts.tunnels } : {}) });
  if (prediction?.models !== undefined) for (const f of findings) attachGain(f, prediction, facts);
  return {
    version: ANALYZE_VERSION,
    file: opts.file,
    capture: captureJson(t, facts),
    cpus: cpusJson(facts),
    napis: napisJson(facts),
    findings: findings.map((f) => findingJson(t, f)),
    ...(prediction === undefined ? {} : { prediction }),
    thresholds: { ...thresholds },
  };
}

/** Any NAPI work in the capture (facts.ts: totalWork, the same sum); without it there is nothing to replay. */
function hasWork(t: Timeline): boolean {
  return t.napis.some((n) => n.totals.work > 0);
}

/** The replay models (src/replay) over this capture; a failure is reported, never fatal. */
function predict(t: Timeline): PredictionJson {
  try {
    const r = replayTimeline(t, { runs: PREDICT_RUNS, seed: PREDICT_SEED });
    // Measured as the replay measures it: the tunnels' packets over the traffic window.
    const measured = r.measured.throughputPps;
    return {
      // The runs made: one where the placement is observed (nothing random to draw).
      runs: r.monteCarlo.runs,
      seed: PREDICT_SEED,
      measuredPps: measured,
      models: r.models.map((m) => ({
        model: m.model,
        throughputPps: finite(m.throughputPps),
        ratio: measured > 0 ? finite(m.throughputPps / measured) : 0,
        maxCpuUtilization: finite(m.maxCpuUtilization),
        ...(m.vsMeasured ? { vsMeasured: { low: finite(m.vsMeasured.low), point: finite(m.vsMeasured.point), high: finite(m.vsMeasured.high) } } : {}),
      })),
      ...(r.abstained.length > 0 ? { abstained: r.abstained } : {}),
      ...(Number.isFinite(r.calibrationError.meanAbsolute) ? { calibrationMae: r.calibrationError.meanAbsolute } : {}),
      warnings: r.warnings,
    };
  } catch (e) {
    return { runs: PREDICT_RUNS, seed: PREDICT_SEED, measuredPps: 0, warnings: [], error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Puts the model's prediction beside a recommendation: threaded NAPI where it says `echo 1 >
 * .../threaded` (against the stock model: today's softirq NAPI), the Inline architecture
 * where threaded NAPI is already on (against the threaded model). The gain is model against
 * model on the same workload and assumptions, not model against measured: under the replay's
 * default elastic demand a capture that was not saturated would make every model look like a
 * gain over what was measured.
 */
function attachGain(f: Finding, p: PredictionJson, facts: TimelineFacts): void {
  const rec = f.recommendation;
  if (rec === undefined || p.models === undefined) return;
  // Inline is the authors' WireGuard architecture: it says nothing about other drivers' NAPIs.
  const wireguard = f.napis.length > 0 && f.napis.every((r) => facts.napis.find((n) => n.dev === r.dev && n.napi === r.napi)?.roleReason.startsWith('WireGuard') === true);
  const pick = rec.commands.some((c) => c.includes('/threaded'))
    ? 'threaded'
    : /already (on|runs)/.test(rec.text)
      ? wireguard
        ? 'inline'
        : undefined
      : f.id === 'core-imbalance'
        ? 'threaded'
        : undefined;
  const baseName = pick === 'threaded' ? 'stock' : 'threaded';
  const cannot = p.abstained?.find((x) => x.model === pick || x.model === baseName);
  if (pick !== undefined && cannot !== undefined) {
    rec.predictedGain = { model: pick, throughputRatio: null, text: `the replay models cannot predict ${cannot.model} on this capture: ${cannot.reason}` };
    return;
  }
  const m = p.models.find((x) => x.model === pick);
  const base = p.models.find((x) => x.model === baseName);
  if (m === undefined || base === undefined || !(base.throughputPps > 0)) return;
  const ratio = m.throughputPps / base.throughputPps;
  // The interval of the change: the model's own range over the base's point.
  const iv =
    m.vsMeasured && base.vsMeasured && base.vsMeasured.point > 0 ? { low: m.vsMeasured.low / base.vsMeasured.point, point: ratio, high: m.vsMeasured.high / base.vsMeasured.point } : undefined;
  const what = m.model === 'threaded' ? 'threaded NAPI' : 'the Inline architecture (a patched kernel)';
  const prediction =
    `x${ratio.toFixed(2)}${iv ? ` (${iv.low.toFixed(2)}..${iv.high.toFixed(2)})` : ''} throughput with ${what}: the replay models predict ${count(m.throughputPps)} packets/s ${m.model} against ${count(base.throughputPps)} ${base.model} ` +
    `(measured ${count(p.measuredPps)} in the traffic window), ${p.runs > 1 ? `medians of ${p.runs} seeded runs` : 'one run'}` +
    (ratio < NO_GAIN_RATIO ? '; the models expect no gain from it on this workload' : '') +
    (p.calibrationMae !== undefined && p.calibrationMae > 0.05 ? `; rough: the stock model misses measured per-core load by ${(p.calibrationMae * 100).toFixed(0)} points` : '');
  rec.predictedGain = { model: m.model, throughputRatio: ratio, ...(iv ? { throughputRatioInterval: iv } : {}), text: prediction };
  if (ratio >= NO_GAIN_RATIO) return;
  // The what-if does not back the change: do not recommend it. Say what would help instead,
  // or that nothing in reach would.
  const better = p.models
    .filter((x) => x.model !== base.model && x.model !== m.model && (x.model !== 'inline' || wireguard))
    .filter((x) => x.throughputPps / base.throughputPps >= NO_GAIN_RATIO)
    .sort((a, b) => b.throughputPps - a.throughputPps)[0];
  const busiest = Math.max(0, ...f.cpus.map((c) => facts.coreByCpu.get(c)?.coreBusy ?? 0));
  rec.text =
    `Not recommended: the replay models predict x${ratio.toFixed(2)} throughput with ${what} against ${base.model === 'stock' ? "today's softirq NAPI" : 'threaded NAPI'} on this workload. ` +
    (better !== undefined
      ? `What the models predict to help: ${better.model === 'inline' ? 'the Inline architecture (a patched kernel)' : better.model} at x${(better.throughputPps / base.throughputPps).toFixed(2)}.`
      : `Nothing in reach of a setting would help: ${wireguard ? 'neither threaded NAPI nor the Inline architecture is predicted to gain' : 'threaded NAPI is not predicted to gain, and the Inline architecture applies to WireGuard only'}` +
        (busiest >= 0.9
          ? `. The ${f.cpus.length === 1 ? 'core was' : 'cores were'} ${pct(busiest)} busy: more cores for the receive path (or less other work on ${f.cpus.length === 1 ? 'it' : 'them'}) would.`
          : '.'));
  rec.commands = [];
}

export function bootString(t: Timeline, relNs: number): string {
  return (t.capture.origin + BigInt(Math.round(relNs))).toString();
}

export function captureJson(t: Timeline, facts: Pick<TimelineFacts, 'probedNs' | 'probedFromOffsetNs'>): CaptureJson {
  const c = t.capture;
  const h = c.header;
  return {
    format: c.format,
    mode: c.mode,
    cpus: t.cpus.length,
    cpuList: formatCpuList(t.cpus),
    cpusGuessed: c.cpusGuessed,
    startNs: bootString(t, c.startNs),
    endNs: bootString(t, c.endNs),
    durationNs: c.durationNs,
    probedNs: facts.probedNs,
    probedFromOffsetNs: facts.probedFromOffsetNs,
    windowNs: t.windowNs,
    ...(t.windowAskedNs === undefined ? {} : { windowAskedNs: t.windowAskedNs }),
    events: c.events,
    lostEvents: c.lostEvents,
    skippedLines: c.skippedLines,
    clampedSlices: c.clampedSlices,
    status: h?.status ?? (h === undefined ? 'unknown' : 'partial'),
    ...(h?.hostname === undefined ? {} : { hostname: h.hostname }),
    ...(h?.kernel === undefined ? {} : { kernel: h.kernel }),
    devices: (h?.devices ?? []).map((d) => ({ name: d.name, kind: d.kind, ...(d.threaded === undefined ? {} : { threaded: d.threaded }) })),
    ...(h?.devicesGlob === undefined ? {} : { devicesGlob: h.devicesGlob }),
    ...(c.untracedDevices === undefined ? {} : { untracedDevices: c.untracedDevices }),
  };
}

function calibrationJson(k: IdleCalibration): NonNullable<CpuJson['idleCalibration']> {
  const finite = (v: number): v is number => Number.isFinite(v);
  return {
    applied: k.applied,
    fitNs: Math.round(k.fitNs),
    idleTaskNs: Math.round(k.idleTaskNs),
    periods: Math.round(k.periods),
    ...(finite(k.kernelIdleNs) ? { kernelIdleNs: Math.round(k.kernelIdleNs) } : {}),
    ...(finite(k.perPeriodNs) ? { perPeriodNs: Math.round(k.perPeriodNs) } : {}),
    ...(k.restoredNs !== undefined ? { restoredNs: Math.round(k.restoredNs) } : {}),
    ...(k.reason === undefined ? {} : { reason: k.reason }),
  };
}

function cpusJson(facts: TimelineFacts): CpuJson[] {
  return facts.cores.map((c) => ({
    cpu: c.cpu,
    coreBusy: clamp01(c.coreBusy),
    coreBusyNs: c.coreBusyNs,
    coreBusySource: c.coreBusySource,
    ...(c.idleCalibration === undefined ? {} : { idleCalibration: calibrationJson(c.idleCalibration) }),
    ...(c.mpstatBusy === undefined ? {} : { mpstatBusy: clamp01(c.mpstatBusy) }),
    utilization: clamp01(c.utilization),
    untracedBusyNs: c.untracedBusyNs,
    netRx: { count: c.netRxCount, busyNs: c.netRxBusyNs, ksoftirqdCount: c.ksoftirqdNetRxCount, ksoftirqdBusyNs: c.ksoftirqdNetRxBusyNs },
    pollBusyNs: c.pollBusyNs + c.threadPollBusyNs,
    threadPollBusyNs: c.threadPollBusyNs,
    tunnelPollBusyNs: c.tunnelPollBusyNs,
    otherNapiPollBusyNs: c.otherNapiPollBusyNs,
    cryptBusyNs: c.cryptBusyNs,
    netTxBusyNs: c.netTxBusyNs,
    otherWorkBusyNs: c.otherWorkBusyNs,
  }));
}

function napisJson(facts: TimelineFacts): NapiJson[] {
  // By name (device, then napi pointer), not by first appearance in the file.
  const order = facts.napis.slice().sort((a, b) => byName(facts.labels[a.index]!, facts.labels[b.index]!) || (a.napi < b.napi ? -1 : a.napi > b.napi ? 1 : 0));
  return order.map((n) => ({
    dev: n.dev,
    napi: n.napi,
    polls: n.polls,
    work: n.work,
    fullBudgetPolls: n.fullBudgetPolls,
    busyNs: n.busyNs,
    threadedPolls: n.threadedPolls,
    role: n.role,
    roleReason: n.roleReason,
    mode: n.mode,
    modeInferred: n.modeInferred,
    homeCpu: n.homeCpu,
    stickiness: clamp01(n.stickiness),
    moves: n.moves,
    ...(n.movesLowerBound ? { movesLowerBound: true } : {}),
    cpus: n.cpus.map((c) => ({ cpu: c.cpu, polls: c.polls, busyNs: c.busyNs })),
  }));
}

function findingJson(t: Timeline, f: Finding): FindingJson {
  const start = t.capture.startNs as number;
  const base = {
    severity: f.severity,
    summary: f.summary,
    cpus: f.cpus,
    napis: f.napis,
    fromNs: bootString(t, f.fromNs),
    toNs: bootString(t, f.toNs),
    fromOffsetNs: f.fromNs - start,
    toOffsetNs: f.toNs - start,
    evidence: f.evidence,
    ...(f.recommendation === undefined ? {} : { recommendation: f.recommendation }),
    costEstimate: f.costEstimate,
    lossy: f.lossy,
  };
  // The id and its details stay paired (both come from one finding), which TypeScript cannot
  // follow across the union; AnalyzeResult's schema checks the pair before --json prints it.
  return { id: f.id, ...base, details: f.details } as FindingJson;
}

const finite = (x: number): number => (Number.isFinite(x) ? x : 0);
const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);
