import { z } from 'zod';
import { VERSION } from '../base/version.js';
import { formatHeaderLines, formatTrailerLines } from '../model/capture-text.js';
import type { CaptureHeader } from '../model/header.js';
import { formatRecord } from '../model/records.js';
import { DEFAULT_BALANCE_INTERVAL_NS } from '../replay/options.js';

/**
 * The synthetic threaded captures charge each migration 500 us of the destination core (what
 * the replay did when traces/synthetic-talk-8x32-threaded.txt.gz was written). The replay no
 * longer does (options.ts: DEFAULT_MIGRATION_COST_NS); the generator keeps it so a seed still
 * writes the same capture.
 */
const SYNTH_MIGRATION_COST_NS = 500_000;
import { Prng } from '../replay/prng.js';
import { StockSim } from '../replay/models/stock.js';
import { ThreadedSim } from '../replay/models/threaded.js';
import { makeScenario, scenarioModelInput, type Scenario } from './scenario.js';

/**
 * Synthetic captures of kernel WireGuard on a receiving gateway, in the formats our bpftrace
 * scripts produce (docs/capture-format.md, header and trailer included), driven step by step
 * by the stock or threaded model (src/replay/models) on a scenario (scenario.ts).
 *
 * Per step and per core the writer lays out what the model says the core did:
 * - stock: NET_RX softirqs (`SE`/`SX`, vec 3), each serving the wg polls placed on the core
 *   round-robin with budget 64 (`P`; net/core/dev.c: napi_poll), then the outer receive work of
 *   the tunnels RSS put there (no event: the NIC's NAPI is not a wg device). A poll that is
 *   stuck (its queue never drains) only ever returns full budgets, the remainder carried to the
 *   next step: the monolithic chain. A saturated core runs NET_RX in `ksoftirqd/N`.
 * - threaded: the receive softirq as above without polls, and each tunnel's kthread
 *   `napi/wgN-0` switched in (`SI`), polling, switched out (`SO`); migrations (`MG`).
 * - decryption on every core: one `wg_packet_decrypt_worker` item per core per step (`WS`/`WE`)
 *   holding the core's round-robin share, queued (`WQ`) from the RSS core of the device whose
 *   worker it is; the device rotates over steps so each device's crypt time is its share.
 *
 * Lines are written per step, CPU by CPU (ordered within a CPU, not across CPUs, as bpftrace's
 * per-CPU buffers deliver them), through an async sink: the file is never held in memory.
 * Deterministic for a seed. Returns the plant: what the generator put where, and when.
 */

/** NAPI weight of WireGuard peers (drivers/net/wireguard/peer.c: netif_napi_add, NAPI_POLL_WEIGHT 64). */
export const NAPI_BUDGET = 64;
/** net/core/dev.c: netdev_budget, packets per net_rx_action before it yields. */
export const NETDEV_BUDGET = 300;
/** A core whose busy share of a step reaches this runs NET_RX in ksoftirqd (kernel/softirq.c: __do_softirq hands over after about 2 ms of restarts). */
export const KSOFTIRQD_AT = 0.9;
/** Synthetic uptime at capture start: 3 days, a plausible gateway (below 2^53 ns, so plain numbers stay exact). */
export const SYNTH_START_BOOT_NS = 259_200_000_000_000;
/** include/linux/interrupt.h: NET_RX_SOFTIRQ, the vec of the receive softirq. */
const NET_RX_SOFTIRQ = 3;
/** include/linux/sched.h: TASK_INTERRUPTIBLE, the prev_state a napi kthread sleeps in (napi_thread_wait), as our script prints it (a number). */
const TASK_INTERRUPTIBLE = 1;
/** drivers/net/wireguard/receive.c: the decrypt work function ksym() resolves to. */
const DECRYPT_WORKER = 'wg_packet_decrypt_worker';
/** Gap between the header's start and the probes' attachment, and after the last event. */
const LEAD_NS = 1_000_000;

export const SynthOptions = z.object({
  tunnels: z.number().int().min(1).max(1024).default(8),
  cpus: z.number().int().min(1).max(1024).default(32),
  seconds: z.number().positive().max(600).default(2),
  seed: z.number().int().min(0).max(0xffffffff).default(1),
  threaded: z.boolean().default(false),
  format: z.enum(['bpftrace-text', 'bpftrace-json']).default('bpftrace-text'),
  mode: z.enum(['events', 'windows']).default('events'),
  /** RSS placement of the outer flows: one queue each (`distinct`), or a uniform hash. */
  rss: z.enum(['distinct', 'hash']).default('distinct'),
  /** Model step: one decrypt item per core per step. 2 ms keeps the file a few MB for 8 tunnels x 32 cores x 2 s. */
  stepNs: z.number().int().min(100_000).max(100_000_000).default(2_000_000),
  /** Windows mode: the script's interval. */
  intervalNs: z.number().int().min(1_000_000).max(10_000_000_000).default(10_000_000),
});
export type SynthOptionsInput = z.input<typeof SynthOptions>;
export type SynthOptions = z.output<typeof SynthOptions>;

export interface PlantSegment {
  cpu: number;
  /** Relative to the capture origin (the header's start_boot_ns). */
  fromNs: number;
  toNs: number;
}

export interface Plant {
  scenario: Scenario;
  model: 'stock' | 'threaded';
  options: SynthOptions;
  /** Capture origin (boot ns) and where the events start and end, relative to it. */
  startBootNs: number;
  eventsFromNs: number;
  eventsToNs: number;
  /** Where each tunnel's poll ran, as maximal segments. */
  /** `packets`: arrived at the poll; `delivered`: returned by polls (the rest was still queued at the end). */
  polls: { dev: string; napi: string; rxCore: number; packets: number; delivered: number; segments: PlantSegment[] }[];
  /** Maximal intervals during which the same 2+ tunnels' polls shared a core. */
  colocations: { cpu: number; devs: string[]; fromNs: number; toNs: number }[];
  /** Stock: when every poll was stuck (relative to the origin), and on how many cores they ended. */
  convergenceNs: number | null;
  finalPollCores: number[];
  /** Busy time written per core (ns): poll, receive, NET_RX softirq total, decrypt. */
  perCore: { cpu: number; pollNs: number; rxNs: number; softirqNs: number; cryptNs: number }[];
  lines: number;
}

export type Sink = (chunk: string) => void | Promise<void>;

interface Ev {
  ts: number;
  /** What the record is (0 queue/migrate, 1 entry, 2 poll, 3 exit, 4-5 work): events are sorted by ts only, stably, so same-ns records keep the order they were laid out in. */
  ord: number;
  text: string;
  /** A task (kworker, napi kthread, ksoftirqd) comes onto the core (1) or leaves it (-1): the idle task's time is around these. */
  task?: 1 | -1;
}

/** Per core, the idle task as the capture records it (format 3: IE/IX, @idle). Times relative to the origin. */
interface IdleTrack {
  /** Last switch to idle, and from idle. */
  entered: number;
  exited: number;
  /** Idle periods that ended, and their total time (what @idle sums). */
  closed: number;
  periods: number;
}

/**
 * Adds the idle task's switches to one core's sorted events of a step: the core leaves idle
 * (`IX`) when a task comes on (a kworker's item, a napi kthread, ksoftirqd) and goes back to
 * idle (`IE`) when the last one leaves. NET_RX softirqs run on irq exit from the idle task
 * unless the core is saturated (then in ksoftirqd): no switch for them, as in the kernel
 * (kernel/softirq.c: irq_exit -> invoke_softirq). So the synthetic idle time is the time no
 * simulated work ran.
 */
function withIdle(E: readonly Ev[], cpu: number, origin: number, st: IdleTrack, events: boolean): Ev[] {
  const out: Ev[] = [];
  let depth = 0;
  let pendingIE = NaN;
  const flushIE = (): void => {
    if (pendingIE !== pendingIE) return;
    st.entered = pendingIE;
    if (events) out.push({ ts: pendingIE, ord: 6, text: formatRecord('IE', { ts: origin + pendingIE, cpu }) });
    pendingIE = NaN;
  };
  for (const e of E) {
    if (pendingIE === pendingIE && (e.ts > pendingIE || e.task === 1)) {
      // A task coming on at the instant the last one left: the core never went idle.
      if (e.task === 1 && e.ts === pendingIE) pendingIE = NaN;
      else flushIE();
    }
    if (e.task === 1) {
      if (depth === 0 && pendingIE !== pendingIE && st.entered >= st.exited) {
        st.closed += e.ts - st.entered;
        st.periods++;
        st.exited = e.ts;
        if (events) out.push({ ts: e.ts, ord: 0, text: formatRecord('IX', { ts: origin + e.ts, cpu }) });
      }
      depth++;
    }
    out.push(e);
    if (e.task === -1 && --depth === 0) pendingIE = e.ts;
  }
  flushIE();
  return out;
}

const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
/** Per-CPU worker of device d on CPU q (a percpu address, like bpftrace prints %p of work). */
const workPtr = (d: number, q: number): string => `0xffffe8ff${hex8(0x00400000 + d * 0x10000 + q * 0x40)}`;
const ksoftirqdPid = (cpu: number): number => 14 + 8 * cpu;
const threadPid = (i: number): number => 4000 + i;

/** bpftrace 0.17 prints u64 map keys signed: the importer normalises (normalizePointer). */
function signedPtr(hex: string): string {
  const v = BigInt(hex);
  return (v >= 1n << 63n ? v - (1n << 64n) : v).toString();
}

export async function writeSynthCapture(opts: SynthOptionsInput, sink: Sink): Promise<Plant> {
  const o = SynthOptions.parse(opts);
  const scenario = makeScenario({ tunnels: o.tunnels, cpus: o.cpus, seed: o.seed, rss: o.rss });
  const inp = scenarioModelInput(scenario, 'offered');
  const n = scenario.tunnels.length;
  const m = scenario.cpus.length;
  const c = scenario.costs;
  const rng = new Prng(o.seed);
  const stock = o.threaded ? undefined : new StockSim(inp, rng);
  const threaded = o.threaded
    ? new ThreadedSim(
        inp,
        {
          stepNs: o.stepNs,
          horizonNs: o.stepNs,
          balanceIntervalNs: DEFAULT_BALANCE_INTERVAL_NS,
          migrationCostNs: SYNTH_MIGRATION_COST_NS,
          threadedOverheadRatio: c.threadedOverheadRatio,
        },
        rng,
      )
    : undefined;
  const wakeNs = o.threaded ? c.threadedOverheadRatio * (c.rxNs + c.decryptNs + c.forwardNs) : 0;

  const durationNs = Math.round(o.seconds * 1e9);
  const steps = Math.max(1, Math.round(durationNs / o.stepNs));
  const origin = SYNTH_START_BOOT_NS;
  const t0 = LEAD_NS;
  const endNs = t0 + steps * o.stepNs;
  const header: CaptureHeader = {
    // Format 3: the idle records (IE/IX, @idle) are in it.
    formatVersion: 3,
    toolVersion: VERSION,
    hostname: 'gw2-synthetic',
    kernel: 'synthetic (wgtrace synth)',
    bpftraceVersion: 'bpftrace v0.17.0',
    cpus: scenario.cpus,
    mode: o.mode,
    ...(o.mode === 'windows' ? { intervalNs: o.intervalNs } : {}),
    devicesGlob: 'wg*',
    startWall: '2026-11-26T00:00:00Z',
    startBootNs: String(origin),
    devices: scenario.tunnels.map((t) => ({ name: t.dev, kind: 'wireguard' as const, threaded: o.threaded ? 1 : 0 })),
    probesStartBootNs: String(origin + t0),
    probesStopBootNs: String(origin + endNs),
    endWall: '2026-11-26T00:00:02Z',
    endBootNs: String(origin + endNs + LEAD_NS),
    status: 'complete',
  };
  const json = o.format === 'bpftrace-json';
  let lines = 0;
  let buf: string[] = [];
  const raw = (line: string): void => {
    buf.push(line + '\n');
    lines++;
  };
  const rec = (line: string): void => {
    buf.push(json ? `{"type": "printf", "data": "${line}\\n"}\n` : line + '\n');
    lines++;
  };
  const flush = async (): Promise<void> => {
    if (buf.length === 0) return;
    const chunk = buf.join('');
    buf = [];
    await sink(chunk);
  };
  const hdr = formatHeaderLines(header);
  const trl = formatTrailerLines(header);
  // The script's BEGIN prints the probes mark (a printf record in JSON); the trailer's copy is
  // written by capture.sh after bpftrace exits, so take it out of the trailer here.
  for (const l of hdr) raw(l);
  if (json) raw('{"type": "attached_probes", "data": {"probes": 11}}');
  else raw('Attaching 11 probes...');
  rec(`#@probes_start_boot_ns ${origin + t0}`);

  // Plant bookkeeping.
  const polls = scenario.tunnels.map((t) => ({ dev: t.dev, napi: t.napi, rxCore: t.rxCore, packets: 0, delivered: 0, segments: [] as PlantSegment[] }));
  const perCore = scenario.cpus.map((cpu) => ({ cpu, pollNs: 0, rxNs: 0, softirqNs: 0, cryptNs: 0 }));
  const coloc: { cpu: number; devs: string[]; fromNs: number; toNs: number }[] = [];
  const openColoc = new Map<number, { key: string; idx: number }>();
  let convergenceNs: number | null = null;
  const carry = new Float64Array(n);
  const backlog = new Float64Array(n);
  /** Per core: where the round-robin grant of stuck polls' budgets resumes (see grant()). */
  const rr = new Int32Array(m);
  let finalPlace: Int32Array = new Int32Array(n);
  // Every core idle from the moment the probes attached until its first task.
  const idle: IdleTrack[] = scenario.cpus.map(() => ({ entered: t0, exited: 0, closed: 0, periods: 0 }));

  // Windows-mode accumulators.
  const W = {
    /** Per `cpu, dev, napi` key, this window's (busy ns, polls, work, full-budget polls): @napi's tuple. */
    napi: new Map<string, [number, number, number, number]>(),
    rxBusy: new Float64Array(m),
    rxCount: new Float64Array(m),
    rxKs: new Float64Array(m),
    cryptBusy: new Float64Array(m),
    cryptCount: new Float64Array(m),
    /** Totals per map entry, as the script prints them. */
    totals: new Map<string, number[]>(),
  };
  /** One poll of `work` packets taking `busyNs`, for the windows maps. */
  const windowPoll = (cpu: number, tn: { dev: string; napi: string }, busyNs: number, work: number): void => {
    const key = `${cpu}, ${tn.dev}, ${signedPtr(tn.napi)}`;
    let v = W.napi.get(key);
    if (v === undefined) W.napi.set(key, (v = [0, 0, 0, 0]));
    v[0] += busyNs;
    v[1] += 1;
    v[2] += work;
    if (work === NAPI_BUDGET) v[3] += 1;
  };
  const perCpu = (f: (p: number) => number[] | undefined): [string, number[]][] =>
    scenario.cpus.flatMap((cpu, p): [string, number[]][] => {
      const t = f(p);
      return t === undefined ? [] : [[String(cpu), t]];
    });
  let winStart = t0;
  const flushWindow = (at: number): void => {
    rec(`WIN ${origin + at} ${at - winStart}`);
    // Format 2 windows maps (bpftrace-scripts/windows.bt.in): one tuple per key, totals since
    // the start, printed when they changed (as the wrappers' filter leaves them). @netrx's last
    // element is the script's guard (its last NET_RX exit): the window's end stands in for it.
    const maps: [string, [string, number[]][]][] = [
      ['@napi', [...W.napi.entries()]],
      [
        '@idle',
        perCpu((p) => {
          const d = idle[p]!;
          const v = [d.closed, d.periods, origin + d.entered, d.exited > 0 ? origin + d.exited : 0];
          const prev = W.totals.get(`@idle[${scenario.cpus[p]}]`);
          return prev !== undefined && prev.every((x, i) => x === v[i]) ? undefined : v;
        }),
      ],
      ['@netrx', perCpu((p) => (W.rxCount[p]! > 0 ? [W.rxBusy[p]!, W.rxCount[p]!, W.rxKs[p]!, origin + at] : undefined))],
      ['@crypt', perCpu((p) => (W.cryptCount[p]! > 0 ? [W.cryptBusy[p]!, W.cryptCount[p]!] : undefined))],
    ];
    for (const [name, increments] of maps) {
      if (increments.length === 0) continue;
      const entries = increments.map(([k, x]): [string, number[]] => {
        const id = `${name}[${k}]`;
        const total = W.totals.get(id) ?? x.map(() => 0);
        // @idle's tuple is already the script's (totals and its last switch times).
        const next = name === '@idle' ? x : x.map((v, i) => (name === '@netrx' && i === 3 ? v : total[i]! + Math.round(v)));
        W.totals.set(id, next);
        return [k, next];
      });
      if (json) {
        const obj = entries.map(([k, x]) => `"${k.replaceAll(', ', ',')}": [${x.map(Math.round).join(',')}]`).join(', ');
        raw(`{"type": "map", "data": {"${name}": {${obj}}}}`);
      } else for (const [k, x] of entries) raw(`${name}[${k}]: (${x.map(Math.round).join(', ')})`);
    }
    W.napi.clear();
    for (const v of [W.rxBusy, W.rxCount, W.rxKs, W.cryptBusy, W.cryptCount]) v.fill(0);
    winStart = at;
  };

  for (let s = 0; s < steps; s++) {
    const st0 = t0 + s * o.stepNs;
    let x: Float64Array;
    let place: Int32Array;
    let sticky: Uint8Array;
    let migrations: [number, number, number][] = [];
    if (stock) {
      const st = stock.step();
      x = st.x;
      place = st.poll;
      sticky = st.sticky;
      if (st.allSticky && convergenceNs === null) convergenceNs = st0;
    } else {
      const st = threaded!.step();
      x = st.x;
      place = st.thread;
      sticky = new Uint8Array(n).fill(1);
      migrations = threaded!.lastMigrations;
    }
    finalPlace = place;
    // Packets this step, per tunnel (integer, fractions carried).
    const k = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const exact = (x[i]! * o.stepNs) / 1e9 + carry[i]!;
      k[i] = Math.floor(exact);
      carry[i] = exact - k[i]!;
      polls[i]!.packets += k[i]!;
    }
    // Plant: poll segments and co-locations.
    for (let i = 0; i < n; i++) {
      const segs = polls[i]!.segments;
      const cpu = scenario.cpus[place[i]!]!;
      const last = segs[segs.length - 1];
      if (last && last.cpu === cpu && last.toNs === st0) last.toNs = st0 + o.stepNs;
      else segs.push({ cpu, fromNs: st0, toNs: st0 + o.stepNs });
    }
    const byCore = new Map<number, number[]>();
    for (let i = 0; i < n; i++) byCore.set(place[i]!, [...(byCore.get(place[i]!) ?? []), i]);
    for (let p = 0; p < m; p++) {
      const ts = byCore.get(p) ?? [];
      const key = ts.length >= 2 ? ts.join(',') : '';
      const open = openColoc.get(p);
      if (open && open.key === key) coloc[open.idx]!.toNs = st0 + o.stepNs;
      else {
        openColoc.delete(p);
        if (key) {
          coloc.push({ cpu: scenario.cpus[p]!, devs: ts.map((i) => scenario.tunnels[i]!.dev), fromNs: st0, toNs: st0 + o.stepNs });
          openColoc.set(p, { key, idx: coloc.length - 1 });
        }
      }
    }
    const totalK = k.reduce((a, b) => a + b, 0);
    const evs: Ev[][] = scenario.cpus.map(() => []);
    for (const [ti, from, to] of migrations) {
      const cpu = scenario.cpus[to]!;
      evs[to]!.push({
        ts: st0,
        ord: 0,
        text: formatRecord('MG', { ts: origin + st0, cpu, pid: threadPid(ti), origCpu: scenario.cpus[from]!, destCpu: cpu, comm: `napi/${scenario.tunnels[ti]!.dev}-0` }),
      });
    }
    for (let p = 0; p < m; p++) {
      const cpu = scenario.cpus[p]!;
      const onCore = byCore.get(p) ?? [];
      const rxTunnels: number[] = [];
      for (let i = 0; i < n; i++) if (inp.tunnels[i]!.rxPos === p) rxTunnels.push(i);
      const rxNs = Math.round(rxTunnels.reduce((a, i) => a + c.rxNs * k[i]!, 0));
      let cryptNs = Math.round(((c.decryptNs + wakeNs) * totalK) / m);
      // Poll work per tunnel on this core: a poll that drains returns what it has; a stuck poll
      // only returns full budgets (net/core/dev.c: napi_poll requeues a poll that used its whole
      // weight), the remainder carried to the next step.
      const work = new Map<number, number>();
      const units = new Map<number, number>();
      let stuckUnits = 0;
      for (const i of onCore) {
        const avail = k[i]! + backlog[i]!;
        if (sticky[i]) {
          const u = Math.floor(avail / NAPI_BUDGET);
          units.set(i, u);
          stuckUnits += u;
          work.set(i, 0);
        } else work.set(i, avail);
      }
      // Every stuck poll's full budgets fit the step on average (the model's allocation fits the
      // core), but not in every step: tunnels sharing a core at the same fair rate cross a full
      // budget in the same steps, and with many tunnels per core (each below 64 packets a step)
      // their budgets come in bursts larger than the step. A saturated core can only do a
      // step's worth of polls in a step: grant the stuck polls' budgets round-robin, one per
      // poll per pass as net_rx_action visits its poll list (net/core/dev.c), starting where
      // the last step stopped, as many as fit; the rest stays queued for the next step.
      for (const [i, u] of units) work.set(i, u * NAPI_BUDGET);
      let lay = layoutCore(work, onCore, o.threaded, rxNs, c.forwardNs);
      if (lay.busyNs > o.stepNs - 2 && stuckUnits > 0) {
        const unitNs = Math.max(1, Math.round(NAPI_BUDGET * c.forwardNs));
        const drained = new Map(work);
        for (const i of units.keys()) drained.set(i, 0);
        const base = layoutCore(drained, onCore, o.threaded, rxNs, c.forwardNs);
        // Each granted budget costs its poll plus at most 1 ns of receive slice (one more round).
        let g = Math.min(stuckUnits, Math.max(0, Math.floor((o.stepNs - 2 - base.busyNs) / (unitNs + 1))));
        for (;;) {
          grant(work, units, onCore, g, rr, p);
          lay = layoutCore(work, onCore, o.threaded, rxNs, c.forwardNs);
          if (lay.busyNs <= o.stepNs - 2 || g === 0) break;
          g--;
        }
      }
      for (const i of onCore) {
        const w = work.get(i)!;
        backlog[i] = k[i]! + backlog[i]! - w;
        polls[i]!.delivered += w;
      }
      const { pollNs, rounds, rxSlices } = lay;
      const softirqPolls = o.threaded ? [] : onCore;
      const rem = new Map(work);
      const rxWritten = rxSlices.reduce((a, b) => a + b, 0);
      const softWritten = rxWritten + (o.threaded ? 0 : pollNs);
      const threadWritten = o.threaded ? pollNs : 0;
      // Keep every event of the step inside it (2 ns of slack): decryption gives way if rounding overflows.
      cryptNs = Math.max(0, Math.min(cryptNs, o.stepNs - 2 - softWritten - threadWritten));
      const saturated = softWritten + threadWritten + cryptNs >= KSOFTIRQD_AT * o.stepNs;
      const ctxPid = saturated ? ksoftirqdPid(cpu) : 0;
      const ctxComm = saturated ? `ksoftirqd/${cpu}` : `swapper/${cpu}`;
      const E = evs[p]!;
      const idle = Math.max(0, o.stepNs - 2 - softWritten - threadWritten - cryptNs);
      const gap = Math.floor(idle / (rounds + 2));
      let t = st0 + gap;
      for (let r = 0; r < rounds; r++) {
        E.push({ ts: t, ord: 1, text: formatRecord('SE', { ts: origin + t, cpu, vec: NET_RX_SOFTIRQ, pid: ctxPid, comm: ctxComm }), ...(saturated ? { task: 1 as const } : {}) });
        let inRound = 0;
        for (const i of softirqPolls) {
          const w = Math.min(NAPI_BUDGET, rem.get(i)!);
          if (w <= 0 || inRound >= NETDEV_BUDGET) continue;
          inRound += w;
          rem.set(i, rem.get(i)! - w);
          t += Math.max(1, Math.round(w * c.forwardNs));
          const tn = scenario.tunnels[i]!;
          E.push({ ts: t, ord: 2, text: formatRecord('P', { ts: origin + t, cpu, napi: tn.napi, dev: tn.dev, work: w, budget: NAPI_BUDGET, pid: ctxPid, comm: ctxComm }) });
          if (o.mode === 'windows') windowPoll(cpu, tn, Math.max(1, Math.round(w * c.forwardNs)), w);
        }
        t += rxSlices[r]!;
        E.push({ ts: t, ord: 3, text: formatRecord('SX', { ts: origin + t, cpu, vec: NET_RX_SOFTIRQ }), ...(saturated ? { task: -1 as const } : {}) });
        t += gap;
      }
      // Threaded: each napi kthread on this core runs its polls in one slice.
      if (o.threaded) {
        for (const i of onCore) {
          const tn = scenario.tunnels[i]!;
          const comm = `napi/${tn.dev}-0`;
          let w = work.get(i)!;
          if (w <= 0) continue;
          E.push({ ts: t, ord: 1, text: formatRecord('SI', { ts: origin + t, cpu, pid: threadPid(i), comm }), task: 1 });
          while (w > 0) {
            const b = Math.min(NAPI_BUDGET, w);
            w -= b;
            t += Math.max(1, Math.round(b * c.forwardNs));
            E.push({ ts: t, ord: 2, text: formatRecord('P', { ts: origin + t, cpu, napi: tn.napi, dev: tn.dev, work: b, budget: NAPI_BUDGET, pid: threadPid(i), comm }) });
            if (o.mode === 'windows') windowPoll(cpu, tn, Math.max(1, Math.round(b * c.forwardNs)), b);
          }
          E.push({ ts: t, ord: 3, text: formatRecord('SO', { ts: origin + t, cpu, pid: threadPid(i), state: TASK_INTERRUPTIBLE, comm }), task: -1 });
        }
      }
      // Decryption: this core's round-robin share, one item of a rotating device's worker.
      if (cryptNs > 0) {
        const d = (s + p) % n;
        const rxCpu = scenario.tunnels[d]!.rxCore;
        const rxPos = inp.tunnels[d]!.rxPos;
        const ptr = workPtr(d, cpu);
        evs[rxPos]!.push({
          ts: st0 + 1 + (p % 997),
          ord: 0,
          text: formatRecord('WQ', {
            ts: origin + st0 + 1 + (p % 997),
            cpu: rxCpu,
            work: ptr,
            function: DECRYPT_WORKER,
            workqueue: `wg-crypt-${scenario.tunnels[d]!.dev}`,
            reqCpu: cpu,
            targetCpu: cpu,
          }),
        });
        E.push({ ts: t, ord: 4, text: formatRecord('WS', { ts: origin + t, cpu, work: ptr, function: DECRYPT_WORKER }), task: 1 });
        t += cryptNs;
        E.push({ ts: t, ord: 5, text: formatRecord('WE', { ts: origin + t, cpu, work: ptr, function: DECRYPT_WORKER }), task: -1 });
      }
      if (t > st0 + o.stepNs) throw new Error(`synth: step ${s} overflows on CPU ${cpu} (${t - st0} ns)`);
      const pc = perCore[p]!;
      pc.pollNs += pollNs;
      pc.rxNs += rxWritten;
      pc.softirqNs += softWritten;
      pc.cryptNs += cryptNs;
      if (o.mode === 'windows') {
        W.rxBusy[p] = W.rxBusy[p]! + softWritten;
        W.rxCount[p] = W.rxCount[p]! + rounds;
        if (saturated) W.rxKs[p] = W.rxKs[p]! + rounds;
        W.cryptBusy[p] = W.cryptBusy[p]! + cryptNs;
        if (cryptNs > 0) W.cryptCount[p] = W.cryptCount[p]! + 1;
      }
    }
    for (let p = 0; p < m; p++) {
      const E = evs[p]!;
      E.sort((a, b) => a.ts - b.ts); // stable: same-ns events keep their causal order (SX before the next SE)
      const withIdleRecords = withIdle(E, scenario.cpus[p]!, origin, idle[p]!, o.mode === 'events');
      if (o.mode === 'events') for (const e of withIdleRecords) rec(e.text);
    }
    if (o.mode === 'windows' && (st0 + o.stepNs - winStart >= o.intervalNs || s === steps - 1)) {
      flushWindow(st0 + o.stepNs);
    }
    if (buf.length > 4096) await flush();
  }
  rec(`#@probes_stop_boot_ns ${origin + endNs}`);
  for (const l of trl) if (!l.startsWith('#@probes_')) raw(l);
  await flush();

  return {
    scenario,
    model: o.threaded ? 'threaded' : 'stock',
    options: o,
    startBootNs: origin,
    eventsFromNs: t0,
    eventsToNs: endNs,
    polls,
    colocations: coloc,
    convergenceNs,
    finalPollCores: [...new Set([...finalPlace].map((p) => scenario.cpus[p]!))].sort((a, b) => a - b),
    perCore,
    lines,
  };
}

/** Where the polls of one core stand this step: their time, the NET_RX rounds and the receive slices. */
interface CoreLayout {
  pollNs: number;
  rounds: number;
  rxSlices: number[];
  /** Softirq plus kthread time written (decryption excluded). */
  busyNs: number;
}

/**
 * Rounds of net_rx_action: each visits every poll once (up to 64 packets) within netdev_budget;
 * the receive work of the RSS core's tunnels is split over the rounds, each round's tail (the
 * NIC's poll: outer receive) taking at least 1 ns. Threaded polls run in their kthreads, outside
 * the rounds.
 */
function layoutCore(work: Map<number, number>, onCore: number[], threaded: boolean, rxNs: number, forwardNs: number): CoreLayout {
  const pollNs = sumPollNs(work, forwardNs);
  let rounds = 0;
  if (!threaded) {
    const sim = new Map(work);
    for (;;) {
      let inRound = 0;
      for (const i of onCore) {
        const w = Math.min(NAPI_BUDGET, sim.get(i)!);
        if (w > 0 && inRound < NETDEV_BUDGET) {
          inRound += w;
          sim.set(i, sim.get(i)! - w);
        }
      }
      if (inRound === 0) break;
      rounds++;
    }
  }
  if (rxNs > 0) rounds = Math.max(rounds, 1);
  const rxPer = rounds > 0 ? Math.floor(rxNs / rounds) : 0;
  const rxSlices = Array.from({ length: rounds }, (_, r) => Math.max(1, r === rounds - 1 ? rxNs - rxPer * (rounds - 1) : rxPer));
  const rxWritten = rxSlices.reduce((a, b) => a + b, 0);
  return { pollNs, rounds, rxSlices, busyNs: rxWritten + pollNs };
}

/**
 * Grants `g` of the stuck polls' full budgets (`units`, per tunnel) round-robin over the core's
 * poll list, starting at the core's cursor `rr[p]` and leaving it after the last poll served.
 */
function grant(work: Map<number, number>, units: Map<number, number>, onCore: number[], g: number, rr: Int32Array, p: number): void {
  const left = new Map(units);
  for (const i of units.keys()) work.set(i, 0);
  const stuck = onCore.filter((i) => units.has(i));
  const L = stuck.length;
  let j = L > 0 ? rr[p]! % L : 0;
  let last = -1;
  for (let given = 0; given < g; j = (j + 1) % L) {
    const i = stuck[j]!;
    const u = left.get(i)!;
    if (u <= 0) continue;
    left.set(i, u - 1);
    work.set(i, work.get(i)! + NAPI_BUDGET);
    given++;
    last = j;
  }
  if (last >= 0) rr[p] = (last + 1) % L;
}

function sumPollNs(work: Map<number, number>, forwardNs: number): number {
  let s = 0;
  for (const w of work.values()) {
    let left = w;
    while (left > 0) {
      const b = Math.min(NAPI_BUDGET, left);
      left -= b;
      s += Math.max(1, Math.round(b * forwardNs));
    }
  }
  return s;
}
