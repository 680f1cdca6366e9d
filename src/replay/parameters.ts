import type { Workload } from './types.js';

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
 * `bench/whatif-validation.sh` wrote, run of 2026-12-02 17:21-17:37 UTC): per repetition, the
 * kthread's poll time per packet in a threaded capture (831-919 ns) over the softirq poll's in
 * the softirq capture of the same flows (471-531 ns). Value: the median of the 5 repetitions;
 * range: their min..max. Nothing from the checked experiments enters (before, the range had been
 * widened to cover the 1 to 4 pair runs, which are checks).
 */
export const VETH_THREAD_POLL_FACTOR = {
  value: 1.71,
  low: 1.66,
  high: 1.92,
  source: 'E2, veth testbed: kthread 831-919 ns / softirq poll 471-531 ns per packet over 5 repetitions (bench/whatif-calibrate.mjs; docs/models.md)',
};
/**
 * On veth, what threaded NAPI adds outside the poll, per packet, as a multiple of the softirq
 * poll's cost, paid by the waker (the sender, on the cores the softirq polls ran on): waking the
 * kthread from veth_xmit (kernel/sched/core.c: try_to_wake_up), its context switches, and the
 * receiver woken from another context. Calibrated on E2 alone, as the poll factor is: per
 * repetition, the value that puts the threaded point prediction from its softirq capture on its
 * measured on/off ratio, with that repetition's poll factor. Value: the median; range: min..max
 * over the 5 repetitions (0.43..2.04: E2's own run-to-run spread, CV 0.13 on this host that day).
 */
export const VETH_THREAD_WAKE_FACTOR = {
  value: 1.72,
  low: 0.43,
  high: 2.04,
  source: "E2, veth testbed: fitted per repetition to E2's measured on/off ratio, 5 repetitions (bench/whatif-calibrate.mjs; docs/models.md)",
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
}

/** The threaded model's cost parameters for a workload. */
export interface ThreadCosts {
  /** Thread poll cost / softirq poll cost. */
  pollFactor: Parameter;
  /** veth: wake cost per packet / softirq poll cost; WireGuard: wake ratio on rx + decrypt + forward. */
  wake: Parameter;
}

export function threadCosts(w: Workload, wakeRatioOption: number | undefined, defaultWakeRatio: number, veth: VethThreadOptions = {}): ThreadCosts {
  if (!w.wireguard) {
    const given = (v: number | undefined): { value: number; low: number; high: number } | undefined => (v === undefined ? undefined : { value: v, low: v, high: v });
    const poll = given(veth.pollFactor);
    const wake = given(veth.wakeFactor);
    return {
      pollFactor: {
        name: 'threadPollFactor',
        ...(poll ?? VETH_THREAD_POLL_FACTOR),
        unit: 'x softirq poll cost',
        basis: poll !== undefined ? 'option' : w.threaded === true ? 'measured' : 'calibrated',
        source:
          poll !== undefined ? 'vethThreadPollFactor' : w.threaded === true ? "this capture's threaded polls (the softirq cost is derived with the calibrated factor)" : VETH_THREAD_POLL_FACTOR.source,
      },
      wake: {
        name: 'threadWakeFactor',
        ...(wake ?? VETH_THREAD_WAKE_FACTOR),
        unit: "x softirq poll cost, per packet, on the senders' cores",
        basis: wake !== undefined ? 'option' : 'calibrated',
        source: wake !== undefined ? 'vethThreadWakeFactor' : VETH_THREAD_WAKE_FACTOR.source,
      },
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
  };
}
