/**
 * Per-window accumulators that grow as events stream in.
 *
 * The capture's start is not always known when the first event arrives (no header: the origin
 * is the file's first event, and other CPUs' buffers may hold earlier ones, since bpftrace
 * reads per-CPU buffers), so the grid is anchored at the origin (`Ns` 0): absolute window
 * k covers [k*W, (k+1)*W), k may be negative. Every series of one grid shares one slot range
 * [base, base+cap) and all grow together (amortised doubling, both directions).
 *
 * Memory is bounded by a byte budget, not only by CPUs x NAPIs x windows: when growing would
 * pass it, the window is doubled instead and adjacent windows are summed (exact for the sums
 * and counts every series holds, since windows stay anchored at the origin). A long capture
 * on a large gateway thus gets coarser windows rather than gigabytes of arrays.
 */

/** Slots kept below the first window seen: other CPUs' events may be a little earlier. */
const MARGIN_WINDOWS = 64;
const INITIAL_WINDOWS = 1024;
/**
 * Fewest windows per series the budget may shrink the grid to: many series (a stock gateway's
 * polls visit many cores, 4 series per NAPI-CPU pair seen: 17,023 pairs on a 256 x 128 synth
 * capture) are paid for with a coarser window, down to this many windows over the capture.
 */
const MIN_WINDOWS = 16;
/** Margin (each side) for a slot range of `cap` windows: 64, less on a small range. */
const marginFor = (cap: number): number => Math.min(MARGIN_WINDOWS, cap >> 3);
/**
 * Budget for all series of one grid. The timeline's copy made in assembleTimeline doubles it at the
 * peak, which must stay well under the 300 MB RSS goal of bench/import-speed.
 */
export const DEFAULT_GRID_BUDGET_BYTES = 96 * 1024 * 1024;

/** What an extracted series holds afterwards. */
const RELEASED = new Float64Array(0);
/** Series slots the slab starts with (it doubles when full). */
const INITIAL_SLOTS = 64;

export class GridSeries {
  constructor(
    public a: Float64Array,
    /** Its slot in the grid's slab. */
    readonly slot: number,
  ) {}
}

export class WindowGrid {
  /** Absolute window index of slot 0. */
  base = 0;
  cap = 0;
  /** Times the window was doubled to stay within the budget. */
  coarsenings = 0;
  private readonly all: GridSeries[] = [];
  /**
   * Every series' windows in one array, series k at [k*cap, (k+1)*cap) (`GridSeries.a` is a view
   * of its slot). One allocation per growth instead of one per series: tens of thousands of
   * small typed arrays (a stock gateway's NAPI-CPU pairs) freed and made again at every growth
   * left the allocator's heap fragmented (the 256 x 128 stock synth capture loaded at 379 MB peak
   * RSS with the default malloc, 312 MB with every block over 4 KB mapped apart).
   */
  private slab = new Float64Array(0);
  private slots = 0;

  constructor(
    public windowNs: number,
    private readonly budgetBytes = DEFAULT_GRID_BUDGET_BYTES,
  ) {}

  /**
   * A new series over the current slot range. The budget holds here too, not only when the
   * range grows: when one more series would pass it, the range shrinks to what is in use
   * (windows widened as needed) so that every series fits.
   */
  create(): GridSeries {
    if (this.cap > 0 && (this.all.length + 1) * this.cap * 8 > this.budgetBytes) this.fit(this.all.length + 1);
    const k = this.all.length;
    if (k >= this.slots) {
      // More slots, same windows: the slab is copied whole and every view made again.
      const slots = Math.max(INITIAL_SLOTS, 2 * this.slots);
      const slab = new Float64Array(slots * this.cap);
      slab.set(this.slab);
      this.slab = slab;
      this.slots = slots;
      for (const o of this.all) o.a = this.view(o.slot);
    }
    const s = new GridSeries(this.view(k), k);
    this.all.push(s);
    return s;
  }

  private view(slot: number): Float64Array {
    return this.slab.subarray(slot * this.cap, (slot + 1) * this.cap);
  }

  /**
   * Moves every series to a slab of `cap` windows per series: series windows [lo, hi] (absolute,
   * lo > hi: none) from the current slot range to the one starting at `base`.
   */
  private relayout(cap: number, base: number, lo: number, hi: number): void {
    const slab = new Float64Array(this.slots * cap);
    if (lo <= hi) {
      for (const o of this.all) slab.set(o.a.subarray(lo - this.base, hi - this.base + 1), o.slot * cap + (lo - base));
    }
    this.slab = slab;
    this.cap = cap;
    this.base = base;
    for (const o of this.all) o.a = this.view(o.slot);
  }

  /** Largest power-of-two slot range (at least MIN_WINDOWS, at most INITIAL_WINDOWS) that `series` series fit in within the budget. */
  private capFor(series: number): number {
    let c = INITIAL_WINDOWS;
    while (c > MIN_WINDOWS && series * c * 8 > this.budgetBytes) c >>= 1;
    return c;
  }

  /** Shrinks the slot range (widening the window when what is in use does not fit) until `series` series fit the budget. */
  private fit(series: number): void {
    while (this.cap > MIN_WINDOWS && series * this.cap * 8 > this.budgetBytes) {
      const half = this.cap >> 1;
      const [usedLo, usedHi] = this.used();
      const empty = usedLo > usedHi;
      const m = marginFor(half);
      if (empty || usedHi - usedLo + 1 + 2 * m <= half) this.relayout(half, empty ? this.base : usedLo - m, usedLo, usedHi);
      else this.coarsen();
    }
  }

  /**
   * Makes windows holding times a..b (inclusive) addressable: moves the slot range when the
   * windows in use still fit, else grows it, else (past the budget) widens the window.
   */
  private reserve(a: number, b: number): void {
    for (;;) {
      const lo = Math.floor(a / this.windowNs);
      const hi = Math.floor(b / this.windowNs);
      if (lo >= this.base && hi < this.base + this.cap) return;
      // Windows holding data (the fast paths of addAt/addSpan do not track them: found by a
      // scan, which is rare: growth doubles).
      const [usedLo, usedHi] = this.used();
      const empty = usedLo > usedHi;
      const eLo = empty ? lo : Math.min(lo, usedLo);
      const eHi = empty ? hi : Math.max(hi, usedHi);
      let newCap = Math.max(this.cap, this.capFor(this.all.length));
      while (newCap < eHi - eLo + 1 + 2 * marginFor(newCap)) newCap *= 2;
      if (newCap > this.cap && this.cap > 0 && this.all.length * newCap * 8 > this.budgetBytes) {
        this.coarsen();
        continue;
      }
      // Room on both sides, more above: captures mostly grow forward in time.
      const newBase = eLo - Math.max(marginFor(newCap), Math.floor((newCap - (eHi - eLo + 1)) / 4));
      this.relayout(newCap, newBase, usedLo, usedHi);
    }
  }

  /** Absolute windows [lo, hi] holding a non-zero value in any series (lo > hi: none). */
  private used(): [number, number] {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of this.all) {
      const a = s.a;
      let i = 0;
      while (i < a.length && a[i] === 0) i++;
      if (i === a.length) continue;
      let j = a.length - 1;
      while (a[j] === 0) j--;
      if (i + this.base < lo) lo = i + this.base;
      if (j + this.base > hi) hi = j + this.base;
    }
    return [lo, hi];
  }

  /**
   * Doubles the window: new window j is the sum of old windows 2j and 2j+1 (same capacity).
   * In place, so that a coarsening allocates nothing (a fresh array per series left the whole
   * grid behind as garbage each time: 96 MB at the budget). Slot i moves to
   * j = floor((base+i)/2) - floor(base/2) <= i, and the slots feeding one j are consecutive, so
   * walking i upwards each slot is read before anything lands on it and every j starts from 0:
   * the same sums, in the same order, as into a zeroed array.
   */
  private coarsen(): void {
    const newBase = Math.floor(this.base / 2);
    for (const s of this.all) {
      const a = s.a;
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        // A zero stays where it is (unwritten: pages never touched stay out of RSS); a -0 becomes 0, as in a fresh array.
        if (v === 0) {
          if (Object.is(v, -0)) a[i] = 0;
          continue;
        }
        a[i] = 0;
        const j = Math.floor((this.base + i) / 2) - newBase;
        a[j] = a[j]! + v;
      }
    }
    this.base = newBase;
    this.windowNs *= 2;
    this.coarsenings++;
  }

  /** Adds `v` to the window holding time t. */
  addAt(s: GridSeries, t: number, v: number): void {
    let i = Math.floor(t / this.windowNs) - this.base;
    if (!(i >= 0 && i < this.cap)) {
      this.reserve(t, t);
      i = Math.floor(t / this.windowNs) - this.base;
    }
    s.a[i] = s.a[i]! + v;
  }

  /** Adds the overlap of [a, b) with each window to that window (a slice crossing a boundary is split). */
  addSpan(s: GridSeries, a: number, b: number): void {
    if (!(b > a)) return;
    let W = this.windowNs;
    let k = Math.floor(a / W);
    if (!(k >= this.base && Math.floor(b / W) < this.base + this.cap)) {
      this.reserve(a, b);
      W = this.windowNs;
      k = Math.floor(a / W);
    }
    const arr = s.a;
    let i = k - this.base;
    let from = a;
    // The end of a's window, (k + 1) * W, from `a` itself: a product of two small integers
    // overflows the 32-bit small-integer range 2.1 s into a capture, which deoptimised every
    // function that inlines addSpan (`node --trace-deopt`); `a` is a timestamp, a number the
    // JIT sees outside that range from the start. Exact: integers below 2^53.
    const r = a % W;
    let wEnd = a - r + (r < 0 ? 0 : W);
    for (;;) {
      if (b <= wEnd) {
        arr[i] = arr[i]! + (b - from);
        return;
      }
      arr[i] = arr[i]! + (wEnd - from);
      from = wEnd;
      wEnd += W;
      i++;
    }
  }

  /** Adds `v` spread over [a, b): each window gets the share of v of its overlap with the range. */
  addSpread(s: GridSeries, a: number, b: number, v: number): void {
    if (!(b > a)) return this.addAt(s, a, v);
    this.reserve(a, b);
    const W = this.windowNs;
    for (let k = Math.floor(a / W); k * W < b; k++) {
      const i = k - this.base;
      s.a[i] = s.a[i]! + (v * (Math.min(b, (k + 1) * W) - Math.max(a, k * W))) / (b - a);
    }
  }

  /**
   * Adds to each window its overlap with [a, b) less what `sub` already holds there (never below
   * zero): the idle part of a range whose busy part `sub` recorded.
   */
  addSpanLess(s: GridSeries, a: number, b: number, sub: GridSeries): void {
    if (!(b > a)) return;
    this.reserve(a, b);
    const W = this.windowNs;
    for (let k = Math.floor(a / W); k * W < b; k++) {
      const i = k - this.base;
      const v = Math.min(b, (k + 1) * W) - Math.max(a, k * W) - sub.a[i]!;
      if (v > 0) s.a[i] = s.a[i]! + v;
    }
  }

  /** Sets each window's value to its overlap with [a, b) (used when a union is known to cover the range). */
  setSpan(s: GridSeries, a: number, b: number): void {
    if (!(b > a)) return;
    this.reserve(a, b);
    const W = this.windowNs;
    for (let k = Math.floor(a / W); k * W < b; k++) {
      const i = k - this.base;
      s.a[i] = Math.min(b, (k + 1) * W) - Math.max(a, k * W);
    }
  }

  /**
   * Windows [k0, k0+n) of a series (zeros where nothing was recorded), handed over: the grid
   * drops the series. A view of the grid's slab when they lie inside the slot range (no copy:
   * once every series is out, the timeline holds the slab and nothing else of the grid), else a
   * fresh copy. A series is extracted once, at the end, and the grid is not written after it
   * (assembleTimeline: the capture's last write comes before).
   */
  extract(s: GridSeries, k0: number, n: number): Float64Array {
    const lo = k0 - this.base;
    let out: Float64Array;
    if (this.cap === 0 || lo < 0 || lo + n > this.cap) out = this.copyOut(s, k0, n);
    else {
      const a = s.a;
      out = a.subarray(lo, lo + n);
      // The instant at exactly the capture's end folded into the last window, as copyOut does.
      if (n > 0 && lo + n < this.cap) out[n - 1]! += a[lo + n]!;
    }
    s.a = RELEASED;
    return out;
  }

  private copyOut(s: GridSeries, k0: number, n: number): Float64Array {
    const out = new Float64Array(n);
    if (this.cap === 0) return out;
    const lo = Math.max(k0, this.base);
    const hi = Math.min(k0 + n, this.base + this.cap);
    if (hi > lo) out.set(s.a.subarray(lo - this.base, hi - this.base), lo - k0);
    // The capture's windows are [start, end); an instant at exactly `end` (the last poll of a
    // capture whose end falls on a window boundary) lands in window k0+n, past the last one.
    // Every event is <= end, so only such instants can be there: fold them into the last
    // window rather than drop them, so per-window counts add up to the totals.
    const past = k0 + n - this.base;
    if (n > 0 && past >= 0 && past < this.cap) out[n - 1]! += s.a[past]!;
    return out;
  }
}
