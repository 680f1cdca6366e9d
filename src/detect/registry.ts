import type { Timeline } from '../timeline/types.js';
import { severityRank, type AnyDetector, type DetectContext } from './finding.js';
import { computeFacts, type TimelineFacts } from './facts.js';
import { count } from './format.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from './thresholds.js';
import { coLocation } from './detectors/co-location.js';
import { coreImbalance } from './detectors/core-imbalance.js';
import { dataQuality, dataQualityFindings } from './detectors/data-quality.js';
import { monolithicPoll } from './detectors/monolithic-poll.js';
import { napiPlacement } from './detectors/napi-placement.js';

/**
 * The registry (devtools-frontend's insights): pure detectors with stable ids. A new detector
 * is one file in detectors/ (its details schema and `defineDetector({...})`) and one entry
 * here: the `Finding` union below, the `--json` schema (src/report/schema.ts) and the
 * report's order of equal findings follow from this list.
 */
export const DETECTORS = [napiPlacement, coLocation, monolithicPoll, coreImbalance, dataQuality] as const satisfies readonly AnyDetector[];

/** The findings a list of detectors yields: one member per detector, its id with its details. */
export type FindingsOf<R extends readonly AnyDetector[]> = ReturnType<R[number]['detect']>[number];
export type Finding = FindingsOf<typeof DETECTORS>;
export type DetectorId = Finding['id'];
export const DETECTOR_IDS: readonly DetectorId[] = DETECTORS.map((d) => d.id);

export interface DetectResult {
  findings: Finding[];
  facts: TimelineFacts;
}

export interface DetectOptions {
  thresholds?: Thresholds;
  /** Run only these detectors (default: all). */
  only?: readonly DetectorId[];
  /** For tests: replace detectors (their findings are typed as the registry's). */
  detectors?: readonly AnyDetector[];
  /** `--tunnels GLOB` (facts.ts: napiRole). */
  tunnels?: string;
}

/**
 * Runs every detector over one timeline. A detector that throws does not sink the report: its
 * failure becomes part of a data-quality finding. Findings computed over a lossy capture are
 * marked and say so in their summary. The order is the report's: by the throughput they cost,
 * then severity, then detector, core and time, so it is deterministic.
 */
export function runDetectors(timeline: Timeline, opts: DetectOptions = {}): DetectResult {
  const thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
  const facts = computeFacts(timeline, opts.tunnels !== undefined ? { tunnels: opts.tunnels } : {});
  const ctx: DetectContext = { timeline, thresholds, facts };
  const detectors = (opts.detectors ?? DETECTORS).filter((d) => opts.only === undefined || (opts.only as readonly string[]).includes(d.id));
  const findings: Finding[] = [];
  const failed: { id: string; message: string }[] = [];
  for (const d of detectors) {
    try {
      // A replaced detector (tests) yields findings of its own shape; the registry's yield `Finding`.
      findings.push(...(d.detect(ctx) as Finding[]));
    } catch (e) {
      failed.push({ id: d.id, message: e instanceof Error ? e.message : String(e) });
    }
  }
  if (failed.length > 0) {
    // Fold the failures into the data-quality finding (or make one when it ran clean or failed).
    const i = findings.findIndex((f) => f.id === 'data-quality');
    if (i >= 0) findings.splice(i, 1);
    try {
      findings.push(...dataQualityFindings(ctx, failed));
    } catch {
      findings.push({
        id: 'data-quality',
        severity: 'warning',
        summary: `${failed.length} detector(s) failed: ${failed.map((f) => f.id).join(', ')}`,
        cpus: [],
        napis: [],
        fromNs: timeline.capture.startNs,
        toNs: timeline.capture.endNs,
        evidence: failed.map((f) => `detector ${f.id} failed and was skipped: ${f.message}`),
        costEstimate: { share: 0, basis: 'not a throughput cost' },
        lossy: facts.lossy,
        details: {
          events: timeline.capture.events,
          lostEvents: timeline.capture.lostEvents,
          lostShare: 0,
          skippedLines: timeline.capture.skippedLines,
          clampedSlices: timeline.capture.clampedSlices,
          headerMissing: timeline.capture.header === undefined,
          cpusGuessed: timeline.capture.cpusGuessed,
          status: timeline.capture.header?.status ?? 'unknown',
          failedDetectors: failed,
          problems: [],
        },
      });
    }
  }
  if (facts.lossy) {
    const c = timeline.capture;
    const what = [c.lostEvents > 0 ? `${count(c.lostEvents)} events lost` : '', c.skippedLines > 0 ? `${count(c.skippedLines)} lines skipped` : ''].filter(Boolean).join(', ');
    for (const f of findings) {
      if (f.id === 'data-quality') continue;
      f.lossy = true;
      f.summary += ` (over lossy data: ${what})`;
    }
  }
  findings.sort(compareFindings);
  return { findings, facts };
}

const detectorRank = (id: string): number => (DETECTOR_IDS as readonly string[]).indexOf(id);

export function compareFindings(a: Finding, b: Finding): number {
  return (
    b.costEstimate.share - a.costEstimate.share ||
    severityRank(b.severity) - severityRank(a.severity) ||
    detectorRank(a.id) - detectorRank(b.id) ||
    (a.cpus[0] ?? -1) - (b.cpus[0] ?? -1) ||
    a.fromNs - b.fromNs ||
    (a.summary < b.summary ? -1 : a.summary > b.summary ? 1 : 0)
  );
}
