import { InputError } from '../base/diagnostics.js';
import type { Ns } from '../base/time.js';
import {
  ImportContext,
  LineSplitter,
  RecentName,
  blanksBefore,
  byteLines,
  cpuBracketAt,
  cpuFieldAt,
  digitsBefore,
  newLineFields,
  readSecondsColon,
  secondsTextToNs,
  secondsToNs,
  wordEnd,
} from './common.js';
import { TracepointPayloads } from './tracepoints.js';
import type { FormatName, Importer, ImportOptions, ImportSummary } from './types.js';

/**
 * ftrace's text output (`/sys/kernel/tracing/trace`, `trace_pipe`) and `trace-cmd report`,
 * which prints the same line layout from a trace.dat: one reader for both, because the lines
 * are the same and only the header lines around them differ (a separate importer would be a
 * copy of this one). The layout is kernel/trace/trace_output.c: trace_print_context():
 *
 *           <idle>-0       [003] ..s1.  1234.567890: napi_poll: napi poll on napi struct ...
 *   "%16s-%-7d " comm, pid; "(%7d) " tgid with options/record-tgid; "[%03d] " cpu; the
 *   irq-info flags (trace_print_lat_fmt: 4 characters on old kernels, 5 with migrate-disable,
 *   more on PREEMPT_RT, absent with options/irq-info off); trace_print_time(): " %5lu.%06lu"
 *   for clocks in ns, " %12llu" for counter clocks; ": "; the event's name and payload.
 *
 * The latency format (options/latency-format, trace_print_lat_context) prints
 * "%8.8s-%-7d %3d" comm, pid, cpu, the flags without a space, then " %4lldus%c: " (microseconds
 * since the buffer was reset, kernel/trace/trace_output.c: lat_print_timestamp).
 *
 * `trace-cmd report` adds `version = N`, `CPU N is empty`, `cpus=N` before the events, pads
 * event names (`softirq_entry:        vec=3`), has no flags column by default and prints
 * sched_switch through libtraceevent's plugin (`a:1 [120] S ==> b:2 [120]`, tracepoints.ts).
 *
 * Our capture wrapper (docs/capture-format.md, "Captures made without bpftrace") frames
 * trace_pipe text with `#@` header and trailer lines, read as every importer reads them; its
 * timestamps are CLOCK_MONOTONIC (trace_clock mono), the clock of `#@start_boot_ns`.
 */

/** `CPU:N [LOST M EVENTS]` (kernel/trace/trace.c: print_trace_line), `[LOST EVENTS]` when unknown; trace-cmd's `[M EVENTS DROPPED]`. */
const LOST_LINE = /^CPU:(\d{1,5}) \[(?:LOST (\d{1,15}) EVENTS|LOST EVENTS|(\d{1,15}) EVENTS DROPPED|EVENTS DROPPED)\]\s*$/;
/** kernel/trace/trace.c: print_event_info(): `# entries-in-buffer/entries-written: %lu/%lu   #P:%d`. */
const ENTRIES = /^#\s*entries-in-buffer\/entries-written:\s*(\d{1,15})\/(\d{1,15})\s+#P:(\d{1,5})/;
/** After the `[cpu]`: the flags (4-7 characters, or none), the timestamp, the event. */
const AFTER_CPU = /^\s+(?:([^\s:]{4,7})\s+)?(\d{1,20})(?:\.(\d{1,9}))?:(?:\s+|$)/;
/** The latency format: "comm-pid cpu<flags> <us>us<mark>: " (or trace-cmd report -l: seconds). */
const LATENCY = /^\s*(.*)-(\d{1,10})\s+(\d{1,5})([^\s\d][^\s:]{3,6})\s+(?:(\d{1,15})us[ !#$@*+]?|(\d{1,12})\.(\d{1,9})):(?:\s+|$)/;
/** `comm-pid`, pid last; a comm may contain dashes and spaces. */
const TASK = /^(.*)-(\d{1,10})$/;
/** options/record-tgid: `(  1977)` or `(-------)` between the pid and the CPU. */
const TGID = /\s*\(\s*(?:\d{1,10}|-+)\)$/;
/** The event's name and its payload. */
const EVENT = /^(\w+):\s*/;
/** `#@ftrace_cpu <cpu> entries=N overrun=N commit_overrun=N dropped_events=N read_events=N` (our wrapper's trailer). */
const FTRACE_CPU = /^#@ftrace_cpu (\d{1,5})((?: \w+=\d{1,15})*)\s*$/;
/** A line that has a CPU field and a timestamp: a trace line, even when it does not parse. */
const TRACE_LIKE = /\[\d{1,5}\]\s.*\d:\s|^\s*\S+-\d+\s+\d+\S{4,7}\s+\d+(?:us|\.\d+)|^\s*\S+-\d+\s+\d+\.\d+:\s+\w+/;
/** TASK_COMM_LEN - 1: a comm is at most 15 characters; more before the pid is pasted prose. */
const MAX_COMM = 15;

/** `<idle>` at u[a..]. */
function hasIdle(u: Uint8Array, a: number): boolean {
  return u[a] === 60 && u[a + 1] === 105 && u[a + 2] === 100 && u[a + 3] === 108 && u[a + 4] === 101 && u[a + 5] === 62;
}
/** `swapper` at u[a..]. */
function hasSwapper(u: Uint8Array, a: number): boolean {
  return u[a] === 115 && u[a + 1] === 119 && u[a + 2] === 97 && u[a + 3] === 112 && u[a + 4] === 112 && u[a + 5] === 101 && u[a + 6] === 114;
}

/** The comm as printed ("%16s", right-aligned), without text pasted before it (`Line 1622:`, a shell prompt). */
function commOf(left: string): string {
  const c = left.trim();
  if (c.length <= MAX_COMM) return c;
  // The comm is the last 15 characters at most; cut at the last run of blanks inside them,
  // else at the last blank (comms may have single spaces: "Web Content").
  const tail = c.slice(-MAX_COMM - 1);
  const run = tail.search(/\s{2,}\S*$/);
  if (run >= 0) return tail.slice(run).trim();
  const sp = tail.lastIndexOf(' ');
  return sp >= 0 ? tail.slice(sp + 1) : c.slice(-MAX_COMM);
}

export async function importFtraceText(chunks: AsyncIterable<string | Buffer>, opts: ImportOptions, format: FormatName = 'ftrace'): Promise<ImportSummary> {
  const ctx = new ImportContext(format, opts);
  const tp = new TracepointPayloads(ctx);
  let ignored = 0;
  let prose = 0;
  let latencyNoted = false;
  /** Lost events reported per CPU by LOST lines, to compare with the kernel's per-CPU counters in our trailer. */
  const lostByCpu = new Map<number, number>();
  const ftraceCpu = new Map<number, { overrun: number; commitOverrun: number; dropped: number; line: number }>();

  const time = (secText: string, frac: string | undefined, line: number): Ns => {
    if (frac === undefined) {
      // trace_print_time prints " %12llu" for clocks not in ns (kernel/trace/trace.c:
      // trace_clocks[], in_ns 0): counter, uptime (jiffies), x86-tsc. They are not time.
      throw new InputError(
        'timestamps are raw counter values (trace_clock counter, uptime or x86-tsc): they are not time; set a clock that prints seconds (echo mono > trace_clock) and capture again',
        ctx.file,
        line,
      );
    }
    if (secText.length > 12) throw new InputError(`timestamp ${secText.slice(0, 24)}.${frac} s is not a time since boot`, ctx.file, line);
    return secondsTextToNs(ctx, secText, frac);
  };

  /** The event part of a line (after the timestamp's ": "), with the context already read. */
  const body = (rest: string, ts: Ns, cpu: number, pid: number, comm: string, line: number): void => {
    const e = EVENT.exec(rest);
    if (!e) {
      // The function tracer (`napi_schedule_prep <-tg3_msi_1shot`), bprint/bputs without a
      // name, events printed without a payload (`play_idle_enter`): not ours.
      const word = /^\S*/.exec(rest)![0];
      tp.other(rest.includes(' <-') ? 'function' : word === '' ? '(empty)' : word, line);
      return;
    }
    const name = e[1]!;
    let payload = rest.slice(e[0].length);
    if (payload.endsWith(' ')) payload = payload.trimEnd();
    tp.event(name, name, payload, ts, cpu, pid, comm, line);
  };

  /** `swapper/<cpu>` per CPU, made once (the comm of `<idle>-0`). */
  const swapper: string[] = [];
  const idleComm = (cpu: number): string => swapper[cpu] ?? (swapper[cpu] = ctx.intern(`swapper/${cpu}`));

  /** What the byte fast path reads of a line (task id, CPU, timestamp), reused line to line (one per import: no state shared across imports). */
  const lf = newLineFields();
  /** The comm of the last line the byte path took (a CPU's lines come in runs). */
  const recentComm = new RecentName();
  /**
   * The common line read from the bytes of an ASCII piece (index.ts), in one pass and without
   * a string: `comm-pid [cpu] flags sec.frac: name: payload` with a comm of 1 to 15 characters
   * (no blank at its ends, no control byte), no tgid, flags of 4 to 7 characters or none, and a
   * payload tracepoints.ts reads in place. It takes only lines the string path below reads the
   * same way (each check says which rule of onLine / contextLine it stands for) and returns -1
   * for any other, which then goes to the string path whole.
   */
  const lineBytes = (u: Uint8Array, a: number): number => {
    let p = a;
    while (u[p] === 32) p++;
    const ca = p;
    const c0 = u[p]!;
    // '#': header lines; '>': mail quoting; a blank line.
    if (c0 <= 32 || c0 === 35 || c0 === 62) return -1;
    // The first '[' of the line must be the `[cpu]` field (onLine takes the first `[digits]`).
    const open = cpuBracketAt(u, p, -1);
    if (open < 0) return -1;
    // Back from the '[': blanks, the pid (TASK: 1 to 10 digits after the last '-'), the '-'.
    const q = digitsBefore(u, blanksBefore(u, open - 1, ca), ca, lf);
    if (q <= ca || u[q - 1] !== 45 /* - */) return -1;
    const pid = lf.id;
    const cb = q - 1;
    // commOf: trimmed, at most TASK_COMM_LEN - 1 characters as printed.
    if (cb === ca || cb - ca > MAX_COMM || u[cb - 1] === 32) return -1;
    // [cpu] then blanks (AFTER_CPU: \s+).
    p = cpuFieldAt(u, open, lf);
    if (p < 0) return -1;
    const cpu = lf.cpu;
    // Flags ([^\s:]{4,7}, not a digit first: that is the timestamp), then blanks.
    let c = u[p]!;
    if (c < 48 || c > 57) {
      const fs = p;
      while (c > 32 && c !== 58) c = u[++p]!;
      if (c !== 32 || p - fs < 4 || p - fs > 7) return -1;
      while (u[p] === 32) p++;
    }
    p = readSecondsColon(u, p, lf);
    if (p < 0) return -1;
    // EVENT: the name, ':', blanks.
    const na = p;
    p = wordEnd(u, p);
    if (p === na || u[p] !== 58 /* : */) return -1;
    const nb = p;
    p++;
    while (u[p] === 32) p++;
    // taskComm: pid 0's `<idle>` (or `swapper`) is the kernel's swapper/<cpu>, `<...>` unknown.
    const len = cb - ca;
    let comm: string | undefined;
    if (pid === 0 && ((len === 6 && u[ca] === 60 && hasIdle(u, ca)) || (len === 7 && hasSwapper(u, ca)))) comm = idleComm(cpu);
    else if (len === 5 && u[ca] === 60 && u[ca + 1] === 46 && u[ca + 2] === 46 && u[ca + 3] === 46 && u[ca + 4] === 62) comm = '';
    else if ((comm = recentComm.intern(ctx, u, ca, cb)) === undefined) return -1;
    const ts = secondsToNs(ctx, lf.sec, lf.subNs);
    return tp.eventBytes(u, a, na, nb, p, ts, cpu, pid, comm, split);
  };

  const onLine = (s: string, a: number, b: number, line: number): void => {
    let text = s.slice(a, b);
    const c0 = text.charCodeAt(0);
    if (c0 === 35 /* # */) {
      if (text.charCodeAt(1) === 64 /* @ */) {
        const fc = FTRACE_CPU.exec(text);
        if (fc) {
          const kv = Object.fromEntries(
            fc[2]!
              .trim()
              .split(' ')
              .filter((x) => x !== '')
              .map((x) => x.split('=') as [string, string]),
          );
          ftraceCpu.set(Number(fc[1]), { overrun: Number(kv['overrun'] ?? 0), commitOverrun: Number(kv['commit_overrun'] ?? 0), dropped: Number(kv['dropped_events'] ?? 0), line });
          return;
        }
        if (ctx.headerLine(text, line)) return;
      }
      const m = ENTRIES.exec(text);
      if (m) {
        ctx.impliedCpus(Number(m[3]), `#P:${m[3]}`, line);
        const inBuffer = Number(m[1]);
        const written = Number(m[2]);
        if (written > inBuffer) {
          // kernel/trace/trace.c: get_total_entries_cpu(): written = in buffer + overrun, so the
          // difference is what the ring buffer overwrote, the oldest entries of each CPU's buffer.
          ctx.lost(
            written - inBuffer,
            undefined,
            line,
            `${written - inBuffer} entries were overwritten before the oldest one shown (entries-in-buffer/entries-written ${inBuffer}/${written}): each CPU's trace starts after its own gap, the busiest CPUs' latest`,
          );
        }
      } else if (/^#\s*\S+ latency trace v/.test(text)) noteLatency(line);
      ignored++;
      return;
    }
    // Mail and forum quoting (`> > `) before pasted trace lines.
    if (c0 === 62 /* > */ || (c0 === 32 && /^\s+>/.test(text))) text = text.replace(/^(?:\s*>)+ ?/, '');
    if (text.trim() === '') {
      ignored++;
      return;
    }
    // Find the `[cpu]` field: the first `[digits]` followed by a blank.
    let open = text.indexOf('[');
    while (open >= 0) {
      const close = text.indexOf(']', open);
      if (close > open + 1 && close - open <= 6 && /^\d+$/.test(text.slice(open + 1, close)) && (close + 1 === text.length || text.charCodeAt(close + 1) === 32)) {
        if (contextLine(text, open, close, line)) return;
        break;
      }
      open = text.indexOf('[', open + 1);
    }
    if (latencyLine(text, line)) return;
    if (headerWords(text, line)) return;
    if (TRACE_LIKE.test(text)) return ctx.problem('malformed-line', line, `not an ftrace line (comm-pid [cpu] flags timestamp: event: payload): "${text.slice(0, 80)}"`);
    // Prose, shell prompts, commands around pasted trace lines: not trace data, counted apart.
    prose++;
  };

  /** A line with its `[cpu]` at text[open, close]; false when the rest is not an ftrace line. */
  const contextLine = (text: string, open: number, close: number, line: number): boolean => {
    const after = AFTER_CPU.exec(text.slice(close + 1));
    if (!after) return false;
    const cpu = Number(text.slice(open + 1, close));
    let left = text.slice(0, open).trimEnd();
    const tg = TGID.exec(left);
    if (tg) left = left.slice(0, tg.index);
    const t = TASK.exec(left);
    // Without `-pid` (a pasted line someone shortened, `ifconfig   [003]`): the pid is unknown.
    const pid = t ? Number(t[2]) : -1;
    const rawComm = commOf(t ? t[1]! : left);
    const comm = taskComm(rawComm, pid, cpu);
    const ts = time(after[2]!, after[3], line);
    body(text.slice(close + 1 + after[0].length), ts, cpu, pid, comm, line);
    return true;
  };

  const latencyLine = (text: string, line: number): boolean => {
    const m = LATENCY.exec(text);
    if (!m) return false;
    noteLatency(line);
    const cpu = Number(m[3]);
    const pid = Number(m[2]);
    const comm = taskComm(commOf(m[1]!), pid, cpu);
    let ts: Ns;
    if (m[5] !== undefined) {
      // Microseconds since the buffer was reset: exact as integer ns.
      const us = BigInt(m[5]);
      const tb = ctx.tb ?? ctx.timeBaseFrom(us * 1000n);
      ts = tb.fromBoot(us * 1000n);
    } else ts = time(m[6]!, m[7], line);
    body(text.slice(m[0].length), ts, cpu, pid, comm, line);
    return true;
  };

  const noteLatency = (line: number): void => {
    if (latencyNoted) return;
    latencyNoted = true;
    ctx.note('info', 'latency-format', 'latency format (options/latency-format): timestamps are microseconds since the trace buffer was reset, not since boot', line);
  };

  /** `<idle>` is how ftrace names pid 0 (trace_find_cmdline); the kernel's comm is `swapper/<cpu>`, `<...>` an unknown comm. */
  const taskComm = (comm: string, pid: number, cpu: number): string => {
    if (pid === 0 && (comm === '<idle>' || comm === 'swapper')) return ctx.intern(`swapper/${cpu}`);
    if (comm === '<...>') return '';
    return ctx.intern(comm);
  };

  /** trace-cmd report's and trace_pipe's lines between the events. */
  const headerWords = (text: string, line: number): boolean => {
    const t = text.trim();
    let m: RegExpExecArray | null;
    if ((m = /^cpus=(\d{1,5})$/.exec(t))) {
      ctx.impliedCpus(Number(m[1]), `cpus=${m[1]}`, line);
      ignored++;
      return true;
    }
    if (/^version = \d+$/.test(t) || /^CPU\s*\d{1,5} is empty$/.test(t)) {
      ignored++;
      return true;
    }
    if ((m = LOST_LINE.exec(t))) {
      const cpu = Number(m[1]);
      const n = m[2] ?? m[3];
      // An unknown number (the iterator only knew that the writer passed it): at least one.
      const count = n === undefined ? 1 : Number(n);
      lostByCpu.set(cpu, (lostByCpu.get(cpu) ?? 0) + count);
      ctx.lost(
        count,
        undefined,
        line,
        `CPU ${cpu}: ${n === undefined ? 'an unknown number of' : count} events lost here (the ring buffer overflowed); the analysis of this CPU around this point is incomplete`,
      );
      return true;
    }
    return false;
  };

  const split = new LineSplitter(ctx, onLine);
  for await (const chunk of chunks) {
    if (typeof chunk === 'string') split.push(chunk);
    else if (split.idle) byteLines(chunk, split, lineBytes);
    // ASCII, so Latin-1 is the same text as UTF-8.
    else split.push(chunk.toString('latin1'));
  }
  split.end();
  // Our wrapper's per-CPU counters (per_cpu/cpuN/stats): what the kernel dropped or
  // overwrote that no LOST line reported (overwrite off drops new events silently).
  for (const [cpu, f] of [...ftraceCpu].sort((x, y) => x[0] - y[0])) {
    const kernel = f.overrun + f.commitOverrun + f.dropped;
    const seen = lostByCpu.get(cpu) ?? 0;
    if (kernel > seen) {
      ctx.lost(
        kernel - seen,
        undefined,
        f.line,
        `CPU ${cpu}: the kernel counted ${kernel} events lost (overrun ${f.overrun}, commit_overrun ${f.commitOverrun}, dropped_events ${f.dropped}), ${seen} of them reported in the trace; where the other ${kernel - seen} were lost is unknown`,
      );
    }
  }
  tp.finish();
  if (prose > 0) ctx.note('info', 'prose-lines', `${prose} lines that are not trace lines (text, prompts, commands around pasted lines) ignored`);
  return { ...ctx.finish(), ignoredLines: ignored + tp.ignored, proseLines: prose, unusedEventLines: tp.ignored };
}

/** An ftrace event line of the head: `comm-pid [cpu] (flags) sec.frac: name:` or the latency form. */
const FTRACE_SNIFF = /^[^\n]*?-\d{1,10}\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[\d{1,5}\]\s+(?:[^\s:]{4,7}\s+)?\d{1,12}(?:\.\d{1,9})?:\s+\w+[:\s]/m;
const FTRACE_HEAD = /^(?:# tracer: |#\s*entries-in-buffer\/entries-written: |#@tracer ftrace\s*$|CPU:\d+ \[LOST \d+ EVENTS\])/m;
const LATENCY_SNIFF = /^\s*\S.*-\d{1,10}\s+\d{1,5}[^\s\d][^\s:]{3,6}\s+\d{1,15}us[ !#$@*+]?:\s+\w+:/m;
/** trace-cmd report's own lines before the events. */
const TRACE_CMD_HEAD = /^(?:cpus=\d{1,5}|version = \d+|CPU\s*\d{1,5} is empty)\s*$/m;

export const ftraceImporter: Importer = {
  name: 'ftrace',
  sniff: (head) => FTRACE_HEAD.test(head) || FTRACE_SNIFF.test(head) || LATENCY_SNIFF.test(head),
  import: (chunks, opts) => importFtraceText(chunks, opts, 'ftrace'),
  piecesInPlace: true,
};

export const traceCmdImporter: Importer = {
  name: 'trace-cmd',
  sniff: (head) => TRACE_CMD_HEAD.test(head) && !/^# tracer: /m.test(head),
  import: (chunks, opts) => importFtraceText(chunks, opts, 'trace-cmd'),
  piecesInPlace: true,
};
