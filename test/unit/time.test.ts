import { describe, expect, it } from 'vitest';
import { TimeBase, bootNs } from '../../src/base/time.js';
import { normalizePointer } from '../../src/model/events.js';

describe('TimeBase', () => {
  it('is exact past 2^53 ns of uptime (about 104 days)', () => {
    // 200 days of uptime: 17280000 s; 2^53 ns is about 9007199 s.
    const origin = bootNs(17_280_000_123_456_789n);
    const tb = new TimeBase(origin);
    expect(tb.fromNsString('17280000123456789')).toBe(0);
    expect(tb.fromNsString('17280000123456790')).toBe(1);
    expect(tb.fromNsString('17280001123456788')).toBe(999_999_999);
    expect(tb.toBoot(tb.fromNsString('17280005000000001'))).toBe(17_280_005_000_000_001n);
    // A plain Number() of the same text would round it:
    expect(Number('17280000123456790') - Number('17280000123456789')).not.toBe(1);
  });
  it('handles timestamps before the origin (other CPUs lag)', () => {
    const tb = new TimeBase(bootNs(5_000_000_000n));
    expect(tb.fromNsString('4999999000')).toBe(-1000);
    expect(tb.fromSecParts(4, 999_999_000)).toBe(-1000);
  });
  it('fromSecParts gives the exact difference below and above 2^53 ns (either computation)', () => {
    // Origins and times on both sides of 9007199 s (2^53 ns), where the single-number form stops being exact.
    const cases: [bigint, number, number][] = [
      [2_386_077_000_000n, 2386, 77_050_000],
      [2_386_077_000_000n, 2388, 999_999_999],
      [9_007_196_999_999_999n, 9_007_197, 999_999_999],
      [9_007_196_999_999_999n, 9_007_198, 1],
      [9_007_199_254_740_993n, 9_007_199, 254_740_994],
      [17_280_000_123_456_789n, 17_280_001, 123_456_788],
      [17_280_000_123_456_789n, 100, 0],
    ];
    for (const [origin, sec, sub] of cases) {
      const want = Number(BigInt(sec) * 1_000_000_000n + BigInt(sub) - origin);
      expect(new TimeBase(bootNs(origin)).fromSecParts(sec, sub)).toBe(want);
    }
  });
});

describe('normalizePointer', () => {
  it('reads %p hex, bare hex and the signed decimal bpftrace 0.17 prints in map keys', () => {
    expect(normalizePointer('0xffff888627c2d188')).toBe('0xffff888627c2d188');
    expect(normalizePointer('ffff888627c2d188')).toBe('0xffff888627c2d188');
    expect(normalizePointer('-131365202636408')).toBe('0xffff888627c2d188');
    expect(normalizePointer('18446612708506915208')).toBe('0xffff888627c2d188');
    expect(normalizePointer('vb')).toBeUndefined();
    expect(normalizePointer('99999999999999999999')).toBeUndefined();
  });
});
