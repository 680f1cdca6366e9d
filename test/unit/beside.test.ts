import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeFacts } from '../../src/detect/facts.js';
import { pollsBesideNetRx } from '../../src/timeline/beside.js';
import { loadTimeline } from '../../src/timeline/load.js';

const TRACES = join(import.meta.dirname, '../../traces');

describe('threaded polls of a windows capture ran beside NET_RX', () => {
  it("traced busy is NET_RX time plus the kthreads' poll time, not the larger of the two", async () => {
    const t = await loadTimeline(join(TRACES, 'windows-threaded-3pairs.txt.gz'));
    const beside = pollsBesideNetRx(t);
    expect(beside).toBeDefined();
    const f = computeFacts(t);
    for (const c of f.cores) {
      const sum = (a: Float64Array | undefined): number => (a ?? new Float64Array()).reduce((x, y) => x + y, 0);
      const net = c.netRxBusyNs / f.probedNs;
      const polls = sum(beside!.get(c.cpu)) / f.probedNs;
      expect(polls).toBeGreaterThan(0.1);
      // Each window holds at least the sum (the windows it fills up are capped at the window).
      expect(c.utilization).toBeGreaterThan(Math.max(net, polls) + 0.05);
      expect(c.utilization).toBeLessThanOrEqual(net + polls + 1e-9);
      expect(c.utilization).toBeGreaterThan((net + polls) * 0.95);
    }
  });

  it('nothing to add for a softirq windows capture, or in events mode', async () => {
    expect(pollsBesideNetRx(await loadTimeline(join(TRACES, 'windows-softirq-3pairs.txt.gz')))).toBeUndefined();
    expect(pollsBesideNetRx(await loadTimeline(join(TRACES, 'events-threaded-2pairs.txt.gz')))).toBeUndefined();
  });
});
