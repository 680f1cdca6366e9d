import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { colorAllowed, type CliIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { scriptsDir } from '../../src/capture/script.js';
import { compileNotation } from '../notation.js';

/** The CLI's conventions (issue 14, item 6): `-` for stdout, refusals in our words, help, colour. */
const dir = mkdtempSync(join(tmpdir(), 'wgtrace-conventions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const capture = join(dir, 'shared.txt');
writeFileSync(capture, compileNotation('cpus 0-1\ncpu0: A B A B A B A B\ncpu1: . . . . . . . .').text);

async function run(args: string[], opts: { async?: boolean } = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, color: false };
  if (opts.async === true) io.write = async (t) => void (out += t);
  const code = await main(args, io);
  return { code, out, err };
}

describe('-o - is stdout', () => {
  it('synth -o - writes the capture to stdout and no file named -', async () => {
    const r = await run(['synth', '-o', '-', '--tunnels', '1', '--cpus', '2', '--seconds', '0.01'], { async: true });
    expect(r.code).toBe(0);
    expect(r.out.startsWith('#@wgtrace-capture 3\n')).toBe(true);
    expect(r.out).toMatch(/\n#@status complete\n$/);
    expect(r.err).toMatch(/^wgtrace: wrote stdout: \d+ lines, 1 tunnels on 2 cores/);
    expect(existsSync('-')).toBe(false);
    // The same capture as the file synth writes with the same options.
    const f = join(dir, 'synth.txt');
    expect((await run(['synth', '-o', f, '--tunnels', '1', '--cpus', '2', '--seconds', '0.01'])).code).toBe(0);
    expect(r.out).toBe(readFileSync(f, 'utf8'));
  });

  it('export --perfetto - and report -o - write to stdout', async () => {
    const e = await run(['export', capture, '--perfetto', '-'], { async: true });
    expect(e.code).toBe(0);
    expect(JSON.parse(e.out)).toHaveProperty('traceEvents');
    const h = await run(['report', capture, '-o', '-'], { async: true });
    expect(h.code).toBe(0);
    expect(h.out.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(h.err).toBe('');
  });

  it('capture -o - refuses (a capture is a file renamed when complete), as capture.sh does', async () => {
    const r = await run(['capture', '-o', '-']);
    expect(r.code).toBe(64);
    expect(r.err).toBe('wgtrace: -o -: a capture goes to a file (written as FILE.partial and renamed when complete), not to stdout; give a file name\n');
    let err = '';
    let status = 0;
    try {
      execFileSync('dash', [join(scriptsDir(), 'capture.sh'), '-o', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      err = String((e as { stderr: Buffer }).stderr);
      status = (e as { status: number }).status;
    }
    expect(status).toBe(64);
    expect(err).toMatch(/^capture.sh: -o -: a capture goes to a file/);
  });
});

describe('standard input once', () => {
  it('diff - - and report - --compare - refuse clearly', async () => {
    const d = await run(['diff', '-', '-']);
    expect(d.code).toBe(64);
    expect(d.err).toBe('wgtrace: diff - -: standard input can be only one of the two captures; give the other as a file\n');
    const r = await run(['report', '-', '--compare', '-']);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/^wgtrace: report - --compare -: standard input can be only one/);
  });
});

describe('messages in our own words', () => {
  const cases: [string[], string][] = [
    [['synth', '-o', join(dir, 'x.txt'), '--tunnels', '0'], 'wgtrace: --tunnels 0: expected an integer from 1 to 1024\n'],
    [['synth', '-o', join(dir, 'x.txt'), '--cpus', 'many'], 'wgtrace: --cpus many: expected an integer from 1 to 1024\n'],
    [['synth', '-o', join(dir, 'x.txt'), '--seconds', '0'], 'wgtrace: --seconds 0: expected a number above 0 up to 600\n'],
    [['synth', '-o', join(dir, 'x.txt'), '--format', 'csv'], 'wgtrace: --format csv: expected bpftrace-text or bpftrace-json\n'],
    [['capture', '--mode', 'x'], 'wgtrace: --mode x: expected events or windows\n'],
    [['capture', '--duration', 'ten'], 'wgtrace: --duration ten: expected an integer from 0 to 86400\n'],
    [['capture', '--netns', 'a/b'], "wgtrace: --netns a/b: expected a network namespace name (letters, digits, '_', '.', '-')\n"],
    [['analyze', capture, '--bogus'], "wgtrace: unknown option '--bogus'\n"],
    [['analyze'], "wgtrace: missing required argument 'capture'\n"],
  ];
  for (const [args, msg] of cases) {
    it(`${args.slice(0, 1).concat(args.slice(-2)).join(' ')}: exit 64, one line`, async () => {
      const r = await run(args);
      expect(r.code).toBe(64);
      expect(r.err).toBe(msg);
    });
  }

  it('a file that cannot be written is named with the reason, not ENOENT text', async () => {
    const missing = join(dir, 'no-such-dir');
    for (const args of [
      ['export', capture, '--perfetto', join(missing, 'x.json')],
      ['report', capture, '-o', join(missing, 'r.html')],
      ['synth', '-o', join(missing, 's.txt'), '--seconds', '0.01', '--tunnels', '1', '--cpus', '2'],
    ]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`wgtrace: ${args.find((a) => a.startsWith(missing))}: cannot write: no such directory\n`);
    }
  });
});

describe('help', () => {
  it('shows no empty or false defaults', async () => {
    for (const c of ['analyze', 'diff', 'timeline', 'export', 'replay', 'synth', 'report', 'capture']) {
      const r = await run([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`Usage: wgtrace ${c}`);
      expect(r.out).not.toMatch(/\(default: (\[\]|false)\)/);
    }
  });
});

describe('NO_COLOR (no-color.org)', () => {
  it('only a non-empty value turns colour off', () => {
    expect(colorAllowed(true, {})).toBe(true);
    expect(colorAllowed(true, { NO_COLOR: '' })).toBe(true);
    expect(colorAllowed(true, { NO_COLOR: '1' })).toBe(false);
    expect(colorAllowed(true, { NO_COLOR: '0' })).toBe(false);
    expect(colorAllowed(false, {})).toBe(false);
  });
});
