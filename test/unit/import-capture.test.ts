import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DiagnosticLog, InputError } from '../../src/base/diagnostics.js';
import { IMPORTERS, importCapture, sniffFormat } from '../../src/import/index.js';
import type { FormatName } from '../../src/import/types.js';
import type { TraceEvent } from '../../src/model/events.js';
import { dump } from './import-util.js';

const FIX = join(import.meta.dirname, '../fixtures/formats');
const tmp = mkdtempSync(join(tmpdir(), 'wgtrace-import-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function load(path: string, opts: { format?: FormatName; strict?: boolean; stdin?: Readable } = {}) {
  const events: TraceEvent[] = [];
  let progress = 0;
  const r = await importCapture(path, { ...opts, onEvents: (b) => events.push(...b), onProgress: (n) => (progress = n) });
  return { ...r, events, progress };
}

const FILES: [string, FormatName][] = [
  ['canonical.txt', 'bpftrace-text'],
  ['canonical.json', 'bpftrace-json'],
  ['canonical.perf.txt', 'perf-script'],
  ['canonical.csv', 'csv'],
  ['windows-mode.txt', 'bpftrace-text'],
  ['windows-mode.json', 'bpftrace-json'],
  ['perf-no-ns.txt', 'perf-script'],
  ['perf-real-6.18.txt', 'perf-script'],
  ['csv-aliases.csv', 'csv'],
  ['json-0.24.json', 'bpftrace-json'],
  ['lost-events.txt', 'bpftrace-text'],
];

describe('importCapture', () => {
  it('has one importer per format name', () => {
    expect(IMPORTERS.map((i) => i.name).sort()).toEqual(['bpftrace-json', 'bpftrace-text', 'csv', 'ftrace', 'perf-script', 'trace-cmd']);
  });

  it('sniffs a bare format-5 capture whose first records are PS and XS (NET_RX entries folded into polls)', () => {
    const head = ['PS 2386077080170 0 0xffff888627c2d188 vb0 64 64 0 2386077080000 swapper/0', 'XS 2386077081170 1 2386077081000 12 iperf3'].join('\n');
    expect(sniffFormat(head)).toBe('bpftrace-text');
    expect(sniffFormat(head.split('\n')[1]!)).toBe('bpftrace-text');
  });

  for (const [file, format] of FILES) {
    it(`sniffing ${file} reaches the same result as --format ${format}`, async () => {
      const path = join(FIX, file);
      expect(sniffFormat(readFileSync(path, 'utf8').slice(0, 4096))).toBe(format);
      const explicit = await load(path, { format });
      const sniffed = await load(path);
      expect(sniffed.summary).toEqual(explicit.summary);
      expect(dump(sniffed.events)).toEqual(dump(explicit.events));
      expect(explicit.progress).toBe(readFileSync(path).length);
    });
  }

  it('reads gzip by its magic bytes, whatever the name', async () => {
    const path = join(tmp, 'capture.dat');
    writeFileSync(path, gzipSync(readFileSync(join(FIX, 'canonical.txt'))));
    const gz = await load(path);
    const plain = await load(join(FIX, 'canonical.txt'));
    expect(gz.summary).toEqual(plain.summary);
    expect(dump(gz.events)).toEqual(dump(plain.events));
  });

  // The reader reads a plain file into one buffer again and again (index.ts fileChunks) for
  // importers that keep no view of their pieces; a gzip capture is read into fresh buffers.
  // Lines of varying length cut by the 1 MiB reads at every offset: the bytes of a line held
  // over a read, or of the sniffed head, must not be overwritten by the next read.
  for (const format of ['perf-script', 'ftrace', 'bpftrace-text'] as const) {
    it(`${format}: a capture of several reads gives the same events read plain and gzipped`, async () => {
      const lines: string[] = format === 'bpftrace-text' ? ['#@wgtrace-capture 1', '#@cpus 0-3', '#@mode events'] : [];
      let size = 0;
      for (let i = 0; size < 3.3 * (1 << 20); i++) {
        const cpu = i % 4;
        const sec = 2386 + Math.floor(i / 1000);
        const frac = String((i % 1000) * 997 + 100_000).padStart(9, '0');
        const dev = `wg${i % 7}${'x'.repeat(i % 5)}`;
        const napi = `0xffff8886${String(27_000_000 + (i % 11)).padStart(8, '0')}`;
        const work = i % 65;
        if (format === 'perf-script') lines.push(`   swapper     0 [00${cpu}]  ${sec}.${frac}:   napi:napi_poll: napi poll on napi struct ${napi} for device ${dev} work ${work} budget 64`);
        else if (format === 'ftrace')
          lines.push(`          <idle>-0       [00${cpu}] ..s1. ${sec}.${frac.slice(0, 6)}: napi_poll: napi poll on napi struct ${napi} for device ${dev} work ${work} budget 64`);
        else lines.push(`P ${sec * 1e9 + Number(frac)} ${cpu} ${napi} ${dev} ${work} 64 0 swapper/${cpu}`);
        size += lines[lines.length - 1]!.length + 1;
      }
      const text = lines.join('\n') + '\n';
      expect(text.length).toBeGreaterThan(3 << 20);
      const path = join(tmp, `reads-${format}.txt`);
      writeFileSync(path, text);
      writeFileSync(path + '.gz', gzipSync(text));
      const plain = await load(path, { format });
      const gz = await load(path + '.gz', { format });
      expect(plain.events.length).toBe(lines.length - (format === 'bpftrace-text' ? 3 : 0));
      expect(plain.summary).toEqual(gz.summary);
      expect(dump(plain.events)).toEqual(dump(gz.events));
    });
  }

  // The reader keeps one read in flight while a piece is parsed (index.ts fileChunks): an
  // import that stops early (strict mode, a bad line in the first MiB) must still close the
  // file once that read is done, and fail with the bad line, not with the read.
  it.runIf(existsSync('/proc/self/fd'))('a plain capture of several reads that fails early in strict mode is closed', async () => {
    const lines = ['#@wgtrace-capture 1', '#@cpus 0-3', '#@mode events'];
    for (let i = 0; i < 60_000; i++) lines.push(`P ${2386077080170 + i * 1000} ${i & 3} 0xffff888627c2e000 wg${i % 9} ${i % 65} 64 0 swapper/0`);
    lines.splice(2000, 0, 'P not-a-timestamp 0 0xffff888627c2e000 wg1 1 64 0 swapper/0');
    const path = join(tmp, 'strict-long.txt');
    writeFileSync(path, lines.join('\n') + '\n');
    expect(statSync(path).size).toBeGreaterThan(3 << 20);
    const before = readdirSync('/proc/self/fd').length;
    const err = await load(path, { strict: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).oneLine()).toMatch(/strict-long\.txt:2001:/);
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync('/proc/self/fd').length).toBe(before);
  });

  it('a truncated gzip stream is an InputError naming the file', async () => {
    const path = join(tmp, 'cut.txt.gz');
    const full = gzipSync(readFileSync(join(FIX, 'canonical.txt')));
    writeFileSync(path, full.subarray(0, full.length - 20));
    const err = await load(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).oneLine()).toMatch(/cut\.txt\.gz: gzip stream is corrupt or truncated/);
  });

  // A corrupt stream ends gunzip while more of the file is still to be read: the file must be
  // closed then, not left to the garbage collector (Node warns, DEP0137). Linux: /proc/self/fd.
  it.runIf(existsSync('/proc/self/fd'))('a corrupt gzip capture of several reads is closed when the import fails', async () => {
    let x = 1;
    const lines: string[] = [];
    for (let i = 0; i < 300_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      lines.push(`P ${2386077080170 + i * 1000} ${x & 3} 0xffff8886${x.toString(16).padStart(8, '0')} wg${x % 9} ${x % 65} 64 0 swapper/0`);
    }
    const full = gzipSync(lines.join('\n') + '\n');
    expect(full.length).toBeGreaterThan(3 << 20);
    const path = join(tmp, 'corrupt-long.txt.gz');
    // Bytes changed early in the stream: inflating fails while most of the file is unread.
    const bad = Buffer.from(full);
    for (let i = 5000; i < 6000; i++) bad[i]! ^= 0x55;
    writeFileSync(path, bad);
    const before = readdirSync('/proc/self/fd').length;
    const err = await load(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync('/proc/self/fd').length).toBe(before);
  });

  it('reads - from stdin', async () => {
    const text = readFileSync(join(FIX, 'canonical.json'));
    // Deliver the first byte alone: the gzip peek must not break on a 1-byte first read.
    const stdin = Readable.from([text.subarray(0, 1), text.subarray(1)]);
    const r = await load('-', { stdin });
    expect(r.summary.format).toBe('bpftrace-json');
    expect(r.events).toHaveLength(13);
  });

  it('multi-byte characters split across reads decode exactly (stdin in 1-byte reads)', async () => {
    const text = Buffer.from('SE 1000 0 3 7 ünïcødé ✓\nSX 2000 0 3\n');
    const stdin = Readable.from([...text].map((byte) => Buffer.from([byte])));
    const r = await load('-', { stdin });
    expect(r.diagnostics.count('invalid-utf8')).toBe(0);
    expect(dump(r.events)).toEqual(['softirq_entry ts=0 cpu=0 vec=3 pid=7 comm=ünïcødé ✓', 'softirq_exit ts=1000 cpu=0 vec=3']);
  });

  it('a 10 MB line of multi-byte characters is skipped with its line number, memory bounded', async () => {
    const path = join(tmp, 'long.txt');
    const lines = readFileSync(join(FIX, 'canonical.txt'), 'utf8').split('\n');
    writeFileSync(path, [...lines.slice(0, 20), 'é'.repeat(5 * 1024 * 1024), ...lines.slice(20)].join('\n'));
    const r = await load(path);
    expect(r.diagnostics.count('invalid-utf8')).toBe(0);
    expect(r.diagnostics.items.filter((d) => d.code === 'line-too-long').map((d) => d.line)).toEqual([21]);
    expect(r.events).toHaveLength(13);
  });

  it('a UTF-8 byte order mark at the start is dropped', async () => {
    const path = join(tmp, 'bom.txt');
    writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(join(FIX, 'canonical.txt'))]));
    const r = await load(path);
    expect(r.summary.format).toBe('bpftrace-text');
    expect(r.summary.header?.cpus).toEqual([0, 1]);
    expect(r.diagnostics.counts.size).toBe(0);
  });

  it('a missing file is an InputError with the path', async () => {
    const err = await load(join(tmp, 'nope.txt')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).oneLine()).toBe(`${join(tmp, 'nope.txt')}: cannot read capture: no such file`);
    const dir = await load(tmp).catch((e: unknown) => e);
    expect((dir as InputError).oneLine()).toMatch(/cannot read capture: is a directory/);
  });

  it('an unrecognisable or empty file is an InputError asking for --format', async () => {
    const path = join(tmp, 'what.txt');
    writeFileSync(path, 'hello world\n');
    expect(((await load(path).catch((e: unknown) => e)) as InputError).oneLine()).toMatch(/what\.txt: cannot tell the capture's format.*--format/);
    writeFileSync(path, '');
    expect(((await load(path).catch((e: unknown) => e)) as InputError).oneLine()).toMatch(/capture is empty/);
  });

  it('invalid UTF-8 is replaced and counted, never a crash', async () => {
    const path = join(tmp, 'bad-utf8.txt');
    const good = readFileSync(join(FIX, 'canonical.txt'), 'utf8');
    writeFileSync(path, Buffer.concat([Buffer.from(good.slice(0, 200)), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('\n' + good.slice(200))]));
    const r = await load(path);
    expect(r.diagnostics.count('invalid-utf8')).toBe(1);
    expect(r.events.length).toBeGreaterThan(0);
    const strict = await load(path, { strict: true }).catch((e: unknown) => e);
    expect(strict).toBeInstanceOf(InputError);
  });

  it("uses the caller's DiagnosticLog", async () => {
    const diagnostics = new DiagnosticLog(5);
    const r = await importCapture(join(FIX, 'perf-no-ns.txt'), { onEvents: () => {}, diagnostics });
    expect(r.diagnostics).toBe(diagnostics);
    expect(diagnostics.count('no-header')).toBe(1);
  });
});
