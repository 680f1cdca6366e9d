import type { Command } from 'commander';
import { UsageError } from '../../base/diagnostics.js';
import { painter } from '../../report/render/style.js';
import { TimelineViewResult, buildTimelineView, renderTimelineText } from '../../report/timeline-view.js';
import { ns } from '../../base/time.js';
import type { CliIO, RegisterCommand } from '../io.js';
import { addLoadOptions, checkRangeArgs, loadWithProgress, parseCpuArg, parseLoadOptions, parseTimeArg, printDiagnostics, type LoadCliOptions } from '../options.js';

/** Slices kept for the strip chart; past it the chart is drawn from the per-window series. */
const TIMELINE_MAX_SLICES = 500_000;
/** Slices are requested from a little before --from: without a header the capture start lies slightly before the origin. */
const SLICE_MARGIN_NS = 1_000_000_000;

interface TimelineCliOptions extends LoadCliOptions {
  cpu?: string;
  from?: string;
  to?: string;
  columns?: string;
  height?: string;
  json?: boolean;
}

export const registerTimeline: RegisterCommand = (program: Command, io: CliIO) => {
  addLoadOptions(
    program
      .command('timeline')
      .description('per-core strip chart of which tunnel polled where, and per-core utilization over time')
      .argument('<capture>', 'capture file (.gz accepted, - for stdin)')
      .option('--cpu <list>', 'CPUs to show, e.g. 0-3,8 (default all)')
      .option('--from <T>', 'start of the range, from the capture start: ns, or 1.5s, 200ms, 30us')
      .option('--to <T>', 'end of the range (default the capture end)'),
  )
    .option('--columns <n>', 'width of the strip in characters (default: terminal width, else 100)')
    .option('--height <rows>', 'height of each utilization chart (default 4)')
    .option('--json', 'print the result as JSON (schema: docs/timeline.schema.json)')
    .action(async (capture: string, o: TimelineCliOptions) => {
      const cpus = parseCpuArg(o.cpu);
      const from = o.from !== undefined ? parseTimeArg('--from', o.from) : undefined;
      const to = o.to !== undefined ? parseTimeArg('--to', o.to) : undefined;
      if (from !== undefined && to !== undefined && to <= from) throw new UsageError(`--to must be after --from`);
      const load = parseLoadOptions(o);
      const termCols = process.stdout.columns;
      const columns = o.columns !== undefined ? Number(o.columns) : termCols !== undefined && termCols > 40 ? termCols - 18 : 100;
      if (!Number.isInteger(columns) || columns < 10 || columns > 10_000) throw new UsageError(`--columns ${o.columns}: expected an integer from 10 to 10000`);
      const height = o.height !== undefined ? Number(o.height) : 4;
      if (!Number.isInteger(height) || height < 1 || height > 50) throw new UsageError(`--height ${o.height}: expected an integer from 1 to 50`);

      const tl = await loadWithProgress(io, capture, load, {
        ...(from !== undefined ? { from: ns(from - SLICE_MARGIN_NS) } : {}),
        ...(to !== undefined ? { to: ns(to + SLICE_MARGIN_NS) } : {}),
        ...(cpus !== undefined ? { cpus } : {}),
        maxSlices: TIMELINE_MAX_SLICES,
      });
      checkRangeArgs(tl, { cpus, from, to, cpuText: o.cpu, fromText: o.from, toText: o.to });
      const view = buildTimelineView(tl, {
        file: capture,
        ...(cpus !== undefined ? { cpus } : {}),
        ...(from !== undefined ? { fromNs: from } : {}),
        ...(to !== undefined ? { toNs: to } : {}),
        columns,
      });
      // Slices past the bound only mean the chart is drawn from the windows (it says so): not a problem with the input.
      printDiagnostics(
        io,
        tl.diagnostics.filter((d) => d.code !== 'slices-cut'),
      );
      if (o.json) {
        // The schema is the contract: an output that does not match it is our bug.
        io.out(JSON.stringify(TimelineViewResult.parse(view), null, 2) + '\n');
      } else {
        io.out(renderTimelineText(view, { painter: painter(io.color), chartHeight: height }));
      }
    });
};
