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
const signed = (v: number | null): string => (v === null ? '' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(0)}%`);

function pad(s: string, w: number, right = false): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

export function renderReplayText(r: ReplayJson, opts: { painter: Painter }): string {
  const p = opts.painter;
  const out: string[] = [];
  const mode = r.threaded === null ? 'NAPI mode unknown' : r.threaded ? 'threaded NAPI on' : 'threaded NAPI off (softirq)';
  out.push(p.paint('bold', `wgtrace replay ${r.file}: ${r.tunnels} tunnel(s) on ${r.cores} cores, ${formatDur(r.durationNs)}, ${mode}`));
  out.push(`demand: ${r.options.demand === 'elastic' ? 'elastic (each tunnel takes what it gets)' : 'as measured'}; Monte Carlo ${r.monteCarlo.runs} run(s), seed ${r.monteCarlo.seed}`);
  out.push('');
  const head = `${pad('', 10)}${pad('packets/s', 14, true)}${pad('vs measured', 13, true)}${pad('busiest core', 16, true)}${pad('mean CPU', 10, true)}${pad('Jain', 7, true)}`;
  out.push(p.paint('bold', head));
  const mean = (c: { utilization: number }[]): number => c.reduce((a, x) => a + x.utilization, 0) / Math.max(1, c.length);
  const row = (name: string, pps: number, change: string, busiest: number, max: number, cpus: { utilization: number }[], jain: number): string =>
    `${pad(name, 10)}${pad(num(pps), 14, true)}${pad(change, 13, true)}${pad(`${busiest} at ${pct(max)}`, 16, true)}${pad(pct(mean(cpus)), 10, true)}${pad(jain.toFixed(2), 7, true)}`;
  out.push(row('measured', r.measured.throughputPps, '', r.measured.busiestCpu, r.measured.maxCpuUtilization, r.measured.cpus, r.measured.jainFairness));
  for (const m of r.models) out.push(row(m.model, m.throughputPps, signed(m.changeVsMeasured), m.busiestCpu, m.maxCpuUtilization, m.cpus, m.jainFairness));
  out.push('');
  const first = r.measured.cpus[0]?.cpu ?? 0;
  const last = r.measured.cpus[r.measured.cpus.length - 1]?.cpu ?? 0;
  out.push(p.paint('bold', `per-core utilization, one column per core ${first}..${last} (blank idle, █ 100%)`));
  const ruler = r.measured.cpus.map((c) => (c.cpu % 10 === 0 ? String((c.cpu / 10) % 10) : c.cpu % 5 === 0 ? '+' : '.')).join('');
  out.push(`${pad('', 10)}|${ruler}|`);
  out.push(`${pad('measured', 10)}|${coreColumns(r.measured.cpus.map((c) => c.utilization))}|`);
  for (const m of r.models) out.push(`${pad(m.model, 10)}|${p.paint(m.model === 'stock' ? 'red' : m.model === 'threaded' ? 'yellow' : 'green', coreColumns(m.cpus.map((c) => c.utilization)))}|`);
  if (r.coreBusy.length > 0) {
    // The models replay the traced work; the cores' whole busy time is another figure, said once.
    const src = [...new Set(r.coreBusy.map((c) => c.coreBusySource))].map((x) => (x === 'idle-events' ? 'idle records' : x === 'proc-stat' ? '/proc/stat' : 'traced work only')).join(' and ');
    const shown = r.coreBusy
      .slice(0, 16)
      .map((c) => `cpu ${c.cpu} ${pct(c.coreBusy)}`)
      .join(', ');
    out.push(
      `whole-core busy (not idle, as analyze shows it; from ${src}): ${shown}${r.coreBusy.length > 16 ? `, ... (${r.coreBusy.length} cores)` : ''}; the rows above are the traced work the models replay`,
    );
  }
  out.push('');
  out.push(p.paint('bold', 'verdicts'));
  for (const m of r.models) out.push(`  ${pad(m.model, 9)} ${m.verdict}`);
  out.push('');
  const c = r.calibrationError;
  const calib = `calibration: stock replayed with the observed placements misses the measured per-core utilization by ${(c.meanAbsolute * 100).toFixed(1)} points on average (max ${(c.maxAbsolute * 100).toFixed(1)}, core by core)`;
  out.push(c.warn ? p.paint('yellow', `${calib}: predictions are rough`) : calib);
  const mc = r.monteCarlo;
  out.push(
    `Monte Carlo: 2+ of ${mc.tunnels} polls share a core when a surge starts in ${pct(mc.collisionProbability)} of runs (uniform placement, closed form: ${(mc.collisionProbabilityClosedForm * 100).toFixed(1)}%)`,
  );
  for (const x of mc.models) {
    let s = `  ${pad(x.model, 9)} packets/s p5 ${num(x.throughputPps.p5)}, p50 ${num(x.throughputPps.p50)}, p95 ${num(x.throughputPps.p95)}`;
    if (x.convergenceNs)
      s += `; polls converge in ${pct(x.convergedFraction ?? 0)} of runs (p50 ${formatDur(x.convergenceNs.p50)}, p95 ${formatDur(x.convergenceNs.p95)}), onto one core in ${pct(x.singleCoreFraction ?? 0)}`;
    else if (x.model === 'stock') s += '; polls never all stuck within the horizon';
    out.push(s);
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
