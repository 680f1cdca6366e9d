import { maxMinFair, type Constraint } from './fairness.js';
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
  const cons: Constraint[] = [];
  for (let p = 0; p < m; p++) {
    const cpu = w.cpus[p]!;
    const coef = new Float64Array(n);
    w.tunnels.forEach((t, i) => {
      let c = t.decryptNsPerPacket / m;
      if (pos.get(t.rxCore) === p) c += t.rxNsPerPacket;
      c += t.forwardNsPerPacket * (t.observedPollShare.get(cpu) ?? 0);
      coef[i] = c / NS_PER_S;
    });
    cons.push({ id: `core ${cpu}`, cpu, capacity: w.cores[p]!.capacity, coef });
  }
  const demand = Float64Array.from(w.tunnels, (t) => t.measuredPps);
  const { x } = maxMinFair(n, cons, demand);
  const perCpu = w.cpus.map((cpu, p) => {
    let used = 0;
    for (let i = 0; i < n; i++) used += cons[p]!.coef[i]! * x[i]!;
    const predicted = Math.min(1, w.cores[p]!.foreignLoad + used);
    const measured = w.cores[p]!.measuredUtilization;
    return { cpu, predicted, measured, error: predicted - measured };
  });
  const mae = perCpu.reduce((a, c) => a + Math.abs(c.error), 0) / Math.max(1, m);
  const maxAbs = perCpu.reduce((a, c) => Math.max(a, Math.abs(c.error)), 0);
  const measuredPps = demand.reduce((a, b) => a + b, 0);
  const predictedPps = x.reduce((a, b) => a + b, 0);
  return { meanAbsolute: mae, maxAbsolute: maxAbs, perCpu, throughputRatio: measuredPps > 0 ? predictedPps / measuredPps : 1 };
}
