import { describe, expect, it } from 'vitest';
import { COLOCATION_MIN_SHARE, DEFAULT_THRESHOLDS, parseThresholdOverrides, thresholdKey } from '../../src/detect/thresholds.js';

describe('thresholds', () => {
  it('defaults are the named constants', () => {
    expect(DEFAULT_THRESHOLDS.colocationMinShare).toBe(COLOCATION_MIN_SHARE);
  });

  it('a threshold is named in kebab-case, camelCase or as its constant', () => {
    expect(thresholdKey('colocation-min-share')).toBe('colocationMinShare');
    expect(thresholdKey('colocationMinShare')).toBe('colocationMinShare');
    expect(thresholdKey('COLOCATION_MIN_SHARE')).toBe('colocationMinShare');
    expect(thresholdKey('colocation_min_share')).toBeUndefined();
  });

  it('overrides are validated: range, integer, number, and the relations between them', () => {
    const ok = parseThresholdOverrides(['colocation-min-share=0.2', 'SATURATED_UTIL=0.8']);
    expect(ok.ok && [ok.value.colocationMinShare, ok.value.saturatedUtil]).toEqual([0.2, 0.8]);
    const err = (p: string[]): string => {
      const r = parseThresholdOverrides(p);
      return r.ok ? 'ok' : r.error;
    };
    expect(err(['colocation-min-share=0'])).toMatch(/^--threshold colocation-min-share: /);
    expect(err(['colocation-min-windows=1.5'])).toMatch(/colocation-min-windows/);
    expect(err(['idle-util=abc'])).toMatch(/abc is not a number/);
    expect(err(['idle-util'])).toMatch(/expected name=value/);
    expect(err(['idle-util=0.95'])).toMatch(/idle-util must be below saturated-util/);
    expect(err(['nope=1'])).toMatch(/unknown threshold nope \(known: colocation-min-share, /);
  });
});
