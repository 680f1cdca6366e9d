import { describe, expect, it } from 'vitest';
import { runDetectors } from '../../src/detect/registry.js';
import { parseThresholdOverrides } from '../../src/detect/thresholds.js';
import type { Finding } from '../../src/detect/registry.js';
import { threadedCommand } from '../../src/detect/recommend.js';
import { timelineFromNotation } from '../notation.js';

// Columns are 1 ms, windows 4 ms (4 columns), so each row of 16 columns is 4 windows.
const W = { windowNs: 4_000_000 };
const coloc = (src: string, over: string[] = []): Extract<Finding, { id: 'co-location' }>[] => {
  const th = parseThresholdOverrides(over);
  if (!th.ok) throw new Error(th.error);
  return runDetectors(timelineFromNotation(src, W), { thresholds: th.value }).findings.filter((f): f is Extract<Finding, { id: 'co-location' }> => f.id === 'co-location');
};

describe('co-location', () => {
  it('two tunnels whose polls alternate on cpu0 while cpu1 idles are one group on cpu0', () => {
    const [f, ...rest] = coloc(`
      cpu0: A B A B A B A B A B A B A B A B
      cpu1: . . . . . . . . . . . . . . . .
    `);
    expect(rest).toEqual([]);
    expect(f!.cpus).toEqual([0]);
    expect(f!.napis.map((n) => n.dev)).toEqual(['wg0', 'wg1']);
    // Shared in all 4 windows, from B's first poll (1 ms) to A's last poll's end (15 ms): both
    // occupied the core then; the core is 100% busy, so it is critical.
    expect(f!.details.windows).toBe(4);
    expect(f!.details.durationNs).toBe(14_000_000);
    expect(f!.severity).toBe('critical');
    expect(f!.details.coreShare).toBeCloseTo(1, 6);
    // Each full-budget poll leaves its NAPI scheduled, so each waits for the other's next
    // poll: A waits for the 8 B columns (8 ms), B for the 7 A columns after its first poll.
    const waits = Object.fromEntries(f!.details.waits.map((w) => [`${w.waiter.dev}<-${w.waitedFor.dev}`, w.ns]));
    expect(waits).toEqual({ 'wg0<-wg1': 8_000_000, 'wg1<-wg0': 7_000_000 });
    // At 64 packets per ms of poll, 15 ms of waiting is 960 packets not forwarded; 1024 were.
    expect(f!.details.lostPackets).toBeCloseTo(960, 6);
    expect(f!.costEstimate.share).toBeCloseTo(960 / (1024 + 960), 6);
    expect(f!.recommendation!.commands).toEqual(['echo 1 > /sys/class/net/wg0/threaded', 'echo 1 > /sys/class/net/wg1/threaded']);
  });

  it('the cost is capped by the idle capacity of the gateway: on one saturated core it is zero', () => {
    const [f] = coloc('cpus 0\ncpu0: A B A B A B A B A B A B A B A B');
    expect(f!.details.lostPackets).toBeCloseTo(960, 6);
    expect(f!.costEstimate.share).toBe(0);
    // A second core decrypting half the time: 8 ms idle; a packet costs (16 ms of polls + 8 ms
    // of crypt) / 1024 packets, so the idle time could process 8/24 * 1024 = 341.3 packets.
    const [g] = coloc('cpus 0-1\ncpu0: A B A B A B A B A B A B A B A B\ncpu1: # # # # # # # # . . . . . . . .');
    expect(g!.costEstimate.share).toBeCloseTo(1024 / 3 / (1024 + 1024 / 3), 6);
  });

  it('tunnels each on their own core are not co-located', () => {
    expect(
      coloc(`
        cpu0: A A A A A A A A
        cpu1: B B B B B B B B
        cpu2: c . c . c . c .
      `),
    ).toEqual([]);
  });

  it('three NAPIs squeezed onto two cores: the shared core is reported with its two tunnels', () => {
    const fs = coloc(`
      cpu0: A B A B A B A B
      cpu1: C C C C C C C C
    `);
    expect(fs.map((f) => [f.cpus, f.napis.map((n) => n.dev)])).toEqual([[[0], ['wg0', 'wg1']]]);
  });

  it('one poll of a tunnel passing through is not co-location; colocation-min-ns sets how long counts', () => {
    // B polls once on cpu0 (1 ms), while A stays scheduled there (full-budget polls).
    const src = `
      cpu0: A A A A B A A A . . . .
      cpu1: . . . . . . . . B B B B
    `;
    expect(coloc(src)).toEqual([]);
    const [f] = coloc(src, ['colocation-min-ns=1000000']);
    expect(f!.details.durationNs).toBe(1_000_000);
    expect(f!.details.ranges).toEqual([{ startOffsetNs: 4_000_000, endOffsetNs: 5_000_000 }]);
  });

  it('a tunnel polling now and then shares the core only around its polls, whatever the window', () => {
    // b: partial polls (it completes) 3 ms apart, beyond the 1 ms gap: each occupies 1 ms while
    // A stays scheduled (full budget) until its last poll ends at 11 ms: 2 ms shared.
    const src = `
      cpu0: A A A b A A A b A A A b
    `;
    expect(coloc(src)).toEqual([]);
    for (const windowNs of [1_000_000, 4_000_000, 12_000_000]) {
      const [f] = runDetectors(timelineFromNotation(src, { windowNs }), { thresholds: (parseThresholdOverrides(['colocation-min-ns=2000000']) as { ok: true; value: never }).value }).findings.filter(
        (x): x is Extract<Finding, { id: 'co-location' }> => x.id === 'co-location',
      );
      expect(f!.details.durationNs).toBe(2_000_000);
    }
  });

  it('24 tunnels crowding one core are all in the group, however little each holds of it', () => {
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWX';
    const row = Array.from({ length: 96 }, (_, i) => letters[i % 24]).join(' ');
    const [f] = coloc(`cpus 0-1\ncpu0: ${row}`);
    expect(f!.napis).toHaveLength(24);
    expect(f!.details.durationNs).toBeGreaterThan(90_000_000);
  });

  it('polls already running in napi threads: says threaded NAPI is on, no echo', () => {
    const [f] = coloc(`
      tunnel A threaded=1
      tunnel B threaded=1
      cpu0: At Bt At Bt At Bt At Bt
      cpu1: .  .  .  .  .  .  .  .
    `);
    expect(f!.details.mode).toBe('threaded');
    expect(f!.recommendation!.text).toMatch(/already on for wg0 and wg1/);
    expect(f!.recommendation!.commands.some((c) => c.startsWith('echo'))).toBe(false);
  });

  it('no threaded flag in the header: the polls ran in softirq, so threaded NAPI is off; recommended without a caveat', () => {
    const [f] = coloc(`
      tunnel A threaded=-
      cpu0: A B A B A B A B
    `);
    expect(f!.recommendation!.commands).toContain('echo 1 > /sys/class/net/wg0/threaded');
    expect(f!.recommendation!.text).not.toMatch(/does not record the threaded flag/);
  });

  it('the header says threaded=0 but the polls ran in napi threads: the polls win', () => {
    const [f] = coloc(`
      tunnel A threaded=0
      tunnel B threaded=0
      cpu0: At Bt At Bt At Bt At Bt
    `);
    expect(f!.recommendation!.text).toMatch(/already on for wg0 and wg1/);
  });

  it('other NAPIs (the backlog, a NIC queue) are never tunnels: no co-location, no sysfs command', () => {
    const found = coloc(`
      tunnel A dev=(no_device)
      tunnel B dev=eth0 kind=physical
      cpu0: A B A B A B A B
    `);
    expect(found).toEqual([]);
  });

  it('a device in a network namespace gets a command that runs there', () => {
    const { findings } = runDetectors(timelineFromNotation(`cpu0: A B A B A B A B`, W));
    const f = findings.find((x) => x.id === 'co-location')!;
    expect(f.recommendation!.commands).toEqual(['echo 1 > /sys/class/net/wg0/threaded', 'echo 1 > /sys/class/net/wg1/threaded']);
    expect(threadedCommand({ dev: 'vb0', netns: 'wgtb' })).toBe(`ip netns exec wgtb sh -c 'echo 1 > /sys/class/net/vb0/threaded'`);
  });
});
