import { describe, expect, it } from 'vitest';
import { ns } from '../../src/base/time.js';
import type { TraceEvent } from '../../src/model/events.js';
import { TimelineBuilder } from '../../src/timeline/builder.js';
import { CoreWaits } from '../../src/timeline/waits.js';
import type { Timeline } from '../../src/timeline/types.js';
import { header, summary } from './timeline-helpers.js';

/**
 * The wait fold (src/timeline/waits.ts) is lazy: a NAPI's waits are summed when its pending
 * spell ends, from running sums. Here it is checked against the rule itself, applied poll by
 * poll as docs/timeline.md states it ("every other NAPI's softirq poll on that CPU before its
 * next poll delays it"), on random softirq runs over several CPUs: NAPIs that move between
 * CPUs, stay pending to the end, poll twice at one instant (zero duration), and runs with
 * hundreds of spells per NAPI.
 */

/** xorshift32: the same runs every time. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

interface Run {
  events: TraceEvent[];
  /** Expected waits: cpu -> napi pointer -> (pointer of the NAPI waited for -> ns). */
  waits: Map<number, Map<string, Map<string, number>>>;
}

/** Random NET_RX softirqs with polls; the waits worked out by the rule as the events are written. */
function randomRun(seed: number, cpus: number, napis: number, softirqs: number, step: () => number): Run {
  const r = rng(seed);
  const ptr = (i: number) => `0x${(0x1000 + i).toString(16)}`;
  const events: TraceEvent[] = [];
  const waits: Run['waits'] = new Map();
  const pending = new Map<number, Set<string>>();
  const clock = new Array<number>(cpus).fill(0);
  for (let k = 0; k < softirqs; k++) {
    const cpu = Math.floor(r() * cpus);
    const pend = pending.get(cpu) ?? new Set<string>();
    pending.set(cpu, pend);
    const onCpu = waits.get(cpu) ?? new Map<string, Map<string, number>>();
    waits.set(cpu, onCpu);
    let t = clock[cpu]! + 1000 + Math.floor(r() * 1000);
    events.push({ kind: 'softirq_entry', ts: ns(t), cpu, vec: 3, pid: 0, comm: `swapper/${cpu}` });
    let prevEnd = t;
    const polls = 1 + Math.floor(r() * 12);
    for (let i = 0; i < polls; i++) {
      // Mostly a few busy NAPIs per CPU, now and then any NAPI (a move).
      const n = r() < 0.8 ? (cpu * 3 + Math.floor(r() * 4)) % napis : Math.floor(r() * napis);
      const p = ptr(n);
      // A zero-length poll now and then (two polls at one instant).
      t += r() < 0.1 ? 0 : step();
      const full = r() < 0.6;
      events.push({ kind: 'napi_poll', ts: ns(t), cpu, napi: p, dev: `wg${n}`, work: full ? 64 : Math.floor(r() * 64), budget: 64, pid: 0, comm: `swapper/${cpu}` });
      const dur = t - prevEnd;
      prevEnd = t;
      if (dur > 0) {
        for (const q of pend) {
          if (q === p) continue;
          const m = onCpu.get(q) ?? new Map<string, number>();
          onCpu.set(q, m);
          m.set(p, (m.get(p) ?? 0) + dur);
        }
      }
      if (full) pend.add(p);
      else pend.delete(p);
    }
    t += step();
    events.push({ kind: 'softirq_exit', ts: ns(t), cpu, vec: 3 });
    clock[cpu] = t;
  }
  return { events, waits };
}

function fold(run: Run, cpus: number): Timeline {
  const h = header(
    Array.from({ length: cpus }, (_, i) => i),
    Math.max(...run.events.map((e) => e.ts ?? 0)) + 1,
  );
  const b = new TimelineBuilder({ windowNs: 1_000_000 });
  b.header(h);
  b.push(run.events);
  return b.finish(summary(h, run.events.length));
}

/** The timeline's waits in the same shape, entries of zero left out as the fold leaves them out. */
function waitsOf(tl: Timeline): Run['waits'] {
  const out: Run['waits'] = new Map();
  for (const n of tl.napis) {
    for (const [cpu, s] of n.perCpu) {
      const w = s.waitedForNs;
      if (w.to === w.from) continue;
      const onCpu = out.get(cpu) ?? new Map<string, Map<string, number>>();
      out.set(cpu, onCpu);
      const mine = new Map<string, number>();
      for (let r = w.from; r < w.to; r++) {
        // Rows in the order of the NAPI waited for, each above zero (types.ts WaitRows).
        if (r > w.from) expect(w.waitedFor[r]).toBeGreaterThan(w.waitedFor[r - 1]!);
        expect(w.ns[r]).toBeGreaterThan(0);
        mine.set(tl.napis[w.waitedFor[r]!]!.napi, w.ns[r]!);
      }
      onCpu.set(n.napi, mine);
    }
  }
  return out;
}

const sorted = (w: Run['waits']) =>
  [...w]
    .filter(([, m]) => m.size > 0)
    .map(([cpu, m]) => [cpu, [...m].map(([p, q]) => [p, [...q].sort()] as const).sort()] as const)
    .sort((a, b) => a[0] - b[0]);

describe('waits (the lazy fold)', () => {
  for (const [seed, cpus, napis, softirqs] of [
    [1, 1, 3, 40],
    [2, 2, 6, 400],
    [3, 4, 12, 2000],
    [4, 3, 40, 3000],
  ] as const) {
    it(`equal the rule applied poll by poll (seed ${seed}: ${cpus} CPUs, ${napis} NAPIs, ${softirqs} softirqs)`, () => {
      const r = rng(seed * 7919);
      const run = randomRun(seed, cpus, napis, softirqs, () => 1 + Math.floor(r() * 500));
      const tl = fold(run, cpus);
      const got = waitsOf(tl);
      // Not vacuous: waits on every CPU.
      expect([...run.waits.values()].filter((m) => m.size > 0).length).toBe(cpus);
      expect(sorted(got)).toEqual(sorted(run.waits));
    });
  }

  it('are the same for durations that are not whole nanoseconds (folded poll by poll)', () => {
    const r = rng(99);
    const run = randomRun(5, 2, 8, 600, () => 0.25 + Math.floor(r() * 400) / 4);
    const got = waitsOf(fold(run, 2));
    expect(got.size).toBeGreaterThan(0);
    expect(sorted(got)).toEqual(sorted(run.waits));
  });
});

describe('CoreWaits.rows (the sums sorted by waiter, then NAPI waited for)', () => {
  /** The rows as [waiter, waited for, ns] triples, in the order rows() gives them. */
  const triples = (w: CoreWaits): [number, number, number][] => {
    const out: [number, number, number][] = [];
    w.rows((waiter, r) => {
      for (let i = r.from; i < r.to; i++) out.push([waiter, r.waitedFor[i]!, r.ns[i]!]);
    });
    return out;
  };
  /** Adds pairs (a seeded LCG), summing the same pairs in a Map; returns that Map's entries sorted. */
  const fill = (w: CoreWaits, pairs: number, maxIndex: number, seed: number): [number, number, number][] => {
    let s = seed;
    const rnd = (n: number) => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n;
    const ref = new Map<string, [number, number, number]>();
    for (let k = 0; k < pairs; k++) {
      const a = rnd(maxIndex);
      const b = rnd(maxIndex);
      const d = 1 + rnd(1000);
      w.add(a, b, d);
      const e = ref.get(`${a} ${b}`);
      if (e === undefined) ref.set(`${a} ${b}`, [a, b, d]);
      else e[2] += d;
    }
    return [...ref.values()].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  };
  // Dense indexes take the counting sort; a few pairs of large indexes the sort of numeric keys.
  for (const [pairs, maxIndex] of [
    [5000, 300],
    [20, 2_000_000],
  ] as const) {
    it(`${pairs} additions over NAPI indexes below ${maxIndex}`, () => {
      const w = new CoreWaits();
      const want = fill(w, pairs, maxIndex, 7);
      expect(triples(w)).toEqual(want);
    });
  }
});
