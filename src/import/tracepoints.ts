import type { Ns } from '../base/time.js';
import { MAX_LINE_CHARS, RecentName, type ImportContext, type LineSplitter } from './common.js';
import { HEX, PointerTable } from './pointer-table.js';

/**
 * The payloads of the tracepoints wgtrace reads, as the kernel prints them (each event's
 * `print fmt`, include/trace/events/{napi,irq,workqueue,sched}.h; this kernel's formats are in
 * docs/formats.md) and as libtraceevent's plugins print them (perf script, trace-cmd report).
 * Shared by the text importers of other tracers (ftrace text, trace-cmd report, perf script):
 * each finds the event's name, CPU, task and time in its own line layout, then hands the
 * payload here.
 */

/** include/trace/events/irq.h: "vec=%u [action=%s]". */
const SOFTIRQ = /^vec=(\d{1,3})(?:\s|$)/;
/** include/trace/events/napi.h: "napi poll on napi struct %p for device %s work %d budget %d". */
const NAPI_POLL = /^napi poll on napi struct (\S+) for device (\S+) work (-?\d{1,10}) budget (-?\d{1,10})\s*$/;
/** Old kernels' napi_poll had neither work nor budget: such polls cannot be counted. */
const NAPI_POLL_OLD = /^napi poll on napi struct (\S+) for device (\S+)\s*$/;
/**
 * include/trace/events/workqueue.h: "work struct=%p function=%ps workqueue=%s req_cpu=%d cpu=%d"
 * (workqueue is a pointer before 5.12; %ps may append " [module]").
 */
const QUEUE_WORK = /^work struct=(\S+) function=(.+?) workqueue=(\S+) req_cpu=(-?\d{1,10}) cpu=(-?\d{1,10})\s*$/;
/** "work struct %p: function %ps" (execute_end had no function before 5.x: then only "work struct %p"). */
const EXEC_WORK = /^work struct (\S+?):?(?: function (.+?))?\s*$/;
/** The kernel's print fmt of sched_switch; comms may contain spaces. */
const SCHED_SWITCH = /^prev_comm=(.*) prev_pid=(\d{1,10}) prev_prio=(-?\d{1,5}) prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d{1,10}) next_prio=(-?\d{1,5})\s*$/;
/**
 * libtraceevent's plugin_sched_switch.c (sched_switch_handler), used by perf script and
 * trace-cmd report: "<prev_comm>:<prev_pid> [<prio>] <state> ==> <next_comm>:<next_pid> [<prio>]".
 */
const SCHED_SWITCH_PLUGIN = /^(.*):(\d{1,10}) \[(-?\d{1,5})\] (\S+) ==> (.*):(\d{1,10}) \[(-?\d{1,5})\]\s*$/;
const MIGRATE = /^comm=(.*) pid=(\d{1,10}) prio=(-?\d{1,5}) orig_cpu=(\d{1,5}) dest_cpu=(\d{1,5})\s*$/;
/** %p of a 64- or 32-bit kernel: hashed (`00000000a1b2c3d4`, `06e44eda`) or raw, with or without 0x. */
const HEX_POINTER = /^(?:0x)?([0-9a-fA-F]{1,16})$/;

/** `wg_packet_decrypt_worker [wireguard]` -> `wg_packet_decrypt_worker` (kallsyms adds the module). */
function stripModule(fn: string): string {
  const i = fn.indexOf(' [');
  return i > 0 && fn.endsWith(']') ? fn.slice(0, i) : fn;
}

/**
 * The plugin's letters for prev_state: libtraceevent's write_state() used "SDTtZXxW" for bits
 * 0..7 until 2023, where the kernel's own print fmt (sched.h, TASK_REPORT) says "SDTtXZPI":
 * bit 7, TASK_REPORT_IDLE, prints `W` there and means `I`, the idle kworker that timeline rule 7
 * relies on. Only that letter is translated.
 */
function pluginState(s: string): string {
  return s.includes('W') ? s.replace(/W/g, 'I') : s;
}

export class TracepointPayloads {
  /** Tracepoints present that wgtrace does not use, with their counts (bounded). */
  readonly otherEvents = new Map<string, number>();
  otherSoftirqs = 0;
  /** Lines of events not used (other tracepoints, other softirq vectors). */
  ignored = 0;
  private readonly ptrCache = new Map<string, string>();

  constructor(private readonly ctx: ImportContext) {}

  /** `%p` text as our pointer form (`0x` + 16 lowercase hex digits); hex even when all digits are decimal. */
  pointer(text: string): string | undefined {
    const hit = this.ptrCache.get(text);
    if (hit !== undefined) return hit;
    const m = HEX_POINTER.exec(text);
    if (!m) return undefined;
    const out = '0x' + m[1]!.toLowerCase().padStart(16, '0');
    if (this.ptrCache.size < 65536) this.ptrCache.set(text.length > 24 ? text : Buffer.from(text).toString(), out);
    return out;
  }

  /** An event whose name is not ours: ignored, reported once per name. */
  other(display: string, line: number): void {
    this.ignored++;
    const n = this.otherEvents.get(display);
    if (n === undefined) {
      if (this.otherEvents.size < 256) {
        this.otherEvents.set(display, 1);
        this.ctx.note('info', 'unknown-event', `event ${display.slice(0, 60)} is not used by wgtrace; its lines are ignored`, line);
      }
    } else this.otherEvents.set(display, n + 1);
  }

  /** True when `name` (the bare tracepoint name) is one this class reads. */
  static known(name: string): boolean {
    return KNOWN.has(name);
  }

  /**
   * One event: `name` the bare tracepoint name (`napi_poll`), `display` how to name it in
   * messages (`napi:napi_poll`), `payload` the text after the name. Pushes model events, or
   * reports the line as malformed.
   */
  event(name: string, display: string, payload: string, ts: Ns, cpu: number, pid: number, comm: string, line: number): void {
    const ctx = this.ctx;
    const bad = (what: string): void => ctx.problem('malformed-line', line, `${display}: ${what}: "${payload.slice(0, 80)}"`);
    switch (name) {
      case 'softirq_entry':
      case 'softirq_exit':
      case 'softirq_raise': {
        const v = SOFTIRQ.exec(payload);
        if (!v) return bad('expected vec=N');
        const vec = Number(v[1]);
        // Our bpftrace scripts record NET_TX (2) and NET_RX (3) only; so do these importers.
        if (vec !== 2 && vec !== 3) {
          this.otherSoftirqs++;
          this.ignored++;
          return;
        }
        if (!ctx.cpuAllowed(cpu, line)) return;
        if (name === 'softirq_entry') ctx.push({ kind: 'softirq_entry', ts, cpu, vec, pid, comm });
        else ctx.push({ kind: name, ts, cpu, vec });
        return;
      }
      case 'napi_poll': {
        const v = NAPI_POLL.exec(payload);
        if (!v) {
          if (NAPI_POLL_OLD.test(payload)) return bad("no work or budget (an old kernel's napi_poll): polls cannot be counted");
          return bad('expected "napi poll on napi struct <ptr> for device <dev> work <n> budget <n>"');
        }
        const napi = this.pointer(v[1]!);
        if (napi === undefined) return bad('napi struct is not a pointer');
        const work = Number(v[3]);
        const budget = Number(v[4]);
        if (work < 0 || budget < 0) return bad('negative work or budget');
        if (!ctx.cpuAllowed(cpu, line)) return;
        ctx.push({ kind: 'napi_poll', ts, cpu, napi, dev: ctx.intern(v[2]!), work, budget, pid, comm });
        return;
      }
      case 'workqueue_queue_work': {
        const v = QUEUE_WORK.exec(payload);
        const work = v ? this.pointer(v[1]!) : undefined;
        if (!v || work === undefined) return bad('expected "work struct=<ptr> function=<fn> workqueue=<wq> req_cpu=<n> cpu=<n>"');
        if (!ctx.cpuAllowed(cpu, line)) return;
        ctx.push({
          kind: 'workqueue_queue_work',
          ts,
          cpu,
          work,
          function: ctx.intern(stripModule(v[2]!)),
          workqueue: ctx.intern(v[3]!),
          // req_cpu=8192 (WORK_CPU_UNBOUND = NR_CPUS) for queue_work(); kept as printed.
          reqCpu: Number(v[4]),
          targetCpu: Number(v[5]),
        });
        return;
      }
      case 'workqueue_execute_start':
      case 'workqueue_execute_end': {
        const v = EXEC_WORK.exec(payload);
        const work = v ? this.pointer(v[1]!) : undefined;
        if (!v || work === undefined) return bad('expected "work struct <ptr>: function <fn>"');
        if (!ctx.cpuAllowed(cpu, line)) return;
        ctx.push({ kind: name, ts, cpu, work, function: ctx.intern(stripModule(v[2] ?? '')) });
        return;
      }
      case 'sched_switch': {
        let prevComm: string;
        let prevPid: number;
        let state: string;
        let nextComm: string;
        let nextPid: number;
        const v = SCHED_SWITCH.exec(payload);
        if (v) {
          prevComm = v[1]!;
          prevPid = Number(v[2]);
          state = v[4]!;
          nextComm = v[5]!;
          nextPid = Number(v[6]);
        } else {
          const p = SCHED_SWITCH_PLUGIN.exec(payload);
          if (!p) return bad('expected "prev_comm=.. prev_pid=.. prev_prio=.. prev_state=.. ==> next_comm=.. next_pid=.. next_prio=.." or "<comm>:<pid> [<prio>] <state> ==> <comm>:<pid> [<prio>]"');
          prevComm = p[1]!;
          prevPid = Number(p[2]);
          state = pluginState(p[4]!);
          nextComm = p[5]!;
          nextPid = Number(p[6]);
        }
        if (!ctx.cpuAllowed(cpu, line)) return;
        // The idle task is pid 0 on every CPU (kernel/sched/core.c: init_idle): a switch to it
        // is the core going idle, a switch from it the core leaving idle (events.ts:
        // CoreIdleEvent), put first as format 3's events script printed IE/IX before the halves.
        if (nextPid === 0 && prevPid !== 0) ctx.push({ kind: 'core_idle', ts, cpu, idle: true });
        else if (prevPid === 0 && nextPid !== 0) ctx.push({ kind: 'core_idle', ts, cpu, idle: false });
        // One switch is two halves in our model: the task leaving, then the task entering.
        ctx.push({ kind: 'sched_switch_out', ts, cpu, pid: prevPid, state: ctx.intern(state), comm: ctx.intern(prevComm) });
        ctx.push({ kind: 'sched_switch_in', ts, cpu, pid: nextPid, comm: ctx.intern(nextComm) });
        return;
      }
      case 'sched_migrate_task': {
        const v = MIGRATE.exec(payload);
        if (!v) return bad('expected "comm=.. pid=.. prio=.. orig_cpu=.. dest_cpu=.."');
        if (!ctx.cpuAllowed(cpu, line)) return;
        ctx.push({ kind: 'sched_migrate_task', ts, cpu, pid: Number(v[2]), origCpu: Number(v[4]), destCpu: Number(v[5]), comm: ctx.intern(v[1]!) });
        return;
      }
      default:
        this.other(display, line);
    }
  }

  // ------------------------------------------------------------------ byte fast path
  //
  // The payloads of the frequent events, read from the bytes of an all-ASCII piece (import/
  // index.ts passes those as Buffers): no decode, no regex, no slice. Each reader accepts only
  // what event() accepts with the same result (the payload regexes above, for the shapes the
  // kernel prints: tokens without blanks, unsigned numbers, a known name in the intern
  // tables) and returns -1 for anything else, having changed nothing: the importer then hands
  // that one line to its string path, which reads, interns and reports it as before.

  /** End of the last field read by the byte readers (the index of the byte after it). */
  private bp = 0;
  /** Pointers by value and the characters of a new one's normal form. */
  private readonly ptrs = new PointerTable();
  private readonly ptrChars = new Uint16Array(18);

  /** Unsigned decimal of 1 to `max` digits at u[p..]: its value (bp after it), or -1. */
  private numBytes(u: Uint8Array, p: number, max: number): number {
    let v = 0;
    let q = p;
    for (;;) {
      const d = u[q]! - 48;
      if (d >>> 0 > 9) break; // the piece ends with '\n': the loop ends in bounds
      v = v * 10 + d;
      q++;
    }
    this.bp = q;
    return q === p || q - p > max ? -1 : v;
  }

  /** `-`? and 1 to 5 digits (a prio): bp after it, false when not one. */
  private prioBytes(u: Uint8Array, p: number): boolean {
    return this.numBytes(u, u[p] === 45 ? p + 1 : p, 5) >= 0;
  }

  /**
   * `%p` at u[p..] ended by the byte `end`: `0x`? and 1 to 16 hex digits (HEX_POINTER), in its
   * normal form as pointer() gives it (`0x` + 16 lowercase digits: the value, so looked up by
   * value). bp at the end byte; undefined when it is not such a pointer.
   */
  private pointerBytes(u: Uint8Array, p: number, end: number): string | undefined {
    let q = p;
    if (u[q] === 48 && u[q + 1] === 120 && HEX[u[q + 2]!]! >= 0) q += 2;
    const ds = q;
    let hi = 0;
    let lo = 0;
    for (;;) {
      const h = HEX[u[q]!]!;
      if (h < 0) break;
      hi = (hi << 4) | (lo >>> 28);
      lo = (lo << 4) | h;
      q++;
    }
    if (q === ds || q - ds > 16 || u[q] !== end) return undefined;
    this.bp = q;
    const hit = this.ptrs.get(hi, lo);
    if (hit !== undefined) return hit;
    const chars = this.ptrChars;
    chars[0] = 48;
    chars[1] = 120;
    for (let k = 0; k < 16; k++) {
      const n = ((k < 8 ? hi >>> (28 - 4 * k) : lo >>> (60 - 4 * k)) & 15) >>> 0;
      chars[2 + k] = n < 10 ? 48 + n : 87 + n;
    }
    const norm = String.fromCharCode.apply(null, chars as unknown as number[]);
    this.ptrs.set(hi, lo, norm);
    return norm;
  }

  /** A name or token at u[p..] up to the byte `end` (no blank or control byte in it, 1 to `max` bytes), interned; bp at `end`. */
  private tokenBytes(u: Uint8Array, p: number, end: number, max: number): string | undefined {
    let q = p;
    let c = u[q]!;
    while (c > 32 && c !== end) c = u[++q]!;
    if (c !== end || q === p || q - p > max) return undefined;
    this.bp = q;
    return this.ctx.internBytesAdd(u, p, q);
  }

  /** tokenBytes through the field's RecentName `r`: no hashing when it repeats the last one. */
  private tokenRecent(u: Uint8Array, p: number, end: number, max: number, r: RecentName): string | undefined {
    const hit = r.lengthAt(u, p, end);
    if (hit !== undefined) {
      this.bp = r.end;
      return hit;
    }
    const v = this.tokenBytes(u, p, end, max);
    if (v !== undefined) r.keep(u, p, this.bp, v);
    return v;
  }

  /** The last names of the fields that repeat most. */
  private readonly recentFn = new RecentName();
  private readonly recentExecFn = new RecentName();
  private readonly recentPrev = new RecentName();
  private readonly recentNext = new RecentName();
  private readonly recentState = new RecentName();

  /** Blanks then the line's '\n' at u[p..]: the index after the '\n', or -1. */
  private static eol(u: Uint8Array, p: number): number {
    while (u[p] === 32) p++;
    return u[p] === 10 ? p + 1 : -1;
  }

  /**
   * One event line's payload at u[p..] (the event's name at u[na, nb), the line at u[la..]):
   * the events pushed and the index after the line's '\n', or -1 (nothing done) for the
   * string path. The line is counted (split.lineNo, ctx.lines) only when it is taken.
   */
  eventBytes(u: Uint8Array, la: number, na: number, nb: number, p: number, ts: Ns, cpu: number, pid: number, comm: string, split: LineSplitter): number {
    const len = nb - na;
    if (len === 9) return isName(u, na, N_NAPI_POLL) ? this.napiBytes(u, la, p, ts, cpu, pid, comm, split) : -1;
    // One compare per line: the names of a length told apart by one byte (softirq_[e]ntry /
    // softirq_[r]aise, s[o]ftirq_exit / s[c]hed_switch), then that name compared whole.
    if (len === 13) {
      if (u[na + 8] === 101 /* e */) return isName(u, na, N_SOFTIRQ_ENTRY) ? this.softirqBytes(u, la, p, ts, cpu, pid, comm, split, 1) : -1;
      return isName(u, na, N_SOFTIRQ_RAISE) ? this.softirqBytes(u, la, p, ts, cpu, pid, comm, split, 3) : -1;
    }
    if (len === 12) {
      if (u[na + 1] === 111 /* o */) return isName(u, na, N_SOFTIRQ_EXIT) ? this.softirqBytes(u, la, p, ts, cpu, pid, comm, split, 2) : -1;
      return isName(u, na, N_SCHED_SWITCH) ? this.switchBytes(u, la, p, ts, cpu, split) : -1;
    }
    if (len === 20) return isName(u, na, N_QUEUE_WORK) ? this.queueWorkBytes(u, la, p, ts, cpu, split) : -1;
    if (len === 23) return isName(u, na, N_EXECUTE_START) ? this.execWorkBytes(u, la, p, ts, cpu, split, 'workqueue_execute_start') : -1;
    if (len === 21) return isName(u, na, N_EXECUTE_END) ? this.execWorkBytes(u, la, p, ts, cpu, split, 'workqueue_execute_end') : -1;
    return -1;
  }

  /** Counts the line taken at u[la, end) (at most MAX_LINE_CHARS, as the line splitter allows): its number, or -1 when too long. */
  private take(la: number, end: number, split: LineSplitter): number {
    if (end - 1 - la > MAX_LINE_CHARS) return -1;
    this.ctx.lines++;
    return ++split.lineNo;
  }

  private softirqBytes(u: Uint8Array, la: number, p: number, ts: Ns, cpu: number, pid: number, comm: string, split: LineSplitter, k: number): number {
    // SOFTIRQ: "vec=%u [action=%s]", the action the kernel's name of the vector (irq.h: show_softirq_name).
    if (!hasAt(u, p, L_VEC)) return -1;
    const vec = this.numBytes(u, p + 4, 3);
    let q = this.bp;
    if (vec < 0) return -1;
    if (u[q] === 32) {
      if (!hasAt(u, q + 1, L_ACTION)) return -1;
      q += 9;
      let c = u[q]!;
      while ((c >= 65 && c <= 90) || c === 95) c = u[++q]!;
      if (c !== 93 /* ] */) return -1;
      q++;
    }
    const end = TracepointPayloads.eol(u, q);
    if (end < 0) return -1;
    const line = this.take(la, end, split);
    if (line < 0) return -1;
    if (vec !== 2 && vec !== 3) {
      this.otherSoftirqs++;
      this.ignored++;
      return end;
    }
    const ctx = this.ctx;
    if (!ctx.cpuAllowed(cpu, line)) return end;
    if (k === 1) ctx.push({ kind: 'softirq_entry', ts, cpu, vec, pid, comm });
    else ctx.push({ kind: k === 2 ? 'softirq_exit' : 'softirq_raise', ts, cpu, vec });
    return end;
  }

  private napiBytes(u: Uint8Array, la: number, p: number, ts: Ns, cpu: number, pid: number, comm: string, split: LineSplitter): number {
    // NAPI_POLL: "napi poll on napi struct %p for device %s work %d budget %d"
    if (!hasAt(u, p, L_NAPI)) return -1;
    const napi = this.pointerBytes(u, p + L_NAPI.length, 32);
    if (napi === undefined || !hasAt(u, this.bp, L_FOR_DEVICE)) return -1;
    // IFNAMSIZ - 1: a device name is at most 15 characters.
    const dev = this.tokenBytes(u, this.bp + L_FOR_DEVICE.length, 32, 15);
    if (dev === undefined || !hasAt(u, this.bp, L_WORK)) return -1;
    const work = this.numBytes(u, this.bp + L_WORK.length, 10);
    if (work < 0 || !hasAt(u, this.bp, L_BUDGET)) return -1;
    const budget = this.numBytes(u, this.bp + L_BUDGET.length, 10);
    if (budget < 0) return -1;
    const end = TracepointPayloads.eol(u, this.bp);
    if (end < 0) return -1;
    const line = this.take(la, end, split);
    if (line < 0) return -1;
    if (this.ctx.cpuAllowed(cpu, line)) this.ctx.push({ kind: 'napi_poll', ts, cpu, napi, dev, work, budget, pid, comm });
    return end;
  }

  private queueWorkBytes(u: Uint8Array, la: number, p: number, ts: Ns, cpu: number, split: LineSplitter): number {
    // QUEUE_WORK: "work struct=%p function=%ps workqueue=%s req_cpu=%d cpu=%d"
    if (!hasAt(u, p, L_WORK_STRUCT_EQ)) return -1;
    const work = this.pointerBytes(u, p + L_WORK_STRUCT_EQ.length, 32);
    if (work === undefined || !hasAt(u, this.bp, L_FUNCTION_EQ)) return -1;
    const fn = this.tokenRecent(u, this.bp + L_FUNCTION_EQ.length, 32, 127, this.recentFn);
    if (fn === undefined || !hasAt(u, this.bp, L_WORKQUEUE_EQ)) return -1;
    const wq = this.tokenBytes(u, this.bp + L_WORKQUEUE_EQ.length, 32, 127);
    if (wq === undefined || !hasAt(u, this.bp, L_REQ_CPU_EQ)) return -1;
    const reqCpu = this.numBytes(u, this.bp + L_REQ_CPU_EQ.length, 10);
    if (reqCpu < 0 || !hasAt(u, this.bp, L_CPU_EQ)) return -1;
    const targetCpu = this.numBytes(u, this.bp + L_CPU_EQ.length, 10);
    if (targetCpu < 0) return -1;
    const end = TracepointPayloads.eol(u, this.bp);
    if (end < 0) return -1;
    const line = this.take(la, end, split);
    if (line < 0) return -1;
    if (this.ctx.cpuAllowed(cpu, line)) this.ctx.push({ kind: 'workqueue_queue_work', ts, cpu, work, function: fn, workqueue: wq, reqCpu, targetCpu });
    return end;
  }

  private execWorkBytes(u: Uint8Array, la: number, p: number, ts: Ns, cpu: number, split: LineSplitter, kind: 'workqueue_execute_start' | 'workqueue_execute_end'): number {
    // EXEC_WORK: "work struct %p: function %ps" (a function without " [module]")
    if (!hasAt(u, p, L_WORK_STRUCT)) return -1;
    const work = this.pointerBytes(u, p + L_WORK_STRUCT.length, 58 /* : */);
    if (work === undefined || !hasAt(u, this.bp, L_COLON_FUNCTION)) return -1;
    const fp = this.bp + L_COLON_FUNCTION.length;
    // Most lines end with a function kept from a line before, then the line's '\n': one compare
    // finds both (a kept name has no byte <= 32, so the scan below would stop at that '\n').
    let fn = this.recentExecFn.lengthAt(u, fp, 10);
    let q: number;
    if (fn !== undefined) q = this.recentExecFn.end;
    else {
      q = fp;
      let c = u[q]!;
      while (c > 32) c = u[++q]!;
      if (q === fp || q - fp > 127) return -1;
    }
    const end = TracepointPayloads.eol(u, q);
    if (end < 0) return -1;
    if (fn === undefined && (fn = this.recentExecFn.at(u, fp, q)) === undefined) {
      fn = this.ctx.internBytesAdd(u, fp, q);
      if (fn === undefined) return -1;
      this.recentExecFn.keep(u, fp, q, fn);
    }
    const line = this.take(la, end, split);
    if (line < 0) return -1;
    if (this.ctx.cpuAllowed(cpu, line)) this.ctx.push({ kind, ts, cpu, work, function: fn });
    return end;
  }

  private switchBytes(u: Uint8Array, la: number, p: number, ts: Ns, cpu: number, split: LineSplitter): number {
    // SCHED_SWITCH, the kernel's print fmt, with comms without blanks (TASK_COMM_LEN - 1 = 15
    // characters at most): then the line has one reading only. The plugin form: string path.
    if (!hasAt(u, p, L_PREV_COMM)) return -1;
    const prevComm = this.tokenRecent(u, p + L_PREV_COMM.length, 32, 15, this.recentPrev);
    if (prevComm === undefined || !hasAt(u, this.bp, L_PREV_PID)) return -1;
    const prevPid = this.numBytes(u, this.bp + L_PREV_PID.length, 10);
    if (prevPid < 0 || !hasAt(u, this.bp, L_PREV_PRIO) || !this.prioBytes(u, this.bp + L_PREV_PRIO.length) || !hasAt(u, this.bp, L_PREV_STATE)) return -1;
    const state = this.tokenRecent(u, this.bp + L_PREV_STATE.length, 32, 32, this.recentState);
    if (state === undefined || !hasAt(u, this.bp, L_NEXT_COMM)) return -1;
    const nextComm = this.tokenRecent(u, this.bp + L_NEXT_COMM.length, 32, 15, this.recentNext);
    if (nextComm === undefined || !hasAt(u, this.bp, L_NEXT_PID)) return -1;
    const nextPid = this.numBytes(u, this.bp + L_NEXT_PID.length, 10);
    if (nextPid < 0 || !hasAt(u, this.bp, L_NEXT_PRIO) || !this.prioBytes(u, this.bp + L_NEXT_PRIO.length)) return -1;
    const end = TracepointPayloads.eol(u, this.bp);
    if (end < 0) return -1;
    const line = this.take(la, end, split);
    if (line < 0) return -1;
    const ctx = this.ctx;
    if (!ctx.cpuAllowed(cpu, line)) return end;
    // As event(): the idle task's switches are the core's idle edges, put first.
    if (nextPid === 0 && prevPid !== 0) ctx.push({ kind: 'core_idle', ts, cpu, idle: true });
    else if (prevPid === 0 && nextPid !== 0) ctx.push({ kind: 'core_idle', ts, cpu, idle: false });
    ctx.push({ kind: 'sched_switch_out', ts, cpu, pid: prevPid, state, comm: prevComm });
    ctx.push({ kind: 'sched_switch_in', ts, cpu, pid: nextPid, comm: nextComm });
    return end;
  }

  /** Closing notes: which other events and vectors were ignored, with counts. */
  finish(): void {
    if (this.otherSoftirqs > 0) this.ctx.note('info', 'other-softirqs', `${this.otherSoftirqs} softirq events of vectors other than NET_TX/NET_RX ignored`);
    if (this.otherEvents.size > 0) {
      const list = [...this.otherEvents].sort((a, b) => b[1] - a[1]);
      const shown = list
        .slice(0, 8)
        .map(([n, c]) => `${n} ${c}`)
        .join(', ');
      const total = list.reduce((s, [, c]) => s + c, 0);
      this.ctx.note('info', 'other-events', `${total} lines of events wgtrace does not use ignored (${shown}${list.length > 8 ? ', ...' : ''})`);
    }
  }
}

const KNOWN = new Set([
  'softirq_entry',
  'softirq_exit',
  'softirq_raise',
  'napi_poll',
  'workqueue_queue_work',
  'workqueue_execute_start',
  'workqueue_execute_end',
  'sched_switch',
  'sched_migrate_task',
]);

/** Bytes of an ASCII literal, for the byte fast path's compares. */
function lit(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Whether u[p..] holds the bytes of `l` (the piece ends with '\n', which no literal holds: never reads past it). */
function hasAt(u: Uint8Array, p: number, l: Uint8Array): boolean {
  const n = l.length;
  for (let k = 0; k < n; k++) if (u[p + k] !== l[k]) return false;
  return true;
}

/** Whether u[na..] is the event name `l` (the caller checked the length). */
const isName = hasAt;

const N_NAPI_POLL = lit('napi_poll');
const N_SOFTIRQ_ENTRY = lit('softirq_entry');
const N_SOFTIRQ_EXIT = lit('softirq_exit');
const N_SOFTIRQ_RAISE = lit('softirq_raise');
const N_SCHED_SWITCH = lit('sched_switch');
const N_QUEUE_WORK = lit('workqueue_queue_work');
const N_EXECUTE_START = lit('workqueue_execute_start');
const N_EXECUTE_END = lit('workqueue_execute_end');
const L_VEC = lit('vec=');
const L_ACTION = lit('[action=');
const L_NAPI = lit('napi poll on napi struct ');
const L_FOR_DEVICE = lit(' for device ');
const L_WORK = lit(' work ');
const L_BUDGET = lit(' budget ');
const L_WORK_STRUCT_EQ = lit('work struct=');
const L_FUNCTION_EQ = lit(' function=');
const L_WORKQUEUE_EQ = lit(' workqueue=');
const L_REQ_CPU_EQ = lit(' req_cpu=');
const L_CPU_EQ = lit(' cpu=');
const L_WORK_STRUCT = lit('work struct ');
const L_COLON_FUNCTION = lit(': function ');
const L_PREV_COMM = lit('prev_comm=');
const L_PREV_PID = lit(' prev_pid=');
const L_PREV_PRIO = lit(' prev_prio=');
const L_PREV_STATE = lit(' prev_state=');
const L_NEXT_COMM = lit(' ==> next_comm=');
const L_NEXT_PID = lit(' next_pid=');
const L_NEXT_PRIO = lit(' next_prio=');
