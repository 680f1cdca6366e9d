import type { CaptureHeader } from './header.js';

/**
 * Per-CPU busy share from the header's /proc/stat snapshots, as mpstat computes it: 1 - (idle +
 * iowait) / total of the fields user nice system idle iowait irq softirq steal (fs/proc/stat.c:
 * show_stat; guest and guest_nice are inside user and nice already). Keyed by CPU id; a CPU with
 * a field that went down, or no ticks at all, is left out.
 */
export function procStatBusy(h: CaptureHeader | undefined): Map<number, number> {
  const out = new Map<number, number>();
  const before = h?.countersBefore?.stat;
  const after = h?.countersAfter?.stat;
  if (before === undefined || after === undefined) return out;
  for (const [k, b] of Object.entries(before)) {
    const a = after[k];
    const cpu = Number(/^(?:cpu)?(\d+)$/.exec(k)?.[1] ?? NaN);
    if (a === undefined || !Number.isInteger(cpu) || a.length < 4 || b.length < 4) continue;
    let total = 0;
    let idle = 0;
    for (let i = 0; i < Math.min(8, a.length, b.length); i++) {
      const d = a[i]! - b[i]!;
      if (!(d >= 0)) {
        total = -1;
        break;
      }
      total += d;
      if (i === 3 || i === 4) idle += d;
    }
    if (total > 0) out.set(cpu, (total - idle) / total);
  }
  return out;
}
