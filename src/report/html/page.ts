import { createHash } from 'node:crypto';
import type { AnalyzeResult, DiffResult, FindingJson } from '../schema.js';
import type { ReplayJson } from '../replay-schema.js';
import { bootSeconds, deviceGroups } from '../analyze-text.js';
import type { ReportAssets } from './assets.js';
import { clientMain } from './client.js';
import type { ReportSeries } from './series.js';
import { PAGE_CSS } from './style.js';

/**
 * `wgtrace report`: one self-contained HTML page from the result objects of `analyze --json`
 * and `replay --json` and the timeline's per-window series (series.ts). Every figure in a
 * table is rendered here from those objects, server side, so the page reads without
 * JavaScript and prints; the charts are drawn in the browser from the same objects, embedded
 * as JSON. Nothing leaves the page: scripts and styles are inline, allowed by their hashes in a
 * `default-src 'none'` Content-Security-Policy, and the fonts are the system's.
 *
 * Each number a table shows carries `data-k` (its path in the result object, `a:` analyze,
 * `r:` replay) so a test can read the rendered text back and compare it with `--json`.
 */

export interface ReportRun {
  /** The capture as the user named it. */
  file: string;
  analyze: AnalyzeResult;
  /** The replay result, or why the models could not run on this capture. */
  replay: ReplayJson | { error: string };
  series: ReportSeries;
  /** The loader's diagnostics (what the CLI prints on stderr), bounded. */
  diagnostics: { severity: string; code: string; message: string; line?: number }[];
}

export interface ReportPageInput {
  runs: ReportRun[];
  /** With two runs: `wgtrace diff` of them. */
  diff?: DiffResult;
  toolVersion: string;
  assets: ReportAssets;
}

/** Diagnostics listed in the page; the rest are counted. */
export const PAGE_DIAGNOSTICS = 50;

// ---------------------------------------------------------------- formatting

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const group = (n: number): string =>
  Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** A number of the result object in a table cell: its rendered text, its path, and the exact value on hover. */
type Fmt = 'int' | 'ms' | 'pct' | 'rate' | 's' | 'chg' | 'num';
export function fmt(kind: Fmt, v: number): string {
  switch (kind) {
    case 'int':
      return group(v);
    case 'ms':
      return `${(v / 1e6).toFixed(3)} ms`;
    case 'pct':
      return `${(v * 100).toFixed(1)}%`;
    case 'rate':
      return `${group(v)}/s`;
    case 's':
      return `${(v / 1e9).toFixed(3)} s`;
    case 'chg':
      return `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`;
    case 'num':
      return Math.abs(v) >= 1000 ? group(v) : String(Number(v.toPrecision(3)));
  }
}

function num(kind: Fmt, v: number, key: string, run: number): string {
  const exact = kind === 'ms' || kind === 's' ? `${group(v)} ns` : String(v);
  return `<td class="num" data-run="${run}" data-k="${esc(key)}" data-fmt="${kind}" title="${esc(exact)}">${esc(fmt(kind, v))}</td>`;
}

const text = (s: string): string => `<td>${esc(s)}</td>`;

function table(head: string[], rows: string[], cls = ''): string {
  return `<div class="scroll"><table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

// ---------------------------------------------------------------- sections

function factsSection(run: ReportRun, ri: number): string {
  const a = run.analyze;
  const c = a.capture;
  const k = (p: string): string => `a:capture.${p}`;
  const lost = c.lostEvents > 0 || c.skippedLines > 0 || c.clampedSlices > 0;
  const dq = a.findings.find((f) => f.id === 'data-quality');
  const rows = [
    `<tr><th>file</th>${text(run.file)}</tr>`,
    `<tr><th>capture</th>${text(`${c.format}, ${c.mode} mode, status ${c.status}`)}</tr>`,
    `<tr><th>host</th>${text([c.hostname ?? '(no header)', c.kernel ? `kernel ${c.kernel}` : ''].filter(Boolean).join(', '))}</tr>`,
    `<tr><th>span</th>${num('s', c.durationNs, k('durationNs'), ri)}</tr>`,
    `<tr><th>from boot</th>${text(`${bootSeconds(c.startNs)} to ${bootSeconds(c.endNs)}`)}</tr>`,
    `<tr><th>probed span</th>${num('s', c.probedNs, k('probedNs'), ri)}</tr>`,
    `<tr><th>probes attached at</th>${num('s', c.probedFromOffsetNs, k('probedFromOffsetNs'), ri)}</tr>`,
    `<tr><th>window</th>${num('ms', c.windowNs, k('windowNs'), ri)}</tr>`,
    `<tr><th>CPUs</th>${text(`${c.cpus} ${c.cpusGuessed ? 'seen in events (no CPU list in a header)' : 'online'} (${c.cpuList})`)}</tr>`,
    `<tr><th>events</th>${num('int', c.events, k('events'), ri)}</tr>`,
    `<tr${c.lostEvents > 0 ? ' class="bad"' : ''}><th>lost events</th>${num('int', c.lostEvents, k('lostEvents'), ri)}</tr>`,
    `<tr${c.skippedLines > 0 ? ' class="bad"' : ''}><th>skipped lines</th>${num('int', c.skippedLines, k('skippedLines'), ri)}</tr>`,
    `<tr${c.clampedSlices > 0 ? ' class="bad"' : ''}><th>clamped slices</th>${num('int', c.clampedSlices, k('clampedSlices'), ri)}</tr>`,
    ...(c.devices.length > 0 ? [`<tr><th>devices</th>${text(deviceGroups(c.devices))}</tr>`] : []),
    ...(c.devicesGlob !== undefined ? [`<tr><th>device filter</th>${text(c.devicesGlob)}</tr>`] : []),
    ...(c.untracedDevices !== undefined && c.untracedDevices.length > 0
      ? [`<tr class="bad"><th>polled, not traced</th>${text(`${c.untracedDevices.join(', ')} (left out by the device filter: their polls are not in any figure)`)}</tr>`]
      : []),
  ];
  const quality = dq
    ? `<p class="sev-${dq.severity}"><strong>Data quality:</strong> ${esc(dq.summary)}</p><ul>${dq.evidence.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>`
    : `<p>Data quality: ${lost ? 'see the counts above' : 'no lost events, no skipped lines, no clamped slices'}.</p>`;
  const diags = run.diagnostics.filter((d) => d.severity !== 'info');
  const diagList =
    diags.length === 0
      ? ''
      : `<details><summary>${diags.length} diagnostic${diags.length === 1 ? '' : 's'} from reading the capture</summary><ul class="diags">${diags
          .slice(0, PAGE_DIAGNOSTICS)
          .map((d) => `<li><code>${esc(d.severity)}</code> ${esc(run.file)}${d.line !== undefined ? `:${d.line}` : ''}: ${esc(d.message)}</li>`)
          .join(
            '',
          )}</ul>${diags.length > PAGE_DIAGNOSTICS ? `<p>${diags.length - PAGE_DIAGNOSTICS} more not shown (all of them in <code>wgtrace analyze --json</code> on stderr).</p>` : ''}</details>`;
  return `<table class="facts">${rows.join('')}</table>${quality}${diagList}`;
}

function legendHtml(run: ReportRun): string {
  const items = run.series.categories.map((c) =>
    c.available
      ? `<li title="${esc(c.means)}"><span class="swatch sw-${c.key}"></span>${esc(c.label)}</li>`
      : `<li class="missing" title="${esc(c.means)}"><span class="swatch none"></span>${esc(c.label)}: <em>no data</em> <span class="muted">(${esc(c.missing ?? '')})</span></li>`,
  );
  items.push(`<li title="before the probes attached or after they detached: nothing was measured there"><span class="swatch sw-unprobed"></span>probes not attached</li>`);
  items.push(`<li><span class="swatch sw-band"></span>chosen finding</li>`);
  return `<ul class="legend">${items.join('')}</ul>`;
}

/** The findings as buttons above the charts: choosing one zooms on its time range. */
function chipsHtml(run: ReportRun, ri: number): string {
  const fs = run.analyze.findings;
  if (fs.length === 0) return '';
  return `<div class="chips"><span class="muted">zoom on a finding:</span> ${fs
    .map(
      (f, i) =>
        `<a class="finding-link chip sev-${f.severity}" href="#r${ri}-f${i}" data-run="${ri}" data-f="${i}">${i + 1}. ${esc(f.id)}${f.cpus.length > 0 && f.cpus.length <= 4 ? ` cpu ${f.cpus.join(',')}` : ''} · ${esc(findingRanges(f))}</a>`,
    )
    .join(' ')}</div>`;
}

function chartsSection(run: ReportRun, ri: number): string {
  const s = run.series;
  const col = s.windowsPerColumn === 1 ? `one column = one ${fmt('ms', s.windowNs)} window` : `one column = ${s.windowsPerColumn} windows of ${fmt('ms', s.windowNs)} (${fmt('ms', s.columnNs)})`;
  return `<div id="r${ri}-charts" class="charts">
<div class="side-head">
<div class="toolbar"><button type="button" data-run="${ri}" data-zoom="probed">probed span</button><button type="button" data-run="${ri}" data-zoom="all">whole capture</button>
<span id="r${ri}-range" class="muted"></span></div>
${chipsHtml(run, ri)}
${legendHtml(run)}
<p class="muted">Share of each core's time per column, stacked; ${esc(col)}. Drag across a chart to zoom, double-click to go back. Overlapping slices (a softirq inside a crypt work item) are scaled to the traced busy union, as in <code>wgtrace analyze</code>'s chart.</p>
</div>
<div id="r${ri}-cores" class="cores"></div>
<noscript><p class="bad">The charts need JavaScript; the tables below do not.</p></noscript>
<p id="r${ri}-readout" class="readout muted" aria-live="polite">Point at a chart for the figures of a column.</p>
</div>`;
}

function coreTable(run: ReportRun, ri: number): string {
  const a = run.analyze;
  const rows = a.cpus.map((c, i) => {
    const k = (p: string): string => `a:cpus.${i}.${p}`;
    const x = c as typeof c & { coreBusy?: number; coreBusySource?: string };
    return `<tr><td>cpu${c.cpu}</td>${num('pct', c.utilization, k('utilization'), ri)}${
      x.coreBusy !== undefined ? num('pct', x.coreBusy, k('coreBusy'), ri) : '<td class="muted">not captured</td>'
    }${num('int', c.netRx.count, k('netRx.count'), ri)}${num('ms', c.netRx.busyNs, k('netRx.busyNs'), ri)}${num('int', c.netRx.ksoftirqdCount, k('netRx.ksoftirqdCount'), ri)}${num(
      'ms',
      c.netRx.ksoftirqdBusyNs,
      k('netRx.ksoftirqdBusyNs'),
      ri,
    )}${num('ms', c.pollBusyNs, k('pollBusyNs'), ri)}${num('ms', c.threadPollBusyNs, k('threadPollBusyNs'), ri)}${num('ms', c.cryptBusyNs, k('cryptBusyNs'), ri)}${num(
      'ms',
      c.netTxBusyNs,
      k('netTxBusyNs'),
      ri,
    )}${num('ms', c.otherWorkBusyNs, k('otherWorkBusyNs'), ri)}</tr>`;
  });
  return `<h3>Per core, over the probed span</h3>${table(
    ['core', 'traced busy', 'whole-core busy', 'NET_RX', 'NET_RX time', 'in ksoftirqd', 'ksoftirqd time', 'poll time', 'in napi/ threads', 'crypt work', 'NET_TX', 'other work'],
    rows,
  )}<p class="muted">Traced busy is the union of everything traced on the core; whole-core busy (idle records) is ${
    a.cpus.some((c) => (c as { coreBusy?: number }).coreBusy !== undefined) ? 'from the capture' : 'not in this capture'
  }. Hover a figure for its exact value in ns.</p>`;
}

function heatSection(ri: number): string {
  return `<div class="toolbar"><label>group rows by <select data-run="${ri}" data-heat-group="1"><option value="core">core</option><option value="tunnel">tunnel</option></select></label>
<span class="heat-scale">share of the core: ${['&gt;0', '2%', '5%', '10%', '25%', '50%', '75%'].map((l, i) => `<span class="swatch h-sw${i + 1}"></span>${l}`).join(' ')}</span></div>
<div id="r${ri}-heat" class="heat-host"></div>
<p id="r${ri}-heat-readout" class="readout muted">Each row is one tunnel on one core: how much of that core its polls took in each column.</p>`;
}

function napiTable(run: ReportRun, ri: number): string {
  const a = run.analyze;
  if (a.napis.length === 0) return '<p>No NAPI poll in this capture.</p>';
  const rows = a.napis.map((n, i) => {
    const k = (p: string): string => `a:napis.${i}.${p}`;
    const role = (n as typeof n & { role?: string }).role;
    const where = n.cpus.map((c) => `cpu${c.cpu} ${group(c.polls)}`).join(', ');
    return `<tr><td>${esc(n.dev)}</td><td><code>${esc(n.napi)}</code></td>${text(role ?? 'tunnel')}${text(n.mode + (n.modeInferred ? ' (header flag)' : ''))}${num('int', n.polls, k('polls'), ri)}${num(
      'int',
      n.work,
      k('work'),
      ri,
    )}${num('int', n.fullBudgetPolls, k('fullBudgetPolls'), ri)}${num('ms', n.busyNs, k('busyNs'), ri)}${num('int', n.threadedPolls, k('threadedPolls'), ri)}<td>cpu${n.homeCpu}</td>${num(
      'pct',
      n.stickiness,
      k('stickiness'),
      ri,
    )}${num('int', n.moves, k('moves'), ri)}${text(where)}</tr>`;
  });
  return `<h3>Per NAPI</h3>${table(['device', 'napi', 'role', 'mode', 'polls', 'packets', 'full-budget polls', 'poll time', 'threaded polls', 'home', 'on home', 'moves', 'polls per core'], rows)}`;
}

function findingRanges(f: FindingJson): string {
  return `${fmt('s', f.fromOffsetNs)} – ${fmt('s', f.toOffsetNs)}`;
}

function findingsSection(run: ReportRun, ri: number): string {
  const a = run.analyze;
  if (a.findings.length === 0) return '<p>No findings: no shared cores, monolithic polls, imbalance or data problems above the thresholds.</p>';
  const items = a.findings.map((f, i) => {
    const rec = f.recommendation;
    const where = [f.cpus.length > 0 ? `cpu ${f.cpus.join(', ')}` : '', f.napis.length > 0 ? f.napis.map((n) => n.dev).join(', ') : ''].filter(Boolean).join(' · ');
    const share = f.costEstimate.share;
    const cost = share > 0 ? `<span class="cost" title="${esc(f.costEstimate.basis)}">costs ${share < 0.001 ? '&lt;0.1' : `~${(share * 100).toFixed(1)}`}% of throughput</span>` : '';
    return `<li class="finding sev-${f.severity}" data-run="${ri}" data-f="${i}" id="r${ri}-finding-${i}">
<div class="fhead"><span class="sev">${esc(f.severity)}</span> <strong>${esc(f.id)}</strong> ${cost}</div>
<p class="summary">${esc(f.summary)}</p>
<p class="where"><a class="finding-link" href="#r${ri}-f${i}" data-run="${ri}" data-f="${i}">show ${esc(findingRanges(f))} on the charts</a>${where ? ` · ${esc(where)}` : ''}${f.lossy ? ' · <span class="bad">over lossy data</span>' : ''}</p>
${f.evidence.length > 0 ? `<ul class="evidence">${f.evidence.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>` : ''}
${
  rec === undefined
    ? ''
    : `<div class="rec"><p>&#x2192; ${esc(rec.text)}</p>${rec.commands.length > 0 ? `<pre>${rec.commands.map((c) => `$ ${esc(c)}`).join('\n')}</pre>` : ''}${
        rec.predictedGain ? `<p class="muted">predicted: ${esc(rec.predictedGain.text)}</p>` : ''
      }</div>`
}
</li>`;
  });
  return `<p class="muted">Ranked by the share of throughput they cost. Choose one to zoom the charts on its time range.</p><ol class="findings">${items.join('')}</ol>`;
}

/** Throughput per model with its interval (replay --json's throughputInterval), as an SVG strip. */
function whatIfChart(r: ReplayJson): string {
  const rows = r.models.map((m) => ({ m, mc: m.throughputInterval.high > m.throughputInterval.low ? m.throughputInterval : undefined }));
  const max = Math.max(r.measured.throughputPps, ...rows.map(({ m, mc }) => Math.max(m.throughputPps, mc?.high ?? 0))) * 1.08 || 1;
  const W = 640;
  const L = 90;
  const R = 20;
  const H = 28 * rows.length + 36;
  const x = (v: number): number => L + ((W - L - R) * v) / max;
  const parts: string[] = [];
  const ticks = 5;
  for (let i = 0; i <= ticks; i++) {
    const v = (max * i) / ticks;
    parts.push(`<line class="grid" x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="8" y2="${H - 22}"/>`);
    parts.push(`<text class="tick" x="${x(v).toFixed(1)}" y="${H - 8}" text-anchor="middle">${esc(compact(v))}</text>`);
  }
  const mx = x(r.measured.throughputPps);
  parts.push(`<line class="measured" x1="${mx.toFixed(1)}" x2="${mx.toFixed(1)}" y1="6" y2="${H - 22}"/>`);
  rows.forEach(({ m, mc }, i) => {
    const y = 22 + 28 * i;
    parts.push(`<text class="mlabel" x="${L - 8}" y="${y + 4}" text-anchor="end">${esc(m.model)}</text>`);
    if (mc) {
      const a = x(mc.low);
      const b = x(mc.high);
      parts.push(`<line class="whisker m-${m.model}" x1="${a.toFixed(1)}" x2="${b.toFixed(1)}" y1="${y}" y2="${y}"/>`);
      parts.push(`<line class="whisker m-${m.model}" x1="${a.toFixed(1)}" x2="${a.toFixed(1)}" y1="${y - 6}" y2="${y + 6}"/>`);
      parts.push(`<line class="whisker m-${m.model}" x1="${b.toFixed(1)}" x2="${b.toFixed(1)}" y1="${y - 6}" y2="${y + 6}"/>`);
    } else parts.push(`<text class="tick" x="${(x(m.throughputPps) + 10).toFixed(1)}" y="${y + 4}">no interval</text>`);
    parts.push(`<circle class="point m-${m.model}" cx="${x(m.throughputPps).toFixed(1)}" cy="${y}" r="5"/>`);
  });
  parts.push(`<text class="tick" x="${(mx + 4).toFixed(1)}" y="14">measured</text>`);
  return `<svg class="whatif" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="throughput per model, packets per second">${parts.join('')}</svg>`;
}

function compact(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)} M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)} k`;
  return v.toFixed(0);
}

function whatIfSection(run: ReportRun, ri: number): string {
  const r = run.replay;
  if ('error' in r) return `<p class="bad">The replay models could not run on this capture: ${esc(r.error)}</p>`;
  const rows = r.models.map((m, i) => {
    const k = (p: string): string => `r:models.${i}.${p}`;
    const interval = `${num('rate', m.throughputInterval.low, k('throughputInterval.low'), ri)}${num('rate', m.throughputInterval.high, k('throughputInterval.high'), ri)}`;
    const change = m.changeVsMeasured === null ? '<td class="muted">nothing measured</td>' : num('chg', m.changeVsMeasured, k('changeVsMeasured'), ri);
    return `<tr><td class="nowrap"><span class="swatch m-sw-${m.model}"></span>${esc(m.model)}</td>${num('rate', m.throughputPps, k('throughputPps'), ri)}${interval}${change}${num(
      'pct',
      m.maxCpuUtilization,
      k('maxCpuUtilization'),
      ri,
    )}${text(m.basis === 'median-run' ? 'the run of median throughput' : 'on the measured RSS cores')}${text(m.verdict)}</tr>`;
  });
  for (const a of r.abstained) rows.push(`<tr><td class="nowrap">${esc(a.model)}</td><td colspan="7">cannot predict: ${esc(a.reason)}</td></tr>`);
  const o = r.options;
  const params = r.parameters.map(
    (x, i) =>
      `<tr>${text(x.name)}${num('num', x.value, `r:parameters.${i}.value`, ri)}${num('num', x.low, `r:parameters.${i}.low`, ri)}${num('num', x.high, `r:parameters.${i}.high`, ri)}${text(x.unit)}${text(x.basis)}${text(x.source)}</tr>`,
  );
  return `${whatIfChart(r)}
${table(['model', 'throughput', 'low', 'high', 'vs measured', 'busiest core', 'point is', 'verdict'], rows)}
<p>Measured: ${esc(group(r.measured.throughputPps))} packets/s over ${r.tunnels} tunnel${r.tunnels === 1 ? '' : 's'} on ${r.cores} core${r.cores === 1 ? '' : 's'}, in the traffic window.
The interval runs every cost parameter over its range (below) and the measured costs over their bootstrap spread${
    r.placement === 'random' ? `, with the spread over ${o.runs} random placements of the polls (seed ${o.seed})` : ' (the polls stay where the capture saw them)'
  }.</p>
${table(['parameter', 'value', 'low', 'high', 'unit', 'basis', 'source'], params)}
${r.assumptions.length + r.warnings.length > 0 ? `<ul class="muted">${[...r.assumptions.map((x) => x.message), ...r.warnings].map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ''}
<p class="muted">From <code>wgtrace replay --json</code> with its defaults (${o.runs} runs); the predicted gains under the findings come from <code>wgtrace analyze</code>'s quicker ${
    run.analyze.prediction?.runs ?? 0
  } runs. Calibration: the stock model misses the measured per-core load by ${(r.calibrationError.meanAbsolute * 100).toFixed(1)} points on average.</p>`;
}

function diffSection(d: DiffResult): string {
  const delta = (x: { before: number; after: number; delta: number }, kind: Fmt): string =>
    `<td class="num">${esc(fmt(kind, x.before))}</td><td class="num">${esc(fmt(kind, x.after))}</td><td class="num">${x.delta > 0 ? '+' : ''}${esc(fmt(kind, x.delta))}</td>`;
  const t = d.totals;
  const totals = table(
    ['', 'before', 'after', 'change'],
    [
      `<tr><th>packets/s</th>${delta(t.packetsPerSec, 'rate')}</tr>`,
      `<tr><th>mean core busy</th>${delta(t.meanUtilization, 'pct')}</tr>`,
      `<tr><th>busiest core</th>${delta(t.maxUtilization, 'pct')}</tr>`,
      `<tr><th>cores with polls</th>${delta(t.coresWithPolls, 'int')}</tr>`,
    ],
  );
  const napis = table(
    ['device', 'napi', 'in', 'packets/s before', 'after', 'change', 'home before', 'after', 'mode before', 'after'],
    d.napis.map(
      (n) =>
        `<tr><td>${esc(n.dev)}</td><td><code>${esc(n.napi)}</code></td>${text(n.in)}${delta(n.packetsPerSec, 'rate')}<td>cpu${n.homeCpu.before}</td><td>cpu${n.homeCpu.after}</td>${text(n.modeBefore)}${text(n.modeAfter)}</tr>`,
    ),
  );
  const f = d.findings;
  const list = (title: string, xs: { summary: string }[]): string => (xs.length === 0 ? '' : `<h4>${esc(title)}</h4><ul>${xs.map((x) => `<li>${esc(x.summary)}</li>`).join('')}</ul>`);
  return `${totals}${napis}${list('findings that went', f.gone)}${list('findings that appeared', f.appeared)}${list('findings in both', f.kept)}<p class="muted">As <code>wgtrace diff ${esc(d.before.file)} ${esc(d.after.file)}</code>: rates over each capture's probed span.</p>`;
}

/** One line of facts under the title, and the data-quality warning where there is one. */
function headline(run: ReportRun, compare: boolean): string {
  const c = run.analyze.capture;
  const dq = run.analyze.findings.find((f) => f.id === 'data-quality');
  const facts = [
    compare ? run.file : '',
    `${c.format}, ${c.mode} mode`,
    `${group(c.events)} events`,
    `probed ${fmt('s', c.probedNs)} of ${fmt('s', c.durationNs)}`,
    `${run.analyze.napis.length} NAPI${run.analyze.napis.length === 1 ? '' : 's'}`,
    `${run.analyze.findings.length} finding${run.analyze.findings.length === 1 ? '' : 's'}`,
  ].filter(Boolean);
  return `<p class="headline">${esc(facts.join(' · '))}</p>${dq && dq.severity !== 'info' ? `<p class="callout sev-${dq.severity}"><span class="sev">${esc(dq.severity)}</span> ${esc(dq.summary)}</p>` : ''}`;
}

// ---------------------------------------------------------------- the page

/**
 * Runs of zeros written as one negative number (-n: n zeros), decoded by the page: an idle core
 * or a tunnel that left a core is mostly zeros, and a many-core capture has many such rows.
 */
export function packZeros(values: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length;) {
    if (values[i] === 0) {
      let j = i;
      while (j < values.length && values[j] === 0) j++;
      if (j - i === 1) out.push(0);
      else out.push(-(j - i));
      i = j;
    } else out.push(values[i++]!);
  }
  return out;
}

function packSeries(s: ReportSeries): ReportSeries {
  return {
    ...s,
    cores: s.cores.map((c) => ({ cpu: c.cpu, values: Object.fromEntries(Object.entries(c.values).map(([k, v]) => [k, packZeros(v)])) })),
    heat: s.heat.map((h) => ({ ...h, values: packZeros(h.values) })),
  };
}

/** A sha256 CSP source for an inline script or style. */
const cspHash = (s: string): string => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** JSON inside <script type="application/json">: `<` escaped so no string can close the element. */
const scriptJson = (x: unknown): string =>
  JSON.stringify(x)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/**
 * Installed first: any error, unhandled rejection or request the policy blocked is written
 * into the page (a visible list and `data-errors` on <html>), so a reader sees that a chart
 * failed and the browser test reads it from the DOM.
 */
const ERROR_SCRIPT = `(function(){var n=0,q=[];function show(m){n++;document.documentElement.setAttribute('data-errors',String(n));var ul=document.getElementById('page-errors');if(!ul){q.push(m);return;}ul.hidden=false;var li=document.createElement('li');li.textContent=m;ul.appendChild(li);}
window.__wgtraceError=show;
window.addEventListener('error',function(e){show('error: '+e.message+(e.filename?' ('+e.filename+':'+e.lineno+')':''));});
window.addEventListener('unhandledrejection',function(e){show('unhandled rejection: '+String(e.reason));});
document.addEventListener('securitypolicyviolation',function(e){show('blocked by the page policy: '+e.violatedDirective+' '+e.blockedURI);});
var ce=console.error;console.error=function(){show('console.error: '+Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};
document.addEventListener('DOMContentLoaded',function(){var x=q;q=[];n-=x.length;x.forEach(show);});
document.documentElement.setAttribute('data-errors','0');})();`;

export function buildReportPage(input: ReportPageInput): string {
  const { runs, assets } = input;
  const compare = runs.length > 1;
  const data = {
    toolVersion: input.toolVersion,
    runs: runs.map((r) => ({ file: r.file, analyze: r.analyze, replay: r.replay, series: packSeries(r.series) })),
    ...(input.diff ? { diff: input.diff } : {}),
  };
  const client = `(function(){try{var el=document.getElementById('wgtrace-data');(${clientMain.toString()})(JSON.parse(el.textContent),uPlot);}catch(e){window.__wgtraceError('drawing the charts: '+(e&&e.stack||e));}})();`;
  const uplot = `${assets.uplotJs}\n`;
  const css = `${assets.uplotCss}\n${PAGE_CSS}`;
  const csp = [
    "default-src 'none'",
    `script-src ${cspHash(ERROR_SCRIPT)} ${cspHash(uplot)} ${cspHash(client)}`,
    `style-src ${cspHash(css)}`,
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const title = compare ? `wgtrace report: ${runs[0]!.file} vs ${runs[1]!.file}` : `wgtrace report: ${runs[0]!.file}`;
  // Side by side in compare mode: each section holds one column per capture.
  const section = (id: string, heading: string, body: (r: ReportRun, i: number) => string, intro = ''): string =>
    `<section id="${id}"><h2>${esc(heading)}</h2>${intro}<div class="${compare ? 'pair' : 'single'}">${runs
      .map((r, i) => `<div class="side">${compare ? `<h3 class="side-title">${i === 0 ? 'before' : 'after'}: ${esc(r.file)}</h3>` : ''}${body(r, i)}</div>`)
      .join('')}</div></section>`;
  const first = runs[0]!.analyze.capture;
  const subtitle = [first.hostname, first.kernel ? `kernel ${first.kernel}` : '', `${first.cpus} CPUs`, `${(first.durationNs / 1e9).toFixed(3)} s`].filter(Boolean).join(' · ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="wgtrace ${esc(input.toolVersion)}">
<meta name="color-scheme" content="light dark">
<title>${esc(title)}</title>
<script>${ERROR_SCRIPT}</script>
<style>${css}</style>
</head>
<body>
<header>
<h1>wgtrace report</h1>
<p class="subtitle">${esc(compare ? `${runs[0]!.file} (before) and ${runs[1]!.file} (after)` : runs[0]!.file)}${compare ? '' : ` · ${esc(subtitle)}`}</p>
${runs.map((r) => headline(r, compare)).join('')}
<nav><a href="#utilization">per-core utilization</a> <a href="#tunnels">tunnels × cores</a> <a href="#figures">figures</a> <a href="#findings">findings</a> <a href="#whatif">what-if</a> <a href="#facts">capture and data quality</a>${
    compare ? ' <a href="#compare">before / after</a>' : ''
  }</nav>
<ul id="page-errors" class="bad" hidden></ul>
</header>
<main>
${input.diff ? `<section id="compare"><h2>Before and after</h2>${diffSection(input.diff)}</section>` : ''}
${section('utilization', 'Per-core utilization over time', chartsSection)}
${section('tunnels', 'Where each tunnel polled: tunnels × cores over time', (_r, i) => heatSection(i))}
${section('figures', 'Per core and per NAPI: the exact figures', (r, i) => coreTable(r, i) + napiTable(r, i))}
${section('findings', 'Findings', findingsSection)}
${section('whatif', 'What-if: the capture replayed through the models', whatIfSection)}
${section('facts', 'The capture and its data quality', factsSection)}
</main>
<footer>
<p>Written by wgtrace ${esc(input.toolVersion)} from <code>wgtrace analyze --json</code> and <code>wgtrace replay --json</code> of the same capture${compare ? 's' : ''}; both results are embedded in this page (<code>#wgtrace-data</code>). Thresholds: ${esc(
    Object.entries(runs[0]!.analyze.thresholds)
      .map(([k, v]) => `${k}=${v}`)
      .join(', '),
  )}.</p>
<details class="licence"><summary>Charts drawn with uPlot ${esc(assets.uplotVersion)} (MIT licence), inlined in this page</summary><pre>${esc(assets.uplotLicense)}</pre></details>
</footer>
<script type="application/json" id="wgtrace-data">${scriptJson(data)}</script>
<script>${uplot}</script>
<script>${client}</script>
</body>
</html>
`;
}
