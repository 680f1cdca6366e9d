import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIO } from '../../src/cli/io.js';
import { ReplayJson } from '../../src/report/replay-schema.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-replay-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cap = join(dir, 'g.txt.gz');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, color: false };
  const code = await main(args, io);
  return { code, out, err };
}

beforeAll(async () => {
  const r = await run(['synth', '--tunnels', '3', '--cpus', '6', '--seconds', '0.3', '--seed', '2', '-o', cap]);
  expect(r.code).toBe(0);
  expect(r.err).toMatch(/wrote .*3 tunnels on 6 cores, stock model/);
});

describe('wgtrace synth', () => {
  it('writes the file (gzip by name) and refuses bad options with exit 64', async () => {
    expect(existsSync(cap)).toBe(true);
    expect(existsSync(`${cap}.partial`)).toBe(false);
    expect((await run(['synth', '--tunnels', 'abc', '-o', join(dir, 'x.txt')])).code).toBe(64);
    expect((await run(['synth', '--format', 'perf', '-o', join(dir, 'x.txt')])).code).toBe(64);
    expect(existsSync(join(dir, 'x.txt'))).toBe(false);
  });
});

describe('wgtrace replay', () => {
  it('--json matches the versioned schema and is deterministic for a seed', async () => {
    const a = await run(['replay', cap, '--json', '--runs', '8', '--seed', '4', '--horizon', '200']);
    expect(a.code).toBe(0);
    const j = ReplayJson.parse(JSON.parse(a.out));
    expect(j.version).toBe(2);
    expect(j.models.map((m) => m.model)).toEqual(['stock', 'threaded', 'inline']);
    expect(j.monteCarlo).toMatchObject({ runs: 8, seed: 4 });
    expect(j.measured.tunnels).toHaveLength(3);
    expect(j.calibrationError.perCpu).toHaveLength(6);
    const b = await run(['replay', cap, '--json', '--runs', '8', '--seed', '4', '--horizon', '200']);
    expect(b.out).toBe(a.out);
  });

  it('text: the table, per-core columns and one verdict per requested model', async () => {
    const r = await run(['replay', cap, '--model', 'stock,threaded', '--runs', '4', '--horizon', '100']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^measured +[\d,]+/m);
    expect(r.out).toMatch(/^ {2}stock +[-+]\d+% vs measured/m);
    expect(r.out).toMatch(/^ {2}threaded +[-+]\d+% vs measured/m);
    expect(r.out).not.toMatch(/^ {2}inline/m);
    expect(r.out).toMatch(/calibration: .* points on average/);
    expect(r.out).toMatch(/^measured {2}\|.{6}\|$/m);
  });

  it('a change that rounds to zero reads +0%, never -0%', async () => {
    // The hand-worked veth capture: with these factors threaded carries 9,950 of the 10,000
    // packets/s measured (-0.5%), which toFixed(0) printed as "-0%".
    const r = await run(['replay', join(import.meta.dirname, '../fixtures/replay/veth-1ms.txt'), '--model', 'stock,threaded', '--thread-poll-factor', '2.1', '--thread-wake-factor', '1.5']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ {2}threaded +\+0% vs measured/m);
    expect(r.out).not.toMatch(/-0%/);
    expect(r.out).toMatch(/threadWakeFactor 1\.5 \(1\.5\.\.1\.5\) .*; option: vethThreadWakeFactor/);
  });

  it('refuses a factor out of range in one line', async () => {
    const r = await run(['replay', join(import.meta.dirname, '../fixtures/replay/veth-1ms.txt'), '--thread-poll-factor', '0']);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--thread-poll-factor/);
    const busy = await run(['replay', join(import.meta.dirname, '../fixtures/replay/veth-1ms.txt'), '--thread-wake-busy', '1.5']);
    expect(busy.code).toBe(64);
    expect(busy.err.trim().split('\n')).toHaveLength(1);
    expect(busy.err).toMatch(/--thread-wake-busy 1\.5: expected a number from 0 to 1/);
  });

  it('--thread-wake-busy: the share of the wake-up that is work, shown as an option', async () => {
    const r = await run(['replay', join(import.meta.dirname, '../fixtures/replay/veth-1ms.txt'), '--model', 'threaded', '--thread-wake-busy', '0.25']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/threadWakeBusyShare 0\.25 \(0\.25\.\.0\.25\) .*; option: vethThreadWakeBusyShare/);
  });

  it('--inline-gain scales the Inline prediction', async () => {
    const base = ReplayJson.parse(JSON.parse((await run(['replay', cap, '--json', '--model', 'inline', '--runs', '2', '--inline-gain', '1'])).out));
    const twice = ReplayJson.parse(JSON.parse((await run(['replay', cap, '--json', '--model', 'inline', '--runs', '2', '--inline-gain', '2'])).out));
    // Elastic tunnels on their own RSS cores: throughput is proportional to the gain.
    expect(twice.models[0]!.throughputPps / base.models[0]!.throughputPps).toBeCloseTo(2, 6);
    expect(twice.options.inlineLocalityGain).toBe(2);
  });

  it('bad options exit 64 with one line; a missing file exits 2', async () => {
    for (const args of [
      ['--runs', '0'],
      ['--model', 'warp'],
      ['--seed', '-1'],
      ['--demand', 'some'],
      ['--inline-gain', '0'],
      ['--threaded-overhead', 'x'],
      ['--utilization', 'top'],
    ]) {
      const r = await run(['replay', cap, ...args]);
      expect(r.code, args.join(' ')).toBe(64);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    const m = await run(['replay', join(dir, 'nope.txt')]);
    expect(m.code).toBe(2);
    expect(m.err).not.toMatch(/\n\s+at /);
  });
});
