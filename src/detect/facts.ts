import { pollsBesideNetRx, tracedShare } from '../timeline/beside.js';
import type { Timeline, NapiInstance, CoreSeries, IdleCalibration } from '../timeline/types.js';
import { z } from 'zod';
import { probedSpan } from '../timeline/span.js';
import { procStatCores } from '../model/proc-stat.js';
import { napiRoles, type NapiRole } from '../timeline/roles.js';

/**
 * Where a core's whole busy time comes from: its idle task's time in the capture (format 4 IP
 * or format 3 IE/IX records, or @idle windows; matched to the kernel's idle clock by
 * timeline/idle-calibration.ts), the header's /proc/stat before and after (the kernel's idle
 * clock over the stamped span), or, with neither, only the traced work (a lower bound).
 */
export type CoreBusySource = 'idle-events' | 'proc-stat' | 'traced';

export type { NapiRole } from '../timeline/roles.js';

/** How a NAPI's polls ran: in NET_RX softirq, in its napi/<dev>-<id> kthread, both, or not at all. */
export const PollMode = z.enum(['softirq', 'threaded', 'mixed', 'none']);
export type PollMode = z.infer<typeof PollMode>;

export interface FactsOptions {
  /** `--tunnels GLOB`: devices whose NAPIs are tunnels (other tunnel drivers than WireGuard). */
  tunnels?: string;
}

/**
 * Figures every detector and the report need, computed once from a timeline: per-core and
 * per-NAPI totals over the capture, window lengths, home cores. Pure, no state kept.
 */
export interface CoreFacts {
  cpu: number;
  /** Busy time (union of everything traced) and its share of the probed span, 0..1. */
  busyNs: number;
  utilization: number;
  /** Sums over the windows of the probed span. */
  netRxCount: number;
  netRxBusyNs: number;
  ksoftirqdNetRxCount: number;
  ksoftirqdNetRxBusyNs: number;
  netTxBusyNs: number;
  /** Poll time inside NET_RX softirq. */
  pollBusyNs: number;
  /** Poll time in threaded-NAPI kthreads. */
  threadPollBusyNs: number;
  /** Of pollBusyNs, the polls a threaded windows-mode capture ran beside NET_RX, in napi kthreads (timeline/beside.ts). */
  besideNetRxPollBusyNs: number;
  cryptBusyNs: number;
  otherWorkBusyNs: number;
  /** Per window, busy fraction 0..1 (the timeline's union, at least its largest part; 0 outside the probed span). */
  utilizationSeries: Float64Array;
  /**
   * The core's whole busy time over the probed span (not idle, as mpstat and /proc/stat count
   * it: user, system, softirq, irq, steal), at least the traced union; and its share, 0..1.
   */
  coreBusyNs: number;
  coreBusy: number;
  coreBusySource: CoreBusySource;
  /**
   * Per window, the core's whole busy fraction 0..1 when idle time was recorded
   * (`idle-events`); otherwise the traced union (utilizationSeries), a lower bound.
   */
  coreBusySeries: Float64Array;
  /** Poll time of tunnels' NAPIs and of other NAPIs (backlog, NIC queues, ...), softirq and threaded. */
  tunnelPollBusyNs: number;
  otherNapiPollBusyNs: number;
  /** Busy time the trace does not explain: coreBusyNs less the traced union. */
  untracedBusyNs: number;
  /** idle-events only: how the idle records were matched to /proc/stat (timeline/idle-calibration.ts). */
  idleCalibration?: IdleCalibration;
  /**
   * What mpstat prints over the header's /proc/stat span (model/proc-stat.ts: tick-sampled busy
   * fields over all fields), beside coreBusy, which follows the kernel's idle clock.
   */
  mpstatBusy?: number;
}

export interface NapiCpuFacts {
  cpu: number;
  polls: number;
  busyNs: number;
  work: number;
  fullBudgetPolls: number;
}

export interface NapiFacts {
  index: number;
  dev: string;
  napi: string;
  polls: number;
  work: number;
  fullBudgetPolls: number;
  busyNs: number;
  threadedPolls: number;
  mode: PollMode;
  /**
   * Windows-mode captures aggregate in the kernel and do not record whether a poll ran in
   * softirq or in its napi thread: there the mode is the device's threaded flag from the header.
   */
  modeInferred: boolean;
  /** Cores that ran its polls, busiest first (ties: lower CPU id). */
  cpus: NapiCpuFacts[];
  /** The core with most of its poll time (by polls when no time was measured); -1 without polls. */
  homeCpu: number;
  /** Share of its poll time (or polls) on the home core. */
  stickiness: number;
  moves: number;
  /** The moves are a lower bound (timeline/napi-acc.ts: settleMoves). */
  movesLowerBound: boolean;
  /** Packets forwarded per ns of poll time (0 when no time was measured). */
  packetsPerNs: number;
  /** /sys/class/net/<dev>/threaded from the header, when recorded. */
  devThreaded?: number;
  /** The device's kind from the header, when recorded. */
  devKind?: string;
  /** The network namespace the header says the device lives in (`netns=`). */
  devNetns?: string;
  /** Tunnel or other NAPI, and why (for the report). */
  role: NapiRole;
  roleReason: string;
}

export interface TimelineFacts {
  /** The capture's whole span (header start to end). */
  durationNs: number;
  /**
   * The span the probes observed: from the header's probes-attached mark to its
   * probes-detached mark (`#@probes_start_boot_ns`, `#@probes_stop_boot_ns`), widened to any
   * activity outside it, as offsets from the capture start. bpftrace can take seconds to
   * attach its probes after the wrapper wrote the capture's start; the time before holds no
   * events, so utilization and shares are over this span, not over the whole capture.
   */
  probedFromOffsetNs: number;
  probedToOffsetNs: number;
  probedNs: number;
  /** Length of window i inside the probed span (the last one is clipped to the capture's end; 0 outside the span). */
  windowLen: Float64Array;
  cores: CoreFacts[];
  coreByCpu: Map<number, CoreFacts>;
  napis: NapiFacts[];
  totalWork: number;
  totalPolls: number;
  meanUtilization: number;
  /** Events lost or lines skipped: every figure is a lower bound. */
  lossy: boolean;
  /**
   * Packets the gateway's idle capacity could still process: idle core time over the capture
   * divided by the measured CPU cost of a packet (all traced busy time over all forwarded
   * packets). An upper bound on any throughput a finding can claim was lost.
   */
  spareCapacityPackets: number;
  /** Short names for NAPIs: the device when it has one NAPI, else `dev#<last 4 hex digits>`. */
  labels: string[];
  /** Where the cores' whole busy time comes from (the weakest source over the cores). */
  coreBusySource: CoreBusySource;
}

export function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

export function windowLengths(t: Timeline): Float64Array {
  const out = new Float64Array(t.windowCount);
  const start = t.capture.startNs as number;
  const end = t.capture.endNs as number;
  for (let i = 0; i < t.windowCount; i++) {
    const a = start + i * t.windowNs;
    const b = Math.min(end, a + t.windowNs);
    out[i] = Math.max(0, b - a);
  }
  return out;
}

/**
 * A core's figures over the probed span. Busy time per window is the timeline's union of
 * everything traced, raised to at least its largest part (NET_RX, softirq polls, thread polls,
 * crypt work): a union is never smaller than any of its parts, and windows-mode captures only
 * have the parts (their union is the timeline's estimate).
 */
function coreFacts(c: CoreSeries, rawLen: Float64Array, windowLen: Float64Array, probedNs: number, statBusy: number | undefined, beside: Float64Array | undefined): CoreFacts {
  const n = windowLen.length;
  const util = new Float64Array(n);
  const whole = new Float64Array(n);
  let busy = 0;
  let wholeNs = 0;
  const sumIn = (a: Float64Array): number => {
    let x = 0;
    for (let i = 0; i < n; i++) if (windowLen[i]! > 0) x += a[i] ?? 0;
    return x;
  };
  for (let i = 0; i < n; i++) {
    if (!(windowLen[i]! > 0) || !(rawLen[i]! > 0)) continue;
    // Threaded polls of a windows capture ran beside NET_RX, not inside it (timeline/beside.ts).
    util[i] = tracedShare(c, i, rawLen[i]!, beside);
    busy += util[i]! * windowLen[i]!;
    if (c.idleRecorded) {
      // Not idle: the window less the idle task's time (events mode: less only the idle time
      // with nothing traced on top; windows mode: the kernel's sum, so at least the traced union).
      const len = windowLen[i]!;
      const b = Math.min(len, Math.max(util[i]! * len, len - (c.idleNs[i] ?? 0)));
      whole[i] = b / len;
      wholeNs += b;
    } else whole[i] = util[i]!;
  }
  const source: CoreBusySource = c.idleRecorded ? 'idle-events' : statBusy !== undefined ? 'proc-stat' : 'traced';
  if (source === 'proc-stat') wholeNs = Math.max(busy, statBusy! * probedNs);
  else if (source === 'traced') wholeNs = busy;
  return {
    cpu: c.cpu,
    busyNs: busy,
    utilization: probedNs > 0 ? Math.min(1, busy / probedNs) : 0,
    coreBusyNs: wholeNs,
    coreBusy: probedNs > 0 ? Math.min(1, wholeNs / probedNs) : 0,
    coreBusySource: source,
    coreBusySeries: whole,
    tunnelPollBusyNs: 0,
    otherNapiPollBusyNs: 0,
    untracedBusyNs: Math.max(0, wholeNs - busy),
    // Counts are whole: a windows-mode window longer than the grid's is spread over the grid
    // windows it covers (timeline/windows-mode.ts), and summing the parts back gives
    // 76261.00000000001 softirqs. The sum of a whole series is the integer the capture printed.
    netRxCount: Math.round(sumIn(c.netRxCount)),
    netRxBusyNs: sumIn(c.netRxBusyNs),
    ksoftirqdNetRxCount: Math.round(sumIn(c.ksoftirqdNetRxCount)),
    ksoftirqdNetRxBusyNs: sumIn(c.ksoftirqdNetRxBusyNs),
    netTxBusyNs: sumIn(c.netTxBusyNs),
    pollBusyNs: sumIn(c.pollBusyNs),
    threadPollBusyNs: sumIn(c.threadPollBusyNs),
    besideNetRxPollBusyNs: beside === undefined ? 0 : sumIn(beside),
    cryptBusyNs: sumIn(c.cryptBusyNs),
    otherWorkBusyNs: sumIn(c.otherWorkBusyNs),
    utilizationSeries: util,
    ...(source === 'idle-events' && c.idleCalibration !== undefined ? { idleCalibration: c.idleCalibration } : {}),
  };
}

function emptyCore(cpu: number, windowCount: number, probedNs: number, statBusy: number | undefined): CoreFacts {
  const z = new Float64Array(windowCount);
  const wholeNs = statBusy !== undefined ? statBusy * probedNs : 0;
  return {
    cpu,
    busyNs: 0,
    utilization: 0,
    coreBusyNs: wholeNs,
    coreBusy: statBusy ?? 0,
    coreBusySource: statBusy !== undefined ? 'proc-stat' : 'traced',
    coreBusySeries: z,
    tunnelPollBusyNs: 0,
    otherNapiPollBusyNs: 0,
    untracedBusyNs: wholeNs,
    netRxCount: 0,
    netRxBusyNs: 0,
    ksoftirqdNetRxCount: 0,
    ksoftirqdNetRxBusyNs: 0,
    netTxBusyNs: 0,
    pollBusyNs: 0,
    threadPollBusyNs: 0,
    besideNetRxPollBusyNs: 0,
    cryptBusyNs: 0,
    otherWorkBusyNs: 0,
    utilizationSeries: z,
  };
}

export function pollMode(polls: number, threadedPolls: number): PollMode {
  if (polls === 0) return 'none';
  if (threadedPolls === 0) return 'softirq';
  if (threadedPolls >= polls) return 'threaded';
  return 'mixed';
}

function napiMode(t: Timeline, n: NapiInstance, devThreaded: number | undefined): { mode: PollMode; modeInferred: boolean } {
  if (t.capture.mode === 'windows' && n.totals.threadedPolls === 0 && n.totals.polls > 0 && devThreaded === 1) {
    return { mode: 'threaded', modeInferred: true };
  }
  return { mode: pollMode(n.totals.polls, n.totals.threadedPolls), modeInferred: t.capture.mode === 'windows' && n.totals.polls > 0 };
}

export function devThreadedFlag(t: Timeline, dev: string): number | undefined {
  return t.capture.header?.devices.find((d) => d.name === dev)?.threaded;
}

function napiFacts(t: Timeline, n: NapiInstance, role: { role: NapiRole; roleReason: string }): NapiFacts {
  const cpus: NapiCpuFacts[] = [];
  for (const [cpu, s] of n.perCpu) {
    // Whole counts (see netRxCount above): spread windows leave float noise in the sums.
    const f = { cpu, polls: Math.round(sum(s.polls)), busyNs: sum(s.busyNs), work: Math.round(sum(s.work)), fullBudgetPolls: Math.round(sum(s.fullBudgetPolls)) };
    if (f.polls > 0 || f.busyNs > 0) cpus.push(f);
  }
  const haveTime = cpus.some((c) => c.busyNs > 0);
  const weight = (c: NapiCpuFacts): number => (haveTime ? c.busyNs : c.polls);
  cpus.sort((a, b) => weight(b) - weight(a) || a.cpu - b.cpu);
  const total = cpus.reduce((s, c) => s + weight(c), 0);
  const home = cpus[0];
  const devThreaded = devThreadedFlag(t, n.dev);
  const hdev = t.capture.header?.devices.find((d) => d.name === n.dev);
  const devKind = hdev?.kind;
  const devNetns = hdev?.extra?.['netns'];
  return {
    index: n.index,
    dev: n.dev,
    napi: n.napi,
    polls: n.totals.polls,
    work: n.totals.work,
    fullBudgetPolls: n.totals.fullBudgetPolls,
    busyNs: n.totals.busyNs,
    threadedPolls: n.totals.threadedPolls,
    ...napiMode(t, n, devThreaded),
    cpus,
    homeCpu: home?.cpu ?? -1,
    stickiness: home !== undefined && total > 0 ? weight(home) / total : 0,
    moves: n.moves,
    movesLowerBound: n.movesLowerBound === true,
    packetsPerNs: n.totals.busyNs > 0 ? n.totals.work / n.totals.busyNs : 0,
    ...(devThreaded === undefined ? {} : { devThreaded }),
    ...(devKind === undefined ? {} : { devKind }),
    ...(devNetns === undefined ? {} : { devNetns }),
    ...role,
  };
}

function spareCapacity(cores: CoreFacts[], durationNs: number, work: number): number {
  const busy = cores.reduce((s, c) => s + c.busyNs, 0);
  if (work <= 0 || busy <= 0) return 0;
  // Idle: what the whole-core busy time leaves (a core busy with untraced work has no room either).
  const idle = cores.reduce((s, c) => s + Math.max(0, durationNs - c.coreBusyNs), 0);
  return idle / (busy / work);
}

export function computeFacts(t: Timeline, opts: FactsOptions = {}): TimelineFacts {
  const durationNs = t.capture.durationNs as number;
  const probed = probedSpan(t);
  const probedNs = probed.to - probed.from;
  // Windows count only for their part inside the probed span: outside it there are no events,
  // only spans the timeline clamped to the capture's start.
  const rawLen = windowLengths(t);
  const beside = pollsBesideNetRx(t);
  const windowLen = rawLen.slice();
  for (let i = 0; i < windowLen.length; i++) {
    const a = i * t.windowNs;
    const b = a + windowLen[i]!;
    windowLen[i] = Math.max(0, Math.min(b, probed.to) - Math.max(a, probed.from));
  }
  const stat = procStatCores(t.capture.header);
  const cores = t.cpus.map((cpu) => {
    const c = t.cores.get(cpu);
    const k = stat.get(cpu);
    const f = c === undefined ? emptyCore(cpu, t.windowCount, probedNs, k?.busy) : coreFacts(c, rawLen, windowLen, probedNs, k?.busy, beside?.get(cpu));
    if (k !== undefined) f.mpstatBusy = k.mpstatBusy;
    return f;
  });
  const roles = napiRoles(t, opts.tunnels);
  const napis = t.napis.map((n) => napiFacts(t, n, roles[n.index]!));
  const byCpu = new Map(cores.map((c) => [c.cpu, c]));
  for (const n of napis) {
    for (const c of n.cpus) {
      const core = byCpu.get(c.cpu);
      if (core === undefined) continue;
      if (n.role === 'tunnel') core.tunnelPollBusyNs += c.busyNs;
      else core.otherNapiPollBusyNs += c.busyNs;
    }
  }
  const rank: Record<CoreBusySource, number> = { 'idle-events': 2, 'proc-stat': 1, traced: 0 };
  const coreBusySource = cores.reduce<CoreBusySource>((w, c) => (rank[c.coreBusySource] < rank[w] ? c.coreBusySource : w), 'idle-events');
  return {
    coreBusySource: cores.length > 0 ? coreBusySource : 'traced',
    durationNs,
    probedFromOffsetNs: probed.from,
    probedToOffsetNs: probed.to,
    probedNs,
    windowLen,
    cores,
    coreByCpu: byCpu,
    napis,
    totalWork: napis.reduce((s, n) => s + n.work, 0),
    totalPolls: napis.reduce((s, n) => s + n.polls, 0),
    // Whole-core busy (not idle), as every per-core judgement uses it.
    meanUtilization: cores.length > 0 ? cores.reduce((s, c) => s + c.coreBusy, 0) / cores.length : 0,
    lossy: t.capture.lostEvents > 0 || t.capture.skippedLines > 0,
    spareCapacityPackets: spareCapacity(
      cores,
      probedNs,
      napis.reduce((s, n) => s + n.work, 0),
    ),
    labels: napiLabels(t.napis),
  };
}

/** Contiguous runs of flagged windows as offset ranges from the capture start. */
export function windowRuns(flags: ArrayLike<boolean>, t: Timeline, windowLen: Float64Array): { startOffsetNs: number; endOffsetNs: number }[] {
  const out: { startOffsetNs: number; endOffsetNs: number }[] = [];
  let runStart = -1;
  for (let i = 0; i <= flags.length; i++) {
    const on = i < flags.length && flags[i] === true;
    if (on && runStart < 0) runStart = i;
    if (!on && runStart >= 0) {
      const a = runStart * t.windowNs;
      const b = (i - 1) * t.windowNs + windowLen[i - 1]!;
      out.push({ startOffsetNs: a, endOffsetNs: b });
      runStart = -1;
    }
  }
  return out;
}

export function napiLabels(napis: readonly { dev: string; napi: string }[]): string[] {
  const perDev = new Map<string, number>();
  for (const n of napis) perDev.set(n.dev, (perDev.get(n.dev) ?? 0) + 1);
  return napis.map((n) => (perDev.get(n.dev)! > 1 ? `${n.dev}#${n.napi.slice(-4)}` : n.dev));
}

/**
 * The device flags a recommendation needs, for one NAPI. Threaded or not is read from its polls
 * when the capture shows where they ran (napi/ kthread or softirq: events mode); the header's
 * flag only stands in when it does not (windows mode, or polls in both).
 */
export function devFlag(n: NapiFacts): { dev: string; threaded?: number; kind?: string; netns?: string } {
  const observed = !n.modeInferred && n.polls > 0 ? (n.mode === 'threaded' ? 1 : n.mode === 'softirq' ? 0 : undefined) : undefined;
  const threaded = observed ?? n.devThreaded;
  return {
    dev: n.dev,
    ...(threaded === undefined ? {} : { threaded }),
    ...(n.devKind === undefined ? {} : { kind: n.devKind }),
    ...(n.devNetns === undefined ? {} : { netns: n.devNetns }),
  };
}
