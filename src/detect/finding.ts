import { z } from 'zod';
import type { Ns } from '../base/time.js';
import type { Timeline } from '../timeline/types.js';
import type { Thresholds } from './thresholds.js';
import type { TimelineFacts } from './facts.js';

/**
 * One result shape for every detector (devtools-frontend's insights): a stable id, a severity,
 * a one-line summary, the evidence (cores, tunnels, time range, per-detector details), a
 * recommendation, and an estimate of the throughput it costs so findings can be ranked.
 *
 * Each detector file exports its own zod `details` schema and carries it on the detector, so
 * that `--json` is described by the same code: the `Finding` union (registry.ts) and the
 * `--json` schema (src/report/schema.ts) are derived from the registry. Times inside details
 * are offsets in ns from the capture's start (`*OffsetNs`); the finding's own bounds are `Ns`
 * here and exact boot-time strings in `--json`.
 */
export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type FindingSeverity = (typeof SEVERITIES)[number];

export const NapiRef = z.object({ dev: z.string(), napi: z.string() });
export type NapiRef = z.infer<typeof NapiRef>;

export const OffsetRange = z.object({ startOffsetNs: z.number(), endOffsetNs: z.number() });
export type OffsetRange = z.infer<typeof OffsetRange>;

export const Recommendation = z.object({
  text: z.string(),
  /** Shell commands to run on the gateway, when there is one to run. */
  commands: z.array(z.string()),
  /** From src/replay when available: what the change would buy on this capture, as the ratio of the model with the change to the model without it. */
  predictedGain: z
    .object({ model: z.string(), throughputRatio: z.number().nullable(), throughputRatioInterval: z.object({ low: z.number(), point: z.number(), high: z.number() }).optional(), text: z.string() })
    .optional(),
});
export type Recommendation = z.infer<typeof Recommendation>;

export const CostEstimate = z.object({
  /** Estimated share (0..1) of the gateway's measured receive throughput this costs. */
  share: z.number(),
  /** How the estimate was made, in words. */
  basis: z.string(),
});
export type CostEstimate = z.infer<typeof CostEstimate>;

export interface FindingBase {
  severity: FindingSeverity;
  summary: string;
  cpus: number[];
  napis: NapiRef[];
  fromNs: Ns;
  toNs: Ns;
  /** Human-readable evidence lines (deterministic; the text report prints them). */
  evidence: string[];
  recommendation?: Recommendation;
  costEstimate: CostEstimate;
  /** Computed over a capture that lost events or skipped lines: figures are lower bounds. */
  lossy: boolean;
}

/** A finding of detector `Id`, with that detector's details. */
export type FindingOf<Id extends string, Details> = FindingBase & { id: Id; details: Details };

/** What every detector receives: the timeline, the thresholds, and facts computed once. */
export interface DetectContext {
  timeline: Timeline;
  thresholds: Thresholds;
  facts: TimelineFacts;
}

/**
 * A detector: a stable id, a title, the zod schema of its findings' `details` (the `--json`
 * schema is built from it) and a pure function from the context to its findings.
 */
export interface Detector<Id extends string = string, Details extends z.ZodType = z.ZodType> {
  id: Id;
  /** One line: what the detector looks for (docs/findings.md says more). */
  title: string;
  details: Details;
  detect(ctx: DetectContext): FindingOf<Id, z.infer<Details>>[];
}

/** Any detector, as the registry holds them. */
export type AnyDetector = Detector<string, z.ZodType>;

/** Declares a detector keeping its literal id and its details type (what the registry derives the union from). */
export const defineDetector = <const Id extends string, Details extends z.ZodType>(d: Detector<Id, Details>): Detector<Id, Details> => d;

const SEVERITY_RANK: Record<FindingSeverity, number> = { info: 0, warning: 1, critical: 2 };
export const severityRank = (s: FindingSeverity): number => SEVERITY_RANK[s];
