import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadTimeline } from '../../src/timeline/load.js';
import { probedSpan } from '../../src/timeline/span.js';

const TRACE = join(import.meta.dirname, '../../traces/windows-format2-softirq-3pairs.txt.gz');

/**
 * An independent reading of the same capture: the `WIN` markers and the `@napi` totals as a
 * grep would see them. Format 2 maps are totals, so a key's packets up to a window are its last
 * tuple printed at or before that window.
 */
function readRaw(text: string): { marks: bigint[]; workAt: (markIndex: number) => number } {
  const marks: bigint[] = [];
  const totals: Map<string, number>[] = [];
  const cur = new Map<string, number>();
  for (const line of text.split('\n')) {
    const w = /^WIN (\d+) \d+$/.exec(line);
    if (w) {
      if (marks.length > 0) totals.push(new Map(cur));
      marks.push(BigInt(w[1]!));
      continue;
    }
    const m = /^@napi\[(\d+), ([^,]+), (-?\d+)\]: \((\d+), (\d+), (\d+), (\d+)\)$/.exec(line);
    if (m && marks.length > 0) cur.set(`${m[1]} ${m[2]} ${m[3]}`, Number(m[6]));
  }
  totals.push(new Map(cur));
  return { marks, workAt: (i) => [...totals[i]!.values()].reduce((a, b) => a + b, 0) };
}

describe('windows mode: the last window printed after lost prints is the probes removal', () => {
  it('is left out: the probed span ends at the window before it, and the packets are the totals printed there', async () => {
    const text = gunzipSync(readFileSync(TRACE)).toString('utf8');
    const raw = readRaw(text);
    const n = raw.marks.length;
    // The capture this was found on: END's window came 382 ms after the one before it.
    expect(Number(raw.marks[n - 1]! - raw.marks[n - 2]!)).toBeGreaterThan(300e6);
    const tl = await loadTimeline(TRACE, {});
    const stop = Number(raw.marks[n - 2]! - tl.capture.origin);
    expect(tl.capture.recordedUntilNs).toBe(stop);
    expect(probedSpan(tl).to).toBe(stop - (tl.capture.startNs as number));
    let work = 0;
    for (const napi of tl.napis) for (const s of napi.perCpu.values()) for (const v of s.work) work += v;
    expect(Math.round(work)).toBe(raw.workAt(n - 2)); // (spread over grid windows: sums of fractions)
    // What the last window held is said, with its counts.
    const note = tl.diagnostics.find((d) => d.code === 'probes-removal-left-out');
    expect(note?.message).toMatch(new RegExp(`its \\d+ polls, ${raw.workAt(n - 1) - raw.workAt(n - 2)} packets and \\d+ NET_RX softirqs are left out`));
  });
});
