import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineDetector, type AnyDetector } from '../../src/detect/finding.js';
import { DETECTORS, DETECTOR_IDS, runDetectors, type Finding, type FindingsOf } from '../../src/detect/registry.js';
import { FindingJson, findingJsonSchema } from '../../src/report/schema.js';
import { timelineFromNotation } from '../notation.js';

/**
 * A new detector is one file plus one line in the registry: this toy one (the polls each core
 * ran) goes through the same `defineDetector` and registry types as the real ones, and the
 * finding union, the ids and the `--json` schema pick it up with nothing else written.
 */
const ToyDetails = z.object({ cpu: z.number().int(), polls: z.number() });
const toy = defineDetector({
  id: 'toy-poll-count',
  title: 'polls per core',
  details: ToyDetails,
  detect({ facts, timeline }) {
    return facts.napis
      .filter((n) => n.polls > 0)
      .map((n) => ({
        id: 'toy-poll-count' as const,
        severity: 'info' as const,
        summary: `${facts.labels[n.index]}: ${n.polls} polls on cpu ${n.homeCpu}`,
        cpus: [n.homeCpu],
        napis: [{ dev: n.dev, napi: n.napi }],
        fromNs: timeline.capture.startNs,
        toNs: timeline.capture.endNs,
        evidence: [],
        costEstimate: { share: 0, basis: 'toy' },
        lossy: false,
        details: { cpu: n.homeCpu, polls: n.polls },
      }));
  },
});
const REGISTRY = [...DETECTORS, toy] as const satisfies readonly AnyDetector[];

const W = { windowNs: 4_000_000 };

describe('detector registry', () => {
  it('derives the finding union from the registry: a registered detector adds its id and details type', () => {
    type F = FindingsOf<typeof REGISTRY>;
    expectTypeOf<Extract<F, { id: 'toy-poll-count' }>['details']>().toEqualTypeOf<{ cpu: number; polls: number }>();
    expectTypeOf<Exclude<F, { id: 'toy-poll-count' }>>().toEqualTypeOf<Finding>();
    expectTypeOf<Extract<Finding, { id: 'toy-poll-count' }>>().toBeNever();
  });

  it('runs a registered detector beside the others', () => {
    const tl = timelineFromNotation('cpu0: A A A B\ncpu1: . C C .', W);
    const { findings } = runDetectors(tl, { detectors: REGISTRY });
    const toys = findings.filter((f) => (f.id as string) === 'toy-poll-count');
    // Counted by hand from the notation: A polled 3 times and B once on cpu0, C twice on cpu1.
    expect(toys.map((f) => f.details)).toEqual([
      { cpu: 0, polls: 3 },
      { cpu: 0, polls: 1 },
      { cpu: 1, polls: 2 },
    ]);
    expect(findings.length).toBeGreaterThan(toys.length);
  });

  it('derives the --json schema from the registry, one member per detector in its order', () => {
    type Member = { properties: { id: { const: string } } };
    const ids = (schema: z.ZodType): string[] => {
      const j = z.toJSONSchema(schema) as unknown as { oneOf?: Member[]; anyOf?: Member[] };
      return (j.oneOf ?? j.anyOf ?? []).map((o) => o.properties.id.const);
    };
    expect(ids(FindingJson)).toEqual([...DETECTOR_IDS]);
    expect(DETECTOR_IDS).toEqual(DETECTORS.map((d) => d.id));
    expect(ids(findingJsonSchema(REGISTRY))).toEqual([...DETECTOR_IDS, 'toy-poll-count']);
  });

  it("validates a registered detector's details in --json by its own schema", () => {
    const schema = findingJsonSchema(REGISTRY);
    const json = {
      id: 'toy-poll-count',
      severity: 'info',
      summary: 'cpu 0: 4 polls',
      cpus: [0],
      napis: [],
      fromNs: '0',
      toNs: '16000000',
      fromOffsetNs: 0,
      toOffsetNs: 16_000_000,
      evidence: [],
      costEstimate: { share: 0, basis: 'toy' },
      lossy: false,
      details: { cpu: 0, polls: 4 },
    };
    expect(schema.safeParse(json).success).toBe(true);
    expect(schema.safeParse({ ...json, details: { cpu: 0.5, polls: 4 } }).success).toBe(false);
    // The registry's own schema does not know the toy id.
    expect(FindingJson.safeParse(json).success).toBe(false);
  });
});
