/**
 * The `limit` longest of a stream of (a, b, ns) entries, chosen as they come (a bounded
 * selection: a heap of `limit` entries, never the whole list), plus exact totals of the rest.
 *
 * For the evidence lists of a finding that grow with pairs of NAPIs: a core shared by 1,024
 * tunnels has 1,047,552 waits (every ordered pair) in one co-location finding, and its
 * monolithic-poll finding 1,045,506 blocked entries; listed whole they made 455 MB of `--json`
 * that no engineer reads. Kept: the `limit` largest ns; between equal ns the one that came first
 * (so a list of at most `limit` entries is kept whole, in its order). `entries()` gives them in
 * the order they came, as the unbounded list had them; `leftOut` says how many were not kept and
 * their ns summed (the timeline's waits are integer ns, so the sums are exact in any order).
 */
export class Longest {
  private readonly a: Int32Array;
  private readonly b: Int32Array;
  private readonly ns: Float64Array;
  private readonly seq: Float64Array;
  /** Heap of slots (min-heap on ns, then on the latest arrival): the root is the first to leave. */
  private readonly heap: Int32Array;
  private size = 0;
  private arrivals = 0;
  /** Entries seen but not kept, and their ns. */
  leftOutCount = 0;
  leftOutNs = 0;

  constructor(readonly limit: number) {
    this.a = new Int32Array(limit);
    this.b = new Int32Array(limit);
    this.ns = new Float64Array(limit);
    this.seq = new Float64Array(limit);
    this.heap = new Int32Array(limit);
  }

  /** Entries seen, kept or not. */
  get count(): number {
    return this.arrivals;
  }

  add(a: number, b: number, ns: number): void {
    const seq = this.arrivals++;
    // Full and not above the shortest kept (ties: first come, first kept): counted only. The
    // common case once a list is full (a core shared by 1,024 tunnels: 1 M entries, 100 kept).
    if (this.size === this.limit && (this.limit === 0 || !(ns > this.ns[this.heap[0]!]!))) {
      this.leave(ns);
      return;
    }
    if (this.size < this.limit) {
      const slot = this.size++;
      this.set(slot, a, b, ns, seq);
      this.heap[slot] = slot;
      this.up(slot);
      return;
    }
    if (this.limit === 0) {
      this.leave(ns);
      return;
    }
    const root = this.heap[0]!;
    // A later arrival with the same ns loses to the kept one (ties: first come, first kept).
    if (!(ns > this.ns[root]!)) {
      this.leave(ns);
      return;
    }
    this.leave(this.ns[root]!);
    this.set(root, a, b, ns, seq);
    this.down(0);
  }

  /** The kept entries in the order they came. */
  entries(): { a: number; b: number; ns: number }[] {
    const slots = Array.from(this.heap.subarray(0, this.size)).sort((x, y) => this.seq[x]! - this.seq[y]!);
    return slots.map((s) => ({ a: this.a[s]!, b: this.b[s]!, ns: this.ns[s]! }));
  }

  private leave(ns: number): void {
    this.leftOutCount++;
    this.leftOutNs += ns;
  }

  private set(slot: number, a: number, b: number, ns: number, seq: number): void {
    this.a[slot] = a;
    this.b[slot] = b;
    this.ns[slot] = ns;
    this.seq[slot] = seq;
  }

  /** Whether slot x leaves before slot y: smaller ns, or the same ns and a later arrival. */
  private before(x: number, y: number): boolean {
    const nx = this.ns[x]!;
    const ny = this.ns[y]!;
    return nx < ny || (nx === ny && this.seq[x]! > this.seq[y]!);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i]!, h[p]!)) break;
      const t = h[i]!;
      h[i] = h[p]!;
      h[p] = t;
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.before(h[l]!, h[m]!)) m = l;
      if (r < n && this.before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      const t = h[i]!;
      h[i] = h[m]!;
      h[m] = t;
      i = m;
    }
  }
}

/**
 * Entries kept per list (co-location's waits, monolithic-poll's blocked per chain). 100 keeps
 * every list whole up to 10 tunnels sharing a core (90 ordered pairs) and 101 tunnels behind one
 * chain: every capture under traces/ and every golden case (the largest, the talk's 8 x 32 stock
 * scenario, has 56 waits and 7 blocked) prints as before. Above that the list is the longest 100
 * and the totals of the rest.
 */
export const LIST_LIMIT = 100;
