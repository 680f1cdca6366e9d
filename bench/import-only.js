// Import-only speed: bpftrace-text and bpftrace-json importers with a no-op onEvents, on a
// generated capture of ~2 M events, against a plain line split of the same file in the same
// run (chunked read + UTF-8 decode + indexOf('\n') loop). Run after `npm run build`:
//   node bench/import-only.js [events=2000000]
import { createReadStream, mkdirSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { importCapture } from '../dist/import/index.js';

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

async function lineSplit(path) {
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
  return { lines, sec: Number(process.hrtime.bigint() - t0) / 1e9 };
}

async function importOnly(path, format) {
  const t0 = process.hrtime.bigint();
  let events = 0;
  const { summary } = await importCapture(path, { format, onEvents: (b) => (events += b.length) });
  return { events, summary, sec: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const gen = generate(N);
const files = { 'bpftrace-text': join(OUT, 'import-only.txt'), 'bpftrace-json': join(OUT, 'import-only.json') };
writeFileSync(files['bpftrace-text'], gen.text);
writeFileSync(files['bpftrace-json'], gen.json);
gen.text = gen.json = '';
console.log(`generated ${gen.count} events`);
for (const [format, path] of Object.entries(files)) {
  // Warm up once (JIT), then take the better of two runs of each, alternating.
  await lineSplit(path);
  await importOnly(path, format);
  let base = Infinity;
  let imp = Infinity;
  let events = 0;
  for (let i = 0; i < 2; i++) {
    base = Math.min(base, (await lineSplit(path)).sec);
    const r = await importOnly(path, format);
    imp = Math.min(imp, r.sec);
    events = r.events;
    if (r.summary.skippedLines > 0) throw new Error(`${format}: ${r.summary.skippedLines} lines skipped`);
  }
  const mb = statSync(path).size / 1e6;
  const lines = gen.count + 6;
  console.log(
    `${format.padEnd(14)} ${mb.toFixed(0)} MB  line split ${(lines / base / 1e6).toFixed(2)} M lines/s  ` +
      `import ${(events / imp / 1e6).toFixed(2)} M events/s  ratio ${((lines / base) / (events / imp)).toFixed(2)}x slower = ${((100 * (events / imp)) / (lines / base)).toFixed(0)}% of line split`,
  );
}
