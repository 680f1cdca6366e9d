import type { Command } from 'commander';
import { UsageError } from '../../base/diagnostics.js';
import { parseThresholdOverrides, type Thresholds } from '../../detect/thresholds.js';
import { analyzeTimeline, type AnalyzeOptions } from '../../report/analyze.js';
import { renderAnalyzeText } from '../../report/analyze-text.js';
import { painter } from '../../report/render/style.js';
import { AnalyzeResult } from '../../report/schema.js';
import type { Timeline } from '../../timeline/types.js';
import { writeOut, type CliIO, type RegisterCommand } from '../io.js';
import { releaseGarbage } from '../memory.js';
import { writeJson } from '../../report/json-stream.js';
import { addLoadOptions, collect, loadWithProgress, parseLoadOptions, printDiagnostics, type LoadCliOptions, type LoadOptions } from '../options.js';

/**
 * `wgtrace analyze <capture>`: the findings report. Exit code 0 whenever the capture could be
 * analysed, findings or not; an unreadable or unparseable input is an InputError (exit 2,
 * one line on stderr). `--quiet`: the text report shows only the findings and stderr gets no
 * diagnostics; with `--json` stdout is always the whole validated object (a machine wants all
 * of it) and `--quiet` only silences stderr.
 */
export interface CaptureCliOptions extends LoadCliOptions {
  threshold?: string[];
  quiet?: boolean;
  tunnels?: string;
}

/** The options of every command that analyses a capture (analyze, diff, report), parsed and validated. */
export interface CaptureOptions {
  load: LoadOptions;
  thresholds: Thresholds;
  tunnels?: string;
}

export function parseCaptureOptions(o: CaptureCliOptions): CaptureOptions {
  const load = parseLoadOptions(o);
  const t = parseThresholdOverrides(o.threshold ?? []);
  if (!t.ok) throw new UsageError(t.error);
  if (o.tunnels !== undefined && o.tunnels.trim() === '') throw new UsageError(`--tunnels: expected device names or globs, e.g. 'gre*,vxlan0'`);
  return { load, thresholds: t.value, ...(o.tunnels !== undefined ? { tunnels: o.tunnels } : {}) };
}

/**
 * Loads a capture (the commands' one load path, with progress on a TTY) and analyses it: what
 * `wgtrace analyze` computes, and what diff and report compute for each of their captures.
 */
export async function analyzeFile(io: CliIO, file: string, o: CaptureOptions, extra: Pick<AnalyzeOptions, 'predict'> = {}): Promise<{ result: AnalyzeResult; timeline: Timeline }> {
  const timeline = await loadWithProgress(io, file, o.load);
  const result = analyzeTimeline(timeline, { file, thresholds: o.thresholds, ...(o.tunnels !== undefined ? { tunnels: o.tunnels } : {}), ...extra });
  return { result, timeline };
}

export function addCaptureOptions(cmd: Command): Command {
  return addLoadOptions(cmd)
    .option('--threshold <name=value>', 'override a detector threshold, e.g. colocation-min-share=0.1 (repeatable; see docs/findings.md)', collect)
    .option(
      '--tunnels <glob>',
      "devices whose NAPIs are tunnels, for other tunnel drivers than WireGuard: NAME, PREFIX* or '*', comma-separated (default: WireGuard devices and the virtual devices the capture's --devices selected)",
    );
}

export const registerAnalyze: RegisterCommand = (program: Command, io: CliIO) => {
  addCaptureOptions(
    program
      .command('analyze')
      .description('find co-located and monolithic NAPI polls and core imbalance in a capture, and say what to do')
      .argument('<capture>', 'capture file (.gz accepted, - for stdin)'),
  )
    .option('--json', 'print the result as JSON (schema: docs/analyze.schema.json)')
    .option('--quiet', 'text: print only the findings; both: no diagnostics on stderr')
    .option('--no-predict', 'do not replay the capture through the models for predicted gains')
    .action(async (capture: string, o: CaptureCliOptions & { json?: boolean; predict?: boolean }) => {
      const opts = parseCaptureOptions(o);
      // Only the result and the diagnostics are kept: the timeline (its per-window series of
      // every (NAPI, CPU) pair) can be collected before the output is written.
      const { result, diagnostics } = await analyzeFile(io, capture, opts, o.predict === false ? { predict: false } : {}).then((r) => ({ result: r.result, diagnostics: r.timeline.diagnostics }));
      if (!o.quiet) printDiagnostics(io, diagnostics);
      // The timeline collected before the output is made (memory.ts).
      releaseGarbage();
      if (o.json) {
        // The schema is the contract: an output that does not match it is our bug, not the
        // input's. Validated and written piece by piece (json-stream.ts): the same bytes as
        // JSON.stringify of the parsed object, without a copy of it or the whole string.
        await writeJson(AnalyzeResult, result, (text) => writeOut(io, text));
      } else {
        io.out(renderAnalyzeText(result, { painter: painter(io.color), quiet: o.quiet === true }));
      }
    });
};
