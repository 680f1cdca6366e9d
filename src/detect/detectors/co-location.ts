import type { Ns } from '../../base/time.js';
import type { ColocationDetails, Detector, DetectContext, Finding, PollMode } from '../finding.js';
import { devFlag, windowRuns } from '../facts.js';
import { count, dur, list, pct, plural, ranges } from '../format.js';
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
export const coLocation: Detector = {
  id: 'co-location',
  title: 'NAPI polls of two or more tunnels loading the same core in the same windows',
  detect(ctx: DetectContext): Finding[] {
    const { timeline: t, thresholds: th, facts } = ctx;
    const out: Finding[] = [];
    for (const cpu of t.cpus) {
      // Per window, the NAPIs whose polls took at least colocationMinShare of it on this core.
      const loaders: { index: number; busy: Float64Array; polls: Float64Array; work: Float64Array }[] = [];
      for (const n of t.napis) {
        // Only tunnels share a core in the sense of this finding; other NAPIs (the backlog,
        // NIC queues) are load on the core, counted in its busy time.
        if (facts.napis[n.index]!.role !== 'tunnel') continue;
        const s = n.perCpu.get(cpu);
        if (s !== undefined) loaders.push({ index: n.index, busy: s.busyNs, polls: s.polls, work: s.work });
      }
      if (loaders.length < 2) continue;
      const shared = new Array<boolean>(t.windowCount).fill(false);
      const members = new Set<number>();
      let sharedWindows = 0;
      for (let w = 0; w < t.windowCount; w++) {
        const len = facts.windowLen[w]!;
        if (len <= 0) continue;
        const here = loaders.filter((l) => l.busy[w]! >= th.colocationMinShare * len);
        if (here.length >= 2) {
          shared[w] = true;
          sharedWindows++;
          for (const l of here) members.add(l.index);
        }
      }
      if (sharedWindows < th.colocationMinWindows) continue;

      const core = facts.coreByCpu.get(cpu)!;
      let durationNs = 0;
      let coreBusy = 0;
      for (let w = 0; w < t.windowCount; w++) {
        if (!shared[w]) continue;
        durationNs += facts.windowLen[w]!;
        coreBusy += (core.coreBusySeries[w] ?? 0) * facts.windowLen[w]!;
      }
      const byLabel = (a: number, b: number): number => facts.labels[a]!.localeCompare(facts.labels[b]!, 'en', { numeric: true }) || a - b;
      const group = loaders.filter((l) => members.has(l.index)).sort((a, b) => byLabel(a.index, b.index));
      const memberFacts = group.map((l) => {
        let busyNs = 0;
        let polls = 0;
        let packets = 0;
        for (let w = 0; w < t.windowCount; w++) {
          if (!shared[w]) continue;
          busyNs += l.busy[w]!;
          polls += l.polls[w]!;
          packets += l.work[w]!;
        }
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
      const groupBusy = memberFacts.reduce((s, m) => s + m.busyNs, 0);

      // Waits: NapiCpuSeries.waitedForNs (the timeline's measure of a still-scheduled NAPI
      // held up by another NAPI's poll on the same core), among the group's members.
      const waits: ColocationDetails['waits'] = [];
      let lostPackets = 0;
      for (const l of group) {
        const series = t.napis[l.index]!.perCpu.get(cpu)!;
        for (const [other, ns] of [...series.waitedForNs].sort((a, b) => a[0] - b[0])) {
          if (ns <= 0 || !members.has(other)) continue;
          const waiter = facts.napis[l.index]!;
          const by = facts.napis[other]!;
          waits.push({ waiter: { dev: waiter.dev, napi: waiter.napi }, waitedFor: { dev: by.dev, napi: by.napi }, ns });
          lostPackets += ns * waiter.packetsPerNs;
        }
      }
      const waitedNs = waits.reduce((s, w) => s + w.ns, 0);

      const modes = new Set(group.map((l) => facts.napis[l.index]!.mode));
      const mode: PollMode = modes.size === 1 ? [...modes][0]! : 'mixed';
      const runs = windowRuns(shared, t, facts.windowLen);
      const coreUtilization = durationNs > 0 ? coreBusy / durationNs : 0;
      const coreShare = durationNs > 0 ? groupBusy / durationNs : 0;
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
        waitedNs,
        lostPackets,
      };
      const labels = group.map((l) => facts.labels[l.index]!);
      // With idle records the windows' whole busy time is known; otherwise the traced work in
      // those windows is a lower bound and the whole-capture figure (/proc/stat) says the rest.
      const perWindowWhole = core.coreBusySource === 'idle-events';
      const saturated = (perWindowWhole ? coreUtilization : Math.max(coreUtilization, core.coreBusy)) >= th.saturatedUtil;
      const where = mode === 'threaded' ? 'in their napi threads' : mode === 'softirq' ? 'in softirq' : 'in softirq and threads';
      const evidence = [
        `cpu ${cpu}: ${list(labels)} polled ${where} in the same windows for ${dur(durationNs)} (${pct(details.captureShare)} of the capture, ${plural(sharedWindows, 'window')}): ${ranges(runs)}`,
        perWindowWhole
          ? `their polls took ${pct(coreShare)} of cpu ${cpu} in those windows; the core was ${pct(coreUtilization)} busy (not idle)${saturated ? ' (saturated)' : ''}`
          : `their polls took ${pct(coreShare)} of cpu ${cpu} in those windows, all traced work ${pct(coreUtilization)}; over the capture the core was ${pct(core.coreBusy)} busy (${core.coreBusySource === 'proc-stat' ? '/proc/stat' : 'traced work only'})${saturated ? ' (saturated)' : ''}`,
        ...memberFacts.map((m, i) => `${labels[i]} (napi ${m.napi}): ${dur(m.busyNs)} of polls, ${count(m.polls)} polls, ${count(m.packets)} packets in those windows`),
      ];
      // Per waiting tunnel: its total wait, and whom it waited for most.
      const labelOf = (r: { dev: string; napi: string }): string => facts.labels[facts.napis.findIndex((n) => n.napi === r.napi && n.dev === r.dev)]!;
      for (const l of group) {
        const mine = waits.filter((w) => labelOf(w.waiter) === facts.labels[l.index]).sort((a, b) => b.ns - a.ns);
        if (mine.length === 0) continue;
        const total = mine.reduce((a, w) => a + w.ns, 0);
        const top = mine.slice(0, 3).map((w) => `${labelOf(w.waitedFor)} ${dur(w.ns)}`);
        evidence.push(`${facts.labels[l.index]} waited ${dur(total)} for the others' polls (${top.join(', ')}${mine.length > 3 ? ', ...' : ''})`);
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
        summary: `${plural(group.length, 'tunnel')} (${list(labels)}) share cpu ${cpu} for ${dur(durationNs)}${saturated ? ', which is saturated' : ''}${waitedNs > 0 ? `; they waited ${dur(waitedNs)} for each other` : ''}`,
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
};
