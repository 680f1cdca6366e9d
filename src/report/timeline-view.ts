import { createRequire } from 'node:module';
import { z } from 'zod';
import { formatDur } from '../base/time.js';
import type { Slice, Timeline } from '../timeline/types.js';
import { PLAIN, type Painter, type StyleName } from './render/style.js';
import { computeFacts, type TimelineFacts } from '../detect/facts.js';
import { probedSpan } from '../timeline/span.js';

/**
 * `wgtrace timeline`: a per-core strip chart (one row per core, one character per column
 * saying what dominated that core in that column) and per-core utilization charts. The result
 * object is what `--json` prints; `renderTimelineText` is its text view.
 *
 * Columns come from slices when the timeline kept all of them for the range (exact, finer than
 * a window), else from the per-window series, each window shared among the columns it overlaps
 * in proportion to the overlap.
 */

const require = createRequire(import.meta.url);
const asciichart = require('asciichart') as { plot(series: number[] | number[][], cfg?: Record<string, unknown>): string };

export const TIMELINE_VIEW_VERSION = 2;

/** What a column's character says, besides a tunnel's letter (symbols, so they never read as a tunnel). */
export const STRIP_CHARS = {
  idle: '.',
  softirq: '~',
  ksoftirqd: '^',
  crypt: '*',
  work: '+',
  thread: '=',
} as const;
/**
 * Symbols of NAPI instances in the order they first appear: A-Z, then digits, then other
 * marks that are not strip symbols; `?` past them (the legend says which share it).
 */
const NAPI_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@$%&!<>{}[]()/|';
/** Width of the row label, the same as asciichart's y-axis labels so columns line up. */
const LABEL_WIDTH = 5;

export const TimelineViewResult = z.object({
  version: z.literal(TIMELINE_VIEW_VERSION),
  file: z.string(),
  capture: z.object({
    format: z.string(),
    mode: z.enum(['events', 'windows']),
    originBootNs: z.string(),
    startNs: z.number(),
    durationNs: z.number(),
    events: z.number(),
    lostEvents: z.number(),
    skippedLines: z.number(),
    clampedSlices: z.number(),
    cpus: z.number(),
    cpusGuessed: z.boolean(),
    windowNs: z.number(),
  }),
  /** Shown range, relative to the capture start. */
  range: z.object({
    fromNs: z.number(),
    toNs: z.number(),
    columns: z.number().int(),
    columnNs: z.number(),
    source: z.enum(['slices', 'windows']),
  }),
  legend: z.array(
    z.object({
      char: z.string(),
      index: z.number().int(),
      dev: z.string(),
      napi: z.string(),
      polls: z.number(),
      busyNs: z.number(),
      /** Polls that used their whole budget (the NAPI stayed scheduled: net/core/dev.c napi_poll). */
      fullBudgetPolls: z.number(),
      /** CPUs it polled on, and how often it moved between them. */
      cpus: z.array(z.number().int()),
      moves: z.number(),
      /** The moves are a lower bound: two CPUs' polls overlapped in time but arrived in separate runs (timeline/napi-acc.ts: settleMoves). */
      movesLowerBound: z.boolean().optional(),
      threadedPolls: z.number(),
      /** Longest run of consecutive full-budget polls on one CPU. */
      longestChainPolls: z.number(),
      /** A tunnel's NAPI, or another NAPI (backlog, NIC queue: load only). */
      role: z.enum(['tunnel', 'other']),
    }),
  ),
  cores: z.array(
    z.object({
      cpu: z.number().int(),
      /** One character per column (see STRIP_CHARS and the legend). */
      strip: z.string(),
      /** Per column, percent busy (union of softirq, napi thread and work time). */
      utilization: z.array(z.number()),
      /** Percent of the range the traced work kept the core busy (union). */
      meanUtilization: z.number(),
      /**
       * Percent of the range the core was busy at all (not idle, as mpstat counts it), the same
       * figure analyze prints; null when the capture only has /proc/stat and the range is not
       * the probed span (the counters cover that span only).
       */
      coreBusy: z.number().nullable(),
      coreBusySource: z.enum(['idle-events', 'proc-stat', 'traced']),
    }),
  ),
  diagnostics: z.array(z.object({ severity: z.string(), code: z.string(), message: z.string(), line: z.number().optional() })),
});
export type TimelineViewResult = z.infer<typeof TimelineViewResult>;

export interface TimelineViewOptions {
  file: string;
  /** CPUs to show (default all). */
  cpus?: number[];
  /** Range relative to the capture start (default the probed span, as analyze uses). */
  fromNs?: number;
  toNs?: number;
  columns?: number;
}

/** Category keys: a NAPI's poll is `n<index>` (`k<index>` when it ran inside ksoftirqd). */
type Occupancy = Map<string, number>[];

export function letterOf(index: number): string {
  return NAPI_LETTERS[index] ?? '?';
}

export function buildTimelineView(tl: Timeline, opts: TimelineViewOptions, facts: TimelineFacts = computeFacts(tl)): TimelineViewResult {
  const start = tl.capture.startNs;
  // Default: the span the probes observed (before they attached there is nothing to draw).
  const probed = probedSpan(tl);
  const from = Math.max(0, opts.fromNs ?? probed.from);
  const to = Math.min(tl.capture.durationNs, opts.toNs ?? probed.to);
  const isProbed = from === probed.from && to === probed.to;
  const columns = Math.max(1, Math.floor(opts.columns ?? 100));
  const span = Math.max(0, to - from);
  const colNs = span / columns;
  const cpus = tl.cpus.filter((c) => opts.cpus === undefined || opts.cpus.includes(c));
  // Windows-mode captures have no slices at all: their series are the only source.
  const complete = tl.capture.mode === 'events' && tl.slices !== undefined && (tl.capture.slicesCut ?? 0) === 0 && cpus.every((c) => tl.slices!.has(c));
  const a = start + from;

  const cores = cpus.map((cpu) => {
    const occ: Occupancy = Array.from({ length: columns }, () => new Map());
    const busy = new Float64Array(columns);
    if (span > 0) {
      if (complete) fromSlices(tl.slices!.get(cpu) ?? [], a, colNs, columns, occ, busy);
      else fromWindows(tl, cpu, a, colNs, columns, occ, busy, facts);
    }
    let strip = '';
    for (let i = 0; i < columns; i++) strip += dominant(occ[i]!, busy[i]!, colNs);
    const util = Array.from(busy, (b) => (colNs > 0 ? Math.round(Math.min(100, (100 * b) / colNs) * 10) / 10 : 0));
    const mean = span > 0 ? busy.reduce((x, y) => x + y, 0) / span : 0;
    const cf = facts.coreByCpu.get(cpu);
    const source = cf?.coreBusySource ?? 'traced';
    let whole: number | null;
    if (cf === undefined) whole = null;
    else if (isProbed) whole = cf.coreBusy;
    else if (source === 'proc-stat') whole = null;
    else whole = Math.max(mean, seriesMean(cf.coreBusySeries, facts.windowLen, tl, start + from, start + to) ?? mean);
    return {
      cpu,
      strip,
      utilization: util,
      meanUtilization: Math.round(mean * 1000) / 10,
      coreBusy: whole === null ? null : Math.round(Math.min(1, whole) * 1000) / 10,
      coreBusySource: source,
    };
  });

  return {
    version: TIMELINE_VIEW_VERSION,
    file: opts.file,
    capture: {
      format: tl.capture.format,
      mode: tl.capture.mode,
      originBootNs: String(tl.capture.origin),
      startNs: start,
      durationNs: tl.capture.durationNs,
      events: tl.capture.events,
      lostEvents: tl.capture.lostEvents,
      skippedLines: tl.capture.skippedLines,
      clampedSlices: tl.capture.clampedSlices,
      cpus: tl.cpus.length,
      cpusGuessed: tl.capture.cpusGuessed,
      windowNs: tl.windowNs,
    },
    range: { fromNs: from, toNs: to, columns, columnNs: colNs, source: complete ? 'slices' : 'windows' },
    legend: tl.napis.map((n) => ({
      char: letterOf(n.index),
      index: n.index,
      dev: n.dev,
      napi: n.napi,
      polls: n.totals.polls,
      busyNs: n.totals.busyNs,
      fullBudgetPolls: n.totals.fullBudgetPolls,
      cpus: [...n.perCpu.keys()].sort((a, b) => a - b),
      moves: n.moves,
      ...(n.movesLowerBound ? { movesLowerBound: true } : {}),
      threadedPolls: n.totals.threadedPolls,
      longestChainPolls: Math.max(0, ...[...n.perCpu.values()].map((s) => s.chains.longest[0]?.polls ?? 0)),
      role: facts.napis[n.index]?.role ?? 'other',
    })),
    cores,
    diagnostics: tl.diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, ...(d.line !== undefined ? { line: d.line } : {}) })),
  };
}

/** The mean of a per-window fraction over [a, b) (windows weighted by their overlap), or undefined. */
function seriesMean(series: Float64Array, windowLen: Float64Array, tl: Timeline, a: number, b: number): number | undefined {
  let num = 0;
  let den = 0;
  const W = tl.windowNs;
  const t0 = tl.capture.startNs;
  for (let k = Math.max(0, Math.floor((a - t0) / W)); k < tl.windowCount && t0 + k * W < b; k++) {
    const ws = t0 + k * W;
    const ov = Math.max(0, Math.min(b, ws + W) - Math.max(a, ws));
    const len = windowLen[k]!;
    if (ov <= 0 || len <= 0) continue;
    const w = Math.min(ov, len);
    num += (series[k] ?? 0) * w;
    den += w;
  }
  return den > 0 ? num / den : undefined;
}

/** Adds the overlap of [s, e) with each column to `add(col, ns)`. */
function spread(s: number, e: number, a: number, colNs: number, columns: number, add: (col: number, v: number) => void): void {
  if (!(e > s) || colNs <= 0) return;
  const lo = Math.max(0, Math.floor((s - a) / colNs));
  const hi = Math.min(columns - 1, Math.floor((e - a) / colNs));
  for (let i = lo; i <= hi; i++) {
    const cs = a + i * colNs;
    const v = Math.min(e, cs + colNs) - Math.max(s, cs);
    if (v > 0) add(i, v);
  }
}

function bump(m: Map<string, number>, k: string, v: number): void {
  m.set(k, (m.get(k) ?? 0) + v);
}

function keyOf(s: Slice, parent: Slice | undefined): string {
  switch (s.kind) {
    case 'poll':
      return parent?.kind === 'ksoftirqd' ? `k${s.napiIndex}` : `n${s.napiIndex}`;
    case 'thread_poll':
      return `n${s.napiIndex}`;
    case 'net_rx':
    case 'net_tx':
      return 'softirq';
    case 'ksoftirqd':
      return 'ksoftirqd';
    case 'crypt_work':
      return 'crypt';
    case 'work':
      return 'work';
    case 'napi_thread':
      return 'thread';
  }
}

/** Self time per category per column: each slice's overlap, minus what its children cover. */
function fromSlices(list: readonly Slice[], a: number, colNs: number, columns: number, occ: Occupancy, busy: Float64Array): void {
  const stack: Slice[] = [];
  const b = a + colNs * columns;
  for (const s of list) {
    const end = s.start + s.dur;
    while (stack.length > 0 && stack[stack.length - 1]!.start + stack[stack.length - 1]!.dur <= s.start) stack.pop();
    const parent = stack[stack.length - 1];
    stack.push(s);
    if (end <= a || s.start >= b) continue;
    const key = keyOf(s, parent);
    spread(s.start, end, a, colNs, columns, (i, v) => bump(occ[i]!, key, v));
    if (parent !== undefined) {
      const pkey = keyOf(parent, stack[stack.length - 3]);
      spread(s.start, end, a, colNs, columns, (i, v) => bump(occ[i]!, pkey, -v));
    } else spread(s.start, end, a, colNs, columns, (i, v) => (busy[i] = busy[i]! + v));
  }
}

/** The same categories from the per-window series, each window shared by overlap. */
function fromWindows(tl: Timeline, cpu: number, a: number, colNs: number, columns: number, occ: Occupancy, busy: Float64Array, facts: TimelineFacts): void {
  const core = tl.cores.get(cpu);
  if (core === undefined) return;
  // Busy per window as analyze counts it (detect/facts.ts: the union, at least its largest
  // part, over the part of the window inside the probed span), so both print one figure.
  const cf = facts.coreByCpu.get(cpu);
  const W = tl.windowNs;
  const t0 = tl.capture.startNs;
  const k0 = Math.max(0, Math.floor((a - t0) / W));
  const k1 = Math.min(tl.windowCount, Math.ceil((a + colNs * columns - t0) / W));
  for (let k = k0; k < k1; k++) {
    const ws = t0 + k * W;
    const we = Math.min(ws + W, tl.capture.endNs);
    const len = we - ws;
    if (len <= 0) continue;
    const ks = core.netRxBusyNs[k]! > 0 && core.ksoftirqdNetRxBusyNs[k]! * 2 > core.netRxBusyNs[k]!;
    const parts: [string, number][] = [
      [ks ? 'ksoftirqd' : 'softirq', Math.max(0, core.netRxBusyNs[k]! + core.netTxBusyNs[k]! - core.pollBusyNs[k]!)],
      ['crypt', core.cryptBusyNs[k]!],
      ['work', core.otherWorkBusyNs[k]!],
    ];
    for (const n of tl.napis) {
      const s = n.perCpu.get(cpu);
      if (s !== undefined && s.busyNs[k]! > 0) parts.push([`${ks ? 'k' : 'n'}${n.index}`, s.busyNs[k]!]);
    }
    const u = cf !== undefined ? (cf.utilizationSeries[k] ?? 0) * facts.windowLen[k]! : core.utilization[k]! * len;
    spread(ws, we, a, colNs, columns, (i, v) => {
      const f = v / len;
      busy[i] = busy[i]! + u * f;
      for (const [key, x] of parts) if (x > 0) bump(occ[i]!, key, x * f);
    });
  }
}

/**
 * A column shows its dominant activity once the core is busy for at least this share of it,
 * even when idle time is larger: a core 40% busy with one tunnel's polls is what the strip
 * must show, not a row of dots.
 */
export const STRIP_MIN_BUSY_SHARE = 0.2;

/** A column shows a tunnel's poll once its polls take this share of it, busy or not (as co-location counts a tunnel loading a core). */
export const STRIP_MIN_POLL_SHARE = 0.05;

function dominant(m: Map<string, number>, busy: number, colNs: number): string {
  if (!(colNs > 0)) return STRIP_CHARS.idle;
  let best = STRIP_CHARS.idle as string;
  let bestV = 0;
  // A tunnel's poll in the column wins over crypt work, other work and softirq time around
  // polls: what the strip is for is where the polls ran, and a crypt worker beside a poll must
  // not hide it.
  for (const [k, v] of m) {
    if ((k[0] === 'n' || (k[0] === 'k' && k !== 'ksoftirqd')) && v > bestV + 1e-9) {
      bestV = v;
      best = k;
    }
  }
  if (best !== STRIP_CHARS.idle && bestV < STRIP_MIN_POLL_SHARE * colNs && busy < STRIP_MIN_BUSY_SHARE * colNs) return STRIP_CHARS.idle;
  if (best === STRIP_CHARS.idle) {
    if (busy < STRIP_MIN_BUSY_SHARE * colNs) return STRIP_CHARS.idle;
    for (const [k, v] of m) {
      if (v > bestV + 1e-9) {
        bestV = v;
        best = k;
      }
    }
  }
  if (best === STRIP_CHARS.idle) return best;
  if (best[0] === 'n') return letterOf(Number(best.slice(1)));
  if (best[0] === 'k' && best !== 'ksoftirqd') return letterOf(Number(best.slice(1))).toLowerCase();
  return STRIP_CHARS[best as keyof typeof STRIP_CHARS];
}

const CHAR_STYLE: Record<string, StyleName> = {
  [STRIP_CHARS.softirq]: 'red',
  [STRIP_CHARS.ksoftirqd]: 'magenta',
  [STRIP_CHARS.crypt]: 'cyan',
  [STRIP_CHARS.work]: 'gray',
  [STRIP_CHARS.thread]: 'yellow',
  [STRIP_CHARS.idle]: 'dim',
};

export interface TimelineTextOptions {
  painter?: Painter;
  /** Height of each utilization chart in rows. */
  chartHeight?: number;
}

/** Offsets from the capture start along the strip: a tick every 10 columns. */
function axis(r: TimelineViewResult): string[] {
  const { columns, columnNs, fromNs } = r.range;
  let ticks = '';
  let labels = '';
  for (let i = 0; i < columns; i += 10) {
    ticks += '|'.padEnd(Math.min(10, columns - i));
    const label = formatDur(Math.round(fromNs + i * columnNs)).replace(' ', '');
    labels += (label.length < 10 ? label.padEnd(10) : label.slice(0, 9) + ' ').slice(0, Math.min(10, columns - i));
  }
  const pad = ' '.repeat(LABEL_WIDTH + 2);
  return [pad + ticks, pad + labels];
}

export function renderTimelineText(r: TimelineViewResult, opts: TimelineTextOptions = {}): string {
  const p = opts.painter ?? PLAIN;
  const c = r.capture;
  const out: string[] = [];
  out.push(
    `${p.paint('bold', 'wgtrace timeline')} ${r.file}`,
    `${c.format}, ${c.mode} mode, ${formatDur(c.durationNs)}, ${c.cpus} CPUs${c.cpusGuessed ? ' (seen in events: no header)' : ''}, ${c.events} events` +
      `${c.lostEvents > 0 ? `, ${c.lostEvents} LOST` : ''}${c.skippedLines > 0 ? `, ${c.skippedLines} lines skipped` : ''}`,
    `range ${formatDur(r.range.fromNs)} .. ${formatDur(r.range.toNs)} from the capture start; one column = ${formatDur(Math.round(r.range.columnNs))} (from ${r.range.source === 'slices' ? 'slices' : `${formatDur(c.windowNs)} windows`})`,
    '',
  );
  out.push(...axis(r));
  for (const core of r.cores) {
    const strip = p.color ? [...core.strip].map((ch) => (CHAR_STYLE[ch] ? p.paint(CHAR_STYLE[ch]!, ch) : ch)).join('') : core.strip;
    const whole = core.coreBusy === null ? '' : `${core.coreBusy.toFixed(1).padStart(5)}% busy, `;
    out.push(`${`cpu${core.cpu}`.padStart(LABEL_WIDTH)} │${strip}│ ${whole}${core.meanUtilization.toFixed(1).padStart(5)}% traced`);
  }
  const sources = [...new Set(r.cores.map((x) => x.coreBusySource))];
  out.push(
    `      busy = not idle, as mpstat counts it (from ${sources.map((x) => (x === 'idle-events' ? 'idle records' : x === 'proc-stat' ? '/proc/stat' : 'traced work only')).join(' and ')})` +
      (r.cores.some((x) => x.coreBusy === null) ? '; /proc/stat covers the probed span only, so no busy figure for this range' : ''),
  );
  out.push('');
  const used = new Set(r.cores.flatMap((x) => [...x.strip]));
  // Every NAPI gets its line, shown in the strip or not (a tunnel that never dominated a
  // column is still there).
  for (const l of r.legend) {
    const share = l.polls > 0 ? (100 * l.fullBudgetPolls) / l.polls : 0;
    const full = share > 0 && share < 1 ? '<1' : `${Math.round(share)}`;
    const where = `on CPU${l.cpus.length === 1 ? '' : 's'} ${l.cpus.join(',')}${l.moves > 0 ? `, ${l.movesLowerBound ? 'at least ' : ''}${l.moves} move${l.moves === 1 ? '' : 's'}` : ''}`;
    const chain = l.longestChainPolls >= 2 ? `, longest full-budget chain ${l.longestChainPolls} polls` : '';
    const threaded = l.threadedPolls > 0 ? (l.threadedPolls === l.polls ? ', threaded' : `, ${l.threadedPolls} threaded`) : '';
    const seen = used.has(l.char) || used.has(l.char.toLowerCase()) ? '' : '; not the largest part of any column here';
    const role = l.role === 'tunnel' ? '' : ' (other NAPI, not a tunnel)';
    out.push(`  ${l.char}  poll of ${l.dev} ${l.napi}${role}: ${l.polls} poll${l.polls === 1 ? '' : 's'} (${full}% full budget${chain}), ${formatDur(l.busyNs)}, ${where}${threaded}${seen}`);
  }
  out.push(
    `  a-z the same poll run by ksoftirqd   ${STRIP_CHARS.softirq} softirq outside polls   ${STRIP_CHARS.ksoftirqd} ksoftirqd outside polls`,
    `  ${STRIP_CHARS.crypt}  crypt work   ${STRIP_CHARS.work} other work   ${STRIP_CHARS.thread} napi thread outside polls   ${STRIP_CHARS.idle} traced work < ${STRIP_MIN_BUSY_SHARE * 100}% and no poll >= ${STRIP_MIN_POLL_SHARE * 100}% of the column`,
    `     (each column shows the poll that took most of it, else what took most of the core's busy time in it)`,
    '',
  );
  const height = opts.chartHeight ?? 4;
  out.push(p.paint('bold', 'utilization per core (% of each column)'));
  for (const core of r.cores) {
    out.push(`cpu${core.cpu}`);
    const series = core.utilization.length > 0 ? core.utilization : [0];
    out.push(asciichart.plot(series, { height, min: 0, max: 100, format: (x: number) => `${x.toFixed(0)}%`.padStart(LABEL_WIDTH) }));
  }
  const diags = r.diagnostics.filter((d) => d.severity !== 'info' && d.code !== 'slices-cut');
  if (diags.length > 0) out.push('', `${diags.length} diagnostics about the input (on stderr; all in --json)`);
  return out.join('\n') + '\n';
}
