import type { TraceEvent } from '../model/events.js';
import type { BuildContext } from './context.js';
import type { CoreAcc } from './core-acc.js';
import type { GridSeries } from './grid.js';
import { NAPI_BUSY, NAPI_FULL, NAPI_POLLS, NAPI_WORK, type NapiTable } from './napi-acc.js';

/**
 * Windows mode (docs/timeline.md): the kernel script's per-window records fill the same series
 * as events do, each kernel window `[ts - interval, ts)` going to the grid window holding its
 * middle. `core` is the record's CPU's.
 */
export function foldWindow(x: BuildContext, napis: NapiTable, core: CoreAcc, ev: TraceEvent & { kind: 'window_napi' | 'window_cpu' }): void {
  const g = x.ensureGrid();
  const lo = ev.ts - ev.intervalNs;
  if (lo < x.minTs) x.minTs = lo;
  if (ev.ts > x.maxTs) x.maxTs = ev.ts;
  // The kernel window [ts - interval, ts) goes into the grid window holding its middle
  // (the interval probe is not aligned with the capture start).
  const mid = ev.ts - ev.intervalNs / 2;
  // A kernel window much longer than the grid's (a capture whose interval changed, --window
  // below the interval, or the last window stretched over the window prints lost at exit:
  // import/bpftrace-text.ts, WindowAccumulator.start) is spread over the grid windows it
  // covers, so no grid window holds more time than it lasted.
  const spread = ev.intervalNs > 1.5 * g.windowNs;
  const add = (series: GridSeries, v: number, row = 0): void => (spread ? g.addSpread(series, lo, ev.ts, v, row) : g.addAt(series, mid, v, row));
  if (ev.kind === 'window_napi') {
    if (ev.busyNs > ev.intervalNs * 1.01) {
      // One NAPI polls on one CPU at a time: more poll time than the window lasted is a map
      // read racing the probes or a broken capture. Kept as it is (the totals stay right),
      // and every per-window share is capped at the window.
      x.problem('window-busy-over-interval', `CPU ${ev.cpu}: ${ev.dev} ${ev.napi} polled ${ev.busyNs} ns in a window of ${ev.intervalNs} ns ending at ${ev.ts} ns`);
    }
    const st = napis.of(ev.napi, ev.dev);
    const nc = st.on(ev.cpu, g);
    add(nc.series, ev.busyNs, NAPI_BUSY);
    add(nc.series, ev.polls, NAPI_POLLS);
    add(nc.series, ev.work, NAPI_WORK);
    add(nc.series, ev.fullBudgetPolls, NAPI_FULL);
    add(core.pollBusy, ev.busyNs);
    st.polls += ev.polls;
    st.work += ev.work;
    st.full += ev.fullBudgetPolls;
    st.busyNs += ev.busyNs;
  } else {
    add(core.netRxBusy, ev.netRxBusyNs);
    add(core.netRxCount, ev.netRxCount);
    add(core.ksCount, ev.ksoftirqdNetRxCount);
    add(core.netTxBusy, ev.netTxBusyNs);
    add(core.cryptBusy, ev.cryptBusyNs);
    if (ev.idleNs !== undefined) {
      // The idle task's time (format 3 @idle): softirqs that interrupted it are inside it. More
      // than the window (a core idle since the probes attached, first listed now) goes back
      // over the windows it covers.
      if (ev.idleNs > ev.intervalNs) g.addSpread(core.idle, ev.ts - ev.idleNs, ev.ts, ev.idleNs);
      else add(core.idle, ev.idleNs);
      add(core.idlePeriods, ev.idlePeriods ?? 0);
      core.idleRecorded = true;
    }
    // Windows mode has no slices to take a union of: the sum, capped at the window, is an
    // upper bound (a softirq nested in a crypt worker is counted twice).
    add(core.busy, Math.min(ev.intervalNs, ev.netRxBusyNs + ev.netTxBusyNs + ev.cryptBusyNs));
  }
}
