import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ftraceImporter, traceCmdImporter } from '../../src/import/ftrace-text.js';
import { perfScriptImporter } from '../../src/import/perf-script.js';
import type { Importer } from '../../src/import/types.js';
import { dump, run } from './import-util.js';

/**
 * The ftrace and perf script importers read the common line in place (a fast path) and
 * everything else with the general one. A line that starts with a tab is never taken by the
 * fast path (it wants a comm right after blanks) and reads the same through the general path:
 * so the same file with every event line tab-indented must give the same events, diagnostics
 * and summary.
 */
const G = join(import.meta.dirname, '../golden/cases');
const F = join(import.meta.dirname, '../fixtures/formats');

const cases: [string, Importer, string][] = [
  ['ftrace golden', ftraceImporter, join(G, 'ftrace-two-tunnels-one-core/capture.ftrace.txt')],
  ['trace-cmd golden', traceCmdImporter, join(G, 'trace-cmd-threaded-after/capture.trace-cmd.txt')],
  ['ftrace wrapper', ftraceImporter, join(F, 'ftrace-wrapper-trace-pipe.txt')],
  ['ftrace trace file', ftraceImporter, join(F, 'ftrace-trace-file-overwritten.txt')],
  ['perf canonical', perfScriptImporter, join(F, 'canonical.perf.txt')],
  ['perf real 6.18', perfScriptImporter, join(F, 'perf-real-6.18.txt')],
  ['perf comm with spaces', perfScriptImporter, join(F, 'comm-with-spaces.perf.txt')],
  ['perf no ns', perfScriptImporter, join(F, 'perf-no-ns.txt')],
];

describe('fast path and general path read the same', () => {
  for (const [name, importer, path] of cases) {
    it(name, async () => {
      const text = readFileSync(path, 'utf8');
      const slow = text
        .split('\n')
        .map((l) => (l === '' || l.startsWith('#') || /^(cpus=|version =|CPU)/.test(l) ? l : `\t${l.trimStart()}`))
        .join('\n');
      expect(slow).not.toBe(text);
      const a = await run(importer, text);
      const b = await run(importer, slow);
      expect(a.events.length).toBeGreaterThan(0);
      expect(dump(b.events)).toEqual(dump(a.events));
      expect(b.codes).toEqual(a.codes);
      expect(b.summary).toEqual(a.summary);
    });
  }
});
