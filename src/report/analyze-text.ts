import { count, cpuList, dur, pct } from '../detect/format.js';
import { legend, stackedBar, type BarSegment } from './render/bars.js';
import { PLAIN, type Painter, type StyleName } from './render/style.js';
import type { AnalyzeResult, CpuJson, FindingJson } from './schema.js';
import { NO_PROC_STAT } from '../timeline/idle-calibration.js';

/**
 * The text view of an AnalyzeResult: the capture's facts, the per-core utilization chart
 * (the talk's "CPU % per core"), then the findings ranked by the throughput they cost, each
 * with evidence and a recommendation. Deterministic (no clock, colour only through `p`), so
 * golden tests compare it byte for byte.
 */
export interface TextOptions {
  painter?: Painter;
  /** Only the findings. */
  quiet?: boolean;
  /** Bar width in characters for 100%. */
  barWidth?: number;
}

export const CORE_SEGMENTS: readonly BarSegment[] = [
  { key: 'netRx', label: 'NET_RX softirq', char: '#', style: 'red' },
  { key: 'tunnel polls', label: 'tunnel polls', char: '=', style: 'yellow' },
  { key: 'other NAPIs', label: 'other NAPIs', char: '-', style: 'magenta' },
  { key: 'crypt', label: 'crypt work', char: ':', style: 'cyan' },
  { key: 'other traced', label: 'other traced', char: '.', style: 'gray' },
  { key: 'untraced', label: 'untraced rest', char: '_', style: 'dim' },
];

/** How the text names a core's busy source. */
export const BUSY_SOURCE_TEXT: Record<CpuJson['coreBusySource'], string> = {
  'idle-events': 'idle records',
  'proc-stat': '/proc/stat',
  traced: 'traced work only',
};

const SEVERITY_STYLE: Record<FindingJson['severity'], StyleName> = { critical: 'red', warning: 'yellow', info: 'cyan' };

/** `2386077074170` -> `2386.077074170 s` (exact: string arithmetic). */
export function bootSeconds(ns: string): string {
  const neg = ns.startsWith('-');
  const d = (neg ? ns.slice(1) : ns).padStart(10, '0');
  return `${neg ? '-' : ''}${d.slice(0, -9).replace(/^0+(?=\d)/, '')}.${d.slice(-9)} s`;
}

/**
 * Shares of the probed span per segment for one core, adding up to its whole busy share
 * (coreBusy): NET_RX without the polls inside it, tunnel polls, other NAPIs' polls (softirq and
 * threads), crypt work, other traced work, and the untraced rest. Slices nest on a CPU (a
 * softirq can interrupt a kworker's crypt item), so the traced parts can add up to more than
 * the traced union; they are then scaled down to it.
 */
export function coreShares(c: CpuJson, durationNs: number): number[] {
  if (durationNs <= 0) return [0, 0, 0, 0, 0, 0];
  const softirqPolls = c.pollBusyNs - c.threadPollBusyNs;
  const parts = [Math.max(0, c.netRx.busyNs - softirqPolls), c.tunnelPollBusyNs, c.otherNapiPollBusyNs, c.cryptBusyNs, c.netTxBusyNs + c.otherWorkBusyNs].map((x) => x / durationNs);
  const sum = parts.reduce((a, b) => a + b, 0);
  const u = c.utilization;
  const traced = sum > u && sum > 0 ? parts.map((x) => (x * u) / sum) : parts;
  if (!(sum > u)) traced[4] = traced[4]! + (u - sum);
  return [...traced, Math.max(0, c.coreBusy - u)];
}

export function renderAnalyzeText(r: AnalyzeResult, opts: TextOptions = {}): string {
  const p = opts.painter ?? PLAIN;
  const out: string[] = [];
  if (!opts.quiet) {
    out.push(...headerLines(r, p), '');
    out.push(...chartLines(r, p, opts.barWidth ?? 50), '');
  }
  out.push(...findingLines(r, p, opts.quiet === true));
  return out.join('\n') + '\n';
}

function headerLines(r: AnalyzeResult, p: Painter): string[] {
  const c = r.capture;
  const row = (k: string, v: string): string => `${p.paint('bold', k.padEnd(9))} ${v}`;
  const where = [c.hostname ? `host ${c.hostname}` : '', c.kernel ? `kernel ${c.kernel}` : ''].filter(Boolean).join(', ');
  const lines = [
    `${p.paint('bold', 'wgtrace analyze')} ${r.file}`,
    row('capture', `${c.format}, ${c.mode} mode, ${c.status}${where ? `; ${where}` : ''}`),
    row(
      'span',
      `${dur(c.durationNs)} from boot ${bootSeconds(c.startNs)} to ${bootSeconds(c.endNs)}; window ${dur(c.windowNs)}${c.windowAskedNs === undefined ? '' : ` (widened from ${dur(c.windowAskedNs)} to keep the per-window series within memory)`}`,
    ),
    // Shown when the probes missed more than 1% of the capture (bpftrace's attach time).
    ...(c.probedNs < 0.99 * c.durationNs
      ? [row('probed', `${dur(c.probedNs)} from ${(c.probedFromOffsetNs / 1e9).toFixed(3)} s (the probes attached late or detached early); utilization and rates are over this span`)]
      : []),
    row('cpus', `${c.cpus} ${c.cpusGuessed ? 'seen in events (no CPU list in a header)' : 'online'} (${c.cpuList})`),
    row('events', `${count(c.events)} (${count(c.lostEvents)} lost, ${count(c.skippedLines)} lines skipped${c.clampedSlices > 0 ? `, ${count(c.clampedSlices)} slices clamped` : ''})`),
  ];
  if (c.devices.length > 0) lines.push(row('devices', deviceGroups(c.devices)));
  const tn = r.napis.filter((n) => n.role === 'tunnel');
  const polls = tn.reduce((s, n) => s + n.polls, 0);
  const packets = tn.reduce((s, n) => s + n.work, 0);
  const threaded = tn.reduce((s, n) => s + (n.modeInferred ? (n.mode === 'threaded' ? n.polls : 0) : n.threadedPolls), 0);
  const inferred = tn.some((n) => n.modeInferred) ? ' (from the threaded flags: windows mode)' : '';
  const rate = c.probedNs > 0 ? ` (${count((packets * 1e9) / c.probedNs)} packets/s)` : '';
  const tunnels = r.napis.filter((n) => n.role === 'tunnel');
  const others = r.napis.filter((n) => n.role === 'other');
  lines.push(
    row(
      'tunnels',
      tunnels.length === 0
        ? r.napis.length === 0
          ? 'no NAPI polls in the capture'
          : 'no tunnel NAPIs (no WireGuard device; name other tunnel devices with --tunnels GLOB)'
        : `${tunnels.length} NAPI instance${tunnels.length === 1 ? '' : 's'}: ${count(polls)} polls, ${count(packets)} packets${rate}; ${threaded === 0 ? 'all in softirq' : threaded >= polls ? 'all in threaded-NAPI kthreads' : `${pct(threaded / polls)} in threaded-NAPI kthreads`}${inferred}`,
    ),
  );
  if (others.length > 0) {
    const otherPolls = others.reduce((s, n) => s + n.polls, 0);
    lines.push(
      row(
        'other',
        `${others.length} other NAPI${others.length === 1 ? '' : 's'} (${others.map((n) => `${n.dev}: ${n.roleReason}`).join('; ')}): ${count(otherPolls)} polls, counted as load on their cores`,
      ),
    );
  }
  const pr = r.prediction;
  if (pr !== undefined) {
    lines.push(
      row(
        'replay',
        pr.models === undefined
          ? `the replay models failed: ${pr.error ?? 'unknown error'}`
          : pr.models.length === 0
            ? 'the replay models cannot predict this capture (wgtrace replay says why)'
            : `${pr.models.map((m) => `${m.model} ${count(m.throughputPps)}${m.vsMeasured ? ` (x${m.vsMeasured.low.toFixed(2)}..${m.vsMeasured.high.toFixed(2)} of measured)` : ''}`).join(', ')} packets/s predicted capacity if the senders offered all they could (measured ${count(pr.measuredPps)} in the traffic window; ${pr.runs > 1 ? `medians of ${pr.runs} seeded runs; ` : ''}wgtrace replay for more)`,
      ),
    );
    for (const a of pr.abstained ?? []) lines.push(row('', `${a.model}: cannot predict: ${a.reason}`));
    for (const w of pr.warnings) lines.push(row('', `replay: ${w}`));
  }
  return lines;
}

/**
 * Devices grouped by kind and threaded flag, runs of numbered names collapsed:
 * `wg0-wg7 (wireguard, threaded=0), eth0 (physical, threaded=?)`.
 */
export function deviceGroups(devs: readonly { name: string; kind: string; threaded?: number | undefined }[]): string {
  const groups = new Map<string, string[]>();
  for (const d of devs) {
    const k = `${d.kind}, threaded=${d.threaded ?? '?'}`;
    groups.set(k, [...(groups.get(k) ?? []), d.name]);
  }
  return [...groups].map(([k, names]) => `${collapseNames(names)} (${k})`).join(', ');
}

function collapseNames(names: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < names.length;) {
    const m = /^(.*?)(\d+)$/.exec(names[i]!);
    let j = i;
    if (m) {
      while (j + 1 < names.length) {
        const n = /^(.*?)(\d+)$/.exec(names[j + 1]!);
        if (!n || n[1] !== m[1] || Number(n[2]) !== Number(m[2]) + (j + 1 - i)) break;
        j++;
      }
    }
    out.push(j - i >= 2 ? `${names[i]}-${names[j]}` : names.slice(i, j + 1).join(', '));
    i = j + 1;
  }
  return out.join(', ');
}

/**
 * How the idle records were matched to /proc/stat (timeline/idle-calibration.ts): the kernel's
 * cost per idle period where it was applied, and the reason where it was not.
 */
/** Points between coreBusy and mpstat's reading worth a line. */
const MPSTAT_APART = 0.02;

function calibrationLine(cpus: readonly CpuJson[]): string | undefined {
  const applied = cpus.filter((c) => c.idleCalibration?.applied === true && c.idleCalibration.perPeriodNs !== undefined);
  const restored = cpus.filter((c) => c.idleCalibration?.applied === true && c.idleCalibration.restoredNs !== undefined);
  // Without /proc/stat in the header (synthetic captures, scripts run by hand) there is nothing
  // to match against, and the JSON says so; the text only speaks of a match or a refused one.
  const not = cpus.filter((c) => c.idleCalibration !== undefined && !c.idleCalibration.applied && c.idleCalibration.reason !== NO_PROC_STAT);
  const parts: string[] = [];
  if (applied.length > 0) {
    const us = applied.map((c) => c.idleCalibration!.perPeriodNs! / 1000);
    const lo = Math.min(...us);
    const hi = Math.max(...us);
    const range = hi - lo < 0.05 ? `${lo.toFixed(1)} us` : `${lo.toFixed(1)} to ${hi.toFixed(1)} us`;
    parts.push(`idle records matched to /proc/stat on ${coresNamed(applied)}: the kernel counts ${range} of each idle period busy (the switch in and out, irqs)`);
  }
  if (restored.length > 0) {
    const ms = restored.map((c) => `${Math.round(c.idleCalibration!.restoredNs! / 1e6)} ms`);
    parts.push(`idle records matched to /proc/stat on ${coresNamed(restored)}: they missed idle the kernel counted (switches to idle not seen), ${ms.join(', ')} put back in the untraced busy time`);
  }
  const reasons = new Map<string, CpuJson[]>();
  for (const c of not) {
    const why = c.idleCalibration!.reason ?? 'no reason given';
    // Reasons name their own figures: group by the text without its numbers.
    const key = why.replace(/[\d.]+ ms/g, 'N ms');
    reasons.set(key, [...(reasons.get(key) ?? []), c]);
  }
  for (const group of reasons.values()) parts.push(`idle records as captured on ${coresNamed(group)}: ${group[0]!.idleCalibration!.reason}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

function coresNamed(cpus: readonly CpuJson[]): string {
  return `${cpus.length === 1 ? 'cpu' : 'cpus'} ${cpuList(cpus.map((c) => c.cpu))}`;
}

function chartLines(r: AnalyzeResult, p: Painter, width: number): string[] {
  const d = r.capture.probedNs;
  const lines = [`${p.paint('bold', 'CPU % per core')}   ${legend(CORE_SEGMENTS, p)}`];
  const w = Math.max(1, String(Math.max(0, ...r.cpus.map((c) => c.cpu))).length);
  for (const c of r.cpus) {
    const shares = coreShares(c, d);
    const parts = CORE_SEGMENTS.map((s, i) => ({ s, v: shares[i]! }))
      .slice(0, 5)
      .filter((x) => x.v >= 0.005);
    const detail = parts.length > 0 && c.utilization >= 0.005 ? `: ${parts.map((x) => `${x.s.key === 'netRx' ? 'rx' : x.s.key} ${pct(x.v)}`).join(' ')}` : '';
    const ks = c.netRx.ksoftirqdCount > 0 ? `  ksoftirqd x${count(c.netRx.ksoftirqdCount)}` : '';
    const rest = c.coreBusySource === 'traced' ? '' : `; untraced ${pct(shares[5]!)}`;
    lines.push(`cpu ${String(c.cpu).padStart(w)} |${stackedBar(shares, CORE_SEGMENTS, width, p)}| ${pct(c.coreBusy).padStart(4)} busy  traced ${pct(c.utilization)}${detail}${rest}${ks}`);
  }
  const sources = [...new Set(r.cpus.map((c) => c.coreBusySource))];
  lines.push(
    `busy = not idle, as mpstat counts it, over the probed span; from ${sources.map((x) => BUSY_SOURCE_TEXT[x]).join(' and ')}` +
      (sources.includes('traced') ? ' (no idle records or /proc/stat in the capture: a lower bound)' : ''),
  );
  const note = calibrationLine(r.cpus);
  if (note !== undefined) lines.push(note);
  // Where mpstat would read otherwise, say so before the engineer checks and wonders.
  const apart = r.cpus.filter((c) => c.mpstatBusy !== undefined && c.coreBusySource !== 'traced' && Math.abs(c.mpstatBusy - c.coreBusy) > MPSTAT_APART);
  if (apart.length > 0) {
    lines.push(
      `mpstat reads ${apart.map((c) => `cpu ${c.cpu} ${pct(c.mpstatBusy!)}`).join(', ')} over the same span: its busy fields are tick samples, which miss bursts shorter than a tick between idle periods; the figures above follow the kernel's idle clock (/proc/stat idle over the span's length)`,
    );
  }
  return lines;
}

function findingLines(r: AnalyzeResult, p: Painter, quiet: boolean): string[] {
  if (r.findings.length === 0) return quiet ? [] : ['No findings: no shared cores, monolithic polls, imbalance or data problems above the thresholds.'];
  const lines = [p.paint('bold', 'Findings, ranked by the throughput they cost')];
  const predicted = new Set<string>();
  r.findings.forEach((f, i) => {
    const share = f.costEstimate.share;
    const cost = share >= 0.001 ? `  costs ~${pct(share)} of throughput` : share > 0 ? '  costs <0.1% of throughput' : '';
    lines.push('');
    lines.push(`${String(i + 1).padStart(2)}. ${p.paint(SEVERITY_STYLE[f.severity], f.severity.toUpperCase())} ${p.paint('bold', f.id)}${cost}`);
    lines.push(`    ${f.summary}`);
    const where = [
      f.cpus.length > 0 ? `cpu ${cpuList(f.cpus)}` : '',
      f.napis.length > 0 ? `napi ${f.napis.map((n) => `${n.dev}:${n.napi}`).join(', ')}` : '',
      `${(f.fromOffsetNs / 1e9).toFixed(3)}-${(f.toOffsetNs / 1e9).toFixed(3)} s`,
    ].filter(Boolean);
    lines.push(`    ${p.paint('dim', where.join('; '))}`);
    for (const e of f.evidence) lines.push(`    - ${e}`);
    const rec = f.recommendation;
    if (rec !== undefined) {
      lines.push(`    ${p.paint('green', '>')} ${rec.text}`);
      for (const cmd of rec.commands) lines.push(`      $ ${cmd}`);
      // The same model's prediction is printed once, under the highest-ranked finding.
      const g = rec.predictedGain;
      if (g !== undefined && !predicted.has(g.model)) {
        predicted.add(g.model);
        lines.push(`      predicted: ${g.text}`);
      } else if (g !== undefined) {
        const iv = g.throughputRatioInterval;
        lines.push(
          `      predicted: ${g.throughputRatio === null ? 'cannot predict' : `x${g.throughputRatio.toFixed(2)}${iv ? ` (${iv.low.toFixed(2)}..${iv.high.toFixed(2)})` : ''}`} (${g.model}, as above)`,
        );
      }
    }
  });
  return lines;
}
