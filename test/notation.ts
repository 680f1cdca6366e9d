import type { BootNs, Ns } from '../src/base/time.js';
import type { LostEventsEvent, TraceEvent } from '../src/model/events.js';
import type { CaptureHeader, CaptureStatus } from '../src/model/header.js';
import { formatHeaderLines, formatTrailerLines } from '../src/model/capture-text.js';
import { eventRecord } from '../src/model/records.js';
import type { ImportSummary } from '../src/import/types.js';
import { TimelineBuilder } from '../src/timeline/builder.js';
import type { Timeline } from '../src/timeline/types.js';

/**
 * A tiny text language for synthetic per-core timelines (docs/STYLE.md, practice 10), so a
 * detector test reads like the situation it checks:
 *
 * ```
 * # two tunnels' polls trapped on cpu0 while cpu1 idles
 * unit 1ms
 * cpu0: A A B B A A B B
 * cpu1: . . . . . . . .
 * ```
 *
 * Each whitespace-separated token on a `cpuN:` row is one column: one time `unit` (default
 * 1 ms). Columns of all rows are aligned; rows may be shorter (the rest is idle).
 *
 * | token | meaning |
 * | --- | --- |
 * | `.` | idle |
 * | `A`..`Z` | tunnel A's NAPI poll runs the whole column in NET_RX softirq and uses its whole budget (`work == budget == 64`): it is not completed and is requeued on this core |
 * | `a`..`z` | the same tunnel's poll with partial work (`work = 8`): it completes |
 * | suffix `k` (`Ak`) | that softirq ran in `ksoftirqd/N` (deferred: the core is saturated) |
 * | suffix `t` (`At`) | the poll ran in the tunnel's threaded-NAPI kthread `napi/<dev>-0` (sched_switch in/out around it, no softirq) |
 * | `A+B` | one NET_RX softirq in which A then B polled, each for half of the column (any number of parts) |
 * | `~` | NET_RX softirq with no tunnel poll (the NIC's own receive) |
 * | `#` | WireGuard crypt work (`wg_packet_decrypt_worker` of the first tunnel's device) in a kworker |
 *
 * Directives, one per line (`#` starts a comment line):
 * - `unit 1ms` (`ns`, `us`, `ms`, `s`): the length of a column.
 * - `cpus 0-3`: the online CPUs written in the header (default: the rows given).
 * - `tunnel A dev=wg0 napi=0xffff888100001000 threaded=1 kind=veth`: a tunnel's device, napi
 *   pointer, the device's `threaded` flag in the header (`threaded=-` leaves it out) and its
 *   kind (default wireguard). Defaults: tunnel
 *   A is device `wg0`, B is `wg1`, ... (one device per tunnel, as in the talk), napi
 *   `0xffff888100000000 + (index + 1) * 0x1000`, threaded 0.
 * - `origin 17280000123456789`: boot ns of column 0 (default 1000 s of uptime).
 * - `lost 12`: bpftrace lost 12 events (a `Lost 12 events` line at the end).
 * - `skipped 3`: three malformed lines (written into the capture text; counted in the summary).
 * - `status complete|interrupted|partial` (default complete; partial writes no trailer status).
 * - `noheader`: write no header at all (CPUs must then be guessed from events).
 * - `probes 4 20`: the probes attached at column 4 and detached at column 20 (the header's
 *   `#@probes_start_boot_ns` / `#@probes_stop_boot_ns`; default: the capture's bounds).
 *
 * The compiler emits the events the kernel's tracepoints would show (irq:softirq_entry/exit,
 * napi:napi_poll fired when the poll returns, sched_switch halves of napi threads,
 * workqueue_queue_work/execute_start/end), sorted by time (ties: CPU, then emission order),
 * plus the capture header, an `ImportSummary`, and the same capture as bpftrace-text.
 */

export const BUDGET = 64; // net/core/dev.c: the NAPI weight netif_napi_add gives (NAPI_POLL_WEIGHT)
export const PARTIAL_WORK = 8;
const DEFAULT_ORIGIN = 1_000_000_000_000n;

export interface TunnelSpec {
  letter: string;
  index: number;
  dev: string;
  napi: string;
  threaded?: number;
  /** Device kind in the header (default wireguard). */
  kind: 'wireguard' | 'veth' | 'physical' | 'other';
  pid: number;
}

export interface CompiledNotation {
  header?: CaptureHeader;
  origin: BootNs;
  unitNs: number;
  columns: number;
  cpus: number[];
  tunnels: TunnelSpec[];
  events: TraceEvent[];
  summary: ImportSummary;
  /** The same capture in our bpftrace-text format (docs/capture-format.md). */
  text: string;
}

export class NotationError extends Error {}

function parseUnit(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s)$/.exec(s);
  if (!m) throw new NotationError(`bad unit ${s}`);
  const mult = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[m[2] as 'ns' | 'us' | 'ms' | 's'];
  return Math.round(Number(m[1]) * mult);
}

function parseCpus(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new NotationError(`bad cpu list ${s}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let c = a; c <= b; c++) out.push(c);
  }
  return out;
}

function defaultTunnel(letter: string): TunnelSpec {
  const index = letter.charCodeAt(0) - 65;
  return {
    letter,
    index,
    dev: `wg${index}`,
    napi: '0x' + (0xffff888100000000n + BigInt(index + 1) * 0x1000n).toString(16).padStart(16, '0'),
    threaded: 0,
    kind: 'wireguard',
    pid: 1000 + index,
  };
}

interface Part {
  tunnel: string;
  full: boolean;
  ctx: 'irq' | 'ksoftirqd' | 'thread';
}

type Column = { kind: 'idle' } | { kind: 'rx' } | { kind: 'crypt' } | { kind: 'polls'; parts: Part[] };

function parseToken(tok: string, where: string): Column {
  if (tok === '.') return { kind: 'idle' };
  if (tok === '~') return { kind: 'rx' };
  if (tok === '#') return { kind: 'crypt' };
  const parts = tok.split('+').map((p): Part => {
    const m = /^([A-Za-z])([kt]?)$/.exec(p);
    if (!m) throw new NotationError(`${where}: bad token ${tok}`);
    const ch = m[1]!;
    return { tunnel: ch.toUpperCase(), full: ch === ch.toUpperCase(), ctx: m[2] === 'k' ? 'ksoftirqd' : m[2] === 't' ? 'thread' : 'irq' };
  });
  if (parts.length > 1 && parts.some((p) => p.ctx === 'thread')) throw new NotationError(`${where}: ${tok}: threaded polls cannot share a softirq`);
  if (parts.length > 1 && new Set(parts.map((p) => p.ctx)).size > 1) throw new NotationError(`${where}: ${tok}: parts of one softirq must share its context`);
  return { kind: 'polls', parts };
}

export function compileNotation(src: string): CompiledNotation {
  let unitNs = 1_000_000;
  let cpusDecl: number[] | undefined;
  let origin = DEFAULT_ORIGIN;
  let lost = 0;
  let skipped = 0;
  let status = 'complete' as CaptureStatus;
  let noHeader = false;
  let probes: [number, number] | undefined;
  const tunnels = new Map<string, TunnelSpec>();
  const rows = new Map<number, Column[]>();

  src.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    const where = `line ${i + 1}`;
    if (line === '' || line.startsWith('#')) return;
    const row = /^cpu(\d+):(.*)$/.exec(line);
    if (row) {
      const cpu = Number(row[1]);
      if (rows.has(cpu)) throw new NotationError(`${where}: cpu${cpu} given twice`);
      rows.set(
        cpu,
        row[2]!
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map((t) => parseToken(t, where)),
      );
      return;
    }
    const [cmd, ...args] = line.split(/\s+/);
    switch (cmd) {
      case 'unit':
        unitNs = parseUnit(args[0] ?? '');
        break;
      case 'cpus':
        cpusDecl = parseCpus(args[0] ?? '');
        break;
      case 'origin':
        origin = BigInt(args[0] ?? '0');
        break;
      case 'lost':
        lost = Number(args[0]);
        break;
      case 'skipped':
        skipped = Number(args[0]);
        break;
      case 'status':
        status = args[0] as CaptureStatus;
        break;
      case 'noheader':
        noHeader = true;
        break;
      case 'probes':
        probes = [Number(args[0]), Number(args[1])];
        if (!probes.every((x) => Number.isInteger(x) && x >= 0)) throw new NotationError(`${where}: probes needs two column numbers`);
        break;
      case 'tunnel': {
        const letter = (args[0] ?? '').toUpperCase();
        if (!/^[A-Z]$/.test(letter)) throw new NotationError(`${where}: tunnel needs a letter`);
        const t = defaultTunnel(letter);
        for (const kv of args.slice(1)) {
          const [k, v] = kv.split('=');
          if (k === 'dev') t.dev = v!;
          else if (k === 'napi') t.napi = v!;
          else if (k === 'kind') t.kind = v as TunnelSpec['kind'];
          else if (k === 'threaded') {
            if (v === '-') delete t.threaded;
            else t.threaded = Number(v);
          } else throw new NotationError(`${where}: unknown tunnel field ${k}`);
        }
        tunnels.set(letter, t);
        break;
      }
      default:
        throw new NotationError(`${where}: unknown directive ${cmd}`);
    }
  });

  const tunnelOf = (letter: string): TunnelSpec => {
    let t = tunnels.get(letter);
    if (t === undefined) {
      t = defaultTunnel(letter);
      tunnels.set(letter, t);
    }
    return t;
  };
  const firstTunnel = (): TunnelSpec => [...tunnels.values()].sort((a, b) => a.index - b.index)[0] ?? defaultTunnel('A');

  // Events, tagged with an emission sequence so sorting is stable.
  const evs: { ev: Exclude<TraceEvent, LostEventsEvent>; seq: number }[] = [];
  const push = (ev: Exclude<TraceEvent, LostEventsEvent>): void => void evs.push({ ev, seq: evs.length });
  const T = (n: number): Ns => n as Ns;
  let columns = 0;
  for (const [cpu, cols] of [...rows].sort((a, b) => a[0] - b[0])) {
    columns = Math.max(columns, cols.length);
    const swapper = `swapper/${cpu}`;
    const ksoftirqd = { pid: 10 + cpu, comm: `ksoftirqd/${cpu}` };
    cols.forEach((col, i) => {
      const t0 = i * unitNs;
      const t1 = t0 + unitNs;
      switch (col.kind) {
        case 'idle':
          return;
        case 'rx':
          push({ kind: 'softirq_entry', ts: T(t0), cpu, vec: 3, pid: 0, comm: swapper });
          push({ kind: 'softirq_exit', ts: T(t1), cpu, vec: 3 });
          return;
        case 'crypt': {
          const dev = firstTunnel().dev;
          const work = '0x' + (0xffff888200000000n + BigInt(cpu) * 0x100n).toString(16).padStart(16, '0');
          push({ kind: 'workqueue_queue_work', ts: T(t0), cpu, work, function: 'wg_packet_decrypt_worker', workqueue: `wg-crypt-${dev}`, reqCpu: cpu, targetCpu: cpu });
          push({ kind: 'workqueue_execute_start', ts: T(t0), cpu, work, function: 'wg_packet_decrypt_worker' });
          push({ kind: 'workqueue_execute_end', ts: T(t1), cpu, work, function: 'wg_packet_decrypt_worker' });
          return;
        }
        case 'polls': {
          const first = col.parts[0]!;
          if (first.ctx === 'thread') {
            const tn = tunnelOf(first.tunnel);
            const comm = `napi/${tn.dev}-0`;
            push({ kind: 'sched_switch_in', ts: T(t0), cpu, pid: tn.pid, comm });
            push({ kind: 'napi_poll', ts: T(t1), cpu, napi: tn.napi, dev: tn.dev, work: first.full ? BUDGET : PARTIAL_WORK, budget: BUDGET, pid: tn.pid, comm });
            push({ kind: 'sched_switch_out', ts: T(t1), cpu, pid: tn.pid, state: 'S', comm });
            return;
          }
          const who = first.ctx === 'ksoftirqd' ? ksoftirqd : { pid: 0, comm: swapper };
          push({ kind: 'softirq_entry', ts: T(t0), cpu, vec: 3, pid: who.pid, comm: who.comm });
          const n = col.parts.length;
          col.parts.forEach((p, k) => {
            const tn = tunnelOf(p.tunnel);
            const end = k === n - 1 ? t1 : t0 + Math.round(((k + 1) * unitNs) / n);
            push({ kind: 'napi_poll', ts: T(end), cpu, napi: tn.napi, dev: tn.dev, work: p.full ? BUDGET : PARTIAL_WORK, budget: BUDGET, pid: who.pid, comm: who.comm });
          });
          push({ kind: 'softirq_exit', ts: T(t1), cpu, vec: 3 });
          return;
        }
      }
    });
  }
  evs.sort((a, b) => a.ev.ts - b.ev.ts || a.ev.cpu - b.ev.cpu || a.seq - b.seq);
  const events: TraceEvent[] = evs.map((e) => e.ev);
  if (lost > 0) events.push({ kind: 'lost_events', count: lost });

  const cpus = cpusDecl ?? [...rows.keys()].sort((a, b) => a - b);
  const endBoot = origin + BigInt(columns * unitNs);
  const tunnelList = [...tunnels.values()].sort((a, b) => a.index - b.index);
  const devices = [...new Map(tunnelList.map((t) => [t.dev, t])).values()].map((t) => ({
    name: t.dev,
    kind: t.kind,
    ...(t.threaded === undefined ? {} : { threaded: t.threaded }),
  }));
  const header: CaptureHeader | undefined = noHeader
    ? undefined
    : {
        formatVersion: 1,
        toolVersion: '0.1.0',
        hostname: 'notation',
        kernel: '6.18.0-notation',
        cpus,
        mode: 'events',
        // What a capture of these devices would have used for --devices: wg* for WireGuard
        // names, else the names themselves (a veth testbed is captured with --devices 'vb*').
        devicesGlob: devices.every((d) => d.name.startsWith('wg')) ? 'wg*' : devices.map((d) => d.name).join(','),
        startBootNs: origin.toString(),
        devices,
        endBootNs: endBoot.toString(),
        probesStartBootNs: (probes ? origin + BigInt(probes[0] * unitNs) : origin).toString(),
        probesStopBootNs: (probes ? origin + BigInt(probes[1] * unitNs) : endBoot).toString(),
        status,
      };

  const lines: string[] = [];
  if (header) lines.push(...formatHeaderLines(header));
  for (const ev of events) lines.push(eventRecord(ev, origin));
  for (let i = 0; i < skipped; i++) lines.push(`?? malformed line ${i + 1}`);
  if (header) lines.push(...formatTrailerLines(header)); // 'partial' writes no #@status line
  const text = lines.join('\n') + '\n';

  const counted = events.filter((e) => e.kind !== 'lost_events').length;
  const summary: ImportSummary = {
    format: 'bpftrace-text',
    ...(header ? { header: status === 'partial' ? { ...header, status: 'partial' } : header } : {}),
    origin: origin as BootNs,
    originFromHeader: header !== undefined,
    lines: lines.length,
    events: counted,
    lostEvents: lost,
    skippedLines: skipped,
  };
  return { ...(header ? { header } : {}), origin: origin as BootNs, unitNs, columns, cpus, tunnels: tunnelList, events, summary, text };
}

/** Compiles notation and folds it into a timeline with the real TimelineBuilder. */
export function timelineFromNotation(src: string, opts: { windowNs?: number } = {}): Timeline {
  const n = compileNotation(src);
  const b = new TimelineBuilder({ file: 'notation', ...(opts.windowNs !== undefined ? { windowNs: opts.windowNs } : {}) });
  if (n.header) b.header(n.header);
  b.push(n.events);
  return b.finish(n.summary);
}
