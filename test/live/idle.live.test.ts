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

/** The time-weighted mean over [from, to) (ns relative to the windows) of a per-window share. */
function meanOver(tl: Timeline, share: (w: number) => number, fromNs: number | bigint, toNs: number | bigint): number {
  const from = Number(fromNs);
  const to = Number(toNs);
  let sum = 0;
  let len = 0;
  for (let w = 0; w < tl.windowCount; w++) {
    const a = w * tl.windowNs;
    const part = Math.max(0, Math.min(a + tl.windowNs, to) - Math.max(a, from));
    sum += part * share(w);
    len += part;
  }
  return len > 0 ? sum / len : NaN;
}

/**
 * The idle records' own busy share of cpu over [from, to), before the calibration to /proc/stat
 * (CoreSeries.idleTaskNs): what the two scripts saw of the same switches at the same time.
 */
function recordsBusyOver(tl: Timeline, cpu: number, fromNs: number | bigint, toNs: number | bigint): number {
  const idle = tl.cores.get(cpu)!.idleTaskNs;
  return meanOver(tl, (w) => 1 - (idle[w] ?? 0) / tl.windowNs, fromNs, toNs);
}

/** The calibrated timeline's whole-core busy share of cpu over [from, to) (ns relative to the windows). */
function busyOver(tl: Timeline, cpu: number, fromNs: number | bigint, toNs: number | bigint): number {
  const series = computeFacts(tl).coreByCpu.get(cpu)!.coreBusySeries;
  return meanOver(tl, (w) => series[w] ?? 0, fromNs, toNs);
}

live('live idle records (root, bpftrace, veth testbed)', () => {
  it('events and windows captures of the same traffic: each core matched to /proc/stat within 2 points, and their idle records to each other', async () => {
    await withTestbed({ pairs: 1, threaded: false, devPrefix: 'i' }, async (tb) => {
      const paths = { events: join(dir, 'idle-events.txt'), windows: join(dir, 'idle-windows.txt') };
      // The traffic runs first and throughout, so both captures see one regime; the windows
      // script attaches next, then the events script.
      // Programs on one tracepoint run one after the other in attach order, so each script's
      // timestamps are shifted by the programs before it; the events script's print per idle
      // period costs microseconds (about 8 us of BPF time per record on 0.17), which, run first
      // at every switch from idle, made the windows script's idle periods longer: its records
      // 2 to 3.6 points less busy than the events script's over the same span (2026-12-02). The
      // windows script's programs take well under a microsecond (capture.live.test.ts does the
      // same). The windows capture is stopped (SIGINT) once the events one ends.
      const ac = new AbortController();
      // Bounded: both bpftrace start-ups (2 to 7 s each on a loaded 2-core VM) and 5 s of events.
      const traffic = tb.traffic(30);
      await new Promise((r) => setTimeout(r, 1000));
      let events: Promise<unknown> | undefined;
      const windows = captureLive({
        wrapper: 'sh',
        mode: 'windows',
        devices: tb.devices,
        duration: 120,
        path: paths.windows,
        signal: ac.signal,
        onProbesStart: () => {
          events = captureLive({ mode: 'events', devices: tb.devices, duration: 5, path: paths.events });
        },
      });
      let windowsEnded = false;
      void windows.then(() => (windowsEnded = true));
      while (events === undefined) {
        if (windowsEnded) throw new Error('the windows capture ended before its probes attached');
        await new Promise((r) => setTimeout(r, 100));
      }
      await events;
      ac.abort();
      await windows;
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
        // The idle records, not the calibrated figures: each capture's calibration is fitted to
        // /proc/stat over its own counter span (checked above, within 2 points), and a per-period
        // correction fitted over one span and applied to the common one differs by up to 3
        // points between the two (2026-12-02, both cores about 85% busy: records 82.3% and 82.2%
        // over the common span, calibrated 85.2% and 82.2%). Both scripts see the same switches.
        const [e, w] = loaded.map((l) => recordsBusyOver(l.tl, cpu, rel(l.tl, from), rel(l.tl, to)));
        const [ec, wc] = loaded.map((l) => busyOver(l.tl, cpu, rel(l.tl, from), rel(l.tl, to)));
        console.log(`cpu${cpu} over the common span: records events ${(e! * 100).toFixed(1)}%, windows ${(w! * 100).toFixed(1)}%; calibrated ${(ec! * 100).toFixed(1)}%, ${(wc! * 100).toFixed(1)}%`);
        expect(Math.abs(e! - w!), `cpu${cpu} over the common span, idle records: events ${(e! * 100).toFixed(1)}%, windows ${(w! * 100).toFixed(1)}%; ${report.join('; ')}`).toBeLessThanOrEqual(
          MODES_AGREEMENT,
        );
      }
    });
  });
});
