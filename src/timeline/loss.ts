import type { Timeline } from './types.js';

/**
 * The probe runs a capture's losses are a share of. Events mode: its events (one record per
 * probe run). Windows mode: the capture's events are map rows (one per key and window) while its
 * losses are probe runs the kernel skipped (`#@recursion_misses`, docs/capture-format.md), so the
 * runs are the polls and the NET_RX entries and exits the windows counted. One definition for the
 * data-quality finding and the replay's abstention, so the two never state different shares.
 */
export function probeRuns(t: Timeline): number {
  if (t.capture.mode !== 'windows') return t.capture.events;
  let runs = 0;
  for (const n of t.napis) runs += n.totals.polls;
  for (const c of t.cores.values()) {
    const a = c.netRxCount;
    for (let i = 0; i < t.windowCount && i < a.length; i++) runs += 2 * a[i]!;
  }
  return Math.round(runs);
}

/** Lost events over the probe runs seen plus the lost ones (0 without losses). */
export function lostShare(t: Timeline): number {
  const lost = t.capture.lostEvents;
  return lost > 0 ? lost / (probeRuns(t) + lost) : 0;
}
