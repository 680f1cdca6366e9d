import { count, dur, pct } from '../detect/format.js';
import { PLAIN, type Painter } from './render/style.js';
import type { DiffResult } from './schema.js';

/** The text view of a DiffResult: totals, per core, per tunnel, then findings gone / appeared / kept. */
export function renderDiffText(d: DiffResult, opts: { painter?: Painter } = {}): string {
  const p = opts.painter ?? PLAIN;
  const out: string[] = [];
  const signedPct = (x: number): string => `${Math.round(x * 100) >= 0 ? '+' : '-'}${Math.abs(Math.round(x * 100))} pts`;
  const change = (b: number, a: number): string => (b > 0 ? ` (${a >= b ? '+' : '-'}${Math.abs(((a - b) / b) * 100).toFixed(0)}%)` : '');
  const side = (name: string, s: DiffResult['before']): string =>
    `${p.paint('bold', name.padEnd(7))} ${s.file}: ${s.capture.format}, ${dur(s.capture.durationNs)}, ${s.capture.cpus} cpus, ${count(s.capture.events)} events${s.capture.lostEvents > 0 ? `, ${count(s.capture.lostEvents)} lost` : ''}`;
  out.push(`${p.paint('bold', 'wgtrace diff')}`);
  out.push(side('before', d.before), side('after', d.after), '');
  const t = d.totals;
  out.push(`throughput       ${count(t.packetsPerSec.before)} -> ${count(t.packetsPerSec.after)} packets/s${change(t.packetsPerSec.before, t.packetsPerSec.after)}`);
  out.push(`cores with polls ${t.coresWithPolls.before} -> ${t.coresWithPolls.after}`);
  out.push(`busiest core     ${pct(t.maxUtilization.before)} -> ${pct(t.maxUtilization.after)}; mean core ${pct(t.meanUtilization.before)} -> ${pct(t.meanUtilization.after)} (traced work)`);
  out.push('', p.paint('bold', 'per core (share of the capture: busy (not idle), traced work, polls in softirq + threads, of which threads, crypt; ksoftirqd NET_RX runs)'));
  const w = Math.max(1, ...d.cpus.map((c) => String(c.cpu).length));
  for (const c of d.cpus) {
    const moved = Math.abs(c.coreBusy.delta) >= 0.005 || Math.abs(c.utilization.delta) >= 0.005 || Math.abs(c.pollBusyShare.delta) >= 0.005 || c.ksoftirqdNetRxCount.delta !== 0;
    const line =
      `cpu ${String(c.cpu).padStart(w)}  busy ${pct(c.coreBusy.before).padStart(4)} -> ${pct(c.coreBusy.after).padStart(4)} (${signedPct(c.coreBusy.delta)})` +
      `  traced ${pct(c.utilization.before)} -> ${pct(c.utilization.after)}` +
      `  polls ${pct(c.pollBusyShare.before)} -> ${pct(c.pollBusyShare.after)}` +
      (c.threadPollBusyShare.before > 0 || c.threadPollBusyShare.after > 0 ? ` (threads ${pct(c.threadPollBusyShare.before)} -> ${pct(c.threadPollBusyShare.after)})` : '') +
      `  crypt ${pct(c.cryptBusyShare.before)} -> ${pct(c.cryptBusyShare.after)}` +
      (c.ksoftirqdNetRxCount.before > 0 || c.ksoftirqdNetRxCount.after > 0 ? `  ksoftirqd ${count(c.ksoftirqdNetRxCount.before)} -> ${count(c.ksoftirqdNetRxCount.after)}` : '');
    out.push(moved ? line : p.paint('dim', line));
  }
  out.push('', p.paint('bold', 'per tunnel'));
  if (d.napis.length === 0) out.push('no NAPI polls in either capture');
  for (const n of d.napis) {
    const where = n.in === 'both' ? '' : n.in === 'before' ? ' (only before)' : ' (only after)';
    out.push(
      `${n.dev} (napi ${n.napi})${where}: ${count(n.packetsPerSec.before)} -> ${count(n.packetsPerSec.after)} packets/s${change(n.packetsPerSec.before, n.packetsPerSec.after)}, ` +
        `home cpu ${n.homeCpu.before < 0 ? '-' : n.homeCpu.before} -> ${n.homeCpu.after < 0 ? '-' : n.homeCpu.after}, ${n.modeBefore} -> ${n.modeAfter}, ` +
        `full-budget polls ${pct(n.fullBudgetShare.before)} -> ${pct(n.fullBudgetShare.after)}`,
    );
  }
  const f = d.findings;
  out.push('', p.paint('bold', 'findings'));
  if (f.gone.length + f.appeared.length + f.kept.length === 0) out.push('none in either capture');
  for (const x of f.gone) out.push(`${p.paint('green', '-')} gone      [${x.severity}] ${x.key}: ${x.summary}`);
  for (const x of f.appeared) out.push(`${p.paint('red', '+')} appeared  [${x.severity}] ${x.key}: ${x.summary}`);
  for (const x of f.kept) {
    const sev = x.severityBefore === x.severityAfter ? x.severityAfter : `${x.severityBefore} -> ${x.severityAfter}`;
    out.push(`= kept      [${sev}] ${x.key}: ${x.summary}`);
  }
  return out.join('\n') + '\n';
}
