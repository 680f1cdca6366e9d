import type { Ns } from '../../base/time.js';
import { z } from 'zod';
import { defineDetector, OffsetRange, type DetectContext, type FindingOf, type Recommendation } from '../finding.js';
import { windowRuns, type CoreFacts } from '../facts.js';
import { byName, cpuList, dur, pct, plural, ranges } from '../format.js';

/**
 * core-imbalance: per-core utilization (NET_RX softirq, polls, crypt work, threads), the
 * busiest core against the mean, and idle cores beside saturated ones: the talk's "CPU % per
 * core" picture of gw2, a few cores at 100% while most idle.
 *
 * Its cost is not counted here: the throughput it loses is the waiting that co-location and
 * monolithic-poll measure, and counting it twice would distort the ranking.
 */
export const ImbalanceDetails = z.object({
  maxCpu: z.number().int(),
  maxUtilization: z.number(),
  meanUtilization: z.number(),
  ratio: z.number(),
  /** Cores busier than `saturatedUtil` in at least one window, and for how long. */
  saturated: z.array(z.object({ cpu: z.number().int(), saturatedNs: z.number(), utilization: z.number() })),
  idle: z.array(z.number().int()),
  /** Time (and share of the capture) with a saturated core beside an idle one in the same window. */
  besideIdleNs: z.number(),
  besideIdleShare: z.number(),
  ranges: z.array(OffsetRange),
});
export type ImbalanceDetails = z.infer<typeof ImbalanceDetails>;

type ImbalanceFinding = FindingOf<'core-imbalance', ImbalanceDetails>;

export const coreImbalance = defineDetector({
  id: 'core-imbalance',
  title: 'uneven load over the cores: saturated cores beside idle ones',
  details: ImbalanceDetails,
  detect(ctx: DetectContext): ImbalanceFinding[] {
    const { timeline: t, thresholds: th, facts } = ctx;
    if (facts.cores.length < 2 || facts.probedNs <= 0) return [];
    const maxCore = facts.cores.reduce((m, c) => (c.coreBusy > m.coreBusy ? c : m), facts.cores[0]!);
    const mean = facts.meanUtilization;
    const ratio = mean > 0 ? maxCore.coreBusy / mean : 0;

    const saturated: ImbalanceDetails['saturated'] = [];
    for (const c of facts.cores) {
      let ns = 0;
      for (let w = 0; w < t.windowCount; w++) if ((c.coreBusySeries[w] ?? 0) >= th.saturatedUtil) ns += facts.windowLen[w]!;
      if (ns > 0) saturated.push({ cpu: c.cpu, saturatedNs: ns, utilization: c.coreBusy });
    }
    saturated.sort((a, b) => b.saturatedNs - a.saturatedNs || a.cpu - b.cpu);
    const idle = facts.cores.filter((c) => c.coreBusy <= th.idleUtil).map((c) => c.cpu);

    // Windows where some core is saturated while another sits idle in the same window, and
    // which cores were which there.
    const both = new Array<boolean>(t.windowCount).fill(false);
    const satThere = new Set<number>();
    const idleThere = new Set<number>();
    let besideIdleNs = 0;
    for (let w = 0; w < t.windowCount; w++) {
      // A window clipped to less than half its length by the capture's end says too little.
      if (facts.windowLen[w]! < t.windowNs / 2) continue;
      const sat = facts.cores.filter((c) => (c.coreBusySeries[w] ?? 0) >= th.saturatedUtil);
      // Idle in a window: with /proc/stat only the traced work is known per window, a lower
      // bound that cannot show a core idle unless /proc/stat says the core idled over the capture.
      const idl = facts.cores.filter((c) => (c.coreBusySource !== 'proc-stat' || c.coreBusy <= th.idleUtil) && (c.coreBusySeries[w] ?? 0) <= th.idleUtil);
      if (sat.length === 0 || idl.length === 0) continue;
      both[w] = true;
      besideIdleNs += facts.windowLen[w]!;
      for (const c of sat) satThere.add(c.cpu);
      for (const c of idl) idleThere.add(c.cpu);
    }
    const runs = windowRuns(both, t, facts.windowLen);
    const besideIdleShare = facts.probedNs > 0 ? besideIdleNs / facts.probedNs : 0;
    const satBesideIdle = besideIdleShare >= th.imbalanceMinShare;
    if (!satBesideIdle && !(ratio >= th.imbalanceMinRatio && maxCore.coreBusy > th.idleUtil)) return [];

    const details: ImbalanceDetails = {
      maxCpu: maxCore.cpu,
      maxUtilization: maxCore.coreBusy,
      meanUtilization: mean,
      ratio,
      saturated,
      idle,
      besideIdleNs,
      besideIdleShare,
      ranges: runs.slice(0, 20),
    };
    const evidence = [
      `busiest cpu ${maxCore.cpu}: ${pct(maxCore.coreBusy)} busy (${breakdown(maxCore)}); mean over ${plural(facts.cores.length, 'core')}: ${pct(mean)} (max/mean ${ratio.toFixed(1)})`,
    ];
    if (saturated.length > 0) {
      evidence.push(
        `saturated (>= ${pct(th.saturatedUtil)} in a window): ${saturated
          .slice(0, 8)
          .map((s) => `cpu ${s.cpu} for ${dur(s.saturatedNs)}`)
          .join(', ')}${saturated.length > 8 ? ` (+${saturated.length - 8} more)` : ''}`,
      );
    }
    if (idle.length > 0) evidence.push(`idle (<= ${pct(th.idleUtil)} over the capture): ${cpuList(idle)}`);
    if (runs.length > 0) {
      evidence.push(
        `a saturated core beside an idle one for ${dur(besideIdleNs)} (${pct(besideIdleShare)} of the capture; saturated there: ${cpuList([...satThere])}, idle meanwhile: ${cpuList([...idleThere])}): ${ranges(runs)}`,
      );
    }
    const homes = facts.napis.filter((n) => n.polls > 0 && saturated.some((s) => s.cpu === n.homeCpu)).sort((a, b) => byName(facts.labels[a.index]!, facts.labels[b.index]!));
    if (homes.length > 0) {
      evidence.push(`polls homed on the saturated cores: ${homes.map((n) => `${facts.labels[n.index]} (cpu ${n.homeCpu})`).join(', ')}`);
    }
    const first = runs[0];
    const last = runs[runs.length - 1];
    return [
      {
        id: 'core-imbalance',
        severity: satBesideIdle ? 'critical' : 'warning',
        summary: satBesideIdle
          ? `saturated cores beside idle ones for ${pct(besideIdleShare)} of the capture (saturated: cpu ${cpuList([...satThere])}; idle meanwhile: cpu ${cpuList([...idleThere])}); busiest cpu ${maxCore.cpu} at ${pct(maxCore.coreBusy)}, mean ${pct(mean)}`
          : `cpu ${maxCore.cpu} is ${ratio.toFixed(1)}x as busy as the mean core (${pct(maxCore.coreBusy)} vs ${pct(mean)})`,
        cpus: satThere.size > 0 ? [...satThere].sort((a, b) => a - b) : [maxCore.cpu],
        napis: homes.map((n) => ({ dev: n.dev, napi: n.napi })),
        fromNs: ((t.capture.startNs as number) + (first?.startOffsetNs ?? 0)) as Ns,
        toNs: ((t.capture.startNs as number) + (last?.endOffsetNs ?? facts.durationNs)) as Ns,
        evidence,
        recommendation: advice(maxCore),
        costEstimate: { share: 0, basis: 'a symptom: the throughput it costs is counted under co-location and monolithic-poll' },
        lossy: false,
        details,
      },
    ];
  },
});

function breakdown(c: CoreFacts): string {
  const rxOnly = Math.max(0, c.netRxBusyNs - c.pollBusyNs);
  const polls = c.pollBusyNs + c.threadPollBusyNs;
  const threads = c.threadPollBusyNs > 0 ? ` (${dur(c.threadPollBusyNs)} in napi threads)` : '';
  const other = c.otherWorkBusyNs + c.netTxBusyNs;
  return `polls ${dur(polls)}${threads}, other NET_RX ${dur(rxOnly)}, crypt ${dur(c.cryptBusyNs)}${other > 0 ? `, other work ${dur(other)}` : ''}`;
}

/** What dominates the busiest core says what to change. */
function advice(c: CoreFacts): Recommendation {
  const rxOnly = Math.max(0, c.netRxBusyNs - c.pollBusyNs);
  const polls = c.pollBusyNs + c.threadPollBusyNs;
  const other = c.otherWorkBusyNs + c.netTxBusyNs;
  if (other > polls && other > rxOnly && other > c.cryptBusyNs) {
    return {
      text: `Work other than tunnel polls, NET_RX and crypt (other workqueue items, NET_TX) dominates cpu ${c.cpu}: this capture shows no WireGuard cause; look at what else runs there (perf top -C ${c.cpu}).`,
      commands: [],
    };
  }
  if (polls >= rxOnly && polls >= c.cryptBusyNs) {
    return {
      text: `Tunnel polls dominate cpu ${c.cpu}: see the co-location and monolithic-poll findings; threaded NAPI lets the scheduler spread them.`,
      commands: [],
    };
  }
  if (rxOnly >= c.cryptBusyNs) {
    return {
      text: `NET_RX outside the tunnel polls (the NIC's own receive) dominates cpu ${c.cpu}: the outer flows hash to few RX queues. Check the NIC's RSS spread (ethtool -x) and queue count (ethtool -l), or give the tunnels different UDP ports so their outer 5-tuples hash apart.`,
      commands: ['ethtool -l <nic>', 'ethtool -x <nic>'],
    };
  }
  return {
    text: `Decryption dominates cpu ${c.cpu}, although wg_packet_decrypt_worker is spread round-robin over online CPUs (drivers/net/wireguard/queueing.c: wg_cpumask_next_online): check which CPUs are online and isolated.`,
    commands: ['cat /sys/devices/system/cpu/online'],
  };
}
