/**
 * A small seeded PRNG (mulberry32, public domain): the models and the synthetic capture
 * generator draw every random number from one of these, never from Math.random, so a run is a
 * pure function of its seed. State is explicit (an object per run), never module-level.
 */
export class Prng {
  private s: number;
  constructor(seed: number) {
    // Mix the seed once so seeds 1, 2, 3 do not start from correlated states.
    this.s = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }

  /** A derived generator for sub-stream `k` (run k of a Monte Carlo), independent of draw order. */
  fork(k: number): Prng {
    return new Prng((this.s ^ Math.imul(k + 1, 0x27d4eb2f)) >>> 0);
  }
}

/** Seed of Monte Carlo run k: runs are independent of each other and of how many there are. */
export function runSeed(seed: number, k: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(k + 1, 0x7feb352d)) >>> 0;
}
