import { describe, expect, it } from 'vitest';
import { computeFacts } from '../../src/detect/facts.js';
import { procStatBusy } from '../../src/model/proc-stat.js';
import type { CaptureHeader } from '../../src/model/header.js';
import { build, codes, header, ORIGIN } from './timeline-helpers.js';

const arr = (a: Float64Array): number[] => Array.from(a, (v) => Math.round(v));

/**
 * A header whose /proc/stat blocks were read at the probes' attach (0) and the capture's end (no
 * stop mark: the probed span is the whole capture, not cut at the last event), with
 * the given idle and busy ticks of cpu 0 between them (user nice system idle iowait irq softirq steal).
 */
function withStat(endNs: number, idleTicks: number, busyTicks: number, counters: { before?: number; after?: number } = {}): CaptureHeader {
  const at = (t: number): string => String(ORIGIN + BigInt(t));
  return header([0], endNs, {
    formatVersion: 3,
    probesStartBootNs: at(0),
    countersBefore: { bootNs: at(counters.before ?? 0), softirqs: {}, softnet: {}, stat: { '0': [1000, 0, 0, 1000, 0, 0, 0, 0] } },
    countersAfter: { bootNs: at(counters.after ?? endNs), softirqs: {}, softnet: {}, stat: { '0': [1000 + busyTicks, 0, 0, 1000 + idleTicks, 0, 0, 0, 0] } },
  });
}

const MS = 1_000_000;
/** Window 0: ten idle periods of 10 ms; window 1: one of 500 ms (windows of 1 s). */
const RECORDS = [Array.from({ length: 10 }, (_, i) => `IE ${i * 50 * MS} 0\nIX ${i * 50 * MS + 10 * MS} 0`).join('\n'), `IE ${1200 * MS} 0\nIX ${1700 * MS} 0`].join('\n');
const W = { windowNs: 1000 * MS };

describe('idle records matched to /proc/stat (timeline/idle-calibration.ts)', () => {
  it("takes the kernel's busy time off per idle period, so the span holds the kernel's idle and short periods lose more", () => {
    // Records: 600 ms idle in 11 periods over 2 s. The kernel: 50 ticks (10 ms) idle, 500 ms of
    // the 2 s: 100 ms less, 9.09 ms per period.
    const tl = build(withStat(2000 * MS, 50, 150), [RECORDS], W);
    const c = tl.cores.get(0)!;
    expect(arr(c.idleTaskNs)).toEqual([100 * MS, 500 * MS]);
    expect(arr(c.idlePeriods)).toEqual([10, 1]);
    expect(c.idleCalibration).toMatchObject({ applied: true, periods: 11, idleTaskNs: 600 * MS, fitNs: 2000 * MS });
    expect(c.idleCalibration!.perPeriodNs).toBeCloseTo((100 * MS) / 11, 3);
    // Per period: window 0 loses 90.9 ms, window 1 only 9.1 ms (a share of the total would take
    // a sixth off each: 83.3 and 416.7 ms).
    expect(arr(c.idleNs)).toEqual([Math.round(100 * MS - (1000 * MS) / 11), Math.round(500 * MS - (100 * MS) / 11)]);
    const f = computeFacts(tl).coreByCpu.get(0)!;
    expect(f.coreBusy).toBeCloseTo(procStatBusy(tl.capture.header).get(0)!, 9);
    expect(f.coreBusy).toBeCloseTo(0.75, 9);
    expect(f.coreBusySeries[1]).toBeCloseTo(0.5 + 1 / 110, 9);
    expect(codes(tl)).toEqual([]);
  });

  it('a window whose periods were shorter than the cost goes to zero, and the rest comes off the other windows', () => {
    // Kernel idle 20 ticks: 200 ms of 2 s, 400 ms less than the records, 36.4 ms a period.
    const tl = build(withStat(2000 * MS, 20, 180), [RECORDS], W);
    const c = tl.cores.get(0)!;
    expect(c.idleCalibration!.applied).toBe(true);
    expect(arr(c.idleNs)).toEqual([0, 200 * MS]);
    expect(computeFacts(tl).coreByCpu.get(0)!.coreBusy).toBeCloseTo(0.9, 9);
  });

  it('is not applied when the /proc/stat blocks were read far from the probes, and says why', () => {
    const tl = build(withStat(2000 * MS, 250, 750, { before: 1500 * MS }), [RECORDS], W);
    const c = tl.cores.get(0)!;
    expect(c.idleCalibration).toMatchObject({ applied: false });
    expect(c.idleCalibration!.reason).toMatch(/cover 500 ms of the 2000 ms the probes ran/);
    expect(arr(c.idleNs)).toEqual(arr(c.idleTaskNs));
  });

  it('with more idle in the kernel than in the records (switches to idle not seen), puts the rest back in the untraced busy time', () => {
    // 10 s: idle 1 s in the records, 5 s in the kernel (500 of 1000 ticks): 4 s put back over the
    // 9 s the records call untraced busy, 4/9 of each such window.
    const S = 1000 * MS;
    const tl = build(withStat(10 * S, 500, 500), [`IE ${S} 0\nIX ${2 * S} 0`], { windowNs: S });
    const c = tl.cores.get(0)!;
    expect(c.idleCalibration).toMatchObject({ applied: true });
    expect(c.idleCalibration!.restoredNs).toBeCloseTo(4 * S, 0);
    expect(arr(c.idleNs)[0]).toBe(Math.round((4 * S) / 9));
    expect(arr(c.idleNs)[1]).toBe(S);
    expect(computeFacts(tl).coreByCpu.get(0)!.coreBusy).toBeCloseTo(0.5, 9);
    expect(codes(tl)).not.toContain('idle-below-proc-stat');
  });

  it("and warns when the traced work leaves too little room for the kernel's idle", () => {
    // The same, with NET_RX over [3 s, 9 s): 3 s of room for 4 s of missing idle.
    const S = 1000 * MS;
    const tl = build(withStat(10 * S, 500, 500), [`IE ${S} 0\nIX ${2 * S} 0\nSE ${3 * S} 0 3 1 x\nSX ${9 * S} 0 3`], { windowNs: S });
    const c = tl.cores.get(0)!;
    expect(c.idleCalibration!.restoredNs).toBeCloseTo(3 * S, 0);
    expect(codes(tl)).toContain('idle-below-proc-stat');
    expect(computeFacts(tl).coreByCpu.get(0)!.coreBusy).toBeCloseTo(0.6, 9);
  });

  it('a period whose switch to idle was not seen (format 4): its stretch counts as idle first, then the cost per period comes off', () => {
    // 10 s, windows of 1 s. Idle since before the probes to 1 s; NET_RX in a task at 2.0-2.1 s;
    // then an IP at 8 s whose switch to idle was missed: its idle lies in [2.1 s, 8 s), 5.9 s
    // put back. The kernel: 6 s idle, so 0.9 s too much over 2 periods, 0.45 s each.
    const S = 1000 * MS;
    const h = { ...withStat(10 * S, 600, 400), formatVersion: 4 };
    const tl = build(h, [`IP ${S} 0 before\nSE ${2 * S} 0 3 5 x\nSX ${2.1 * S} 0 3\nIP ${8 * S} 0 missed`], { windowNs: S });
    const c = tl.cores.get(0)!;
    expect(c.idleCalibration).toMatchObject({ applied: true, periods: 2 });
    expect(c.idleCalibration!.restoredNs).toBeCloseTo(5.9 * S, 0);
    expect(c.idleCalibration!.perPeriodNs).toBeCloseTo(0.45 * S, 0);
    const idle = arr(c.idleNs);
    expect(idle[0]).toBe(0.55 * S);
    expect(idle[2]).toBe(0.9 * S);
    expect(idle.slice(8)).toEqual([0, 0]);
    expect(computeFacts(tl).coreByCpu.get(0)!.coreBusy).toBeCloseTo(0.4, 9);
    expect(codes(tl)).toContain('idle-entries-missed');
  });

  it("within /proc/stat's rounding (two ticks and half a point) it takes nothing off and names no cost per period", () => {
    // 58 ticks: 580 ms, 20 ms less than the records; the tolerance is 20 + 10 ms.
    const tl = build(withStat(2000 * MS, 58, 142), [RECORDS], W);
    const c = tl.cores.get(0)!;
    expect(c.idleCalibration).toMatchObject({ applied: false });
    expect(c.idleCalibration!.perPeriodNs).toBeNaN();
    expect(c.idleCalibration!.reason).toMatch(/within its rounding/);
    expect(arr(c.idleNs)).toEqual([100 * MS, 500 * MS]);
  });

  it('without /proc/stat in the header the records stand as captured', () => {
    const tl = build(header([0], 2000 * MS, { formatVersion: 3 }), [RECORDS], W);
    const c = tl.cores.get(0)!;
    expect(c.idleCalibration).toMatchObject({ applied: false, reason: 'no /proc/stat before and after the probes in the header' });
    expect(arr(c.idleNs)).toEqual([100 * MS, 500 * MS]);
  });
});
