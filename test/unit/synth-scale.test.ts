import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSynthFile } from '../../src/synth/file.js';
import { NAPI_BUDGET, type SynthOptionsInput } from '../../src/synth/writer.js';
import { checkInvariants } from '../../src/timeline/invariants.js';
import { loadTimeline } from '../../src/timeline/load.js';

/**
 * Big gateways (issue 16): synth must write stock and threaded captures at 64, 128 and 256
 * cores (stock used to stop with "step N overflows on CPU ..." once many polls shared one
 * core), and the capture must import as planted: every event line counted (by a grep of the
 * file, not by the importer), no warning, the timeline's invariants hold, each core's poll,
 * NET_RX and decrypt time equal what the writer laid out, each tunnel's delivered packets
 * equal the polls' work, and no step overflows its core.
 */
const dir = mkdtempSync(join(tmpdir(), 'wgtrace-synth-scale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sum = (a: Float64Array | undefined): number => (a ? a.reduce((x, y) => x + y, 0) : 0);
const EVENT_LINE = /^(P|SE|SX|SI|SO|WQ|WS|WE|MG|IE|IX) /;

const CASES: [string, SynthOptionsInput][] = [
  // 64 x 64 stock converges within 0.7 s: the shape that overflowed first.
  ['64 tunnels x 64 cores, stock', { tunnels: 64, cpus: 64, seconds: 0.8, seed: 1 }],
  ['64 tunnels x 64 cores, stock, rss hash', { tunnels: 64, cpus: 64, seconds: 0.3, seed: 7, rss: 'hash' }],
  ['256 tunnels x 128 cores, stock', { tunnels: 256, cpus: 128, seconds: 0.3, seed: 1 }],
  ['1024 tunnels x 128 cores, stock', { tunnels: 1024, cpus: 128, seconds: 0.1, seed: 2 }],
  ['1024 tunnels x 256 cores, stock', { tunnels: 1024, cpus: 256, seconds: 0.1, seed: 3 }],
  ['256 tunnels x 128 cores, threaded', { tunnels: 256, cpus: 128, seconds: 0.1, seed: 1, threaded: true }],
  ['1024 tunnels x 256 cores, threaded', { tunnels: 1024, cpus: 256, seconds: 0.05, seed: 1, threaded: true }],
];

describe.each(CASES)('synth at scale: %s', (_name, opts) => {
  it('writes a capture that imports as planted', async () => {
    const path = join(dir, 'cap.txt');
    const plant = await writeSynthFile(path, opts);
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n');
    const eventLines = lines.filter((l) => EVENT_LINE.test(l)).length;

    const tl = await loadTimeline(path);
    expect(tl.diagnostics.filter((d) => d.severity !== 'info')).toEqual([]);
    expect(checkInvariants(tl)).toEqual([]);
    expect(tl.capture.events).toBe(eventLines);
    expect(tl.capture.lostEvents).toBe(0);
    expect(tl.capture.skippedLines).toBe(0);
    expect(tl.cpus).toEqual(plant.scenario.cpus);

    const threaded = opts.threaded === true;
    const stepNs = plant.options.stepNs;
    const steps = (plant.eventsToNs - plant.eventsFromNs) / stepNs;
    for (const pc of plant.perCore) {
      const core = tl.cores.get(pc.cpu)!;
      const polls = threaded ? sum(core.threadPollBusyNs) : sum(core.pollBusyNs);
      expect(polls).toBeCloseTo(pc.pollNs, 0);
      expect(sum(core.cryptBusyNs)).toBeCloseTo(pc.cryptNs, 0);
      expect(sum(core.netRxBusyNs)).toBeCloseTo(pc.softirqNs, 0);
      // What the writer laid out on a core fits the core's time.
      expect(pc.softirqNs + (threaded ? pc.pollNs : 0) + pc.cryptNs).toBeLessThanOrEqual(steps * stepNs);
    }
    let packets = 0;
    let delivered = 0;
    for (const p of plant.polls) {
      const napi = tl.napis.find((n) => n.napi === p.napi)!;
      expect(napi.dev).toBe(p.dev);
      expect(napi.totals.work).toBe(p.delivered);
      expect(p.delivered).toBeLessThanOrEqual(p.packets);
      packets += p.packets;
      delivered += p.delivered;
    }
    // What a stuck poll could not do in its step waits for the next one: at most a few full
    // budgets per tunnel are still queued at the end.
    expect(packets - delivered).toBeLessThanOrEqual(plant.polls.length * 4 * NAPI_BUDGET);
    expect(delivered).toBeGreaterThan(0.95 * packets);
  });
});
