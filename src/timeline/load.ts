import type { Readable } from 'node:stream';
import { DiagnosticLog } from '../base/diagnostics.js';
import { importCapture } from '../import/index.js';
import type { FormatName } from '../import/types.js';
import { TimelineBuilder } from './builder.js';
import type { SliceRequest, Timeline } from './types.js';

export interface LoadTimelineOptions {
  format?: FormatName;
  strict?: boolean;
  windowNs?: number;
  slices?: SliceRequest;
  /** Bytes read so far (the CLI shows progress on a TTY). */
  onProgress?: (bytes: number) => void;
  /** Standard input for `-` (tests pass their own). */
  stdin?: Readable;
  /** Diagnostics kept (all are counted); default 100. */
  diagnosticsLimit?: number;
  /** Called once during the assembly, when the fold's state is summed and dropped and before the NAPIs' series are made (the CLI runs a full collection there: cli/memory.ts). */
  collect?: () => void;
}

/**
 * Imports a capture and folds it into a timeline in one streaming pass: events go from the
 * importer straight into the builder, batch by batch, and are never all in memory.
 * Importer and builder share one diagnostic log, so `Timeline.diagnostics` holds both.
 */
export async function loadTimeline(path: string, opts: LoadTimelineOptions = {}): Promise<Timeline> {
  const diagnostics = new DiagnosticLog(opts.diagnosticsLimit);
  const builder = new TimelineBuilder({
    file: path,
    diagnostics,
    ...(opts.windowNs !== undefined ? { windowNs: opts.windowNs } : {}),
    ...(opts.slices !== undefined ? { slices: opts.slices } : {}),
  });
  const { summary } = await importCapture(path, {
    ...(opts.format !== undefined ? { format: opts.format } : {}),
    ...(opts.strict !== undefined ? { strict: opts.strict } : {}),
    ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
    ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
    diagnostics,
    onHeader: (h) => builder.header(h),
    onEvents: (batch) => builder.push(batch),
  });
  return builder.finish(summary, opts.collect);
}
