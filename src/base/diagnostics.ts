/**
 * Importers and builders never print: they return diagnostics, and only the CLI decides how
 * to show them (speedscope's and the Firefox profiler's rule; see docs/STYLE.md).
 */
export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  severity: Severity;
  /** A stable machine-readable code, e.g. `malformed-line`, `lost-events`, `no-header`. */
  code: string;
  /** The input file as the user named it (`-` for stdin). */
  file: string;
  /** 1-based line number, when the problem belongs to a line. */
  line?: number;
  message: string;
}

/** Collects diagnostics with a bound, so a file of a million bad lines cannot eat memory. */
export class DiagnosticLog {
  readonly items: Diagnostic[] = [];
  /** Counts per code, including those past the bound. */
  readonly counts = new Map<string, number>();
  constructor(readonly limit = 100) {}

  add(d: Diagnostic): void {
    this.counts.set(d.code, (this.counts.get(d.code) ?? 0) + 1);
    if (this.items.length < this.limit) this.items.push(d);
  }

  count(code: string): number {
    return this.counts.get(code) ?? 0;
  }
}

/**
 * An error the user can act on: one line naming the file, line and reason. The CLI prints
 * `wgtrace: <file>:<line>: <message>` and exits non-zero, without a stack trace.
 */
export class InputError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'InputError';
  }

  oneLine(): string {
    const where = this.file === undefined ? '' : this.line === undefined ? `${this.file}: ` : `${this.file}:${this.line}: `;
    return `${where}${this.message}`;
  }
}

/** Bad command-line usage: exit code 64 (EX_USAGE). */
export class UsageError extends InputError {
  constructor(message: string) {
    super(message, undefined, undefined, 64);
    this.name = 'UsageError';
  }
}

/**
 * A system error (ENOENT, EACCES, ENOSPC, ...) in the tool's words, without Node's
 * `CODE: text, syscall 'path'` form: the callers put the path in front themselves. `writing`:
 * ENOENT while creating a file means its directory is missing, not the file.
 */
export function systemErrorReason(e: NodeJS.ErrnoException, writing = false): string {
  switch (e.code) {
    case 'ENOENT':
      return writing ? 'no such directory' : 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'read-only file system';
    case 'EEXIST':
      return 'already exists';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    default:
      // Node's messages read `CODE: text, syscall 'path'`: keep the text.
      return e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '') || String(e.code);
  }
}
