import { BpftraceByteParser } from './bpftrace-bytes.js';
import { BpftraceRecordParser } from './bpftrace-text.js';
import { ImportContext, LineSplitter, MAX_LINE_CHARS } from './common.js';
import type { Importer, ImportOptions, ImportSummary } from './types.js';

/**
 * Our capture scripts run with `bpftrace -f json`: one JSON object per line, framed by the same
 * `#@` header and trailer lines in plain text (the capture wrapper writes them around
 * bpftrace's output). Shapes handled (bpftrace src/output.cpp up to 0.23, src/output/json.cpp
 * from 0.24):
 *
 *   {"type": "printf", "data": "P 2386077080170 0 0xffff888627c2d188 vb 64 64 0 swapper/0\n"}
 *   {"type": "map", "data": {"@napi": {"0,vb,-131365202636408": [6314355,40,1700,0]}}}  (format 1: one number)
 *   {"type": "lost_events", "data": {"events": 12}}          (up to 0.23)
 *   {"type":"lost_events", "count":12}                        (0.24+: no data field)
 *   {"type": "attached_probes", "data": {"probes": 10}}     / {"type":"attached_probes", "count":10}
 *   {"type": "time", ...}, "hist", "stats", "tseries", "value": not ours, ignored and counted
 *   {"type": "runtime_error" | "helper_error" | "print_error", "msg": ...}: reported as warnings
 *
 * Map keys of several parts are joined by commas (0.24+ strips the tuple's parentheses and
 * spaces: src/output/json.cpp), u64 keys print signed in 0.17, and 0.24+ prints integers that
 * a double cannot hold as strings. Up to 0.23 a bare pair of blank lines comes before the maps
 * at exit even in JSON mode: blank lines are skipped.
 *
 * Lines are split by the same bounded splitter as the text format rather than by
 * stream-json's jsonl/Parser: that parser does not count blank lines (so it cannot give line
 * numbers for diagnostics), buffers a line of any length, and cannot take the `#@` text lines
 * interleaved with the JSON; JSON.parse per line is as fast (docs/facts.md, "Reading JSON lines fast": 2.4-2.6 M lines/s
 * for split + JSON.parse vs 2.55 M/s for jsonl/Parser).
 */

const PRINTF_PREFIX = '{"type": "printf", "data": "';
/** The same without spaces (what JSON.stringify and other writers produce). */
const PRINTF_PREFIX_COMPACT = '{"type":"printf","data":"';

/** Record types bpftrace emits that carry nothing for us. */
const IGNORED_TYPES = new Set(['attached_probes', 'time', 'hist', 'stats', 'tseries', 'value', 'join', 'cat', 'syscall', 'benchmark_results']);
const TRACER_ERRORS = new Set(['runtime_error', 'helper_error', 'print_error']);

interface JsonRecord {
  type?: unknown;
  data?: unknown;
  count?: unknown;
  msg?: unknown;
}

function asCount(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A tuple value (an array of at most 8 numbers), or undefined. */
function asTuple(v: unknown[]): number[] | undefined {
  if (v.length === 0 || v.length > 8) return undefined;
  const out: number[] = [];
  for (const x of v) {
    if (typeof x !== 'number' || !(x >= 0) || !Number.isInteger(x)) return undefined;
    out.push(x);
  }
  return out;
}

/** `"0,vb,-131365202636408"` -> ['0', 'vb', '-131365202636408'] (string parts may come quoted). */
function mapKeys(key: string): string[] {
  return key.split(',').map((k) => {
    const t = k.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
  });
}

/** The printf prefixes as bytes, for the byte fast path. */
const PREFIX_BYTES = Buffer.from(PRINTF_PREFIX, 'latin1');
const PREFIX_COMPACT_BYTES = Buffer.from(PRINTF_PREFIX_COMPACT, 'latin1');

function prefixAt(u: Uint8Array, pos: number, p: Uint8Array): boolean {
  const n = p.length;
  for (let k = 0; k < n; k++) if (u[pos + k] !== p[k]) return false;
  return true;
}

/**
 * Text chunks, or Buffers that the reader (import/index.ts) found to be all ASCII and ending
 * with '\n': in those, the printf lines of the hot records are parsed from the bytes (the same
 * fast path as bpftrace-text; any other line takes the string path).
 */
export async function importBpftraceJson(chunks: AsyncIterable<string | Buffer>, opts: ImportOptions): Promise<ImportSummary> {
  const ctx = new ImportContext('bpftrace-json', opts);
  const rp = new BpftraceRecordParser(ctx);
  const bp = new BpftraceByteParser(ctx, rp);
  bp.jsonRecords();
  /** printf text not yet ended by '\n' (a printf may carry part of a line, or several lines). */
  let printfCarry = '';
  let printfCarryLine = 0;

  const printf = (data: string, line: number): void => {
    const nl = data.indexOf('\n');
    // Fast path: one whole record per printf, the way our scripts print.
    if (printfCarry.length === 0 && nl === data.length - 1) {
      rp.line(data, 0, nl, line);
      return;
    }
    if (nl < 0 && printfCarry.length > 0 && printfCarry.length + data.length <= MAX_LINE_CHARS) {
      // Still the same line: append without re-scanning (linear in the line's length).
      printfCarry += data;
      return;
    }
    let s = printfCarry.length > 0 ? printfCarry + data : data;
    let pos = 0;
    for (;;) {
      const i = s.indexOf('\n', pos);
      if (i < 0) break;
      rp.line(s, pos, i, printfCarry.length > 0 && pos === 0 ? printfCarryLine : line);
      pos = i + 1;
    }
    s = s.slice(pos);
    if (s.length > MAX_LINE_CHARS) {
      ctx.problem('line-too-long', line, `printf output without a newline longer than ${MAX_LINE_CHARS} characters; dropped`);
      s = '';
    }
    if (s.length > 0 && printfCarry.length === 0) printfCarryLine = line;
    printfCarry = s;
  };

  const onLine = (s: string, a: number, b: number, line: number): void => {
    const c0 = s.charCodeAt(a);
    if (c0 === 123 /* { */) {
      // Fast path for the hot record, exactly as bpftrace writes it (src/output: emit_data):
      // {"type": "printf", "data": "<record>\n"} with no other escape in the record: the record
      // is parsed in place, without JSON.parse and without a copy.
      if (printfCarry.length === 0 && (s.startsWith(PRINTF_PREFIX, a) || s.startsWith(PRINTF_PREFIX_COMPACT, a))) {
        const ds = a + (s.charCodeAt(a + 8) === 32 ? PRINTF_PREFIX.length : PRINTF_PREFIX_COMPACT.length);
        if (b - ds >= 4 && s.charCodeAt(b - 1) === 125 && s.charCodeAt(b - 2) === 34 && s.charCodeAt(b - 3) === 110 && s.charCodeAt(b - 4) === 92) {
          // No other escape and no raw quote inside: exactly one JSON string, as JSON.parse would read it.
          if (s.indexOf('\\', ds) === b - 4 && s.indexOf('"', ds) === b - 2) return rp.line(s, ds, b - 4, line);
        }
      }
      let rec: JsonRecord;
      try {
        rec = JSON.parse(s.slice(a, b)) as JsonRecord;
      } catch {
        return ctx.problem('malformed-json', line, `invalid JSON (cut off?): "${s.slice(a, Math.min(b, a + 60))}"`);
      }
      if (rec === null || typeof rec !== 'object') return ctx.problem('malformed-json', line, 'JSON line is not an object');
      const type = rec.type;
      if (type === 'printf') {
        if (typeof rec.data !== 'string') return ctx.problem('malformed-json', line, 'printf record without string data');
        return printf(rec.data, line);
      }
      if (type === 'map') return map(rec.data, line);
      if (type === 'lost_events') {
        const d = rec.data as { events?: unknown } | undefined;
        const n = asCount(rec.count) ?? asCount(d && typeof d === 'object' ? d.events : undefined);
        if (n === undefined) return ctx.problem('malformed-json', line, 'lost_events record without a count');
        return ctx.lost(n, undefined, line);
      }
      if (typeof type === 'string' && IGNORED_TYPES.has(type)) {
        rp.ignoredLines++;
        return;
      }
      if (typeof type === 'string' && TRACER_ERRORS.has(type)) {
        const msg = typeof rec.msg === 'string' ? rec.msg.slice(0, 200) : '(no message)';
        return ctx.note('warning', 'tracer-error', `bpftrace ${type}: ${msg}`, line);
      }
      return ctx.problem('unknown-record', line, `unknown JSON record type ${JSON.stringify(type)?.slice(0, 40) ?? 'undefined'}; line skipped`);
    }
    if (c0 === 35 /* # */ && s.charCodeAt(a + 1) === 64 /* @ */) {
      ctx.headerLine(s.slice(a, b), line);
      return;
    }
    for (let i = a; i < b; i++) {
      const c = s.charCodeAt(i);
      if (c !== 32 && c !== 9) return ctx.problem('malformed-json', line, `not a JSON line: "${s.slice(a, Math.min(b, a + 60))}"`);
    }
    rp.ignoredLines++;
  };

  const map = (data: unknown, line: number): void => {
    if (data === null || typeof data !== 'object') return ctx.problem('malformed-json', line, 'map record without an object');
    for (const [name, entries] of Object.entries(data as Record<string, unknown>)) {
      if (entries !== null && typeof entries === 'object') {
        for (const [key, value] of Object.entries(entries as Record<string, unknown>)) {
          // Format 2 windows maps hold tuples, which bpftrace -f json prints as arrays.
          const v = Array.isArray(value) ? asTuple(value) : asCount(value);
          if (v === undefined) {
            ctx.problem('malformed-line', line, `map ${name.slice(0, 40)}[${key.slice(0, 40)}]: value is not a non-negative integer`);
            continue;
          }
          rp.mapEntry(name, mapKeys(key), v, line);
        }
      } else {
        // A map without keys: `{"@count": 5}`.
        const v = asCount(entries);
        if (v === undefined) ctx.problem('malformed-line', line, `map ${name.slice(0, 40)}: value is not a non-negative integer`);
        else rp.mapEntry(name, [], v, line);
      }
    }
  };

  const split = new LineSplitter(ctx, onLine);
  /** Start of the record of a printf line at pos, or -1 (another line, or a printf line open). */
  const printfStart = (u: Uint8Array, pos: number): number => {
    if (printfCarry.length > 0 || u[pos] !== 123 /* { */) return -1;
    if (u[pos + 8] === 32) return prefixAt(u, pos, PREFIX_BYTES) ? pos + PREFIX_BYTES.length : -1;
    return prefixAt(u, pos, PREFIX_COMPACT_BYTES) ? pos + PREFIX_COMPACT_BYTES.length : -1;
  };
  for await (const chunk of chunks) {
    if (typeof chunk === 'string') split.push(chunk);
    else if (split.idle && bp.ready) bp.bytes(chunk, split, (a, b) => chunk.toString('latin1', a, b), printfStart);
    // ASCII, so Latin-1 is the same text as UTF-8.
    else split.push(chunk.toString('latin1'));
  }
  split.end();
  if (printfCarry.length > 0) {
    // The last printf did not end its line: a capture cut off mid-record.
    rp.line(printfCarry, 0, printfCarry.length, printfCarryLine);
  }
  rp.end();
  return { ...ctx.finish(), ignoredLines: rp.ignoredLines, ...(rp.windows.recordedUntil !== undefined ? { recordedUntilNs: rp.windows.recordedUntil } : {}) };
}

/** The first JSON line of bpftrace output has a "type" field. */
const JSON_SNIFF = /^\{\s*"type"\s*:\s*"(?:attached_probes|printf|map|lost_events|time|hist|stats)"/m;

export const bpftraceJsonImporter: Importer = {
  name: 'bpftrace-json',
  sniff: (head) => JSON_SNIFF.test(head),
  import: importBpftraceJson,
  piecesInPlace: true,
};
