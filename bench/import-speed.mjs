#!/usr/bin/env node
// Import + timeline speed and peak memory, against a plain Node line split of the same file
// measured in the same run (bench/README.md, "import-speed").
//
//   npm run build && node bench/import-speed.mjs [--events 5000000] [--small 1000000] [--csv-events 200000] [--repeat 1] [--regen]
//
// Generates captures in our formats under bench/out/ (git-ignored): a realistic mix of
// P/SE/SX/WQ/WS/WE (+ NET_TX, ksoftirqd and a threaded NAPI's SI/SO) lines over 4 CPUs and
// 6 tunnels, written per CPU in chunks the way bpftrace drains per-CPU buffers (ordered
// within a CPU, not across CPUs). Each case runs in its own child process, which reports
// its wall time and its peak RSS (process.resourceUsage().maxRSS).
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeSync, createReadStream } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const outDir = join(here, 'out');
const dist = join(root, 'dist');

const args = process.argv.slice(2);
const argVal = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};

// ---------------------------------------------------------------- child: one measured case
if (args[0] === '--child') {
  const [, kind, file, format] = args;
  // Modules load before the clock starts: the figures are steady-state throughput.
  const { importCapture } = await import(join(dist, 'import/index.js'));
  const { loadTimeline } = await import(join(dist, 'timeline/load.js'));
  const { TimelineBuilder } = await import(join(dist, 'timeline/builder.js'));
  let batches = [];
  let summary0;
  if (kind === 'builder') {
    // The builder alone: events imported into memory first (not timed), then folded.
    const r = await importCapture(file, { format, onEvents: (b) => batches.push(b), onHeader: (h) => batches.push(h) });
    summary0 = r.summary;
    // Untimed first touch of every event: V8 migrates the importer's event objects on first
    // access (their `ts` field goes from Smi to Double representation: `node --trace-migration`
    // shows ~880 k migrations per 1 M events, ~0.9 us each). In the streamed path that cost is
    // paid inside the importer; here it would be wrongly charged to the builder.
    let sink = 0;
    for (const x of batches) if (Array.isArray(x)) for (const e of x) sink += e.ts;
    if (sink === -1) console.error('');
  }
  const t0 = process.hrtime.bigint();
  // CPU time too: on a shared machine it varies much less than wall time (GC threads included).
  const c0 = process.cpuUsage();
  let events = 0;
  let extra = {};
  if (kind === 'split') {
    // The baseline: read in 1 MiB chunks (as the importers do), decode, split lines, count.
    let rest = '';
    const stream = createReadStream(file, { highWaterMark: 1 << 20, encoding: 'utf8' });
    for await (const chunk of stream) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop();
      events += lines.length;
    }
    if (rest !== '') events++;
  } else if (kind === 'import') {
    const { summary } = await importCapture(file, { format, onEvents: (b) => (events += b.length) });
    extra = { lines: summary.lines };
  } else if (kind === 'timeline') {
    const tl = await loadTimeline(file, { format });
    events = tl.capture.events;
    extra = { windows: tl.windowCount, napis: tl.napis.length, errors: tl.diagnostics.filter((d) => d.severity === 'error').length };
  } else if (kind === 'builder') {
    const b = new TimelineBuilder({});
    for (const x of batches) {
      if (Array.isArray(x)) {
        b.push(x);
        events += x.length;
      } else b.header(x);
    }
    b.finish(summary0);
    batches = [];
  } else throw new Error(`unknown case ${kind}`);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cu = process.cpuUsage(c0);
  const cpuMs = (cu.user + cu.system) / 1000;
  process.stdout.write(JSON.stringify({ events, ms, cpuMs, maxRssMB: process.resourceUsage().maxRSS / 1024, ...extra }) + '\n');
  process.exit(0);
}

// ---------------------------------------------------------------- generator
const CPUS = 4;
const NAPIS = 6;
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
function* cpuEvents(cpu, seed, endNs) {
  const r = rng(seed);
  let t = 1000 + Math.floor(r() * 20000);
  const home = Array.from({ length: NAPIS }, (_, i) => i % CPUS);
  while (t < endNs) {
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

const CSV_COLUMNS = 'kind,ts,cpu,napi,dev,work,budget,vec,pid,comm,function,workqueue,req_cpu,target_cpu,state,orig_cpu,dest_cpu';
function csvLine(e) {
  const row = (o) => CSV_COLUMNS.split(',').map((c) => o[c] ?? '').join(',');
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

const FORMATS = {
  'bpftrace-text': { ext: 'txt', line: textLine, pre: ['Attaching 12 probes...'] },
  'bpftrace-json': { ext: 'json', line: (e) => `{"type": "printf", "data": "${textLine(e)}\\n"}`, pre: ['{"type": "attached_probes", "data": {"probes": 12}}'] },
  'perf-script': { ext: 'perf.txt', line: perfLine, pre: [] },
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
async function generate(n, files) {
  const { formatHeaderLines, formatTrailerLines } = await import(join(dist, 'model/capture-text.js'));
  // About 6 events per 45 us per CPU: the capture length that yields n events.
  const endNs = Math.ceil((n / CPUS / 6.5) * 48_000);
  const header = {
    formatVersion: 1,
    toolVersion: '0.1.0',
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
  const gens = Array.from({ length: CPUS }, (_, c) => cpuEvents(c, 1234 + c, Infinity));
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
  void endNs;
  return { events: written, durationNs: end };
}

// ---------------------------------------------------------------- parent: generate, run, table
if (!existsSync(join(dist, 'timeline/load.js'))) {
  console.error('bench: build first (npm run build)');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const big = Number(argVal('--events', '5000000'));
const small = Number(argVal('--small', '1000000'));
const regen = args.includes('--regen');
const path = (n, fmt) => join(outDir, `capture-${n / 1e6}m.${FORMATS[fmt].ext}`);

// csv-parse reads about 20 k records/s here, so the CSV case runs on a fifth of the small size.
const csvN = Number(argVal('--csv-events', String(small / 5)));
const repeat = Number(argVal('--repeat', '1'));
const want = [
  [big, ['bpftrace-text', 'bpftrace-json']],
  [small, ['bpftrace-text', 'bpftrace-json', 'perf-script']],
  [csvN, ['csv']],
];
for (const [n, fmts] of want) {
  const files = fmts.map((f) => [f, path(n, f)]).filter(([, p]) => regen || !existsSync(p));
  if (files.length === 0) continue;
  const t0 = Date.now();
  const g = await generate(n, files);
  console.error(`bench: generated ${g.events} events (${(g.durationNs / 1e9).toFixed(1)} s of capture) into ${files.map(([, p]) => p).join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Runs a case `repeat` times in fresh processes and keeps the fastest (the machine is shared and noisy). */
function run(kind, file, format) {
  let best;
  for (let i = 0; i < repeat; i++) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, file, format ?? ''], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const r = JSON.parse(out.trim().split('\n').pop());
    if (best === undefined || r.ms < best.ms) best = { ...r, cpuMs: Math.min(r.cpuMs, best?.cpuMs ?? Infinity), maxRssMB: Math.max(r.maxRssMB, best?.maxRssMB ?? 0) };
    else {
      best.maxRssMB = Math.max(best.maxRssMB, r.maxRssMB);
      best.cpuMs = Math.min(best.cpuMs, r.cpuMs);
    }
  }
  return best;
}

const cases = [
  [big, 'bpftrace-text'],
  [small, 'bpftrace-text'],
  [big, 'bpftrace-json'],
  [small, 'bpftrace-json'],
  [small, 'perf-script'],
  [csvN, 'csv'],
];
const rows = [];
// The machine is shared: the load average before and after tells how far to trust the figures.
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loadBefore = load();
for (const [n, fmt] of cases) {
  const file = path(n, fmt);
  const mb = statSync(file).size / 1e6;
  const base = run('split', file);
  const imp = run('import', file, fmt);
  const tl = run('timeline', file, fmt);
  const rate = (r) => r.events / (r.ms / 1000);
  const cpuRate = (r) => r.events / (r.cpuMs / 1000);
  rows.push({
    file: `${n / 1e6}M ${fmt}`,
    MB: mb.toFixed(0),
    events: tl.events,
    'split M/s': (rate(base) / 1e6).toFixed(2),
    'import M/s': (rate(imp) / 1e6).toFixed(2),
    'imp+tl M/s': (rate(tl) / 1e6).toFixed(2),
    'vs split': ((rate(tl) / rate(base)) * 100).toFixed(0) + '%',
    'imp+tl M/cpu-s': (cpuRate(tl) / 1e6).toFixed(2),
    'vs split cpu': ((cpuRate(tl) / cpuRate(base)) * 100).toFixed(0) + '%',
    'tl share cpu': ((1 - imp.cpuMs / tl.cpuMs) * 100).toFixed(0) + '%',
    'RSS split MB': base.maxRssMB.toFixed(0),
    'RSS imp+tl MB': tl.maxRssMB.toFixed(0),
    errors: tl.errors,
  });
}
const alone = run('builder', path(big, 'bpftrace-text'), 'bpftrace-text');
console.log(`load average (1, 5, 15 min) before: ${loadBefore}, after: ${load()}`);
console.log(`node ${process.version}, ${CPUS} CPUs and ${NAPIS} tunnels in the generated captures, best of ${repeat} run(s) per case`);
console.table(rows);
console.log(`timeline builder alone (${big / 1e6}M text events already in memory and touched once): ${(alone.events / alone.ms / 1000).toFixed(2)} M events/s`);
