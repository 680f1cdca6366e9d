import type { Ns } from '../../src/base/time.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AnyDetector } from '../../src/detect/finding.js';
import { DETECTORS, runDetectors, type Finding } from '../../src/detect/registry.js';
import { timelineFromNotation } from '../notation.js';

const W = { windowNs: 4_000_000 };
type Dq = Extract<Finding, { id: 'data-quality' }>;
const dq = (fs: Finding[]): Dq[] => fs.filter((f): f is Dq => f.id === 'data-quality');

describe('data-quality', () => {
  it('a clean capture has no data-quality finding and nothing is marked lossy', () => {
    const { findings } = runDetectors(timelineFromNotation('cpu0: A B A B A B A B', W));
    expect(dq(findings)).toEqual([]);
    expect(findings.every((f) => !f.lossy)).toBe(true);
  });

  it('lost events: 6 of 30 is critical, and every other finding says it is computed over lossy data', () => {
    // 8 columns of one softirq with one poll each: 3 events per column, 24 events, + 6 lost.
    const { findings } = runDetectors(timelineFromNotation('lost 6\ncpu0: A B A B A B A B', W));
    const [f] = dq(findings);
    expect(f!.details.lostEvents).toBe(6);
    expect(f!.details.lostShare).toBeCloseTo(6 / 30, 6);
    expect(f!.severity).toBe('critical');
    const others = findings.filter((x) => x.id !== 'data-quality');
    expect(others.length).toBeGreaterThan(0);
    for (const o of others) {
      expect(o.lossy).toBe(true);
      expect(o.summary).toMatch(/over lossy data: 6 events lost/);
    }
  });

  it('no header: CPUs guessed from events, and the capture status is unknown', () => {
    const [f] = dq(runDetectors(timelineFromNotation('noheader\ncpu0: A A A A', W)).findings);
    expect(f!.details.headerMissing).toBe(true);
    expect(f!.details.cpusGuessed).toBe(true);
    expect(f!.severity).toBe('warning');
  });

  it('a capture cut off (no #@status) is partial', () => {
    const [f] = dq(runDetectors(timelineFromNotation('status partial\ncpu0: A A A A', W)).findings);
    expect(f!.details.status).toBe('partial');
    expect(f!.evidence.join('\n')).toMatch(/cut off/);
  });

  it('no polls at all: says there is nothing to diagnose', () => {
    const [f] = dq(runDetectors(timelineFromNotation('cpu0: # # ~ ~', W)).findings);
    expect(f!.evidence.join('\n')).toMatch(/no napi_poll events/);
  });

  it('softirq poll time beyond the NET_RX time (softirq entries lost) is flagged', async () => {
    const { compileNotation } = await import('../notation.js');
    const { TimelineBuilder } = await import('../../src/timeline/builder.js');
    // In-kernel windows where the polls took 3 ms but NET_RX only 1 ms (the script attached
    // its softirq probes late). The events-mode builder no longer makes such polls up: polls
    // with no NET_RX softirq around them are counted, not timed (rule 10, tested in
    // timeline-builder.test.ts).
    const n = compileNotation('cpu0: A A A A');
    const b = new TimelineBuilder({});
    b.header({ ...n.header!, mode: 'windows', intervalNs: 4_000_000 });
    b.push([
      { kind: 'window_napi', ts: 4_000_000 as Ns, intervalNs: 4_000_000, cpu: 0, napi: '0xffff888100001000', dev: 'wg0', busyNs: 3_000_000, polls: 3, work: 192, fullBudgetPolls: 3 },
      {
        kind: 'window_cpu',
        ts: 4_000_000 as Ns,
        intervalNs: 4_000_000,
        cpu: 0,
        netRxBusyNs: 1_000_000,
        netRxCount: 1,
        netTxBusyNs: 0,
        netTxCount: 0,
        cryptBusyNs: 0,
        cryptCount: 0,
        ksoftirqdNetRxCount: 0,
      },
    ]);
    const [f] = dq(runDetectors(b.finish(n.summary)).findings);
    expect(f!.evidence.join('\n')).toMatch(/poll time outside any traced NET_RX softirq: cpu 0 /);
  });

  it('a detector that throws does not sink the report: it becomes a data-quality finding', () => {
    const broken: AnyDetector = {
      id: 'monolithic-poll',
      title: 'broken',
      details: z.object({}),
      detect() {
        throw new Error('boom');
      },
    };
    const detectors = DETECTORS.map((d): AnyDetector => (d.id === 'monolithic-poll' ? broken : d));
    const { findings } = runDetectors(timelineFromNotation('cpu0: A B A B A B A B', W), { detectors });
    expect(findings.some((f) => f.id === 'co-location')).toBe(true);
    const [f] = dq(findings);
    expect(f!.details.failedDetectors).toEqual([{ id: 'monolithic-poll', message: 'boom' }]);
    expect(f!.summary).toMatch(/1 detector\(s\) failed: monolithic-poll/);
  });
});
