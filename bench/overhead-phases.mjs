// Ratios of the interleaved capture-overhead bench (bench/capture-overhead.sh --interleaved):
//   node bench/overhead-phases.mjs T0_FILE PHASES_FILE FLOW_FILE...
// T0_FILE: the wall time (s) just before the flows started. PHASES_FILE: lines
// `rep condition start end` (wall s). FLOW_FILE: iperf3 client text output with -i 1 -f m.
// Throughput per second is the sum over the flows of each 1-second interval; a phase's
// throughput is the mean of the intervals wholly inside [start, end]; a condition's ratio is
// the median over repetitions of its phase / the `none` phase of the same repetition.
import { readFileSync } from 'node:fs';

const [t0File, phasesFile, ...flows] = process.argv.slice(2);
if (!t0File || !phasesFile || flows.length === 0) {
  console.error('usage: node bench/overhead-phases.mjs T0_FILE PHASES_FILE FLOW_FILE...');
  process.exit(64);
}
const t0 = Number(readFileSync(t0File, 'utf8').trim());
/** Mbit/s summed over the flows, per interval [k, k+1) s after the flows started. */
const perSecond = [];
for (const f of flows) {
  // [  5]   3.00-4.00   sec  1.50 GBytes  12900 Mbits/sec    0   1.2 MBytes
  for (const m of readFileSync(f, 'utf8').matchAll(/^\[\s*\d+\]\s+(\d+)\.00-(\d+)\.00\s+sec\s+\S+\s+\S+\s+([\d.]+) Mbits\/sec\s+\d+/gm)) {
    const k = Number(m[1]);
    if (Number(m[2]) !== k + 1) continue; // the summary line
    perSecond[k] = (perSecond[k] ?? 0) + Number(m[3]);
  }
}
const phases = readFileSync(phasesFile, 'utf8')
  .trim()
  .split('\n')
  .map((l) => {
    const [rep, cond, a, b] = l.split(' ');
    return { rep, cond, a: Number(a) - t0, b: Number(b) - t0 };
  });
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const byRep = new Map();
for (const p of phases) {
  const secs = [];
  for (let k = Math.ceil(p.a); k + 1 <= p.b; k++) if (perSecond[k] !== undefined) secs.push(perSecond[k]);
  if (secs.length === 0) continue;
  if (!byRep.has(p.rep)) byRep.set(p.rep, {});
  byRep.get(p.rep)[p.cond] = mean(secs);
}
const conds = [...new Set(phases.map((p) => p.cond))];
console.log('condition     mean Gbit/s  ratio to none: median  [min .. max] over repetitions');
for (const c of conds) {
  const ratios = [];
  const tp = [];
  for (const r of byRep.values()) {
    if (r[c] !== undefined) tp.push(r[c]);
    if (r[c] !== undefined && r.none) ratios.push(r[c] / r.none);
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  console.log(`${c.padEnd(12)} ${(mean(tp) / 1000).toFixed(2).padStart(8)}     ${median(ratios).toFixed(3)}  [${sorted[0]?.toFixed(3)} .. ${sorted.at(-1)?.toFixed(3)}]  n=${ratios.length}`);
  if (c === 'windows') {
    const w = median(ratios);
    console.log(`goal windows cost <= 5%: ${w >= 0.95 ? 'met' : 'NOT met'} (${(100 * (1 - w)).toFixed(1)}%)`);
  }
}
