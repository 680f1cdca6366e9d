// Import-only speed: bpftrace-text and bpftrace-json importers with a no-op onEvents, on a
// generated capture of ~2 M events, against a plain line split of the same file in the same
// run (chunked read + UTF-8 decode + indexOf('\n') loop). Run after `npm run build`:
//   node bench/import-only.js [events=2000000]
import { createReadStream, mkdirSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { importCapture } from '../dist/import/index.js';

// stream-json 1.9 is CommonJS; its jsonl/Parser is the reader the JSON importer was first
// planned on (docs/formats.md says why it is not used). Measured here for comparison.
const JsonlParser = createRequire(import.meta.url)('stream-json/jsonl/Parser');

const N = Number(process.argv[2] ?? 2_000_000);
const OUT = join(import.meta.dirname, 'out');
mkdirSync(OUT, { recursive: true });

/** A plausible gateway capture: per CPU, NET_RX softirqs with polls of a few tunnels, and crypt work. */
function generate(n) {
  const cpus = 8;
  const napis = Array.from({ length: 8 }, (_, i) => `0xffff8886${(0x27c2d188 + i * 0x1000).toString(16)}`);
  const text = [];
  const json = [];
  const head = ['#@wgtrace-capture 1', '#@cpus 0-7', '#@mode events', '#@start_boot_ns 9007199254740000000'];
  text.push(...head);
  json.push(...head);
  let t = 9007199254740000000n + 1000n;
  let count = 0;
  const emit = (line) => {
    text.push(line);
    // bpftrace's own spacing (src/output/json.cpp: emit_data).
    json.push(`{"type": "printf", "data": ${JSON.stringify(line + '\n')}}`);
    count++;
  };
  while (count < n) {
    const cpu = count % cpus;
    t += 997n;
    emit(`SE ${t} ${cpu} 3 0 swapper/${cpu}`);
    for (let k = 0; k < 3; k++) {
      t += 1503n;
      emit(`P ${t} ${cpu} ${napis[(count + k) % 8]} wg${k} 64 64 0 swapper/${cpu}`);
    }
    t += 211n;
    emit(`SX ${t} ${cpu} 3`);
    t += 100n;
    emit(`WQ ${t} ${cpu} 0xffff888612345000 wg_packet_decrypt_worker wg-crypt-wg0 8192 ${(cpu + 1) % cpus}`);
    emit(`WS ${t + 50n} ${cpu} 0xffff888612345000 wg_packet_decrypt_worker`);
    emit(`WE ${t + 900n} ${cpu} 0xffff888612345000 wg_packet_decrypt_worker`);
  }
  const tail = ['#@end_boot_ns ' + (t + 1n), '#@status complete'];
  text.push(...tail);
  json.push(...tail);
  return { text: text.join('\n') + '\n', json: json.join('\n') + '\n', count };
}

// Both wall time and this process's CPU time are taken: on a shared machine the CPU time is
// the steadier of the two (it still includes GC helper threads).
const cpuNow = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

async function lineSplit(path) {
  const c0 = cpuNow();
  const t0 = process.hrtime.bigint();
  let lines = 0;
  let carry = '';
  const dec = new TextDecoder();
  for await (const b of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const s = carry + dec.decode(b, { stream: true });
    let pos = 0;
    for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n', pos)) {
      lines++;
      pos = nl + 1;
    }
    carry = s.slice(pos);
  }
  return { lines, sec: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuNow() - c0 };
}

async function streamJsonOnly(path) {
  const c0 = cpuNow();
  const t0 = process.hrtime.bigint();
  let records = 0;
  // errorIndicator: our #@ text lines are not JSON; skip them instead of failing.
  const parser = createReadStream(path, { highWaterMark: 1 << 20 }).pipe(new JsonlParser({ errorIndicator: undefined }));
  for await (const _ of parser) records++;
  return { records, sec: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuNow() - c0 };
}

async function importOnly(path, format) {
  const c0 = cpuNow();
  const t0 = process.hrtime.bigint();
  let events = 0;
  const { summary } = await importCapture(path, { format, onEvents: (b) => (events += b.length) });
  return { events, summary, sec: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuNow() - c0 };
}

const gen = generate(N);
const files = { 'bpftrace-text': join(OUT, 'import-only.txt'), 'bpftrace-json': join(OUT, 'import-only.json') };
writeFileSync(files['bpftrace-text'], gen.text);
writeFileSync(files['bpftrace-json'], gen.json);
gen.text = gen.json = '';
console.log(`generated ${gen.count} events`);
for (const [format, path] of Object.entries(files)) {
  // Warm up once (JIT), then take the best of three runs of each, alternating.
  await lineSplit(path);
  await importOnly(path, format);
  let base = Infinity;
  let imp = Infinity;
  let baseCpu = Infinity;
  let impCpu = Infinity;
  let events = 0;
  for (let i = 0; i < 3; i++) {
    const b = await lineSplit(path);
    base = Math.min(base, b.sec);
    baseCpu = Math.min(baseCpu, b.cpu);
    const r = await importOnly(path, format);
    imp = Math.min(imp, r.sec);
    impCpu = Math.min(impCpu, r.cpu);
    events = r.events;
    if (r.summary.skippedLines > 0) throw new Error(`${format}: ${r.summary.skippedLines} lines skipped`);
  }
  const mb = statSync(path).size / 1e6;
  const lines = gen.count + 6;
  const row = (what, b, i) =>
    `  ${what.padEnd(5)} line split ${(lines / b / 1e6).toFixed(2)} M lines/s   import ${(events / i / 1e6).toFixed(2)} M events/s   = ${((100 * (events / i)) / (lines / b)).toFixed(0)}% of line split`;
  console.log(`${format} (${mb.toFixed(0)} MB, best of 3)`);
  console.log(row('wall', base, imp));
  console.log(row('cpu', baseCpu, impCpu));
  if (format === 'bpftrace-json') {
    let sj = Infinity;
    let sjCpu = Infinity;
    let records = 0;
    for (let i = 0; i < 2; i++) {
      const r = await streamJsonOnly(path);
      sj = Math.min(sj, r.sec);
      sjCpu = Math.min(sjCpu, r.cpu);
      records = r.records;
    }
    console.log(`  stream-json jsonl/Parser alone (JSON.parse of each line, no events): wall ${(records / sj / 1e6).toFixed(2)} M lines/s, cpu ${(records / sjCpu / 1e6).toFixed(2)} M lines/s`);
  }
}
