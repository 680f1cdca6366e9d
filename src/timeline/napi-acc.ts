import { ns, type Ns } from '../base/time.js';
import type { GridSeries, WindowGrid } from './grid.js';
import type { ChainStats, NapiCpuSeries, NapiInstance } from './types.js';
import { CoreWaits, endWait, type WaitNode } from './waits.js';

/** Bound on the per-chain evidence list (the longest monolithic chains of a NAPI on a CPU). */
const LONGEST_CHAINS_KEPT = 8;
/** Bound on the list of NAPI moves kept for evidence (all are counted). */
const MOVES_KEPT = 1000;

/** One NAPI on one CPU: its per-window series and the state its polls there carry over. */
export class NapiCpuAcc implements WaitNode {
  readonly busy: GridSeries;
  readonly polls: GridSeries;
  readonly work: GridSeries;
  readonly full: GridSeries;
  readonly waited = new Map<number, number>();
  /** On this CPU's pending list: last softirq poll used its whole budget (still scheduled). */
  pending = false;
  /** The lazy wait fold's state (waits.ts): this NAPI's softirq poll time on the CPU, when it last polled (the core's count), its neighbours in the core's most-recent-first list. */
  waitCum = 0;
  waitSeq = 0;
  waitPrev: WaitNode | null = null;
  waitNext: WaitNode | null = null;
  /** Its running sum at its first poll of each epoch (waits.ts), and the last epoch recorded. */
  readonly histEpoch: number[] = [];
  readonly histCum: number[] = [];
  histLastEpoch = 0;
  /** While pending: the epoch its spell opened and the core's poll count then. */
  pendEpoch = 0;
  pendSeq = 0;
  /** The open occupancy run of this NAPI on this CPU (NaN: none), and whether its last poll was a full softirq one. */
  occStart = NaN;
  occEnd = 0;
  occHeld = false;
  chainLen = 0;
  chainStart = 0;
  chainEnd = 0;
  readonly chains: ChainStats = { count: 0, lengthLog2Histogram: [], totalPolls: 0, totalNs: 0, longest: [] };
  constructor(
    g: WindowGrid,
    readonly napi: NapiAcc,
  ) {
    this.busy = g.create();
    this.polls = g.create();
    this.work = g.create();
    this.full = g.create();
  }
}

/** One NAPI instance (device, napi pointer): totals, per-CPU accumulators, moves. */
export class NapiAcc {
  readonly perCpu: (NapiCpuAcc | undefined)[] = [];
  polls = 0;
  work = 0;
  full = 0;
  busyNs = 0;
  threadedPolls = 0;
  readonly threadPids: number[] = [];
  /** Arrival-order segments of consecutive polls on one CPU (see settleMoves). */
  segCpu: number[] = [];
  segFirst: number[] = [];
  segLast: number[] = [];
  /** Last settled segment's CPU (-1: none yet). */
  settledCpu = -1;
  moves = 0;
  readonly moveList: { ts: Ns; from: number; to: number }[] = [];
  readonly label: string;
  constructor(
    readonly index: number,
    readonly dev: string,
    readonly napi: string,
  ) {
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

  /** Every instance as the timeline holds it: moves settled, open chains ended, windows [k0, k0+n). */
  instances(g: WindowGrid, k0: number, n: number): NapiInstance[] {
    // NAPIs still pending at the end waited until then (waits.ts: their spells are folded now).
    for (const st of this.list) {
      for (let cpu = 0; cpu < st.perCpu.length; cpu++) {
        const nc = st.perCpu[cpu];
        if (nc !== undefined && nc.pending) endWait(this.waitsOn(cpu), nc);
      }
    }
    return this.list.map((st) => {
      settleMoves(st, Infinity);
      const perCpu = new Map<number, NapiCpuSeries>();
      for (let cpu = 0; cpu < st.perCpu.length; cpu++) {
        const nc = st.perCpu[cpu];
        if (nc === undefined) continue;
        if (nc.chainLen > 0) endChain(nc);
        perCpu.set(cpu, {
          busyNs: g.extract(nc.busy, k0, n),
          polls: g.extract(nc.polls, k0, n),
          work: g.extract(nc.work, k0, n),
          fullBudgetPolls: g.extract(nc.full, k0, n),
          chains: nc.chains,
          waitedForNs: nc.waited,
        });
      }
      return {
        index: st.index,
        dev: st.dev,
        napi: st.napi,
        totals: { polls: st.polls, work: st.work, fullBudgetPolls: st.full, busyNs: st.busyNs, threadedPolls: st.threadedPolls },
        perCpu,
        moves: st.moves,
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
  const ch = nc.chains;
  ch.count++;
  const b = Math.floor(Math.log2(len));
  while (ch.lengthLog2Histogram.length <= b) ch.lengthLog2Histogram.push(0);
  ch.lengthLog2Histogram[b] = ch.lengthLog2Histogram[b]! + 1;
  ch.totalPolls += len;
  ch.totalNs += nc.chainEnd - nc.chainStart;
  const longest = ch.longest;
  if (longest.length < LONGEST_CHAINS_KEPT || len > longest[longest.length - 1]!.polls) {
    longest.push({ startNs: ns(nc.chainStart), endNs: ns(nc.chainEnd), polls: len });
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
    if (st.settledCpu >= 0 && cpu !== st.settledCpu) {
      st.moves++;
      if (st.moveList.length < MOVES_KEPT) st.moveList.push({ ts: ns(st.segFirst[i]!), from: st.settledCpu, to: cpu });
    }
    st.settledCpu = cpu;
  }
  st.segCpu = rest.map((i) => st.segCpu[i]!);
  st.segFirst = rest.map((i) => st.segFirst[i]!);
  st.segLast = rest.map((i) => st.segLast[i]!);
}
