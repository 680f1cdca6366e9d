import type { Ns } from '../base/time.js';
import { NR_SOFTIRQS, prevStateLetters } from '../model/records.js';
import { SOFTIRQ_NET_RX } from '../model/events.js';
import type { ImportContext, LineSplitter } from './common.js';
import { HEX, PointerTable } from './pointer-table.js';

/**
 * The byte fast path of our capture text (docs/capture-format.md; the records of
 * src/model/records.ts). The hot records (P, SE, SX, SR, WQ, WS, WE, SI, SO, IE, IX) of an
 * all-ASCII piece are parsed from the bytes of the read buffer: one pass per line that finds
 * each field and parses it as it goes (a typed-array read costs about half a charCodeAt here,
 * and the piece is never decoded). It accepts only what the string path
 * (bpftrace-text.ts BpftraceRecordParser) would accept with the same result: plain digits for
 * numbers, a timestamp of at most 15 digits, and a device, function, comm or pointer already in
 * the intern tables. Anything else (a miss, a '\r', a sign, an error, any other record) goes to
 * the string path for that one line, which reports, interns and counts exactly as before.
 *
 * Each record's fields are read in the order of model/records.ts, written out here by hand: a
 * table-driven loop would cost a dispatch per field on the hot path.
 * test/unit/records.test.ts prints every record from that table and checks that this path and
 * the string path read the same event from it.
 */

/** Decimal digits that always fit a double exactly (10^15 < 2^53). */
const SAFE_DIGITS = 15;

/** The class table of the byte fast path (BpftraceByteParser.cls). */
function byteClasses(eol: number, stringPath: number[]): Uint8Array {
  const t = new Uint8Array(256);
  t[32] = 1;
  for (const c of stringPath) t[c] = 3;
  t[eol] = 2;
  return t;
}

/** What the byte path needs of the string path (bpftrace-text.ts BpftraceRecordParser): the origin it set up. */
export interface OriginSource {
  /** The origin as a number once the time base is known and below 2^53, else undefined. */
  readonly fastOrigin: number | undefined;
}

export class BpftraceByteParser {
  /** Origin (boot ns, below 2^53) the timestamps of the current piece are taken from. */
  private originNs = 0;

  constructor(
    private readonly ctx: ImportContext,
    private readonly rp: OriginSource,
  ) {}

  /** End of the last field read by num/token (the index of its ' ' or end of record). */
  private bp = 0;
  /** Byte that ends a record: '\n' in the text format, the '\' of the trailing `\n"}` in JSON. */
  private eol = 10;
  /** Per byte: 0 ordinary, 1 the field separator ' ', 2 the end of record, 3 take the string path. */
  private readonly cls = byteClasses(10, [13]);
  /** JSON lines: the record is followed by `n"}` and the line's '\n'. */
  private json = false;

  /** Records are the `data` of JSON printf lines: they end at the '\' of `\n"}`; '"' and '\n' inside are not ours. */
  jsonRecords(): void {
    this.json = true;
    this.eol = 92;
    this.cls.set(byteClasses(92, [10, 13, 34]));
  }

  /** Where the next line starts after the record's end at e, or -1 when the line goes on differently. */
  private next(u: Uint8Array, e: number): number {
    if (!this.json) return e + 1;
    // \n"} then the line's end
    return u[e + 1] === 110 && u[e + 2] === 34 && u[e + 3] === 125 && u[e + 4] === 10 ? e + 5 : -1;
  }

  /**
   * The string path has set up the time base (an origin below 2^53): the fast path can compute
   * timestamps. Takes that origin for the pieces that follow.
   */
  get ready(): boolean {
    const o = this.rp.fastOrigin;
    if (o === undefined) return false;
    this.originNs = o;
    return true;
  }

  /** Parses the lines of `u`, an ASCII piece that ends with '\n'; the splitter must be idle. */
  bytes(u: Uint8Array, split: LineSplitter, latin1: (a: number, b: number) => string, start?: (u: Uint8Array, pos: number) => number): void {
    const n = u.length;
    // Every scan below stops at the '\n' that ends the piece (so never reads past it).
    if (n === 0 || u[n - 1] !== 10) {
      split.push(latin1(0, n));
      return;
    }
    let pos = 0;
    while (pos < n) {
      const a = start === undefined ? pos : start(u, pos);
      const next = a < 0 ? -1 : this.recordBytes(u, a, split);
      if (next > 0) {
        pos = next;
        continue;
      }
      let nl = pos;
      while (u[nl] !== 10) nl++;
      split.oneLine(latin1(pos, nl));
      pos = nl + 1;
    }
  }

  /**
   * Unsigned decimal at u[p..] up to a ' ' or '\n' (1 to 15 digits): its value, or -1. Sets bp
   * to the terminator.
   */
  private num(u: Uint8Array, p: number): number {
    let v = 0;
    let i = p;
    // One unsigned compare per digit; the piece ends with '\n', so the loop ends in bounds.
    for (;;) {
      const d = u[i]! - 48;
      if (d >>> 0 > 9) break;
      v = v * 10 + d;
      i++;
    }
    this.bp = i;
    const c = u[i]!;
    return (c !== 32 && c !== this.eol) || i === p || i - p > SAFE_DIGITS ? -1 : v;
  }

  /**
   * A pointer field at u[p..] printed as bpftrace's %p does (`0x` and 16 hex digits): read as
   * two 32-bit halves, looked up by value (no text compare), its normal form made once per
   * value by normalizePointer. Any other text: the interned-text lookup. Sets bp to its end.
   */
  private pointerField(u: Uint8Array, p: number): string | undefined {
    if (u[p] === 48 && u[p + 1] === 120) {
      let hi = 0;
      let lo = 0;
      let bad = 0;
      for (let k = p + 2; k < p + 10; k++) {
        const h = HEX[u[k]!]!;
        bad |= h;
        hi = (hi << 4) | h;
      }
      for (let k = p + 10; k < p + 18; k++) {
        const h = HEX[u[k]!]!;
        bad |= h;
        lo = (lo << 4) | h;
      }
      const c = u[p + 18]!;
      if (bad >= 0 && (c === 32 || c === this.eol)) {
        this.bp = p + 18;
        const hit = this.ptrs.get(hi, lo);
        if (hit !== undefined) return hit;
        // normalizePointer's form of `0x` and 16 hex digits is the same digits in lower case
        // (model/events.ts), made here from the bytes without its regex, BigInt and cache.
        // One flat string (concatenation would leave a tree of 17 cons strings per pointer).
        const chars = this.ptrChars;
        for (let k = 0; k < 18; k++) {
          const b = u[p + k]!;
          chars[k] = b >= 65 && b <= 70 ? b + 32 : b;
        }
        const norm = String.fromCharCode.apply(null, chars as unknown as number[]);
        this.ptrs.set(hi, lo, norm);
        return norm;
      }
    }
    if (!this.token(u, p)) return undefined;
    return this.ctx.pointerBytes(u, p, this.bp);
  }

  /** Pointers by value (pointerField), and the characters of a new one. */
  private readonly ptrs = new PointerTable();
  private readonly ptrChars = new Uint16Array(18);

  /** A field at u[p..] up to ' ' or '\n' (never empty): sets bp to its end, returns false when empty. */
  private token(u: Uint8Array, p: number): boolean {
    let i = p;
    const cls = this.cls;
    for (;;) {
      const k = cls[u[i]!]!;
      if (k !== 0) {
        if (k === 3) return false;
        break;
      }
      i++;
    }
    this.bp = i;
    return i > p;
  }

  /**
   * The comm at u[p..], the rest of the line: '' at the end of the line, else an interned
   * string, or undefined (not seen yet, or a '\r'). Sets bp to the '\n'.
   */
  private commBytes(u: Uint8Array, p: number): string | undefined {
    let i = p;
    const cls = this.cls;
    for (;;) {
      const k = cls[u[i]!]!;
      if (k === 2) break;
      if (k === 3) return undefined;
      i++;
    }
    this.bp = i;
    return i === p ? '' : this.ctx.internBytes(u, p, i);
  }

  /** Timestamp, then CPU: ts of the record starting its fields at p, or NaN; bp at the CPU's end. */
  private tsCpuBytes(u: Uint8Array, p: number): number {
    const t = this.num(u, p);
    if (t < 0 || u[this.bp] !== 32) return NaN;
    this.cpuB = this.num(u, this.bp + 1);
    if (this.cpuB < 0) return NaN;
    return t - this.originNs;
  }

  private cpuB = 0;

  /** One record at u[a..]: the index after its '\n', or -1 for the string path. */
  private recordBytes(u: Uint8Array, a: number, split: LineSplitter): number {
    const c0 = u[a]!;
    const c1 = u[a + 1]!;
    if (c1 === 32) return c0 === 80 /* P */ ? this.pollBytes(u, a, split, false) : -1;
    if (u[a + 2] !== 32) return -1;
    if (c0 === 80 /* P */) return c1 === 83 /* S */ ? this.pollBytes(u, a, split, true) : -1;
    if (c0 === 83 /* S */) {
      if (c1 === 69 /* E */) return this.softirqEntryBytes(u, a, split);
      if (c1 === 88 /* X */) return this.softirqBytes(u, a, split, 'softirq_exit');
      if (c1 === 82 /* R */) return this.softirqBytes(u, a, split, 'softirq_raise');
      if (c1 === 73 /* I */) return this.switchInBytes(u, a, split);
      if (c1 === 79 /* O */) return this.switchOutBytes(u, a, split);
    } else if (c0 === 73 /* I */) {
      if (c1 === 69 /* E */) return this.coreIdleBytes(u, a, split, true);
      if (c1 === 88 /* X */) return this.coreIdleBytes(u, a, split, false);
    } else if (c0 === 87 /* W */) {
      if (c1 === 81 /* Q */) return this.queueWorkBytes(u, a, split);
      if (c1 === 83 /* S */) return this.execWorkBytes(u, a, split, 'workqueue_execute_start');
      if (c1 === 69 /* E */) return this.execWorkBytes(u, a, split, 'workqueue_execute_end');
    }
    return -1;
  }

  private pollBytes(u: Uint8Array, a: number, split: LineSplitter, withEntry: boolean): number {
    // P ts cpu napi dev work budget pid comm | PS ts cpu napi dev work budget pid entry comm
    const ts = this.tsCpuBytes(u, withEntry ? a + 3 : a + 2);
    if (ts !== ts || u[this.bp] !== 32) return -1;
    const cpu = this.cpuB;
    const napi = this.pointerField(u, this.bp + 1);
    const dp = this.bp + 1;
    if (napi === undefined || u[this.bp] !== 32 || !this.token(u, dp) || u[this.bp] !== 32) return -1;
    const dev = this.ctx.internBytes(u, dp, this.bp);
    if (dev === undefined) return -1;
    const work = this.num(u, this.bp + 1);
    if (work < 0 || u[this.bp] !== 32) return -1;
    const budget = this.num(u, this.bp + 1);
    if (budget < 0 || u[this.bp] !== 32) return -1;
    const pid = this.num(u, this.bp + 1);
    if (pid < 0) return -1;
    let entry = ts;
    if (withEntry) {
      if (u[this.bp] !== 32) return -1;
      const e = this.num(u, this.bp + 1);
      if (e < 0) return -1;
      entry = e - this.originNs;
      if (!(entry <= ts)) return -1;
    }
    const comm = u[this.bp] === this.eol ? '' : this.commBytes(u, this.bp + 1);
    if (comm === undefined) return -1;
    const end = this.next(u, this.bp);
    if (end < 0) return -1;
    const line = ++split.lineNo;
    this.ctx.lines++;
    if (!this.ctx.cpuAllowed(cpu, line)) return end;
    if (withEntry) this.ctx.push({ kind: 'softirq_entry', ts: entry as Ns, cpu, vec: SOFTIRQ_NET_RX, pid, comm });
    this.ctx.push({ kind: 'napi_poll', ts: ts as Ns, cpu, napi, dev, work, budget, pid, comm });
    return end;
  }

  private softirqEntryBytes(u: Uint8Array, a: number, split: LineSplitter): number {
    // SE ts cpu vec pid comm
    const ts = this.tsCpuBytes(u, a + 3);
    if (ts !== ts || u[this.bp] !== 32) return -1;
    const cpu = this.cpuB;
    const vec = this.num(u, this.bp + 1);
    if (!(vec >= 0 && vec < NR_SOFTIRQS) || u[this.bp] !== 32) return -1;
    const pid = this.num(u, this.bp + 1);
    if (pid < 0) return -1;
    const comm = u[this.bp] === this.eol ? '' : this.commBytes(u, this.bp + 1);
    if (comm === undefined) return -1;
    const end = this.next(u, this.bp);
    if (end < 0) return -1;
    const line = ++split.lineNo;
    this.ctx.lines++;
    if (this.ctx.cpuAllowed(cpu, line)) this.ctx.push({ kind: 'softirq_entry', ts: ts as Ns, cpu, vec, pid, comm });
    return end;
  }

  private softirqBytes(u: Uint8Array, a: number, split: LineSplitter, kind: 'softirq_exit' | 'softirq_raise'): number {
    // SX ts cpu vec | SR ts cpu vec
    const ts = this.tsCpuBytes(u, a + 3);
    if (ts !== ts || u[this.bp] !== 32) return -1;
    const cpu = this.cpuB;
    const vec = this.num(u, this.bp + 1);
    if (!(vec >= 0 && vec < NR_SOFTIRQS) || u[this.bp] !== this.eol) return -1;
    const end = this.next(u, this.bp);
    if (end < 0) return -1;
    const line = ++split.lineNo;
    this.ctx.lines++;
    if (this.ctx.cpuAllowed(cpu, line)) this.ctx.push({ kind, ts: ts as Ns, cpu, vec });
    return end;
  }

  private coreIdleBytes(u: Uint8Array, a: number, split: LineSplitter, idle: boolean): number {
    // IE ts cpu | IX ts cpu
    const ts = this.tsCpuBytes(u, a + 3);
    if (ts !== ts || u[this.bp] !== this.eol) return -1;
    const cpu = this.cpuB;
    const end = this.next(u, this.bp);
    if (end < 0) return -1;
    const line = ++split.lineNo;
    this.ctx.lines++;
    if (this.ctx.cpuAllowed(cpu, line)) this.ctx.push({ kind: 'core_idle', ts: ts as Ns, cpu, idle });
    return end;
  }

  private queueWorkBytes(u: Uint8Array, a: number, split: LineSplitter): number {
    // WQ ts cpu work function workqueue req_cpu target_cpu
    const ts = this.tsCpuBytes(u, a + 3);
    if (ts !== ts || u[this.bp] !== 32) return -1;
    const cpu = this.cpuB;
    const work = this.pointerField(u, this.bp + 1);
    const fp = this.bp + 1;
    if (work === undefined || u[this.bp] !== 32 || !this.token(u, fp) || u[this.bp] !== 32) return -1;
    const fn = this.ctx.internBytes(u, fp, this.bp);
    const qp = this.bp + 1;
    if (fn === undefined || !this.token(u, qp) || u[this.bp] !== 32) return -1;
    const wq = this.ctx.internBytes(u, qp, this.bp);
    if (wq === undefined) return -1;
    const reqCpu = this.num(u, this.bp + 1);
    if (reqCpu < 0 || u[this.bp] !== 32) return -1;
    const targetCpu = this.num(u, this.bp + 1);
    if (targetCpu < 0 || u[this.bp] !== this.eol) return -1;
    const end = this.next(u, this.bp);
    if (end < 0) return -1;
    const line = ++split.lineNo;
    this.ctx.lines++;
    if (this.ctx.cpuAllowed(cpu, line)) {
      this.ctx.push({ kind: 'workqueue_queue_work', ts: ts as Ns, cpu, work, function: fn, workqueue: wq, reqCpu, targetCpu });
    }
    return end;
  }

  private execWorkBytes(u: Uint8Array, a: number, split: LineSplitter, kind: 'workqueue_execute_start' | 'workqueue_execute_end'): number {
    // WS|WE ts cpu work function
    const ts = this.tsCpuBytes(u, a + 3);
    if (ts !== ts || u[this.bp] !== 32) return -1;
    const cpu = this.cpuB;
    const work = this.pointerField(u, this.bp + 1);
    const fp = this.bp + 1;
    if (work === undefined || u[this.bp] !== 32 || !this.token(u, fp) || u[this.bp] !== this.eol) return -1;
    const fn = this.ctx.internBytes(u, fp, this.bp);
    if (fn === undefined) return -1;
    const end = this.next(u, this.bp);
    if (end < 0) return -1;
    const line = ++split.lineNo;
    this.ctx.lines++;
    if (this.ctx.cpuAllowed(cpu, line)) this.ctx.push({ kind, ts: ts as Ns, cpu, work, function: fn });
    return end;
  }

  private switchInBytes(u: Uint8Array, a: number, split: LineSplitter): number {
    // SI ts cpu pid comm
    const ts = this.tsCpuBytes(u, a + 3);
    if (ts !== ts || u[this.bp] !== 32) return -1;
    const cpu = this.cpuB;
    const pid = this.num(u, this.bp + 1);
    if (pid < 0) return -1;
    const comm = u[this.bp] === this.eol ? '' : this.commBytes(u, this.bp + 1);
    if (comm === undefined) return -1;
    const end = this.next(u, this.bp);
    if (end < 0) return -1;
    const line = ++split.lineNo;
    this.ctx.lines++;
    if (this.ctx.cpuAllowed(cpu, line)) this.ctx.push({ kind: 'sched_switch_in', ts: ts as Ns, cpu, pid, comm });
    return end;
  }

  private switchOutBytes(u: Uint8Array, a: number, split: LineSplitter): number {
    // SO ts cpu pid prev_state comm (prev_state a number, or letters as perf prints them)
    const ts = this.tsCpuBytes(u, a + 3);
    if (ts !== ts || u[this.bp] !== 32) return -1;
    const cpu = this.cpuB;
    const pid = this.num(u, this.bp + 1);
    if (pid < 0 || u[this.bp] !== 32) return -1;
    const sp = this.bp + 1;
    let state: string | undefined;
    const s0 = u[sp]!;
    if (s0 >= 48 && s0 <= 57) {
      const st = this.num(u, sp);
      state = st < 0 ? undefined : prevStateLetters(st);
    } else if (this.token(u, sp)) state = this.ctx.internBytes(u, sp, this.bp);
    if (state === undefined || u[this.bp] !== 32) return -1;
    const comm = u[this.bp] === this.eol ? '' : this.commBytes(u, this.bp + 1);
    if (comm === undefined) return -1;
    const end = this.next(u, this.bp);
    if (end < 0) return -1;
    const line = ++split.lineNo;
    this.ctx.lines++;
    if (this.ctx.cpuAllowed(cpu, line)) this.ctx.push({ kind: 'sched_switch_out', ts: ts as Ns, cpu, pid, state, comm });
    return end;
  }
}
