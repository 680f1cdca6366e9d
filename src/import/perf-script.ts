import type { Ns } from '../base/time.js';
import { ImportContext, LineSplitter } from './common.js';
import { FRAC_TO_NS, readSecondsColon, TracepointPayloads, type SecParts } from './tracepoints.js';
import type { Importer, ImportOptions, ImportSummary } from './types.js';

/**
 * `perf script` text (with `--ns`, or without: microsecond timestamps) for the tracepoints our
 * bpftrace scripts use. Real lines of this kernel (6.18, perf 6.1):
 *
 *      swapper     0 [000]   441.850855750:                 irq:softirq_entry: vec=3 [action=NET_RX]
 *  memfd:sealed-91  3133 [000]   441.895721325:                sched:sched_switch: prev_comm=... ==> next_comm=...
 *   kworker/1:0-eve    23 [001]   441.895963044: workqueue:workqueue_execute_start: work struct 0xffff888102595820: function virtio_transport_tx_work
 *
 * The comm comes first and may contain spaces and colons, so the line is anchored on the
 * timestamp and event name (`<sec>.<frac>: <sys>:<name>:`), and the CPU and pid are read from
 * the right of the prefix before it (`... <pid>[/<tid>] [<cpu>]`). Payloads follow the
 * tracepoints' print fmt (docs/tracepoint-formats-6.18.txt).
 */

/** `<sec>.<frac>: [period] <sys>:<name>:`, the anchor of a tracepoint line (perf's own field order: comm, pid/tid, cpu, time, period, event). */
const EVENT_AT = /(?:^|\s)(\d{1,12})\.(\d{1,9}):\s+(?:\d{1,20}\s+)?(\w+):(\w+):(?: |$)/;
/** What may come before the time (`perf script -F` selects fields, perf keeps their order): [comm] [pid[/tid]] [cpu]. */
const PREFIX = /^\s*(?:(.*?)\s+)??(?:(\d{1,10})(?:\/(\d{1,10}))?\s+)?\[(\d{1,5})\]\s*$/;
/**
 * `--show-lost-events` (tools/perf/builtin-script.c: process_lost_event, util/event.c:
 * perf_event__fprintf_lost): `PERF_RECORD_LOST lost N` (after the sample's prefix when
 * sample_id_all), `PERF_RECORD_LOST_SAMPLES lost N`; perf trace's `LOST N events!`.
 */
const LOST = /PERF_RECORD_LOST(?:_SAMPLES)?:?\s+(?:lost[:=\s]\s*)?(\d{1,15})|^\s*LOST (\d{1,15}) events!/;
/** Our wrapper's trailer: what perf record said it lost (docs/capture-format.md). */
const PERF_LOST_KEY = /^#@perf_lost (\d{1,15})\s*$/;


export async function importPerfScript(chunks: AsyncIterable<string>, opts: ImportOptions): Promise<ImportSummary> {
  const ctx = new ImportContext('perf-script', opts);
  const tp = new TracepointPayloads(ctx);
  let ignored = 0;
  let prose = 0;
  let seenLost = 0;
  let recordLost: { count: number; line: number } | undefined;

  const swapper: string[] = [];
  /**
   * The common line parsed in place (no regex, no slice): `comm pid[/tid] [cpu] sec.frac: sys:name: payload`.
   * False for anything else (lost records, -F layouts, prose), which the general path reads.
   */
  /** The fast path's timestamp, reused line to line (one per import: no state shared across imports). */
  const tsParts: SecParts = { sec: 0, subNs: 0 };
  const fastLine = (s: string, a: number, b: number, line: number): boolean => {
    let p = a;
    while (p < b && s.charCodeAt(p) === 32) p++;
    const ca = p;
    if (p >= b || s.charCodeAt(p) < 33) return false;
    // The ' [' within this line only (s is the whole read chunk).
    let open = p;
    while (open < b && !(s.charCodeAt(open) === 91 /* [ */ && s.charCodeAt(open - 1) === 32)) open++;
    if (open >= b) return false;
    let q = open - 1;
    while (q > ca && s.charCodeAt(q - 1) === 32) q--;
    const idEnd = q;
    let pid = 0;
    let mul = 1;
    while (q > ca) {
      const c = s.charCodeAt(q - 1);
      if (c === 47 /* / */) {
        // pid/tid: the tid is the task.
        q--;
        while (q > ca && s.charCodeAt(q - 1) >= 48 && s.charCodeAt(q - 1) <= 57) q--;
        break;
      }
      const d = c - 48;
      if (!(d >= 0 && d <= 9)) break;
      pid += d * mul;
      mul *= 10;
      q--;
    }
    if (q === idEnd || idEnd - q > 21 || q <= ca || s.charCodeAt(q - 1) !== 32) return false;
    let cb = q - 1;
    while (cb > ca && s.charCodeAt(cb - 1) === 32) cb--;
    p = open + 1;
    let cpu = 0;
    const cs = p;
    for (;;) {
      const d = s.charCodeAt(p) - 48;
      if (!(d >= 0 && d <= 9)) break; // NaN past the string ends it too
      cpu = cpu * 10 + d;
      p++;
    }
    if (p === cs || p - cs > 5 || s.charCodeAt(p) !== 93 /* ] */) return false;
    p++;
    while (s.charCodeAt(p) === 32) p++;
    p = readSecondsColon(s, p, tsParts);
    if (p < 0) return false;
    const sec = tsParts.sec;
    const sub = tsParts.subNs;
    while (s.charCodeAt(p) === 32) p++;
    // sys:name:
    const sa = p;
    let c = 0;
    for (;;) {
      c = s.charCodeAt(p);
      if (!((c >= 97 && c <= 122) || c === 95 || (c >= 48 && c <= 57))) break;
      p++;
    }
    if (p === sa || c !== 58) return false;
    const sb = p;
    p++;
    const na = p;
    for (;;) {
      c = s.charCodeAt(p);
      if (!((c >= 97 && c <= 122) || c === 95 || (c >= 48 && c <= 57))) break;
      p++;
    }
    if (p === na || c !== 58) return false;
    const nb = p;
    p++;
    if (p < b && s.charCodeAt(p) !== 32) return false;
    while (p < b && s.charCodeAt(p) === 32) p++;
    let pe = b;
    while (pe > p && s.charCodeAt(pe - 1) === 32) pe--;
    const tb = ctx.tb ?? ctx.timeBaseFrom(BigInt(sec) * 1_000_000_000n + BigInt(sub));
    const ts = tb.fromSecParts(sec, sub) as Ns;
    // perf names every CPU's idle task "swapper" (tools/perf/util/machine.c), the kernel's comm is "swapper/<cpu>".
    const comm = pid === 0 && cb - ca === 7 && s.startsWith('swapper', ca) ? (swapper[cpu] ??= ctx.intern(`swapper/${cpu}`)) : ctx.internAt(s, ca, cb);
    if (tp.fastEvent(s, na, nb, p, pe, ts, cpu, pid, comm, line)) return true;
    const name = s.slice(na, nb);
    tp.event(name, `${s.slice(sa, sb)}:${name}`, s.slice(p, pe), ts, cpu, pid, comm, line);
    return true;
  };

  const onLine = (s: string, a: number, b: number, line: number): void => {
    if (fastLine(s, a, b, line)) return;
    const text = s.slice(a, b);
    if (text.trim() === '') {
      ignored++;
      return;
    }
    if (text.startsWith('#')) {
      const pl = PERF_LOST_KEY.exec(text);
      if (pl) {
        recordLost = { count: Number(pl[1]), line };
        // Kept in the header's extra too (an informative key, model/capture-text.ts).
        ctx.headerLine(text, line);
        return;
      }
      if (!ctx.headerLine(text, line)) ignored++;
      return;
    }
    const lost = LOST.exec(text);
    if (lost) {
      const n = Number(lost[1] ?? lost[2]);
      seenLost += n;
      ctx.lost(n, undefined, line, `perf lost ${n} events here (its ring buffer overflowed); the analysis around this point is incomplete`);
      return;
    }
    const m = EVENT_AT.exec(text);
    if (!m) {
      // Prose or a shell prompt around pasted lines (no `[cpu]`, no `sec.frac:`): counted apart.
      if (!/\[\d{1,5}\]|\d\.\d{6,9}:/.test(text)) {
        prose++;
        return;
      }
      return ctx.problem('malformed-line', line, `not a perf script tracepoint line: "${text.slice(0, 80)}"`);
    }
    const pm = PREFIX.exec(text.slice(0, m.index));
    if (!pm) return ctx.problem('malformed-line', line, `perf script line without "[<cpu>]" before the time (perf script -F needs cpu): "${text.slice(0, 80)}"`);
    const sys = m[3]!;
    const name = m[4]!;
    const payload = text.slice(m.index + m[0].length);
    const pidText = pm[3] ?? pm[2];
    const pid = pidText === undefined ? -1 : Number(pidText);
    const cpu = Number(pm[4]);
    const rawComm = pm[1] ?? '';
    // perf names every CPU's idle task "swapper" (tools/perf/util/machine.c), the kernel and
    // bpftrace's comm say "swapper/<cpu>" (kernel/sched/core.c: init_idle): use the kernel's.
    const comm = pid === 0 && rawComm === 'swapper' ? ctx.intern(`swapper/${cpu}`) : ctx.intern(rawComm);

    // Timestamp: seconds and a fraction of 9 digits (--ns) or 6 (microseconds).
    const sec = Number(m[1]);
    const frac = m[2]!;
    const subNs = Number(frac) * FRAC_TO_NS[frac.length]!;
    const tb = ctx.tb ?? ctx.timeBaseFrom(BigInt(m[1]!) * 1_000_000_000n + BigInt(subNs));
    const ts = tb.fromSecParts(sec, subNs) as Ns;
    tp.event(name, `${sys}:${name}`, payload, ts, cpu, pid, comm, line);
  };

  const split = new LineSplitter(ctx, onLine);
  for await (const chunk of chunks) split.push(chunk);
  split.end();
  if (recordLost !== undefined && recordLost.count > seenLost) {
    // perf record counted more than perf script showed (no --show-lost-events, or lost samples
    // it does not print): where they were lost is unknown.
    const n = recordLost.count - seenLost;
    ctx.lost(n, undefined, recordLost.line, `perf record lost ${recordLost.count} events, ${seenLost} of them shown in the script; where the other ${n} were lost is unknown`);
  }
  tp.finish();
  if (prose > 0) ctx.note('info', 'prose-lines', `${prose} lines that are not perf script lines (text, prompts, commands around pasted lines) ignored`);
  return { ...ctx.finish(), ignoredLines: ignored + tp.ignored, proseLines: prose, unusedEventLines: tp.ignored };
}

/** `<comm> <pid> [<cpu>] <sec>.<frac>: <sys>:<name>:` on some line of the head. */
const PERF_SNIFF = /^(?:[^\n]*?\s)?(?:\d{1,10}(?:\/\d{1,10})?\s+)?\[\d{1,5}\]\s+\d{1,12}\.\d{6,9}:\s+(?:\d{1,20}\s+)?\w+:\w+:|^#@tracer perf\s*$/m;

export const perfScriptImporter: Importer = {
  name: 'perf-script',
  sniff: (head) => PERF_SNIFF.test(head),
  import: importPerfScript,
};
