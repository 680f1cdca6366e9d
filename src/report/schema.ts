import { z } from 'zod';
import { CostEstimate, NapiRef, Recommendation, SEVERITIES, type AnyDetector } from '../detect/finding.js';
import { PollMode } from '../detect/facts.js';
import { DETECTORS } from '../detect/registry.js';

/**
 * The `--json` output of `wgtrace analyze` and `wgtrace diff`, described by zod (the Firefox
 * profiler CLI's protocol.ts: commands return typed results, `--json` prints the same object).
 * docs/analyze.schema.json is generated from these (`npm run schema`; a unit test fails when it
 * is stale). Bump the version on any change a consumer could notice.
 */
export const ANALYZE_VERSION = 2;
export const DIFF_VERSION = 2;

/** Boot-time nanoseconds, exact, as a decimal string (past 2^53 after ~104 days of uptime). */
export const BootNsString = z
  .string()
  .regex(/^-?\d+$/)
  .describe('nanoseconds since boot, decimal string (exact)');

const Share = z.number().min(0).max(1);

export const CaptureJson = z.object({
  format: z.string(),
  mode: z.enum(['events', 'windows']),
  /** Number of online CPUs (idle ones included); `cpuList` names them. */
  cpus: z.number().int().nonnegative(),
  cpuList: z.string(),
  cpusGuessed: z.boolean(),
  startNs: BootNsString,
  endNs: BootNsString,
  durationNs: z.number().nonnegative(),
  /**
   * The part of the capture the probes observed (probes attached to detached, widened to any
   * activity outside): per-core utilization, shares and rates are over this span. bpftrace can
   * take seconds to attach after the capture's start was written.
   */
  probedNs: z.number().nonnegative(),
  probedFromOffsetNs: z.number().nonnegative(),
  windowNs: z.number().positive(),
  /** Present only when the window was widened to keep memory bounded: the window asked for (windowNs is the one used). */
  windowAskedNs: z.number().positive().optional(),
  events: z.number().int().nonnegative(),
  lostEvents: z.number().int().nonnegative(),
  skippedLines: z.number().int().nonnegative(),
  clampedSlices: z.number().int().nonnegative(),
  status: z.enum(['complete', 'interrupted', 'partial', 'unknown']),
  hostname: z.string().optional(),
  kernel: z.string().optional(),
  devices: z.array(z.object({ name: z.string(), kind: z.string(), threaded: z.number().int().optional() })),
  /** The capture's device filter (`#@devices_glob`), when the header gives it. */
  devicesGlob: z.string().optional(),
  /** Devices seen polled that the device filter left out (our scripts' `@untraced`). */
  untracedDevices: z.array(z.string()).optional(),
});
export type CaptureJson = z.infer<typeof CaptureJson>;

export const CpuJson = z.object({
  cpu: z.number().int().nonnegative(),
  /**
   * The core's whole busy share of the probed span (not idle, as mpstat counts it), 0..1, and
   * where it comes from: the capture's idle records (`idle-events`), the header's /proc/stat
   * before and after (`proc-stat`), or, with neither, only the traced work (`traced`, a lower bound).
   */
  coreBusy: Share,
  coreBusyNs: z.number().nonnegative(),
  coreBusySource: z.enum(['idle-events', 'proc-stat', 'traced']),
  /**
   * idle-events only: the idle records matched to the kernel's idle accounting. The kernel counts
   * a few us of every idle period busy (the switch in and out, irqs, the tick's stop and restart;
   * kernel/time/tick-sched.c), so the records are fitted to /proc/stat over `fitNs` (the part of
   * the probed span its snapshots cover) by taking `perPeriodNs` off each of the `periods` idle
   * periods; `applied` false says why not in `reason` (docs/findings.md, "Whole-core busy time").
   */
  idleCalibration: z
    .object({
      applied: z.boolean(),
      fitNs: z.number().nonnegative(),
      idleTaskNs: z.number().nonnegative(),
      periods: z.number().nonnegative(),
      kernelIdleNs: z.number().nonnegative().optional(),
      perPeriodNs: z.number().optional(),
      restoredNs: z.number().nonnegative().optional(),
      reason: z.string().optional(),
    })
    .optional(),
  /**
   * What mpstat prints over the header's /proc/stat span: busy fields over all fields. Its busy
   * fields are tick samples, which miss bursts shorter than a tick (4 ms at HZ=250) between idle
   * periods; coreBusy follows the kernel's idle clock (idle and iowait over the span's length).
   */
  mpstatBusy: Share.optional(),
  /** Busy share of the probed span of the traced work only (union of everything traced), 0..1. */
  utilization: Share,
  /** coreBusyNs less the traced union: what the trace does not explain (user tasks, other softirqs, ...). */
  untracedBusyNs: z.number().nonnegative(),
  netRx: z.object({
    count: z.number().nonnegative(),
    busyNs: z.number().nonnegative(),
    ksoftirqdCount: z.number().nonnegative(),
    ksoftirqdBusyNs: z.number().nonnegative(),
  }),
  /** All NAPI poll time on this core: in NET_RX softirq plus in threaded-NAPI kthreads. */
  pollBusyNs: z.number().nonnegative(),
  /** The part of pollBusyNs that ran in napi/<dev>-<id> kthreads. */
  threadPollBusyNs: z.number().nonnegative(),
  /** pollBusyNs split by the NAPI's role: tunnels, and other NAPIs (backlog, NIC queues). */
  tunnelPollBusyNs: z.number().nonnegative(),
  otherNapiPollBusyNs: z.number().nonnegative(),
  cryptBusyNs: z.number().nonnegative(),
  netTxBusyNs: z.number().nonnegative(),
  otherWorkBusyNs: z.number().nonnegative(),
});
export type CpuJson = z.infer<typeof CpuJson>;

export const NapiJson = z.object({
  dev: z.string(),
  napi: z.string().regex(/^0x[0-9a-f]+$/),
  polls: z.number().nonnegative(),
  work: z.number().nonnegative(),
  fullBudgetPolls: z.number().nonnegative(),
  busyNs: z.number().nonnegative(),
  threadedPolls: z.number().nonnegative(),
  /** `tunnel`: a tunnel's NAPI (the findings are about these); `other`: backlog, NIC queues, ... (load only). */
  role: z.enum(['tunnel', 'other']),
  roleReason: z.string(),
  mode: PollMode,
  /** Windows-mode capture: `mode` is the device's threaded flag from the header, not observed. */
  modeInferred: z.boolean(),
  homeCpu: z.number().int(),
  stickiness: Share,
  moves: z.number().int().nonnegative(),
  /** The moves are a lower bound: two CPUs' polls overlapped in time but arrived in separate runs (timeline/napi-acc.ts: settleMoves). */
  movesLowerBound: z.boolean().optional(),
  cpus: z.array(z.object({ cpu: z.number().int(), polls: z.number(), busyNs: z.number() })),
});
export type NapiJson = z.infer<typeof NapiJson>;

const findingBase = {
  severity: z.enum(SEVERITIES),
  summary: z.string(),
  cpus: z.array(z.number().int()),
  napis: z.array(NapiRef),
  fromNs: BootNsString,
  toNs: BootNsString,
  /** The same bounds as offsets from the capture start. */
  fromOffsetNs: z.number(),
  toOffsetNs: z.number(),
  evidence: z.array(z.string()),
  recommendation: Recommendation.optional(),
  costEstimate: CostEstimate,
  lossy: z.boolean(),
};

/** One detector's finding in `--json`: the common fields, its id, and its own details schema. */
const findingJsonOf = <D extends AnyDetector>(d: D) => z.object({ id: z.literal(d.id), ...findingBase, details: d.details });
type FindingJsonOf<D extends AnyDetector> = z.ZodObject<{ id: z.ZodLiteral<D['id']> } & typeof findingBase & { details: D['details'] }, z.core.$strip>;

/**
 * The `--json` finding union of a list of detectors, one member per detector (in the
 * registry's order). The cast only restates, per tuple element, what `map` built: TypeScript
 * does not map over a tuple's elements by itself.
 */
export function findingJsonSchema<const R extends readonly [AnyDetector, ...AnyDetector[]]>(detectors: R) {
  return z.discriminatedUnion('id', detectors.map(findingJsonOf) as unknown as { -readonly [K in keyof R]: FindingJsonOf<R[K]> });
}

export const FindingJson = findingJsonSchema(DETECTORS);
export type FindingJson = z.infer<typeof FindingJson>;

/** The replay models' predictions over this capture (src/replay), when they ran. */
export const PredictionJson = z.object({
  runs: z.number().int(),
  seed: z.number().int(),
  /** The tunnels' packets/s in the replay's traffic window (the stretch that carried traffic). */
  measuredPps: z.number(),
  models: z
    .array(
      z.object({
        model: z.string(),
        throughputPps: z.number(),
        ratio: z.number(),
        maxCpuUtilization: z.number(),
        /** Predicted over measured throughput: the interval of replay --json's vsMeasured. */
        vsMeasured: z.object({ low: z.number(), point: z.number(), high: z.number() }).optional(),
      }),
    )
    .optional(),
  /** Models that cannot predict this capture, and why (replay --json's abstained). */
  abstained: z.array(z.object({ model: z.string(), reason: z.string() })).optional(),
  /** Mean absolute per-core error of the stock model replaying the observed placements. */
  calibrationMae: z.number().optional(),
  warnings: z.array(z.string()),
  error: z.string().optional(),
});
export type PredictionJson = z.infer<typeof PredictionJson>;

export const AnalyzeResult = z.object({
  version: z.literal(ANALYZE_VERSION),
  /** The input as the user named it. */
  file: z.string(),
  capture: CaptureJson,
  cpus: z.array(CpuJson),
  napis: z.array(NapiJson),
  /** Ranked by the share of throughput they cost, then severity. */
  findings: z.array(FindingJson),
  prediction: PredictionJson.optional(),
  thresholds: z.record(z.string(), z.number()),
});
export type AnalyzeResult = z.infer<typeof AnalyzeResult>;

const Delta = z.object({ before: z.number(), after: z.number(), delta: z.number() });

export const DiffResult = z.object({
  version: z.literal(DIFF_VERSION),
  before: z.object({ file: z.string(), capture: CaptureJson }),
  after: z.object({ file: z.string(), capture: CaptureJson }),
  cpus: z.array(
    z.object({
      cpu: z.number().int(),
      /** The core's whole busy share (not idle), as analyze's cpus[].coreBusy. */
      coreBusy: Delta,
      /** The traced work's share (analyze's cpus[].utilization). */
      utilization: Delta,
      pollBusyShare: Delta,
      threadPollBusyShare: Delta,
      cryptBusyShare: Delta,
      netRxBusyShare: Delta,
      ksoftirqdNetRxCount: Delta,
    }),
  ),
  napis: z.array(
    z.object({
      dev: z.string(),
      napi: z.string(),
      /** Present in before / after. */
      in: z.enum(['both', 'before', 'after']),
      packetsPerSec: Delta,
      pollsPerSec: Delta,
      busyShare: Delta,
      fullBudgetShare: Delta,
      homeCpu: z.object({ before: z.number().int(), after: z.number().int() }),
      modeBefore: PollMode,
      modeAfter: PollMode,
    }),
  ),
  totals: z.object({ packetsPerSec: Delta, meanUtilization: Delta, maxUtilization: Delta, coresWithPolls: Delta }),
  findings: z.object({
    appeared: z.array(z.object({ id: z.string(), severity: z.string(), key: z.string(), summary: z.string() })),
    gone: z.array(z.object({ id: z.string(), severity: z.string(), key: z.string(), summary: z.string() })),
    kept: z.array(z.object({ id: z.string(), key: z.string(), severityBefore: z.string(), severityAfter: z.string(), summary: z.string() })),
  }),
});
export type DiffResult = z.infer<typeof DiffResult>;
