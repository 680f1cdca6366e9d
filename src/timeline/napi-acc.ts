import { ns, type Ns } from '../base/time.js';
import type { GridSeries, WindowGrid } from './grid.js';
import type { ChainStats, NapiCpuSeries, NapiInstance, WaitRows } from './types.js';
import { CoreWaits, type WaitNode } from './waits.js';

/** Bound on the per-chain evidence list (the longest monolithic chains of a NAPI on a CPU). */
const LONGEST_CHAINS_KEPT = 8;
/** Bound on the list of NAPI moves kept for evidence (all are counted). */
const MOVES_KEPT = 1000;

/*
 * V8 shapes (why the fields below are set up as they are). A number field first stored as an
 * integer in Smi range (31 bits plus sign) gets a Smi representation; the first value past
 * 2^31 (a time in ns from the capture's origin, 2.1 s in; a sum of poll time) generalises it to
 * a double, which gives the class a new hidden class (map) and deoptimises every optimised
 * function that touched such an object (`node --trace-deopt`: "wrong map", "not a Smi").
 * Likewise an array made as `[]` holds Smis until its first double, then changes elements
 * kind. So fields that hold ns are doubles from the constructor on (stored a non-integer
 * first, or NaN where nothing reads them before they are set), and arrays of ns are made with
 * double elements. The values are the same numbers either way: the output does not change.
 */

/** An empty array for objects, made with that elements kind (a `[]` holds Smis until its first push). */
function objectArray<T>(): T[] {
  const a: (T | null)[] = [null];
  a.pop();
  return a as T[];
}

/** An empty array whose elements are doubles from the start (its elements kind never changes). */
export function doubleArray(): number[] {
  const a = [0.5];
  a.pop();
  return a;
}

/** The waits of a NAPI that waited for nobody on a CPU. */
const NO_WAITS: WaitRows = { waitedFor: new Int32Array(0), ns: new Float64Array(0), from: 0, to: 0 };

/** The rows of a NAPI-CPU pair's series (NapiCpuAcc.series): poll time, polls, work (packets), full-budget polls. */
export const NAPI_BUSY = 0;
export const NAPI_POLLS = 1;
export const NAPI_WORK = 2;
export const NAPI_FULL = 3;
const NAPI_ROWS = 4;

/** No chain of full-budget polls (yet): most pairs of a stock gateway never have one. Shared and frozen: read, never written. */
const NO_CHAINS: ChainStats = Object.freeze({
  count: 0,
  lengthLog2Histogram: Object.freeze([]) as unknown as number[],
  totalPolls: 0,
  totalNs: 0,
  longest: Object.freeze([]) as unknown as ChainStats['longest'],
});

/** One NAPI on one CPU: its per-window series and the state its polls there carry over. */
export class NapiCpuAcc implements WaitNode {
  /** Its four per-window series, one grid series of NAPI_ROWS rows (NAPI_BUSY ... NAPI_FULL). */
  readonly series: GridSeries;
  /** Its waits here, set when the timeline is made (instances below; summed per core in waits.ts). */
  waitRows: WaitRows = NO_WAITS;
  /** On this CPU's pending list: last softirq poll used its whole budget (still scheduled). */
  pending = false;
  /** The lazy wait fold's state (waits.ts): this NAPI's softirq poll time on the CPU, when it last polled (the core's count), its neighbours in the core's most-recent-first list. */
  waitCum: number;
  waitSeq = 0;
  waitPrev: WaitNode | null = null;
  waitNext: WaitNode | null = null;
  /** Its running sum at its first poll of each epoch (waits.ts), and the last epoch recorded. */
  readonly histEpoch: number[] = [];
  readonly histCum = doubleArray();
  histLastEpoch = 0;
  /** While pending: the epoch its spell opened and the core's poll count then. */
  pendEpoch = 0;
  pendSeq = 0;
  /** The open occupancy run of this NAPI on this CPU (NaN: none; occEnd is read only while occStart is set), and whether its last poll was a full softirq one. */
  occStart = NaN;
  occEnd = NaN;
  occHeld = false;
  /** The open chain of full-budget polls: its length, and (while chainLen > 0) its start and end. */
  chainLen = 0;
  chainStart = NaN;
  chainEnd = NaN;
  /**
   * Its chains, made at the first one that counts (endChain): 64,011 of the 65,035 pairs of a
   * 1,024 x 128 stock synth capture never poll a whole budget twice in a row, and an object
   * with two arrays each was about 8 MB of the load's heap (bench/README.md, "One series
   * object per NAPI-CPU pair").
   */
  chains: ChainStats | undefined = undefined;
  constructor(
    g: WindowGrid,
    readonly napi: NapiAcc,
  ) {
    // Sums of ns: a double field from the start (see above).
    this.waitCum = 0.5;
    this.waitCum = 0;
    this.series = g.create(NAPI_ROWS);
  }
}

/** One NAPI instance (device, napi pointer): totals, per-CPU accumulators, moves. */
export class NapiAcc {
  readonly perCpu: (NapiCpuAcc | undefined)[] = [];
  polls = 0;
  /** Packets and poll time: sums that pass 2^31, doubles from the constructor on (see above). */
  work: number;
  full = 0;
  busyNs: number;
  threadedPolls = 0;
  readonly threadPids: number[] = [];
  /** Arrival-order segments of consecutive polls on one CPU (see settleMoves): CPU, first poll's start, last poll's end. */
  segCpu: number[] = [];
  segFirst = doubleArray();
  segLast = doubleArray();
  /** Last settled segment's CPU (-1: none yet). */
  settledCpu = -1;
  /** Per CPU, the latest end of a settled segment there (the overlap check of settleMoves). */
  readonly settledEnds = new Map<number, number>();
  /** Segments of two CPUs overlapped in time: moves is a lower bound (see settleMoves). */
  movesLowerBound = false;
  moves = 0;
  readonly moveList: { ts: Ns; from: number; to: number }[] = [];
  readonly label: string;
  constructor(
    readonly index: number,
    readonly dev: string,
    readonly napi: string,
  ) {
    this.work = 0.5;
    this.work = 0;
    this.busyNs = 0.5;
    this.busyNs = 0;
    this.label = `${dev} ${napi}`;
  }

  /** Its accumulator on `cpu`, made on first use. */
  on(cpu: number, g: WindowGrid): NapiCpuAcc {
    let nc = this.perCpu[cpu];
    if (nc === undefined) nc = this.perCpu[cpu] = new NapiCpuAcc(g, this);
    return nc;
  }
}

/** The NAPI instances seen, in order of first appearance, and the counts their polls share. */
export class NapiTable {
  private readonly byPtr = new Map<string, NapiAcc>();
  private readonly byKey = new Map<string, NapiAcc>();
  readonly list: NapiAcc[] = [];
  /** Polls counted with zero duration: no softirq or napi-thread run around them (rule 10). */
  untimedPolls = 0;
  /** Per CPU id: the lazy fold of waits (waits.ts). */
  private readonly waits: (CoreWaits | undefined)[] = [];
  /** Occupancy runs kept over all CPUs, and whether some were not (past OCCUPANCY_RUNS_MAX). */
  occupancyRuns = 0;
  occupancyCut = false;

  /** The wait fold of CPU `cpu`. */
  waitsOn(cpu: number): CoreWaits {
    let w = this.waits[cpu];
    if (w === undefined) w = this.waits[cpu] = new CoreWaits();
    return w;
  }

  /** The instance for a poll of `napi` on `dev`. */
  of(napi: string, dev: string): NapiAcc {
    let st = this.byPtr.get(napi);
    if (st !== undefined && st.dev === dev) return st;
    if (st === undefined) {
      st = new NapiAcc(this.list.length, dev, napi);
      this.list.push(st);
      this.byPtr.set(napi, st);
      return st;
    }
    // The same napi_struct address on another device (freed and reused): a second instance.
    const key = `${dev}\u0000${napi}`;
    let other = this.byKey.get(key);
    if (other === undefined) {
      other = new NapiAcc(this.list.length, dev, napi);
      this.list.push(other);
      this.byKey.set(key, other);
    }
    return other;
  }

  private waitsFolded = false;

  /**
   * The waits folded into rows (each NAPI-CPU's waitRows), the NAPIs still pending at the end
   * waiting until then (waits.ts: their spells are folded now); the fold's histories are
   * dropped (nothing reads them after: 19 MB of the load's live heap on a 1,024 x 128 stock
   * synth capture). Done by instances() when not done before.
   */
  foldWaits(): void {
    if (this.waitsFolded) return;
    this.waitsFolded = true;
    const pend: WaitNode[][] = [];
    for (const st of this.list) {
      for (let cpu = 0; cpu < st.perCpu.length; cpu++) {
        const nc = st.perCpu[cpu];
        if (nc !== undefined && nc.pending) {
          this.waitsOn(cpu);
          (pend[cpu] ??= []).push(nc);
        }
      }
    }
    for (let cpu = 0; cpu < this.waits.length; cpu++) {
      this.waits[cpu]?.finish(pend[cpu] ?? [], this.list.length, (waiter, rows) => {
        this.list[waiter]!.perCpu[cpu]!.waitRows = rows;
      });
    }
    this.waits.length = 0;
    for (const st of this.list) {
      for (const nc of st.perCpu) {
        if (nc === undefined) continue;
        nc.histEpoch.length = 0;
        nc.histCum.length = 0;
        nc.waitPrev = nc.waitNext = null;
      }
    }
  }

  /** Every instance as the timeline holds it: moves settled, open chains ended, windows [k0, k0+n). */
  instances(g: WindowGrid, k0: number, n: number): NapiInstance[] {
    this.foldWaits();
    return this.list.map((st) => {
      settleMoves(st, Infinity);
      const perCpu = new Map<number, NapiCpuSeries>();
      for (let cpu = 0; cpu < st.perCpu.length; cpu++) {
        const nc = st.perCpu[cpu];
        if (nc === undefined) continue;
        if (nc.chainLen > 0) endChain(nc);
        perCpu.set(cpu, {
          busyNs: g.extractShared(nc.series, k0, n, NAPI_BUSY),
          polls: g.extractShared(nc.series, k0, n, NAPI_POLLS),
          work: g.extractShared(nc.series, k0, n, NAPI_WORK),
          fullBudgetPolls: g.extractShared(nc.series, k0, n, NAPI_FULL),
          chains: nc.chains ?? NO_CHAINS,
          waitedForNs: nc.waitRows,
        });
      }
      return {
        index: st.index,
        dev: st.dev,
        napi: st.napi,
        totals: { polls: st.polls, work: st.work, fullBudgetPolls: st.full, busyNs: st.busyNs, threadedPolls: st.threadedPolls },
        perCpu,
        moves: st.moves,
        ...(st.movesLowerBound ? { movesLowerBound: true } : {}),
        moveList: st.moveList,
        threadPids: st.threadPids,
      };
    });
  }
}

/** Ends the NAPI's chain of full-budget polls on this CPU, counted when it has at least 2 polls. */
export function endChain(nc: NapiCpuAcc): void {
  const len = nc.chainLen;
  nc.chainLen = 0;
  if (len < 2) return;
  let ch = nc.chains;
  if (ch === undefined) {
    // A double field from the start (see above).
    ch = { count: 0, lengthLog2Histogram: [], totalPolls: 0, totalNs: 0.5, longest: objectArray() };
    ch.totalNs = 0;
    nc.chains = ch;
  }
  ch.count++;
  const b = Math.floor(Math.log2(len));
  while (ch.lengthLog2Histogram.length <= b) ch.lengthLog2Histogram.push(0);
  ch.lengthLog2Histogram[b] = ch.lengthLog2Histogram[b]! + 1;
  ch.totalPolls += len;
  ch.totalNs += nc.chainEnd - nc.chainStart;
  const longest = ch.longest;
  if (longest.length < LONGEST_CHAINS_KEPT || len > longest[longest.length - 1]!.polls) {
    // Made with double fields, then set (see above): one shape whatever the times.
    const e = { startNs: ns(0.5), endNs: ns(0.5), polls: len };
    e.startNs = ns(nc.chainStart);
    e.endNs = ns(nc.chainEnd);
    longest.push(e);
    longest.sort((x, y) => y.polls - x.polls || x.startNs - y.startNs);
    if (longest.length > LONGEST_CHAINS_KEPT) longest.pop();
  }
}

/**
 * Settles the NAPI's poll segments that end before `before`: orders them by time and counts
 * a move each time consecutive segments are on different CPUs. Segments are runs of polls on
 * one CPU in file order; per-CPU order is exact, so a segment never hides a move within
 * itself unless two CPUs polled the same NAPI in overlapping periods (then moves are a lower bound).
 */
export function settleMoves(st: NapiAcc, before: number): void {
  const n = st.segCpu.length;
  if (n === 0) return;
  const idx: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < n; i++) (st.segLast[i]! < before ? idx : rest).push(i);
  idx.sort((a, b) => st.segFirst[a]! - st.segFirst[b]! || a - b);
  for (const i of idx) {
    const cpu = st.segCpu[i]!;
    // A segment that starts before another CPU's settled segment ended: the two CPUs' polls
    // interleave in time but arrived in separate runs (bpftrace 0.17 prints each CPU's buffer
    // in turn), so the moves between them are not seen. Measured on events-softirq-3pairs: vb1
    // 4 moves counted, 90 in a time-sorted grep of its polls.
    if (!st.movesLowerBound) {
      for (const [c, end] of st.settledEnds) {
        if (c !== cpu && end > st.segFirst[i]!) {
          st.movesLowerBound = true;
          break;
        }
      }
    }
    const end = st.settledEnds.get(cpu);
    if (end === undefined || st.segLast[i]! > end) st.settledEnds.set(cpu, st.segLast[i]!);
    if (st.settledCpu >= 0 && cpu !== st.settledCpu) {
      st.moves++;
      if (st.moveList.length < MOVES_KEPT) st.moveList.push({ ts: ns(st.segFirst[i]!), from: st.settledCpu, to: cpu });
    }
    st.settledCpu = cpu;
  }
  // Rebuilt by push, not map(): the new arrays keep the elements kinds of the old (see above).
  const segCpu: number[] = [];
  const segFirst = doubleArray();
  const segLast = doubleArray();
  for (const i of rest) {
    segCpu.push(st.segCpu[i]!);
    segFirst.push(st.segFirst[i]!);
    segLast.push(st.segLast[i]!);
  }
  st.segCpu = segCpu;
  st.segFirst = segFirst;
  st.segLast = segLast;
}
