import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { writeSynthFile } from '../../src/synth/file.js';

/**
 * When the grid had to widen the window to stay within its memory budget (src/timeline/grid.ts),
 * the user is told everywhere they look (issue 16): a warning on stderr, the window asked for
 * beside the one used in --json (`capture.windowAskedNs`) and on the text report's span line.
 * When it did not widen, none of it appears.
 */
const dir = mkdtempSync(join(tmpdir(), 'wgtrace-widen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, color: false });
  return { code, out, err };
}

describe('window widened to keep memory bounded', () => {
  it('is said on stderr, in --json and on the span line', async () => {
    const path = join(dir, 'cap.txt');
    // 0.4 s at a 1 us window: 400,000 windows, far past what 96 MiB holds for 8 CPUs' series.
    await writeSynthFile(path, { tunnels: 4, cpus: 8, seconds: 0.4, seed: 3 });
    const j = await run(['analyze', path, '--window', '0.001', '--json']);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.out) as { capture: { windowNs: number; windowAskedNs?: number } };
    expect(doc.capture.windowAskedNs).toBe(1000);
    // Doubled a whole number of times.
    expect(doc.capture.windowNs).toBeGreaterThan(1000);
    expect(Math.log2(doc.capture.windowNs / 1000) % 1).toBe(0);
    expect(j.err).toMatch(new RegExp(`warning: .*the window was widened from 1000 ns to ${doc.capture.windowNs} ns`));
    const t = await run(['analyze', path, '--window', '0.001']);
    expect(t.out).toMatch(/^span .*window [\d.]+ us \(widened from 1\.0 us to keep the per-window series within memory\)$/m);

    const plain = await run(['analyze', path, '--json']);
    expect(JSON.parse(plain.out).capture.windowAskedNs).toBeUndefined();
    expect(plain.err).not.toMatch(/widened/);
  });
});
