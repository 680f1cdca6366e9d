import { describe, expect, it } from 'vitest';
import { runDetectors } from '../../src/detect/registry.js';
import type { Finding } from '../../src/detect/registry.js';
import { timelineFromNotation } from '../notation.js';

const W = { windowNs: 4_000_000 };
type Imb = Extract<Finding, { id: 'core-imbalance' }>;
const imbalance = (src: string): Imb[] => runDetectors(timelineFromNotation(src, W)).findings.filter((f): f is Imb => f.id === 'core-imbalance');

describe('core-imbalance', () => {
  it('one saturated core beside three idle ones: critical, names both sides', () => {
    const [f] = imbalance(`
      cpu0: A B A B A B A B
      cpu1: . . . . . . . .
      cpu2: # . . . . . . .
      cpu3: . . . . . . . .
    `);
    expect(f!.severity).toBe('critical');
    expect(f!.details.maxCpu).toBe(0);
    expect(f!.details.saturated.map((s) => s.cpu)).toEqual([0]);
    expect(f!.details.idle).toEqual([1, 2, 3]);
    // Mean of 100%, 0%, 12.5% and 0%.
    expect(f!.details.meanUtilization).toBeCloseTo(1.125 / 4, 6);
    expect(f!.details.ratio).toBeCloseTo(4 / 1.125, 6);
    expect(f!.napis.map((n) => n.dev)).toEqual(['wg0', 'wg1']);
    expect(f!.recommendation!.text).toMatch(/Tunnel polls dominate cpu 0/);
  });

  it('the same load spread over the cores is no imbalance', () => {
    expect(
      imbalance(`
        cpu0: A A A A A A A A
        cpu1: B B B B B B B B
        cpu2: C C C C C C C C
        cpu3: # # # # # # # #
      `),
    ).toEqual([]);
  });

  it('NIC receive (NET_RX without tunnel polls) dominating the busiest core points at RSS', () => {
    const [f] = imbalance(`
      cpu0: ~ ~ ~ ~ ~ ~ ~ ~
      cpu1: . . . . . . . .
    `);
    expect(f!.recommendation!.commands).toContain('ethtool -x <nic>');
  });

  it('utilization is over the span the probes observed, not the time before they attached', () => {
    // 16 columns, probes attached at column 8: cpu0 busy all 8 probed columns is 100%, not 50%.
    const t = timelineFromNotation('probes 8 16\ncpus 0-1\ncpu0: . . . . . . . . A A A A A A A A', W);
    const { facts } = runDetectors(t);
    expect([facts.probedFromOffsetNs, facts.probedNs]).toEqual([8_000_000, 8_000_000]);
    expect(facts.coreByCpu.get(0)!.utilization).toBe(1);
  });

  it('idle CPUs from the header count: one busy core of four', () => {
    const [f] = imbalance(`
      cpus 0-3
      cpu0: A A A A A A A A
    `);
    expect(f!.details.idle).toEqual([1, 2, 3]);
  });
});
