import type { Ns } from '../base/time.js';
import type { ImportContext } from './common.js';

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
const SCHED_SWITCH =
  /^prev_comm=(.*) prev_pid=(\d{1,10}) prev_prio=(-?\d{1,5}) prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d{1,10}) next_prio=(-?\d{1,5})\s*$/;
/**
 * libtraceevent's plugin_sched_switch.c (sched_switch_handler), used by perf script and
 * trace-cmd report: "<prev_comm>:<prev_pid> [<prio>] <state> ==> <next_comm>:<next_pid> [<prio>]".
 */
const SCHED_SWITCH_PLUGIN = /^(.*):(\d{1,10}) \[(-?\d{1,5})\] (\S+) ==> (.*):(\d{1,10}) \[(-?\d{1,5})\]\s*$/;
const MIGRATE = /^comm=(.*) pid=(\d{1,10}) prio=(-?\d{1,5}) orig_cpu=(\d{1,5}) dest_cpu=(\d{1,5})\s*$/;
/** Slots of the slice-free pointer table (a power of two). */
const PTR_SLOTS = 4096;
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

  private readonly ptrRaw: string[] = Array.from({ length: PTR_SLOTS }, () => '');
  private readonly ptrNorm: string[] = Array.from({ length: PTR_SLOTS }, () => '');

  /** `pointer(s.slice(a, b))` without the slice when the same text was seen recently (the fast paths). */
  pointerAt(s: string, a: number, b: number): string | undefined {
    const len = b - a;
    if (len < 1 || len > 18) return undefined;
    let h = len;
    for (let i = b - 1, lo = Math.max(a, b - 8); i >= lo; i--) h = (h * 31 + s.charCodeAt(i)) | 0;
    h &= PTR_SLOTS - 1;
    const raw = this.ptrRaw[h]!;
    if (raw.length === len) {
      let k = 0;
      while (k < len && raw.charCodeAt(k) === s.charCodeAt(a + k)) k++;
      if (k === len) return this.ptrNorm[h];
    }
    const text = Buffer.from(s.slice(a, b), 'utf8').toString('utf8');
    const v = this.pointer(text);
    if (v !== undefined) {
      this.ptrRaw[h] = text;
      this.ptrNorm[h] = v;
    }
    return v;
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
          if (NAPI_POLL_OLD.test(payload)) return bad('no work or budget (an old kernel\'s napi_poll): polls cannot be counted');
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
        // CoreIdleEvent), put first as our events script prints IE/IX before the halves.
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


  /** End of the number digitsAt read last. */
  private digitsEnd = 0;
  /** Unsigned decimal of 1-9 digits at s[p..]: its value (digitsEnd after it), or -1. */
  private digitsAt(s: string, p: number): number {
    let v = 0;
    let q = p;
    for (;;) {
      const d = s.charCodeAt(q) - 48;
      if (!(d >= 0 && d <= 9)) break; // NaN past the string ends it too
      v = v * 10 + d;
      q++;
    }
    this.digitsEnd = q;
    return q === p || q - p > 9 ? -1 : v;
  }

  /**
   * The payloads of the most frequent events read in place from s[p, pe) (the event's name at
   * s[na, nb)): no regex, no slice. False: not the common form, let event() read it.
   */
  fastEvent(s: string, na: number, nb: number, p: number, pe: number, ts: Ns, cpu: number, pid: number, comm: string, line: number): boolean {
    const ctx = this.ctx;
    const nlen = nb - na;
    const c0 = s.charCodeAt(na);
    if (c0 === 115 /* s */ && (nlen === 13 || nlen === 12) && s.startsWith('softirq_', na) && s.startsWith('vec=', p)) {
      const k = nlen === 13 ? (s.startsWith('entry', na + 8) ? 1 : s.startsWith('raise', na + 8) ? 3 : 0) : s.startsWith('exit', na + 8) ? 2 : 0;
      if (k === 0) return false;
      let q = p + 4;
      let vec = 0;
      const vs = q;
      for (;;) {
        const d = s.charCodeAt(q) - 48;
        if (!(d >= 0 && d <= 9)) break; // NaN past the string ends it too
        vec = vec * 10 + d;
        q++;
      }
      if (q === vs || q - vs > 3 || (q < pe && s.charCodeAt(q) !== 32)) return false;
      if (vec !== 2 && vec !== 3) {
        this.otherSoftirqs++;
        this.ignored++;
        return true;
      }
      if (!ctx.cpuAllowed(cpu, line)) return true;
      if (k === 1) ctx.push({ kind: 'softirq_entry', ts, cpu, vec, pid, comm });
      else ctx.push({ kind: k === 2 ? 'softirq_exit' : 'softirq_raise', ts, cpu, vec });
      return true;
    }
    if (c0 === 110 /* n */ && nlen === 9 && s.startsWith('napi_poll', na) && s.startsWith('napi poll on napi struct ', p)) {
      const pa = p + 25;
      const pb = s.indexOf(' ', pa);
      if (pb < 0 || pb >= pe || !s.startsWith(' for device ', pb)) return false;
      const da = pb + 12;
      const db = s.indexOf(' ', da);
      if (db < 0 || db >= pe || !s.startsWith(' work ', db)) return false;
      let q = db + 6;
      const work = this.digitsAt(s, q);
      q = this.digitsEnd;
      if (work < 0 || !s.startsWith(' budget ', q)) return false;
      const budget = this.digitsAt(s, q + 8);
      if (budget < 0 || this.digitsEnd !== pe) return false;
      const napi = this.pointerAt(s, pa, pb);
      if (napi === undefined) return false;
      if (!ctx.cpuAllowed(cpu, line)) return true;
      ctx.push({ kind: 'napi_poll', ts, cpu, napi, dev: ctx.internAt(s, da, db), work, budget, pid, comm });
      return true;
    }
    if (c0 === 119 /* w */ && nlen >= 20 && s.startsWith('workqueue_', na)) {
      if ((nlen === 23 && s.startsWith('execute_start', na + 10)) || (nlen === 21 && s.startsWith('execute_end', na + 10))) {
        if (!s.startsWith('work struct ', p)) return false;
        const pa = p + 12;
        const pb = s.indexOf(':', pa);
        if (pb < 0 || pb >= pe || !s.startsWith(': function ', pb)) return false;
        const fa = pb + 11;
        if (s.indexOf(' ', fa) >= 0 && s.indexOf(' ', fa) < pe) return false;
        const work = this.pointerAt(s, pa, pb);
        if (work === undefined || fa >= pe) return false;
        if (!ctx.cpuAllowed(cpu, line)) return true;
        ctx.push({ kind: nlen === 23 ? 'workqueue_execute_start' : 'workqueue_execute_end', ts, cpu, work, function: ctx.internAt(s, fa, pe) });
        return true;
      }
      if (nlen === 20 && s.startsWith('queue_work', na + 10) && s.startsWith('work struct=', p)) {
        const pa = p + 12;
        const pb = s.indexOf(' ', pa);
        if (pb < 0 || pb >= pe || !s.startsWith(' function=', pb)) return false;
        const fa = pb + 10;
        const fb = s.indexOf(' ', fa);
        if (fb < 0 || fb >= pe || !s.startsWith(' workqueue=', fb)) return false;
        const qa = fb + 11;
        const qb = s.indexOf(' ', qa);
        if (qb < 0 || qb >= pe || !s.startsWith(' req_cpu=', qb)) return false;
        const reqCpu = this.digitsAt(s, qb + 9);
        if (reqCpu < 0 || !s.startsWith(' cpu=', this.digitsEnd)) return false;
        const targetCpu = this.digitsAt(s, this.digitsEnd + 5);
        if (targetCpu < 0 || this.digitsEnd !== pe) return false;
        const work = this.pointerAt(s, pa, pb);
        if (work === undefined) return false;
        if (!ctx.cpuAllowed(cpu, line)) return true;
        ctx.push({ kind: 'workqueue_queue_work', ts, cpu, work, function: ctx.internAt(s, fa, fb), workqueue: ctx.internAt(s, qa, qb), reqCpu, targetCpu });
        return true;
      }
    }
    return false;
  }

  /** Closing notes: which other events and vectors were ignored, with counts. */
  finish(): void {
    if (this.otherSoftirqs > 0) this.ctx.note('info', 'other-softirqs', `${this.otherSoftirqs} softirq events of vectors other than NET_TX/NET_RX ignored`);
    if (this.otherEvents.size > 0) {
      const list = [...this.otherEvents].sort((a, b) => b[1] - a[1]);
      const shown = list.slice(0, 8).map(([n, c]) => `${n} ${c}`).join(', ');
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

/** ns per unit of a fraction of n digits (seconds printed with up to 9 decimals). */
export const FRAC_TO_NS = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1];

/** A timestamp read by readSecondsColon: whole seconds and the fraction in ns. */
export interface SecParts {
  sec: number;
  subNs: number;
}

/**
 * The `SECONDS.FRACTION: ` timestamp that ftrace text and perf script print before the event
 * name (kernel/trace/trace_output.c: trace_print_time; perf's `--ns` or microseconds), read in
 * place on the fast path: at most 12 digits of seconds and 9 of fraction. Fills `out` and
 * returns the position after ": ", or -1 when the text there is not such a timestamp.
 */
export function readSecondsColon(s: string, p: number, out: SecParts): number {
  let sec = 0;
  const ss = p;
  for (;;) {
    const d = s.charCodeAt(p) - 48;
    if (!(d >= 0 && d <= 9)) break; // NaN past the string ends it too
    sec = sec * 10 + d;
    p++;
  }
  if (p === ss || p - ss > 12 || s.charCodeAt(p) !== 46 /* . */) return -1;
  p++;
  const fs = p;
  let sub = 0;
  for (;;) {
    const d = s.charCodeAt(p) - 48;
    if (!(d >= 0 && d <= 9)) break;
    sub = sub * 10 + d;
    p++;
  }
  if (p === fs || p - fs > 9 || s.charCodeAt(p) !== 58 /* : */ || s.charCodeAt(p + 1) !== 32) return -1;
  out.sec = sec;
  out.subNs = sub * FRAC_TO_NS[p - fs]!;
  return p + 2;
}
