import { napiRoles } from '../timeline/roles.js';
import { procStatBusy } from '../model/proc-stat.js';
import type { Timeline } from '../timeline/types.js';
import { pollsBesideNetRx, tracedShare } from '../timeline/beside.js';
import { probedSpan } from '../timeline/span.js';
import { lostShare } from '../timeline/loss.js';
import { Prng } from './prng.js';
import type { Assumption, CoreWorkload, TrafficWindow, TunnelWorkload, Workload } from './types.js';

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

export interface WorkloadOptions {
  /**
   * Where whole-core busy (and so the untraced load) comes from: `whole` (default: the idle
   * records, else the header's /proc/stat snapshots, else the traced activity), `traced` (the
   * traced activity only: the untraced load is taken as zero) or `proc-stat` (the snapshots,
   * over the probed span rather than the traffic window).
   */
  utilization?: 'whole' | 'traced' | 'proc-stat';
  /**
   * How the untraced load reacts to the tunnels' throughput: `auto` (default: coupled when every
   * tunnel is a veth device, whose sender and receiver run on this host; else fixed), `coupled`
   * or `fixed` (see Workload.untraced).
   */
  untraced?: 'auto' | 'coupled' | 'fixed';
  /** Seed of the bootstrap over windows (costSpread). */
  seed?: number;
}

/**
 * A window carries traffic when the tunnels' packets in it reach this share of the busy windows'
 * typical (90th percentile) count: the ramp of a TCP flow and the tail after it stops are left
 * out, a dip inside the traffic is not (the window runs from the first such window to the last).
 */
export const TRAFFIC_WINDOW_SHARE = 0.1;
/**
 * A core busy this much of the traffic window limited the flows on it (the tracer itself
 * costs a few points: bench/README.md, "Capture overhead"); below it on every core, the flows
 * were held by something else.
 */
export const SATURATED_CORE = 0.95;
/** Bootstrap resamples of the traffic window's windows for the cost spread. */
export const BOOTSTRAP_RESAMPLES = 200;
/**
 * Under CFS a nice-0 napi kthread or kworker and a nice-0 task that both want the core get half
 * of it each (kernel/sched/fair.c: equal weights, sched_prio_to_weight[20] = 1024); a saturated
 * NET_RX softirq ends up there too, deferred to ksoftirqd (kernel/softirq.c: __do_softirq hands
 * the rest to ksoftirqd after MAX_SOFTIRQ_TIME or MAX_SOFTIRQ_RESTART). So fixed tasks keep at
 * most this share of what other work leaves (one competing task per core assumed).
 */
export const FIXED_TASK_SHARE = 0.5;

function sumRange(a: Float64Array | undefined, from: number, to: number): number {
  if (!a) return 0;
  let s = 0;
  for (let i = from; i < to && i < a.length; i++) s += a[i]!;
  return s;
}

/** One NAPI's packets (poll work) per window, all cores. */
function packetsPerWindowOf(tl: Timeline, napi: Timeline['napis'][number]): Float64Array {
  const packets = new Float64Array(tl.windowCount);
  for (const s of napi.perCpu.values()) for (let w = 0; w < tl.windowCount; w++) packets[w] = packets[w]! + (s.work[w] ?? 0);
  return packets;
}

/**
 * The windows that carried the tunnels' traffic (see TRAFFIC_WINDOW_SHARE), inside the probed
 * span, from each tunnel's packets per window (packetsPerWindowOf: the workload keeps them, so
 * the series are walked once; packet counts are integers, so the sums are exact in any order).
 */
export function findTrafficWindow(tl: Timeline, perTunnel: readonly Float64Array[]): TrafficWindow | undefined {
  const span = probedSpan(tl);
  const packets = new Float64Array(tl.windowCount);
  for (const p of perTunnel) for (let w = 0; w < tl.windowCount; w++) packets[w] = packets[w]! + p[w]!;
  const busy = [...packets].filter((v) => v > 0).sort((a, b) => a - b);
  if (busy.length === 0) return undefined;
  const typical = busy[Math.min(busy.length - 1, Math.floor(busy.length * 0.9))]!;
  let first = -1;
  let last = -1;
  for (let w = 0; w < tl.windowCount; w++) {
    if (packets[w]! >= typical * TRAFFIC_WINDOW_SHARE) {
      if (first < 0) first = w;
      last = w;
    }
  }
  const fromNs = Math.max(span.from, first * tl.windowNs);
  const toNs = Math.min(span.to, (last + 1) * tl.windowNs);
  if (!(toNs > fromNs)) return undefined;
  return { fromNs, toNs, firstWindow: first, endWindow: last + 1 };
}

export function extractWorkload(tl: Timeline, wo: WorkloadOptions = {}): Workload {
  const assumptions: Assumption[] = [];
  const note = (code: string, message: string): void => {
    if (!assumptions.some((a) => a.code === code)) assumptions.push({ code, message });
  };
  const cpus = [...tl.cpus].sort((a, b) => a - b);
  const roles = napiRoles(tl);
  const tunnelNapis = tl.napis.filter((n) => roles[n.index]?.role === 'tunnel');
  // Rates and costs over the stretch that carried traffic, not the whole span: a capture that
  // starts before the flows or outlasts them would otherwise dilute every rate (issue 12).
  const span = probedSpan(tl);
  const perTunnelPackets = tunnelNapis.map((n) => packetsPerWindowOf(tl, n));
  const traffic = findTrafficWindow(tl, perTunnelPackets);
  const a = traffic?.firstWindow ?? 0;
  const b = traffic?.endWindow ?? tl.windowCount;
  const fromNs = traffic?.fromNs ?? span.from;
  const toNs = traffic?.toNs ?? span.to;
  const durationNs = Math.max(1, toNs - fromNs);
  if (traffic && (traffic.fromNs > span.from + tl.windowNs || traffic.toNs < span.to - tl.windowNs)) {
    note('traffic-window', `rates and costs over the ${((traffic.toNs - traffic.fromNs) / 1e9).toFixed(3)} s that carried traffic (of ${((span.to - span.from) / 1e9).toFixed(3)} s probed)`);
  }
  const sum = (arr: Float64Array | undefined): number => sumRange(arr, a, b);
  const devKinds = new Map((tl.capture.header?.devices ?? []).map((d) => [d.name, d.kind]));

  // A threaded windows-mode capture: its polls ran in napi kthreads, beside the NET_RX softirqs
  // (not inside them), and the windows' busy union holds only the softirq time.
  const beside = pollsBesideNetRx(tl);
  // Per core busy totals over the traffic window.
  const pollBusy = new Map<number, number>();
  const netRxBusy = new Map<number, number>();
  const cryptBusy = new Map<number, number>();
  const threadPoll = new Map<number, number>();
  const traced = new Map<number, number>();
  const whole = new Map<number, number>();
  const stat = wo.utilization === 'traced' ? undefined : statUtilization(tl);
  let coreBusySource: Workload['coreBusySource'] = 'traced';
  for (const cpu of cpus) {
    const c = tl.cores.get(cpu);
    pollBusy.set(cpu, sum(c?.pollBusyNs));
    netRxBusy.set(cpu, sum(c?.netRxBusyNs));
    cryptBusy.set(cpu, sum(c?.cryptBusyNs));
    threadPoll.set(cpu, sum(c?.threadPollBusyNs));
    const t = tracedOver(tl, cpu, a, b, fromNs, toNs, beside?.get(cpu));
    traced.set(cpu, t);
    if (wo.utilization !== 'traced' && wo.utilization !== 'proc-stat' && c?.idleRecorded) {
      whole.set(cpu, Math.max(t, Math.min(1, 1 - idleOver(tl, c.idleNs, fromNs, toNs) / durationNs)));
      coreBusySource = 'idle-records';
    } else if (stat?.has(cpu)) {
      whole.set(cpu, Math.max(t, stat.get(cpu)!));
      if (coreBusySource !== 'idle-records') coreBusySource = 'proc-stat';
    } else whole.set(cpu, t);
  }
  if (coreBusySource === 'proc-stat') note('cpu-util-from-proc-stat', 'whole-core busy from /proc/stat before/after the capture (the whole probed span, not only the traffic window)');
  if (coreBusySource === 'traced') note('no-core-busy', 'no idle records and no /proc/stat in the capture: the untraced load (processes, the tracer) is taken as zero');

  // No WireGuard device in the capture (a veth testbed, say): there is no decryption stage, and
  // the poll is the receive (veth_poll runs the whole receive path), so no separate receive stage.
  const noWireguard = tunnelNapis.every((n) => devKinds.get(n.dev) !== 'wireguard' && !(tl.devices.get(n.dev)?.cryptBusyByCpu.size ?? 0)) && [...cryptBusy.values()].every((v) => v === 0);
  if (noWireguard && tunnelNapis.length > 0) note('no-wireguard', 'no WireGuard device and no crypt work: no decryption stage, and the poll is the whole receive path (the NAPIs are not wg tunnels)');
  // Veth tunnels: the sender and receiver of every packet run on this host, and the poll runs
  // where the sender does (drivers/net/veth.c: veth_xmit -> __veth_xdp_flush -> napi_schedule).
  const veth = tunnelNapis.length > 0 && tunnelNapis.every((n) => devKinds.get(n.dev) === 'veth');

  // Per tunnel packets, poll busy, per-core poll share. Other NAPIs (the backlog, NIC queues:
  // timeline/roles.ts) are not replayed: their poll time is load that is not ours.
  const otherPolls = new Map<number, number>();
  for (const napi of tl.napis) {
    if (roles[napi.index]?.role === 'tunnel') continue;
    for (const [cpu, s] of napi.perCpu) otherPolls.set(cpu, (otherPolls.get(cpu) ?? 0) + sum(s.busyNs));
  }
  if ([...otherPolls.values()].some((v) => v > 0)) note('other-napis', 'polls of NAPIs that are not tunnels (backlog, NIC queues) are load on their cores at their measured rate, not replayed');
  const tunnels: TunnelWorkload[] = [];
  for (const [k, napi] of tunnelNapis.entries()) {
    const packetsPerWindow = perTunnelPackets[k]!;
    const share = new Map<number, number>();
    let busy = 0;
    for (const [cpu, s] of napi.perCpu) {
      const bz = sum(s.busyNs);
      share.set(cpu, bz);
      busy += bz;
    }
    const packets = sumRange(packetsPerWindow, a, b);
    let observedPollCore = cpus[0] ?? 0;
    let best = -1;
    for (const [cpu, bz] of share) {
      if (bz > best) {
        best = bz;
        observedPollCore = cpu;
      }
      share.set(cpu, busy > 0 ? bz / busy : 0);
    }
    const forwardNs = packets > 0 && busy > 0 ? busy / packets : DEFAULT_FORWARD_NS_PER_PACKET;
    if (packets > 0 && !(busy > 0)) note('forward-cost-default', `no poll time for some tunnel: forwarding cost ${DEFAULT_FORWARD_NS_PER_PACKET} ns/packet assumed`);
    tunnels.push({
      index: napi.index,
      dev: napi.dev,
      napi: napi.napi,
      packetsPerWindow,
      measuredPps: (packets / durationNs) * 1e9,
      forwardNsPerPacket: forwardNs,
      decryptNsPerPacket: noWireguard ? 0 : DEFAULT_DECRYPT_NS_PER_PACKET,
      rxNsPerPacket: noWireguard ? 0 : DEFAULT_RX_NS_PER_PACKET,
      rxCore: observedPollCore,
      observedPollCore,
      observedPollShare: share,
    });
  }

  // Decryption cost per device: wg-crypt-<dev> work time / the device's packets. Every tunnel
  // of a device gets the device's per-packet cost (its share of the time is its packet share).
  // (The devices' crypt totals cover the whole capture: scaled to the traffic window by the cores' crypt time.)
  const packetsByDev = new Map<string, number>();
  for (const t of tunnels) packetsByDev.set(t.dev, (packetsByDev.get(t.dev) ?? 0) + t.measuredPps);
  let totalCryptByDev = 0;
  for (const d of tl.devices.values()) for (const v of d.cryptBusyByCpu.values()) totalCryptByDev += v;
  const totalCryptCores = [...cryptBusy.values()].reduce((x, y) => x + y, 0);
  let allCryptCores = 0;
  for (const c of tl.cores.values()) allCryptCores += sumRange(c.cryptBusyNs, 0, tl.windowCount);
  const cryptScale = allCryptCores > 0 ? totalCryptCores / allCryptCores : 1;
  const totalPps = tunnels.reduce((x, t) => x + t.measuredPps, 0);
  for (const t of tunnels) {
    if (noWireguard) continue;
    const dev = tl.devices.get(t.dev);
    const devBusy = dev ? [...dev.cryptBusyByCpu.values()].reduce((x, y) => x + y, 0) * cryptScale : 0;
    const devPackets = ((packetsByDev.get(t.dev) ?? 0) * durationNs) / 1e9;
    if (devBusy > 0 && devPackets > 0) t.decryptNsPerPacket = devBusy / devPackets;
    else if (totalCryptByDev === 0 && totalCryptCores > 0 && totalPps > 0) {
      // Windows mode: crypt time per core only, not per device: share it by packets.
      t.decryptNsPerPacket = totalCryptCores / ((totalPps * durationNs) / 1e9);
      note('decrypt-cost-pooled', 'crypt work time is known per core only (windows mode): decryption cost shared among all tunnels by packets');
    } else if (t.measuredPps > 0) {
      note('decrypt-cost-default', `no wg-crypt work time in the capture: decryption cost ${DEFAULT_DECRYPT_NS_PER_PACKET} ns/packet assumed (papers' scenario)`);
    }
  }

  // Receive core: where wg-crypt-<dev> work is queued from (the RSS core of the outer flow).
  // With one device per tunnel that is exact; with several tunnels on one device, the device's
  // queueing cores are dealt to its tunnels in order of traffic (an assumption, noted).
  const byDev = new Map<string, TunnelWorkload[]>();
  for (const t of tunnels) byDev.set(t.dev, [...(byDev.get(t.dev) ?? []), t]);
  if (!noWireguard) {
    for (const [devName, ts] of byDev) {
      const q = tl.devices.get(devName)?.queueWorkByCpu;
      const ranked = q
        ? [...q.entries()]
            .filter(([, k]) => k > 0)
            .sort((x, y) => y[1] - x[1])
            .map(([cpu]) => cpu)
        : [];
      if (ranked.length === 0) {
        note('rx-core-default', "no workqueue_queue_work on wg-crypt-<dev>: each tunnel's receive core is assumed to be the core that ran most of its polls");
        continue;
      }
      if (ts.length > 1) note('rx-core-shared-device', 'several tunnels share a wg device: its queueing cores are dealt to its tunnels in order of traffic');
      const order = [...ts].sort((x, y) => y.measuredPps - x.measuredPps);
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
  }

  // The untraced load: whole-core busy minus everything traced. Coupled (veth: the local
  // senders and receivers, per packet) or fixed (other processes).
  const untraced: Workload['untraced'] = coreBusySource === 'traced' ? 'unknown' : (wo.untraced ?? 'auto') === 'auto' ? (veth ? 'coupled' : 'fixed') : (wo.untraced as 'coupled' | 'fixed');
  const totalPackets = (totalPps * durationNs) / 1e9;
  const rxCores = new Set(tunnels.filter((t) => t.measuredPps > 0).map((t) => t.rxCore));
  const cores: CoreWorkload[] = cpus.map((cpu) => {
    const tr = traced.get(cpu) ?? 0;
    const wh = whole.get(cpu) ?? tr;
    const polls = Math.max(0, (pollBusy.get(cpu) ?? 0) + (threadPoll.get(cpu) ?? 0) - (otherPolls.get(cpu) ?? 0));
    const rx = !noWireguard && rxCores.has(cpu) ? Math.max(0, (netRxBusy.get(cpu) ?? 0) - (pollBusy.get(cpu) ?? 0)) : 0;
    const ours = (polls + (cryptBusy.get(cpu) ?? 0) + rx) / durationNs;
    const other = Math.min(1, Math.max(0, tr - ours));
    const untracedLoad = Math.max(0, wh - tr);
    const coupledNsPerPacket = untraced === 'coupled' && totalPackets > 0 ? (untracedLoad * durationNs) / totalPackets : 0;
    const taskKeeps = untraced === 'fixed' ? Math.min(untracedLoad, FIXED_TASK_SHARE * (1 - other)) : 0;
    const foreign = Math.min(1, other + taskKeeps);
    return { cpu, measuredUtilization: wh, otherLoad: other, untracedLoad, coupledNsPerPacket, foreignLoad: foreign, capacity: 1 - foreign };
  });

  // A flow that saturated no core was held by something else: on veth, by its sending task. The
  // poll of a veth peer runs in the sender's own context (drivers/net/veth.c: veth_xmit ->
  // __veth_xdp_flush -> napi_schedule raises NET_RX on the sending CPU, served when the
  // sender's transmit path re-enables bottom halves, net/core/dev.c: __dev_queue_xmit ->
  // rcu_read_unlock_bh), so one task does the sending and the poll, and a task runs on one
  // core at a time. Measured on this testbed with one flow (docs/models.md, "The sending
  // task"): the iperf3 client on CPU 94-95% of the time while both cores were a quarter idle. So its
  // time per packet is the period between packets, 1 / rate; a model holds the flow to it,
  // with what the change adds to or takes from that task. A paced flow (iperf3 -b) is held the
  // same way, which is what it does.
  if (untraced === 'coupled' && noWireguard && cores.length > 0 && cores.every((c) => c.measuredUtilization < SATURATED_CORE)) {
    let held = 0;
    for (const t of tunnels)
      if (t.measuredPps > 0) {
        t.serialNsPerPacket = 1e9 / t.measuredPps;
        held++;
      }
    if (held > 0)
      note(
        'sender-bound',
        `no core reached ${SATURATED_CORE * 100}% busy in the traffic window: each flow was held by its sending task (veth: the sender also runs the poll), at ${held === 1 ? 'its' : 'their'} measured rate's period per packet`,
      );
  }

  // Said only where there is untraced load to replay (a synthetic capture has none).
  const anyUntraced = cores.some((c) => c.untracedLoad > 0.01);
  if (untraced === 'coupled' && anyUntraced) {
    note(
      'untraced-coupled',
      wo.untraced === 'coupled'
        ? 'the untraced busy time is taken as work per packet of the tunnels (--untraced coupled)'
        : "the tunnels are veth devices: their senders and receivers run on this host, so the untraced busy time is taken as their work per packet (it grows and shrinks with the tunnels' throughput)",
    );
  } else if (untraced === 'fixed' && anyUntraced) note('untraced-fixed', 'the untraced busy time is other processes: a fixed load that keeps at most half of a contended core (CFS, equal weights)');

  // Threaded NAPI or not, for the tunnels we replay: read from their polls where the capture
  // shows where they ran (events mode: softirq or the napi/ kthread), else the devices' flag.
  const napiDevs = new Set(tunnelNapis.map((n) => n.dev));
  const polls = tunnelNapis.reduce((x, n) => x + n.totals.polls, 0);
  const threadPolls = tunnelNapis.reduce((x, n) => x + n.totals.threadedPolls, 0);
  const flags = (tl.capture.header?.devices ?? []).filter((d) => napiDevs.has(d.name) && d.threaded !== undefined).map((d) => d.threaded === 1);
  const threaded = tl.capture.mode === 'events' && polls > 0 ? threadPolls * 2 >= polls : flags.length > 0 ? flags.some((f) => f) : threadPolls > 0 ? true : undefined;
  if (tl.capture.mode === 'windows') note('windows-mode', 'windows-mode capture: per-window aggregates only; no RSS evidence from workqueue events');
  // Lost events over the probe runs seen (timeline/loss.ts: in windows mode the polls and the
  // NET_RX entries and exits the windows counted, not the map rows).

  return {
    cpus,
    tunnels,
    cores,
    durationNs,
    windowNs: tl.windowNs,
    windowCount: tl.windowCount,
    threaded,
    trafficWindow: traffic,
    untraced,
    coreBusySource,
    placement: veth || noWireguard ? 'observed' : 'random',
    wireguard: !noWireguard,
    lostFraction: lostShare(tl),
    costSpread: costSpread(tl, tunnelNapis, cpus, a, b, untraced === 'coupled', wo.seed ?? 1, beside),
    assumptions,
  };
}

/**
 * Bootstrap of the per-packet costs over the traffic window's windows: resample the windows
 * with replacement, take total poll time (and untraced busy time) over total packets, and
 * report p5 and p95 of the resampled cost as factors on the point value.
 */
function costSpread(
  tl: Timeline,
  napis: readonly Timeline['napis'][number][],
  cpus: readonly number[],
  a: number,
  b: number,
  coupled: boolean,
  seed: number,
  beside: Map<number, Float64Array> | undefined,
): Workload['costSpread'] {
  const k = Math.max(0, b - a);
  const busy = new Float64Array(k);
  const packets = new Float64Array(k);
  const untraced = new Float64Array(k);
  for (const n of napis) {
    for (const s of n.perCpu.values()) {
      for (let w = 0; w < k; w++) {
        busy[w] = busy[w]! + (s.busyNs[a + w] ?? 0);
        packets[w] = packets[w]! + (s.work[a + w] ?? 0);
      }
    }
  }
  if (coupled) {
    for (const cpu of cpus) {
      const c = tl.cores.get(cpu);
      if (!c?.idleRecorded) continue;
      const bc = beside?.get(cpu);
      for (let w = 0; w < k; w++) untraced[w] = untraced[w]! + Math.max(0, tl.windowNs - (c.idleNs[a + w] ?? 0) - tracedShare(c, a + w, tl.windowNs, bc) * tl.windowNs);
    }
  }
  const ratio = (num: Float64Array, idx?: Int32Array): number => {
    let s = 0;
    let p = 0;
    for (let j = 0; j < k; j++) {
      const w = idx ? idx[j]! : j;
      s += num[w]!;
      p += packets[w]!;
    }
    return p > 0 ? s / p : NaN;
  };
  const basePoll = ratio(busy);
  const baseCoupled = ratio(untraced);
  if (k < 2 || !(basePoll > 0)) return { poll: [1, 1], coupled: [1, 1] };
  const rng = new Prng(seed);
  const polls = new Float64Array(BOOTSTRAP_RESAMPLES);
  const cpl = new Float64Array(BOOTSTRAP_RESAMPLES);
  const idx = new Int32Array(k);
  for (let r = 0; r < BOOTSTRAP_RESAMPLES; r++) {
    for (let j = 0; j < k; j++) idx[j] = rng.int(k);
    polls[r] = ratio(busy, idx) / basePoll;
    cpl[r] = baseCoupled > 0 ? ratio(untraced, idx) / baseCoupled : 1;
  }
  const q = (v: Float64Array, p: number): number => {
    const s = [...v].filter(Number.isFinite).sort((x, y) => x - y);
    return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 1;
  };
  return { poll: [q(polls, 5), q(polls, 95)], coupled: [q(cpl, 5), q(cpl, 95)] };
}

/** Traced busy share of a core over the traffic window, window by window as analyze counts it (timeline/beside.ts: tracedShare). */
function tracedOver(tl: Timeline, cpu: number, a: number, b: number, fromNs: number, toNs: number, beside: Float64Array | undefined): number {
  const c = tl.cores.get(cpu);
  if (!c) return 0;
  let acc = 0;
  for (let w = a; w < b; w++) {
    const len = overlapNs(tl, w, fromNs, toNs);
    if (len > 0) acc += tracedShare(c, w, tl.windowNs, beside) * len;
  }
  return acc / Math.max(1, toNs - fromNs);
}

/** How much of window `w` lies inside [fromNs, toNs). */
function overlapNs(tl: Timeline, w: number, fromNs: number, toNs: number): number {
  const s = w * tl.windowNs;
  return Math.max(0, Math.min(s + tl.windowNs, toNs) - Math.max(s, fromNs));
}

/** The idle ns of a series over [fromNs, toNs), windows cut at the edges in proportion. */
function idleOver(tl: Timeline, idle: Float64Array, fromNs: number, toNs: number): number {
  let acc = 0;
  for (let w = 0; w < tl.windowCount; w++) {
    const len = overlapNs(tl, w, fromNs, toNs);
    if (len > 0) acc += ((idle[w] ?? 0) * len) / tl.windowNs;
  }
  return acc;
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
