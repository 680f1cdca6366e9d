import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { analyzeTimeline } from '../../src/report/analyze.js';
import { packZeros } from '../../src/report/html/page.js';
import { reportSeries } from '../../src/report/html/series.js';
import { loadTimeline } from '../../src/timeline/load.js';
import { compileNotation, timelineFromNotation } from '../notation.js';

const QUICK_START = join(import.meta.dirname, '../../traces/events-softirq-3pairs.txt.gz');
const dir = mkdtempSync(join(tmpdir(), 'wgtrace-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, color: false });
  return { code, out, err };
}

/** Sum over the columns of a per-mille series, back to ns. */
const backToNs = (pm: number[], columnNs: number, durationNs: number): number => pm.reduce((s, v, i) => s + (v / 1000) * Math.max(0, Math.min(columnNs, durationNs - i * columnNs)), 0);

describe('report series (per-core categories and the heat map over time)', () => {
  it('add up to the per-core figures analyze reports, also reduced to fewer columns', async () => {
    const t = await loadTimeline(QUICK_START);
    const a = analyzeTimeline(t, { file: QUICK_START, predict: false });
    for (const max of [10_000, 100]) {
      const s = reportSeries(t, a, max);
      expect(s.columns).toBeLessThanOrEqual(max);
      expect(s.columns * s.windowsPerColumn).toBeGreaterThanOrEqual(t.windowCount);
      expect(s.columnNs).toBe(s.windowsPerColumn * t.windowNs);
      // Per-mille rounding: at most half a per mille of each column, so 0.05% of the capture.
      const tol = 0.0005 * s.durationNs;
      for (const c of a.cpus) {
        const core = s.cores.find((x) => x.cpu === c.cpu)!;
        // No crypt or other work in this capture, so nothing is scaled: NET_RX outside the
        // polls and the polls are analyze's NET_RX time, the polls alone its poll time.
        expect(Math.abs(backToNs(core.values.tunnelPolls!, s.columnNs, s.durationNs) - c.pollBusyNs)).toBeLessThanOrEqual(tol);
        expect(Math.abs(backToNs(core.values.netRx!, s.columnNs, s.durationNs) + backToNs(core.values.tunnelPolls!, s.columnNs, s.durationNs) - c.netRx.busyNs)).toBeLessThanOrEqual(2 * tol);
        // Each heat row is one NAPI's poll time on one core: analyze's per-core figure of that NAPI.
        for (const row of s.heat.filter((h) => h.cpu === c.cpu)) {
          const want = a.napis[row.napi]!.cpus.find((x) => x.cpu === c.cpu)!.busyNs;
          expect(Math.abs(backToNs(row.values, s.columnNs, s.durationNs) - want)).toBeLessThanOrEqual(tol);
        }
      }
      // One row per (NAPI, core) that polled: vb0 and vb2 on both cores, vb1 on both.
      expect(s.heat.map((h) => `${a.napis[h.napi]!.dev}@${h.cpu}`).sort()).toEqual(a.napis.flatMap((n) => n.cpus.filter((c) => c.busyNs > 0).map((c) => `${n.dev}@${c.cpu}`)).sort());
    }
  });

  it('with idle records, draws idle and the untraced rest: every column adds up to the whole core', async () => {
    const t = await loadTimeline(join(import.meta.dirname, '../../traces/synthetic-talk-8x32-stock.txt.gz'), {});
    const a = analyzeTimeline(t, { file: 'x', predict: false });
    const s = reportSeries(t, a, 50);
    expect(s.categories.filter((c) => !c.available).map((c) => c.key)).toEqual([]);
    for (const core of s.cores) {
      for (let i = 0; i < s.columns; i++) {
        const total = Object.values(core.values).reduce((x, v) => x + v[i]!, 0);
        expect(Math.abs(total - 1000), `cpu ${core.cpu} column ${i}`).toBeLessThanOrEqual(8);
      }
      // The busy part (all but idle) over the capture is analyze's coreBusy.
      const cpu = a.cpus.find((c) => c.cpu === core.cpu)!;
      const idle = core.values.idle!.reduce((x, y) => x + y, 0) / s.columns / 1000;
      expect(Math.abs(1 - idle - cpu.coreBusy)).toBeLessThan(0.02);
    }
  });

  it('says which categories the capture has no data for instead of drawing zeros', () => {
    const t = timelineFromNotation('cpus 0-1\nunit 1ms\ncpu0: A A # # . .\ncpu1: ~ ~ B B . .', { windowNs: 1_000_000 });
    const a = analyzeTimeline(t, { file: 'x', predict: false });
    const s = reportSeries(t, a);
    const missing = s.categories.filter((c) => !c.available).map((c) => c.key);
    // analyze tells tunnels from other NAPIs (napis[].role): only idle and untraced are missing here.
    expect(missing).toEqual(['untraced', 'idle']);
    for (const core of s.cores) expect(Object.keys(core.values).sort()).toEqual(['crypt', 'netRx', 'otherNapis', 'otherTraced', 'tunnelPolls']);
    const cpu0 = s.cores.find((c) => c.cpu === 0)!;
    const cpu1 = s.cores.find((c) => c.cpu === 1)!;
    // Column by column, as the notation draws it: polls, polls, crypt, crypt, idle, idle.
    expect(cpu0.values.tunnelPolls!.slice(0, 6)).toEqual([1000, 1000, 0, 0, 0, 0]);
    expect(cpu0.values.crypt!.slice(0, 6)).toEqual([0, 0, 1000, 1000, 0, 0]);
    expect(cpu1.values.netRx!.slice(0, 4)).toEqual([1000, 1000, 0, 0]);
    expect(cpu1.values.tunnelPolls!.slice(0, 4)).toEqual([0, 0, 1000, 1000]);
  });
});

describe('wgtrace report (the page)', () => {
  it('packs runs of zeros in the embedded series (-n for n zeros)', () => {
    expect(packZeros([0, 0, 0, 5, 0, 7, 0, 0])).toEqual([-3, 5, 0, 7, -2]);
    expect(packZeros([])).toEqual([]);
    expect(packZeros([1, 2])).toEqual([1, 2]);
  });

  const hostile = join(dir, 'hostile.txt');
  writeFileSync(hostile, compileNotation('cpus 0-1\ntunnel A dev=<b>wg0</b> napi=0xffff888100001000\ncpu0: A A A A\ncpu1: . . . .').text);

  it('writes one self-contained page: every script and style allowed by its hash, nothing loaded from anywhere', async () => {
    const out = join(dir, 'q.html');
    const r = await run(['report', QUICK_START, '-o', out, '--quiet']);
    expect(r.code, r.err).toBe(0);
    const html = readFileSync(out, 'utf8');
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1]?.replace(/&#39;/g, "'");
    expect(csp).toMatch(/^default-src 'none'; /);
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(3);
    expect(styles).toHaveLength(1);
    for (const s of [...scripts, ...styles]) expect(csp).toContain(`'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`);
    // No element that loads anything: no src, no stylesheet link, no url() in the CSS.
    expect(html).not.toMatch(/<(img|link|iframe|object|embed|audio|video|source)\b/i);
    expect(html).not.toMatch(/\ssrc=/i);
    expect(styles.join('')).not.toMatch(/url\(|@import|@font-face/);
    // The chart library is in the page, with its licence notice.
    expect(html).toContain('uPlot');
    expect(html).toContain('Copyright (c) 2022 Leon Sorokin');
  });

  it('-o - writes the page to stdout; names from the capture are escaped', async () => {
    const r = await run(['report', hostile, '-o', '-', '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^<!DOCTYPE html>/);
    expect(r.out).not.toContain('<b>wg0</b>');
    expect(r.out).toContain('&lt;b&gt;wg0&lt;/b&gt;');
    const json = /<script type="application\/json" id="wgtrace-data">([\s\S]*?)<\/script>/.exec(r.out)![1]!;
    expect(json).not.toContain('<');
    expect((JSON.parse(json) as { runs: { analyze: { napis: { dev: string }[] } }[] }).runs[0]!.analyze.napis[0]!.dev).toBe('<b>wg0</b>');
  });

  it('--compare puts the diff of the two captures in the page', async () => {
    const other = join(dir, 'other.txt');
    writeFileSync(other, compileNotation('cpus 0-1\ncpu0: A A . .\ncpu1: . . A A').text);
    const r = await run(['report', hostile, '--compare', other, '-o', '-', '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('<section id="compare">');
    expect(r.out).toContain(`before: ${hostile}`);
    expect(r.out).toContain(`after: ${other}`);
    const data = JSON.parse(/id="wgtrace-data">([\s\S]*?)<\/script>/.exec(r.out)![1]!) as { runs: unknown[]; diff: { before: { file: string } } };
    expect(data.runs).toHaveLength(2);
    expect(data.diff.before.file).toBe(hostile);
  });

  it('bad input: one line naming the file, exit 2, no page written', async () => {
    const out = join(dir, 'none.html');
    const r = await run(['report', join(dir, 'missing.txt'), '-o', out]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('missing.txt');
    expect(() => readFileSync(out)).toThrow();
  });
});
