import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareFindings, runDetectors } from '../../src/detect/registry.js';
import { analyzeTimeline } from '../../src/report/analyze.js';
import { AnalyzeResult } from '../../src/report/schema.js';
import { timelineFromNotation } from '../notation.js';

/**
 * On arbitrary small timelines written in the notation: no detector throws, the result
 * validates against the --json schema, findings come ranked, and each finding keeps its own
 * contract (a co-location group has two or more tunnels on one core, shares are shares).
 */
const token = fc.constantFrom('.', '.', 'A', 'B', 'C', 'a', 'b', 'Ak', 'Bk', 'At', 'Ct', 'A+B', 'B+C', '~', '#');
const grid = fc.array(fc.array(token, { minLength: 1, maxLength: 24 }), { minLength: 1, maxLength: 4 });

function source(rows: string[][], header: boolean, lost: number): string {
  const lines = rows.map((r, cpu) => `cpu${cpu}: ${r.join(' ')}`);
  if (!header) lines.unshift('noheader');
  if (lost > 0) lines.unshift(`lost ${lost}`);
  return lines.join('\n');
}

describe('detectors on arbitrary timelines', () => {
  it("never fail, validate, rank, and keep each finding's contract", () => {
    fc.assert(
      fc.property(grid, fc.boolean(), fc.nat(50), fc.constantFrom(1_000_000, 2_000_000, 4_000_000), (rows, header, lost, windowNs) => {
        const t = timelineFromNotation(source(rows, header, lost), { windowNs });
        const { findings } = runDetectors(t);
        for (const f of findings) {
          if (f.id === 'data-quality') expect(f.details.failedDetectors).toEqual([]);
          expect(f.costEstimate.share).toBeGreaterThanOrEqual(0);
          expect(f.costEstimate.share).toBeLessThanOrEqual(1);
          expect(f.toNs).toBeGreaterThanOrEqual(f.fromNs);
          if (f.id === 'co-location') {
            expect(f.cpus).toHaveLength(1);
            expect(f.napis.length).toBeGreaterThanOrEqual(2);
            expect(f.details.coreShare).toBeLessThanOrEqual(1 + 1e-9);
          }
          if (f.id === 'monolithic-poll') expect(f.details.napis.every((n) => f.cpus.includes(n.cpu))).toBe(true);
          if (lost > 0 && f.id !== 'data-quality') expect(f.lossy).toBe(true);
        }
        for (let i = 1; i < findings.length; i++) expect(compareFindings(findings[i - 1]!, findings[i]!)).toBeLessThanOrEqual(0);
        expect(AnalyzeResult.safeParse(JSON.parse(JSON.stringify(analyzeTimeline(t, { file: 'x', predict: false })))).success).toBe(true);
      }),
      { numRuns: 150, seed: 4 },
    );
  });
});
