import { SOFTIRQ_NET_RX, type TraceEvent } from '../model/events.js';
import type { BuildContext } from './context.js';
import { HEAD_TIMED, HEAD_UNDECIDED, HEAD_UNTIMED, K_THREAD, NET_RX_MAX_NS, clampStart, innermostStart, open, type CpuState } from './cpu-state.js';
import { NAPI_BUSY, NAPI_FULL, NAPI_POLLS, NAPI_WORK, NapiCpuAcc, endChain, settleMoves, type NapiTable } from './napi-acc.js';
import { CLAMP_START } from './slice-keeper.js';
import { endWait, pollWaits, startWait } from './waits.js';

/**
 * NAPI polls on a CPU: when each began (napi:napi_poll fires when it returns), which context
 * it ran in (a NET_RX softirq, a napi kthread, the softirq open at the capture start, or none),
 * and what it adds to chains, waits, occupancy and moves (docs/timeline.md).
 */

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
export const OCCUPANCY_RUNS_MAX = 1_000_000;
/** Events held per CPU while its head polls are undecided (beyond: not timed). */
const HOLD_MAX_EVENTS = 65536;

/**
 * Head polls (docs/timeline.md rule 10): a softirq poll before any NET_RX event on its CPU
 * makes the CPU hold its events (TimelineBuilder) until it is known whether a softirq was open
 * at the start. This is what a held CPU's next event decides: its first NET_RX event (an exit:
 * the head polls ran in the softirq open at the capture start, and are timed in it; an entry:
 * they had no softirq around them that the capture shows) decides; so does the end of the
 * longest time a softirq can run (NET_RX_MAX_NS: one whose exit has not come by then was not
 * open at the start), or the bound on held events.
 * HEAD_UNDECIDED: hold this one too.
 */
export function headDecision(c: CpuState, ev: TraceEvent): number {
  if ((ev.ts ?? c.holdFrom) - c.holdFrom > NET_RX_MAX_NS || c.held!.length >= HOLD_MAX_EVENTS) return HEAD_UNTIMED;
  if ((ev.kind === 'softirq_entry' || ev.kind === 'softirq_exit') && ev.vec === SOFTIRQ_NET_RX) return ev.kind === 'softirq_exit' ? HEAD_TIMED : HEAD_UNTIMED;
  return HEAD_UNDECIDED;
}

/** An untraced device's poll ended at t (PX): the next traced poll on this CPU began after it. */
export function otherPoll(c: CpuState, t: number): void {
  if (t > c.lastPollEnd) c.lastPollEnd = t;
}

export function poll(x: BuildContext, napis: NapiTable, c: CpuState, t: number, prev: number, napi: string, dev: string, work: number, budget: number, pid: number, comm: string): void {
  const st = napis.of(napi, dev);
  const g = x.grid!;
  // Written out rather than st.on(): this function is at the edge of TurboFan's inlining budget.
  let nc = st.perCpu[c.cpu];
  if (nc === undefined) nc = st.perCpu[c.cpu] = new NapiCpuAcc(g, st);
  let start: number;
  let inThread = false;
  let clamped = false;
  // napi:napi_poll fires after the poll returns (net/core/dev.c: __napi_poll): the poll
  // began where the previous thing on this CPU in the same context ended.
  if (!Number.isNaN(c.rxStart)) {
    start = Math.max(c.rxLastPollEnd, c.lastCloseTs);
    c.rxLastPollEnd = t;
  } else if (comm.startsWith('napi/')) {
    // Threaded NAPI: net/core/dev.c napi_threaded_poll runs polls in the kthread.
    inThread = true;
    if (!Number.isNaN(c.thrStart)) start = Math.max(c.thrLastPollEnd, c.lastCloseTs);
    else if (!c.thrSeen) {
      clamped = Number.isNaN(c.thrLastPollEnd);
      start = Math.max(clamped ? clampStart(x, c) : c.thrLastPollEnd, c.lastCloseTs);
    } else {
      // Its switch-in was not recorded (lost, or filtered): the kthread came onto the CPU
      // after the last event seen there, so its run is taken to start at that event.
      const from = Math.max(prev, c.lastCloseTs);
      x.problem('thread-run-inferred', `CPU ${c.cpu}: poll of ${dev} ${napi} at ${t} ns in ${comm} without its switch-in: its run is taken to start at the previous event on the CPU (${from} ns)`);
      c.thrStart = from;
      c.thrPid = pid;
      c.thrComm = comm;
      open(x, c, K_THREAD, from);
      start = from;
    }
    c.thrLastPollEnd = t;
    if (st.threadPids.length < THREAD_PIDS_KEPT && !st.threadPids.includes(pid)) st.threadPids.push(pid);
  } else if (!c.rxSeen && c.headPolls === HEAD_TIMED) {
    // Polls before the CPU's first NET_RX event, an exit, belong to the softirq that was
    // running when the capture started.
    clamped = Number.isNaN(c.rxLastPollEnd);
    start = Math.max(clamped ? clampStart(x, c) : c.rxLastPollEnd, c.lastCloseTs);
    c.rxLastPollEnd = t;
    if (comm.startsWith('ksoftirqd/')) c.rxHeadKsoftirqd = true;
  } else {
    // Busy polling (net/core/dev.c: napi_busy_loop) or netpoll run polls outside softirq.
    // So do polls of a capture without softirq events (napi_poll alone, a common ftrace
    // recipe): nothing tells when they began (rule 10).
    x.problem('poll-without-context', `CPU ${c.cpu}: poll of ${dev} ${napi} at ${t} ns outside any NET_RX softirq or napi thread: counted with zero duration`);
    napis.untimedPolls++;
    start = t;
  }
  // Math.max/min rather than `if (start < inner)`: TurboFan takes a comparison whose operands
  // were all Smis so far for an int32 one and deoptimises when the times pass 2^31 ns (2.1 s
  // into the capture); Math.max/min work on doubles. Same values: neither operand is NaN here
  // (an open slice's start is set when it is pushed, cpu-state.ts open()).
  start = Math.min(Math.max(start, innermostStart(c), c.lastPollEnd), t);
  if (clamped && start !== clampStart(x, c)) clamped = false;
  c.lastPollEnd = t;
  const dur = t - start;
  if (clamped) x.clamped++;
  if (inThread) {
    g.addSpan(c.core.threadPollBusy, start, t);
    st.threadedPolls++;
  } else g.addSpan(c.core.pollBusy, start, t);
  const ser = nc.series;
  g.addSpan(ser, start, t, NAPI_BUSY);
  const full = work >= budget && budget > 0;
  g.addAt(ser, t, 1, NAPI_POLLS);
  g.addAt(ser, t, work, NAPI_WORK);
  if (full) g.addAt(ser, t, 1, NAPI_FULL);
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

  // Waits: NAPIs still scheduled here (their last poll was full) wait for this poll (waits.ts).
  if (!inThread) {
    const pend = c.pending;
    const w = napis.waitsOn(c.cpu);
    pollWaits(w, pend, nc, dur);
    if (full !== nc.pending) {
      if (full) {
        pend.push(nc);
        startWait(w, nc);
      } else {
        endWait(w, nc);
        pend.splice(pend.indexOf(nc), 1);
      }
      nc.pending = full;
    }
  } else if (nc.pending) {
    // Now polled by its kthread (threaded mode switched on): no longer on the softirq list.
    endWait(napis.waitsOn(c.cpu), nc);
    c.pending.splice(c.pending.indexOf(nc), 1);
    nc.pending = false;
  }

  // Occupancy (docs/findings.md): runs of this NAPI's polls on this CPU.
  if (!Number.isNaN(nc.occStart) && (nc.occHeld || start - nc.occEnd <= OCCUPANCY_MAX_GAP_NS)) nc.occEnd = t;
  else {
    // Called on a NAPI's first poll on the CPU too (closeRun returns: no run open), so that the
    // call has V8 type feedback from the start: a call first made after TurboFan compiled poll
    // deoptimises it ("Insufficient type feedback for call"), and new runs are rare.
    closeRun(napis, c, nc);
    nc.occStart = start;
    nc.occEnd = t;
  }
  nc.occHeld = full && !inThread;

  // Segments of consecutive polls on one CPU, in arrival order; moves are settled by time at the end.
  const n = st.segCpu.length;
  if (n > 0 && st.segCpu[n - 1] === c.cpu) {
    if (t > st.segLast[n - 1]!) st.segLast[n - 1] = t;
  } else {
    st.segCpu.push(c.cpu);
    st.segFirst.push(start);
    st.segLast.push(t);
    if (n + 1 >= SEGMENTS_SETTLE_AT) settleMoves(st, x.maxTs - MAX_CPU_SKEW_NS);
  }

  if (c.slices !== undefined) x.slices.keep(c, inThread ? 'thread_poll' : 'poll', start, t, st.label, clamped ? CLAMP_START : 0, st.index, work, budget);
}

/** Ends the open occupancy run of a NAPI on this CPU, if one is open (kept while under OCCUPANCY_RUNS_MAX). */
export function closeRun(napis: NapiTable, c: CpuState, nc: NapiCpuAcc): void {
  if (Number.isNaN(nc.occStart)) return;
  if (napis.occupancyRuns >= OCCUPANCY_RUNS_MAX) napis.occupancyCut = true;
  else {
    napis.occupancyRuns++;
    c.runNapi.push(nc.napi.index);
    c.runStart.push(nc.occStart);
    c.runEnd.push(nc.occEnd);
  }
  nc.occStart = NaN;
}
