import { bootNs, ns } from '../../src/base/time.js';
import type { TraceEvent } from '../../src/model/events.js';
import type { CaptureHeader } from '../../src/model/header.js';
import type { ImportSummary } from '../../src/import/types.js';
import { TimelineBuilder } from '../../src/timeline/builder.js';
import type { Timeline, TimelineOptions } from '../../src/timeline/types.js';

/**
 * A tiny event language for timeline tests: our capture format's records (docs/capture-format.md)
 * with timestamps already relative to the origin, plus two windows-mode shorthands:
 *   WN ts interval cpu napi dev busy polls work full
 *   WC ts interval cpu netRxBusy netRxCount netTxBusy netTxCount cryptBusy cryptCount ksoftirqdCount
 * Blank lines and `#` comments are skipped; SE without pid/comm means swapper.
 */
export function events(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    const n = (i: number) => Number(f[i]);
    const rest = (i: number) => f.slice(i).join(' ');
    const ts = ns(n(1));
    const cpu = n(2);
    switch (f[0]) {
      case 'P':
        out.push({ kind: 'napi_poll', ts, cpu, napi: f[3]!, dev: f[4]!, work: n(5), budget: n(6), pid: f[7] === undefined ? 0 : n(7), comm: f[8] === undefined ? `swapper/${cpu}` : rest(8) });
        break;
      case 'PX':
        out.push({ kind: 'napi_poll_other', ts, cpu });
        break;
      case 'SE':
        out.push({ kind: 'softirq_entry', ts, cpu, vec: n(3), pid: f[4] === undefined ? 0 : n(4), comm: f[5] === undefined ? `swapper/${cpu}` : rest(5) });
        break;
      case 'SX':
        out.push({ kind: 'softirq_exit', ts, cpu, vec: n(3) });
        break;
      case 'WQ':
        out.push({ kind: 'workqueue_queue_work', ts, cpu, work: f[3]!, function: f[4]!, workqueue: f[5]!, reqCpu: n(6), targetCpu: n(7) });
        break;
      case 'WS':
        out.push({ kind: 'workqueue_execute_start', ts, cpu, work: f[3]!, function: f[4]! });
        break;
      case 'WE':
        out.push({ kind: 'workqueue_execute_end', ts, cpu, work: f[3]!, function: f[4]! });
        break;
      case 'SO':
        out.push({ kind: 'sched_switch_out', ts, cpu, pid: n(3), state: f[4]!, comm: rest(5) });
        break;
      case 'SI':
        out.push({ kind: 'sched_switch_in', ts, cpu, pid: n(3), comm: rest(4) });
        break;
      case 'WN':
        out.push({ kind: 'window_napi', ts, intervalNs: n(2), cpu: n(3), napi: f[4]!, dev: f[5]!, busyNs: n(6), polls: n(7), work: n(8), fullBudgetPolls: n(9) });
        break;
      case 'WC':
        out.push({
          kind: 'window_cpu',
          ts,
          intervalNs: n(2),
          cpu: n(3),
          netRxBusyNs: n(4),
          netRxCount: n(5),
          netTxBusyNs: n(6),
          netTxCount: n(7),
          cryptBusyNs: n(8),
          cryptCount: n(9),
          ksoftirqdNetRxCount: n(10),
        });
        break;
      case 'IE':
      case 'IX':
        out.push({ kind: 'core_idle', ts, cpu, idle: f[0] === 'IE' });
        break;
      case 'IP':
        // IP end cpu start|before|missed [prevEnd] (format 4's IP record, entry resolved as the importer does)
        if (f[3] === 'before' || f[3] === 'missed')
          out.push({ kind: 'core_idle_period', ts, cpu, entry: f[3] === 'before' ? 'before-probes' : 'missed', ...(f[4] !== undefined ? { prevEnd: ns(n(4)) } : {}) });
        else out.push({ kind: 'core_idle_period', ts, cpu, start: ns(n(3)), entry: 'seen', ...(f[4] !== undefined ? { prevEnd: ns(n(4)) } : {}) });
        break;
      case 'IO':
        // IO start cpu: idle since start when the probes detached (@idle_t at exit)
        out.push({ kind: 'core_idle_period', ts, cpu, start: ts, entry: 'open' });
        break;
      case 'LOST':
        out.push({ kind: 'lost_events', count: n(1) });
        break;
      default:
        throw new Error(`test event language: unknown record ${line}`);
    }
  }
  return out;
}

/** Origin used by tests: an arbitrary boot time. */
export const ORIGIN = 1_000_000_000n;

export function header(cpus: number[], endNs?: number, extra: Partial<CaptureHeader> = {}): CaptureHeader {
  return {
    formatVersion: 1,
    cpus,
    mode: 'events',
    devices: [],
    startBootNs: String(ORIGIN),
    ...(endNs !== undefined ? { endBootNs: String(ORIGIN + BigInt(endNs)), status: 'complete' as const } : {}),
    ...extra,
  };
}

export function summary(h: CaptureHeader | undefined, eventCount: number): ImportSummary {
  return {
    format: 'bpftrace-text',
    ...(h !== undefined ? { header: h } : {}),
    origin: bootNs(ORIGIN),
    originFromHeader: h?.startBootNs !== undefined,
    lines: eventCount,
    events: eventCount,
    lostEvents: 0,
    skippedLines: 0,
  };
}

/** Builds a timeline from batches of event text (each string is one push). */
export function build(h: CaptureHeader | undefined, batches: string[], opts: TimelineOptions = {}): Timeline {
  const b = new TimelineBuilder(opts);
  if (h !== undefined) b.header(h);
  let count = 0;
  for (const text of batches) {
    const evs = events(text);
    count += evs.length;
    b.push(evs);
  }
  return b.finish(summary(h, count));
}

/** Slices of one CPU as `kind label start+dur@depth` strings, for readable assertions. */
export function sliceLines(tl: Timeline, cpu: number): string[] {
  return (tl.slices?.get(cpu) ?? []).map((s) => `${s.kind} ${s.label} ${s.start}+${s.dur}@${s.depth}${s.clamped ? ` clamped:${s.clamped}` : ''}`);
}

export function codes(tl: Timeline): string[] {
  return tl.diagnostics.map((d) => d.code);
}
