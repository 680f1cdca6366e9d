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
}

export interface CoreWorkload {
  cpu: number;
  /** Measured mean utilization (0..1) over the capture. */
  measuredUtilization: number;
  /** Mean utilization not explained by our tunnels' receive, decrypt and poll work. */
  foreignLoad: number;
  /** What the models may use of this core: 1 - foreignLoad. */
  capacity: number;
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
