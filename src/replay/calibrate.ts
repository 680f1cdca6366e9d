import { coreUsage, maxMinFairCores, type CoreProblem } from './fairness.js';
import { NS_PER_S } from './models/common.js';
import type { Workload } from './types.js';

/**
 * Calibration: the stock model, fed the placements observed in the capture (each tunnel's
 * poll time split over cores as measured) and the rates measured, must reproduce the measured
 * per-core utilization. The residual comes from what the model assumes rather than measures:
 * decryption spread evenly over cores (round-robin), receive work attributed to the RSS core,
 * and union-vs-sum of overlapping busy time.
 */
export interface CalibrationError {
  /** Mean over cores of |predicted - measured| utilization (0..1). */
  meanAbsolute: number;
  maxAbsolute: number;
  perCpu: { cpu: number; predicted: number; measured: number; error: number }[];
  /** Predicted / measured aggregate throughput (1 = the model lets the measured rates through). */
  throughputRatio: number;
}

export function calibrateStock(w: Workload): CalibrationError {
  const m = w.cpus.length;
  const n = w.tunnels.length;
  const pos = new Map(w.cpus.map((c, p) => [c, p]));
  const pb: CoreProblem = { capacity: Float64Array.from(w.cores, (c) => c.capacity), shared: new Float64Array(n), extras: w.cpus.map(() => []) };
  w.tunnels.forEach((t, i) => {
    pb.shared[i] = t.decryptNsPerPacket / m / NS_PER_S;
    const rx = pos.get(t.rxCore);
    if (rx !== undefined && t.rxNsPerPacket > 0) pb.extras[rx]!.push([i, t.rxNsPerPacket / NS_PER_S]);
    for (const [cpu, share] of t.observedPollShare) {
      const p = pos.get(cpu);
      if (p !== undefined && share > 0) pb.extras[p]!.push([i, (t.forwardNsPerPacket * share) / NS_PER_S]);
    }
  });
  const demand = Float64Array.from(w.tunnels, (t) => t.measuredPps);
  const { x } = maxMinFairCores(pb, demand);
  const used = coreUsage(pb, x);
  const perCpu = w.cpus.map((cpu, p) => {
    const predicted = Math.min(1, w.cores[p]!.foreignLoad + used[p]!);
    const measured = w.cores[p]!.measuredUtilization;
    return { cpu, predicted, measured, error: predicted - measured };
  });
  const mae = perCpu.reduce((a, c) => a + Math.abs(c.error), 0) / Math.max(1, m);
  const maxAbs = perCpu.reduce((a, c) => Math.max(a, Math.abs(c.error)), 0);
  const measuredPps = demand.reduce((a, b) => a + b, 0);
  const predictedPps = x.reduce((a, b) => a + b, 0);
  return { meanAbsolute: mae, maxAbsolute: maxAbs, perCpu, throughputRatio: measuredPps > 0 ? predictedPps / measuredPps : 1 };
}
