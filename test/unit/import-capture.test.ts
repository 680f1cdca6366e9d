import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  it('a truncated gzip stream is an InputError naming the file', async () => {
    const path = join(tmp, 'cut.txt.gz');
    const full = gzipSync(readFileSync(join(FIX, 'canonical.txt')));
    writeFileSync(path, full.subarray(0, full.length - 20));
    const err = await load(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).oneLine()).toMatch(/cut\.txt\.gz: gzip stream is corrupt or truncated/);
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
