import { durNs, ns } from '../base/time.js';
import type { Slice, SliceKind, SliceRequest } from './types.js';

/** How a slice was cut by the capture's bounds (Slice.clamped): not, at its start, at its end. */
export const CLAMP_START = 1;
export const CLAMP_END = 2;

/** Which slice kind encloses which when two share start and end: threads run work and softirqs, softirqs run polls. */
export const KIND_RANK: Record<SliceKind, number> = { napi_thread: 0, work: 1, crypt_work: 1, net_rx: 2, ksoftirqd: 2, net_tx: 2, poll: 3, thread_poll: 3 };

/** Where a CPU keeps its slices: undefined when none were asked for on it. */
export interface SliceOwner {
  readonly cpu: number;
  readonly slices: Slice[] | undefined;
}

/**
 * The individual slices a command asked for (`SliceRequest`): a time range, a CPU list and a
 * bound. Every series counts every slice; only these are kept as objects (docs/timeline.md).
 */
export class SliceKeeper {
  readonly request: SliceRequest | undefined;
  private readonly cpus: Set<number> | undefined;
  private readonly from: number;
  private readonly to: number;
  readonly max: number;
  private readonly sink: ((cpu: number, s: Slice) => void) | undefined;
  private kept = 0;
  /** Slices past `max`, not kept (still counted in every series). */
  cut = 0;

  constructor(req: SliceRequest | undefined) {
    this.request = req;
    this.cpus = req?.cpus ? new Set(req.cpus) : undefined;
    this.from = req?.from ?? -Infinity;
    this.to = req?.to ?? Infinity;
    this.max = req?.maxSlices ?? Infinity;
    this.sink = req?.sink;
  }

  /** Slices are kept for this CPU (a list to hand to its state), else undefined. */
  listFor(cpu: number): Slice[] | undefined {
    return this.request !== undefined && (this.cpus === undefined || this.cpus.has(cpu)) ? [] : undefined;
  }

  /** The CPU's slices go into the timeline (a request without a CPU list takes every CPU). */
  wants(cpu: number): boolean {
    return this.cpus === undefined || this.cpus.has(cpu);
  }

  keep(c: SliceOwner, kind: SliceKind, start: number, end: number, label: string, clamp: number, napiIndex?: number, work?: number, budget?: number): void {
    if (c.slices === undefined || end < this.from || start > this.to) return;
    if (this.kept >= this.max) {
      this.cut++;
      return;
    }
    this.kept++;
    const s: Slice = { kind, start: ns(start), dur: durNs(end - start), depth: 0, label };
    if (napiIndex !== undefined) s.napiIndex = napiIndex;
    if (work !== undefined) s.work = work;
    if (budget !== undefined) s.budget = budget;
    if (clamp !== 0) s.clamped = clamp === CLAMP_START ? 'start' : clamp === CLAMP_END ? 'end' : 'both';
    if (this.sink !== undefined) this.sink(c.cpu, s);
    else c.slices.push(s);
  }
}
