/**
 * Time in wgtrace is integer nanoseconds with its own type (after Perfetto's ui/src/base/time.ts).
 *
 * The kernel stamps events with nanoseconds since boot (bpftrace `nsecs`, perf's
 * `sched_clock`-based time). After about 104 days of uptime that exceeds 2^53, where a JS
 * `number` silently loses precision, and production gateways run that long. So:
 *
 * - `BootNs` is an absolute boot-time timestamp, a `bigint`: exact at any uptime. It is used
 *   only at the edges (the capture's origin, bounds in `--json`).
 * - `Ns` is a timestamp *relative to the capture's origin* (`Timeline.origin`), an integer
 *   `number`. A capture would have to last 104 days before it lost precision; the hot path of
 *   every importer and of the timeline works on plain numbers.
 * - `DurNs` is a duration in nanoseconds, an integer `number`.
 */
export type BootNs = bigint & { readonly __unit: 'boot-ns' };
export type Ns = number & { readonly __unit: 'rel-ns' };
export type DurNs = number & { readonly __unit: 'dur-ns' };

export const ns = (n: number): Ns => n as Ns;
export const durNs = (n: number): DurNs => n as DurNs;
export const bootNs = (n: bigint): BootNs => n as BootNs;

const NS_PER_SEC = 1_000_000_000;
const DIGITS_SAFE = 15; // any 15-digit decimal integer is < 2^53
/** Whole seconds below which `sec * 1e9 + subNs` (subNs < 1e9) stays below 2^53. */
const SAFE_SEC = Math.floor(Number.MAX_SAFE_INTEGER / NS_PER_SEC) - 1;

/**
 * Converts absolute boot-time timestamps to `Ns` relative to an origin, exactly, without
 * allocating a bigint per event: a decimal string is split into seconds and the last nine
 * digits (nanoseconds), and each part is subtracted separately.
 */
export class TimeBase {
  readonly origin: BootNs;
  private readonly originSec: number;
  private readonly originSub: number;
  /** The origin as a number when it is below 2^53, else -1. */
  private readonly originNs: number;

  constructor(origin: BootNs) {
    this.origin = origin;
    this.originSec = Number(origin / 1_000_000_000n);
    this.originSub = Number(origin % 1_000_000_000n);
    this.originNs = origin >= 0n && origin <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(origin) : -1;
  }

  /** `s` is a non-negative decimal integer of nanoseconds since boot (digits only). */
  fromNsString(s: string): Ns {
    if (s.length <= DIGITS_SAFE) {
      const v = Number(s);
      return ((Math.floor(v / NS_PER_SEC) - this.originSec) * NS_PER_SEC + ((v % NS_PER_SEC) - this.originSub)) as Ns;
    }
    const cut = s.length - 9;
    const sec = Number(s.slice(0, cut));
    const sub = Number(s.slice(cut));
    return ((sec - this.originSec) * NS_PER_SEC + (sub - this.originSub)) as Ns;
  }

  /** Seconds and nanoseconds parts as perf prints them (`2386.077074170`, or microseconds without --ns). */
  fromSecParts(sec: number, subNs: number): Ns {
    // Below 2^53 (uptime under 104 days) every step of `sec * 1e9 + subNs - origin` is an exact
    // integer: the same value as the parts' difference below. It is also a number outside the
    // 32-bit small-integer range from the first event on (any time since boot past 2.1 s), so
    // the JIT sees the same kind of number all through a capture; the parts' difference starts
    // small and crosses 2^31 ns 2.1 s into the capture, where every function that made or read
    // a timestamp was deoptimised and compiled again (`node --trace-deopt`; bench/README.md).
    if (sec < SAFE_SEC && this.originNs >= 0) return (sec * NS_PER_SEC + subNs - this.originNs) as Ns;
    return ((sec - this.originSec) * NS_PER_SEC + (subNs - this.originSub)) as Ns;
  }

  fromBoot(b: bigint): Ns {
    return Number(b - this.origin) as Ns;
  }

  toBoot(t: Ns): BootNs {
    return (this.origin + BigInt(t)) as BootNs;
  }
}

/** Human form: `1.234 ms`, `12.5 s`. */
export function formatDur(d: number): string {
  const a = Math.abs(d);
  if (a >= NS_PER_SEC) return `${(d / NS_PER_SEC).toFixed(3)} s`;
  if (a >= 1e6) return `${(d / 1e6).toFixed(3)} ms`;
  if (a >= 1e3) return `${(d / 1e3).toFixed(1)} us`;
  return `${d} ns`;
}
