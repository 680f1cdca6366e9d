import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import fc from 'fast-check';
import { JsonStreamError, writeJson } from '../../src/report/json-stream.js';
import { AnalyzeResult } from '../../src/report/schema.js';
import { analyzeTimeline } from '../../src/report/analyze.js';
import { loadTimeline } from '../../src/timeline/load.js';

/**
 * json-stream.ts writes `--json` piece by piece; what it writes must be, byte for byte,
 * JSON.stringify(schema.parse(value), null, 2) + '\n' (what analyze printed before), and a value
 * that fails the schema must still fail.
 */
async function streamed(schema: z.ZodType, value: unknown, sink?: (s: string) => void): Promise<string> {
  let out = '';
  await writeJson(schema, value, (s) => {
    out += s;
    sink?.(s);
  });
  return out;
}
const whole = (schema: z.ZodType, value: unknown): string => JSON.stringify(schema.parse(value), null, 2) + '\n';

const Item = z.object({ a: z.number(), b: z.string().optional(), ref: z.object({ dev: z.string(), napi: z.string() }) });
const Tagged = z.discriminatedUnion('id', [
  z.object({ id: z.literal('x'), xs: z.array(Item), note: z.string().optional() }),
  z.object({ id: z.literal('y'), ys: z.array(z.array(z.number())), nested: z.object({ deep: z.array(Item) }) }),
]);
const Doc = z.object({
  version: z.literal(2),
  name: z.string(),
  maybe: z.number().optional(),
  empty: z.array(z.number()),
  emptyObj: z.object({ only: z.string().optional() }),
  items: z.array(Item),
  tagged: z.array(Tagged),
  record: z.record(z.string(), z.number()),
});

describe('writeJson', () => {
  it('writes what JSON.stringify of the parsed value writes: field order, optional fields, empty lists, unions, unknown keys', async () => {
    const v = {
      // Out of the schema's order, with a key the schema strips and an optional field present as undefined.
      items: [
        { ref: { napi: '0x1', dev: 'wg0', extra: 1 }, a: 1.5, b: undefined },
        { a: -0, ref: { dev: 'a"b\nc', napi: 'é' }, b: 'x' },
      ],
      name: 'n',
      version: 2,
      stray: [1, 2, 3],
      maybe: undefined,
      empty: [],
      emptyObj: { only: undefined },
      tagged: [
        { id: 'y', ys: [[], [1, 2]], nested: { deep: [] } },
        { id: 'x', xs: [{ a: 1e21, ref: { dev: 'd', napi: 'n' } }], note: 'k' },
      ],
      record: { b: 1, a: 2, '10': 3 },
    };
    expect(await streamed(Doc, v)).toBe(whole(Doc, v));
  });

  it('matches on random values of the schema, in pieces no larger than needed', async () => {
    const item = fc.record({ a: fc.double({ noNaN: true, noDefaultInfinity: true }), b: fc.option(fc.string(), { nil: undefined }), ref: fc.record({ dev: fc.string(), napi: fc.string() }) });
    await fc.assert(
      fc.asyncProperty(fc.array(item, { maxLength: 700 }), fc.array(fc.array(fc.integer()), { maxLength: 5 }), async (items, ys) => {
        const v = { version: 2, name: 'r', empty: [], emptyObj: {}, items, tagged: [{ id: 'y', ys, nested: { deep: items.slice(0, 3) } }], record: {} };
        expect(await streamed(Doc, v)).toBe(whole(Doc, v));
      }),
      { numRuns: 40 },
    );
  });

  it('never hands the sink the whole of a long list at once', async () => {
    const items = Array.from({ length: 20_000 }, (_, i) => ({ a: i, ref: { dev: `wg${i}`, napi: `0x${i.toString(16)}` } }));
    const v = { version: 2, name: 'big', empty: [], emptyObj: {}, items, tagged: [], record: {} };
    let largest = 0;
    const text = await streamed(Doc, v, (s) => void (largest = Math.max(largest, s.length)));
    expect(text).toBe(whole(Doc, v));
    expect(text.length).toBeGreaterThan(2_000_000);
    expect(largest).toBeLessThan(200_000);
  });

  it('fails where the schema fails, naming the path', async () => {
    const v = {
      version: 2,
      name: 'n',
      empty: [],
      emptyObj: {},
      items: [
        { a: 1, ref: { dev: 'd', napi: 'n' } },
        { a: 'two', ref: { dev: 'd', napi: 'n' } },
      ],
      tagged: [],
      record: {},
    };
    expect(() => Doc.parse(v)).toThrow();
    await expect(streamed(Doc, v)).rejects.toThrow(JsonStreamError);
    await expect(streamed(Doc, v)).rejects.toThrow(/items\[0\.\.1\]/);
    await expect(streamed(Doc, { ...v, items: [], tagged: [{ id: 'z' }] })).rejects.toThrow(/tagged\[0\]/);
    await expect(streamed(Doc, { ...v, items: [], name: undefined })).rejects.toThrow(/at name/);
  });

  it('writes an analysis of a real capture as JSON.stringify of AnalyzeResult.parse does', async () => {
    const file = join(import.meta.dirname, '../../traces/synthetic-talk-8x32-stock.txt.gz');
    const t = await loadTimeline(file);
    const r = analyzeTimeline(t, { file: 'talk', predict: false });
    expect(await streamed(AnalyzeResult, r)).toBe(whole(AnalyzeResult, r));
  });
});
