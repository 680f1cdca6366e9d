import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/base/version.js';
import { main } from '../../src/cli/main.js';
import { writeSynthCapture } from '../../src/synth/writer.js';

const root = join(import.meta.dirname, '../..');
const pkgVersion = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

describe('version', () => {
  it('comes from package.json', async () => {
    expect(VERSION).toBe(pkgVersion);
    let out = '';
    const code = await main(['--version'], { out: (t) => void (out += t), err: () => undefined, errIsTTY: false, color: false });
    expect(code).toBe(0);
    expect(out).toBe(`${pkgVersion}\n`);
  });

  it('is the #@tool_version of the captures synth writes', async () => {
    let text = '';
    await writeSynthCapture({ tunnels: 1, cpus: 2, seconds: 0.01 }, (s: string) => void (text += s));
    expect(text).toContain(`#@tool_version ${pkgVersion}\n`);
  });

  it("capture.sh's fallback (when copied to a gateway without package.json) is package.json's", () => {
    const sh = readFileSync(join(root, 'bpftrace-scripts/capture.sh'), 'utf8');
    expect(/^VERSION=(\S+)$/m.exec(sh)?.[1]).toBe(pkgVersion);
  });
});
