import type { BootNs, DurNs, Ns } from '../base/time.js';
import type { Diagnostic } from '../base/diagnostics.js';
import type { CaptureHeader, CaptureMode } from '../model/header.js';
import type { FormatName } from '../import/types.js';

/**
 * The per-core timeline every detector, model and report reads. Memory is bounded by
 * CPUs x NAPI instances x windows, never by the number of events: the builder folds events
 * into per-window aggregates as they stream in, and keeps individual slices only for the
 * range a command asks for (`SliceRequest`).
 *
 * All per-window series are Float64Arrays of length `windowCount`; window i covers
 * [startNs + i*windowNs, startNs + (i+1)*windowNs) clipped to endNs. Time attributed to a
 * window is the overlap of a slice with it (a slice crossing a boundary is split).
 */
export interface Timeline {
  capture: CaptureFacts;
  /** CPU ids, ascending: from the header (idle CPUs included), else those seen in events. */
  cpus: number[];
  windowNs: DurNs;
  /**
   * Only when the window had to widen (grid.ts: the per-window series stay within a memory
   * budget by doubling the window): the window asked for. Every per-window figure is at windowNs.
   */
  windowAskedNs?: DurNs;
  windowCount: number;
  /** Per CPU id. */
  cores: Map<number, CoreSeries>;
  /** NAPI instances (one per tunnel on WireGuard), in order of first appearance. */
  napis: NapiInstance[];
  /** Per device (wg crypt work and RSS evidence), keyed by device name. */
  devices: Map<string, DeviceSeries>;
  /**
   * Events mode: per CPU id, the runs during which a NAPI occupied the core (its index in
   * `napis`, start, end; relative ns): consecutive polls of it there within
   * OCCUPANCY_MAX_GAP_NS, or after a full-budget softirq poll (still scheduled). What
   * co-location is measured on, independent of the window (docs/findings.md).
   */
  occupancy?: Map<number, { napi: number[]; start: number[]; end: number[] }>;
  /** Only when requested: individual slices per CPU id, sorted by start. */
  slices?: Map<number, Slice[]>;
  diagnostics: Diagnostic[];
}

export interface CaptureFacts {
  format: FormatName;
  mode: CaptureMode;
  header?: CaptureHeader;
  /** Boot ns that `Ns` 0 refers to. */
  origin: BootNs;
  /** Capture bounds relative to origin (header start/end when present, else first/last event). */
  startNs: Ns;
  endNs: Ns;
  durationNs: DurNs;
  events: number;
  lostEvents: number;
  skippedLines: number;
  /** Slices cut by the capture's start or end, clamped and marked. */
  clampedSlices: number;
  /** Devices polled but left out by the capture's device filter (ImportSummary.untracedDevices). */
  untracedDevices?: string[];
  /**
   * When the probes stopped recording, if before the header's stop mark (relative to origin like
   * startNs): probedSpan ends here. Events mode: the last event. Windows mode: the end of the
   * last regular window, when the last one was printed after lost prints (the probes' removal).
   */
  recordedUntilNs?: Ns;
  /** True when CPUs came from events, not from a header. */
  cpusGuessed: boolean;
  /** Slices not kept because `SliceRequest.maxSlices` was reached (0 or absent: all requested slices kept). */
  slicesCut?: number;
}

export interface CoreSeries {
  cpu: number;
  /** NET_RX softirq time (entry..exit), including polls inside it. */
  netRxBusyNs: Float64Array;
  netRxCount: Float64Array;
  /** The part of NET_RX that ran inside ksoftirqd/N (deferred: the core is saturated). */
  ksoftirqdNetRxBusyNs: Float64Array;
  ksoftirqdNetRxCount: Float64Array;
  netTxBusyNs: Float64Array;
  /** NAPI poll time inside softirq (sum over NAPIs). */
  pollBusyNs: Float64Array;
  /** NAPI poll time in threaded-NAPI kthreads (napi/<dev>-<id>), from sched_switch slices. */
  threadPollBusyNs: Float64Array;
  /** WireGuard crypt workqueue items (wg_packet_{de,en}crypt_worker) executing. */
  cryptBusyNs: Float64Array;
  /** Other workqueue items executing (kex, tx worker, anything else). */
  otherWorkBusyNs: Float64Array;
  /** Fraction 0..1 of the window this core was busy with any of the above (union, not sum). */
  utilization: Float64Array;
  /**
   * Idle ns per window, when the capture recorded the idle task (format 3: IE/IX records, or
   * @idle windows). Events mode: the idle task ran with no traced work on top of it (a softirq
   * on irq exit from idle is busy, as /proc/stat counts it). Windows mode: the idle task's time
   * as the kernel script summed it.
   */
  idleNs: Float64Array;
  /**
   * The idle records as captured, before the calibration to the kernel's idle accounting
   * (idle-calibration.ts); idleNs is this less the kernel's busy time inside idle periods.
   */
  idleTaskNs: Float64Array;
  /** Idle periods (the idle task switched in, then out) that ended in each window. */
  idlePeriods: Float64Array;
  /**
   * Format 4, where idle periods whose switch to idle was not seen lie: per window, the time from
   * the last event before such a period's end to its end (its idle is somewhere in there).
   */
  idleUnknownNs?: Float64Array;
  /** The capture recorded this core's idle time (otherwise idleNs is all zero and means nothing). */
  idleRecorded: boolean;
  /** How idleNs was matched to /proc/stat over the probed span (absent: no idle records). */
  idleCalibration?: IdleCalibration;
}

/**
 * The idle records against the kernel's own idle time over the probed span. The kernel counts
 * less idle than the idle task ran: its idle clock starts in do_idle's tick_nohz_idle_enter and
 * stops at each irq entry and at tick_nohz_idle_exit (kernel/time/tick-sched.c), so the switch
 * into idle, irqs, flushing queued wake-ups and the switch out are busy to /proc/stat and mpstat.
 * That cost comes with every idle period, so it is taken off per period (docs/findings.md).
 */
export interface IdleCalibration {
  /** The part of the probed span the /proc/stat snapshots cover, which the figures below are over. */
  fitNs: number;
  /** /proc/stat's idle + iowait share of its fields over the snapshots' span, times fitNs. */
  kernelIdleNs: number;
  /** The idle records' idle time over fitNs, before calibration. */
  idleTaskNs: number;
  /** Idle periods that ended within fitNs. */
  periods: number;
  /** (idleTaskNs - kernelIdleNs) / periods: kernel-busy time inside each idle period. */
  perPeriodNs: number;
  /**
   * When the records hold less idle than the kernel (switches to idle not seen): the idle put
   * back into the windows' untraced busy time (perPeriodNs is then NaN).
   */
  restoredNs?: number;
  /** idleNs was calibrated; otherwise it is the records as captured and `reason` says why. */
  applied: boolean;
  reason?: string;
}

export interface NapiInstance {
  /** Index in Timeline.napis. */
  index: number;
  dev: string;
  /** `0x` + 16 hex digits. */
  napi: string;
  totals: { polls: number; work: number; fullBudgetPolls: number; busyNs: number; threadedPolls: number };
  /** Per CPU id. */
  perCpu: Map<number, NapiCpuSeries>;
  /** Consecutive polls on different CPUs (the poll moved). Bounded list of the moves. */
  moves: number;
  /** Polls of two CPUs interleaved in time but arrived in separate runs: moves is a lower bound. */
  movesLowerBound?: true;
  moveList: { ts: Ns; from: number; to: number }[];
  /** Threaded-NAPI kthread pids that ran this NAPI's polls (napi/<dev>-<id>). */
  threadPids: number[];
}

/**
 * A NAPI's series on one CPU. Read-only: a series that holds only zeros is one array shared by
 * all such series of the timeline (WindowGrid.extractShared), so a write would change them all.
 */
export interface NapiCpuSeries {
  busyNs: Float64Array;
  polls: Float64Array;
  work: Float64Array;
  fullBudgetPolls: Float64Array;
  /** Monolithic chains: runs of consecutive work == budget polls of this NAPI on this CPU. */
  chains: ChainStats;
  /**
   * Time this NAPI waited on this CPU while another NAPI's poll ran: when this NAPI's last
   * poll here used its whole budget it is still scheduled (net/core/dev.c: napi_poll requeues
   * it), so any other poll that runs here before its next poll delays it. One row per other NAPI
   * (by its index, ascending), each above zero.
   */
  waitedForNs: WaitRows;
}

/**
 * One NAPI's waits on one CPU: rows [from, to) of the columns its core's NAPIs share (the NAPI
 * waited for, by index, and the time in ns). Columns per core instead of a Map per NAPI-CPU
 * pair: a stock capture of 1,024 tunnels over 128 cores has about a million waits in 65 k
 * NAPI-CPU pairs: as Maps the live heap after the load was 111 MB, as columns 72 MB (12 bytes a
 * wait; bench/README.md, issue 16's seventh round).
 */
export interface WaitRows {
  readonly waitedFor: Int32Array;
  readonly ns: Float64Array;
  readonly from: number;
  readonly to: number;
}

export interface ChainStats {
  /** Number of chains with at least 2 polls. */
  count: number;
  /** Histogram of chain length in polls: bucket k counts chains of [2^k, 2^(k+1)) polls. */
  lengthLog2Histogram: number[];
  totalPolls: number;
  /** Sum of the chains' spans: from the first poll's start to the last poll's end. */
  totalNs: number;
  /** The longest chains (bounded), for evidence. */
  longest: { startNs: Ns; endNs: Ns; polls: number }[];
}

export interface DeviceSeries {
  dev: string;
  /** wg-crypt-<dev> items executed, per CPU id: busy ns and count, and per window per CPU. */
  cryptBusyByCpu: Map<number, number>;
  cryptItemsByCpu: Map<number, number>;
  /** workqueue_queue_work on wg-crypt-<dev>, counted per requesting CPU (the RSS core). */
  queueWorkByCpu: Map<number, number>;
}

export type SliceKind = 'net_rx' | 'net_tx' | 'poll' | 'thread_poll' | 'ksoftirqd' | 'crypt_work' | 'work' | 'napi_thread';

export interface Slice {
  kind: SliceKind;
  start: Ns;
  dur: DurNs;
  /** Nesting depth on its CPU (a poll inside a NET_RX softirq has depth 1). */
  depth: number;
  /** Device and napi for polls; function for work items; comm for threads. */
  label: string;
  napiIndex?: number;
  work?: number;
  budget?: number;
  /** Cut by the capture's start or end and clamped to it. */
  clamped?: 'start' | 'end' | 'both';
}

export interface SliceRequest {
  from?: Ns;
  to?: Ns;
  cpus?: number[];
  /** Bound on slices kept (the command says how many it can show); past it, counted only. */
  maxSlices?: number;
  /**
   * Takes each slice as it closes (inner before outer, CPU by CPU in input order) instead of
   * keeping it: the caller stores it its own way (export keeps ~40 bytes per slice instead of
   * a Slice object's ~240), and `Timeline.slices` then holds empty lists.
   */
  sink?: (cpu: number, s: Slice) => void;
}

export interface TimelineOptions {
  /** Aggregation window; default 10 ms, or the capture's interval in windows mode. */
  windowNs?: number;
  slices?: SliceRequest;
}
