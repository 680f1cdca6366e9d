import type { Diagnostic } from '../base/diagnostics.js';
import { procStatBusy } from '../model/proc-stat.js';
import { probedSpan } from './span.js';
import type { CoreSeries, IdleCalibration, Timeline } from './types.js';

/**
 * Matches each core's idle records to the kernel's own idle accounting, the one /proc/stat and
 * mpstat show.
 *
 * The records time the idle task: sched_switch to pid 0 until sched_switch from it. The kernel's
 * idle clock runs inside that (kernel/time/tick-sched.c): it starts in do_idle's
 * tick_nohz_idle_enter, stops at every irq entry (tick_irq_enter) and restarts on irq exit after
 * the softirqs ran, and stops for good in tick_nohz_idle_exit, before do_idle flushes queued
 * wake-ups and calls schedule_idle. So each idle period holds a few microseconds the kernel counts
 * busy: the switch in, the tick's stop and restart, irqs, the switch out (measured on this VM:
 * 7 to 16 us a period, 5 to 14 points of a core at 3,000 to 12,000 periods a second; on bare
 * metal the same path is about 1 us). That cost comes with each period, so it is taken off per
 * period: a window of many short idle periods loses more of its recorded idle than a window of
 * one long one, and the total over the probed span equals the kernel's (docs/findings.md,
 * "Whole-core busy time").
 *
 * Applied when the header's /proc/stat snapshots cover most of the probed span (the wrappers read
 * them at the probes' attach and detach), fitted over the part they share. Pure: returns the calibrated series, the calibration per core,
 * and diagnostics; the caller stores them.
 */
export function calibrateIdle(t: Timeline): CalibrationNote[] {
  const diags: CalibrationNote[] = [];
  const recorded = [...t.cores.values()].filter((c) => c.idleRecorded);
  if (recorded.length === 0) return diags;
  const h = t.capture.header;
  const span = probedSpan(t);
  const probedNs = span.to - span.from;
  const uncalibrated = (reason: string): CalibrationNote[] => {
    for (const c of recorded) c.idleCalibration = { ...recordedIdle(t, c, span), fitNs: 0, kernelIdleNs: NaN, perPeriodNs: NaN, applied: false, reason };
    return diags;
  };
  const stat = procStatBusy(h);
  if (stat.size === 0) return uncalibrated(NO_PROC_STAT);
  const rel = (b: string | undefined): number | undefined => (b !== undefined && /^\d{1,20}$/.test(b) ? Number(BigInt(b) - t.capture.origin) - (t.capture.startNs as number) : undefined);
  const c0 = rel(h?.countersBefore?.bootNs);
  const c1 = rel(h?.countersAfter?.bootNs);
  if (c0 === undefined || c1 === undefined || !(c1 > c0) || probedNs <= 0) return uncalibrated('the /proc/stat snapshots carry no time stamps');
  // The records are fitted to the kernel over the part of the probed span the snapshots cover.
  // capture.sh reads them from a shell watcher (20 ms polls, slower when the cores are full:
  // 0.2 to 0.5 s measured at 2 busy cores); the kernel's share over its span stands for that part.
  const fit = { from: Math.max(span.from, c0), to: Math.min(span.to, c1) };
  const fitNs = fit.to - fit.from;
  if (!(fitNs >= FIT_MIN_SHARE * Math.max(probedNs, c1 - c0))) {
    return uncalibrated(`the /proc/stat snapshots cover ${ms(Math.max(0, fitNs))} of the ${ms(probedNs)} the probes ran (at least ${FIT_MIN_SHARE * 100}% needed)`);
  }
  // /proc/stat counts in USER_HZ ticks: each snapshot rounds the idle field by up to one tick.
  const tolerance = 2 * USER_HZ_TICK_NS + AGREE_SHARE * fitNs;
  for (const c of recorded) {
    const rec = recordedIdle(t, c, fit);
    const busy = stat.get(c.cpu);
    if (busy === undefined) {
      c.idleCalibration = { ...rec, fitNs, kernelIdleNs: NaN, perPeriodNs: NaN, applied: false, reason: `no /proc/stat row for cpu ${c.cpu}` };
      continue;
    }
    const kernelIdleNs = Math.max(0, 1 - busy) * fitNs;
    // Format 4 knows where the periods whose switch to idle was not seen lie: their idle is put
    // there first (the task that ran before the missed switch is counted idle with it: the
    // records cannot tell it apart). Then one of two things is left: more idle than the
    // kernel's (its busy cost per period: taken off per period) or less (more switches missed
    // than the records can place: put back in the untraced busy time).
    const filled = fillUnknown(t, c, fit);
    const excess = rec.idleTaskNs + filled - kernelIdleNs;
    const base = { ...rec, fitNs, kernelIdleNs, perPeriodNs: NaN, ...(filled > 0 ? { restoredNs: filled } : {}) };
    if (excess > tolerance && rec.periods > 0) {
      const perPeriodNs = excess / rec.periods;
      takeOffPerPeriod(t, c, fit, perPeriodNs, kernelIdleNs);
      c.idleCalibration = { ...base, perPeriodNs, applied: true };
    } else if (excess > tolerance) {
      // Idle but no period ended (a core idle throughout): scaled to the kernel's.
      takeOffPerPeriod(t, c, fit, 0, kernelIdleNs);
      c.idleCalibration = { ...base, applied: true };
    } else if (excess < -tolerance) {
      const restoredNs = restore(t, c, fit, -excess);
      const short = -excess - restoredNs;
      c.idleCalibration = { ...base, restoredNs: filled + restoredNs, applied: true };
      if (short > tolerance)
        diags.push({
          severity: 'warning',
          code: 'idle-below-proc-stat',
          message: `cpu ${c.cpu}: the idle records hold ${ms(-excess)} less idle than /proc/stat over ${ms(fitNs)} of the probed span, and only ${ms(restoredNs)} of it fits in the untraced busy time: its busy time is ${ms(short)} above the kernel's`,
        });
    } else if (filled > 0) c.idleCalibration = { ...base, applied: true };
    else {
      // Within /proc/stat's rounding: nothing to change, and a cost per period from it would be noise.
      c.idleCalibration = {
        ...base,
        applied: false,
        reason: `the idle records agree with /proc/stat within its rounding (${ms(Math.abs(excess))} ${excess < 0 ? 'less' : 'more'} idle over ${ms(fitNs)})`,
      };
    }
  }
  return diags;
}

/** A diagnostic without its file (the builder adds it). */
export type CalibrationNote = Pick<Diagnostic, 'severity' | 'code' | 'message'>;

/** The reason given when the header has no /proc/stat to match against. */
export const NO_PROC_STAT = 'no /proc/stat before and after the probes in the header';

/** The snapshots' span and the probed span must share this much of the longer one. */
const FIT_MIN_SHARE = 0.8;
/** Agreement allowed beyond rounding and offset, as a share of the span. */
const AGREE_SHARE = 0.005;
/** USER_HZ is 100 on every architecture Linux runs on (include/asm-generic/param.h): 10 ms. */
const USER_HZ_TICK_NS = 10e6;

/** The window's untraced busy time: its length less its idle and its traced union. */
function room(t: Timeline, c: CoreSeries, i: number): number {
  const len = windowLen(t, i);
  return len > 0 ? Math.max(0, len * (1 - (c.utilization[i] ?? 0)) - (c.idleNs[i] ?? 0)) : 0;
}

/**
 * Format 4: counts idle where the periods whose switch to idle was not seen lie (idleUnknownNs),
 * never more than a window's untraced busy time. Returns what it added inside `fit`.
 */
function fillUnknown(t: Timeline, c: CoreSeries, fit: { from: number; to: number }): number {
  const u = c.idleUnknownNs;
  if (u === undefined) return 0;
  const out = c.idleNs.slice();
  let added = 0;
  for (let i = 0; i < t.windowCount; i++) {
    const v = Math.min(u[i] ?? 0, room(t, c, i));
    out[i]! += v;
    added += inside(t, i, fit) * v;
  }
  c.idleNs = out;
  return added;
}

/**
 * Adds up to `deficit` of idle to the windows inside `fit`, in proportion to each one's untraced
 * busy time, never more than that. Returns what was added.
 */
function restore(t: Timeline, c: CoreSeries, fit: { from: number; to: number }, deficit: number): number {
  const n = t.windowCount;
  const w = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    w[i] = inside(t, i, fit) * room(t, c, i);
    total += w[i]!;
  }
  if (!(total > 0)) return 0;
  const share = Math.min(1, deficit / total);
  const out = c.idleNs.slice();
  for (let i = 0; i < n; i++) out[i]! += share * w[i]!;
  c.idleNs = out;
  return share * total;
}

/** Part of window i inside the probed span (0..1). */
/** Window i's length (the last one is cut by the capture's end). */
function windowLen(t: Timeline, i: number): number {
  return Math.min(t.windowNs, (t.capture.durationNs as number) - i * t.windowNs);
}

function inside(t: Timeline, i: number, span: { from: number; to: number }): number {
  const a = i * t.windowNs;
  const len = windowLen(t, i);
  if (!(len > 0)) return 0;
  return Math.max(0, Math.min(a + len, span.to) - Math.max(a, span.from)) / len;
}

function recordedIdle(t: Timeline, c: CoreSeries, span: { from: number; to: number }): Pick<IdleCalibration, 'idleTaskNs' | 'periods'> {
  let idleTaskNs = 0;
  let periods = 0;
  for (let i = 0; i < t.windowCount; i++) {
    const f = inside(t, i, span);
    if (f === 0) continue;
    idleTaskNs += f * (c.idleTaskNs[i] ?? 0);
    periods += f * (c.idlePeriods[i] ?? 0);
  }
  return { idleTaskNs, periods };
}

/**
 * Takes `cost` off each window's idle per idle period ended in it, then scales what is left so
 * that the fitted span holds exactly the kernel's idle (a window whose periods were shorter than
 * the mean cost cannot go below zero; the rest comes off the others).
 */
function takeOffPerPeriod(t: Timeline, c: CoreSeries, fit: { from: number; to: number }, cost: number, kernelIdleNs: number): void {
  const n = t.windowCount;
  const out = new Float64Array(n);
  let left = 0;
  for (let i = 0; i < n; i++) {
    out[i] = Math.max(0, (c.idleNs[i] ?? 0) - cost * (c.idlePeriods[i] ?? 0));
    left += inside(t, i, fit) * out[i]!;
  }
  const scale = left > 0 ? kernelIdleNs / left : 0;
  if (scale < 1) for (let i = 0; i < n; i++) out[i]! *= scale;
  c.idleNs = out;
}

function ms(ns: number): string {
  return `${(ns / 1e6).toFixed(ns < 10e6 ? 1 : 0)} ms`;
}
