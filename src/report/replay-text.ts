import { formatDur } from '../base/time.js';
import type { Painter } from './render/style.js';
import type { ReplayJson } from './replay-schema.js';

/**
 * The text view of `wgtrace replay`: the models beside measured, one bar chart row per model
 * (a column per core, like the talk's per-core CPU figure of gw2), a verdict per model, the
 * calibration error and the Monte Carlo distribution. A view of ReplayJson, nothing more.
 */
const BLOCKS = ' ▁▂▃▄▅▆▇█';

/** One character per core: blank idle, █ 100%. */
export function coreColumns(utils: readonly number[]): string {
  return utils.map((u) => BLOCKS[Math.min(8, Math.max(0, Math.round(u * 8)))]!).join('');
}

const num = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (v: number): string => `${(v * 100).toFixed(0)}%`;

function pad(s: string, w: number, right = false): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

export function renderReplayText(r: ReplayJson, opts: { painter: Painter }): string {
  const p = opts.painter;
  const out: string[] = [];
  const mode = r.threaded === null ? 'NAPI mode unknown' : r.threaded ? 'threaded NAPI on' : 'threaded NAPI off (softirq)';
  out.push(p.paint('bold', `wgtrace replay ${r.file}: ${r.tunnels} tunnel(s) on ${r.cores} cores, ${formatDur(r.durationNs)}, ${mode}`));
  const placement = r.placement === 'observed' ? 'polls placed as observed (no Monte Carlo)' : `Monte Carlo ${r.monteCarlo.runs} run(s), seed ${r.monteCarlo.seed}`;
  out.push(`demand: ${r.options.demand === 'elastic' ? 'elastic (each tunnel takes what it gets)' : 'as measured'}; ${placement}; untraced load ${r.untraced}`);
  if (r.trafficWindow) out.push(`traffic window: ${formatDur(r.trafficWindow.fromNs)} to ${formatDur(r.trafficWindow.toNs)} of the capture (rates and costs are averaged over it)`);
  out.push('');
  const head = `${pad('', 10)}${pad('packets/s', 14, true)}${pad('vs measured (range)', 26, true)}${pad('busiest core', 16, true)}${pad('mean CPU', 10, true)}${pad('Jain', 7, true)}`;
  out.push(p.paint('bold', head));
  const mean = (c: { utilization: number }[]): number => c.reduce((a, x) => a + x.utilization, 0) / Math.max(1, c.length);
  const row = (name: string, pps: number, change: string, busiest: number, max: number, cpus: { utilization: number }[], jain: number): string =>
    `${pad(name, 10)}${pad(num(pps), 14, true)}${pad(change, 26, true)}${pad(`${busiest} at ${pct(max)}`, 16, true)}${pad(pct(mean(cpus)), 10, true)}${pad(jain.toFixed(2), 7, true)}`;
  const range = (v: { low: number; point: number; high: number } | null): string => (v === null ? '' : `x${v.point.toFixed(2)} (${v.low.toFixed(2)}..${v.high.toFixed(2)})`);
  out.push(row('measured', r.measured.throughputPps, '', r.measured.busiestCpu, r.measured.maxCpuUtilization, r.measured.cpus, r.measured.jainFairness));
  for (const m of r.models) out.push(row(m.model, m.throughputPps, range(m.vsMeasured), m.busiestCpu, m.maxCpuUtilization, m.cpus, m.jainFairness));
  for (const a of r.abstained) out.push(`${pad(a.model, 10)}cannot predict: ${a.reason}`);
  out.push('');
  const first = r.measured.cpus[0]?.cpu ?? 0;
  const last = r.measured.cpus[r.measured.cpus.length - 1]?.cpu ?? 0;
  out.push(p.paint('bold', `per-core utilization, one column per core ${first}..${last} (blank idle, █ 100%)`));
  const ruler = r.measured.cpus.map((c) => (c.cpu % 10 === 0 ? String((c.cpu / 10) % 10) : c.cpu % 5 === 0 ? '+' : '.')).join('');
  out.push(`${pad('', 10)}|${ruler}|`);
  out.push(`${pad('measured', 10)}|${coreColumns(r.measured.cpus.map((c) => c.utilization))}|`);
  for (const m of r.models) out.push(`${pad(m.model, 10)}|${p.paint(m.model === 'stock' ? 'red' : m.model === 'threaded' ? 'yellow' : 'green', coreColumns(m.cpus.map((c) => c.utilization)))}|`);
  if (r.untraced !== 'unknown') out.push('utilization is whole-core busy over the traffic window (traced work plus the untraced load the models replay)');
  else out.push('utilization is the traced work only: the capture has no idle records or /proc/stat, so the untraced load is unknown');
  out.push('');
  out.push(p.paint('bold', 'verdicts'));
  for (const m of r.models) out.push(`  ${pad(m.model, 9)} ${m.verdict}`);
  for (const a of r.abstained) out.push(`  ${pad(a.model, 9)} cannot predict: ${a.reason}`);
  out.push('');
  const c = r.calibrationError;
  const calib = `calibration: stock replayed with the observed placements misses the measured per-core utilization by ${(c.meanAbsolute * 100).toFixed(1)} points on average (max ${(c.maxAbsolute * 100).toFixed(1)}, core by core)`;
  out.push(c.warn ? p.paint('yellow', `${calib}: predictions are rough`) : calib);
  const mc = r.monteCarlo;
  if (r.placement === 'random')
    out.push(
      `Monte Carlo: 2+ of ${mc.tunnels} polls share a core when a surge starts in ${pct(mc.collisionProbability)} of runs (uniform placement, closed form: ${(mc.collisionProbabilityClosedForm * 100).toFixed(1)}%)`,
    );
  for (const x of r.placement === 'random' ? mc.models : []) {
    let s = `  ${pad(x.model, 9)} packets/s p5 ${num(x.throughputPps.p5)}, p50 ${num(x.throughputPps.p50)}, p95 ${num(x.throughputPps.p95)}`;
    if (x.convergenceNs)
      s += `; polls converge in ${pct(x.convergedFraction ?? 0)} of runs (p50 ${Math.round(x.convergenceNs.p50 / r.options.stepNs)}, p95 ${Math.round(x.convergenceNs.p95 / r.options.stepNs)} model steps of ${formatDur(r.options.stepNs)}: a pace, not a measured time), onto one core in ${pct(x.singleCoreFraction ?? 0)}`;
    else if (x.model === 'stock') s += '; polls never all stuck within the horizon';
    out.push(s);
  }
  if (r.parameters.length > 0) {
    out.push('');
    out.push(p.paint('bold', 'parameters (value, range, basis)'));
    const fmt = (v: number): string => (Math.abs(v) >= 100 ? num(v) : Number(v.toPrecision(3)).toString());
    for (const x of r.parameters) out.push(`  ${x.name} ${fmt(x.value)} (${fmt(x.low)}..${fmt(x.high)}) ${x.unit}; ${x.basis}: ${x.source}`);
  }
  if (r.assumptions.length > 0) {
    out.push('');
    out.push(p.paint('bold', 'assumptions (inputs the capture lacked)'));
    for (const a of r.assumptions) out.push(`  ${a.code}: ${a.message}`);
  }
  for (const w of r.warnings) out.push(p.paint('yellow', `warning: ${w}`));
  out.push('models and their assumptions: docs/models.md');
  return out.join('\n') + '\n';
}
