import {
  ImportContext,
  LineSplitter,
  RecentName,
  byteLines,
  cpuBracketAt,
  cpuFieldAt,
  digitsBefore,
  newLineFields,
  readSecondsColon,
  secondsTextToNs,
  secondsToNs,
  blanksBefore,
  wordEnd,
} from './common.js';
import { TracepointPayloads } from './tracepoints.js';
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
 * tracepoints' print fmt (include/trace/events/*.h; this kernel's formats in docs/tracepoint-formats-6.18.txt).
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

export async function importPerfScript(chunks: AsyncIterable<string | Buffer>, opts: ImportOptions): Promise<ImportSummary> {
  const ctx = new ImportContext('perf-script', opts);
  const tp = new TracepointPayloads(ctx);
  let ignored = 0;
  let prose = 0;
  let seenLost = 0;
  let recordLost: { count: number; line: number } | undefined;

  const swapper: string[] = [];
  /** What the byte fast path reads of a line (task id, CPU, timestamp), reused line to line (one per import: no state shared across imports). */
  const lf = newLineFields();
  /** The comm of the last line the byte path took (a CPU's lines come in runs). */
  const recentComm = new RecentName();
  /**
   * The common line read from the bytes of an ASCII piece (index.ts), in one pass and without
   * a string: `comm pid[/tid] [cpu] sec.frac: sys:name: payload` with a comm of 1 to 15
   * characters (no '.', no control byte) and a payload tracepoints.ts reads in place. It takes
   * only lines the string path below reads the same way (each check names the regex it stands
   * for) and returns -1 for any other, which then goes to the string path whole.
   */
  const lineBytes = (u: Uint8Array, a: number): number => {
    let p = a;
    while (u[p] === 32) p++;
    const ca = p;
    const c0 = u[p]!;
    // '#': header lines; a blank line; `LOST N events!` (LOST, tested before EVENT_AT).
    if (c0 <= 32 || c0 === 35 || (c0 === 76 && u[p + 1] === 79 && u[p + 2] === 83 && u[p + 3] === 84 && u[p + 4] === 32)) return -1;
    // Up to the first '[', the `[cpu]` field. No '.' before it: then EVENT_AT's first match is
    // the timestamp after it (a `sec.frac:` needs a '.').
    const open = cpuBracketAt(u, p, 46 /* . */);
    if (open < 0) return -1;
    // PREFIX, from the right: blanks, the tid or pid (1 to 10 digits), `pid/` before a tid, a blank.
    let q = digitsBefore(u, blanksBefore(u, open - 1, ca), ca, lf);
    if (q < 0) return -1;
    // pid/tid: the tid is the task (pidText = tid ?? pid).
    const pid = lf.id;
    if (u[q - 1] === 47 /* / */) q = digitsBefore(u, q - 1, ca, lf);
    if (q <= ca || u[q - 1] !== 32) return -1;
    let cb = q - 1;
    while (cb > ca && u[cb - 1] === 32) cb--;
    // TASK_COMM_LEN - 1: at most 15 characters (PERF_RECORD_LOST, 16, cannot hide in one).
    if (cb - ca > 15) return -1;
    // [cpu], blanks (PREFIX: \[(\d{1,5})\]\s*$; EVENT_AT: a blank before the time).
    p = cpuFieldAt(u, open, lf);
    if (p < 0) return -1;
    const cpu = lf.cpu;
    p = readSecondsColon(u, p, lf);
    if (p < 0) return -1;
    // sys:name: then one blank (EVENT_AT: (\w+):(\w+):(?: |$)); the payload after it.
    const sa = p;
    p = wordEnd(u, p);
    if (p === sa || u[p] !== 58) return -1;
    p++;
    const na = p;
    p = wordEnd(u, p);
    if (p === na || u[p] !== 58 || u[p + 1] !== 32) return -1;
    const nb = p;
    p += 2;
    // perf names every CPU's idle task "swapper" (tools/perf/util/machine.c), the kernel's comm is "swapper/<cpu>".
    let comm: string | undefined;
    if (pid === 0 && cb - ca === 7 && u[ca] === 115 && u[ca + 1] === 119 && u[ca + 2] === 97 && u[ca + 3] === 112 && u[ca + 4] === 112 && u[ca + 5] === 101 && u[ca + 6] === 114) {
      comm = swapper[cpu] ??= ctx.intern(`swapper/${cpu}`);
    } else if ((comm = recentComm.intern(ctx, u, ca, cb)) === undefined) return -1;
    const ts = secondsToNs(ctx, lf.sec, lf.subNs);
    return tp.eventBytes(u, a, na, nb, p, ts, cpu, pid, comm, split);
  };

  const onLine = (s: string, a: number, b: number, line: number): void => {
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
    const ts = secondsTextToNs(ctx, m[1]!, m[2]!);
    tp.event(name, `${sys}:${name}`, payload, ts, cpu, pid, comm, line);
  };

  const split = new LineSplitter(ctx, onLine);
  for await (const chunk of chunks) {
    if (typeof chunk === 'string') split.push(chunk);
    else if (split.idle) byteLines(chunk, split, lineBytes);
    // ASCII, so Latin-1 is the same text as UTF-8.
    else split.push(chunk.toString('latin1'));
  }
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
  piecesInPlace: true,
};
