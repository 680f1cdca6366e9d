import { describe, expect, it } from 'vitest';
import { runDetectors } from '../../src/detect/registry.js';
import type { Finding } from '../../src/detect/registry.js';
import { timelineFromNotation } from '../notation.js';

const W = { windowNs: 4_000_000 };
type Pl = Extract<Finding, { id: 'napi-placement' }>;
const placement = (src: string): Pl | undefined => runDetectors(timelineFromNotation(src, W)).findings.find((f): f is Pl => f.id === 'napi-placement');

describe('napi-placement', () => {
  it('home core, stickiness and moves of each tunnel', () => {
    // A completes (lowercase) and gets re-placed: 6 ms on cpu0, 2 ms on cpu1, two moves.
    // (A last idle column keeps the final poll off the capture's end: see the report's note on
    // point events at exactly endNs.)
    const f = placement(`
      cpu0: a a a . . a a a a a a a .
      cpu1: . . . a a . . . . . . . .
      cpu2: B B B B B B B B B B B B .
    `)!;
    const a = f.details.napis.find((n) => n.dev === 'wg0')!;
    expect(a.homeCpu).toBe(0);
    expect(a.stickiness).toBeCloseTo(10 / 12, 6);
    expect(a.moves).toBe(2);
    expect(a.cpus.map((c) => [c.cpu, c.polls])).toEqual([
      [0, 10],
      [1, 2],
    ]);
    const b = f.details.napis.find((n) => n.dev === 'wg1')!;
    expect([b.homeCpu, b.stickiness, b.moves, b.mode]).toEqual([2, 1, 0, 'softirq']);
    expect(f.summary).toMatch(/2 tunnels' polls ran on 3 cores of 3 \(0-2\), all in softirq/);
    expect(f.severity).toBe('info');
  });

  it('a softirq poll without a home (below placement-min-stickiness) wanders: warning', () => {
    const f = placement(`
      cpu0: a . a . a . a . a . a .
      cpu1: . a . a . a . a . a . a
    `)!;
    expect(f.details.napis[0]!.wanders).toBe(true);
    expect(f.severity).toBe('warning');
  });

  it('with threaded NAPI the report shows the polls running in threads', () => {
    const f = placement(`
      tunnel A threaded=1
      tunnel B threaded=1
      cpu0: At At At At
      cpu1: Bt Bt Bt Bt
    `)!;
    expect(f.details.threadedPollShare).toBe(1);
    expect(f.details.napis.map((n) => n.mode)).toEqual(['threaded', 'threaded']);
    expect(f.summary).toMatch(/all in threaded-NAPI kthreads/);
  });
});

describe('napi-placement: threaded mode from the polls', () => {
  it('the header says threaded=0 but the polls ran in napi/ threads: threaded, and the evidence says the flag disagrees', () => {
    const f = placement(`
      tunnel A threaded=0
      cpu0: At At At At At At At At .
    `)!;
    expect(f.details.napis[0]!.mode).toBe('threaded');
    expect(f.evidence.join('\n')).toMatch(/wg0\/threaded=0 in the header, but its polls ran in napi\/ threads/);
  });
});
