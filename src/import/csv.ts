import { Readable } from 'node:stream';
import { Parser, type Options } from 'csv-parse';
import { InputError } from '../base/diagnostics.js';
import type { Ns } from '../base/time.js';
import type { TraceEvent } from '../model/events.js';
import { ImportContext, MAX_LINE_CHARS, bootNsPartsAt, sanitize } from './common.js';
import type { Importer, ImportOptions, ImportSummary } from './types.js';

/**
 * Any CSV with a header row whose columns map onto the event model, so that the output of a
 * user's own bpftrace script (or a spreadsheet export) can be analysed. The mapping is in
 * docs/formats.md. Column names are matched case-insensitively, after turning camelCase into
 * snake_case (`reqCpu` = `req_cpu`), so the model's own field names always work.
 *
 * `#@` lines of our header may precede the column row and follow the records.
 */

type Field =
  | 'kind'
  | 'ts'
  | 'ts_us'
  | 'ts_s'
  | 'cpu'
  | 'napi'
  | 'dev'
  | 'work'
  | 'work_done'
  | 'work_ptr'
  | 'budget'
  | 'vec'
  | 'pid'
  | 'comm'
  | 'function'
  | 'workqueue'
  | 'req_cpu'
  | 'target_cpu'
  | 'state'
  | 'orig_cpu'
  | 'dest_cpu'
  | 'count'
  | 'interval_ns'
  | 'busy_ns'
  | 'polls'
  | 'full_budget_polls'
  | 'net_rx_busy_ns'
  | 'net_rx_count'
  | 'net_tx_busy_ns'
  | 'net_tx_count'
  | 'crypt_busy_ns'
  | 'crypt_count'
  | 'ksoftirqd_net_rx_count';

/** Accepted column names per field (after normalisation). The first is the documented name. */
const ALIASES: Record<Field, string[]> = {
  kind: ['kind', 'event', 'type', 'tag', 'tracepoint', 'probe'],
  ts: ['ts', 'timestamp', 'ts_ns', 'time_ns', 'timestamp_ns', 'nsecs'],
  ts_us: ['ts_us', 'time_us', 'timestamp_us'],
  ts_s: ['time', 'ts_s', 'time_s', 'seconds'],
  cpu: ['cpu'],
  napi: ['napi', 'napi_ptr', 'napi_struct'],
  dev: ['dev', 'dev_name', 'device', 'ifname'],
  work: ['work'],
  work_done: ['work_done'],
  work_ptr: ['work_ptr', 'work_struct'],
  budget: ['budget'],
  vec: ['vec'],
  pid: ['pid', 'tid'],
  comm: ['comm', 'task'],
  function: ['function', 'func', 'fn'],
  workqueue: ['workqueue', 'wq'],
  req_cpu: ['req_cpu'],
  target_cpu: ['target_cpu'],
  state: ['state', 'prev_state'],
  orig_cpu: ['orig_cpu'],
  dest_cpu: ['dest_cpu'],
  count: ['count', 'lost'],
  interval_ns: ['interval_ns'],
  busy_ns: ['busy_ns'],
  polls: ['polls'],
  full_budget_polls: ['full_budget_polls', 'full'],
  net_rx_busy_ns: ['net_rx_busy_ns', 'netrx_busy'],
  net_rx_count: ['net_rx_count', 'netrx_count'],
  net_tx_busy_ns: ['net_tx_busy_ns', 'nettx_busy'],
  net_tx_count: ['net_tx_count', 'nettx_count'],
  crypt_busy_ns: ['crypt_busy_ns', 'crypt_busy'],
  crypt_count: ['crypt_count'],
  ksoftirqd_net_rx_count: ['ksoftirqd_net_rx_count', 'netrx_ksoftirqd'],
};

type Kind = TraceEvent['kind'];

/** Values of the kind column: model kinds, tracepoint names, and our text tags. */
const KINDS: Record<string, Kind> = {
  p: 'napi_poll',
  napi_poll: 'napi_poll',
  'napi:napi_poll': 'napi_poll',
  se: 'softirq_entry',
  softirq_entry: 'softirq_entry',
  'irq:softirq_entry': 'softirq_entry',
  sx: 'softirq_exit',
  softirq_exit: 'softirq_exit',
  'irq:softirq_exit': 'softirq_exit',
  sr: 'softirq_raise',
  softirq_raise: 'softirq_raise',
  'irq:softirq_raise': 'softirq_raise',
  wq: 'workqueue_queue_work',
  workqueue_queue_work: 'workqueue_queue_work',
  'workqueue:workqueue_queue_work': 'workqueue_queue_work',
  ws: 'workqueue_execute_start',
  workqueue_execute_start: 'workqueue_execute_start',
  'workqueue:workqueue_execute_start': 'workqueue_execute_start',
  we: 'workqueue_execute_end',
  workqueue_execute_end: 'workqueue_execute_end',
  'workqueue:workqueue_execute_end': 'workqueue_execute_end',
  so: 'sched_switch_out',
  sched_switch_out: 'sched_switch_out',
  si: 'sched_switch_in',
  sched_switch_in: 'sched_switch_in',
  mg: 'sched_migrate_task',
  sched_migrate_task: 'sched_migrate_task',
  'sched:sched_migrate_task': 'sched_migrate_task',
  lost: 'lost_events',
  lost_events: 'lost_events',
  window_napi: 'window_napi',
  window_cpu: 'window_cpu',
};

export function normaliseColumn(name: string): string {
  return name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9:]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

const FIELD_OF = new Map<string, Field>();
for (const [f, names] of Object.entries(ALIASES) as [Field, string[]][]) for (const n of names) FIELD_OF.set(n, f);

class RowError extends Error {}

/**
 * csv-parse's stream parser with each record handled as the parser pushes it, with its line:
 * csv-parse pushes every record from inside its transform (lib/index.js: _transform, the api's
 * push callback), when `info.lines` is that record's last line (the counter on_record's
 * context copies, lib/api/index.js: __push). Nothing is queued on the readable side.
 * Measured on the bench's 0.2 M-row CSV: an async iteration step per record, or on_record
 * (which builds an info object per record and, with raw on, decodes the raw text twice), cost
 * more than csv-parse's own parse of it. With raw on, a record is `{ record, raw }`.
 */
class RecordParser extends Parser {
  constructor(
    options: Options,
    private readonly onRecord: (rec: { record: string[]; raw: string }, line: number) => void,
  ) {
    super(options);
  }

  override push(chunk: unknown): boolean {
    if (chunk === null) return super.push(null);
    // After an error, the rest of the chunk csv-parse is still parsing is dropped.
    if (this.destroyed) return false;
    try {
      this.onRecord(chunk as { record: string[]; raw: string }, this.info.lines);
    } catch (e) {
      // csv-parse calls push outside its own error handling (lib/api/index.js: __push without
      // on_record): an error thrown here would escape the stream; it ends the import instead
      // (the iteration in importCsv rejects with it).
      this.destroy(e as Error);
      return false;
    }
    return true;
  }
}

export async function importCsv(chunks: AsyncIterable<string | Buffer>, opts: ImportOptions): Promise<ImportSummary> {
  const ctx = new ImportContext('csv', opts);
  let col: Partial<Record<Field, number>> | undefined;
  let ignored = 0;
  const parts = { sec: 0, sub: 0 };

  const parser = new RecordParser(
    {
      raw: true,
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_records_with_error: true,
      max_record_size: MAX_LINE_CHARS,
      on_skip: (err: Error | undefined, raw: string | undefined) => {
        const line = parser.info.lines;
        ctx.lines = line;
        if (raw !== undefined && raw.startsWith('#@')) ctx.headerLine(raw.replace(/\r?\n$/, ''), line);
        else ctx.problem(/max.?record.?size/i.test(err?.message ?? '') ? 'line-too-long' : 'malformed-line', line, `CSV record unreadable: ${err?.message.slice(0, 120) ?? 'unknown'}`);
      },
    },
    (rec, line) => onRecord(rec.record, rec.raw, line),
  );

  const onRecord = (record: string[], raw: string, line: number): void => {
    ctx.lines = line;
    const first = record[0] ?? '';
    if (first.startsWith('#')) {
      if (!ctx.headerLine(raw.replace(/\r?\n$/, ''), line)) ignored++;
      return;
    }
    if (record.every((f) => f.trim() === '')) {
      ignored++;
      return;
    }
    if (col === undefined) {
      col = {};
      for (let i = 0; i < record.length; i++) {
        const f = FIELD_OF.get(normaliseColumn(record[i]!));
        if (f !== undefined && col[f] === undefined) col[f] = i;
      }
      const missing: string[] = [];
      if (col.kind === undefined) missing.push(`kind (one of ${ALIASES.kind.join(', ')})`);
      if (col.ts === undefined && col.ts_us === undefined && col.ts_s === undefined) {
        missing.push(`timestamp (one of ${[...ALIASES.ts, ...ALIASES.ts_us, ...ALIASES.ts_s].join(', ')})`);
      }
      if (col.cpu === undefined) missing.push('cpu');
      if (missing.length > 0) {
        throw new InputError(sanitize(`CSV header lacks required column(s): ${missing.join('; ')} (columns: ${record.slice(0, 30).join(', ').slice(0, 300)})`), ctx.file, line);
      }
      // csv-parse takes the first record's length as the expected one (lib/api/index.js:
      // __onRecord, state.expectedRecordLength), and ours is a one-field `#@` line: every row
      // after it then built a CsvError (with its message and context) that relax_column_count
      // throws away, which was 56% of the import's time. The column row is the right length.
      const state = (parser as unknown as { state?: { expectedRecordLength?: number } }).state;
      if (state !== undefined && typeof state.expectedRecordLength === 'number') state.expectedRecordLength = record.length;
      return;
    }
    try {
      const ev = toEvent(record, col, line);
      if (ev !== undefined) ctx.push(ev);
    } catch (e) {
      if (e instanceof RowError) ctx.problem('malformed-line', line, e.message);
      else throw e;
    }
  };

  const get = (r: string[], c: Partial<Record<Field, number>>, f: Field): string | undefined => {
    const i = c[f];
    if (i === undefined) return undefined;
    const v = r[i]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const need = (r: string[], c: Partial<Record<Field, number>>, f: Field, kind: string): string => {
    const v = get(r, c, f);
    if (v === undefined) throw new RowError(`${kind} row without ${f}`);
    return v;
  };
  const int = (v: string | undefined, f: string, def?: number): number => {
    if (v === undefined) {
      if (def === undefined) throw new RowError(`missing ${f}`);
      return def;
    }
    if (!/^-?\d{1,15}$/.test(v)) throw new RowError(`${f} "${v.slice(0, 30)}" is not an integer`);
    return Number(v);
  };
  const nonNeg = (v: string | undefined, f: string, def?: number): number => {
    const n = int(v, f, def);
    if (n < 0 && v !== undefined) throw new RowError(`${f} ${n} is negative`);
    return n;
  };
  const ptr = (v: string, f: string): string => {
    const p = ctx.pointer(v);
    if (p === undefined) throw new RowError(`${f} "${v.slice(0, 30)}" is not a pointer`);
    return p;
  };

  /** Boot ns of the row, as the digits of a u64 (exact). */
  const bootText = (r: string[], c: Partial<Record<Field, number>>): string | undefined => {
    const ns = get(r, c, 'ts');
    if (ns !== undefined) return ns;
    const us = get(r, c, 'ts_us');
    if (us !== undefined) {
      if (!/^\d{1,17}$/.test(us)) throw new RowError(`ts_us "${us.slice(0, 30)}" is not an integer`);
      return us + '000';
    }
    const s = get(r, c, 'ts_s');
    if (s !== undefined) {
      const m = /^(\d{1,11})(?:\.(\d{1,9}))?$/.exec(s);
      if (!m) throw new RowError(`time "${s.slice(0, 30)}" is not seconds like 2386.077074170`);
      return m[1]! + (m[2] ?? '').padEnd(9, '0');
    }
    return undefined;
  };

  const toEvent = (r: string[], c: Partial<Record<Field, number>>, line: number): TraceEvent | undefined => {
    const kindText = need(r, c, 'kind', 'a');
    const kind = KINDS[kindText.toLowerCase()];
    if (kind === undefined) {
      ctx.problem('unknown-record', line, `unknown event kind "${kindText.slice(0, 40)}"; row skipped`);
      return undefined;
    }
    const bt = bootText(r, c);
    let ts: Ns | undefined;
    if (bt !== undefined) {
      const t = bt.replace(/^0+(?=\d)/, '');
      if (!bootNsPartsAt(t, 0, t.length, parts)) throw new RowError(`timestamp "${bt.slice(0, 30)}" is not a u64 of nanoseconds`);
      const tb = ctx.tb ?? ctx.timeBaseFrom(BigInt(t));
      ts = tb.fromSecParts(parts.sec, parts.sub) as Ns;
    }
    if (kind === 'lost_events') {
      const count = nonNeg(get(r, c, 'count'), 'count');
      ctx.lost(count, ts, line);
      return undefined;
    }
    if (ts === undefined) throw new RowError(`${kind} row without a timestamp`);
    const cpu = nonNeg(get(r, c, 'cpu'), 'cpu');
    if (!ctx.cpuAllowed(cpu, line)) return undefined;
    const str = (f: Field, def = ''): string => ctx.intern(get(r, c, f) ?? def);
    switch (kind) {
      case 'napi_poll': {
        const work = get(r, c, 'work_done') ?? get(r, c, 'work');
        return {
          kind,
          ts,
          cpu,
          napi: ptr(need(r, c, 'napi', kind), 'napi'),
          dev: ctx.intern(need(r, c, 'dev', kind)),
          work: nonNeg(work, 'work'),
          budget: nonNeg(get(r, c, 'budget'), 'budget'),
          pid: int(get(r, c, 'pid'), 'pid', -1),
          comm: str('comm'),
        };
      }
      case 'softirq_entry':
      case 'softirq_exit':
      case 'softirq_raise': {
        const vec = nonNeg(get(r, c, 'vec'), 'vec');
        if (vec >= 10) throw new RowError(`vec ${vec} is not a softirq (0..9)`);
        if (kind === 'softirq_entry') return { kind, ts, cpu, vec, pid: int(get(r, c, 'pid'), 'pid', -1), comm: str('comm') };
        return { kind, ts, cpu, vec };
      }
      case 'workqueue_queue_work':
        return {
          kind,
          ts,
          cpu,
          work: ptr(get(r, c, 'work_ptr') ?? need(r, c, 'work', kind), 'work'),
          function: ctx.intern(need(r, c, 'function', kind)),
          workqueue: ctx.intern(need(r, c, 'workqueue', kind)),
          reqCpu: int(get(r, c, 'req_cpu'), 'req_cpu', -1),
          targetCpu: int(get(r, c, 'target_cpu'), 'target_cpu', -1),
        };
      case 'workqueue_execute_start':
      case 'workqueue_execute_end':
        return { kind, ts, cpu, work: ptr(get(r, c, 'work_ptr') ?? need(r, c, 'work', kind), 'work'), function: str('function') };
      case 'sched_switch_out':
        return { kind, ts, cpu, pid: nonNeg(get(r, c, 'pid'), 'pid'), state: str('state'), comm: str('comm') };
      case 'sched_switch_in':
        return { kind, ts, cpu, pid: nonNeg(get(r, c, 'pid'), 'pid'), comm: str('comm') };
      case 'sched_migrate_task':
        return {
          kind,
          ts,
          cpu,
          pid: nonNeg(get(r, c, 'pid'), 'pid'),
          origCpu: nonNeg(get(r, c, 'orig_cpu'), 'orig_cpu'),
          destCpu: nonNeg(get(r, c, 'dest_cpu'), 'dest_cpu'),
          comm: str('comm'),
        };
      case 'window_napi':
        return {
          kind,
          ts,
          cpu,
          intervalNs: nonNeg(get(r, c, 'interval_ns'), 'interval_ns'),
          napi: ptr(need(r, c, 'napi', kind), 'napi'),
          dev: ctx.intern(need(r, c, 'dev', kind)),
          busyNs: nonNeg(get(r, c, 'busy_ns'), 'busy_ns', 0),
          polls: nonNeg(get(r, c, 'polls'), 'polls', 0),
          work: nonNeg(get(r, c, 'work_done') ?? get(r, c, 'work'), 'work', 0),
          fullBudgetPolls: nonNeg(get(r, c, 'full_budget_polls'), 'full_budget_polls', 0),
        };
      case 'window_cpu':
        return {
          kind,
          ts,
          cpu,
          intervalNs: nonNeg(get(r, c, 'interval_ns'), 'interval_ns'),
          netRxBusyNs: nonNeg(get(r, c, 'net_rx_busy_ns'), 'net_rx_busy_ns', 0),
          netRxCount: nonNeg(get(r, c, 'net_rx_count'), 'net_rx_count', 0),
          netTxBusyNs: nonNeg(get(r, c, 'net_tx_busy_ns'), 'net_tx_busy_ns', 0),
          netTxCount: nonNeg(get(r, c, 'net_tx_count'), 'net_tx_count', 0),
          cryptBusyNs: nonNeg(get(r, c, 'crypt_busy_ns'), 'crypt_busy_ns', 0),
          cryptCount: nonNeg(get(r, c, 'crypt_count'), 'crypt_count', 0),
          ksoftirqdNetRxCount: nonNeg(get(r, c, 'ksoftirqd_net_rx_count'), 'ksoftirqd_net_rx_count', 0),
        };
    }
    return undefined;
  };

  // Text and ASCII Buffers alike: csv-parse decodes its input as UTF-8 (an ASCII piece reads the same).
  const input = Readable.from(chunks, { objectMode: false });
  input.on('error', (e) => parser.destroy(e));
  input.pipe(parser);
  try {
    // Records are handled by on_record; nothing is pushed on, this waits for the end.
    for await (const rec of parser as AsyncIterable<unknown>) void rec;
  } catch (e) {
    input.destroy();
    if (e instanceof InputError) throw e;
    // csv-parse errors that skip_records_with_error does not cover.
    throw new InputError(sanitize(`CSV unreadable: ${(e as Error).message.slice(0, 200)}`), ctx.file, parser.info.lines);
  }
  if (col === undefined && ctx.lines > 0 && ctx.headerState.lines < ctx.lines) {
    ctx.note('warning', 'csv-no-columns', 'CSV has no column row');
  }
  return { ...ctx.finish(), ignoredLines: ignored };
}

/** A first non-`#` line that is a column row naming a kind and a timestamp column. */
export function sniffCsv(head: string): boolean {
  for (const line of head.split('\n', 50)) {
    if (line.startsWith('#') || line.trim() === '') continue;
    if (!line.includes(',')) return false;
    const fields = new Set(line.split(',').map((c) => FIELD_OF.get(normaliseColumn(c.replace(/^"|"$/g, '')))));
    return fields.has('kind') && (fields.has('ts') || fields.has('ts_us') || fields.has('ts_s')) && fields.has('cpu');
  }
  return false;
}

export const csvImporter: Importer = {
  name: 'csv',
  sniff: sniffCsv,
  import: importCsv,
};
