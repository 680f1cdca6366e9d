import type { Ns } from '../../base/time.js';
import { z } from 'zod';
import { defineDetector, type DetectContext, type FindingOf } from '../finding.js';
import { at, byName, count, cpuList, dur, list, pct, plural } from '../format.js';
import { threadedNapiAdvice } from '../recommend.js';
import { devFlag, PollMode } from '../facts.js';
import { LIST_LIMIT, Longest } from '../longest.js';

/**
 * monolithic-poll: chains of polls of one NAPI on one core that never complete. A poll that
 * returns `work == budget` is not completed: net/core/dev.c: napi_poll puts it back on the
 * same CPU's poll list, and wg_packet_rx_poll (drivers/net/wireguard/receive.c) only completes
 * once the peer's receive queue is drained, which does not happen under heavy traffic. The
 * chain holds the core; NET_RX that runs past 2 ms or 10 restarts moves to ksoftirqd/N
 * (kernel/softirq.c: __do_softirq), which is the sign the core is saturated.
 *
 * A NAPI is monolithic on a core when it has chains of at least `monolithicMinChainPolls`
 * polls there and its chains span at least `monolithicMinCoreShare` of the capture. One
 * finding per core, listing every such NAPI (on a gateway in trouble that is all of them).
 */
export const MonolithicNapi = z.object({
  cpu: z.number().int(),
  dev: z.string(),
  napi: z.string(),
  /** Chains of at least `monolithicMinChainPolls` polls (from the log2 histogram). */
  chains: z.number().int(),
  /** Windows-mode capture: no poll order, so the chain is inferred from per-window counts. */
  inferredFromWindows: z.boolean(),
  /** All chains of 2+ full-budget polls on this core. */
  allChains: z.number().int(),
  chainPolls: z.number(),
  /** Time the chains span (first poll's start to last poll's end; other NAPIs' polls in between included). */
  chainNs: z.number(),
  meanChainNs: z.number(),
  /** chainNs over the probed span (the capture's probedNs). */
  coreShare: z.number(),
  /** This NAPI's own poll time on this core. */
  ownBusyNs: z.number(),
  fullBudgetShare: z.number(),
  lengthHistogram: z.array(z.object({ minPolls: z.number().int(), maxPolls: z.number().int(), chains: z.number().int() })),
  longest: z.array(z.object({ startOffsetNs: z.number(), endOffsetNs: z.number(), polls: z.number(), durationNs: z.number() })),
  /**
   * Other NAPIs that waited behind this one on this core: the LIST_LIMIT (100) longest waits
   * (longest.ts), in the order of the timeline's NAPIs.
   */
  blocked: z.array(z.object({ dev: z.string(), napi: z.string(), ns: z.number() })),
  /** Only when `blocked` was cut: the NAPIs left out and the ns they waited (kept + left out = every NAPI behind it). */
  blockedLeftOut: z.object({ count: z.number().int(), ns: z.number() }).optional(),
  mode: PollMode,
});
export type MonolithicNapi = z.infer<typeof MonolithicNapi>;

export const MonolithicCore = z.object({
  cpu: z.number().int(),
  /** The core's busy share over the capture. */
  coreUtilization: z.number(),
  /** NET_RX on this core that ran in ksoftirqd/N (the softirq was deferred: the core is saturated). */
  ksoftirqdNetRxCount: z.number(),
  ksoftirqdNetRxBusyNs: z.number(),
  ksoftirqdShare: z.number(),
});
export type MonolithicCore = z.infer<typeof MonolithicCore>;

/**
 * One finding per core with every NAPI whose polls turned monolithic there; threaded polls
 * that hold only their own thread (nobody waits, no ksoftirqd) are one informational finding
 * over all their cores.
 */
export const MonolithicDetails = z.object({
  cores: z.array(MonolithicCore),
  napis: z.array(MonolithicNapi),
});
export type MonolithicDetails = z.infer<typeof MonolithicDetails>;

type MonolithicFinding = FindingOf<'monolithic-poll', MonolithicDetails>;

/** A NAPI with chains on a core, and who waited behind them. */
interface ChainFound {
  index: number;
  m: MonolithicNapi;
  lostPackets: number;
  behind: Longest;
}

export const monolithicPoll = defineDetector({
  id: 'monolithic-poll',
  title: 'chains of full-budget polls of one NAPI holding one core',
  details: MonolithicDetails,
  detect(ctx: DetectContext): MonolithicFinding[] {
    const { timeline: t, thresholds: th, facts } = ctx;
    // The histogram has log2 buckets: round the threshold down to a power of two.
    const minBucket = Math.floor(Math.log2(th.monolithicMinChainPolls));
    const perCore = new Map<number, ChainFound[]>();
    for (const n of t.napis) {
      const nf = facts.napis[n.index]!;
      // Other NAPIs (backlog, NIC queues) are load, not tunnels: no finding of their own.
      if (nf.role !== 'tunnel') continue;
      for (const cpu of [...n.perCpu.keys()].sort((a, b) => a - b)) {
        const s = n.perCpu.get(cpu)!;
        const c = s.chains;
        const hist = c.lengthLog2Histogram;
        let longChains = 0;
        for (let k = minBucket; k < hist.length; k++) longChains += hist[k] ?? 0;
        // Windows mode aggregates in the kernel and has no poll order, hence no chains: there a
        // NAPI whose polls on this core nearly all used the whole budget, and that took the
        // core's share, is taken as one chain (the evidence says it is inferred).
        const fromWindows = t.capture.mode === 'windows' && c.count === 0;
        // The per-window sums only for the pairs that pass the chain test: on a stock capture of
        // 1,024 tunnels over 128 cores there are 65 k (NAPI, core) pairs, and reading their
        // three series each was a quarter of this detector's time (bench/README.md).
        if (!fromWindows && longChains === 0) continue;
        const ownNs = s.busyNs.reduce((a, b) => a + b, 0);
        const spanNs = fromWindows ? ownNs : c.totalNs;
        const coreShare = facts.probedNs > 0 ? Math.min(1, spanNs / facts.probedNs) : 0;
        if (coreShare < th.monolithicMinCoreShare) continue;
        const polls = s.polls.reduce((a, b) => a + b, 0);
        const full = s.fullBudgetPolls.reduce((a, b) => a + b, 0);
        if (fromWindows && (polls < th.monolithicMinChainPolls || full / polls < th.monolithicMinFullShare)) continue;

        // Who waited behind it is filled in per core below (one pass over that core's waits).
        const blocked: MonolithicNapi['blocked'] = [];
        const m: MonolithicNapi = {
          cpu,
          dev: nf.dev,
          napi: nf.napi,
          chains: fromWindows ? 1 : longChains,
          inferredFromWindows: fromWindows,
          allChains: fromWindows ? 1 : c.count,
          chainPolls: fromWindows ? full : c.totalPolls,
          chainNs: spanNs,
          meanChainNs: fromWindows ? ownNs : c.count > 0 ? c.totalNs / c.count : 0,
          coreShare,
          ownBusyNs: ownNs,
          fullBudgetShare: polls > 0 ? full / polls : 0,
          lengthHistogram: fromWindows ? [] : hist.map((chains, k) => ({ minPolls: 2 ** k, maxPolls: 2 ** (k + 1) - 1, chains })).filter((b) => b.chains > 0),
          longest: c.longest
            .slice()
            .sort((a, b) => b.endNs - b.startNs - (a.endNs - a.startNs) || a.startNs - b.startNs)
            .slice(0, 5)
            .map((l) => ({ startOffsetNs: l.startNs - t.capture.startNs, endOffsetNs: l.endNs - t.capture.startNs, polls: l.polls, durationNs: l.endNs - l.startNs })),
          blocked,
          mode: nf.mode,
        };
        const list0 = perCore.get(cpu) ?? [];
        list0.push({ index: n.index, m, lostPackets: 0, behind: new Longest(LIST_LIMIT) });
        perCore.set(cpu, list0);
      }
    }
    // A blocked NAPI's label is that of the first NAPI with its device and napi pointer.
    const firstByRef = new Map<string, number>();
    const labelIndex = facts.napis.map((x, i) => {
      const k = `${x.dev}\0${x.napi}`;
      const first = firstByRef.get(k);
      if (first === undefined) firstByRef.set(k, i);
      return first ?? i;
    });
    // Per core, the time each label waited behind that core's chains (the evidence's list).
    const blockedByCore = new Map<number, Map<string, number>>();
    // The NAPIs with a series on each core, in the order of t.napis (one pass over the pairs,
    // not a Map lookup per NAPI and core).
    const napisOn = new Map<number, (typeof t.napis)[number][]>();
    if (perCore.size > 0) {
      for (const n of t.napis) {
        for (const cpu of n.perCpu.keys()) {
          if (!perCore.has(cpu)) continue;
          const l = napisOn.get(cpu);
          if (l === undefined) napisOn.set(cpu, [n]);
          else l.push(n);
        }
      }
    }
    const chainOf: (ChainFound | undefined)[] = new Array<ChainFound | undefined>(t.napis.length).fill(undefined);
    const labelWait = new Float64Array(t.napis.length);
    const labelSeen = new Uint8Array(t.napis.length);
    // The NAPIs that waited behind each one on a core, in the order of t.napis: one pass over
    // the core's waits instead of a lookup in every other NAPI's waits per (NAPI, core), which
    // was 67 M lookups on a stock capture of 1,024 tunnels over 128 cores.
    for (const [cpu, found] of perCore) {
      // Only the NAPIs with chains here are looked up; their waiters are chosen as they come
      // (longest.ts: 1,022 chains with a thousand NAPIs behind each, there).
      // By NAPI index, not in Maps: about a million waits on that capture, each looked up.
      for (const f of found) chainOf[f.index] = f;
      // Per first NAPI of a label, the time waited, in the order the labels first waited; the
      // waits are integer ns, so the sums are those of a Map keyed by the label.
      const touched: number[] = [];
      for (const other of napisOn.get(cpu) ?? []) {
        const waits = other.perCpu.get(cpu)!.waitedForNs;
        const li = labelIndex[other.index]!;
        const perNs = facts.napis[other.index]!.packetsPerNs;
        for (let r = waits.from; r < waits.to; r++) {
          const by = waits.waitedFor[r]!;
          const ns = waits.ns[r]!;
          if (ns <= 0 || by === other.index) continue;
          const f = chainOf[by];
          if (f === undefined) continue;
          f.behind.add(other.index, 0, ns);
          f.lostPackets += ns * perNs;
          if (labelSeen[li] === 0) {
            labelSeen[li] = 1;
            touched.push(li);
          }
          labelWait[li] = labelWait[li]! + ns;
        }
      }
      const blockedAll = new Map<string, number>();
      for (const li of touched) {
        const label = facts.labels[li]!;
        blockedAll.set(label, (blockedAll.get(label) ?? 0) + labelWait[li]!);
        labelWait[li] = 0;
        labelSeen[li] = 0;
      }
      for (const f of found) chainOf[f.index] = undefined;
      blockedByCore.set(cpu, blockedAll);
      for (const f of found) {
        f.m.blocked = f.behind.entries().map((e) => ({ dev: facts.napis[e.a]!.dev, napi: facts.napis[e.a]!.napi, ns: e.ns }));
        if (f.behind.leftOutCount > 0) f.m.blockedLeftOut = { count: f.behind.leftOutCount, ns: f.behind.leftOutNs };
      }
    }

    // Per core, then the threaded ones that hold only their own thread merged into one.
    const groups: { cpus: number[]; found: { index: number; m: MonolithicNapi; lostPackets: number; behind: Longest }[] }[] = [];
    const quiet: { cpus: number[]; found: { index: number; m: MonolithicNapi; lostPackets: number; behind: Longest }[] } = { cpus: [], found: [] };
    for (const [cpu, found] of [...perCore].sort((a, b) => a[0] - b[0])) {
      const core = facts.coreByCpu.get(cpu);
      const deferred = core !== undefined && core.netRxBusyNs > 0 && core.ksoftirqdNetRxBusyNs / core.netRxBusyNs >= th.ksoftirqdMinShare;
      const holdsOnlyItself = found.every((f) => f.m.mode === 'threaded' && f.behind.count === 0) && !deferred;
      if (holdsOnlyItself) {
        quiet.cpus.push(cpu);
        quiet.found.push(...found);
      } else groups.push({ cpus: [cpu], found });
    }
    if (quiet.found.length > 0) groups.push(quiet);

    const out: MonolithicFinding[] = [];
    for (const { cpus, found } of groups) {
      found.sort((a, b) => a.m.cpu - b.m.cpu || byName(facts.labels[a.index]!, facts.labels[b.index]!));
      const cores: MonolithicCore[] = cpus.map((cpu) => {
        const core = facts.coreByCpu.get(cpu);
        const ksBusy = core?.ksoftirqdNetRxBusyNs ?? 0;
        return {
          cpu,
          coreUtilization: core?.coreBusy ?? 0,
          ksoftirqdNetRxCount: core?.ksoftirqdNetRxCount ?? 0,
          ksoftirqdNetRxBusyNs: ksBusy,
          ksoftirqdShare: core !== undefined && core.netRxBusyNs > 0 ? ksBusy / core.netRxBusyNs : 0,
        };
      });
      const details: MonolithicDetails = { cores, napis: found.map((f) => f.m) };
      const labels = found.map((f) => facts.labels[f.index]!);
      const one = cpus.length === 1;
      const where = one ? `cpu ${cpus[0]}` : `cpus ${cpuList(cpus)}`;
      const evidence: string[] = [];
      for (let i = 0; i < found.length; i++) {
        const m = found[i]!.m;
        const on = one ? '' : ` on cpu ${m.cpu}`;
        evidence.push(
          m.inferredFromWindows
            ? `${labels[i]} (napi ${m.napi})${on}: ${pct(m.fullBudgetShare)} of its polls full budget, own polls ${dur(m.ownBusyNs)} = ${pct(m.coreShare)} of the capture (windows mode: chains inferred from per-window counts, lengths unknown)`
            : `${labels[i]} (napi ${m.napi})${on}: ${plural(m.chains, 'chain')} of ${th.monolithicMinChainPolls}+ full-budget polls (lengths ${m.lengthHistogram.map((b) => `${b.minPolls}-${b.maxPolls}: ${b.chains}`).join(', ')}), ${count(m.chainPolls)} polls spanning ${dur(m.chainNs)} = ${pct(m.coreShare)} of the capture; own polls ${dur(m.ownBusyNs)}; ${pct(m.fullBudgetShare)} full budget` +
                (m.longest[0] ? `; longest ${m.longest[0].polls} polls over ${dur(m.longest[0].durationNs)} from ${at(m.longest[0].startOffsetNs)}` : ''),
        );
      }
      const sat = cores.filter((c) => c.coreUtilization >= th.saturatedUtil);
      evidence.push(
        one
          ? `cpu ${cpus[0]} was ${pct(cores[0]!.coreUtilization)} busy over the capture${sat.length > 0 ? ' (saturated)' : ''}`
          : `${plural(sat.length, 'core')} of ${cpus.length} saturated over the capture${sat.length > 0 ? ` (${cpuList(sat.map((c) => c.cpu))})` : ''}`,
      );
      for (const c of cores) {
        if (c.ksoftirqdNetRxCount > 0) {
          evidence.push(
            `NET_RX on cpu ${c.cpu} was handed to ksoftirqd/${c.cpu} ${count(c.ksoftirqdNetRxCount)} times (${pct(c.ksoftirqdShare)} of its NET_RX time)` +
              (c.ksoftirqdShare >= th.ksoftirqdMinShare ? ': the core is saturated' : ''),
          );
        }
      }
      // The quiet group has nobody behind its chains; any other group is one core.
      const blockedAll = one ? (blockedByCore.get(cpus[0]!) ?? new Map<string, number>()) : new Map<string, number>();
      const blockedLabels = [...blockedAll.keys()].sort((a, b) => byName(a, b));
      if (blockedLabels.length > 0) {
        evidence.push(`waiting behind these chains on ${where}: ${blockedLabels.map((l) => `${l} ${dur(blockedAll.get(l)!)}`).join(', ')}`);
      }
      const cut = found.filter((f) => f.behind.leftOutCount > 0);
      if (cut.length > 0) {
        const pairs = found.reduce((a, f) => a + f.behind.count, 0);
        const leftCount = cut.reduce((a, f) => a + f.behind.leftOutCount, 0);
        const leftNs = cut.reduce((a, f) => a + f.behind.leftOutNs, 0);
        evidence.push(
          `${pairs} (chain, NAPI behind it) pairs on ${where}; --json lists the ${LIST_LIMIT} longest behind each chain (details.napis[].blocked) ... and ${leftCount} more pairs, ${dur(leftNs)} (blockedLeftOut)`,
        );
      }
      const modes = new Set(found.map((f) => f.m.mode));
      const mode: PollMode = modes.size === 1 ? [...modes][0]! : 'mixed';
      const first = Math.min(...found.flatMap((f) => f.m.longest.map((l) => l.startOffsetNs)));
      const last = Math.max(...found.flatMap((f) => f.m.longest.map((l) => l.endOffsetNs)));
      const maxShare = Math.max(...found.map((f) => f.m.coreShare));
      // NET_RX deferred to ksoftirqd for a real share of its time: the core is saturated
      // (a handful of deferrals happen on any busy core).
      const ks = cores.some((c) => c.ksoftirqdShare >= th.ksoftirqdMinShare);
      // Critical when it costs others (a tunnel waited behind it) or the kernel had to defer
      // NET_RX to ksoftirqd. A threaded poll that never completes holds only its own thread:
      // the scheduler can move everything else away from it, so that alone is information.
      const critical = blockedLabels.length > 0 || ks;
      const devs = found.map((f) => devFlag(facts.napis[f.index]!));
      const lostPackets = found.reduce((a, f) => a + f.lostPackets, 0);
      const who = found.length === 1 ? `${labels[0]}'s poll is` : `${found.length} tunnels' polls are`;
      out.push({
        id: 'monolithic-poll',
        severity: critical ? 'critical' : mode === 'threaded' ? 'info' : 'warning',
        summary:
          mode === 'threaded' && !critical
            ? `${who} monolithic in ${found.length === 1 ? 'its napi thread' : 'their napi threads'} on ${where} (one core each, nobody waits behind them): chains of full-budget polls span up to ${pct(maxShare)} of the capture`
            : `${who} monolithic on ${where}: chains of full-budget polls span ${found.length === 1 ? '' : 'up to '}${pct(maxShare)} of the capture` +
              (ks ? '; NET_RX deferred to ksoftirqd' : '') +
              (found.length === 1 && blockedLabels.length > 0 ? `; holding up ${list(blockedLabels)}` : ''),
        cpus,
        napis: found.map((f) => ({ dev: f.m.dev, napi: f.m.napi })),
        fromNs: ((t.capture.startNs as number) + (Number.isFinite(first) ? first : 0)) as Ns,
        toNs: ((t.capture.startNs as number) + (Number.isFinite(last) ? last : facts.durationNs)) as Ns,
        evidence,
        recommendation:
          mode === 'threaded'
            ? {
                text: `${list([...new Set(labels)])} already ${found.length === 1 ? 'runs' : 'run'} in napi threads and still never ${found.length === 1 ? 'completes' : 'complete'}: one tunnel's forwarding is limited to one core. Spread the traffic over more tunnels (peers)${found.length <= t.cpus.length ? ', or give each thread a core of its own' : ` (${found.length} threads on ${t.cpus.length} cores cannot each have a core of their own)`}.`,
                commands: [],
              }
            : threadedNapiAdvice(devs, mode, `these polls stop holding ${where}'s softirq and tunnels placed there are not trapped behind them`, t.cpus.length),
        // Not counted twice: what a chain costs is the waiting of the tunnels behind it, which
        // the co-location finding of this core already counts; a chain alone costs nothing
        // measurable (one tunnel's poll uses at most one core in every architecture).
        costEstimate: {
          share: 0,
          basis: `counted under co-location (tunnels waiting behind these chains would have forwarded about ${count(lostPackets)} packets)`,
        },
        lossy: false,
        details,
      });
    }
    return out;
  },
});
