import { createWriteStream, renameSync, unlinkSync } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';
import { InputError, systemErrorReason } from '../base/diagnostics.js';
import { writeSynthCapture, type Plant, type SynthOptionsInput } from './writer.js';

/**
 * Writes a synthetic capture to a file, streamed (backpressure respected), gzip-compressed when
 * the name ends in `.gz`. Like capture.sh, the file carries the name `<path>.partial` while it
 * is written and is renamed when complete; on failure the partial file is removed.
 */
export async function writeSynthFile(path: string, opts: SynthOptionsInput): Promise<Plant> {
  const tmp = `${path}.partial`;
  const file = createWriteStream(tmp);
  const gz = path.endsWith('.gz') ? createGzip({ level: 9 }) : undefined;
  if (gz) gz.pipe(file);
  const head: Writable = gz ?? file;
  const failed = new Promise<never>((_, reject) => {
    file.once('error', reject);
    gz?.once('error', reject);
  });
  failed.catch(() => undefined);
  try {
    const plant = await Promise.race([
      writeSynthCapture(opts, async (chunk) => {
        if (!head.write(chunk)) await Promise.race([once(head, 'drain'), failed]);
      }),
      failed,
    ]);
    head.end();
    await Promise.race([once(file, 'close'), failed]);
    renameSync(tmp, path);
    return plant;
  } catch (e) {
    head.destroy();
    file.destroy();
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string') throw new InputError(`cannot write: ${systemErrorReason(err, true)}`, path);
    throw e;
  }
}
