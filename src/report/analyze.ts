import type { Timeline } from '../timeline/types.js';
import { loadTimeline } from '../timeline/load.js';
import type { FormatName } from '../import/types.js';
import type { Finding } from '../detect/finding.js';
import { runDetectors } from '../detect/registry.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../detect/thresholds.js';
import type { TimelineFacts } from '../detect/facts.js';
import { formatCpuList } from '../model/capture-text.js';
import { ANALYZE_VERSION, type AnalyzeResult, type CaptureJson, type CpuJson, type FindingJson, type NapiJson } from './schema.js';

/**
 * `wgtrace analyze` as a function: a timeline in, the result object out (validated by the zod
 * schema in the CLI for --json, rendered as text by analyze-text.ts). Pure and deterministic:
 * nothing here reads the clock or the environment.
 */
export interface AnalyzeOptions {
  /** The input as the user named it. */
  file: string;
  thresholds?: Thresholds;
}

export function analyzeTimeline(t: Timeline, opts: AnalyzeOptions): AnalyzeResult {
  const thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
  const { findings, facts } = runDetectors(t, { thresholds });
  return {
    version: ANALYZE_VERSION,
    file: opts.file,
    capture: captureJson(t),
    cpus: cpusJson(facts),
    napis: napisJson(facts),
    findings: findings.map((f) => findingJson(t, f)),
    thresholds: { ...thresholds },
  };
}

export function bootString(t: Timeline, relNs: number): string {
  return (t.capture.origin + BigInt(Math.round(relNs))).toString();
}

export function captureJson(t: Timeline): CaptureJson {
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
    windowNs: t.windowNs,
    events: c.events,
    lostEvents: c.lostEvents,
    skippedLines: c.skippedLines,
    clampedSlices: c.clampedSlices,
    status: h?.status ?? (h === undefined ? 'unknown' : 'partial'),
    ...(h?.hostname === undefined ? {} : { hostname: h.hostname }),
    ...(h?.kernel === undefined ? {} : { kernel: h.kernel }),
    devices: (h?.devices ?? []).map((d) => ({ name: d.name, kind: d.kind, ...(d.threaded === undefined ? {} : { threaded: d.threaded }) })),
  };
}

function cpusJson(facts: TimelineFacts): CpuJson[] {
  return facts.cores.map((c) => ({
    cpu: c.cpu,
    utilization: clamp01(c.utilization),
    netRx: { count: c.netRxCount, busyNs: c.netRxBusyNs, ksoftirqdCount: c.ksoftirqdNetRxCount, ksoftirqdBusyNs: c.ksoftirqdNetRxBusyNs },
    pollBusyNs: c.pollBusyNs + c.threadPollBusyNs,
    threadPollBusyNs: c.threadPollBusyNs,
    cryptBusyNs: c.cryptBusyNs,
    netTxBusyNs: c.netTxBusyNs,
    otherWorkBusyNs: c.otherWorkBusyNs,
  }));
}

function napisJson(facts: TimelineFacts): NapiJson[] {
  return facts.napis.map((n) => ({
    dev: n.dev,
    napi: n.napi,
    polls: n.polls,
    work: n.work,
    fullBudgetPolls: n.fullBudgetPolls,
    busyNs: n.busyNs,
    threadedPolls: n.threadedPolls,
    mode: n.mode,
    homeCpu: n.homeCpu,
    stickiness: clamp01(n.stickiness),
    moves: n.moves,
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
  // Spelled out per id so the discriminated union type-checks.
  switch (f.id) {
    case 'napi-placement':
      return { id: f.id, ...base, details: f.details };
    case 'co-location':
      return { id: f.id, ...base, details: f.details };
    case 'monolithic-poll':
      return { id: f.id, ...base, details: f.details };
    case 'core-imbalance':
      return { id: f.id, ...base, details: f.details };
    case 'data-quality':
      return { id: f.id, ...base, details: f.details };
  }
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

export interface AnalyzeCaptureOptions {
  format?: FormatName;
  strict?: boolean;
  /** Aggregation window in ns (default: the timeline's 10 ms, or the capture's interval). */
  windowNs?: number;
  thresholds?: Thresholds;
  onProgress?: (bytes: number) => void;
}

/** Loads a capture file (or `-`) and analyses it: what `wgtrace analyze` computes. */
export async function analyzeCapture(path: string, opts: AnalyzeCaptureOptions = {}): Promise<{ result: AnalyzeResult; timeline: Timeline }> {
  const timeline = await loadTimeline(path, {
    ...(opts.format !== undefined ? { format: opts.format } : {}),
    ...(opts.strict !== undefined ? { strict: opts.strict } : {}),
    ...(opts.windowNs !== undefined ? { windowNs: opts.windowNs } : {}),
    ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
  });
  return { result: analyzeTimeline(timeline, { file: path, ...(opts.thresholds ? { thresholds: opts.thresholds } : {}) }), timeline };
}
