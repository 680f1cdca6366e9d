/**
 * Max-min fair sharing of cores among tunnels (progressive filling), and Jain's index.
 *
 * Why max-min: tunnels that share a core share it the way net/core/dev.c: net_rx_action serves
 * NAPI instances, round-robin with the same budget each, so each gets the same packet rate
 * until it is limited elsewhere; and CFS shares a core among threads equally. Progressive
 * filling (Bertsekas & Gallager, Data Networks, 6.5.2) computes exactly that allocation.
 */

/** A linear capacity constraint: sum_i coef[i] * x[i] <= capacity (x in packets/s, coef in core-seconds per packet). */
export interface Constraint {
  /** What this resource is, e.g. `core 3`, `decrypt pool`. */
  id: string;
  /** Core id for per-core constraints; -1 for the pool. */
  cpu: number;
  capacity: number;
  coef: Float64Array;
}

export interface Allocation {
  /** Packets per second per tunnel. */
  x: Float64Array;
  /**
   * Index in the constraint list of the constraint that froze each tunnel (its bottleneck),
   * -1 when it reached its demand, -2 when it never got capacity (demand 0).
   */
  bottleneck: Int32Array;
  /** Filling round in which each tunnel froze (-1: never had demand). */
  frozenAt: Int32Array;
  /** Filling round in which each constraint became tight (-1: never). Ties matter: a tunnel is limited by every constraint that became tight in the round it froze. */
  tightAt: Int32Array;
}

const EPS = 1e-12;
const NO_STAGES_OFF = new Int32Array(1);
const NO_STAGES_TUN = new Int32Array(0);
const NO_STAGES_COEF = new Float64Array(0);

/**
 * Progressive filling: raise every unfrozen tunnel's rate at the same speed; when a constraint
 * becomes tight, freeze the tunnels that use it; when a tunnel reaches its demand, freeze it.
 * `demand[i]` may be Infinity (an elastic, TCP-like sender that takes what it gets).
 */
export function maxMinFair(n: number, constraints: readonly Constraint[], demand: Float64Array): Allocation {
  const x = new Float64Array(n);
  const bottleneck = new Int32Array(n).fill(-2);
  const frozenAt = new Int32Array(n).fill(-1);
  const tightAt = new Int32Array(constraints.length).fill(-1);
  let round = 0;
  const active = new Uint8Array(n);
  let left = 0;
  for (let i = 0; i < n; i++) {
    if (demand[i]! > 0) {
      active[i] = 1;
      left++;
    }
  }
  const used = new Float64Array(constraints.length);
  while (left > 0) {
    let step = Infinity;
    for (let i = 0; i < n; i++) if (active[i]) step = Math.min(step, demand[i]! - x[i]!);
    for (let k = 0; k < constraints.length; k++) {
      const c = constraints[k]!;
      let rate = 0;
      for (let i = 0; i < n; i++) if (active[i]) rate += c.coef[i]!;
      if (rate <= EPS) continue;
      step = Math.min(step, Math.max(0, c.capacity - used[k]!) / rate);
    }
    if (!Number.isFinite(step)) {
      // Elastic tunnels that use no constrained resource: unbounded. Cannot happen with
      // positive per-packet costs; refuse rather than return Infinity.
      throw new Error('maxMinFair: unbounded allocation (a tunnel with zero cost and infinite demand)');
    }
    for (let i = 0; i < n; i++) if (active[i]) x[i] = x[i]! + step;
    for (let k = 0; k < constraints.length; k++) {
      const c = constraints[k]!;
      let u = 0;
      for (let i = 0; i < n; i++) u += c.coef[i]! * x[i]!;
      used[k] = u;
    }
    let froze = 0;
    for (let k = 0; k < constraints.length; k++) {
      const c = constraints[k]!;
      if (used[k]! < c.capacity * (1 - 1e-9) - EPS) continue;
      if (tightAt[k] === -1) tightAt[k] = round;
      for (let i = 0; i < n; i++) {
        if (active[i] && c.coef[i]! > EPS) {
          active[i] = 0;
          bottleneck[i] = k;
          frozenAt[i] = round;
          left--;
          froze++;
        }
      }
    }
    for (let i = 0; i < n; i++) {
      if (active[i] && x[i]! >= demand[i]! * (1 - 1e-12)) {
        active[i] = 0;
        bottleneck[i] = -1;
        frozenAt[i] = round;
        left--;
        froze++;
      }
    }
    if (froze === 0) {
      // Numerical corner: freeze the tunnel closest to a limit to guarantee progress.
      for (let i = 0; i < n; i++) {
        if (active[i]) {
          active[i] = 0;
          bottleneck[i] = -1;
          frozenAt[i] = round;
          left--;
          break;
        }
      }
    }
    round++;
  }
  return { x, bottleneck, frozenAt, tightAt };
}

/** Jain's fairness index (Jain, Chiu, Hawe 1984): 1 when all equal, 1/n when one takes all. */
export function jainFairness(x: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i]!;
    s2 += x[i]! * x[i]!;
  }
  if (x.length === 0 || s2 === 0) return 1;
  return (s * s) / (x.length * s2);
}

/** Percentile by linear interpolation on a sorted copy (p in 0..100). */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const r = (p / 100) * (s.length - 1);
  const lo = Math.floor(r);
  const hi = Math.ceil(r);
  return s[lo]! + (s[hi]! - s[lo]!) * (r - lo);
}

/**
 * Probability that at least two of n tunnels land on the same core when each picks one of m
 * cores uniformly (the birthday problem): 1 - m! / ((m-n)! m^n).
 */
export function collisionProbabilityClosedForm(n: number, m: number): number {
  if (n > m) return 1;
  let pDistinct = 1;
  for (let k = 0; k < n; k++) pDistinct *= (m - k) / m;
  return 1 - pDistinct;
}

/**
 * The same progressive filling for the shape every replay model has: per core p,
 *
 *   sum_i shared[i] x_i + sum_{(i, a) in extras[p]} a x_i  <=  capacity[p]
 *
 * where `shared` is the per-core share every tunnel puts on every core (round-robin
 * decryption: D_i / m) and `extras` the few pinned stages (receive, poll) on that core. One
 * filling round costs O(n + m + pinned stages) instead of O(n m): what makes Monte Carlo over
 * 64 tunnels and 128 cores affordable. Constraint k of the result is core position k.
 */
export interface CoreProblem {
  capacity: Float64Array;
  shared: Float64Array;
  /** Per core position: [tunnel, coefficient] pairs (a tunnel may appear twice: receive and poll). */
  extras: [number, number][][];
}

/**
 * A CoreProblem with its pinned stages packed core by core (CSR): core p's stages are entries
 * off[p] .. off[p+1]-1 of `tun` and `coef`, in the order they were added. The models build this
 * form directly every step; it holds no per-stage objects.
 */
export interface PackedCoreProblem {
  capacity: Float64Array;
  shared: Float64Array;
  off: Int32Array;
  tun: Int32Array;
  coef: Float64Array;
  /**
   * Optional: the cores of each tunnel's stages when it has at most two (slots 2i and 2i+1,
   * -1 unused), as the placed-poll problems know them (receive core, poll core); without it
   * the solver builds the transpose itself when it needs one.
   */
  pairCores?: Int32Array;
}

export function packCoreProblem(pb: CoreProblem): PackedCoreProblem {
  const m = pb.capacity.length;
  const off = new Int32Array(m + 1);
  for (let p = 0; p < m; p++) off[p + 1] = off[p]! + pb.extras[p]!.length;
  const tun = new Int32Array(off[m]!);
  const coef = new Float64Array(off[m]!);
  for (let p = 0; p < m; p++) {
    const ex = pb.extras[p]!;
    for (let k = 0; k < ex.length; k++) {
      tun[off[p]! + k] = ex[k]![0];
      coef[off[p]! + k] = ex[k]![1];
    }
  }
  return { capacity: pb.capacity, shared: pb.shared, off, tun, coef };
}

/** The packed stages a placed problem's later rounds use (packPlaced's `into`): m cores, up to 2n stages. */
class StageArrays {
  readonly off: Int32Array;
  readonly next: Int32Array;
  readonly tun: Int32Array;
  readonly coef: Float64Array;
  constructor(n: number, m: number) {
    this.off = new Int32Array(m + 1);
    this.next = new Int32Array(m);
    this.tun = new Int32Array(2 * n);
    this.coef = new Float64Array(2 * n);
  }
}

/**
 * The solver's working arrays for n tunnels and m cores (SolverScratch.arrays). A class, not an
 * object literal, as are the other objects made once per simulation (StageArrays, FirstRound,
 * models/common.ts: ProblemScratch's): V8 builds a literal's boilerplate at its second execution
 * and generalises the field types of its map then (node --trace-generalization: "uninitialized
 * field", Class(Float64Array) -> Any), so the literal made once per sim changed its map at the
 * second sim, after the solver had been optimised on the first: the lazy deopt ("code
 * dependencies") of solveCores, packPlaced and StockSim.step at the start of the next runs, and
 * the solver compiled again (about 35 ms of compile thread) while its loops ran unoptimised,
 * 3-4 times slower, for 500-700 steps. A class's instances all take the same transitions.
 */
class SolverArrays {
  readonly active: Uint8Array;
  readonly used: Float64Array;
  readonly rate: Float64Array;
  readonly x: Float64Array;
  readonly bottleneck: Int32Array;
  readonly frozenAt: Int32Array;
  readonly tightAt: Int32Array;
  readonly act: Int32Array;
  readonly dirty: Uint8Array;
  readonly live: Int32Array;
  readonly stages: StageArrays;
  constructor(n: number, m: number) {
    this.active = new Uint8Array(n);
    this.used = new Float64Array(m);
    this.rate = new Float64Array(m);
    this.x = new Float64Array(n);
    this.bottleneck = new Int32Array(n);
    this.frozenAt = new Int32Array(n);
    this.tightAt = new Int32Array(m);
    this.act = new Int32Array(n);
    this.dirty = new Uint8Array(m);
    this.live = new Int32Array(m);
    this.stages = new StageArrays(n, m);
  }
}

/**
 * Working arrays a caller that solves many problems of one size lends the solver (the models
 * solve one per simulated step: fresh typed arrays each time were a tenth of the replay's time
 * in the garbage collector). Only the solver's own state lives here, never its result.
 */
export class SolverScratch {
  private n = -1;
  private m = -1;
  /**
   * What the first round starts from depends only on the shares and the demands, not on the
   * placement: the models solve one problem per step with the same two arrays (placedBase's
   * shares, demandsOf's demands), so the active list, the counts, the sum of the shares, the
   * least demand and whether every demand is infinite are kept for them (`first`). The solver
   * therefore takes the two arrays given with a scratch as unchanging: a caller that rewrites
   * them in place between solves must pass new arrays (or no scratch).
   */
  first: FirstRound | undefined;
  /**
   * The last solve froze every active tunnel with a shared share in its first round, on the
   * first tight core (the placed problem's fill path): bottleneck is that core and frozenAt 0
   * for each of them, so such a tunnel is limited by its poll's core exactly when that core has
   * tightAt 0 (the tunnels of `first.unshared` are ruled as the later rounds leave them).
   * models/stock.ts: StockSim.step reads it to rule only the polls that moved.
   */
  round0Fill = false;
  private buf!: SolverArrays;
  /** The solver's arrays for n tunnels and m cores, reset. The result arrays are among them: an Allocation solved with a scratch is valid until its next use. */
  arrays(n: number, m: number): SolverArrays {
    if (n !== this.n || m !== this.m) {
      this.n = n;
      this.m = m;
      this.buf = new SolverArrays(n, m);
    }
    const b = this.buf;
    b.active.fill(0);
    b.used.fill(0);
    b.x.fill(0);
    b.bottleneck.fill(-2);
    b.frozenAt.fill(-1);
    b.tightAt.fill(-1);
    return b;
  }
  /** A scratch with its arrays for n tunnels and m cores already made (outside the solver, for the reason given at `prepare`). */
  static sized(n: number, m: number): SolverScratch {
    const sc = new SolverScratch();
    sc.arrays(n, m);
    return sc;
  }
  /** The arrays and the first-round start of problems with these shares and demands over m cores, made before the first solve (models/common.ts: ProblemScratch.prepare says why). */
  prepare(shared: Float64Array, demand: Float64Array, m: number): void {
    this.arrays(demand.length, m);
    firstRound(shared, demand, this);
  }
}

const isPacked = (pb: CoreProblem | PackedCoreProblem): pb is PackedCoreProblem => 'off' in pb;

/**
 * The problem of polls placed on cores, per tunnel instead of per core: tunnel i has a receive
 * stage on core rxPos[i] (coefficient rxCoef[i]) when hasRx[i], and a poll stage on place[i]
 * (fwdCoef[i]) when hasFwd[i]; core p's stages, in the order of the packed form, are those of
 * the tunnels in index order, receive before poll. The models' problems have this shape
 * (models/common.ts: placedProblem): the solver sums each core's first-round rate by adding the
 * stages tunnel by tunnel, which adds the same terms to each core in the same order as walking
 * its packed stages, and packs only the stages of the tunnels the first round left unfrozen.
 */
export interface PlacedCoreProblem {
  capacity: Float64Array;
  shared: Float64Array;
  rxPos: Int32Array;
  rxCoef: Float64Array;
  hasRx: Uint8Array;
  place: ArrayLike<number>;
  fwdCoef: Float64Array;
  hasFwd: Uint8Array;
  /** No stage coefficient below 0. */
  nonNegative: boolean;
}

export type AnyCoreProblem = CoreProblem | PackedCoreProblem | PlacedCoreProblem;

const isPlaced = (pb: AnyCoreProblem): pb is PlacedCoreProblem => 'place' in pb;

/** The packed stages of tunnels act[0..nAct) (ascending) of a placed problem: the same per-core order as the whole problem's, without the others. */
function packPlaced(
  pb: PlacedCoreProblem,
  m: number,
  act: Int32Array,
  nAct: number,
  into?: { off: Int32Array; next: Int32Array; tun: Int32Array; coef: Float64Array },
): { off: Int32Array; tun: Int32Array; coef: Float64Array } {
  const { rxPos, rxCoef, hasRx, place, fwdCoef, hasFwd } = pb;
  if (into !== undefined && into.tun.length < 2 * nAct) return packPlaced(pb, m, act, nAct);
  const off = into?.off.fill(0) ?? new Int32Array(m + 1);
  for (let k = 0; k < nAct; k++) {
    const i = act[k]!;
    if (hasRx[i]) off[rxPos[i]! + 1]!++;
    if (hasFwd[i]) off[place[i]! + 1]!++;
  }
  const next = into?.next ?? new Int32Array(m);
  for (let p = 0; p < m; p++) {
    off[p + 1] = off[p + 1]! + off[p]!;
    next[p] = off[p]!;
  }
  // Longer than the stages when lent: every reader stops at off[m].
  const tun = into?.tun ?? new Int32Array(off[m]!);
  const coef = into?.coef ?? new Float64Array(off[m]!);
  for (let k = 0; k < nAct; k++) {
    const i = act[k]!;
    if (hasRx[i]) {
      const e = next[rxPos[i]!]!++;
      tun[e] = i;
      coef[e] = rxCoef[i]!;
    }
    if (hasFwd[i]) {
      const e = next[place[i]!]!++;
      tun[e] = i;
      coef[e] = fwdCoef[i]!;
    }
  }
  return { off, tun, coef };
}

/** What the first round starts from (firstRound); a class for the reason given at SolverArrays. */
export class FirstRound {
  constructor(
    readonly shared: Float64Array,
    readonly demand: Float64Array,
    /** Tunnels with demand, in index order, and the same as flags. */
    readonly act: Int32Array,
    /** The tunnels of `act` without a shared share (at most EPS), in index order. */
    readonly unshared: Int32Array,
    readonly active: Uint8Array,
    readonly leftShared: number,
    /** Sum of the active tunnels' shares in index order: the first round's shared rate. */
    readonly sharedRate: number,
    /** Least demand of an active tunnel (Infinity: none finite): the first round's step bound, x being 0. */
    readonly minDemand: number,
    readonly allInfinite: boolean,
    /** No share below 0 (coefficients are checked in the first round). */
    readonly nonNegative: boolean,
  ) {}
}

/** Each tunnel's cores (the transpose of the stages, CSR): tunnel i's are tCore[tOff[i] .. tOff[i+1]-1]. */
function transpose(n: number, m: number, off: Int32Array, tun: Int32Array): [Int32Array, Int32Array] {
  const tOff = new Int32Array(n + 1);
  for (let e = 0; e < off[m]!; e++) tOff[tun[e]! + 1]!++;
  for (let i = 0; i < n; i++) tOff[i + 1] = tOff[i + 1]! + tOff[i]!;
  const tCore = new Int32Array(off[m]!);
  const fill = tOff.slice(0, n);
  for (let p = 0; p < m; p++) for (let e = off[p]!, end = off[p + 1]!; e < end; e++) tCore[fill[tun[e]!]!++] = p;
  return [tOff, tCore];
}

/** The first round's start, from the shares and demands alone; kept in the scratch for the next problem with the same two arrays. */
function firstRound(shared: Float64Array, demand: Float64Array, scratch: SolverScratch | undefined): FirstRound {
  const hit = scratch?.first;
  if (hit !== undefined && hit.shared === shared && hit.demand === demand && hit.active.length === demand.length) return hit;
  const n = demand.length;
  const active = new Uint8Array(n);
  const list: number[] = [];
  const unshared: number[] = [];
  let leftShared = 0;
  let sharedRate = 0;
  let minDemand = Infinity;
  let allInfinite = true;
  let nonNegative = true;
  for (let i = 0; i < n; i++) {
    if (shared[i]! < 0) nonNegative = false;
    if (demand[i]! > 0) {
      active[i] = 1;
      list.push(i);
      if (shared[i]! > EPS) leftShared++;
      else unshared.push(i);
      sharedRate += shared[i]!;
      minDemand = Math.min(minDemand, demand[i]! - 0);
      if (demand[i]! !== Infinity) allInfinite = false;
    }
  }
  const f = new FirstRound(shared, demand, Int32Array.from(list), Int32Array.from(unshared), active, leftShared, sharedRate, minDemand, allInfinite, nonNegative);
  if (scratch !== undefined) scratch.first = f;
  return f;
}

/**
 * The first round's per-core rates of a placed problem: `sharedRate` plus each core's stages of
 * the active tunnels (`act[0..nAct)`, or every tunnel 0..nAct-1 when `act` is undefined) added
 * in index order, receive before poll. A function of its own, apart from the solver: it is the
 * O(n) loop of every simulated step, and kept small it stays optimised while V8 compiles the
 * solver again after one of its rarer paths deoptimised it (each such compile of the whole
 * solver took 30-190 ms, during which its loops ran in the interpreter, about 15 times slower:
 * the first 250 stock steps of a what-if at 1,024 x 128 cost 90 ms instead of 5, node
 * --trace-opt --trace-deopt). Same terms, same order.
 */
function placedRates(
  rate: Float64Array,
  sharedRate: number,
  act: Int32Array | undefined,
  nAct: number,
  rxPos: Int32Array,
  rxCoef: Float64Array,
  hasRx: Uint8Array,
  place: ArrayLike<number>,
  fwdCoef: Float64Array,
  hasFwd: Uint8Array,
): void {
  rate.fill(sharedRate);
  if (act === undefined) {
    // Every tunnel active: the active list is 0..n-1.
    for (let i = 0; i < nAct; i++) {
      if (hasRx[i]) rate[rxPos[i]!] = rate[rxPos[i]!]! + rxCoef[i]!;
      if (hasFwd[i]) rate[place[i]!] = rate[place[i]!]! + fwdCoef[i]!;
    }
  } else {
    for (let k = 0; k < nAct; k++) {
      const i = act[k]!;
      if (hasRx[i]) rate[rxPos[i]!] = rate[rxPos[i]!]! + rxCoef[i]!;
      if (hasFwd[i]) rate[place[i]!] = rate[place[i]!]! + fwdCoef[i]!;
    }
  }
}

export function maxMinFairCores(pb: AnyCoreProblem, demand: Float64Array, scratch?: SolverScratch): Allocation {
  // The problem's shape is told apart here, and the solver proper gets its parts as arguments:
  // the models pass problems of four object shapes (placed, packed with and without pairCores,
  // unpacked), and a shape the optimised solver had not seen deoptimised it at its first
  // property read (wrong map), each time making V8 compile the whole solver again (five to seven
  // compiles of 30-120 ms per what-if at 1,024 x 128, node --trace-opt --trace-deopt).
  // Without a scratch, a fresh one (its arrays are the caller's): the solver has one path, not a
  // second one making its own arrays, which the sims never took before V8 optimised the solver
  // and which then deoptimised it at the first call without a scratch ("Insufficient type
  // feedback for construct").
  const sc = scratch ?? SolverScratch.sized(demand.length, pb.capacity.length);
  if (isPlaced(pb)) return solveCores(pb, undefined, NO_STAGES_OFF, NO_STAGES_TUN, NO_STAGES_COEF, undefined, pb.capacity, pb.shared, demand, sc);
  const packed = isPacked(pb) ? pb : packCoreProblem(pb);
  return solveCores(undefined, packed, packed.off, packed.tun, packed.coef, packed.pairCores, packed.capacity, packed.shared, demand, sc);
}

function solveCores(
  placed: PlacedCoreProblem | undefined,
  packed: PackedCoreProblem | undefined,
  off: Int32Array,
  tun: Int32Array,
  coef: Float64Array,
  pairCores: Int32Array | undefined,
  capacity: Float64Array,
  shared: Float64Array,
  demand: Float64Array,
  scratch: SolverScratch,
): Allocation {
  // A placed problem's stages are packed after its first round (below), or at once when that
  // round cannot be taken tunnel by tunnel.
  const n = demand.length;
  const m = capacity.length;
  const work = scratch.arrays(n, m);
  const x = work.x;
  const bottleneck = work.bottleneck;
  const frozenAt = work.frozenAt;
  const tightAt = work.tightAt;
  const active = work.active;
  const used = work.used;
  const rate = work.rate;
  // The active tunnels in index order (compacted after each round), and the cores whose rate
  // must be summed again: all of them when the shared rate changed, else only those holding a
  // stage of a tunnel frozen in the last round (a tunnel without a shared share, e.g. no
  // decryption measured, is limited by its pinned cores alone: one round per such core).
  const act = work.act;
  const dirty = work.dirty;
  const f = firstRound(shared, demand, scratch);
  scratch.round0Fill = false;
  active.set(f.active);
  act.set(f.act);
  let nAct = f.act.length;
  let left = nAct;
  /** Active tunnels with a share on every core: a tight core freezes them all. */
  let leftShared = f.leftShared;
  const allInfinite = f.allInfinite;
  let tOff: Int32Array | undefined;
  let tCore: Int32Array | undefined;
  // The cores whose rate is above EPS, ascending (all of them in the first round). With no
  // negative share or coefficient a rate never grows from round to round (tunnels only freeze,
  // and a rounded sum of fewer non-negative terms in the same order is never larger), so a core
  // at or below EPS never limits the step nor becomes tight again: it is dropped, and what it
  // still holds in `used` is never read. When the shared rate falls to 0 (every tunnel with a
  // share frozen, the rest limited by their pinned cores alone: one round per such core) the
  // rounds then cost the cores still loaded, not m.
  const live = work.live;
  for (let p = 0; p < m; p++) live[p] = p;
  let nLive = m;
  let prune = f.nonNegative && (placed === undefined || placed.nonNegative);
  let prevSharedRate = NaN;
  let round = 0;
  /** The placed problem's per-tunnel cores stand for pairCores (after its first round). */
  let byTunnel: PlacedCoreProblem | undefined;
  /**
   * The first round froze tunnels without marking their cores dirty: marked (from frozenAt) at
   * the start of round 1 when that round reuses sums; a round that sums every core needs none.
   */
  let deferredDirty = false;
  if (placed !== undefined && !(allInfinite && prune)) {
    ({ off, tun, coef } = packPlaced(placed, m, act, nAct, work.stages));
  } else if (placed !== undefined && left > 0) {
    // The first round, tunnel by tunnel: as the loop below does it for round 0 (every active
    // tunnel at x = 0, every demand infinite, nothing negative), with each core's rate summed
    // by adding the stages of the active tunnels in index order.
    const { rxPos, rxCoef, hasRx, place, fwdCoef, hasFwd } = placed;
    const sharedRate = f.sharedRate;
    let step = f.minDemand;
    placedRates(rate, sharedRate, nAct === n ? undefined : act, nAct, rxPos, rxCoef, hasRx, place, fwdCoef, hasFwd);
    let kept = 0;
    for (let p = 0; p < m; p++) {
      const r = rate[p]!;
      if (r > EPS) {
        step = Math.min(step, Math.max(0, capacity[p]! - used[p]!) / r);
        live[kept++] = p;
      }
    }
    nLive = kept;
    if (!Number.isFinite(step)) throw new Error('maxMinFairCores: unbounded allocation (a tunnel with zero cost and infinite demand)');
    for (let q = 0; q < nLive; q++) {
      const p = live[q]!;
      used[p] = used[p]! + step * rate[p]!;
    }
    let firstTight = -1;
    for (let q = 0; q < nLive; q++) {
      const p = live[q]!;
      if (rate[p]! <= EPS || used[p]! < capacity[p]! * (1 - 1e-9) - EPS) continue;
      if (tightAt[p] === -1) tightAt[p] = 0;
      if (firstTight < 0) firstTight = p;
    }
    let froze = 0;
    let kept2 = 0;
    if (firstTight >= 0) {
      // Every tunnel with a shared share freezes on the first tight core, as below, and x is 0
      // before the step (0 + step is step): written by fills (and over the active list when some
      // tunnel has no demand), then the tunnels without a shared share ruled one by one, as
      // below. Their cores are marked dirty only if round 1 reuses sums (deferredDirty).
      if (nAct === n) {
        x.fill(step);
        active.fill(0);
        bottleneck.fill(firstTight);
        frozenAt.fill(0);
      } else {
        for (let k = 0; k < nAct; k++) {
          const i = act[k]!;
          x[i] = step;
          active[i] = 0;
          bottleneck[i] = firstTight;
          frozenAt[i] = 0;
        }
      }
      left -= leftShared;
      froze += leftShared;
      leftShared = 0;
      const un = f.unshared;
      for (let k = 0; k < un.length; k++) {
        const i = un[k]!;
        // The same rule as the one-pass loop below, with every load and comparison made on each
        // pass: which of them ran depended on the placement (a tight receive or poll core), and one
        // that had not run before V8 optimised the solver had no type feedback and deoptimised it
        // the first time it did (node --trace-deopt: "Insufficient type feedback" here, once or
        // twice per what-if, each followed by a compile of the whole solver).
        const r = rxPos[i]!;
        const q = place[i]!;
        const rxTight = tightAt[r] === 0;
        const fwdTight = tightAt[q] === 0;
        let b = hasRx[i] && rxCoef[i]! > EPS && rxTight ? r : -1;
        const none = b < 0;
        const lower = q < b;
        if (hasFwd[i] && fwdCoef[i]! > EPS && fwdTight && (none || lower)) b = q;
        // Kept (active again, on the list) or frozen on core b (x, active and frozenAt are already
        // the frozen values, from the fills above): both written on every pass, for the same reason.
        const stays = b < 0;
        act[kept2] = i;
        kept2 += stays ? 1 : 0;
        active[i] = stays ? 1 : 0;
        bottleneck[i] = stays ? -2 : b;
        frozenAt[i] = stays ? -1 : 0;
        left -= stays ? 0 : 1;
        froze += stays ? 0 : 1;
      }
      deferredDirty = true;
      scratch.round0Fill = true;
    } else {
      // One pass over the active list (every tunnel on it is active in the first round): x raised
      // by the step; a tunnel with a shared share frozen on the first tight core (as the loop below
      // freezes every such tunnel there, before any core's stages), any other on the first tight
      // core (ascending) holding a stage of it with a coefficient above EPS, as the cores' stage
      // lists freeze it in that order; the unfrozen kept in order, the frozen ones' cores marked.
      for (let k = 0; k < nAct; k++) {
        const i = act[k]!;
        x[i] = x[i]! + step;
        let b = -1;
        if (firstTight >= 0 && shared[i]! > EPS) b = firstTight;
        else {
          if (hasRx[i] && rxCoef[i]! > EPS && tightAt[rxPos[i]!] === 0) b = rxPos[i]!;
          if (hasFwd[i] && fwdCoef[i]! > EPS && tightAt[place[i]!] === 0 && (b < 0 || place[i]! < b)) b = place[i]!;
        }
        if (b < 0) {
          act[kept2++] = i;
          continue;
        }
        active[i] = 0;
        bottleneck[i] = b;
        frozenAt[i] = 0;
        left--;
        if (shared[i]! > EPS) leftShared--;
        froze++;
        if (hasRx[i]) dirty[rxPos[i]!] = 1;
        if (hasFwd[i]) dirty[place[i]!] = 1;
      }
    }
    nAct = kept2;
    if (froze === 0 && nAct > 0) {
      // Numerical corner: freeze the first active tunnel to guarantee progress (nothing froze,
      // so it is the first of the list).
      const first = act[0]!;
      active[first] = 0;
      bottleneck[first] = -1;
      frozenAt[first] = 0;
      left--;
      if (shared[first]! > EPS) leftShared--;
      if (hasRx[first]) dirty[rxPos[first]!] = 1;
      if (hasFwd[first]) dirty[place[first]!] = 1;
      act.copyWithin(0, 1, nAct);
      nAct--;
    }
    if (left > 0) ({ off, tun, coef } = packPlaced(placed, m, act, nAct, work.stages));
    byTunnel = placed;
    prevSharedRate = sharedRate;
    round = 1;
  }
  // The same arithmetic, in the same order, as the textbook loop (sum of the active shares,
  // then each core's active pinned stages in order): typed arrays and no closures, since the
  // models solve one problem per simulated step (issue 16: 45% of analyze at 256 x 128). A
  // core's sum is reused only when nothing it adds changed, so every value is the same.
  while (left > 0) {
    let sharedRate = 0;
    let step = Infinity;
    if (round === 0) {
      // x is 0 here: the first round's sum and least demand are the same every step.
      sharedRate = f.sharedRate;
      step = f.minDemand;
    } else if (allInfinite) {
      sharedRate = sumActive(shared, act, nAct);
    } else {
      for (let k = 0; k < nAct; k++) {
        const i = act[k]!;
        sharedRate += shared[i]!;
        step = Math.min(step, demand[i]! - x[i]!);
      }
    }
    const all = round === 0 || sharedRate !== prevSharedRate;
    prevSharedRate = sharedRate;
    if (deferredDirty) {
      deferredDirty = false;
      if (!all && byTunnel !== undefined) {
        for (let k = 0; k < f.act.length; k++) {
          const i = f.act[k]!;
          if (frozenAt[i] !== 0) continue;
          if (byTunnel.hasRx[i]) dirty[byTunnel.rxPos[i]!] = 1;
          if (byTunnel.hasFwd[i]) dirty[byTunnel.place[i]!] = 1;
        }
      }
    }
    let kept = 0;
    if (all && round > 0 && sharedRate === 0 && prune) {
      // No active tunnel has a shared share any more: a core's rate is the sum of its active
      // stages, 0 on a core holding none. Only the cores of the active tunnels are summed.
      for (let k = 0; k < nAct; k++) {
        const i = act[k]!;
        if (byTunnel !== undefined) {
          if (byTunnel.hasRx[i]) dirty[byTunnel.rxPos[i]!] = 1;
          if (byTunnel.hasFwd[i]) dirty[byTunnel.place[i]!] = 1;
        } else if (pairCores !== undefined) {
          const c0 = pairCores[2 * i]!;
          const c1 = pairCores[2 * i + 1]!;
          if (c0 >= 0) dirty[c0] = 1;
          if (c1 >= 0) dirty[c1] = 1;
        } else {
          if (tOff === undefined || tCore === undefined) [tOff, tCore] = transpose(n, m, off, tun);
          for (let j = tOff[i]!, end = tOff[i + 1]!; j < end; j++) dirty[tCore[j]!] = 1;
        }
      }
      for (let q = 0; q < nLive; q++) {
        const p = live[q]!;
        let r = sharedRate;
        if (dirty[p]) {
          for (let e = off[p]!, end = off[p + 1]!; e < end; e++) if (active[tun[e]!]) r += coef[e]!;
          dirty[p] = 0;
        }
        rate[p] = r;
        if (r > EPS) {
          step = Math.min(step, Math.max(0, capacity[p]! - used[p]!) / r);
          live[kept++] = p;
        }
      }
    } else {
      for (let q = 0; q < nLive; q++) {
        const p = live[q]!;
        if (all || dirty[p]) {
          let r = sharedRate;
          for (let e = off[p]!, end = off[p + 1]!; e < end; e++) {
            if (active[tun[e]!]) r += coef[e]!;
            if (round === 0 && coef[e]! < 0) prune = false;
          }
          rate[p] = r;
          dirty[p] = 0;
        }
        const r = rate[p]!;
        if (r > EPS) {
          step = Math.min(step, Math.max(0, capacity[p]! - used[p]!) / r);
          live[kept++] = p;
        } else if (!prune) live[kept++] = p;
      }
      // A negative coefficient seen in the first round: every core is kept (the rule below needs none).
      if (!prune) {
        kept = 0;
        for (let p = 0; p < m; p++) live[kept++] = p;
      }
    }
    nLive = kept;
    if (!Number.isFinite(step)) throw new Error('maxMinFairCores: unbounded allocation (a tunnel with zero cost and infinite demand)');
    raiseActive(x, act, nAct, step);
    for (let q = 0; q < nLive; q++) {
      const p = live[q]!;
      used[p] = used[p]! + step * rate[p]!;
    }
    let froze = 0;
    for (let q = 0; q < nLive; q++) {
      const p = live[q]!;
      if (rate[p]! <= EPS || used[p]! < capacity[p]! * (1 - 1e-9) - EPS) continue;
      if (tightAt[p] === -1) tightAt[p] = round;
      if (leftShared > 0) {
        for (let k = 0; k < nAct; k++) {
          const i = act[k]!;
          if (active[i] && shared[i]! > EPS) {
            active[i] = 0;
            bottleneck[i] = p;
            frozenAt[i] = round;
            left--;
            leftShared--;
            froze++;
          }
        }
      }
      for (let e = off[p]!, end = off[p + 1]!; e < end; e++) {
        const i = tun[e]!;
        if (active[i] && coef[e]! > EPS) {
          active[i] = 0;
          bottleneck[i] = p;
          frozenAt[i] = round;
          left--;
          if (shared[i]! > EPS) leftShared--;
          froze++;
        }
      }
    }
    let first = -1;
    if (!allInfinite) {
      for (let k = 0; k < nAct; k++) {
        const i = act[k]!;
        if (!active[i]) continue;
        if (x[i]! >= demand[i]! * (1 - 1e-12)) {
          active[i] = 0;
          bottleneck[i] = -1;
          frozenAt[i] = round;
          left--;
          if (shared[i]! > EPS) leftShared--;
          froze++;
        } else if (first < 0) first = i;
      }
    } else if (froze === 0) {
      // No demand can be reached (x stays finite: an infinite step threw above).
      for (let k = 0; k < nAct && first < 0; k++) if (active[act[k]!]) first = act[k]!;
    }
    if (froze === 0 && first >= 0) {
      // Numerical corner: freeze the first active tunnel to guarantee progress.
      active[first] = 0;
      bottleneck[first] = -1;
      frozenAt[first] = round;
      left--;
      if (shared[first]! > EPS) leftShared--;
    }
    if (left > 0 && byTunnel !== undefined) {
      nAct = compactPlaced(act, nAct, active, dirty, byTunnel.hasRx, byTunnel.rxPos, byTunnel.hasFwd, byTunnel.place);
    } else if (left > 0 && pairCores !== undefined) {
      nAct = compactPairs(act, nAct, active, dirty, pairCores);
    } else if (left > 0) {
      // Each tunnel's cores (the transpose of the stages), made once, for the dirty marks.
      if (tOff === undefined || tCore === undefined) [tOff, tCore] = transpose(n, m, off, tun);
      nAct = compactTransposed(act, nAct, active, dirty, tOff, tCore);
    }
    round++;
  }
  return { x, bottleneck, frozenAt, tightAt };
}

// The rounds' loops over the active tunnels, each a small function of its own (as placedRates):
// they stay optimised while V8 compiles the solver again, and the models that solve one problem
// (inline, the observed placements) run them optimised from their first rounds. Same
// operations, same order as when they were written inline in the solver.

/** Sum of `v` over the active tunnels act[0..nAct), in list order. */
function sumActive(v: Float64Array, act: Int32Array, nAct: number): number {
  let s = 0;
  for (let k = 0; k < nAct; k++) s += v[act[k]!]!;
  return s;
}

/** x raised by `step` for every active tunnel. */
function raiseActive(x: Float64Array, act: Int32Array, nAct: number, step: number): void {
  for (let k = 0; k < nAct; k++) {
    const i = act[k]!;
    x[i] = x[i]! + step;
  }
}

/** The active list kept in order without the tunnels frozen this round, their cores (receive, poll) marked dirty; returns its new length. */
function compactPlaced(act: Int32Array, nAct: number, active: Uint8Array, dirty: Uint8Array, hasRx: Uint8Array, rxPos: Int32Array, hasFwd: Uint8Array, place: ArrayLike<number>): number {
  let kept = 0;
  for (let k = 0; k < nAct; k++) {
    const i = act[k]!;
    if (active[i]) act[kept++] = i;
    else {
      if (hasRx[i]) dirty[rxPos[i]!] = 1;
      if (hasFwd[i]) dirty[place[i]!] = 1;
    }
  }
  return kept;
}

/** compactPlaced with the cores from pairCores (slots 2i and 2i+1, -1 unused). */
function compactPairs(act: Int32Array, nAct: number, active: Uint8Array, dirty: Uint8Array, pairCores: Int32Array): number {
  let kept = 0;
  for (let k = 0; k < nAct; k++) {
    const i = act[k]!;
    if (active[i]) act[kept++] = i;
    else {
      const c0 = pairCores[2 * i]!;
      const c1 = pairCores[2 * i + 1]!;
      if (c0 >= 0) dirty[c0] = 1;
      if (c1 >= 0) dirty[c1] = 1;
    }
  }
  return kept;
}

/** compactPlaced with each tunnel's cores from the transpose of the stages. */
function compactTransposed(act: Int32Array, nAct: number, active: Uint8Array, dirty: Uint8Array, tOff: Int32Array, tCore: Int32Array): number {
  let kept = 0;
  for (let k = 0; k < nAct; k++) {
    const i = act[k]!;
    if (active[i]) act[kept++] = i;
    else for (let j = tOff[i]!, end = tOff[i + 1]!; j < end; j++) dirty[tCore[j]!] = 1;
  }
  return kept;
}

/** Per core position: the capacity an allocation uses (into `into` when given, of length m). */
export function coreUsage(pb: AnyCoreProblem, x: Float64Array, into?: Float64Array): Float64Array {
  if (isPlaced(pb)) {
    // Each core's stages in the packed order are the tunnels' in index order, receive first.
    const { rxPos, rxCoef, hasRx, place, fwdCoef, hasFwd, shared } = pb;
    let s = 0;
    for (let i = 0; i < x.length; i++) s += shared[i]! * x[i]!;
    const out = (into ?? new Float64Array(pb.capacity.length)).fill(s);
    for (let i = 0; i < x.length; i++) {
      if (hasRx[i]) out[rxPos[i]!] = out[rxPos[i]!]! + rxCoef[i]! * x[i]!;
      if (hasFwd[i]) out[place[i]!] = out[place[i]!]! + fwdCoef[i]! * x[i]!;
    }
    return out;
  }
  const { capacity, shared, off, tun, coef } = isPacked(pb) ? pb : packCoreProblem(pb);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += shared[i]! * x[i]!;
  const m = capacity.length;
  const out = (into ?? new Float64Array(m)).fill(s);
  for (let p = 0; p < m; p++) {
    let u = out[p]!;
    for (let e = off[p]!, end = off[p + 1]!; e < end; e++) u = u + coef[e]! * x[tun[e]!]!;
    out[p] = u;
  }
  return out;
}

/** The dense constraint list of a CoreProblem (for the generic solver and for tests). */
export function denseConstraints(pb: CoreProblem, cpus: readonly number[]): Constraint[] {
  return pb.extras.map((ex, p) => {
    const coef = Float64Array.from(pb.shared);
    for (const [i, a] of ex) coef[i] = coef[i]! + a;
    return { id: `core ${cpus[p]}`, cpu: cpus[p]!, capacity: pb.capacity[p]!, coef };
  });
}
