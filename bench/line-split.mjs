// The baseline every speed bench divides by (bench/README.md): read the file in 1 MiB chunks (as
// the importers do), decode UTF-8, split lines, count them. One copy, so that import-speed and
// scaling measure against exactly the same work.
import { createReadStream } from 'node:fs';

/** Lines of a file, by the plain chunked split. */
export async function splitLines(file) {
  let rest = '';
  let lines = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, encoding: 'utf8' })) {
    const ls = (rest + chunk).split('\n');
    rest = ls.pop();
    lines += ls.length;
  }
  if (rest !== '') lines++;
  return lines;
}
