import { SOFTIRQ_NET_RX, SOFTIRQ_NET_TX } from '../model/events.js';
import type { BuildContext } from './context.js';
import { KIND_NAME, K_RX, K_THREAD, K_TX, K_WORK, NET_RX_MAX_NS, clampStart, end, endHead, leaveIdle, open, type CpuState } from './cpu-state.js';
import { CLAMP_END } from './slice-keeper.js';

/**
 * What softirq, work item and context switch events do to a CPU's state (cpu-state.ts): each
 * opens or closes a slice on its stack, and repairs what lost events left (docs/timeline.md,
 * "Normalisation rules"). `t` is the event's time, `prev` the CPU's previous event's.
 */

/** Work items remembered as interrupted by a later item on the same CPU. */
const SUSPENDED_WORK_KEPT = 8;

/** include/linux/sched.h: TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD (0x402), printed `I`. */
const TASK_NOLOAD = 0x400;
function isIdleState(state: string): boolean {
  if (state === 'I') return true;
  const n = Number(state);
  return Number.isInteger(n) && (n & TASK_NOLOAD) !== 0;
}

export function softirqEntry(x: BuildContext, c: CpuState, t: number, prev: number, vec: number, comm: string, pid: number): void {
  if (vec === SOFTIRQ_NET_RX) {
    if (!Number.isNaN(c.rxStart)) {
      // net/core/dev.c never nests NET_RX in itself: the exit was lost. The softirq ran at
      // least until the last event seen on this CPU.
      x.problem('unmatched-entry', `CPU ${c.cpu}: NET_RX entry at ${t} ns while one is open: the earlier one is closed at the last event seen (${prev} ns)`);
      end(x, c, K_RX, Math.max(prev, c.rxStart), 0);
    }
    c.rxStart = t;
    c.rxLastPollEnd = t;
    c.rxSeen = true;
    c.rxComm = comm;
    c.rxKsoftirqd = comm.startsWith('ksoftirqd/');
    open(x, c, K_RX, t, pid === 0);
    const g = x.grid!;
    g.addAt(c.core.netRxCount, t, 1);
    if (c.rxKsoftirqd) g.addAt(c.core.ksCount, t, 1);
  } else if (vec === SOFTIRQ_NET_TX) {
    if (!Number.isNaN(c.txStart)) {
      x.problem('unmatched-entry', `CPU ${c.cpu}: NET_TX entry at ${t} ns while one is open: the earlier one is closed at the last event seen (${prev} ns)`);
      end(x, c, K_TX, Math.max(prev, c.txStart), 0);
    }
    c.txStart = t;
    c.txSeen = true;
    open(x, c, K_TX, t, pid === 0);
  } else x.ignoredSoftirqs++;
}

export function softirqExit(x: BuildContext, c: CpuState, t: number, vec: number): void {
  if (vec === SOFTIRQ_NET_RX) {
    if (!Number.isNaN(c.rxStart)) {
      if (t - c.rxStart > NET_RX_MAX_NS) {
        // Its own exit, after longer than net_rx_action runs: kept as the capture shows it.
        x.problem(
          'net-rx-over-limit',
          `CPU ${c.cpu}: NET_RX softirq from ${c.rxStart} to ${t} ns ran ${((t - c.rxStart) / 1e6).toFixed(1)} ms, longer than net_rx_action runs (netdev_budget_usecs, at most ${NET_RX_MAX_NS / 1e6} ms): the CPU stalled in it (a vCPU descheduled by its host?) or events were lost inside it; kept as captured`,
        );
      }
      end(x, c, K_RX, t, 0);
    } else if (!c.rxSeen) {
      // Open when the capture started: clamp it to the capture start.
      c.rxSeen = true;
      c.rxStart = clampStart(x, c);
      c.rxKsoftirqd = c.rxHeadKsoftirqd;
      c.rxComm = c.rxKsoftirqd ? `ksoftirqd/${c.cpu}` : '';
      x.grid!.addAt(c.core.netRxCount, c.rxStart, 1);
      if (c.rxKsoftirqd) x.grid!.addAt(c.core.ksCount, c.rxStart, 1);
      endHead(x, c, K_RX, t);
    } else x.problem('unmatched-exit', `CPU ${c.cpu}: NET_RX exit at ${t} ns without its entry (lost events?): ignored`);
    c.rxLastPollEnd = NaN;
  } else if (vec === SOFTIRQ_NET_TX) {
    if (!Number.isNaN(c.txStart)) end(x, c, K_TX, t, 0);
    else if (!c.txSeen) {
      c.txSeen = true;
      c.txStart = clampStart(x, c);
      endHead(x, c, K_TX, t);
    } else x.problem('unmatched-exit', `CPU ${c.cpu}: NET_TX exit at ${t} ns without its entry (lost events?): ignored`);
  } else x.ignoredSoftirqs++;
}

export function workStart(x: BuildContext, c: CpuState, t: number, prev: number, work: string, fn: string): void {
  softirqExitLost(x, c, t, prev, 'work item start');
  // A kworker runs the item: the core is not in its idle task.
  leaveIdle(x, c, t);
  if (!Number.isNaN(c.workStart)) {
    if (c.workPtr === work) {
      x.problem('unmatched-entry', `CPU ${c.cpu}: work ${work} starts at ${t} ns while it is still executing: the earlier run is closed at the last event seen (${prev} ns)`);
      end(x, c, K_WORK, Math.max(prev, c.workStart), 0);
    } else {
      // kernel/workqueue.c: process_one_work may sleep, and another kworker then runs its
      // item on this CPU. The earlier item's slice ends where the later one begins.
      if (c.suspended.length >= SUSPENDED_WORK_KEPT) c.suspended.shift();
      c.suspended.push(c.workPtr);
      end(x, c, K_WORK, t, 0);
    }
  }
  c.workStart = t;
  c.workPtr = work;
  c.workFn = fn;
  c.workSeen = true;
  c.workContinued = false;
  open(x, c, K_WORK, t);
}

export function workEnd(x: BuildContext, c: CpuState, t: number, prev: number, work: string, fn: string): void {
  softirqExitLost(x, c, t, prev, 'work item end');
  if (!Number.isNaN(c.workStart) && c.workPtr === work) {
    end(x, c, K_WORK, t, 0);
    return;
  }
  if (c.preemptPid >= 0 && c.preemptPtr === work) {
    // Its kworker's switch-in back onto the CPU was not recorded: it ran unseen until now.
    c.preemptPid = -1;
    return;
  }
  const si = c.suspended.indexOf(work);
  if (si >= 0) c.suspended.splice(si, 1);
  else if (!c.workSeen && Number.isNaN(c.workStart)) {
    c.workSeen = true;
    c.workStart = clampStart(x, c);
    c.workPtr = work;
    c.workFn = fn;
    endHead(x, c, K_WORK, t);
  } else x.problem('unmatched-exit', `CPU ${c.cpu}: work ${work} ends at ${t} ns without its start (lost events?): ignored`);
}

/**
 * A context switch, or a work item starting or ending, on a CPU with a softirq open: softirqs
 * never sleep and are never preempted (kernel/softirq.c: __do_softirq runs with bottom halves
 * disabled), and work items run in a kworker, in process context (kernel/workqueue.c:
 * process_one_work), so the softirq's exit was lost. It ended at the latest at the last event
 * seen before; closed there, clamped.
 */
export function softirqExitLost(x: BuildContext, c: CpuState, t: number, prev: number, what = 'context switch'): void {
  // Both read before either closes (closing NET_RX closes a NET_TX on top of it too).
  const rx = c.rxStart;
  const tx = c.txStart;
  if (!Number.isNaN(rx)) exitLost(x, c, K_RX, rx, t, prev, what);
  if (!Number.isNaN(tx)) exitLost(x, c, K_TX, tx, t, prev, what);
}

function exitLost(x: BuildContext, c: CpuState, kind: number, start: number, t: number, prev: number, what: string): void {
  x.problem('exit-lost', `CPU ${c.cpu}: ${what} at ${t} ns while ${KIND_NAME[kind]} is open: its exit was lost; it is closed at the last event before (${prev} ns)`);
  end(x, c, kind, Math.max(prev, start), CLAMP_END);
}

/**
 * An event at t on a CPU whose NET_RX softirq opened more than NET_RX_MAX_NS before: one
 * net_rx_action cannot run that long, so the softirq's exit was lost (whether or not the capture
 * counted lost events), or the CPU stalled in it (a vCPU descheduled by its host). It is closed
 * at the last event before, clamped, and what follows is not taken to run inside it.
 */
export function netRxOverLimit(x: BuildContext, c: CpuState, t: number, prev: number): void {
  const ms = ((t - c.rxStart) / 1e6).toFixed(1);
  x.problem(
    'net-rx-over-limit',
    `CPU ${c.cpu}: event at ${t} ns, ${ms} ms after the entry of a NET_RX softirq still open: longer than net_rx_action runs (netdev_budget_usecs, at most ${NET_RX_MAX_NS / 1e6} ms), so its exit was lost (or the CPU stalled in it); it is closed at the last event before (${prev} ns)`,
  );
  end(x, c, K_RX, Math.max(prev, c.rxStart), CLAMP_END);
}

export function switchIn(x: BuildContext, c: CpuState, t: number, prev: number, pid: number, comm: string): void {
  softirqExitLost(x, c, t, prev);
  if (pid !== 0) leaveIdle(x, c, t);
  if (comm.startsWith('kworker/')) {
    // The kworker switched out in the middle of its item comes back: the item goes on.
    if (pid === c.preemptPid && Number.isNaN(c.workStart)) {
      c.preemptPid = -1;
      c.workStart = t;
      c.workPtr = c.preemptPtr;
      c.workFn = c.preemptFn;
      c.workContinued = true;
      open(x, c, K_WORK, t);
    }
    return;
  }
  if (!comm.startsWith('napi/')) return;
  if (!Number.isNaN(c.thrStart)) {
    // A new napi kthread on the CPU means the previous one left, whether or not its
    // switch-out was recorded (kernel/sched/core.c: __schedule).
    if (c.thrPid === pid) {
      x.problem('unmatched-entry', `CPU ${c.cpu}: ${comm} switched in at ${t} ns while running: the earlier run is closed at the last event seen (${prev} ns)`);
      end(x, c, K_THREAD, Math.max(prev, c.thrStart), 0);
    } else end(x, c, K_THREAD, t, 0);
  }
  c.thrStart = t;
  c.thrPid = pid;
  c.thrComm = comm;
  c.thrLastPollEnd = t;
  c.thrSeen = true;
  open(x, c, K_THREAD, t);
}

export function switchOut(x: BuildContext, c: CpuState, t: number, prev: number, pid: number, state: string, comm: string): void {
  softirqExitLost(x, c, t, prev);
  if (comm.startsWith('kworker/')) {
    // A kworker leaving the CPU is not executing its item any more (kernel/workqueue.c:
    // process_one_work may sleep or be preempted). Idle (TASK_IDLE: `I`, or the 0x402 bits
    // bpftrace prints) means the item is over, even if its execute_end was not captured;
    // otherwise it resumes when the same kworker is switched back in.
    if (!Number.isNaN(c.workStart)) {
      const ptr = c.workPtr;
      const fn = c.workFn;
      end(x, c, K_WORK, t, 0);
      if (!isIdleState(state)) {
        c.preemptPid = pid;
        c.preemptPtr = ptr;
        c.preemptFn = fn;
      }
    }
    return;
  }
  if (!comm.startsWith('napi/')) return;
  if (!Number.isNaN(c.thrStart) && c.thrPid === pid) end(x, c, K_THREAD, t, 0);
  else if (!c.thrSeen && Number.isNaN(c.thrStart)) {
    c.thrSeen = true;
    c.thrStart = clampStart(x, c);
    c.thrPid = pid;
    c.thrComm = comm;
    endHead(x, c, K_THREAD, t);
  } else x.problem('unmatched-exit', `CPU ${c.cpu}: ${comm} switched out at ${t} ns without its switch-in: ignored`);
}
