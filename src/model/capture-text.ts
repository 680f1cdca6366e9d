import { CaptureHeader, type CounterSnapshot, type DeviceInfo } from './header.js';

/** The newest capture format this wgtrace reads and writes (docs/capture-format.md). */
export const FORMAT_VERSION_MAX = 5;

/**
 * The `#@key value` header and trailer lines of our capture format (docs/capture-format.md),
 * parsed into and written from `CaptureHeader`. Shared by the importers (which read them
 * line by line, interleaved with events), the capture command (which writes them from Node)
 * and the synthetic capture writer.
 *
 * Parsing is incremental: feed every `#@` line to `parseHeaderLine(state, line, lineNo)` in
 * file order, then call `finishHeader(state)`. Problems never throw; they are returned as
 * `HeaderIssue`s that the importer turns into diagnostics with the file name.
 */

export interface HeaderIssue {
  severity: 'error' | 'warning' | 'info';
  /** `duplicate-header`, `contradictory-header`, `bad-header-value`, `unknown-header-key`, `header-invalid`. */
  code: string;
  line?: number;
  message: string;
}

type Scalar = Exclude<keyof CaptureHeader, 'devices' | 'countersBefore' | 'countersAfter' | 'cpus'> | 'cpus';

export interface HeaderParseState {
  /** Scalar fields seen so far, with the line that set them. */
  fields: Partial<Record<Scalar, unknown>>;
  fieldLines: Partial<Record<Scalar, number>>;
  devices: DeviceInfo[];
  countersBefore?: CounterSnapshot;
  countersAfter?: CounterSnapshot;
  /** Informative wrapper keys (INFORMATIVE_KEYS), first value kept. */
  extra?: Record<string, string>;
  /** The counter block that `#@softirqs` / `#@softnet` / `#@stat` lines currently belong to. */
  block?: 'before' | 'after';
  /** Number of `#@` lines consumed. */
  lines: number;
  /** Rows in the current counter block (bounded). */
  counterRows: number;
  issues: HeaderIssue[];
}

/** Bound on issues kept per header: a file of a million `#@` lines cannot eat memory. */
const MAX_HEADER_ISSUES = 200;
/** Bounds on what a header may hold, so hostile `#@` lines cannot grow it without limit. */
const MAX_DEVICES = 4096;
const MAX_COUNTER_ROWS = 16384;
const MAX_COUNTER_VALUES = 8193;
/** NR_CPUS upper bound of any kernel config we expect (CONFIG_NR_CPUS max is 8192). */
export const MAX_CPU_ID = 8191;

/**
 * Keys the capture wrappers (bpftrace-scripts/capture.sh, src/capture/) write for the record;
 * the analysis does not depend on them (recursion misses also arrive as a `Lost N events`
 * line). Kept in `CaptureHeader.extra`.
 */
const INFORMATIVE_KEYS = new Set([
  'wrapper',
  'duration_s',
  'output_format',
  'map_keys_max',
  'wg_functions_matched',
  'bpf_prog_ids',
  'recursion_misses',
  // The wrappers' verdict on the device filter (the importer reads the scripts' @untraced itself).
  'devices_matched',
  'devices_untraced',
  // Captures made without bpftrace (capture.sh --tracer ftrace|perf).
  'tracer',
  'perf_lost',
]);
const MAX_EXTRA_VALUE = 4096;

export function newHeaderState(): HeaderParseState {
  return { fields: {}, fieldLines: {}, devices: [], lines: 0, counterRows: 0, issues: [] };
}

function issue(st: HeaderParseState, i: HeaderIssue): void {
  if (st.issues.length < MAX_HEADER_ISSUES) st.issues.push(i);
}

/**
 * Parses the kernel's cpulist syntax (`0-3,8-11`, lib/bitmap.c: bitmap_parselist; also
 * `0-7:2/4` strides are not used by /sys/devices/system/cpu/online and are rejected).
 * Returns sorted unique CPU ids, or undefined when the text is not a cpulist.
 */
export function parseCpuList(text: string): number[] | undefined {
  const t = text.trim();
  if (t === '') return [];
  const out = new Set<number>();
  for (const part of t.split(',')) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b > MAX_CPU_ID) return undefined;
    for (let c = a; c <= b; c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

/** Writes CPU ids in cpulist syntax with ranges: [0,1,2,3,8] -> `0-3,8`. */
export function formatCpuList(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

const DEC = /^\d{1,20}$/;
const NS_PER_MS = 1_000_000;

function setScalar(st: HeaderParseState, key: Scalar, value: unknown, lineNo: number | undefined, raw: string): void {
  const prev = st.fields[key];
  if (prev !== undefined) {
    const same = JSON.stringify(prev) === JSON.stringify(value);
    issue(st, {
      severity: same ? 'info' : 'warning',
      code: same ? 'duplicate-header' : 'contradictory-header',
      ...(lineNo !== undefined ? { line: lineNo } : {}),
      message: same ? `header #@${key} repeated (same value); ignored` : `header ${raw.split(' ')[0]} contradicts the earlier value (line ${st.fieldLines[key] ?? '?'}); the first value is kept`,
    });
    return;
  }
  st.fields[key] = value;
  if (lineNo !== undefined) st.fieldLines[key] = lineNo;
}

function bad(st: HeaderParseState, lineNo: number | undefined, message: string): void {
  issue(st, { severity: 'warning', code: 'bad-header-value', ...(lineNo !== undefined ? { line: lineNo } : {}), message });
}

function emptySnapshot(): CounterSnapshot {
  return { softirqs: {}, softnet: {}, stat: {} };
}

function optInt(v: string): number | undefined | null {
  if (v === '-' || v === '') return undefined;
  if (!/^-?\d{1,15}$/.test(v)) return null;
  return Number(v);
}

/** `#@dev name=vb kind=veth threaded=0 rx_queues=1 irqs=- inline_en=-`; unknown keys go to `extra`. */
function parseDev(st: HeaderParseState, rest: string, lineNo: number | undefined): void {
  const kv = new Map<string, string>();
  for (const tok of rest.split(' ')) {
    if (tok === '') continue;
    const eq = tok.indexOf('=');
    if (eq <= 0) return bad(st, lineNo, `#@dev: expected key=value, got "${tok.slice(0, 40)}"`);
    kv.set(tok.slice(0, eq), tok.slice(eq + 1));
  }
  const name = kv.get('name');
  if (name === undefined || name === '') return bad(st, lineNo, '#@dev without name=');
  const kindText = kv.get('kind') ?? 'other';
  const kind = (['wireguard', 'veth', 'physical', 'other'] as const).find((k) => k === kindText);
  if (kind === undefined) return bad(st, lineNo, `#@dev ${name}: unknown kind "${kindText.slice(0, 40)}"`);
  const dev: DeviceInfo = { name, kind };
  for (const [k, v] of kv) {
    if (k === 'name' || k === 'kind') continue;
    if (k === 'threaded' || k === 'rx_queues' || k === 'inline_en') {
      const n = optInt(v);
      if (n === null) return bad(st, lineNo, `#@dev ${name}: ${k}=${v.slice(0, 40)} is not an integer`);
      if (n === undefined) continue;
      if (k === 'threaded') dev.threaded = n;
      else if (k === 'rx_queues') dev.rxQueues = n;
      else dev.inlineEn = n;
    } else if (k === 'irqs') {
      if (v === '-' || v === '') continue;
      const irqs = v.split(',').map((x) => (/^\d{1,9}$/.test(x) ? Number(x) : NaN));
      if (irqs.some((x) => Number.isNaN(x))) return bad(st, lineNo, `#@dev ${name}: irqs=${v.slice(0, 40)} is not a list of integers`);
      dev.irqs = irqs;
    } else {
      (dev.extra ??= {})[k] = v;
    }
  }
  if (st.devices.length >= MAX_DEVICES) return bad(st, lineNo, `more than ${MAX_DEVICES} #@dev lines; ${name.slice(0, 40)} ignored`);
  const prev = st.devices.find((d) => d.name === name);
  if (prev) {
    const same = JSON.stringify(prev) === JSON.stringify(dev);
    issue(st, {
      severity: same ? 'info' : 'warning',
      code: same ? 'duplicate-header' : 'contradictory-header',
      ...(lineNo !== undefined ? { line: lineNo } : {}),
      message: same ? `#@dev ${name} repeated; ignored` : `#@dev ${name} contradicts an earlier #@dev ${name}; the first is kept`,
    });
    return;
  }
  st.devices.push(dev);
}

function parseNums(parts: string[], radix: 10 | 16): number[] | undefined {
  const out: number[] = [];
  for (const p of parts) {
    if (p === '') continue;
    const ok = radix === 10 ? /^\d{1,16}$/.test(p) : /^[0-9a-fA-F]{1,13}$/.test(p);
    if (!ok) return undefined;
    out.push(radix === 10 ? Number(p) : parseInt(p, 16));
  }
  return out;
}

function parseCounterLine(st: HeaderParseState, key: 'softirqs' | 'softnet' | 'stat', rest: string, lineNo: number | undefined): void {
  if (st.block === undefined) return bad(st, lineNo, `#@${key} outside a #@counters block; ignored`);
  const snap = st.block === 'before' ? (st.countersBefore ??= emptySnapshot()) : (st.countersAfter ??= emptySnapshot());
  const parts = rest.split(/\s+/, MAX_COUNTER_VALUES + 2).filter((p) => p !== '');
  const name = parts[0];
  if (st.counterRows >= MAX_COUNTER_ROWS) return bad(st, lineNo, `more than ${MAX_COUNTER_ROWS} counter rows in one block; line ignored`);
  st.counterRows++;
  if (parts.length > MAX_COUNTER_VALUES + 1) return bad(st, lineNo, `#@${key} with more than ${MAX_COUNTER_VALUES} values; line ignored`);
  if (name === undefined) return bad(st, lineNo, `#@${key} without values`);
  if (key === 'softirqs') {
    // /proc/softirqs: `NET_RX: 1234 5678` (the colon is optional in our format).
    const row = name.replace(/:$/, '');
    const v = parseNums(parts.slice(1), 10);
    if (!v) return bad(st, lineNo, `#@softirqs ${row}: values are not integers`);
    snap.softirqs[row] = v;
  } else if (key === 'softnet') {
    // net/core/net-procfs.c: softnet_seq_show prints hex columns; processed, dropped,
    // time_squeeze are the first three. Our line puts the CPU id first (column 13 on 6.x).
    if (!/^\d{1,5}$/.test(name)) return bad(st, lineNo, `#@softnet: CPU id "${name.slice(0, 20)}" is not an integer`);
    const v = parseNums(parts.slice(1), 16);
    if (!v || v.length < 3) return bad(st, lineNo, `#@softnet ${name}: expected at least 3 hex columns`);
    snap.softnet[name] = { processed: v[0]!, dropped: v[1]!, timeSqueeze: v[2]! };
  } else {
    // /proc/stat per-CPU lines `cpu0 user nice system idle ...`: keyed by the CPU id.
    const m = /^cpu(\d{1,5})$/.exec(name);
    const k = m ? m[1]! : name;
    const v = parseNums(parts.slice(1), 10);
    if (!v) return bad(st, lineNo, `#@stat ${name}: values are not integers`);
    snap.stat[k] = v;
  }
}

/**
 * Consumes one line. Returns false when the line is not a `#@` line (the caller handles it).
 * A trailing `\r` is ignored.
 */
export function parseHeaderLine(st: HeaderParseState, line: string, lineNo?: number): boolean {
  if (line.charCodeAt(0) !== 35 /* # */ || line.charCodeAt(1) !== 64 /* @ */) return false;
  st.lines++;
  let text = line.endsWith('\r') ? line.slice(0, -1) : line;
  text = text.slice(2);
  const sp = text.indexOf(' ');
  const key = sp < 0 ? text : text.slice(0, sp);
  const rest = sp < 0 ? '' : text.slice(sp + 1).trim();
  const ln = lineNo;
  const str = (k: Scalar): void => {
    if (rest === '') return bad(st, ln, `#@${key} without a value`);
    setScalar(st, k, rest, ln, text);
  };
  const boot = (k: Scalar): void => {
    if (!DEC.test(rest) || BigInt(rest) >= 1n << 64n) return bad(st, ln, `#@${key} ${rest.slice(0, 40)}: not a u64 of boot nanoseconds`);
    setScalar(st, k, rest, ln, text);
  };
  switch (key) {
    case 'wgtrace-capture': {
      if (!/^\d{1,6}$/.test(rest)) return (bad(st, ln, `#@wgtrace-capture ${rest.slice(0, 40)}: not a version number`), true);
      setScalar(st, 'formatVersion', Number(rest), ln, text);
      break;
    }
    case 'tool_version':
      str('toolVersion');
      break;
    case 'hostname':
      str('hostname');
      break;
    case 'kernel':
      str('kernel');
      break;
    case 'bpftrace':
      str('bpftraceVersion');
      break;
    case 'devices_glob':
      str('devicesGlob');
      break;
    case 'start_wall':
      str('startWall');
      break;
    case 'end_wall':
      str('endWall');
      break;
    case 'cpus': {
      const cpus = parseCpuList(rest);
      if (cpus === undefined || cpus.length === 0) return (bad(st, ln, `#@cpus "${rest.slice(0, 40)}" is not a cpulist like 0-3,8`), true);
      setScalar(st, 'cpus', cpus, ln, text);
      break;
    }
    case 'mode':
      if (rest !== 'events' && rest !== 'windows') return (bad(st, ln, `#@mode "${rest.slice(0, 40)}": expected events or windows`), true);
      setScalar(st, 'mode', rest, ln, text);
      break;
    case 'interval_ms':
    case 'interval_ns': {
      if (!/^\d{1,12}$/.test(rest) || Number(rest) === 0) return (bad(st, ln, `#@${key} "${rest.slice(0, 40)}": not a positive integer`), true);
      setScalar(st, 'intervalNs', key === 'interval_ms' ? Number(rest) * NS_PER_MS : Number(rest), ln, text);
      break;
    }
    case 'start_boot_ns':
      boot('startBootNs');
      break;
    case 'end_boot_ns':
      boot('endBootNs');
      break;
    case 'probes_start_boot_ns':
      boot('probesStartBootNs');
      break;
    case 'probes_stop_boot_ns':
      boot('probesStopBootNs');
      break;
    case 'status':
      if (rest !== 'complete' && rest !== 'interrupted' && rest !== 'partial') {
        return (bad(st, ln, `#@status "${rest.slice(0, 40)}": expected complete or interrupted`), true);
      }
      setScalar(st, 'status', rest, ln, text);
      break;
    case 'dev':
      parseDev(st, rest, ln);
      break;
    case 'counters': {
      const m = /^(before|after)(?:\s+boot_ns=(\d{1,20}))?$/.exec(rest);
      if (!m) return (bad(st, ln, `#@counters "${rest.slice(0, 40)}": expected before|after [boot_ns=N]`), true);
      const which = m[1] as 'before' | 'after';
      const existing = which === 'before' ? st.countersBefore : st.countersAfter;
      if (existing) {
        issue(st, { severity: 'warning', code: 'duplicate-header', ...(ln !== undefined ? { line: ln } : {}), message: `second #@counters ${which} block; its lines replace the first's` });
      }
      const snap = emptySnapshot();
      if (m[2] !== undefined) snap.bootNs = m[2];
      if (which === 'before') st.countersBefore = snap;
      else st.countersAfter = snap;
      st.block = which;
      st.counterRows = 0;
      break;
    }
    case 'softirqs':
    case 'softnet':
    case 'stat':
      parseCounterLine(st, key, rest, ln);
      break;
    default:
      if (INFORMATIVE_KEYS.has(key)) {
        if (rest === '') return (bad(st, ln, `#@${key} without a value`), true);
        const extra = (st.extra ??= {});
        if (extra[key] === undefined) extra[key] = rest.slice(0, MAX_EXTRA_VALUE);
        else if (extra[key] !== rest.slice(0, MAX_EXTRA_VALUE)) {
          issue(st, { severity: 'warning', code: 'contradictory-header', ...(ln !== undefined ? { line: ln } : {}), message: `#@${key} given twice with different values; the first is kept` });
        }
        break;
      }
      issue(st, { severity: 'info', code: 'unknown-header-key', ...(ln !== undefined ? { line: ln } : {}), message: `unknown header key #@${key.slice(0, 40)}; ignored` });
  }
  return true;
}

export interface FinishedHeader {
  /** Undefined when no `#@` line was seen, or when what was seen does not make a valid header. */
  header?: CaptureHeader;
  issues: HeaderIssue[];
}

/**
 * Builds and validates the header from what was parsed so far (call it again after the
 * trailer for the complete header). Checks the cross-field rules a zod shape cannot see:
 * start before end, windows mode has an interval.
 */
/**
 * Only the scripts' own BEGIN/END marks (`#@probes_start_boot_ns`, `#@probes_stop_boot_ns`) were
 * seen: a bare bpftrace run of a ready-to-run script (bpftrace-scripts/wgtrace-*.bt), which has
 * no header; the importer says what that lacks.
 */
export function onlyScriptMarks(st: HeaderParseState): boolean {
  return Object.keys(st.fields).every((k) => k === 'probesStartBootNs' || k === 'probesStopBootNs') && st.devices.length === 0 && !st.extra;
}

export function finishHeader(st: HeaderParseState): FinishedHeader {
  if (st.lines === 0) return { issues: st.issues };
  const f = st.fields;
  if (onlyScriptMarks(st)) return { issues: st.issues };
  const issues = [...st.issues];
  const missing: string[] = [];
  if (f.formatVersion === undefined) missing.push('#@wgtrace-capture');
  if (f.cpus === undefined) missing.push('#@cpus');
  if (missing.length > 0) {
    issues.push({
      severity: 'warning',
      code: 'header-invalid',
      message: `capture header lacks ${missing.join(', ')}; header ignored (CPU count taken from events)`,
    });
    return { issues };
  }
  const candidate: Record<string, unknown> = { ...f, mode: f.mode ?? 'events', devices: st.devices };
  if (st.extra) candidate['extra'] = st.extra;
  if (st.countersBefore) candidate['countersBefore'] = st.countersBefore;
  if (st.countersAfter) candidate['countersAfter'] = st.countersAfter;
  // Version 2 changed only the windows-mode maps (one tuple per key); version 3 added the idle
  // records (IE/IX, @idle); version 4 records an idle period once, at its end (IP, @idle_t at
  // exit). The importers read all four.
  const v = f.formatVersion;
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= FORMAT_VERSION_MAX)) {
    issues.push({ severity: 'warning', code: 'header-version', message: `capture format version ${String(f.formatVersion)}; this wgtrace reads versions 1 to ${FORMAT_VERSION_MAX}` });
  }
  const parsed = CaptureHeader.safeParse(candidate);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    issues.push({ severity: 'warning', code: 'header-invalid', message: `capture header invalid (${first?.path.join('.') ?? ''}: ${first?.message ?? 'bad'}); header ignored` });
    return { issues };
  }
  const h = parsed.data;
  if (h.startBootNs !== undefined && h.endBootNs !== undefined && BigInt(h.endBootNs) < BigInt(h.startBootNs)) {
    issues.push({ severity: 'warning', code: 'contradictory-header', message: `#@end_boot_ns ${h.endBootNs} is before #@start_boot_ns ${h.startBootNs}` });
  }
  if (h.mode === 'windows' && h.intervalNs === undefined) {
    issues.push({ severity: 'warning', code: 'contradictory-header', message: '#@mode windows without #@interval_ms' });
  }
  return { header: h, issues };
}

function counterLines(which: 'before' | 'after', c: CounterSnapshot): string[] {
  const out = [`#@counters ${which}${c.bootNs !== undefined ? ` boot_ns=${c.bootNs}` : ''}`];
  for (const [row, v] of Object.entries(c.softirqs)) out.push(`#@softirqs ${row} ${v.join(' ')}`);
  for (const [cpu, r] of Object.entries(c.softnet)) {
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    out.push(`#@softnet ${cpu} ${hex(r.processed)} ${hex(r.dropped)} ${hex(r.timeSqueeze)}`);
  }
  for (const [k, v] of Object.entries(c.stat)) out.push(`#@stat ${/^\d+$/.test(k) ? `cpu${k}` : k} ${v.join(' ')}`);
  return out;
}

function devLine(d: DeviceInfo): string {
  const opt = (n: number | undefined): string => (n === undefined ? '-' : String(n));
  let s = `#@dev name=${d.name} kind=${d.kind} threaded=${opt(d.threaded)} rx_queues=${opt(d.rxQueues)}`;
  s += ` irqs=${d.irqs && d.irqs.length > 0 ? d.irqs.join(',') : '-'} inline_en=${opt(d.inlineEn)}`;
  for (const [k, v] of Object.entries(d.extra ?? {})) s += ` ${k}=${v}`;
  return s;
}

/** The header lines written before the events (without trailing newlines). */
export function formatHeaderLines(h: CaptureHeader): string[] {
  const out = [`#@wgtrace-capture ${h.formatVersion}`];
  const put = (k: string, v: string | number | undefined): void => {
    if (v !== undefined) out.push(`#@${k} ${v}`);
  };
  put('tool_version', h.toolVersion);
  put('hostname', h.hostname);
  put('kernel', h.kernel);
  put('bpftrace', h.bpftraceVersion);
  out.push(`#@cpus ${formatCpuList(h.cpus)}`);
  out.push(`#@mode ${h.mode}`);
  if (h.intervalNs !== undefined) {
    if (h.intervalNs % NS_PER_MS === 0) put('interval_ms', h.intervalNs / NS_PER_MS);
    else put('interval_ns', h.intervalNs);
  }
  put('devices_glob', h.devicesGlob);
  put('start_wall', h.startWall);
  put('start_boot_ns', h.startBootNs);
  for (const d of h.devices) out.push(devLine(d));
  if (h.countersBefore) out.push(...counterLines('before', h.countersBefore));
  return out;
}

/** The trailer lines written after the events. `probes_*` marks go first (the script prints them). */
export function formatTrailerLines(h: CaptureHeader): string[] {
  const out: string[] = [];
  const put = (k: string, v: string | undefined): void => {
    if (v !== undefined) out.push(`#@${k} ${v}`);
  };
  put('probes_start_boot_ns', h.probesStartBootNs);
  put('probes_stop_boot_ns', h.probesStopBootNs);
  if (h.countersAfter) out.push(...counterLines('after', h.countersAfter));
  for (const [k, v] of Object.entries(h.extra ?? {})) if (INFORMATIVE_KEYS.has(k)) put(k, v);
  put('end_wall', h.endWall);
  put('end_boot_ns', h.endBootNs);
  // 'partial' is what an importer concludes from a missing status, never written.
  if (h.status !== undefined && h.status !== 'partial') put('status', h.status);
  return out;
}
