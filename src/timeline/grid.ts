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
 *
 * The slot range [base, base+cap) decides the window (the rule above, in `reserve` and `fit`);
 * what is allocated is only the part of it that holds data, [pbase, pbase+pcap), grown by a
 * quarter as writes reach past it. A grid of many series is given a slot range of up to its
 * whole budget (a power of two, at least what is in use) while the capture may need a small
 * part of it: 69,372 series of a 256 x 128 stock synth capture had a range of 128 windows
 * where 78 were used, in a slab whose series slots doubled (203 MB of ArrayBuffers for 43 MB
 * of windows). Series are kept in blocks of BLOCK_SERIES (no slab copied whole as series are
 * added; a relayout makes one block at a time).
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
/** Series per block; a block's series slots start at BLOCK_MIN_SERIES and double up to it. */
const BLOCK_SHIFT = 10;
const BLOCK_SERIES = 1 << BLOCK_SHIFT;
const BLOCK_MIN_SERIES = 16;
/** Fewest windows the allocated part of the range grows by. */
const PHYS_MIN_GROWTH = 8;

export class GridSeries {
  constructor(
    /** The block holding its windows, from offset `o` (pcap windows: WindowGrid.pbase onwards). */
    public b: Float64Array,
    public o: number,
    /** Its index in the grid (block k >> BLOCK_SHIFT). */
    readonly slot: number,
  ) {}
}

export class WindowGrid {
  /** Absolute window index of slot 0 of the slot range (the range the window rule is judged on). */
  base = 0;
  cap = 0;
  /** The allocated part of the slot range: absolute window index of its first window, and its length (0: nothing yet). */
  pbase = 0;
  pcap = 0;
  /** Times the window was doubled to stay within the budget. */
  coarsenings = 0;
  private readonly all: GridSeries[] = [];
  /**
   * Series k's windows [pbase, pbase+pcap) at [(k mod BLOCK_SERIES)*pcap, ...) of block
   * k >> BLOCK_SHIFT (`GridSeries.b` and `.o`: no view object per series, which every relayout
   * would make again: 260,000 series on a 1,024 x 128 stock synth capture). Few large allocations instead of one per
   * series: tens of thousands of small typed arrays (a stock gateway's NAPI-CPU pairs) freed and
   * made again at every growth left the allocator's heap fragmented (the 256 x 128 stock synth
   * capture loaded at 379 MB peak RSS with the default malloc, 312 MB with every block over
   * 4 KB mapped apart).
   */
  private blocks: Float64Array[] = [];
  /** Series slots of each block. */
  private blockSlots: number[] = [];

  constructor(
    public windowNs: number,
    private readonly budgetBytes = DEFAULT_GRID_BUDGET_BYTES,
  ) {}

  /** Bytes allocated for the series' windows now. */
  allocatedBytes(): number {
    let n = 0;
    for (const b of this.blocks) n += b.byteLength;
    return n;
  }

  /**
   * A new series over the current slot range. The budget holds here too, not only when the
   * range grows: when one more series would pass it, the range shrinks to what is in use
   * (windows widened as needed) so that every series fits.
   */
  create(): GridSeries {
    if (this.cap > 0 && (this.all.length + 1) * this.cap * 8 > this.budgetBytes) this.fit(this.all.length + 1);
    const k = this.all.length;
    const b = k >> BLOCK_SHIFT;
    const slot = k & (BLOCK_SERIES - 1);
    if (b === this.blocks.length) {
      this.blocks.push(new Float64Array(BLOCK_MIN_SERIES * this.pcap));
      this.blockSlots.push(BLOCK_MIN_SERIES);
    } else if (slot >= this.blockSlots[b]!) {
      // More slots in this block, same windows: the block is copied and its views made again.
      const slots = Math.min(BLOCK_SERIES, 2 * this.blockSlots[b]!);
      const block = new Float64Array(slots * this.pcap);
      block.set(this.blocks[b]!);
      this.blocks[b] = block;
      this.blockSlots[b] = slots;
      for (let i = b << BLOCK_SHIFT; i < k; i++) this.all[i]!.b = block;
    }
    const s = new GridSeries(this.blocks[b]!, slot * this.pcap, k);
    this.all.push(s);
    return s;
  }

  /**
   * The slot range becomes `cap` windows from `base`. Series windows [lo, hi] (absolute, lo > hi:
   * none) hold all the data and lie inside it; the allocated part is cut to the new range.
   */
  private relayout(cap: number, base: number, lo: number, hi: number): void {
    this.cap = cap;
    this.base = base;
    if (this.pcap === 0) return;
    const pLo = Math.max(this.pbase, base);
    const pHi = Math.min(this.pbase + this.pcap, base + cap);
    if (pLo !== this.pbase || pHi !== this.pbase + this.pcap) {
      if (lo > hi || pHi <= pLo) this.physical(base, 0);
      else this.physical(pLo, pHi - pLo);
    }
  }

  /** Moves every series to an allocated part of `pcap` windows from `pbase` (holding every window with data), one block at a time. */
  private physical(pbase: number, pcap: number): void {
    const oldBase = this.pbase;
    const oldCap = this.pcap;
    const lo = Math.max(oldBase, pbase);
    const hi = Math.min(oldBase + oldCap, pbase + pcap);
    for (let b = 0; b < this.blocks.length; b++) {
      const old = this.blocks[b]!;
      const block = new Float64Array(this.blockSlots[b]! * pcap);
      const first = b << BLOCK_SHIFT;
      const last = Math.min(this.all.length, first + BLOCK_SERIES);
      if (hi > lo) {
        for (let k = first; k < last; k++) {
          const o = (k - first) * oldCap;
          block.set(old.subarray(o + lo - oldBase, o + hi - oldBase), (k - first) * pcap + (lo - pbase));
        }
      }
      this.blocks[b] = block;
      for (let k = first; k < last; k++) {
        const s = this.all[k]!;
        s.b = block;
        s.o = (k - first) * pcap;
      }
    }
    this.pbase = pbase;
    this.pcap = pcap;
  }

  /**
   * Makes windows lo..hi (absolute, inside the slot range) allocated: the allocated part grows to
   * cover them and what it held, by at least a quarter on the side that grew, within the range.
   */
  private allocate(lo: number, hi: number): void {
    const pcap = this.pcap;
    if (pcap > 0 && lo >= this.pbase && hi < this.pbase + pcap) return;
    const curLo = pcap > 0 ? this.pbase : lo;
    const curHi = pcap > 0 ? this.pbase + pcap - 1 : hi;
    let nLo = Math.min(lo, curLo);
    let nHi = Math.max(hi, curHi);
    // Doubling: few relayouts (each leaves the old blocks to the garbage collector).
    const extra = Math.max(PHYS_MIN_GROWTH, nHi - nLo + 1);
    if (pcap > 0 && lo < curLo) nLo -= extra;
    if (pcap === 0 || hi > curHi) nHi += extra;
    nLo = Math.max(nLo, this.base);
    nHi = Math.min(nHi, this.base + this.cap - 1);
    this.physical(nLo, nHi - nLo + 1);
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
   * windows in use still fit, else grows it, else (past the budget) widens the window; then
   * allocates them.
   */
  private reserve(a: number, b: number): void {
    for (;;) {
      const lo = Math.floor(a / this.windowNs);
      const hi = Math.floor(b / this.windowNs);
      if (lo >= this.base && hi < this.base + this.cap) return this.allocate(lo, hi);
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
    const n = this.pcap;
    for (const s of this.all) {
      const a = s.b;
      const o = s.o;
      let i = 0;
      while (i < n && a[o + i] === 0) i++;
      if (i === n) continue;
      let j = n - 1;
      while (a[o + j] === 0) j--;
      if (i + this.pbase < lo) lo = i + this.pbase;
      if (j + this.pbase > hi) hi = j + this.pbase;
    }
    return [lo, hi];
  }

  /**
   * Doubles the window: new window j is the sum of old windows 2j and 2j+1 (same capacity).
   * In place, so that a coarsening allocates nothing (a fresh array per series left the whole
   * grid behind as garbage each time: 96 MB at the budget). Slot i moves to
   * j = floor((pbase+i)/2) - floor(pbase/2) <= i, and the slots feeding one j are consecutive, so
   * walking i upwards each slot is read before anything lands on it and every j starts from 0:
   * the same sums, in the same order, as into a zeroed array. The allocated part stays inside
   * the slot range: floor(x/2) - floor(y/2) <= ceil((x-y)/2).
   */
  private coarsen(): void {
    const newBase = Math.floor(this.base / 2);
    const pbase = this.pbase;
    const newPbase = Math.floor(pbase / 2);
    const n = this.pcap;
    for (const s of this.all) {
      const a = s.b;
      const o = s.o;
      for (let i = 0; i < n; i++) {
        const v = a[o + i]!;
        // A zero stays where it is (unwritten: pages never touched stay out of RSS); a -0 becomes 0, as in a fresh array.
        if (v === 0) {
          if (Object.is(v, -0)) a[o + i] = 0;
          continue;
        }
        a[o + i] = 0;
        const j = o + Math.floor((pbase + i) / 2) - newPbase;
        a[j] = a[j]! + v;
      }
    }
    this.base = newBase;
    this.pbase = newPbase;
    this.windowNs *= 2;
    this.coarsenings++;
  }

  /** Adds `v` to the window holding time t. */
  addAt(s: GridSeries, t: number, v: number): void {
    let i = Math.floor(t / this.windowNs) - this.pbase;
    if (!(i >= 0 && i < this.pcap)) {
      this.reserve(t, t);
      i = Math.floor(t / this.windowNs) - this.pbase;
    }
    const j = s.o + i;
    s.b[j] = s.b[j]! + v;
  }

  /** Adds the overlap of [a, b) with each window to that window (a slice crossing a boundary is split). */
  addSpan(s: GridSeries, a: number, b: number): void {
    if (!(b > a)) return;
    let W = this.windowNs;
    let k = Math.floor(a / W);
    if (!(k >= this.pbase && Math.floor(b / W) < this.pbase + this.pcap)) {
      this.reserve(a, b);
      W = this.windowNs;
      k = Math.floor(a / W);
    }
    const arr = s.b;
    let i = s.o + k - this.pbase;
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
      const j = s.o + k - this.pbase;
      s.b[j] = s.b[j]! + (v * (Math.min(b, (k + 1) * W) - Math.max(a, k * W))) / (b - a);
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
      const i = k - this.pbase;
      const v = Math.min(b, (k + 1) * W) - Math.max(a, k * W) - sub.b[sub.o + i]!;
      if (v > 0) s.b[s.o + i] = s.b[s.o + i]! + v;
    }
  }

  /** Sets each window's value to its overlap with [a, b) (used when a union is known to cover the range). */
  setSpan(s: GridSeries, a: number, b: number): void {
    if (!(b > a)) return;
    this.reserve(a, b);
    const W = this.windowNs;
    for (let k = Math.floor(a / W); k * W < b; k++) {
      const i = k - this.pbase;
      s.b[s.o + i] = Math.min(b, (k + 1) * W) - Math.max(a, k * W);
    }
  }

  /**
   * Windows [k0, k0+n) of a series (zeros where nothing was recorded), handed over: the grid
   * drops the series. A view of the grid's block when they lie inside the allocated part (no copy:
   * once every series is out, the timeline holds the blocks and nothing else of the grid), else a
   * fresh copy. A series is extracted once, at the end, and the grid is not written after it
   * (assembleTimeline: the capture's last write comes before).
   */
  extract(s: GridSeries, k0: number, n: number): Float64Array {
    const lo = k0 - this.pbase;
    let out: Float64Array;
    if (this.pcap === 0 || lo < 0 || lo + n > this.pcap) out = this.copyOut(s, k0, n);
    else {
      out = s.b.subarray(s.o + lo, s.o + lo + n);
      // The instant at exactly the capture's end folded into the last window, as copyOut does.
      if (n > 0 && lo + n < this.pcap) out[n - 1]! += s.b[s.o + lo + n]!;
    }
    s.b = RELEASED;
    s.o = 0;
    return out;
  }

  private copyOut(s: GridSeries, k0: number, n: number): Float64Array {
    const out = new Float64Array(n);
    if (this.pcap === 0) return out;
    const lo = Math.max(k0, this.pbase);
    const hi = Math.min(k0 + n, this.pbase + this.pcap);
    if (hi > lo) out.set(s.b.subarray(s.o + lo - this.pbase, s.o + hi - this.pbase), lo - k0);
    // The capture's windows are [start, end); an instant at exactly `end` (the last poll of a
    // capture whose end falls on a window boundary) lands in window k0+n, past the last one.
    // Every event is <= end, so only such instants can be there: fold them into the last
    // window rather than drop them, so per-window counts add up to the totals.
    const past = k0 + n - this.pbase;
    if (n > 0 && past >= 0 && past < this.pcap) out[n - 1]! += s.b[s.o + past]!;
    return out;
  }
}
