import type { Ns, TimeBase } from '../base/time.js';
import { SOFTIRQ_NET_RX, type WindowCpuEvent, type WindowNapiEvent } from '../model/events.js';
import { NR_SOFTIRQS, prevStateLetters, RECORD_TAGS, recordFields } from '../model/records.js';
import { BpftraceByteParser } from './bpftrace-bytes.js';
import { ImportContext, LineSplitter, bootNsPartsAt, parseIntAt } from './common.js';
import type { Importer, ImportOptions, ImportSummary } from './types.js';

/**
 * bpftrace's plain output of our capture scripts (docs/capture-format.md): events-mode
 * records (`P`, `SE`, ... one per tracepoint hit) and windows-mode blocks (`WIN ts interval`
 * followed by `@map[keys]: value` lines), framed by `#@` header and trailer lines.
 *
 * This file is the string path: lines are split by hand (indexOf), fields by a scan for ' '
 * on the chunk itself without substrings, at the positions model/records.ts gives, integers
 * parsed from char codes, and timestamps split into seconds and nanoseconds so they stay exact
 * past 2^53 without a bigint per event. ASCII pieces mostly take the byte fast path
 * (bpftrace-bytes.ts), which hands back here every line it does not read itself.
 */

/**
 * Bound on (cpu, napi) entries per window: a gateway with 256 CPUs and 1000 tunnels has at
 * most 256k; anything beyond 1M is hostile input, and is reported rather than held.
 */
const MAX_WINDOW_NAPIS = 1 << 20;
/** Decimal digits that always fit a double exactly (10^15 < 2^53). */
const SAFE_DIGITS = 15;
const MAX_SAFE_ORIGIN = BigInt(Number.MAX_SAFE_INTEGER);
/**
 * Each record's field indices after its tag (model/records.ts): every record starts with ts
 * (0) and cpu (1); `count` is its fixed fields, the comm (the rest of the line) not counted.
 */
const P = recordFields('P');
const PX = recordFields('PX');
const PS = recordFields('PS');
const XS = recordFields('XS');
const SE = recordFields('SE');
const SX = recordFields('SX');
const WQ = recordFields('WQ');
const WS = recordFields('WS');
const SO = recordFields('SO');
const SI = recordFields('SI');
const MG = recordFields('MG');
const IP = recordFields('IP');
const IE = recordFields('IE');
/** Fixed fields a record can have (P has 7 after its tag; WIN, not a record of the table, 2). */
const MAX_FIELDS = Math.max(2, ...RECORD_TAGS.map((t) => recordFields(t).count));

type NapiField = 'busyNs' | 'polls' | 'work' | 'fullBudgetPolls';
type CpuField = 'netRxBusyNs' | 'netRxCount' | 'ksoftirqdNetRxCount' | 'netTxBusyNs' | 'netTxCount' | 'cryptBusyNs' | 'cryptCount';

/** How one windows-mode map fills the window events. */
interface WindowMap<F> {
  /** The event field each value fills, in order; `null`: an element the script keeps for itself. */
  fields: readonly (F | null)[];
  /** Format 2: one tuple of totals since the probes attached; format 1: one number, the window's own. */
  totals: boolean;
}

/**
 * Windows-mode maps keyed [cpu, dev, napi] (window_napi fields). Format 2
 * (bpftrace-scripts/windows.bt.in) has one tuple per key, of totals since the probes attached
 * (the script never clears its maps): a window gets the difference from the key's previous
 * total, and a key not printed in a window did not change. Format 1 had one map per counter,
 * zeroed each window.
 */
const NAPI_MAPS: Record<string, WindowMap<NapiField>> = {
  '@napi': { fields: ['busyNs', 'polls', 'work', 'fullBudgetPolls'], totals: true },
  '@napi_busy': { fields: ['busyNs'], totals: false },
  '@napi_polls': { fields: ['polls'], totals: false },
  '@napi_work': { fields: ['work'], totals: false },
  '@napi_full': { fields: ['fullBudgetPolls'], totals: false },
};
/**
 * Windows-mode maps keyed [cpu] (window_cpu fields). The `null` elements are the script's
 * guard, the last softirq exit (a boot-ns timestamp that may pass 2^53): read, not used.
 */
const CPU_MAPS: Record<string, WindowMap<CpuField>> = {
  '@netrx': { fields: ['netRxBusyNs', 'netRxCount', 'ksoftirqdNetRxCount', null], totals: true },
  '@nettx': { fields: ['netTxBusyNs', 'netTxCount', null], totals: true },
  '@crypt': { fields: ['cryptBusyNs', 'cryptCount'], totals: true },
  '@netrx_busy': { fields: ['netRxBusyNs'], totals: false },
  '@netrx_count': { fields: ['netRxCount'], totals: false },
  '@netrx_ksoftirqd': { fields: ['ksoftirqdNetRxCount'], totals: false },
  '@nettx_busy': { fields: ['netTxBusyNs'], totals: false },
  '@nettx_count': { fields: ['netTxCount'], totals: false },
  '@crypt_busy': { fields: ['cryptBusyNs'], totals: false },
  '@crypt_count': { fields: ['cryptCount'], totals: false },
};

/**
 * `@idle[<cpu>]: (<idle_ns>, <idle_periods>, <entered_ns>, <exited_ns>)` (format 3,
 * docs/capture-format.md): idle_ns and idle_periods are totals counted when an idle period
 * ends; entered_ns / exited_ns are the boot ns of the CPU's last switch to and from its idle
 * task (kernel/sched/core.c: __schedule, next_pid / prev_pid 0), not totals.
 */
const IDLE_MAP = '@idle';

/**
 * Per CPU, what the importer knows of its idle task across windows: the last @idle tuple and
 * the open idle time already given to earlier windows.
 */
interface IdleState {
  /** idle_ns total of the last tuple. */
  total: number;
  /** idle_periods total of the last tuple. */
  periods: number;
  /** entered_ns / exited_ns of the last tuple, relative to the origin (Ns). */
  entered: number;
  exited: number;
  /** Idle time of the open period (since `entered`) already added to earlier windows. */
  credited: number;
  /** No window has had this CPU's idle time yet. */
  first: boolean;
}

/**
 * The scripts' state maps (bpftrace-scripts/*.bt.in): start times per CPU or kworker, the last
 * window's end, the kworkers busy with wg work, napi threads' comms, a NET_RX softirq's entry
 * not yet printed (@net_rx_t). Not data.
 */
const STATE_MAPS: ReadonlySet<string> = new Set(['@rx_t', '@tx_t', '@poll_t', '@crypt_t', '@win_t', '@wgk', '@napit', '@idle_t', '@net_rx_t']);
/** A line that prints one of STATE_MAPS (keyed or not), from the same list. */
const STATE_MAP = new RegExp(`^(?:${[...STATE_MAPS].join('|')})(?:\\[|: )`);

/**
 * Collects one window's map entries; emits one `window_napi` per (cpu, napi) and one
 * `window_cpu` per CPU (every online CPU of the header, idle ones included: absent map
 * entries are zero) when the next `WIN` marker or the end of the file arrives.
 */
export class WindowAccumulator {
  private ts: Ns | undefined;
  private intervalNs = 0;
  private readonly napis = new Map<string, WindowNapiEvent>();
  private readonly cpus = new Map<number, WindowCpuEvent>();
  /** Format 2: per map and key, the last total seen (bounded by the script's max_map_keys). */
  private readonly totals = new Map<string, readonly number[]>();
  /** Format 3 @idle, per CPU (bounded by the CPUs the header or the CPU check allows). */
  private readonly idle = new Map<number, IdleState>();
  windows = 0;

  constructor(private readonly ctx: ImportContext) {}

  /** The previous `WIN` marker's ts: the end of the window the maps were last printed for. */
  private prevTs: Ns | undefined;
  /** Windows that covered more than their printed interval (window prints lost before them). */
  private stretched: { count: number; lastLine: number; earlierLine: number; lastSpanNs: number; lastIntervalNs: number; lastFromTs: Ns } | undefined;
  /**
   * When the last window came after lost window prints (the exit): the previous marker's ts,
   * the last moment every probe was attached and printing. The probed span ends there
   * (ImportSummary.recordedUntilNs).
   */
  recordedUntil: Ns | undefined;

  start(ts: Ns, intervalNs: number, line = 0): void {
    this.flush();
    this.lastMarkerLine = line;
    // The maps this marker prints hold everything since the last printed window, whatever the
    // marker's own interval says (format 2 maps are totals since the probes attached; format 1
    // maps are cleared by the same interval probe that prints them). The interval field is the
    // time since the interval probe last ran, and that probe's prints can be lost: bpftrace
    // stops reading its output once it is told to exit while the interval probe keeps firing
    // until it is detached (every windows capture of the testbed, on 0.17, 0.23.2 and 0.27.1,
    // ends with 200-350 ms of window prints never written; docs/capture-format.md, "Windows
    // mode records"). Their time belongs to this window, so the window covers the span since
    // the previous marker. 1.5 x: older scripts measured the interval from a slightly
    // different instant (within 2%).
    const prev = this.prevTs;
    const span = prev === undefined ? 0 : ts - prev;
    this.prevTs = ts;
    this.ts = ts;
    this.intervalNs = intervalNs;
    if (span > 1.5 * intervalNs) {
      this.intervalNs = span;
      const st = (this.stretched ??= { count: 0, lastLine: 0, earlierLine: 0, lastSpanNs: 0, lastIntervalNs: 0, lastFromTs: ts });
      st.count++;
      st.earlierLine = st.lastLine;
      st.lastLine = line;
      st.lastSpanNs = span;
      st.lastIntervalNs = intervalNs;
      st.lastFromTs = prev!;
    }
  }

  /**
   * The end of the input: the open window is pushed, unless it is the probes' removal (the last
   * window, printed after lost window prints: see start). bpftrace stops printing windows once
   * told to exit, then removes its probes one by one, the softirq ones first
   * (docs/capture-format.md, "Windows mode records"), so that window holds polls without their
   * softirqs: it is left out, said with what it held, and the probed span ends where the last
   * regular window did (recordedUntil). Then says which windows were stretched.
   */
  finishInput(): void {
    const st = this.stretched;
    const ms = (ns: number): string => (ns / 1e6).toFixed(1);
    const tail = st !== undefined && st.lastLine === this.lastMarkerLine && this.ts !== undefined;
    if (!tail) this.flush();
    else {
      let polls = 0;
      let packets = 0;
      let netRx = 0;
      for (const ev of this.napis.values()) {
        polls += ev.polls;
        packets += ev.work;
      }
      for (const ev of this.cpus.values()) netRx += ev.netRxCount;
      this.napis.clear();
      this.cpus.clear();
      this.ts = undefined;
      this.recordedUntil = st.lastFromTs;
      this.ctx.note(
        'info',
        'probes-removal-left-out',
        `the last window, printed ${ms(st.lastSpanNs)} ms after the previous one though its interval says ${ms(st.lastIntervalNs)} ms, is the probes' removal (bpftrace stops printing windows once told to exit, then removes its probes one by one, the softirq ones first): its ${polls} polls, ${packets} packets and ${netRx} NET_RX softirqs are left out, and the probed span ends with the window before it`,
        st.lastLine,
      );
    }
    const mid = st === undefined ? 0 : st.count - (tail ? 1 : 0);
    if (mid > 0)
      this.ctx.note(
        'warning',
        'window-prints-lost',
        `${mid} ${mid === 1 ? 'window covers' : 'windows cover'} more than ${mid === 1 ? 'its' : 'their'} printed interval (window prints not written: bpftrace fell behind its output): their totals are spread over the time since the previous printed window`,
        tail ? st!.earlierLine : st!.lastLine,
      );
  }

  /** Line of the last `WIN` marker seen. */
  private lastMarkerLine = 0;

  get open(): boolean {
    return this.ts !== undefined;
  }

  /**
   * One map entry: `name` with its `@`, `keys` already split, `value` a number (format 1) or
   * a tuple's elements (format 2). Returns an error reason, '' (dropped, already reported), or
   * undefined.
   */
  entry(name: string, keys: string[], value: number | readonly number[], line: number): string | undefined {
    if (this.ts === undefined) return `map ${name} outside a window (no WIN marker before it)`;
    if (name === IDLE_MAP) return this.idleEntry(keys, value, line);
    const napiMap = NAPI_MAPS[name];
    const map: WindowMap<NapiField | CpuField> | undefined = napiMap ?? CPU_MAPS[name];
    if (map === undefined) return `unknown map ${name.slice(0, 40)}`;
    const fields = map.fields;
    if (map.totals) {
      if (typeof value === 'number') return `map ${name} needs a tuple of ${fields.length} values, got one number`;
      if (value.length !== fields.length) return `map ${name} needs a tuple of ${fields.length} values, got ${value.length}`;
      for (let i = 0; i < fields.length; i++) {
        const v = value[i]!;
        if (fields[i] !== null ? !Number.isSafeInteger(v) || v < 0 : !(v >= 0)) return `map ${name} value ${i + 1} is not a non-negative integer`;
      }
    } else if (typeof value !== 'number') {
      return `map ${name} needs one number, got a tuple`;
    } else if (!Number.isSafeInteger(value) || value < 0) {
      return `map ${name} value is not a non-negative integer`;
    }
    const want = napiMap !== undefined ? 3 : 1;
    if (keys.length !== want) return `map ${name} needs ${want} key(s), got ${keys.length}`;
    const cpu = parseIntAt(keys[0]!, 0, keys[0]!.length);
    if (!(cpu >= 0)) return `map ${name}: CPU key "${keys[0]!.slice(0, 20)}" is not an integer`;
    if (!this.ctx.cpuAllowed(cpu, line)) return '';
    let napi = '';
    let dev = '';
    if (napiMap !== undefined) {
      const p = this.ctx.pointer(keys[2]!);
      if (p === undefined) return `map ${name}: napi key "${keys[2]!.slice(0, 30)}" is not a pointer`;
      napi = p;
      dev = this.ctx.intern(keys[1]!);
    }
    let add = typeof value === 'number' ? [value] : value;
    if (map.totals) {
      // Totals -> this window's increments.
      const id = `${name} ${cpu} ${dev} ${napi}`;
      const prev = this.totals.get(id);
      const delta: number[] = [];
      for (let i = 0; i < fields.length; i++) {
        const d = fields[i] === null ? 0 : add[i]! - (prev?.[i] ?? 0);
        if (d < 0) return `map ${name}[${keys.join(', ').slice(0, 60)}] value ${i + 1} went down from ${prev![i]} to ${add[i]} (totals never decrease)`;
        delta.push(d);
      }
      this.totals.set(id, add);
      add = delta;
    }
    if (napiMap !== undefined) {
      const k = `${cpu} ${dev} ${napi}`;
      let ev = this.napis.get(k);
      if (ev === undefined) {
        if (this.napis.size >= MAX_WINDOW_NAPIS) return `more than ${MAX_WINDOW_NAPIS} (cpu, napi) entries in one window; entry dropped`;
        ev = { kind: 'window_napi', ts: this.ts, intervalNs: this.intervalNs, cpu, napi, dev, busyNs: 0, polls: 0, work: 0, fullBudgetPolls: 0 };
        this.napis.set(k, ev);
      }
      napiMap.fields.forEach((f, i) => {
        if (f !== null) ev[f] += add[i]!;
      });
    } else {
      const ev = this.cpuEvent(cpu);
      CPU_MAPS[name]!.fields.forEach((f, i) => {
        if (f !== null) ev[f] += add[i]!;
      });
    }
    return undefined;
  }

  /** An @idle entry: checked, and kept as the CPU's idle state for flush(). */
  private idleEntry(keys: string[], value: number | readonly number[], line: number): string | undefined {
    if (typeof value === 'number' || value.length !== 4) return `map ${IDLE_MAP} needs a tuple of 4 values, got ${typeof value === 'number' ? 'one number' : value.length}`;
    for (let i = 0; i < 4; i++) {
      const v = value[i]!;
      // entered/exited are boot ns and may pass 2^53 (then not exact as a double: off by at most
      // 2 us at 2^63, far below a window).
      if (i < 2 ? !Number.isSafeInteger(v) || v < 0 : !(v >= 0)) return `map ${IDLE_MAP} value ${i + 1} is not a non-negative integer`;
    }
    if (keys.length !== 1) return `map ${IDLE_MAP} needs 1 key(s), got ${keys.length}`;
    const cpu = parseIntAt(keys[0]!, 0, keys[0]!.length);
    if (!(cpu >= 0)) return `map ${IDLE_MAP}: CPU key "${keys[0]!.slice(0, 20)}" is not an integer`;
    if (!this.ctx.cpuAllowed(cpu, line)) return '';
    const tb = this.ctx.tb;
    const rel = (v: number): number => (v === 0 || tb === undefined ? -Infinity : tb.fromBoot(BigInt(v)));
    const st = this.idle.get(cpu);
    if (st !== undefined && value[0]! < st.total) return `map ${IDLE_MAP}[${cpu}] value 1 went down from ${st.total} to ${value[0]} (totals never decrease)`;
    if (st !== undefined && value[1]! < st.periods) return `map ${IDLE_MAP}[${cpu}] value 2 went down from ${st.periods} to ${value[1]} (totals never decrease)`;
    // The window's idle is worked out in flush (the open part needs the window's end).
    const next: IdleState = { total: value[0]!, periods: value[1]!, entered: rel(value[2]!), exited: rel(value[3]!), credited: st?.credited ?? 0, first: st?.first ?? true };
    if (st === undefined) this.idle.set(cpu, next);
    else {
      // Idle periods that ended since the previous tuple (also when a key is printed twice in one window).
      this.idleDelta.set(cpu, (this.idleDelta.get(cpu) ?? 0) + (value[0]! - st.total));
      this.periodsDelta.set(cpu, (this.periodsDelta.get(cpu) ?? 0) + (value[1]! - st.periods));
      Object.assign(st, next);
      return undefined;
    }
    this.idleDelta.set(cpu, value[0]!);
    this.periodsDelta.set(cpu, value[1]!);
    return undefined;
  }

  /** Per CPU, the idle_ns difference of this window's @idle tuples (closed idle periods). */
  private readonly idleDelta = new Map<number, number>();
  /** Per CPU, the idle_periods difference of this window's @idle tuples (idle periods that ended). */
  private readonly periodsDelta = new Map<number, number>();

  /**
   * The window's idle time per CPU: the idle periods that ended in it (the total's difference),
   * minus what earlier windows already got of them while they were open, plus the part of a
   * period still open at the window's end (entered > exited: idle since `entered`). A CPU with no
   * tuple in this window kept its state: idle through it if its last period is open.
   */
  private idleWindows(): void {
    const end = this.ts!;
    for (const [cpu, st] of this.idle) {
      const closed = this.idleDelta.get(cpu) ?? 0;
      // bpftrace reads the map while the probes run, so `entered` may be just past the marker.
      const openNow = st.entered > st.exited ? Math.max(0, end - st.entered) : 0;
      const v = closed - st.credited + openNow;
      st.credited = openNow;
      // A CPU's first tuple may hold more than the window: the scripts count a core found idle
      // when the probes attached from the probes' start (bpftrace-scripts/windows.bt.in), and it
      // printed nothing while it stayed idle. That idle time is passed on whole: the timeline
      // spreads it back over the windows it covers. Later tuples hold at most their window.
      const ev = this.cpuEvent(cpu);
      ev.idleNs = Math.max(0, st.first ? v : Math.min(this.intervalNs, v));
      ev.idlePeriods = this.periodsDelta.get(cpu) ?? 0;
      st.first = false;
    }
    this.idleDelta.clear();
    this.periodsDelta.clear();
  }

  private cpuEvent(cpu: number): WindowCpuEvent {
    let ev = this.cpus.get(cpu);
    if (ev === undefined) {
      ev = {
        kind: 'window_cpu',
        ts: this.ts!,
        intervalNs: this.intervalNs,
        cpu,
        netRxBusyNs: 0,
        netRxCount: 0,
        netTxBusyNs: 0,
        netTxCount: 0,
        cryptBusyNs: 0,
        cryptCount: 0,
        ksoftirqdNetRxCount: 0,
      };
      this.cpus.set(cpu, ev);
    }
    return ev;
  }

  flush(): void {
    if (this.ts === undefined) return;
    this.idleWindows();
    for (const c of this.ctx.header?.cpus ?? []) this.cpuEvent(c);
    for (const ev of this.napis.values()) this.ctx.push(ev);
    for (const cpu of [...this.cpus.keys()].sort((a, b) => a - b)) this.ctx.push(this.cpus.get(cpu)!);
    this.napis.clear();
    this.cpus.clear();
    this.ts = undefined;
    this.windows++;
  }
}

/**
 * Parses one line of our scripts' output. Shared by the text importer (one file line) and the
 * JSON importer (each line of a `printf` record's data).
 */
export class BpftraceRecordParser {
  readonly windows: WindowAccumulator;
  /** Field boundaries of the current record, reused (no allocation per line). */
  private readonly fs = new Int32Array(MAX_FIELDS);
  private readonly fe = new Int32Array(MAX_FIELDS);
  private readonly parts = { sec: 0, sub: 0 };
  /** The time base the fast timestamp path uses (undefined until its origin is known and < 2^53). */
  private tb: TimeBase | undefined = undefined;
  private originNs = 0;
  ignoredLines = 0;

  constructor(readonly ctx: ImportContext) {
    this.windows = new WindowAccumulator(ctx);
  }

  /** The origin as a number once the time base is known and below 2^53 (what the byte fast path computes timestamps from), else undefined. */
  get fastOrigin(): number | undefined {
    return this.tb !== undefined && this.ctx.tb === this.tb ? this.originNs : undefined;
  }

  /**
   * Finds `n` space-separated fields of s[p, b) into fs/fe. Returns where the free text (comm)
   * starts, `b` when the last field ends the line, or -1 when fields are missing or empty.
   */
  private fields(s: string, p: number, b: number, n: number): number {
    const fs = this.fs;
    const fe = this.fe;
    for (let i = 0; i < n; i++) {
      if (p >= b) return -1;
      // Fields are short (at most ~25 characters): a loop beats a call to indexOf per field.
      let sp = p;
      while (sp < b && s.charCodeAt(sp) !== 32) sp++;
      if (sp === p) return -1;
      fs[i] = p;
      fe[i] = sp;
      p = sp + 1;
    }
    return p > b ? b : p;
  }

  /** Timestamp of field i as Ns relative to the origin, or NaN. */
  private ts(s: string, i: number): number {
    const a = this.fs[i]!;
    const b = this.fe[i]!;
    if (b - a <= SAFE_DIGITS && this.tb !== undefined && this.ctx.tb === this.tb) {
      // Fast path: up to 15 digits (< 2^53) minus an origin below 2^53 is exact as a double,
      // and the same value TimeBase.fromSecParts gives, without splitting into parts.
      let v = 0;
      for (let k = a; k < b; k++) {
        const d = s.charCodeAt(k) - 48;
        if (d < 0 || d > 9) return NaN;
        v = v * 10 + d;
      }
      if (b > a) return v - this.originNs;
    }
    if (!bootNsPartsAt(s, a, b, this.parts)) return NaN;
    const tb = this.ctx.tb ?? this.ctx.timeBaseFrom(BigInt(s.slice(a, b)));
    if (tb.origin <= MAX_SAFE_ORIGIN) {
      this.tb = tb;
      this.originNs = Number(tb.origin);
    }
    return tb.fromSecParts(this.parts.sec, this.parts.sub);
  }

  private int(s: string, i: number): number {
    return parseIntAt(s, this.fs[i]!, this.fe[i]!);
  }

  private str(s: string, i: number): string {
    return this.ctx.internAt(s, this.fs[i]!, this.fe[i]!);
  }

  private ptr(s: string, i: number): string | undefined {
    return this.ctx.pointerAt(s, this.fs[i]!, this.fe[i]!);
  }

  /** Comm: the rest of the line after the fixed fields (may contain spaces and commas). */
  private comm(s: string, rest: number, b: number): string {
    return rest >= b ? '' : this.ctx.internAt(s, rest, b);
  }

  private bad(line: number, what: string, s: string, a: number, b: number): void {
    const shown = s.slice(a, Math.min(b, a + 80));
    this.ctx.problem('malformed-line', line, `${what}: "${shown}${b - a > 80 ? '...' : ''}"`);
  }

  /** Common prefix of event records: n fields, ts in field 0, cpu in field 1. Returns rest or -1. */
  private head(s: string, a: number, b: number, line: number, tagLen: number, n: number, comm: boolean, name: string): number {
    const rest = this.fields(s, a + tagLen + 1, b, n);
    if (rest < 0 || (!comm && (rest !== b || this.fe[n - 1] !== b))) {
      this.bad(line, `${name} record needs ${n} fields${comm ? ' and a comm' : ''}`, s, a, b);
      return -1;
    }
    const cpu = this.int(s, P.cpu);
    if (!(cpu >= 0)) {
      this.bad(line, `${name} record: CPU is not a non-negative integer`, s, a, b);
      return -1;
    }
    return rest;
  }

  line(s: string, a: number, b: number, line: number): void {
    if (b <= a) {
      this.ignoredLines++;
      return;
    }
    const c0 = s.charCodeAt(a);
    const c1 = b - a > 1 ? s.charCodeAt(a + 1) : 0;
    const c2 = b - a > 2 ? s.charCodeAt(a + 2) : 0;
    const ctx = this.ctx;
    if (c1 === 32) {
      if (c0 === 80 /* P */) return this.poll(s, a, b, line, false);
    } else if (c2 === 32) {
      if (c0 === 80 /* P */ && c1 === 88 /* X */) return this.pollOther(s, a, b, line, false);
      if (c0 === 80 /* P */ && c1 === 83 /* S */) return this.poll(s, a, b, line, true);
      if (c0 === 88 /* X */ && c1 === 83 /* S */) return this.pollOther(s, a, b, line, true);
      if (c0 === 83 /* S */) {
        if (c1 === 69 /* E */) return this.softirq(s, a, b, line, 'softirq_entry');
        if (c1 === 88 /* X */) return this.softirq(s, a, b, line, 'softirq_exit');
        if (c1 === 82 /* R */) return this.softirq(s, a, b, line, 'softirq_raise');
        if (c1 === 79 /* O */) return this.switchOut(s, a, b, line);
        if (c1 === 73 /* I */) return this.switchIn(s, a, b, line);
      } else if (c0 === 87 /* W */) {
        if (c1 === 81 /* Q */) return this.queueWork(s, a, b, line);
        if (c1 === 83 /* S */) return this.execWork(s, a, b, line, 'workqueue_execute_start');
        if (c1 === 69 /* E */) return this.execWork(s, a, b, line, 'workqueue_execute_end');
      } else if (c0 === 77 /* M */ && c1 === 71 /* G */) return this.migrate(s, a, b, line);
      else if (c0 === 73 /* I */) {
        if (c1 === 69 /* E */) return this.coreIdle(s, a, b, line, true);
        if (c1 === 88 /* X */) return this.coreIdle(s, a, b, line, false);
        if (c1 === 80 /* P */) return this.idlePeriod(s, a, b, line);
      }
    }
    if (c0 === 35 /* # */) {
      if (c1 === 64 /* @ */) ctx.headerLine(s.slice(a, b), line);
      else this.ignoredLines++;
      return;
    }
    if (c0 === 64 /* @ */) return this.mapLine(s, a, b, line);
    if (s.startsWith('WIN ', a)) return this.win(s, a, b, line);
    if (s.startsWith('Lost ', a)) {
      // bpftrace src/output: "Lost N events" when the perf/ring buffer overflowed.
      const m = /^Lost (\d{1,15}) events/.exec(s.slice(a, b));
      if (m) return ctx.lost(Number(m[1]), undefined, line);
    }
    // 0.17-0.23 print "Attaching N probes...", 0.24+ (src/output/text.cpp) "Attached N probes".
    if (s.startsWith('Attaching ', a) || s.startsWith('Attached ', a)) {
      this.ignoredLines++;
      return;
    }
    {
      // 0.24+ prints runtime warnings on stdout among the records (text.cpp: runtime_error,
      // e.g. "script.bt:12:3-20: WARNING: Map full; can't update element...").
      const text = s.slice(a, Math.min(b, a + 300));
      const w = /^(?:\S*:\d+(?::[\d-]+)?: )?(WARNING|ERROR): (.*)$/.exec(text);
      if (w) return ctx.note('warning', 'tracer-error', `bpftrace ${w[1]!.toLowerCase()}: ${w[2]!.slice(0, 200)}`, line);
    }
    let only = true;
    for (let i = a; i < b; i++) {
      const c = s.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 13) {
        only = false;
        break;
      }
    }
    if (only) {
      this.ignoredLines++;
      return;
    }
    const sp = s.indexOf(' ', a);
    const tag = s.slice(a, sp < 0 || sp > b ? Math.min(b, a + 20) : Math.min(sp, a + 20));
    ctx.problem('unknown-record', line, `unknown record "${tag}"; line skipped`);
  }

  private poll(s: string, a: number, b: number, line: number, withEntry: boolean): void {
    // PS is P with the softirq's entry before the comm (model/records.ts; records.test.ts checks
    // that the fields before it sit where P has them).
    const name = withEntry ? 'PS (napi_poll, first in its NET_RX softirq)' : 'P (napi_poll)';
    const rest = this.head(s, a, b, line, withEntry ? 2 : 1, withEntry ? PS.count : P.count, true, name);
    if (rest < 0) return;
    const cpu = this.int(s, P.cpu);
    const ts = this.ts(s, P.ts);
    const napi = this.ptr(s, P.napi);
    const work = this.int(s, P.work);
    const budget = this.int(s, P.budget);
    const pid = this.int(s, P.pid);
    const entry = withEntry ? this.ts(s, PS.entry) : ts;
    if (ts !== ts || napi === undefined || !(work >= 0) || !(budget >= 0) || !(pid >= -1)) {
      return this.bad(line, `${name} record: bad ts, napi pointer, work, budget or pid`, s, a, b);
    }
    if (!(entry <= ts)) return this.bad(line, `${name} record: the softirq's entry is not a time at or before the poll`, s, a, b);
    if (!this.ctx.cpuAllowed(cpu, line)) return;
    const comm = this.comm(s, rest, b);
    if (withEntry) this.ctx.push({ kind: 'softirq_entry', ts: entry as Ns, cpu, vec: SOFTIRQ_NET_RX, pid, comm });
    this.ctx.push({ kind: 'napi_poll', ts: ts as Ns, cpu, napi, dev: this.str(s, P.dev), work, budget, pid, comm });
  }

  private softirq(s: string, a: number, b: number, line: number, kind: 'softirq_entry' | 'softirq_exit' | 'softirq_raise'): void {
    // SX and SR have SE's first fields (records.test.ts checks it).
    const entry = kind === 'softirq_entry';
    const rest = this.head(s, a, b, line, 2, entry ? SE.count : SX.count, entry, kind);
    if (rest < 0) return;
    const cpu = this.int(s, SE.cpu);
    const ts = this.ts(s, SE.ts);
    const vec = this.int(s, SE.vec);
    const pid = entry ? this.int(s, SE.pid) : 0;
    if (ts !== ts || !(vec >= 0 && vec < NR_SOFTIRQS) || !(pid >= -1)) return this.bad(line, `${kind} record: bad ts, vec or pid`, s, a, b);
    if (!this.ctx.cpuAllowed(cpu, line)) return;
    if (entry) this.ctx.push({ kind, ts: ts as Ns, cpu, vec, pid, comm: this.comm(s, rest, b) });
    else this.ctx.push({ kind, ts: ts as Ns, cpu, vec });
  }

  private pollOther(s: string, a: number, b: number, line: number, withEntry: boolean): void {
    // A poll of an untraced device ended (bpftrace-scripts/events.bt.in); XS: the first record
    // inside its NET_RX softirq, with the softirq's entry, pid and comm.
    const name = withEntry ? 'XS (napi_poll of another device, first in its NET_RX softirq)' : 'PX (napi_poll of another device)';
    const rest = this.head(s, a, b, line, 2, withEntry ? XS.count : PX.count, withEntry, name);
    if (rest < 0) return;
    const cpu = this.int(s, PX.cpu);
    const ts = this.ts(s, PX.ts);
    if (ts !== ts) return this.bad(line, `${name} record: bad ts`, s, a, b);
    if (withEntry) {
      const entry = this.ts(s, XS.entry);
      const pid = this.int(s, XS.pid);
      if (!(entry <= ts) || !(pid >= -1)) return this.bad(line, `${name} record: bad softirq entry (not at or before the poll) or pid`, s, a, b);
      if (!this.ctx.cpuAllowed(cpu, line)) return;
      this.ctx.push({ kind: 'softirq_entry', ts: entry as Ns, cpu, vec: SOFTIRQ_NET_RX, pid, comm: this.comm(s, rest, b) });
    } else if (!this.ctx.cpuAllowed(cpu, line)) return;
    this.ctx.push({ kind: 'napi_poll_other', ts: ts as Ns, cpu });
  }

  private coreIdle(s: string, a: number, b: number, line: number, idle: boolean): void {
    // IE | IX: sched_switch to / from the idle task (bpftrace-scripts/events.bt.in); IX has IE's fields.
    const name = idle ? 'IE (switch to idle)' : 'IX (switch from idle)';
    if (this.head(s, a, b, line, 2, IE.count, false, name) < 0) return;
    const cpu = this.int(s, IE.cpu);
    const ts = this.ts(s, IE.ts);
    if (ts !== ts) return this.bad(line, `${name} record: bad ts`, s, a, b);
    if (!this.ctx.cpuAllowed(cpu, line)) return;
    this.ctx.push({ kind: 'core_idle', ts: ts as Ns, cpu, idle });
  }

  private idlePeriod(s: string, a: number, b: number, line: number): void {
    // An idle period that ended at `ts` (format 4, bpftrace-scripts/events.bt.in): entered is the
    // last switch to idle, exited the last switch from idle before this one (boot ns, 0 when
    // there was none).
    const name = 'IP (idle period)';
    if (this.head(s, a, b, line, 2, IP.count, false, name) < 0) return;
    const cpu = this.int(s, IP.cpu);
    const ts = this.ts(s, IP.ts);
    if (ts !== ts) return this.bad(line, `${name} record: bad end`, s, a, b);
    const zero = (i: number): boolean => this.fe[i]! - this.fs[i]! === 1 && s.charCodeAt(this.fs[i]!) === 48;
    const enteredZero = zero(IP.entered);
    const exitedZero = zero(IP.exited);
    const entered = enteredZero ? 0 : this.ts(s, IP.entered);
    const exited = exitedZero ? 0 : this.ts(s, IP.exited);
    if (entered !== entered || exited !== exited) return this.bad(line, `${name} record: bad entered or exited time`, s, a, b);
    if (!this.ctx.cpuAllowed(cpu, line)) return;
    const prev = exitedZero ? {} : { prevEnd: exited as Ns };
    if (enteredZero && exitedZero) this.ctx.push({ kind: 'core_idle_period', ts: ts as Ns, cpu, entry: 'before-probes' });
    else if (!enteredZero && (exitedZero || entered > exited)) {
      if (entered > ts) return this.bad(line, `${name} record: entered after its end`, s, a, b);
      this.ctx.push({ kind: 'core_idle_period', ts: ts as Ns, cpu, start: entered as Ns, entry: 'seen', ...prev });
    } else this.ctx.push({ kind: 'core_idle_period', ts: ts as Ns, cpu, entry: 'missed', ...prev });
  }

  private queueWork(s: string, a: number, b: number, line: number): void {
    if (this.head(s, a, b, line, 2, WQ.count, false, 'WQ (workqueue_queue_work)') < 0) return;
    const cpu = this.int(s, WQ.cpu);
    const ts = this.ts(s, WQ.ts);
    const work = this.ptr(s, WQ.work);
    const reqCpu = this.int(s, WQ.reqCpu);
    const targetCpu = this.int(s, WQ.targetCpu);
    if (ts !== ts || work === undefined || !(reqCpu >= -1) || !(targetCpu >= -1)) {
      return this.bad(line, 'WQ (workqueue_queue_work) record: bad ts, work pointer or CPUs', s, a, b);
    }
    if (!this.ctx.cpuAllowed(cpu, line)) return;
    this.ctx.push({ kind: 'workqueue_queue_work', ts: ts as Ns, cpu, work, function: this.str(s, WQ.function), workqueue: this.str(s, WQ.workqueue), reqCpu, targetCpu });
  }

  private execWork(s: string, a: number, b: number, line: number, kind: 'workqueue_execute_start' | 'workqueue_execute_end'): void {
    // WS | WE: WE has WS's fields.
    if (this.head(s, a, b, line, 2, WS.count, false, kind) < 0) return;
    const cpu = this.int(s, WS.cpu);
    const ts = this.ts(s, WS.ts);
    const work = this.ptr(s, WS.work);
    if (ts !== ts || work === undefined) return this.bad(line, `${kind} record: bad ts or work pointer`, s, a, b);
    if (!this.ctx.cpuAllowed(cpu, line)) return;
    this.ctx.push({ kind, ts: ts as Ns, cpu, work, function: this.str(s, WS.function) });
  }

  private switchOut(s: string, a: number, b: number, line: number): void {
    // prev_state a number (our script) or letters (as perf prints them).
    const rest = this.head(s, a, b, line, 2, SO.count, true, 'SO (sched_switch out)');
    if (rest < 0) return;
    const cpu = this.int(s, SO.cpu);
    const ts = this.ts(s, SO.ts);
    const pid = this.int(s, SO.pid);
    if (ts !== ts || !(pid >= 0)) return this.bad(line, 'SO (sched_switch out) record: bad ts or pid', s, a, b);
    if (!this.ctx.cpuAllowed(cpu, line)) return;
    const st = this.fs[SO.state]!;
    const stateText = s.charCodeAt(st) >= 48 && s.charCodeAt(st) <= 57 ? prevStateLetters(this.int(s, SO.state)) : this.str(s, SO.state);
    this.ctx.push({ kind: 'sched_switch_out', ts: ts as Ns, cpu, pid, state: stateText, comm: this.comm(s, rest, b) });
  }

  private switchIn(s: string, a: number, b: number, line: number): void {
    const rest = this.head(s, a, b, line, 2, SI.count, true, 'SI (sched_switch in)');
    if (rest < 0) return;
    const cpu = this.int(s, SI.cpu);
    const ts = this.ts(s, SI.ts);
    const pid = this.int(s, SI.pid);
    if (ts !== ts || !(pid >= 0)) return this.bad(line, 'SI (sched_switch in) record: bad ts or pid', s, a, b);
    if (!this.ctx.cpuAllowed(cpu, line)) return;
    this.ctx.push({ kind: 'sched_switch_in', ts: ts as Ns, cpu, pid, comm: this.comm(s, rest, b) });
  }

  private migrate(s: string, a: number, b: number, line: number): void {
    const rest = this.head(s, a, b, line, 2, MG.count, true, 'MG (sched_migrate_task)');
    if (rest < 0) return;
    const cpu = this.int(s, MG.cpu);
    const ts = this.ts(s, MG.ts);
    const pid = this.int(s, MG.pid);
    const origCpu = this.int(s, MG.origCpu);
    const destCpu = this.int(s, MG.destCpu);
    if (ts !== ts || !(pid >= 0) || !(origCpu >= 0) || !(destCpu >= 0)) {
      return this.bad(line, 'MG (sched_migrate_task) record: bad ts, pid or CPUs', s, a, b);
    }
    if (!this.ctx.cpuAllowed(cpu, line)) return;
    this.ctx.push({ kind: 'sched_migrate_task', ts: ts as Ns, cpu, pid, origCpu, destCpu, comm: this.comm(s, rest, b) });
  }

  private win(s: string, a: number, b: number, line: number): void {
    // WIN ts interval_ns
    const rest = this.fields(s, a + 4, b, 2);
    if (rest !== b || this.fe[1] !== b) return this.bad(line, 'WIN record needs ts and interval_ns', s, a, b);
    const ts = this.ts(s, 0);
    const interval = this.int(s, 1);
    if (ts !== ts || !(interval > 0)) return this.bad(line, 'WIN record: bad ts or interval', s, a, b);
    this.windows.start(ts as Ns, interval, line);
  }

  /**
   * `@napi[0, vb, -131365202636408]: (6314355, 40, 1700, 0)` or `@netrx[0]: (123, 2, 0, 99)`
   * (format 2), `@napi_busy[0, vb, 0xffff888627c2d188]: 6314355` (format 1).
   */
  private mapLine(s: string, a: number, b: number, line: number): void {
    const text = s.slice(a, b);
    const m = /^(@\w{1,64})\[([^\]]{1,200})\]: (?:(-?\d{1,20})|\((\d{1,20}(?:, \d{1,20}){0,7})\))$/.exec(text);
    if (!m) {
      // Our scripts' key-less state, which bpftrace prints at exit (`@win_t: (a, b)`): the
      // wrappers drop it, a bare run of a ready-to-run script leaves it in. Ignored, counted
      // (keyed state maps are ignored in mapEntry, for JSON too).
      if (STATE_MAP.test(text)) {
        this.ignoredLines++;
        return;
      }
      // bpftrace prints other maps at exit (e.g. a user's own); not ours, so reported.
      return this.ctx.problem('malformed-line', line, `map line not of the form @name[keys]: value: "${text.slice(0, 80)}"`);
    }
    const value = m[3] !== undefined ? Number(m[3]) : m[4]!.split(', ').map(Number);
    this.mapEntry(
      m[1]!,
      m[2]!.split(',').map((k) => k.trim()),
      value,
      line,
    );
  }

  /** One map entry (text or JSON). */
  mapEntry(name: string, keys: string[], value: number | readonly number[], line: number): void {
    if (!this.ctx.headerSealed) this.ctx.sealHeader();
    if (name === '@idle_t') return this.idleAtExit(keys, value, line);
    if (STATE_MAPS.has(name)) {
      this.ignoredLines++;
      return;
    }
    if (name === '@untraced') {
      // `@untraced[cpu, dev]: 1` (both scripts, at END): a device polled but left out by
      // --devices, so that a filter that matched nothing can be told from a quiet gateway.
      const dev = keys.length === 2 ? keys[1]! : '';
      if (dev === '' || dev.length > 64) return this.ctx.problem('malformed-line', line, 'map @untraced needs keys [cpu, device]');
      this.ctx.untracedDevice(dev);
      return;
    }
    const why = this.windows.entry(name, keys, value, line);
    if (why === undefined || why === '') return;
    const code = why.startsWith('unknown map') ? 'unknown-map' : why.includes('outside a window') ? 'map-outside-window' : 'malformed-line';
    this.ctx.problem(code, line, why);
  }

  /**
   * `@idle_t[cpu]: (entered, exited)`, the events script's idle state, which bpftrace prints at
   * exit (format 4): a core that went idle after its last switch from idle (entered > exited) was
   * idle when the probes detached, a period no `IP` record ends. Passed on as open from `entered`.
   */
  private idleAtExit(keys: string[], value: number | readonly number[], line: number): void {
    if (typeof value === 'number' || value.length !== 2 || keys.length !== 1) return this.ctx.problem('malformed-line', line, 'map @idle_t needs [cpu]: (entered, exited)');
    const cpu = parseIntAt(keys[0]!, 0, keys[0]!.length);
    if (!(cpu >= 0)) return this.ctx.problem('malformed-line', line, `map @idle_t: CPU key "${keys[0]!.slice(0, 20)}" is not an integer`);
    const [entered, exited] = value as [number, number];
    const tb = this.ctx.tb;
    if (!(entered > exited) || tb === undefined || !this.ctx.cpuAllowed(cpu, line)) return;
    const start = tb.fromBoot(BigInt(entered)) as number as Ns;
    this.ctx.push({ kind: 'core_idle_period', ts: start, cpu, start, entry: 'open' });
  }

  end(): void {
    this.windows.finishInput();
  }
}

/**
 * Text chunks, or Buffers that the reader (import/index.ts) found to be all ASCII and ending
 * with '\n': those take the byte fast path once the time base is known and no line is open.
 */
export async function importBpftraceText(chunks: AsyncIterable<string | Buffer>, opts: ImportOptions): Promise<ImportSummary> {
  const ctx = new ImportContext('bpftrace-text', opts);
  const rp = new BpftraceRecordParser(ctx);
  const bp = new BpftraceByteParser(ctx, rp);
  const split = new LineSplitter(ctx, (s, a, b, line) => rp.line(s, a, b, line));
  for await (const chunk of chunks) {
    if (typeof chunk === 'string') split.push(chunk);
    else if (split.idle && bp.ready) bp.bytes(chunk, split, (a, b) => chunk.toString('latin1', a, b));
    // ASCII, so Latin-1 is the same text as UTF-8.
    else split.push(chunk.toString('latin1'));
  }
  split.end();
  rp.end();
  return { ...ctx.finish(), ignoredLines: rp.ignoredLines, ...(rp.windows.recordedUntil !== undefined ? { recordedUntilNs: rp.windows.recordedUntil } : {}) };
}

/** Our records or header at the start of a line (first few KB of the file). */
const TEXT_SNIFF = /^(?:#@wgtrace-capture |(?:P|PX|PS|XS|SE|SX|SR|WQ|WS|WE|SO|SI|MG|IP) \d+ \d+ |(?:IE|IX) \d+ \d+$|WIN \d+ \d+|Attach(?:ing|ed) \d+ probes?)/m;

export const bpftraceTextImporter: Importer = {
  name: 'bpftrace-text',
  sniff: (head) => TEXT_SNIFF.test(head),
  import: importBpftraceText,
  piecesInPlace: true,
};
