import type { BootNs, Ns } from '../base/time.js';
import type { DiagnosticLog } from '../base/diagnostics.js';
import type { TraceEvent } from '../model/events.js';
import type { CaptureHeader } from '../model/header.js';

export const FORMAT_NAMES = ['bpftrace-text', 'bpftrace-json', 'perf-script', 'ftrace', 'trace-cmd', 'csv'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

export interface ImportOptions {
  /** The file as the user named it, for diagnostics (`-` for stdin). */
  file: string;
  /** Fail on the first malformed line instead of skipping and counting it. */
  strict: boolean;
  diagnostics: DiagnosticLog;
  /** Events are delivered in batches, in file order (ordered per CPU, not across CPUs). */
  onEvents: (batch: TraceEvent[]) => void;
  /** Called once the header is known (before any event), or not at all when there is none. */
  onHeader?: (header: CaptureHeader) => void;
  /** Progress callback with bytes consumed so far (the CLI shows it on a TTY). */
  onProgress?: (bytes: number) => void;
}

export interface ImportSummary {
  format: FormatName;
  header?: CaptureHeader;
  /** Boot-time ns that event `ts` 0 refers to: the header's start, else the first event's. */
  origin: BootNs;
  /** True when origin came from the header. */
  originFromHeader: boolean;
  lines: number;
  events: number;
  lostEvents: number;
  skippedLines: number;
  /**
   * Devices polled during the capture that its device filter (`#@devices_glob`) left out (our
   * scripts' `@untraced` map). With no traced poll at all, the filter matched nothing.
   */
  untracedDevices?: string[];
  /** Lines that carry nothing by design (blank, `Attaching N probes...`, comments), counted. */
  ignoredLines?: number;
  /** Lines that are not trace data at all (prose, shell prompts around pasted trace lines), counted apart from malformed ones. */
  proseLines?: number;
  /** Lines of events wgtrace does not use (other tracepoints, the function tracer, other softirq vectors). */
  unusedEventLines?: number;
  /**
   * Windows mode: the ts (relative to origin) after which the probes were no longer all
   * recording, when the capture shows it (the last window printed after lost window prints: the
   * probes' removal at exit). The probed span ends there.
   */
  recordedUntilNs?: Ns;
}

/**
 * One importer per input format (speedscope's src/import/*). `sniff` looks at the first few KB
 * of text; `import` consumes the reader's pieces (already gunzipped) and streams events.
 */
export interface Importer {
  name: FormatName;
  sniff(head: string): boolean;
  /**
   * Pieces of the capture in order: decoded text, or the bytes of an all-ASCII piece that ends
   * with '\n' (import/index.ts), which reads the same as Latin-1 and as UTF-8 and which a byte
   * fast path may parse without decoding. Text alone or the same text as Buffers: same result.
   */
  import(chunks: AsyncIterable<string | Buffer>, opts: ImportOptions): Promise<ImportSummary>;
  /**
   * True when `import` is done with each Buffer piece before it asks for the next one and keeps
   * no view of it (every byte it keeps is copied): the reader may then read the file into one
   * buffer over and over (import/index.ts) instead of a fresh one per read.
   */
  piecesInPlace?: boolean;
}
