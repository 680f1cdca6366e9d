import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
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
        if (trank !== undefined && trank > rank!) {
          bad.push(`${relative(src, f)} imports ${m[1]}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('no import cycle between modules (type-only imports included)', () => {
    const src = join(import.meta.dirname, '../../src');
    const deps = new Map<string, string[]>();
    for (const f of files(src)) {
      deps.set(
        f,
        [...readFileSync(f, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g)].map((m) => resolve(dirname(f), m[1]!.replace(/\.js$/, '.ts'))),
      );
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of deps.get(f) ?? []) {
        if (!deps.has(d)) continue;
        if (state.get(d) === 'open')
          cycles.push(
            stack
              .slice(stack.indexOf(d))
              .map((x) => relative(src, x))
              .join(' -> '),
          );
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of deps.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
