import { describe, expect, it } from 'vitest';
import { runDetectors } from '../../src/detect/registry.js';
import type { Detector, Finding } from '../../src/detect/finding.js';
import { DETECTORS } from '../../src/detect/registry.js';
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
    // 8 columns of polls; the softirq entries and exits of the first 5 are lost, so the builder
    // stretches those polls back to the capture start: 8 ms of polls in 3 ms of NET_RX.
    const n = compileNotation('cpu0: A A A A A A A A');
    const b = new TimelineBuilder({ windowNs: 4_000_000 });
    b.header(n.header!);
    b.push(n.events.filter((e) => !((e.kind === 'softirq_entry' && e.ts < 5_000_000) || (e.kind === 'softirq_exit' && e.ts <= 5_000_000))));
    const [f] = dq(runDetectors(b.finish(n.summary)).findings);
    expect(f!.evidence.join('\n')).toMatch(/poll time outside any traced NET_RX softirq: cpu 0 /);
  });

  it('a detector that throws does not sink the report: it becomes a data-quality finding', () => {
    const broken: Detector = {
      id: 'monolithic-poll',
      title: 'broken',
      detect() {
        throw new Error('boom');
      },
    };
    const detectors = DETECTORS.map((d) => (d.id === 'monolithic-poll' ? broken : d));
    const { findings } = runDetectors(timelineFromNotation('cpu0: A B A B A B A B', W), { detectors });
    expect(findings.some((f) => f.id === 'co-location')).toBe(true);
    const [f] = dq(findings);
    expect(f!.details.failedDetectors).toEqual([{ id: 'monolithic-poll', message: 'boom' }]);
    expect(f!.summary).toMatch(/1 detector\(s\) failed: monolithic-poll/);
  });
});
