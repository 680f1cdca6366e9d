import type { TraceEvent } from './events.js';

/**
 * The event records of our capture text (docs/capture-format.md, "Records"): a tag, then
 * fields separated by one blank, in the order our bpftrace scripts print them
 * (bpftrace-scripts/events.bt.in). This table is the one place that order is written: the
 * synthetic writer (src/synth/writer.ts) and the tests' notation print records with
 * formatRecord, the string parser (src/import/bpftrace-text.ts) reads each field at the index
 * recordFields gives, and the byte fast path (src/import/bpftrace-bytes.ts), which reads fields
 * in one pass as it goes, is checked against it by test/unit/records.test.ts.
 *
 * Field names are the event model's (src/model/events.ts) where the record carries the event's
 * field; `ts` is boot ns (the script's nsecs), not relative to the capture origin. A last field
 * `comm` is the rest of the line: a task name may hold blanks (kernel/sched/core.c:
 * __set_task_comm takes any bytes), and may be empty.
 */
export const RECORDS = {
  /** napi:napi_poll of a traced device (fires after the poll returned: net/core/dev.c: __napi_poll). */
  P: { kind: 'napi_poll', fields: ['ts', 'cpu', 'napi', 'dev', 'work', 'budget', 'pid', 'comm'] },
  /** napi:napi_poll of a device `--devices` leaves out: only where and when. */
  PX: { kind: 'napi_poll_other', fields: ['ts', 'cpu'] },
  /**
   * Format 5: P, the first record inside its NET_RX softirq, carrying the softirq's entry (boot
   * ns): one record where P and SE were two (bpftrace-scripts/events.bt.in). The softirq's pid
   * and comm are the poll's (a softirq runs in the task it interrupted, or in ksoftirqd).
   */
  PS: { kind: 'napi_poll', fields: ['ts', 'cpu', 'napi', 'dev', 'work', 'budget', 'pid', 'entry', 'comm'] },
  /** Format 5: PX, the first record inside its NET_RX softirq: the softirq's entry, pid and comm. */
  XS: { kind: 'napi_poll_other', fields: ['ts', 'cpu', 'entry', 'pid', 'comm'] },
  /** irq:softirq_entry. */
  SE: { kind: 'softirq_entry', fields: ['ts', 'cpu', 'vec', 'pid', 'comm'] },
  /** irq:softirq_exit. */
  SX: { kind: 'softirq_exit', fields: ['ts', 'cpu', 'vec'] },
  /** irq:softirq_raise. */
  SR: { kind: 'softirq_raise', fields: ['ts', 'cpu', 'vec'] },
  /** workqueue:workqueue_queue_work. */
  WQ: { kind: 'workqueue_queue_work', fields: ['ts', 'cpu', 'work', 'function', 'workqueue', 'reqCpu', 'targetCpu'] },
  /** workqueue:workqueue_execute_start. */
  WS: { kind: 'workqueue_execute_start', fields: ['ts', 'cpu', 'work', 'function'] },
  /** workqueue:workqueue_execute_end. */
  WE: { kind: 'workqueue_execute_end', fields: ['ts', 'cpu', 'work', 'function'] },
  /** sched:sched_switch, the task leaving (prev_state as the script's number, or letters). */
  SO: { kind: 'sched_switch_out', fields: ['ts', 'cpu', 'pid', 'state', 'comm'] },
  /** sched:sched_switch, the task entering. */
  SI: { kind: 'sched_switch_in', fields: ['ts', 'cpu', 'pid', 'comm'] },
  /** sched:sched_migrate_task. */
  MG: { kind: 'sched_migrate_task', fields: ['ts', 'cpu', 'pid', 'origCpu', 'destCpu', 'comm'] },
  /** Format 4: an idle period that ended at ts; entered / exited the last switches to and from idle before it (boot ns, 0: none). */
  IP: { kind: 'core_idle_period', fields: ['ts', 'cpu', 'entered', 'exited'] },
  /** Format 3: sched_switch to the idle task. */
  IE: { kind: 'core_idle', fields: ['ts', 'cpu'] },
  /** Format 3: sched_switch from the idle task. */
  IX: { kind: 'core_idle', fields: ['ts', 'cpu'] },
} as const;

export type RecordTag = keyof typeof RECORDS;
export type RecordField<T extends RecordTag> = (typeof RECORDS)[T]['fields'][number];
/** A record's field values as they are printed (numbers, boot-ns bigints, text). */
export type RecordValues<T extends RecordTag> = { readonly [F in RecordField<T>]: string | number | bigint };

export const RECORD_TAGS = Object.keys(RECORDS) as RecordTag[];

/** Whether the record ends with the free-text comm. */
export function hasComm(tag: RecordTag): boolean {
  const f: readonly string[] = RECORDS[tag].fields;
  return f[f.length - 1] === 'comm';
}

/**
 * Per field, its index after the tag (ts 0, cpu 1, ...), for the parsers: `recordFields('P').work`
 * is 4. `count` is the number of fixed fields (the comm, the rest of the line, not counted).
 */
export function recordFields<T extends RecordTag>(tag: T): { readonly [F in RecordField<T>]: number } & { readonly count: number } {
  const out: Record<string, number> = {};
  const fields: readonly string[] = RECORDS[tag].fields;
  fields.forEach((f, i) => (out[f] = i));
  out['count'] = hasComm(tag) ? fields.length - 1 : fields.length;
  return out as { readonly [F in RecordField<T>]: number } & { readonly count: number };
}

/** One record line (no '\n'): the tag and the fields in the table's order. */
export function formatRecord<T extends RecordTag>(tag: T, v: RecordValues<T>): string {
  let out: string = tag;
  for (const f of RECORDS[tag].fields as readonly RecordField<T>[]) out += ' ' + String(v[f]);
  return out;
}

/**
 * One event as the record our scripts would have printed for it, ts and idle times as boot ns
 * (origin + the event's ns). Lost events as bpftrace prints them (`Lost N events`). Events no
 * record carries (windows mode, an idle period open at the end) throw.
 */
export function eventRecord(ev: TraceEvent, origin: bigint): string {
  const boot = (t: number): bigint => origin + BigInt(t);
  const ts = 'ts' in ev ? boot(ev.ts) : 0n;
  switch (ev.kind) {
    case 'napi_poll':
      return formatRecord('P', { ...ev, ts });
    case 'napi_poll_other':
      return formatRecord('PX', { ...ev, ts });
    case 'softirq_entry':
      return formatRecord('SE', { ...ev, ts });
    case 'softirq_exit':
      return formatRecord('SX', { ...ev, ts });
    case 'softirq_raise':
      return formatRecord('SR', { ...ev, ts });
    case 'workqueue_queue_work':
      return formatRecord('WQ', { ...ev, ts });
    case 'workqueue_execute_start':
      return formatRecord('WS', { ...ev, ts });
    case 'workqueue_execute_end':
      return formatRecord('WE', { ...ev, ts });
    case 'sched_switch_out':
      return formatRecord('SO', { ...ev, ts });
    case 'sched_switch_in':
      return formatRecord('SI', { ...ev, ts });
    case 'sched_migrate_task':
      return formatRecord('MG', { ...ev, ts });
    case 'core_idle':
      return formatRecord(ev.idle ? 'IE' : 'IX', { ts, cpu: ev.cpu });
    case 'core_idle_period': {
      // The parser's reading of entered / exited (bpftrace-text.ts idlePeriod), backwards:
      // both 0 is an idle task found running when the probes attached; entered after exited a
      // period whose start was seen; entered 0 with exited set a period whose start was missed.
      if (ev.entry === 'before-probes') return formatRecord('IP', { ts, cpu: ev.cpu, entered: 0, exited: 0 });
      if (ev.entry === 'seen' && ev.start !== undefined) return formatRecord('IP', { ts, cpu: ev.cpu, entered: boot(ev.start), exited: ev.prevEnd === undefined ? 0 : boot(ev.prevEnd) });
      if (ev.entry === 'missed' && ev.prevEnd !== undefined) return formatRecord('IP', { ts, cpu: ev.cpu, entered: 0, exited: boot(ev.prevEnd) });
      throw new Error(`no text record for an idle period with entry ${ev.entry}`);
    }
    case 'lost_events':
      return `Lost ${ev.count} events`;
    default:
      throw new Error(`no text record for ${ev.kind}`);
  }
}

/** include/linux/interrupt.h: NR_SOFTIRQS (a record's vec is below it). */
export const NR_SOFTIRQS = 10;

/**
 * include/trace/events/sched.h (sched_switch print fmt on 6.18): the report-state bits of
 * prev_state print as letters, none as "R", and the preemption bit (TASK_REPORT_MAX, 0x100) as
 * a trailing "+". Our script prints the raw number (`%ld`); perf prints the letters: both
 * become the letters, so the formats agree.
 */
const STATE_LETTERS: [number, string][] = [
  [0x01, 'S'],
  [0x02, 'D'],
  [0x04, 'T'],
  [0x08, 't'],
  [0x10, 'X'],
  [0x20, 'Z'],
  [0x40, 'P'],
  [0x80, 'I'],
];
const TASK_REPORT_MAX = 0x100;
/** Letters per state number, made once each (a module-level cache of pure values: no analysis state). */
const stateCache: string[] = [];

/** An SO record's prev_state number as the letters the kernel's print fmt gives. */
export function prevStateLetters(v: number): string {
  if (!(v >= 0) || v > 0xffff) return String(v);
  const hit = stateCache[v];
  if (hit !== undefined) return hit;
  const bits = v & (TASK_REPORT_MAX - 1);
  const letters =
    bits === 0
      ? 'R'
      : STATE_LETTERS.filter(([m]) => (bits & m) !== 0)
          .map(([, l]) => l)
          .join('|');
  const out = letters + ((v & TASK_REPORT_MAX) !== 0 ? '+' : '');
  stateCache[v] = out;
  return out;
}
