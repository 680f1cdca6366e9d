import type { Command } from 'commander';
import { UsageError } from '../../base/diagnostics.js';
import { diffResults } from '../../report/diff.js';
import { renderDiffText } from '../../report/diff-text.js';
import { painter } from '../../report/render/style.js';
import { DiffResult } from '../../report/schema.js';
import type { CliIO, RegisterCommand } from '../io.js';
import { addCaptureOptions, analyzeFile, parseCaptureOptions, type CaptureCliOptions } from './analyze.js';
import { printDiagnostics } from '../options.js';

/**
 * `wgtrace diff <before> <after>`: per-core and per-tunnel deltas between two captures (for
 * example before and after enabling threaded NAPI) and the findings that appeared or went.
 * Both captures are analysed with the same options and thresholds.
 */
export const registerDiff: RegisterCommand = (program: Command, io: CliIO) => {
  addCaptureOptions(
    program
      .command('diff')
      .description('compare two captures: per-core and per-tunnel deltas, findings that appeared or went')
      .argument('<before>', 'capture before the change')
      .argument('<after>', 'capture after the change'),
  )
    .option('--json', 'print the result as JSON (schema: docs/diff.schema.json)')
    .option('--quiet', 'no diagnostics on stderr')
    .action(async (before: string, after: string, o: CaptureCliOptions & { json?: boolean }) => {
      // Standard input can be read once: it cannot be both captures.
      if (before === '-' && after === '-') throw new UsageError('diff - -: standard input can be only one of the two captures; give the other as a file');
      const opts = parseCaptureOptions(o);
      const b = await analyzeFile(io, before, opts);
      const a = await analyzeFile(io, after, opts);
      if (!o.quiet) {
        printDiagnostics(io, b.timeline.diagnostics);
        printDiagnostics(io, a.timeline.diagnostics);
      }
      const d = diffResults(b.result, a.result);
      if (o.json) io.out(JSON.stringify(DiffResult.parse(d), null, 2) + '\n');
      else io.out(renderDiffText(d, { painter: painter(io.color) }));
    });
};
