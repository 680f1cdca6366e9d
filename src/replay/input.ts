import type { ModelInput } from './models/common.js';
import type { Workload } from './types.js';

/** Where in its range each cost parameter is taken (the interval's ends move them together). */
export interface CostPoint {
  /** Factor on the measured poll cost (bootstrap spread; 1 = as measured). */
  pollScale: number;
  /** Factor on the measured coupled (untraced, per packet) cost. */
  coupledScale: number;
  /** Thread poll cost / softirq poll cost. */
  threadPollFactor: number;
  /** veth: wake cost per packet / softirq poll cost; WireGuard: the wake ratio. */
  threadWake: number;
  /** veth: the share of the wake cost that is CPU work (parameters.ts: VETH_THREAD_WAKE_BUSY; default 1). */
  threadWakeBusy?: number;
}

export const MEASURED_COSTS = (threadPollFactor: number, threadWake: number, threadWakeBusy = 1): CostPoint => ({ pollScale: 1, coupledScale: 1, threadPollFactor, threadWake, threadWakeBusy });

/** The core positions of a workload and each tunnel's observed poll share by position (ModelTunnel.observedShare). */
interface Placement {
  /** What it was made from (a workload whose cpus or tunnels array was replaced is read again). */
  cpus: readonly number[];
  from: readonly unknown[];
  pos: Map<number, number>;
  shares: [number, number][][];
}

const placementCache = new WeakMap<Workload, Placement>();

/**
 * placementOf's result for a workload, made once: the what-if makes about ten inputs of one
 * workload (the point, the cost ends of each model, Inline's gains, the calibration), and the
 * shares do not depend on the costs. Made per input they were 1,024 x 128 pairs each on the
 * stock synthetic capture of 1,024 tunnels x 128 cores, about 14 MB of small arrays per input
 * that outlived the young generation (an input lives through its model's runs) and were promoted,
 * to be collected only by the next full collection (bench/README.md, scaling, "The what-if's
 * inputs"). The arrays are shared by the inputs: read-only, as the workload is (a workload is
 * not changed once read; one whose cpus or tunnels array was replaced is read again).
 */
function placementOf(w: Workload): Placement {
  const hit = placementCache.get(w);
  if (hit !== undefined && hit.cpus === w.cpus && hit.from === w.tunnels && hit.shares.length === w.tunnels.length) return hit;
  const pos = new Map(w.cpus.map((c, p) => [c, p]));
  const shares = w.tunnels.map((t) => [...t.observedPollShare].filter(([cpu]) => pos.has(cpu)).map(([cpu, f]) => [pos.get(cpu)!, f] as [number, number]));
  const made: Placement = { cpus: w.cpus, from: w.tunnels, pos, shares };
  placementCache.set(w, made);
  return made;
}

/**
 * Turns an extracted workload into model input. `demand`: see ReplayOptions.demand.
 *
 * WireGuard (the papers' frame): threaded NAPI's overhead is a wake-up cost W = ratio (R + D + F)
 * charged where decryption runs, and a capture taken with threaded NAPI on measured decryption
 * together with it: D_measured = D + ratio (R + D + F), so D = (D_measured - ratio (R + F)) /
 * (1 + ratio). The models get D and add W back only in threaded.
 *
 * veth: the kthread's poll costs `threadPollFactor` times the softirq poll, and waking it costs
 * `threadWake` times the softirq poll per packet, where the senders run (spread over the cores).
 * A threaded capture measured the kthread's cost (the softirq cost is derived from it) and the
 * wake-ups inside its untraced per-packet work (taken out of it for stock). A flow held by its
 * sending task (no core saturated) spent its period per packet in that task: the poll in
 * softirq mode, the wake-up in threaded mode, and the sender's own work (`senderNs`) besides.
 */
export function modelInputOf(w: Workload, demand: 'elastic' | 'measured', threadedOverheadRatio = 0, costs?: CostPoint): ModelInput {
  const { pos, shares } = placementOf(w);
  const c = costs ?? MEASURED_COSTS(1, threadedOverheadRatio);
  const m = Math.max(1, w.cpus.length);
  const capturedThreaded = w.threaded === true;
  const r = w.wireguard && capturedThreaded ? c.threadWake : 0;
  let wakeTakenOut = 0;
  const tunnels = w.tunnels.map((t, i) => {
    const measuredPoll = t.forwardNsPerPacket * c.pollScale;
    const softirqPoll = capturedThreaded && !w.wireguard ? measuredPoll / c.threadPollFactor : measuredPoll;
    const threadPoll = capturedThreaded && !w.wireguard ? measuredPoll : measuredPoll * c.threadPollFactor;
    const wakeNs = w.wireguard ? undefined : c.threadWake * softirqPoll;
    const busy = c.threadWakeBusy ?? 1;
    // A threaded capture's untraced work holds the wake-ups' work, not their waiting.
    if (!w.wireguard && capturedThreaded) wakeTakenOut = Math.max(wakeTakenOut, busy * c.threadWake * softirqPoll);
    return {
      dev: t.dev,
      napi: t.napi,
      rxNs: t.rxNsPerPacket,
      decryptNs: Math.max(0, (t.decryptNsPerPacket - r * (t.rxNsPerPacket + t.forwardNsPerPacket)) / (1 + r)),
      forwardNs: softirqPoll,
      ...(w.wireguard && c.threadPollFactor === 1 ? {} : { threadForwardNs: threadPoll }),
      ...(wakeNs === undefined ? {} : { threadWakeNs: wakeNs, ...(busy < 1 ? { threadWakeBusyNs: busy * wakeNs } : {}) }),
      rxPos: pos.get(t.rxCore) ?? 0,
      ...(t.serialNsPerPacket === undefined || w.wireguard ? {} : { senderNs: Math.max(0, t.serialNsPerPacket - (capturedThreaded ? (wakeNs ?? 0) : softirqPoll)) }),
      observedShare: shares[i]!,
      // An idle tunnel offers nothing, whatever the mode: elastic means "takes what it gets" only for tunnels that carried traffic.
      demandPps: t.measuredPps > 0 ? (demand === 'elastic' ? Infinity : t.measuredPps) : 0,
    };
  });
  const coupled = w.cores.some((k) => k.coupledNsPerPacket > 0) ? Float64Array.from(w.cores, (k) => Math.max(0, k.coupledNsPerPacket * c.coupledScale - wakeTakenOut / m)) : undefined;
  return {
    cpus: w.cpus,
    capacity: Float64Array.from(w.cores, (k) => k.capacity),
    tunnels,
    ...(coupled ? { coupledNs: coupled } : {}),
    placement: w.placement,
  };
}
