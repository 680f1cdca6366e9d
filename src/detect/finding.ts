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
 * The per-detector `details` are zod schemas so that `--json` is described by the same code
 * (src/report/schema.ts composes them). Times inside details are offsets in ns from the
 * capture's start (`*OffsetNs`); the finding's own bounds are `Ns` here and exact boot-time
 * strings in `--json`.
 */
export const DETECTOR_IDS = ['napi-placement', 'co-location', 'monolithic-poll', 'core-imbalance', 'data-quality'] as const;
export type DetectorId = (typeof DETECTOR_IDS)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type FindingSeverity = (typeof SEVERITIES)[number];

export const NapiRef = z.object({ dev: z.string(), napi: z.string() });
export type NapiRef = z.infer<typeof NapiRef>;

export const OffsetRange = z.object({ startOffsetNs: z.number(), endOffsetNs: z.number() });
export type OffsetRange = z.infer<typeof OffsetRange>;

export const PollMode = z.enum(['softirq', 'threaded', 'mixed', 'none']);
export type PollMode = z.infer<typeof PollMode>;

export const PlacementDetails = z.object({
  /** Distinct cores that ran any NAPI poll, and how many CPUs the capture has. */
  coresUsed: z.number().int(),
  cpus: z.number().int(),
  /** Share of all polls that ran in threaded-NAPI kthreads. */
  threadedPollShare: z.number(),
  napis: z.array(
    z.object({
      dev: z.string(),
      napi: z.string(),
      mode: PollMode,
      /** Windows mode: the mode is the device's threaded flag, not observed. */
      modeInferred: z.boolean(),
      /** /sys/class/net/<dev>/threaded from the capture header, when recorded. */
      devThreaded: z.number().int().optional(),
      polls: z.number(),
      busyNs: z.number(),
      homeCpu: z.number().int(),
      /** Share of this NAPI's poll time on its home core. */
      stickiness: z.number(),
      moves: z.number().int(),
      wanders: z.boolean(),
      cpus: z.array(z.object({ cpu: z.number().int(), polls: z.number(), busyNs: z.number() })),
    }),
  ),
});
export type PlacementDetails = z.infer<typeof PlacementDetails>;

export const ColocationDetails = z.object({
  cpu: z.number().int(),
  /** Windows in which two or more of these NAPIs loaded the core, and their total length. */
  windows: z.number().int(),
  durationNs: z.number(),
  /** Share of the probed span (see the capture's probedNs) those windows cover. */
  captureShare: z.number(),
  ranges: z.array(OffsetRange),
  /** Share of the core's time in those windows taken by the group's polls. */
  coreShare: z.number(),
  /** The core's utilization in those windows. */
  coreUtilization: z.number(),
  /** Polls ran in threaded-NAPI kthreads (the scheduler could move them but did not). */
  mode: PollMode,
  members: z.array(z.object({ dev: z.string(), napi: z.string(), busyNs: z.number(), polls: z.number(), packets: z.number(), devThreaded: z.number().int().optional() })),
  /** Time one NAPI waited on this core while another's poll ran (it was still scheduled). */
  waits: z.array(z.object({ waiter: NapiRef, waitedFor: NapiRef, ns: z.number() })),
  waitedNs: z.number(),
  /** Packets the waiting NAPIs would have forwarded in that time at their own measured rate. */
  lostPackets: z.number(),
});
export type ColocationDetails = z.infer<typeof ColocationDetails>;

export const MonolithicNapi = z.object({
  cpu: z.number().int(),
  dev: z.string(),
  napi: z.string(),
  /** Chains of at least `monolithicMinChainPolls` polls (from the log2 histogram). */
  chains: z.number().int(),
  /** Windows-mode capture: no poll order, so the chain is inferred from per-window counts. */
  inferredFromWindows: z.boolean(),
  /** All chains of 2+ full-budget polls on this core. */
  allChains: z.number().int(),
  chainPolls: z.number(),
  /** Time the chains span (first poll's start to last poll's end; other NAPIs' polls in between included). */
  chainNs: z.number(),
  meanChainNs: z.number(),
  /** chainNs over the probed span (the capture's probedNs). */
  coreShare: z.number(),
  /** This NAPI's own poll time on this core. */
  ownBusyNs: z.number(),
  fullBudgetShare: z.number(),
  lengthHistogram: z.array(z.object({ minPolls: z.number().int(), maxPolls: z.number().int(), chains: z.number().int() })),
  longest: z.array(z.object({ startOffsetNs: z.number(), endOffsetNs: z.number(), polls: z.number(), durationNs: z.number() })),
  /** Other NAPIs that waited behind this one on this core. */
  blocked: z.array(z.object({ dev: z.string(), napi: z.string(), ns: z.number() })),
  mode: PollMode,
});
export type MonolithicNapi = z.infer<typeof MonolithicNapi>;

export const MonolithicCore = z.object({
  cpu: z.number().int(),
  /** The core's busy share over the capture. */
  coreUtilization: z.number(),
  /** NET_RX on this core that ran in ksoftirqd/N (the softirq was deferred: the core is saturated). */
  ksoftirqdNetRxCount: z.number(),
  ksoftirqdNetRxBusyNs: z.number(),
  ksoftirqdShare: z.number(),
});
export type MonolithicCore = z.infer<typeof MonolithicCore>;

/**
 * One finding per core with every NAPI whose polls turned monolithic there; threaded polls
 * that hold only their own thread (nobody waits, no ksoftirqd) are one informational finding
 * over all their cores.
 */
export const MonolithicDetails = z.object({
  cores: z.array(MonolithicCore),
  napis: z.array(MonolithicNapi),
});
export type MonolithicDetails = z.infer<typeof MonolithicDetails>;

export const ImbalanceDetails = z.object({
  maxCpu: z.number().int(),
  maxUtilization: z.number(),
  meanUtilization: z.number(),
  ratio: z.number(),
  /** Cores busier than `saturatedUtil` in at least one window, and for how long. */
  saturated: z.array(z.object({ cpu: z.number().int(), saturatedNs: z.number(), utilization: z.number() })),
  idle: z.array(z.number().int()),
  /** Time (and share of the capture) with a saturated core beside an idle one in the same window. */
  besideIdleNs: z.number(),
  besideIdleShare: z.number(),
  ranges: z.array(OffsetRange),
});
export type ImbalanceDetails = z.infer<typeof ImbalanceDetails>;

export const DataQualityDetails = z.object({
  events: z.number(),
  lostEvents: z.number(),
  lostShare: z.number(),
  lines: z.number().optional(),
  skippedLines: z.number(),
  clampedSlices: z.number(),
  headerMissing: z.boolean(),
  cpusGuessed: z.boolean(),
  status: z.string(),
  /** Detectors that threw; the report went on without them. */
  failedDetectors: z.array(z.object({ id: z.string(), message: z.string() })),
  problems: z.array(z.string()),
});
export type DataQualityDetails = z.infer<typeof DataQualityDetails>;

export const Recommendation = z.object({
  text: z.string(),
  /** Shell commands to run on the gateway, when there is one to run. */
  commands: z.array(z.string()),
  /** From src/replay when available: what the change would buy on this capture, as the ratio of the model with the change to the model without it. */
  predictedGain: z
    .object({ model: z.string(), throughputRatio: z.number(), text: z.string() })
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

interface FindingBase {
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

export type Finding =
  | (FindingBase & { id: 'napi-placement'; details: PlacementDetails })
  | (FindingBase & { id: 'co-location'; details: ColocationDetails })
  | (FindingBase & { id: 'monolithic-poll'; details: MonolithicDetails })
  | (FindingBase & { id: 'core-imbalance'; details: ImbalanceDetails })
  | (FindingBase & { id: 'data-quality'; details: DataQualityDetails });

/** What every detector receives: the timeline, the thresholds, and facts computed once. */
export interface DetectContext {
  timeline: Timeline;
  thresholds: Thresholds;
  facts: TimelineFacts;
}

export interface Detector {
  id: DetectorId;
  /** One line: what the detector looks for (docs/findings.md says more). */
  title: string;
  detect(ctx: DetectContext): Finding[];
}

const SEVERITY_RANK: Record<FindingSeverity, number> = { info: 0, warning: 1, critical: 2 };
export const severityRank = (s: FindingSeverity): number => SEVERITY_RANK[s];
