import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../analyze-file.js';

/**
 * Advice that follows from the evidence (issue 11): nothing is recommended that the replay
 * models predict to lose throughput, Inline only for WireGuard, commands valid for the device.
 */
const TRACES = join(import.meta.dirname, '../../traces');

describe('advice', () => {
  it('a change the models predict to lose throughput is not recommended and shows no command (veth, 4 NAPIs on 2 cores)', async () => {
    const { result } = await analyzeFile(join(TRACES, 'windows-softirq-4pairs.json.gz'));
    const recs = result.findings.flatMap((f) => (f.recommendation ? [f.recommendation] : []));
    expect(recs.length).toBeGreaterThan(0);
    for (const r of recs) {
      if (r.predictedGain === undefined) continue;
      expect(r.predictedGain.model).not.toBe('inline'); // veth NAPIs are not WireGuard
      if (r.predictedGain.throughputRatio !== null && r.predictedGain.throughputRatio < 1.05) {
        expect(r.text).toMatch(/^Not recommended: /);
        expect(r.commands).toEqual([]);
      }
    }
    expect(recs.some((r) => r.text.startsWith('Not recommended'))).toBe(true);
  }, 60_000);

  it('a change the models predict to gain keeps its commands (the talk scenario)', async () => {
    const { result } = await analyzeFile(join(TRACES, 'synthetic-talk-8x32-stock.txt.gz'));
    const first = result.findings[0]!;
    expect(first.id).toBe('co-location');
    expect(first.recommendation!.predictedGain!.throughputRatio).toBeGreaterThan(1.05);
    expect(first.recommendation!.commands).toContain('echo 1 > /sys/class/net/wg0/threaded');
  }, 60_000);

  it('every command shown for a veth in a network namespace runs there', async () => {
    const { result } = await analyzeFile(join(TRACES, 'events-softirq-3pairs.txt.gz'), { predict: false });
    const cmds = result.findings.flatMap((f) => f.recommendation?.commands ?? []).filter((c) => c.includes('/threaded'));
    expect(cmds.length).toBeGreaterThan(0);
    for (const c of cmds) expect(c).toMatch(/^ip netns exec wgtb sh -c 'echo 1 > \/sys\/class\/net\/vb\d\/threaded'$/);
  }, 60_000);
});
