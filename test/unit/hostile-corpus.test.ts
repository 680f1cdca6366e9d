import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/base/diagnostics.js';
import { importCapture } from '../../src/import/index.js';
import type { FormatName } from '../../src/import/types.js';

/** test/fixtures/bad/: one quirk per file; expect.json says what each must produce. */
const BAD = join(import.meta.dirname, '../fixtures/bad');

interface Expect {
  format?: FormatName;
  codes?: string[];
  events?: number;
  strictLine?: number | null;
  error?: string;
}

const expectations = JSON.parse(readFileSync(join(BAD, 'expect.json'), 'utf8')) as Record<string, Expect>;

describe('bad-input corpus', () => {
  it('every file in the corpus has an expectation, and every expectation a file', () => {
    const files = readdirSync(BAD)
      .filter((f) => f !== 'expect.json')
      .sort();
    expect(files).toEqual(
      Object.keys(expectations)
        .filter((k) => !k.startsWith('_'))
        .sort(),
    );
  });

  for (const [file, exp] of Object.entries(expectations)) {
    if (file.startsWith('_')) continue;
    const path = join(BAD, file);
    const base = exp.format ? { format: exp.format } : {};
    it(`${file}: ${exp.error ? `fails with "${exp.error}"` : (exp.codes ?? []).join(', ') || 'no diagnostic'}`, async () => {
      let events = 0;
      const run = importCapture(path, { ...base, onEvents: (b) => (events += b.length) });
      if (exp.error !== undefined) {
        const err = await run.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InputError);
        expect((err as InputError).oneLine()).toContain(path);
        expect((err as InputError).oneLine()).toContain(exp.error);
        return;
      }
      const { summary, diagnostics } = await run;
      expect([...diagnostics.counts.keys()].sort()).toEqual([...(exp.codes ?? [])].sort());
      expect(events).toBe(exp.events);
      expect(summary.events).toBe(exp.events);
      // Every line-level diagnostic names the file and a line.
      for (const d of diagnostics.items) {
        expect(d.file).toBe(path);
        // eslint-disable-next-line no-control-regex
        expect(d.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      }
      const strict = await importCapture(path, { ...base, strict: true, onEvents: () => {} }).then(
        () => 'passed',
        (e: unknown) => e,
      );
      if (exp.strictLine === undefined) {
        expect(strict).toBe('passed');
      } else {
        expect(strict).toBeInstanceOf(InputError);
        expect((strict as InputError).file).toBe(path);
        expect((strict as InputError).line).toBe(exp.strictLine ?? undefined);
      }
    });
  }
});
