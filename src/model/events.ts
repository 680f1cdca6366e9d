import type { Ns } from '../base/time.js';

/**
 * The one typed event model every importer produces (speedscope's rule: one importer per
 * format, one model). Each event is one kernel tracepoint hit, named after the tracepoint.
 * `ts` is relative to the capture origin (see base/time.ts); `cpu` is the CPU the event was
 * recorded on (bpftrace's `cpu`, perf's `[NNN]`).
 *
 * Pointers (napi, work) are normalised by importers to lowercase `0x` + 16 hex digits, whatever
 * the source printed (`%p`, a signed decimal u64 in bpftrace map keys, `0xffff...`).
 */
export const SOFTIRQ_NET_TX = 2; // include/linux/interrupt.h: NET_TX_SOFTIRQ
export const SOFTIRQ_NET_RX = 3; // include/linux/interrupt.h: NET_RX_SOFTIRQ

/** napi:napi_poll, fired after the poll returns (net/core/dev.c: __napi_poll); it has no start time. */
export interface NapiPollEvent {
  kind: 'napi_poll';
  ts: Ns;
  cpu: number;
  napi: string;
  dev: string;
  work: number;
  budget: number;
  pid: number;
  comm: string;
}

/**
 * napi:napi_poll of a device the capture does not trace (events mode `PX`): only where it
 * ended, so that the next traced poll on that CPU is not taken to have started before it.
 */
export interface NapiPollOtherEvent {
  kind: 'napi_poll_other';
  ts: Ns;
  cpu: number;
}

/** irq:softirq_entry. `pid`/`comm` tell whether it ran in ksoftirqd/N (-1/'' when unknown). */
export interface SoftirqEntryEvent {
  kind: 'softirq_entry';
  ts: Ns;
  cpu: number;
  vec: number;
  pid: number;
  comm: string;
}

export interface SoftirqExitEvent {
  kind: 'softirq_exit';
  ts: Ns;
  cpu: number;
  vec: number;
}

export interface SoftirqRaiseEvent {
  kind: 'softirq_raise';
  ts: Ns;
  cpu: number;
  vec: number;
}

/** workqueue:workqueue_queue_work, recorded on the requesting CPU. */
export interface WorkQueueEvent {
  kind: 'workqueue_queue_work';
  ts: Ns;
  cpu: number;
  work: string;
  function: string;
  workqueue: string;
  reqCpu: number;
  targetCpu: number;
}

export interface WorkExecuteStartEvent {
  kind: 'workqueue_execute_start';
  ts: Ns;
  cpu: number;
  work: string;
  function: string;
}

export interface WorkExecuteEndEvent {
  kind: 'workqueue_execute_end';
  ts: Ns;
  cpu: number;
  work: string;
  function: string;
}

/**
 * sched:sched_switch, split into its two halves: the task leaving the CPU and the task
 * entering it. Our bpftrace script only records the halves of threads that matter
 * (ksoftirqd/*, napi/*, kworkers), and each half keeps its comm last on its line.
 */
export interface SchedSwitchOutEvent {
  kind: 'sched_switch_out';
  ts: Ns;
  cpu: number;
  pid: number;
  /** prev_state as the kernel prints it (R, S, D, ...), or a number. */
  state: string;
  comm: string;
}

export interface SchedSwitchInEvent {
  kind: 'sched_switch_in';
  ts: Ns;
  cpu: number;
  pid: number;
  comm: string;
}

/** sched:sched_migrate_task (for napi/* threads). */
export interface SchedMigrateEvent {
  kind: 'sched_migrate_task';
  ts: Ns;
  cpu: number;
  pid: number;
  origCpu: number;
  destCpu: number;
  comm: string;
}

/**
 * sched:sched_switch to or from the core's idle task (pid 0, `swapper/N`; kernel/sched/core.c:
 * __schedule). `idle` true: the core went idle (next_pid == 0, format 3's `IE`, or a tracer's sched_switch line); false: it left
 * idle (prev_pid == 0, `IX`). The time between is the core's idle time, which is what `mpstat`
 * and /proc/stat call idle; everything else is the core's busy time (issue 11).
 */
export interface CoreIdleEvent {
  kind: 'core_idle';
  ts: Ns;
  cpu: number;
  idle: boolean;
}

/**
 * One idle period of a core, recorded when it ended (capture format 4, events mode `IP`): the
 * idle task ran from `start` to `ts`. `entry` says how its start is known: `seen` (the switch to
 * idle was recorded), `before-probes` (idle since before the probes attached: `start` absent),
 * `missed` (the switch to idle was not seen: the period's length is unknown, `start` absent), or
 * `open` (idle from `start` when the probes detached: the script's state printed at exit; `ts` is
 * `start`, and the period ends at the probes' stop).
 */
export interface CoreIdlePeriodEvent {
  kind: 'core_idle_period';
  ts: Ns;
  cpu: number;
  start?: Ns;
  entry: 'seen' | 'before-probes' | 'missed' | 'open';
  /**
   * The end of the core's idle period before this one, as the script knew it (`exited`): later
   * than the last `IP` the reader saw means that one's record was lost.
   */
  prevEnd?: Ns;
}

/**
 * A window of the in-kernel aggregation (windows mode): per (cpu, napi) over
 * [ts - intervalNs, ts).
 */
export interface WindowNapiEvent {
  kind: 'window_napi';
  ts: Ns;
  intervalNs: number;
  cpu: number;
  napi: string;
  dev: string;
  busyNs: number;
  polls: number;
  work: number;
  fullBudgetPolls: number;
}

/** A window of the in-kernel aggregation: per cpu over [ts - intervalNs, ts). */
export interface WindowCpuEvent {
  kind: 'window_cpu';
  ts: Ns;
  intervalNs: number;
  cpu: number;
  netRxBusyNs: number;
  netRxCount: number;
  netTxBusyNs: number;
  netTxCount: number;
  cryptBusyNs: number;
  cryptCount: number;
  /** NET_RX softirqs that ran in ksoftirqd/N rather than on irq exit. */
  ksoftirqdNetRxCount: number;
  /**
   * Time the core spent in its idle task within the window (capture format 3, `@idle`), when
   * the capture records it; absent in older captures.
   */
  idleNs?: number;
  /** Idle periods of the core that ended within the window (`@idle`'s second value), with idleNs. */
  idlePeriods?: number;
}

/** bpftrace's "Lost N events" (or its JSON lost_events record); `ts` when known. */
export interface LostEventsEvent {
  kind: 'lost_events';
  ts?: Ns;
  count: number;
}

export type TraceEvent =
  | NapiPollEvent
  | NapiPollOtherEvent
  | SoftirqEntryEvent
  | SoftirqExitEvent
  | SoftirqRaiseEvent
  | WorkQueueEvent
  | WorkExecuteStartEvent
  | WorkExecuteEndEvent
  | SchedSwitchOutEvent
  | SchedSwitchInEvent
  | SchedMigrateEvent
  | CoreIdleEvent
  | CoreIdlePeriodEvent
  | WindowNapiEvent
  | WindowCpuEvent
  | LostEventsEvent;

const MASK64 = (1n << 64n) - 1n;
const pointerCache = new Map<string, string>();

/**
 * Normalises a kernel pointer as printed by bpftrace or perf: `0xffff888627c2d188`,
 * `ffff888627c2d188`, or a decimal u64 that bpftrace 0.17 prints signed in map keys
 * (`-131365202636408`). Returns undefined when the text is not a pointer.
 */
export function normalizePointer(text: string): string | undefined {
  const hit = pointerCache.get(text);
  if (hit !== undefined) return hit;
  let v: bigint;
  if (/^0x[0-9a-fA-F]{1,16}$/.test(text)) {
    // The value's 16 hex digits are the text's, zero-padded, in lower case: no BigInt needed.
    const out = '0x' + text.slice(2).toLowerCase().padStart(16, '0');
    if (pointerCache.size < 65536) pointerCache.set(text, out);
    return out;
  } else if (/^-?\d{1,20}$/.test(text)) {
    v = BigInt(text);
    if (v < -(1n << 63n) || v > MASK64) return undefined;
    v &= MASK64;
  } else if (/^[0-9a-fA-F]{16}$/.test(text)) v = BigInt('0x' + text);
  else return undefined;
  const out = '0x' + v.toString(16).padStart(16, '0');
  // The set of distinct pointers in a capture is small (one per tunnel or work item);
  // bound the cache anyway so hostile input cannot grow it without limit.
  if (pointerCache.size < 65536) pointerCache.set(text, out);
  return out;
}
