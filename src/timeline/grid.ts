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
 * what is allocated is only what is written, in pages: series are kept in groups of
 * GROUP_SERIES, and a group's windows [p*PAGE_WINDOWS, (p+1)*PAGE_WINDOWS) (absolute page p)
 * are one Float64Array, made when a window of it is first written and never reallocated. A
 * grid that grows in time or in series adds pages and copies nothing. Growth by copying
 * (every series' block made again at each growth of the allocated range, 9 -> 20 -> 42 -> 86
 * -> 112 -> 120 windows on a 256 x 128 stock synth capture) left about 70 MB of freed blocks
 * in the C heap behind the 64 MB of live ArrayBuffers, and peak RSS past 300 MB. Pages all
 * have one size, so the few a coarsening frees are kept for reuse.
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

/** Windows per page (a power of two): a page of a group is GROUP_SERIES x PAGE_WINDOWS doubles, 8 KiB. */
const PAGE_SHIFT = 4;
const PAGE_WINDOWS = 1 << PAGE_SHIFT;
const PAGE_MASK = PAGE_WINDOWS - 1;
/** Series per group (the rows of one page). */
const GROUP_SERIES = 64;
const PAGE_LEN = GROUP_SERIES * PAGE_WINDOWS;

/** A group's pages, by page index from WindowGrid.porigin (NONE: nothing written there). */
type Pages = Float64Array[];
/** No page: one shared object rather than undefined keeps the page arrays of one element kind, and the hot loads monomorphic. */
const NONE = new Float64Array(0);
/** The pages of an extracted series: none (never written after extraction). */
const DETACHED: Pages = [];

export class GridSeries {
  constructor(
    /** Its group's pages (the array is the group's own, changed in place, never replaced). */
    public p: Pages,
    /** Offset of its (first) row in each page of its group; row j of a series of several rows is r + j * PAGE_WINDOWS. */
    readonly r: number,
    /** Its (first) row's index in the grid (group slot / GROUP_SERIES). */
    readonly slot: number,
  ) {}
}

export class WindowGrid {
  /** Absolute window index of slot 0 of the slot range (the range the window rule is judged on). */
  base = 0;
  cap = 0;
  /** Times the window was doubled to stay within the budget. */
  coarsenings = 0;
  /** Series rows laid out (rows a multi-row series skipped to stay in one group included): the next row's slot. */
  private slots = 0;
  /** Series rows made (the budget counts these). */
  private rows = 0;
  /** Each group's pages: entry i is absolute page porigin + i; every group's array has plen entries and covers the slot range. */
  private readonly groups: Pages[] = [];
  private porigin = 0;
  /** First window of page porigin (porigin * PAGE_WINDOWS). */
  private pw = 0;
  private plen = 0;
  /** Pages freed by a coarsening (zeroed when taken again). */
  private readonly spare: Float64Array[] = [];
  private pagesMade = 0;
  /** The windows extracted ([k0, k0+n), the same for every series) and each group's extracted windows, once extraction began. */
  private extracted: { k0: number; n: number } | undefined;
  /** Each extracted group's series (views), by row; undefined: a row that held only zeros, carved when asked for (extract) or shared (extractShared). */
  private readonly groupOut: ((Float64Array | undefined)[] | undefined)[] = [];
  /** The one all-zero series extractShared hands out (n windows of the extraction). */
  private zeros: Float64Array | undefined;
  /** A group's windows copied out of its pages, before its series are carved (reused). */
  private scratch = new Float64Array(0);
  /** Pages of groups already extracted (and the spare ones): the memory later series are carved from. */
  private readonly free: Float64Array[] = [];
  private carvePage: Float64Array = NONE;
  private carveAt = 0;

  constructor(
    public windowNs: number,
    private readonly budgetBytes = DEFAULT_GRID_BUDGET_BYTES,
  ) {}

  /** Bytes allocated for the series' windows now (pages made, spare ones included). */
  allocatedBytes(): number {
    return this.pagesMade * PAGE_LEN * 8;
  }

  /**
   * A new series over the current slot range. The budget holds here too, not only when the
   * range grows: when one more series would pass it, the range shrinks to what is in use
   * (windows widened as needed) so that every series fits.
   */
  create(rows = 1): GridSeries {
    if (this.cap > 0 && (this.rows + rows) * this.cap * 8 > this.budgetBytes) this.fit(this.rows + rows);
    let k = this.slots;
    // A series of several rows (a NAPI-CPU pair's four: napi-acc.ts) lies in one group, so
    // that its rows share its group's pages: one object and one page lookup for all four (one
    // GridSeries per row was 261,676 objects, 12 MB of the load's heap, on a 1,024 x 128 stock
    // synth capture). The rows skipped are never written: zero, never carved at extraction.
    if ((k % GROUP_SERIES) + rows > GROUP_SERIES) k = Math.ceil(k / GROUP_SERIES) * GROUP_SERIES;
    const gi = Math.floor(k / GROUP_SERIES);
    while (gi >= this.groups.length) {
      const pages: Pages = [];
      for (let i = 0; i < this.plen; i++) pages.push(NONE);
      this.groups.push(pages);
    }
    this.slots = k + rows;
    this.rows += rows;
    return new GridSeries(this.groups[gi]!, (k - gi * GROUP_SERIES) * PAGE_WINDOWS, k);
  }

  /** Makes every group's page array cover the slot range [base, base+cap) (nothing is allocated). */
  private cover(): void {
    if (this.cap === 0) return;
    const first = Math.floor(this.base / PAGE_WINDOWS);
    const last = Math.floor((this.base + this.cap - 1) / PAGE_WINDOWS);
    if (this.plen === 0) {
      this.porigin = first;
    } else if (first < this.porigin) {
      const add = this.porigin - first;
      for (const p of this.groups) p.unshift(...new Array<Float64Array>(add).fill(NONE));
      this.porigin = first;
      this.plen += add;
    }
    this.pw = this.porigin * PAGE_WINDOWS;
    const len = last - this.porigin + 1;
    if (len > this.plen) {
      for (const p of this.groups) while (p.length < len) p.push(NONE);
      this.plen = len;
    }
  }

  /** Page `pi` (from porigin) of `pages`, series s's group's, made when absent (the hot path: inlined). */
  private at(pages: Pages, s: GridSeries, pi: number): Float64Array {
    const pg = pages[pi]!;
    return pg !== NONE ? pg : this.page(s, pi);
  }

  /** Page `pi` (from porigin) of series s's group, made when absent. */
  private page(s: GridSeries, pi: number): Float64Array {
    let pg = s.p[pi]!;
    if (pg === NONE) {
      const spare = this.spare.pop();
      if (spare === undefined) {
        pg = new Float64Array(PAGE_LEN);
        this.pagesMade++;
      } else pg = spare.fill(0);
      s.p[pi] = pg;
    }
    return pg;
  }

  /** The slot range becomes `cap` windows from `base` (every window holding data lies inside it). */
  private relayout(cap: number, base: number): void {
    this.cap = cap;
    this.base = base;
    this.cover();
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
      if (empty || usedHi - usedLo + 1 + 2 * m <= half) this.relayout(half, empty ? this.base : usedLo - m);
      else this.coarsen();
    }
  }

  /**
   * Makes windows holding times a..b (inclusive) addressable: moves the slot range when the
   * windows in use still fit, else grows it, else (past the budget) widens the window (pages
   * are made when written: addAt, addSpan, page).
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
      let newCap = Math.max(this.cap, this.capFor(this.rows));
      while (newCap < eHi - eLo + 1 + 2 * marginFor(newCap)) newCap *= 2;
      if (newCap > this.cap && this.cap > 0 && this.rows * newCap * 8 > this.budgetBytes) {
        this.coarsen();
        continue;
      }
      // Room on both sides, more above: captures mostly grow forward in time.
      const newBase = eLo - Math.max(marginFor(newCap), Math.floor((newCap - (eHi - eLo + 1)) / 4));
      this.relayout(newCap, newBase);
    }
  }

  /** Absolute windows [lo, hi] holding a non-zero value in any series (lo > hi: none). */
  private used(): [number, number] {
    let lo = Infinity;
    let hi = -Infinity;
    for (const pages of this.groups) {
      for (let pi = 0; pi < pages.length; pi++) {
        const pg = pages[pi]!;
        if (pg === NONE) continue;
        const w0 = this.pw + pi * PAGE_WINDOWS;
        if (w0 + PAGE_MASK < lo) {
          for (let r = 0; r < PAGE_LEN; r += PAGE_WINDOWS) {
            for (let i = 0; i < PAGE_WINDOWS; i++) {
              if (pg[r + i] !== 0) {
                if (w0 + i < lo) lo = w0 + i;
                break;
              }
            }
          }
        }
        if (w0 > hi) {
          for (let r = 0; r < PAGE_LEN; r += PAGE_WINDOWS) {
            for (let i = PAGE_MASK; i >= 0; i--) {
              if (pg[r + i] !== 0) {
                if (w0 + i > hi) hi = w0 + i;
                break;
              }
            }
          }
        } else if (w0 + PAGE_MASK > hi) {
          for (let r = 0; r < PAGE_LEN; r += PAGE_WINDOWS) {
            for (let i = PAGE_MASK; w0 + i > hi; i--) {
              if (pg[r + i] !== 0) {
                hi = w0 + i;
                break;
              }
            }
          }
        }
      }
    }
    return [lo, hi];
  }

  /**
   * Doubles the window: new window j is the sum of old windows 2j and 2j+1, absolute (windows
   * stay anchored at the origin), so new page q is made of old pages 2q and 2q+1, into the
   * first of them present; the other is kept spare. The sum is the one of adding both into a
   * zeroed window, skipping zeros: x + y, and a -0 becomes 0, as in a fresh array.
   */
  private coarsen(): void {
    this.base = Math.floor(this.base / 2);
    this.windowNs *= 2;
    this.coarsenings++;
    if (this.plen > 0) {
      const oldOrigin = this.porigin;
      const newOrigin = Math.floor(oldOrigin / 2);
      const newLen = Math.floor((oldOrigin + this.plen - 1) / 2) - newOrigin + 1;
      const half = PAGE_WINDOWS >> 1;
      const row = new Float64Array(PAGE_WINDOWS);
      for (const pages of this.groups) {
        const old = pages.slice();
        pages.length = 0;
        for (let q = 0; q < newLen; q++) {
          const a0 = old[2 * (newOrigin + q) - oldOrigin];
          const b0 = old[2 * (newOrigin + q) + 1 - oldOrigin];
          const a = a0 === NONE ? undefined : a0;
          const b = b0 === NONE ? undefined : b0;
          const into = a ?? b;
          if (into !== undefined) {
            for (let r = 0; r < PAGE_LEN; r += PAGE_WINDOWS) {
              for (let i = 0; i < half; i++) {
                let v = a === undefined ? 0 : a[r + 2 * i]! + a[r + 2 * i + 1]!;
                if (v === 0) v = 0;
                row[i] = v;
                let w = b === undefined ? 0 : b[r + 2 * i]! + b[r + 2 * i + 1]!;
                if (w === 0) w = 0;
                row[half + i] = w;
              }
              into.set(row, r);
            }
            if (a !== undefined && b !== undefined) this.spare.push(b);
          }
          pages.push(into ?? NONE);
        }
      }
      this.porigin = newOrigin;
      this.pw = newOrigin * PAGE_WINDOWS;
      this.plen = newLen;
    }
    this.cover();
  }

  /** Adds `v` to the window holding time t (of row `row` of a series made with several). */
  addAt(s: GridSeries, t: number, v: number, row = 0): void {
    let k = Math.floor(t / this.windowNs);
    if (!(k >= this.base && k < this.base + this.cap)) {
      this.reserve(t, t);
      k = Math.floor(t / this.windowNs);
    }
    this.add(s, k, v, row);
  }

  /** Adds the overlap of [a, b) with each window to that window (a slice crossing a boundary is split); `row` as in addAt. */
  addSpan(s: GridSeries, a: number, b: number, row = 0): void {
    if (!(b > a)) return;
    let W = this.windowNs;
    let k = Math.floor(a / W);
    if (!(k >= this.base && Math.floor(b / W) < this.base + this.cap)) {
      this.reserve(a, b);
      W = this.windowNs;
      k = Math.floor(a / W);
    }
    // The end of a's window, (k + 1) * W, from `a` itself: a product of two small integers
    // overflows the 32-bit small-integer range 2.1 s into a capture, which deoptimised every
    // function that inlines addSpan (`node --trace-deopt`); `a` is a timestamp, a number the
    // JIT sees outside that range from the start. Exact: integers below 2^53.
    const r = a % W;
    const wEnd = a - r + (r < 0 ? 0 : W);
    const ki = k - this.pw;
    if (b <= wEnd) {
      // Most spans (a poll, a softirq) lie in one window: kept short, as callers inline it.
      const pg = this.at(s.p, s, ki >> PAGE_SHIFT);
      const i = s.r + (row << PAGE_SHIFT) + (ki & PAGE_MASK);
      pg[i] = pg[i]! + (b - a);
      return;
    }
    this.spanAcross(s, a, b, ki, wEnd, W, s.r + (row << PAGE_SHIFT));
  }

  /** addSpan's spans over more than one window: [a, b) from window ki (from pw), which ends at wEnd, into the row at offset r of each page. */
  private spanAcross(s: GridSeries, a: number, b: number, ki: number, wEnd: number, W: number, r: number): void {
    const pages = s.p;
    let pg = this.at(pages, s, ki >> PAGE_SHIFT);
    let i = r + (ki & PAGE_MASK);
    let from = a;
    for (;;) {
      if (b <= wEnd) {
        pg[i] = pg[i]! + (b - from);
        return;
      }
      pg[i] = pg[i]! + (wEnd - from);
      from = wEnd;
      wEnd += W;
      ki++;
      if ((ki & PAGE_MASK) === 0) {
        pg = this.at(pages, s, ki >> PAGE_SHIFT);
        i = r;
      } else i++;
    }
  }

  /** The value of window k (absolute, inside the slot range) of s; 0 when never written. */
  private get(s: GridSeries, k: number): number {
    const ki = k - this.pw;
    const pg = s.p[ki >> PAGE_SHIFT]!;
    return pg === NONE ? 0 : pg[s.r + (ki & PAGE_MASK)]!;
  }

  /** Adds `v` to window k (absolute, inside the slot range) of row `row` of s. */
  private add(s: GridSeries, k: number, v: number, row = 0): void {
    const ki = k - this.pw;
    const pg = this.at(s.p, s, ki >> PAGE_SHIFT);
    const j = s.r + (row << PAGE_SHIFT) + (ki & PAGE_MASK);
    pg[j] = pg[j]! + v;
  }

  /** Adds `v` spread over [a, b): each window gets the share of v of its overlap with the range. */
  addSpread(s: GridSeries, a: number, b: number, v: number, row = 0): void {
    if (!(b > a)) return this.addAt(s, a, v, row);
    this.reserve(a, b);
    const W = this.windowNs;
    for (let k = Math.floor(a / W); k * W < b; k++) {
      this.add(s, k, (v * (Math.min(b, (k + 1) * W) - Math.max(a, k * W))) / (b - a), row);
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
      const v = Math.min(b, (k + 1) * W) - Math.max(a, k * W) - this.get(sub, k);
      if (v > 0) this.add(s, k, v);
    }
  }

  /** Sets each window's value to its overlap with [a, b) (used when a union is known to cover the range). */
  setSpan(s: GridSeries, a: number, b: number): void {
    if (!(b > a)) return;
    this.reserve(a, b);
    const W = this.windowNs;
    for (let k = Math.floor(a / W); k * W < b; k++) {
      const ki = k - this.pw;
      const pg = this.at(s.p, s, ki >> PAGE_SHIFT);
      pg[s.r + (ki & PAGE_MASK)] = Math.min(b, (k + 1) * W) - Math.max(a, k * W);
    }
  }

  /**
   * Windows [k0, k0+n) of a series (zeros where nothing was recorded), handed over. A series is
   * extracted once, at the end, every series over the same windows, and the grid is not written
   * after it (assembleTimeline: the capture's last write comes before). The first series of a
   * group extracted copies the whole group out (into a scratch array), frees its pages, and
   * carves the group's series, n windows each, out of freed pages: those of this group and of
   * the groups before it, and the spare ones. So the series take the pages' own memory instead
   * of new memory beside them, which the collector would free only later: at the end of the
   * load on a 1,024 x 128 stock capture the dropped pages and the new series were both held
   * (146 MB of ArrayBuffers, 68 MB of them live; bench/README.md, "The series carved from the
   * grid's pages"). A series longer than a page is an array of its own.
   */
  extract(s: GridSeries, k0: number, n: number): Float64Array {
    const out = this.extractedGroup(s, k0, n);
    const row = s.slot % GROUP_SERIES;
    let v = out[row];
    if (v === undefined) {
      // A row of zeros, not carved with its group: its own memory now (a carved view of a freed page holds old values).
      v = this.carve(n).fill(0);
      out[row] = v;
    }
    return v;
  }

  /**
   * As extract, but a series that holds only zeros is one array shared by every such series of
   * the grid, which its readers must never write. Most NAPI-CPU pairs of a stock gateway never
   * poll a whole budget: 63,998 of the 65,035 pairs' full-budget counts on a 1,024 x 128 stock
   * synth capture are all zero, each a 96-byte view and 28 windows of 8 bytes (about 20 MB
   * of the load's peak; bench/README.md, "Shared zero series"). `row`: which row of a series
   * made with several.
   */
  extractShared(s: GridSeries, k0: number, n: number, row = 0): Float64Array {
    const out = this.extractedGroup(s, k0, n);
    const v = out[(s.slot % GROUP_SERIES) + row];
    if (v !== undefined) return v;
    if (this.zeros === undefined) this.zeros = new Float64Array(n);
    return this.zeros;
  }

  /** The extracted series of s's group (rows of zeros undefined), its group copied out and carved at the first of them asked for. */
  private extractedGroup(s: GridSeries, k0: number, n: number): (Float64Array | undefined)[] {
    if (this.extracted === undefined) {
      this.extracted = { k0, n };
      // Pages a coarsening freed and no write took again: nothing will write them now (2,577 of 7,614 on a 1,024 x 128 stock synth capture).
      for (const pg of this.spare) this.free.push(pg);
      this.spare.length = 0;
    } else if (this.extracted.k0 !== k0 || this.extracted.n !== n) {
      throw new Error(`grid: series extracted over windows [${k0}, ${k0 + n}) after others over [${this.extracted.k0}, ${this.extracted.k0 + this.extracted.n})`);
    }
    const gi = Math.floor(s.slot / GROUP_SERIES);
    let out = this.groupOut[gi];
    if (out === undefined) {
      const first = gi * GROUP_SERIES;
      const rows = Math.min(GROUP_SERIES, this.slots - first);
      if (this.scratch.length < rows * n) this.scratch = new Float64Array(rows * n);
      const sc = this.scratch;
      sc.fill(0, 0, rows * n);
      const pages = this.groups[gi]!;
      this.copyOut(pages, sc, rows, k0, n);
      for (const pg of pages) if (pg !== NONE) this.free.push(pg);
      pages.fill(NONE);
      out = [];
      for (let row = 0; row < rows; row++) {
        let zero = true;
        for (let j = row * n, end = j + n; j < end; j++) {
          if (sc[j] !== 0) {
            zero = false;
            break;
          }
        }
        if (zero) {
          out.push(undefined);
          continue;
        }
        const v = this.carve(n);
        // Copied by hand: sc.subarray() would make a view object per series (261,676 on a
        // 1,024 x 128 stock synth capture, 27 MB of JS heap made and dropped at the peak).
        for (let i = 0, j = row * n; i < n; i++, j++) v[i] = sc[j]!;
        out.push(v);
      }
      this.groupOut[gi] = out;
    }
    // Its group's pages are all NONE now; one shared empty array rather than a new one per series.
    s.p = DETACHED;
    return out;
  }

  /** n doubles for one extracted series: a view of a freed page (every window is then written), or an array of its own when longer than a page. */
  private carve(n: number): Float64Array {
    if (n > PAGE_LEN) return new Float64Array(n);
    if (this.carveAt + n > this.carvePage.length) {
      this.carvePage = this.free.pop() ?? new Float64Array(PAGE_LEN);
      this.carveAt = 0;
    }
    const v = this.carvePage.subarray(this.carveAt, this.carveAt + n);
    this.carveAt += n;
    return v;
  }

  /** Copies windows [k0, k0+n) of a group's `rows` series into `out` (row after row). */
  private copyOut(pages: Pages, out: Float64Array, rows: number, k0: number, n: number): void {
    for (let pi = 0; pi < pages.length; pi++) {
      const pg = pages[pi]!;
      if (pg === NONE) continue;
      const w0 = this.pw + pi * PAGE_WINDOWS;
      const lo = Math.max(k0, w0);
      const hi = Math.min(k0 + n, w0 + PAGE_WINDOWS);
      for (let row = 0; row < rows; row++) {
        const r = row * PAGE_WINDOWS;
        // Copied by hand: a subarray() view per row and page was 13 MB of JS heap made and
        // dropped at the end of the load on a 1,024 x 128 stock synth capture.
        for (let i = r + lo - w0, end = r + hi - w0, j = row * n + (lo - k0); i < end; i++, j++) out[j] = pg[i]!;
        // The capture's windows are [start, end); an instant at exactly `end` (the last poll of a
        // capture whose end falls on a window boundary) lands in window k0+n, past the last one.
        // Every event is <= end, so only such instants can be there: fold them into the last
        // window rather than drop them, so per-window counts add up to the totals.
        const past = k0 + n;
        if (n > 0 && past >= w0 && past < w0 + PAGE_WINDOWS) out[row * n + n - 1]! += pg[r + past - w0]!;
      }
    }
  }
}
