import { describe, expect, it } from 'vitest';
import { DiagnosticLog, InputError } from '../../src/base/diagnostics.js';
import { normalizePointer, type TraceEvent } from '../../src/model/events.js';
import { importBpftraceJson } from '../../src/import/bpftrace-json.js';
import { importBpftraceText } from '../../src/import/bpftrace-text.js';
import { chunked, dump } from './import-util.js';

/**
 * The text importer's byte fast path (ASCII pieces that end with '\n', parsed from the read
 * buffer) must give exactly what the string path gives: same events, same diagnostics with the
 * same lines, same counts, same strict-mode error. Each case is imported twice: as strings
 * (string path only), and as a first string piece (which sets up the time base) followed by
 * ASCII Buffers cut at newlines (byte path, falling back per line).
 */

const HEADER = ['#@wgtrace-capture 1', '#@cpus 0-3', '#@mode events', '#@start_boot_ns 2386077000000'].join('\n');

const NORMAL = [
  'SE 2386077050028 1 3 0 swapper/1',
  'WQ 2386077050699 1 0xffff888612340000 wg_packet_decrypt_worker wg-crypt-wg0 1 1',
  'P 2386077055220 1 0xffff888627c2e000 wg1 48 64 0 swapper/1',
  'SX 2386077055720 1 3',
  'WS 2386077060188 1 0xffff888612340000 wg_packet_decrypt_worker',
  'WE 2386077085860 1 0xffff888612340000 wg_packet_decrypt_worker',
  'SI 2386077150367 1 900 napi/wg5-0',
  'SO 2386077160367 1 900 S napi/wg5-0',
  'SO 2386077170367 1 900 257 napi/wg5-0',
  'SR 2386077180367 1 3',
  'PX 2386077190367 1',
  'IE 2386077191000 1',
  'IX 2386077192000 1',
];

/** Lines the fast path must hand to the string path (or parse to the same result). */
const EDGE = [
  'SE 2386077250028 1 3 -1 swapper/1',
  'SE 2386077250029 1 3 0 ',
  'SE 2386077250030 1 3 0',
  'SE 2386077250031 1 11 0 swapper/1',
  'P 2386077255220 1 0xffff888627c2e000 wg1 48 64 0 kworker/1:2 with, spaces',
  'P 2386077255221 1 0xffff888627c2e000  wg1 48 64 0 swapper/1',
  'P 2386077255222 7 0xffff888627c2e000 wg1 48 64 0 swapper/1',
  'P 2386077255223 1 0xffff888627c2f000 wg9 48 64 0 x',
  'P 2386077255224 1 -131365202636408 wg1 48 64 0 swapper/1',
  'P 2386077255224 1 0xFFFF888627C2E000 wg1 48 64 0 swapper/1',
  'P 2386077255224 1 0xffff888627c2e00g wg1 48 64 0 swapper/1',
  'P 2386077255224 1 0xffff888627c2e0000 wg1 48 64 0 swapper/1',
  'WS 2386077260188 1 0xffff888612340000',
  'P 2386077255225 1 0xffff888627c2e000 wg1 48 64 0 swapper/1\r',
  'P 23860772552250000000 1 0xffff888627c2e000 wg1 48 64 0 swapper/1',
  'P 2386077255226 1 0xffff888627c2e000 wg1 4x8 64 0 swapper/1',
  'P 2386077255227 -0 0xffff888627c2e000 wg1 48 64 0 swapper/1',
  'SX 2386077255720 1 3 ',
  'PX 2386077255721 1 3',
  'PX 2386077255722',
  'PXX 2386077255723 1',
  'IE 2386077255724 1 ',
  'IE 2386077255725',
  'IX 2386077255726 1 0',
  'IX 2386077255727 9',
  'IX -2386077255728 1',
  'IEX 2386077255729 1',
  'SX 2386077255721 1',
  'WQ 2386077256699 1 0xffff888612340000 wg_packet_decrypt_worker wg-crypt-wg0 -1 1',
  'WQ 2386077256700 1 0xffff888612340000 wg_packet_decrypt_worker wg-crypt-wg0 1 1 extra',
  'WS 2386077260188 1 0xffff888612340000 wg_packet_decrypt_worker extra',
  'WE 2386077260189 1 nope wg_packet_decrypt_worker',
  'SO 2386077260367 1 900 D|K napi/wg5-0',
  'SO 2386077260368 1 -5 S napi/wg5-0',
  'SI 2386077260369 1 901',
  'MG 2386077260370 1 900 1 2 napi/wg5-0',
  'Lost 12 events',
  '',
  'Q 1 2',
  'S',
  'P',
  '#@status ok',
];

function capture(repeat: number): string {
  const lines = [HEADER];
  for (let i = 0; i < repeat; i++) lines.push(...NORMAL, ...EDGE);
  return lines.join('\n') + '\n';
}

async function* asBytes(text: string, piece: number): AsyncIterable<string | Buffer> {
  const buf = Buffer.from(text, 'latin1');
  // The first piece as a string: the string path sets up the time base from it.
  let pos = buf.indexOf('\n', HEADER.length + 200) + 1;
  yield buf.toString('latin1', 0, pos);
  while (pos < buf.length) {
    const nl = buf.lastIndexOf(10, Math.min(buf.length - 1, pos + piece));
    const end = nl >= pos ? nl + 1 : buf.length;
    yield buf.subarray(pos, end);
    pos = end;
  }
}

async function importWith(chunks: AsyncIterable<string | Buffer>, strict = false, json = false) {
  const events: TraceEvent[] = [];
  const diagnostics = new DiagnosticLog(1000);
  const summary = await (json ? importBpftraceJson : importBpftraceText)(chunks, { file: 'c.txt', strict, diagnostics, onEvents: (b) => events.push(...b) });
  return {
    events: dump(events),
    codes: diagnostics.items.map((d) => `${d.code}@${d.line ?? '-'} ${d.message}`),
    summary: { ...summary, origin: String(summary.origin), header: undefined },
  };
}

describe('bpftrace-text byte fast path', () => {
  it('gives the same events, diagnostics and counts as the string path', async () => {
    const text = capture(3);
    const viaStrings = await importWith(chunked(text, 4096));
    for (const piece of [64, 1000, 1 << 16]) {
      const viaBytes = await importWith(asBytes(text, piece));
      expect(viaBytes).toEqual(viaStrings);
    }
    // The cases really happened: events kept, lines skipped, comm with spaces.
    expect(viaStrings.summary.skippedLines).toBeGreaterThan(10);
    expect(viaStrings.events.some((e) => e.includes('comm=kworker/1:2 with, spaces'))).toBe(true);
    expect(viaStrings.events.filter((e) => e.startsWith('sched_switch_out') && e.includes('state=S+')).length).toBe(3);
    expect(viaStrings.events.filter((e) => e.startsWith('core_idle')).length).toBe(6);
  });

  it("keeps pointers exact past its table's growth: 40,000 distinct work pointers, mixed case, repeated", async () => {
    // Issue 16: a big gateway has one crypt work pointer per device and CPU (1,024 x 128 =
    // 131,072). The by-value table grows from 1,024 slots; every pointer, first seen or
    // repeated, must come out as normalizePointer gives it, as the string path does.
    const lines = [HEADER];
    let ts = 2386077300000;
    const ptr = (k: number) => `0xFFFFe8ff${(0x00400000 + k * 0x40).toString(16).padStart(8, '0').toUpperCase()}`;
    for (let round = 0; round < 2; round++) {
      for (let k = 0; k < 40_000; k++) {
        lines.push(`WS ${ts++} 0 ${ptr(k)} wg_packet_decrypt_worker`, `WE ${ts++} 0 ${ptr(k)} wg_packet_decrypt_worker`);
      }
    }
    const text = lines.join('\n') + '\n';
    const viaStrings = await importWith(chunked(text, 1 << 16));
    const viaBytes = await importWith(asBytes(text, 1 << 16));
    expect(viaBytes).toEqual(viaStrings);
    expect(viaBytes.events.length).toBe(160_000);
    // The normal form, checked against normalizePointer for first sightings and repeats.
    for (const i of [0, 1, 39_999, 80_000, 159_998]) {
      const k = Math.floor(i / 2) % 40_000;
      expect(viaBytes.events[i]).toContain(`work=${normalizePointer(ptr(k))}`);
    }
  });

  it('fails on the same line under --strict', async () => {
    const text = capture(2);
    const err = async (chunks: AsyncIterable<string | Buffer>) => {
      try {
        await importWith(chunks, true);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as InputError).message;
      }
      return 'no error';
    };
    const a = await err(chunked(text, 4096));
    expect(a).not.toBe('no error');
    expect(await err(asBytes(text, 100))).toBe(a);
  });

  it('gives the same results for JSON printf lines, escapes and odd shapes included', async () => {
    const json = capture(3)
      .split('\n')
      .map((l, i) => {
        if (l.startsWith('#@') || l === '') return l;
        const d = JSON.stringify(l + '\n');
        switch (i % 9) {
          case 1:
            return `{"type":"printf","data":${d}}`;
          case 2:
            return `{"type": "printf", "data": ${d}}\r`;
          case 3:
            return `{"type": "printf", "data": "${l.replace(' ', '"')}\\n"}`;
          case 4:
            return `{"type": "printf", "data": ${JSON.stringify(l)}}\n{"type": "printf", "data": "\\n"}`;
          case 5:
            return `{"type": "printf", "data": "${l}\\t\\n"}`;
          case 6:
            return `{"type": "printf", "data": ${d} }`;
          case 7:
            // A comm with a quote, escaped: valid, and it enters the intern table...
            return `{"type": "printf", "data": ${JSON.stringify(l.replace('swapper', 'swa"pper') + '\n')}}`;
          case 8:
            // ...and the same comm with a raw quote: not valid JSON, whatever the table holds.
            return `{"type": "printf", "data": "${l.replace('swapper', 'swa"pper')}\\n"}`;
          default:
            return `{"type": "printf", "data": ${d}}`;
        }
      })
      .join('\n');
    const viaStrings = await importWith(chunked(json, 4096), false, true);
    for (const piece of [64, 1000, 1 << 16]) {
      expect(await importWith(asBytes(json, piece), false, true)).toEqual(viaStrings);
    }
    expect(viaStrings.summary.skippedLines).toBeGreaterThan(10);
    expect(viaStrings.events.length).toBeGreaterThan(20);
  });
});
