import { formatDur } from '../base/time.js';

/**
 * Deterministic text for evidence lines (no locale, no clock): detectors write evidence that
 * the text report prints as is and golden tests compare byte for byte.
 */
/**
 * Names in the order people read them ('wg2' before 'wg10'): one collator for every sort of
 * labels, the same order as `a.localeCompare(b, 'en', { numeric: true })` (ECMA-402 defines that
 * call as a compare with a new Intl.Collator of those arguments), without building one per compare.
 */
export const byName: (a: string, b: string) => number = new Intl.Collator('en', { numeric: true }).compare;

export const pct = (x: number): string => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 1 : 0)}%`;

export const dur = (ns: number): string => formatDur(Math.round(ns));

/** Seconds from the capture start, for time ranges: `1.250 s`. */
export const at = (offsetNs: number): string => `${(offsetNs / 1e9).toFixed(3)} s`;

export const range = (r: { startOffsetNs: number; endOffsetNs: number }): string => `${at(r.startOffsetNs)}-${at(r.endOffsetNs)}`;

/** Up to `max` ranges, then `+N more`. */
export function ranges(rs: readonly { startOffsetNs: number; endOffsetNs: number }[], max = 4): string {
  const shown = rs.slice(0, max).map(range).join(', ');
  return rs.length > max ? `${shown} (+${rs.length - max} more)` : shown;
}

/** 1234567 -> `1.23 M`, 12345 -> `12.3 k`, 999 -> `999`. */
export function count(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return `${Math.round(n)}`;
}

export function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

export const plural = (n: number, one: string, many = one + 's'): string => `${n} ${n === 1 ? one : many}`;

/** `0-3, 8, 10-11`: CPU ids in the kernel's cpulist style, with spaces. */
export function cpuList(cpus: readonly number[]): string {
  const s = [...cpus].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(j > i ? `${s[i]}-${s[j]}` : `${s[i]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
