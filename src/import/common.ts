import { InputError, type Diagnostic, type Severity } from '../base/diagnostics.js';
import { TimeBase, bootNs, type BootNs, type Ns } from '../base/time.js';
import { MAX_CPU_ID, finishHeader, newHeaderState, onlyScriptMarks, parseHeaderLine, type HeaderParseState } from '../model/capture-text.js';
import { normalizePointer, type TraceEvent } from '../model/events.js';
import type { CaptureHeader } from '../model/header.js';
import type { FormatName, ImportOptions, ImportSummary } from './types.js';

/**
 * What every importer shares: batching events to the callback, the `#@` header and trailer,
 * the time origin, CPU checks against the header, and the skip-and-count / strict policy for
 * bad lines. One context per import (no module-level state: two imports can run at once).
 */

/** Events handed to `onEvents` per call: large enough to amortise the call, small enough to stay in cache. */
export const EVENT_BATCH = 4096;
/**
 * Longest line an importer accepts (1 MiB). Our longest real line is a `#@stat` row or a JSON
 * map record of a big windows capture (256 CPUs x 1000 tunnels fits well under this); anything
 * longer is hostile or corrupt and is skipped without being buffered.
 */
export const MAX_LINE_CHARS = 1 << 20;
/**
 * Slots of the slice-free string tables (a power of two minus one). A 256-CPU gateway alone has
 * 768 per-CPU comms (swapper/N, ksoftirqd/N, kworker/N:M) besides its devices and workqueues.
 */
const STR_TABLE_MASK = 32767;
/** Bytes kept per string table slot for the byte path (comms are at most 15, functions rarely over 40). */
const STR_BYTES = 64;

/** Bytes a RecentName keeps (longer names are not kept). */
const RECENT_BYTES = 64;
/**
 * Names a RecentName keeps. Two were too few for a line's comm: a CPU's lines cycle through
 * three tasks or more (swapper/N, the kworker that runs the crypt work, a threaded NAPI's
 * napi/<dev>-N), so with two kept every change of task missed; on the perf script bench
 * capture 13% of the lines missed with two, 0.7% with four.
 */
const RECENT_NAMES = 4; // a power of two (the index wraps with a mask)

/**
 * The last names one field of a byte fast path gave: their ASCII bytes and interned strings.
 * Most lines repeat the field of a line just before (a CPU's buffer drains in runs: the same
 * comm, the same work function; a sched_switch's comms alternate between two tasks), and one
 * compare that also finds the field's end costs less than hashing it into the string tables.
 * Looked up newest first; a new name replaces the oldest.
 */
export class RecentName {
  private readonly bytes = new Uint8Array(RECENT_NAMES * RECENT_BYTES);
  /** Length of each entry's name, 0 for an empty entry (no name of 0 bytes is kept). */
  private readonly len = new Int32Array(RECENT_NAMES);
  private readonly value: string[] = emptyStrings(RECENT_NAMES);
  /** Which entry was kept last. */
  private last = 0;

  /** Whether entry i holds the bytes u[p, p + n). */
  private holds(i: number, u: Uint8Array, p: number, n: number): boolean {
    const rb = this.bytes;
    const base = i * RECENT_BYTES - p;
    for (let k = p; k < p + n; k++) if (u[k] !== rb[base + k]) return false;
    return true;
  }

  /** The name when u[a, b) holds the bytes of one of the kept names, else undefined. */
  at(u: Uint8Array, a: number, b: number): string | undefined {
    const n = b - a;
    if (n <= 0) return undefined;
    const len = this.len;
    for (let j = 0, i = this.last; j < RECENT_NAMES; j++, i = (i - 1) & (RECENT_NAMES - 1)) {
      if (len[i] === n && this.holds(i, u, a, n)) return this.value[i];
    }
    return undefined;
  }

  /** End of the field lengthAt found. */
  end = 0;

  /**
   * The name when u[p..] starts with the bytes of one of the kept names followed by the byte
   * `end` (for a field whose end is not known yet: the compare finds it; sets `end`), else
   * undefined.
   */
  lengthAt(u: Uint8Array, p: number, end: number): string | undefined {
    const len = this.len;
    for (let j = 0, i = this.last; j < RECENT_NAMES; j++, i = (i - 1) & (RECENT_NAMES - 1)) {
      const n = len[i]!;
      if (n > 0 && u[p + n] === end && this.holds(i, u, p, n)) {
        this.end = p + n;
        return this.value[i];
      }
    }
    return undefined;
  }

  /** Remembers `value`, the interned string of the bytes u[a, b), in place of the oldest kept. */
  keep(u: Uint8Array, a: number, b: number, value: string): void {
    const n = b - a;
    if (n > RECENT_BYTES) return;
    const i = (this.last + 1) & (RECENT_NAMES - 1);
    const rb = this.bytes;
    const base = i * RECENT_BYTES - a;
    for (let k = a; k < b; k++) rb[base + k] = u[k]!;
    this.len[i] = n;
    this.value[i] = value;
    this.last = i;
  }

  /**
   * The name of the bytes u[a, b): one of the kept, else interned by ctx (internBytesAdd) and
   * kept; undefined when ctx cannot make it from bytes (the string path then reads the line).
   */
  intern(ctx: ImportContext, u: Uint8Array, a: number, b: number): string | undefined {
    const hit = this.at(u, a, b);
    if (hit !== undefined) return hit;
    const name = ctx.internBytesAdd(u, a, b);
    if (name !== undefined) this.keep(u, a, b, name);
    return name;
  }
}

/** Longest name internBytesAdd makes from bytes (comms, devices, functions are far shorter). */
const MAX_INTERN_BYTES = 256;

/** Characters at the end of a string that the string tables' hash reads (plus its first, middle and length). */
const STR_HASH_TAIL = 8;
/** MurmurHash3's 32-bit finalizer: every input bit reaches the low bits the tables index with. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * An empty event batch that is an array of objects from birth (V8 elements kind
 * PACKED_ELEMENTS: a kind only ever widens, so emptying keeps it). A `[]` starts as an array of
 * small integers and changes kind at its first push; `--trace-deopt` showed "not a Smi" and
 * "wrong map" deopts of push() and of every byte reader that inlines it, with each new batch.
 */
function newBatch(): TraceEvent[] {
  const b: TraceEvent[] = [BATCH_SEED];
  b.length = 0;
  return b;
}
const BATCH_SEED: TraceEvent = { kind: 'lost_events', count: 0 };

/**
 * A packed array of `n` empty strings, made natively (String.prototype.split): Array.from with a
 * callback ran 3 x 32 768 calls in the interpreter at every import (about 4 ms of `--cpu-prof`
 * in a 1 M-event import, before the first line), and `new Array(n).fill('')` is holey.
 */
function emptyStrings(n: number): string[] {
  return ' '.repeat(n - 1).split(' ');
}

export class ImportContext {
  readonly file: string;
  readonly strict: boolean;
  readonly opts: ImportOptions;
  lines = 0;
  events = 0;
  lostEvents = 0;
  skippedLines = 0;
  /** Devices the capture saw polled but did not trace (`@untraced`, bounded). */
  private readonly untraced = new Set<string>();
  batch: TraceEvent[] = newBatch();
  readonly headerState: HeaderParseState = newHeaderState();
  /** Header as known when the first event arrived (passed to onHeader). */
  header: CaptureHeader | undefined;
  headerSealed = false;
  tb: TimeBase | undefined;
  originFromHeader = false;
  /** cpuOk[c] === 1 when CPU c is online per the header; undefined without a header. */
  private cpuOk: Uint8Array | undefined;
  private readonly interned = new Map<string, string>();
  // Packed arrays of strings ('' = empty slot): cheaper to index than holey ones.
  private readonly strTable: string[] = emptyStrings(STR_TABLE_MASK + 1);
  /** Bytes of the short ASCII entries of strTable (STR_BYTES per slot) and their length, -1 for none. */
  private readonly strBytes = new Uint8Array((STR_TABLE_MASK + 1) * STR_BYTES);
  private readonly strByteLen = new Int32Array(STR_TABLE_MASK + 1).fill(-1);
  /** Per slot pair of strTable: which of the two was hit last (0 or 1). */
  private readonly strLast = new Uint8Array((STR_TABLE_MASK + 1) >> 1);
  private readonly ptrRaw: string[] = emptyStrings(STR_TABLE_MASK + 1);
  private readonly ptrNorm: string[] = emptyStrings(STR_TABLE_MASK + 1);
  private reportedCpus = new Set<number>();
  /** Cross-field header issues already reported when the header was sealed. */
  private readonly sealIssues = new Set<string>();

  constructor(
    readonly format: FormatName,
    opts: ImportOptions,
  ) {
    this.opts = opts;
    this.file = opts.file;
    this.strict = opts.strict;
  }

  /** A diagnostic that never stops the import (lost events, header notes, summaries). */
  note(severity: Severity, code: string, message: string, line?: number): void {
    this.add({ severity, code, file: this.file, ...(line !== undefined ? { line } : {}), message });
  }

  /**
   * Adds to the log; a message that will be kept is sanitised and flattened (built from slices
   * of a read chunk, it would otherwise pin the whole chunk in memory). Past the log's bound
   * only the count matters, so nothing is copied.
   */
  private add(d: Diagnostic): void {
    const log = this.opts.diagnostics;
    if (log.items.length < log.limit) d.message = flatten(sanitize(d.message));
    log.add(d);
  }

  /**
   * A line the importer cannot use: counted as skipped and reported; under --strict, the
   * first one ends the import with an InputError naming file and line.
   */
  problem(code: string, line: number, reason: string): void {
    this.skippedLines++;
    if (this.strict) throw new InputError(flatten(sanitize(reason)), this.file, line);
    this.add({ severity: 'warning', code, file: this.file, line, message: reason });
  }

  /** A `#@` line; returns false when `text` is not one. */
  headerLine(text: string, line: number): boolean {
    if (text.charCodeAt(0) !== 35 || text.charCodeAt(1) !== 64) return false;
    // A flat copy: header values are kept for the whole analysis and must not pin the chunk.
    if (!parseHeaderLine(this.headerState, flatten(text), line)) return false;
    if (this.headerState.issues.length > 0) this.drainHeaderIssues();
    return true;
  }

  private drainHeaderIssues(): void {
    for (const i of this.headerState.issues) {
      if (this.strict && i.severity !== 'info') throw new InputError(sanitize(i.message), this.file, i.line);
      this.note(i.severity, i.code, i.message, i.line);
    }
    this.headerState.issues.length = 0;
  }

  /** Called before the first event: the header part is complete. */
  sealHeader(): void {
    if (this.headerSealed) return;
    this.headerSealed = true;
    const sealed = finishHeader(this.headerState);
    let header = sealed.header;
    for (const i of sealed.issues) {
      // --strict: a header that contradicts itself or cannot be used is a problem, not a note.
      if (this.strict && i.severity !== 'info') throw new InputError(sanitize(i.message), this.file, i.line);
      this.sealIssues.add(i.message);
      this.note(i.severity, i.code, i.message, i.line);
    }
    this.headerState.issues.length = 0;
    if (this.implied !== undefined) {
      if (header === undefined && (this.headerState.lines === 0 || onlyScriptMarks(this.headerState))) header = this.implied.header;
      else if (header !== undefined && header.cpus.length !== this.implied.header.cpus.length) {
        this.note(
          'warning',
          'contradictory-header',
          `#@cpus lists ${header.cpus.length} CPUs, the tracer's ${this.implied.source} says ${this.implied.header.cpus.length}; #@cpus is kept`,
          this.implied.line,
        );
      }
    }
    this.header = header;
    if (header) {
      const max = Math.max(...header.cpus);
      this.cpuOk = new Uint8Array(max + 1);
      for (const c of header.cpus) this.cpuOk[c] = 1;
      if (header.startBootNs !== undefined) {
        this.tb = new TimeBase(bootNs(BigInt(header.startBootNs)));
        this.originFromHeader = true;
      }
      this.opts.onHeader?.(header);
    }
  }

  /** A header made from the tracer's own (ftrace `#P:N`, trace-cmd `cpus=N`), used when there is no `#@` header. */
  private implied: { header: CaptureHeader; source: string; line: number } | undefined;

  /**
   * The online CPUs as the tracer's own header states them (`source` names it in messages).
   * Used as the capture header's CPUs when the file has no `#@` header; checked against
   * `#@cpus` when it has. Call before the first event.
   */
  impliedCpus(count: number, source: string, line: number): void {
    if (this.headerSealed || this.implied !== undefined || !(count >= 1 && count <= MAX_CPU_ID + 1)) return;
    const cpus = Array.from({ length: count }, (_, i) => i);
    // A tracer's own dump (a `trace` file, a trace-cmd report) is whole as printed: no trailer
    // of ours is missing, so it is not a capture cut off (only our #@ framing can be).
    this.implied = { header: { formatVersion: 0, cpus, mode: 'events', devices: [], status: 'complete', extra: { cpus_from: source } }, source, line };
  }

  /** The time base, created from the first event's boot ns when the header gave none. */
  timeBaseFrom(firstBootNs: bigint): TimeBase {
    if (!this.headerSealed) this.sealHeader();
    if (this.tb === undefined) this.tb = new TimeBase(bootNs(firstBootNs));
    return this.tb;
  }

  /**
   * True when `cpu` may carry events: online per the header, or below NR_CPUS without one.
   * Otherwise the line is a problem (reported once per CPU id, every line counted).
   */
  cpuAllowed(cpu: number, line: number): boolean {
    const ok = this.cpuOk;
    if (ok !== undefined ? cpu < ok.length && ok[cpu] === 1 : cpu >= 0 && cpu <= MAX_CPU_ID) return true;
    const why = ok !== undefined ? `CPU ${cpu} is not among the header's online CPUs (#@cpus); line skipped` : `CPU ${cpu} is out of range (0..${MAX_CPU_ID}); line skipped`;
    if (this.strict) throw new InputError(why, this.file, line);
    this.skippedLines++;
    if (!this.reportedCpus.has(cpu) && this.reportedCpus.size < 64) {
      this.reportedCpus.add(cpu);
      this.add({ severity: 'warning', code: 'cpu-out-of-range', file: this.file, line, message: why });
    } else {
      this.opts.diagnostics.counts.set('cpu-out-of-range', this.opts.diagnostics.count('cpu-out-of-range') + 1);
    }
    return false;
  }

  /**
   * Returns a flat, shared copy of a short string (comm, device, function, workqueue): the
   * timeline keeps these, and a slice of a 1 MiB read chunk would pin the whole chunk.
   */
  intern(s: string): string {
    const hit = this.interned.get(s);
    if (hit !== undefined) return hit;
    const flat = flatten(s);
    // Distinct comms and devices are few; bound the table against hostile input.
    if (this.interned.size < 16384) this.interned.set(flat, flat);
    return flat;
  }

  /**
   * `intern(s.slice(a, b))` without the slice when the text was seen recently: a small table
   * indexed by a hash of the characters, checked with startsWith (no allocation on a hit).
   * Comms, devices and functions repeat on almost every line.
   *
   * Two slots per hash (the pair h & ~1, h | 1), the one hit last kept on a miss: a big gateway
   * has thousands of names in use at once (per-CPU comms, per-device threads and workqueues),
   * and with one slot per hash two hot names sharing it evicted each other on every line.
   */
  internAt(s: string, a: number, b: number): string {
    const len = b - a;
    if (len === 0) return '';
    // The last 8 characters all count: per-CPU and per-device names differ in a digit near
    // their end (ksoftirqd/123, napi/wg517-0, kworker/12:1); a hash of five positions sent 40%
    // of the lines of a 256-tunnel x 128-core capture to the slow path (issue 16). Every
    // character would cost 4% on the 5 M-event bench (function names are 24 long). internBytes
    // hashes the same way.
    let h = Math.imul(len ^ s.charCodeAt(a), 0x01000193) ^ s.charCodeAt(a + (len >> 1));
    for (let k = Math.max(a, b - STR_HASH_TAIL); k < b; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
    h = mix32(h) & STR_TABLE_MASK & ~1;
    const e0 = this.strTable[h]!;
    if (e0.length === len && sameAt(s, a, e0)) {
      this.strLast[h >> 1] = 0;
      return e0;
    }
    const e1 = this.strTable[h | 1]!;
    if (e1.length === len && sameAt(s, a, e1)) {
      this.strLast[h >> 1] = 1;
      return e1;
    }
    const v = this.intern(s.slice(a, b));
    // Replace the slot not hit last; it becomes the last.
    const slot = h | (this.strLast[h >> 1]! ^ 1);
    this.strLast[h >> 1] = slot & 1;
    this.strTable[slot] = v;
    this.strBytesOf(slot, v);
    return v;
  }

  /** Keeps the bytes of table entry h for internBytes when it is short ASCII (else marks it -1). */
  private strBytesOf(h: number, v: string): void {
    const n = v.length;
    this.strByteLen[h] = -1;
    if (n > STR_BYTES) return;
    const base = h * STR_BYTES;
    for (let k = 0; k < n; k++) {
      const c = v.charCodeAt(k);
      if (c > 127) return;
      this.strBytes[base + k] = c;
    }
    this.strByteLen[h] = n;
  }

  /** `normalizePointer(s.slice(a, b))`, with the same slice-free table for repeated pointers. */
  pointerAt(s: string, a: number, b: number): string | undefined {
    const len = b - a;
    if (len < 1) return undefined;
    // The last 8 characters (the low 32 bits): napi and work pointers often share the last 4.
    let h = len;
    for (let i = b - 1, lo = Math.max(a, b - 8); i >= lo; i--) h = (h * 31 + s.charCodeAt(i)) | 0;
    h &= STR_TABLE_MASK;
    const raw = this.ptrRaw[h]!;
    if (raw.length === len && sameAt(s, a, raw)) return this.ptrNorm[h];
    // A flat copy: normalizePointer caches its argument, and a slice would pin the chunk.
    const text = flatten(s.slice(a, b));
    const v = normalizePointer(text);
    if (v !== undefined) {
      this.ptrRaw[h] = text;
      this.ptrNorm[h] = v;
    }
    return v;
  }

  /**
   * internAt for the bytes u[a, b) of ASCII text: the same hash and table, lookup only.
   * Returns undefined on a miss (the caller then takes the string path, which fills the slot).
   */
  internBytes(u: Uint8Array, a: number, b: number): string | undefined {
    const len = b - a;
    if (len < 1 || a < 1) return undefined;
    let h = Math.imul(len ^ u[a]!, 0x01000193) ^ u[a + (len >> 1)]!;
    for (let k = Math.max(a, b - STR_HASH_TAIL); k < b; k++) h = Math.imul(h ^ u[k]!, 0x01000193);
    h = mix32(h) & STR_TABLE_MASK & ~1;
    if (this.slotHolds(h, u, a, b)) {
      this.strLast[h >> 1] = 0;
      return this.strTable[h];
    }
    if (this.slotHolds(h | 1, u, a, b)) {
      this.strLast[h >> 1] = 1;
      return this.strTable[h | 1];
    }
    return undefined;
  }

  /**
   * internBytes, and on a miss the (ASCII) bytes' string, interned and put in the table as
   * internAt puts it: for byte paths whose string path interns with intern(), which does not
   * fill the table (ftrace text, perf script). Undefined only for an empty or over-long range.
   */
  internBytesAdd(u: Uint8Array, a: number, b: number): string | undefined {
    const hit = this.internBytes(u, a, b);
    if (hit !== undefined) return hit;
    const len = b - a;
    if (len < 1 || len > MAX_INTERN_BYTES) return undefined;
    return this.internAt(String.fromCharCode.apply(null, u.subarray(a, b) as unknown as number[]), 0, len);
  }

  /** Whether string table slot h holds the bytes u[a, b). */
  private slotHolds(h: number, u: Uint8Array, a: number, b: number): boolean {
    const len = b - a;
    const e = this.strTable[h]!;
    if (e.length !== len) return false;
    if (this.strByteLen[h] === len) {
      // Typed array against typed array: about half the cost of charCodeAt per character.
      const sb = this.strBytes;
      const base = h * STR_BYTES - a;
      for (let k = a; k < b; k++) if (u[k] !== sb[base + k]) return false;
      return true;
    }
    return sameBytes(u, a, e);
  }

  /** pointerAt for the bytes u[a, b) of ASCII text, lookup only (undefined on a miss). */
  pointerBytes(u: Uint8Array, a: number, b: number): string | undefined {
    const len = b - a;
    if (len < 1) return undefined;
    let h = len;
    for (let i = b - 1, lo = Math.max(a, b - 8); i >= lo; i--) h = (h * 31 + u[i]!) | 0;
    h &= STR_TABLE_MASK;
    const raw = this.ptrRaw[h]!;
    return raw.length === len && sameBytes(u, a, raw) ? this.ptrNorm[h] : undefined;
  }

  /** `normalizePointer(text)` for a substring of the input, without pinning the input. */
  pointer(text: string): string | undefined {
    return this.pointerAt(text, 0, text.length);
  }

  push(ev: TraceEvent): void {
    this.batch.push(ev);
    if (this.batch.length >= EVENT_BATCH) this.flush();
  }

  lost(count: number, ts: Ns | undefined, line: number | undefined, message?: string): void {
    if (!this.headerSealed) this.sealHeader();
    this.lostEvents += count;
    this.note('warning', 'lost-events', message ?? `bpftrace lost ${count} events here; the analysis around this point is incomplete`, line);
    this.push(ts === undefined ? { kind: 'lost_events', count } : { kind: 'lost_events', ts, count });
  }

  flush(): void {
    if (this.batch.length === 0) return;
    const b = this.batch;
    this.events += b.length;
    this.batch = newBatch();
    this.opts.onEvents(b);
  }

  /** Ends the import: trailer, partial/no-header warnings, origin. */
  finish(): ImportSummary {
    if (!this.headerSealed) this.sealHeader();
    this.flush();
    const { header, issues } = finishHeader(this.headerState);
    for (const i of issues) {
      // Issues of the header part were reported when it was sealed; report only new ones.
      if (this.sealIssues.has(i.message)) continue;
      this.note(i.severity, i.code, i.message, i.line);
    }
    let full = header;
    const noHeader = full === undefined && (this.headerState.lines === 0 || onlyScriptMarks(this.headerState));
    if (noHeader && this.implied !== undefined) {
      full = this.implied.header;
      this.note(
        'warning',
        'no-header',
        `no #@ capture header: online CPUs from the tracer's ${this.implied.source}, capture bounds guessed from the events; device kinds, threaded flags and the /proc counters are unknown`,
      );
    } else if (noHeader) {
      this.note(
        'warning',
        'no-header',
        'no #@ capture header (bpftrace run without capture.sh or wgtrace capture?): online CPUs and capture bounds are guessed from the events; device kinds, threaded flags and the /proc counters are unknown',
      );
    } else if (full !== undefined && full.status === undefined) {
      full = { ...full, status: 'partial' };
      this.note('warning', 'partial-capture', 'capture has no #@status trailer: it was cut off (bpftrace killed, disk full or copy truncated); analysing what is there');
    }
    if (this.skippedLines > 0) {
      this.note('warning', 'skipped-lines', `${this.skippedLines} of ${this.lines} lines skipped (see the diagnostics above)`);
    }
    if (this.lostEvents > 0) {
      this.note('warning', 'lost-events-total', `${this.lostEvents} events lost by the tracer in total`);
    }
    const origin: BootNs = this.tb?.origin ?? bootNs(0n);
    return {
      format: this.format,
      ...(full !== undefined ? { header: full } : {}),
      origin,
      originFromHeader: this.originFromHeader,
      lines: this.lines,
      events: this.events,
      lostEvents: this.lostEvents,
      skippedLines: this.skippedLines,
      ...(this.untraced.size > 0 ? { untracedDevices: [...this.untraced].sort() } : {}),
    };
  }

  /** A device polled but left out by the capture's device filter (the scripts' `@untraced`). */
  untracedDevice(dev: string): void {
    if (this.untraced.size < 4096) this.untraced.add(sanitize(dev));
  }
}

/**
 * Makes text from the input safe to print on a terminal: control characters (C0, DEL, C1, which
 * include ESC and CSI) become `\xNN`, so a hostile capture cannot inject terminal escapes
 * into our one-line messages.
 */
export function sanitize(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * `s.startsWith(e, a)` for short `e`, as an inlined loop: the builtin call costs more than
 * comparing the 3 to 25 characters of a device, comm or pointer (profile: internAt and
 * pointerAt were 17% of an import, most of it in the call).
 */
function sameAt(s: string, a: number, e: string): boolean {
  const n = e.length;
  for (let k = 0; k < n; k++) if (s.charCodeAt(a + k) !== e.charCodeAt(k)) return false;
  return true;
}

/** Whether the bytes of u at a are the (ASCII) characters of e. */
function sameBytes(u: Uint8Array, a: number, e: string): boolean {
  const n = e.length;
  for (let k = 0; k < n; k++) if (u[a + k] !== e.charCodeAt(k)) return false;
  return true;
}

/** A copy of `s` that does not reference the string it was sliced from. */
function flatten(s: string): string {
  // Buffer round trip: cheap for short strings, and only done once per distinct string.
  return s.length === 0 ? '' : Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * Parses a decimal integer in s[a, b) without allocating: optional leading '-', at most 15
 * digits (< 2^53). Returns NaN for anything else.
 */
export function parseIntAt(s: string, a: number, b: number): number {
  let neg = false;
  if (a < b && s.charCodeAt(a) === 45) {
    neg = true;
    a++;
  }
  const n = b - a;
  if (n <= 0 || n > 15) return NaN;
  let v = 0;
  for (let i = a; i < b; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

const U64_MAX_TEXT = '18446744073709551615';

/**
 * Splits a decimal u64 of boot nanoseconds in s[a, b) into seconds and the last nine digits,
 * without allocating (TimeBase.fromSecParts keeps it exact past 2^53). Returns false when the
 * text is not a u64.
 */
export function bootNsPartsAt(s: string, a: number, b: number, out: { sec: number; sub: number }): boolean {
  const n = b - a;
  if (n <= 0 || n > 20) return false;
  if (n === 20 && s.slice(a, b) > U64_MAX_TEXT) return false;
  const cut = b - 9;
  let sec = 0;
  let sub = 0;
  for (let i = a; i < b; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (i < cut) sec = sec * 10 + d;
    else sub = sub * 10 + d;
  }
  out.sec = sec;
  out.sub = sub;
  return true;
}

/**
 * Splits decoded text chunks into lines, by hand (indexOf '\n'), with the line number, a
 * trailing '\r' removed, and a bound on line length: a line longer than MAX_LINE_CHARS is
 * reported once and skipped without being buffered.
 */
export class LineSplitter {
  private carry = '';
  /** Skipping the rest of an over-long line until its '\n'. */
  private skipping = false;
  private skipStart = 0;
  lineNo = 0;

  constructor(
    private readonly ctx: ImportContext,
    private readonly onLine: (s: string, a: number, b: number, line: number) => void,
    private readonly maxLine = MAX_LINE_CHARS,
  ) {}

  /** Characters held back waiting for their line's end (bounded by MAX_LINE_CHARS + one chunk). */
  get buffered(): number {
    return this.carry.length;
  }

  /** True between lines: nothing held back and no over-long line being skipped. */
  get idle(): boolean {
    return this.carry.length === 0 && !this.skipping;
  }

  /**
   * One whole line without its '\n' (only when idle), handled exactly as push would: CR
   * stripped, numbered, the length bound applied. The byte fast path's way out.
   */
  oneLine(s: string): void {
    let end = s.length;
    if (end > 0 && s.charCodeAt(end - 1) === 13) end--;
    const ln = ++this.lineNo;
    this.ctx.lines++;
    if (end > this.maxLine) this.longLine(ln);
    else this.onLine(s, 0, end, ln);
  }

  push(chunk: string): void {
    let s: string;
    let pos = 0;
    if (this.skipping) {
      const nl = chunk.indexOf('\n');
      if (nl < 0) return;
      this.endLongLine();
      s = chunk;
      pos = nl + 1;
    } else if (this.carry.length > 0) {
      // Still inside the same line: append without re-scanning what was held (a long line
      // arriving in small reads must stay linear, not quadratic).
      if (chunk.indexOf('\n') < 0) {
        if (this.carry.length + chunk.length > this.maxLine) {
          this.carry = '';
          this.skipping = true;
          this.skipStart = ++this.lineNo;
          this.ctx.lines++;
        } else this.carry += chunk;
        return;
      }
      s = this.carry + chunk;
    } else {
      s = chunk;
    }
    const onLine = this.onLine;
    const max = this.maxLine;
    for (;;) {
      const nl = s.indexOf('\n', pos);
      if (nl < 0) break;
      let end = nl;
      if (end > pos && s.charCodeAt(end - 1) === 13) end--;
      const ln = ++this.lineNo;
      this.ctx.lines++;
      if (end - pos > max) this.longLine(ln);
      else onLine(s, pos, end, ln);
      pos = nl + 1;
    }
    if (s.length - pos > max) {
      this.carry = '';
      this.skipping = true;
      this.skipStart = ++this.lineNo;
      this.ctx.lines++;
    } else {
      this.carry = pos === 0 ? s : s.slice(pos);
    }
  }

  private longLine(ln: number): void {
    this.ctx.problem('line-too-long', ln, `line longer than ${this.maxLine} characters; skipped`);
  }

  private endLongLine(): void {
    this.skipping = false;
    this.longLine(this.skipStart);
  }

  end(): void {
    if (this.skipping) {
      this.endLongLine();
      return;
    }
    let s = this.carry;
    this.carry = '';
    if (s.length === 0) return;
    let end = s.length;
    if (s.charCodeAt(end - 1) === 13) end--;
    const ln = ++this.lineNo;
    this.ctx.lines++;
    // A last line without '\n': written by a capture that was cut off. Parse it; a torn
    // record fails its own checks and is reported.
    if (end > 0) this.onLine(s, 0, end, ln);
    s = '';
  }
}

/**
 * The lines of `u`, an ASCII piece that ends with '\n' (import/index.ts cuts pieces so), with
 * the splitter idle: each line to `record`, a byte fast path that returns the index after the
 * line it took, or -1; a line it did not take goes to the splitter as text (its string path).
 */
export function byteLines(u: Buffer, split: LineSplitter, record: (u: Uint8Array, a: number) => number): void {
  const n = u.length;
  if (n === 0 || u[n - 1] !== 10) {
    split.push(u.toString('latin1'));
    return;
  }
  let pos = 0;
  while (pos < n) {
    const next = record(u, pos);
    if (next > 0) {
      pos = next;
      continue;
    }
    const nl = u.indexOf(10, pos);
    // ASCII: Latin-1 is the same text as UTF-8.
    split.oneLine(u.toString('latin1', pos, nl));
    pos = nl + 1;
  }
}

// ------------------------------------------------------------ trace lines from their bytes
//
// ftrace text and perf script print the same fields at the start of a line in two grammars:
//
//   ftrace:  `<comm>-<pid> [<cpu>] <flags> <sec>.<frac>: <event>: <payload>`
//            (kernel/trace/trace_output.c: trace_print_context, trace_print_time)
//   perf:    `<comm> <pid>[/<tid>] [<cpu>] <sec>.<frac>: <sys>:<event>: <payload>`
//            (tools/perf/builtin-script.c: perf_sample__fprintf_start)
//
// The pieces both byte fast paths read alike are here; what tells the grammars apart (the '-'
// or blank before the pid, the '/tid', ftrace's flags, perf's `sys:`) stays in each importer.
// Every reader runs on an ASCII piece that ends with '\n' (byteLines), so a scan that stops at
// a byte outside its class stops in bounds.

/** What the readers below found in a line (one per import: no state shared across imports). */
export interface LineFields {
  /** taskIdBefore: the digits' value. */
  id: number;
  /** cpuFieldAt: the CPU. */
  cpu: number;
  /** readSecondsColon: whole seconds and the fraction in ns. */
  sec: number;
  subNs: number;
}

export const newLineFields = (): LineFields => ({ id: 0, cpu: 0, sec: 0, subNs: 0 });

/**
 * The `[` of the `[cpu]` field: the first '[' from p, which must follow a blank. -1 when a
 * control byte (the line's '\n' included) or the byte `stop` comes first.
 */
export function cpuBracketAt(u: Uint8Array, p: number, stop: number): number {
  let c = u[p]!;
  while (c !== 91 /* [ */) {
    if (c < 32 || c === stop) return -1;
    c = u[++p]!;
  }
  return u[p - 1] === 32 ? p : -1;
}

/** Where the blanks that end at `end` start (not before `lo`): the end of the task id before the `[cpu]` field. */
export function blanksBefore(u: Uint8Array, end: number, lo: number): number {
  let q = end;
  while (q > lo && u[q - 1] === 32) q--;
  return q;
}

/**
 * 1 to 10 digits that end at `end` and start after `lo`, read from the right (the task id before
 * the `[cpu]` field, perf's pid before its `/tid`): where they start (f.id their value), or -1.
 */
export function digitsBefore(u: Uint8Array, end: number, lo: number, f: LineFields): number {
  let q = end;
  let id = 0;
  let mul = 1;
  for (;;) {
    const d = u[q - 1]! - 48;
    if (q <= lo || d >>> 0 > 9) break;
    id += d * mul;
    mul *= 10;
    q--;
  }
  if (q === end || end - q > 10) return -1;
  f.id = id;
  return q;
}

/**
 * `[cpu]` at `open` (1 to 5 digits), then at least one blank: the position after the blanks
 * (f.cpu the CPU), or -1.
 */
export function cpuFieldAt(u: Uint8Array, open: number, f: LineFields): number {
  let p = open + 1;
  let cpu = 0;
  for (;;) {
    const d = u[p]! - 48;
    if (d >>> 0 > 9) break;
    cpu = cpu * 10 + d;
    p++;
  }
  if (p === open + 1 || p - open > 6 || u[p] !== 93 /* ] */ || u[p + 1] !== 32) return -1;
  f.cpu = cpu;
  p += 2;
  while (u[p] === 32) p++;
  return p;
}

/** The end of a run of `\w` bytes in lower case ([a-z0-9_]: tracepoint and subsystem names) from p. */
export function wordEnd(u: Uint8Array, p: number): number {
  let c = u[p]!;
  while ((c >= 97 && c <= 122) || c === 95 || (c >= 48 && c <= 57)) c = u[++p]!;
  return p;
}

/** ns per unit of a fraction of n digits (seconds printed with up to 9 decimals). */
export const FRAC_TO_NS = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1];

/**
 * The `SECONDS.FRACTION: ` timestamp that ftrace text and perf script print before the event
 * name (kernel/trace/trace_output.c: trace_print_time; perf's `--ns` or microseconds), read
 * from the bytes of the line on the fast paths: 1 to 12 digits of seconds and 1 to 9 of
 * fraction (the general paths' regexes and time checks). Fills f.sec and f.subNs and returns
 * the position after ": " and the blanks that follow, or -1 when the bytes there are not such
 * a timestamp.
 */
export function readSecondsColon(u: Uint8Array, p: number, f: LineFields): number {
  let sec = 0;
  const ss = p;
  for (;;) {
    const d = u[p]! - 48;
    if (d >>> 0 > 9) break; // the piece ends with '\n': the loop ends in bounds
    sec = sec * 10 + d;
    p++;
  }
  if (p === ss || p - ss > 12 || u[p] !== 46 /* . */) return -1;
  p++;
  const fs = p;
  let sub = 0;
  for (;;) {
    const d = u[p]! - 48;
    if (d >>> 0 > 9) break;
    sub = sub * 10 + d;
    p++;
  }
  if (p === fs || p - fs > 9 || u[p] !== 58 /* : */ || u[p + 1] !== 32) return -1;
  f.sec = sec;
  f.subNs = sub * FRAC_TO_NS[p - fs]!;
  p += 2;
  while (u[p] === 32) p++;
  return p;
}

/**
 * A timestamp of whole seconds and ns as Ns, the capture's time base made from it when it is
 * the first (no `#@start_boot_ns`): what every path of ftrace text and perf script does.
 */
export function secondsToNs(ctx: ImportContext, sec: number, subNs: number): Ns {
  const tb = ctx.tb ?? ctx.timeBaseFrom(BigInt(sec) * 1_000_000_000n + BigInt(subNs));
  return tb.fromSecParts(sec, subNs);
}

/** `SECONDS` and `FRACTION` as the general paths' regexes captured them (at most 12 and 9 digits), as Ns. */
export function secondsTextToNs(ctx: ImportContext, secText: string, frac: string): Ns {
  return secondsToNs(ctx, Number(secText), Number(frac) * FRAC_TO_NS[frac.length]!);
}
