import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ns, durNs } from '../../src/base/time.js';
import type { TraceEvent } from '../../src/model/events.js';
import { TimelineBuilder } from '../../src/timeline/builder.js';
import { checkInvariants } from '../../src/timeline/invariants.js';
import type { Slice } from '../../src/timeline/types.js';
import { build, header, summary } from './timeline-helpers.js';

describe('checkInvariants', () => {
  it('accepts a built timeline and catches overlap, disorder, escape and bad series', () => {
    const tl = build(header([0], 1000), [`SE 100 0 3\nP 150 0 0xa wg0 1 64\nSX 200 0 3`], { windowNs: 1000, slices: {} });
    expect(checkInvariants(tl)).toEqual([]);
    const s = (start: number, dur: number): Slice => ({ kind: 'net_rx', start: ns(start), dur: durNs(dur), depth: 0, label: 'NET_RX' });
    tl.slices!.set(0, [s(100, 100), s(150, 100), s(120, 10), s(900, 200)]);
    tl.cores.get(0)!.utilization[0] = 1.5;
    const v = checkInvariants(tl).join('\n');
    expect(v).toMatch(/overlaps net_rx NET_RX \[100, 200\) without nesting/);
    expect(v).toMatch(/not sorted by start/);
    expect(v).toMatch(/outside the capture/);
    expect(v).toMatch(/utilization\[0\] = 1.5 > 1/);
  });
});

/**
 * Random per-CPU streams of the events the builder cares about, with lost events (dropped
 * lines), unmatched entries and exits, steps back in time, and CPUs interleaved in chunks the
 * way bpftrace drains per-CPU buffers. Whatever the input, the builder must not throw and the
 * result must satisfy every invariant.
 */
const op = fc.constantFrom('SE3', 'SX3', 'SE2', 'SX2', 'P', 'PT', 'WS', 'WE', 'WQ', 'SI', 'SO', 'SEK', 'KI', 'KO');
const stream = fc.array(fc.tuple(op, fc.integer({ min: -50, max: 400 }), fc.integer({ min: 0, max: 3 }), fc.boolean()), { maxLength: 120 });

function eventsOf(cpu: number, ops: [string, number, number, boolean][]): TraceEvent[] {
  const out: TraceEvent[] = [];
  let t = 0;
  for (const [o, dt, n, flag] of ops) {
    t += dt;
    const ts = ns(t);
    const napi = `0x${n}`;
    const work = `0x${100 + n}`;
    switch (o) {
      case 'SE3':
      case 'SEK':
        out.push({ kind: 'softirq_entry', ts, cpu, vec: 3, pid: 0, comm: o === 'SEK' ? `ksoftirqd/${cpu}` : `swapper/${cpu}` });
        break;
      case 'SX3':
        out.push({ kind: 'softirq_exit', ts, cpu, vec: 3 });
        break;
      case 'SE2':
        out.push({ kind: 'softirq_entry', ts, cpu, vec: 2, pid: 0, comm: 'x' });
        break;
      case 'SX2':
        out.push({ kind: 'softirq_exit', ts, cpu, vec: 2 });
        break;
      case 'P':
      case 'PT':
        out.push({ kind: 'napi_poll', ts, cpu, napi, dev: `wg${n}`, work: flag ? 64 : 3, budget: 64, pid: 7, comm: o === 'PT' ? `napi/wg${n}-0` : 'iperf3' });
        break;
      case 'WS':
        out.push({ kind: 'workqueue_execute_start', ts, cpu, work, function: flag ? 'wg_packet_decrypt_worker' : 'wg_packet_tx_worker' });
        break;
      case 'WE':
        out.push({ kind: 'workqueue_execute_end', ts, cpu, work, function: flag ? 'wg_packet_decrypt_worker' : 'wg_packet_tx_worker' });
        break;
      case 'WQ':
        out.push({ kind: 'workqueue_queue_work', ts, cpu, work, function: 'wg_packet_decrypt_worker', workqueue: `wg-crypt-wg${n}`, reqCpu: n, targetCpu: n });
        break;
      case 'SI':
        out.push({ kind: 'sched_switch_in', ts, cpu, pid: 800 + n, comm: `napi/wg${n}-0` });
        break;
      case 'SO':
        out.push({ kind: 'sched_switch_out', ts, cpu, pid: 800 + n, state: 'S', comm: `napi/wg${n}-0` });
        break;
      case 'KI':
        out.push({ kind: 'sched_switch_in', ts, cpu, pid: 50 + n, comm: `kworker/${cpu}:${n}` });
        break;
      case 'KO':
        out.push({ kind: 'sched_switch_out', ts, cpu, pid: 50 + n, state: flag ? 'I' : 'R', comm: `kworker/${cpu}:${n}` });
        break;
    }
  }
  return out;
}

describe('TimelineBuilder on arbitrary input', () => {
  it('never throws and always satisfies the invariants', () => {
    fc.assert(
      fc.property(
        fc.array(stream, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.boolean(),
        fc.boolean(),
        (cpus, chunks, windowNs, withHeader, tinyBudget) => {
          const per = cpus.map((ops, cpu) => eventsOf(cpu, ops));
          const h = withHeader ? header([0, 1], 20_000) : undefined;
          // A tiny memory budget makes the grid widen its window whenever it would grow.
          const b = new TimelineBuilder({ windowNs, slices: {}, ...(tinyBudget ? { gridBudgetBytes: 1 } : {}) });
          if (h) b.header(h);
          let n = 0;
          // Interleave: each CPU's stream cut into `chunks` pieces, pieces pushed CPU by CPU, in reverse CPU order.
          for (let k = 0; k < chunks; k++) {
            for (let cpu = per.length - 1; cpu >= 0; cpu--) {
              const evs = per[cpu]!;
              const piece = evs.slice(Math.floor((k * evs.length) / chunks), Math.floor(((k + 1) * evs.length) / chunks));
              n += piece.length;
              b.push(piece);
            }
          }
          const tl = b.finish(summary(h, n));
          const violations = tl.diagnostics.filter((d) => d.code === 'invariant-violation').map((d) => d.message);
          expect(violations).toEqual([]);
          expect(checkInvariants(tl)).toEqual([]);
          // The busy union per CPU equals the time covered by its outermost slices.
          for (const cpu of tl.cpus) {
            const u = tl.cores.get(cpu)!.utilization;
            let busy = 0;
            for (let k = 0; k < tl.windowCount; k++) busy += u[k]! * Math.min(tl.windowNs, tl.capture.endNs - (tl.capture.startNs + k * tl.windowNs));
            const outer = (tl.slices!.get(cpu) ?? []).filter((s) => s.depth === 0 && s.kind !== 'poll' && s.kind !== 'thread_poll').reduce((x, s) => x + s.dur, 0);
            expect(busy).toBeCloseTo(outer, 6);
          }
        },
      ),
      { numRuns: 300, seed: 20261126 },
    );
  });
});
