import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runDetectors } from '../../src/detect/registry.js';
import { writeSynthCapture, type Plant } from '../../src/synth/writer.js';
import { loadTimeline } from '../../src/timeline/load.js';

/**
 * The shipped talk scenario (traces/synthetic-talk-8x32-stock.txt.gz, command in
 * traces/README.md): the generator is re-run with the same options, its bytes must equal the
 * shipped file (so the file is current), and `analyze`'s co-location detector must find, on
 * the shipped file, every co-location the generator planted, and none it did not. The truth
 * comes from the generator's plant, never from the analyzer.
 */
const TRACE = new URL('../../traces/synthetic-talk-8x32-stock.txt.gz', import.meta.url);
/** A planted co-location counts when the same core held 2+ of the tunnels' polls this long in total (5 windows of 10 ms). */
const PLANTED_MIN_NS = 50_000_000;

describe('traces/synthetic-talk-8x32-stock.txt.gz', () => {
  it('is what the generator writes, and analyze finds the co-locations it planted', async () => {
    const hash = createHash('sha256');
    const plant: Plant = await writeSynthCapture({ tunnels: 8, cpus: 32, seconds: 2, seed: 1 }, (c) => void hash.update(c));
    expect(
      createHash('sha256')
        .update(gunzipSync(readFileSync(TRACE)))
        .digest('hex'),
    ).toBe(hash.digest('hex'));

    // Per core, the tunnels the plant kept together on it for at least PLANTED_MIN_NS.
    const together = new Map<number, Map<string, number>>();
    for (const c of plant.colocations) {
      const m = together.get(c.cpu) ?? new Map<string, number>();
      for (const d of c.devs) m.set(d, (m.get(d) ?? 0) + (c.toNs - c.fromNs));
      together.set(c.cpu, m);
    }
    const planted = new Map<number, Set<string>>();
    for (const [cpu, m] of together) {
      const devs = [...m].filter(([, ns]) => ns >= PLANTED_MIN_NS).map(([d]) => d);
      if (devs.length >= 2) planted.set(cpu, new Set(devs));
    }
    // The talk's black hole: every poll converged onto one core, which the plant names.
    expect(plant.finalPollCores).toHaveLength(1);
    expect(planted.get(plant.finalPollCores[0]!)?.size).toBe(8);

    const tl = await loadTimeline(TRACE.pathname);
    const found = runDetectors(tl).findings.filter((f) => f.id === 'co-location');
    for (const [cpu, devs] of planted) {
      const f = found.find((x) => x.cpus.includes(cpu));
      expect(f, `co-location on cpu ${cpu}`).toBeDefined();
      const members = new Set(f!.napis.map((n) => n.dev));
      for (const d of devs) expect(members.has(d), `${d} on cpu ${cpu}`).toBe(true);
    }
    // No co-location where the generator never put two polls together.
    for (const f of found) for (const cpu of f.cpus) expect(together.has(cpu), `unplanted co-location on cpu ${cpu}`).toBe(true);
  });
});
