/**
 * The windows-mode output filter of `wgtrace capture` (bpftrace-scripts/windows-filter.awk
 * does the same for capture.sh). The windows script prints totals since the probes attached and
 * never clears its maps: bpftrace 0.17's clear() aborts when a key it listed is gone by the
 * time it deletes it, which concurrent updates cause, and zero() costs a second walk of every
 * key each window (bpftrace-scripts/windows.bt.in). So bpftrace prints every key seen so far
 * in every window; this keeps a window map entry only when its value changed since the filter
 * last passed that key, once per window, and drops the state maps bpftrace prints at exit.
 * Each window map holds one tuple per key (docs/capture-format.md, "Windows mode records").
 */
export const WINDOW_MAPS: ReadonlySet<string> = new Set(['@napi', '@netrx', '@nettx', '@crypt', '@idle', '@untraced']);

/** A zeroed entry: `0` (a scalar map) or `(0, 0, 0, 0)` (a tuple). */
const ZERO_TEXT = /^\(?0(?:, 0)*\)?$/;
/** A map line: key part, then `: ` and the value (a number or a tuple, never a ':'). */
const MAP_LINE = /^(.*): ([^:]*)$/;

function isZero(v: unknown): boolean {
  return v === 0 || (Array.isArray(v) && v.every((x) => x === 0));
}

export class WindowsFilter {
  /** Keys printed since the last window marker. */
  private seen = new Set<string>();
  /** Per key, the value last passed on (bounded by the script's max_map_keys). */
  private readonly last = new Map<string, string>();
  dropped = 0;

  constructor(private readonly json: boolean) {}

  /** Filters whole lines (each ending with '\n'). */
  filter(text: string): string {
    const lines = text.split('\n');
    const last = lines.pop(); // '' after the final newline
    const out: string[] = [];
    for (const l of lines) {
      const kept = this.json ? this.jsonLine(l) : this.textLine(l);
      if (kept === undefined) this.dropped++;
      else out.push(kept);
    }
    return out.length === 0 ? (last ?? '') : out.join('\n') + '\n' + (last ?? '');
  }

  private textLine(l: string): string | undefined {
    if (l.startsWith('WIN ')) {
      this.seen.clear();
      return l;
    }
    if (l === '') return undefined;
    if (l.charCodeAt(0) !== 64 /* @ */) return l;
    const name = /^@\w+/.exec(l)?.[0] ?? '';
    if (!WINDOW_MAPS.has(name)) return undefined;
    const m = MAP_LINE.exec(l);
    if (!m || ZERO_TEXT.test(m[2]!)) return undefined;
    if (this.seen.has(m[1]!)) return undefined;
    this.seen.add(m[1]!);
    if (this.last.get(m[1]!) === m[2]!) return undefined;
    this.last.set(m[1]!, m[2]!);
    return l;
  }

  /** Whether a JSON entry's value differs from the one last passed for its key (and records it). */
  private changed(id: string, v: unknown): boolean {
    const text = JSON.stringify(v);
    if (this.last.get(id) === text) return false;
    this.last.set(id, text);
    return true;
  }

  private jsonLine(l: string): string | undefined {
    if (l.trim() === '') return undefined;
    if (!l.includes('"type": "map"') && !l.includes('"type":"map"')) {
      if (l.includes('"WIN ')) this.seen.clear();
      return l;
    }
    let rec: { type: string; data: Record<string, unknown> };
    try {
      rec = JSON.parse(l) as typeof rec;
    } catch {
      return l;
    }
    const data: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(rec.data ?? {})) {
      if (!WINDOW_MAPS.has(name)) continue;
      if (typeof v === 'number' || Array.isArray(v)) {
        if (!isZero(v) && !this.seen.has(name) && this.changed(name, v)) data[name] = v;
        this.seen.add(name);
        continue;
      }
      const kept: Record<string, unknown> = {};
      for (const [k, n] of Object.entries((v ?? {}) as Record<string, unknown>)) {
        const id = `${name}[${k}]`;
        if (isZero(n) || this.seen.has(id)) continue;
        this.seen.add(id);
        if (this.changed(id, n)) kept[k] = n;
      }
      if (Object.keys(kept).length > 0) data[name] = kept;
    }
    if (Object.keys(data).length === 0) return undefined;
    return JSON.stringify({ type: 'map', data });
  }
}
