import type { Timeline } from '../../timeline/types.js';
import type { AnalyzeResult } from '../schema.js';

/**
 * The time series of `wgtrace report`: per-core utilization over time by category and the
 * tunnel x core heat map, read from the same timeline `analyze` built its result from (the
 * per-window series of src/timeline/types.ts), reduced to at most `maxColumns` columns so a
 * long capture does not make a page of megabytes. A column is a whole number of windows, so
 * every value is an exact sum of windows; the exact figures are the tables' (the
 * AnalyzeResult), the charts show their shape over time.
 *
 * Values are per mille of the column's length (integers keep the page small: 0.1% is finer
 * than a pixel of an 80 px chart).
 */

/**
 * A core's time, in the order the chart stacks it (bottom up). `available: false` says the
 * capture has no data for it: the legend says so instead of drawing a zero as if measured.
 */
export const CATEGORY_KEYS = ['netRx', 'tunnelPolls', 'otherNapis', 'crypt', 'otherTraced', 'untraced', 'idle'] as const;
export type CategoryKey = (typeof CATEGORY_KEYS)[number];

export interface Category {
  key: CategoryKey;
  label: string;
  /** What it counts, for the legend. */
  means: string;
  available: boolean;
  /** Why it is not drawn, when not available. */
  missing?: string;
}

export interface CoreSeriesJson {
  cpu: number;
  /** Per category (only the available ones), per column, per mille of the column. */
  values: Partial<Record<CategoryKey, number[]>>;
}

export interface HeatRow {
  /** Index into AnalyzeResult.napis. */
  napi: number;
  dev: string;
  cpu: number;
  /** Poll time of this NAPI on this core per column, per mille of the column. */
  values: number[];
}

export interface ReportSeries {
  /** Column c covers [c*columnNs, (c+1)*columnNs) from the capture start, clipped to its end. */
  columnNs: number;
  columns: number;
  windowsPerColumn: number;
  windowNs: number;
  durationNs: number;
  categories: Category[];
  cores: CoreSeriesJson[];
  heat: HeatRow[];
}

/** About the width in pixels of a chart on a wide screen: finer columns could not be seen. */
export const DEFAULT_MAX_COLUMNS = 1600;

/** Role of a NAPI: analyze's `role` when its result has one (issue 11), else every NAPI is a tunnel, as analyze counts them today. */
function napiRoles(result: AnalyzeResult): { role: (dev: string, napi: string) => 'tunnel' | 'other'; told: boolean } {
  const withRole = result.napis as (AnalyzeResult['napis'][number] & { role?: string })[];
  const told = withRole.some((n) => n.role !== undefined);
  const map = new Map(withRole.map((n) => [`${n.dev}\u0000${n.napi}`, n.role === 'other' ? 'other' : 'tunnel'] as const));
  return { role: (dev, napi) => map.get(`${dev}\u0000${napi}`) ?? 'tunnel', told };
}

export function categories(rolesTold: boolean, idleRecorded = false): Category[] {
  return [
    { key: 'netRx', label: 'NET_RX softirq', means: 'NET_RX softirq time outside the polls it ran (net_rx_action itself)', available: true },
    { key: 'tunnelPolls', label: 'tunnel polls', means: 'NAPI polls of the tunnels, in softirq or in napi/ threads', available: true },
    rolesTold
      ? { key: 'otherNapis', label: 'other NAPIs', means: 'polls of NAPIs that are not tunnels (NIC queues, backlog)', available: true }
      : {
          key: 'otherNapis',
          label: 'other NAPIs',
          means: 'polls of NAPIs that are not tunnels',
          available: false,
          missing: 'not told apart: this analysis counts every NAPI as a tunnel',
        },
    { key: 'crypt', label: 'crypt work', means: 'wg_packet_{de,en}crypt_worker items executing', available: true },
    { key: 'otherTraced', label: 'other traced', means: 'NET_TX softirq, other workqueue items, napi/ threads outside polls', available: true },
    // With idle records (format 3: core_idle events, @idle window totals) the timeline has
    // per-window idle time: `idle` is that share and `untraced` the core's busy time beyond the
    // traced union (docs/findings.md, "Whole-core busy time").
    ...(idleRecorded
      ? [
          { key: 'untraced' as const, label: 'untraced', means: 'busy (not idle) time outside everything traced', available: true },
          { key: 'idle' as const, label: 'idle', means: 'the core ran its idle task with nothing traced on top', available: true },
        ]
      : []),
    {
      key: 'untraced',
      label: 'untraced',
      means: 'busy (not idle) time outside everything traced',
      available: false,
      missing: 'no idle records in this capture, so busy time outside the traced events is unknown',
    },
    {
      key: 'idle',
      label: 'idle',
      means: 'the core ran its idle task',
      available: false,
      missing: 'no idle records in this capture: the blank above the stack is idle or untraced work, not told apart',
    },
  ];
}

const permille = (x: number, len: number): number => (len > 0 ? Math.round((1000 * x) / len) : 0);

export function reportSeries(t: Timeline, result: AnalyzeResult, maxColumns = DEFAULT_MAX_COLUMNS): ReportSeries {
  const W = t.windowNs;
  const n = t.windowCount;
  const per = Math.max(1, Math.ceil(n / Math.max(1, maxColumns)));
  const columns = Math.ceil(n / per);
  const start = t.capture.startNs as number;
  const end = t.capture.endNs as number;
  // Length of each column: its windows, the last clipped to the capture's end.
  const len = new Float64Array(columns);
  for (let k = 0; k < n; k++) {
    const ws = start + k * W;
    len[Math.floor(k / per)]! += Math.max(0, Math.min(W, end - ws));
  }
  const sumCols = (a: Float64Array): Float64Array => {
    const out = new Float64Array(columns);
    for (let k = 0; k < n; k++) out[Math.floor(k / per)]! += a[k]!;
    return out;
  };
  const { role, told } = napiRoles(result);
  const idleRecorded = [...t.cores.values()].some((c) => c.idleRecorded);
  const cats = categories(told, idleRecorded).filter((c, i, all) => all.findIndex((x) => x.key === c.key) === i);
  const napiIndex = new Map(result.napis.map((x, i) => [`${x.dev}\u0000${x.napi}`, i] as const));

  const heat: HeatRow[] = [];
  const cores: CoreSeriesJson[] = t.cpus.map((cpu) => {
    const c = t.cores.get(cpu);
    const zero = (): number[] => new Array<number>(columns).fill(0);
    if (c === undefined) {
      const values: Partial<Record<CategoryKey, number[]>> = {};
      for (const k of cats) if (k.available) values[k.key] = zero();
      return { cpu, values };
    }
    const netRx = sumCols(c.netRxBusyNs);
    const softirqPolls = sumCols(c.pollBusyNs);
    const crypt = sumCols(c.cryptBusyNs);
    const other = sumCols(c.netTxBusyNs);
    const otherWork = sumCols(c.otherWorkBusyNs);
    const tunnel = new Float64Array(columns);
    const otherNapi = new Float64Array(columns);
    // Utilization is a share of each window: back to ns before summing windows into a column.
    const busy = new Float64Array(columns);
    for (let k = 0; k < n; k++) {
      const ws = start + k * W;
      busy[Math.floor(k / per)]! += c.utilization[k]! * Math.max(0, Math.min(W, end - ws));
    }
    for (const napi of t.napis) {
      const s = napi.perCpu.get(cpu);
      if (s === undefined) continue;
      const b = sumCols(s.busyNs);
      const into = role(napi.dev, napi.napi) === 'tunnel' || !told ? tunnel : otherNapi;
      let any = false;
      for (let i = 0; i < columns; i++) {
        into[i]! += b[i]!;
        if (b[i]! > 0) any = true;
      }
      if (any) {
        const idx = napiIndex.get(`${napi.dev}\u0000${napi.napi}`);
        if (idx !== undefined) heat.push({ napi: idx, dev: napi.dev, cpu, values: Array.from(b, (v, i) => permille(v, len[i]!)) });
      }
    }
    const v: Record<'netRx' | 'tunnelPolls' | 'otherNapis' | 'crypt' | 'otherTraced', number[]> = {
      netRx: zero(),
      tunnelPolls: zero(),
      otherNapis: zero(),
      crypt: zero(),
      otherTraced: zero(),
    };
    for (let i = 0; i < columns; i++) {
      // The rule of analyze's text chart (src/report/analyze-text.ts coreShares): slices nest
      // on a CPU (a softirq interrupts a kworker's crypt item), so the parts can add up to
      // more than the busy union; they are then scaled down to it, and what the union has
      // beyond the parts (napi/ threads outside polls) is "other traced".
      const parts = [Math.max(0, netRx[i]! - softirqPolls[i]!), tunnel[i]!, otherNapi[i]!, crypt[i]!, other[i]! + otherWork[i]!];
      const sum = parts.reduce((a, b) => a + b, 0);
      const u = busy[i]!;
      if (sum > u && sum > 0) for (let j = 0; j < parts.length; j++) parts[j] = (parts[j]! * u) / sum;
      else parts[4] = parts[4]! + (u - sum);
      v.netRx[i] = permille(parts[0]!, len[i]!);
      v.tunnelPolls[i] = permille(parts[1]!, len[i]!);
      v.otherNapis[i] = permille(parts[2]!, len[i]!);
      v.crypt[i] = permille(parts[3]!, len[i]!);
      v.otherTraced[i] = permille(parts[4]!, len[i]!);
    }
    const values: Partial<Record<CategoryKey, number[]>> = {};
    for (const k of cats) if (k.available && k.key in v) values[k.key] = v[k.key as keyof typeof v];
    if (idleRecorded) {
      // Idle and untraced: the column less the traced union is either; the idle records say
      // how much was idle (capped there: windows-mode idle includes softirqs run on the idle task).
      const idle = c.idleRecorded ? sumCols(c.idleNs) : new Float64Array(columns);
      values.idle = zero();
      values.untraced = zero();
      for (let i = 0; i < columns; i++) {
        const free = Math.max(0, len[i]! - busy[i]!);
        const id = c.idleRecorded ? Math.min(free, idle[i]!) : 0;
        values.idle[i] = permille(id, len[i]!);
        values.untraced[i] = permille(free - id, len[i]!);
      }
    }
    return { cpu, values };
  });
  heat.sort((a, b) => a.napi - b.napi || a.cpu - b.cpu);
  return { columnNs: per * W, columns, windowsPerColumn: per, windowNs: W, durationNs: t.capture.durationNs, categories: cats, cores, heat };
}
