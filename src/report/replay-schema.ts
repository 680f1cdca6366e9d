import { z } from 'zod';

/**
 * The `--json` output of `wgtrace replay`, described by zod; the text view renders the same
 * object. Bump the version on any change a consumer could notice.
 */
export const REPLAY_VERSION = 2;

const Util = z.number().min(0).max(1);
const Rate = z.number().nonnegative();

export const CpuUtil = z.object({ cpu: z.number().int(), utilization: Util });

export const TunnelRate = z.object({
  dev: z.string(),
  napi: z.string(),
  throughputPps: Rate,
  /** Where the poll ran (measured: most of its poll time; models: at the end of the run). */
  pollCore: z.number().int(),
  rxCore: z.number().int(),
});

export const Measured = z.object({
  cpus: z.array(CpuUtil),
  maxCpuUtilization: Util,
  busiestCpu: z.number().int(),
  throughputPps: Rate,
  tunnels: z.array(TunnelRate),
  jainFairness: z.number().min(0).max(1),
});

/** A model's result: the same figures as the measurement, then what it changes. */
export const ModelJson = z.object({
  model: z.enum(['stock', 'threaded', 'inline']),
  ...Measured.shape,
  /** throughputPps / measured - 1; null when nothing was measured. */
  changeVsMeasured: z.number().nullable(),
  /** Packets/s over the parameters' ranges, the costs' bootstrap spread and (random placement) the Monte Carlo p5..p95. */
  throughputInterval: z.object({ low: Rate, point: Rate, high: Rate }),
  /** Per core, its utilization over the same ranges. */
  cpuIntervals: z.array(z.object({ cpu: z.number().int(), low: Util, point: Util, high: Util })),
  /** The same over the measured throughput of the traffic window; null when nothing was measured. */
  vsMeasured: z.object({ low: Rate, point: Rate, high: Rate }).nullable(),
  /** Stock: time from the surge start until every poll was stuck; null if not within the horizon. */
  convergenceNs: z.number().nullable(),
  pollCores: z.number().int(),
  moves: z.number().int(),
  initialCollision: z.boolean(),
  /** `median-run`: the Monte Carlo run with the median throughput; `measured-rss`: Inline on the measured RSS cores. */
  basis: z.enum(['median-run', 'measured-rss']),
  verdict: z.string(),
});

const Dist = z.object({ p5: Rate, p50: Rate, p95: Rate, mean: Rate });

export const ReplayJson = z.object({
  version: z.literal(REPLAY_VERSION),
  file: z.string(),
  options: z.object({
    models: z.array(z.enum(['stock', 'threaded', 'inline'])),
    runs: z.number().int(),
    seed: z.number().int(),
    demand: z.enum(['elastic', 'measured']),
    utilization: z.enum(['whole', 'traced', 'proc-stat']),
    untraced: z.enum(['auto', 'coupled', 'fixed']),
    stepNs: z.number(),
    horizonNs: z.number(),
    balanceIntervalNs: z.number(),
    migrationCostNs: z.number(),
    threadedOverheadRatio: z.number(),
    inlineLocalityGain: z.number(),
  }),
  tunnels: z.number().int(),
  cores: z.number().int(),
  /** Length of the traffic window the rates are averaged over (ns). */
  durationNs: z.number(),
  /** The stretch that carried the tunnels' traffic, ns from the capture start; null when none did. */
  trafficWindow: z.object({ fromNs: z.number(), toNs: z.number() }).nullable(),
  /** How the untraced busy time is replayed: coupled to the tunnels' packets, fixed, or unknown (no whole-core busy). */
  untraced: z.enum(['coupled', 'fixed', 'unknown']),
  /** Poll placement: random (Monte Carlo) or as observed (veth: the sending CPU). */
  placement: z.enum(['random', 'observed']),
  threaded: z.boolean().nullable(),
  /** Models that cannot predict this capture: `cannot predict: <reason>`. */
  abstained: z.array(z.object({ model: z.enum(['stock', 'threaded', 'inline']), reason: z.string() })),
  /** Every parameter the models used, its range and where it comes from. */
  parameters: z.array(
    z.object({
      name: z.string(),
      value: z.number(),
      low: z.number(),
      high: z.number(),
      unit: z.string(),
      basis: z.enum(['measured', 'kernel-mechanism', 'calibrated', 'fitted-to-paper', 'option']),
      source: z.string(),
    }),
  ),
  /** Per-core utilization over the traffic window: whole-core busy where the capture tells it (idle records or /proc/stat). */
  measured: Measured,
  /**
   * The cores' whole busy share (not idle, as mpstat counts it) over the same span, the figure
   * analyze prints: the models replay the traced work only (`measured.cpus`).
   */
  coreBusy: z.array(z.object({ cpu: z.number().int(), coreBusy: Util, coreBusySource: z.enum(['idle-events', 'proc-stat', 'traced']) })),
  models: z.array(ModelJson),
  calibrationError: z.object({
    meanAbsolute: z.number().nonnegative(),
    maxAbsolute: z.number().nonnegative(),
    throughputRatio: z.number().nonnegative(),
    perCpu: z.array(z.object({ cpu: z.number().int(), predicted: Util, measured: Util, error: z.number() })),
    warn: z.boolean(),
  }),
  monteCarlo: z.object({
    runs: z.number().int(),
    seed: z.number().int(),
    tunnels: z.number().int(),
    cores: z.number().int(),
    collisionProbability: z.number().min(0).max(1),
    collisionProbabilityClosedForm: z.number().min(0).max(1),
    throughputPps: Dist,
    models: z.array(
      z.object({
        model: z.enum(['stock', 'threaded', 'inline']),
        throughputPps: Dist,
        collisionProbability: z.number().min(0).max(1),
        convergedFraction: z.number().min(0).max(1).nullable(),
        convergenceNs: Dist.nullable(),
        singleCoreFraction: z.number().min(0).max(1).nullable(),
      }),
    ),
  }),
  assumptions: z.array(z.object({ code: z.string(), message: z.string() })),
  warnings: z.array(z.string()),
});
export type ReplayJson = z.infer<typeof ReplayJson>;
