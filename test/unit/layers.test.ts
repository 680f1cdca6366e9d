import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// Layers only point down (Perfetto's python/tools/check_imports.py):
// base <- model <- import <- timeline <- detect / replay <- report <- capture <- cli.
const RANK: Record<string, number> = {
  base: 0,
  model: 1,
  import: 2,
  timeline: 3,
  detect: 4,
  replay: 4,
  synth: 5,
  report: 6,
  capture: 6,
  cli: 7,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layering', () => {
  it('no module imports a higher layer', () => {
    const src = join(import.meta.dirname, '../../src');
    const bad: string[] = [];
    for (const f of files(src)) {
      const layer = relative(src, f).split('/')[0]!;
      const rank = RANK[layer];
      expect(rank, `unknown layer ${layer} for ${f}`).toBeDefined();
      for (const m of readFileSync(f, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g)) {
        const target = relative(src, join(f, '..', m[1]!)).split('/')[0]!;
        const trank = RANK[target];
        if (trank !== undefined && trank > rank! && !(layer === 'detect' && target === 'replay')) {
          bad.push(`${relative(src, f)} imports ${m[1]}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });
});
