import type { CaptureHeader } from './header.js';

/** USER_HZ, the unit of /proc/stat's fields: 100 on every architecture but alpha (include/asm-generic/param.h). */
export const USER_HZ = 100;
const TICK_NS = 1e9 / USER_HZ;

/** One CPU's /proc/stat over the header's two snapshots. */
export interface ProcStatCore {
  /**
   * Busy share of the snapshots' span by the kernel's own idle clock: 1 - (idle + iowait) / the
   * span's length. On a NO_HZ kernel those two fields are the nohz idle sleep time, exact to
   * the microsecond (kernel/time/tick-sched.c: get_cpu_idle_time_us, fs/proc/stat.c: get_idle_time),
   * while the busy fields are sampled at the tick. Without time stamps on the snapshots, mpstatBusy.
   */
  busy: number;
  /**
   * What mpstat prints: the busy fields over all fields (user nice system idle iowait irq softirq
   * steal; guest and guest_nice are inside user and nice already). Its busy fields are tick
   * samples, which miss bursts shorter than a tick between idle periods, so on a bursty core it
   * reads less busy than `busy` (measured here: 2% against 12% on a nearly idle core).
   */
  mpstatBusy: number;
  /** idle + iowait, ns, and the span between the snapshots, ns (when stamped). */
  idleNs: number;
  spanNs?: number;
}

/**
 * Per-CPU /proc/stat figures from the header's snapshots, keyed by CPU id. A CPU with a field
 * that went down, or no ticks at all, is left out.
 */
export function procStatCores(h: CaptureHeader | undefined): Map<number, ProcStatCore> {
  const out = new Map<number, ProcStatCore>();
  const before = h?.countersBefore?.stat;
  const after = h?.countersAfter?.stat;
  if (before === undefined || after === undefined) return out;
  const b0 = h?.countersBefore?.bootNs;
  const b1 = h?.countersAfter?.bootNs;
  const stamped = b0 !== undefined && b1 !== undefined && /^\d{1,20}$/.test(b0) && /^\d{1,20}$/.test(b1);
  const spanNs = stamped ? Number(BigInt(b1) - BigInt(b0)) : undefined;
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
    if (!(total > 0)) continue;
    const mpstatBusy = (total - idle) / total;
    const idleNs = idle * TICK_NS;
    const busy = spanNs !== undefined && spanNs > 0 ? Math.min(1, Math.max(0, 1 - idleNs / spanNs)) : mpstatBusy;
    out.set(cpu, { busy, mpstatBusy, idleNs, ...(spanNs !== undefined ? { spanNs } : {}) });
  }
  return out;
}

/** procStatCores' `busy` alone, per CPU id. */
export function procStatBusy(h: CaptureHeader | undefined): Map<number, number> {
  return new Map([...procStatCores(h)].map(([cpu, c]) => [cpu, c.busy]));
}
