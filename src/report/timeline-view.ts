import { createRequire } from 'node:module';
import { z } from 'zod';
import { formatDur } from '../base/time.js';
import type { Slice, Timeline } from '../timeline/types.js';
import { PLAIN, type Painter, type StyleName } from './render/style.js';

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

export const TIMELINE_VIEW_VERSION = 1;

/** What a column's character says, besides a tunnel's letter (symbols, so they never read as a tunnel). */
export const STRIP_CHARS = {
  idle: '.',
  softirq: '~',
  ksoftirqd: '^',
  crypt: '*',
  work: '+',
  thread: '=',
} as const;
/** Letters of NAPI instances in the order they first appear: A-Z, then digits, then `#`. */
const NAPI_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
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
      threadedPolls: z.number(),
      /** Longest run of consecutive full-budget polls on one CPU. */
      longestChainPolls: z.number(),
    }),
  ),
  cores: z.array(
    z.object({
      cpu: z.number().int(),
      /** One character per column (see STRIP_CHARS and the legend). */
      strip: z.string(),
      /** Per column, percent busy (union of softirq, napi thread and work time). */
      utilization: z.array(z.number()),
      meanUtilization: z.number(),
    }),
  ),
  diagnostics: z.array(z.object({ severity: z.string(), code: z.string(), message: z.string(), line: z.number().optional() })),
});
export type TimelineViewResult = z.infer<typeof TimelineViewResult>;

export interface TimelineViewOptions {
  file: string;
  /** CPUs to show (default all). */
  cpus?: number[];
  /** Range relative to the capture start (default the whole capture). */
  fromNs?: number;
  toNs?: number;
  columns?: number;
}

/** Category keys: a NAPI's poll is `n<index>` (`k<index>` when it ran inside ksoftirqd). */
type Occupancy = Map<string, number>[];

export function letterOf(index: number): string {
  return NAPI_LETTERS[index] ?? '#';
}

export function buildTimelineView(tl: Timeline, opts: TimelineViewOptions): TimelineViewResult {
  const start = tl.capture.startNs;
  const from = Math.max(0, opts.fromNs ?? 0);
  const to = Math.min(tl.capture.durationNs, opts.toNs ?? tl.capture.durationNs);
  const columns = Math.max(1, Math.floor(opts.columns ?? 100));
  const span = Math.max(0, to - from);
  const colNs = span / columns;
  const cpus = tl.cpus.filter((c) => opts.cpus === undefined || opts.cpus.includes(c));
  // Windows-mode captures have no slices at all: their series are the only source.
  const complete =
    tl.capture.mode === 'events' && tl.slices !== undefined && (tl.capture.slicesCut ?? 0) === 0 && cpus.every((c) => tl.slices!.has(c));
  const a = start + from;

  const cores = cpus.map((cpu) => {
    const occ: Occupancy = Array.from({ length: columns }, () => new Map());
    const busy = new Float64Array(columns);
    if (span > 0) {
      if (complete) fromSlices(tl.slices!.get(cpu) ?? [], a, colNs, columns, occ, busy);
      else fromWindows(tl, cpu, a, colNs, columns, occ, busy);
    }
    let strip = '';
    for (let i = 0; i < columns; i++) strip += dominant(occ[i]!, busy[i]!, colNs);
    const util = Array.from(busy, (b) => (colNs > 0 ? Math.round(Math.min(100, (100 * b) / colNs) * 10) / 10 : 0));
    const mean = span > 0 ? busy.reduce((x, y) => x + y, 0) / span : 0;
    return { cpu, strip, utilization: util, meanUtilization: Math.round(mean * 1000) / 10 };
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
      threadedPolls: n.totals.threadedPolls,
      longestChainPolls: Math.max(0, ...[...n.perCpu.values()].map((s) => s.chains.longest[0]?.polls ?? 0)),
    })),
    cores,
    diagnostics: tl.diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, ...(d.line !== undefined ? { line: d.line } : {}) })),
  };
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
function fromWindows(tl: Timeline, cpu: number, a: number, colNs: number, columns: number, occ: Occupancy, busy: Float64Array): void {
  const core = tl.cores.get(cpu);
  if (core === undefined) return;
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
    const u = core.utilization[k]! * len;
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

function dominant(m: Map<string, number>, busy: number, colNs: number): string {
  if (!(colNs > 0) || busy < STRIP_MIN_BUSY_SHARE * colNs) return STRIP_CHARS.idle;
  let best = STRIP_CHARS.idle as string;
  let bestV = 0;
  for (const [k, v] of m) {
    if (v > bestV + 1e-9) {
      bestV = v;
      best = k;
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
    out.push(`${`cpu${core.cpu}`.padStart(LABEL_WIDTH)} │${strip}│ ${core.meanUtilization.toFixed(1).padStart(5)}%`);
  }
  out.push('');
  const used = new Set(r.cores.flatMap((x) => [...x.strip]));
  const legend = r.legend.filter((l) => used.has(l.char) || used.has(l.char.toLowerCase()));
  for (const l of legend) {
    const share = l.polls > 0 ? (100 * l.fullBudgetPolls) / l.polls : 0;
    const full = share > 0 && share < 1 ? '<1' : `${Math.round(share)}`;
    const where = `on CPU${l.cpus.length === 1 ? '' : 's'} ${l.cpus.join(',')}${l.moves > 0 ? `, ${l.moves} move${l.moves === 1 ? '' : 's'}` : ''}`;
    const chain = l.longestChainPolls >= 2 ? `, longest full-budget chain ${l.longestChainPolls} polls` : '';
    const threaded = l.threadedPolls > 0 ? (l.threadedPolls === l.polls ? ', threaded' : `, ${l.threadedPolls} threaded`) : '';
    out.push(`  ${l.char}  poll of ${l.dev} ${l.napi}: ${l.polls} poll${l.polls === 1 ? '' : 's'} (${full}% full budget${chain}), ${formatDur(l.busyNs)}, ${where}${threaded}`);
  }
  out.push(
    `  a-z the same poll run by ksoftirqd   ${STRIP_CHARS.softirq} softirq outside polls   ${STRIP_CHARS.ksoftirqd} ksoftirqd outside polls`,
    `  ${STRIP_CHARS.crypt}  crypt work   ${STRIP_CHARS.work} other work   ${STRIP_CHARS.thread} napi thread outside polls   ${STRIP_CHARS.idle} busy < ${STRIP_MIN_BUSY_SHARE * 100}%`,
    `     (each column shows what took most of the core's busy time in it)`,
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
