import type { Painter, StyleName } from './style.js';

/**
 * Horizontal stacked bars, one per core, like the talk's "CPU % per core" figure of gw2.
 * Each segment has its own character so the chart reads without colour; colour only adds to it.
 */
export interface BarSegment {
  key: string;
  label: string;
  char: string;
  style: StyleName;
}

/**
 * Characters per segment of `width`, rounding the cumulative sum so the whole bar is
 * `round(total * width)` and no segment that is there is lost to rounding below half a cell.
 */
export function segmentCells(values: readonly number[], width: number): number[] {
  const out: number[] = [];
  let acc = 0;
  let drawn = 0;
  for (const v of values) {
    acc += Math.max(0, v);
    const upto = Math.min(width, Math.round(acc * width));
    out.push(Math.max(0, upto - drawn));
    drawn = Math.max(drawn, upto);
  }
  return out;
}

export function stackedBar(values: readonly number[], segments: readonly BarSegment[], width: number, p: Painter): string {
  const cells = segmentCells(values, width);
  let s = '';
  let n = 0;
  cells.forEach((k, i) => {
    if (k <= 0) return;
    s += p.paint(segments[i]!.style, segments[i]!.char.repeat(k));
    n += k;
  });
  return s + ' '.repeat(Math.max(0, width - n));
}

export function legend(segments: readonly BarSegment[], p: Painter): string {
  return segments.map((s) => `${p.paint(s.style, s.char)} ${s.label}`).join('  ');
}
