import type { ModelInput, ModelTunnel } from '../replay/models/common.js';
import { Prng } from '../replay/prng.js';

/**
 * Synthetic gateway scenarios: the per-packet costs, the tunnels and where RSS put them. The
 * synthetic capture writer (writer.ts) turns a scenario into kernel events; the replay models
 * consume the same scenario directly, so tests can read the truth from the generator.
 */

/** The published figures the scenario is derived from (docs/BACKGROUND.md). */
export const PUBLISHED = {
  /** Threaded-NAPI patch (drivers/net/wireguard/device.c, 2025): 32-core gateways, 16 tunnels. */
  cores: 32,
  tunnels: 16,
  /** Stock softirq NAPI: about 13 Gbps, receiver CPU about 20%. */
  stockGbps: 13,
  stockCpu: 0.2,
  /** Threaded NAPI: about 48 Gbps, receiver CPU about 100%. */
  threadedGbps: 48,
  threadedCpu: 1.0,
  /** Inline (Barone et al., HPSR 2025): about 2x the multi-tunnel figure and 18x one tunnel. */
  inlineOverThreaded: 2,
  inlineOverOneTunnel: 18,
  /** Stock: "less than 3x one tunnel's throughput". */
  stockOverOneTunnelMax: 3,
} as const;

/**
 * Inner packet size used to turn Gbps into packets/s: WireGuard's default MTU 1420 (the talk's
 * iperf3 runs send full-size TCP segments, so inner packets are MTU-sized).
 */
export const PACKET_BYTES = 1420;

export const gbpsToPps = (g: number): number => (g * 1e9) / (8 * PACKET_BYTES);
export const ppsToGbps = (p: number): number => (p * 8 * PACKET_BYTES) / 1e9;

export interface ScenarioCosts {
  rxNs: number;
  decryptNs: number;
  forwardNs: number;
  /** Threaded NAPI wake-up overhead as a fraction of rx + decrypt + forward. */
  threadedOverheadRatio: number;
  inlineLocalityGain: number;
  /** One tunnel's throughput: the sending gateway's single-tunnel limit (see below). */
  oneTunnelPps: number;
}

/**
 * Per-packet costs derived from the published figures, under the models' own equations
 * (src/replay/models/*). m = 32 cores, n = 16 tunnels, rates in packets/s:
 *
 * - Inline = 2 x threaded = 96 Gbps and 18 x one tunnel, so one tunnel T1 = 96/18 = 5.33 Gbps.
 *   T1 is the sender's limit: one tunnel of vanilla WireGuard is bounded by the sending
 *   gateway's per-peer serial path (drivers/net/wireguard/send.c: one wg_packet_tx_worker per
 *   peer), not by the receiver, so in stock and threaded each tunnel offers T1. Inline runs on
 *   both gateways in the paper, which lifts that bound: Inline tunnels are elastic.
 * - Stock converges to one core holding every poll (F: forward cost, D: decrypt cost, spread
 *   round-robin): Xs (F + D/m) = 1 core, Xs = 13 Gbps.
 * - Stock uses 20% of the 32 cores: Xs (R + D + F) = 0.2 m.
 * - R = F: the RSS core's receive work is taken as heavy as the forwarding poll. This is an
 *   assumption (the figures do not separate them); it is what lets threaded fill all cores.
 * - Threaded fills every core: Xt (R + D + F + H) = m, Xt = 48 Gbps; H = ratio (R + D + F).
 * - Inline on 16 distinct RSS cores: 16 gain / (R + D + F) = 96 Gbps.
 *
 * Solving: D = (0.2 m - 2) / (1 - 2/m) / Xs, F = R = 1/Xs - D/m, and so on below.
 */
export function deriveScenarioCosts(): ScenarioCosts {
  const m = PUBLISHED.cores;
  const n = PUBLISHED.tunnels;
  const xs = gbpsToPps(PUBLISHED.stockGbps);
  const xt = gbpsToPps(PUBLISHED.threadedGbps);
  const xi = gbpsToPps(PUBLISHED.threadedGbps * PUBLISHED.inlineOverThreaded);
  const t1 = xi / PUBLISHED.inlineOverOneTunnel;
  // 2F + D = cpu*m/Xs and F + D/m = 1/Xs  =>  D (1 - 2/m) = (cpu*m - 2)/Xs
  const decrypt = ((PUBLISHED.stockCpu * m - 2) / (1 - 2 / m) / xs) * 1e9;
  const forward = 1e9 / xs - decrypt / m;
  const rx = forward;
  const total = rx + decrypt + forward;
  const h = (m * 1e9) / xt - total;
  const gain = (xi * total) / (n * 1e9);
  return { rxNs: rx, decryptNs: decrypt, forwardNs: forward, threadedOverheadRatio: h / total, inlineLocalityGain: gain, oneTunnelPps: t1 };
}

export interface ScenarioTunnel {
  dev: string;
  napi: string;
  /** CPU id RSS put the outer flow on. */
  rxCore: number;
}

export interface Scenario {
  name: string;
  cpus: number[];
  tunnels: ScenarioTunnel[];
  costs: ScenarioCosts;
  /** Each tunnel's offered load in stock and threaded (the sender's single-tunnel limit). */
  offeredPps: number;
}

export interface ScenarioOptions {
  tunnels: number;
  cpus: number;
  seed: number;
  /** RSS placement of outer flows: `distinct` (one queue each, as a benchmark testbed arranges), or `hash` (uniform, collisions possible). */
  rss?: 'distinct' | 'hash';
  costs?: ScenarioCosts;
}

/** napi pointer of tunnel i: kernel direct-map addresses as bpftrace prints them (0xffff8881...). */
export function napiPointer(i: number): string {
  return '0xffff8881' + (0x0a000000 + i * 0x2000 + 0x188).toString(16).padStart(8, '0');
}

/**
 * A gateway with `tunnels` WireGuard tunnels, one wg device each (wg0, wg1, ...: with one
 * device per tunnel, workqueue_queue_work on wg-crypt-<dev> names the tunnel's RSS core
 * exactly), on `cpus` cores.
 */
export function makeScenario(o: ScenarioOptions): Scenario {
  const rng = new Prng(o.seed ^ 0x5eed);
  const cpus = Array.from({ length: o.cpus }, (_, i) => i);
  const order = [...cpus];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const tunnels = Array.from({ length: o.tunnels }, (_, i) => ({
    dev: `wg${i}`,
    napi: napiPointer(i),
    rxCore: (o.rss ?? 'distinct') === 'distinct' && o.tunnels <= o.cpus ? order[i]! : rng.int(o.cpus),
  }));
  const costs = o.costs ?? deriveScenarioCosts();
  return { name: `${o.tunnels} tunnels on ${o.cpus} cores`, cpus, tunnels, costs, offeredPps: costs.oneTunnelPps };
}

/** The papers' scenario: 16 tunnels, 32 cores. */
export function papersScenario(seed = 1): Scenario {
  return makeScenario({ tunnels: PUBLISHED.tunnels, cpus: PUBLISHED.cores, seed });
}

/** Model input for a scenario: stock and threaded tunnels offer the sender's limit; Inline is elastic. */
export function scenarioModelInput(s: Scenario, demand: 'offered' | 'elastic', tunnels = s.tunnels.length): ModelInput {
  const tl: ModelTunnel[] = s.tunnels.slice(0, tunnels).map((t) => ({
    dev: t.dev,
    napi: t.napi,
    rxNs: s.costs.rxNs,
    decryptNs: s.costs.decryptNs,
    forwardNs: s.costs.forwardNs,
    rxPos: s.cpus.indexOf(t.rxCore),
    demandPps: demand === 'offered' ? s.offeredPps : Infinity,
  }));
  return { cpus: s.cpus, capacity: new Float64Array(s.cpus.length).fill(1), tunnels: tl };
}
