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

export function maxMinFairCores(pb: CoreProblem, demand: Float64Array): Allocation {
  const n = demand.length;
  const m = pb.capacity.length;
  const x = new Float64Array(n);
  const bottleneck = new Int32Array(n).fill(-2);
  const frozenAt = new Int32Array(n).fill(-1);
  const tightAt = new Int32Array(m).fill(-1);
  const active = new Uint8Array(n);
  let left = 0;
  for (let i = 0; i < n; i++) {
    if (demand[i]! > 0) {
      active[i] = 1;
      left++;
    }
  }
  const used = new Float64Array(m);
  const rate = new Float64Array(m);
  let round = 0;
  while (left > 0) {
    let sharedRate = 0;
    let step = Infinity;
    for (let i = 0; i < n; i++) {
      if (!active[i]) continue;
      sharedRate += pb.shared[i]!;
      step = Math.min(step, demand[i]! - x[i]!);
    }
    for (let p = 0; p < m; p++) {
      let r = sharedRate;
      for (const [i, a] of pb.extras[p]!) if (active[i]) r += a;
      rate[p] = r;
      if (r > EPS) step = Math.min(step, Math.max(0, pb.capacity[p]! - used[p]!) / r);
    }
    if (!Number.isFinite(step)) throw new Error('maxMinFairCores: unbounded allocation (a tunnel with zero cost and infinite demand)');
    for (let i = 0; i < n; i++) if (active[i]) x[i] = x[i]! + step;
    for (let p = 0; p < m; p++) used[p] = used[p]! + step * rate[p]!;
    let froze = 0;
    const freeze = (i: number, k: number): void => {
      active[i] = 0;
      bottleneck[i] = k;
      frozenAt[i] = round;
      left--;
      froze++;
    };
    for (let p = 0; p < m; p++) {
      if (rate[p]! <= EPS || used[p]! < pb.capacity[p]! * (1 - 1e-9) - EPS) continue;
      if (tightAt[p] === -1) tightAt[p] = round;
      for (let i = 0; i < n; i++) if (active[i] && pb.shared[i]! > EPS) freeze(i, p);
      for (const [i, a] of pb.extras[p]!) if (active[i] && a > EPS) freeze(i, p);
    }
    for (let i = 0; i < n; i++) if (active[i] && x[i]! >= demand[i]! * (1 - 1e-12)) freeze(i, -1);
    if (froze === 0) {
      for (let i = 0; i < n; i++) {
        if (active[i]) {
          freeze(i, -1);
          break;
        }
      }
    }
    round++;
  }
  return { x, bottleneck, frozenAt, tightAt };
}

/** Per core position: the capacity an allocation uses. */
export function coreUsage(pb: CoreProblem, x: Float64Array): Float64Array {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += pb.shared[i]! * x[i]!;
  const out = new Float64Array(pb.capacity.length).fill(s);
  pb.extras.forEach((ex, p) => {
    for (const [i, a] of ex) out[p] = out[p]! + a * x[i]!;
  });
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
