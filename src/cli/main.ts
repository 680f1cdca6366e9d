import { Command, CommanderError } from 'commander';
import { InputError, systemErrorReason } from '../base/diagnostics.js';
import { processIO, type CliIO } from './io.js';
import { VERSION } from '../base/version.js';
import { COMMANDS } from './commands/index.js';

/**
 * `wgtrace analyze x | head`: a closed pipe is not an error. Installed once by the bin, not
 * per main() call, so tests that call main() many times do not pile up listeners.
 */
export function exitQuietlyOnEpipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

/**
 * The CLI entry (tachometer's shape: bin/wgtrace.js calls main(argv); the exit code is set
 * once, here). Commands throw typed errors; this maps them to one-line messages and codes:
 * 0 analysed (even with findings), 2 bad input, 64 usage, 130 interrupted.
 */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const program = new Command();
  program
    .name('wgtrace')
    .description('Why does a WireGuard gateway stop scaling? Per-core NAPI timelines from kernel captures.')
    .version(VERSION)
    .exitOverride()
    // commander's own usage errors (`error: unknown option '--x'`) in our voice, as ours are.
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (text, write) => write(text.replace(/^error: /, 'wgtrace: ')) })
    .showHelpAfterError(false);
  for (const register of COMMANDS) register(program, io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 64;
    }
    if (e instanceof InputError) {
      io.err(`wgtrace: ${e.oneLine()}\n`);
      return e.exitCode;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && typeof err.message === 'string') {
      // A system error (ENOENT, EACCES, ENOSPC...) no command turned into an InputError: one
      // line in our words, naming the path when there is one, no stack.
      io.err(`wgtrace: ${typeof err.path === 'string' ? `${err.path}: ` : ''}${systemErrorReason(err)}\n`);
      return 2;
    }
    io.err(`wgtrace: internal error: ${process.env['WGTRACE_DEBUG'] ? String((e as Error)?.stack ?? e) : String((e as Error)?.message ?? e)} (set WGTRACE_DEBUG=1 for a stack trace)\n`);
    return 70;
  }
}
