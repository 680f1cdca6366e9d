import { coreUsage, jainFairness, maxMinFairCores, SolverScratch, type Allocation, type AnyCoreProblem, type CoreProblem, type PackedCoreProblem, type PlacedCoreProblem } from '../fairness.js';
import type { ModelName, ModelRun } from '../types.js';

/**
 * What every model consumes: cores by position (0..m-1, `cpus[p]` is the kernel CPU id), the
 * capacity a model may use of each (1 - the load that is not ours), and per tunnel its
 * per-packet costs in core-nanoseconds and its receive core.
 */
export interface ModelTunnel {
  dev: string;
  napi: string;
  /** Outer receive (NIC NAPI, UDP, wg_packet_receive) on the receive core, ns per packet. */
  rxNs: number;
  /** Decryption (wg_packet_decrypt_worker), ns per packet. */
  decryptNs: number;
  /** Forwarding poll (wg_packet_rx_poll, GRO, routing, egress), ns per packet. */
  forwardNs: number;
  /** Position (index into ModelInput.cpus) of the core RSS put this tunnel's outer flow on. */
  rxPos: number;
  /** Offered load, packets per second; Infinity for an elastic sender, 0 for an idle tunnel. */
  demandPps: number;
  /** Threaded: the poll's cost per packet in its kthread (default forwardNs). */
  threadForwardNs?: number;
  /** Threaded: the cost per packet of waking the kthread, paid where the wakers run (default: the wake ratio times rx + decrypt + forward). */
  threadWakeNs?: number;
  /**
   * veth: the part of threadWakeNs that is CPU work (default all of it); the rest is waiting,
   * which holds the flow where the wake-up is paid but leaves that core idle (parameters.ts:
   * VETH_THREAD_WAKE_BUSY).
   */
  threadWakeBusyNs?: number;
  /** Observed placement: the share of the tunnel's poll time per core position, as captured. */
  observedShare?: [number, number][];
  /**
   * veth held by its sending task (TunnelWorkload.serialNsPerPacket): the task's own work per
   * packet besides the poll it runs in softirq mode (ns). It does the sending, and the poll in
   * stock or the kthread's wake-up in threaded, on one core at a time: x (senderNs + that) <= 1.
   */
  senderNs?: number;
}

export interface ModelInput {
  cpus: number[];
  /** Per core position, 0..1. */
  capacity: Float64Array;
  tunnels: ModelTunnel[];
  /**
   * Per core position, work per packet of any tunnel that is not ours but comes with it (ns): a
   * veth pair's local sender and receiver. Absent: none.
   */
  coupledNs?: Float64Array;
  /**
   * `random` (default): a poll lands wherever the next decrypt worker schedules it (WireGuard);
   * `observed`: polls run where the capture saw them (veth: the sender's CPU), and do not move.
   */
  placement?: 'random' | 'observed';
}

export const NS_PER_S = 1e9;

/** Accumulates per-step allocations over the steady-state tail of a run. */
export class TailAverage {
  readonly x: Float64Array;
  readonly util: Float64Array;
  steps = 0;
  constructor(n: number, m: number) {
    this.x = new Float64Array(n);
    this.util = new Float64Array(m);
  }
  add(x: Float64Array, util: Float64Array): void {
    for (let i = 0; i < x.length; i++) this.x[i] = this.x[i]! + x[i]!;
    for (let p = 0; p < util.length; p++) this.util[p] = this.util[p]! + util[p]!;
    this.steps++;
  }
  mean(): { x: Float64Array; util: Float64Array } {
    const k = Math.max(1, this.steps);
    return { x: this.x.map((v) => v / k), util: this.util.map((v) => v / k) };
  }
}

/** Per-core utilization of an allocation: foreign load + what the tunnels use + extra busy time (migrations). */
export function utilizationOf(inp: ModelInput, pb: AnyCoreProblem, x: Float64Array, extraBusy?: Float64Array, into?: Float64Array): Float64Array {
  const used = coreUsage(pb, x, into);
  for (let p = 0; p < used.length; p++) used[p] = Math.min(1, 1 - inp.capacity[p]! + used[p]! + (extraBusy ? extraBusy[p]! : 0));
  return used;
}

/** An empty problem over the input's cores: capacities copied, nothing pinned, nothing shared. */
export function emptyProblem(inp: ModelInput): CoreProblem {
  return {
    capacity: Float64Array.from(inp.capacity),
    shared: new Float64Array(inp.tunnels.length),
    extras: inp.cpus.map(() => []),
  };
}

/** ProblemScratch's arrays: m cores, `stages` stage slots. A class (fairness.ts: SolverArrays says why). */
class ProblemArrays {
  readonly capacity: Float64Array;
  readonly off: Int32Array;
  readonly next: Int32Array;
  readonly tun: Int32Array;
  readonly coef: Float64Array;
  readonly pairCores: Int32Array;
  constructor(m: number, stages: number) {
    this.capacity = new Float64Array(m);
    this.off = new Int32Array(m + 1);
    this.next = new Int32Array(m);
    this.tun = new Int32Array(stages);
    this.coef = new Float64Array(stages);
    this.pairCores = new Int32Array(stages);
  }
}

/** The placedBase a scratch last used, with what it was looked up by (a class, as ProblemArrays). */
class BaseHit {
  constructor(
    readonly inp: ModelInput,
    readonly wakeRatio: number,
    readonly threaded: boolean,
    readonly base: PlacedBase,
  ) {}
}

/**
 * Arrays a model reuses for the problem it builds every step (the problem is consumed within
 * the step: solved, its usage read, then dropped).
 */
export class ProblemScratch {
  private m = -1;
  private stages = -1;
  private buf!: ProblemArrays;
  readonly solver = new SolverScratch();
  /** The last input's placedBase, its wake ratio and mode (one input per sim). */
  base: BaseHit | undefined;
  /**
   * Arrays of exactly m cores and `stages` stage slots (made again only when a size changes: a
   * sim's never does). Exact sizes rather than views of larger arrays: a typed-array view costs
   * an allocation each time (five per step made a third of placedPollProblem at 1,024 tunnels).
   */
  arrays(m: number, stages: number): ProblemArrays {
    if (m !== this.m || stages !== this.stages) {
      this.m = m;
      this.stages = stages;
      this.buf = new ProblemArrays(m, stages);
    }
    return this.buf;
  }
  /**
   * Makes now what a sim's first step would make (its constructor calls this): the placedBase
   * hit, this scratch's arrays, the solver's arrays and its first-round start. The steps then
   * never take those branches: made in the first step of each new sim, inside functions already
   * optimised on the first sim (solveCores, placedProblem, StockSim.step), they were paths
   * without type feedback (the first calls of a function run before V8 gives it a feedback
   * vector), and each new sim deoptimised the solver there (node --trace-deopt: "Insufficient
   * type feedback for generic named access" at SolverScratch.arrays) and had V8 compile it again.
   */
  prepare(inp: ModelInput, wakeRatio: number, threaded: boolean): void {
    const b = placedBase(inp, wakeRatio, threaded);
    this.base = new BaseHit(inp, wakeRatio, threaded, b);
    this.arrays(inp.cpus.length, 0);
    this.solver.prepare(b.shared, demandsOf(inp), inp.cpus.length);
  }
}

/** What does not change from step to step in a placed-poll problem: per input, mode and wake ratio. */
export interface PlacedBase {
  threaded: boolean;
  wakeRatio: number;
  shared: Float64Array;
  rxCoef: Float64Array;
  fwdCoef: Float64Array;
  /** Per core: receive stages pinned there. */
  rxCount: Int32Array;
  rxPos: Int32Array;
  hasRx: Uint8Array;
  hasFwd: Uint8Array;
  /** No negative stage coefficient (the solver's rules for dropping cores hold). */
  nonNegative: boolean;
}
const placedBases = new WeakMap<ModelInput, PlacedBase[]>();

/**
 * The stage coefficients of a placed-poll problem. Threaded (`threaded`): the poll costs its
 * kthread cost where the thread runs, and waking it costs `threadWakeNs` (default `wakeRatio`
 * times the stock per-packet work) spread where decryption runs. Coupled work (ModelInput.coupledNs)
 * is split into what every core carries (its least value, added to the shared part) and the rest
 * on the one core with the most, as a receive stage when the tunnel has none (exact on 2 cores,
 * the veth testbed; on more cores the rest lands on the largest core only).
 */
export function placedBase(inp: ModelInput, wakeRatio: number, threaded = wakeRatio > 0): PlacedBase {
  let list = placedBases.get(inp);
  if (list === undefined) placedBases.set(inp, (list = []));
  const hit = list.find((b) => b.wakeRatio === wakeRatio && b.threaded === threaded);
  if (hit !== undefined) return hit;
  const n = inp.tunnels.length;
  const m = inp.cpus.length;
  let coupledMin = 0;
  let coupledAt = -1;
  let coupledRest = 0;
  if (inp.coupledNs !== undefined && inp.coupledNs.length === m && m > 0) {
    coupledMin = Infinity;
    let max = -Infinity;
    for (let p = 0; p < m; p++) {
      const v = inp.coupledNs[p]!;
      if (v < coupledMin) coupledMin = v;
      if (v > max) {
        max = v;
        coupledAt = p;
      }
    }
    coupledRest = max - coupledMin;
  }
  const b: PlacedBase = {
    threaded,
    wakeRatio,
    shared: new Float64Array(n),
    rxCoef: new Float64Array(n),
    fwdCoef: new Float64Array(n),
    rxCount: new Int32Array(m),
    rxPos: new Int32Array(n),
    hasRx: new Uint8Array(n),
    hasFwd: new Uint8Array(n),
    nonNegative: true,
  };
  for (let i = 0; i < n; i++) {
    const t = inp.tunnels[i]!;
    const wake = threaded ? (t.threadWakeNs ?? wakeRatio * (t.rxNs + t.decryptNs + t.forwardNs)) : 0;
    const fwd = threaded ? (t.threadForwardNs ?? t.forwardNs) : t.forwardNs;
    b.shared[i] = (t.decryptNs + wake) / m / 1e9;
    let rx = t.rxNs;
    let rxPos = t.rxPos;
    if (coupledMin > 0 || coupledRest > 0) {
      b.shared[i] = b.shared[i]! + coupledMin / 1e9;
      if (rx === 0 && coupledRest > 0) {
        rx = coupledRest;
        rxPos = coupledAt;
      } else b.shared[i] = b.shared[i]! + coupledRest / m / 1e9;
    }
    b.rxCoef[i] = rx / 1e9;
    b.fwdCoef[i] = fwd / 1e9;
    if (rx > 0) b.rxCount[rxPos]!++;
    b.rxPos[i] = rxPos;
    b.hasRx[i] = rx > 0 ? 1 : 0;
    b.hasFwd[i] = fwd > 0 ? 1 : 0;
    if (b.rxCoef[i]! < 0 || b.fwdCoef[i]! < 0) b.nonNegative = false;
  }
  list.push(b);
  return b;
}

/**
 * The problem of polls placed on cores (`place[i]`: the core that polls tunnel i), as the
 * stock and threaded models share it: decryption spread over every core (plus, threaded, a
 * wake-up cost of `wakeRatio` times the per-packet work), receive on the tunnel's RSS core,
 * forwarding on its poll's core; `lost` (per core) taken off the capacities.
 *
 * Built packed (fairness.ts: PackedCoreProblem), once per simulated step: the shares and
 * coefficients are computed once per input, and each core's stages come in tunnel order,
 * receive before poll, as they would be pushed one by one.
 */
export function placedPollProblem(inp: ModelInput, place: ArrayLike<number>, wakeRatio = 0, lost?: Float64Array, scratch?: ProblemScratch, threaded = wakeRatio > 0): PackedCoreProblem {
  const m = inp.cpus.length;
  const n = inp.tunnels.length;
  const sc = scratch ?? new ProblemScratch();
  const hit = sc.base;
  let b: PlacedBase;
  if (hit !== undefined && hit.inp === inp && hit.wakeRatio === wakeRatio && hit.threaded === threaded) b = hit.base;
  else sc.base = new BaseHit(inp, wakeRatio, threaded, (b = placedBase(inp, wakeRatio, threaded)));
  // tun and coef may be longer than the stages (off[m]): every reader stops at off[m].
  const { capacity, off, next, tun, coef, pairCores } = sc.arrays(m, 2 * n);
  capacity.set(inp.capacity);
  off[0] = 0;
  for (let p = 0; p < m; p++) off[p + 1] = b.rxCount[p]!;
  const { hasRx, hasFwd, rxPos, rxCoef, fwdCoef } = b;
  for (let i = 0; i < n; i++) if (hasFwd[i]) off[place[i]! + 1]!++;
  for (let p = 0; p < m; p++) {
    off[p + 1] = off[p + 1]! + off[p]!;
    next[p] = off[p]!;
  }
  for (let i = 0; i < n; i++) {
    pairCores[2 * i] = -1;
    pairCores[2 * i + 1] = -1;
    if (hasRx[i]) {
      const e = next[rxPos[i]!]!++;
      tun[e] = i;
      coef[e] = rxCoef[i]!;
      pairCores[2 * i] = rxPos[i]!;
    }
    if (hasFwd[i]) {
      const e = next[place[i]!]!++;
      tun[e] = i;
      coef[e] = fwdCoef[i]!;
      pairCores[2 * i + 1] = place[i]!;
    }
  }
  if (lost) for (let p = 0; p < m; p++) capacity[p] = Math.max(0, capacity[p]! - lost[p]!);
  return { capacity, shared: b.shared, off, tun, coef, pairCores };
}

/**
 * The same problem as placedPollProblem, in the solver's per-tunnel form (fairness.ts:
 * PlacedCoreProblem): no per-core stage lists are built, the solver packs only the stages of
 * the tunnels its first round leaves unfrozen. What the sims solve every step.
 */
export function placedProblem(inp: ModelInput, place: ArrayLike<number>, wakeRatio = 0, lost?: Float64Array, scratch?: ProblemScratch, threaded = wakeRatio > 0): PlacedCoreProblem {
  const m = inp.cpus.length;
  const sc = scratch ?? new ProblemScratch();
  const hit = sc.base;
  let b: PlacedBase;
  if (hit !== undefined && hit.inp === inp && hit.wakeRatio === wakeRatio && hit.threaded === threaded) b = hit.base;
  else sc.base = new BaseHit(inp, wakeRatio, threaded, (b = placedBase(inp, wakeRatio, threaded)));
  const { capacity } = sc.arrays(m, 0);
  capacity.set(inp.capacity);
  if (lost) for (let p = 0; p < m; p++) capacity[p] = Math.max(0, capacity[p]! - lost[p]!);
  return { capacity, shared: b.shared, rxPos: b.rxPos, rxCoef: b.rxCoef, hasRx: b.hasRx, place, fwdCoef: b.fwdCoef, hasFwd: b.hasFwd, nonNegative: b.nonNegative };
}

const demandCache = new WeakMap<ModelInput, Float64Array>();

/** Each tunnel's offered load, computed once per input (read-only: the solvers never write it). */
export function demandsOf(inp: ModelInput): Float64Array {
  let d = demandCache.get(inp);
  if (d === undefined) {
    d = new Float64Array(inp.tunnels.length);
    for (let i = 0; i < d.length; i++) d[i] = inp.tunnels[i]!.demandPps;
    demandCache.set(inp, d);
  }
  return d;
}

export function solve(inp: ModelInput, pb: AnyCoreProblem, scratch?: SolverScratch): Allocation {
  return maxMinFairCores(pb, demandsOf(inp), scratch);
}

/** True when two or more tunnels that carry traffic share a position. */
export function hasCollision(inp: ModelInput, pos: ArrayLike<number>): boolean {
  const seen = new Set<number>();
  for (let i = 0; i < inp.tunnels.length; i++) {
    if (!(inp.tunnels[i]!.demandPps > 0)) continue;
    const p = pos[i]!;
    if (seen.has(p)) return true;
    seen.add(p);
  }
  return false;
}

export function assembleRun(
  model: ModelName,
  inp: ModelInput,
  x: Float64Array,
  util: Float64Array,
  placement: ArrayLike<number>,
  extra: { initialCollision: boolean; convergenceNs: number | null; moves: number },
): ModelRun {
  let busiest = 0;
  for (let p = 1; p < util.length; p++) if (util[p]! > util[busiest]!) busiest = p;
  const active: number[] = [];
  const pollCores = new Set<number>();
  for (let i = 0; i < inp.tunnels.length; i++) {
    if (inp.tunnels[i]!.demandPps > 0) {
      active.push(x[i]!);
      pollCores.add(placement[i]!);
    }
  }
  return {
    model,
    cpus: inp.cpus.map((cpu, p) => ({ cpu, utilization: util[p]! })),
    maxCpuUtilization: util.length ? util[busiest]! : 0,
    busiestCpu: inp.cpus[busiest] ?? -1,
    throughputPps: x.reduce((a, b) => a + b, 0),
    tunnels: inp.tunnels.map((t, i) => ({
      dev: t.dev,
      napi: t.napi,
      throughputPps: x[i]!,
      pollCore: inp.cpus[placement[i]!] ?? -1,
      rxCore: inp.cpus[t.rxPos] ?? -1,
    })),
    jainFairness: jainFairness(active),
    initialCollision: extra.initialCollision,
    convergenceNs: extra.convergenceNs,
    pollCores: pollCores.size,
    moves: extra.moves,
  };
}
