/**
 * Waits (docs/timeline.md, "Waits"): while a NAPI's last softirq poll on a CPU used its whole
 * budget it is still scheduled there (net/core/dev.c: napi_poll requeues it), and every other
 * NAPI's softirq poll on that CPU until its next poll adds its duration to
 * `waitedForNs[other NAPI]`.
 *
 * Adding each poll to every pending NAPI costs polls x pending: on a stock synth capture of
 * 1,024 tunnels over 128 cores about a thousand NAPIs stay pending on a core (their last poll
 * there was full and they were placed elsewhere afterwards), 38 M map updates for 174 k polls,
 * 3.4 s of a 10 s load. So the fold is lazy, per core:
 * - each NAPI keeps the running sum of its softirq poll time on the core (`waitCum`), and the
 *   core keeps its NAPIs in a list ordered by their last poll (`head`, most recent first);
 * - a NAPI that becomes pending opens an epoch (`epoch`) and remembers the poll count
 *   (`seq`) at that moment;
 * - each NAPI records its running sum at its first poll of each epoch (`histEpoch` /
 *   `histCum`), which is its sum when every epoch since its previous poll began;
 * - when a NAPI stops being pending (its next softirq poll there was not full, or its kthread
 *   polled it) and at the capture's end, its waits are the NAPIs polled since it became
 *   pending (the head of the list, down to the first one polled before), each with its sum now
 *   less its sum when the epoch began.
 * The sums are kept per core in one open-addressing table keyed by (waiter, waited for), typed
 * columns instead of a Map per NAPI-CPU pair (about a million waits on that capture: the live heap
 * after the load was 111 MB with Maps, 72 MB with columns), and end as sorted columns (types.ts WaitRows). Each key's additions happen in
 * the same order as they did into the Map, so even the eager fold's sums are the same doubles.
 * Work: O(1) per poll, and per end of a pending spell the number of distinct NAPIs polled
 * meanwhile (at most the NAPIs on the core). The figures are the same: durations are integer
 * nanoseconds (src/base/time.ts), so the sums are exact in any order; a core that ever sees a
 * poll of a non-integer duration is folded eagerly from then on, poll by poll, as before.
 */
import { InputError } from '../base/diagnostics.js';
import type { WaitRows } from './types.js';

/** What the fold keeps per NAPI on a CPU (NapiCpuAcc in napi-acc.ts; an interface here so that the two modules do not import each other). */
export interface WaitNode {
  readonly napi: { readonly index: number };
  /** Its softirq poll time on the CPU, and when it last polled (the core's count). */
  waitCum: number;
  waitSeq: number;
  /** Its neighbours in the core's most-recent-first list. */
  waitPrev: WaitNode | null;
  waitNext: WaitNode | null;
  /** Its running sum at its first poll of each epoch, and the last epoch recorded. */
  readonly histEpoch: number[];
  readonly histCum: number[];
  histLastEpoch: number;
  /** While pending: the epoch its spell opened and the core's poll count then. */
  pendEpoch: number;
  pendSeq: number;
}

export class CoreWaits {
  /** Softirq polls (of positive duration, while some NAPI was pending) recorded so far. */
  seq = 0;
  /** Pending spells begun so far. */
  epoch = 0;
  /** Most recently polled NAPI (the list runs through WaitNode.waitNext). */
  head: WaitNode | null = null;
  /** Folded poll by poll (a non-integer duration was seen). */
  eager = false;
  /** The sums so far: waiter's index, waited-for's index (-1: free slot), ns; made on the first wait. */
  private keyWaiter: Int32Array | null = null;
  private keyBy: Int32Array | null = null;
  private sum: Float64Array | null = null;
  private used = 0;

  /** Adds `d` ns to what NAPI `waiter` waited for NAPI `by` on this core. */
  add(waiter: number, by: number, d: number): void {
    // rows() sorts by waiter * 2^32 + by, exact below 2^21 NAPIs.
    if (waiter >= 0x200000) throw new InputError(`more than ${0x200000} NAPI instances wait on one another in this capture: more than the timeline holds`);
    if (this.keyWaiter === null) this.alloc(64);
    const kw = this.keyWaiter!;
    const kb = this.keyBy!;
    const mask = kw.length - 1;
    for (let i = slotOf(waiter, by) & mask; ; i = (i + 1) & mask) {
      const w = kw[i]!;
      if (w === waiter && kb[i] === by) {
        const sum = this.sum!;
        sum[i] = sum[i]! + d;
        return;
      }
      if (w === -1) {
        kw[i] = waiter;
        kb[i] = by;
        this.sum![i] = d;
        if (++this.used * 4 > kw.length * 3) this.grow();
        return;
      }
    }
  }

  /** The sums as rows sorted by (waiter, waited for), one call per waiter with its rows; the table is freed. */
  rows(each: (waiter: number, rows: WaitRows) => void): void {
    const kw = this.keyWaiter;
    if (kw === null) return;
    const kb = this.keyBy!;
    const sum = this.sum!;
    const n = this.used;
    const order = this.sortedSlots();
    const waitedFor = new Int32Array(n);
    const ns = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      const i = order[r]!;
      waitedFor[r] = kb[i]!;
      ns[r] = sum[i]!;
    }
    this.keyWaiter = this.keyBy = this.sum = null;
    this.used = 0;
    for (let from = 0; from < n;) {
      const waiter = kw[order[from]!]!;
      let to = from + 1;
      while (to < n && kw[order[to]!] === waiter) to++;
      each(waiter, { waitedFor, ns, from, to });
      from = to;
    }
  }

  /**
   * The capture's end: the waits of `pend`, the NAPIs still pending on this core (their spells
   * end now, as endWait would end them), with the sums so far, as rows sorted by (waiter, waited
   * for), one call per waiter with its rows; the table is freed. The same rows as endWait for
   * each of `pend`, then rows(), without adding the last spells to the table: on a stock capture
   * of 1,024 tunnels over 128 cores about a million waits are those of NAPIs still pending at
   * the end, and the table that took them doubled up to 2,097,152 slots (32 MB, and as much
   * again in the tables it outgrew) before rows() made its five columns (24 MB). Here each
   * pending NAPI's walk of the core's list gives its rows at once (the list holds each NAPI
   * once: the walk's waited-for are distinct), sorted by index and merged with its earlier sums
   * (the sum so far plus the spell's, the same double endWait's add makes), into the core's two
   * columns, sized beforehand by a count of the walks. `napis`: one more than the largest NAPI
   * index.
   */
  finish(pend: readonly WaitNode[], napis: number, each: (waiter: number, rows: WaitRows) => void): void {
    if (this.eager || pend.length === 0) {
      for (const p of pend) endWait(this, p);
      this.rows(each);
      return;
    }
    // The walks' lengths: every NAPI a walk meets polled (for a positive duration) since the
    // spell began, so its wait is above zero (endWait's d > 0).
    let extra = 0;
    for (const p of pend) {
      const a = p.pendSeq;
      for (let j = this.head; j !== null && j.waitSeq > a; j = j.waitNext) if (j !== p) extra++;
    }
    const kw = this.keyWaiter;
    const kb = this.keyBy;
    const sum = this.sum;
    const n = this.used;
    const order = kw === null ? new Int32Array(0) : this.sortedSlots();
    this.keyWaiter = this.keyBy = this.sum = null;
    this.used = 0;
    const waitedFor = new Int32Array(n + extra);
    const ns = new Float64Array(n + extra);
    // Each waiter's earlier rows (positions in `order`), and the pending ones marked.
    const exFrom = new Int32Array(napis).fill(-1);
    const exTo = new Int32Array(napis);
    const isPend = new Uint8Array(napis);
    for (const p of pend) isPend[p.napi.index] = 1;
    let out = 0;
    for (let from = 0; from < n;) {
      const waiter = kw![order[from]!]!;
      let to = from + 1;
      while (to < n && kw![order[to]!] === waiter) to++;
      if (isPend[waiter]) {
        exFrom[waiter] = from;
        exTo[waiter] = to;
      } else {
        const start = out;
        for (let r = from; r < to; r++) {
          const i = order[r]!;
          waitedFor[out] = kb![i]!;
          ns[out++] = sum![i]!;
        }
        each(waiter, { waitedFor, ns, from: start, to: out });
      }
      from = to;
    }
    const ids = new Int32Array(napis);
    const dBy = new Float64Array(napis);
    for (const p of pend) {
      const waiter = p.napi.index;
      const a = p.pendSeq;
      const e = p.pendEpoch;
      let k = 0;
      for (let j = this.head; j !== null && j.waitSeq > a; j = j.waitNext) {
        if (j === p) continue;
        const d = j.waitCum - sumAtEpoch(j, e);
        if (d > 0) {
          ids[k++] = j.napi.index;
          dBy[j.napi.index] = d;
        }
      }
      // As add() refuses it (the table's sort key).
      if (k > 0 && waiter >= 0x200000) throw new InputError(`more than ${0x200000} NAPI instances wait on one another in this capture: more than the timeline holds`);
      const walk = ids.subarray(0, k).sort();
      const start = out;
      let r = exFrom[waiter]!;
      const rEnd = r < 0 ? r : exTo[waiter]!;
      let q = 0;
      while (r < rEnd || q < k) {
        const ib = r < rEnd ? kb![order[r]!]! : 0x7fffffff;
        const jb = q < k ? walk[q]! : 0x7fffffff;
        if (ib < jb) {
          waitedFor[out] = ib;
          ns[out++] = sum![order[r++]!]!;
        } else if (jb < ib) {
          waitedFor[out] = jb;
          ns[out++] = dBy[jb]!;
          q++;
        } else {
          waitedFor[out] = ib;
          ns[out++] = sum![order[r++]!]! + dBy[jb]!;
          q++;
        }
      }
      if (out > start) each(waiter, { waitedFor, ns, from: start, to: out });
    }
  }

  /** The table's used slots in (waiter, waited for) order. */
  private sortedSlots(): Int32Array {
    const kw = this.keyWaiter!;
    const kb = this.keyBy!;
    const n = this.used;
    // Sorted by (waiter, waited for) with two counting-sort passes over the slots (by waited for,
    // then stably by waiter): sorting numeric keys and then probing the table again for each
    // were 10% of a profile of loadTimeline on a 1,024 x 128 stock synth capture. The pairs are
    // distinct, so the order is the same as a sort's. The counts are indexed by NAPI index: used
    // while that stays within a few times the entries.
    let maxW = 0;
    let maxB = 0;
    for (let i = 0; i < kw.length; i++) {
      if (kw[i] === -1) continue;
      if (kw[i]! > maxW) maxW = kw[i]!;
      if (kb[i]! > maxB) maxB = kb[i]!;
    }
    const order = new Int32Array(n);
    if (maxW + maxB <= 8 * n + 4096) {
      const bySlot = new Int32Array(n);
      const count = new Int32Array(Math.max(maxW, maxB) + 2);
      for (let i = 0; i < kw.length; i++) {
        if (kw[i] === -1) continue;
        const v = kb[i]! + 1;
        count[v] = count[v]! + 1;
      }
      for (let v = 1; v <= maxB + 1; v++) count[v] = count[v]! + count[v - 1]!;
      for (let i = 0; i < kw.length; i++) {
        if (kw[i] === -1) continue;
        const v = kb[i]!;
        bySlot[count[v]!] = i;
        count[v] = count[v]! + 1;
      }
      count.fill(0);
      for (let r = 0; r < n; r++) {
        const v = kw[bySlot[r]!]! + 1;
        count[v] = count[v]! + 1;
      }
      for (let v = 1; v <= maxW + 1; v++) count[v] = count[v]! + count[v - 1]!;
      for (let r = 0; r < n; r++) {
        const i = bySlot[r]!;
        const v = kw[i]!;
        order[count[v]!] = i;
        count[v] = count[v]! + 1;
      }
    } else {
      // Sorted by one numeric key (indexes are below 2^21: the product stays an exact double).
      const keys = new Float64Array(n);
      let k = 0;
      for (let i = 0; i < kw.length; i++) if (kw[i] !== -1) keys[k++] = kw[i]! * 4294967296 + kb[i]!;
      keys.sort();
      const mask = kw.length - 1;
      for (let r = 0; r < n; r++) {
        const waiter = Math.floor(keys[r]! / 4294967296);
        const by = keys[r]! - waiter * 4294967296;
        let i = slotOf(waiter, by) & mask;
        while (kw[i] !== waiter || kb[i] !== by) i = (i + 1) & mask;
        order[r] = i;
      }
    }
    return order;
  }

  private alloc(size: number): void {
    this.keyWaiter = new Int32Array(size).fill(-1);
    this.keyBy = new Int32Array(size);
    this.sum = new Float64Array(size);
  }

  private grow(): void {
    const kw = this.keyWaiter!;
    const kb = this.keyBy!;
    const sum = this.sum!;
    this.alloc(kw.length * 2);
    const nw = this.keyWaiter!;
    const nb = this.keyBy!;
    const ns = this.sum!;
    const mask = nw.length - 1;
    for (let j = 0; j < kw.length; j++) {
      const w = kw[j]!;
      if (w === -1) continue;
      let i = slotOf(w, kb[j]!) & mask;
      while (nw[i] !== -1) i = (i + 1) & mask;
      nw[i] = w;
      nb[i] = kb[j]!;
      ns[i] = sum[j]!;
    }
  }
}

/** A well-mixed 32-bit hash of a (waiter, waited for) pair (murmur3's finaliser). */
function slotOf(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  return h ^ (h >>> 16);
}

/** A softirq poll of `nc` lasting `dur` ns on a core whose pending NAPIs are `pend` (before `nc`'s own pending state changes). */
export function pollWaits(w: CoreWaits, pend: readonly WaitNode[], nc: WaitNode, dur: number): void {
  if (!(dur > 0) || pend.length === 0) return;
  if (!w.eager && !Number.isInteger(dur)) toEager(w, pend);
  if (w.eager) {
    const by = nc.napi.index;
    for (let i = 0; i < pend.length; i++) {
      const p = pend[i]!;
      if (p !== nc) w.add(p.napi.index, by, dur);
    }
    return;
  }
  if (nc.histLastEpoch < w.epoch) {
    // Its sum when every epoch since its previous poll began (only epochs still pending are looked up).
    trimHistory(nc, pend[0]!.pendEpoch);
    nc.histEpoch.push(w.epoch);
    nc.histCum.push(nc.waitCum);
    nc.histLastEpoch = w.epoch;
  }
  nc.waitCum += dur;
  nc.waitSeq = ++w.seq;
  if (w.head !== nc) {
    // Move to the front of the core's list.
    if (nc.waitPrev !== null) nc.waitPrev.waitNext = nc.waitNext;
    if (nc.waitNext !== null) nc.waitNext.waitPrev = nc.waitPrev;
    nc.waitPrev = null;
    nc.waitNext = w.head;
    if (w.head !== null) w.head.waitPrev = nc;
    w.head = nc;
  }
}

/** `nc` becomes pending on the core (after its poll was folded). */
export function startWait(w: CoreWaits, nc: WaitNode): void {
  nc.pendEpoch = ++w.epoch;
  nc.pendSeq = w.seq;
}

/** `p` stops being pending (or the capture ended): its waits since it became pending go into the core's sums. */
export function endWait(w: CoreWaits, p: WaitNode): void {
  if (w.eager) return;
  const a = p.pendSeq;
  const e = p.pendEpoch;
  for (let j = w.head; j !== null && j.waitSeq > a; j = j.waitNext) {
    if (j === p) continue;
    const d = j.waitCum - sumAtEpoch(j, e);
    if (d > 0) w.add(p.napi.index, j.napi.index, d);
  }
}

/** The NAPI's running sum when epoch `e` began: the first record at or after `e` (it polled since). */
function sumAtEpoch(j: WaitNode, e: number): number {
  const h = j.histEpoch;
  let lo = 0;
  let hi = h.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (h[mid]! < e) lo = mid + 1;
    else hi = mid;
  }
  return lo < h.length ? j.histCum[lo]! : j.waitCum;
}

/** Drops the records of epochs before `minEpoch` (no pending NAPI looks them up) once they are half the list. */
function trimHistory(j: WaitNode, minEpoch: number): void {
  const h = j.histEpoch;
  if (h.length < 16 || h[h.length >> 1]! >= minEpoch) return;
  let k = 0;
  while (h[k]! < minEpoch) k++;
  h.splice(0, k);
  j.histCum.splice(0, k);
}

/** Switches the core to the eager fold: the pending NAPIs' waits so far are folded, and every later poll adds to them directly. */
function toEager(w: CoreWaits, pend: readonly WaitNode[]): void {
  for (const p of pend) endWait(w, p);
  w.eager = true;
}
