import { coreUsage, packCoreProblem, type CoreProblem, type PackedCoreProblem } from '../fairness.js';
import type { Prng } from '../prng.js';
import type { ModelRun } from '../types.js';
import { addSenderRows, observedShareOf } from './stock.js';
import { assembleRun, hasCollision, placedBase, placedPollProblem, placedProblem, ProblemScratch, solve, TailAverage, utilizationOf, type ModelInput } from './common.js';

/**
 * Threaded NAPI (/sys/class/net/<dev>/threaded = 1; net/core/dev.c: napi_threaded_poll): each
 * tunnel's poll is a kthread `napi/<dev>-0` that CFS places and migrates. Per core p:
 *
 *   sum_{rx_i = p} rx_i x_i + sum_{thread_i = p} fwd_i x_i + sum_i (dec_i + wake_i) x_i / m  <=  cap_p - migration_p
 *
 * Decryption as in stock; `wake_i` = overheadRatio * (rx + dec + fwd) is the cost of waking the
 * poll's kthread from the decrypt workers (kernel/sched/core.c: try_to_wake_up), paid where
 * decryption runs. Every balancing interval the least-loaded core pulls the largest thread
 * that still leaves it below the busiest core (kernel/sched/fair.c: load_balance /
 * detach_tasks, simplified to one pull per destination core per interval), and the destination
 * loses `migrationCostNs` of capacity in that step (the thread runs cache-cold).
 */
export interface ThreadedParams {
  stepNs: number;
  horizonNs: number;
  balanceIntervalNs: number;
  migrationCostNs: number;
  threadedOverheadRatio: number;
}

/** kernel/sched/fair.c: sd->imbalance_pct is 117 on MC/SMT domains: pull only past a 17% imbalance. */
const IMBALANCE_PCT = 1.17;
/** Balancing intervals without a migration after which the placement is steady (the balancer is deterministic given the loads, and the loads no longer change). */
const STEADY_INTERVALS = 3;
/** Pinned load (fraction of a core) under which an imbalance is not worth a migration. */
const MIN_IMBALANCE = 0.02;

export function threadedProblem(inp: ModelInput, thread: ArrayLike<number>, ratio: number, lost?: Float64Array, scratch?: ProblemScratch): PackedCoreProblem {
  return placedPollProblem(inp, thread, ratio, lost, scratch, true);
}

/** The threaded state machine, one step at a time; balancing happens every `balanceEvery` steps. */
export class ThreadedSim {
  readonly thread: Int32Array;
  readonly initialCollision: boolean;
  moves = 0;
  steps = 0;
  private lost: Float64Array;
  private nextLost: Float64Array;
  private readonly threadBuf: Int32Array;
  private readonly headBuf: Int32Array;
  private readonly nextBuf: Int32Array;
  private readonly utilBuf: Float64Array;
  private readonly scratch = new ProblemScratch();
  private readonly balanceEvery: number;
  /** Migrations of the last step: [tunnel, from position, to position]. */
  lastMigrations: [number, number, number][] = [];
  constructor(
    readonly inp: ModelInput,
    readonly par: ThreadedParams,
    rng: Prng,
    initialThread?: ArrayLike<number>,
  ) {
    const n = inp.tunnels.length;
    const m = inp.cpus.length;
    this.thread = Int32Array.from({ length: n }, (_, i) => (initialThread ? initialThread[i]! : rng.int(m)));
    this.initialCollision = hasCollision(inp, this.thread);
    this.scratch.prepare(inp, par.threadedOverheadRatio, true);
    this.lost = new Float64Array(m);
    this.nextLost = new Float64Array(m);
    this.threadBuf = new Int32Array(n);
    this.headBuf = new Int32Array(m);
    this.nextBuf = new Int32Array(n);
    this.utilBuf = new Float64Array(m);
    this.balanceEvery = Math.max(1, Math.round(par.balanceIntervalNs / par.stepNs));
  }

  /** This step's allocation, utilization and placement (before the migrations): the sim's own arrays, valid until the next step. */
  step(): { x: Float64Array; util: Float64Array; thread: Int32Array } {
    const { inp, par, thread } = this;
    const n = inp.tunnels.length;
    const m = inp.cpus.length;
    // The per-tunnel form of threadedProblem (the solver packs only what its first round leaves).
    const pb = placedProblem(inp, thread, par.threadedOverheadRatio, this.lost, this.scratch, true);
    const { x } = solve(inp, pb, this.scratch.solver);
    this.threadBuf.set(thread);
    const out = { x, util: utilizationOf(inp, pb, x, this.lost, this.utilBuf), thread: this.threadBuf };
    const lost = this.nextLost;
    lost.fill(0);
    this.lastMigrations = [];
    if (this.steps++ % this.balanceEvery === this.balanceEvery - 1) {
      // Runnable load per core as CFS sees it: the load that is not ours, softirq receive and
      // poll threads (decryption is the same everywhere, so it cannot tip the balance).
      // The stage coefficients the problem was built from (the kthread's own cost, the receive
      // stage or the coupled work pinned to a core).
      const base = placedBase(inp, par.threadedOverheadRatio, true);
      const load = new Float64Array(m);
      for (let p = 0; p < m; p++) load[p] = 1 - inp.capacity[p]!;
      const tl = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        tl[i] = base.fwdCoef[i]! * x[i]!;
        load[thread[i]!] = load[thread[i]!]! + tl[i]!;
        if (base.hasRx[i]) load[base.rxPos[i]!] = load[base.rxPos[i]!]! + base.rxCoef[i]! * x[i]!;
      }
      const pulled = new Uint8Array(m);
      const threads = new Int32Array(m);
      for (let i = 0; i < n; i++) threads[thread[i]!] = threads[thread[i]!]! + 1;
      // Each core's threads in tunnel order (a thread moved is inserted in order), so the
      // pull below looks at the busiest core's threads only and breaks ties as a scan of all
      // tunnels by index would: the first of the largest.
      // Linked lists in typed arrays (head per core, next per tunnel), ascending: no allocation.
      const head = this.headBuf.fill(-1);
      const nxt = this.nextBuf;
      for (let i = n - 1; i >= 0; i--) {
        nxt[i] = head[thread[i]!]!;
        head[thread[i]!] = i;
      }
      for (let k = 0; k < m; k++) {
        let b = -1;
        let d = -1;
        for (let p = 0; p < m; p++) {
          if (threads[p]! > 0 && (b < 0 || load[p]! > load[b]!)) b = p;
          if (!pulled[p] && (d < 0 || load[p]! < load[d]!)) d = p;
        }
        if (b < 0 || d < 0 || b === d) break;
        if (load[b]! <= load[d]! * IMBALANCE_PCT + MIN_IMBALANCE) break;
        let best = -1;
        for (let i = head[b]!; i >= 0; i = nxt[i]!) {
          if (tl[i]! <= 0) continue;
          if (load[d]! + tl[i]! < load[b]! && (best < 0 || tl[i]! > tl[best]!)) best = i;
        }
        if (best < 0) break;
        thread[best] = d;
        if (head[b] === best) head[b] = nxt[best]!;
        else {
          let i = head[b]!;
          while (nxt[i] !== best) i = nxt[i]!;
          nxt[i] = nxt[best]!;
        }
        if (head[d]! < 0 || head[d]! > best) {
          nxt[best] = head[d]!;
          head[d] = best;
        } else {
          let i = head[d]!;
          while (nxt[i]! >= 0 && nxt[i]! < best) i = nxt[i]!;
          nxt[best] = nxt[i]!;
          nxt[i] = best;
        }
        threads[b] = threads[b]! - 1;
        threads[d] = threads[d]! + 1;
        load[b] = load[b]! - tl[best]!;
        load[d] = load[d]! + tl[best]!;
        pulled[d] = 1;
        lost[d] = Math.min(1, lost[d]! + par.migrationCostNs / par.stepNs);
        this.lastMigrations.push([best, b, d]);
        this.moves++;
      }
    }
    this.nextLost = this.lost;
    this.lost = lost;
    return out;
  }
}

export function runThreaded(inp: ModelInput, par: ThreadedParams, rng: Prng, initialThread?: ArrayLike<number>): ModelRun {
  const n = inp.tunnels.length;
  const m = inp.cpus.length;
  const sim = new ThreadedSim(inp, par, rng, initialThread);
  const steps = Math.ceil(par.horizonNs / par.stepNs);
  const tailFrom = Math.floor(steps * 0.75);
  const tail = new TailAverage(n, m);
  const balanceEvery = Math.max(1, Math.round(par.balanceIntervalNs / par.stepNs));
  let lastMove = 0;
  for (let s = 0; s < steps; s++) {
    const st = sim.step();
    if (sim.lastMigrations.length > 0) lastMove = s;
    // Steady: no migration for STEADY_INTERVALS balancing intervals since the last one's cost
    // was paid: nothing can change any more, so this step is the steady state.
    else if (s - lastMove > STEADY_INTERVALS * balanceEvery) {
      return assembleRun('threaded', inp, st.x, st.util, sim.thread, { initialCollision: sim.initialCollision, convergenceNs: null, moves: sim.moves });
    }
    if (s >= tailFrom) tail.add(st.x, st.util);
  }
  const { x, util } = tail.mean();
  return assembleRun('threaded', inp, x, util, sim.thread, { initialCollision: sim.initialCollision, convergenceNs: null, moves: sim.moves });
}

/**
 * Threaded NAPI with the placement observed (veth): the senders and receivers stay where the
 * capture saw their work (the coupled work per core), waking a poll's kthread costs its waker,
 * the sender, on the cores the softirq polls ran on (veth schedules the NAPI on the sending CPU),
 * and the kthreads' own work is fluid: with several runnable tasks per core CFS keeps every core
 * busy while any has runnable work (kernel/sched/fair.c: newidle_balance pulls as soon as a core
 * goes idle, and the periodic balance evens the load), so over a capture's windows a kthread's
 * time spreads over the cores that have room. As constraints: each core holds its pinned work,
 * and all cores together hold the pinned work plus the kthreads'. The kthread work is then
 * poured onto the least-loaded cores (water-filling) for the utilization. The part of a
 * wake-up that is waiting (ModelTunnel.threadWakeBusyNs) stays in the constraints and is taken
 * out of its core's utilization before the pour: the core idles while the flow waits, and a
 * kthread may run there then.
 */
export function runThreadedObserved(inp: ModelInput, wakeRatio: number): ModelRun {
  const m = inp.cpus.length;
  const n = inp.tunnels.length;
  const capTotal = inp.capacity.reduce((a, b) => a + b, 0);
  const pb: CoreProblem = { capacity: Float64Array.from([...inp.capacity, capTotal]), shared: new Float64Array(n), extras: [...inp.cpus.map(() => []), []] as [number, number][][] };
  const thread = new Float64Array(n);
  const wakeNs = new Float64Array(n);
  // Per tunnel and core position, the waiting part of its wake-ups there (ns per packet).
  const waits: [number, number, number][] = [];
  inp.tunnels.forEach((t, i) => {
    const wake = (wakeNs[i] = t.threadWakeNs ?? wakeRatio * (t.rxNs + t.decryptNs + t.forwardNs));
    let pinned = 0;
    const pin = (p: number, ns: number): void => {
      if (!(ns > 0)) return;
      pb.extras[p]!.push([i, ns / 1e9]);
      pinned += ns;
    };
    pin(t.rxPos, t.rxNs);
    for (let p = 0; p < m; p++) pin(p, (inp.coupledNs?.[p] ?? 0) + t.decryptNs / m);
    const wait = t.threadWakeBusyNs === undefined ? 0 : Math.max(0, wake - t.threadWakeBusyNs);
    for (const [p, f] of observedShareOf(t)) {
      if (!(p >= 0 && p < m)) continue;
      pin(p, wake * f);
      if (wait > 0) waits.push([i, p, wait * f]);
    }
    thread[i] = (t.threadForwardNs ?? t.forwardNs) / 1e9;
    pb.extras[m]!.push([i, pinned / 1e9 + thread[i]!]);
  });
  // The sending task wakes the kthread (the wake-up is charged to it above, on its cores).
  addSenderRows(inp, pb, (_, i) => wakeNs[i]!);
  const packed = packCoreProblem(pb);
  const { x } = solve(inp, packed);
  const used = coreUsage(packed, x);
  const util = new Float64Array(m);
  for (let p = 0; p < m; p++) util[p] = 1 - inp.capacity[p]! + used[p]!;
  // The wake-ups' waiting holds the flow (it is in the constraints) but is no work: its core idles then.
  for (const [i, p, ns] of waits) util[p] = util[p]! - (ns * x[i]!) / 1e9;
  // Pour the kthreads' work onto the least-loaded cores, level by level.
  let pour = 0;
  for (let i = 0; i < n; i++) pour += thread[i]! * x[i]!;
  const order = [...util.keys()].sort((a, b) => util[a]! - util[b]!);
  for (let k = 0; k < m && pour > 1e-12; k++) {
    // Raise the k+1 lowest cores to the next level (or to what is left to pour).
    const next = k + 1 < m ? util[order[k + 1]!]! : 1;
    const room = Math.min(1, next) - util[order[k]!]!;
    const give = Math.min(pour / (k + 1), Math.max(0, room));
    for (let j = 0; j <= k; j++) util[order[j]!] = util[order[j]!]! + give;
    pour -= give * (k + 1);
  }
  for (let p = 0; p < m; p++) util[p] = Math.min(1, util[p]!);
  // Where each kthread mostly runs: the least-loaded core before the pour (where it has room).
  const place = Int32Array.from(inp.tunnels, () => order[0] ?? 0);
  return assembleRun('threaded', inp, x, util, place, { initialCollision: hasCollision(inp, place), convergenceNs: null, moves: 0 });
}
