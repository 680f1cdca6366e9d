import { describe, expect, it } from 'vitest';
import { computeFacts } from '../../src/detect/facts.js';
import { procStatBusy } from '../../src/model/proc-stat.js';
import { build, codes, header, ORIGIN, sliceLines } from './timeline-helpers.js';

const ALL = { slices: {} };
const arr = (a: Float64Array): number[] => Array.from(a);

describe('TimelineBuilder: idle time from IE/IX records', () => {
  it('counts the idle task time with no traced work on top; idle since the start and at the end are clamped there', () => {
    // cpu0: idle [100, 600) with a NET_RX softirq [300, 400) on irq exit from idle: idle 400 ns.
    // cpu1: NET_RX [100, 200), then its first idle record is a switch away from idle at 500:
    // idle since the start less the softirq (400 ns); idle again from 800 to the end (200 ns).
    const tl = build(
      header([0, 1], 1000),
      [
        `IE 100 0
         SE 300 0 3
         SX 400 0 3
         IX 600 0
         SE 100 1 3
         SX 200 1 3
         IX 500 1
         IE 800 1`,
      ],
      { windowNs: 1000 },
    );
    expect(arr(tl.cores.get(0)!.idleNs)).toEqual([400]);
    expect(arr(tl.cores.get(1)!.idleNs)).toEqual([600]);
    const f = computeFacts(tl);
    expect(f.coreByCpu.get(0)).toMatchObject({ coreBusySource: 'idle-events', coreBusy: 0.6 });
    expect(f.coreByCpu.get(1)).toMatchObject({ coreBusySource: 'idle-events', coreBusy: 0.4 });
    // The traced part is the softirq alone; the rest of the busy time is untraced.
    expect(f.coreByCpu.get(0)!.untracedBusyNs).toBe(500);
  });

  it('in the order the events script prints one switch (IE, SO, IX, SI), a napi thread going idle and back', () => {
    // bpftrace-scripts/events.bt.in prints IE before SO and IX before SI for the same switch.
    const tl = build(
      header([0], 1000),
      [
        `SI 100 0 900 napi/wg0-0
         P 150 0 0xa wg0 1 64 900 napi/wg0-0
         IE 200 0
         SO 200 0 900 S napi/wg0-0
         IX 500 0
         SI 500 0 900 napi/wg0-0
         P 550 0 0xa wg0 1 64 900 napi/wg0-0
         IE 600 0
         SO 600 0 900 S napi/wg0-0`,
      ],
      { windowNs: 1000 },
    );
    // Idle [200, 500) and [600, 1000); before the first record at 100 the core's state is unknown.
    expect(arr(tl.cores.get(0)!.idleNs)).toEqual([700]);
    expect(codes(tl)).toEqual([]);
  });

  it('a switch-in of a task while idle ends the idle period even when its IX was lost', () => {
    const tl = build(header([0], 1000), [`IE 100 0\nSI 300 0 900 napi/wg0-0\nSO 500 0 900 S napi/wg0-0\nIE 500 0\nIX 700 0`], { windowNs: 1000 });
    expect(arr(tl.cores.get(0)!.idleNs)).toEqual([400]);
    expect(codes(tl)).not.toContain('idle-entry-lost');
  });
});

describe('TimelineBuilder: slices whose end was lost', () => {
  it('with lost events, a softirq still open at the end ends at its CPU last event, clamped, not at the capture end', () => {
    const tl = build(header([0, 1], 10_000), [`SE 0 0 3\nP 100 0 0xa wg0 1 64\nLOST 5\nSE 0 1 3\nSX 9000 1 3`], { windowNs: 10_000, ...ALL });
    expect(sliceLines(tl, 0)).toEqual(['net_rx NET_RX 0+100@0 clamped:end', 'poll wg0 0xa 0+100@1']);
    expect(arr(tl.cores.get(0)!.netRxBusyNs)).toEqual([100]);
    expect(codes(tl)).toContain('open-at-end-lossy');
    expect(tl.capture.clampedSlices).toBeGreaterThanOrEqual(1);
  });

  it('without lost events the same softirq is cut by the capture end', () => {
    const tl = build(header([0], 10_000), [`SE 0 0 3\nP 100 0 0xa wg0 1 64`], { windowNs: 10_000, ...ALL });
    expect(sliceLines(tl, 0)[0]).toBe('net_rx NET_RX 0+10000@0 clamped:end');
  });

  it('a context switch while a softirq is open means its exit was lost: closed at the event before', () => {
    const tl = build(header([0], 1000), [`SE 0 0 3\nP 50 0 0xa wg0 1 64\nSI 200 0 900 napi/wg0-0\nSO 300 0 900 S napi/wg0-0`], { windowNs: 1000, ...ALL });
    expect(sliceLines(tl, 0)[0]).toBe('net_rx NET_RX 0+50@0 clamped:end');
    expect(codes(tl)).toContain('exit-lost');
  });
});

describe('/proc/stat busy', () => {
  it('is everything but idle and iowait over the two counter blocks, guest time not counted twice', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    const h = header([0, 1], 1000, {
      countersBefore: { softirqs: {}, softnet: {}, stat: { '0': [100, 0, 50, 9000, 10, 0, 20, 0, 40, 0], '1': [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] } },
      countersAfter: { softirqs: {}, softnet: {}, stat: { '0': [160, 0, 70, 9100, 20, 0, 40, 0, 90, 0], '1': [100, 0, 50, 0, 0, 0, 50, 0, 0, 0] } },
    });
    const b = procStatBusy(h);
    // cpu0: busy 60+20+20 = 100 of 100+100+10+... = 60+20+100+10+20 = 210 ticks.
    expect(b.get(0)).toBeCloseTo(100 / 210, 10);
    expect(b.get(1)).toBe(1);
  });
});

describe('TimelineBuilder: idle periods from IP records (format 4)', () => {
  it('a period recorded at its end; a softirq on the idle task (pid 0) comes off it, one in a task does not', () => {
    // cpu0: idle [100, 600) with NET_RX [300, 400) on irq exit from idle (pid 0): 400 ns idle.
    // cpu1: NET_RX [100, 200) in a task (pid 7), then idle [500, 900): 400 ns.
    const tl = build(header([0, 1], 1000, { formatVersion: 4 }), [`SE 300 0 3\nSX 400 0 3\nIP 600 0 100\nSE 100 1 3 7 iperf3\nSX 200 1 3\nIP 900 1 500`], { windowNs: 1000 });
    expect(arr(tl.cores.get(0)!.idleNs)).toEqual([400]);
    expect(arr(tl.cores.get(1)!.idleNs)).toEqual([400]);
    expect(arr(tl.cores.get(0)!.idlePeriods)).toEqual([1]);
    expect(computeFacts(tl).coreByCpu.get(0)).toMatchObject({ coreBusySource: 'idle-events', coreBusy: 0.6 });
    expect(codes(tl)).toEqual([]);
  });

  it('a lost IP record shows in the next one (its prevEnd is later than the last IP seen): counted, its idle left to the calibration', () => {
    const h = header([0], 1000, { formatVersion: 4 });
    const tl = build(
      h,
      [
        `IP 200 0 100`,
        // The period that ended at 500 (entered 400) was lost; this one says its predecessor ended at 500.
        `IP 800 0 700 500`,
      ],
      { windowNs: 1000 },
    );
    expect(arr(tl.cores.get(0)!.idleTaskNs)).toEqual([100 + 100]);
    expect(arr(tl.cores.get(0)!.idlePeriods)).toEqual([3]);
    expect(arr(tl.cores.get(0)!.idleUnknownNs!)).toEqual([300]);
    expect(codes(tl)).toContain('idle-entries-missed');
  });

  it('idle since before the probes, a period whose start was missed, and one open when the probes detached', () => {
    const h = header([0, 1], 1000, { formatVersion: 4, probesStopBootNs: String(ORIGIN + 950n) });
    // Idle from the start to 200; busy 200..300; a period ending at 500 whose switch to idle was
    // not seen (no idle added, one period counted); idle again from 700, open until the last
    // event (cpu 1's at 900: after it the probes were coming down, before the stop mark at 950).
    const tl = build(h, [`IP 200 0 before\nSE 200 0 3 5 x\nSX 300 0 3\nIP 500 0 missed\nIO 700 0\nSE 895 1 3 5 x\nSX 900 1 3`], { windowNs: 1000 });
    const c = tl.cores.get(0)!;
    expect(arr(c.idleTaskNs)).toEqual([200 + 200]);
    expect(arr(c.idlePeriods)).toEqual([2]);
    expect(codes(tl)).toContain('idle-entries-missed');
    expect(tl.capture.recordedUntilNs).toBe(900);
  });

  it('without idle records a silent tail before the stop mark is kept in the span, with a warning saying how far rates could be low', () => {
    // A bpftrace events capture (format 3, no IE/IX/IP records): probes attached at 0, stopped
    // at 1 s, the last event at 0.6 s: 400 ms of 1 s unread or quiet, the two cannot be told apart.
    const h = header([0], 2_000_000_000, { formatVersion: 3, bpftraceVersion: 'bpftrace v0.17.0', probesStartBootNs: String(ORIGIN), probesStopBootNs: String(ORIGIN + 1_000_000_000n) });
    const tl = build(h, [`SE 1000000 0 3 5 x\nSX 600000000 0 3`], { windowNs: 10_000_000 });
    expect(tl.capture.recordedUntilNs).toBeUndefined();
    const d = tl.diagnostics.find((x) => x.code === 'recording-tail-unknown');
    expect(d?.severity).toBe('warning');
    expect(d?.message).toMatch(/the last event is 400 ms before the probes' stop mark.*rates over the span are up to 40% low$/);
    // With idle records (format 4) the span ends at the last event instead, and no warning.
    const h4 = { ...h, formatVersion: 4 };
    const tl4 = build(h4, [`IP 1000000 0 before\nSE 1000000 0 3 5 x\nSX 600000000 0 3`], { windowNs: 10_000_000 });
    expect(tl4.capture.recordedUntilNs).toBe(600_000_000);
    expect(codes(tl4)).not.toContain('recording-tail-unknown');
    // Not bpftrace (no version line): ftrace and perf captures are read after the tracing stopped.
    const { bpftraceVersion: _, ...noBt } = h;
    expect(codes(build(noBt, [`SE 1000000 0 3 5 x\nSX 600000000 0 3`], { windowNs: 10_000_000 }))).not.toContain('recording-tail-unknown');
  });
});
