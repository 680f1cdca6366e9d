import type { BuildContext } from './context.js';
import { clampStart, periodEnded, type CpuState } from './cpu-state.js';
import { softirqExitLost } from './cpu-events.js';

/**
 * A core's idle time from its idle records (docs/timeline.md rule 14): format 3's switches to
 * and from the idle task (`IE`/`IX`), format 4's whole periods (`IP`), and what is still open
 * when the probes detached. Idle time is counted while the idle task runs and nothing traced
 * runs on top of it (cpu-state.ts `open` and `end` stop and restart it).
 */

/** sched_switch to (IE) or from (IX) the core's idle task. */
export function coreIdle(x: BuildContext, c: CpuState, t: number, prev: number, idle: boolean): void {
  softirqExitLost(x, c, t, prev);
  const g = x.grid!;
  c.core.idleRecorded = true;
  if (idle) {
    if (c.inIdle) {
      // Two switches to idle in a row: the switch away from idle between them was lost. The
      // core left idle at the latest at the last event seen on it.
      x.problem('idle-exit-lost', `CPU ${c.cpu}: switch to idle at ${t} ns while idle: the earlier idle period is ended at the last event seen (${prev} ns)`);
      x.clamped++;
      if (!Number.isNaN(c.idleStart)) g.addSpan(c.core.idle, c.idleStart, Math.max(prev, c.idleStart));
      periodEnded(x, c, prev);
    }
    c.inIdle = true;
    c.idleSeen = true;
    c.idleStart = c.stack.length === 0 ? t : NaN;
    return;
  }
  if (c.inIdle) {
    if (!Number.isNaN(c.idleStart)) g.addSpan(c.core.idle, c.idleStart, t);
    periodEnded(x, c, t);
    c.inIdle = false;
    c.idleStart = NaN;
  } else if (!c.idleSeen) {
    // Idle since before the probes attached: from the clamped start, minus the traced work
    // already recorded on this CPU (all of it lies before t).
    const from = clampStart(x, c);
    g.addSpanLess(c.core.idle, from, t, c.core.busy);
    periodEnded(x, c, t);
  } else if (c.idleImpliedExit !== t) {
    x.problem('idle-entry-lost', `CPU ${c.cpu}: switch from idle at ${t} ns without a switch to idle before it (lost events?): ignored`);
  }
  c.idleSeen = true;
  c.idleImpliedExit = NaN;
}

/**
 * An idle period that ended at t (format 4 `IP`): the idle task ran over [start, t). Traced work
 * on top of it is taken off in assembleTimeline (idleBusy). A period whose start was not seen
 * still counts as a period (the kernel's busy cost per period applies to it: idle-calibration.ts)
 * but adds no idle: the timeline's calibration puts back what the kernel counted.
 */
export function idlePeriod(x: BuildContext, c: CpuState, t: number, prev: number, entry: 'seen' | 'before-probes' | 'missed', start: number | undefined, prevEnd: number | undefined): void {
  const g = x.grid!;
  c.core.idleRecorded = true;
  if (prevEnd !== undefined && c.idlePeriodSeen && prevEnd > c.lastIdleEnd && prevEnd < t) {
    // The period before this one ended at prevEnd, after the last IP seen here: its record was
    // lost. Counted as a period whose idle lies somewhere after the last IP seen.
    periodEnded(x, c, prevEnd);
    g.addSpan(c.core.idleUnknown, c.lastIdleEnd, prevEnd);
    c.core.idleEntriesMissed++;
  }
  c.lastIdleEnd = t;
  periodEnded(x, c, t);
  if (entry === 'seen') g.addSpan(c.core.idle, Math.max(start!, clampStart(x, c)), t);
  else if (entry === 'before-probes' && !c.idlePeriodSeen) g.addSpan(c.core.idle, clampStart(x, c), t);
  else {
    c.core.idleEntriesMissed++;
    g.addSpan(c.core.idleUnknown, Math.max(prev, clampStart(x, c)), t);
  }
  c.idlePeriodSeen = true;
}

/** Idle still open at the capture's end `endNs`: counted up to when the probes detached (after it nothing was recorded). */
export function closeIdleAtEnd(x: BuildContext, c: CpuState, endNs: number): void {
  const g = x.grid!;
  if (!Number.isNaN(c.idleStart)) {
    const stop = x.probesStopNs !== undefined && x.probesStopNs >= c.idleStart ? Math.min(x.probesStopNs, endNs) : endNs;
    g.addSpan(c.core.idle, c.idleStart, stop);
    c.idleStart = NaN;
  }
  if (!Number.isNaN(c.idleOpenFrom)) {
    // Format 4: idle since idleOpenFrom when the probes detached (no IP record ended it).
    const from = Math.max(c.idleOpenFrom, clampStart(x, c));
    const stop = x.probesStopNs !== undefined && x.probesStopNs >= from ? Math.min(x.probesStopNs, endNs) : endNs;
    g.addSpan(c.core.idle, from, stop);
    c.idleOpenFrom = NaN;
  }
}
