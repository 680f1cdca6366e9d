import type { DurNs, Ns } from '../base/time.js';
import { KIND_RANK } from '../timeline/builder.js';
import type { Slice, SliceKind, Timeline } from '../timeline/types.js';

/**
 * Slices for an export, kept in typed-array columns instead of one `Slice` object each (about
 * 240 bytes with its strings and hidden class; issue 16 measured 430 MiB for 1 M slices).
 *
 * Per slice: start and duration (2 x 8 bytes), CPU (2), kind and clamp (1 + 1), label, napi,
 * work and budget (4 x 4): 36 bytes, in blocks of 65 536 slices so that growing never copies
 * what is already stored. Sorting adds a 4-byte index per slice for the CPU order and one for
 * the NAPI order: about 44 bytes a slice at the peak, whatever the number of slices. Labels
 * (device, function, comm) are interned: there are a few per CPU, not one per slice.
 */
const BLOCK_BITS = 16;
const BLOCK = 1 << BLOCK_BITS;
const MASK = BLOCK - 1;

const KINDS: SliceKind[] = ['net_rx', 'net_tx', 'poll', 'thread_poll', 'ksoftirqd', 'crypt_work', 'work', 'napi_thread'];
const KIND_CODE = new Map(KINDS.map((k, i) => [k, i]));
const CLAMPS: (Slice['clamped'] | undefined)[] = [undefined, 'start', 'end', 'both'];
const CLAMP_CODE = new Map<Slice['clamped'] | undefined, number>(CLAMPS.map((c, i) => [c, i]));
/** `work`, `budget` and `napiIndex` absent. */
const NONE = -1;

interface Block {
  start: Float64Array;
  dur: Float64Array;
  cpu: Uint16Array;
  kind: Uint8Array;
  clamp: Uint8Array;
  label: Uint32Array;
  napi: Int32Array;
  work: Int32Array;
  budget: Int32Array;
}

const newBlock = (): Block => ({
  start: new Float64Array(BLOCK),
  dur: new Float64Array(BLOCK),
  cpu: new Uint16Array(BLOCK),
  kind: new Uint8Array(BLOCK),
  clamp: new Uint8Array(BLOCK),
  label: new Uint32Array(BLOCK),
  napi: new Int32Array(BLOCK),
  work: new Int32Array(BLOCK),
  budget: new Int32Array(BLOCK),
});

/** Where each NAPI instance's polls are, in the order the export writes them. */
export interface PollsByNapi {
  /** NAPI indexes in order of their first poll (CPUs ascending, each CPU's slices in order). */
  napis: number[];
  /** Group g is `ids[offsets[g] .. offsets[g + 1])`, sorted by start, then end. */
  offsets: Uint32Array;
  ids: Uint32Array;
}

export class SliceStore {
  private readonly blocks: Block[] = [];
  private readonly labels: string[] = [];
  private readonly labelIds = new Map<string, number>();
  private readonly perCpu = new Map<number, number>();
  size = 0;

  static fromTimeline(tl: Timeline): SliceStore {
    const st = new SliceStore();
    for (const cpu of tl.cpus) for (const s of tl.slices?.get(cpu) ?? []) st.add(cpu, s);
    return st;
  }

  add(cpu: number, s: Slice): void {
    const id = this.size++;
    if ((id & MASK) === 0) this.blocks.push(newBlock());
    const b = this.blocks[id >>> BLOCK_BITS]!;
    const j = id & MASK;
    let l = this.labelIds.get(s.label);
    if (l === undefined) {
      l = this.labels.length;
      this.labels.push(s.label);
      this.labelIds.set(s.label, l);
    }
    b.start[j] = s.start;
    b.dur[j] = s.dur;
    b.cpu[j] = cpu;
    b.kind[j] = KIND_CODE.get(s.kind)!;
    b.clamp[j] = CLAMP_CODE.get(s.clamped)!;
    b.label[j] = l;
    b.napi[j] = s.napiIndex ?? NONE;
    b.work[j] = s.work ?? NONE;
    b.budget[j] = s.budget ?? NONE;
    this.perCpu.set(cpu, (this.perCpu.get(cpu) ?? 0) + 1);
  }

  /** Fills `into` with slice `id` (one object reused by the caller: nothing allocated per slice). */
  read(id: number, into: Slice): Slice {
    const b = this.blocks[id >>> BLOCK_BITS]!;
    const j = id & MASK;
    into.kind = KINDS[b.kind[j]!]!;
    into.start = b.start[j]! as Ns;
    into.dur = b.dur[j]! as DurNs;
    into.label = this.labels[b.label[j]!]!;
    const napi = b.napi[j]!;
    const work = b.work[j]!;
    const budget = b.budget[j]!;
    const clamp = CLAMPS[b.clamp[j]!];
    if (napi === NONE) delete into.napiIndex;
    else into.napiIndex = napi;
    if (work === NONE) delete into.work;
    else into.work = work;
    if (budget === NONE) delete into.budget;
    else into.budget = budget;
    if (clamp === undefined) delete into.clamped;
    else into.clamped = clamp;
    return into;
  }

  cpuOf(id: number): number {
    return this.blocks[id >>> BLOCK_BITS]!.cpu[id & MASK]!;
  }

  private startOf(id: number): number {
    return this.blocks[id >>> BLOCK_BITS]!.start[id & MASK]!;
  }

  private durOf(id: number): number {
    return this.blocks[id >>> BLOCK_BITS]!.dur[id & MASK]!;
  }

  private rankOf(id: number): number {
    return KIND_RANK[KINDS[this.blocks[id >>> BLOCK_BITS]!.kind[id & MASK]!]!];
  }

  /**
   * Per CPU, its slice ids in the timeline's order: by start, outer first (longer first, then
   * the enclosing kind), then as recorded (the order `TimelineBuilder.finish` gives `tl.slices`).
   */
  sortedByCpu(): Map<number, Uint32Array> {
    const out = new Map<number, Uint32Array>();
    const fill = new Map<number, number>();
    for (const [cpu, n] of this.perCpu) {
      out.set(cpu, new Uint32Array(n));
      fill.set(cpu, 0);
    }
    for (let id = 0; id < this.size; id++) {
      const cpu = this.cpuOf(id);
      const k = fill.get(cpu)!;
      out.get(cpu)![k] = id;
      fill.set(cpu, k + 1);
    }
    for (const ids of out.values()) {
      ids.sort((x, y) => this.startOf(x) - this.startOf(y) || this.durOf(y) - this.durOf(x) || this.rankOf(x) - this.rankOf(y) || x - y);
    }
    return out;
  }

  /** The polls (with a NAPI) grouped by NAPI instance, each group by start then end, ties in CPU order. */
  pollsByNapi(cpus: readonly number[], order: Map<number, Uint32Array>): PollsByNapi {
    const group = new Map<number, number>();
    const napis: number[] = [];
    const counts: number[] = [];
    const napiOf = (id: number): number => {
      const b = this.blocks[id >>> BLOCK_BITS]!;
      const j = id & MASK;
      const k = KINDS[b.kind[j]!];
      return k === 'poll' || k === 'thread_poll' ? b.napi[j]! : NONE;
    };
    for (const cpu of cpus) {
      for (const id of order.get(cpu) ?? []) {
        const napi = napiOf(id);
        if (napi === NONE) continue;
        let g = group.get(napi);
        if (g === undefined) {
          g = napis.length;
          group.set(napi, g);
          napis.push(napi);
          counts.push(0);
        }
        counts[g]!++;
      }
    }
    const offsets = new Uint32Array(napis.length + 1);
    for (let g = 0; g < napis.length; g++) offsets[g + 1] = offsets[g]! + counts[g]!;
    const ids = new Uint32Array(offsets[napis.length]!);
    const next = Uint32Array.from(offsets.subarray(0, napis.length));
    for (const cpu of cpus) {
      for (const id of order.get(cpu) ?? []) {
        const napi = napiOf(id);
        if (napi === NONE) continue;
        const g = group.get(napi)!;
        ids[next[g]!++] = id;
      }
    }
    for (let g = 0; g < napis.length; g++) {
      const part = ids.subarray(offsets[g]!, offsets[g + 1]!);
      // Sort positions, not ids, so that ties keep the CPU order they were gathered in.
      const pos = Uint32Array.from({ length: part.length }, (_, k) => k);
      const end = (id: number): number => this.startOf(id) + this.durOf(id);
      pos.sort((a, b) => this.startOf(part[a]!) - this.startOf(part[b]!) || end(part[a]!) - end(part[b]!) || a - b);
      const sorted = Uint32Array.from(pos, (k) => part[k]!);
      part.set(sorted);
    }
    return { napis, offsets, ids };
  }
}
