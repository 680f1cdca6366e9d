import { describe, expect, it } from 'vitest';
import { bootSeconds, coreShares, CORE_SEGMENTS, deviceGroups } from '../../src/report/analyze-text.js';
import { segmentCells, stackedBar } from '../../src/report/render/bars.js';
import { PLAIN } from '../../src/report/render/style.js';
import type { CpuJson } from '../../src/report/schema.js';

const cpu = (o: Partial<CpuJson> & { utilization: number }): CpuJson => ({
  cpu: 0,
  coreBusy: o.utilization,
  coreBusyNs: 0,
  coreBusySource: 'traced',
  untracedBusyNs: 0,
  tunnelPollBusyNs: o.pollBusyNs ?? 0,
  otherNapiPollBusyNs: 0,
  netRx: { count: 0, busyNs: 0, ksoftirqdCount: 0, ksoftirqdBusyNs: 0 },
  pollBusyNs: 0,
  threadPollBusyNs: 0,
  cryptBusyNs: 0,
  netTxBusyNs: 0,
  otherWorkBusyNs: 0,
  ...o,
});

describe('per-core bars', () => {
  it('segments round on the cumulative sum, so the bar is exactly round(total * width)', () => {
    expect(segmentCells([0.333, 0.333, 0.333], 10)).toEqual([3, 4, 3]);
    expect(segmentCells([0.5, 0.5], 10)).toEqual([5, 5]);
    expect(segmentCells([1.2], 10)).toEqual([10]);
    expect(stackedBar([0.2, 0.3, 0, 0], CORE_SEGMENTS, 10, PLAIN)).toBe('##===     ');
  });

  it('NET_RX time that was spent in softirq polls is drawn once, as polls', () => {
    // 10 ms capture: 6 ms NET_RX of which 4 ms polls, 2 ms crypt, 80% busy.
    const s = coreShares(cpu({ utilization: 0.8, netRx: { count: 1, busyNs: 6e6, ksoftirqdCount: 0, ksoftirqdBusyNs: 0 }, pollBusyNs: 4e6, cryptBusyNs: 2e6 }), 10e6);
    expect(s.map((x) => Number(x.toFixed(6)))).toEqual([0.2, 0.4, 0, 0.2, 0, 0]);
  });

  it('nested slices adding up past the busy union are scaled down to it', () => {
    // A softirq interrupting a kworker's crypt item counts in both: parts sum to 1.2, busy 0.9.
    const s = coreShares(cpu({ utilization: 0.9, pollBusyNs: 6e6, netRx: { count: 1, busyNs: 6e6, ksoftirqdCount: 0, ksoftirqdBusyNs: 0 }, cryptBusyNs: 6e6 }), 10e6);
    expect(s.reduce((a, b) => a + b, 0)).toBeCloseTo(0.9, 9);
    expect(s[1]).toBeCloseTo(s[3]!, 9);
  });

  it('thread polls are polls but not NET_RX', () => {
    const s = coreShares(cpu({ utilization: 0.5, pollBusyNs: 5e6, threadPollBusyNs: 5e6 }), 10e6);
    expect(s).toEqual([0, 0.5, 0, 0, 0, 0]);
  });

  it('the whole-core busy time past the traced work is the untraced rest; other NAPIs are their own part', () => {
    const s = coreShares(cpu({ utilization: 0.5, coreBusy: 1, pollBusyNs: 5e6, tunnelPollBusyNs: 3e6, otherNapiPollBusyNs: 2e6, threadPollBusyNs: 5e6 }), 10e6);
    expect(s.map((x) => Number(x.toFixed(6)))).toEqual([0, 0.3, 0.2, 0, 0, 0.5]);
  });
});

describe('boot-time seconds', () => {
  it('are exact past 2^53 ns (string arithmetic)', () => {
    expect(bootSeconds('17280000123456789')).toBe('17280000.123456789 s');
    expect(bootSeconds('5')).toBe('0.000000005 s');
    expect(bootSeconds('1000000000')).toBe('1.000000000 s');
  });
});

describe('device list', () => {
  it('groups devices by kind and threaded flag and collapses numbered runs', () => {
    const wg = (i: number, threaded?: number) => ({ name: `wg${i}`, kind: 'wireguard', ...(threaded === undefined ? {} : { threaded }) });
    expect(deviceGroups([0, 1, 2, 3].map((i) => wg(i, 0)))).toBe('wg0-wg3 (wireguard, threaded=0)');
    expect(deviceGroups([wg(0, 1), wg(1, 1), wg(2, 0), { name: 'eth0', kind: 'physical' }, wg(5, 1)])).toBe(
      'wg0, wg1, wg5 (wireguard, threaded=1), wg2 (wireguard, threaded=0), eth0 (physical, threaded=?)',
    );
  });
});
