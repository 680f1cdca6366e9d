import { napiRoles } from '../timeline/roles.js';
import { procStatBusy } from '../model/proc-stat.js';
import type { Timeline } from '../timeline/types.js';
import { probedSpan } from '../timeline/span.js';
import type { Assumption, CoreWorkload, TunnelWorkload, Workload } from './types.js';

/**
 * Extracts, from a capture's timeline, the workload the replay models consume: per tunnel
 * (NAPI instance) its packets over time and its per-packet costs, and per core the load that
 * is not ours. Where the capture lacks an input, a named default below is used and an
 * `Assumption` says which.
 */

/**
 * Fallback per-packet costs when a capture cannot give them (no workqueue events, no NET_RX
 * brackets). The values are those of the papers' scenario (src/synth/scenario.ts), derived from
 * the published figures; they are only used to fill a gap and are always reported.
 */
export const DEFAULT_RX_NS_PER_PACKET = 746;
export const DEFAULT_DECRYPT_NS_PER_PACKET = 4101;
export const DEFAULT_FORWARD_NS_PER_PACKET = 746;

function sum(a: Float64Array | undefined): number {
  if (!a) return 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

export interface WorkloadOptions {
  /**
   * Where the per-core utilization (and so the load that is not ours) comes from: `traced`
   * (what the capture traced: softirqs, polls, work items, napi threads; default) or
   * `proc-stat` (the header's /proc/stat snapshots: everything that ran, other processes
   * included). The second treats every other process as a fixed load with priority over ours,
   * which is wrong for elastic ones (a traffic generator on a testbed takes what is left).
   */
  utilization?: 'traced' | 'proc-stat';
}

export function extractWorkload(tl: Timeline, wo: WorkloadOptions = {}): Workload {
  const assumptions: Assumption[] = [];
  const note = (code: string, message: string): void => {
    if (!assumptions.some((a) => a.code === code)) assumptions.push({ code, message });
  };
  // Rates are over the span the probes observed, not the seconds bpftrace took to attach
  // (timeline/span.ts), the same span the analyze report uses.
  const span = probedSpan(tl);
  const durationNs = Math.max(1, span.to - span.from);
  const cpus = [...tl.cpus].sort((a, b) => a - b);

  // Per core busy totals over the capture.
  const pollBusy = new Map<number, number>();
  const netRxBusy = new Map<number, number>();
  const cryptBusy = new Map<number, number>();
  const threadPoll = new Map<number, number>();
  const measured = new Map<number, number>();
  // Per-core utilization: /proc/stat deltas over the capture when the header has them (they
  // see everything, the senders and any other process included), else the traced activity.
  const stat = wo.utilization === 'proc-stat' ? statUtilization(tl) : undefined;
  if (wo.utilization === 'proc-stat' && !stat) note('no-proc-stat', 'the capture header has no /proc/stat snapshots: per-core utilization from the traced activity');
  if (stat) note('cpu-util-from-proc-stat', 'per-core utilization from /proc/stat before/after the capture (everything that ran, not only what was traced)');
  for (const cpu of cpus) {
    const c = tl.cores.get(cpu);
    pollBusy.set(cpu, sum(c?.pollBusyNs));
    netRxBusy.set(cpu, sum(c?.netRxBusyNs));
    cryptBusy.set(cpu, sum(c?.cryptBusyNs));
    threadPoll.set(cpu, sum(c?.threadPollBusyNs));
    const traced = meanUtilization(tl, cpu);
    measured.set(cpu, stat?.has(cpu) ? Math.max(traced, stat.get(cpu)!) : traced);
  }
  // No WireGuard device in the capture (a veth testbed, say): there is no decryption stage.
  const devKinds = (tl.capture.header?.devices ?? []).map((d) => d.kind);
  const noWireguard = devKinds.length > 0 && !devKinds.includes('wireguard') && [...cryptBusy.values()].every((v) => v === 0);
  if (noWireguard) note('no-wireguard', 'no WireGuard device in the capture header and no crypt work: decryption cost 0 (the NAPIs are not wg tunnels)');

  // Per tunnel packets, poll busy, per-core poll share. Other NAPIs (the backlog, NIC queues:
  // timeline/roles.ts) are not replayed: their poll time is load that is not ours.
  const roles = napiRoles(tl);
  const otherPolls = new Map<number, number>();
  for (const napi of tl.napis) {
    if (roles[napi.index]?.role === 'tunnel') continue;
    for (const [cpu, s] of napi.perCpu) otherPolls.set(cpu, (otherPolls.get(cpu) ?? 0) + sum(s.busyNs));
  }
  if (otherPolls.size > 0) note('other-napis', 'polls of NAPIs that are not tunnels (backlog, NIC queues) are load on their cores, not replayed');
  const tunnels: TunnelWorkload[] = [];
  for (const napi of tl.napis) {
    if (roles[napi.index]?.role !== 'tunnel') continue;
    const packetsPerWindow = new Float64Array(tl.windowCount);
    const share = new Map<number, number>();
    let busy = 0;
    for (const [cpu, s] of napi.perCpu) {
      for (let w = 0; w < tl.windowCount; w++) packetsPerWindow[w] = packetsPerWindow[w]! + (s.work[w] ?? 0);
      const b = sum(s.busyNs);
      share.set(cpu, b);
      busy += b;
    }
    const packets = napi.totals.work > 0 ? napi.totals.work : sum(packetsPerWindow);
    if (busy <= 0) busy = napi.totals.busyNs;
    let observedPollCore = cpus[0] ?? 0;
    let best = -1;
    for (const [cpu, b] of share) {
      if (b > best) {
        best = b;
        observedPollCore = cpu;
      }
      share.set(cpu, busy > 0 ? b / busy : 0);
    }
    const forwardNs = packets > 0 && busy > 0 ? busy / packets : DEFAULT_FORWARD_NS_PER_PACKET;
    if (!(packets > 0 && busy > 0)) note('forward-cost-default', `no poll time for some tunnel: forwarding cost ${DEFAULT_FORWARD_NS_PER_PACKET} ns/packet assumed`);
    tunnels.push({
      index: napi.index,
      dev: napi.dev,
      napi: napi.napi,
      packetsPerWindow,
      measuredPps: (packets / durationNs) * 1e9,
      forwardNsPerPacket: forwardNs,
      decryptNsPerPacket: DEFAULT_DECRYPT_NS_PER_PACKET,
      rxNsPerPacket: DEFAULT_RX_NS_PER_PACKET,
      rxCore: observedPollCore,
      observedPollCore,
      observedPollShare: share,
    });
  }

  // Decryption cost per device: wg-crypt-<dev> work time / the device's packets. Every tunnel
  // of a device gets the device's per-packet cost (its share of the time is its packet share).
  const packetsByDev = new Map<string, number>();
  for (const t of tunnels) packetsByDev.set(t.dev, (packetsByDev.get(t.dev) ?? 0) + t.measuredPps);
  let totalCryptByDev = 0;
  for (const d of tl.devices.values()) for (const v of d.cryptBusyByCpu.values()) totalCryptByDev += v;
  const totalCryptCores = [...cryptBusy.values()].reduce((a, b) => a + b, 0);
  const totalPps = tunnels.reduce((a, t) => a + t.measuredPps, 0);
  for (const t of tunnels) {
    const dev = tl.devices.get(t.dev);
    const devBusy = dev ? [...dev.cryptBusyByCpu.values()].reduce((a, b) => a + b, 0) : 0;
    const devPackets = ((packetsByDev.get(t.dev) ?? 0) * durationNs) / 1e9;
    if (devBusy > 0 && devPackets > 0) t.decryptNsPerPacket = devBusy / devPackets;
    else if (totalCryptByDev === 0 && totalCryptCores > 0 && totalPps > 0) {
      // Windows mode: crypt time per core only, not per device: share it by packets.
      t.decryptNsPerPacket = totalCryptCores / ((totalPps * durationNs) / 1e9);
      note('decrypt-cost-pooled', 'crypt work time is known per core only (windows mode): decryption cost shared among all tunnels by packets');
    } else if (noWireguard) {
      t.decryptNsPerPacket = 0;
    } else if (t.measuredPps > 0) {
      note('decrypt-cost-default', `no wg-crypt work time in the capture: decryption cost ${DEFAULT_DECRYPT_NS_PER_PACKET} ns/packet assumed (papers' scenario)`);
    }
  }

  // Receive core: where wg-crypt-<dev> work is queued from (the RSS core of the outer flow).
  // With one device per tunnel that is exact; with several tunnels on one device, the device's
  // queueing cores are dealt to its tunnels in order of traffic (an assumption, noted).
  const byDev = new Map<string, TunnelWorkload[]>();
  for (const t of tunnels) byDev.set(t.dev, [...(byDev.get(t.dev) ?? []), t]);
  for (const [devName, ts] of byDev) {
    const q = tl.devices.get(devName)?.queueWorkByCpu;
    const ranked = q
      ? [...q.entries()]
          .filter(([, n]) => n > 0)
          .sort((a, b) => b[1] - a[1])
          .map(([cpu]) => cpu)
      : [];
    if (ranked.length === 0) {
      note('rx-core-default', "no workqueue_queue_work on wg-crypt-<dev>: each tunnel's receive core is assumed to be the core that ran most of its polls");
      continue;
    }
    if (ts.length > 1) note('rx-core-shared-device', 'several tunnels share a wg device: its queueing cores are dealt to its tunnels in order of traffic');
    const order = [...ts].sort((a, b) => b.measuredPps - a.measuredPps);
    order.forEach((t, k) => (t.rxCore = ranked[k % ranked.length]!));
  }

  // Receive cost: NET_RX time on the receive core that is not wg poll time, per packet of
  // the tunnels received there.
  const ppsByRx = new Map<number, number>();
  for (const t of tunnels) ppsByRx.set(t.rxCore, (ppsByRx.get(t.rxCore) ?? 0) + t.measuredPps);
  for (const t of tunnels) {
    const residual = (netRxBusy.get(t.rxCore) ?? 0) - (pollBusy.get(t.rxCore) ?? 0);
    const packets = ((ppsByRx.get(t.rxCore) ?? 0) * durationNs) / 1e9;
    if (residual > 0 && packets > 0) t.rxNsPerPacket = residual / packets;
    else if (t.measuredPps > 0) note('rx-cost-default', `no NET_RX time outside wg polls on a receive core: receive cost ${DEFAULT_RX_NS_PER_PACKET} ns/packet assumed`);
  }

  // The load that is not ours: measured busy minus our poll, crypt and receive time.
  const rxCores = new Set(tunnels.filter((t) => t.measuredPps > 0).map((t) => t.rxCore));
  const cores: CoreWorkload[] = cpus.map((cpu) => {
    const m = measured.get(cpu) ?? 0;
    const polls = Math.max(0, (pollBusy.get(cpu) ?? 0) + (threadPoll.get(cpu) ?? 0) - (otherPolls.get(cpu) ?? 0));
    const rx = rxCores.has(cpu) ? Math.max(0, (netRxBusy.get(cpu) ?? 0) - (pollBusy.get(cpu) ?? 0)) : 0;
    const ours = (polls + (cryptBusy.get(cpu) ?? 0) + rx) / durationNs;
    const foreign = Math.min(1, Math.max(0, m - ours));
    return { cpu, measuredUtilization: m, foreignLoad: foreign, capacity: 1 - foreign };
  });

  // Threaded NAPI or not, for the tunnels we replay: read from their polls where the capture
  // shows where they ran (events mode: softirq or the napi/ kthread), else the devices' flag.
  const replayed = tl.napis.filter((n) => roles[n.index]?.role === 'tunnel');
  const napiDevs = new Set(replayed.map((n) => n.dev));
  const polls = replayed.reduce((a, n) => a + n.totals.polls, 0);
  const threadPolls = replayed.reduce((a, n) => a + n.totals.threadedPolls, 0);
  const flags = (tl.capture.header?.devices ?? []).filter((d) => napiDevs.has(d.name) && d.threaded !== undefined).map((d) => d.threaded === 1);
  const threaded = tl.capture.mode === 'events' && polls > 0 ? threadPolls * 2 >= polls : flags.length > 0 ? flags.some((f) => f) : threadPolls > 0 ? true : undefined;
  if (tl.capture.mode === 'windows') note('windows-mode', 'windows-mode capture: per-window aggregates only; no RSS evidence from workqueue events');

  return { cpus, tunnels, cores, durationNs, windowNs: tl.windowNs, windowCount: tl.windowCount, threaded, assumptions };
}

/**
 * Per-core utilization from the header's /proc/stat snapshots (fields user nice system idle
 * iowait irq softirq steal ...; fs/proc/stat.c: show_stat): 1 - (idle + iowait) / total over
 * the capture. Undefined when either snapshot is missing.
 */
export function statUtilization(tl: Timeline): Map<number, number> | undefined {
  // Already 0..1 (model/proc-stat.ts clamps the idle-clock share; mpstat's ratio cannot leave it).
  const out = procStatBusy(tl.capture.header);
  return out.size > 0 ? out : undefined;
}

/** Mean utilization of a core over the probed span, weighting each window by its part inside it. */
export function meanUtilization(tl: Timeline, cpu: number): number {
  const c = tl.cores.get(cpu);
  if (!c) return 0;
  const span = probedSpan(tl);
  const dur = Math.max(1, span.to - span.from);
  let acc = 0;
  for (let w = 0; w < tl.windowCount; w++) {
    const a = w * tl.windowNs;
    const len = Math.max(0, Math.min(a + tl.windowNs, span.to) - Math.max(a, span.from));
    acc += (c.utilization[w] ?? 0) * len;
  }
  return acc / dur;
}
