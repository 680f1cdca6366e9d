// The synthetic events-mode capture of the benchmarks (bench/import-speed.mjs,
// bench/analyze-load.mjs): a realistic mix of P/SE/SX/WQ/WS/WE (+ NET_TX, ksoftirqd and a
// threaded NAPI's SI/SO) lines over 4 CPUs and 6 tunnels, written per CPU in 5 ms chunks the
// way bpftrace drains per-CPU buffers (ordered within a CPU, not across CPUs), with a fixed
// seed, in any of our input formats. Needs the build (the header comes from dist/).
import { closeSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

export const CPUS = 4;
export const NAPIS = 6;
/** The last tunnel's device runs threaded NAPI (its polls in napi/wg5-0). */
const THREADED = NAPIS - 1;
const ORIGIN = 2386077000000; // boot ns at the capture start (13 digits: exact as a number)
const CHUNK_NS = 5_000_000; // one CPU's buffer drained per 5 ms of its events

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n) => '0x' + n.toString(16).padStart(16, '0');
const napiPtr = (i) => hex(0xffff888627c2d000 + i * 0x1000);
const workPtr = (dev, cpu) => hex(0xffff888612340000 + dev * 0x100 + cpu * 8);

/**
 * Per CPU a cycle: maybe NET_TX; a NET_RX softirq (sometimes in ksoftirqd) that queues crypt
 * work on wg-crypt-<dev> and polls the tunnels homed on this CPU; a decrypt work item; for the
 * threaded tunnel a run of its kthread. Tunnels move to another CPU now and then.
 */
function* cpuEvents(cpu, seed) {
  const r = rng(seed);
  let t = 1000 + Math.floor(r() * 20000);
  const home = Array.from({ length: NAPIS }, (_, i) => i % CPUS);
  for (;;) {
    t += 5000 + Math.floor(r() * 60000);
    if (r() < 0.0005) home[Math.floor(r() * NAPIS)] = Math.floor(r() * CPUS);
    if (r() < 0.1) {
      yield ['SE', t, cpu, 2, 0, `swapper/${cpu}`];
      t += 1000 + Math.floor(r() * 2000);
      yield ['SX', t, cpu, 2];
    }
    const ks = r() < 0.15;
    const comm = ks ? `ksoftirqd/${cpu}` : `swapper/${cpu}`;
    const pid = ks ? 10 + cpu * 7 : 0;
    t += 500;
    yield ['SE', t, cpu, 3, pid, comm];
    const q = 1 + (r() < 0.5 ? 1 : 0);
    for (let i = 0; i < q; i++) {
      t += 300 + Math.floor(r() * 700);
      const dev = Math.floor(r() * NAPIS);
      const target = Math.floor(r() * CPUS);
      yield ['WQ', t, cpu, workPtr(dev, target), 'wg_packet_decrypt_worker', `wg-crypt-wg${dev}`, target, target];
    }
    for (let n = 0; n < NAPIS; n++) {
      if (n === THREADED || home[n] !== cpu || r() < 0.3) continue;
      t += 3000 + Math.floor(r() * 17000);
      const full = r() < 0.4;
      yield ['P', t, cpu, napiPtr(n), `wg${n}`, full ? 64 : 1 + Math.floor(r() * 63), 64, pid, comm];
    }
    t += 500;
    yield ['SX', t, cpu, 3];
    if (r() < 0.7) {
      const dev = Math.floor(r() * NAPIS);
      t += 1000 + Math.floor(r() * 5000);
      yield ['WS', t, cpu, workPtr(dev, cpu), 'wg_packet_decrypt_worker'];
      t += 5000 + Math.floor(r() * 25000);
      yield ['WE', t, cpu, workPtr(dev, cpu), 'wg_packet_decrypt_worker'];
    }
    if (home[THREADED] === cpu && r() < 0.5) {
      const tc = `napi/wg${THREADED}-0`;
      t += 1000;
      yield ['SI', t, cpu, 900, tc];
      const polls = 1 + Math.floor(r() * 3);
      for (let i = 0; i < polls; i++) {
        t += 3000 + Math.floor(r() * 10000);
        yield ['P', t, cpu, napiPtr(THREADED), `wg${THREADED}`, r() < 0.5 ? 64 : 7, 64, 900, tc];
      }
      t += 500;
      yield ['SO', t, cpu, 900, 'S', tc];
    }
  }
}

const textLine = (e) => `${e[0]} ${e[1] + ORIGIN} ${e.slice(2).join(' ')}`;

function perfLine(e) {
  const b = e[1] + ORIGIN;
  const ts = `${Math.floor(b / 1e9)}.${String(b % 1e9).padStart(9, '0')}`;
  const cpu = String(e[2]).padStart(3, '0');
  const head = (comm, pid) => `${comm.padStart(16)} ${String(pid).padStart(6)} [${cpu}] ${ts}:`;
  const vecName = (v) => (v === 3 ? 'NET_RX' : 'NET_TX');
  switch (e[0]) {
    case 'SE':
      return `${head(e[5], e[4])}                  irq:softirq_entry: vec=${e[3]} [action=${vecName(e[3])}]`;
    case 'SX':
      return `${head(`swapper/${e[2]}`, 0)}                   irq:softirq_exit: vec=${e[3]} [action=${vecName(e[3])}]`;
    case 'P':
      return `${head(e[8], e[7])}                     napi:napi_poll: napi poll on napi struct ${e[3]} for device ${e[4]} work ${e[5]} budget ${e[6]}`;
    case 'WQ':
      return `${head(`swapper/${e[2]}`, 0)} workqueue:workqueue_queue_work: work struct=${e[3]} function=${e[4]} workqueue=${e[5]} req_cpu=${e[6]} cpu=${e[7]}`;
    case 'WS':
      return `${head(`kworker/${e[2]}:1`, 100 + e[2])} workqueue:workqueue_execute_start: work struct ${e[3]}: function ${e[4]}`;
    case 'WE':
      return `${head(`kworker/${e[2]}:1`, 100 + e[2])} workqueue:workqueue_execute_end: work struct ${e[3]}: function ${e[4]}`;
    case 'SI':
      return `${head(`swapper/${e[2]}`, 0)}                 sched:sched_switch: prev_comm=swapper/${e[2]} prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=${e[4]} next_pid=${e[3]} next_prio=120`;
    case 'SO':
      return `${head(e[5], e[3])}                 sched:sched_switch: prev_comm=${e[5]} prev_pid=${e[3]} prev_prio=120 prev_state=${e[4]} ==> next_comm=swapper/${e[2]} next_pid=0 next_prio=120`;
  }
  throw new Error(e[0]);
}

/** The same events as ftrace's trace_pipe prints them (kernel/trace/trace_output.c: trace_print_context), 5-character flags, microseconds. */
function ftraceLine(e) {
  const b = e[1] + ORIGIN;
  const us = Math.floor(b / 1000);
  const ts = `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
  const cpu = String(e[2]).padStart(3, '0');
  const head = (comm, pid, flags) => `${`${pid === 0 ? '<idle>' : comm}-${pid}`.padStart(16 + 8)} [${cpu}] ${flags} ${ts.padStart(12)}:`;
  const vecName = (v) => (v === 3 ? 'NET_RX' : 'NET_TX');
  const p = (x) => x.slice(2);
  switch (e[0]) {
    case 'SE':
      return `${head(e[5], e[4], '..s1.')} softirq_entry: vec=${e[3]} [action=${vecName(e[3])}]`;
    case 'SX':
      return `${head(`swapper/${e[2]}`, 0, '..s1.')} softirq_exit: vec=${e[3]} [action=${vecName(e[3])}]`;
    case 'P':
      return `${head(e[8], e[7], '..s1.')} napi_poll: napi poll on napi struct ${p(e[3])} for device ${e[4]} work ${e[5]} budget ${e[6]}`;
    case 'WQ':
      return `${head(`swapper/${e[2]}`, 0, 'd.s2.')} workqueue_queue_work: work struct=${p(e[3])} function=${e[4]} workqueue=${e[5]} req_cpu=${e[6]} cpu=${e[7]}`;
    case 'WS':
      return `${head(`kworker/${e[2]}:1`, 100 + e[2], '.....')} workqueue_execute_start: work struct ${p(e[3])}: function ${e[4]}`;
    case 'WE':
      return `${head(`kworker/${e[2]}:1`, 100 + e[2], '.....')} workqueue_execute_end: work struct ${p(e[3])}: function ${e[4]}`;
    case 'SI':
      return `${head(`swapper/${e[2]}`, 0, 'd..2.')} sched_switch: prev_comm=swapper/${e[2]} prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=${e[4]} next_pid=${e[3]} next_prio=120`;
    case 'SO':
      return `${head(e[5], e[3], 'd..2.')} sched_switch: prev_comm=${e[5]} prev_pid=${e[3]} prev_prio=120 prev_state=${e[4]} ==> next_comm=swapper/${e[2]} next_pid=0 next_prio=120`;
  }
  throw new Error(e[0]);
}

const CSV_COLUMNS = 'kind,ts,cpu,napi,dev,work,budget,vec,pid,comm,function,workqueue,req_cpu,target_cpu,state,orig_cpu,dest_cpu';
function csvLine(e) {
  const row = (o) =>
    CSV_COLUMNS.split(',')
      .map((c) => o[c] ?? '')
      .join(',');
  const base = { ts: e[1] + ORIGIN, cpu: e[2] };
  switch (e[0]) {
    case 'SE':
      return row({ ...base, kind: 'softirq_entry', vec: e[3], pid: e[4], comm: e[5] });
    case 'SX':
      return row({ ...base, kind: 'softirq_exit', vec: e[3] });
    case 'P':
      return row({ ...base, kind: 'napi_poll', napi: e[3], dev: e[4], work: e[5], budget: e[6], pid: e[7], comm: e[8] });
    case 'WQ':
      return row({ ...base, kind: 'workqueue_queue_work', work: e[3], function: e[4], workqueue: e[5], req_cpu: e[6], target_cpu: e[7] });
    case 'WS':
      return row({ ...base, kind: 'workqueue_execute_start', work: e[3], function: e[4] });
    case 'WE':
      return row({ ...base, kind: 'workqueue_execute_end', work: e[3], function: e[4] });
    case 'SI':
      return row({ ...base, kind: 'sched_switch_in', pid: e[3], comm: e[4] });
    case 'SO':
      return row({ ...base, kind: 'sched_switch_out', pid: e[3], state: e[4], comm: e[5] });
  }
  throw new Error(e[0]);
}

export const FORMATS = {
  'bpftrace-text': { ext: 'txt', line: textLine, pre: ['Attaching 12 probes...'] },
  'bpftrace-json': { ext: 'json', line: (e) => `{"type": "printf", "data": "${textLine(e)}\\n"}`, pre: ['{"type": "attached_probes", "data": {"probes": 12}}'] },
  'perf-script': { ext: 'perf.txt', line: perfLine, pre: [] },
  // Our wrapper's framing: the #@ header is written around it as for the others.
  ftrace: { ext: 'ftrace.txt', line: ftraceLine, pre: ['#@tracer ftrace'] },
  csv: { ext: 'csv', line: csvLine, pre: [CSV_COLUMNS] },
};

class Out {
  constructor(path) {
    this.fd = openSync(path, 'w');
    this.buf = [];
    this.size = 0;
  }
  line(s) {
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size > 1 << 22) this.flush();
  }
  flush() {
    writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
    this.size = 0;
  }
  close() {
    if (this.buf.length > 0) this.flush();
    closeSync(this.fd);
  }
}

/** Writes `n` events into one file per requested format; returns the count and the capture length. */
export async function generate(n, files) {
  const { formatHeaderLines, formatTrailerLines } = await import(join(dist, 'model/capture-text.js'));
  const { VERSION } = await import(join(dist, 'base/version.js'));
  const header = {
    formatVersion: 1,
    toolVersion: VERSION,
    hostname: 'bench-gw',
    kernel: '6.18.44',
    bpftraceVersion: 'bpftrace v0.17.0',
    cpus: Array.from({ length: CPUS }, (_, i) => i),
    mode: 'events',
    startBootNs: String(ORIGIN),
    devices: Array.from({ length: NAPIS }, (_, i) => ({ name: `wg${i}`, kind: 'wireguard', threaded: i === THREADED ? 1 : 0, rxQueues: 1 })),
  };
  const outs = files.map(([fmt, path]) => {
    const o = new Out(path);
    const f = FORMATS[fmt];
    for (const l of formatHeaderLines(header)) o.line(l);
    for (const l of f.pre) o.line(l);
    return { o, f };
  });
  const gens = Array.from({ length: CPUS }, (_, c) => cpuEvents(c, 1234 + c));
  const pending = Array.from({ length: CPUS }, () => undefined);
  let written = 0;
  let chunkEnd = CHUNK_NS;
  outer: for (;;) {
    // One round: each CPU's buffer drained in turn, rotating who goes first.
    for (let k = 0; k < CPUS; k++) {
      const c = (k + chunkEnd / CHUNK_NS) % CPUS;
      for (;;) {
        const e = pending[c] ?? gens[c].next().value;
        pending[c] = undefined;
        if (e[1] >= chunkEnd) {
          pending[c] = e;
          break;
        }
        for (const { o, f } of outs) o.line(f.line(e));
        if (++written >= n) break outer;
      }
    }
    chunkEnd += CHUNK_NS;
  }
  const end = chunkEnd + 1_000_000;
  const trailer = { ...header, probesStartBootNs: String(ORIGIN + 500), probesStopBootNs: String(ORIGIN + end - 500), endBootNs: String(ORIGIN + end), status: 'complete' };
  for (const { o } of outs) {
    for (const l of formatTrailerLines(trailer)) o.line(l);
    o.close();
  }
  return { events: written, durationNs: end };
}
