import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { AnalyzeResult, DiffResult } from '../../src/report/schema.js';
import { compileNotation } from '../notation.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-analyze-'));
// main() adds a stdout 'error' listener per call (for EPIPE); a CLI calls it once, these tests many times.
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(name: string, src: string): string {
  const p = join(dir, name);
  writeFileSync(p, compileNotation(src).text);
  return p;
}

async function run(args: string[], color = false): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, color });
  return { code, out, err };
}

const shared = capture('shared.txt', 'cpus 0-1\ncpu0: A B A B A B A B\ncpu1: . . . . . . . .');
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[/;

describe('wgtrace analyze', () => {
  it('exits 0 with findings, and --json prints the schema-valid result', async () => {
    const r = await run(['analyze', shared, '--json', '--window', '4', '--no-predict']);
    expect(r.code).toBe(0);
    const j = AnalyzeResult.parse(JSON.parse(r.out));
    expect(j.findings[0]!.id).toBe('co-location');
    expect(j.capture.windowNs).toBe(4_000_000);
  });

  it('reads gzip input the same way', async () => {
    const gz = join(dir, 'shared.txt.gz');
    writeFileSync(gz, gzipSync(compileNotation('cpus 0-1\ncpu0: A B A B A B A B\ncpu1: . . . . . . . .').text));
    const a = JSON.parse((await run(['analyze', shared, '--json', '--no-predict'])).out) as AnalyzeResult;
    const b = JSON.parse((await run(['analyze', gz, '--json', '--no-predict'])).out) as AnalyzeResult;
    expect({ ...b, file: a.file }).toEqual(a);
  });

  it('colour only when the IO allows it (TTY and no NO_COLOR), never in --json', async () => {
    expect((await run(['analyze', shared, '--no-predict'])).out).not.toMatch(ANSI);
    expect((await run(['analyze', shared, '--no-predict'], true)).out).toMatch(ANSI);
    expect((await run(['analyze', shared, '--json', '--no-predict'], true)).out).not.toMatch(ANSI);
  });

  it('--quiet prints only the findings', async () => {
    const r = await run(['analyze', shared, '--quiet', '--no-predict']);
    expect(r.out.startsWith('Findings, ranked by the throughput they cost')).toBe(true);
    expect(r.out).not.toMatch(/CPU % per core/);
  });

  it('--tunnels names the tunnel devices: the others are other NAPIs, in no finding', async () => {
    const r = JSON.parse((await run(['analyze', shared, '--json', '--no-predict', '--tunnels', 'wg1'])).out) as AnalyzeResult;
    expect(r.napis.map((n) => [n.dev, n.role])).toEqual([
      ['wg0', 'tunnel'],
      ['wg1', 'tunnel'],
    ]); // kind=wireguard in the header: WireGuard is a tunnel whatever --tunnels says
    const veth = capture('veth.txt', 'cpus 0-1\ntunnel A kind=veth\ntunnel B kind=veth\ncpu0: A B A B A B A B');
    const v = JSON.parse((await run(['analyze', veth, '--json', '--no-predict', '--tunnels', 'wg1'])).out) as AnalyzeResult;
    expect(v.napis.map((n) => [n.dev, n.role, n.roleReason])).toEqual([
      ['wg0', 'other', 'does not match --tunnels'],
      ['wg1', 'tunnel', 'matches --tunnels'],
    ]);
    expect(v.findings.some((f) => f.id === 'co-location')).toBe(false);
    expect(v.cpus[0]!.otherNapiPollBusyNs).toBeGreaterThan(0);
  });

  it('--threshold overrides a detector threshold; a bad one is a usage error (64) naming it', async () => {
    const off = await run(['analyze', shared, '--json', '--no-predict', '--threshold', 'colocation-min-ns=100000000000']);
    expect((JSON.parse(off.out) as AnalyzeResult).findings.some((f) => f.id === 'co-location')).toBe(false);
    const bad = await run(['analyze', shared, '--threshold', 'colocation-min-share=2']);
    expect(bad.code).toBe(64);
    expect(bad.err).toMatch(/^wgtrace: --threshold colocation-min-share: /);
    const unknown = await run(['analyze', shared, '--threshold', 'nope=1']);
    expect([unknown.code, unknown.err]).toEqual([64, expect.stringMatching(/unknown threshold nope/)]);
    expect((await run(['analyze', shared, '--window', '0'])).code).toBe(64);
    expect((await run(['analyze', shared, '--format', 'xml'])).code).toBe(64);
  });

  it('input that cannot be analysed: one line naming the file, exit 2, no stack', async () => {
    const missing = await run(['analyze', join(dir, 'nope.txt')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.txt: cannot read capture: no such file/);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    const junk = join(dir, 'junk.txt');
    writeFileSync(junk, 'hello\nworld\n');
    const j = await run(['analyze', junk]);
    expect(j.code).toBe(2);
    expect(j.err).not.toMatch(/\n\s+at /);
  });

  it('--strict fails on the first malformed line; without it the line is skipped and counted', async () => {
    const p = capture('skipped.txt', 'skipped 1\ncpu0: A A A A');
    const lax = await run(['analyze', p, '--json', '--no-predict']);
    expect(lax.code).toBe(0);
    expect((JSON.parse(lax.out) as AnalyzeResult).capture.skippedLines).toBe(1);
    const strict = await run(['analyze', p, '--strict']);
    expect(strict.code).toBe(2);
    expect(strict.err).toMatch(/skipped\.txt:\d+: /);
  });
});

describe('wgtrace diff', () => {
  it('before/after threaded NAPI: the co-location went, the tunnels run in threads', async () => {
    const after = capture('after.txt', 'cpus 0-1\ntunnel A threaded=1\ntunnel B threaded=1\ncpu0: At At At At At At At At\ncpu1: Bt Bt Bt Bt Bt Bt Bt Bt');
    const r = await run(['diff', shared, after, '--json', '--window', '4']);
    expect(r.code).toBe(0);
    const d = DiffResult.parse(JSON.parse(r.out));
    expect(d.findings.gone.map((f) => f.id)).toContain('co-location');
    expect(d.totals.coresWithPolls).toEqual({ before: 1, after: 2, delta: 1 });
    expect(d.totals.packetsPerSec.after).toBeCloseTo(2 * d.totals.packetsPerSec.before, 6);
    const text = await run(['diff', shared, after, '--window', '4']);
    expect(text.out).toMatch(/- gone {6}\[critical\] co-location cpu 0 wg0,wg1/);
  });
});
