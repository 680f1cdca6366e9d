import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { UsageError } from '../../base/diagnostics.js';
import { perfettoChunks } from '../../report/perfetto.js';
import { SliceStore } from '../../report/slice-store.js';
import { ns } from '../../base/time.js';
import { writeError, writeOut, type CliIO, type RegisterCommand } from '../io.js';
import { addLoadOptions, checkRangeArgs, loadWithProgress, parseCpuArg, parseLoadOptions, parseTimeArg, printDiagnostics, type LoadCliOptions } from '../options.js';

/**
 * Default bound on slices written: about 150 bytes of JSON each, so a million is ~150 MB on
 * disk, about what ui.perfetto.dev loads comfortably. In memory the export keeps each slice in
 * typed-array columns (report/slice-store.ts: about 44 bytes with its sort indexes), not as an
 * object, so a million slices cost ~45 MB on top of the timeline.
 */
const DEFAULT_MAX_SLICES = 1_000_000;

interface ExportCliOptions extends LoadCliOptions {
  perfetto?: string;
  maxSlices?: string;
  cpu?: string;
  from?: string;
  to?: string;
}

/** Writes chunks to a file (or stdout for `-`), waiting when the stream is full. */
async function writeChunks(path: string, chunks: Iterable<string>, io: CliIO): Promise<void> {
  if (path === '-') {
    for (const c of chunks) await writeOut(io, c);
    return;
  }
  const out = createWriteStream(path);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  try {
    for (const c of chunks) {
      if (!out.write(c)) await Promise.race([once(out, 'drain'), failed]);
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  } catch (e) {
    out.destroy();
    throw writeError(path, e);
  }
}

export const registerExport: RegisterCommand = (program: Command, io: CliIO) => {
  addLoadOptions(
    program
      .command('export')
      .description('write the per-CPU timeline as Chrome trace-event JSON for ui.perfetto.dev or chrome://tracing')
      .argument('<capture>', 'capture file (.gz accepted, - for stdin)')
      .requiredOption('--perfetto <out.json>', 'output file (- for stdout)')
      .option('--max-slices <n>', `bound on slices written (default ${DEFAULT_MAX_SLICES}); past it they are counted, not written`)
      .option('--cpu <list>', 'CPUs to export, e.g. 0-3 (default all)')
      .option('--from <T>', 'export slices from this time after the capture start: ns, or 1.5s, 200ms')
      .option('--to <T>', 'export slices up to this time'),
    'utilization counter window in milliseconds (default 10)',
  ).action(async (capture: string, o: ExportCliOptions) => {
    const maxSlices = o.maxSlices !== undefined ? Number(o.maxSlices) : DEFAULT_MAX_SLICES;
    if (!Number.isInteger(maxSlices) || maxSlices < 0) throw new UsageError(`--max-slices ${o.maxSlices}: expected a non-negative integer`);
    const cpus = parseCpuArg(o.cpu);
    const from = o.from !== undefined ? parseTimeArg('--from', o.from) : undefined;
    const to = o.to !== undefined ? parseTimeArg('--to', o.to) : undefined;
    const store = new SliceStore();
    const tl = await loadWithProgress(io, capture, parseLoadOptions(o), {
      ...(from !== undefined ? { from: ns(from) } : {}),
      ...(to !== undefined ? { to: ns(to) } : {}),
      ...(cpus !== undefined ? { cpus } : {}),
      maxSlices,
      sink: (cpu, s) => store.add(cpu, s),
    });
    checkRangeArgs(tl, { cpus, from, to, cpuText: o.cpu, fromText: o.from, toText: o.to });
    printDiagnostics(io, tl.diagnostics);
    await writeChunks(o.perfetto!, perfettoChunks(tl, { title: tl.capture.header?.hostname ?? capture, store }), io);
    const cut = tl.capture.slicesCut ?? 0;
    const cutText = cut > 0 ? `, ${cut} more cut past --max-slices ${maxSlices} (narrow with --cpu, --from, --to or raise --max-slices)` : '';
    io.err(`wgtrace: wrote ${o.perfetto}: ${store.size} slices on ${tl.cpus.length} CPUs${cutText}; open it in ui.perfetto.dev\n`);
  });
};
