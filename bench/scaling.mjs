#!/usr/bin/env node
// Scaling of `analyze` with events, tunnels and cores (issue 16; bench/README.md, "scaling"):
// time and peak RSS of the real analyze command against a plain line split of the same file,
// measured in the same run.
//
//   npm run build && node bench/scaling.mjs [--repeat 2] [--regen] [--keep] [--only NAME,...] [--quick] [--baseline-tree DIR]
//
// Captures are written by `wgtrace synth` (src/synth: threaded NAPI unless the case says stock)
// under bench/out/scaling-*.txt, reused when a .meta.json says they were completed. Each case
// runs in fresh child processes (modules loaded before the clock starts):
// - split: read in 1 MiB chunks, decode, split('\n'), count lines (the baseline of
//   bench/import-speed.mjs);
// - analyze: main(['analyze', file, '--json']) of dist/cli/main.js, its output written to a file
//   (as a shell redirect does; kept in memory it would add its size to the peak), read back and
//   parsed once the clock and the peak RSS are taken;
// - what-if: loadTimeline, then (timed) replayTimeline with analyze's own runs and seed.
// It prints, per case, CPU time per event of analyze as a ratio to the split's CPU time per
// line ("x split"), that ratio over the 8 x 32 case's ("x 8x32"), the what-if as a share of
// analyze, peak RSS, and checks: capture.events equals a grep of the file's event lines, no
// lost events or skipped lines, and whether (and where) the window widened.
// --baseline-tree DIR (a built checkout, e.g. `git worktree add /tmp/base <commit> && (cd
// /tmp/base && npm ci && npm run build)`): every case is also run with DIR's dist, alternating
// with this tree's run by run, and a second table gives the baseline's figures and this tree's
// CPU time over the baseline's, from the same run (the captures are this tree's).
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once as onceEvent } from 'node:events';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitLines } from './line-split.mjs';

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
  const [, kind, file, childDist] = args;
  const dist = childDist ?? join(root, 'dist');
  const { main } = await import(join(dist, 'cli/main.js'));
  const { loadTimeline } = await import(join(dist, 'timeline/load.js'));
  const { replayTimeline } = await import(join(dist, 'replay/index.js'));
  const { PREDICT_RUNS, PREDICT_SEED } = await import(join(dist, 'report/analyze.js'));
  let tl;
  if (kind === 'whatif') tl = await loadTimeline(file);
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const measure = () => {
    const cu = process.cpuUsage(c0);
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (cu.user + cu.system) / 1000, maxRssMB: process.resourceUsage().maxRSS / 1024 };
  };
  let measured;
  let extra = {};
  if (kind === 'split') {
    extra = { lines: await splitLines(file) };
  } else if (kind === 'analyze') {
    // The output goes to a file, as `wgtrace analyze --json > file` does (not kept in this
    // process: that would add its size to the peak RSS measured), and is read back after the
    // clock and the peak are taken.
    const outFile = join(outDir, `scaling-out-${process.pid}.json`);
    const sink = createWriteStream(outFile);
    const err = [];
    const write = async (t) => {
      if (!sink.write(t)) await onceEvent(sink, 'drain');
    };
    const code = await main(['analyze', file, '--json'], { out: (t) => void sink.write(t), write, err: (t) => void err.push(t), errIsTTY: false, color: false });
    sink.end();
    await onceEvent(sink, 'close');
    measured = measure();
    const outBytes = statSync(outFile).size;
    const j = JSON.parse(readFileSync(outFile, 'utf8'));
    rmSync(outFile, { force: true });
    extra = {
      outMB: outBytes / 1e6,
      code,
      events: j.capture.events,
      lost: j.capture.lostEvents,
      skipped: j.capture.skippedLines,
      windowNs: j.capture.windowNs,
      napis: j.napis.length,
      stderr: err.join('').trim(),
      widened: (j.capture.warnings ?? []).concat(err.join('')).some((w) => /widen/.test(typeof w === 'string' ? w : JSON.stringify(w))),
    };
  } else if (kind === 'whatif') {
    const r = replayTimeline(tl, { runs: PREDICT_RUNS, seed: PREDICT_SEED });
    extra = { models: r.models.map((m) => m.model) };
  } else throw new Error(`unknown case ${kind}`);
  process.stdout.write(JSON.stringify({ ...(measured ?? measure()), ...extra }) + '\n');
  process.exit(0);
}

// ---------------------------------------------------------------- parent
if (!existsSync(join(dist, 'synth/file.js'))) {
  console.error('bench: build first (npm run build)');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const repeat = Number(argVal('--repeat', '1'));
const regen = args.includes('--regen');
const keep = args.includes('--keep');
const quick = args.includes('--quick');
const only = argVal('--only', '')
  .split(',')
  .filter((s) => s !== '');
const M = 1e6;
// name, tunnels, cores, target events, model. The size axes hold events near 2 M so that
// only the shape changes; the events axis holds the shape (8 x 32).
const ALL = [
  ['8x32', 8, 32, 2 * M, 'threaded'],
  ['8x2', 8, 2, 2 * M, 'threaded'],
  ['8x8', 8, 8, 2 * M, 'threaded'],
  ['8x128', 8, 128, 2 * M, 'threaded'],
  ['8x256', 8, 256, 2 * M, 'threaded'],
  ['64x64', 64, 64, 2 * M, 'threaded'],
  ['64x128', 64, 128, 2 * M, 'threaded'],
  ['256x128', 256, 128, 2 * M, 'threaded'],
  ['1024x128', 1024, 128, 2 * M, 'threaded'],
  ['1024x256', 1024, 256, 2 * M, 'threaded'],
  ['8x32-stock', 8, 32, 2 * M, 'stock'],
  ['64x64-stock', 64, 64, 2 * M, 'stock'],
  ['256x128-stock', 256, 128, 2 * M, 'stock'],
  ['1024x128-stock', 1024, 128, 2 * M, 'stock'],
  ['8x32-1M', 8, 32, 1 * M, 'threaded'],
  ['8x32-5M', 8, 32, 5 * M, 'threaded'],
  ['8x32-20M', 8, 32, 20 * M, 'threaded'],
];
const cases = ALL.filter(([name]) => (only.length ? only.includes(name) || name === '8x32' : !quick || ['8x32', '256x128', '1024x128'].includes(name)));

const { writeSynthFile } = await import(join(dist, 'synth/file.js'));
const EVENT_LINE = '^(P|SE|SX|SI|SO|WQ|WS|WE|MG|IE|IX) ';

/** Writes the case's capture (seconds scaled from a short probe to reach the target events). */
async function capture([name, tunnels, cpus, target, model]) {
  const file = join(outDir, `scaling-${name}.txt`);
  const metaFile = `${file}.meta.json`;
  if (!regen && existsSync(file) && existsSync(metaFile)) return { file, ...JSON.parse(readFileSync(metaFile, 'utf8')) };
  const threaded = model === 'threaded';
  const probe = await writeSynthFile(file, { tunnels, cpus, seconds: 0.1, threaded });
  const seconds = Math.min(600, Math.max(0.1, Math.round(((0.1 * target) / probe.lines) * 10) / 10));
  const t0 = Date.now();
  const plant = await writeSynthFile(file, { tunnels, cpus, seconds, threaded });
  const events = Number(execFileSync('grep', ['-cE', EVENT_LINE, file], { encoding: 'utf8' }).trim());
  const meta = { seconds, events, lines: plant.lines, mb: statSync(file).size / 1e6, genS: (Date.now() - t0) / 1000 };
  writeFileSync(metaFile, JSON.stringify(meta));
  console.error(`bench: wrote ${file}: ${events} events, ${seconds} s of ${tunnels} tunnels x ${cpus} cores (${model}) in ${meta.genS.toFixed(1)} s`);
  return { file, ...meta };
}

const baseTree = argVal('--baseline-tree', undefined);
const baseDist = baseTree === undefined ? undefined : join(baseTree, 'dist');
if (baseDist !== undefined && !existsSync(join(baseDist, 'cli/main.js'))) {
  console.error(`bench: ${baseDist}/cli/main.js not found (build the baseline tree first)`);
  process.exit(2);
}

function once(kind, file, d) {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, file, ...(d === undefined ? [] : [d])], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(out.trim().split('\n').pop());
}
const better = (best, r) => (best === undefined ? r : { ...r, ms: Math.min(r.ms, best.ms), cpuMs: Math.min(r.cpuMs, best.cpuMs), maxRssMB: Math.max(r.maxRssMB, best.maxRssMB) });

/** Best of --repeat runs of this tree; with a baseline tree, its runs alternate with this tree's. */
function run(kind, file) {
  // The split is the same code in both trees: run once per repetition.
  if (kind === 'split') {
    let b;
    for (let i = 0; i < repeat; i++) b = better(b, once(kind, file));
    return b;
  }
  let best;
  let base;
  for (let i = 0; i < repeat; i++) {
    if (baseDist !== undefined && i % 2 === 1) base = better(base, once(kind, file, baseDist));
    best = better(best, once(kind, file));
    if (baseDist !== undefined && i % 2 === 0) base = better(base, once(kind, file, baseDist));
  }
  return baseDist === undefined ? best : { ...best, base };
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const loadBefore = load();
const t0 = Date.now();
const rows = [];
for (const c of cases) {
  const cap = await capture(c);
  const split = run('split', cap.file);
  const an = run('analyze', cap.file);
  const wi = run('whatif', cap.file);
  const perEvent = an.cpuMs / an.events;
  const perLine = split.cpuMs / split.lines;
  rows.push({ c, cap, split, an, wi, ratio: perEvent / perLine, wallRatio: an.ms / an.events / (split.ms / split.lines) });
  if (!keep && c[3] >= 20 * M) {
    rmSync(cap.file, { force: true });
    rmSync(`${cap.file}.meta.json`, { force: true });
  }
}
const loadAfter = load();
const ref = rows.find((r) => r.c[0] === '8x32');
const f = (x, d = 2) => x.toFixed(d);
console.log(
  `node ${process.version}; ${repeat} run(s) per case (lowest wall and CPU time, highest peak RSS); load average ${loadBefore} before, ${loadAfter} after; ${((Date.now() - t0) / 1000).toFixed(0)} s`,
);
console.log('');
console.log(
  '| capture | model | tunnels | cores | events | MB | split M lines/CPU-s | analyze CPU s | analyze wall s | x split (CPU) | x split (wall) | x 8x32 (CPU) | what-if CPU s | what-if share | peak RSS MB | --json MB | window | events ok |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const [name, tunnels, cpus, , model] = r.c;
  const ok = r.an.code === 0 && r.an.events === r.cap.events && r.an.lost === 0 && r.an.skipped === 0;
  const win = `${r.an.windowNs / 1e6} ms${r.an.widened ? ' (widened, warned)' : r.an.windowNs !== 1e7 ? ' (widened, NOT warned)' : ''}`;
  console.log(
    `| ${name} | ${model} | ${tunnels} | ${cpus} | ${r.an.events} | ${f(r.cap.mb, 0)} | ${f(r.split.lines / r.split.cpuMs / 1000)} | ${f(r.an.cpuMs / 1000)} | ${f(r.an.ms / 1000)} | ${f(r.ratio)} | ${f(r.wallRatio)} | ${ref ? f(r.ratio / ref.ratio) : '-'} | ${f(r.wi.cpuMs / 1000)} | ${f((100 * r.wi.cpuMs) / r.an.cpuMs, 0)}% | ${f(r.an.maxRssMB, 0)} | ${f(r.an.outMB, 1)} | ${win} | ${ok ? 'yes' : `NO (${r.an.events} of ${r.cap.events}, lost ${r.an.lost}, skipped ${r.an.skipped}, exit ${r.an.code})`} |`,
  );
}
if (baseDist !== undefined) {
  const bref = rows.find((r) => r.c[0] === '8x32');
  const bratio = (r) => r.an.base.cpuMs / r.an.base.events / (r.split.cpuMs / r.split.lines);
  console.log('');
  console.log(`Baseline ${baseTree} in the same run (its runs alternating with this tree's; same captures, same split):`);
  console.log('');
  console.log(
    '| capture | analyze CPU s (base) | x split (CPU, base) | x 8x32 (CPU, base) | what-if CPU s (base) | what-if share (base) | peak RSS MB (base) | window (base) | analyze CPU this / base | what-if CPU this / base | same events |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const b = r.an.base;
    console.log(
      `| ${r.c[0]} | ${f(b.cpuMs / 1000)} | ${f(bratio(r))} | ${bref ? f(bratio(r) / bratio(bref)) : '-'} | ${f(r.wi.base.cpuMs / 1000)} | ${f((100 * r.wi.base.cpuMs) / b.cpuMs, 0)}% | ${f(b.maxRssMB, 0)} | ${b.windowNs / 1e6} ms | ${f(r.an.cpuMs / b.cpuMs)} | ${f(r.wi.cpuMs / r.wi.base.cpuMs)} | ${b.events === r.an.events && b.windowNs === r.an.windowNs && b.napis === r.an.napis ? 'yes' : 'NO'} |`,
    );
  }
}
