import { DiagnosticLog, type Diagnostic } from '../base/diagnostics.js';
import { TimeBase, bootNs, durNs, ns, type Ns } from '../base/time.js';
import { SOFTIRQ_NET_RX, SOFTIRQ_NET_TX, type TraceEvent } from '../model/events.js';
import type { CaptureHeader, CaptureMode } from '../model/header.js';
import type { ImportSummary } from '../import/types.js';
import { GridSeries, WindowGrid } from './grid.js';
import { calibrateIdle } from './idle-calibration.js';
import { assignDepths, checkInvariants } from './invariants.js';
import type { ChainStats, CoreSeries, DeviceSeries, NapiCpuSeries, NapiInstance, Slice, SliceKind, SliceRequest, Timeline, TimelineOptions } from './types.js';

/**
 * Folds a stream of `TraceEvent` batches into a `Timeline` (docs/timeline.md).
 *
 * Events are ordered within one CPU but not across CPUs (bpftrace drains per-CPU buffers), so
 * every state machine here is per CPU and nothing needs a global order. Cross-CPU facts
 * (which device a crypt work item belongs to, where a NAPI moved) are resolved in `finish`.
 *
 * This is the hot path: no per-event allocation (no objects, no string building) unless the
 * caller asked for slices; per-window series are typed arrays on one growable grid.
 */

/** Default aggregation window: fine enough to see a surge converge onto one core within a second. */
export const DEFAULT_WINDOW_NS = 10_000_000;
/** Bound on the per-chain evidence list (the longest monolithic chains of a NAPI on a CPU). */
const LONGEST_CHAINS_KEPT = 8;
/** Bound on the list of NAPI moves kept for evidence (all are counted). */
const MOVES_KEPT = 1000;
/** Bound on threaded-NAPI kthread pids remembered per NAPI. */
const THREAD_PIDS_KEPT = 64;
/**
 * How far one CPU's events may lag another's in the file. bpftrace drains each CPU's perf
 * buffer in turn; a few seconds is far beyond what a live capture shows. Used only to settle
 * NAPI move segments early so their memory stays bounded.
 */
const MAX_CPU_SKEW_NS = 5_000_000_000;
/** Segments per NAPI before settling the old ones. */
const SEGMENTS_SETTLE_AT = 1 << 15;
/** Work items remembered as interrupted by a later item on the same CPU. */
const SUSPENDED_WORK_KEPT = 8;
/**
 * A tunnel occupies a core from the start of a poll there to the end of its next poll there
 * when that one follows within this gap, or after any gap when the earlier poll used its whole
 * budget in softirq (net/core/dev.c: napi_poll requeues it on the same CPU, so it stayed
 * scheduled there, waiting). 1 ms: a tunnel forwarding steadily polls far more often (a poll
 * of 64 packets is 100-300 us of work), while a NAPI that completed and was scheduled again on
 * the same core after a pause of more than a tick is a new placement (docs/findings.md).
 */
export const OCCUPANCY_MAX_GAP_NS = 1_000_000;
/** Bound on occupancy runs kept over all CPUs (3 numbers each, about 24 MB at the bound); past it co-location is judged by windows. */
const OCCUPANCY_RUNS_MAX = 1_000_000;
/** CPU ids accepted (CONFIG_NR_CPUS max). */
const MAX_CPU = 8191;
/** wg work functions that are crypt work (drivers/net/wireguard/receive.c, send.c). */
const DECRYPT_FN = 'wg_packet_decrypt_worker';
const ENCRYPT_FN = 'wg_packet_encrypt_worker';
/** drivers/net/wireguard/device.c: alloc_workqueue("wg-crypt-%s", ...). */
/** CpuState.headPolls: not yet known, timed in the softirq open at the start, not timed. */
const HEAD_UNDECIDED = 0;
const HEAD_TIMED = 1;
const HEAD_UNTIMED = 2;
/**
 * Longest a NET_RX softirq open at the capture start can still run: net_rx_action stops after
 * netdev_budget_usecs (2 jiffies: 20 ms at HZ=100, the slowest tick; net/core/dev.c), so a
 * softirq whose exit has not come by then was not open at the start.
 */
const HEAD_SOFTIRQ_MAX_NS = 20_000_000;
/** Events held per CPU while its head polls are undecided (beyond: not timed). */
const HOLD_MAX_EVENTS = 65536;
const CRYPT_WQ_PREFIX = 'wg-crypt-';
/** Device name used for crypt work whose queue_work was never seen. */
export const UNKNOWN_DEVICE = '(unknown)';
/** Which slice kind encloses which when two share start and end: threads run work and softirqs, softirqs run polls. */
export const KIND_RANK: Record<SliceKind, number> = { napi_thread: 0, work: 1, crypt_work: 1, net_rx: 2, ksoftirqd: 2, net_tx: 2, poll: 3, thread_poll: 3 };
/** Open slice kinds on a CPU's stack. */
const K_RX = 1;
const K_TX = 2;
const K_WORK = 3;
const K_THREAD = 4;
const KIND_NAME = ['', 'NET_RX', 'NET_TX', 'work item', 'napi thread run'];
const CLAMP_START = 1;
const CLAMP_END = 2;

class CoreAcc {
  readonly netRxBusy: GridSeries;
  readonly netRxCount: GridSeries;
  readonly ksBusy: GridSeries;
  readonly ksCount: GridSeries;
  readonly netTxBusy: GridSeries;
  readonly pollBusy: GridSeries;
  readonly threadPollBusy: GridSeries;
  readonly cryptBusy: GridSeries;
  readonly otherWorkBusy: GridSeries;
  /** Union busy ns per window (divided by the window length in finish). */
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

class NapiCpuAcc {
  readonly busy: GridSeries;
  readonly polls: GridSeries;
  readonly work: GridSeries;
  readonly full: GridSeries;
  readonly waited = new Map<number, number>();
  /** On this CPU's pending list: last softirq poll used its whole budget (still scheduled). */
  pending = false;
  /** The open occupancy run of this NAPI on this CPU (NaN: none), and whether its last poll was a full softirq one. */
  occStart = NaN;
  occEnd = 0;
  occHeld = false;
  chainLen = 0;
  chainStart = 0;
  chainEnd = 0;
  readonly chains: ChainStats = { count: 0, lengthLog2Histogram: [], totalPolls: 0, totalNs: 0, longest: [] };
  constructor(
    g: WindowGrid,
    readonly napi: NapiAcc,
  ) {
    this.busy = g.create();
    this.polls = g.create();
    this.work = g.create();
    this.full = g.create();
  }
}

class NapiAcc {
  readonly perCpu: (NapiCpuAcc | undefined)[] = [];
  polls = 0;
  work = 0;
  full = 0;
  busyNs = 0;
  threadedPolls = 0;
  readonly threadPids: number[] = [];
  /** Arrival-order segments of consecutive polls on one CPU (see settleMoves). */
  segCpu: number[] = [];
  segFirst: number[] = [];
  segLast: number[] = [];
  /** Last settled segment's CPU (-1: none yet). */
  settledCpu = -1;
  moves = 0;
  readonly moveList: { ts: Ns; from: number; to: number }[] = [];
  readonly label: string;
  constructor(
    readonly index: number,
    readonly dev: string,
    readonly napi: string,
  ) {
    this.label = `${dev} ${napi}`;
  }
}

/** Per work pointer: crypt time and items per CPU id (dense arrays: CPU ids are small). */
/** One CPU's share of a crypt work item: busy ns, and items started there (undefined: only continuations). */
class CryptCpu {
  busy = 0;
  items: number | undefined = undefined;
}

/**
 * Per work pointer: its busy time and items per CPU. WireGuard's crypt work is per device and
 * per CPU (drivers/net/wireguard/queueing.c: wg_packet_percpu_multicore_worker_alloc, run by
 * queue_work_on on its CPU), so a pointer almost always runs on one CPU: that one is held
 * inline, any other in a map. (Arrays indexed by CPU id cost ~2 KB per pointer at 128 CPUs:
 * 180 MB for the 1,024 x 128 = 131,072 pointers of a 1,024-tunnel gateway.)
 */
class CryptAcc {
  private firstCpu = -1;
  private first: CryptCpu | undefined;
  private others: Map<number, CryptCpu> | undefined;
  at(cpu: number): CryptCpu {
    if (cpu === this.firstCpu) return this.first!;
    if (this.first === undefined) {
      this.firstCpu = cpu;
      return (this.first = new CryptCpu());
    }
    let o = (this.others ??= new Map()).get(cpu);
    if (o === undefined) this.others.set(cpu, (o = new CryptCpu()));
    return o;
  }
  /** [cpu, share] by CPU id ascending. */
  entries(): [number, CryptCpu][] {
    const out: [number, CryptCpu][] = this.first === undefined ? [] : [[this.firstCpu, this.first]];
    if (this.others !== undefined) {
      out.push(...this.others);
      out.sort((a, b) => a[0] - b[0]);
    }
    return out;
  }
}

/** Per wg-crypt-<dev> workqueue name: queue_work counts per requesting CPU id. */
class QueueAcc {
  readonly byCpu: number[] = [];
  constructor(readonly dev: string) {}
}

/** Per-CPU state machines. NaN start = not open. */
class CpuState {
  firstTs = NaN;
  lastTs = -Infinity;
  /**
   * Open slices (K_*), outermost first. A context never outlives what runs on top of it (a
   * softirq ends before the work item it interrupted), so closing a slice first closes those
   * above it; the CPU is busy while the stack is not empty.
   */
  readonly stack: number[] = [];
  busyStart = 0;
  /** End of the last slice closed on this CPU (a poll never starts before it). */
  lastCloseTs = -Infinity;
  /** End of the last poll on this CPU in any context: polls are leaves and never overlap. */
  lastPollEnd = -Infinity;
  rxStart = NaN;
  rxKsoftirqd = false;
  rxComm = '';
  rxSeen = false;
  /** End of the previous poll in this NET_RX softirq (NaN before any: the capture start for head polls). */
  rxLastPollEnd = NaN;
  rxHeadKsoftirqd = false;
  txStart = NaN;
  txSeen = false;
  workStart = NaN;
  workPtr = '';
  workFn = '';
  workSeen = false;
  /** The open item is a continuation after its kworker was switched out and back in (not a new item). */
  workContinued = false;
  /** Kworker switched out in the middle of an item (-1: none), and that item. */
  preemptPid = -1;
  preemptPtr = '';
  preemptFn = '';
  readonly suspended: string[] = [];
  thrStart = NaN;
  thrPid = -1;
  thrComm = '';
  thrLastPollEnd = NaN;
  thrSeen = false;
  /**
   * Polls before this CPU's first NET_RX event (HEAD_*): timed as part of the softirq open at
   * the capture start only when that first event is its exit; meanwhile this CPU's events are
   * held (in `held`, from `holdFrom`) so that they are folded in file order once it is known.
   */
  headPolls = HEAD_UNDECIDED;
  held: TraceEvent[] | undefined;
  holdFrom = 0;
  /** NAPIs whose last softirq poll here used the whole budget (net/core/dev.c: napi_poll requeues them). */
  readonly pending: NapiCpuAcc[] = [];
  /** The core runs its idle task (between IE and IX). */
  inIdle = false;
  /** Start of the idle time being counted: in the idle task with nothing traced on top (NaN: not counting). */
  idleStart = NaN;
  /** An IE or IX was seen on this CPU. */
  idleSeen = false;
  /** A switch-in that ended an idle period whose IX was not seen yet (its IX may follow, same ts). */
  idleImpliedExit = NaN;
  /** The top-level slice open now began on the idle task (a softirq with pid 0). */
  busyOnIdle = false;
  /** Format 4: idle since this time when the probes detached (the script's @idle_t at exit). */
  idleOpenFrom = NaN;
  /** Format 4: an `IP` record was seen on this CPU, and when the last one ended. */
  idlePeriodSeen = false;
  lastIdleEnd = -Infinity;
  slices: Slice[] | undefined;
  /** Closed occupancy runs on this CPU: NAPI index, start, end. */
  readonly runNapi: number[] = [];
  readonly runStart: number[] = [];
  readonly runEnd: number[] = [];
  constructor(
    readonly cpu: number,
    readonly core: CoreAcc,
  ) {}
}

export class TimelineBuilder {
  private readonly file: string;
  private readonly log: DiagnosticLog;
  private readonly sliceReq: SliceRequest | undefined;
  private readonly sliceCpus: Set<number> | undefined;
  private readonly sliceFrom: number;
  private readonly sliceTo: number;
  private readonly sliceMax: number;
  private readonly sliceSink: ((cpu: number, s: Slice) => void) | undefined;
  private slicesKept = 0;
  private slicesCut = 0;
  private windowNs: number | undefined;
  private grid: WindowGrid | undefined;
  private hdr: CaptureHeader | undefined;
  /** Probes attached (relative ns), from the header; slices open before it are clamped there. */
  private probesStartNs: number | undefined;
  /** Probes detached (relative ns), from the header: an idle period open then is counted up to it, not past it. */
  private probesStopNs: number | undefined;
  private mode: CaptureMode | undefined;
  /** Events-mode format 4: idle periods arrive whole (IP), and the traced work on the idle task is taken off them. */
  private idleWhole = false;
  private readonly cpuStates: (CpuState | undefined)[] = [];
  private readonly headerCpus = new Set<number>();
  private readonly napiByPtr = new Map<string, NapiAcc>();
  private readonly napiByKey = new Map<string, NapiAcc>();
  private readonly napis: NapiAcc[] = [];
  /** CPUs holding their events (CpuState.held) until their head polls are decided. */
  private holding = 0;
  /** Polls counted with zero duration: no softirq or napi-thread run around them (rule 10). */
  private untimedPolls = 0;
  /** work pointer -> device, from workqueue_queue_work on wg-crypt-<dev>. */
  private readonly workDev = new Map<string, string>();
  private readonly queueByWq = new Map<string, QueueAcc>();
  /** Last workqueue name seen and its accumulator (null: not a wg-crypt queue). */
  private lastWq = '';
  private lastQ: QueueAcc | null = null;
  private readonly cryptByWork = new Map<string, CryptAcc>();
  private minTs = Infinity;
  private maxTs = -Infinity;
  private lostEvents = 0;
  private clamped = 0;
  private occupancyRuns = 0;
  private occupancyCut = false;
  private ignoredSoftirqs = 0;
  private windowEvents = 0;
  private pointEvents = 0;
  /** Set by at(): the current event's (monotonic) time and its CPU's previous time. */
  private t = 0;
  private prev = 0;
  private readonly counts = new Map<string, number>();
  private finished = false;

  private readonly gridBudgetBytes: number | undefined;

  constructor(opts: TimelineOptions & { file?: string; diagnostics?: DiagnosticLog; gridBudgetBytes?: number }) {
    this.file = opts.file ?? '-';
    this.gridBudgetBytes = opts.gridBudgetBytes;
    this.log = opts.diagnostics ?? new DiagnosticLog();
    this.windowNs = opts.windowNs;
    if (this.windowNs !== undefined && !(Number.isInteger(this.windowNs) && this.windowNs > 0)) {
      throw new RangeError(`windowNs must be a positive integer, got ${this.windowNs}`);
    }
    this.sliceReq = opts.slices;
    this.sliceCpus = opts.slices?.cpus ? new Set(opts.slices.cpus) : undefined;
    this.sliceFrom = opts.slices?.from ?? -Infinity;
    this.sliceTo = opts.slices?.to ?? Infinity;
    this.sliceMax = opts.slices?.maxSlices ?? Infinity;
    this.sliceSink = opts.slices?.sink;
  }

  header(h: CaptureHeader): void {
    this.hdr = h;
    this.mode = h.mode;
    this.idleWhole = h.mode === 'events' && h.formatVersion >= 4;
    // The importer's origin is the header's start (ts 0). bpftrace attaches its probes
    // seconds after that on a loaded gateway; the script's BEGIN prints when they are in.
    const start = sinceStart(h, h.probesStartBootNs);
    if (start !== undefined && start > 0) this.probesStartNs = start;
    const stop = sinceStart(h, h.probesStopBootNs);
    if (stop !== undefined && stop > 0) this.probesStopNs = stop;
    for (const c of h.cpus) this.headerCpus.add(c);
    if (h.mode === 'windows' && h.intervalNs !== undefined) {
      if (this.windowNs !== undefined && this.windowNs !== h.intervalNs) {
        this.diag('warning', 'window-is-interval', `windows-mode capture: the window is the capture's interval (${h.intervalNs} ns), not ${this.windowNs} ns`);
      }
      if (this.grid === undefined) this.windowNs = h.intervalNs;
    }
  }

  push(batch: TraceEvent[]): void {
    for (let i = 0; i < batch.length; i++) this.event(batch[i]!);
  }

  private diag(severity: Diagnostic['severity'], code: string, message: string): void {
    this.log.add({ severity, code, file: this.file, message });
  }

  /** Counts a recurring problem; only the first few of each code become diagnostics, the rest are summarised in finish. */
  private problem(code: string, message: string): void {
    const n = (this.counts.get(code) ?? 0) + 1;
    this.counts.set(code, n);
    if (n <= 5) this.diag('warning', code, message);
  }

  private ensureGrid(): WindowGrid {
    if (this.grid === undefined) this.grid = new WindowGrid(this.windowNs ?? DEFAULT_WINDOW_NS, this.gridBudgetBytes);
    return this.grid;
  }

  private cpuState(cpu: number): CpuState | undefined {
    const s = this.cpuStates[cpu];
    if (s !== undefined) return s;
    if (!(Number.isInteger(cpu) && cpu >= 0 && cpu <= MAX_CPU)) {
      this.problem('bad-cpu', `event on CPU ${cpu}, not a CPU id: ignored`);
      return undefined;
    }
    if (this.hdr !== undefined && !this.headerCpus.has(cpu)) {
      this.diag('warning', 'cpu-not-in-header', `events on CPU ${cpu}, which the header does not list as online: counted anyway`);
    }
    const st = new CpuState(cpu, new CoreAcc(this.ensureGrid()));
    if (this.sliceReq !== undefined && (this.sliceCpus === undefined || this.sliceCpus.has(cpu))) st.slices = [];
    this.cpuStates[cpu] = st;
    return st;
  }

  private event(ev: TraceEvent): void {
    // Head polls (docs/timeline.md rule 10): a CPU whose first poll came before any NET_RX
    // event holds its events until it is known whether a softirq was open at the start.
    if (this.holding > 0 && ev.kind !== 'lost_events' && ev.kind !== 'window_napi' && ev.kind !== 'window_cpu') {
      const h = this.cpuStates[ev.cpu];
      if (h !== undefined && h.held !== undefined) return this.holdOrRelease(h, ev);
    }
    if (ev.kind === 'napi_poll') {
      const h = this.cpuStates[ev.cpu] ?? this.cpuState(ev.cpu);
      if (h !== undefined && h.headPolls === HEAD_UNDECIDED && !h.rxSeen && h.rxStart !== h.rxStart && !ev.comm.startsWith('napi/')) {
        h.held = [ev];
        h.holdFrom = ev.ts;
        this.holding++;
        return;
      }
    }
    // One switch, most frequent kinds first; each case normalises the CPU's clock (at) and
    // hands primitives to a small method, so each stays monomorphic and optimisable.
    let c: CpuState | undefined;
    switch (ev.kind) {
      case 'workqueue_queue_work':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.queueWork(c, ev.work, ev.workqueue);
        return;
      case 'softirq_entry':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.softirqEntry(c, this.t, this.prev, ev.vec, ev.comm, ev.pid);
        return;
      case 'softirq_exit':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.softirqExit(c, this.t, ev.vec);
        return;
      case 'napi_poll':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.poll(c, this.t, ev.napi, ev.dev, ev.work, ev.budget, ev.pid, ev.comm);
        return;
      case 'workqueue_execute_start':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.workStart(c, this.t, this.prev, ev.work, ev.function);
        return;
      case 'workqueue_execute_end':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.workEnd(c, this.t, ev.work, ev.function);
        return;
      case 'sched_switch_in':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.switchIn(c, this.t, this.prev, ev.pid, ev.comm);
        return;
      case 'sched_switch_out':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.switchOut(c, this.t, this.prev, ev.pid, ev.state, ev.comm);
        return;
      case 'napi_poll_other':
        // An untraced device's poll ended here: the next traced poll on this CPU began after it.
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined && this.t > c.lastPollEnd) c.lastPollEnd = this.t;
        return;
      case 'core_idle':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.coreIdle(c, this.t, this.prev, ev.idle);
        return;
      case 'core_idle_period':
        if (ev.entry === 'open') {
          // Printed at exit, after every event: it moves no clock.
          if ((c = this.cpuStates[ev.cpu] ?? this.cpuState(ev.cpu)) !== undefined) {
            c.idleOpenFrom = ev.start as number;
            c.core.idleRecorded = true;
            // Not a printed event: bpftrace stops reading its buffers at exit while the probes
            // still run, so the state can be later than the last event; it moves no span.
          }
        } else if ((c = this.at(ev.cpu, ev.ts)) !== undefined) this.idlePeriod(c, this.t, this.prev, ev.entry, ev.start as number | undefined, ev.prevEnd as number | undefined);
        return;
      case 'softirq_raise':
      case 'sched_migrate_task':
        // Not needed for the timeline, but they still move the CPU's clock.
        this.at(ev.cpu, ev.ts);
        return;
      case 'window_napi':
      case 'window_cpu':
        this.windowEvent(ev);
        return;
      case 'lost_events':
        this.lostEvents += ev.count;
        return;
    }
  }

  /**
   * A held CPU's next event: its first NET_RX event decides (an exit: the head polls ran in
   * the softirq open at the capture start, and are timed in it; an entry: they had no softirq
   * around them that the capture shows); so does the end of the longest time a softirq can
   * run (HEAD_SOFTIRQ_MAX_NS), or the bound on held events. Then the held events are folded.
   */
  private holdOrRelease(h: CpuState, ev: TraceEvent): void {
    const held = h.held!;
    if ((ev.ts ?? h.holdFrom) - h.holdFrom > HEAD_SOFTIRQ_MAX_NS || held.length >= HOLD_MAX_EVENTS) {
      this.release(h, HEAD_UNTIMED);
      this.event(ev);
      return;
    }
    if ((ev.kind === 'softirq_entry' || ev.kind === 'softirq_exit') && ev.vec === SOFTIRQ_NET_RX) {
      this.release(h, ev.kind === 'softirq_exit' ? HEAD_TIMED : HEAD_UNTIMED);
      this.event(ev);
      return;
    }
    held.push(ev);
  }

  private release(h: CpuState, mode: number): void {
    const held = h.held!;
    h.held = undefined;
    h.headPolls = mode;
    this.holding--;
    for (let i = 0; i < held.length; i++) this.event(held[i]!);
  }

  /**
   * The CPU's state for an event at `ts`, with `this.t` (the event's time, kept monotonic per
   * CPU) and `this.prev` (the CPU's previous time) set; undefined for a bad CPU id.
   */
  private at(cpu: number, ts: number): CpuState | undefined {
    const c = this.cpuStates[cpu] ?? this.cpuState(cpu);
    if (c === undefined) return undefined;
    this.pointEvents++;
    const prev = c.lastTs;
    this.prev = prev;
    if (ts < prev) {
      // Per-CPU buffers are ordered; a step back means a broken or merged file. Keep the
      // CPU's clock monotonic so no slice gets a negative duration.
      this.problem('cpu-time-backwards', `CPU ${cpu}: timestamp ${ts} ns goes back to before ${prev} ns: treated as ${prev} ns`);
      this.t = prev;
      return c;
    }
    c.lastTs = ts;
    if (c.firstTs !== c.firstTs) c.firstTs = ts;
    if (ts < this.minTs) this.minTs = ts;
    if (ts > this.maxTs) this.maxTs = ts;
    this.t = ts;
    return c;
  }

  private softirqEntry(c: CpuState, t: number, prev: number, vec: number, comm: string, pid: number): void {
    if (vec === SOFTIRQ_NET_RX) {
      if (c.rxStart === c.rxStart) {
        // net/core/dev.c never nests NET_RX in itself: the exit was lost. The softirq ran at
        // least until the last event seen on this CPU.
        this.problem('unmatched-entry', `CPU ${c.cpu}: NET_RX entry at ${t} ns while one is open: the earlier one is closed at the last event seen (${prev} ns)`);
        this.end(c, K_RX, Math.max(prev, c.rxStart), 0);
      }
      c.rxStart = t;
      c.rxLastPollEnd = t;
      c.rxSeen = true;
      c.rxComm = comm;
      c.rxKsoftirqd = comm.startsWith('ksoftirqd/');
      this.open(c, K_RX, t, pid === 0);
      const g = this.grid!;
      g.addAt(c.core.netRxCount, t, 1);
      if (c.rxKsoftirqd) g.addAt(c.core.ksCount, t, 1);
    } else if (vec === SOFTIRQ_NET_TX) {
      if (c.txStart === c.txStart) {
        this.problem('unmatched-entry', `CPU ${c.cpu}: NET_TX entry at ${t} ns while one is open: the earlier one is closed at the last event seen (${prev} ns)`);
        this.end(c, K_TX, Math.max(prev, c.txStart), 0);
      }
      c.txStart = t;
      c.txSeen = true;
      this.open(c, K_TX, t, pid === 0);
    } else this.ignoredSoftirqs++;
  }

  private softirqExit(c: CpuState, t: number, vec: number): void {
    if (vec === SOFTIRQ_NET_RX) {
      if (c.rxStart === c.rxStart) this.end(c, K_RX, t, 0);
      else if (!c.rxSeen) {
        // Open when the capture started: clamp it to the capture start.
        c.rxSeen = true;
        c.rxStart = this.clampStart(c);
        c.rxKsoftirqd = c.rxHeadKsoftirqd;
        c.rxComm = c.rxKsoftirqd ? `ksoftirqd/${c.cpu}` : '';
        this.grid!.addAt(c.core.netRxCount, c.rxStart, 1);
        if (c.rxKsoftirqd) this.grid!.addAt(c.core.ksCount, c.rxStart, 1);
        this.endHead(c, K_RX, t);
      } else this.problem('unmatched-exit', `CPU ${c.cpu}: NET_RX exit at ${t} ns without its entry (lost events?): ignored`);
      c.rxLastPollEnd = NaN;
    } else if (vec === SOFTIRQ_NET_TX) {
      if (c.txStart === c.txStart) this.end(c, K_TX, t, 0);
      else if (!c.txSeen) {
        c.txSeen = true;
        c.txStart = this.clampStart(c);
        this.endHead(c, K_TX, t);
      } else this.problem('unmatched-exit', `CPU ${c.cpu}: NET_TX exit at ${t} ns without its entry (lost events?): ignored`);
    } else this.ignoredSoftirqs++;
  }

  private workStart(c: CpuState, t: number, prev: number, work: string, fn: string): void {
    // A kworker runs the item: the core is not in its idle task.
    this.leaveIdle(c, t);
    if (c.workStart === c.workStart) {
      if (c.workPtr === work) {
        this.problem('unmatched-entry', `CPU ${c.cpu}: work ${work} starts at ${t} ns while it is still executing: the earlier run is closed at the last event seen (${prev} ns)`);
        this.end(c, K_WORK, Math.max(prev, c.workStart), 0);
      } else {
        // kernel/workqueue.c: process_one_work may sleep, and another kworker then runs its
        // item on this CPU. The earlier item's slice ends where the later one begins.
        if (c.suspended.length >= SUSPENDED_WORK_KEPT) c.suspended.shift();
        c.suspended.push(c.workPtr);
        this.end(c, K_WORK, t, 0);
      }
    }
    c.workStart = t;
    c.workPtr = work;
    c.workFn = fn;
    c.workSeen = true;
    c.workContinued = false;
    this.open(c, K_WORK, t);
  }

  private workEnd(c: CpuState, t: number, work: string, fn: string): void {
    if (c.workStart === c.workStart && c.workPtr === work) {
      this.end(c, K_WORK, t, 0);
      return;
    }
    if (c.preemptPid >= 0 && c.preemptPtr === work) {
      // Its kworker's switch-in back onto the CPU was not recorded: it ran unseen until now.
      c.preemptPid = -1;
      return;
    }
    const si = c.suspended.indexOf(work);
    if (si >= 0) c.suspended.splice(si, 1);
    else if (!c.workSeen && c.workStart !== c.workStart) {
      c.workSeen = true;
      c.workStart = this.clampStart(c);
      c.workPtr = work;
      c.workFn = fn;
      this.endHead(c, K_WORK, t);
    } else this.problem('unmatched-exit', `CPU ${c.cpu}: work ${work} ends at ${t} ns without its start (lost events?): ignored`);
  }

  /**
   * A context switch on a CPU with a softirq open: softirqs never sleep and are never preempted
   * (kernel/softirq.c: __do_softirq runs with bottom halves disabled), so its exit was lost. The
   * softirq ended at the latest at the last event seen before the switch; closed there, clamped.
   */
  private softirqExitLost(c: CpuState, t: number, prev: number): void {
    for (const [open, kind, name] of [
      [c.rxStart, K_RX, 'NET_RX'],
      [c.txStart, K_TX, 'NET_TX'],
    ] as const) {
      if (open !== open) continue;
      this.problem('exit-lost', `CPU ${c.cpu}: context switch at ${t} ns while ${name} is open: its exit was lost; it is closed at the last event before (${prev} ns)`);
      this.end(c, kind, Math.max(prev, open), CLAMP_END);
    }
  }

  private switchIn(c: CpuState, t: number, prev: number, pid: number, comm: string): void {
    this.softirqExitLost(c, t, prev);
    if (pid !== 0) this.leaveIdle(c, t);
    if (comm.startsWith('kworker/')) {
      // The kworker switched out in the middle of its item comes back: the item goes on.
      if (pid === c.preemptPid && c.workStart !== c.workStart) {
        c.preemptPid = -1;
        c.workStart = t;
        c.workPtr = c.preemptPtr;
        c.workFn = c.preemptFn;
        c.workContinued = true;
        this.open(c, K_WORK, t);
      }
      return;
    }
    if (!comm.startsWith('napi/')) return;
    if (c.thrStart === c.thrStart) {
      // A new napi kthread on the CPU means the previous one left, whether or not its
      // switch-out was recorded (kernel/sched/core.c: __schedule).
      if (c.thrPid === pid) {
        this.problem('unmatched-entry', `CPU ${c.cpu}: ${comm} switched in at ${t} ns while running: the earlier run is closed at the last event seen (${prev} ns)`);
        this.end(c, K_THREAD, Math.max(prev, c.thrStart), 0);
      } else this.end(c, K_THREAD, t, 0);
    }
    c.thrStart = t;
    c.thrPid = pid;
    c.thrComm = comm;
    c.thrLastPollEnd = t;
    c.thrSeen = true;
    this.open(c, K_THREAD, t);
  }

  private switchOut(c: CpuState, t: number, prev: number, pid: number, state: string, comm: string): void {
    this.softirqExitLost(c, t, prev);
    if (comm.startsWith('kworker/')) {
      // A kworker leaving the CPU is not executing its item any more (kernel/workqueue.c:
      // process_one_work may sleep or be preempted). Idle (TASK_IDLE: `I`, or the 0x402 bits
      // bpftrace prints) means the item is over, even if its execute_end was not captured;
      // otherwise it resumes when the same kworker is switched back in.
      if (c.workStart === c.workStart) {
        const ptr = c.workPtr;
        const fn = c.workFn;
        this.end(c, K_WORK, t, 0);
        if (!isIdleState(state)) {
          c.preemptPid = pid;
          c.preemptPtr = ptr;
          c.preemptFn = fn;
        }
      }
      return;
    }
    if (!comm.startsWith('napi/')) return;
    if (c.thrStart === c.thrStart && c.thrPid === pid) this.end(c, K_THREAD, t, 0);
    else if (!c.thrSeen && c.thrStart !== c.thrStart) {
      c.thrSeen = true;
      c.thrStart = this.clampStart(c);
      c.thrPid = pid;
      c.thrComm = comm;
      this.endHead(c, K_THREAD, t);
    } else this.problem('unmatched-exit', `CPU ${c.cpu}: ${comm} switched out at ${t} ns without its switch-in: ignored`);
  }

  /**
   * Where a slice open at the capture's start is clamped to: the origin, or the CPU's first
   * event if earlier. When the header says when the probes were attached, a slice whose start
   * we did not see began before that moment, so the part we observed starts there: clamping it
   * to the capture's start would stretch it over the seconds bpftrace took to attach.
   */
  private clampStart(c: CpuState): number {
    const base = Math.min(0, c.firstTs);
    const p = this.probesStartNs;
    return p !== undefined && p > base ? Math.min(p, c.firstTs) : base;
  }

  private open(c: CpuState, kind: number, t: number, onIdleTask = false): void {
    if (c.stack.length === 0) {
      c.busyStart = t;
      c.busyOnIdle = onIdleTask;
      // Traced work on top of the idle task (a softirq on irq exit) is busy time: the kernel
      // counts it as softirq, not idle (kernel/sched/cputime.c: account_process_tick,
      // irqtime_account_irq; tick-sched stops idle time on irq entry).
      if (c.idleStart === c.idleStart) {
        this.grid!.addSpan(c.core.idle, c.idleStart, t);
        c.idleStart = NaN;
      }
    }
    c.stack.push(kind);
  }

  /**
   * sched_switch to (IE) or from (IX) the core's idle task. Idle time is counted while the idle
   * task runs and nothing traced runs on top of it.
   */
  private coreIdle(c: CpuState, t: number, prev: number, idle: boolean): void {
    this.softirqExitLost(c, t, prev);
    const g = this.grid!;
    c.core.idleRecorded = true;
    if (idle) {
      if (c.inIdle) {
        // Two switches to idle in a row: the switch away from idle between them was lost. The
        // core left idle at the latest at the last event seen on it.
        this.problem('idle-exit-lost', `CPU ${c.cpu}: switch to idle at ${t} ns while idle: the earlier idle period is ended at the last event seen (${prev} ns)`);
        this.clamped++;
        if (c.idleStart === c.idleStart) g.addSpan(c.core.idle, c.idleStart, Math.max(prev, c.idleStart));
        this.periodEnded(c, prev);
      }
      c.inIdle = true;
      c.idleSeen = true;
      c.idleStart = c.stack.length === 0 ? t : NaN;
      return;
    }
    if (c.inIdle) {
      if (c.idleStart === c.idleStart) g.addSpan(c.core.idle, c.idleStart, t);
      this.periodEnded(c, t);
      c.inIdle = false;
      c.idleStart = NaN;
    } else if (!c.idleSeen) {
      // Idle since before the probes attached: from the clamped start, minus the traced work
      // already recorded on this CPU (all of it lies before t).
      const from = this.clampStart(c);
      g.addSpanLess(c.core.idle, from, t, c.core.busy);
      this.periodEnded(c, t);
    } else if (c.idleImpliedExit !== t) {
      this.problem('idle-entry-lost', `CPU ${c.cpu}: switch from idle at ${t} ns without a switch to idle before it (lost events?): ignored`);
    }
    c.idleSeen = true;
    c.idleImpliedExit = NaN;
  }

  /**
   * An idle period that ended at t (format 4 `IP`): the idle task ran over [start, t). Traced work
   * on top of it is taken off in finish (idleBusy). A period whose start was not seen still counts
   * as a period (the kernel's busy cost per period applies to it: idle-calibration.ts) but adds no
   * idle: the timeline's calibration puts back what the kernel counted.
   */
  private idlePeriod(c: CpuState, t: number, prev: number, entry: 'seen' | 'before-probes' | 'missed', start: number | undefined, prevEnd: number | undefined): void {
    const g = this.grid!;
    c.core.idleRecorded = true;
    if (prevEnd !== undefined && c.idlePeriodSeen && prevEnd > c.lastIdleEnd && prevEnd < t) {
      // The period before this one ended at prevEnd, after the last IP seen here: its record was
      // lost. Counted as a period whose idle lies somewhere after the last IP seen.
      this.periodEnded(c, prevEnd);
      g.addSpan(c.core.idleUnknown, c.lastIdleEnd, prevEnd);
      c.core.idleEntriesMissed++;
    }
    c.lastIdleEnd = t;
    this.periodEnded(c, t);
    if (entry === 'seen') g.addSpan(c.core.idle, Math.max(start!, this.clampStart(c)), t);
    else if (entry === 'before-probes' && !c.idlePeriodSeen) g.addSpan(c.core.idle, this.clampStart(c), t);
    else {
      c.core.idleEntriesMissed++;
      g.addSpan(c.core.idleUnknown, Math.max(prev, this.clampStart(c)), t);
    }
    c.idlePeriodSeen = true;
  }

  /** An idle period [a, t) ended: counted in the window that holds its last instant (t - 1 ns). */
  private periodEnded(c: CpuState, t: number): void {
    this.grid!.addAt(c.core.idlePeriods, t - 1, 1);
  }

  /** A task other than idle came onto the CPU: if the core was idle, its idle period ended here. */
  private leaveIdle(c: CpuState, t: number): void {
    if (!c.inIdle) return;
    if (c.idleStart === c.idleStart) this.grid!.addSpan(c.core.idle, c.idleStart, t);
    this.periodEnded(c, t);
    c.inIdle = false;
    c.idleStart = NaN;
    c.idleImpliedExit = t;
  }

  private finishKind(c: CpuState, kind: number, t: number, clamp: number): void {
    switch (kind) {
      case K_RX:
        this.closeRx(c, t, clamp);
        break;
      case K_TX:
        this.closeTx(c, t, clamp);
        break;
      case K_WORK:
        this.closeWork(c, t, clamp);
        break;
      default:
        this.closeThread(c, t, clamp);
    }
  }

  /** Closes everything opened after `kind` (their ends were lost) down to index `keep`. */
  private closeAbove(c: CpuState, keep: number, t: number, why: string): void {
    const st = c.stack;
    while (st.length > keep) {
      const k = st.pop()!;
      this.problem('unclosed-inner', `CPU ${c.cpu}: ${KIND_NAME[k]} still open at ${t} ns when ${why}: closed there (lost events?)`);
      this.finishKind(c, k, t, 0);
    }
  }

  /** Closes an open slice of `kind` at t (and first whatever is still open on top of it). */
  private end(c: CpuState, kind: number, t: number, clamp: number): void {
    const st = c.stack;
    if (st[st.length - 1] !== kind) {
      const i = st.lastIndexOf(kind);
      if (i < 0) return;
      this.closeAbove(c, i + 1, t, `the ${KIND_NAME[kind]} below it ended`);
    }
    st.pop();
    this.finishKind(c, kind, t, clamp);
    c.lastCloseTs = t;
    if (st.length === 0) {
      this.grid!.addSpan(c.core.busy, c.busyStart, t);
      if (c.busyOnIdle && this.idleWhole) this.grid!.addSpan(c.core.idleBusy, c.busyStart, t);
      c.busyOnIdle = false;
      if (c.inIdle) c.idleStart = t;
    }
  }

  /**
   * A slice open since the capture start ends at t: it encloses everything seen so far on this
   * CPU, so whatever is still open closes first, and the busy union over [clampStart, t) is
   * the whole range (every busy interval recorded so far lies inside it).
   */
  private endHead(c: CpuState, kind: number, t: number): void {
    this.closeAbove(c, 0, t, `a ${KIND_NAME[kind]} open since the capture start ended`);
    this.finishKind(c, kind, t, CLAMP_START);
    c.lastCloseTs = t;
    this.grid!.setSpan(c.core.busy, this.clampStart(c), t);
  }

  /** Start of the innermost open slice: a poll never starts before the context it runs in. */
  private innermostStart(c: CpuState): number {
    const st = c.stack;
    if (st.length === 0) return -Infinity;
    switch (st[st.length - 1]) {
      case K_RX:
        return c.rxStart;
      case K_TX:
        return c.txStart;
      case K_WORK:
        return c.workStart;
      default:
        return c.thrStart;
    }
  }

  private keep(c: CpuState, kind: SliceKind, start: number, end: number, label: string, clamp: number, napi?: NapiAcc, work?: number, budget?: number): void {
    if (c.slices === undefined || end < this.sliceFrom || start > this.sliceTo) return;
    if (this.slicesKept >= this.sliceMax) {
      this.slicesCut++;
      return;
    }
    this.slicesKept++;
    const s: Slice = { kind, start: ns(start), dur: durNs(end - start), depth: 0, label };
    if (napi !== undefined) s.napiIndex = napi.index;
    if (work !== undefined) s.work = work;
    if (budget !== undefined) s.budget = budget;
    if (clamp !== 0) s.clamped = clamp === CLAMP_START ? 'start' : clamp === CLAMP_END ? 'end' : 'both';
    if (this.sliceSink !== undefined) this.sliceSink(c.cpu, s);
    else c.slices.push(s);
  }

  private closeRx(c: CpuState, t: number, clamp: number): void {
    const start = c.rxStart;
    const g = this.grid!;
    g.addSpan(c.core.netRxBusy, start, t);
    if (c.rxKsoftirqd) g.addSpan(c.core.ksBusy, start, t);
    if (clamp !== 0) this.clamped++;
    if (c.slices !== undefined) this.keep(c, c.rxKsoftirqd ? 'ksoftirqd' : 'net_rx', start, t, c.rxKsoftirqd ? c.rxComm : 'NET_RX', clamp);
    c.rxStart = NaN;
  }

  private closeTx(c: CpuState, t: number, clamp: number): void {
    const start = c.txStart;
    this.grid!.addSpan(c.core.netTxBusy, start, t);
    if (clamp !== 0) this.clamped++;
    if (c.slices !== undefined) this.keep(c, 'net_tx', start, t, 'NET_TX', clamp);
    c.txStart = NaN;
  }

  private closeWork(c: CpuState, t: number, clamp: number): void {
    const start = c.workStart;
    const crypt = c.workFn === DECRYPT_FN || c.workFn === ENCRYPT_FN;
    const g = this.grid!;
    if (crypt) {
      g.addSpan(c.core.cryptBusy, start, t);
      let acc = this.cryptByWork.get(c.workPtr);
      if (acc === undefined) this.cryptByWork.set(c.workPtr, (acc = new CryptAcc()));
      const share = acc.at(c.cpu);
      share.busy += t - start;
      if (!c.workContinued) share.items = (share.items ?? 0) + 1;
    } else g.addSpan(c.core.otherWorkBusy, start, t);
    if (clamp !== 0) this.clamped++;
    if (c.slices !== undefined) this.keep(c, crypt ? 'crypt_work' : 'work', start, t, c.workFn, clamp);
    c.workStart = NaN;
    c.workContinued = false;
  }

  private closeThread(c: CpuState, t: number, clamp: number): void {
    if (clamp !== 0) this.clamped++;
    if (c.slices !== undefined) this.keep(c, 'napi_thread', c.thrStart, t, c.thrComm, clamp);
    c.thrStart = NaN;
    c.thrLastPollEnd = NaN;
  }

  private queueWork(c: CpuState, work: string, workqueue: string): void {
    // Importers intern these names, so the last workqueue seen is usually the same string.
    let q: QueueAcc | null | undefined = workqueue === this.lastWq ? this.lastQ : undefined;
    if (q === undefined) {
      q = workqueue.startsWith(CRYPT_WQ_PREFIX) ? this.queueByWq.get(workqueue) : null;
      if (q === undefined) this.queueByWq.set(workqueue, (q = new QueueAcc(workqueue.slice(CRYPT_WQ_PREFIX.length))));
      this.lastWq = workqueue;
      this.lastQ = q;
    }
    if (q === null) return;
    if (this.workDev.get(work) !== q.dev) this.workDev.set(work, q.dev);
    // Counted on the CPU the event fired on: the CPU that received the packet (its RSS core).
    // req_cpu is not it: wg queues with queue_work_on(the round-robin decrypt CPU, ...).
    q.byCpu[c.cpu] = (q.byCpu[c.cpu] ?? 0) + 1;
  }

  private napiOf(napi: string, dev: string): NapiAcc {
    let st = this.napiByPtr.get(napi);
    if (st !== undefined && st.dev === dev) return st;
    if (st === undefined) {
      st = new NapiAcc(this.napis.length, dev, napi);
      this.napis.push(st);
      this.napiByPtr.set(napi, st);
      return st;
    }
    // The same napi_struct address on another device (freed and reused): a second instance.
    const key = `${dev}\u0000${napi}`;
    let other = this.napiByKey.get(key);
    if (other === undefined) {
      other = new NapiAcc(this.napis.length, dev, napi);
      this.napis.push(other);
      this.napiByKey.set(key, other);
    }
    return other;
  }

  private poll(c: CpuState, t: number, napi: string, dev: string, work: number, budget: number, pid: number, comm: string): void {
    const st = this.napiOf(napi, dev);
    let nc = st.perCpu[c.cpu];
    if (nc === undefined) nc = st.perCpu[c.cpu] = new NapiCpuAcc(this.grid!, st);
    const g = this.grid!;
    let start: number;
    let inThread = false;
    let clamped = false;
    // napi:napi_poll fires after the poll returns (net/core/dev.c: __napi_poll): the poll
    // began where the previous thing on this CPU in the same context ended.
    if (c.rxStart === c.rxStart) {
      start = Math.max(c.rxLastPollEnd, c.lastCloseTs);
      c.rxLastPollEnd = t;
    } else if (comm.startsWith('napi/')) {
      // Threaded NAPI: net/core/dev.c napi_threaded_poll runs polls in the kthread.
      inThread = true;
      if (c.thrStart === c.thrStart) start = Math.max(c.thrLastPollEnd, c.lastCloseTs);
      else if (!c.thrSeen) {
        clamped = c.thrLastPollEnd !== c.thrLastPollEnd;
        start = Math.max(clamped ? this.clampStart(c) : c.thrLastPollEnd, c.lastCloseTs);
      } else {
        // Its switch-in was not recorded (lost, or filtered): the kthread came onto the CPU
        // after the last event seen there, so its run is taken to start at that event.
        const from = Math.max(this.prev, c.lastCloseTs);
        this.problem(
          'thread-run-inferred',
          `CPU ${c.cpu}: poll of ${dev} ${napi} at ${t} ns in ${comm} without its switch-in: its run is taken to start at the previous event on the CPU (${from} ns)`,
        );
        c.thrStart = from;
        c.thrPid = pid;
        c.thrComm = comm;
        this.open(c, K_THREAD, from);
        start = from;
      }
      c.thrLastPollEnd = t;
      if (st.threadPids.length < THREAD_PIDS_KEPT && !st.threadPids.includes(pid)) st.threadPids.push(pid);
    } else if (!c.rxSeen && c.headPolls === HEAD_TIMED) {
      // Polls before the CPU's first NET_RX event, an exit, belong to the softirq that was
      // running when the capture started.
      clamped = c.rxLastPollEnd !== c.rxLastPollEnd;
      start = Math.max(clamped ? this.clampStart(c) : c.rxLastPollEnd, c.lastCloseTs);
      c.rxLastPollEnd = t;
      if (comm.startsWith('ksoftirqd/')) c.rxHeadKsoftirqd = true;
    } else {
      // Busy polling (net/core/dev.c: napi_busy_loop) or netpoll run polls outside softirq.
      // So do polls of a capture without softirq events (napi_poll alone, a common ftrace
      // recipe): nothing tells when they began (rule 10).
      this.problem('poll-without-context', `CPU ${c.cpu}: poll of ${dev} ${napi} at ${t} ns outside any NET_RX softirq or napi thread: counted with zero duration`);
      this.untimedPolls++;
      start = t;
    }
    const inner = Math.max(this.innermostStart(c), c.lastPollEnd);
    if (start < inner) start = inner;
    if (start > t) start = t;
    if (clamped && start !== this.clampStart(c)) clamped = false;
    c.lastPollEnd = t;
    const dur = t - start;
    if (clamped) this.clamped++;
    if (inThread) {
      g.addSpan(c.core.threadPollBusy, start, t);
      st.threadedPolls++;
    } else g.addSpan(c.core.pollBusy, start, t);
    g.addSpan(nc.busy, start, t);
    const full = work >= budget && budget > 0;
    g.addAt(nc.polls, t, 1);
    g.addAt(nc.work, t, work);
    if (full) g.addAt(nc.full, t, 1);
    st.polls++;
    st.work += work;
    st.busyNs += dur;
    if (full) st.full++;

    // Monolithic chains: consecutive full-budget polls of this NAPI on this CPU.
    if (full) {
      if (nc.chainLen === 0) nc.chainStart = start;
      nc.chainLen++;
      nc.chainEnd = t;
    } else if (nc.chainLen > 0) endChain(nc);

    // Waits: NAPIs still scheduled here (their last poll was full) wait for this poll.
    if (!inThread) {
      const pend = c.pending;
      for (let i = 0; i < pend.length; i++) {
        const p = pend[i]!;
        if (p !== nc && dur > 0) p.waited.set(st.index, (p.waited.get(st.index) ?? 0) + dur);
      }
      if (full !== nc.pending) {
        if (full) pend.push(nc);
        else pend.splice(pend.indexOf(nc), 1);
        nc.pending = full;
      }
    } else if (nc.pending) {
      // Now polled by its kthread (threaded mode switched on): no longer on the softirq list.
      c.pending.splice(c.pending.indexOf(nc), 1);
      nc.pending = false;
    }

    // Occupancy (docs/findings.md): runs of this NAPI's polls on this CPU.
    if (nc.occStart === nc.occStart && (nc.occHeld || start - nc.occEnd <= OCCUPANCY_MAX_GAP_NS)) nc.occEnd = t;
    else {
      if (nc.occStart === nc.occStart) this.closeRun(c, nc);
      nc.occStart = start;
      nc.occEnd = t;
    }
    nc.occHeld = full && !inThread;

    // Segments of consecutive polls on one CPU, in arrival order; moves are settled by time in finish.
    const n = st.segCpu.length;
    if (n > 0 && st.segCpu[n - 1] === c.cpu) {
      if (t > st.segLast[n - 1]!) st.segLast[n - 1] = t;
    } else {
      st.segCpu.push(c.cpu);
      st.segFirst.push(start);
      st.segLast.push(t);
      if (n + 1 >= SEGMENTS_SETTLE_AT) settleMoves(st, this.maxTs - MAX_CPU_SKEW_NS);
    }

    if (c.slices !== undefined) this.keep(c, inThread ? 'thread_poll' : 'poll', start, t, st.label, clamped ? CLAMP_START : 0, st, work, budget);
  }

  private closeRun(c: CpuState, nc: NapiCpuAcc): void {
    if (this.occupancyRuns >= OCCUPANCY_RUNS_MAX) this.occupancyCut = true;
    else {
      this.occupancyRuns++;
      c.runNapi.push(nc.napi.index);
      c.runStart.push(nc.occStart);
      c.runEnd.push(nc.occEnd);
    }
    nc.occStart = NaN;
  }

  private windowEvent(ev: TraceEvent & { kind: 'window_napi' | 'window_cpu' }): void {
    this.windowEvents++;
    if (this.mode === undefined) this.mode = 'windows';
    if (this.grid === undefined && this.windowNs === undefined) this.windowNs = ev.intervalNs;
    const c = this.cpuState(ev.cpu);
    if (c === undefined) return;
    const g = this.ensureGrid();
    const lo = ev.ts - ev.intervalNs;
    if (lo < this.minTs) this.minTs = lo;
    if (ev.ts > this.maxTs) this.maxTs = ev.ts;
    // The kernel window [ts - interval, ts) goes into the grid window holding its middle
    // (the interval probe is not aligned with the capture start).
    const mid = ev.ts - ev.intervalNs / 2;
    // A kernel window much longer than the grid's (the shorter last one printed by END is not:
    // a capture whose interval changed, or --window below the interval) is spread over the
    // grid windows it covers, so no grid window holds more time than it lasted.
    const spread = ev.intervalNs > 1.5 * g.windowNs;
    const add = (series: GridSeries, v: number): void => (spread ? g.addSpread(series, lo, ev.ts, v) : g.addAt(series, mid, v));
    if (ev.kind === 'window_napi') {
      if (ev.busyNs > ev.intervalNs * 1.01) {
        // One NAPI polls on one CPU at a time: more poll time than the window lasted is a map
        // read racing the probes or a broken capture. Kept as it is (the totals stay right),
        // and every per-window share is capped at the window.
        this.problem('window-busy-over-interval', `CPU ${ev.cpu}: ${ev.dev} ${ev.napi} polled ${ev.busyNs} ns in a window of ${ev.intervalNs} ns ending at ${ev.ts} ns`);
      }
      const st = this.napiOf(ev.napi, ev.dev);
      let nc = st.perCpu[ev.cpu];
      if (nc === undefined) nc = st.perCpu[ev.cpu] = new NapiCpuAcc(g, st);
      add(nc.busy, ev.busyNs);
      add(nc.polls, ev.polls);
      add(nc.work, ev.work);
      add(nc.full, ev.fullBudgetPolls);
      add(c.core.pollBusy, ev.busyNs);
      st.polls += ev.polls;
      st.work += ev.work;
      st.full += ev.fullBudgetPolls;
      st.busyNs += ev.busyNs;
    } else {
      add(c.core.netRxBusy, ev.netRxBusyNs);
      add(c.core.netRxCount, ev.netRxCount);
      add(c.core.ksCount, ev.ksoftirqdNetRxCount);
      add(c.core.netTxBusy, ev.netTxBusyNs);
      add(c.core.cryptBusy, ev.cryptBusyNs);
      if (ev.idleNs !== undefined) {
        // The idle task's time (format 3 @idle): softirqs that interrupted it are inside it. More
        // than the window (a core idle since the probes attached, first listed now) goes back
        // over the windows it covers.
        if (ev.idleNs > ev.intervalNs) g.addSpread(c.core.idle, ev.ts - ev.idleNs, ev.ts, ev.idleNs);
        else add(c.core.idle, ev.idleNs);
        add(c.core.idlePeriods, ev.idlePeriods ?? 0);
        c.core.idleRecorded = true;
      }
      // Windows mode has no slices to take a union of: the sum, capped at the window, is an
      // upper bound (a softirq nested in a crypt worker is counted twice).
      add(c.core.busy, Math.min(ev.intervalNs, ev.netRxBusyNs + ev.netTxBusyNs + ev.cryptBusyNs));
    }
  }

  finish(summary: ImportSummary): Timeline {
    if (this.finished) throw new Error('TimelineBuilder.finish called twice');
    this.finished = true;
    const header = summary.header ?? this.hdr;
    if (header !== undefined && this.hdr === undefined) this.header(header);
    // CPUs still holding their head polls never showed a NET_RX event: the polls are untimed.
    for (const c of this.cpuStates) if (c !== undefined && c.held !== undefined) this.release(c, HEAD_UNTIMED);
    if (this.untimedPolls > 0) {
      let polls = 0;
      for (const n of this.napis) polls += n.polls;
      this.diag(
        'warning',
        'polls-not-timed',
        `${this.untimedPolls} of ${polls} polls had no NET_RX softirq or napi-thread run around them in the capture (napi_poll traced alone, or lost entries): they are counted, not timed (zero duration), and poll and core busy times leave them out`,
      );
    }
    const g = this.ensureGrid();
    const mode: CaptureMode = this.mode ?? header?.mode ?? 'events';
    if (this.windowEvents > 0 && this.pointEvents > 0) {
      this.diag('warning', 'mixed-modes', `the capture mixes windows-mode records (${this.windowEvents}) and per-event records (${this.pointEvents}): both are folded into the same series`);
    }

    // Capture bounds: the header's start (ts 0) and end when present, else the events'; they
    // always contain every event (docs/timeline.md).
    const tb = new TimeBase(summary.origin);
    const haveEvents = this.minTs <= this.maxTs;
    // Without a header the origin is the file's first event, so the start is the earliest
    // event (other CPUs' buffers may hold earlier ones); slices open at the start are clamped
    // to min(origin, the CPU's first event), which this start never passes.
    let startNs = 0;
    if (haveEvents && this.minTs < 0) {
      if (summary.originFromHeader) {
        this.diag('warning', 'events-before-start', `events start ${-this.minTs} ns before the header's capture start: the capture start is moved back to them`);
      }
      startNs = this.minTs;
    }
    let endNs = haveEvents ? this.maxTs : startNs;
    const endBoot = header?.endBootNs ?? header?.probesStopBootNs;
    if (endBoot !== undefined && /^\d+$/.test(endBoot)) {
      const hEnd = tb.fromBoot(bootNs(BigInt(endBoot)));
      if (hEnd >= endNs) endNs = hEnd;
      else this.diag('warning', 'events-after-end', `events run ${endNs - hEnd} ns past the header's capture end: the capture end is moved to the last event`);
    }
    if (endNs < startNs) endNs = startNs;

    // The END mark comes well after the last event printed: at exit bpftrace stops reading its
    // buffers while the probes still run, then takes them down and runs END (measured on a
    // 2-core VM: the last events 270 to 530 ms before the mark, the script's @idle_t at exit
    // holding later switches than any record, and "Lost 1 events"). Nothing after the last
    // event was recorded, so an events-mode capture's probed span ends there: a core busy at
    // its last record is not taken to be busy for the rest (docs/capture.md, "Where the probed
    // span ends").
    let recordedUntil: number | undefined;
    // Only with format 4's idle records: they keep every core printing (each idle period ends in
    // a record), so a silent tail is the unread one; without them a quiet tail has no events at
    // all and the probes were still recording.
    // The stop mark is in the trailer, which the importer reads after the events.
    const stopMark = header === undefined ? undefined : sinceStart(header, header.probesStopBootNs);
    if (mode === 'events' && this.idleWhole && haveEvents && stopMark !== undefined && this.maxTs < stopMark) {
      const gap = stopMark - this.maxTs;
      if (gap > RECORDING_GAP_NOTED_NS)
        this.diag(
          'info',
          'recording-stopped-early',
          `the last event is ${(gap / 1e6).toFixed(0)} ms before the probes' stop mark (bpftrace takes the probes down before it runs END): the probed span ends at the last event`,
        );
      recordedUntil = this.maxTs;
      this.probesStopNs = this.maxTs;
    }

    // Close what is still open at the capture's end: clamp and mark. This is the last write to
    // the grid, so its window (possibly widened to stay within memory) is final after it.
    // With events lost, a slice still open at the end may be one whose end was lost: it ends at
    // the last event seen on its CPU, not at the capture's end (which could invent seconds of
    // softirq). Without losses it was cut by the capture's end.
    const lossy = this.lostEvents > 0 || summary.lostEvents > 0;
    for (const c of this.cpuStates) {
      if (c === undefined) continue;
      if (lossy && c.stack.length > 0 && c.lastTs < endNs) {
        this.problem(
          'open-at-end-lossy',
          `CPU ${c.cpu}: ${KIND_NAME[c.stack[c.stack.length - 1]!]} still open at the end of a capture with lost events: closed at the CPU's last event (${c.lastTs} ns), not at the capture's end`,
        );
      }
      while (c.stack.length > 0) this.end(c, c.stack[c.stack.length - 1]!, lossy ? Math.max(c.lastTs, c.busyStart) : endNs, CLAMP_END);
      if (c.idleStart === c.idleStart) {
        // Idle when the probes detached: counted up to then (after it nothing was recorded).
        const stop = this.probesStopNs !== undefined && this.probesStopNs >= c.idleStart ? Math.min(this.probesStopNs, endNs) : endNs;
        g.addSpan(c.core.idle, c.idleStart, stop);
        c.idleStart = NaN;
      }
      if (c.idleOpenFrom === c.idleOpenFrom) {
        // Format 4: idle since idleOpenFrom when the probes detached (no IP record ended it).
        const from = Math.max(c.idleOpenFrom, this.clampStart(c));
        const stop = this.probesStopNs !== undefined && this.probesStopNs >= from ? Math.min(this.probesStopNs, endNs) : endNs;
        g.addSpan(c.core.idle, from, stop);
        c.idleOpenFrom = NaN;
      }
    }
    const W = g.windowNs;
    // Windows are anchored at the origin; the start is rounded down onto that grid.
    startNs = Math.floor(startNs / W) * W;
    const windowCount = Math.max(1, Math.ceil((endNs - startNs) / W));
    const k0 = Math.round(startNs / W);

    // CPUs: the header's (idle ones included) plus any seen in events.
    const cpuSet = new Set<number>(header?.cpus ?? []);
    const cpusGuessed = header === undefined || header.cpus.length === 0;
    for (let cpu = 0; cpu < this.cpuStates.length; cpu++) if (this.cpuStates[cpu] !== undefined) cpuSet.add(cpu);
    if (cpusGuessed) {
      this.diag('warning', 'cpus-from-events', `no CPU list in a header: using the ${cpuSet.size} CPUs seen in events (idle CPUs are missing)`);
    }
    const cpus = [...cpuSet].sort((a, b) => a - b);

    for (const [code, n] of this.counts) {
      if (n > 5) this.diag('warning', code, `${n} events of this kind in all (only the first 5 are listed)`);
    }
    if (g.coarsenings > 0) {
      // A warning, not info: every per-window figure (co-location, saturation) is judged at
      // the widened window, so the user must see that it is not the window they asked for.
      this.diag(
        'warning',
        'window-widened',
        `the window was widened from ${g.windowNs / 2 ** g.coarsenings} ns to ${g.windowNs} ns to keep the per-window series of ${this.cpuStates.filter(Boolean).length} CPUs and ${this.napis.length} NAPIs within memory`,
      );
    }
    if (this.ignoredSoftirqs > 0) {
      this.diag('info', 'other-softirqs', `${this.ignoredSoftirqs} softirq events of vectors other than NET_RX and NET_TX were ignored`);
    }
    if (this.slicesCut > 0) {
      this.diag('warning', 'slices-cut', `${this.slicesCut} slices past the limit of ${this.sliceMax} were not kept (still counted in every series)`);
    }

    // Per-window series, cut to the capture.
    const winLen = new Float64Array(windowCount);
    for (let i = 0; i < windowCount; i++) winLen[i] = Math.min(W, endNs - (startNs + i * W));
    const cores = new Map<number, CoreSeries>();
    const empty = () => new Float64Array(windowCount);
    for (const cpu of cpus) {
      const c = this.cpuStates[cpu];
      if (c === undefined) {
        cores.set(cpu, {
          cpu,
          netRxBusyNs: empty(),
          netRxCount: empty(),
          ksoftirqdNetRxBusyNs: empty(),
          ksoftirqdNetRxCount: empty(),
          netTxBusyNs: empty(),
          pollBusyNs: empty(),
          threadPollBusyNs: empty(),
          cryptBusyNs: empty(),
          otherWorkBusyNs: empty(),
          utilization: empty(),
          idleNs: empty(),
          idleTaskNs: empty(),
          idlePeriods: empty(),
          idleRecorded: false,
        });
        continue;
      }
      const a = c.core;
      const util = g.extract(a.busy, k0, windowCount);
      const idleTask = g.extract(a.idle, k0, windowCount);
      const { periods, onIdle, unknown } = a.extractIdle(k0, windowCount);
      // Format 4 records idle periods whole: the traced work that ran on top of the idle task
      // comes off here (IE/IX records left it out as they went).
      if (c.idlePeriodSeen && onIdle !== undefined) for (let i = 0; i < windowCount; i++) idleTask[i] = Math.max(0, idleTask[i]! - onIdle[i]!);
      for (let i = 0; i < windowCount; i++) {
        const len = winLen[i]!;
        util[i] = len > 0 ? Math.min(1, util[i]! / len) : 0;
      }
      cores.set(cpu, {
        cpu,
        netRxBusyNs: g.extract(a.netRxBusy, k0, windowCount),
        netRxCount: g.extract(a.netRxCount, k0, windowCount),
        ksoftirqdNetRxBusyNs: g.extract(a.ksBusy, k0, windowCount),
        ksoftirqdNetRxCount: g.extract(a.ksCount, k0, windowCount),
        netTxBusyNs: g.extract(a.netTxBusy, k0, windowCount),
        pollBusyNs: g.extract(a.pollBusy, k0, windowCount),
        threadPollBusyNs: g.extract(a.threadPollBusy, k0, windowCount),
        cryptBusyNs: g.extract(a.cryptBusy, k0, windowCount),
        otherWorkBusyNs: g.extract(a.otherWorkBusy, k0, windowCount),
        utilization: util,
        // The calibration to /proc/stat replaces idleNs (idle-calibration.ts).
        idleNs: idleTask.slice(),
        idleTaskNs: idleTask,
        idlePeriods: periods ?? empty(),
        ...(unknown !== undefined ? { idleUnknownNs: unknown } : {}),
        idleRecorded: a.idleRecorded,
      });
    }

    const missed = this.cpuStates.filter((c): c is CpuState => c !== undefined && c.core.idleEntriesMissed > 0);
    if (missed.length > 0) {
      const n = missed.reduce((x, c) => x + c.core.idleEntriesMissed, 0);
      this.diag(
        'info',
        'idle-entries-missed',
        `${n} idle periods on cpu ${missed.map((c) => c.cpu).join(', ')} ended without their switch to idle in the capture (BPF did not see those switches): their idle time is put back from /proc/stat where the header has it`,
      );
    }

    // Open occupancy runs end at their last poll.
    for (const st of this.napis) {
      for (let cpu = 0; cpu < st.perCpu.length; cpu++) {
        const nc = st.perCpu[cpu];
        const c = this.cpuStates[cpu];
        if (nc !== undefined && c !== undefined && nc.occStart === nc.occStart) this.closeRun(c, nc);
      }
    }
    let occupancy: Timeline['occupancy'];
    if (this.occupancyRuns > 0 && !this.occupancyCut) {
      occupancy = new Map();
      for (const cpu of cpus) {
        const c = this.cpuStates[cpu];
        if (c !== undefined && c.runNapi.length > 0) occupancy.set(cpu, { napi: c.runNapi, start: c.runStart, end: c.runEnd });
      }
    } else if (this.occupancyCut) {
      this.diag('warning', 'occupancy-cut', `more than ${OCCUPANCY_RUNS_MAX} poll runs: co-location is judged by windows, not by the polls themselves`);
    }

    const napis: NapiInstance[] = this.napis.map((st) => {
      settleMoves(st, Infinity);
      const perCpu = new Map<number, NapiCpuSeries>();
      for (let cpu = 0; cpu < st.perCpu.length; cpu++) {
        const nc = st.perCpu[cpu];
        if (nc === undefined) continue;
        if (nc.chainLen > 0) endChain(nc);
        perCpu.set(cpu, {
          busyNs: g.extract(nc.busy, k0, windowCount),
          polls: g.extract(nc.polls, k0, windowCount),
          work: g.extract(nc.work, k0, windowCount),
          fullBudgetPolls: g.extract(nc.full, k0, windowCount),
          chains: nc.chains,
          waitedForNs: nc.waited,
        });
      }
      return {
        index: st.index,
        dev: st.dev,
        napi: st.napi,
        totals: { polls: st.polls, work: st.work, fullBudgetPolls: st.full, busyNs: st.busyNs, threadedPolls: st.threadedPolls },
        perCpu,
        moves: st.moves,
        moveList: st.moveList,
        threadPids: st.threadPids,
      };
    });

    const devices = new Map<string, DeviceSeries>();
    const devOf = (name: string): DeviceSeries => {
      let d = devices.get(name);
      if (d === undefined) devices.set(name, (d = { dev: name, cryptBusyByCpu: new Map(), cryptItemsByCpu: new Map(), queueWorkByCpu: new Map() }));
      return d;
    };
    for (const d of header?.devices ?? []) devOf(d.name);
    const addTo = (m: Map<number, number>, arr: readonly (number | undefined)[]) => {
      for (let cpu = 0; cpu < arr.length; cpu++) {
        const v = arr[cpu];
        if (v !== undefined) m.set(cpu, (m.get(cpu) ?? 0) + v);
      }
    };
    for (const q of this.queueByWq.values()) addTo(devOf(q.dev).queueWorkByCpu, q.byCpu);
    for (const [work, acc] of this.cryptByWork) {
      const d = devOf(this.workDev.get(work) ?? UNKNOWN_DEVICE);
      for (const [cpu, share] of acc.entries()) d.cryptBusyByCpu.set(cpu, (d.cryptBusyByCpu.get(cpu) ?? 0) + share.busy);
      for (const [cpu, share] of acc.entries()) if (share.items !== undefined) d.cryptItemsByCpu.set(cpu, (d.cryptItemsByCpu.get(cpu) ?? 0) + share.items);
    }

    let slices: Map<number, Slice[]> | undefined;
    if (this.sliceReq !== undefined) {
      slices = new Map();
      for (const cpu of cpus) {
        const c = this.cpuStates[cpu];
        if (this.sliceCpus !== undefined && !this.sliceCpus.has(cpu)) continue;
        const list = c?.slices ?? [];
        // Slices are recorded when they close (inner before outer): order by start, outer first.
        list.sort((x, y) => x.start - y.start || y.dur - x.dur || KIND_RANK[x.kind] - KIND_RANK[y.kind]);
        assignDepths(list);
        slices.set(cpu, list);
      }
    }

    const timeline: Timeline = {
      capture: {
        format: summary.format,
        mode,
        ...(header !== undefined ? { header } : {}),
        origin: summary.origin,
        startNs: ns(startNs),
        endNs: ns(endNs),
        durationNs: durNs(endNs - startNs),
        events: summary.events,
        lostEvents: Math.max(summary.lostEvents, this.lostEvents),
        skippedLines: summary.skippedLines,
        clampedSlices: this.clamped,
        ...(summary.untracedDevices !== undefined ? { untracedDevices: summary.untracedDevices } : {}),
        ...(recordedUntil !== undefined ? { recordedUntilNs: ns(recordedUntil) } : {}),
        cpusGuessed,
        ...(this.sliceReq !== undefined ? { slicesCut: this.slicesCut } : {}),
      },
      cpus,
      windowNs: durNs(W),
      ...(g.coarsenings > 0 ? { windowAskedNs: durNs(g.windowNs / 2 ** g.coarsenings) } : {}),
      windowCount,
      cores,
      napis,
      devices,
      ...(occupancy !== undefined ? { occupancy } : {}),
      ...(slices !== undefined ? { slices } : {}),
      diagnostics: this.log.items,
    };
    for (const d of calibrateIdle(timeline)) this.diag(d.severity, d.code, d.message);
    for (const v of checkInvariants(timeline)) {
      this.diag('error', 'invariant-violation', v);
    }
    return timeline;
  }
}

/** A header mark (boot ns, decimal) as ns since the header's start, when both are there. */
function sinceStart(h: CaptureHeader, boot: string | undefined): number | undefined {
  if (h.startBootNs === undefined || boot === undefined || !/^\d+$/.test(h.startBootNs) || !/^\d+$/.test(boot)) return undefined;
  return Number(BigInt(boot) - BigInt(h.startBootNs));
}

/** A gap between the last event and the END mark worth a note. */
const RECORDING_GAP_NOTED_NS = 10e6;

/** include/linux/sched.h: TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD (0x402), printed `I`. */
const TASK_NOLOAD = 0x400;
function isIdleState(state: string): boolean {
  if (state === 'I') return true;
  const n = Number(state);
  return Number.isInteger(n) && (n & TASK_NOLOAD) !== 0;
}

function endChain(nc: NapiCpuAcc): void {
  const len = nc.chainLen;
  nc.chainLen = 0;
  if (len < 2) return;
  const ch = nc.chains;
  ch.count++;
  const b = Math.floor(Math.log2(len));
  while (ch.lengthLog2Histogram.length <= b) ch.lengthLog2Histogram.push(0);
  ch.lengthLog2Histogram[b] = ch.lengthLog2Histogram[b]! + 1;
  ch.totalPolls += len;
  ch.totalNs += nc.chainEnd - nc.chainStart;
  const longest = ch.longest;
  if (longest.length < LONGEST_CHAINS_KEPT || len > longest[longest.length - 1]!.polls) {
    longest.push({ startNs: ns(nc.chainStart), endNs: ns(nc.chainEnd), polls: len });
    longest.sort((x, y) => y.polls - x.polls || x.startNs - y.startNs);
    if (longest.length > LONGEST_CHAINS_KEPT) longest.pop();
  }
}

/**
 * Settles the NAPI's poll segments that end before `before`: orders them by time and counts
 * a move each time consecutive segments are on different CPUs. Segments are runs of polls on
 * one CPU in file order; per-CPU order is exact, so a segment never hides a move within
 * itself unless two CPUs polled the same NAPI in overlapping periods (then moves are a lower bound).
 */
function settleMoves(st: NapiAcc, before: number): void {
  const n = st.segCpu.length;
  if (n === 0) return;
  const idx: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < n; i++) (st.segLast[i]! < before ? idx : rest).push(i);
  idx.sort((a, b) => st.segFirst[a]! - st.segFirst[b]! || a - b);
  for (const i of idx) {
    const cpu = st.segCpu[i]!;
    if (st.settledCpu >= 0 && cpu !== st.settledCpu) {
      st.moves++;
      if (st.moveList.length < MOVES_KEPT) st.moveList.push({ ts: ns(st.segFirst[i]!), from: st.settledCpu, to: cpu });
    }
    st.settledCpu = cpu;
  }
  st.segCpu = rest.map((i) => st.segCpu[i]!);
  st.segFirst = rest.map((i) => st.segFirst[i]!);
  st.segLast = rest.map((i) => st.segLast[i]!);
}
