import type { Command } from 'commander';
import type { Diagnostic } from '../base/diagnostics.js';

/** Where a command writes: data to stdout, messages and progress to stderr. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** stderr is a TTY (progress allowed). */
  errIsTTY: boolean;
  /** Colour allowed: stdout is a TTY and NO_COLOR is unset. */
  color: boolean;
}

export function processIO(): CliIO {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    errIsTTY: Boolean(process.stderr.isTTY),
    color: Boolean(process.stdout.isTTY) && process.env['NO_COLOR'] === undefined,
  };
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line === undefined ? `${d.file}` : `${d.file}:${d.line}`;
  return `wgtrace: ${d.severity}: ${where}: ${d.message}`;
}

/** A command: its own file under commands/, registered in commands/index.ts. */
export type RegisterCommand = (program: Command, io: CliIO) => void;
