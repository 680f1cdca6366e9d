import { once } from 'node:events';
import type { Command } from 'commander';
import { InputError, systemErrorReason, type Diagnostic } from '../base/diagnostics.js';

/** Where a command writes: data to stdout, messages and progress to stderr. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** stderr is a TTY (progress allowed). */
  errIsTTY: boolean;
  /** Colour allowed: stdout is a TTY and NO_COLOR is unset or empty (colorAllowed). */
  color: boolean;
  /** Data to stdout, resolved once the stream can take more (large outputs: `-o -`). Default: `out`. */
  write?: (text: string) => Promise<void>;
}

/** Writes data to stdout with backpressure when the IO has it. */
export async function writeOut(io: CliIO, text: string): Promise<void> {
  if (io.write !== undefined) await io.write(text);
  else io.out(text);
}

export function processIO(): CliIO {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    errIsTTY: Boolean(process.stderr.isTTY),
    color: colorAllowed(Boolean(process.stdout.isTTY), process.env),
    write: async (t) => {
      if (!process.stdout.write(t)) await once(process.stdout, 'drain');
    },
  };
}

/** no-color.org: NO_COLOR turns colour off when it is present and not an empty string. */
export function colorAllowed(isTTY: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  const v = env['NO_COLOR'];
  return isTTY && (v === undefined || v === '');
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line === undefined ? `${d.file}` : `${d.file}:${d.line}`;
  return `wgtrace: ${d.severity}: ${where}: ${d.message}`;
}

/** A command: its own file under commands/, registered in commands/index.ts. */
export type RegisterCommand = (program: Command, io: CliIO) => void;

/** A failed write of an output file, as one line naming it. */
export function writeError(path: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  return typeof err?.code === 'string' ? new InputError(`cannot write: ${systemErrorReason(err, true)}`, path) : e;
}
