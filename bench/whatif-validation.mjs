#!/usr/bin/env node
// Reads what bench/whatif-validation.sh wrote (DIR/<experiment>/samples.txt and the softirq
// captures), predicts threaded NAPI from each capture alone (`replay`'s threaded model), and
// compares with what switching threaded NAPI on really did on the same flows:
//   - measured ratio: packets/s with threaded NAPI on over off (no tracer running), per
//     repetition; its mean and the coefficient of variation (CV) over the repetitions;
//   - predicted ratio: replay --json's models[threaded].vsMeasured {low, point, high}, the median
//     over the repetitions' captures of each end;
//   - passes (issue 12) when the measured ratio lies inside the predicted interval widened by
//     2 x CV, the direction is right whenever the change exceeds 2 x CV, the interval's high/low
//     is at most 2, and the predicted per-core utilization (cores sorted by load: which core the
//     scheduler picks is its choice) is within 10 points of /proc/stat over the on phases.
// An experiment a parameter was calibrated on is marked so, and not counted as a check.
//
//   node bench/whatif-validation.mjs --out DIR [--table docs/models.md] [--json]
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadTimeline } from '../dist/timeline/load.js';
import { replayTimeline } from '../dist/replay/index.js';
import { median, optionReader, OUT_DEFAULT, parseSamples, repetitionRatio } from './whatif-samples.mjs';

const args = process.argv.slice(2);
const opt = optionReader(args);
const OUT = opt('--out', OUT_DEFAULT);
const TABLE = opt('--table', undefined);
const JSON_OUT = args.includes('--json');
/** Experiments the calibrated parameters were fitted on (src/replay/parameters.ts). */
const CALIBRATED_ON = new Set(['E2', 'E5']);

/** The wall clock of the run's last sample (ns since the epoch, `date +%s%N`): when the table's measurements were made. */
let lastSampleNs = 0n;

async function experiment(name) {
  const dir = join(OUT, name);
  const { meta, samples } = parseSamples(readFileSync(join(dir, 'samples.txt'), 'utf8'));
  for (const s of samples.values()) if (s.ns > lastSampleNs) lastSampleNs = s.ns;
  const reps = Number(meta.reps);
  const ratios = [];
  const onBusy = [];
  const preds = [];
  const predUtil = [];
  const notes = [];
  for (let r = 1; r <= reps; r++) {
    const rep = repetitionRatio(samples, r);
    if (rep.reason === 'not measured') continue;
    if (rep.reason !== undefined) {
      notes.push(`repetition ${r}: ${rep.reason}: left out`);
      continue;
    }
    ratios.push(rep.ratio);
    onBusy.push(rep.onBusy);
    const cap = join(dir, `capture-${r}.txt`);
    if (!existsSync(cap)) {
      notes.push(`repetition ${r}: no capture`);
      continue;
    }
    const tl = await loadTimeline(cap, {});
    const res = replayTimeline(tl, { models: ['threaded'], runs: 20, seed: 1 });
    const m = res.models.find((x) => x.model === 'threaded');
    if (!m) {
      notes.push(`repetition ${r}: ${res.abstained.map((a) => `${a.model} cannot predict: ${a.reason}`).join('; ')}`);
      continue;
    }
    preds.push(m.vsMeasured);
    predUtil.push(m.cpus.map((c) => c.utilization));
  }
  const mean = ratios.reduce((a, b) => a + b, 0) / Math.max(1, ratios.length);
  const sd = Math.sqrt(ratios.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, ratios.length - 1));
  const cv = mean > 0 ? sd / mean : NaN;
  const pred = preds.length ? { low: median(preds.map((p) => p.low)), point: median(preds.map((p) => p.point)), high: median(preds.map((p) => p.high)) } : undefined;
  // Per-core utilization, cores sorted by load, means over repetitions.
  const sortedMean = (rows) => {
    const k = rows[0]?.length ?? 0;
    const sorted = rows.map((r) => [...r].sort((a, b) => b - a));
    return Array.from({ length: k }, (_, i) => sorted.reduce((a, r) => a + r[i], 0) / sorted.length);
  };
  const measuredUtil = sortedMean(onBusy);
  const predictedUtil = sortedMean(predUtil);
  const utilErr = predictedUtil.length ? Math.max(...predictedUtil.map((u, i) => Math.abs(u - measuredUtil[i]))) : NaN;
  const checks = pred
    ? {
        inside: mean >= pred.low * (1 - 2 * cv) && mean <= pred.high * (1 + 2 * cv),
        direction: Math.abs(mean - 1) <= 2 * cv || Math.sign(pred.point - 1) === Math.sign(mean - 1),
        width: pred.high / pred.low <= 2,
        util: utilErr <= 0.1,
      }
    : undefined;
  return {
    name,
    pairs: Number(meta.pairs),
    pin: meta.pin,
    hog: meta.hog,
    reps: ratios.length,
    measured: { mean, cv, ratios },
    predicted: pred,
    measuredUtil,
    predictedUtil,
    utilErr,
    checks,
    calibration: CALIBRATED_ON.has(name),
    pass: checks ? Object.values(checks).every(Boolean) : false,
    notes,
  };
}

const names = readdirSync(OUT)
  .filter((d) => existsSync(join(OUT, d, 'samples.txt')))
  .sort();
const results = [];
for (const n of names) results.push(await experiment(n));

const f2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const pc = (v) => `${Math.round(v * 100)}%`;
const rows = results.map((e) => {
  const setup = `${e.pairs} pair${e.pairs === 1 ? '' : 's'}${e.pin !== '-' ? `, senders on cpu ${e.pin}` : ''}${e.hog !== '-' ? `, hog on cpu ${e.hog}` : ''}`;
  const p = e.predicted;
  const verdict = !e.checks
    ? 'no prediction'
    : e.calibration
      ? `calibration (${e.pass ? 'fits' : 'does not fit'})`
      : e.pass
        ? 'pass'
        : `FAIL (${Object.entries(e.checks)
            .filter(([, v]) => !v)
            .map(([k]) => k)
            .join(', ')})`;
  return `| ${e.name} | ${setup} | ${e.reps} | x${f2(e.measured.mean)} | ${f2(e.measured.cv)} | ${p ? `x${f2(p.point)} (${f2(p.low)}..${f2(p.high)})` : e.notes.join('; ')} | ${p ? f2(p.high / p.low) : ''} | ${e.predictedUtil.map(pc).join(' ')} / ${e.measuredUtil.map(pc).join(' ')} | ${verdict} |`;
});
const table = [
  '| experiment | setup | reps | measured on/off | CV | predicted (interval) | high/low | per-core busy, predicted / /proc/stat (sorted) | verdict |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
].join('\n');
const checked = results.filter((e) => !e.calibration && e.checks);
const summary = `${checked.filter((e) => e.pass).length} of ${checked.length} checked experiments pass (calibration runs not counted).`;
if (JSON_OUT) console.log(JSON.stringify(results, null, 2));
else console.log(`${table}\n\n${summary}`);
if (TABLE) {
  const doc = readFileSync(TABLE, 'utf8');
  const a = '<!-- whatif-table:start -->';
  const b = '<!-- whatif-table:end -->';
  if (!doc.includes(a) || !doc.includes(b)) {
    console.error(`whatif-validation.mjs: ${TABLE} has no ${a} ... ${b} markers`);
    process.exit(2);
  }
  // The time of the measurements, not of this replay of them (the table may be made again from a run's files).
  const when = new Date(lastSampleNs > 0n ? Number(lastSampleNs / 1_000_000n) : Date.now()).toISOString().slice(0, 16).replace('T', ' ');
  writeFileSync(TABLE, `${doc.slice(0, doc.indexOf(a) + a.length)}\n${table}\n\n${summary} Run ${when} UTC (\`sh bench/whatif-validation.sh --table docs/models.md\`).\n${doc.slice(doc.indexOf(b))}`);
}
process.exitCode = checked.length > 0 && checked.every((e) => e.pass) ? 0 : 1;
