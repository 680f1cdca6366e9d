import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeFacts } from '../../src/detect/facts.js';
import { procStatBusy } from '../../src/model/proc-stat.js';
import { loadTimeline } from '../../src/timeline/load.js';
import type { Timeline } from '../../src/timeline/types.js';
import { probedSpan } from '../../src/timeline/span.js';
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
 * Events and windows captures of the same traffic at once: every core within 2 points of the
 * /proc/stat difference over the same span (issue 11), the cost per period plausible, and the
 * two captures within 3 points of each other over the span both covered, on the cores where
 * neither had to put back idle its records missed (see below why).
 *
 * Not held here: how the kernel's idle is spread inside the span. Checked by hand with /proc/stat
 * read at the middle of a capture whose traffic ran in its first half (docs/findings.md, "Whole-core
 * busy time"): the quiet half within 1 point, the traffic half 4 to 13 points less busy than the
 * kernel, because on this machine BPF does not see some tasks' switches to idle, and the idle the
 * records miss cannot all be placed.
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
/** Missed idle put back up to this (two USER_HZ ticks) leaves a core comparable between the captures. */
const RESTORED_COMPARED_NS = 20e6;
/** A kernel-busy cost per idle period above this is no switch-and-irq cost: something is wrong. */
const PER_PERIOD_MAX_NS = 100_000;

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-live-idle-'));

/** A boot-ns time as ns relative to the timeline's windows. */
function rel(tl: Timeline, b: bigint): number {
  return Number(b - tl.capture.origin) - (tl.capture.startNs as number);
}

/** The counters' span clipped to the probed one, relative to the windows (as bigint offsets for joining two captures). */
function counterSpan(tl: Timeline): { from: bigint; to: bigint } {
  const h = tl.capture.header!;
  const p = probedSpan(tl);
  const from = Math.max(p.from, rel(tl, BigInt(h.countersBefore!.bootNs!)));
  const to = Math.min(p.to, rel(tl, BigInt(h.countersAfter!.bootNs!)));
  return { from: BigInt(Math.round(from)), to: BigInt(Math.round(to)) };
}

/** The calibrated timeline's whole-core busy share of cpu over [from, to) (ns relative to the windows). */
function busyOver(tl: Timeline, cpu: number, fromNs: number | bigint, toNs: number | bigint): number {
  const from = Number(fromNs);
  const to = Number(toNs);
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
      const report: string[] = [];
      const loaded: { mode: string; tl: Timeline; span: { from: bigint; to: bigint } }[] = [];
      let eventsLost = 0;
      for (const mode of ['events', 'windows'] as const) {
        const tl = await loadTimeline(paths[mode], {});
        if (mode === 'events') eventsLost = tl.capture.lostEvents;
        const h = tl.capture.header!;
        expect(h.formatVersion).toBeGreaterThanOrEqual(3);
        const stat = procStatBusy(h);
        // The kernel's figure is over the counters' span; ours is compared over the part of it
        // the probes covered (capture.sh reads the counters up to 0.5 s late under load).
        const span = counterSpan(tl);
        loaded.push({ mode, tl, span });
        const facts = computeFacts(tl);
        for (const core of facts.cores) {
          const kernel = stat.get(core.cpu);
          expect(kernel, `${mode} cpu${core.cpu}: no /proc/stat in the header`).toBeDefined();
          const ours = busyOver(tl, core.cpu, span.from, span.to);
          if (core.coreBusySource !== 'idle-events') {
            // A core never idle while the probes ran has no idle records: its busy is /proc/stat's.
            expect(core.coreBusySource, `${mode} cpu${core.cpu}`).toBe('proc-stat');
            expect(kernel!, `${mode} cpu${core.cpu}: no idle records, yet /proc/stat saw idle`).toBeGreaterThan(1 - PROC_STAT_AGREEMENT);
            report.push(`${mode} cpu${core.cpu}: never idle, /proc/stat ${(kernel! * 100).toFixed(1)}%`);
            continue;
          }
          const k = core.idleCalibration!;
          const how = k.applied
            ? k.restoredNs !== undefined
              ? `${(k.restoredNs / 1e6).toFixed(0)} ms of missed idle put back`
              : `${(k.perPeriodNs / 1000).toFixed(1)} us x ${Math.round(k.periods)} periods`
            : `not calibrated: ${k.reason}`;
          report.push(
            `${mode} cpu${core.cpu}: ${(ours * 100).toFixed(1)}% (records ${(100 * (1 - k.idleTaskNs / Math.max(1, k.fitNs))).toFixed(1)}%, ${how}), /proc/stat ${(kernel! * 100).toFixed(1)}%`,
          );
          // Refused only when the snapshots cover too little of the probed span; otherwise matched,
          // or within /proc/stat's rounding already.
          if (!k.applied && !/within its rounding/.test(k.reason ?? '')) continue;
          expect(Math.abs(ours - kernel!), report.join('; ')).toBeLessThanOrEqual(PROC_STAT_AGREEMENT);
          if (k.applied && k.restoredNs === undefined) {
            expect(k.perPeriodNs, report.join('; ')).toBeGreaterThanOrEqual(0);
            expect(k.perPeriodNs, report.join('; ')).toBeLessThanOrEqual(PER_PERIOD_MAX_NS);
          }
        }
      }
      console.log(`whole-core busy (events capture lost ${eventsLost}): ${report.join('; ')}`);
      // The two captures over the span both covered.
      const from = loaded.reduce(
        (x, l) => (l.span.from + l.tl.capture.origin + BigInt(l.tl.capture.startNs as number) > x ? l.span.from + l.tl.capture.origin + BigInt(l.tl.capture.startNs as number) : x),
        0n,
      );
      const to = loaded.reduce(
        (x, l) => (l.span.to + l.tl.capture.origin + BigInt(l.tl.capture.startNs as number) < x ? l.span.to + l.tl.capture.origin + BigInt(l.tl.capture.startNs as number) : x),
        1n << 62n,
      );
      for (const cpu of loaded[0]!.tl.cpus) {
        // Inside a span the spread of idle the records missed is not held (docs/findings.md,
        // "Whole-core busy time": 4 to 13 points per half when many switches to idle are not
        // seen): a core where either capture put back more than the rounding is not compared.
        const restored = loaded.map((l) => computeFacts(l.tl).coreByCpu.get(cpu)?.idleCalibration?.restoredNs ?? 0);
        if (restored.some((r) => r > RESTORED_COMPARED_NS)) {
          console.log(`cpu${cpu}: not compared over the common span (missed idle put back: ${restored.map((r) => `${(r / 1e6).toFixed(0)} ms`).join(', ')})`);
          continue;
        }
        const [e, w] = loaded.map((l) => busyOver(l.tl, cpu, rel(l.tl, from), rel(l.tl, to)));
        expect(Math.abs(e! - w!), `cpu${cpu} over the common span: events ${(e! * 100).toFixed(1)}%, windows ${(w! * 100).toFixed(1)}%; ${report.join('; ')}`).toBeLessThanOrEqual(MODES_AGREEMENT);
      }
    });
  });
});
