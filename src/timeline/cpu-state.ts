import type { TraceEvent } from '../model/events.js';
import type { BuildContext } from './context.js';
import type { CoreAcc } from './core-acc.js';
import type { NapiCpuAcc } from './napi-acc.js';
import { CLAMP_START } from './slice-keeper.js';
import type { Slice } from './types.js';

/**
 * One CPU's state machine: the stack of open slices (softirqs, work items, napi kthread runs),
 * its idle state, and what its polls carry over (cpu-events.ts, idle.ts and polls.ts are its
 * transitions). Events are ordered within one CPU but not across CPUs (bpftrace drains per-CPU
 * buffers), so everything here is per CPU and nothing needs a global order.
 */

/** wg work functions that are crypt work (drivers/net/wireguard/receive.c, send.c). */
const DECRYPT_FN = 'wg_packet_decrypt_worker';
const ENCRYPT_FN = 'wg_packet_encrypt_worker';
/** Open slice kinds on a CPU's stack. */
export const K_RX = 1;
export const K_TX = 2;
export const K_WORK = 3;
export const K_THREAD = 4;
export const KIND_NAME = ['', 'NET_RX', 'NET_TX', 'work item', 'napi thread run'];
/**
 * Longest one NET_RX softirq (softirq_entry .. softirq_exit: one net_rx_action) can run.
 * net_rx_action stops polling once netdev_budget_usecs have passed (net/core/dev.c, checked
 * after each poll), 2 jiffies by default (net/core/hotdata.c: 2 * USEC_PER_SEC / HZ): 20 ms at
 * HZ=100, the slowest tick. (kernel/softirq.c MAX_SOFTIRQ_TIME, 2 ms, bounds __do_softirq's
 * restarts, each its own entry and exit, before it hands over to ksoftirqd: not one softirq.)
 */
export const NET_RX_MAX_NS = 20_000_000;
/** CpuState.headPolls: not yet known, timed in the softirq open at the start, not timed. */
export const HEAD_UNDECIDED = 0;
export const HEAD_TIMED = 1;
export const HEAD_UNTIMED = 2;

/** Per-CPU state. A NaN time means none (not open, not seen yet): Number.isNaN tells. */
export class CpuState {
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

/**
 * Where a slice open at the capture's start is clamped to: the origin, or the CPU's first
 * event if earlier. When the header says when the probes were attached, a slice whose start
 * we did not see began before that moment, so the part we observed starts there: clamping it
 * to the capture's start would stretch it over the seconds bpftrace took to attach.
 */
export function clampStart(x: BuildContext, c: CpuState): number {
  const base = Math.min(0, c.firstTs);
  const p = x.probesStartNs;
  return p !== undefined && p > base ? Math.min(p, c.firstTs) : base;
}

export function open(x: BuildContext, c: CpuState, kind: number, t: number, onIdleTask = false): void {
  if (c.stack.length === 0) {
    c.busyStart = t;
    c.busyOnIdle = onIdleTask;
    // Traced work on top of the idle task (a softirq on irq exit) is busy time: the kernel
    // counts it as softirq, not idle (kernel/sched/cputime.c: account_process_tick,
    // irqtime_account_irq; tick-sched stops idle time on irq entry).
    if (!Number.isNaN(c.idleStart)) {
      x.grid!.addSpan(c.core.idle, c.idleStart, t);
      c.idleStart = NaN;
    }
  }
  c.stack.push(kind);
}

function finishKind(x: BuildContext, c: CpuState, kind: number, t: number, clamp: number): void {
  switch (kind) {
    case K_RX:
      closeRx(x, c, t, clamp);
      break;
    case K_TX:
      closeTx(x, c, t, clamp);
      break;
    case K_WORK:
      closeWork(x, c, t, clamp);
      break;
    default:
      closeThread(x, c, t, clamp);
  }
}

/** Closes everything opened after `kind` (their ends were lost) down to index `keep`. */
function closeAbove(x: BuildContext, c: CpuState, keep: number, t: number, why: string): void {
  const st = c.stack;
  while (st.length > keep) {
    const k = st.pop()!;
    x.problem('unclosed-inner', `CPU ${c.cpu}: ${KIND_NAME[k]} still open at ${t} ns when ${why}: closed there (lost events?)`);
    finishKind(x, c, k, t, 0);
  }
}

/** Closes an open slice of `kind` at t (and first whatever is still open on top of it). */
export function end(x: BuildContext, c: CpuState, kind: number, t: number, clamp: number): void {
  const st = c.stack;
  if (st[st.length - 1] !== kind) {
    const i = st.lastIndexOf(kind);
    if (i < 0) return;
    closeAbove(x, c, i + 1, t, `the ${KIND_NAME[kind]} below it ended`);
  }
  st.pop();
  finishKind(x, c, kind, t, clamp);
  c.lastCloseTs = t;
  if (st.length === 0) {
    x.grid!.addSpan(c.core.busy, c.busyStart, t);
    if (c.busyOnIdle && x.idleWhole) x.grid!.addSpan(c.core.idleBusy, c.busyStart, t);
    c.busyOnIdle = false;
    if (c.inIdle) c.idleStart = t;
  }
}

/**
 * A slice open since the capture start ends at t: it encloses everything seen so far on this
 * CPU, so whatever is still open closes first, and the busy union over [clampStart, t) is
 * the whole range (every busy interval recorded so far lies inside it).
 */
export function endHead(x: BuildContext, c: CpuState, kind: number, t: number): void {
  closeAbove(x, c, 0, t, `a ${KIND_NAME[kind]} open since the capture start ended`);
  finishKind(x, c, kind, t, CLAMP_START);
  c.lastCloseTs = t;
  x.grid!.setSpan(c.core.busy, clampStart(x, c), t);
}

/** Start of the innermost open slice: a poll never starts before the context it runs in. */
export function innermostStart(c: CpuState): number {
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

function closeRx(x: BuildContext, c: CpuState, t: number, clamp: number): void {
  const start = c.rxStart;
  const g = x.grid!;
  g.addSpan(c.core.netRxBusy, start, t);
  if (c.rxKsoftirqd) g.addSpan(c.core.ksBusy, start, t);
  if (clamp !== 0) x.clamped++;
  if (c.slices !== undefined) x.slices.keep(c, c.rxKsoftirqd ? 'ksoftirqd' : 'net_rx', start, t, c.rxKsoftirqd ? c.rxComm : 'NET_RX', clamp);
  c.rxStart = NaN;
}

function closeTx(x: BuildContext, c: CpuState, t: number, clamp: number): void {
  const start = c.txStart;
  x.grid!.addSpan(c.core.netTxBusy, start, t);
  if (clamp !== 0) x.clamped++;
  if (c.slices !== undefined) x.slices.keep(c, 'net_tx', start, t, 'NET_TX', clamp);
  c.txStart = NaN;
}

function closeWork(x: BuildContext, c: CpuState, t: number, clamp: number): void {
  const start = c.workStart;
  const crypt = c.workFn === DECRYPT_FN || c.workFn === ENCRYPT_FN;
  const g = x.grid!;
  if (crypt) {
    g.addSpan(c.core.cryptBusy, start, t);
    x.crypt.addRun(c.workPtr, c.cpu, t - start, c.workContinued);
  } else g.addSpan(c.core.otherWorkBusy, start, t);
  if (clamp !== 0) x.clamped++;
  if (c.slices !== undefined) x.slices.keep(c, crypt ? 'crypt_work' : 'work', start, t, c.workFn, clamp);
  c.workStart = NaN;
  c.workContinued = false;
}

function closeThread(x: BuildContext, c: CpuState, t: number, clamp: number): void {
  if (clamp !== 0) x.clamped++;
  if (c.slices !== undefined) x.slices.keep(c, 'napi_thread', c.thrStart, t, c.thrComm, clamp);
  c.thrStart = NaN;
  c.thrLastPollEnd = NaN;
}

/** An idle period [a, t) ended: counted in the window that holds its last instant (t - 1 ns). */
export function periodEnded(x: BuildContext, c: CpuState, t: number): void {
  x.grid!.addAt(c.core.idlePeriods, t - 1, 1);
}

/** A task other than idle came onto the CPU: if the core was idle, its idle period ended here. */
export function leaveIdle(x: BuildContext, c: CpuState, t: number): void {
  if (!c.inIdle) return;
  if (!Number.isNaN(c.idleStart)) x.grid!.addSpan(c.core.idle, c.idleStart, t);
  periodEnded(x, c, t);
  c.inIdle = false;
  c.idleStart = NaN;
  c.idleImpliedExit = t;
}
