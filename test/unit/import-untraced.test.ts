import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCapture } from '../../src/import/index.js';
import { analyzeFile } from '../analyze-file.js';

/**
 * A device filter that matched nothing (issue 10: "a capture is never silently empty"): the
 * scripts print `@untraced[cpu, dev]: 1` at END for every device they saw polled but left out.
 * The fixtures are one events capture of a gateway whose tunnel lives in another namespace under
 * a name the default filter `wg*` does not match (text and `-f json`).
 */
const dir = join(import.meta.dirname, '..', 'fixtures', 'formats');

describe('@untraced: a device filter that matched no poll', () => {
  for (const f of ['filter-matched-nothing.txt', 'filter-matched-nothing.json']) {
    it(`${f}: the untraced devices are read, and data-quality is a critical finding naming the filter and them`, async () => {
      const { result } = await analyzeFile(join(dir, f));
      expect(result.capture.untracedDevices).toEqual(['(no_device)', 'eth0']);
      expect(result.capture.devicesGlob).toBe('wg*');
      expect(result.capture.skippedLines).toBe(0);
      const dq = result.findings.find((x) => x.id === 'data-quality');
      expect(dq?.severity).toBe('critical');
      expect(dq?.summary).toMatch(/^the device filter 'wg\*' matched no NAPI poll, while polls of \(no_device\), eth0 were seen/);
    });
  }

  it('with traced polls, untraced devices are only listed, not an error', async () => {
    const { result } = await analyzeFile(join(dir, 'canonical.txt'));
    expect(result.capture.untracedDevices).toBeUndefined();
    expect(result.findings.find((x) => x.id === 'data-quality' && /matched no NAPI poll/.test(x.summary))).toBeUndefined();
  });

  it('the state maps bpftrace prints at exit of a bare run (keyed, key-less, string values) are ignored, not skipped', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'wgtrace-state-')), 'bare.txt');
    writeFileSync(
      f,
      [
        'Attaching 9 probes...',
        '#@probes_start_boot_ns 2386077000500',
        'SE 2386077074170 0 3 0 swapper/0',
        'P 2386077080170 0 0xffff888627c2d188 wg0 64 64 0 swapper/0',
        'SX 2386077090170 0 3',
        '#@probes_stop_boot_ns 2386078000000',
        '@rx_t[0]: 2386077074170',
        '@win_t: (2386078000000, 2386077000500)',
        '@napit[812]: napi/wg0-0',
        '@wgk[812]: 1',
        '',
      ].join('\n'),
    );
    const { summary } = await importCapture(f, { onEvents: () => {} });
    expect(summary.skippedLines).toBe(0);
    expect(summary.events).toBe(3);
  });
});
