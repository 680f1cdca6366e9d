import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { compileNotation } from '../notation.js';

/**
 * Golden tests (Perfetto's diff tests): capture file + command + expected output.
 *
 * Each directory under test/golden/cases/ holds
 * - `case.wgn`: a synthetic timeline in the test notation (test/notation.ts) whose
 *   `# command:` line(s) give the wgtrace command lines to run, with `{capture}` standing for
 *   the case's capture file; `capture.txt` is that notation compiled to our bpftrace-text
 *   capture format and committed beside it, so the command reads a real file through the real
 *   importer and builder;
 * - or `command`: command lines for captures elsewhere (the real ones under traces/);
 * - `expected.txt`: for each command, `$ wgtrace <args>`, its stdout, its stderr lines
 *   prefixed `stderr: `, and `[exit N]`.
 *
 * Run with UPDATE_GOLDEN=1 to rewrite capture.txt and expected.txt, then review the diff.
 * Outputs are deterministic: no clock, no colour (the IO says no TTY), no absolute paths.
 */
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
// main() adds a stdout 'error' listener per call (for EPIPE); a CLI calls it once, these tests many times.
const ROOT = join(import.meta.dirname, 'cases');
const REPO = join(import.meta.dirname, '../..');

function commandsOf(dir: string): { commands: string[][]; capture?: { path: string; text: string } } {
  const wgn = join(dir, 'case.wgn');
  if (existsSync(wgn)) {
    const src = readFileSync(wgn, 'utf8');
    const capturePath = relative(REPO, join(dir, 'capture.txt'));
    const commands = [...src.matchAll(/^#\s*command:\s*(.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .split(/\s+/)
        .map((a) => a.replace('{capture}', capturePath)),
    );
    return { commands, capture: { path: join(dir, 'capture.txt'), text: compileNotation(src).text } };
  }
  const cmd = readFileSync(join(dir, 'command'), 'utf8');
  return {
    commands: cmd
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.trim().split(/\s+/)),
  };
}

async function run(args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, color: false });
  const errLines =
    err === ''
      ? ''
      : err
          .trimEnd()
          .split('\n')
          .map((l) => `stderr: ${l}`)
          .join('\n') + '\n';
  return `$ wgtrace ${args.join(' ')}\n${out}${errLines}[exit ${code}]\n`;
}

const cases = existsSync(ROOT) ? readdirSync(ROOT).sort() : [];

describe('golden', () => {
  it('has cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const name of cases) {
    it(name, async () => {
      const dir = join(ROOT, name);
      const { commands, capture } = commandsOf(dir);
      expect(commands.length, `${name}: no command`).toBeGreaterThan(0);
      if (capture !== undefined) {
        if (UPDATE) writeFileSync(capture.path, capture.text);
        expect(readFileSync(capture.path, 'utf8'), `${name}/capture.txt is stale: UPDATE_GOLDEN=1`).toBe(capture.text);
      }
      let got = '';
      for (const c of commands) got += (got === '' ? '' : '\n') + (await run(c));
      const expectedPath = join(dir, 'expected.txt');
      if (UPDATE) writeFileSync(expectedPath, got);
      expect(got).toBe(readFileSync(expectedPath, 'utf8'));
    });
  }
});
