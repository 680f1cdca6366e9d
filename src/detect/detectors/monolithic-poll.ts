import type { Ns } from '../../base/time.js';
import type { Detector, DetectContext, Finding, MonolithicDetails } from '../finding.js';
import { at, count, dur, list, pct, plural } from '../format.js';
import { threadedNapiAdvice } from '../recommend.js';

/**
 * monolithic-poll: chains of polls of one NAPI on one core that never complete. A poll that
 * returns `work == budget` is not completed: net/core/dev.c: napi_poll puts it back on the
 * same CPU's poll list, and wg_packet_rx_poll (drivers/net/wireguard/receive.c) only completes
 * once the peer's receive queue is drained, which does not happen under heavy traffic. The
 * chain holds the core; NET_RX that runs past 2 ms or 10 restarts moves to ksoftirqd/N
 * (kernel/softirq.c: __do_softirq), which is the sign the core is saturated.
 *
 * One finding per (NAPI, core) whose chains of at least `monolithicMinChainPolls` polls exist
 * and whose chains take at least `monolithicMinCoreShare` of the core over the capture.
 */
export const monolithicPoll: Detector = {
  id: 'monolithic-poll',
  title: 'chains of full-budget polls of one NAPI holding one core',
  detect(ctx: DetectContext): Finding[] {
    const { timeline: t, thresholds: th, facts } = ctx;
    const out: Finding[] = [];
    // The histogram has log2 buckets: round the threshold down to a power of two.
    const minBucket = Math.floor(Math.log2(th.monolithicMinChainPolls));
    for (const n of t.napis) {
      const nf = facts.napis[n.index]!;
      for (const cpu of [...n.perCpu.keys()].sort((a, b) => a - b)) {
        const s = n.perCpu.get(cpu)!;
        const c = s.chains;
        const hist = c.lengthLog2Histogram;
        let longChains = 0;
        for (let k = minBucket; k < hist.length; k++) longChains += hist[k] ?? 0;
        const polls = s.polls.reduce((a, b) => a + b, 0);
        const full = s.fullBudgetPolls.reduce((a, b) => a + b, 0);
        const ownNs = s.busyNs.reduce((a, b) => a + b, 0);
        // Windows mode aggregates in the kernel and has no poll order, hence no chains: there a
        // NAPI whose polls on this core nearly all used the whole budget, and that took the
        // core's share, is taken as one chain (the evidence says it is inferred).
        const fromWindows = t.capture.mode === 'windows' && c.count === 0;
        if (fromWindows) {
          const share = facts.durationNs > 0 ? ownNs / facts.durationNs : 0;
          if (polls < th.monolithicMinChainPolls || full / polls < th.monolithicMinFullShare || share < th.monolithicMinCoreShare) continue;
        } else {
          const coreShare = facts.durationNs > 0 ? c.totalNs / facts.durationNs : 0;
          if (longChains === 0 || coreShare < th.monolithicMinCoreShare) continue;
        }
        const coreShare = facts.durationNs > 0 ? (fromWindows ? ownNs : c.totalNs) / facts.durationNs : 0;
        if (fromWindows) longChains = 1;

        const core = facts.coreByCpu.get(cpu);
        const blocked: MonolithicDetails['blocked'] = [];
        let lostPackets = 0;
        for (const other of t.napis) {
          if (other.index === n.index) continue;
          const ns = other.perCpu.get(cpu)?.waitedForNs.get(n.index) ?? 0;
          if (ns <= 0) continue;
          const of = facts.napis[other.index]!;
          blocked.push({ dev: of.dev, napi: of.napi, ns });
          lostPackets += ns * of.packetsPerNs;
        }
        const longest = c.longest
          .slice()
          .sort((a, b) => b.endNs - b.startNs - (a.endNs - a.startNs) || a.startNs - b.startNs)
          .slice(0, 5)
          .map((l) => ({
            startOffsetNs: l.startNs - t.capture.startNs,
            endOffsetNs: l.endNs - t.capture.startNs,
            polls: l.polls,
            durationNs: l.endNs - l.startNs,
          }));
        const ksoftirqdNetRxBusyNs = core?.ksoftirqdNetRxBusyNs ?? 0;
        const details: MonolithicDetails = {
          cpu,
          dev: nf.dev,
          napi: nf.napi,
          chains: longChains,
          allChains: fromWindows ? 1 : c.count,
          chainPolls: fromWindows ? full : c.totalPolls,
          chainNs: fromWindows ? ownNs : c.totalNs,
          meanChainNs: fromWindows ? ownNs : c.count > 0 ? c.totalNs / c.count : 0,
          inferredFromWindows: fromWindows,
          coreShare,
          fullBudgetShare: polls > 0 ? full / polls : 0,
          lengthHistogram: hist
            .map((chains, k) => ({ minPolls: 2 ** k, maxPolls: 2 ** (k + 1) - 1, chains }))
            .filter((b) => b.chains > 0),
          longest,
          ksoftirqdNetRxCount: core?.ksoftirqdNetRxCount ?? 0,
          ksoftirqdNetRxBusyNs,
          ksoftirqdShare: core !== undefined && core.netRxBusyNs > 0 ? ksoftirqdNetRxBusyNs / core.netRxBusyNs : 0,
          blocked,
          mode: nf.mode,
        };
        const label = facts.labels[n.index]!;
        const saturated = (core?.utilization ?? 0) >= th.saturatedUtil;
        const evidence = fromWindows
          ? [
              `${label} (napi ${nf.napi}) on cpu ${cpu}: ${count(polls)} polls, ${pct(full / polls)} of them full budget, ${dur(ownNs)} = ${pct(coreShare)} of the capture (windows mode: chains inferred from per-window counts, their lengths unknown)`,
            ]
          : [
          `${label} (napi ${nf.napi}) on cpu ${cpu}: ${plural(longChains, 'chain')} of ${th.monolithicMinChainPolls}+ full-budget polls (${c.count} of 2+), ${count(c.totalPolls)} polls; the chains span ${dur(c.totalNs)} = ${pct(coreShare)} of the capture, its own polls there ${dur(ownNs)}`,
          `chain length (polls): ${details.lengthHistogram.map((b) => `${b.minPolls}-${b.maxPolls}: ${b.chains}`).join(', ')}; mean chain ${dur(details.meanChainNs)}`,
            ];
        evidence.push(
          `${pct(details.fullBudgetShare)} of its polls on cpu ${cpu} used the whole budget; cpu ${cpu} was ${pct(core?.utilization ?? 0)} busy over the capture${saturated ? ' (saturated)' : ''}`,
        );
        if (longest.length > 0) {
          evidence.push(`longest: ${longest.slice(0, 3).map((l) => `${l.polls} polls, ${dur(l.durationNs)} at ${at(l.startOffsetNs)}`).join('; ')}`);
        }
        if (details.ksoftirqdNetRxCount > 0) {
          evidence.push(`NET_RX on cpu ${cpu} was handed to ksoftirqd/${cpu} ${count(details.ksoftirqdNetRxCount)} times (${pct(details.ksoftirqdShare)} of its NET_RX time): the core is saturated`);
        }
        const blockedLabels = blocked.map((b) => facts.labels[facts.napis.findIndex((x) => x.napi === b.napi && x.dev === b.dev)]!);
        if (blocked.length > 0) {
          evidence.push(`${list(blockedLabels)} waited ${dur(blocked.reduce((a, b) => a + b.ns, 0))} behind it on cpu ${cpu}`);
        }
        const first = longest.reduce((m, l) => Math.min(m, l.startOffsetNs), Infinity);
        const last = longest.reduce((m, l) => Math.max(m, l.endOffsetNs), -Infinity);
        // Critical when it costs others (a tunnel waited behind it) or the kernel had to defer
        // NET_RX to ksoftirqd; a saturated core running one tunnel alone is only a warning.
        const critical = blocked.length > 0 || details.ksoftirqdNetRxCount > 0;
        const what = fromWindows ? `${pct(details.fullBudgetShare)} of its polls full budget, ${pct(coreShare)} of the capture` : `${plural(longChains, 'chain')} of full-budget polls span ${pct(coreShare)} of the capture`;
        out.push({
          id: 'monolithic-poll',
          // A threaded poll that never completes holds only its own thread: the scheduler can
          // move everything else away from it, so it is information, not a problem to fix.
          severity: critical ? 'critical' : nf.mode === 'threaded' ? 'info' : 'warning',
          summary: `${label}'s poll is monolithic on cpu ${cpu}: ${what}${blocked.length > 0 ? `, holding up ${list(blockedLabels)}` : ''}${details.ksoftirqdNetRxCount > 0 ? '; NET_RX deferred to ksoftirqd' : ''}`,
          cpus: [cpu],
          napis: [{ dev: nf.dev, napi: nf.napi }],
          fromNs: ((t.capture.startNs as number) + (Number.isFinite(first) ? first : 0)) as Ns,
          toNs: ((t.capture.startNs as number) + (Number.isFinite(last) ? last : facts.durationNs)) as Ns,
          evidence,
          recommendation:
            nf.mode === 'threaded'
              ? {
                  text: `${label}'s poll already runs in its napi thread and still never completes: one tunnel's forwarding is limited to one core. Spread the traffic over more tunnels (peers), or give the thread a core of its own.`,
                  commands: [],
                }
              : threadedNapiAdvice(
                  [{ dev: nf.dev, ...(nf.devThreaded === undefined ? {} : { threaded: nf.devThreaded }) }],
                  nf.mode,
                  `this poll stops holding cpu ${cpu}'s softirq and other tunnels placed there are not trapped behind it`,
                ),
          // Not counted twice: what a chain costs is the waiting of the tunnels behind it, which
          // the co-location finding of this core already counts; a chain alone costs nothing
          // measurable (one tunnel's poll uses at most one core in every architecture).
          costEstimate: {
            share: 0,
            basis: `counted under co-location (tunnels waiting behind this chain would have forwarded about ${count(lostPackets)} packets)`,
          },
          lossy: false,
          details,
        });
      }
    }
    return out;
  },
};
