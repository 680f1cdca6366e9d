import { afterEach, describe, expect, it, vi } from 'vitest';
import { DiagnosticLog } from '../../src/base/diagnostics.js';
import type { Ns } from '../../src/base/time.js';
import { importBpftraceText } from '../../src/import/bpftrace-text.js';
import { LineSplitter } from '../../src/import/common.js';
import type { TraceEvent } from '../../src/model/events.js';
import { eventRecord, formatRecord, hasComm, RECORD_TAGS, RECORDS, recordFields, type RecordTag, type RecordValues } from '../../src/model/records.js';

/**
 * model/records.ts is the one statement of each record's fields and their order. The string
 * parser reads fields at the table's indices; the byte fast path (import/bpftrace-bytes.ts)
 * reads them in an order written by hand. Here every record is printed from the table
 * (formatRecord) with distinct values in each field, so a field read at the wrong place gives a
 * wrong event, and imported by both paths: as text (string path), and as ASCII Buffers after
 * the time base is set (byte path), which must take every record it handles without handing it
 * to the string path once its names are interned.
 */

const ORIGIN = 1_000_000_000_000n;
const T = (n: number): Ns => n as Ns;

/**
 * One record per tag (with its field values) and the event it stands for (ts relative to ORIGIN);
 * PS and XS stand for two: their NET_RX softirq's entry, then the poll.
 */
const CASES: { [K in RecordTag]: { v: RecordValues<K>; ev: TraceEvent | TraceEvent[] } } = {
  P: {
    v: { ts: ORIGIN + 10n, cpu: 1, napi: '0xffff888100001000', dev: 'wg0', work: 8, budget: 64, pid: 77, comm: 'napi/wg0-0' },
    ev: { kind: 'napi_poll', ts: T(10), cpu: 1, napi: '0xffff888100001000', dev: 'wg0', work: 8, budget: 64, pid: 77, comm: 'napi/wg0-0' },
  },
  PX: { v: { ts: ORIGIN + 11n, cpu: 2 }, ev: { kind: 'napi_poll_other', ts: T(11), cpu: 2 } },
  PS: {
    v: { ts: ORIGIN + 41n, cpu: 2, napi: '0xffff888100002000', dev: 'wg1', work: 9, budget: 63, pid: 78, entry: ORIGIN + 33n, comm: 'ksoftirqd/2' },
    ev: [
      { kind: 'softirq_entry', ts: T(33), cpu: 2, vec: 3, pid: 78, comm: 'ksoftirqd/2' },
      { kind: 'napi_poll', ts: T(41), cpu: 2, napi: '0xffff888100002000', dev: 'wg1', work: 9, budget: 63, pid: 78, comm: 'ksoftirqd/2' },
    ],
  },
  XS: {
    v: { ts: ORIGIN + 42n, cpu: 3, entry: ORIGIN + 34n, pid: 79, comm: 'iperf3' },
    ev: [
      { kind: 'softirq_entry', ts: T(34), cpu: 3, vec: 3, pid: 79, comm: 'iperf3' },
      { kind: 'napi_poll_other', ts: T(42), cpu: 3 },
    ],
  },
  SE: { v: { ts: ORIGIN + 12n, cpu: 1, vec: 3, pid: 14, comm: 'ksoftirqd/1' }, ev: { kind: 'softirq_entry', ts: T(12), cpu: 1, vec: 3, pid: 14, comm: 'ksoftirqd/1' } },
  SX: { v: { ts: ORIGIN + 13n, cpu: 1, vec: 2 }, ev: { kind: 'softirq_exit', ts: T(13), cpu: 1, vec: 2 } },
  SR: { v: { ts: ORIGIN + 14n, cpu: 3, vec: 3 }, ev: { kind: 'softirq_raise', ts: T(14), cpu: 3, vec: 3 } },
  WQ: {
    v: { ts: ORIGIN + 15n, cpu: 1, work: '0xffffe8ff00400040', function: 'wg_packet_decrypt_worker', workqueue: 'wg-crypt-wg0', reqCpu: 2, targetCpu: 3 },
    ev: { kind: 'workqueue_queue_work', ts: T(15), cpu: 1, work: '0xffffe8ff00400040', function: 'wg_packet_decrypt_worker', workqueue: 'wg-crypt-wg0', reqCpu: 2, targetCpu: 3 },
  },
  WS: {
    v: { ts: ORIGIN + 16n, cpu: 2, work: '0xffffe8ff00400040', function: 'wg_packet_decrypt_worker' },
    ev: { kind: 'workqueue_execute_start', ts: T(16), cpu: 2, work: '0xffffe8ff00400040', function: 'wg_packet_decrypt_worker' },
  },
  WE: {
    v: { ts: ORIGIN + 17n, cpu: 2, work: '0xffffe8ff00400040', function: 'wg_packet_decrypt_worker' },
    ev: { kind: 'workqueue_execute_end', ts: T(17), cpu: 2, work: '0xffffe8ff00400040', function: 'wg_packet_decrypt_worker' },
  },
  // prev_state as our script prints it (a number): TASK_INTERRUPTIBLE reads as "S".
  SO: { v: { ts: ORIGIN + 18n, cpu: 1, pid: 77, state: 1, comm: 'napi/wg0-0' }, ev: { kind: 'sched_switch_out', ts: T(18), cpu: 1, pid: 77, state: 'S', comm: 'napi/wg0-0' } },
  SI: { v: { ts: ORIGIN + 19n, cpu: 1, pid: 77, comm: 'napi/wg0-0' }, ev: { kind: 'sched_switch_in', ts: T(19), cpu: 1, pid: 77, comm: 'napi/wg0-0' } },
  MG: {
    v: { ts: ORIGIN + 20n, cpu: 2, pid: 77, origCpu: 1, destCpu: 3, comm: 'napi/wg0-0' },
    ev: { kind: 'sched_migrate_task', ts: T(20), cpu: 2, pid: 77, origCpu: 1, destCpu: 3, comm: 'napi/wg0-0' },
  },
  IP: { v: { ts: ORIGIN + 30n, cpu: 1, entered: ORIGIN + 25n, exited: ORIGIN + 21n }, ev: { kind: 'core_idle_period', ts: T(30), cpu: 1, start: T(25), entry: 'seen', prevEnd: T(21) } },
  IE: { v: { ts: ORIGIN + 31n, cpu: 3 }, ev: { kind: 'core_idle', ts: T(31), cpu: 3, idle: true } },
  IX: { v: { ts: ORIGIN + 32n, cpu: 3 }, ev: { kind: 'core_idle', ts: T(32), cpu: 3, idle: false } },
};

/** The records the byte fast path reads itself (the others always go to the string path). */
const BYTE_PATH: ReadonlySet<RecordTag> = new Set(['P', 'PS', 'SE', 'SX', 'SR', 'WQ', 'WS', 'WE', 'SO', 'SI', 'IE', 'IX']);

const line = <K extends RecordTag>(tag: K): string => formatRecord(tag, CASES[tag].v);
const eventsOf = (tag: RecordTag): TraceEvent[] => [CASES[tag].ev].flat();
/** Sets the time base (the string path's first record; no header: the origin is its ts). */
const FIRST = `SX ${ORIGIN} 0 3\n`;

let handedOver = 0;
afterEach(() => vi.restoreAllMocks());

async function importPieces(pieces: (string | Buffer)[]): Promise<TraceEvent[]> {
  const events: TraceEvent[] = [];
  await importBpftraceText(
    (async function* () {
      yield* pieces;
    })(),
    { file: 'r.txt', strict: true, diagnostics: new DiagnosticLog(), onEvents: (b) => events.push(...b) },
  );
  return events.slice(1); // FIRST
}

describe('model/records.ts', () => {
  it('every record starts with ts then cpu; the comm, where there is one, is last', () => {
    for (const tag of RECORD_TAGS) {
      const f = recordFields(tag) as Record<string, number>;
      expect([f['ts'], f['cpu']], tag).toEqual([0, 1]);
      expect(f['count'], tag).toBe(RECORDS[tag].fields.length - (hasComm(tag) ? 1 : 0));
      expect(RECORDS[tag].fields.indexOf('comm' as never), tag).toBe(hasComm(tag) ? RECORDS[tag].fields.length - 1 : -1);
    }
  });

  it("PS is P with the softirq's entry before the comm, XS is PX with entry, pid and comm (the parsers read them with P's and PX's indices)", () => {
    expect(RECORDS.PS.fields).toEqual([...RECORDS.P.fields.slice(0, -1), 'entry', 'comm']);
    expect(RECORDS.XS.fields).toEqual([...RECORDS.PX.fields, 'entry', 'pid', 'comm']);
  });

  it('prints the fields in the table order, one blank apart', () => {
    expect(line('P')).toBe('P 1000000000010 1 0xffff888100001000 wg0 8 64 77 napi/wg0-0');
    expect(line('WQ')).toBe('WQ 1000000000015 1 0xffffe8ff00400040 wg_packet_decrypt_worker wg-crypt-wg0 2 3');
    expect(line('IP')).toBe('IP 1000000000030 1 1000000000025 1000000000021');
  });

  it.each(RECORD_TAGS)('%s: the string path reads the event the record was printed from', async (tag) => {
    const events = await importPieces([FIRST + line(tag) + '\n']);
    expect(events).toEqual(eventsOf(tag));
  });

  it.each(RECORD_TAGS)('%s: the byte path reads the same event, and takes the record itself once its names are known', async (tag) => {
    const orig = LineSplitter.prototype.oneLine;
    let counting = false;
    vi.spyOn(LineSplitter.prototype, 'oneLine').mockImplementation(function (this: LineSplitter, s: string) {
      if (counting) handedOver++;
      orig.call(this, s);
    });
    handedOver = 0;
    const rec = Buffer.from(line(tag) + '\n', 'latin1');
    // The first copy interns the names (through the string path where they are new), the second is counted.
    const pieces: (string | Buffer)[] = [FIRST, rec];
    const events: TraceEvent[] = [];
    const counted = (async function* () {
      yield* pieces;
      counting = true;
      yield rec;
    })();
    await importBpftraceText(counted, { file: 'r.txt', strict: true, diagnostics: new DiagnosticLog(), onEvents: (b) => events.push(...b) });
    expect(events.slice(1)).toEqual([...eventsOf(tag), ...eventsOf(tag)]);
    expect(handedOver).toBe(BYTE_PATH.has(tag) ? 0 : 1);
  });

  it('eventRecord prints what the parser reads back, for every event a record carries', async () => {
    const idle: TraceEvent[] = [
      { kind: 'core_idle_period', ts: T(40), cpu: 0, entry: 'before-probes' },
      { kind: 'core_idle_period', ts: T(41), cpu: 0, start: T(35), entry: 'seen' },
      { kind: 'core_idle_period', ts: T(42), cpu: 0, entry: 'missed', prevEnd: T(36) },
    ];
    const evs = [...RECORD_TAGS.flatMap(eventsOf), ...idle];
    const text = FIRST + evs.map((e) => eventRecord(e, ORIGIN) + '\n').join('');
    expect(await importPieces([text])).toEqual(evs);
    expect(eventRecord({ kind: 'lost_events', count: 3 }, ORIGIN)).toBe('Lost 3 events');
    expect(() => eventRecord({ kind: 'core_idle_period', ts: T(1), cpu: 0, start: T(0), entry: 'open' }, ORIGIN)).toThrow(/no text record/);
  });
});
