import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeCapture } from '../../src/report/analyze.js';

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
      const { result } = await analyzeCapture(join(dir, f));
      expect(result.capture.untracedDevices).toEqual(['(no_device)', 'eth0']);
      expect(result.capture.devicesGlob).toBe('wg*');
      expect(result.capture.skippedLines).toBe(0);
      const dq = result.findings.find((x) => x.id === 'data-quality');
      expect(dq?.severity).toBe('critical');
      expect(dq?.summary).toMatch(/^the device filter 'wg\*' matched no NAPI poll, while polls of \(no_device\), eth0 were seen/);
    });
  }

  it('with traced polls, untraced devices are only listed, not an error', async () => {
    const { result } = await analyzeCapture(join(dir, 'canonical.txt'));
    expect(result.capture.untracedDevices).toBeUndefined();
    expect(result.findings.find((x) => x.id === 'data-quality' && /matched no NAPI poll/.test(x.summary))).toBeUndefined();
  });
});
