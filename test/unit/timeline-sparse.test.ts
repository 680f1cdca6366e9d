import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadTimeline } from '../../src/timeline/load.js';

/**
 * Sparse captures don't invent time (docs/timeline.md rule 10): a poll is timed from the
 * NET_RX softirq or napi-thread run around it; without one it is counted, not timed.
 */
const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((x, y) => x + y, 0);

describe('polls without softirq or thread context', () => {
  it('a real napi_poll-only ftrace (hns3, 4 polls over 15.6 s on cpu 45): polls counted, no busy time', async () => {
    const tl = await loadTimeline(join(import.meta.dirname, '../fixtures/formats/ftrace-real-hns3-napi-only.txt'), {});
    expect(tl.napis.map((n) => n.totals.polls).sort()).toEqual([3, 4]);
    expect(tl.napis.map((n) => n.totals.work).sort((a, b) => a - b)).toEqual([4, 25]);
    for (const n of tl.napis) expect(n.totals.busyNs).toBe(0);
    for (const cpu of [45, 88]) {
      expect(sum(tl.cores.get(cpu)!.pollBusyNs)).toBe(0);
      expect(Math.max(...Array.from(tl.cores.get(cpu)!.utilization))).toBe(0);
    }
    expect(tl.diagnostics.find((d) => d.code === 'polls-not-timed')?.message).toMatch(/^7 of 7 polls had no NET_RX softirq or napi-thread run around them/);
  });

  // Origin 1 s; window 1 ms.
  const capture = (records: string): string => `#@wgtrace-capture 2\n#@cpus 0-1\n#@mode events\n#@start_boot_ns 1000000000\n${records}#@end_boot_ns 1010000000\n#@status complete\n`;
  const load = (text: string) => loadTimeline('-', { stdin: Readable.from([Buffer.from(text)]), windowNs: 1_000_000 });

  it('polls before the first NET_RX exit ran in the softirq open at the start: timed (with other events between, folded in order)', async () => {
    const tl = await load(
      capture(
        'P 1000200000 0 0xffff888100001000 wg0 64 64 0 swapper/0\n' +
          'WS 1000250000 0 0xffff888200000200 wg_packet_decrypt_worker\n' +
          'WE 1000260000 0 0xffff888200000200 wg_packet_decrypt_worker\n' +
          'P 1000400000 0 0xffff888100001000 wg0 64 64 0 swapper/0\n' +
          'SX 1000500000 0 3\n',
      ),
    );
    // [0, 200 us) and [260 us, 400 us): the work item ended the first poll's successor's start.
    expect(tl.napis[0]!.totals.busyNs).toBe(200_000 + 140_000);
    expect(sum(tl.cores.get(0)!.netRxCount)).toBe(1);
    expect(tl.diagnostics.some((d) => d.code === 'polls-not-timed')).toBe(false);
  });

  it('polls before a NET_RX entry had no softirq the capture shows: counted, not timed', async () => {
    const tl = await load(
      capture(
        'P 1000200000 0 0xffff888100001000 wg0 64 64 0 swapper/0\n' +
          'P 1000400000 0 0xffff888100001000 wg0 64 64 0 swapper/0\n' +
          'SE 1000500000 0 3 0 swapper/0\nP 1000600000 0 0xffff888100001000 wg0 10 64 0 swapper/0\nSX 1000700000 0 3\n',
      ),
    );
    expect(tl.napis[0]!.totals.polls).toBe(3);
    expect(tl.napis[0]!.totals.busyNs).toBe(100_000);
    expect(tl.diagnostics.find((d) => d.code === 'polls-not-timed')?.message).toMatch(/^2 of 3 polls/);
  });

  it('a NET_RX exit later than any softirq can run (20 ms) does not make the head polls timed', async () => {
    // An exit on another CPU decides nothing for cpu 0: undecided at the end, not timed.
    const tl = await load(capture('P 1000200000 0 0xffff888100001000 wg0 64 64 0 swapper/0\nSX 1009000000 1 3\n'));
    expect(tl.napis[0]!.totals.busyNs).toBe(0);
    const late = await load(
      `#@wgtrace-capture 2\n#@cpus 0-1\n#@mode events\n#@start_boot_ns 1000000000\nP 1000200000 0 0xffff888100001000 wg0 64 64 0 swapper/0\nSX 1025000000 0 3\n#@end_boot_ns 1030000000\n#@status complete\n`,
    );
    expect(late.napis[0]!.totals.busyNs).toBe(0);
    expect(late.diagnostics.some((d) => d.code === 'polls-not-timed')).toBe(true);
  });
});
