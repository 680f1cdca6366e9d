import { describe, expect, it } from 'vitest';

// bench/whatif-validation.sh's samples, as bench/whatif-samples.mjs reads them for the checks and
// the calibration. A flow that ended inside a repetition (E4-4 of the run of 2026-12-03 08:17:
// ratio x0.07, its iperf3 clients gone before the "on" phase ended) must be left out, not averaged.
const modulePath = '../../bench/whatif-samples.mjs';

interface Samples {
  repetitionRatio(samples: Map<string, unknown>, r: number): { ratio?: number; reason?: string };
  parseSamples(text: string): { meta: Record<string, string>; samples: Map<string, unknown> };
}

const CPU = (busy: number) => `cpu0,${busy},0,0,${1000 - busy},0,0,0,0,0,0`;
function text(flowsAtEnd: number | undefined, onPackets = 1_600_000): string {
  const f = (n: number | undefined) => (n === undefined ? '' : ` flows:${n}`);
  const t = (s: number) => `${s}000000000`;
  return [
    'experiment E4-2 pairs 2 pin - hog - reps 1 mode windows',
    `off-start 1 ${t(1)} vb0=0 vb1=0 ${CPU(100)}${f(2)}`,
    `off-end 1 ${t(4)} vb0=1500000 vb1=1500000 ${CPU(400)}${f(2)}`,
    `capture-start 1 ${t(4)} vb0=1500000 vb1=1500000 ${CPU(400)}${f(2)}`,
    `capture-end 1 ${t(10)} vb0=4500000 vb1=4500000 ${CPU(900)}${f(2)}`,
    `on-start 1 ${t(11)} vb0=5000000 vb1=5000000 ${CPU(950)}${f(2)}`,
    `on-end 1 ${t(14)} vb0=${5_000_000 + onPackets / 2} vb1=${5_000_000 + onPackets / 2} ${CPU(999)}${f(flowsAtEnd)}`,
  ].join('\n');
}

describe('what-if validation samples', () => {
  it('gives the on/off ratio of a repetition whose flows ran throughout', async () => {
    const m = (await import(modulePath)) as Samples;
    const { samples } = m.parseSamples(text(2));
    // off: 3 M packets in 3 s; on: 1.6 M in 3 s.
    expect(m.repetitionRatio(samples, 1).ratio).toBeCloseTo(1.6 / 3, 9);
  });

  it('leaves out a repetition in which a flow ended, saying so', async () => {
    const m = (await import(modulePath)) as Samples;
    const { samples } = m.parseSamples(text(1, 200_000));
    expect(m.repetitionRatio(samples, 1)).toEqual({ reason: 'a flow ended inside the repetition (1 of 2 iperf3 clients running at its end)' });
  });

  it('reads samples written before the flows were counted as before', async () => {
    const m = (await import(modulePath)) as Samples;
    const { samples } = m.parseSamples(text(undefined, 200_000).replace(/ flows:\d+/g, ''));
    expect(m.repetitionRatio(samples, 1).ratio).toBeCloseTo(0.2 / 3, 9);
  });
});
