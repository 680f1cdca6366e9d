import type { DurNs, Ns } from '../base/time.js';
import type { Slice, SliceKind, Timeline } from '../timeline/types.js';
import { SliceStore } from './slice-store.js';

/**
 * Chrome trace-event JSON that ui.perfetto.dev and chrome://tracing open (docs/facts.md,
 * "Perfetto's reading of Chrome trace-event JSON"):
 * - one process "CPUs" (pid 1) with one thread per CPU (tid = cpu + 1: tid 0 is the idle
 *   task's in Linux and some viewers treat it specially), named by `M` metadata events
 *   (process_name, thread_name, process_sort_index, thread_sort_index: the only ones read);
 * - the timeline's slices as `X` events on their CPU's thread, sorted by start with the outer
 *   slice first, so they nest (a poll inside its NET_RX softirq);
 * - per-core utilization per window as `C` counter events, one counter track per CPU;
 * - a second process "NAPI polls (tunnels)" (pid 2) with one thread per NAPI instance holding
 *   its polls, each named by the CPU it ran on.
 * `ts` and `dur` are microseconds with three decimals, i.e. exact nanoseconds, and relative to
 * the capture start (so they are never negative).
 *
 * Output is produced as a stream of chunks (a generator): the writer never holds the whole
 * JSON text, only the timeline and its bounded slices, kept in typed-array columns
 * (slice-store.ts: about 50 bytes a slice, all indexes included).
 */

export const PERFETTO_PID = 1;
/** Process holding one track per NAPI instance (tunnel): where each tunnel's polls ran. */
export const PERFETTO_NAPI_PID = 2;
/** Characters per chunk handed to the writer. */
const CHUNK_CHARS = 1 << 16;

const CATEGORY: Record<SliceKind, string> = {
  net_rx: 'softirq',
  net_tx: 'softirq',
  ksoftirqd: 'softirq',
  poll: 'napi',
  thread_poll: 'napi',
  napi_thread: 'thread',
  crypt_work: 'workqueue',
  work: 'workqueue',
};

export const tidOf = (cpu: number): number => cpu + 1;

/** Integer ns -> microseconds with exactly three decimals, as JSON number text. */
export function usText(nsInt: number): string {
  const neg = nsInt < 0;
  const a = Math.abs(Math.round(nsInt));
  const us = Math.floor(a / 1000);
  const frac = a - us * 1000;
  return `${neg ? '-' : ''}${us}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

function sliceName(s: Slice): string {
  switch (s.kind) {
    case 'poll':
    case 'thread_poll':
      return `poll ${s.label}`;
    case 'ksoftirqd':
      return `NET_RX in ${s.label}`;
    default:
      return s.label === '' ? s.kind : s.label;
  }
}

export interface PerfettoOptions {
  /** Shown as the process name after "CPUs". */
  title?: string;
  /** The slices to write; default: the timeline's own (`tl.slices`). */
  store?: SliceStore;
}

export function* perfettoChunks(tl: Timeline, opts: PerfettoOptions = {}): Generator<string, void, undefined> {
  const t0 = tl.capture.startNs;
  let buf =
    '{"displayTimeUnit":"ns","otherData":' +
    JSON.stringify({
      generator: 'wgtrace',
      format: tl.capture.format,
      mode: tl.capture.mode,
      originBootNs: String(tl.capture.origin),
      startNs: t0,
      durationNs: tl.capture.durationNs,
      windowNs: tl.windowNs,
      events: tl.capture.events,
      lostEvents: tl.capture.lostEvents,
      clampedSlices: tl.capture.clampedSlices,
    }) +
    ',"traceEvents":[\n';
  let first = true;
  const emit = (e: string): string | undefined => {
    buf += (first ? '' : ',\n') + e;
    first = false;
    if (buf.length >= CHUNK_CHARS) {
      const out = buf;
      buf = '';
      return out;
    }
    return undefined;
  };
  const pid = PERFETTO_PID;
  const meta = [
    `{"name":"process_name","ph":"M","pid":${pid},"tid":0,"args":{"name":${JSON.stringify(opts.title ? `CPUs (${opts.title})` : 'CPUs')}}}`,
    `{"name":"process_sort_index","ph":"M","pid":${pid},"tid":0,"args":{"sort_index":0}}`,
  ];
  for (const cpu of tl.cpus) {
    meta.push(`{"name":"thread_name","ph":"M","pid":${pid},"tid":${tidOf(cpu)},"args":{"name":"CPU ${cpu}"}}`);
    meta.push(`{"name":"thread_sort_index","ph":"M","pid":${pid},"tid":${tidOf(cpu)},"args":{"sort_index":${cpu}}}`);
  }
  for (const m of meta) {
    const c = emit(m);
    if (c !== undefined) yield c;
  }

  const store = opts.store ?? SliceStore.fromTimeline(tl);
  const order = store.sortedByCpu();
  const names = new Map<string, string>();
  const nameJson = (s: Slice): string => {
    const raw = sliceName(s);
    let j = names.get(raw);
    if (j === undefined) {
      j = JSON.stringify(raw);
      if (names.size < 100_000) names.set(raw, j);
    }
    return j;
  };
  const s: Slice = { kind: 'net_rx', start: 0 as Ns, dur: 0 as DurNs, depth: 0, label: '' };
  for (const cpu of tl.cpus) {
    const ids = order.get(cpu);
    if (ids === undefined) continue;
    const tid = tidOf(cpu);
    for (let k = 0; k < ids.length; k++) {
      store.read(ids[k]!, s);
      let args = '';
      if (s.kind === 'poll' || s.kind === 'thread_poll') {
        const n = s.napiIndex !== undefined ? tl.napis[s.napiIndex] : undefined;
        args = `"dev":${JSON.stringify(n?.dev ?? '')},"napi":"${n?.napi ?? ''}","work":${s.work ?? 0},"budget":${s.budget ?? 0}`;
      }
      if (s.clamped !== undefined) args += `${args === '' ? '' : ','}"clamped":"${s.clamped}"`;
      const c = emit(
        `{"name":${nameJson(s)},"cat":"${CATEGORY[s.kind]}","ph":"X","pid":${pid},"tid":${tid},"ts":${usText(s.start - t0)},"dur":${usText(s.dur)}${args === '' ? '' : `,"args":{${args}}`}}`,
      );
      if (c !== undefined) yield c;
    }
  }

  // One track per NAPI instance with its polls, named by the CPU they ran on: a tunnel moving
  // between cores, or several converging onto one, shows at a glance. A poll's start is the
  // earliest it can have begun (docs/timeline.md), so two CPUs' polls of one NAPI can appear to
  // overlap around a move; each start is clipped to the previous poll's end so they nest.
  const byNapi = store.pollsByNapi(tl.cpus, order);
  if (byNapi.napis.length > 0) {
    const npid = PERFETTO_NAPI_PID;
    const head = [
      `{"name":"process_name","ph":"M","pid":${npid},"tid":0,"args":{"name":"NAPI polls (tunnels)"}}`,
      `{"name":"process_sort_index","ph":"M","pid":${npid},"tid":0,"args":{"sort_index":1}}`,
    ];
    for (const i of [...byNapi.napis].sort((x, y) => x - y)) {
      const n = tl.napis[i]!;
      head.push(`{"name":"thread_name","ph":"M","pid":${npid},"tid":${i + 1},"args":{"name":${JSON.stringify(`${n.dev} ${n.napi}`)}}}`);
      head.push(`{"name":"thread_sort_index","ph":"M","pid":${npid},"tid":${i + 1},"args":{"sort_index":${i}}}`);
    }
    for (const m of head) {
      const c = emit(m);
      if (c !== undefined) yield c;
    }
    for (let g = 0; g < byNapi.napis.length; g++) {
      const i = byNapi.napis[g]!;
      let prevEnd = -Infinity;
      for (let k = byNapi.offsets[g]!; k < byNapi.offsets[g + 1]!; k++) {
        const id = byNapi.ids[k]!;
        store.read(id, s);
        const start = Math.max(s.start, prevEnd);
        const end = Math.max(s.start + s.dur, start);
        prevEnd = end;
        const cpu = store.cpuOf(id);
        const c = emit(
          `{"name":"CPU ${cpu}","cat":"napi","ph":"X","pid":${npid},"tid":${i + 1},"ts":${usText(start - t0)},"dur":${usText(end - start)},"args":{"cpu":${cpu},"work":${s.work ?? 0},"budget":${s.budget ?? 0}}}`,
        );
        if (c !== undefined) yield c;
      }
    }
  }

  // Utilization counters: one value per window at its start, and a last one at the end.
  for (const cpu of tl.cpus) {
    const core = tl.cores.get(cpu);
    if (core === undefined) continue;
    const name = `"CPU ${cpu} utilization %"`;
    let prev = -1;
    for (let k = 0; k < tl.windowCount; k++) {
      const v = Math.round(core.utilization[k]! * 1000) / 10;
      if (v === prev) continue;
      prev = v;
      const c = emit(`{"name":${name},"ph":"C","pid":${pid},"ts":${usText(k * tl.windowNs)},"args":{"util":${v}}}`);
      if (c !== undefined) yield c;
    }
    const c = emit(`{"name":${name},"ph":"C","pid":${pid},"ts":${usText(tl.capture.durationNs)},"args":{"util":${prev < 0 ? 0 : prev}}}`);
    if (c !== undefined) yield c;
    // With idle records, the core's whole busy time too (not idle, as analyze's coreBusy):
    // the traced counter above is only what the trace explains.
    if (!core.idleRecorded) continue;
    const busyName = `"CPU ${cpu} busy (not idle) %"`;
    let last = -1;
    for (let k = 0; k < tl.windowCount; k++) {
      const len = Math.min(tl.windowNs, (tl.capture.durationNs as number) - k * tl.windowNs);
      const busy = len > 0 ? Math.max(core.utilization[k]!, 1 - core.idleNs[k]! / len) : 0;
      const v = Math.round(Math.min(1, Math.max(0, busy)) * 1000) / 10;
      if (v === last) continue;
      last = v;
      const e = emit(`{"name":${busyName},"ph":"C","pid":${pid},"ts":${usText(k * tl.windowNs)},"args":{"busy":${v}}}`);
      if (e !== undefined) yield e;
    }
    const e = emit(`{"name":${busyName},"ph":"C","pid":${pid},"ts":${usText(tl.capture.durationNs)},"args":{"busy":${last < 0 ? 0 : last}}}`);
    if (e !== undefined) yield e;
  }
  yield buf + '\n]}\n';
}
