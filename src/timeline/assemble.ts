import { TimeBase, bootNs, durNs, ns } from '../base/time.js';
import type { CaptureHeader, CaptureMode } from '../model/header.js';
import type { ImportSummary } from '../import/types.js';
import type { BuildContext } from './context.js';
import { KIND_NAME, K_RX, NET_RX_MAX_NS, end, type CpuState } from './cpu-state.js';
import { calibrateIdle } from './idle-calibration.js';
import { closeIdleAtEnd } from './idle.js';
import { assignDepths, checkInvariants } from './invariants.js';
import type { NapiTable } from './napi-acc.js';
import { OCCUPANCY_RUNS_MAX, closeRun } from './polls.js';
import { CLAMP_END, KIND_RANK } from './slice-keeper.js';
import { sinceStart } from './span.js';
import type { CoreSeries, Slice, Timeline } from './types.js';

/** What the fold leaves for the assembly: its shared state, the CPUs' and NAPIs' accumulators, and how many records of each mode it saw. */
export interface FoldResult {
  x: BuildContext;
  cpuStates: readonly (CpuState | undefined)[];
  napis: NapiTable;
  /** The capture header (the summary's, else the one the stream gave). */
  header: CaptureHeader | undefined;
  windowEvents: number;
  pointEvents: number;
}

/** A gap between the last event and the END mark worth a note. */
const RECORDING_GAP_NOTED_NS = 10e6;
/**
 * Without idle records, a gap before the END mark this long is worth a warning: bpftrace's unread
 * tail at exit is 270 to 650 ms on a 2-core VM (docs/capture.md), and 100 ms is 1 to 4% of the
 * few seconds events captures last.
 */
const RECORDING_TAIL_WARN_NS = 100e6;

/**
 * The timeline from the fold, after the last event: the capture's bounds and probed span,
 * what is still open closed at the end (clamped and marked), the per-window series cut to the
 * capture, NAPIs, devices and slices; then the idle calibration to /proc/stat and the
 * invariants (docs/timeline.md). The grid is written for the last time here, before any series
 * is extracted. `collect`, when given, is called once, before the NAPIs' series are extracted.
 */
export function assembleTimeline(f: FoldResult, summary: ImportSummary, collect?: () => void): Timeline {
  const { x, cpuStates, napis, header } = f;
  if (napis.untimedPolls > 0) {
    let polls = 0;
    for (const n of napis.list) polls += n.polls;
    x.diag(
      'warning',
      'polls-not-timed',
      `${napis.untimedPolls} of ${polls} polls had no NET_RX softirq or napi-thread run around them in the capture (napi_poll traced alone, or lost entries): they are counted, not timed (zero duration), and poll and core busy times leave them out`,
    );
  }
  const g = x.ensureGrid();
  const mode: CaptureMode = x.mode ?? header?.mode ?? 'events';
  if (f.windowEvents > 0 && f.pointEvents > 0) {
    x.diag('warning', 'mixed-modes', `the capture mixes windows-mode records (${f.windowEvents}) and per-event records (${f.pointEvents}): both are folded into the same series`);
  }

  // Capture bounds: the header's start (ts 0) and end when present, else the events'; they
  // always contain every event (docs/timeline.md).
  const tb = new TimeBase(summary.origin);
  const haveEvents = x.minTs <= x.maxTs;
  // Without a header the origin is the file's first event, so the start is the earliest
  // event (other CPUs' buffers may hold earlier ones); slices open at the start are clamped
  // to min(origin, the CPU's first event), which this start never passes.
  let startNs = 0;
  if (haveEvents && x.minTs < 0) {
    if (summary.originFromHeader) {
      x.diag('warning', 'events-before-start', `events start ${-x.minTs} ns before the header's capture start: the capture start is moved back to them`);
    }
    startNs = x.minTs;
  }
  let endNs = haveEvents ? x.maxTs : startNs;
  const endBoot = header?.endBootNs ?? header?.probesStopBootNs;
  if (endBoot !== undefined && /^\d+$/.test(endBoot)) {
    const hEnd = tb.fromBoot(bootNs(BigInt(endBoot)));
    if (hEnd >= endNs) endNs = hEnd;
    else x.diag('warning', 'events-after-end', `events run ${endNs - hEnd} ns past the header's capture end: the capture end is moved to the last event`);
  }
  if (endNs < startNs) endNs = startNs;

  // The END mark comes well after the last event printed: at exit bpftrace stops reading its
  // buffers while the probes still run, then takes them down and runs END (measured on a
  // 2-core VM: the last events 270 to 530 ms before the mark, the script's @idle_t at exit
  // holding later switches than any record, and "Lost 1 events"). Nothing after the last
  // event was recorded, so an events-mode capture's probed span ends there: a core busy at
  // its last record is not taken to be busy for the rest (docs/capture.md, "Where the probed
  // span ends").
  let recordedUntil: number | undefined;
  // Only with format 4's idle records: they keep every core printing (each idle period ends in
  // a record), so a silent tail is the unread one; without them a quiet tail has no events at
  // all and the probes were still recording.
  // The stop mark is in the trailer, which the importer reads after the events.
  const stopMark = header === undefined ? undefined : sinceStart(header, header.probesStopBootNs);
  if (mode === 'events' && x.idleWhole && haveEvents && stopMark !== undefined && x.maxTs < stopMark) {
    const gap = stopMark - x.maxTs;
    if (gap > RECORDING_GAP_NOTED_NS)
      x.diag(
        'info',
        'recording-stopped-early',
        `the last event is ${(gap / 1e6).toFixed(0)} ms before the probes' stop mark (bpftrace takes the probes down before it runs END): the probed span ends at the last event`,
      );
    recordedUntil = x.maxTs;
    x.probesStopNs = x.maxTs;
  } else if (mode === 'events' && !x.idleWhole && haveEvents && stopMark !== undefined && header?.bpftraceVersion !== undefined && x.maxTs < stopMark) {
    // Before format 4 (no idle records) a silent tail may be a quiet end, so the span keeps it;
    // but bpftrace leaves its last few hundred ms unread at exit whatever the traffic, so say
    // what the rates would be off by if traffic ran to the end (the bundled events captures:
    // 654 and 512 ms, so up to 24% and 20% low).
    const gap = stopMark - x.maxTs;
    const startMark = sinceStart(header, header.probesStartBootNs) ?? 0;
    const probed = stopMark - Math.max(0, startMark);
    if (gap > RECORDING_TAIL_WARN_NS && probed > 0)
      x.diag(
        'warning',
        'recording-tail-unknown',
        `the last event is ${(gap / 1e6).toFixed(0)} ms before the probes' stop mark, and without idle records (capture format 4 and later) an unread tail (bpftrace stops reading at exit) cannot be told from a quiet end: the probed span keeps it, so if traffic ran to the end, rates over the span are up to ${((100 * gap) / probed).toFixed(0)}% low`,
      );
  }
  // Windows mode: the importer saw the last window printed after lost window prints, the
  // probes' removal at exit (import/bpftrace-text.ts: WindowAccumulator.finishInput), left it
  // out, and says where the last regular window ended.
  if (mode === 'windows' && summary.recordedUntilNs !== undefined && haveEvents) recordedUntil = summary.recordedUntilNs;

  // Close what is still open at the capture's end: clamp and mark. This is the last write to
  // the grid, so its window (possibly widened to stay within memory) is final after it.
  // With events lost, a slice still open at the end may be one whose end was lost: it ends at
  // the last event seen on its CPU, not at the capture's end (which could invent seconds of
  // softirq). Without losses it was cut by the capture's end.
  // So was a NET_RX softirq that would run longer than net_rx_action can (NET_RX_MAX_NS), lost
  // events counted or not; what is below it on the CPU's stack is cut by the capture's end.
  const lossy = x.lostEvents > 0 || summary.lostEvents > 0;
  for (const c of cpuStates) {
    if (c === undefined) continue;
    if (lossy && c.stack.length > 0 && c.lastTs < endNs) {
      x.problem(
        'open-at-end-lossy',
        `CPU ${c.cpu}: ${KIND_NAME[c.stack[c.stack.length - 1]!]} still open at the end of a capture with lost events: closed at the CPU's last event (${c.lastTs} ns), not at the capture's end`,
      );
    } else if (!lossy && endNs - c.rxStart > NET_RX_MAX_NS) {
      const last = Math.max(c.lastTs, c.rxStart);
      x.problem(
        'net-rx-over-limit',
        `CPU ${c.cpu}: NET_RX softirq still open at the capture's end, ${((endNs - c.rxStart) / 1e6).toFixed(1)} ms after its entry at ${c.rxStart} ns: longer than net_rx_action runs (netdev_budget_usecs, at most ${NET_RX_MAX_NS / 1e6} ms), so its exit was lost although the capture counts no lost events; closed at the CPU's last event (${last} ns), not at the capture's end`,
      );
      end(x, c, K_RX, last, CLAMP_END);
    }
    while (c.stack.length > 0) end(x, c, c.stack[c.stack.length - 1]!, lossy ? Math.max(c.lastTs, c.busyStart) : endNs, CLAMP_END);
    closeIdleAtEnd(x, c, endNs);
  }
  const W = g.windowNs;
  // Windows are anchored at the origin; the start is rounded down onto that grid.
  startNs = Math.floor(startNs / W) * W;
  const windowCount = Math.max(1, Math.ceil((endNs - startNs) / W));
  const k0 = Math.round(startNs / W);

  // CPUs: the header's (idle ones included) plus any seen in events.
  const cpuSet = new Set<number>(header?.cpus ?? []);
  const cpusGuessed = header === undefined || header.cpus.length === 0;
  for (let cpu = 0; cpu < cpuStates.length; cpu++) if (cpuStates[cpu] !== undefined) cpuSet.add(cpu);
  if (cpusGuessed) {
    x.diag('warning', 'cpus-from-events', `no CPU list in a header: using the ${cpuSet.size} CPUs seen in events (idle CPUs are missing)`);
  }
  const cpus = [...cpuSet].sort((a, b) => a - b);

  x.summariseProblems();
  if (g.coarsenings > 0) {
    // A warning, not info: every per-window figure (co-location, saturation) is judged at
    // the widened window, so the user must see that it is not the window they asked for.
    x.diag(
      'warning',
      'window-widened',
      `the window was widened from ${g.windowNs / 2 ** g.coarsenings} ns to ${g.windowNs} ns to keep the per-window series of ${cpuStates.filter(Boolean).length} CPUs and ${napis.list.length} NAPIs within memory`,
    );
  }
  if (x.ignoredSoftirqs > 0) {
    x.diag('info', 'other-softirqs', `${x.ignoredSoftirqs} softirq events of vectors other than NET_RX and NET_TX were ignored`);
  }
  if (x.slices.cut > 0) {
    x.diag('warning', 'slices-cut', `${x.slices.cut} slices past the limit of ${x.slices.max} were not kept (still counted in every series)`);
  }

  const cores = coreSeries(x, cpuStates, cpus, startNs, endNs, k0, windowCount);

  const missed = cpuStates.filter((c): c is CpuState => c !== undefined && c.core.idleEntriesMissed > 0);
  if (missed.length > 0) {
    const n = missed.reduce((s, c) => s + c.core.idleEntriesMissed, 0);
    x.diag(
      'info',
      'idle-entries-missed',
      `${n} idle periods on cpu ${missed.map((c) => c.cpu).join(', ')} ended without their switch to idle in the capture (BPF did not see those switches): their idle time is put back from /proc/stat where the header has it`,
    );
  }

  // Open occupancy runs end at their last poll.
  for (const st of napis.list) {
    for (let cpu = 0; cpu < st.perCpu.length; cpu++) {
      const nc = st.perCpu[cpu];
      const c = cpuStates[cpu];
      if (nc !== undefined && c !== undefined && !Number.isNaN(nc.occStart)) closeRun(napis, c, nc);
    }
  }
  let occupancy: Timeline['occupancy'];
  if (napis.occupancyRuns > 0 && !napis.occupancyCut) {
    occupancy = new Map();
    for (const cpu of cpus) {
      const c = cpuStates[cpu];
      if (c !== undefined && c.runNapi.length > 0) occupancy.set(cpu, { napi: c.runNapi, start: c.runStart, end: c.runEnd });
    }
  } else if (napis.occupancyCut) {
    x.diag('warning', 'occupancy-cut', `more than ${OCCUPANCY_RUNS_MAX} poll runs: co-location is judged by windows, not by the polls themselves`);
  }

  // The fold's state that the series do not need is summed and dropped first (the waits'
  // histories, the crypt works), then `collect` (the CLI's full collection: cli/memory.ts), so
  // that the series are made in the room the fold's garbage left rather than beside it.
  napis.foldWaits();
  const devices = x.crypt.series(header);
  x.crypt.release();
  collect?.();
  const napiList = napis.instances(g, k0, windowCount);

  let slices: Map<number, Slice[]> | undefined;
  if (x.slices.request !== undefined) {
    slices = new Map();
    for (const cpu of cpus) {
      if (!x.slices.wants(cpu)) continue;
      const list = cpuStates[cpu]?.slices ?? [];
      // Slices are recorded when they close (inner before outer): order by start, outer first.
      list.sort((a, b) => a.start - b.start || b.dur - a.dur || KIND_RANK[a.kind] - KIND_RANK[b.kind]);
      assignDepths(list);
      slices.set(cpu, list);
    }
  }

  const timeline: Timeline = {
    capture: {
      format: summary.format,
      mode,
      ...(header !== undefined ? { header } : {}),
      origin: summary.origin,
      startNs: ns(startNs),
      endNs: ns(endNs),
      durationNs: durNs(endNs - startNs),
      events: summary.events,
      lostEvents: Math.max(summary.lostEvents, x.lostEvents),
      skippedLines: summary.skippedLines,
      clampedSlices: x.clamped,
      ...(summary.untracedDevices !== undefined ? { untracedDevices: summary.untracedDevices } : {}),
      ...(recordedUntil !== undefined ? { recordedUntilNs: ns(recordedUntil) } : {}),
      cpusGuessed,
      ...(x.slices.request !== undefined ? { slicesCut: x.slices.cut } : {}),
    },
    cpus,
    windowNs: durNs(W),
    ...(g.coarsenings > 0 ? { windowAskedNs: durNs(g.windowNs / 2 ** g.coarsenings) } : {}),
    windowCount,
    cores,
    napis: napiList,
    devices,
    ...(occupancy !== undefined ? { occupancy } : {}),
    ...(slices !== undefined ? { slices } : {}),
    diagnostics: x.log.items,
  };
  for (const d of calibrateIdle(timeline)) x.diag(d.severity, d.code, d.message);
  for (const v of checkInvariants(timeline)) {
    x.diag('error', 'invariant-violation', v);
  }
  return timeline;
}

/** Per-core series over windows [k0, k0 + windowCount), utilization as a share of each window (the last one cut at endNs). */
function coreSeries(x: BuildContext, cpuStates: readonly (CpuState | undefined)[], cpus: number[], startNs: number, endNs: number, k0: number, windowCount: number): Map<number, CoreSeries> {
  const g = x.grid!;
  const W = g.windowNs;
  const winLen = new Float64Array(windowCount);
  for (let i = 0; i < windowCount; i++) winLen[i] = Math.min(W, endNs - (startNs + i * W));
  const cores = new Map<number, CoreSeries>();
  const empty = () => new Float64Array(windowCount);
  for (const cpu of cpus) {
    const c = cpuStates[cpu];
    if (c === undefined) {
      cores.set(cpu, {
        cpu,
        netRxBusyNs: empty(),
        netRxCount: empty(),
        ksoftirqdNetRxBusyNs: empty(),
        ksoftirqdNetRxCount: empty(),
        netTxBusyNs: empty(),
        pollBusyNs: empty(),
        threadPollBusyNs: empty(),
        cryptBusyNs: empty(),
        otherWorkBusyNs: empty(),
        utilization: empty(),
        idleNs: empty(),
        idleTaskNs: empty(),
        idlePeriods: empty(),
        idleRecorded: false,
      });
      continue;
    }
    const a = c.core;
    const util = g.extract(a.busy, k0, windowCount);
    const idleTask = g.extract(a.idle, k0, windowCount);
    const { periods, onIdle, unknown } = a.extractIdle(k0, windowCount);
    // Format 4 records idle periods whole: the traced work that ran on top of the idle task
    // comes off here (IE/IX records left it out as they went).
    if (c.idlePeriodSeen && onIdle !== undefined) for (let i = 0; i < windowCount; i++) idleTask[i] = Math.max(0, idleTask[i]! - onIdle[i]!);
    for (let i = 0; i < windowCount; i++) {
      const len = winLen[i]!;
      util[i] = len > 0 ? Math.min(1, util[i]! / len) : 0;
    }
    cores.set(cpu, {
      cpu,
      netRxBusyNs: g.extract(a.netRxBusy, k0, windowCount),
      netRxCount: g.extract(a.netRxCount, k0, windowCount),
      ksoftirqdNetRxBusyNs: g.extract(a.ksBusy, k0, windowCount),
      ksoftirqdNetRxCount: g.extract(a.ksCount, k0, windowCount),
      netTxBusyNs: g.extract(a.netTxBusy, k0, windowCount),
      pollBusyNs: g.extract(a.pollBusy, k0, windowCount),
      threadPollBusyNs: g.extract(a.threadPollBusy, k0, windowCount),
      cryptBusyNs: g.extract(a.cryptBusy, k0, windowCount),
      otherWorkBusyNs: g.extract(a.otherWorkBusy, k0, windowCount),
      utilization: util,
      // The calibration to /proc/stat replaces idleNs (idle-calibration.ts).
      idleNs: idleTask.slice(),
      idleTaskNs: idleTask,
      idlePeriods: periods ?? empty(),
      ...(unknown !== undefined ? { idleUnknownNs: unknown } : {}),
      idleRecorded: a.idleRecorded,
    });
  }
  return cores;
}
