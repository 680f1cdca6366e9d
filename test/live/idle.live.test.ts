import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeFacts, procStatBusy } from '../../src/detect/facts.js';
import { loadTimeline } from '../../src/timeline/load.js';
import { captureLive, liveGate, withTestbed } from './testbed.js';

/**
 * Whole-core busy time from the capture's own idle records (format 3: `IE`/`IX` in events
 * mode, `@idle` in windows mode), checked two ways on real veth traffic in our own namespaces:
 *
 * 1. Events and windows captures of the same traffic at once (both probes see every switch)
 *    must agree per core within 2 points: the two capture paths measure the same thing.
 * 2. Against /proc/stat over the same span. Issue 11 asked for 2 points; on this machine's kernel
 *    (NO_HZ_IDLE, tick-based CPU accounting, a 2-core VM) /proc/stat's busy fields are sampled
 *    at the 4 ms tick while its idle is the nohz sleep time, and the two part by several points
 *    whenever idle periods are shorter than a tick: iperf3 paced at 500 Mbit/s gave 0.0% busy in
 *    /proc/stat and 7.6% out of the idle task; unpaced, 77.7% against 74.3%; at 2 Gbit/s 6.7%
 *    against 13.6% (docs/findings.md, "Whole-core busy time"). So the bound here is
 *    PROC_STAT_AGREEMENT, which catches a gross error (a missed idle period, a window counted
 *    twice), not the kernel's own sampling.
 */
const gate = liveGate();
if (!gate.ok) console.log(`live idle tests skipped: ${gate.reason}`);
const live = gate.ok ? describe : describe.skip;

/**
 * Points of a core between the events and the windows capture of the same traffic. Not 2: each
 * wrapper's probes attach and detach at their own moment, so the two probed spans differ by up to
 * a few hundred ms at their ends (measured: 0.4 and 2.2 points).
 */
const MODES_AGREEMENT = 0.03;
/** Points of a core between the idle records and /proc/stat (see above for why not 2). */
const PROC_STAT_AGREEMENT = 0.1;

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-live-idle-'));

live('live idle records (root, bpftrace, veth testbed)', () => {
  it('events and windows captures of the same traffic agree on every core\'s busy time; both are near /proc/stat', async () => {
    await withTestbed({ pairs: 1, threaded: false, devPrefix: 'i' }, async (tb) => {
      const paths = { events: join(dir, 'idle-events.txt'), windows: join(dir, 'idle-windows.txt') };
      // The traffic starts once both probes are attached and outlasts both captures.
      let attached = 0;
      let traffic: Promise<void> | undefined;
      const onProbesStart = (): void => {
        if (++attached === 2) traffic = tb.traffic(6);
      };
      await Promise.all([
        captureLive({ mode: 'events', devices: tb.devices, duration: 5, path: paths.events, onProbesStart }),
        captureLive({ wrapper: 'sh', mode: 'windows', devices: tb.devices, duration: 5, path: paths.windows, onProbesStart }),
      ]);
      await traffic;
      const busy = new Map<string, Map<number, number>>();
      const report: string[] = [];
      let eventsLost = 0;
      for (const mode of ['events', 'windows'] as const) {
        const tl = await loadTimeline(paths[mode], {});
        if (mode === 'events') eventsLost = tl.capture.lostEvents;
        // A lost switch from idle leaves an idle period open to the next event seen (clamped): a
        // lossy events capture says so in every figure and is not held to the bounds.
        const held = mode === 'windows' || eventsLost === 0;
        const h = tl.capture.header!;
        expect(h.formatVersion).toBeGreaterThanOrEqual(3);
        const stat = procStatBusy(h);
        const m = new Map<number, number>();
        for (const core of computeFacts(tl).cores) {
          expect(core.coreBusySource, `${mode} cpu${core.cpu}`).toBe('idle-events');
          const kernel = stat.get(core.cpu);
          expect(kernel, `${mode} cpu${core.cpu}: no /proc/stat in the header`).toBeDefined();
          m.set(core.cpu, core.coreBusy);
          report.push(`${mode} cpu${core.cpu}: idle records ${(core.coreBusy * 100).toFixed(1)}%, /proc/stat ${(kernel! * 100).toFixed(1)}%`);
          if (held) expect(Math.abs(core.coreBusy - kernel!), report.join('; ')).toBeLessThanOrEqual(PROC_STAT_AGREEMENT);
        }
        busy.set(mode, m);
      }
      console.log(`whole-core busy (events capture lost ${eventsLost}): ${report.join('; ')}`);
      if (eventsLost > 0) return;
      for (const [cpu, e] of busy.get('events')!) {
        const w = busy.get('windows')!.get(cpu);
        expect(w, `cpu${cpu} in the windows capture`).toBeDefined();
        expect(Math.abs(e - w!), report.join('; ')).toBeLessThanOrEqual(MODES_AGREEMENT);
      }
    });
  });
});
