import type { DiagnosticLog } from '../base/diagnostics.js';
import { SOFTIRQ_NET_RX, type TraceEvent } from '../model/events.js';
import type { CaptureHeader } from '../model/header.js';
import type { ImportSummary } from '../import/types.js';
import { assembleTimeline } from './assemble.js';
import { BuildContext } from './context.js';
import { CoreAcc } from './core-acc.js';
import { netRxOverLimit, softirqEntry, softirqExit, switchIn, switchOut, workEnd, workStart } from './cpu-events.js';
import { CpuState, HEAD_UNDECIDED, HEAD_UNTIMED, NET_RX_MAX_NS } from './cpu-state.js';
import { coreIdle, idlePeriod } from './idle.js';
import { NapiTable } from './napi-acc.js';
import { headDecision, otherPoll, poll } from './polls.js';
import { sinceStart } from './span.js';
import type { Timeline, TimelineOptions } from './types.js';
import { foldWindow } from './windows-mode.js';

// Consumers outside the timeline layer import these from here.
export { DEFAULT_WINDOW_NS } from './context.js';
export { UNKNOWN_DEVICE } from './devices.js';
export { OCCUPANCY_MAX_GAP_NS } from './polls.js';
export { KIND_RANK } from './slice-keeper.js';

/**
 * Folds a stream of `TraceEvent` batches into a `Timeline` (docs/timeline.md).
 *
 * Events are ordered within one CPU but not across CPUs (bpftrace drains per-CPU buffers), so
 * every state machine is per CPU (cpu-state.ts) and nothing needs a global order. Cross-CPU
 * facts (which device a crypt work item belongs to, where a NAPI moved) are resolved after the
 * last event (assemble.ts).
 *
 * This is the hot path: no per-event allocation (no objects, no string building) unless the
 * caller asked for slices; per-window series are typed arrays on one growable grid. The
 * builder routes each event to its CPU's state and the transition for its kind:
 * - softirqs, work items and context switches: cpu-events.ts (the CpuState machine);
 * - idle records: idle.ts;
 * - polls: polls.ts (poll timing, head polls, chains, waits, occupancy, moves; NAPIs in napi-acc.ts);
 * - windows-mode records: windows-mode.ts;
 * - crypt attribution: devices.ts.
 */

/** CPU ids accepted (CONFIG_NR_CPUS max). */
const MAX_CPU = 8191;

export class TimelineBuilder {
  private readonly x: BuildContext;
  private readonly cpuStates: (CpuState | undefined)[] = [];
  private readonly headerCpus = new Set<number>();
  private readonly napis = new NapiTable();
  /** CPUs holding their events (CpuState.held) until their head polls are decided. */
  private holding = 0;
  private windowEvents = 0;
  private pointEvents = 0;
  /** Set by at(): the current event's (monotonic) time and its CPU's previous time. */
  private t = 0;
  private prev = 0;
  private finished = false;

  constructor(opts: TimelineOptions & { file?: string; diagnostics?: DiagnosticLog; gridBudgetBytes?: number }) {
    if (opts.windowNs !== undefined && !(Number.isInteger(opts.windowNs) && opts.windowNs > 0)) {
      throw new RangeError(`windowNs must be a positive integer, got ${opts.windowNs}`);
    }
    this.x = new BuildContext(opts);
  }

  header(h: CaptureHeader): void {
    const x = this.x;
    x.hdr = h;
    x.mode = h.mode;
    x.idleWhole = h.mode === 'events' && h.formatVersion >= 4;
    // The importer's origin is the header's start (ts 0). bpftrace attaches its probes
    // seconds after that on a loaded gateway; the script's BEGIN prints when they are in.
    const start = sinceStart(h, h.probesStartBootNs);
    if (start !== undefined && start > 0) x.probesStartNs = start;
    const stop = sinceStart(h, h.probesStopBootNs);
    if (stop !== undefined && stop > 0) x.probesStopNs = stop;
    for (const c of h.cpus) this.headerCpus.add(c);
    if (h.mode === 'windows' && h.intervalNs !== undefined) {
      if (x.windowNs !== undefined && x.windowNs !== h.intervalNs) {
        x.diag('warning', 'window-is-interval', `windows-mode capture: the window is the capture's interval (${h.intervalNs} ns), not ${x.windowNs} ns`);
      }
      if (x.grid === undefined) x.windowNs = h.intervalNs;
    }
  }

  push(batch: TraceEvent[]): void {
    for (let i = 0; i < batch.length; i++) this.event(batch[i]!);
  }

  private cpuState(cpu: number): CpuState | undefined {
    const s = this.cpuStates[cpu];
    if (s !== undefined) return s;
    const x = this.x;
    if (!(Number.isInteger(cpu) && cpu >= 0 && cpu <= MAX_CPU)) {
      x.problem('bad-cpu', `event on CPU ${cpu}, not a CPU id: ignored`);
      return undefined;
    }
    if (x.hdr !== undefined && !this.headerCpus.has(cpu)) {
      x.diag('warning', 'cpu-not-in-header', `events on CPU ${cpu}, which the header does not list as online: counted anyway`);
    }
    const st = new CpuState(cpu, new CoreAcc(x.ensureGrid()));
    st.slices = x.slices.listFor(cpu);
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
      // A softirq poll (not a napi kthread's) before any NET_RX event on its CPU (polls.ts headDecision).
      if (h !== undefined && h.headPolls === HEAD_UNDECIDED && !h.rxSeen && Number.isNaN(h.rxStart) && !ev.comm.startsWith('napi/')) {
        h.held = [ev];
        h.holdFrom = ev.ts;
        this.holding++;
        return;
      }
    }
    // One switch, most frequent kinds first; each case normalises the CPU's clock (at) and
    // hands primitives to a small function, so each stays monomorphic and optimisable.
    const x = this.x;
    let c: CpuState | undefined;
    switch (ev.kind) {
      case 'workqueue_queue_work':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) x.crypt.queueWork(c.cpu, ev.work, ev.workqueue);
        return;
      case 'softirq_entry':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) softirqEntry(x, c, this.t, this.prev, ev.vec, ev.comm, ev.pid);
        return;
      case 'softirq_exit':
        if ((c = this.at(ev.cpu, ev.ts, ev.vec === SOFTIRQ_NET_RX)) !== undefined) softirqExit(x, c, this.t, ev.vec);
        return;
      case 'napi_poll':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) poll(x, this.napis, c, this.t, this.prev, ev.napi, ev.dev, ev.work, ev.budget, ev.pid, ev.comm);
        return;
      case 'workqueue_execute_start':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) workStart(x, c, this.t, this.prev, ev.work, ev.function);
        return;
      case 'workqueue_execute_end':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) workEnd(x, c, this.t, this.prev, ev.work, ev.function);
        return;
      case 'sched_switch_in':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) switchIn(x, c, this.t, this.prev, ev.pid, ev.comm);
        return;
      case 'sched_switch_out':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) switchOut(x, c, this.t, this.prev, ev.pid, ev.state, ev.comm);
        return;
      case 'napi_poll_other':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) otherPoll(c, this.t);
        return;
      case 'core_idle':
        if ((c = this.at(ev.cpu, ev.ts)) !== undefined) coreIdle(x, c, this.t, this.prev, ev.idle);
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
        } else if ((c = this.at(ev.cpu, ev.ts)) !== undefined) idlePeriod(x, c, this.t, this.prev, ev.entry, ev.start as number | undefined, ev.prevEnd as number | undefined);
        return;
      case 'softirq_raise':
      case 'sched_migrate_task':
        // Not needed for the timeline, but they still move the CPU's clock.
        this.at(ev.cpu, ev.ts);
        return;
      case 'window_napi':
      case 'window_cpu':
        this.windowEvents++;
        if (x.mode === undefined) x.mode = 'windows';
        if (x.grid === undefined && x.windowNs === undefined) x.windowNs = ev.intervalNs;
        if ((c = this.cpuState(ev.cpu)) !== undefined) foldWindow(x, this.napis, c.core, ev);
        return;
      case 'lost_events':
        x.lostEvents += ev.count;
        return;
    }
  }

  /** A held CPU's next event: held too, or it decides the head polls, and the held events are folded before it. */
  private holdOrRelease(h: CpuState, ev: TraceEvent): void {
    const d = headDecision(h, ev);
    if (d === HEAD_UNDECIDED) {
      h.held!.push(ev);
      return;
    }
    this.release(h, d);
    this.event(ev);
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
   * CPU) and `this.prev` (the CPU's previous time) set; undefined for a bad CPU id. A NET_RX
   * softirq open longer than one can run ends before the event, unless the event is its exit.
   */
  private at(cpu: number, ts: number, rxExit = false): CpuState | undefined {
    const c = this.cpuStates[cpu] ?? this.cpuState(cpu);
    if (c === undefined) return undefined;
    this.pointEvents++;
    const prev = c.lastTs;
    this.prev = prev;
    if (ts < prev) return this.backwards(c, ts, prev);
    if (ts - c.rxStart > NET_RX_MAX_NS && !rxExit) netRxOverLimit(this.x, c, ts, prev);
    c.lastTs = ts;
    if (Number.isNaN(c.firstTs)) c.firstTs = ts;
    const x = this.x;
    if (ts < x.minTs) x.minTs = ts;
    if (ts > x.maxTs) x.maxTs = ts;
    this.t = ts;
    return c;
  }

  /**
   * Per-CPU buffers are ordered; a step back means a broken or merged file. The CPU's clock
   * stays monotonic so no slice gets a negative duration. (Apart from at(), which is inlined
   * into every case of event(): a smaller at() is inlined more often.)
   */
  private backwards(c: CpuState, ts: number, prev: number): CpuState {
    this.x.problem('cpu-time-backwards', `CPU ${c.cpu}: timestamp ${ts} ns goes back to before ${prev} ns: treated as ${prev} ns`);
    this.t = prev;
    return c;
  }

  /** `collect`: see assembleTimeline. */
  finish(summary: ImportSummary, collect?: () => void): Timeline {
    if (this.finished) throw new Error('TimelineBuilder.finish called twice');
    this.finished = true;
    const header = summary.header ?? this.x.hdr;
    if (header !== undefined && this.x.hdr === undefined) this.header(header);
    // CPUs still holding their head polls never showed a NET_RX event: the polls are untimed.
    for (const c of this.cpuStates) if (c !== undefined && c.held !== undefined) this.release(c, HEAD_UNTIMED);
    return assembleTimeline({ x: this.x, cpuStates: this.cpuStates, napis: this.napis, header, windowEvents: this.windowEvents, pointEvents: this.pointEvents }, summary, collect);
  }
}
