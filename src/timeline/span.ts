import type { CaptureHeader } from '../model/header.js';
import type { Timeline } from './types.js';

/** A header mark (boot ns, decimal) as ns since the header's start, when both are there. */
export function sinceStart(h: CaptureHeader, boot: string | undefined): number | undefined {
  if (h.startBootNs === undefined || boot === undefined || !/^\d+$/.test(h.startBootNs) || !/^\d+$/.test(boot)) return undefined;
  return Number(BigInt(boot) - BigInt(h.startBootNs));
}

/**
 * The span the probes observed, relative to the capture start: from the header's
 * probes-attached mark to its probes-detached mark (bpftrace can attach seconds after the
 * capture's start was written, and that time holds no events), widened to any activity seen
 * outside the marks. Without marks: the whole capture. Rates and utilizations are over it.
 */
export function probedSpan(t: Timeline): { from: number; to: number } {
  const start = t.capture.startNs as number;
  const duration = t.capture.durationNs as number;
  const rel = (b: string | undefined): number | undefined => (b !== undefined && /^\d{1,20}$/.test(b) ? Number(BigInt(b) - t.capture.origin) - start : undefined);
  let from = rel(t.capture.header?.probesStartBootNs) ?? 0;
  // Events mode: the last event, when the probes stopped recording before the stop mark;
  // windows mode: the end of the last regular window, when the last one was the probes' removal.
  let to = t.capture.recordedUntilNs !== undefined ? (t.capture.recordedUntilNs as number) - start : (rel(t.capture.header?.probesStopBootNs) ?? duration);
  if (!(from >= 0 && from < duration)) from = 0;
  if (!(to > from && to <= duration)) to = duration;
  // Widen to any activity outside the marks (events of probes attached early, or late),
  // judged by point events only (a NET_RX softirq or a poll counted in the window): a span
  // whose start was not seen is clamped to the capture start by the timeline and would
  // pretend activity before the probes existed.
  let first = -1;
  let last = -1;
  for (let w = 0; w < t.windowCount; w++) {
    let active = false;
    for (const c of t.cores.values()) if ((c.netRxCount[w] ?? 0) > 0) active = true;
    if (!active) for (const n of t.napis) for (const s of n.perCpu.values()) if ((s.polls[w] ?? 0) > 0) active = true;
    if (active) {
      if (first < 0) first = w;
      last = w;
    }
  }
  if (first >= 0) {
    // Only by a grid window wholly outside the marks: activity in the window that holds a mark
    // may lie inside them (a poll 0.1 ms after the probes attached, in a window that began 9 ms
    // before), and widening to that window's edge made the span, and every rate over it, depend
    // on --window (2.669 s at 10 ms, 2.805 s at 500 ms for the same capture).
    if ((first + 1) * t.windowNs <= from) from = first * t.windowNs;
    // Not past a windows capture's recorded end: what came after it was the probes' removal,
    // which the importer left out, so the end of the grid window holding the last regular
    // window would add time no record covers.
    if (!(t.capture.mode === 'windows' && t.capture.recordedUntilNs !== undefined) && last * t.windowNs >= to) to = Math.max(to, Math.min(duration, (last + 1) * t.windowNs));
  }
  return { from, to };
}
