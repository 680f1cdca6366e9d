import { describe, expect, it } from 'vitest';
import { runDetectors } from '../../src/detect/registry.js';
import { parseThresholdOverrides } from '../../src/detect/thresholds.js';
import type { Finding } from '../../src/detect/registry.js';
import { timelineFromNotation } from '../notation.js';

const W = { windowNs: 4_000_000 };
type Mono = Extract<Finding, { id: 'monolithic-poll' }>;
const mono = (src: string, over: string[] = []): Mono[] => {
  const th = parseThresholdOverrides(over);
  if (!th.ok) throw new Error(th.error);
  return runDetectors(timelineFromNotation(src, W), { thresholds: th.value }).findings.filter((f): f is Mono => f.id === 'monolithic-poll');
};

describe('monolithic-poll', () => {
  it('a tunnel polling full budget for 20 ms on one core is one chain of 20 polls', () => {
    const [f, ...rest] = mono(`
      cpu0: A A A A A A A A A A A A A A A A A A A A a
      cpu1: . . . . . . . . . . . . . . . . . . . . .
    `);
    expect(rest).toEqual([]);
    expect(f!.cpus).toEqual([0]);
    expect(f!.details.napis[0]!.chains).toBe(1);
    expect(f!.details.napis[0]!.chainPolls).toBe(20);
    // 20 polls fall in the log2 bucket [16, 31].
    expect(f!.details.napis[0]!.lengthHistogram).toEqual([{ minPolls: 16, maxPolls: 31, chains: 1 }]);
    expect(f!.details.napis[0]!.chainNs).toBe(20_000_000);
    expect(f!.details.napis[0]!.longest[0]).toMatchObject({ startOffsetNs: 0, endOffsetNs: 20_000_000, polls: 20 });
    // Alone on its core and not deferred to ksoftirqd: a warning, and it costs nobody else.
    expect(f!.severity).toBe('warning');
    expect(f!.details.napis[0]!.blocked).toEqual([]);
    expect(f!.recommendation!.commands).toEqual(['echo 1 > /sys/class/net/wg0/threaded']);
  });

  it('polls that complete (partial work) are not monolithic', () => {
    expect(mono('cpu0: a a a a a a a a a a a a a a a a a a a a')).toEqual([]);
  });

  it('chains broken every 4 polls stay below monolithic-min-chain-polls (8)', () => {
    const src = 'cpu0: A A A a A A A a A A A a A A A a A A A a';
    expect(mono(src)).toEqual([]);
    // Rounded down to a power of two: a threshold of 3 counts the chains of 3 (bucket 2-3).
    const [f] = mono(src, ['monolithic-min-chain-polls=3']);
    expect(f!.details.napis[0]!.chains).toBe(5);
  });

  it('NET_RX handed to ksoftirqd is evidence the core is saturated: critical', () => {
    const [f] = mono('cpu0: A Ak Ak Ak Ak Ak Ak Ak Ak Ak Ak Ak');
    expect(f!.details.cores[0]!.ksoftirqdNetRxCount).toBe(11);
    expect(f!.details.cores[0]!.ksoftirqdShare).toBeCloseTo(11 / 12, 6);
    expect(f!.severity).toBe('critical');
    expect(f!.evidence.join('\n')).toMatch(/handed to ksoftirqd\/0 11 times/);
  });

  it('a chain that holds up another tunnel names it', () => {
    // B's full-budget polls leave it scheduled, so it waits for A's polls in between; B's own
    // chain is 4 polls, too short to be monolithic.
    const fs = mono('cpu0: A A A B A A A B A A A B A A A B A A A');
    expect(fs.map((f) => f.napis[0]!.dev)).toEqual(['wg0']);
    expect(fs[0]!.details.napis[0]!.blocked.map((b) => b.dev)).toEqual(['wg1']);
    expect(fs[0]!.severity).toBe('critical');
  });

  it('several tunnels monolithic on one core are one finding for that core', () => {
    const fs = mono('cpu0: A B C A B C A B C A B C A B C A B C A B C A B C A B C');
    expect(fs).toHaveLength(1);
    expect(fs[0]!.details.napis.map((n) => [n.dev, n.chains, n.chainPolls])).toEqual([
      ['wg0', 1, 9],
      ['wg1', 1, 9],
      ['wg2', 1, 9],
    ]);
    expect(fs[0]!.summary).toMatch(/^3 tunnels' polls are monolithic on cpu 0/);
    expect(fs[0]!.recommendation!.commands).toHaveLength(3);
  });

  it('threaded polls that hold only their own thread are one informational finding over their cores', () => {
    const fs = mono(`
      tunnel A threaded=1
      tunnel B threaded=1
      cpu0: At At At At At At At At At At
      cpu1: Bt Bt Bt Bt Bt Bt Bt Bt Bt Bt
    `);
    expect(fs).toHaveLength(1);
    expect([fs[0]!.severity, fs[0]!.cpus, fs[0]!.details.napis.map((n) => [n.cpu, n.dev])]).toEqual([
      'info',
      [0, 1],
      [
        [0, 'wg0'],
        [1, 'wg1'],
      ],
    ]);
  });

  it('a threaded poll that never completes is limited to one core: information, no echo', () => {
    const [f] = mono(`
      tunnel A threaded=1
      cpu0: At At At At At At At At At At
    `);
    expect(f!.details.napis[0]!.mode).toBe('threaded');
    expect(f!.severity).toBe('info');
    expect(f!.recommendation!.commands).toEqual([]);
  });
});

describe('monolithic-poll in windows mode (no poll order, no chains)', () => {
  it('is inferred from per-window counts when nearly every poll used the whole budget', async () => {
    const { TimelineBuilder } = await import('../../src/timeline/builder.js');
    const build = (full: number) => {
      const b = new TimelineBuilder({});
      b.header({
        formatVersion: 1,
        cpus: [0, 1],
        mode: 'windows',
        intervalNs: 10_000_000,
        devices: [{ name: 'wg0', kind: 'wireguard', threaded: 0 }],
        startBootNs: '1000000000000',
        endBootNs: '1000020000000',
        status: 'complete',
      });
      for (const ts of [10_000_000, 20_000_000]) {
        b.push([
          { kind: 'window_napi', ts: ts as never, intervalNs: 10_000_000, cpu: 0, napi: '0xffff888100001000', dev: 'wg0', busyNs: 9_000_000, polls: 100, work: 100 * 64, fullBudgetPolls: full },
          {
            kind: 'window_cpu',
            ts: ts as never,
            intervalNs: 10_000_000,
            cpu: 0,
            netRxBusyNs: 9_500_000,
            netRxCount: 3,
            netTxBusyNs: 0,
            netTxCount: 0,
            cryptBusyNs: 0,
            cryptCount: 0,
            ksoftirqdNetRxCount: 2,
          },
        ]);
      }
      return b.finish({ format: 'bpftrace-text', origin: 1_000_000_000_000n as never, originFromHeader: true, lines: 0, events: 4, lostEvents: 0, skippedLines: 0 });
    };
    const find = (full: number) => runDetectors(build(full)).findings.filter((f): f is Mono => f.id === 'monolithic-poll');
    const [f] = find(95);
    expect(f!.details.napis[0]!.inferredFromWindows).toBe(true);
    expect(f!.details.napis[0]!.fullBudgetShare).toBeCloseTo(0.95, 6);
    expect(f!.details.napis[0]!.coreShare).toBeCloseTo(0.9, 6);
    expect(f!.evidence[0]).toMatch(/windows mode: chains inferred/);
    // Half of the polls completing: not monolithic (below monolithic-min-full-share 0.9).
    expect(find(50)).toEqual([]);
  });
});
