import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError, type Diagnostic } from '../../base/diagnostics.js';
import { diffResults } from '../../report/diff.js';
import { loadReportAssets } from '../../report/html/assets.js';
import { buildReportPage, PAGE_DIAGNOSTICS, type ReportRun } from '../../report/html/page.js';
import { reportSeries } from '../../report/html/series.js';
import { replayJson } from '../../report/replay.js';
import { computeFacts } from '../../detect/facts.js';
import { ReplayJson } from '../../report/replay-schema.js';
import { AnalyzeResult, DiffResult } from '../../report/schema.js';
import { replayTimeline } from '../../replay/index.js';
import { MODEL_NAMES } from '../../replay/types.js';
import { writeError, writeOut, type CliIO, type RegisterCommand } from '../io.js';
import { VERSION } from '../../base/version.js';
import { printDiagnostics } from '../options.js';
import { addCaptureOptions, analyzeFile, parseCaptureOptions, type CaptureCliOptions, type CaptureOptions } from './analyze.js';

interface ReportCliOptions extends CaptureCliOptions {
  output: string;
  compare?: string;
}

/**
 * One capture's part of the page: `analyze --json`'s object (analyzeFile, as `wgtrace
 * analyze` calls it), `replay --json`'s (replayTimeline with the replay command's defaults:
 * every model, elastic demand, traced utilization) over the same timeline, and the series of
 * that timeline. Both objects are validated by their schemas, as the commands do before
 * printing them.
 */
async function reportRun(io: CliIO, file: string, opts: CaptureOptions): Promise<{ run: ReportRun; diagnostics: Diagnostic[] }> {
  const { result, timeline } = await analyzeFile(io, file, opts);
  const analyze = AnalyzeResult.parse(result);
  let replay: ReportRun['replay'];
  try {
    replay = ReplayJson.parse(replayJson(file, replayTimeline(timeline, { models: [...MODEL_NAMES], demand: 'elastic' }), computeFacts(timeline)));
  } catch (e) {
    replay = { error: e instanceof Error ? e.message : String(e) };
  }
  const diagnostics = timeline.diagnostics;
  return {
    run: {
      file,
      analyze,
      replay,
      series: reportSeries(timeline, analyze),
      diagnostics: diagnostics.slice(0, PAGE_DIAGNOSTICS + 1).map((d) => ({ severity: d.severity, code: d.code, message: d.message, ...(d.line !== undefined ? { line: d.line } : {}) })),
    },
    diagnostics,
  };
}

/**
 * `wgtrace report <capture> [-o report.html] [--compare <other>]`: one self-contained HTML
 * page (no request leaves it) to attach to a bug report: the capture's facts, per-core
 * utilization over time, where each tunnel polled, the findings linked to the charts, and the
 * what-if; with --compare, two captures side by side (before and after, as `wgtrace diff`).
 */
export const registerReport: RegisterCommand = (program: Command, io: CliIO) => {
  addCaptureOptions(
    program
      .command('report')
      .description('write one self-contained HTML page: per-core utilization over time, tunnels x cores, findings and what-if')
      .argument('<capture>', 'capture file (.gz accepted, - for stdin)'),
  )
    .option('-o, --output <file>', 'the HTML file to write (- for stdout)', 'report.html')
    .option('--compare <other>', "a second capture shown beside it: <capture> is 'before', <other> 'after' (as wgtrace diff <capture> <other>)")
    .option('--quiet', 'no diagnostics on stderr')
    .action(async (capture: string, o: ReportCliOptions & { quiet?: boolean }) => {
      if (capture === '-' && o.compare === '-') throw new UsageError('report - --compare -: standard input can be only one of the two captures; give the other as a file');
      const opts = parseCaptureOptions(o);
      const files = o.compare === undefined ? [capture] : [capture, o.compare];
      const runs: ReportRun[] = [];
      for (const f of files) {
        const { run, diagnostics } = await reportRun(io, f, opts);
        if (!o.quiet) printDiagnostics(io, diagnostics);
        runs.push(run);
      }
      const diff = runs.length === 2 ? DiffResult.parse(diffResults(runs[0]!.analyze, runs[1]!.analyze)) : undefined;
      const html = buildReportPage({ runs, ...(diff ? { diff } : {}), toolVersion: VERSION, assets: loadReportAssets() });
      if (o.output === '-') await writeOut(io, html);
      else {
        await writeFile(o.output, html).catch((e: unknown) => {
          throw writeError(o.output, e);
        });
        io.err(`wgtrace: wrote ${o.output} (${(Buffer.byteLength(html) / 1e6).toFixed(2)} MB); open it in a browser, it needs no network\n`);
      }
    });
};
