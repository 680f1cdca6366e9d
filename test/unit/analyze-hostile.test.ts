import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { AnalyzeResult } from '../../src/report/schema.js';

/**
 * Every fixture under test/fixtures (the importers' format quirks and hostile inputs): analyze
 * either analyses it (exit 0, schema-valid JSON) or refuses it as input (exit 2, one line on
 * stderr). Never an internal error (70) and never a stack trace.
 */
const ROOT = join(import.meta.dirname, '../fixtures');
// main() adds a stdout 'error' listener per call (for EPIPE); a CLI calls it once, these tests many times.
const files = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)]));

describe('analyze on every fixture', () => {
  const all = files(ROOT)
    .filter((f) => !f.endsWith('.md') && !f.endsWith('expect.json'))
    .sort();
  it('has fixtures', () => expect(all.length).toBeGreaterThan(0));
  for (const f of all) {
    it(relative(ROOT, f), async () => {
      let out = '';
      let err = '';
      const code = await main(['analyze', f, '--json', '--no-predict'], { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, color: false });
      expect([0, 2]).toContain(code);
      expect(err).not.toMatch(/\n\s+at |internal error/);
      if (code === 0) expect(AnalyzeResult.safeParse(JSON.parse(out)).success).toBe(true);
      else expect(err.trim().split('\n')).toHaveLength(1);
    });
  }
});
