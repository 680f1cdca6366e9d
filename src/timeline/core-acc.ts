import type { GridSeries, WindowGrid } from './grid.js';

/**
 * One core's per-window series on the grid, in ns (counts for netRxCount and ksCount). The idle
 * series only some captures have are made on first use: a series costs a slot range of the grid
 * for every core, whether or not anything is written to it.
 */
export class CoreAcc {
  readonly netRxBusy: GridSeries;
  readonly netRxCount: GridSeries;
  readonly ksBusy: GridSeries;
  readonly ksCount: GridSeries;
  readonly netTxBusy: GridSeries;
  readonly pollBusy: GridSeries;
  readonly threadPollBusy: GridSeries;
  readonly cryptBusy: GridSeries;
  readonly otherWorkBusy: GridSeries;
  /** Union busy ns per window (divided by the window length in assembleTimeline). */
  readonly busy: GridSeries;
  /** Idle ns per window: the idle task ran and no traced work was on top of it. */
  readonly idle: GridSeries;
  private periodsSeries?: GridSeries;
  private idleBusySeries?: GridSeries;
  /** Idle periods (switch to idle .. switch from idle) that ended in each window (made on first use). */
  get idlePeriods(): GridSeries {
    return (this.periodsSeries ??= this.g.create());
  }
  /**
   * Format 4 (`IP` records): traced work on top of the idle task (a softirq run on irq exit from
   * idle, pid 0), taken off the idle periods, which are recorded whole (made on first use).
   */
  get idleBusy(): GridSeries {
    return (this.idleBusySeries ??= this.g.create());
  }
  private unknownSeries?: GridSeries;
  /**
   * Format 4: where an idle period whose switch to idle was not seen lies: from the last event
   * seen on the CPU before its `IP` to its end (the idle is somewhere in there; made on first use).
   */
  get idleUnknown(): GridSeries {
    return (this.unknownSeries ??= this.g.create());
  }
  /** The series above, or undefined where never used (zeros). */
  extractIdle(k0: number, n: number): { periods?: Float64Array; onIdle?: Float64Array; unknown?: Float64Array } {
    return {
      ...(this.periodsSeries !== undefined ? { periods: this.g.extract(this.periodsSeries, k0, n) } : {}),
      ...(this.idleBusySeries !== undefined ? { onIdle: this.g.extract(this.idleBusySeries, k0, n) } : {}),
      ...(this.unknownSeries !== undefined ? { unknown: this.g.extract(this.unknownSeries, k0, n) } : {}),
    };
  }
  /** Idle periods whose switch to idle was not seen (`IP` with entered <= exited). */
  idleEntriesMissed = 0;
  /** Idle time recorded for this core (IP or IE/IX records, a tracer's switches, or @idle windows). */
  idleRecorded = false;
  constructor(private readonly g: WindowGrid) {
    this.netRxBusy = g.create();
    this.netRxCount = g.create();
    this.ksBusy = g.create();
    this.ksCount = g.create();
    this.netTxBusy = g.create();
    this.pollBusy = g.create();
    this.threadPollBusy = g.create();
    this.cryptBusy = g.create();
    this.otherWorkBusy = g.create();
    this.busy = g.create();
    this.idle = g.create();
  }
}
