import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDetectors } from '../../src/detect/registry.js';
import { LIST_LIMIT } from '../../src/detect/longest.js';
import { writeSynthFile } from '../../src/synth/file.js';
import { loadTimeline } from '../../src/timeline/load.js';

/**
 * longest.ts in the detectors: 110 stock tunnels on 2 cores (the generator puts them on one
 * core: 11,990 ordered pairs, 109 NAPIs behind each chain), more than LIST_LIMIT. The lists keep
 * the longest, the left-out totals make up the rest exactly (against the timeline's own waits,
 * read independently here), and an evidence line says so.
 */
describe('evidence lists past LIST_LIMIT', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgtrace-limit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keep the longest and count the rest in co-location and monolithic-poll', async () => {
    const file = join(dir, 'c.txt');
    await writeSynthFile(file, { tunnels: 110, cpus: 2, seconds: 0.5, threaded: false });
    const t = await loadTimeline(file);
    const { findings, facts } = runDetectors(t);
    const col = findings.filter((f) => f.id === 'co-location');
    const cut = col.filter((f) => f.details.waitsLeftOut !== undefined);
    expect(cut.length).toBeGreaterThan(0);
    for (const f of col) {
      const d = f.details;
      const members = new Set(d.members.map((m) => `${m.dev}\0${m.napi}`));
      // Every wait among the members on this core, from the timeline.
      const all: number[] = [];
      for (const n of t.napis) {
        const nf = facts.napis[n.index]!;
        if (!members.has(`${nf.dev}\0${nf.napi}`)) continue;
        const w = n.perCpu.get(d.cpu)?.waitedForNs;
        if (w === undefined) continue;
        for (let r = w.from; r < w.to; r++) {
          const by = facts.napis[w.waitedFor[r]!]!;
          if (w.ns[r]! > 0 && members.has(`${by.dev}\0${by.napi}`)) all.push(w.ns[r]!);
        }
      }
      const left = d.waitsLeftOut ?? { count: 0, ns: 0 };
      expect(d.waits.length).toBe(Math.min(LIST_LIMIT, all.length));
      expect(d.waits.length + left.count).toBe(all.length);
      expect(d.waits.reduce((a, w) => a + w.ns, 0) + left.ns).toBe(all.reduce((a, b) => a + b, 0));
      expect(d.waitedNs).toBe(all.reduce((a, b) => a + b, 0));
      // The kept ones are the longest: none left out is longer than the shortest kept.
      const sorted = all.slice().sort((a, b) => b - a);
      expect(d.waits.map((w) => w.ns).sort((a, b) => b - a)).toEqual(sorted.slice(0, d.waits.length));
      expect(f.evidence.some((l) => l.includes('more pairs'))).toBe(left.count > 0);
    }
    const mono = findings.filter((f) => f.id === 'monolithic-poll');
    const napis = mono.flatMap((f) => f.details.napis);
    expect(napis.some((m) => m.blockedLeftOut !== undefined)).toBe(true);
    for (const m of napis) {
      // Behind this NAPI's chains, from the timeline: every other NAPI's wait for it on the core.
      const me = facts.napis.findIndex((x) => x.dev === m.dev && x.napi === m.napi);
      const behind: number[] = [];
      for (const n of t.napis) {
        const w = n.perCpu.get(m.cpu)?.waitedForNs;
        if (w === undefined || n.index === me) continue;
        for (let r = w.from; r < w.to; r++) if (w.waitedFor[r] === me && w.ns[r]! > 0) behind.push(w.ns[r]!);
      }
      const left = m.blockedLeftOut ?? { count: 0, ns: 0 };
      expect(m.blocked.length).toBe(Math.min(LIST_LIMIT, behind.length));
      expect(m.blocked.length + left.count).toBe(behind.length);
      expect(m.blocked.reduce((a, b) => a + b.ns, 0) + left.ns).toBe(behind.reduce((a, b) => a + b, 0));
    }
    expect(mono.some((f) => f.evidence.some((l) => l.includes('more pairs')))).toBe(true);
  });
});
