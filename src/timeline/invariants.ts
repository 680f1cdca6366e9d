import type { Slice, Timeline } from './types.js';

/**
 * Invariants every built timeline satisfies (docs/timeline.md, "Invariants"); the builder runs
 * this after every build and reports a violation as an error diagnostic (a violation is a bug
 * in the builder, never the input's fault: bad input is normalised before it gets here).
 */

/** Messages kept per check run; one broken rule tends to break many windows. */
const MAX_VIOLATIONS = 20;
/** Float slack for sums of integer ns in a Float64Array (exact below 2^53, so tiny). */
const EPS = 1e-6;

/**
 * Sets each slice's `depth` from the nesting: slices are sorted by start, outer first, so a
 * slice nests in every earlier slice still open at its start.
 */
export function assignDepths(list: Slice[]): void {
  const ends: number[] = [];
  for (const s of list) {
    while (ends.length > 0 && ends[ends.length - 1]! <= s.start) ends.pop();
    s.depth = ends.length;
    ends.push(s.start + s.dur);
  }
}

export function checkInvariants(tl: Timeline): string[] {
  const out: string[] = [];
  const bad = (m: string) => {
    if (out.length < MAX_VIOLATIONS) out.push(m);
  };
  const { startNs, endNs, durationNs } = tl.capture;
  if (!(endNs >= startNs)) bad(`capture end ${endNs} before start ${startNs}`);
  if (durationNs !== endNs - startNs) bad(`capture duration ${durationNs} != end - start`);
  if (!(tl.windowCount >= 1) || !(tl.windowNs > 0)) bad(`bad window grid: ${tl.windowCount} windows of ${tl.windowNs} ns`);
  for (let i = 1; i < tl.cpus.length; i++) if (!(tl.cpus[i]! > tl.cpus[i - 1]!)) bad(`cpus not ascending: ${tl.cpus.join(',')}`);

  const winLen = (i: number) => Math.min(tl.windowNs, endNs - (startNs + i * tl.windowNs));
  // A series' name is made only for a message: made for every series (four per NAPI-CPU pair)
  // the names were 21 MB of JS heap made and dropped at the end of the load on a 1,024 x 128
  // stock synth capture (262 k series). `napi` undefined: a core's series.
  const nameOf = (napi: { dev: string; napi: string } | undefined, cpu: number, field: string) => (napi === undefined ? `cpu ${cpu} ${field}` : `napi ${napi.dev} ${napi.napi} cpu ${cpu} ${field}`);
  const series = (napi: { dev: string; napi: string } | undefined, cpu: number, field: string, a: Float64Array, maxIsWindow: boolean, max1 = false) => {
    if (a.length !== tl.windowCount) {
      bad(`${nameOf(napi, cpu, field)}: length ${a.length}, expected ${tl.windowCount}`);
      return;
    }
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (!(v >= 0)) bad(`${nameOf(napi, cpu, field)}[${i}] = ${v}`);
      else if (max1 && v > 1 + EPS) bad(`${nameOf(napi, cpu, field)}[${i}] = ${v} > 1`);
      else if (maxIsWindow && v > winLen(i) + EPS) bad(`${nameOf(napi, cpu, field)}[${i}] = ${v} ns exceeds the window (${winLen(i)} ns)`);
    }
  };
  for (const cpu of tl.cpus) {
    const c = tl.cores.get(cpu);
    if (c === undefined) {
      bad(`cpu ${cpu} has no series`);
      continue;
    }
    // Windows mode sums kernel-side counters, which can exceed a window by the jitter of the
    // interval probe; only the event-built series are held to the window length.
    const strict = tl.capture.mode === 'events';
    series(undefined, cpu, 'netRxBusyNs', c.netRxBusyNs, strict);
    series(undefined, cpu, 'netRxCount', c.netRxCount, false);
    series(undefined, cpu, 'ksoftirqdNetRxBusyNs', c.ksoftirqdNetRxBusyNs, strict);
    series(undefined, cpu, 'ksoftirqdNetRxCount', c.ksoftirqdNetRxCount, false);
    series(undefined, cpu, 'netTxBusyNs', c.netTxBusyNs, strict);
    series(undefined, cpu, 'pollBusyNs', c.pollBusyNs, strict);
    series(undefined, cpu, 'threadPollBusyNs', c.threadPollBusyNs, strict);
    series(undefined, cpu, 'cryptBusyNs', c.cryptBusyNs, false);
    series(undefined, cpu, 'otherWorkBusyNs', c.otherWorkBusyNs, false);
    series(undefined, cpu, 'utilization', c.utilization, false, true);
  }
  for (const n of tl.napis) {
    for (const [cpu, s] of n.perCpu) {
      series(n, cpu, 'busyNs', s.busyNs, tl.capture.mode === 'events');
      series(n, cpu, 'polls', s.polls, false);
      series(n, cpu, 'work', s.work, false);
      series(n, cpu, 'fullBudgetPolls', s.fullBudgetPolls, false);
    }
  }

  if (tl.slices !== undefined) {
    for (const [cpu, list] of tl.slices) {
      const stack: Slice[] = [];
      let prevStart = -Infinity;
      for (const s of list) {
        const end = s.start + s.dur;
        const where = `cpu ${cpu} ${s.kind} ${s.label} [${s.start}, ${end})`;
        if (!(s.dur >= 0)) bad(`${where}: negative duration`);
        if (s.start < startNs || end > endNs) bad(`${where}: outside the capture [${startNs}, ${endNs})`);
        if (s.start < prevStart) bad(`${where}: not sorted by start`);
        prevStart = s.start;
        while (stack.length > 0 && stack[stack.length - 1]!.start + stack[stack.length - 1]!.dur <= s.start) stack.pop();
        const parent = stack[stack.length - 1];
        if (parent !== undefined && end > parent.start + parent.dur) {
          bad(`${where}: overlaps ${parent.kind} ${parent.label} [${parent.start}, ${parent.start + parent.dur}) without nesting in it`);
        }
        stack.push(s);
      }
    }
  }
  return out;
}
