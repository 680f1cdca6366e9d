import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayWorkload } from '../../src/replay/index.js';
import { extractWorkload } from '../../src/replay/workload.js';
import { loadTimeline } from '../../src/timeline/load.js';
import { captureLive, liveGate, withTestbed } from './testbed.js';

/**
 * The replay proof on a real kernel (issue 5): capture the veth testbed with threaded NAPI
 * off, predict threaded NAPI with `replay`, capture the same workload with threaded NAPI on,
 * and compare the predicted per-core utilization with the measured one.
 *
 * The comparison sorts the cores by load: which core the scheduler puts a napi kthread on is
 * its choice, not something the model can know; what the model predicts is how the load is
 * spread. The core-by-core error is printed too. Demand is `measured`, at the rates of the
 * threaded run (iperf3 is elastic; see below). The testbed is veth, not WireGuard: no
 * decryption stage. Needs an otherwise idle machine: another capture or iperf3 running at the
 * same time lands in both captures (`vb*` matches every testbed's devices).
 */
const gate = liveGate();
if (!gate.ok) console.log(`live replay test skipped: ${gate.reason}`);
const live = gate.ok ? describe : describe.skip;

/**
 * Mean absolute per-core error (cores sorted by utilization) allowed between prediction and
 * measurement: 15 points, on traced activity (the default) and on whole-core utilization
 * (/proc/stat). On a 2-core VM iperf3 and bpftrace saturate both cores in both runs, so the
 * whole-core figure cannot tell a good model from a bad one; the traced one can.
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
    const compare = (utilization: 'traced' | 'proc-stat'): { predicted: number[]; measured: number[]; sorted: number; coreByCore: number; calibration: number; offPps: number; onPps: number } => {
      // iperf3 is elastic: the two runs never carry the same packet rates. The same workload
      // means the same rates, so the softirq capture's workload (costs, RSS cores, load that is
      // not ours) is replayed at the rates the threaded run carried.
      const wa = extractWorkload(a, { utilization });
      const wb = extractWorkload(b, { utilization });
      const offPps = wa.tunnels.reduce((s, t) => s + t.measuredPps, 0);
      for (const t of wa.tunnels) t.measuredPps = wb.tunnels.find((u) => u.dev === t.dev)?.measuredPps ?? 0;
      const r = replayWorkload(wa, { models: ['threaded'], demand: 'measured', runs: 20, seed: 1, utilization });
      expect(wb.threaded).toBe(true);
      const predicted = r.models[0]!.cpus.map((c) => c.utilization);
      const measured = wb.cores.map((c) => c.measuredUtilization);
      const ps = [...predicted].sort((x, y) => y - x);
      const ms = [...measured].sort((x, y) => y - x);
      return {
        predicted,
        measured,
        sorted: ps.reduce((s, p, i) => s + Math.abs(p - ms[i]!), 0) / ps.length,
        coreByCore: predicted.reduce((s, p, i) => s + Math.abs(p - measured[i]!), 0) / predicted.length,
        calibration: r.calibrationError.meanAbsolute,
        offPps,
        onPps: wb.tunnels.reduce((s, t) => s + t.measuredPps, 0),
      };
    };
    for (const utilization of ['traced', 'proc-stat'] as const) {
      const c = compare(utilization);
      const pct = (v: number[]): string => v.map((u) => `${(u * 100).toFixed(1)}%`).join(' ');
      console.log(
        `live replay proof (${utilization}): predicted threaded per core ${pct(c.predicted)}; measured ${pct(c.measured)}; ` +
          `MAE sorted ${(c.sorted * 100).toFixed(1)} points, core by core ${(c.coreByCore * 100).toFixed(1)} points; ` +
          `calibration of the softirq capture ${(c.calibration * 100).toFixed(1)} points; ${Math.round(c.offPps)} pps off, ${Math.round(c.onPps)} pps on`,
      );
      expect(c.sorted).toBeLessThan(PREDICTION_MAE);
    }
  });
});
