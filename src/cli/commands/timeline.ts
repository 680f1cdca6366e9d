import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError, type Diagnostic } from '../../base/diagnostics.js';
import { FORMAT_NAMES, type FormatName } from '../../import/types.js';
import { parseCpuList } from '../../model/capture-text.js';
import { painter } from '../../report/render/style.js';
import { TimelineViewResult, buildTimelineView, renderTimelineText } from '../../report/timeline-view.js';
import { loadTimeline } from '../../timeline/load.js';
import { formatDiagnostic, type CliIO } from '../io.js';
import type { RegisterCommand } from './index.js';

/** Slices kept for the strip chart; past it the chart is drawn from the per-window series. */
const TIMELINE_MAX_SLICES = 500_000;
/** Progress appears only when loading takes longer than this (ms). */
const PROGRESS_AFTER_MS = 2000;
/** And is redrawn at most this often (ms). */
const PROGRESS_EVERY_MS = 250;
/** Slices are requested from a little before --from: without a header the capture start lies slightly before the origin. */
const SLICE_MARGIN_NS = 1_000_000_000;

const UNITS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };

/** `--from`/`--to`: plain integers are ns; `1.5s`, `200ms`, `30us`, `10ns` are accepted. */
export function parseTimeArg(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s)?\s*$/.exec(text);
  if (!m) throw new UsageError(`${flag} ${text}: expected a time like 1500000000, 1.5s, 200ms or 30us (relative to the capture start)`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ns']!);
}

export function parseFormat(text: string | undefined): FormatName | undefined {
  if (text === undefined) return undefined;
  if (!(FORMAT_NAMES as readonly string[]).includes(text)) throw new UsageError(`--format ${text}: expected one of ${FORMAT_NAMES.join(', ')}`);
  return text as FormatName;
}

export function parseCpuArg(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const cpus = parseCpuList(text);
  if (cpus === undefined || cpus.length === 0) throw new UsageError(`--cpu ${text}: expected a CPU list like 0-3,8`);
  return cpus;
}

export function parseWindowArg(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !(v > 0) || v > 3_600_000) throw new UsageError(`--window ${text}: expected milliseconds > 0 (e.g. 10 or 0.5)`);
  return Math.max(1, Math.round(v * 1e6));
}

/**
 * Progress on stderr while a capture loads: only on a TTY, and only once loading has taken a
 * couple of seconds (short inputs stay silent). Returns the callback and a function that
 * clears the line.
 */
export function progress(io: CliIO, path: string): { onProgress?: (bytes: number) => void; done: () => void } {
  if (!io.errIsTTY) return { done: () => undefined };
  let total = 0;
  try {
    if (path !== '-') total = statSync(path).size;
  } catch {
    total = 0;
  }
  const t0 = Date.now();
  let last = 0;
  let shown = false;
  return {
    onProgress: (bytes: number) => {
      const now = Date.now();
      if (now - t0 < PROGRESS_AFTER_MS || now - last < PROGRESS_EVERY_MS) return;
      last = now;
      shown = true;
      const mb = (bytes / 1e6).toFixed(0);
      const pct = total > 0 ? ` (${Math.min(100, (100 * bytes) / total).toFixed(0)}%)` : '';
      io.err(`\rwgtrace: reading ${path}: ${mb} MB${pct}   `);
    },
    done: () => {
      if (shown) io.err('\r\x1b[K');
    },
  };
}

export function printDiagnosticsBounded(io: CliIO, diags: readonly Diagnostic[], max = 10): void {
  const shown = diags.filter((d) => d.severity !== 'info');
  for (const d of shown.slice(0, max)) io.err(formatDiagnostic(d) + '\n');
  if (shown.length > max) io.err(`wgtrace: ${shown.length - max} more diagnostics not shown\n`);
}

interface TimelineCliOptions {
  cpu?: string;
  from?: string;
  to?: string;
  format?: string;
  strict?: boolean;
  window?: string;
  columns?: string;
  height?: string;
  json?: boolean;
}

export const registerTimeline: RegisterCommand = (program: Command, io: CliIO) => {
  program
    .command('timeline')
    .description('per-core strip chart of which tunnel polled where, and per-core utilization over time')
    .argument('<capture>', 'capture file (.gz accepted, - for stdin)')
    .option('--cpu <list>', 'CPUs to show, e.g. 0-3,8 (default all)')
    .option('--from <T>', 'start of the range, from the capture start: ns, or 1.5s, 200ms, 30us')
    .option('--to <T>', 'end of the range (default the capture end)')
    .option('--format <name>', `input format: ${FORMAT_NAMES.join(', ')} (default: sniffed)`)
    .option('--strict', 'fail on the first malformed line instead of skipping and counting it')
    .option('--window <ms>', 'aggregation window in milliseconds (default 10, or the capture interval)')
    .option('--columns <n>', 'width of the strip in characters (default: terminal width, else 100)')
    .option('--height <rows>', 'height of each utilization chart (default 4)')
    .option('--json', 'print the result object as JSON')
    .action(async (capture: string, o: TimelineCliOptions) => {
      const cpus = parseCpuArg(o.cpu);
      const from = o.from !== undefined ? parseTimeArg('--from', o.from) : undefined;
      const to = o.to !== undefined ? parseTimeArg('--to', o.to) : undefined;
      if (from !== undefined && to !== undefined && to <= from) throw new UsageError(`--to must be after --from`);
      const format = parseFormat(o.format);
      const windowNs = parseWindowArg(o.window);
      const termCols = process.stdout.columns;
      const columns = o.columns !== undefined ? Number(o.columns) : termCols !== undefined && termCols > 40 ? termCols - 18 : 100;
      if (!Number.isInteger(columns) || columns < 10 || columns > 10_000) throw new UsageError(`--columns ${o.columns}: expected an integer from 10 to 10000`);
      const height = o.height !== undefined ? Number(o.height) : 4;
      if (!Number.isInteger(height) || height < 1 || height > 50) throw new UsageError(`--height ${o.height}: expected an integer from 1 to 50`);

      const pr = progress(io, capture);
      const tl = await loadTimeline(capture, {
        ...(format !== undefined ? { format } : {}),
        strict: o.strict === true,
        ...(windowNs !== undefined ? { windowNs } : {}),
        ...(pr.onProgress ? { onProgress: pr.onProgress } : {}),
        slices: {
          ...(from !== undefined ? { from: (from - SLICE_MARGIN_NS) as never } : {}),
          ...(to !== undefined ? { to: (to + SLICE_MARGIN_NS) as never } : {}),
          ...(cpus !== undefined ? { cpus } : {}),
          maxSlices: TIMELINE_MAX_SLICES,
        },
      }).finally(pr.done);
      const view = buildTimelineView(tl, {
        file: capture,
        ...(cpus !== undefined ? { cpus } : {}),
        ...(from !== undefined ? { fromNs: from } : {}),
        ...(to !== undefined ? { toNs: to } : {}),
        columns,
      });
      // Slices past the bound only mean the chart is drawn from the windows (it says so): not a problem with the input.
      printDiagnosticsBounded(io, tl.diagnostics.filter((d) => d.code !== 'slices-cut'));
      if (o.json) {
        // The schema is the contract: an output that does not match it is our bug.
        io.out(JSON.stringify(TimelineViewResult.parse(view), null, 2) + '\n');
      } else {
        io.out(renderTimelineText(view, { painter: painter(io.color), chartHeight: height }));
      }
    });
};
