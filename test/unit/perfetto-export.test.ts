import { describe, expect, it } from 'vitest';
import { PERFETTO_NAPI_PID, PERFETTO_PID, perfettoChunks, tidOf, usText } from '../../src/report/perfetto.js';
import { SliceStore } from '../../src/report/slice-store.js';
import type { Timeline } from '../../src/timeline/types.js';
import { build, header } from './timeline-helpers.js';

/**
 * Checks a Chrome trace-event JSON text against the fields Perfetto and chrome://tracing read
 * (docs/facts.md, "Perfetto's reading of Chrome trace-event JSON"; the Trace Event Format
 * document): returns the problems found, empty when the file is valid.
 */
function checkTraceJson(text: string): string[] {
  const bad: string[] = [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return [`not JSON: ${(e as Error).message}`];
  }
  const events = Array.isArray(doc) ? doc : (doc as { traceEvents?: unknown }).traceEvents;
  if (!Array.isArray(events)) return ['no traceEvents array'];
  // ts and dur in microseconds with at most three decimals: exact nanoseconds.
  for (const m of text.matchAll(/"(ts|dur)":(-?[0-9.eE+]+)/g)) {
    if (!/^\d+(\.\d{1,3})?$/.test(m[2]!)) bad.push(`${m[1]} ${m[2]} is not a non-negative microsecond value with at most 3 decimals`);
  }
  const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  const named = new Set<string>();
  const slices = new Map<string, { ts: number; end: number; name: string }[]>();
  for (const [i, e] of (events as Record<string, unknown>[]).entries()) {
    const where = `event ${i} (${JSON.stringify(e).slice(0, 80)})`;
    if (typeof e !== 'object' || e === null) {
      bad.push(`${where}: not an object`);
      continue;
    }
    if (!isInt(e['pid'])) bad.push(`${where}: pid must be an integer`);
    switch (e['ph']) {
      case 'M': {
        const args = e['args'] as Record<string, unknown> | undefined;
        if (e['name'] === 'process_name' || e['name'] === 'thread_name') {
          if (typeof args?.['name'] !== 'string') bad.push(`${where}: ${String(e['name'])} needs args.name`);
        } else if (e['name'] === 'process_sort_index' || e['name'] === 'thread_sort_index') {
          if (!isInt(args?.['sort_index'])) bad.push(`${where}: ${String(e['name'])} needs an integer args.sort_index`);
        } else bad.push(`${where}: metadata ${String(e['name'])} is not one Perfetto reads`);
        if (String(e['name']).startsWith('thread_')) {
          if (!isInt(e['tid'])) bad.push(`${where}: thread metadata needs an integer tid`);
          if (e['name'] === 'thread_name') named.add(`${String(e['pid'])}/${String(e['tid'])}`);
        }
        break;
      }
      case 'X': {
        if (typeof e['name'] !== 'string') bad.push(`${where}: X needs a name`);
        if (!isInt(e['tid'])) bad.push(`${where}: tid must be an integer`);
        if (typeof e['ts'] !== 'number' || typeof e['dur'] !== 'number') {
          bad.push(`${where}: X needs numeric ts and dur`);
          break;
        }
        const key = `${String(e['pid'])}/${String(e['tid'])}`;
        const list = slices.get(key) ?? [];
        list.push({ ts: Math.round(e['ts'] * 1000), end: Math.round((e['ts'] + e['dur']) * 1000), name: String(e['name']) });
        slices.set(key, list);
        break;
      }
      case 'C': {
        if (typeof e['name'] !== 'string' || typeof e['ts'] !== 'number') bad.push(`${where}: C needs a name and ts`);
        const args = e['args'] as Record<string, unknown> | undefined;
        if (typeof args !== 'object' || args === null || Object.values(args).some((v) => typeof v !== 'number')) bad.push(`${where}: C args must be numbers`);
        break;
      }
      default:
        bad.push(`${where}: unexpected phase ${String(e['ph'])}`);
    }
  }
  // X slices on one thread must nest (Perfetto moves overlapping ones to an overflow track).
  for (const [key, list] of slices) {
    if (!named.has(key)) bad.push(`thread ${key} has slices but no thread_name`);
    list.sort((a, b) => a.ts - b.ts || b.end - a.end);
    const stack: { ts: number; end: number; name: string }[] = [];
    for (const s of list) {
      while (stack.length > 0 && stack[stack.length - 1]!.end <= s.ts) stack.pop();
      const top = stack[stack.length - 1];
      if (top !== undefined && s.end > top.end) bad.push(`thread ${key}: ${s.name} [${s.ts}, ${s.end}) overlaps ${top.name} [${top.ts}, ${top.end})`);
      stack.push(s);
    }
  }
  return bad;
}

// CPU 0: NET_RX [100, 400) in ksoftirqd with polls A [100, 250) and B [250, 300), a crypt
// item [500, 800), and NET_RX open at the end (clamped). CPU 1: a napi thread [50, 300)
// with its poll [50, 200). CPU 2 idle. 5 + 2 slices.
const SAMPLE = [
  `SE 100 0 3 15 ksoftirqd/0
     P 250 0 0xa wg0 64 64 15 ksoftirqd/0
     P 300 0 0xb wg1 2 64 15 ksoftirqd/0
     SX 400 0 3
     WS 500 0 0x1 wg_packet_decrypt_worker
     WE 800 0 0x1 wg_packet_decrypt_worker
     SE 1500 0 3`,
  `SI 50 1 812 napi/wg0-0
     P 200 1 0xc wg0 7 64 812 napi/wg0-0
     SO 300 1 812 S napi/wg0-0`,
];

function sample(): Timeline {
  return build(header([0, 1, 2], 2000), SAMPLE, { windowNs: 1000, slices: {} });
}

describe('perfetto export', () => {
  it("a slice sink and the compact store write the same bytes as the timeline's own slices", () => {
    // The export command takes slices from the builder as they close (a sink) into typed-array
    // columns instead of keeping Slice objects; the order and every field must come out the same.
    const store = new SliceStore();
    const streamed = build(header([0, 1, 2], 2000), SAMPLE, { windowNs: 1000, slices: { sink: (cpu, s) => store.add(cpu, { ...s }) } });
    expect([...streamed.slices!.values()].every((l) => l.length === 0)).toBe(true);
    expect(store.size).toBe(7);
    const viaStore = [...perfettoChunks(streamed, { store })].join('');
    const viaTimeline = [...perfettoChunks(sample())].join('');
    expect(viaStore).toBe(viaTimeline);
  });

  it('writes valid Chrome trace JSON: metadata, nested X slices in exact ns, utilization counters', () => {
    const tl = sample();
    const text = [...perfettoChunks(tl, { title: 'gw "2"' })].join('');
    expect(checkTraceJson(text)).toEqual([]);
    const doc = JSON.parse(text) as { traceEvents: Record<string, unknown>[] };
    const xs = doc.traceEvents.filter((e) => e['ph'] === 'X' && e['pid'] === PERFETTO_PID);
    const nSlices = [...tl.slices!.values()].reduce((n, l) => n + l.length, 0);
    expect(xs.length).toBe(nSlices);
    expect(nSlices).toBe(7);
    // The tunnels' tracks: one thread per NAPI instance, each poll named by its CPU.
    const napiTracks = doc.traceEvents.filter((e) => e['ph'] === 'X' && e['pid'] === PERFETTO_NAPI_PID).map((e) => `${String(e['tid'])} ${String(e['name'])} ${String(e['ts'])}`);
    expect(napiTracks.sort()).toEqual(['1 CPU 0 0.1', '2 CPU 0 0.25', '3 CPU 1 0.05']);
    // The poll of A on CPU 0: [100, 250) ns -> ts 0.100 us, dur 0.150 us, thread of CPU 0.
    const a = xs.find((e) => e['name'] === 'poll wg0 0xa')!;
    expect(a).toMatchObject({ ts: 0.1, dur: 0.15, tid: tidOf(0), cat: 'napi' });
    expect(a['args']).toMatchObject({ dev: 'wg0', work: 64, budget: 64 });
    expect(text).toContain('"ts":0.100,"dur":0.150');
    const clamped = xs.find((e) => (e['args'] as Record<string, unknown> | undefined)?.['clamped'] === 'end')!;
    expect(clamped).toMatchObject({ ts: 1.5, dur: 0.5, name: 'NET_RX' });
    const names = doc.traceEvents.filter((e) => e['name'] === 'thread_name').map((e) => (e['args'] as { name: string }).name);
    expect(names).toEqual(['CPU 0', 'CPU 1', 'CPU 2', 'wg0 0xa', 'wg1 0xb', 'wg0 0xc']);
    expect(doc.traceEvents.find((e) => e['name'] === 'process_name')!['args']).toEqual({ name: 'CPUs (gw "2")' });
    // Utilization of CPU 0 in window [0, 1000): NET_RX 300 + crypt 300 = 60 %; [1000, 2000): 50 %.
    const util0 = doc.traceEvents.filter((e) => e['ph'] === 'C' && e['name'] === 'CPU 0 utilization %').map((e) => [e['ts'], (e['args'] as { util: number }).util]);
    expect(util0).toEqual([
      [0, 60],
      [1, 50],
      [2, 50],
    ]);
  });

  it("clips a NAPI's polls on its own track so they nest when it moves between CPUs", () => {
    // A is polled on CPU 0 [100, 250) and then on CPU 1, where its poll is bracketed from that
    // softirq's entry at 200 (the earliest it can have begun): [200, 300). On A's track the
    // second poll starts where the first ended: [250, 300).
    const tl = build(header([0, 1], 1000), [`SE 100 0 3\nP 250 0 0xa wg0 64 64\nSX 260 0 3`, `SE 200 1 3\nP 300 1 0xa wg0 2 64\nSX 310 1 3`], { windowNs: 1000, slices: {} });
    const text = [...perfettoChunks(tl)].join('');
    expect(checkTraceJson(text)).toEqual([]);
    const doc = JSON.parse(text) as { traceEvents: Record<string, unknown>[] };
    const track = doc.traceEvents.filter((e) => e['ph'] === 'X' && e['pid'] === PERFETTO_NAPI_PID).map((e) => [e['name'], e['ts'], e['dur']]);
    expect(track).toEqual([
      ['CPU 0', 0.1, 0.15],
      ['CPU 1', 0.25, 0.05],
    ]);
  });

  it('the checker rejects overlapping slices, float pids and unknown metadata', () => {
    const bad = JSON.stringify({
      traceEvents: [
        { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'CPU 0' } },
        { name: 'thread_label', ph: 'M', pid: 1, tid: 1, args: { label: 'x' } },
        { name: 'a', ph: 'X', pid: 1, tid: 1, ts: 0, dur: 2 },
        { name: 'b', ph: 'X', pid: 1, tid: 1, ts: 1, dur: 2 },
        { name: 'c', ph: 'X', pid: 1.5, tid: 1, ts: 0.0001, dur: 1 },
      ],
    });
    const problems = checkTraceJson(bad);
    expect(problems.some((p) => p.includes('overlaps'))).toBe(true);
    expect(problems.some((p) => p.includes('pid must be an integer'))).toBe(true);
    expect(problems.some((p) => p.includes('thread_label'))).toBe(true);
    expect(problems.some((p) => p.includes('0.0001'))).toBe(true);
  });

  it('streams in bounded chunks and stays valid with many slices', () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(`SE ${i * 100} 0 3`, `P ${i * 100 + 40} 0 0xa wg0 64 64`, `P ${i * 100 + 60} 0 0xb wg1 3 64`, `SX ${i * 100 + 70} 0 3`);
    const tl = build(header([0], 300_000), [lines.join('\n')], { windowNs: 10_000, slices: {} });
    const chunks = [...perfettoChunks(tl)];
    expect(chunks.length).toBeGreaterThan(5);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(2 * 65536);
    expect(checkTraceJson(chunks.join(''))).toEqual([]);
  });

  it('prints microseconds with exactly three decimals', () => {
    expect(usText(0)).toBe('0.000');
    expect(usText(5)).toBe('0.005');
    expect(usText(1234567)).toBe('1234.567');
    expect(usText(9_007_199_254_740)).toBe('9007199254.740');
  });
});
