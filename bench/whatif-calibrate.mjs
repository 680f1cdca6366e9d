#!/usr/bin/env node
// Calibrates the veth threaded-NAPI parameters (src/replay/parameters.ts:
// VETH_THREAD_POLL_FACTOR, VETH_THREAD_WAKE_FACTOR) on the calibration experiment alone, from
// what bench/whatif-validation.sh wrote for it (DIR/E2 by default: samples.txt, the softirq
// captures capture-N.txt, the threaded captures capture-threaded-N.txt). Per repetition N:
//   - poll factor: the kthread's cost per packet in capture-threaded-N over the softirq poll's
//     in capture-N (poll busy time over packets in each traffic window, packet-weighted over
//     the tunnels: the workload's forwardNsPerPacket);
//   - wake factor: the value for which replay's threaded point prediction from capture-N, with
//     that repetition's poll factor, equals the repetition's measured on/off ratio (bisection;
//     the prediction falls as the wake-up cost grows);
//   - wake busy share: the share of that wake-up cost that is CPU work, the value for which the
//     threaded point prediction's mean core busy, with that repetition's poll and wake factors,
//     equals the mean /proc/stat busy of the repetition's on phase (bisection on 0..1; the busy
//     falls as the share does; the throughput does not move with it).
// With --experiment E5 the same gives VETH_THREAD_POLL_FACTOR_IDLE, VETH_THREAD_WAKE_FACTOR_IDLE and VETH_THREAD_WAKE_BUSY_IDLE
// (the idle-CPU regime: E5's softirq captures saturate no core, so replay takes that regime's
// factors, which the options replace as they do E2's).
// Value: the median over repetitions; range: their min..max. Nothing from the checked
// experiments enters (issue 12: a parameter calibrated on one experiment is not checked on it).
//
//   npm run build && node bench/whatif-calibrate.mjs --out DIR [--experiment E2] [--json]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTimeline } from '../dist/timeline/load.js';
import { extractWorkload } from '../dist/replay/workload.js';
import { replayWorkload } from '../dist/replay/index.js';
import { median, optionReader, OUT_DEFAULT, parseSamples, repetitionRatio } from './whatif-samples.mjs';

const args = process.argv.slice(2);
const opt = optionReader(args);
const OUT = opt('--out', OUT_DEFAULT);
const EXP = opt('--experiment', 'E2');
const dir = join(OUT, EXP);
if (!existsSync(join(dir, 'samples.txt'))) {
  console.error(`whatif-calibrate.mjs: ${join(dir, 'samples.txt')}: no such file (run bench/whatif-validation.sh --experiments ${EXP} first)`);
  process.exit(2);
}

/** Packet-weighted poll cost per packet of a capture's tunnels over its traffic window, ns. */
function pollNsPerPacket(w) {
  let pps = 0;
  let ns = 0;
  for (const t of w.tunnels) {
    if (!(t.measuredPps > 0)) continue;
    pps += t.measuredPps;
    ns += t.forwardNsPerPacket * t.measuredPps;
  }
  return pps > 0 ? ns / pps : NaN;
}

const threadedRun = (w, pollFactor, wakeFactor, wakeBusy = 1) => {
  const res = replayWorkload(w, { models: ['threaded'], runs: 1, seed: 1, vethThreadPollFactor: pollFactor, vethThreadWakeFactor: wakeFactor, vethThreadWakeBusyShare: wakeBusy });
  const m = res.models.find((x) => x.model === 'threaded');
  if (!m) throw new Error(res.abstained.map((a) => `${a.model}: ${a.reason}`).join('; '));
  return m;
};
const threadedPoint = (w, pollFactor, wakeFactor) => threadedRun(w, pollFactor, wakeFactor).vsMeasured.point;
const meanOf = (v) => v.reduce((a, b) => a + b, 0) / v.length;
/** The threaded point prediction's mean core busy (0..1). */
const threadedBusy = (w, pollFactor, wakeFactor, wakeBusy) => meanOf(threadedRun(w, pollFactor, wakeFactor, wakeBusy).cpus.map((c) => c.utilization));

/** Bisection on [lo, hi], 30 halvings: `below(v)` says whether the value sought lies below v. */
function bisect(lo, hi, below) {
  for (let k = 0; k < 30; k++) {
    const mid = (lo + hi) / 2;
    if (below(mid)) hi = mid;
    else lo = mid;
  }
  return (lo + hi) / 2;
}

/** The busy share for which the prediction's mean core busy is `measured` (the busy grows with the share). */
function fitBusy(w, pollFactor, wakeFactor, measured) {
  if (threadedBusy(w, pollFactor, wakeFactor, 1) <= measured) return { wakeBusy: 1, busyNote: 'measured busy at or above the prediction with all of the wake-up as work' };
  if (threadedBusy(w, pollFactor, wakeFactor, 0) >= measured) return { wakeBusy: 0, busyNote: 'measured busy at or below the prediction with none of the wake-up as work' };
  return { wakeBusy: bisect(0, 1, (v) => threadedBusy(w, pollFactor, wakeFactor, v) > measured) };
}

const { meta, samples } = parseSamples(readFileSync(join(dir, 'samples.txt'), 'utf8'));
const rows = [];
for (let r = 1; r <= Number(meta.reps); r++) {
  const rep = repetitionRatio(samples, r);
  const soft = join(dir, `capture-${r}.txt`);
  const thr = join(dir, `capture-threaded-${r}.txt`);
  if (rep.reason !== undefined || !existsSync(soft) || !existsSync(thr)) {
    rows.push({ rep: r, skipped: rep.reason ?? `no ${existsSync(soft) ? thr : soft}` });
    continue;
  }
  const ws = extractWorkload(await loadTimeline(soft, {}));
  const wt = extractWorkload(await loadTimeline(thr, {}));
  if (wt.threaded !== true) {
    rows.push({ rep: r, skipped: `${thr} holds no threaded poll` });
    continue;
  }
  const softNs = pollNsPerPacket(ws);
  const threadNs = pollNsPerPacket(wt);
  const pollFactor = threadNs / softNs;
  // Bisection on the wake factor: the point prediction decreases as the wake-up cost grows.
  const lo = 0;
  const hi = 8;
  let fit;
  if (threadedPoint(ws, pollFactor, lo) < rep.ratio) fit = { wakeFactor: 0, note: 'measured ratio above the prediction with no wake-up cost' };
  else if (threadedPoint(ws, pollFactor, hi) > rep.ratio) fit = { wakeFactor: hi, note: `measured ratio below the prediction at wake factor ${hi}` };
  else fit = { wakeFactor: bisect(lo, hi, (v) => threadedPoint(ws, pollFactor, v) <= rep.ratio) };
  const onBusy = meanOf(rep.onBusy);
  const busy = fitBusy(ws, pollFactor, fit.wakeFactor, onBusy);
  rows.push({ rep: r, ratio: rep.ratio, softNs, threadNs, pollFactor, ...fit, onBusy, ...busy });
}

const ok = rows.filter((x) => x.skipped === undefined);
const range = (k) => ({ value: median(ok.map((x) => x[k])), low: Math.min(...ok.map((x) => x[k])), high: Math.max(...ok.map((x) => x[k])) });
const result = { experiment: EXP, repetitions: rows, pollFactor: range('pollFactor'), wakeFactor: range('wakeFactor'), wakeBusy: range('wakeBusy') };
if (args.includes('--json')) console.log(JSON.stringify(result, null, 2));
else {
  const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  console.log('| repetition | measured on/off | softirq poll ns/packet | kthread ns/packet | poll factor | wake factor | on phase busy (mean of cores) | wake busy share |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const x of rows) {
    if (x.skipped !== undefined) console.log(`| ${x.rep} | left out: ${x.skipped} | | | | | | |`);
    else
      console.log(
        `| ${x.rep} | x${f(x.ratio)} | ${f(x.softNs, 0)} | ${f(x.threadNs, 0)} | ${f(x.pollFactor)} | ${f(x.wakeFactor)}${x.note ? ` (${x.note})` : ''} | ${f(x.onBusy * 100, 1)}% | ${f(x.wakeBusy)}${x.busyNote ? ` (${x.busyNote})` : ''} |`,
      );
  }
  console.log(
    `\npoll factor ${f(result.pollFactor.value)} (${f(result.pollFactor.low)}..${f(result.pollFactor.high)}), wake factor ${f(result.wakeFactor.value)} (${f(result.wakeFactor.low)}..${f(result.wakeFactor.high)}), wake busy share ${f(result.wakeBusy.value)} (${f(result.wakeBusy.low)}..${f(result.wakeBusy.high)}), from ${ok.length} repetitions of ${EXP}`,
  );
}
if (ok.length === 0) process.exitCode = 1;
