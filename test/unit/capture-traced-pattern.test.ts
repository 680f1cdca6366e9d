import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tracedPollPattern } from '../../src/capture/run.js';

/**
 * Both wrappers tell a capture whose device filter matched no poll (issue 10: never silently
 * empty) by looking for one traced poll in the file: `wgtrace capture` with tracedPollPattern,
 * capture.sh with grep and its `pat=` lines. Format 5 prints the first traced poll of a NET_RX
 * softirq as `PS`: a capture can hold only PS polls, and it matched.
 */
const SH = new URL('../../bpftrace-scripts/capture.sh', import.meta.url);
const shPattern = (key: string): string => {
  const m = new RegExp(`^\\s*${key.replace('/', '\\/')}\\) pat='([^']*)' ;;$`, 'm').exec(readFileSync(SH, 'utf8'));
  if (!m) throw new Error(`capture.sh has no pat= for ${key}`);
  return m[1]!;
};
const grepMatches = (pat: string, line: string): boolean => {
  try {
    execFileSync('grep', ['-q', '-m', '1', '-e', pat], { input: line + '\n' });
    return true;
  } catch {
    return false;
  }
};

const LINES: [string, string, boolean][] = [
  ['text', 'P 2386077080170 0 0xffff888627c2d188 wg0 64 64 0 swapper/0', true],
  ['text', 'PS 2386077080170 0 0xffff888627c2d188 wg0 64 64 0 2386077080000 swapper/0', true],
  ['text', 'PX 2386077080170 0', false],
  ['text', 'XS 2386077080170 0 2386077080000 12 iperf3', false],
  ['text', 'SE 2386077080000 0 3 0 swapper/0', false],
  ['json', '{"type": "printf", "data": "P 2386077080170 0 0xffff888627c2d188 wg0 64 64 0 swapper/0\\n"}', true],
  ['json', '{"type": "printf", "data": "PS 2386077080170 0 0xffff888627c2d188 wg0 64 64 0 2386077080000 swapper/0\\n"}', true],
  ['json', '{"type": "printf", "data": "PX 2386077080170 0\\n"}', false],
  ['json', '{"type": "printf", "data": "XS 2386077080170 0 2386077080000 12 iperf3\\n"}', false],
];

describe('a traced poll in an events capture, as both wrappers find it', () => {
  it.each(LINES)('%s: %s -> %s', (fmt, line, traced) => {
    expect(tracedPollPattern('events').test(line)).toBe(traced);
    expect(grepMatches(shPattern(`events/${fmt}`), line)).toBe(traced);
  });
});
