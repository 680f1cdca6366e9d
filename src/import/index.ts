import { isAscii } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { DiagnosticLog, InputError } from '../base/diagnostics.js';
import type { TraceEvent } from '../model/events.js';
import type { CaptureHeader } from '../model/header.js';
import { bpftraceJsonImporter } from './bpftrace-json.js';
import { bpftraceTextImporter } from './bpftrace-text.js';
import { csvImporter } from './csv.js';
import { perfScriptImporter } from './perf-script.js';
import { ftraceImporter, traceCmdImporter } from './ftrace-text.js';
import { MAX_LINE_CHARS } from './common.js';
import { FORMAT_NAMES, type FormatName, type Importer, type ImportSummary } from './types.js';

/**
 * Entry point of the import layer: opens a capture (a path, or `-` for stdin), gunzips it when
 * it starts with the gzip magic bytes (whatever its name), decodes UTF-8 with replacement,
 * picks the importer (explicit format first, sniffing second) and streams events.
 */

/** Sniffing order: the most specific shapes first (a JSON line or a CSV column row would not match the text tags). */
export const IMPORTERS: readonly Importer[] = [
  bpftraceJsonImporter,
  csvImporter,
  perfScriptImporter,
  // trace-cmd report before ftrace: the same lines, told apart by trace-cmd's own header lines.
  traceCmdImporter,
  ftraceImporter,
  // Last: its sniff is the loosest, and our `#@` header, which it recognises, frames the other tracers' text too.
  bpftraceTextImporter,
];

export { FORMAT_NAMES };
export type { FormatName };

/** Bytes of decoded text the sniffers look at. */
export const SNIFF_CHARS = 64 * 1024;
/** Read size: large reads amortise the per-chunk work of the line splitter. */
const READ_CHUNK = 1 << 20;
/** RFC 1952: ID1 ID2. */
const GZIP_MAGIC = [0x1f, 0x8b];

export function importerFor(name: FormatName): Importer {
  const imp = IMPORTERS.find((i) => i.name === name);
  if (!imp) throw new InputError(`unknown format ${name}`);
  return imp;
}

/** The format of a capture from its first few KB of text, or undefined. */
export function sniffFormat(head: string): FormatName | undefined {
  for (const imp of IMPORTERS) if (imp.sniff(head)) return imp.name;
  // Only a header so far (a capture cut off before its first event): our text format.
  if (/^#@wgtrace-capture /m.test(head)) return 'bpftrace-text';
  return undefined;
}

export interface ImportCaptureOptions {
  format?: FormatName;
  strict?: boolean;
  onEvents: (batch: TraceEvent[]) => void;
  onHeader?: (h: CaptureHeader) => void;
  /** Bytes read from the file so far (compressed bytes for .gz). */
  onProgress?: (bytes: number) => void;
  diagnostics?: DiagnosticLog;
  /** Standard input, for `-` (tests pass their own). */
  stdin?: Readable;
}

function openError(path: string, e: NodeJS.ErrnoException): InputError {
  const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
  return new InputError(`cannot read capture: ${why}`, path);
}

/**
 * Whether the reader may read into the buffer it read into last (fileChunks): set once the
 * importer is known to be done with each piece before it asks for the next (Importer.piecesInPlace)
 * and the capture is not gzip (zlib keeps the buffers written to it until it has inflated them).
 */
interface ReadReuse {
  on: boolean;
  /**
   * An all-ASCII read goes on as one piece (decode): set with the importer, for those that read
   * pieces in place (their byte fast paths take a piece of any size). CSV keeps the 96 KiB
   * pieces: csv-parse took 2-3% more CPU on 1 MiB ones in two interleaved pairs (at the edge of
   * the noise, but no gain either).
   */
  wholeAscii: boolean;
}

/** Raw bytes of the input, with the first bytes peeked for the gzip magic. */
async function openBytes(path: string, stdin: Readable | undefined, reuse: ReadReuse): Promise<AsyncIterable<Buffer>> {
  if (path === '-') return (stdin ?? process.stdin) as AsyncIterable<Buffer>;
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
    const st = await fh.stat().catch(async (e: unknown) => {
      await fh.close();
      throw e;
    });
    if (st.isDirectory()) {
      await fh.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
  } catch (e) {
    throw openError(path, e as NodeJS.ErrnoException);
  }
  return fileChunks(fh, reuse);
}

/**
 * The file in reads of READ_CHUNK bytes. A fresh 1 MiB buffer per read (what a read stream
 * does) is fresh memory each time: the kernel maps and zeroes its pages on the first write,
 * and frees them after. Reading into the same two buffers again and again, when `reuse.on`,
 * halved the system time of reading a 143 MB capture (about 50 -> 25 ms of CPU here).
 *
 * One read ahead: the next read is started before a piece is handed on, so libuv's thread
 * copies the next MiB while the importer parses this one. Read after read, the main thread
 * waited on each read's round trip through the thread pool: 8-9% of a 5 M-event perf script
 * import's wall time idle (bench/README.md, "One read ahead"). One read is in flight at a
 * time, so the file position (`null`) stays sequential. A buffer goes back to the spares only
 * when it was handed on with `reuse.on` and the consumer asked for the next piece (it is done
 * with it: Importer.piecesInPlace); buffers handed on before (the sniffer may hold them) never do.
 */
async function* fileChunks(fh: FileHandle, reuse: ReadReuse): AsyncGenerator<Buffer> {
  const spare: Buffer[] = [];
  const readInto = (buf: Buffer): Promise<{ buf: Buffer; bytesRead: number }> => {
    const r = fh.read(buf, 0, READ_CHUNK, null).then(({ bytesRead }) => ({ buf, bytesRead }));
    // Marked handled: a read that fails while the piece before is parsed must not end the
    // process as an unhandled rejection; its error is thrown where it is awaited.
    r.catch(() => undefined);
    return r;
  };
  const fresh = (): Buffer => (reuse.on ? spare.pop() : undefined) ?? Buffer.allocUnsafeSlow(READ_CHUNK);
  let pending: Promise<{ buf: Buffer; bytesRead: number }> | undefined = readInto(fresh());
  try {
    for (;;) {
      const { buf, bytesRead } = await pending;
      pending = undefined;
      if (bytesRead === 0) return;
      if (bytesRead === READ_CHUNK) pending = readInto(fresh());
      const reusable = reuse.on;
      yield bytesRead === READ_CHUNK ? buf : buf.subarray(0, bytesRead);
      if (reusable && reuse.on) spare.push(buf);
      // A short read: the end of the file, or a file still growing; read on after it as before.
      pending ??= readInto(fresh());
    }
  } finally {
    // A read still in flight finishes before the file is closed (its error, if any, is moot now).
    if (pending !== undefined) await pending.catch(() => undefined);
    await fh.close();
  }
}

/**
 * Buffers -> text chunks: gunzip when the stream starts with the gzip magic, then UTF-8 with
 * replacement characters (an invalid byte never stops the import; it is counted).
 */
async function* decode(bytes: AsyncIterable<Buffer>, onProgress: ((n: number) => void) | undefined, stats: { replaced: number; gzip: boolean }, plan: ReadReuse): AsyncGenerator<string | Buffer> {
  const it = bytes[Symbol.asyncIterator]();
  let first = await it.next();
  while (!first.done && first.value.length < 2) {
    // A stream may deliver the first byte alone (stdin): gather two before peeking.
    const more = await it.next();
    if (more.done) break;
    first = { done: false, value: Buffer.concat([first.value, more.value]) };
  }
  if (first.done) return;
  let read = 0;
  async function* raw(): AsyncGenerator<Buffer> {
    try {
      read += first.value!.length;
      onProgress?.(read);
      yield first.value as Buffer;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        read += n.value.length;
        onProgress?.(read);
        yield n.value;
      }
    } finally {
      // Closes the file when the import stops early (strict mode, corrupt gzip).
      await it.return?.();
    }
  }
  let source: AsyncIterable<Buffer> = raw();
  const head = first.value as Buffer;
  if (head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) {
    stats.gzip = true;
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    const feed = (async () => {
      try {
        for await (const b of raw()) if (!gunzip.write(b)) await new Promise((r) => gunzip.once('drain', r));
        gunzip.end();
      } catch (e) {
        gunzip.destroy(e as Error);
      }
    })();
    // A corrupt stream ends gunzip while the feed may wait for a 'drain' that never comes:
    // close the file then (a FileHandle left to the garbage collector makes Node warn).
    gunzip.once('close', () => void it.return?.());
    source = gunzip as AsyncIterable<Buffer>;
    void feed;
  }
  // Decoded in pieces that end at a '\n' byte: 0x0A never occurs inside a UTF-8 sequence, so
  // each piece decodes on its own, exactly, and the importers get text chunks made of whole
  // lines. That spares the line splitter a string concatenation per chunk (a cons string it
  // must flatten), which measured about a quarter of the whole import's time.
  const dec = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  let atStart = true;
  const text = (buf: Uint8Array): string => {
    let s = dec.decode(buf);
    if (atStart) {
      atStart = false;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1); // a BOM at the very start only
    }
    if (s.indexOf('\uFFFD') >= 0) stats.replaced += countReplacement(s);
    return s;
  };
  /**
   * Text of `buf` (which ends with '\n') in pieces of at most DECODE_PIECE bytes, each cut
   * after a '\n' (a line longer than a piece stays whole). An all-ASCII piece (isAscii: a
   * SIMD check) is passed on as its bytes, which the text importer parses without decoding.
   */
  function* pieces(buf: Buffer): Generator<string | Buffer> {
    // All ASCII: one piece, never decoded (the size bound is for the strings decoding makes).
    if (plan.wholeAscii && isAscii(buf)) {
      yield buf;
      return;
    }
    let pos = 0;
    while (buf.length - pos > DECODE_PIECE) {
      const nl = buf.lastIndexOf(10, pos + DECODE_PIECE - 1);
      const end = nl >= pos ? nl + 1 : buf.indexOf(10, pos + DECODE_PIECE) + 1;
      if (end <= 0) break;
      yield ascii(buf.subarray(pos, end));
      pos = end;
    }
    if (pos < buf.length) yield ascii(pos === 0 ? buf : buf.subarray(pos));
  }
  const ascii = (buf: Buffer): string | Buffer => {
    if (!isAscii(buf)) return text(buf);
    atStart = false;
    return buf;
  };
  /** Bytes after the last '\n' seen, waiting for the rest of their line. */
  let held: Buffer[] = [];
  let heldLen = 0;
  for await (const b of source) {
    const lastNl = b.lastIndexOf(10);
    if (lastNl < 0) {
      // Copied: the reader may read into b again (fileChunks).
      held.push(Buffer.from(b));
      heldLen += b.length;
      if (heldLen > MAX_HELD_BYTES) {
        // A line longer than any we accept: pass it on in pieces cut at a character boundary
        // (the line splitter skips it), so memory stays bounded.
        const all = Buffer.concat(held);
        const cut = charBoundary(all);
        yield text(all.subarray(0, cut));
        held = cut < all.length ? [all.subarray(cut)] : [];
        heldLen = all.length - cut;
      }
      continue;
    }
    if (held.length > 0) {
      const firstNl = b.indexOf(10);
      held.push(b.subarray(0, firstNl + 1));
      yield* pieces(Buffer.concat(held));
      if (lastNl > firstNl) yield* pieces(b.subarray(firstNl + 1, lastNl + 1));
    } else {
      yield* pieces(b.subarray(0, lastNl + 1));
    }
    held = lastNl + 1 < b.length ? [Buffer.from(b.subarray(lastNl + 1))] : [];
    heldLen = b.length - lastNl - 1;
  }
  if (held.length > 0) yield text(Buffer.concat(held));
}

/**
 * Bytes decoded into one string. V8 allocates a string over kMaxRegularHeapObjectSize (128 KiB)
 * in its large-object space, page by fresh page: decoding 1 MiB pieces measured 0.85 ms/MB
 * here against 0.18 ms/MB for 60-120 KB pieces (a third of the import's time outside parsing).
 */
const DECODE_PIECE = 96 * 1024;

/** Bytes held for one unfinished line before they are passed on anyway (>= 4 bytes per character of MAX_LINE_CHARS). */
const MAX_HELD_BYTES = 4 * MAX_LINE_CHARS;

/** Length of the longest prefix of `b` that does not end inside a UTF-8 sequence. */
function charBoundary(b: Buffer): number {
  let i = b.length - 1;
  while (i > 0 && (b[i]! & 0xc0) === 0x80) i--;
  return i >= 0 && b[i]! >= 0xc0 ? i : b.length;
}

function countReplacement(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\uFFFD'); i >= 0; i = s.indexOf('\uFFFD', i + 1)) n++;
  return n;
}

/** A piece as text: an ASCII Buffer reads the same as Latin-1 and as UTF-8. */
function asString(c: string | Buffer): string {
  return typeof c === 'string' ? c : c.toString('latin1');
}

/** Holds back the first SNIFF_CHARS of text for sniffing, then replays them. */
async function peek(chunks: AsyncGenerator<string | Buffer>): Promise<{ head: string; all: AsyncIterable<string | Buffer> }> {
  const held: (string | Buffer)[] = [];
  let size = 0;
  let done = false;
  while (size < SNIFF_CHARS) {
    const n = await chunks.next();
    if (n.done) {
      done = true;
      break;
    }
    held.push(n.value);
    size += n.value.length;
  }
  const head = held.map(asString).join('').slice(0, SNIFF_CHARS);
  async function* all(): AsyncGenerator<string | Buffer> {
    yield* held;
    held.length = 0;
    if (!done) yield* chunks;
  }
  return { head, all: all() };
}

/**
 * Imports a capture file. Explicit `format` first, sniffing second. Throws InputError for a
 * missing or unreadable file, an unknown format, a gzip stream that is corrupt, and (strict)
 * the first bad line; otherwise problems are diagnostics and the import goes on.
 */
export async function importCapture(path: string, opts: ImportCaptureOptions): Promise<{ summary: ImportSummary; diagnostics: DiagnosticLog }> {
  const diagnostics = opts.diagnostics ?? new DiagnosticLog();
  const file = path;
  const reuse: ReadReuse = { on: false, wholeAscii: false };
  const bytes = await openBytes(path, opts.stdin, reuse);
  const stats = { replaced: 0, gzip: false };
  const text = decode(bytes, opts.onProgress, stats, reuse);
  let summary: ImportSummary;
  const sniffed = opts.format === undefined;
  try {
    const { head, all } = await peek(text);
    let format = opts.format;
    if (format === undefined) {
      format = sniffFormat(head);
      if (format === undefined) {
        if (head.length === 0) throw new InputError('capture is empty', file);
        // No shape matched: let every importer try the first lines, and take one only when
        // it reads them (most of the lines that look like data parse as events).
        const trials = await tryEach(head, file);
        const best = trials.filter((t) => t.readable).sort((a, b) => b.events - a.events)[0];
        if (best === undefined) {
          throw new InputError(
            `cannot tell the capture's format: no importer reads its first lines (${trials.map((t) => `${t.format}: ${t.found}`).join('; ')}); pass --format (${FORMAT_NAMES.join(', ')}) if it is one of them`,
            file,
          );
        }
        format = best.format;
        diagnostics.add({ severity: 'info', code: 'format-guessed', file, message: `format ${format} guessed by reading the first lines (${best.found})` });
      }
    }
    const importer = importerFor(format);
    // From here on, the pieces go to this importer only (peek's were read into buffers of their own).
    reuse.on = importer.piecesInPlace === true && !stats.gzip;
    reuse.wholeAscii = importer.piecesInPlace === true;
    const io = {
      file,
      strict: opts.strict ?? false,
      diagnostics,
      onEvents: opts.onEvents,
      ...(opts.onHeader ? { onHeader: opts.onHeader } : {}),
    };
    // ASCII pieces go on as bytes: the importers with a byte fast path parse them undecoded.
    summary = await importer.import(all, io);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (stats.gzip && (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR' || /unexpected end of file|incorrect header/i.test(err.message ?? ''))) {
      throw new InputError(`gzip stream is corrupt or truncated (${err.message})`, file);
    }
    if (typeof err?.code === 'string') throw openError(path, err);
    throw e;
  } finally {
    // Stop reading when an importer threw (strict) before the end.
    await text.return(undefined);
  }
  // No false success: a capture from which the importer took no event, though it had lines
  // that were not our header (malformed, prose, other events), means nothing.
  const unread = summary.skippedLines + (summary.proseLines ?? 0) + (summary.unusedEventLines ?? 0);
  if (summary.events === 0 && unread > 0) {
    const why = describe(summary);
    const how = sniffed ? `read as ${summary.format} (sniffed)` : `--format ${summary.format}`;
    throw new InputError(`${how}: no event wgtrace uses in ${summary.lines} lines (${why}); formats: ${FORMAT_NAMES.join(', ')}`, file);
  }
  if (stats.replaced > 0) {
    diagnostics.add({
      severity: 'warning',
      code: 'invalid-utf8',
      file,
      message: `${stats.replaced} invalid UTF-8 byte sequences replaced by U+FFFD (binary garbage in the capture?)`,
    });
    if (opts.strict) throw new InputError(`capture is not valid UTF-8 (${stats.replaced} bad sequences)`, file);
  }
  return { summary, diagnostics };
}

/** What an import found, in a few words: `3 malformed, 9 not trace lines, 2 of other events`. */
function describe(s: ImportSummary): string {
  const parts = [`${s.events} events`];
  if (s.skippedLines > 0) parts.push(`${s.skippedLines} malformed`);
  if ((s.proseLines ?? 0) > 0) parts.push(`${s.proseLines} not trace lines`);
  if ((s.unusedEventLines ?? 0) > 0) parts.push(`${s.unusedEventLines} of events wgtrace does not use`);
  return parts.join(', ');
}

interface Trial {
  format: FormatName;
  events: number;
  readable: boolean;
  found: string;
}

/** Every importer on the head of a capture (the last line may be cut: it is dropped), non-strict. */
async function tryEach(head: string, file: string): Promise<Trial[]> {
  const nl = head.lastIndexOf('\n');
  const text = nl >= 0 ? head.slice(0, nl + 1) : head;
  const out: Trial[] = [];
  for (const imp of IMPORTERS) {
    let events = 0;
    try {
      const s = await imp.import(
        (async function* () {
          yield text;
        })(),
        { file, strict: false, diagnostics: new DiagnosticLog(0), onEvents: (b) => (events += b.length) },
      );
      // Readable: events, and more lines read as events than lines it could not read.
      const readable = events > 0 && events >= s.skippedLines;
      out.push({ format: imp.name, events, readable, found: describe({ ...s, events }) });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      out.push({ format: imp.name, events: 0, readable: false, found: e.message.slice(0, 80) });
    }
  }
  return out;
}
