import { z } from 'zod';
import { MODEL_NAMES } from './types.js';

/**
 * Every knob of the replay models, merged over named defaults (Chrome DevTools' lantern
 * simulator does the same). Each default says why it has the value it has; docs/models.md
 * repeats them.
 */

/** Model time step. 1 ms: a non-saturated WireGuard poll drains and is re-scheduled many times per ms, so one re-placement per step is the slowest plausible pace. */
export const DEFAULT_STEP_NS = 1_000_000;
/** Length of the simulated surge. 1 s: the stock model converges in about 100 steps on 16 tunnels; the last quarter of the horizon is the steady state. */
export const DEFAULT_HORIZON_NS = 1_000_000_000;
/**
 * CFS load-balancing interval for threaded NAPI. kernel/sched/fair.c balances a domain every
 * sd->balance_interval ms (starting at the domain's weight in CPUs, i.e. a few ms on small
 * domains; idle CPUs pull at once via newidle balance). 4 ms is one tick at HZ=250.
 */
export const DEFAULT_BALANCE_INTERVAL_NS = 4_000_000;
/**
 * What a migration costs as CPU time: nothing is charged by default. kernel/sched/fair.c's
 * sysctl_sched_migration_cost (500 us) is not a cost: it is the threshold under which a task
 * that last ran that recently counts as cache-hot and is not pulled (task_hot), and the cold
 * cache a moved kthread meets is already in the per-packet cost a threaded capture measures.
 * The option stays for what-if exploration.
 */
export const DEFAULT_MIGRATION_COST_NS = 0;
/**
 * Threaded NAPI overhead, as a fraction of the stock per-packet cost (receive + decrypt +
 * forward): each napi_schedule from a decrypt worker wakes the poll's kthread
 * (kernel/sched/core.c: try_to_wake_up), a cost paid on the waking CPUs, i.e. spread over all
 * cores like decryption. 0.35 is derived from the published figures (threaded saturates all
 * 32 cores at about 48 Gbps while stock carries 13 Gbps on 20% of them; see
 * src/synth/scenario.ts: deriveScenarioCosts), not measured.
 */
export const DEFAULT_THREADED_OVERHEAD_RATIO = 0.35;
/**
 * Inline's locality gain: its per-packet cost is (receive + decrypt + forward) / gain. The talk
 * only claims qualitatively that Inline "minimizes cache locality and synchronization issues"
 * (no workqueue hop, no cross-core handoff); no number is published. 2.96 is the value for
 * which 16 Inline tunnels carry 2x threaded NAPI's throughput on the papers' scenario, i.e. it
 * is fitted to the paper's ratio, not an independent prediction.
 */
export const DEFAULT_INLINE_LOCALITY_GAIN = 2.96;
/** Monte Carlo runs by default: p5/p95 from 100 samples are coarse but cheap (about a second on 16 tunnels). */
export const DEFAULT_RUNS = 100;
export const DEFAULT_SEED = 1;
/** Mean absolute per-core calibration error above which replay warns: 5 percentage points. */
export const CALIBRATION_WARN_MAE = 0.05;

export const ModelName = z.enum(MODEL_NAMES as ['stock', 'threaded', 'inline']);

export const ReplayOptions = z
  .object({
    models: z.array(ModelName).min(1).default(['stock', 'threaded', 'inline']),
    runs: z.number().int().min(1).max(100_000).default(DEFAULT_RUNS),
    seed: z.number().int().min(0).max(0xffffffff).default(DEFAULT_SEED),
    /**
     * What each tunnel offers: `elastic` (bulk TCP senders that take what they get, as in the
     * talk's iperf3 runs; default), or `measured` (the rate it carried in the capture, so a
     * model can only lose throughput, never gain it).
     */
    demand: z.enum(['elastic', 'measured']).default('elastic'),
    /** Whole-core busy, and so the untraced load: `whole` (idle records, else /proc/stat; default), `traced` or `proc-stat` (see workload.ts). */
    utilization: z.enum(['whole', 'traced', 'proc-stat']).default('whole'),
    /** How the untraced load follows the tunnels' throughput: auto (coupled for veth tunnels, else fixed), coupled or fixed (workload.ts). */
    untraced: z.enum(['auto', 'coupled', 'fixed']).default('auto'),
    stepNs: z.number().int().positive().default(DEFAULT_STEP_NS),
    horizonNs: z.number().int().positive().default(DEFAULT_HORIZON_NS),
    balanceIntervalNs: z.number().int().positive().default(DEFAULT_BALANCE_INTERVAL_NS),
    migrationCostNs: z.number().int().nonnegative().default(DEFAULT_MIGRATION_COST_NS),
    threadedOverheadRatio: z.number().nonnegative().max(10).default(DEFAULT_THREADED_OVERHEAD_RATIO),
    /**
     * veth: the kthread's cost per packet over the softirq poll's, and the wake-up's, replacing
     * the calibrated values (src/replay/parameters.ts) with a point of one's own (a calibration
     * on another host; bench/whatif-calibrate.mjs fits them). No range: the interval then comes
     * from the capture's own spread alone.
     */
    vethThreadPollFactor: z.number().positive().max(20).optional(),
    vethThreadWakeFactor: z.number().nonnegative().max(20).optional(),
    /** veth: the share of the wake-up cost that is CPU work (parameters.ts: VETH_THREAD_WAKE_BUSY), 0..1. */
    vethThreadWakeBusyShare: z.number().min(0).max(1).optional(),
    inlineLocalityGain: z.number().positive().max(100).default(DEFAULT_INLINE_LOCALITY_GAIN),
  })
  .refine((o) => o.horizonNs >= o.stepNs, { message: 'horizonNs must be at least one step' })
  .refine((o) => o.horizonNs / o.stepNs <= 1_000_000, { message: 'horizonNs / stepNs must be at most 1e6 steps' });

export type ReplayOptionsInput = z.input<typeof ReplayOptions>;
export type ReplayOptions = z.output<typeof ReplayOptions>;
