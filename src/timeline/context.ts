import { DiagnosticLog, type Diagnostic } from '../base/diagnostics.js';
import type { CaptureHeader, CaptureMode } from '../model/header.js';
import { CryptAttribution } from './devices.js';
import { WindowGrid } from './grid.js';
import { SliceKeeper } from './slice-keeper.js';
import type { SliceRequest } from './types.js';

/** Default aggregation window: fine enough to see a surge converge onto one core within a second. */
export const DEFAULT_WINDOW_NS = 10_000_000;

/*
 * Time fields of the fold hold NaN for "none" (no slice open, no run started, no event seen
 * yet): every comparison with NaN is false, so no second flag is needed, and `Number.isNaN`
 * tells them apart. (Not a helper of our own: TurboFan lowers the builtin in place, while each
 * inlined call of a JS helper counts against its inlining budget; the builder measured 3%
 * slower with one.)
 */

/**
 * What every part of the fold shares: the grid of per-window series, the diagnostics, the
 * slices asked for, crypt attribution, the header's marks and the capture's running bounds.
 * One per build, passed explicitly (no module state), so two builds can run in one process.
 */
export class BuildContext {
  readonly file: string;
  readonly log: DiagnosticLog;
  /** Occurrences per recurring problem code; only the first few became diagnostics (summarised at the end). */
  readonly counts = new Map<string, number>();
  /** The window asked for, or the capture's interval in windows mode (undefined: the default). */
  windowNs: number | undefined;
  /** Made with the first CPU or windows record, once the window is known. */
  grid: WindowGrid | undefined;
  private readonly gridBudgetBytes: number | undefined;
  readonly slices: SliceKeeper;
  readonly crypt = new CryptAttribution();
  hdr: CaptureHeader | undefined;
  mode: CaptureMode | undefined;
  /** Events-mode format 4: idle periods arrive whole (IP), and the traced work on the idle task is taken off them. */
  idleWhole = false;
  /** Probes attached (relative ns), from the header; slices open before it are clamped there. */
  probesStartNs: number | undefined;
  /** Probes detached (relative ns), from the header: an idle period open then is counted up to it, not past it. */
  probesStopNs: number | undefined;
  /** Slices cut by the capture's start or end (Timeline.capture.clampedSlices). */
  clamped = 0;
  /** Earliest and latest event times seen (windows records: their kernel window's bounds). */
  minTs = Infinity;
  maxTs = -Infinity;
  /** Lost-events records in the stream (the importer's summary may count more). */
  lostEvents = 0;
  /** Softirq events of vectors other than NET_RX and NET_TX (ignored). */
  ignoredSoftirqs = 0;

  constructor(opts: { file?: string; diagnostics?: DiagnosticLog; gridBudgetBytes?: number; windowNs?: number; slices?: SliceRequest }) {
    this.file = opts.file ?? '-';
    this.log = opts.diagnostics ?? new DiagnosticLog();
    this.gridBudgetBytes = opts.gridBudgetBytes;
    this.windowNs = opts.windowNs;
    this.slices = new SliceKeeper(opts.slices);
  }

  diag(severity: Diagnostic['severity'], code: string, message: string): void {
    this.log.add({ severity, code, file: this.file, message });
  }

  /** Counts a recurring problem; only the first few of each code become diagnostics, the rest are summarised by `summariseProblems`. */
  problem(code: string, message: string): void {
    const n = (this.counts.get(code) ?? 0) + 1;
    this.counts.set(code, n);
    if (n <= 5) this.diag('warning', code, message);
  }

  summariseProblems(): void {
    for (const [code, n] of this.counts) {
      if (n > 5) this.diag('warning', code, `${n} events of this kind in all (only the first 5 are listed)`);
    }
  }

  ensureGrid(): WindowGrid {
    if (this.grid === undefined) this.grid = new WindowGrid(this.windowNs ?? DEFAULT_WINDOW_NS, this.gridBudgetBytes);
    return this.grid;
  }
}
