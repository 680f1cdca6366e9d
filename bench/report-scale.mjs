#!/usr/bin/env node
// `wgtrace report` at scale (issue 15): a 5 M-event capture must give a page under 5 MB that
// draws in under 2 s. For each case: the time `wgtrace report` takes, the page's size, and the
// time headless chromium takes from navigation start until every chart is drawn (the page
// writes it into <html data-draw-ms>, after the frame that follows the last chart), each also
// as a ratio to the quick-start trace (100 k events) measured in the same run.
//
//   npm run build && node bench/report-scale.mjs [--sizes 5] [--repeat 3] [--regen] [--keep]
//
// Captures come from bench/gen-capture.mjs (the generator of bench/analyze-load.mjs: 4 CPUs,
// 6 tunnels) and are shared with it under bench/out/ (`analyze-load-<M>m.txt`, reused when
// its `.meta.json` says it is complete). Cases: each size at the default 10 ms window and at
// 1 ms (ten times the windows: the series are reduced to the page's column bound), and the
// 32-core synthetic talk trace (32 small multiples), and a wide synthetic windows capture
// (64 cores, 24 threaded tunnels, 60 s). Needs Debian's chromium.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generate } from './gen-capture.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const outDir = join(here, 'out');
const bin = join(root, 'bin', 'wgtrace.js');
const args = process.argv.slice(2);
const argVal = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const sizes = argVal('--sizes', '5')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const repeat = Math.max(1, Number(argVal('--repeat', '3')));
const regen = args.includes('--regen');
const keep = args.includes('--keep');
const LIMIT_MB = 5;
const LIMIT_DRAW_MS = 2000;

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  console.error('bench: build first (npm run build)');
  process.exit(2);
}
if (CHROMIUM === undefined) {
  console.error('bench: needs chromium (apt-get install -y chromium)');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

// The flags of test/chromium.ts: no background traffic, and nothing could leave anyway. Real
// time (no --virtual-time-budget), so the page's clock is the wall clock; the page marks itself
// ready before its load event, when chromium dumps the DOM.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--hide-scrollbars',
  '--window-size=1280,1000',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-domain-reliability',
  '--no-first-run',
  '--proxy-server=127.0.0.1:9',
  '--host-resolver-rules=MAP * ~NOTFOUND',
];

function report(capture, extra, page) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, 'report', capture, '-o', page, '--quiet', ...extra], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`report ${capture} ${extra.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return wall;
}

function draw(page) {
  const r = spawnSync(CHROMIUM, [...FLAGS, '--dump-dom', pathToFileURL(page).href], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 120_000 });
  const html = r.stdout ?? '';
  const get = (name) => new RegExp(`<html[^>]*\\s${name}="([^"]*)"`).exec(html)?.[1];
  if (get('data-ready') !== '1') throw new Error(`${page}: the page did not finish drawing (exit ${r.status})\n${(r.stderr ?? '').slice(-1500)}`);
  if (get('data-errors') !== '0') throw new Error(`${page}: the page reported errors: ${/<ul id="page-errors"[^>]*>(.*?)<\/ul>/s.exec(html)?.[1]}`);
  return { drawMs: Number(get('data-draw-ms')), charts: Number(get('data-charts')) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

// ---------------------------------------------------------------- the captures
const cases = [{ name: 'quick start (baseline)', path: join(root, 'traces', 'events-softirq-3pairs.txt.gz'), extra: [] }];
const generated = [];
for (const m of sizes) {
  const n = Math.round(m * 1e6);
  const path = join(outDir, `analyze-load-${m}m.txt`);
  const meta = path + '.meta.json';
  let g;
  if (!regen && existsSync(path) && existsSync(meta)) {
    g = JSON.parse(readFileSync(meta, 'utf8'));
    if (!(g.events === n && statSync(path).size === g.bytes)) g = undefined;
  }
  if (g === undefined) {
    rmSync(meta, { force: true });
    g = await generate(n, [['bpftrace-text', path]]);
    g.bytes = statSync(path).size;
    writeFileSync(meta, JSON.stringify(g) + '\n');
    generated.push(path);
    console.error(`bench: wrote ${g.events} events (${(g.durationNs / 1e9).toFixed(1)} s of capture, ${(g.bytes / 1e6).toFixed(0)} MB) to ${path}`);
  }
  cases.push({ name: `${m} M events, 4 CPUs, 6 tunnels`, path, extra: [], events: g.events });
  cases.push({ name: `${m} M events, --window 1`, path, extra: ['--window', '1'], events: g.events });
}
cases.push({ name: 'synthetic talk 8 x 32 (32 cores)', path: join(root, 'traces', 'synthetic-talk-8x32-stock.txt.gz'), extra: [] });
// Wide: 64 cores, 24 threaded tunnels that the balancer moves around, 60 s of 10 ms windows: the
// most rows (every tunnel on many cores) and the most charts.
const wide = join(outDir, 'report-wide.txt');
if (regen || !existsSync(wide))
  execFileSync(process.execPath, [bin, 'synth', '--tunnels', '24', '--cpus', '64', '--seconds', '60', '--threaded', '--mode', 'windows', '-o', wide], { stdio: 'ignore' });
cases.push({ name: 'wide: 64 cores, 24 tunnels, 60 s', path: wide, extra: [] });

// ---------------------------------------------------------------- measure
const load = execFileSync('uptime', { encoding: 'utf8' }).trim();
const rows = [];
for (const c of cases) {
  const page = join(outDir, `report-scale-${rows.length}.html`);
  const walls = [];
  const draws = [];
  let charts = 0;
  for (let i = 0; i < repeat; i++) {
    walls.push(report(c.path, c.extra, page));
    const d = draw(page);
    draws.push(d.drawMs);
    charts = d.charts;
  }
  const bytes = statSync(page).size;
  const html = readFileSync(page, 'utf8');
  const data = JSON.parse(/<script type="application\/json" id="wgtrace-data">(.*?)<\/script>/s.exec(html)[1]);
  const s = data.runs[0].series;
  const events = data.runs[0].analyze.capture.events;
  rows.push({ name: c.name, events, windows: Math.ceil(s.durationNs / s.windowNs), columns: s.columns, charts, mb: bytes / 1e6, reportS: median(walls), drawMs: median(draws) });
  if (!keep) rmSync(page, { force: true });
}

const base = rows[0];
const pad = (s, n) => String(s).padEnd(n);
console.log(`wgtrace report at scale; ${repeat} runs each, medians; load before: ${load}`);
console.log(
  `${pad('case', 34)} ${pad('events', 10)} ${pad('windows', 8)} ${pad('columns', 8)} ${pad('charts', 7)} ${pad('page MB', 9)} ${pad('x base', 7)} ${pad('report s', 9)} ${pad('draw ms', 8)} x base`,
);
for (const r of rows) {
  console.log(
    `${pad(r.name, 34)} ${pad(r.events, 10)} ${pad(r.windows, 8)} ${pad(r.columns, 8)} ${pad(r.charts, 7)} ${pad(r.mb.toFixed(2), 9)} ${pad((r.mb / base.mb).toFixed(2), 7)} ${pad(r.reportS.toFixed(2), 9)} ${pad(r.drawMs, 8)} ${(r.drawMs / base.drawMs).toFixed(2)}`,
  );
}
let ok = true;
for (const r of rows.filter((x) => x.events >= 5e6)) {
  const pass = r.mb < LIMIT_MB && r.drawMs < LIMIT_DRAW_MS;
  ok &&= pass;
  console.log(`${r.name}: page ${r.mb.toFixed(2)} MB (goal < ${LIMIT_MB}), drawn in ${r.drawMs} ms (goal < ${LIMIT_DRAW_MS}): ${pass ? 'ok' : 'MISSED'}`);
}
if (!keep) for (const p of generated) if (statSync(p).size > 500e6) rmSync(p, { force: true });
process.exit(ok ? 0 : 1);
