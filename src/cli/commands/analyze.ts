import type { Command } from 'commander';
import { UsageError } from '../../base/diagnostics.js';
import { parseThresholdOverrides, type Thresholds } from '../../detect/thresholds.js';
import { FORMAT_NAMES, type FormatName } from '../../import/types.js';
import { analyzeCapture } from '../../report/analyze.js';
import { renderAnalyzeText } from '../../report/analyze-text.js';
import { painter } from '../../report/render/style.js';
import { AnalyzeResult } from '../../report/schema.js';
import type { CliIO } from '../io.js';
import { addLoadOptions, parseLoadOptions, printDiagnostics, type LoadCliOptions } from '../options.js';
import type { RegisterCommand } from './index.js';

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


export function parseCaptureOptions(o: CaptureCliOptions): { format?: FormatName; strict: boolean; windowNs?: number; thresholds: Thresholds; tunnels?: string } {
  const { format, strict, windowNs } = parseLoadOptions(o);
  const t = parseThresholdOverrides(o.threshold ?? []);
  if (!t.ok) throw new UsageError(t.error);
  if (o.tunnels !== undefined && o.tunnels.trim() === '') throw new UsageError(`--tunnels: expected device names or globs, e.g. 'gre*,vxlan0'`);
  return { ...(format ? { format } : {}), strict, ...(windowNs ? { windowNs } : {}), thresholds: t.value, ...(o.tunnels !== undefined ? { tunnels: o.tunnels } : {}) };
}

export const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function addCaptureOptions(cmd: Command): Command {
  return addLoadOptions(cmd)
    .option('--threshold <name=value>', 'override a detector threshold, e.g. colocation-min-share=0.1 (repeatable; see docs/findings.md)', collect, [])
    .option('--tunnels <glob>', "devices whose NAPIs are tunnels, for other tunnel drivers than WireGuard: NAME, PREFIX* or '*', comma-separated (default: WireGuard devices and the virtual devices the capture's --devices selected)");
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
      const { result, timeline } = await analyzeCapture(capture, { ...opts, predict: o.predict !== false });
      if (!o.quiet) printDiagnostics(io, timeline.diagnostics);
      if (o.json) {
        // The schema is the contract: an output that does not match it is our bug, not the input's.
        const checked = AnalyzeResult.parse(result);
        io.out(JSON.stringify(checked, null, 2) + '\n');
      } else {
        io.out(renderAnalyzeText(result, { painter: painter(io.color), quiet: o.quiet === true }));
      }
    });
};
