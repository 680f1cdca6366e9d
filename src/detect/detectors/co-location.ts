import type { Ns } from '../../base/time.js';
import { z } from 'zod';
import { defineDetector, NapiRef, OffsetRange, type DetectContext, type FindingOf } from '../finding.js';
import { devFlag, PollMode, windowRuns } from '../facts.js';
import { LIST_LIMIT, Longest } from '../longest.js';
import type { Thresholds } from '../thresholds.js';
import type { Timeline, WaitRows } from '../../timeline/types.js';
import { OCCUPANCY_MAX_GAP_NS } from '../../timeline/builder.js';
import { byName, count, dur, list, pct, plural, ranges } from '../format.js';
import { threadedNapiAdvice } from '../recommend.js';

/**
 * co-location: two or more NAPI instances (tunnels) whose polls load the same core in the same
 * windows. In softirq mode a poll stays on the core that first scheduled it while traffic keeps
 * coming (net/core/dev.c: napi_schedule marks an already scheduled NAPI "missed" and
 * napi_complete_done reschedules it on the same CPU; a full-budget poll is requeued there by
 * napi_poll), so once two tunnels' polls share a core they share it until the surge ends.
 *
 * One finding per core: the group is every NAPI that loaded the core together with another one
 * in at least `colocationMinWindows` windows.
 */
export const ColocationDetails = z.object({
  cpu: z.number().int(),
  /** Windows in which two or more of these NAPIs loaded the core, and their total length. */
  windows: z.number().int(),
  durationNs: z.number(),
  /** Share of the probed span (see the capture's probedNs) those windows cover. */
  captureShare: z.number(),
  ranges: z.array(OffsetRange),
  /** Share of the core's time in those windows taken by the group's polls. */
  coreShare: z.number(),
  /** The core's utilization in those windows. */
  coreUtilization: z.number(),
  /** Polls ran in threaded-NAPI kthreads (the scheduler could move them but did not). */
  mode: PollMode,
  members: z.array(z.object({ dev: z.string(), napi: z.string(), busyNs: z.number(), polls: z.number(), packets: z.number(), devThreaded: z.number().int().optional() })),
  /**
   * Time one NAPI waited on this core while another's poll ran (it was still scheduled): the
   * LIST_LIMIT (100) longest pairs (longest.ts), in the timeline's order (waiter, then the NAPI
   * waited for); `waitedNs` is the sum over every pair, kept or not.
   */
  waits: z.array(z.object({ waiter: NapiRef, waitedFor: NapiRef, ns: z.number() })),
  /** Only when `waits` was cut: the pairs left out and their ns (kept + left out = every pair, `waitedNs`). */
  waitsLeftOut: z.object({ count: z.number().int(), ns: z.number() }).optional(),
  waitedNs: z.number(),
  /** Packets the waiting NAPIs would have forwarded in that time at their own measured rate. */
  lostPackets: z.number(),
});
export type ColocationDetails = z.infer<typeof ColocationDetails>;

type ColocationFinding = FindingOf<'co-location', ColocationDetails>;

export const coLocation = defineDetector({
  id: 'co-location',
  title: 'NAPI polls of two or more tunnels loading the same core in the same windows',
  details: ColocationDetails,
  detect(ctx: DetectContext): ColocationFinding[] {
    const { timeline: t, thresholds: th, facts } = ctx;
    const out: ColocationFinding[] = [];
    // One {dev, napi} per NAPI, shared by the waits that name it (two references each).
    const refs: NapiRef[] = [];
    const refOf = (i: number): NapiRef => (refs[i] ??= { dev: facts.napis[i]!.dev, napi: facts.napis[i]!.napi });
    // Per core, the tunnels with a series there, in the order of t.napis: one pass over the
    // (NAPI, core) pairs instead of a Map lookup per NAPI and core (131 k lookups for 65 k
    // pairs on a stock capture of 1,024 tunnels over 128 cores).
    const loadersOn = new Map<number, Loader[]>();
    for (const n of t.napis) {
      // Only tunnels share a core in the sense of this finding; other NAPIs (the backlog,
      // NIC queues) are load on the core, counted in its busy time.
      if (facts.napis[n.index]!.role !== 'tunnel') continue;
      for (const [cpu, s] of n.perCpu) {
        const l: Loader = { index: n.index, busy: s.busyNs, polls: s.polls, work: s.work, full: s.fullBudgetPolls, waits: s.waitedForNs };
        const on = loadersOn.get(cpu);
        if (on === undefined) loadersOn.set(cpu, [l]);
        else on.push(l);
      }
    }
    // Group membership by NAPI index (a flag per NAPI, set and cleared per core).
    const isMember = new Uint8Array(t.napis.length);
    for (const cpu of t.cpus) {
      // Per window, the NAPIs whose polls took at least colocationMinShare of it on this core.
      const loaders = loadersOn.get(cpu) ?? [];
      if (loaders.length < 2) continue;
      const shared = sharedTime(t, cpu, loaders, facts.windowLen, th);
      if (shared === undefined) continue;
      const { sharedNs, members, durationNs, runs } = shared;
      const sharedWindows = sharedNs.reduce((n, x) => n + (x > 0 ? 1 : 0), 0);

      const core = facts.coreByCpu.get(cpu)!;
      // Per-window figures weighted by the share of each window the tunnels shared.
      const weight = (w: number): number => (facts.windowLen[w]! > 0 ? Math.min(1, sharedNs[w]! / facts.windowLen[w]!) : 0);
      let coreBusy = 0;
      let sharedSpan = 0;
      for (let w = 0; w < t.windowCount; w++) {
        if (!(sharedNs[w]! > 0)) continue;
        sharedSpan += sharedNs[w]!;
        coreBusy += (core.coreBusySeries[w] ?? 0) * sharedNs[w]!;
      }
      const byLabel = (a: number, b: number): number => byName(facts.labels[a]!, facts.labels[b]!) || a - b;
      const group = loaders.filter((l) => members.has(l.index)).sort((a, b) => byLabel(a.index, b.index));
      const memberFacts = group.map((l) => {
        let busyNs = 0;
        let polls = 0;
        let packets = 0;
        for (let w = 0; w < t.windowCount; w++) {
          const f = weight(w);
          if (!(f > 0)) continue;
          busyNs += l.busy[w]! * f;
          polls += l.polls[w]! * f;
          packets += l.work[w]! * f;
        }
        polls = Math.round(polls);
        packets = Math.round(packets);
        const nf = facts.napis[l.index]!;
        return {
          dev: nf.dev,
          napi: nf.napi,
          busyNs,
          polls,
          packets,
          ...(nf.devThreaded === undefined ? {} : { devThreaded: nf.devThreaded }),
        };
      });
      // The group's share of the core, window by window, never more than the window: a
      // windows-mode window can claim more poll time than it lasted (a map read racing the
      // probes, the capture's last window); the core was at least as busy as those polls.
      let groupBusy = 0;
      for (let w = 0; w < t.windowCount; w++) {
        const f = weight(w);
        if (!(f > 0)) continue;
        let g = 0;
        for (const l of group) g += l.busy[w]! * f;
        g = Math.min(g, sharedNs[w]!);
        groupBusy += g;
        const whole = (core.coreBusySeries[w] ?? 0) * sharedNs[w]!;
        if (g > whole) coreBusy += g - whole;
      }

      // Waits: NapiCpuSeries.waitedForNs (the timeline's measure of a still-scheduled NAPI
      // held up by another NAPI's poll on the same core), among the group's members. Chosen as
      // they come (longest.ts): the LIST_LIMIT longest pairs and the totals of the rest (a stock
      // capture of 1,024 tunnels has 1,047,552 waits on one core), and per waiter's label its
      // total and its 3 longest for the evidence, so no list of every wait is ever made.
      const longest = new Longest(LIST_LIMIT);
      const byLabel3 = new Map<string, { total: number; top: Longest }>();
      let waitedNs = 0;
      let lostPackets = 0;
      for (const m of members) isMember[m] = 1;
      for (const l of group) {
        const waits = l.waits;
        const waiter = facts.napis[l.index]!;
        let mine: { total: number; top: Longest } | undefined;
        // In the order of the NAPI waited for (its index), as the timeline's rows are.
        for (let r = waits.from; r < waits.to; r++) {
          const other = waits.waitedFor[r]!;
          const ns = waits.ns[r]!;
          if (ns <= 0 || isMember[other] === 0) continue;
          longest.add(l.index, other, ns);
          waitedNs += ns;
          lostPackets += ns * waiter.packetsPerNs;
          if (mine === undefined) {
            const label = facts.labels[l.index]!;
            mine = byLabel3.get(label);
            if (mine === undefined) byLabel3.set(label, (mine = { total: 0, top: new Longest(3) }));
          }
          mine.total += ns;
          mine.top.add(other, 0, ns);
        }
      }
      for (const m of members) isMember[m] = 0;
      const waits: ColocationDetails['waits'] = longest.entries().map((e) => ({ waiter: refOf(e.a), waitedFor: refOf(e.b), ns: e.ns }));

      const modes = new Set(group.map((l) => facts.napis[l.index]!.mode));
      const mode: PollMode = modes.size === 1 ? [...modes][0]! : 'mixed';
      const coreUtilization = sharedSpan > 0 ? coreBusy / sharedSpan : 0;
      const coreShare = sharedSpan > 0 ? Math.min(1, groupBusy / sharedSpan) : 0;
      const details: ColocationDetails = {
        cpu,
        windows: sharedWindows,
        durationNs,
        captureShare: facts.probedNs > 0 ? Math.min(1, durationNs / facts.probedNs) : 0,
        ranges: runs.slice(0, 20),
        coreShare,
        coreUtilization,
        mode,
        members: memberFacts,
        waits,
        ...(longest.leftOutCount > 0 ? { waitsLeftOut: { count: longest.leftOutCount, ns: longest.leftOutNs } } : {}),
        waitedNs,
        lostPackets,
      };
      const labels = group.map((l) => facts.labels[l.index]!);
      // With idle records the windows' whole busy time is known; otherwise the traced work in
      // those windows is a lower bound and the whole-capture figure (/proc/stat) says the rest.
      // 'traced' (no idle records, no /proc/stat): the traced work per window is all there is.
      const perWindowWhole = core.coreBusySource !== 'proc-stat';
      // Per-window figures over the windows they shared, each by the share of it they shared.
      const during = t.occupancy !== undefined ? 'while they shared it' : 'in those windows';
      const saturated = (perWindowWhole ? coreUtilization : Math.max(coreUtilization, core.coreBusy)) >= th.saturatedUtil;
      const where = mode === 'threaded' ? 'in their napi threads' : mode === 'softirq' ? 'in softirq' : 'in softirq and threads';
      // The duration is the time two or more of them shared the core (docs/findings.md), not
      // the time all of them did: on the talk's capture the 8 tunnels shared cpu 26 for 1.990 s,
      // all 8 at once for 1.881 s (the last came at 119 ms).
      const who = labels.length > 2 ? `two or more of ${list(labels)}` : list(labels);
      const evidence = [
        t.occupancy !== undefined
          ? `cpu ${cpu}: ${who} polled ${where} on it at the same time for ${dur(durationNs)} (${pct(details.captureShare)} of the capture; each polled again there within ${dur(OCCUPANCY_MAX_GAP_NS)} or stayed scheduled after a full-budget poll): ${ranges(runs)}`
          : `cpu ${cpu}: ${who} polled ${where} in the same windows for ${dur(durationNs)} (${pct(details.captureShare)} of the capture, ${plural(sharedWindows, 'window')}): ${ranges(runs)}`,
        perWindowWhole
          ? `their polls took ${pct(coreShare)} of cpu ${cpu} ${during}; the core was ${pct(coreUtilization)} busy${core.coreBusySource === 'idle-events' ? ' (not idle)' : ' with traced work (no idle records or /proc/stat: a lower bound)'}${saturated ? ' (saturated)' : ''}`
          : `their polls took ${pct(coreShare)} of cpu ${cpu} ${during}, all traced work ${pct(coreUtilization)}; over the capture the core was ${pct(core.coreBusy)} busy (${core.coreBusySource === 'proc-stat' ? '/proc/stat' : 'traced work only'})${saturated ? ' (saturated)' : ''}`,
        ...memberFacts.map((m, i) => `${labels[i]} (napi ${m.napi}): ${dur(m.busyNs)} of polls, ${count(m.polls)} polls, ${count(m.packets)} packets ${during}`),
      ];
      // Per waiting tunnel: its total wait, and whom it waited for most.
      for (const l of group) {
        const mine = byLabel3.get(facts.labels[l.index]!);
        if (mine === undefined) continue;
        const top = mine.top
          .entries()
          .sort((a, b) => b.ns - a.ns)
          .map((e) => `${facts.labels[e.a]} ${dur(e.ns)}`);
        evidence.push(`${facts.labels[l.index]} waited ${dur(mine.total)} for the others' polls (${top.join(', ')}${mine.top.count > 3 ? ', ...' : ''})`);
      }
      if (longest.leftOutCount > 0) {
        evidence.push(
          `${longest.count} waits between pairs of these tunnels; --json lists the ${LIST_LIMIT} longest (details.waits) ... and ${longest.leftOutCount} more pairs, ${dur(longest.leftOutNs)} (details.waitsLeftOut)`,
        );
      }
      // What they could have forwarded is also bounded by what the rest of the gateway could
      // process: its idle core time at the measured CPU cost per packet.
      const claimed = Math.min(lostPackets, facts.spareCapacityPackets);
      if (lostPackets > 0) {
        evidence.push(
          `at their own poll rate the waiting tunnels would have forwarded about ${count(lostPackets)} more packets` +
            (claimed >= lostPackets
              ? ''
              : claimed > 0
                ? `; the cores' idle time could process only about ${count(claimed)} of them, so that is the cost counted`
                : `; no core had idle time left to process them, so no cost is counted`),
        );
      }
      const share = claimed > 0 ? claimed / (facts.totalWork + claimed) : 0;
      const first = runs[0];
      const last = runs[runs.length - 1];
      out.push({
        id: 'co-location',
        severity: saturated ? 'critical' : 'warning',
        summary: `${plural(group.length, 'tunnel')} (${list(labels)}) share cpu ${cpu} for ${dur(durationNs)}${saturated ? ', which is saturated' : ''}${waitedNs > 0 ? `; their waits for each other add up to ${dur(waitedNs)} (summed over the tunnels)` : ''}`,
        cpus: [cpu],
        napis: memberFacts.map((m) => ({ dev: m.dev, napi: m.napi })),
        fromNs: ((t.capture.startNs as number) + (first?.startOffsetNs ?? 0)) as Ns,
        toNs: ((t.capture.startNs as number) + (last?.endOffsetNs ?? facts.durationNs)) as Ns,
        evidence,
        recommendation: threadedNapiAdvice(
          group.map((l) => devFlag(facts.napis[l.index]!)),
          mode,
          `the scheduler can pull these polls apart`,
          t.cpus.length,
        ),
        costEstimate: {
          share,
          basis:
            'packets the waiting tunnels would have forwarded in the time they waited, at their own measured packets per ns of poll time, ' +
            'capped by what the idle time of all cores could process at the measured CPU cost per packet; as a share of the forwarded packets plus those',
        },
        lossy: false,
        details,
      });
    }
    return out;
  },
});

interface Loader {
  index: number;
  busy: Float64Array;
  polls: Float64Array;
  work: Float64Array;
  full: Float64Array;
  waits: WaitRows;
}

/**
 * When two or more tunnels occupied the core at the same time. Events mode: from the polls
 * themselves (Timeline.occupancy: a tunnel occupies the core from a poll to its next poll there
 * within OCCUPANCY_MAX_GAP_NS, or while a full-budget poll left it scheduled), so the figure
 * does not depend on the window. Windows mode (no poll order): per window, the tunnels whose
 * polls took `colocationMinShare` of it or that ended a poll with a full budget there (still
 * scheduled on that core), however many crowd it.
 */
function sharedTime(
  t: Timeline,
  cpu: number,
  loaders: readonly Loader[],
  windowLen: Float64Array,
  th: Thresholds,
): { sharedNs: Float64Array; members: Set<number>; durationNs: number; runs: { startOffsetNs: number; endOffsetNs: number }[] } | undefined {
  const sharedNs = new Float64Array(t.windowCount);
  const members = new Set<number>();
  const start = t.capture.startNs as number;
  if (t.occupancy !== undefined) {
    const occ = t.occupancy.get(cpu);
    if (occ === undefined) return undefined;
    // Typed columns and an index sort instead of an array per run end: a core shared by 1,024
    // tunnels has about 265 k run ends, and their arrays were most of this detector's time.
    const tunnel = new Uint8Array(t.napis.length);
    for (const l of loaders) tunnel[l.index] = 1;
    let runs = 0;
    for (let i = 0; i < occ.napi.length; i++) if (tunnel[occ.napi[i]!] === 1 && occ.end[i]! > occ.start[i]!) runs++;
    const evTs = new Float64Array(2 * runs);
    const evD = new Int8Array(2 * runs);
    const evN = new Int32Array(2 * runs);
    for (let i = 0, e = 0; i < occ.napi.length; i++) {
      const n = occ.napi[i]!;
      if (tunnel[n] !== 1 || !(occ.end[i]! > occ.start[i]!)) continue;
      evTs[e] = occ.start[i]!;
      evD[e] = 1;
      evN[e++] = n;
      evTs[e] = occ.end[i]!;
      evD[e] = -1;
      evN[e++] = n;
    }
    // Ends before starts at the same instant: runs that only touch do not overlap. The order
    // among run ends of one instant and kind changes nothing below (the shared clock moves only
    // between instants), so when (instant, kind, NAPI) fits one exact integer the numbers are
    // sorted as such (TypedArray sort without a comparator), else an index array by comparator.
    const N = t.napis.length;
    let maxTs = 0;
    let integral = true;
    for (let e = 0; e < evTs.length; e++) {
      const ts = evTs[e]!;
      if (!(ts >= 0) || !Number.isInteger(ts)) integral = false;
      else if (ts > maxTs) maxTs = ts;
    }
    const order = new Uint32Array(2 * runs);
    if (integral && (2 * maxTs + 2) * N < Number.MAX_SAFE_INTEGER) {
      const key = new Float64Array(2 * runs);
      for (let e = 0; e < key.length; e++) key[e] = (2 * evTs[e]! + (evD[e]! > 0 ? 1 : 0)) * N + evN[e]!;
      key.sort();
      for (let e = 0; e < key.length; e++) {
        const k = key[e]!;
        const n = k % N;
        const r = (k - n) / N;
        const up = r % 2;
        evTs[e] = (r - up) / 2;
        evD[e] = up === 1 ? 1 : -1;
        evN[e] = n;
        order[e] = e;
      }
    } else {
      for (let e = 0; e < order.length; e++) order[e] = e;
      order.sort((a, b) => evTs[a]! - evTs[b]! || evD[a]! - evD[b]! || a - b);
    }
    // Per tunnel, its open runs, and the shared time it was part of: the shared clock (time with
    // two or more tunnels on the core) read when it came and when it left, not an addition to
    // every present tunnel at every run end (the ns are integers, so the sums are the same).
    const open = new Int32Array(t.napis.length);
    const since = new Float64Array(t.napis.length);
    const own = new Float64Array(t.napis.length);
    let present = 0;
    let clock = 0;
    const intervals: [number, number][] = [];
    let prev = 0;
    for (let i = 0; i < order.length; i++) {
      const e = order[i]!;
      const ts = evTs[e]!;
      const n = evN[e]!;
      if (present >= 2 && ts > prev) {
        const last = intervals[intervals.length - 1];
        if (last !== undefined && last[1] === prev) last[1] = ts;
        else intervals.push([prev, ts]);
        clock += ts - prev;
      }
      prev = ts;
      const was = open[n]!;
      const k = Math.max(0, was + evD[e]!);
      if (was === 0 && k > 0) {
        since[n] = clock;
        present++;
      } else if (was > 0 && k === 0) {
        own[n] = own[n]! + (clock - since[n]!);
        present--;
      }
      open[n] = k;
    }
    for (const l of loaders) if (open[l.index]! > 0) own[l.index] = own[l.index]! + (clock - since[l.index]!);
    const durationNs = intervals.reduce((x, [a, b]) => x + (b - a), 0);
    if (durationNs < th.colocationMinNs) return undefined;
    // Members: tunnels that shared the core for a tenth of that time, or colocationMinNs.
    for (const l of loaders) {
      const ns = own[l.index]!;
      if (ns > 0 && ns >= Math.min(th.colocationMinNs, 0.1 * durationNs)) members.add(l.index);
    }
    if (members.size < 2) return undefined;
    const W = t.windowNs;
    for (const [a, b] of intervals) {
      for (let w = Math.max(0, Math.floor((a - start) / W)); w < t.windowCount && start + w * W < b; w++) {
        const ws = start + w * W;
        sharedNs[w] = sharedNs[w]! + Math.max(0, Math.min(b, ws + W) - Math.max(a, ws));
      }
    }
    return { sharedNs, members, durationNs, runs: intervals.map(([a, b]) => ({ startOffsetNs: a - start, endOffsetNs: b - start })) };
  }
  const flags = new Array<boolean>(t.windowCount).fill(false);
  let windows = 0;
  for (let w = 0; w < t.windowCount; w++) {
    const len = windowLen[w]!;
    if (len <= 0) continue;
    // A tunnel that ended a poll with a full budget here was still scheduled on this core
    // (net/core/dev.c: napi_poll requeues it), whatever share of the window it got.
    const here = loaders.filter((l) => l.busy[w]! >= th.colocationMinShare * len || (l.full[w]! > 0 && l.polls[w]! > 0));
    if (here.length >= 2) {
      flags[w] = true;
      sharedNs[w] = len;
      windows++;
      for (const l of here) members.add(l.index);
    }
  }
  if (windows < th.colocationMinWindows) return undefined;
  return { sharedNs, members, durationNs: sharedNs.reduce((a, b) => a + b, 0), runs: windowRuns(flags, t, windowLen) };
}
