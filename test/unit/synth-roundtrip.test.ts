import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { extractWorkload } from '../../src/replay/workload.js';
import { replayTimeline } from '../../src/replay/index.js';
import { writeSynthFile } from '../../src/synth/file.js';
import { writeSynthCapture, type SynthOptionsInput } from '../../src/synth/writer.js';
import { loadTimeline } from '../../src/timeline/load.js';
import { computeFacts } from '../../src/detect/facts.js';

/**
 * synth -> import -> timeline: the timeline must show the load the generator planted, core by
 * core, and the workload extraction must recover the generator's per-packet costs and RSS
 * cores. The truth is read from the generator's plant, never from the analysis.
 */
const dir = mkdtempSync(join(tmpdir(), 'wgtrace-synth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SMALL: SynthOptionsInput = { tunnels: 4, cpus: 8, seconds: 0.3, seed: 3 };

async function text(o: SynthOptionsInput): Promise<string> {
  const parts: string[] = [];
  await writeSynthCapture(o, (c) => void parts.push(c));
  return parts.join('');
}

const sum = (a: Float64Array | undefined): number => (a ? a.reduce((x, y) => x + y, 0) : 0);

describe('synth determinism', () => {
  it('the same seed writes the same bytes; another seed does not', async () => {
    const a = createHash('sha256')
      .update(await text(SMALL))
      .digest('hex');
    const b = createHash('sha256')
      .update(await text(SMALL))
      .digest('hex');
    const c = createHash('sha256')
      .update(await text({ ...SMALL, seed: 4 }))
      .digest('hex');
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });
});

describe.each([
  ['bpftrace-text', 'events', false, 'cap.txt'],
  ['bpftrace-json', 'events', false, 'cap.json.gz'],
  ['bpftrace-text', 'events', true, 'thr.txt.gz'],
] as const)('round trip %s %s threaded=%s', (format, mode, threaded, name) => {
  it('the timeline shows the planted per-core load and the workload the planted costs', async () => {
    const path = join(dir, name);
    const plant = await writeSynthFile(path, { ...SMALL, format, mode, threaded });
    const tl = await loadTimeline(path);
    expect(tl.diagnostics.filter((d) => d.severity !== 'info')).toEqual([]);
    expect(tl.cpus).toEqual(plant.scenario.cpus);
    for (const pc of plant.perCore) {
      const core = tl.cores.get(pc.cpu)!;
      // Poll time is bracketed exactly as written (integer ns), in softirq or in the kthread.
      const polls = threaded ? sum(core.threadPollBusyNs) : sum(core.pollBusyNs);
      expect(polls).toBeCloseTo(pc.pollNs, 0);
      expect(sum(core.cryptBusyNs)).toBeCloseTo(pc.cryptNs, 0);
      expect(sum(core.netRxBusyNs)).toBeCloseTo(pc.softirqNs, 0);
    }
    for (const p of plant.polls) {
      const napi = tl.napis.find((n) => n.napi === p.napi)!;
      expect(napi.dev).toBe(p.dev);
      expect(napi.totals.work).toBe(p.delivered);
      expect(p.packets - p.delivered).toBeLessThan(64 * 8);
    }
    const w = extractWorkload(tl);
    expect(w.assumptions).toEqual([]);
    expect(w.threaded).toBe(threaded);
    const c = plant.scenario.costs;
    for (const t of w.tunnels) {
      const planted = plant.polls.find((p) => p.napi === t.napi)!;
      expect(t.rxCore).toBe(planted.rxCore);
      // Integer rounding of each written slice: within 1%.
      expect(Math.abs(t.forwardNsPerPacket / c.forwardNs - 1)).toBeLessThan(0.01);
      expect(Math.abs(t.rxNsPerPacket / c.rxNs - 1)).toBeLessThan(0.01);
      const wake = threaded ? c.threadedOverheadRatio * (c.rxNs + c.decryptNs + c.forwardNs) : 0;
      // A saturated core gives up a few ns of decryption to keep its step: within 2%.
      expect(Math.abs(t.decryptNsPerPacket / (c.decryptNs + wake) - 1)).toBeLessThan(0.02);
    }
  });
});

describe('synth stock plant', () => {
  it('polls converge onto the core the plant names, and replay calibrates on it', async () => {
    const path = join(dir, 'conv.txt');
    const plant = await writeSynthFile(path, { tunnels: 4, cpus: 8, seconds: 0.4, seed: 5 });
    expect(plant.convergenceNs).not.toBeNull();
    expect(plant.finalPollCores).toHaveLength(1);
    const tl = await loadTimeline(path);
    const r = replayTimeline(tl, { runs: 10, seed: 1, horizonNs: 200_000_000 });
    // The black-hole core is the busiest measured core.
    expect(r.measured.busiestCpu).toBe(plant.finalPollCores[0]);
    expect(r.measured.maxCpuUtilization).toBeGreaterThan(0.9);
    // Calibration on a capture the stock model wrote: within 2 points per core on average.
    expect(r.calibrationError.meanAbsolute).toBeLessThan(0.02);
    // Every tunnel's observed poll core is the planted black hole.
    expect(new Set(r.measured.tunnels.map((t) => t.pollCore))).toEqual(new Set(plant.finalPollCores));
  });

  it('windows mode carries the same per-core load', async () => {
    const path = join(dir, 'win.txt');
    const plant = await writeSynthFile(path, { ...SMALL, mode: 'windows' });
    const tl = await loadTimeline(path);
    expect(tl.capture.mode).toBe('windows');
    for (const pc of plant.perCore) {
      const core = tl.cores.get(pc.cpu)!;
      expect(sum(core.pollBusyNs)).toBeCloseTo(pc.pollNs, 0);
      expect(sum(core.cryptBusyNs)).toBeCloseTo(pc.cryptNs, 0);
    }
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(/^#@mode windows$/m);
  });
});

describe('synth idle records', () => {
  it.each([
    ['events', false],
    ['windows', false],
    ['events', true],
  ] as const)('%s mode (threaded %s): a core is idle exactly when no simulated work ran (plant vs idle records)', async (mode, threaded) => {
    const f = join(dir, `idle-${mode}-${threaded}.txt`);
    const plant = await writeSynthFile(f, { ...SMALL, mode, threaded });
    const tl = await loadTimeline(f, {});
    const facts = computeFacts(tl);
    const span = plant.eventsToNs - plant.eventsFromNs;
    for (const pc of plant.perCore) {
      const core = facts.coreByCpu.get(pc.cpu)!;
      expect(core.coreBusySource).toBe('idle-events');
      // The plant's busy time: softirqs (polls inside), napi thread polls, decryption.
      const planted = (pc.softirqNs + (threaded ? pc.pollNs : 0) + pc.cryptNs) / span;
      expect(Math.abs(core.coreBusy - planted), `cpu ${pc.cpu}`).toBeLessThan(0.005);
    }
  });
});
