import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { liveGate } from './testbed.js';

/**
 * The what-if against the real outcome (issue 12), short: experiment E1 of
 * bench/whatif-validation.sh (2 veth pairs, the senders pinned to cpu 0) with 3 repetitions.
 * Each repetition predicts threaded NAPI from a softirq capture alone, then switches threaded
 * NAPI on under the same flows and measures the change. The bench's checks on throughput must
 * hold: the measured on/off ratio inside the predicted interval widened by 2 x CV, the
 * direction right, the interval no wider than 2x. The fourth, per-core utilization within 10
 * points of /proc/stat, is printed, not asserted: the model levels the two cores where the kernel
 * keeps the senders' core fuller, by a split that differs between machines (docs/models.md, "What
 * the validation shows": 6 to 11 points of error over nine such runs on one machine).
 * docs/models.md, "What-if validation", has the full run (E1-E4, 5 repetitions).
 */
const gate = liveGate();
if (!gate.ok) console.log(`live what-if test skipped: ${gate.reason}`);
const live = gate.ok ? describe : describe.skip;
const ROOT = join(import.meta.dirname, '../..');

interface Result {
  name: string;
  measured: { mean: number; cv: number; ratios: number[] };
  predicted?: { low: number; point: number; high: number };
  utilErr: number;
  checks?: Record<string, boolean>;
  notes: string[];
}

live('what-if against the real change (root, bpftrace, veth testbed)', () => {
  it('E1: threaded NAPI predicted from a softirq capture, then switched on', () => {
    const out = mkdtempSync(join(tmpdir(), 'wgtrace-whatif-live-'));
    const run = spawnSync('sh', [join(ROOT, 'bench/whatif-validation.sh'), '--experiments', 'E1', '--reps', '3', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
    console.log(run.stdout, run.stderr.split('\n').slice(-5).join('\n'));
    const json = spawnSync('node', [join(ROOT, 'bench/whatif-validation.mjs'), '--out', out, '--json'], { cwd: ROOT, encoding: 'utf8' });
    const [e1] = JSON.parse(json.stdout) as Result[];
    expect(e1, readFileSync(join(out, 'E1', 'samples.txt'), 'utf8')).toBeDefined();
    expect(e1!.notes).toEqual([]);
    expect(e1!.measured.ratios).toHaveLength(3);
    console.log(
      `E1: measured x${e1!.measured.mean.toFixed(2)} (CV ${e1!.measured.cv.toFixed(2)}), predicted ${JSON.stringify(e1!.predicted)}, per-core error ${(e1!.utilErr * 100).toFixed(0)} points`,
    );
    expect({ ...e1!.checks, util: undefined }, JSON.stringify(e1)).toEqual({ inside: true, direction: true, width: true, util: undefined });
  });
});
