import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayTimeline } from '../../src/replay/index.js';
import {
  VETH_THREAD_POLL_FACTOR,
  VETH_THREAD_POLL_FACTOR_IDLE,
  VETH_THREAD_WAKE_BUSY,
  VETH_THREAD_WAKE_BUSY_IDLE,
  VETH_THREAD_WAKE_FACTOR,
  VETH_THREAD_WAKE_FACTOR_IDLE,
} from '../../src/replay/parameters.js';
import { extractWorkload } from '../../src/replay/workload.js';
import { loadTimeline } from '../../src/timeline/load.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-whatif-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function timelineOf(name: string, text: string, windowNs = 1_000_000) {
  const path = join(dir, name);
  writeFileSync(path, text);
  return loadTimeline(path, { windowNs });
}

/**
 * One veth NAPI on two CPUs over 1 ms (one window): CPU 0 runs a NET_RX softirq of 12 us with
 * one poll of 10 packets taking 10 us (1000 ns per packet); /proc/stat says CPU 0 was half busy
 * and CPU 1 idle. veth's sender and receiver run on this host, so the 0.488 ms of CPU 0 the
 * trace does not explain is their work for those 10 packets: 48,800 ns per packet on CPU 0.
 * (`FULL` below: the same with CPU 0 busy the whole millisecond.)
 */
const VETH = readFileSync(join(import.meta.dirname, '../fixtures/replay/veth-1ms.txt'), 'utf8');

describe('what-if on a veth capture, worked by hand', () => {
  // CPU 0 half busy, CPU 1 idle: no core limited the flow, its sending task did (it also runs
  // veth's poll): 10 packets in 1 ms, a period of 100,000 ns per packet, of which the poll is
  // 1000 ns and the sender's own work 99,000 ns.
  it('stock, held by the sending task, carries what it measured, where CPU 0 alone would allow twice that', async () => {
    const r = replayTimeline(await timelineOf('veth.txt', VETH), { models: ['stock', 'threaded', 'inline'] });
    const stock = r.models.find((m) => m.model === 'stock')!;
    // The core alone: 0.998 / (1000 + 48,800 ns) = 20,040 pps. The task: 1e9 / (99,000 + 1000).
    expect(stock.throughputPps).toBeCloseTo(10_000, 6);
    expect(stock.vsMeasured!.point).toBeCloseTo(1, 9);
    expect(r.placement).toBe('observed');
    expect(r.monteCarlo.runs).toBe(1);
    expect(r.calibrationError.meanAbsolute).toBeLessThan(1e-9);
    // Inline is about WireGuard's decryption: it says it cannot predict veth.
    expect(r.abstained).toEqual([{ model: 'inline', reason: expect.stringMatching(/^Inline moves WireGuard decryption/) }]);
  });

  it('threaded, held by the sending task: it wakes the kthread instead of running the poll', async () => {
    const r = replayTimeline(await timelineOf('veth2.txt', VETH), { models: ['threaded'] });
    const t = r.models[0]!;
    // The task per packet: 99,000 ns of its own and the wake-up (factor x 1000 ns) instead of
    // the poll; CPU 0 would allow 0.998 / (48,800 + 1,500) ns, twice as much.
    // The flow was held by its sender, so the kthread finds an idle CPU: the factors of that
    // regime (parameters.ts, *_IDLE, calibrated on E5), not E2's full-core ones.
    const task = (f: number): number => 1e9 / (99_000 + f * 1000);
    expect(t.throughputPps).toBeCloseTo(task(VETH_THREAD_WAKE_FACTOR_IDLE.value), 6);
    expect(t.throughputInterval.low).toBeCloseTo(task(VETH_THREAD_WAKE_FACTOR_IDLE.high), 6);
    expect(t.throughputInterval.high).toBeCloseTo(task(VETH_THREAD_WAKE_FACTOR_IDLE.low), 6);
    expect(t.vsMeasured!.point).toBeCloseTo(t.throughputPps / 10_000, 9);
    // Nothing saturates: the kthread's work goes to the idle CPU 1.
    expect(t.tunnels[0]!.pollCore).toBe(1);
    expect(t.cpus[1]!.utilization).toBeCloseTo((t.throughputPps * VETH_THREAD_POLL_FACTOR_IDLE.value * 1000) / 1e9, 6);
    const wake = r.parameters.find((p) => p.name === 'threadWakeFactor')!;
    expect([wake.value, wake.basis, wake.source]).toEqual([VETH_THREAD_WAKE_FACTOR_IDLE.value, 'calibrated', VETH_THREAD_WAKE_FACTOR_IDLE.source]);
    expect(t.cpus[0]!.utilization).toBeLessThan(0.95);
  });

  // The same capture with CPU 0 busy the whole millisecond: the core was the limit.
  const FULL = VETH.replace('#@stat cpu0 0 0 50 150', '#@stat cpu0 0 0 100 100');

  it('stock, limited by CPU 0: poll + coupled work per packet', async () => {
    const r = replayTimeline(await timelineOf('full.txt', FULL), { models: ['stock'] });
    // CPU 0 may use 1 - 0.002 (the 2 us of NET_RX outside the poll is other traced load); the
    // untraced 0.988 ms are 98,800 ns per packet: x = 0.998 / (1000 + 98,800) ns = 10,000.
    expect(r.models[0]!.throughputPps).toBeCloseTo(0.998 / 99.8e-6, 0);
    expect(r.assumptions.map((a) => a.code)).not.toContain('sender-bound');
  });

  it('threaded, limited by CPU 0 with CPU 1 idle: the sender pays the wake-ups where it ran, the kthread runs on the idle CPU at idle-CPU cost', async () => {
    const r = replayTimeline(await timelineOf('full2.txt', FULL), { models: ['threaded'] });
    const t = r.models[0]!;
    // CPU 0 keeps the coupled work and the wake-ups (factor x 1000 ns, where the softirq poll
    // ran): x = 0.998 / (98,800 + wake) ns; the kthread's work fits on CPU 1. CPU 1 had room in
    // the capture (idle), so a woken kthread runs there at once: the idle-CPU factors
    // (parameters.ts, *_IDLE), as in experiment E1 (senders' core full, the other not).
    const wake = (f: number): number => 0.998 / ((98_800 + f * 1000) * 1e-9);
    expect(t.throughputPps).toBeCloseTo(wake(VETH_THREAD_WAKE_FACTOR_IDLE.value), 0);
    expect(t.tunnels[0]!.pollCore).toBe(1);
    expect(t.cpus[1]!.utilization).toBeCloseTo((t.throughputPps * VETH_THREAD_POLL_FACTOR_IDLE.value * 1000) / 1e9, 6);
    // Its utilization range: the kthread's work on CPU 1 at both ends (the cheap end carries more
    // packets at a lower kthread cost, the dear end fewer at a higher one).
    const ends = [(t.throughputInterval.high * VETH_THREAD_POLL_FACTOR_IDLE.low * 1000) / 1e9, (t.throughputInterval.low * VETH_THREAD_POLL_FACTOR_IDLE.high * 1000) / 1e9];
    expect(t.cpuIntervals[1]!.low).toBeCloseTo(Math.min(...ends), 6);
    expect(t.cpuIntervals[1]!.high).toBeCloseTo(Math.max(...ends), 6);
    // The interval: the wake-up factor over its range (one window: no bootstrap spread).
    expect(t.throughputInterval.low).toBeCloseTo(wake(VETH_THREAD_WAKE_FACTOR_IDLE.high), 0);
    expect(t.throughputInterval.high).toBeCloseTo(wake(VETH_THREAD_WAKE_FACTOR_IDLE.low), 0);
    expect(t.vsMeasured!.point).toBeCloseTo(t.throughputPps / 10_000, 9);
    // CPU 0 binds, but the waiting part of its wake-ups (1 - busy share) is no work: it idles then.
    const waitNs = (1 - VETH_THREAD_WAKE_BUSY_IDLE.value) * VETH_THREAD_WAKE_FACTOR_IDLE.value * 1000;
    expect(t.cpus[0]!.utilization).toBeCloseTo(1 - (t.throughputPps * waitNs) / 1e9, 6);
    expect(t.cpus[0]!.utilization).toBeLessThan(1);
    const names = r.parameters.map((p) => `${p.name}:${p.basis}`);
    expect(names).toEqual(['forwardNsPerPacket:measured', 'coupledNsPerPacket:measured', 'threadPollFactor:calibrated', 'threadWakeFactor:calibrated', 'threadWakeBusyShare:calibrated']);
    expect(r.parameters.find((p) => p.name === 'threadWakeFactor')!.source).toBe(VETH_THREAD_WAKE_FACTOR_IDLE.source);
  });

  // Both cores busy the whole millisecond (CPU 1 by load that is not ours): no idle CPU for a
  // woken kthread, so the full-core factors calibrated on E2.
  it('threaded, every core full: the full-core factors (E2)', async () => {
    const both = FULL.replace('#@stat cpu1 0 0 0 200', '#@stat cpu1 0 0 100 100');
    const r = replayTimeline(await timelineOf('full-both.txt', both), { models: ['threaded'] });
    const f = (name: string) => r.parameters.find((p) => p.name === name)!;
    expect([f('threadPollFactor').value, f('threadPollFactor').source]).toEqual([VETH_THREAD_POLL_FACTOR.value, VETH_THREAD_POLL_FACTOR.source]);
    expect([f('threadWakeFactor').value, f('threadWakeFactor').source]).toEqual([VETH_THREAD_WAKE_FACTOR.value, VETH_THREAD_WAKE_FACTOR.source]);
    expect(f('threadWakeBusyShare').value).toBe(VETH_THREAD_WAKE_BUSY.value);
  });

  it('threaded, with factors of one own calibration: the point moves as the formula says, the interval is the capture spread alone', async () => {
    const tl = await timelineOf('full3.txt', FULL);
    const r = replayTimeline(tl, { models: ['threaded'], vethThreadPollFactor: 1.2, vethThreadWakeFactor: 0.7, vethThreadWakeBusyShare: 0.5 });
    const t = r.models[0]!;
    // CPU 0: x = 0.998 / (98,800 + 0.7 x 1000) ns; CPU 1 carries 1.2 x 1000 ns per packet.
    expect(t.throughputPps).toBeCloseTo(0.998 / ((98_800 + 700) * 1e-9), 0);
    expect(t.cpus[1]!.utilization).toBeCloseTo((t.throughputPps * 1.2 * 1000) / 1e9, 6);
    // Half of the wake-up is waiting: CPU 0 idles 350 ns per packet (the throughput does not move).
    expect(t.cpus[0]!.utilization).toBeCloseTo(1 - (t.throughputPps * 350) / 1e9, 6);
    const allWork = replayTimeline(tl, { models: ['threaded'], vethThreadPollFactor: 1.2, vethThreadWakeFactor: 0.7, vethThreadWakeBusyShare: 1 }).models[0]!;
    expect(allWork.throughputPps).toBeCloseTo(t.throughputPps, 6);
    expect(allWork.cpus[0]!.utilization).toBeCloseTo(1, 6);
    // One window, so no bootstrap spread: with both factors fixed the interval is a point.
    expect(t.throughputInterval.low).toBeCloseTo(t.throughputPps, 0);
    expect(t.throughputInterval.high).toBeCloseTo(t.throughputPps, 0);
    const given = r.parameters.filter((p) => p.name.startsWith('thread')).map((p) => [p.name, p.basis, p.value, p.low, p.high]);
    expect(given).toEqual([
      ['threadPollFactor', 'option', 1.2, 1.2, 1.2],
      ['threadWakeFactor', 'option', 0.7, 0.7, 0.7],
      ['threadWakeBusyShare', 'option', 0.5, 0.5, 0.5],
    ]);
  });
});

describe('the traffic window', () => {
  it('rates are over the windows that carried traffic, not the whole probed span', async () => {
    // 10 ms of capture, polls only in windows 2..4 (1 ms windows): 3 ms of traffic.
    const lines = ['#@wgtrace-capture 1', '#@cpus 0', '#@mode events', '#@start_boot_ns 1000000000', '#@dev name=vb0 kind=veth threaded=0 rx_queues=1 irqs=- inline_en=-'];
    for (let w = 2; w <= 4; w++) {
      for (let k = 0; k < 10; k++) {
        const t = 1_000_000_000 + w * 1_000_000 + k * 90_000;
        lines.push(`SE ${t} 0 3 0 swapper/0`, `P ${t + 20_000} 0 0xffff888627c2d188 vb0 8 64 0 swapper/0`, `SX ${t + 21_000} 0 3`);
      }
    }
    lines.push('#@end_boot_ns 1010000000', '#@status complete', '');
    const tl = await timelineOf('window.txt', lines.join('\n'));
    const w = extractWorkload(tl);
    expect(w.trafficWindow).toEqual({ fromNs: 2_000_000, toNs: 5_000_000, firstWindow: 2, endWindow: 5 });
    // 240 packets in 3 ms, not in 10 ms.
    expect(w.tunnels[0]!.measuredPps).toBeCloseTo(80_000, 6);
    expect(w.assumptions.map((a) => a.code)).toContain('traffic-window');
  });
});

describe('models abstain', () => {
  it('every model, when the capture lost more than 1% of its events', async () => {
    const text = VETH.replace('SX 1000112000 0 3\n', 'SX 1000112000 0 3\nLost 5 events\n');
    const r = replayTimeline(await timelineOf('lost.txt', text), {});
    expect(r.models).toEqual([]);
    expect(r.abstained.map((a) => a.model)).toEqual(['stock', 'threaded', 'inline']);
    expect(r.abstained[0]!.reason).toMatch(/lost .*% of its events/);
  });

  it('every model, when no tunnel carried traffic', async () => {
    const text = VETH.replace('P 1000110000 0 0xffff888627c2d188 vb0 10 64 0 swapper/0\n', 'P 1000110000 0 0xffff888627c2d188 vb0 0 64 0 swapper/0\n');
    const r = replayTimeline(await timelineOf('idle.txt', text), {});
    expect(r.models).toEqual([]);
    expect(r.abstained.every((a) => a.reason === 'no tunnel carried traffic in this capture')).toBe(true);
  });
});

describe('a capture replayed in its own configuration', () => {
  it('threaded NAPI predicted from a threaded windows capture carries what was measured', async () => {
    const tl = await loadTimeline(join(import.meta.dirname, '../../traces/windows-threaded-3pairs.txt.gz'));
    const w = extractWorkload(tl);
    // Windows mode: 164 probe runs skipped of about 222 k (the windows' polls and NET_RX entries
    // and exits), not of the 4,175 map rows printed.
    expect(w.lostFraction).toBeLessThan(0.001);
    expect(w.threaded).toBe(true);
    const r = replayTimeline(tl, { models: ['threaded'] });
    expect(r.abstained).toEqual([]);
    const v = r.models[0]!.vsMeasured!;
    expect(v.point).toBeGreaterThan(0.95);
    expect(v.point).toBeLessThan(1.05);
    expect(v.low).toBeLessThanOrEqual(v.point);
    expect(v.high).toBeGreaterThanOrEqual(v.point);
    for (const c of r.models[0]!.cpuIntervals) {
      expect(c.low).toBeLessThanOrEqual(c.point);
      expect(c.high).toBeGreaterThanOrEqual(c.point);
    }
  });
});
