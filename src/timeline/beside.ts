import type { CoreSeries, Timeline } from './types.js';

/**
 * Per core, per window: poll time that ran beside the NET_RX softirqs rather than inside them.
 * A windows-mode capture records each NAPI's poll time per window, not where it ran; with
 * threaded NAPI on (the header's `threaded=1` for its device) the polls ran in the napi/<dev>
 * kthread (net/core/dev.c: napi_threaded_poll), in process context with bottom halves off, so
 * they never overlap a NET_RX softirq on that core and add to its time. Events mode sees the
 * kthreads' switches and times them in the union itself: nothing to add there. Undefined when
 * there is nothing to add.
 */
export function pollsBesideNetRx(t: Timeline): Map<number, Float64Array> | undefined {
  if (t.capture.mode !== 'windows') return undefined;
  const threaded = new Set((t.capture.header?.devices ?? []).filter((d) => d.threaded === 1).map((d) => d.name));
  if (threaded.size === 0) return undefined;
  const out = new Map<number, Float64Array>();
  for (const n of t.napis) {
    if (!threaded.has(n.dev)) continue;
    for (const [cpu, s] of n.perCpu) {
      let a = out.get(cpu);
      if (a === undefined) out.set(cpu, (a = new Float64Array(t.windowCount)));
      for (let w = 0; w < t.windowCount; w++) a[w] = a[w]! + (s.busyNs[w] ?? 0);
    }
  }
  return out.size > 0 ? out : undefined;
}

/**
 * A core's traced busy share of window `w` (of length `len` ns): the timeline's union, at least
 * its largest part (a capture without slices only has the parts), with the polls that ran beside
 * NET_RX (pollsBesideNetRx) added to the NET_RX time. What analyze and the replay both count.
 */
export function tracedShare(c: CoreSeries, w: number, len: number, beside: Float64Array | undefined): number {
  const part = Math.max((c.netRxBusyNs[w] ?? 0) + (beside?.[w] ?? 0), c.pollBusyNs[w] ?? 0, c.threadPollBusyNs[w] ?? 0, c.cryptBusyNs[w] ?? 0) / len;
  return Math.min(1, Math.max(c.utilization[w] ?? 0, part));
}
