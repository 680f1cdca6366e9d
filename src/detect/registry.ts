import type { Timeline } from '../timeline/types.js';
import { DETECTOR_IDS, severityRank, type Detector, type DetectContext, type DetectorId, type Finding } from './finding.js';
import { computeFacts, type TimelineFacts } from './facts.js';
import { count } from './format.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from './thresholds.js';
import { coLocation } from './detectors/co-location.js';
import { coreImbalance } from './detectors/core-imbalance.js';
import { dataQuality, dataQualityFindings } from './detectors/data-quality.js';
import { monolithicPoll } from './detectors/monolithic-poll.js';
import { napiPlacement } from './detectors/napi-placement.js';

/** The registry (devtools-frontend's insights): pure detectors with stable ids. */
export const DETECTORS: readonly Detector[] = [napiPlacement, coLocation, monolithicPoll, coreImbalance, dataQuality];

export interface DetectResult {
  findings: Finding[];
  facts: TimelineFacts;
}

export interface DetectOptions {
  thresholds?: Thresholds;
  /** Run only these detectors (default: all). */
  only?: readonly DetectorId[];
  /** For tests: replace detectors. */
  detectors?: readonly Detector[];
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
  const detectors = (opts.detectors ?? DETECTORS).filter((d) => opts.only === undefined || opts.only.includes(d.id));
  const findings: Finding[] = [];
  const failed: { id: string; message: string }[] = [];
  for (const d of detectors) {
    try {
      findings.push(...d.detect(ctx));
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
    const what = [c.lostEvents > 0 ? `${count(c.lostEvents)} events lost` : '', c.skippedLines > 0 ? `${count(c.skippedLines)} lines skipped` : '']
      .filter(Boolean)
      .join(', ');
    for (const f of findings) {
      if (f.id === 'data-quality') continue;
      f.lossy = true;
      f.summary += ` (over lossy data: ${what})`;
    }
  }
  findings.sort(compareFindings);
  return { findings, facts };
}

export function compareFindings(a: Finding, b: Finding): number {
  return (
    b.costEstimate.share - a.costEstimate.share ||
    severityRank(b.severity) - severityRank(a.severity) ||
    DETECTOR_IDS.indexOf(a.id) - DETECTOR_IDS.indexOf(b.id) ||
    (a.cpus[0] ?? -1) - (b.cpus[0] ?? -1) ||
    a.fromNs - b.fromNs ||
    (a.summary < b.summary ? -1 : a.summary > b.summary ? 1 : 0)
  );
}
