import type { ModelInput } from './models/common.js';
import type { Workload } from './types.js';

/** Turns an extracted workload into model input. `demand`: see ReplayOptions.demand. */
export function modelInputOf(w: Workload, demand: 'elastic' | 'measured'): ModelInput {
  const pos = new Map(w.cpus.map((c, p) => [c, p]));
  return {
    cpus: w.cpus,
    capacity: Float64Array.from(w.cores, (c) => c.capacity),
    tunnels: w.tunnels.map((t) => ({
      dev: t.dev,
      napi: t.napi,
      rxNs: t.rxNsPerPacket,
      decryptNs: t.decryptNsPerPacket,
      forwardNs: t.forwardNsPerPacket,
      rxPos: pos.get(t.rxCore) ?? 0,
      // An idle tunnel offers nothing, whatever the mode: elastic means "takes what it gets" only for tunnels that carried traffic.
      demandPps: t.measuredPps > 0 ? (demand === 'elastic' ? Infinity : t.measuredPps) : 0,
    })),
  };
}
