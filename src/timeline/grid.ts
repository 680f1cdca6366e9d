/**
 * Per-window accumulators that grow as events stream in.
 *
 * The capture's start is not always known when the first event arrives (no header: the origin
 * is the file's first event, and other CPUs' buffers may hold earlier ones, since bpftrace
 * reads per-CPU buffers), so the grid is anchored at the origin (`Ns` 0): absolute window
 * k covers [k*W, (k+1)*W), k may be negative. Every series of one grid shares one slot range
 * [base, base+cap) and all grow together (amortised doubling, both directions), so a slot
 * index computed once is valid for every series until the next growth.
 */

/** Slots kept below the first window seen: other CPUs' events may be a little earlier. */
const MARGIN_WINDOWS = 64;
const INITIAL_WINDOWS = 1024;

export class GridSeries {
  constructor(public a: Float64Array) {}
}

export class WindowGrid {
  /** Absolute window index of slot 0. */
  base = 0;
  cap = 0;
  private readonly all: GridSeries[] = [];

  constructor(readonly windowNs: number) {}

  create(): GridSeries {
    const s = new GridSeries(new Float64Array(this.cap));
    this.all.push(s);
    return s;
  }

  /** Slot of absolute window k, growing every series when k is outside the range. */
  slot(k: number): number {
    const i = k - this.base;
    if (i >= 0 && i < this.cap) return i;
    this.grow(k);
    return k - this.base;
  }

  private grow(k: number): void {
    if (this.cap === 0) {
      this.base = k - MARGIN_WINDOWS;
      this.cap = INITIAL_WINDOWS;
      for (const s of this.all) s.a = new Float64Array(this.cap);
      return;
    }
    let newBase = this.base;
    let newCap = this.cap;
    if (k < this.base) {
      const need = this.base - k;
      const add = Math.max(need + MARGIN_WINDOWS, this.cap >> 1);
      newBase = this.base - add;
      newCap += add;
    }
    if (k >= newBase + newCap) newCap = Math.max(newCap * 2, k - newBase + 1 + MARGIN_WINDOWS);
    const shift = this.base - newBase;
    for (const s of this.all) {
      const n = new Float64Array(newCap);
      n.set(s.a, shift);
      s.a = n;
    }
    this.base = newBase;
    this.cap = newCap;
  }

  /** Adds `v` to the window holding time t. */
  addAt(s: GridSeries, t: number, v: number): void {
    const i = this.slot(Math.floor(t / this.windowNs));
    s.a[i] = s.a[i]! + v;
  }

  /** Adds the overlap of [a, b) with each window to that window (a slice crossing a boundary is split). */
  addSpan(s: GridSeries, a: number, b: number): void {
    if (!(b > a)) return;
    const W = this.windowNs;
    let k = Math.floor(a / W);
    let from = a;
    for (;;) {
      const wEnd = (k + 1) * W;
      const i = this.slot(k);
      if (b <= wEnd) {
        s.a[i] = s.a[i]! + (b - from);
        return;
      }
      s.a[i] = s.a[i]! + (wEnd - from);
      from = wEnd;
      k++;
    }
  }

  /** Sets each window's value to its overlap with [a, b) (used when a union is known to cover the range). */
  setSpan(s: GridSeries, a: number, b: number): void {
    if (!(b > a)) return;
    const W = this.windowNs;
    for (let k = Math.floor(a / W); k * W < b; k++) {
      const i = this.slot(k);
      s.a[i] = Math.min(b, (k + 1) * W) - Math.max(a, k * W);
    }
  }

  /** Copies windows [k0, k0+n) out as a fresh array (zeros where nothing was recorded). */
  extract(s: GridSeries, k0: number, n: number): Float64Array {
    const out = new Float64Array(n);
    if (this.cap === 0) return out;
    const lo = Math.max(k0, this.base);
    const hi = Math.min(k0 + n, this.base + this.cap);
    if (hi > lo) out.set(s.a.subarray(lo - this.base, hi - this.base), lo - k0);
    return out;
  }

  /** Sum of the windows outside [k0, k0+n) (data that fell outside the capture). */
  outside(s: GridSeries, k0: number, n: number): number {
    let sum = 0;
    for (let i = 0; i < this.cap; i++) {
      const k = i + this.base;
      if (k < k0 || k >= k0 + n) sum += s.a[i]!;
    }
    return sum;
  }
}
