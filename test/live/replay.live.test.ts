import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayTimeline } from '../../src/replay/index.js';
import { extractWorkload, meanUtilization } from '../../src/replay/workload.js';
import { loadTimeline } from '../../src/timeline/load.js';
import { captureLive, liveGate, withTestbed } from './testbed.js';

/**
 * The replay proof on a real kernel (issue 5): capture the veth testbed with threaded NAPI
 * off, predict threaded NAPI with `replay`, capture the same workload with threaded NAPI on,
 * and compare the predicted per-core utilization with the measured one.
 *
 * The comparison sorts the cores by load: which core the scheduler puts a napi kthread on is
 * its choice, not something the model can know; what the model predicts is how the load is
 * spread. The core-by-core error is printed too. Demand is `measured` (the same iperf3
 * workload, not a saturating one). The testbed is veth, not WireGuard: no decryption stage.
 */
const gate = liveGate();
if (!gate.ok) console.log(`live replay test skipped: ${gate.reason}`);
const live = gate.ok ? describe : describe.skip;

/**
 * Mean absolute per-core error (cores sorted by utilization) allowed between prediction and
 * measurement: 15 points, on whole-core utilization (/proc/stat) and on traced activity only.
 * On a 2-core VM iperf3 and bpftrace saturate both cores in both runs, so the whole-core figure
 * cannot tell a good model from a bad one; the traced-only figure can.
 */
const PREDICTION_MAE = 0.15;

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-replay-live-'));

async function captureRun(threaded: boolean, path: string): Promise<void> {
  await withTestbed({ pairs: 2, threaded, prefix: 'wgr' }, async (tb) => {
    let traffic: Promise<void> | undefined;
    await captureLive({ mode: 'events', duration: 5, path, netns: tb.netns, onProbesStart: () => (traffic = tb.traffic(3)) });
    await traffic;
  });
}

live('live replay proof (root, bpftrace, veth testbed)', () => {
  it('predicts threaded-NAPI per-core utilization from a softirq capture', async () => {
    const off = join(dir, 'threaded-off.txt');
    const on = join(dir, 'threaded-on.txt');
    await captureRun(false, off);
    await captureRun(true, on);
    const a = await loadTimeline(off);
    const b = await loadTimeline(on);
    const r = replayTimeline(a, { models: ['threaded'], demand: 'measured', runs: 20, seed: 1 });
    const predicted = r.models[0]!.cpus;
    const wb = extractWorkload(b);
    expect(wb.threaded).toBe(true);
    const measured = wb.cores.map((c) => ({ cpu: c.cpu, utilization: c.measuredUtilization }));
    const ps = predicted.map((c) => c.utilization).sort((x, y) => y - x);
    const ms = measured.map((c) => c.utilization).sort((x, y) => y - x);
    const sortedMae = ps.reduce((s, p, i) => s + Math.abs(p - ms[i]!), 0) / ps.length;
    const coreMae = predicted.reduce((s, c) => s + Math.abs(c.utilization - (measured.find((m) => m.cpu === c.cpu)?.utilization ?? 0)), 0) / predicted.length;
    // The same on what was traced only (our NAPI, softirq and work time), without the load that
    // is not ours (iperf3, bpftrace), which saturates a small VM in both runs.
    const foreign = new Map(extractWorkload(a).cores.map((c) => [c.cpu, c.foreignLoad]));
    const po = predicted.map((c) => Math.max(0, c.utilization - (foreign.get(c.cpu) ?? 0))).sort((x, y) => y - x);
    const mo = b.cpus.map((cpu) => meanUtilization(b, cpu)).sort((x, y) => y - x);
    const tracedMae = po.reduce((s, p, i) => s + Math.abs(p - (mo[i] ?? 0)), 0) / Math.max(1, po.length);
    console.log(
      `live replay proof, traced activity only: predicted ${po.map((u) => `${(u * 100).toFixed(1)}%`).join(' ')}; measured ${mo.map((u) => `${(u * 100).toFixed(1)}%`).join(' ')}; MAE sorted ${(tracedMae * 100).toFixed(1)} points`,
    );
    console.log(
      `live replay proof: predicted threaded per-core ${predicted.map((c) => `${c.cpu}:${(c.utilization * 100).toFixed(1)}%`).join(' ')}; ` +
        `measured ${measured.map((c) => `${c.cpu}:${(c.utilization * 100).toFixed(1)}%`).join(' ')}; ` +
        `MAE sorted ${(sortedMae * 100).toFixed(1)} points, core by core ${(coreMae * 100).toFixed(1)} points; ` +
        `calibration of the softirq capture ${(r.calibrationError.meanAbsolute * 100).toFixed(1)} points; ` +
        `throughput measured off ${Math.round(r.measured.throughputPps)} pps, on ${Math.round(wb.tunnels.reduce((s, t) => s + t.measuredPps, 0))} pps`,
    );
    expect(sortedMae).toBeLessThan(PREDICTION_MAE);
    expect(tracedMae).toBeLessThan(PREDICTION_MAE);
  });
});
