/**
 * Writes one of our bpftrace-text captures (events mode) as the text another tracer would have
 * printed for the same tracepoint hits, so that tests can check that wgtrace reads the same
 * capture the same way whatever printed it:
 *
 * - `ftrace`: `trace_pipe` lines framed by our `#@` header and trailer, as
 *   `capture.sh --tracer ftrace` writes them (docs/capture-format.md), with 5-character flags;
 * - `trace-cmd`: `trace-cmd report` of the same (`version = 6`, `CPU N is empty`, `cpus=N`,
 *   padded event names, no flags, sched_switch in libtraceevent's plugin form), without `#@`.
 *
 * Timestamps are printed in microseconds, as both tools do: the source capture must be on a
 * microsecond grid (notation captures are). A sched_switch is one SO record followed by its SI.
 */
export type Flavour = 'ftrace' | 'trace-cmd';

const STATE_LETTERS: Record<string, string> = { '0': 'R', '1': 'S', '2': 'D', '128': 'I', '1026': 'I' };

function time(ns: bigint): string {
  if (ns % 1000n !== 0n) throw new Error(`timestamp ${ns} is not on a microsecond grid`);
  const us = ns / 1000n;
  return `${us / 1_000_000n}.${String(us % 1_000_000n).padStart(6, '0')}`;
}

function task(comm: string, pid: number, cpu: number): string {
  const c = pid === 0 ? '<idle>' : comm === '' ? '<...>' : comm;
  void cpu;
  return `${c}-${pid}`.padStart(22);
}

export function toTracerText(bpftraceText: string, flavour: Flavour): string {
  const lines = bpftraceText.split('\n');
  const out: string[] = [];
  const header: string[] = [];
  const trailer: string[] = [];
  let cpus: number[] = [];
  let seenEvent = false;
  /** The current task per CPU: the comm and pid of the last record that named one. */
  const current = new Map<number, { comm: string; pid: number }>();
  const used = new Set<number>();
  const ev = (tsNs: string, cpu: number, name: string, payload: string, flags: string): void => {
    const t = current.get(cpu) ?? { comm: `swapper/${cpu}`, pid: 0 };
    used.add(cpu);
    const cpuField = `[${String(cpu).padStart(3, '0')}]`;
    if (flavour === 'ftrace') out.push(`${task(t.comm, t.pid, cpu)} ${cpuField} ${flags} ${time(BigInt(tsNs)).padStart(12)}: ${name}: ${payload}`);
    else out.push(`${task(t.comm, t.pid, cpu)} ${cpuField} ${time(BigInt(tsNs)).padStart(12)}: ${(name + ':').padEnd(21)} ${payload}`);
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    if (l.startsWith('#@')) {
      if (l.startsWith('#@cpus ')) {
        const [a, b] = l.slice(7).split('-').map(Number);
        cpus = Array.from({ length: (b ?? a!) - a! + 1 }, (_, k) => a! + k);
      }
      if (l.startsWith('#@wgtrace-capture')) header.push('#@wgtrace-capture 2', '#@tracer ftrace');
      else (seenEvent ? trailer : header).push(l);
      continue;
    }
    seenEvent = true;
    const f = l.split(' ');
    const [tag, ts, cpuText] = f;
    const cpu = Number(cpuText);
    switch (tag) {
      case 'SE':
        current.set(cpu, { comm: f.slice(5).join(' '), pid: Number(f[4]) });
        ev(ts!, cpu, 'softirq_entry', `vec=${f[3]} [action=${f[3] === '3' ? 'NET_RX' : 'NET_TX'}]`, '..s1.');
        break;
      case 'SX':
        ev(ts!, cpu, 'softirq_exit', `vec=${f[3]} [action=${f[3] === '3' ? 'NET_RX' : 'NET_TX'}]`, '..s1.');
        break;
      case 'SR':
        ev(ts!, cpu, 'softirq_raise', `vec=${f[3]} [action=NET_RX]`, 'd.h1.');
        break;
      case 'P':
        current.set(cpu, { comm: f.slice(8).join(' '), pid: Number(f[7]) });
        ev(ts!, cpu, 'napi_poll', `napi poll on napi struct ${f[3]!.replace(/^0x/, '')} for device ${f[4]} work ${f[5]} budget ${f[6]}`, '..s1.');
        break;
      case 'WQ':
        ev(ts!, cpu, 'workqueue_queue_work', `work struct=${f[3]!.replace(/^0x/, '')} function=${f[4]} workqueue=${f[5]} req_cpu=${f[6]} cpu=${f[7]}`, 'd..1.');
        break;
      case 'WS':
      case 'WE':
        if (!current.has(cpu) || current.get(cpu)!.pid === 0) current.set(cpu, { comm: `kworker/${cpu}:1`, pid: 100 + cpu });
        ev(ts!, cpu, tag === 'WS' ? 'workqueue_execute_start' : 'workqueue_execute_end', `work struct ${f[3]!.replace(/^0x/, '')}: function ${f[4]}`, '.....');
        break;
      case 'SO': {
        const si = (lines[i + 1] ?? '').split(' ');
        const paired = si[0] === 'SI' && si[1] === ts && si[2] === cpuText;
        if (paired) i++;
        const prev = { pid: Number(f[3]), state: STATE_LETTERS[f[4]!] ?? f[4]!, comm: f.slice(5).join(' ') };
        // Without its SI the thread went to sleep and the core idle (the script records only its threads' halves).
        const next = paired ? { pid: Number(si[3]), comm: si.slice(4).join(' ') } : { pid: 0, comm: `swapper/${cpu}` };
        current.set(cpu, { comm: prev.comm, pid: prev.pid });
        const payload =
          flavour === 'ftrace'
            ? `prev_comm=${prev.comm} prev_pid=${prev.pid} prev_prio=120 prev_state=${prev.state} ==> next_comm=${next.comm} next_pid=${next.pid} next_prio=120`
            : `${prev.comm}:${prev.pid} [120] ${prev.state} ==> ${next.comm}:${next.pid} [120]`;
        ev(ts!, cpu, 'sched_switch', payload, 'd..2.');
        current.set(cpu, next);
        break;
      }
      case 'SI': {
        // A switch-in whose switch-out was not recorded (the capture's first record on a
        // CPU): the tracer saw the whole switch, from whatever ran; here the idle task.
        const next = { pid: Number(f[3]), comm: f.slice(4).join(' ') };
        current.set(cpu, { comm: `swapper/${cpu}`, pid: 0 });
        const payload =
          flavour === 'ftrace'
            ? `prev_comm=swapper/${cpu} prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=${next.comm} next_pid=${next.pid} next_prio=120`
            : `swapper/${cpu}:0 [120] R ==> ${next.comm}:${next.pid} [120]`;
        ev(ts!, cpu, 'sched_switch', payload, 'd..2.');
        current.set(cpu, next);
        break;
      }
      case 'MG':
        ev(ts!, cpu, 'sched_migrate_task', `comm=${f.slice(6).join(' ')} pid=${f[3]} prio=120 orig_cpu=${f[4]} dest_cpu=${f[5]}`, 'd..2.');
        break;
      default:
        throw new Error(`line ${i + 1}: record ${tag} has no tracer form here`);
    }
  }
  if (flavour === 'ftrace') return [...header, ...out, ...trailer, ''].join('\n');
  const empty = cpus.filter((c) => !used.has(c)).map((c) => `CPU ${c} is empty`);
  return ['version = 6', ...empty, `cpus=${cpus.length}`, ...out, ''].join('\n');
}
