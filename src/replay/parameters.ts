import type { Workload } from './types.js';
import { SATURATED_CORE } from './workload.js';

/**
 * Every number the models use that is not a rate: its value, the range the interval is computed
 * over, and where it comes from. `measured`: from this capture; `kernel-mechanism`: a rule of the
 * kernel's code (cited); `calibrated`: fitted on one of our testbed experiments (named, and not
 * checked on that one: docs/models.md, "What-if validation"); `fitted-to-paper`: fitted to the
 * published figures (src/synth/scenario.ts), not an independent measurement; `option`: given on
 * the command line.
 */
export type ParameterBasis = 'measured' | 'kernel-mechanism' | 'calibrated' | 'fitted-to-paper' | 'option';

export interface Parameter {
  name: string;
  value: number;
  low: number;
  high: number;
  unit: string;
  basis: ParameterBasis;
  source: string;
}

/**
 * The kthread's cost per packet over the softirq poll's, on veth. Calibrated on experiment E2
 * alone (3 pairs, unpinned; `node bench/whatif-calibrate.mjs --out DIR` on what
 * `bench/whatif-validation.sh` wrote, run of 2026-12-03 13:06-13:21 UTC): per repetition, the
 * kthread's poll time per packet in a threaded capture (844-984 ns) over the softirq poll's in
 * the softirq capture of the same flows (468-519 ns). Value: the median of the 5 repetitions;
 * range: their min..max. Nothing from the checked experiments enters (before, the range had been
 * widened to cover the 1 to 4 pair runs, which are checks).
 */
export const VETH_THREAD_POLL_FACTOR = {
  value: 1.84,
  low: 1.63,
  high: 2.01,
  source: 'E2, veth testbed: kthread 844-984 ns / softirq poll 468-519 ns per packet over 5 repetitions (bench/whatif-calibrate.mjs; docs/models.md)',
};
/**
 * On veth, what threaded NAPI adds outside the poll, per packet, as a multiple of the softirq
 * poll's cost, paid by the waker (the sender, on the cores the softirq polls ran on): waking the
 * kthread from veth_xmit (kernel/sched/core.c: try_to_wake_up), its context switches, and the
 * receiver woken from another context. Calibrated on E2 alone, as the poll factor is: per
 * repetition, the value that puts the threaded point prediction from its softirq capture on its
 * measured on/off ratio, with that repetition's poll factor. Value: the median; range: min..max
 * over the 5 repetitions (0.04..1.48: E2's own run-to-run spread, CV 0.13 that run; the low
 * end is one repetition at x0.80 where the other four measured x0.60-0.67).
 */
export const VETH_THREAD_WAKE_FACTOR = {
  value: 1.26,
  low: 0.04,
  high: 1.48,
  source: "E2, veth testbed: fitted per repetition to E2's measured on/off ratio, 5 repetitions (bench/whatif-calibrate.mjs; docs/models.md)",
};
/**
 * The same two factors when a core had room in the softirq capture (some core below
 * SATURATED_CORE busy): then a woken kthread finds an idle CPU and runs at once
 * (kernel/sched/fair.c: select_task_rq_fair -> select_idle_sibling), instead of queueing behind
 * or preempting the sender and the receiver on a full core as in E2. That is the case when the
 * flows are held by their senders (no core saturated: Workload's `sender-bound` note), and also
 * when the senders' own core is full and another has room (E1: the senders pinned to cpu 0 at
 * 98% busy, cpu 1 at 57%). Until 2026-12-03 the regime was chosen by the first case alone, and
 * E1 took E2's factors: x0.81 (0.74..1.14) predicted against x1.00 and x0.94 measured in two
 * runs, and both cores predicted full against 95-96% and 80-82% (docs/models.md). Measured
 * per thread on one pair (bench/whatif-roles.mjs, run of 2026-12-03 07:13 UTC, E4-1's on and
 * off phases, no tracer): the kthread cost 533 ns per packet against the softirq poll's 557
 * (1.0 x), where E2's kthreads cost 1 152 (2 x); the sender lost the poll and gained about
 * 0.3 x of it (1 272 -> 890 ns per packet). So one pair of E2 factors cannot carry both
 * regimes. Calibrated on experiment E5 (E4-1's setup, one
 * pair, run separately with threaded captures; bench/whatif-calibrate.mjs --experiment E5),
 * checked on E4-1.
 */
export const VETH_THREAD_POLL_FACTOR_IDLE = {
  value: 0.95,
  low: 0.89,
  high: 1.04,
  source: 'E5, veth testbed (one pair, no core saturated): kthread 543-613 ns / softirq poll 534-687 ns per packet over 5 repetitions (bench/whatif-calibrate.mjs --experiment E5; docs/models.md)',
};
export const VETH_THREAD_WAKE_FACTOR_IDLE = {
  value: 0.87,
  low: 0.29,
  high: 1.38,
  source: "E5, veth testbed (one pair): fitted per repetition to E5's measured on/off ratio (bench/whatif-calibrate.mjs --experiment E5; docs/models.md)",
};
/**
 * The share of the wake-up cost above (a throughput fit) that is CPU work, on veth. The wake
 * factor is fitted to the measured change in throughput, and part of that change is waiting,
 * not work: the sender, the woken kthread and the receiver it feeds wait on each other between
 * batches (try_to_wake_up to the kthread running, then the receiver woken from its socket), and
 * with one to three flows too few threads are runnable to fill that time. The waiting holds
 * the flow (it stays in the cores' constraints, so the throughput is unchanged) but leaves its
 * core idle, which /proc/stat shows: measured per thread, the threaded kernel left 5 to 20% of
 * a core idle here where the model with all of it as work filled both cores (docs/models.md,
 * "Per-core utilization"). Calibrated like the wake factor, on the same experiments and
 * repetitions: per repetition, the share for which the threaded point prediction's mean core
 * busy equals the on phase's /proc/stat busy, with that repetition's poll and wake factors
 * (bench/whatif-calibrate.mjs). Value: the median; range: min..max. Run of 2026-12-03
 * 13:06-13:21 UTC: E2's on phases 94.6-96.3% busy, E5's 79.8-91.2%; a repetition whose
 * prediction stays above the measured busy with none of the wake-up as work gives 0.
 */
export const VETH_THREAD_WAKE_BUSY = {
  value: 0.77,
  low: 0,
  high: 0.81,
  source: "E2, veth testbed: fitted per repetition to the on phases' /proc/stat busy (bench/whatif-calibrate.mjs; docs/models.md)",
};
export const VETH_THREAD_WAKE_BUSY_IDLE = {
  value: 0.46,
  low: 0,
  high: 0.74,
  source: "E5, veth testbed (one pair): fitted per repetition to the on phases' /proc/stat busy (bench/whatif-calibrate.mjs --experiment E5; docs/models.md)",
};
/**
 * WireGuard: the papers' fit charges threaded NAPI's overhead as wake-ups, a fraction of the
 * per-packet work, where decryption runs (src/synth/scenario.ts: deriveScenarioCosts gives
 * 0.354); the kthread's own cost is the softirq poll's. The range is wide because nothing here
 * measured it on WireGuard.
 */
export const WG_THREAD_WAKE_RATIO = { low: 0.15, high: 0.6 };
export const WG_THREAD_POLL_FACTOR = { value: 1, low: 1, high: 2.1 };
/** Inline's locality gain (fitted to the paper's 2x threaded): a wide range, nothing measured it. */
export const INLINE_GAIN_RANGE = { low: 1.5, high: 3.5 };

/** veth factors given as options (a calibration of one's own), replacing the calibrated ones. */
export interface VethThreadOptions {
  pollFactor?: number | undefined;
  wakeFactor?: number | undefined;
  wakeBusyShare?: number | undefined;
}

/** A veth parameter: the calibrated constant, or the point given as an option (no range). */
function calibratedOr(name: string, unit: string, given: number | undefined, optionName: string, calibrated: { value: number; low: number; high: number; source: string }): Parameter {
  if (given !== undefined) return { name, value: given, low: given, high: given, unit, basis: 'option', source: optionName };
  return { name, ...calibrated, unit, basis: 'calibrated', source: calibrated.source };
}

/** The threaded model's cost parameters for a workload. */
export interface ThreadCosts {
  /** Thread poll cost / softirq poll cost. */
  pollFactor: Parameter;
  /** veth: wake cost per packet / softirq poll cost; WireGuard: wake ratio on rx + decrypt + forward. */
  wake: Parameter;
  /** The share of the wake cost that is CPU work (the rest is waiting: in the constraints, not in the utilization). WireGuard: 1 (the papers' fit is work). */
  wakeBusy: Parameter;
}

export function threadCosts(w: Workload, wakeRatioOption: number | undefined, defaultWakeRatio: number, veth: VethThreadOptions = {}): ThreadCosts {
  if (!w.wireguard) {
    // The regime: a core with room in the softirq capture is an idle CPU for the woken kthreads (above).
    const idle = w.cores.some((c) => c.measuredUtilization < SATURATED_CORE);
    const POLL = idle ? VETH_THREAD_POLL_FACTOR_IDLE : VETH_THREAD_POLL_FACTOR;
    const WAKE = idle ? VETH_THREAD_WAKE_FACTOR_IDLE : VETH_THREAD_WAKE_FACTOR;
    const BUSY = idle ? VETH_THREAD_WAKE_BUSY_IDLE : VETH_THREAD_WAKE_BUSY;
    const poll = calibratedOr('threadPollFactor', 'x softirq poll cost', veth.pollFactor, 'vethThreadPollFactor', POLL);
    return {
      // A threaded capture measured the kthread's cost itself (input.ts: the softirq cost is derived from it).
      pollFactor:
        veth.pollFactor === undefined && w.threaded === true ? { ...poll, basis: 'measured', source: "this capture's threaded polls (the softirq cost is derived with the calibrated factor)" } : poll,
      wake: calibratedOr('threadWakeFactor', "x softirq poll cost, per packet, on the senders' cores", veth.wakeFactor, 'vethThreadWakeFactor', WAKE),
      wakeBusy: calibratedOr('threadWakeBusyShare', 'share of the wake-up cost that is CPU work', veth.wakeBusyShare, 'vethThreadWakeBusyShare', BUSY),
    };
  }
  const ratio = wakeRatioOption ?? defaultWakeRatio;
  return {
    pollFactor: {
      name: 'threadPollFactor',
      ...WG_THREAD_POLL_FACTOR,
      unit: 'x softirq poll cost',
      basis: 'fitted-to-paper',
      source: 'the papers fit no kthread cost; the high end is what veth measured',
    },
    wake: {
      name: 'threadedOverheadRatio',
      value: ratio,
      low: wakeRatioOption !== undefined ? ratio : WG_THREAD_WAKE_RATIO.low,
      high: wakeRatioOption !== undefined ? ratio : WG_THREAD_WAKE_RATIO.high,
      unit: 'x (rx + decrypt + forward), where decryption runs',
      basis: wakeRatioOption !== undefined ? 'option' : 'fitted-to-paper',
      source: wakeRatioOption !== undefined ? '--threaded-overhead' : 'src/synth/scenario.ts: deriveScenarioCosts (threaded fills 32 cores at 48 Gbps)',
    },
    wakeBusy: {
      name: 'threadWakeBusyShare',
      value: 1,
      low: 1,
      high: 1,
      unit: 'share of the wake-up cost that is CPU work',
      basis: 'fitted-to-paper',
      source: 'the papers fill every core with threaded NAPI: the wake-ups are work',
    },
  };
}
