import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

/**
 * Capture format 5 prints a NET_RX softirq's entry with the first record inside it (PS, XS, or a
 * plain SE just before any other record: bpftrace-scripts/events.bt.in). Here a real format-4
 * capture of the testbed is rewritten the way the format-5 script would have printed it, and
 * every command must give the same result as on the original: same events, same order per CPU.
 */
function toFormat5(text: string): { text: string; folded: number } {
  const pending = new Map<string, string[]>(); // cpu -> the held SE's fields
  const out: string[] = [];
  let folded = 0;
  const flushAll = (): void => {
    for (const f of pending.values()) out.push(f.join(' '));
    pending.clear();
  };
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const tag = f[0]!;
    const isRecord = /^[A-Z]{1,2}$/.test(tag) && f.length >= 3 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!);
    if (!isRecord) {
      flushAll();
      // The header's version stays: it also says which idle records a capture has (format 4's
      // IP, read as whole-core idle), and this one (format 1) has none.
      out.push(line);
      continue;
    }
    const cpu = f[2]!;
    const se = pending.get(cpu);
    if (tag === 'SE' && f[3] === '3') {
      if (se) out.push(se.join(' '));
      pending.set(cpu, f);
      continue;
    }
    if (se) {
      pending.delete(cpu);
      const seComm = se.slice(5).join(' ');
      if (tag === 'P' && f.slice(7, 8)[0] === se[4] && f.slice(8).join(' ') === seComm) {
        // P ts cpu napi dev work budget pid comm -> PS ts cpu napi dev work budget pid entry comm
        out.push(['PS', ...f.slice(1, 8), se[1]!, ...f.slice(8)].join(' '));
        folded++;
        continue;
      }
      if (tag === 'PX') {
        out.push(['XS', f[1]!, cpu, se[1]!, se[4]!, seComm].join(' '));
        folded++;
        continue;
      }
      out.push(se.join(' '));
    }
    out.push(line);
  }
  flushAll();
  return { text: out.join('\n'), folded };
}

function captureIO(): CliIO & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTTY: false, color: false, stdout: () => out, stderr: () => err };
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIO();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

/** The fields that say how the capture was written, not what it holds. */
function normalize(json: string, file: string): unknown {
  const lineless = json
    .split(file)
    .join('FILE')
    .replace(/FILE:\d+/g, 'FILE:N');
  return JSON.parse(lineless, (k, v: unknown) => (k === 'formatVersion' || k === 'line' || k === 'lines' || k === 'ignoredLines' || k === 'skippedLines' ? undefined : v));
}

describe('capture format 5 (the NET_RX entry with its first record) against format 4', () => {
  const original = gunzipSync(readFileSync(new URL('../../traces/events-softirq-3pairs.txt.gz', import.meta.url))).toString('utf8');
  const { text, folded } = toFormat5(original);
  const dir = mkdtempSync(join(tmpdir(), 'wgtrace-f5-'));
  const f4 = join(dir, 'f4.txt');
  const f5 = join(dir, 'f5.txt');
  writeFileSync(f4, original);
  writeFileSync(f5, text);

  it('the rewrite folds most NET_RX entries into their first poll', () => {
    const entries = original.split('\n').filter((l) => /^SE \d+ \d+ 3 /.test(l)).length;
    expect(entries).toBeGreaterThan(1000);
    expect(folded / entries).toBeGreaterThan(0.9);
    expect(text.split('\n').length).toBe(original.split('\n').length - folded);
  });

  it.each([
    ['analyze', '--json'],
    ['timeline', '--json', '--columns', '40'],
    ['replay', '--json'],
  ])('%s gives the same result on both', async (cmd, ...rest) => {
    const a = await run([cmd, f4, ...rest]);
    const b = await run([cmd, f5, ...rest]);
    expect([a.code, b.code]).toEqual([0, 0]);
    // Line numbers differ (the rewrite has fewer lines); nothing else may.
    const lineless = (err: string, file: string): string =>
      err
        .split(file)
        .join('FILE')
        .replace(/FILE:\d+/g, 'FILE:N');
    expect(lineless(b.err, f5)).toBe(lineless(a.err, f4));
    expect(normalize(b.out, f5)).toEqual(normalize(a.out, f4));
  });
});
