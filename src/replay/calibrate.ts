import { modelInputOf } from './input.js';
import { runStockObserved } from './models/stock.js';
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
  // The stock model's observed-placement form (models/stock.ts: runStockObserved) at the
  // measured rates: the same stage costs, coupled work and capacities the predictions use.
  const inp = modelInputOf(w, 'measured', 0);
  const run = runStockObserved(inp);
  const perCpu = w.cpus.map((cpu, p) => {
    const predicted = run.cpus[p]!.utilization;
    const measured = w.cores[p]!.measuredUtilization;
    return { cpu, predicted, measured, error: predicted - measured };
  });
  const mae = perCpu.reduce((a, c) => a + Math.abs(c.error), 0) / Math.max(1, m);
  const maxAbs = perCpu.reduce((a, c) => Math.max(a, Math.abs(c.error)), 0);
  const measuredPps = w.tunnels.reduce((a, t) => a + (t.measuredPps > 0 ? t.measuredPps : 0), 0);
  return { meanAbsolute: mae, maxAbsolute: maxAbs, perCpu, throughputRatio: measuredPps > 0 ? run.throughputPps / measuredPps : 1 };
}
