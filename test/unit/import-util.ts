import { DiagnosticLog } from '../../src/base/diagnostics.js';
import type { TraceEvent } from '../../src/model/events.js';
import type { CaptureHeader } from '../../src/model/header.js';
import type { Importer, ImportSummary } from '../../src/import/types.js';

/** Yields `text` in chunks of `size` characters (1 and 7 exercise lines split across chunks). */
export async function* chunked(text: string, size = 65536): AsyncIterable<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

export interface RunResult {
  events: TraceEvent[];
  summary: ImportSummary;
  diagnostics: DiagnosticLog;
  header?: CaptureHeader;
  /** `code@line` of every diagnostic kept. */
  codes: string[];
}

export async function run(importer: Importer, text: string, opts: { chunk?: number; strict?: boolean; file?: string } = {}): Promise<RunResult> {
  const events: TraceEvent[] = [];
  const diagnostics = new DiagnosticLog(1000);
  let header: CaptureHeader | undefined;
  const summary = await importer.import(chunked(text, opts.chunk), {
    file: opts.file ?? 'test.txt',
    strict: opts.strict ?? false,
    diagnostics,
    onEvents: (b) => events.push(...b),
    onHeader: (h) => (header = h),
  });
  const codes = diagnostics.items.map((d) => (d.line === undefined ? d.code : `${d.code}@${d.line}`));
  return { events, summary, diagnostics, codes, ...(header ? { header } : {}) };
}

/** One readable line per event: `napi_poll ts=6000 cpu=0 napi=0x... dev=vb ...`. */
export function dump(events: TraceEvent[]): string[] {
  return events.map((e) => {
    const { kind, ...rest } = e as unknown as Record<string, unknown>;
    return [kind, ...Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`)].join(' ');
  });
}
