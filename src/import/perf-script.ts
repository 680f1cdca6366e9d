import type { Ns } from '../base/time.js';
import { ImportContext, LineSplitter } from './common.js';
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
 * tracepoints' print fmt (/work/shared/docs/tracepoint-formats-6.18.txt).
 */

const EVENT_AT = /\s(\d{1,12})\.(\d{1,9}):\s+(\w+):(\w+):(?: |$)/;
const PREFIX = /^\s*(.*?)\s+(\d{1,10})(?:\/(\d{1,10}))?\s+\[(\d{1,5})\]\s*$/;

/** include/trace/events/irq.h: "vec=%u [action=%s]". */
const SOFTIRQ = /^vec=(\d{1,3})(?:\s|$)/;
/** include/trace/events/napi.h: "napi poll on napi struct %p for device %s work %d budget %d". */
const NAPI_POLL = /^napi poll on napi struct (\S+) for device (\S+) work (-?\d{1,10}) budget (-?\d{1,10})\s*$/;
/**
 * include/trace/events/workqueue.h: "work struct=%p function=%ps workqueue=%s req_cpu=%d cpu=%d"
 * (workqueue is a pointer before 5.12; %ps may append " [module]").
 */
const QUEUE_WORK = /^work struct=(\S+) function=(.+?) workqueue=(\S+) req_cpu=(-?\d{1,10}) cpu=(-?\d{1,10})\s*$/;
/** "work struct %p: function %ps" (execute_end had no function before 5.x: then only "work struct %p"). */
const EXEC_WORK = /^work struct (\S+?):?(?: function (.+?))?\s*$/;
/** include/trace/events/sched.h (6.18 print fmt above); comms may contain spaces. */
const SCHED_SWITCH =
  /^prev_comm=(.*) prev_pid=(\d{1,10}) prev_prio=(-?\d{1,5}) prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d{1,10}) next_prio=(-?\d{1,5})\s*$/;
const MIGRATE = /^comm=(.*) pid=(\d{1,10}) prio=(-?\d{1,5}) orig_cpu=(\d{1,5}) dest_cpu=(\d{1,5})\s*$/;

/** `wg_packet_decrypt_worker [wireguard]` -> `wg_packet_decrypt_worker` (kallsyms adds the module). */
function stripModule(fn: string): string {
  const i = fn.indexOf(' [');
  return i > 0 && fn.endsWith(']') ? fn.slice(0, i) : fn;
}

const SCALE = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1];

export async function importPerfScript(chunks: AsyncIterable<string>, opts: ImportOptions): Promise<ImportSummary> {
  const ctx = new ImportContext('perf-script', opts);
  let ignored = 0;
  /** Tracepoints present in the file that we do not use, with their counts. */
  const otherEvents = new Map<string, number>();
  let otherSoftirqs = 0;

  const onLine = (s: string, a: number, b: number, line: number): void => {
    const text = s.slice(a, b);
    if (text.trim() === '') {
      ignored++;
      return;
    }
    if (text.startsWith('#')) {
      if (!ctx.headerLine(text, line)) ignored++;
      return;
    }
    const m = EVENT_AT.exec(text);
    if (!m) return ctx.problem('malformed-line', line, `not a perf script tracepoint line: "${text.slice(0, 80)}"`);
    const pm = PREFIX.exec(text.slice(0, m.index));
    if (!pm) return ctx.problem('malformed-line', line, `perf script line without "<comm> <pid> [<cpu>]" before the time: "${text.slice(0, 80)}"`);
    const sys = m[3]!;
    const name = m[4]!;
    const payload = text.slice(m.index + m[0].length);
    const pid = Number(pm[3] ?? pm[2]);
    const cpu = Number(pm[4]);
    // perf names every CPU's idle task "swapper" (tools/perf/util/machine.c), the kernel and
    // bpftrace's comm say "swapper/<cpu>" (kernel/sched/core.c: init_idle): use the kernel's.
    const comm = pid === 0 && pm[1] === 'swapper' ? ctx.intern(`swapper/${cpu}`) : ctx.intern(pm[1]!);
    const tp = `${sys}:${name}`;

    // Timestamp: seconds and a fraction of 9 digits (--ns) or 6 (microseconds).
    const sec = Number(m[1]);
    const frac = m[2]!;
    const subNs = Number(frac) * SCALE[frac.length]!;
    const tb = ctx.tb ?? ctx.timeBaseFrom(BigInt(m[1]!) * 1_000_000_000n + BigInt(subNs));
    const ts = tb.fromSecParts(sec, subNs) as Ns;

    const bad = (what: string): void => ctx.problem('malformed-line', line, `${tp}: ${what}: "${payload.slice(0, 80)}"`);
    switch (tp) {
      case 'irq:softirq_entry':
      case 'irq:softirq_exit':
      case 'irq:softirq_raise': {
        const v = SOFTIRQ.exec(payload);
        if (!v) return bad('expected vec=N');
        const vec = Number(v[1]);
        // Our bpftrace scripts record NET_TX (2) and NET_RX (3) only; so does this importer.
        if (vec !== 2 && vec !== 3) {
          otherSoftirqs++;
          ignored++;
          return;
        }
        if (!ctx.cpuAllowed(cpu, line)) return;
        if (name === 'softirq_entry') ctx.push({ kind: 'softirq_entry', ts, cpu, vec, pid, comm });
        else ctx.push({ kind: name === 'softirq_exit' ? 'softirq_exit' : 'softirq_raise', ts, cpu, vec });
        return;
      }
      case 'napi:napi_poll': {
        const v = NAPI_POLL.exec(payload);
        const napi = v ? ctx.pointer(v[1]!) : undefined;
        if (!v || napi === undefined) return bad('expected "napi poll on napi struct <ptr> for device <dev> work <n> budget <n>"');
        const work = Number(v[3]);
        const budget = Number(v[4]);
        if (work < 0 || budget < 0) return bad('negative work or budget');
        if (!ctx.cpuAllowed(cpu, line)) return;
        ctx.push({ kind: 'napi_poll', ts, cpu, napi, dev: ctx.intern(v[2]!), work, budget, pid, comm });
        return;
      }
      case 'workqueue:workqueue_queue_work': {
        const v = QUEUE_WORK.exec(payload);
        const work = v ? ctx.pointer(v[1]!) : undefined;
        if (!v || work === undefined) return bad('expected "work struct=<ptr> function=<fn> workqueue=<wq> req_cpu=<n> cpu=<n>"');
        if (!ctx.cpuAllowed(cpu, line)) return;
        ctx.push({
          kind: 'workqueue_queue_work',
          ts,
          cpu,
          work,
          function: ctx.intern(stripModule(v[2]!)),
          workqueue: ctx.intern(v[3]!),
          // perf prints req_cpu=8192 (WORK_CPU_UNBOUND = NR_CPUS) for queue_work(); kept as printed.
          reqCpu: Number(v[4]),
          targetCpu: Number(v[5]),
        });
        return;
      }
      case 'workqueue:workqueue_execute_start':
      case 'workqueue:workqueue_execute_end': {
        const v = EXEC_WORK.exec(payload);
        const work = v ? ctx.pointer(v[1]!) : undefined;
        if (!v || work === undefined) return bad('expected "work struct <ptr>: function <fn>"');
        if (!ctx.cpuAllowed(cpu, line)) return;
        ctx.push({ kind: name === 'workqueue_execute_start' ? 'workqueue_execute_start' : 'workqueue_execute_end', ts, cpu, work, function: ctx.intern(stripModule(v[2] ?? '')) });
        return;
      }
      case 'sched:sched_switch': {
        const v = SCHED_SWITCH.exec(payload);
        if (!v) return bad('expected "prev_comm=.. prev_pid=.. prev_prio=.. prev_state=.. ==> next_comm=.. next_pid=.. next_prio=.."');
        if (!ctx.cpuAllowed(cpu, line)) return;
        // One switch is two halves in our model: the task leaving, then the task entering.
        ctx.push({ kind: 'sched_switch_out', ts, cpu, pid: Number(v[2]), state: ctx.intern(v[4]!), comm: ctx.intern(v[1]!) });
        ctx.push({ kind: 'sched_switch_in', ts, cpu, pid: Number(v[6]), comm: ctx.intern(v[5]!) });
        return;
      }
      case 'sched:sched_migrate_task': {
        const v = MIGRATE.exec(payload);
        if (!v) return bad('expected "comm=.. pid=.. prio=.. orig_cpu=.. dest_cpu=.."');
        if (!ctx.cpuAllowed(cpu, line)) return;
        ctx.push({ kind: 'sched_migrate_task', ts, cpu, pid: Number(v[2]), origCpu: Number(v[4]), destCpu: Number(v[5]), comm: ctx.intern(v[1]!) });
        return;
      }
      default: {
        ignored++;
        const n = otherEvents.get(tp);
        if (n === undefined) {
          if (otherEvents.size < 256) otherEvents.set(tp, 1);
          ctx.note('info', 'unknown-event', `tracepoint ${tp.slice(0, 60)} is not used by wgtrace; its lines are ignored`, line);
        } else otherEvents.set(tp, n + 1);
      }
    }
  };

  const split = new LineSplitter(ctx, onLine);
  for await (const chunk of chunks) split.push(chunk);
  split.end();
  if (otherSoftirqs > 0) ctx.note('info', 'other-softirqs', `${otherSoftirqs} softirq events of vectors other than NET_TX/NET_RX ignored`);
  return { ...ctx.finish(), ignoredLines: ignored };
}

/** `<comm> <pid> [<cpu>] <sec>.<frac>: <sys>:<name>:` on some line of the head. */
const PERF_SNIFF = /^[^\n]*?\s\d{1,10}(?:\/\d{1,10})?\s+\[\d{1,5}\]\s+\d{1,12}\.\d{6,9}:\s+\w+:\w+:/m;

export const perfScriptImporter: Importer = {
  name: 'perf-script',
  sniff: (head) => PERF_SNIFF.test(head),
  import: importPerfScript,
};
