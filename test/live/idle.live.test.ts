import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeFacts } from '../../src/detect/facts.js';
import { procStatBusy } from '../../src/model/proc-stat.js';
import { loadTimeline } from '../../src/timeline/load.js';
import type { Timeline } from '../../src/timeline/types.js';
import { captureLive, liveGate, withTestbed } from './testbed.js';

/**
 * Whole-core busy time from the capture's own idle records (format 3: `IE`/`IX` in events
 * mode, `@idle` in windows mode), matched to the kernel's idle accounting, checked on real veth
 * traffic in our own namespaces.
 *
 * The records time the idle task (sched_switch to and from pid 0); the kernel's idle clock, the
 * one /proc/stat and mpstat show, runs inside that and counts a few us of every idle period busy
 * (kernel/time/tick-sched.c: tick_nohz_idle_enter .. tick_nohz_idle_exit, stopped at irq entry).
 * Measured on this 2-core VM: 7 to 15 us a period, 5 to 14 points of a core at 3,000 to 12,000
 * periods a second (docs/findings.md, "Whole-core busy time"). The timeline takes that cost off per
 * idle period, fitted to /proc/stat over the probed span (src/timeline/idle-calibration.ts). So:
 *
 * 1. Events and windows captures of the same traffic at once: where calibrated, every core within
 *    2 points of the /proc/stat difference over the same span (issue 11), the cost per period
 *    plausible, and the two captures within 3 points of each other.
 * 2. The part the fit does not force: how the kernel's idle is spread over time. Traffic for the
 *    first half of a capture only, /proc/stat read by this test at the middle: each half's busy
 *    from the calibrated timeline within 2 points of the kernel's over that half. Taking the
 *    total off in proportion to idle time instead would move ~8 points of busy into the idle half.
 */
const gate = liveGate();
if (!gate.ok) console.log(`live idle tests skipped: ${gate.reason}`);
const live = gate.ok ? describe : describe.skip;

/** Points of a core between the timeline and /proc/stat over the same span (issue 11). */
const PROC_STAT_AGREEMENT = 0.02;
/**
 * Points of a core between the events and the windows capture of the same traffic. Not 2: each
 * wrapper's probes attach and detach at their own moment (capture.sh's shell watcher reads the
 * counters 0.2 to 0.5 s late when both cores are full), so the two spans differ at their ends.
 */
const MODES_AGREEMENT = 0.03;
/** A kernel-busy cost per idle period above this is no switch-and-irq cost: something is wrong. */
const PER_PERIOD_MAX_NS = 100_000;

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-live-idle-'));

/** /proc/stat's per-CPU rows with a CLOCK_MONOTONIC stamp (the capture's clock; src/capture/system.ts). */
function readStat(): { ns: bigint; stat: Record<string, number[]> } {
  const a = process.hrtime.bigint();
  const text = readFileSync('/proc/stat', 'utf8');
  const b = process.hrtime.bigint();
  const stat: Record<string, number[]> = {};
  for (const m of text.matchAll(/^cpu(\d+) (.*)$/gm)) stat[m[1]!] = m[2]!.trim().split(/\s+/).map(Number);
  return { ns: (a + b) / 2n, stat };
}

/** The calibrated timeline's whole-core busy share of cpu over [from, to) (ns relative to the windows). */
function busyOver(tl: Timeline, cpu: number, from: number, to: number): number {
  const facts = computeFacts(tl);
  const series = facts.coreByCpu.get(cpu)!.coreBusySeries;
  let busy = 0;
  let len = 0;
  for (let w = 0; w < tl.windowCount; w++) {
    const a = w * tl.windowNs;
    const part = Math.max(0, Math.min(a + tl.windowNs, to) - Math.max(a, from));
    busy += part * (series[w] ?? 0);
    len += part;
  }
  return len > 0 ? busy / len : NaN;
}

live('live idle records (root, bpftrace, veth testbed)', () => {
  it('events and windows captures of the same traffic: each core matched to /proc/stat within 2 points, and to each other', async () => {
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
          const kernel = stat.get(core.cpu);
          expect(kernel, `${mode} cpu${core.cpu}: no /proc/stat in the header`).toBeDefined();
          m.set(core.cpu, core.coreBusy);
          if (core.coreBusySource !== 'idle-events') {
            // A core never idle while the probes ran has no idle records: its busy is /proc/stat's.
            expect(core.coreBusySource, `${mode} cpu${core.cpu}`).toBe('proc-stat');
            expect(kernel!, `${mode} cpu${core.cpu}: no idle records, yet /proc/stat saw idle`).toBeGreaterThan(1 - PROC_STAT_AGREEMENT);
            report.push(`${mode} cpu${core.cpu}: never idle, /proc/stat ${(kernel! * 100).toFixed(1)}%`);
            continue;
          }
          const k = core.idleCalibration!;
          report.push(
            `${mode} cpu${core.cpu}: ${(core.coreBusy * 100).toFixed(1)}% (records ${(100 * (1 - k.idleTaskNs / Math.max(1, k.fitNs))).toFixed(1)}%, ` +
              `${k.applied ? `${(k.perPeriodNs / 1000).toFixed(1)} us x ${Math.round(k.periods)} periods` : `not calibrated: ${k.reason}`}), /proc/stat ${(kernel! * 100).toFixed(1)}%`,
          );
          if (!held) continue;
          // The events wrapper reads the counters as the marks arrive: always matched, unless
          // records and kernel agree within /proc/stat's rounding already.
          if (mode === 'events' && !k.applied) expect(k.reason, report.join('; ')).toMatch(/within its rounding/);
          if (k.applied) {
            expect(Math.abs(core.coreBusy - kernel!), report.join('; ')).toBeLessThanOrEqual(PROC_STAT_AGREEMENT);
            expect(k.perPeriodNs, report.join('; ')).toBeGreaterThanOrEqual(0);
            expect(k.perPeriodNs, report.join('; ')).toBeLessThanOrEqual(PER_PERIOD_MAX_NS);
          } else {
            // Left as recorded: within /proc/stat's rounding (2 points), or the windows wrapper's
            // counters were read too far from its probes (then within 3).
            expect(Math.abs(core.coreBusy - kernel!), report.join('; ')).toBeLessThanOrEqual(/within its rounding/.test(k.reason ?? '') ? PROC_STAT_AGREEMENT : MODES_AGREEMENT);
          }
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

  it('traffic in the first half only: each half of the calibrated timeline within 2 points of /proc/stat read at the middle', async () => {
    await withTestbed({ pairs: 1, threaded: false, devPrefix: 'j' }, async (tb) => {
      const path = join(dir, 'idle-halves.txt');
      let traffic: Promise<void> | undefined;
      let mid: ReturnType<typeof readStat> | undefined;
      let midTimer: NodeJS.Timeout | undefined;
      await captureLive({
        mode: 'events',
        devices: tb.devices,
        duration: 7,
        path,
        onProbesStart: () => {
          traffic = tb.traffic(3);
          // Past the traffic's end (iperf3 stops within ~0.3 s of it): the second half is quiet.
          midTimer = setTimeout(() => (mid = readStat()), 3800);
        },
      });
      await traffic;
      clearTimeout(midTimer);
      expect(mid, 'the middle /proc/stat read').toBeDefined();
      const tl = await loadTimeline(path, {});
      const h = tl.capture.header!;
      const rel = (b: bigint): number => Number(b - tl.capture.origin) - (tl.capture.startNs as number);
      const c0 = rel(BigInt(h.countersBefore!.bootNs!));
      const c1 = rel(BigInt(h.countersAfter!.bootNs!));
      const m = rel(mid!.ns);
      const halves = [
        { name: 'traffic half', from: c0, to: m, before: h.countersBefore!.stat, after: mid!.stat },
        { name: 'quiet half', from: m, to: c1, before: mid!.stat, after: h.countersAfter!.stat },
      ];
      const report: string[] = [];
      const checks: [number, number, string][] = [];
      for (const half of halves) {
        const kernel = procStatBusy({ ...h, countersBefore: { ...h.countersBefore!, stat: half.before }, countersAfter: { ...h.countersAfter!, stat: half.after } });
        for (const cpu of tl.cpus) {
          const ours = busyOver(tl, cpu, half.from, half.to);
          const k = kernel.get(cpu)!;
          report.push(`${half.name} cpu${cpu}: ${(ours * 100).toFixed(1)}% vs /proc/stat ${(k * 100).toFixed(1)}%`);
          checks.push([ours, k, `${half.name} cpu${cpu}`]);
        }
      }
      const cal = computeFacts(tl).cores.map((c) => `cpu${c.cpu} ${c.idleCalibration?.applied ? `${((c.idleCalibration.perPeriodNs ?? 0) / 1000).toFixed(1)} us/period` : c.idleCalibration?.reason}`);
      console.log(`idle halves (lost ${tl.capture.lostEvents}; ${cal.join(', ')}): ${report.join('; ')}`);
      if (tl.capture.lostEvents > 0) return;
      // Only a quiet half tells a per-period cost from a share of idle time: on a machine kept
      // busy by other work both halves are full and the check would hold for any spreading.
      const quiet = checks.slice(tl.cpus.length);
      const loud = checks.slice(0, tl.cpus.length);
      expect(
        Math.max(...loud.map(([, k], i) => k - quiet[i]![1])),
        `the quiet half must be at least 20 points less busy than the traffic half on some core (other work on this machine?): ${report.join('; ')}`,
      ).toBeGreaterThanOrEqual(0.2);
      for (const [ours, k, what] of checks) expect(Math.abs(ours - k), `${what}: ${report.join('; ')}`).toBeLessThanOrEqual(PROC_STAT_AGREEMENT);
    });
  });
});
