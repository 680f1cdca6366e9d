import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError, type Diagnostic } from '../base/diagnostics.js';
import { FORMAT_NAMES, type FormatName } from '../import/types.js';
import { formatCpuList, parseCpuList } from '../model/capture-text.js';
import { loadTimeline } from '../timeline/load.js';
import type { SliceRequest, Timeline } from '../timeline/types.js';
import { formatDiagnostic, type CliIO } from './io.js';
import { releaseGarbage } from './memory.js';

/** Option parsers and stderr helpers shared by the commands (analyze, diff, timeline, export, replay). */

/** Progress appears only when loading takes longer than this (ms). */
const PROGRESS_AFTER_MS = 2000;
/** And is redrawn at most this often (ms). */
const PROGRESS_EVERY_MS = 250;

const UNITS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };

/** `--from`/`--to`: plain integers are ns; `1.5s`, `200ms`, `30us`, `10ns` are accepted. */
export function parseTimeArg(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s)?\s*$/.exec(text);
  if (!m) throw new UsageError(`${flag} ${text}: expected a time like 1500000000, 1.5s, 200ms or 30us (relative to the capture start)`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ns']!);
}

/** A repeatable option's values (commander calls it once per occurrence; no default shown in --help). */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** An integer option from `min` to `max`, in the tool's words when it is not one. */
export function parseIntArg(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`${flag} ${text}: expected an integer from ${min} to ${max}`);
  return v;
}

/** A number option in [min, max] (`above`: min itself excluded). */
export function parseRealArg(flag: string, text: string | undefined, min: number, max: number, opts: { above?: boolean } = {}): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  const low = opts.above === true ? v > min : v >= min;
  if (text.trim() === '' || !Number.isFinite(v) || !low || v > max)
    throw new UsageError(`${flag} ${text}: expected a number ${opts.above === true ? 'above' : 'from'} ${min} ${opts.above === true ? 'up ' : ''}to ${max}`);
  return v;
}

/** One of a fixed set of words. */
export function parseChoice<const T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${flag} ${text}: expected ${choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`}`);
  return text as T;
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

/** `--format`, `--strict`, `--window`: how every command that reads a capture loads it. */
export interface LoadCliOptions {
  format?: string;
  strict?: boolean;
  window?: string;
}

/** The load options parsed and validated, in the shape loadWithProgress takes. */
export interface LoadOptions {
  format: FormatName | undefined;
  strict: boolean;
  windowNs: number | undefined;
}

/** Declares the load options on a command (in this order, where it is called in the chain). */
export function addLoadOptions(cmd: Command, windowHelp = 'aggregation window in milliseconds (default 10, or the capture interval)'): Command {
  return cmd
    .option('--format <name>', `input format: ${FORMAT_NAMES.join(', ')} (default: sniffed)`)
    .option('--strict', 'fail on the first malformed line instead of skipping and counting it')
    .option('--window <ms>', windowHelp);
}

export function parseLoadOptions(o: LoadCliOptions): LoadOptions {
  return { format: parseFormat(o.format), strict: o.strict === true, windowNs: parseWindowArg(o.window) };
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

/** Diagnostics on stderr, bounded (they are never data, so never on stdout): warnings and errors, at most `max`, then a count of the rest; info only in --json. */
export function printDiagnostics(io: CliIO, diags: readonly Diagnostic[], max = 10): void {
  const shown = diags.filter((d) => d.severity !== 'info');
  for (const d of shown.slice(0, max)) io.err(formatDiagnostic(d) + '\n');
  if (shown.length > max) io.err(`wgtrace: ${shown.length - max} more diagnostics not shown\n`);
}

/**
 * Loads a capture's timeline for a command, with progress on a TTY (cleared however the load
 * ends), from options already parsed and validated by the command.
 */
export async function loadWithProgress(io: CliIO, capture: string, o: LoadOptions, slices?: SliceRequest): Promise<Timeline> {
  const pr = progress(io, capture);
  return loadTimeline(capture, {
    ...(o.format !== undefined ? { format: o.format } : {}),
    strict: o.strict,
    ...(o.windowNs !== undefined ? { windowNs: o.windowNs } : {}),
    ...(pr.onProgress ? { onProgress: pr.onProgress } : {}),
    ...(slices !== undefined ? { slices } : {}),
    // The import's and the fold's garbage collected before the assembly makes the NAPIs' series (memory.ts).
    collect: releaseGarbage,
  })
    .then((tl) => {
      // The load's garbage collected before the command's next phase piles more on it (memory.ts).
      releaseGarbage();
      return tl;
    })
    .finally(pr.done);
}

/**
 * `--cpu`, `--from` and `--to` against the loaded capture: a CPU it does not have or a time
 * outside it means nothing can be drawn or exported, so it is a usage error (exit 64) naming
 * the valid range, not an empty result.
 */
export function checkRangeArgs(
  tl: Timeline,
  args: { cpus?: number[] | undefined; from?: number | undefined; to?: number | undefined; cpuText?: string | undefined; fromText?: string | undefined; toText?: string | undefined },
): void {
  const list = formatCpuList(tl.cpus);
  if (args.cpus !== undefined) {
    const bad = args.cpus.filter((c) => !tl.cpus.includes(c));
    if (bad.length > 0) throw new UsageError(`--cpu ${args.cpuText ?? formatCpuList(args.cpus)}: the capture has no cpu ${formatCpuList(bad)}; its CPUs are ${list === '' ? 'none' : list}`);
  }
  const end = tl.capture.durationNs as number;
  const range = `the capture spans 0 to ${(end / 1e9).toFixed(3)} s (${end} ns) from its start`;
  if (args.from !== undefined && args.from >= end) throw new UsageError(`--from ${args.fromText ?? args.from}: past the capture's end; ${range}`);
  if (args.to !== undefined && (args.to <= 0 || args.to > end)) throw new UsageError(`--to ${args.toText ?? args.to}: outside the capture; ${range}`);
}
