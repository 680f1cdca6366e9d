import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { importCapture } from '../../src/import/index.js';
import type { TraceEvent } from '../../src/model/events.js';
import { compileNotation, NotationError } from '../notation.js';

const brief = (e: TraceEvent): string =>
  e.kind === 'napi_poll'
    ? `P ${e.ts} cpu${e.cpu} ${e.dev} ${e.work}/${e.budget} ${e.comm}`
    : e.kind === 'softirq_entry'
      ? `SE ${e.ts} cpu${e.cpu} ${e.comm}`
      : e.kind === 'lost_events'
        ? `lost ${e.count}`
        : `${e.kind} ${e.ts} cpu${e.cpu}`;

describe('test notation', () => {
  it('a full-budget poll, a partial one, idle and a ksoftirqd one, column by column', () => {
    const n = compileNotation('unit 1us\ncpu0: A b . Ak');
    expect(n.events.map(brief)).toEqual([
      'SE 0 cpu0 swapper/0',
      'P 1000 cpu0 wg0 64/64 swapper/0',
      'softirq_exit 1000 cpu0',
      'SE 1000 cpu0 swapper/0',
      'P 2000 cpu0 wg1 8/64 swapper/0',
      'softirq_exit 2000 cpu0',
      'SE 3000 cpu0 ksoftirqd/0',
      'P 4000 cpu0 wg0 64/64 ksoftirqd/0',
      'softirq_exit 4000 cpu0',
    ]);
    expect(n.tunnels.map((t) => [t.letter, t.dev, t.napi])).toEqual([
      ['A', 'wg0', '0xffff888100001000'],
      ['B', 'wg1', '0xffff888100002000'],
    ]);
    expect(n.header!.cpus).toEqual([0]);
    expect(n.header!.endBootNs).toBe('1000000004000');
  });

  it('A+B splits a column between two polls of one softirq; At runs in the napi thread', () => {
    const n = compileNotation('unit 1us\ncpu1: A+B At');
    expect(n.events.map(brief)).toEqual([
      'SE 0 cpu1 swapper/1',
      'P 500 cpu1 wg0 64/64 swapper/1',
      'P 1000 cpu1 wg1 64/64 swapper/1',
      'softirq_exit 1000 cpu1',
      'sched_switch_in 1000 cpu1',
      'P 2000 cpu1 wg0 64/64 napi/wg0-0',
      'sched_switch_out 2000 cpu1',
    ]);
  });

  it('rejects what it cannot read, naming the line', () => {
    expect(() => compileNotation('cpu0: A\ncpu0: B')).toThrow(NotationError);
    expect(() => compileNotation('cpu0: A?')).toThrow(/line 1: bad token A\?/);
    expect(() => compileNotation('cpu0: At+B')).toThrow(/threaded polls cannot share a softirq/);
  });

  it('its capture text reads back through the bpftrace-text importer as the same events', async () => {
    const n = compileNotation(`
      origin 17280000123456789
      cpus 0-3
      tunnel A threaded=1
      lost 3
      cpu0: A B A+B # ~ .
      cpu1: At At Bk . . a
    `);
    const got: TraceEvent[] = [];
    const { summary } = await importCapture('-', {
      stdin: Readable.from([Buffer.from(n.text)]),
      onEvents: (b) => got.push(...b),
    });
    expect(summary.format).toBe('bpftrace-text');
    expect(summary.origin).toBe(17280000123456789n);
    expect(summary.header!.cpus).toEqual([0, 1, 2, 3]);
    expect(summary.header!.devices.map((d) => [d.name, d.threaded])).toEqual([
      ['wg0', 1],
      ['wg1', 0],
    ]);
    expect(summary.lostEvents).toBe(3);
    expect(got).toEqual(n.events);
  });
});
