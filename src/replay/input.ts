import type { ModelInput } from './models/common.js';
import type { Workload } from './types.js';

/**
 * Turns an extracted workload into model input. `demand`: see ReplayOptions.demand.
 *
 * A capture taken with threaded NAPI on measured decryption together with the kthread
 * wake-ups it pays for (the threaded model's W = ratio (R + D + F), charged where decryption
 * runs): D_measured = D + ratio (R + D + F), so D = (D_measured - ratio (R + F)) / (1 + ratio).
 * The models get D and add W back only in threaded.
 */
export function modelInputOf(w: Workload, demand: 'elastic' | 'measured', threadedOverheadRatio = 0): ModelInput {
  const pos = new Map(w.cpus.map((c, p) => [c, p]));
  const r = w.threaded === true ? threadedOverheadRatio : 0;
  return {
    cpus: w.cpus,
    capacity: Float64Array.from(w.cores, (c) => c.capacity),
    tunnels: w.tunnels.map((t) => ({
      dev: t.dev,
      napi: t.napi,
      rxNs: t.rxNsPerPacket,
      decryptNs: Math.max(0, (t.decryptNsPerPacket - r * (t.rxNsPerPacket + t.forwardNsPerPacket)) / (1 + r)),
      forwardNs: t.forwardNsPerPacket,
      rxPos: pos.get(t.rxCore) ?? 0,
      // An idle tunnel offers nothing, whatever the mode: elastic means "takes what it gets" only for tunnels that carried traffic.
      demandPps: t.measuredPps > 0 ? (demand === 'elastic' ? Infinity : t.measuredPps) : 0,
    })),
  };
}
