import { isAscii } from 'node:buffer';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DiagnosticLog, InputError } from '../../src/base/diagnostics.js';
import { LineSplitter } from '../../src/import/common.js';
import { ftraceImporter, traceCmdImporter } from '../../src/import/ftrace-text.js';
import { sniffFormat } from '../../src/import/index.js';
import { perfScriptImporter } from '../../src/import/perf-script.js';
import type { TraceEvent } from '../../src/model/events.js';
import type { Importer } from '../../src/import/types.js';
import { dump } from './import-util.js';

/**
 * The ftrace text and perf script importers read an all-ASCII piece of the file from its bytes
 * (the byte fast path) and hand every line it does not take to the string path, which reads
 * text chunks alone. Both must give the same events, the same diagnostics (code, line,
 * message), the same summary and the same --strict error. Each input is imported as text
 * chunks (string path only) and as the pieces import/index.ts makes (cut after a '\n', ASCII
 * ones as Buffers), at several piece sizes so lines fall at both ends of pieces.
 *
 * The inputs: every fixture and golden capture of these formats, the bundled traces
 * (traces/*.txt.gz, events mode) written as ftrace text, trace-cmd report and perf script
 * lines, and lines made to sit just beside what the byte path takes.
 */
const ROOT = join(import.meta.dirname, '../..');
const IMPORTERS: Record<string, Importer> = { ftrace: ftraceImporter, 'trace-cmd': traceCmdImporter, 'perf-script': perfScriptImporter };

/** Text chunks of 4 KiB: the string path only. */
async function* asText(text: string): AsyncIterable<string> {
  for (let i = 0; i < text.length; i += 4096) yield text.slice(i, i + 4096);
}

/** The reader's pieces (import/index.ts: cut after a '\n', an ASCII piece passed as its bytes). */
async function* asPieces(text: string, piece: number): AsyncIterable<string | Buffer> {
  const buf = Buffer.from(text, 'utf8');
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.lastIndexOf(10, Math.min(buf.length - 1, pos + piece - 1));
    let end = nl >= pos ? nl + 1 : buf.indexOf(10, pos + piece) + 1;
    if (end <= 0) end = buf.length;
    const b = buf.subarray(pos, end);
    yield b[b.length - 1] === 10 && isAscii(b) ? b : b.toString('utf8');
    pos = end;
  }
}

async function importWith(importer: Importer, chunks: AsyncIterable<string | Buffer>, strict = false) {
  const events: TraceEvent[] = [];
  const diagnostics = new DiagnosticLog(100_000);
  const summary = await importer.import(chunks, { file: 'c.txt', strict, diagnostics, onEvents: (b) => events.push(...b) });
  return {
    events: dump(events),
    codes: diagnostics.items.map((d) => `${d.code}@${d.line ?? '-'} ${d.message}`),
    summary: { ...summary, origin: String(summary.origin) },
  };
}

/** Lines the byte path handed to the string path in the last import (LineSplitter.oneLine). */
let handedOver = 0;
afterEach(() => vi.restoreAllMocks());
function countHandOvers(): void {
  handedOver = 0;
  const orig = LineSplitter.prototype.oneLine;
  vi.spyOn(LineSplitter.prototype, 'oneLine').mockImplementation(function (this: LineSplitter, s: string) {
    handedOver++;
    orig.call(this, s);
  });
}

/** Both paths on `text`; returns the string path's result and the share of lines the byte path took. */
async function same(importer: Importer, text: string): Promise<{ events: string[]; codes: string[]; taken: number }> {
  const viaText = await importWith(importer, asText(text));
  let taken = 1;
  for (const piece of [97, 4096, 96 * 1024]) {
    countHandOvers();
    const viaBytes = await importWith(importer, asPieces(text, piece));
    vi.restoreAllMocks();
    expect(viaBytes).toEqual(viaText);
    taken = Math.min(taken, 1 - handedOver / viaText.summary.lines);
  }
  return { events: viaText.events, codes: viaText.codes, taken };
}

// ---------------------------------------------------------------- the bundled traces, as other tracers print them

interface Rec {
  tag: string;
  f: string[];
}

function records(path: string, max: number): { header: string[]; recs: Rec[] } {
  const header: string[] = [];
  const recs: Rec[] = [];
  for (const l of gunzipSync(readFileSync(path)).toString('utf8').split('\n')) {
    if (l.startsWith('#@')) {
      if (!l.startsWith('#@status') && !l.startsWith('#@end') && !l.startsWith('#@probes_stop') && !l.startsWith('#@stat')) header.push(l);
      continue;
    }
    const f = l.split(' ');
    if (recs.length < max && /^(P|SE|SX|SR|WQ|WS|WE|SO|SI|MG)$/.test(f[0]!)) recs.push({ tag: f[0]!, f: f.slice(1) });
  }
  return { header, recs };
}

const VEC = ['HI', 'TIMER', 'NET_TX', 'NET_RX', 'BLOCK', 'IRQ_POLL', 'TASKLET', 'SCHED', 'HRTIMER', 'RCU'];
const STATE: Record<string, string> = { '0': 'R', '1': 'S', '2': 'D', '128': 'I', '256': 'R+', '257': 'S+' };

/**
 * Our records as the kernel's tracepoints print them: `[comm, pid, event name, payload]` per
 * tracepoint hit (an SO and the SI after it on the same CPU are one sched_switch).
 */
function* hits(recs: Rec[]): Generator<[bigint, number, string, number, string, string]> {
  const out = new Map<string, Rec>();
  for (const { tag, f } of recs) {
    const ts = BigInt(f[0]!);
    const cpu = Number(f[1]);
    const p = (x: string) => x.replace(/^0x/, '');
    switch (tag) {
      case 'P':
        yield [ts, cpu, f.slice(7).join(' '), Number(f[6]), 'napi_poll', `napi poll on napi struct ${p(f[2]!)} for device ${f[3]} work ${f[4]} budget ${f[5]}`];
        break;
      case 'SE':
      case 'SX':
      case 'SR': {
        const name = tag === 'SE' ? 'softirq_entry' : tag === 'SX' ? 'softirq_exit' : 'softirq_raise';
        yield [ts, cpu, tag === 'SE' ? f.slice(4).join(' ') : `swapper/${cpu}`, tag === 'SE' ? Number(f[3]) : 0, name, `vec=${f[2]} [action=${VEC[Number(f[2])]}]`];
        break;
      }
      case 'WQ':
        yield [ts, cpu, `swapper/${cpu}`, 0, 'workqueue_queue_work', `work struct=${p(f[2]!)} function=${f[3]} workqueue=${f[4]} req_cpu=${f[5]} cpu=${f[6]}`];
        break;
      case 'WS':
      case 'WE':
        yield [ts, cpu, `kworker/${cpu}:1`, 100 + cpu, tag === 'WS' ? 'workqueue_execute_start' : 'workqueue_execute_end', `work struct ${p(f[2]!)}: function ${f[3]}`];
        break;
      case 'SO':
        out.set(f[1]!, { tag, f });
        break;
      case 'SI': {
        const o = out.get(f[1]!);
        out.delete(f[1]!);
        if (o === undefined) break;
        const st = STATE[o.f[3]!] ?? o.f[3]!;
        const prev = o.f.slice(4).join(' ');
        const next = f.slice(3).join(' ');
        yield [ts, cpu, prev, Number(o.f[2]), 'sched_switch', `prev_comm=${prev} prev_pid=${o.f[2]} prev_prio=120 prev_state=${st} ==> next_comm=${next} next_pid=${f[2]} next_prio=120`];
        break;
      }
      case 'MG':
        yield [ts, cpu, f.slice(5).join(' '), Number(f[2]), 'sched_migrate_task', `comm=${f.slice(5).join(' ')} pid=${f[2]} prio=120 orig_cpu=${f[3]} dest_cpu=${f[4]}`];
        break;
    }
  }
}

const secs = (ns: bigint, digits: number) =>
  `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n)
    .padStart(9, '0')
    .slice(0, digits)}`;

function asFtrace(header: string[], recs: Rec[], flavour: 'ftrace' | 'trace-cmd'): string {
  const lines = flavour === 'ftrace' ? [...header, '#@tracer ftrace'] : ['version = 6', 'cpus=64'];
  for (const [ts, cpu, comm, pid, name, payload] of hits(recs)) {
    const task = `${pid === 0 ? '<idle>' : comm === '' ? '<...>' : comm.slice(0, 15)}-${pid}`;
    const flags = flavour === 'ftrace' ? ` ${name.startsWith('work') ? '.....' : '..s1.'}` : '';
    lines.push(`${task.padStart(22)} [${String(cpu).padStart(3, '0')}]${flags} ${secs(ts, 6).padStart(12)}: ${flavour === 'trace-cmd' ? `${name}:`.padEnd(22) : `${name}:`} ${payload}`);
  }
  return lines.join('\n') + '\n';
}

function asPerf(header: string[], recs: Rec[]): string {
  const lines = [...header, '#@tracer perf'];
  const sys = (n: string) => (n.startsWith('napi') ? 'napi' : n.startsWith('softirq') ? 'irq' : n.startsWith('work') ? 'workqueue' : 'sched');
  let k = 0;
  for (const [ts, cpu, comm, pid, name, payload] of hits(recs)) {
    // perf prints `pid/tid` with -F tid,pid; mixed in now and then.
    const id = ++k % 7 === 0 ? `${pid}/${pid}` : String(pid);
    lines.push(`${(pid === 0 ? 'swapper' : comm.slice(0, 15)).padStart(16)} ${id.padStart(6)} [${String(cpu).padStart(3, '0')}] ${secs(ts, 9)}: ${`${sys(name)}:${name}:`.padStart(34)} ${payload}`);
  }
  return lines.join('\n') + '\n';
}

describe('byte fast path and string path read the same', () => {
  const files: [string, Importer][] = [];
  for (const dir of ['test/fixtures/formats', 'test/fixtures/bad']) {
    for (const f of readdirSync(join(ROOT, dir)).sort()) {
      // By name (some real snippets are not sniffed: their test passes --format), else sniffed.
      const named = /perf/.test(f) ? 'perf-script' : f.startsWith('trace-cmd') ? 'trace-cmd' : f.startsWith('ftrace') ? 'ftrace' : undefined;
      const format = named ?? sniffFormat(readFileSync(join(ROOT, dir, f), 'latin1').slice(0, 64 * 1024));
      if (format !== undefined && format in IMPORTERS) files.push([join(dir, f), IMPORTERS[format]!]);
    }
  }
  files.push(['test/golden/cases/ftrace-two-tunnels-one-core/capture.ftrace.txt', ftraceImporter]);
  files.push(['test/golden/cases/trace-cmd-threaded-after/capture.trace-cmd.txt', traceCmdImporter]);

  it('finds the fixtures of these formats', () => {
    // 9 ftrace, 1 trace-cmd and 6 perf script fixtures (2 of them bad), and the 2 golden captures.
    expect(files.length).toBeGreaterThanOrEqual(18);
    expect(files.filter(([, i]) => i === perfScriptImporter).length).toBeGreaterThanOrEqual(6);
  });

  for (const [name, importer] of files) {
    it(name, async () => {
      const r = await same(importer, readFileSync(join(ROOT, name), 'utf8'));
      expect(r.events.length + r.codes.length).toBeGreaterThan(0);
    });
  }

  const traces = readdirSync(join(ROOT, 'traces')).filter((f) => /^(events|synthetic)-.*\.txt\.gz$/.test(f));
  it('finds the bundled events-mode traces', () => expect(traces.length).toBeGreaterThanOrEqual(4));
  for (const t of traces) {
    it(`${t} as ftrace text, trace-cmd report and perf script`, async () => {
      const { header, recs } = records(join(ROOT, 'traces', t), 12_000);
      for (const [importer, text] of [
        [ftraceImporter, asFtrace(header, recs, 'ftrace')],
        [traceCmdImporter, asFtrace(header, recs, 'trace-cmd')],
        [perfScriptImporter, asPerf(header, recs)],
      ] as const) {
        const r = await same(importer, text);
        expect(r.events.length).toBeGreaterThan(10_000);
        // The byte path did the work: nearly every line taken (the header lines are not).
        expect(r.taken).toBeGreaterThan(0.95);
      }
    });
  }
});

// ---------------------------------------------------------------- lines beside what the byte path takes

const F_HEAD = ['#@wgtrace-capture 1', '#@cpus 0-3', '#@mode events', '#@start_boot_ns 2386077000000', '#@tracer ftrace'];
const F_NORMAL = [
  '          <idle>-0       [001] ..s1.  2386.077050: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [001] d.s2.  2386.077051: workqueue_queue_work: work struct=ffff888612340000 function=wg_packet_decrypt_worker workqueue=wg-crypt-wg0 req_cpu=1 cpu=1',
  '          <idle>-0       [001] ..s1.  2386.077055: napi_poll: napi poll on napi struct ffff888627c2e000 for device wg1 work 48 budget 64',
  '          <idle>-0       [001] ..s1.  2386.077056: softirq_exit: vec=3 [action=NET_RX]',
  '     kworker/1:1-101     [001] .....  2386.077060: workqueue_execute_start: work struct ffff888612340000: function wg_packet_decrypt_worker',
  '     kworker/1:1-101     [001] .....  2386.077085: workqueue_execute_end: work struct ffff888612340000: function wg_packet_decrypt_worker',
  '          <idle>-0       [001] d..2.  2386.077150: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=napi/wg5-0 next_pid=900 next_prio=120',
  '      napi/wg5-0-900     [001] d..2.  2386.077160: sched_switch: prev_comm=napi/wg5-0 prev_pid=900 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120',
  '          <idle>-0       [002] d.h1.  2386.077170: softirq_raise: vec=2 [action=NET_TX]',
  '          <idle>-0       [002] ..s1.  2386.077171: softirq_entry: vec=1 [action=TIMER]',
  '           <...>-77      [002] ..s1.  2386.077172: napi_poll: napi poll on napi struct 06e44eda for device eth0 work 0 budget 64',
  'ksoftirqd/2-20 [002] ..s.  2386.077173: softirq_entry: vec=3 [action=NET_RX]',
  '          iperf3-5012    [003] 2386.077174: napi_poll: napi poll on napi struct 0xffff888627c2f000 for device wg2 work 64 budget 64   ',
];
const F_EDGE = [
  '         swapper-0       [001] ..s1.  2386.077250: softirq_entry: vec=3 [action=NET_RX]',
  '         swapper-7       [001] ..s1.  2386.077250: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [001] ..s1.  2386.077250: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-8       [001] ..s1.  2386.077250: softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1-0       [001] ..s1.  2386.077251: softirq_entry: vec=3 [action=NET_RX]',
  '     kworker/1:1 -101    [001] .....  2386.077252: workqueue_execute_start: work struct ffff888612340000: function wg_packet_decrypt_worker',
  'kworker/u16:1-event-101  [001] .....  2386.077253: workqueue_execute_start: work struct ffff888612340000: function wg_packet_decrypt_worker',
  '     Web Content-4242    [001] ..s1.  2386.077254: softirq_entry: vec=3 [action=NET_RX]',
  '   Web Content 2-4243    [001] ..s1.  2386.077254: softirq_entry: vec=3 [action=NET_RX]',
  '     a[1]-4244    [001] ..s1.  2386.077254: softirq_entry: vec=3 [action=NET_RX]',
  '     a [1] b-4245    [001] ..s1.  2386.077254: softirq_entry: vec=3 [action=NET_RX]',
  '\t<idle>-0       [001] ..s1.  2386.077255: softirq_entry: vec=3 [action=NET_RX]',
  '  > <idle>-0       [001] ..s1.  2386.077256: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [001] ..s1.  2386.077257: softirq_entry: vec=3 [action=NET_RX]\r',
  '          <idle>-0       [001] ..s1.  2386.077258: softirq_entry: vec=3 [action=NET_RX] extra',
  '          <idle>-0       [001] ..s1.  2386.077259: softirq_entry: vec=3',
  '          <idle>-0       [001] ..s1.  2386.077259: softirq_entry: vec=3  ',
  '          <idle>-0       [001] ..s1.  2386.077260: softirq_entry: vec=3\t[action=NET_RX]',
  '          <idle>-0       [001] ..s1.  2386.077261: softirq_entry: vec=1234 [action=NET_RX]',
  '          <idle>-0       [001] ..s1.  2386.077262: softirq_entry:  vec=3 [action=NET_RX]',
  '          <idle>-0       [001] ..s1.  2386.077263: Softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [001] ..s1.  2386.0772630001: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [001] ..:1.  2386.077264: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [001] ..s1.1.  2386.077265: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [001] 1.s1.  2386.077266: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [001]..s1.  2386.077267: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [0001234] ..s1.  2386.077268: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [009] ..s1.  2386.077269: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0 (    0) [001] ..s1.  2386.077270: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-12345678901 [001] ..s1.  2386.077271: softirq_entry: vec=3 [action=NET_RX]',
  '          <idle>-0       [001] ..s1.  2386.077272: napi_poll: napi poll on napi struct FFFF888627C2E000 for device wg1 work 48 budget 64',
  '          <idle>-0       [001] ..s1.  2386.077273: napi_poll: napi poll on napi struct 0xffff888627c2e0001 for device wg1 work 48 budget 64',
  '          <idle>-0       [001] ..s1.  2386.077274: napi_poll: napi poll on napi struct 0x for device wg1 work 48 budget 64',
  '          <idle>-0       [001] ..s1.  2386.077275: napi_poll: napi poll on napi struct ffff888627c2e00g for device wg1 work 48 budget 64',
  '          <idle>-0       [001] ..s1.  2386.077276: napi_poll: napi poll on napi struct ffff888627c2e000 for device wg1 work -1 budget 64',
  '          <idle>-0       [001] ..s1.  2386.077277: napi_poll: napi poll on napi struct ffff888627c2e000 for device wg1',
  '          <idle>-0       [001] ..s1.  2386.077278: napi_poll: napi poll on napi struct ffff888627c2e000 for device averyveryverylongdev work 48 budget 64',
  '          <idle>-0       [001] ..s1.  2386.077279: napi_poll: napi poll on napi struct ffff888627c2e000 for device wg1 work 48 budget 64 more',
  '          <idle>-0       [001] ..s1.  2386.077280: napi_poll: napi poll on napi struct ffff888627c2e000 for device wg1 work 12345678901 budget 64',
  '     kworker/1:1-101     [001] .....  2386.077281: workqueue_execute_start: work struct ffff888612340000: function wg_packet_decrypt_worker [wireguard]',
  '     kworker/1:1-101     [001] .....  2386.077282: workqueue_execute_end: work struct ffff888612340000',
  '     kworker/1:1-101     [001] .....  2386.077283: workqueue_execute_end: work struct ffff888612340000: function ',
  '          <idle>-0       [001] d.s2.  2386.077284: workqueue_queue_work: work struct=ffff888612340000 function=wg_packet_decrypt_worker [wireguard] workqueue=wg-crypt-wg0 req_cpu=1 cpu=1',
  '          <idle>-0       [001] d.s2.  2386.077285: workqueue_queue_work: work struct=ffff888612340000 function=wg_packet_decrypt_worker workqueue=wg-crypt-wg0 req_cpu=-1 cpu=1',
  '          <idle>-0       [001] d.s2.  2386.077286: workqueue_queue_work: work struct=ffff888612340000 function=wg_packet_decrypt_worker workqueue=ffff888612000000 req_cpu=8192 cpu=1',
  '          <idle>-0       [001] d..2.  2386.077287: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=Web Content next_pid=900 next_prio=120',
  '          <idle>-0       [001] d..2.  2386.077288: sched_switch: swapper/1:0 [120] R ==> napi/wg5-0:900 [120]',
  '          <idle>-0       [001] d..2.  2386.077289: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=-1 prev_state=R+ ==> next_comm=napi/wg5-0 next_pid=900 next_prio=-100',
  '          <idle>-0       [001] d..2.  2386.077290: sched_switch: prev_comm= prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=napi/wg5-0 next_pid=900 next_prio=120',
  '          <idle>-0       [001] d..2.  2386.077291: sched_switch: prev_comm=averyveryverylongcomm prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=x next_pid=900 next_prio=120',
  '          <idle>-0       [001] d..2.  2386.077292: sched_migrate_task: comm=napi/wg5-0 pid=900 prio=120 orig_cpu=1 dest_cpu=2',
  '          <idle>-0       [001] d.h1.  2386.077293: irq_handler_entry: irq=24 name=virtio0-input.0',
  '          <idle>-0       [001] d.h1.  2386.077294: napi_schedule_prep <-tg3_msi_1shot',
  'CPU:1 [LOST 12 EVENTS]',
  '',
  '   ',
  'some prose around pasted lines',
];

const P_HEAD = ['#@wgtrace-capture 1', '#@cpus 0-3', '#@mode events', '#@start_boot_ns 2386077000000', '#@tracer perf'];
const P_NORMAL = [
  '       swapper/1      0 [001] 2386.077050028:                  irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077050699: workqueue:workqueue_queue_work: work struct=0xffff888612340000 function=wg_packet_decrypt_worker workqueue=wg-crypt-wg0 req_cpu=1 cpu=1',
  '       swapper/1      0 [001] 2386.077055220:                     napi:napi_poll: napi poll on napi struct 0xffff888627c2e000 for device wg1 work 48 budget 64',
  '       swapper/1      0 [001] 2386.077055720:                   irq:softirq_exit: vec=3 [action=NET_RX]',
  '     kworker/1:1    101 [001] 2386.077060188: workqueue:workqueue_execute_start: work struct 0xffff888612340000: function wg_packet_decrypt_worker',
  '     kworker/1:1    101 [001] 2386.077085860: workqueue:workqueue_execute_end: work struct 0xffff888612340000: function wg_packet_decrypt_worker',
  '         swapper     0 [001] 2386.077150367:                 sched:sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=napi/wg5-0 next_pid=900 next_prio=120',
  '      napi/wg5-0    900/900 [001] 2386.077160367:                 sched:sched_switch: prev_comm=napi/wg5-0 prev_pid=900 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120',
  'iperf3 5012/5013 [002] 2386.077170: irq:softirq_raise: vec=3 [action=NET_RX]',
  '     Web Content   4242 [002] 2386.077171000: irq:softirq_entry: vec=3 [action=NET_RX]',
];
const P_EDGE = [
  // The idle task's comm right before the same comm of another pid (the comm caches).
  '         swapper     0 [001] 2386.077249000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '         swapper   123 [001] 2386.077250000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '        gmain.0   4300 [001] 2386.077251000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '  LOST 3 events! 1 [001] 2386.077252000: irq:softirq_entry: vec=3 [action=NET_RX]',
  'PERF_RECORD_LOST 4 [001] 2386.077253000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077254000: irq:softirq_entry: vec=3 [action=PERF_RECORD_LOST 5]',
  '       swapper/1 [001] 2386.077255000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '      0 [001] 2386.077256000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      /0 [001] 2386.077257000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      a12/34 [001] 2386.077258000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077259000:  irq:softirq_entry:  vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077260000: 12345 irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077261000: irq:softirq_entry:vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077262000: irq:softirq_entry: vec=3 [action=NET_RX]\r',
  '       swapper/1      0 [001]2386.077263000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077264: irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.0772650001: irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077266000: IRQ:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077267000: napi:napi_poll: napi poll on napi struct 0xFFFF888627C2E000 for device wg1 work 48 budget 64',
  '       swapper/1      0 [001] 2386.077268000: napi:napi_poll: napi poll on napi struct -131365202636408 for device wg1 work 48 budget 64',
  '       swapper/1      0 [001] 2386.077269000: sched:sched_switch: swapper/1:0 [120] R ==> napi/wg5-0:900 [120]',
  '       swapper/1      0 [001] 2386.077270000: sched:sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=Web Content next_pid=900 next_prio=120',
  '       swapper/1      0 [007] 2386.077271000: irq:softirq_entry: vec=3 [action=NET_RX]',
  '       swapper/1      0 [001] 2386.077272000: irq:irq_handler_entry: irq=24 name=virtio0-input.0',
  'PERF_RECORD_LOST lost 7',
  '       swapper/1      0 [001] 2386.077273000: PERF_RECORD_LOST lost 8',
  '',
  'perf script -F comm,pid,cpu,time,event,trace',
];

function capture(head: string[], normal: string[], edge: string[], repeat: number): string {
  const lines = [...head];
  // The normal lines first (their names enter the intern tables on the string path), then
  // mixed with the edge lines, again and again.
  for (let i = 0; i < repeat; i++) lines.push(...normal, ...edge, ...normal);
  return lines.join('\n') + '\n';
}

describe('byte fast path beside its edge', () => {
  it('ftrace: lines it must leave to the string path, or read to the same result', async () => {
    const r = await same(ftraceImporter, capture(F_HEAD, F_NORMAL, F_EDGE, 3));
    // The cases happened: skipped lines, comms with spaces, the idle task's names, losses.
    expect(r.codes.filter((c) => c.startsWith('malformed-line')).length).toBeGreaterThan(20);
    expect(r.events.some((e) => e.includes('comm=Web Content'))).toBe(true);
    expect(r.events.filter((e) => e.startsWith('softirq_entry') && e.includes('comm=swapper/1')).length).toBeGreaterThan(6);
    expect(r.events.some((e) => e.startsWith('napi_poll') && e.includes('napi=0x0000000006e44eda'))).toBe(true);
    expect(r.codes.some((c) => c.startsWith('lost-events'))).toBe(true);
  });

  it('perf script: lines it must leave to the string path, or read to the same result', async () => {
    const r = await same(perfScriptImporter, capture(P_HEAD, P_NORMAL, P_EDGE, 3));
    expect(r.codes.filter((c) => c.startsWith('malformed-line')).length).toBeGreaterThan(10);
    // LOST N events!, PERF_RECORD_LOST anywhere in the line (even where a payload would be): 5 per round.
    expect(r.codes.filter((c) => c.startsWith('lost-events@')).length).toBe(15);
    expect(r.events.some((e) => e.startsWith('softirq_raise') && e.includes('cpu=2'))).toBe(true);
    expect(r.events.some((e) => e.startsWith('softirq_entry') && e.includes('pid=4242 comm=Web Content'))).toBe(true);
  });

  it('keeps each line its own comm when more tasks cycle on a CPU than RecentName keeps', async () => {
    // Six tasks of one length that differ in their last byte, then in their first, each line's
    // comm and a sched_switch's prev and next comm all cycling: every kept name is evicted and
    // comes back (common.ts: RecentName keeps four).
    const tasks = ['kworker/1:1', 'kworker/1:2', 'kworker/1:3', 'kworker/1:4', 'kworker/1:5', 'jworker/1:5'];
    const f: string[] = [];
    const p: string[] = [];
    for (let i = 0; i < 60; i++) {
      const a = tasks[i % 6]!;
      const b = tasks[(i * 5 + 1) % 6]!;
      const us = String(77050 + i).padStart(6, '0');
      f.push(
        `${`${a}-${101 + (i % 6)}`.padStart(22)} [001] d..2.  2386.${us}: sched_switch: prev_comm=${a} prev_pid=${101 + (i % 6)} prev_prio=120 prev_state=S ==> next_comm=${b} next_pid=7 next_prio=120`,
      );
      p.push(
        `${a.padStart(16)} ${String(101 + (i % 6)).padStart(6)} [001] 2386.${us}000:                 sched:sched_switch: prev_comm=${a} prev_pid=${101 + (i % 6)} prev_prio=120 prev_state=S ==> next_comm=${b} next_pid=7 next_prio=120`,
      );
    }
    for (const [importer, text] of [
      [ftraceImporter, capture(F_HEAD, f, [], 2)],
      [perfScriptImporter, capture(P_HEAD, p, [], 2)],
    ] as const) {
      const r = await same(importer, text);
      // The byte path read every event line (else this would test the string path only); the
      // five header lines are the string path's.
      expect(r.taken).toBeCloseTo(240 / 245, 9);
      const outs = r.events.filter((e) => e.startsWith('sched_switch_out'));
      const ins = r.events.filter((e) => e.startsWith('sched_switch_in'));
      expect(outs.length).toBe(240);
      for (let i = 0; i < 240; i++) {
        const k = i % 60;
        expect(outs[i]).toContain(`comm=${tasks[k % 6]!}`);
        expect(ins[i]).toContain(`comm=${tasks[(k * 5 + 1) % 6]!}`);
      }
    }
  });

  it('stops on the same line for timestamps that are not time', async () => {
    // A counter clock (no fraction) and 13 digits of seconds: the string path's errors.
    for (const bad of [
      '          <idle>-0       [001] ..s1.  2386077263: softirq_entry: vec=3 [action=NET_RX]',
      '          <idle>-0       [001] ..s1.  1234567890123.1: softirq_entry: vec=3 [action=NET_RX]',
    ]) {
      const text = capture(F_HEAD, F_NORMAL, [bad], 2);
      const msg = async (chunks: AsyncIterable<string | Buffer>) =>
        importWith(ftraceImporter, chunks).then(
          () => 'no error',
          (e: InputError) => `${e.line} ${e.message}`,
        );
      const a = await msg(asText(text));
      expect(a).toMatch(/^19 timestamp/);
      expect(await msg(asPieces(text, 1000))).toBe(a);
    }
  });

  it('fails on the same line under --strict', async () => {
    for (const [importer, text] of [
      [ftraceImporter, capture(F_HEAD, F_NORMAL, F_EDGE, 2)],
      [perfScriptImporter, capture(P_HEAD, P_NORMAL, P_EDGE, 2)],
    ] as const) {
      const err = async (chunks: AsyncIterable<string | Buffer>) => {
        try {
          await importWith(importer, chunks, true);
        } catch (e) {
          expect(e).toBeInstanceOf(InputError);
          return (e as InputError).message;
        }
        return 'no error';
      };
      const a = await err(asText(text));
      expect(a).not.toBe('no error');
      for (const piece of [100, 4096]) expect(await err(asPieces(text, piece))).toBe(a);
    }
  });
});
