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
 * Work: O(1) per poll, and per end of a pending spell the number of distinct NAPIs polled
 * meanwhile (at most the NAPIs on the core). The figures are the same: durations are integer
 * nanoseconds (src/base/time.ts), so the sums are exact in any order; a core that ever sees a
 * poll of a non-integer duration is folded eagerly from then on, poll by poll, as before.
 */
/** What the fold keeps per NAPI on a CPU (NapiCpuAcc in napi-acc.ts; an interface here so that the two modules do not import each other). */
export interface WaitNode {
  readonly napi: { readonly index: number };
  readonly waited: Map<number, number>;
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
}

/** A softirq poll of `nc` lasting `dur` ns on a core whose pending NAPIs are `pend` (before `nc`'s own pending state changes). */
export function pollWaits(w: CoreWaits, pend: readonly WaitNode[], nc: WaitNode, dur: number): void {
  if (!(dur > 0) || pend.length === 0) return;
  if (!w.eager && !Number.isInteger(dur)) toEager(w, pend);
  if (w.eager) {
    const by = nc.napi.index;
    for (let i = 0; i < pend.length; i++) {
      const p = pend[i]!;
      if (p !== nc) p.waited.set(by, (p.waited.get(by) ?? 0) + dur);
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

/** `p` stops being pending (or the capture ended): its waits since it became pending go into `p.waited`. */
export function endWait(w: CoreWaits, p: WaitNode): void {
  if (w.eager) return;
  const a = p.pendSeq;
  const e = p.pendEpoch;
  for (let j = w.head; j !== null && j.waitSeq > a; j = j.waitNext) {
    if (j === p) continue;
    const d = j.waitCum - sumAtEpoch(j, e);
    if (d > 0) {
      const by = j.napi.index;
      p.waited.set(by, (p.waited.get(by) ?? 0) + d);
    }
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
