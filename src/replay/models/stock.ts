import type { FirstRound, PackedCoreProblem } from '../fairness.js';
import type { Prng } from '../prng.js';
import type { ModelRun } from '../types.js';
import { maxMinFairCores, type CoreProblem } from '../fairness.js';
import { assembleRun, demandsOf, hasCollision, placedPollProblem, placedProblem, ProblemScratch, solve, TailAverage, utilizationOf, type ModelInput } from './common.js';

const NO_UTIL = new Float64Array(0);

/**
 * Stock WireGuard with softirq NAPI: a state machine in time steps.
 *
 * Per core p the softirq work pinned there plus its round-robin share of decryption must fit
 * in the core's capacity:
 *
 *   sum_{i: rx_i = p} rx_i x_i + sum_{i: poll_i = p} fwd_i x_i + sum_i dec_i x_i / m  <=  cap_p
 *
 * - Receive runs where RSS put the outer flow (drivers/net/wireguard/receive.c:
 *   wg_packet_receive in the NIC's NET_RX softirq).
 * - Decryption is queued round-robin over all online CPUs (queueing.h:
 *   wg_queue_enqueue_per_device_and_peer, wg_cpumask_next_online), so each core decrypts 1/m
 *   of every tunnel's packets; and a peer's packets are delivered in order
 *   (receive.c: wg_packet_rx_poll stops at the first packet still being decrypted), so a
 *   tunnel goes at the pace of its slowest decrypting core. That is why every tunnel appears
 *   in every core's constraint. Simplification: the device ring is shared, so an idle worker
 *   can take another core's packets; the model ignores that slack.
 * - The forwarding poll runs on the core that scheduled it (net/core/dev.c: ____napi_schedule
 *   puts it on this CPU's poll_list).
 *
 * Dynamics (net/core/dev.c: napi_complete_done, napi_poll): a poll whose queue does not drain
 * -- its tunnel is limited by the very core it runs on -- uses its whole budget, is requeued
 * on the same CPU, and never moves ("sticky"). Any other poll drains, completes, and is
 * re-placed on the core of whichever decrypt worker schedules it next: uniform over online
 * CPUs. So polls that land on a saturated core stay, polls elsewhere keep moving, and the
 * saturated core absorbs them all: the convergence the threaded-NAPI patch reports
 * (drivers/net/wireguard/device.c, 2025).
 *
 * The run stops when every active poll is sticky (converged: the allocation cannot change
 * any more); otherwise throughput and utilization are averaged over the last quarter of the
 * horizon.
 */
export interface StockParams {
  stepNs: number;
  horizonNs: number;
}

export function stockProblem(inp: ModelInput, poll: ArrayLike<number>, scratch?: ProblemScratch): PackedCoreProblem {
  return placedPollProblem(inp, poll, 0, undefined, scratch);
}

/**
 * The stock state machine, one step at a time (the synthetic capture writer emits events from
 * each step). `step()` solves the current placement and then moves the polls that drained.
 */
export class StockSim {
  readonly poll: Int32Array;
  readonly initialCollision: boolean;
  moves = 0;
  steps = 0;
  /** Steps that ruled only the polls that moved (and those without a shared share): see step(). */
  movedOnlySteps = 0;
  private readonly scratch = new ProblemScratch();
  private readonly stickyBuf: Uint8Array;
  private readonly pollBuf: Int32Array;
  private readonly utilBuf: Float64Array;
  /** The active polls with a shared share that were not stuck after the last step, ascending (the first `nMoving`). */
  private readonly moving: Int32Array;
  private nMoving = 0;
  /** Cores holding a stuck poll with a shared share after the last step. */
  private readonly stuckCore: Uint8Array;
  /** The last step's solve froze every active tunnel with a shared share in its first round (SolverScratch.round0Fill). */
  private ruledFill = false;
  /** The first round the sim's solves start from (its active tunnels without a shared share: `unshared`), and those as flags. */
  private readonly first: FirstRound | undefined;
  private readonly isUnshared: Uint8Array;
  constructor(
    readonly inp: ModelInput,
    readonly rng: Prng,
    initialPoll?: ArrayLike<number>,
  ) {
    const n = inp.tunnels.length;
    const m = inp.cpus.length;
    this.poll = Int32Array.from({ length: n }, (_, i) => (initialPoll ? initialPoll[i]! : rng.int(m)));
    this.initialCollision = hasCollision(inp, this.poll);
    this.scratch.prepare(inp, 0, false);
    this.stickyBuf = new Uint8Array(n);
    this.pollBuf = new Int32Array(n);
    this.utilBuf = new Float64Array(m);
    this.moving = new Int32Array(n);
    this.stuckCore = new Uint8Array(m);
    this.first = this.scratch.solver.first;
    this.isUnshared = new Uint8Array(n);
    if (this.first !== undefined) for (const i of this.first.unshared) this.isUnshared[i] = 1;
  }

  /**
   * Returns this step's allocation, placement (before the moves) and which polls are stuck: the
   * sim's own arrays, valid until the next step. `util` is computed only when `wantUtil` or
   * every poll is stuck (runStock reads it in the tail and at convergence only; empty otherwise).
   */
  step(wantUtil = true): { x: Float64Array; util: Float64Array; poll: Int32Array; sticky: Uint8Array; allSticky: boolean } {
    const inp = this.inp;
    const n = inp.tunnels.length;
    const m = inp.cpus.length;
    const poll = this.poll;
    // Every field read before the loop: `utilBuf` read only in the branch below (the tail's
    // steps) had no type feedback in the optimised code, which deoptimised at it on every tail
    // step (about 1,500 deopts per what-if at 1,024 x 128, node --trace-deopt).
    const rng = this.rng;
    const utilBuf = this.utilBuf;
    const scratch = this.scratch;
    let moves = this.moves;
    const demand = demandsOf(inp);
    // The placement this step solves, kept (the moves below change `poll`): the per-tunnel form
    // of stockProblem (the solver packs only what its first round leaves unfrozen).
    const placement = this.pollBuf;
    placement.set(poll);
    const pb = placedProblem(inp, placement, 0, undefined, scratch);
    const { x, bottleneck, frozenAt, tightAt } = maxMinFairCores(pb, demand, scratch.solver);
    let allSticky = true;
    const sticky = this.stickyBuf;
    const moving = this.moving;
    const stuckCore = this.stuckCore;
    const isUnshared = this.isUnshared;
    const fill = scratch.solver.round0Fill && this.first !== undefined && scratch.solver.first === this.first;
    // A stuck poll does not move. When this solve and the last both froze every tunnel with a
    // shared share in their first round (round0Fill) and every core that held such a stuck poll
    // is still tight in that round, those polls are stuck still: only the polls that moved need
    // ruling, with the tunnels without a shared share (ruled as the full pass rules them). The
    // same rule, the same draws in the same (tunnel) order as the full pass below; at 1,024
    // tunnels x 128 cores, after the first few hundred steps a few dozen polls move per step.
    let onlyMoving = fill && this.ruledFill;
    for (let p = 0; p < m && onlyMoving; p++) if (stuckCore[p] && tightAt[p] !== 0) onlyMoving = false;
    if (onlyMoving) {
      this.movedOnlySteps++;
      const un = this.first!.unshared;
      const nMoving = this.nMoving;
      let a = 0;
      let b = 0;
      let kept = 0;
      while (a < nMoving || b < un.length) {
        const fromUn = a >= nMoving || (b < un.length && un[b]! < moving[a]!);
        const i = fromUn ? un[b++]! : moving[a++]!;
        // A tunnel with a shared share froze in round 0 on the first tight core (round0Fill).
        const stuck = fromUn ? bottleneck[i]! >= 0 && tightAt[placement[i]!] === frozenAt[i] : tightAt[placement[i]!] === 0;
        sticky[i] = stuck ? 1 : 0;
        if (stuck) {
          if (!fromUn) stuckCore[placement[i]!] = 1;
          continue;
        }
        allSticky = false;
        if (!fromUn) moving[kept++] = i;
        const to = rng.int(m);
        if (to !== poll[i]) moves++;
        poll[i] = to;
      }
      this.nMoving = kept;
    } else {
      stuckCore.fill(0);
      let kept = 0;
      // One pass: stuck or not, and a poll that is not moves (random draws in tunnel order, as before).
      for (let i = 0; i < n; i++) {
        if (!(demand[i]! > 0)) {
          sticky[i] = 0;
          continue;
        }
        // Constraint k is core position k: the poll is stuck when its own core limits it, i.e.
        // the core became tight in the round the tunnel froze (ties: several cores at once).
        const stuck = bottleneck[i]! >= 0 && tightAt[placement[i]!] === frozenAt[i];
        sticky[i] = stuck ? 1 : 0;
        if (stuck) {
          if (!isUnshared[i]) stuckCore[placement[i]!] = 1;
          continue;
        }
        allSticky = false;
        if (!isUnshared[i]) moving[kept++] = i;
        const to = rng.int(m);
        if (to !== poll[i]) moves++;
        poll[i] = to;
      }
      this.nMoving = kept;
    }
    this.ruledFill = fill;
    this.moves = moves;
    // Computed in the first step too (and not returned unless asked): a call site the
    // interpreter never ran has no type feedback, and the optimised step then deoptimised at it
    // on every step of the tail (about 2,000 deopts per what-if at 1,024 x 128, node --trace-deopt).
    const want = wantUtil || allSticky;
    const util = want || this.steps === 0 ? utilizationOf(inp, pb, x, undefined, utilBuf) : NO_UTIL;
    const out = { x, util: want ? util : NO_UTIL, poll: placement, sticky, allSticky };
    this.steps++;
    return out;
  }
}

/** `initialPoll` gives the poll positions at the start of the surge; random when omitted. */
export function runStock(inp: ModelInput, par: StockParams, rng: Prng, initialPoll?: ArrayLike<number>): ModelRun {
  const n = inp.tunnels.length;
  const m = inp.cpus.length;
  const sim = new StockSim(inp, rng, initialPoll);
  const steps = Math.ceil(par.horizonNs / par.stepNs);
  const tailFrom = Math.floor(steps * 0.75);
  const tail = new TailAverage(n, m);
  for (let s = 0; s < steps; s++) {
    const st = sim.step(s >= tailFrom);
    const extra = { initialCollision: sim.initialCollision, moves: sim.moves };
    if (st.allSticky) return assembleRun('stock', inp, st.x, st.util, st.poll, { ...extra, convergenceNs: s * par.stepNs });
    if (s >= tailFrom) tail.add(st.x, st.util);
  }
  const { x, util } = tail.mean();
  return assembleRun('stock', inp, x, util, sim.poll, { initialCollision: sim.initialCollision, convergenceNs: null, moves: sim.moves });
}

/**
 * Stock with the placement the capture observed (ModelInput.placement `observed`: veth, whose
 * NAPI is scheduled on the sending CPU, drivers/net/veth.c veth_xmit -> __veth_xdp_flush ->
 * napi_schedule): each tunnel's poll work is split over the cores as its poll time was, the
 * coupled work per packet stays on the cores it was measured on, and nothing moves, so one
 * solve is the steady state.
 */
export function runStockObserved(inp: ModelInput): ModelRun {
  const m = inp.cpus.length;
  const n = inp.tunnels.length;
  // Packed as it is built (fairness.ts: PackedCoreProblem), in the order packCoreProblem gives
  // the CoreProblem this was (per core, the tunnels in order, each with its receive stage, its
  // coupled work, then its poll shares; then one row per sender, addSenderRows): made as
  // [tunnel, coefficient] pairs, the stages were 262,144 small arrays on a 1,024 x 128 stock
  // synth capture, living through the solve and promoted (bench/README.md, scaling, "The
  // what-if's inputs").
  const coupled = inp.coupledNs;
  const rows = new Int32Array(m + 1);
  let senders = 0;
  for (let i = 0; i < n; i++) {
    const t = inp.tunnels[i]!;
    if (t.rxNs > 0) rows[t.rxPos + 1]!++;
    for (let p = 0; p < m; p++) if ((coupled?.[p] ?? 0) > 0) rows[p + 1]!++;
    for (const [p, f] of observedShareOf(t)) if (p >= 0 && p < m && f > 0) rows[p + 1]!++;
    if (t.senderNs !== undefined) senders++;
  }
  const off = new Int32Array(m + senders + 1);
  for (let p = 0; p < m; p++) off[p + 1] = off[p]! + rows[p + 1]!;
  for (let k = 0; k < senders; k++) off[m + k + 1] = off[m + k]! + 1;
  const tun = new Int32Array(off[m + senders]!);
  const coef = new Float64Array(off[m + senders]!);
  const next = off.slice(0, m);
  const shared = new Float64Array(n);
  const main = new Int32Array(n);
  const put = (p: number, i: number, a: number): void => {
    const e = next[p]!++;
    tun[e] = i;
    coef[e] = a;
  };
  for (let i = 0; i < n; i++) {
    const t = inp.tunnels[i]!;
    shared[i] = t.decryptNs / m / 1e9;
    if (t.rxNs > 0) put(t.rxPos, i, t.rxNs / 1e9);
    for (let p = 0; p < m; p++) if ((coupled?.[p] ?? 0) > 0) put(p, i, coupled![p]! / 1e9);
    const share = observedShareOf(t);
    let best = share[0]![0];
    let bestF = -1;
    for (const [p, f] of share) {
      if (p >= 0 && p < m && f > 0) put(p, i, (t.forwardNs * f) / 1e9);
      if (f > bestF) [best, bestF] = [p, f];
    }
    main[i] = Math.max(0, best);
  }
  let capacity = Float64Array.from(inp.capacity);
  if (senders > 0) {
    // addSenderRows' rows: x (senderNs + forwardNs) <= 1.
    const c = new Float64Array(m + senders).fill(1);
    c.set(capacity);
    capacity = c;
    let e = off[m]!;
    for (let i = 0; i < n; i++) {
      const t = inp.tunnels[i]!;
      if (t.senderNs === undefined) continue;
      tun[e] = i;
      coef[e++] = (t.senderNs + t.forwardNs) / 1e9;
    }
  }
  const packed: PackedCoreProblem = { capacity, shared, off, tun, coef };
  const { x } = solve(inp, packed);
  return assembleRun('stock', inp, x, utilizationOf(inp, packed, x).subarray(0, m), main, { initialCollision: hasCollision(inp, main), convergenceNs: null, moves: 0 });
}

/**
 * One row per flow held by its sending task (ModelTunnel.senderNs): the task runs on one core at
 * a time, so x (senderNs + what else the task does per packet) <= 1 (a whole core, whichever).
 * Rows after the cores: the caller reads per-core usage from the first m rows only.
 */
export function addSenderRows(inp: ModelInput, pb: CoreProblem, alsoInTask: (t: ModelInput['tunnels'][number], i: number) => number): void {
  const before = pb.extras.length;
  inp.tunnels.forEach((t, i) => {
    if (t.senderNs !== undefined) pb.extras.push([[i, (t.senderNs + alsoInTask(t, i)) / 1e9]]);
  });
  if (pb.extras.length === before) return;
  const capacity = new Float64Array(pb.extras.length).fill(1);
  capacity.set(pb.capacity);
  pb.capacity = capacity;
}

/** A tunnel's observed poll share per core position, or all of it on its receive core. */
export function observedShareOf(t: ModelInput['tunnels'][number]): [number, number][] {
  return t.observedShare && t.observedShare.length > 0 ? t.observedShare : [[t.rxPos, 1]];
}
