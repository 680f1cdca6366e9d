/**
 * The workload a capture measured, as the replay models consume it, and what the models
 * return. Units: rates in packets per second (pps), costs in nanoseconds of one core per
 * packet, utilization as a fraction 0..1 of one core.
 */

/** One input the capture did not provide, and the named default used instead. */
export interface Assumption {
  /** Stable code, e.g. `rx-core-default`, `decrypt-cost-default`. */
  code: string;
  message: string;
}

export interface TunnelWorkload {
  /** Index in Workload.tunnels (= Timeline.napis index when extracted from a capture). */
  index: number;
  dev: string;
  napi: string;
  /** Packets per aggregation window (sum of napi_poll work over all cores). */
  packetsPerWindow: Float64Array;
  /** Mean delivered rate over the capture (packets / duration). */
  measuredPps: number;
  /** Forwarding cost: poll busy time / poll work (the wg_packet_rx_poll + routing + egress). */
  forwardNsPerPacket: number;
  /** Decryption cost: wg-crypt-<dev> work time / the device's packets (shared among its tunnels by packet share). */
  decryptNsPerPacket: number;
  /** Outer receive cost on the receive core: NET_RX time there not spent in wg polls, per packet. */
  rxNsPerPacket: number;
  /** The core RSS put the outer flow on (where wg-crypt-<dev> work is queued from). */
  rxCore: number;
  /** The core that ran most of this tunnel's poll time in the capture (observed placement). */
  observedPollCore: number;
  /** Share of this tunnel's poll busy time per core in the capture (sums to 1 when it polled). */
  observedPollShare: Map<number, number>;
  /**
   * veth, when no core was saturated: the flow was held by its sending task, which also runs
   * the poll; its time per packet is the period between packets (1e9 / measuredPps). Absent:
   * the flow was limited by the cores (or is not veth).
   */
  serialNsPerPacket?: number;
}

export interface CoreWorkload {
  cpu: number;
  /**
   * Measured mean utilization (0..1) over the traffic window: the whole core (not idle) when
   * the capture has idle records or /proc/stat, else the traced activity.
   */
  measuredUtilization: number;
  /** Traced activity that is not our tunnels' work: other NAPIs' polls, NET_TX, other work items. */
  otherLoad: number;
  /** Busy time the capture did not trace (processes, the tracer, irqs): whole-core busy - traced. */
  untracedLoad: number;
  /**
   * `coupled` untraced load as a cost per packet of the tunnels on this core (ns): the local
   * sender and receiver of a veth pair do work for every packet (0 when the load is fixed).
   */
  coupledNsPerPacket: number;
  /** Mean utilization the models cannot take: other load plus what fixed untraced tasks keep under CFS. */
  foreignLoad: number;
  /** What the models may use of this core: 1 - foreignLoad. */
  capacity: number;
}

/** The stretch of the capture that carried the tunnels' traffic (rates are averaged over it). */
export interface TrafficWindow {
  /** ns from the capture start. */
  fromNs: number;
  toNs: number;
  /** Aggregation windows [first, last) of the timeline it covers. */
  firstWindow: number;
  endWindow: number;
}

export interface Workload {
  cpus: number[];
  tunnels: TunnelWorkload[];
  cores: CoreWorkload[];
  durationNs: number;
  windowNs: number;
  windowCount: number;
  /** Whether the capture's devices ran threaded NAPI (header `threaded` flag, or thread polls seen). */
  threaded: boolean | undefined;
  /** Where the rates and costs were averaged; undefined when no window carried traffic. */
  trafficWindow: TrafficWindow | undefined;
  /**
   * How the untraced busy time behaves when the tunnels' throughput changes: `coupled` (it is the
   * local senders' and receivers' work, per packet: veth endpoints on this host) or `fixed` (other
   * processes: they keep what CFS gives them), `unknown` when the capture cannot tell whole-core busy.
   */
  untraced: 'coupled' | 'fixed' | 'unknown';
  /** Where whole-core busy came from. */
  coreBusySource: 'idle-records' | 'proc-stat' | 'traced';
  /**
   * Where the polls are placed: `random` (WireGuard: the decrypt worker that schedules the poll,
   * any core) or `observed` (veth: the sender's CPU, drivers/net/veth.c veth_xmit ->
   * __veth_xdp_flush -> napi_schedule; NIC queues: their IRQ's CPU).
   */
  placement: 'random' | 'observed';
  /** Any tunnel is a WireGuard device (so it has a decryption stage Inline can move). */
  wireguard: boolean;
  /** Events lost by the tracer over events seen (whole capture; windows mode: over the probe runs the windows counted). */
  lostFraction: number;
  /**
   * Spread of the measured per-packet costs over the traffic window's windows (bootstrap, p5 and
   * p95 of the cost over resampled windows, as factors on the point value).
   */
  costSpread: { poll: [number, number]; coupled: [number, number] };
  assumptions: Assumption[];
}

export type ModelName = 'stock' | 'threaded' | 'inline';
export const MODEL_NAMES: readonly ModelName[] = ['stock', 'threaded', 'inline'];

export interface CpuUtilization {
  cpu: number;
  utilization: number;
}

export interface TunnelThroughput {
  dev: string;
  napi: string;
  throughputPps: number;
  /** Core the tunnel's poll (stock, threaded) or whole pipeline (inline) ended on. */
  pollCore: number;
  rxCore: number;
}

export interface ModelRun {
  model: ModelName;
  cpus: CpuUtilization[];
  maxCpuUtilization: number;
  busiestCpu: number;
  throughputPps: number;
  tunnels: TunnelThroughput[];
  jainFairness: number;
  /** True when at least two tunnels' polls shared a core at the start of the surge. */
  initialCollision: boolean;
  /** Stock: time from surge start until no poll moves any more (every poll stuck), or null if never within the horizon. */
  convergenceNs: number | null;
  /** Distinct cores that host polls at the end of the run. */
  pollCores: number;
  /** Thread migrations (threaded) or poll re-placements (stock) during the run. */
  moves: number;
}
