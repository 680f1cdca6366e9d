import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../analyze-file.js';
import type { FindingJson } from '../../src/report/schema.js';
import { captureLive, liveGate, withTestbed } from './testbed.js';

/**
 * The analyze proof on a real kernel (issue 4), on the veth testbed of test/live/testbed.sh:
 * three veth NAPIs on a two-core machine (veth_xmit schedules the receiver's NAPI on the sending
 * CPU, so with three flows on two cores at least two NAPIs share one) must be reported
 * co-located; with threaded NAPI on, the report must show the polls running in threads.
 * The testbed is veth, not WireGuard: no decryption stage.
 */
const gate = liveGate();
if (!gate.ok) console.log(`live analyze test skipped: ${gate.reason}`);
const live = gate.ok ? describe : describe.skip;

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-analyze-live-'));

async function captureRun(threaded: boolean, path: string): Promise<void> {
  await withTestbed({ pairs: 3, threaded, prefix: 'wga' }, async (tb) => {
    let traffic: Promise<void> | undefined;
    await captureLive({ mode: 'events', duration: 5, path, netns: tb.netns, onProbesStart: () => (traffic = tb.traffic(3)) });
    await traffic;
  });
}

const brief = (fs: FindingJson[]): string => fs.map((f) => `${f.severity} ${f.id}: ${f.summary}`).join('\n');

live('live analyze proof (root, bpftrace, veth testbed)', () => {
  it('three veth NAPIs on two cores in softirq: reported co-located', async () => {
    const path = join(dir, 'softirq.txt');
    await captureRun(false, path);
    const { result } = await analyzeFile(path, { predict: false });
    console.log(`live analyze, softirq:\n${brief(result.findings)}`);
    expect(result.capture.cpus).toBeGreaterThanOrEqual(2);
    const busy = result.napis.filter((n) => n.polls > 0);
    expect(busy.length).toBeGreaterThanOrEqual(3);
    const co = result.findings.filter((f) => f.id === 'co-location');
    expect(co.length, brief(result.findings)).toBeGreaterThan(0);
    expect(Math.max(...co.map((f) => f.napis.length))).toBeGreaterThanOrEqual(2);
    const placement = result.findings.find((f) => f.id === 'napi-placement');
    expect(placement?.id === 'napi-placement' && placement.details.threadedPollShare).toBe(0);
  });

  it('the same with threaded NAPI on: the polls run in napi threads', async () => {
    const path = join(dir, 'threaded.txt');
    await captureRun(true, path);
    const { result } = await analyzeFile(path, { predict: false });
    console.log(`live analyze, threaded:\n${brief(result.findings)}`);
    expect(result.capture.devices.filter((d) => d.name.startsWith('vb')).every((d) => d.threaded === 1)).toBe(true);
    const busy = result.napis.filter((n) => n.polls > 0);
    expect(busy.length).toBeGreaterThanOrEqual(3);
    expect(busy.every((n) => n.mode === 'threaded' || n.mode === 'mixed')).toBe(true);
    const placement = result.findings.find((f) => f.id === 'napi-placement');
    expect(placement?.summary).toMatch(/threaded-NAPI kthreads/);
    // Any co-location left is reported as threads kept together, never with an echo to run.
    for (const f of result.findings.filter((x) => x.id === 'co-location')) {
      expect(f.recommendation?.commands.some((c) => c.startsWith('echo 1'))).toBe(false);
    }
  });
});
