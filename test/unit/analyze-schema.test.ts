import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AnalyzeResult, DiffResult } from '../../src/report/schema.js';
import { ReplayJson } from '../../src/report/replay-schema.js';
import { TimelineViewResult } from '../../src/report/timeline-view.js';
import { analyzeTimeline } from '../../src/report/analyze.js';
import { diffResults } from '../../src/report/diff.js';
import { timelineFromNotation } from '../notation.js';

/**
 * docs/analyze.schema.json, diff.schema.json, replay.schema.json and timeline.schema.json are
 * generated from the zod schemas
 * (z.toJSONSchema). `npm run schema` (UPDATE_SCHEMA=1) rewrites them; this test fails when
 * they are stale, so the published schema never drifts from what --json prints.
 */
const DOCS = join(import.meta.dirname, '../../docs');
const UPDATE = process.env['UPDATE_SCHEMA'] === '1' || process.env['UPDATE_GOLDEN'] === '1';

function exported(schema: z.ZodType, id: string, title: string): string {
  const js = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>;
  return JSON.stringify({ $id: id, title, ...js }, null, 2) + '\n';
}

describe('JSON Schema of --json outputs', () => {
  for (const [file, schema, title] of [
    ['analyze.schema.json', AnalyzeResult, 'wgtrace analyze --json'],
    ['diff.schema.json', DiffResult, 'wgtrace diff --json'],
    ['replay.schema.json', ReplayJson, 'wgtrace replay --json'],
    ['timeline.schema.json', TimelineViewResult, 'wgtrace timeline --json'],
  ] as const) {
    it(`docs/${file} is up to date`, () => {
      const text = exported(schema, `https://wgtrace.invalid/${file}`, title);
      const path = join(DOCS, file);
      if (UPDATE) writeFileSync(path, text);
      expect(existsSync(path), `docs/${file} missing: npm run schema`).toBe(true);
      expect(readFileSync(path, 'utf8'), `docs/${file} is stale: npm run schema`).toBe(text);
    });
  }

  it('the result of a real analysis validates, and keeps boot-time bounds exact past 2^53', () => {
    // 200 days of uptime: the origin is past 2^53 ns.
    const t = timelineFromNotation('origin 17280000123456789\ncpus 0-1\ncpu0: A B A B A B A B', { windowNs: 4_000_000 });
    const r = analyzeTimeline(t, { file: 'x', predict: false });
    const parsed = AnalyzeResult.parse(JSON.parse(JSON.stringify(r)));
    expect(parsed.capture.startNs).toBe('17280000123456789');
    expect(parsed.capture.endNs).toBe('17280000131456789');
    expect(parsed.findings.map((f) => f.id)).toEqual(['co-location', 'core-imbalance', 'napi-placement']);
    const co = parsed.findings[0]!;
    // From B's first poll (1 ms) to A's last poll's end (7 ms): when both occupied cpu0.
    expect([co.fromNs, co.toNs]).toEqual(['17280000124456789', '17280000130456789']);
    expect(parsed.napis.every((n) => /^0x[0-9a-f]{16}$/.test(n.napi))).toBe(true);
    expect(parsed.cpus.map((c) => c.utilization)).toEqual([1, 0]);
  });

  it('rejects a result that breaks the contract (utilization above 1, a numeric bound)', () => {
    const t = timelineFromNotation('cpu0: A A', { windowNs: 4_000_000 });
    const r = analyzeTimeline(t, { file: 'x', predict: false });
    expect(AnalyzeResult.safeParse({ ...r, cpus: [{ ...r.cpus[0]!, utilization: 1.5 }] }).success).toBe(false);
    expect(AnalyzeResult.safeParse({ ...r, capture: { ...r.capture, startNs: 5 } }).success).toBe(false);
  });

  it('a diff of two analyses validates', () => {
    const a = analyzeTimeline(timelineFromNotation('cpu0: A B A B A B A B', { windowNs: 2_000_000 }), { file: 'a', predict: false });
    const b = analyzeTimeline(timelineFromNotation('tunnel A threaded=1\ntunnel B threaded=1\ncpu0: At At At At\ncpu1: Bt Bt Bt Bt', { windowNs: 2_000_000 }), { file: 'b', predict: false });
    const d = DiffResult.parse(diffResults(a, b));
    expect(d.findings.gone.map((f) => f.key)).toContain('co-location cpu 0 wg0,wg1');
    expect(d.napis.map((n) => [n.dev, n.modeBefore, n.modeAfter, n.homeCpu.after])).toEqual([
      ['wg0', 'softirq', 'threaded', 0],
      ['wg1', 'softirq', 'threaded', 1],
    ]);
  });
});
