import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadTimeline } from '../../src/timeline/load.js';

/**
 * loadTimeline wires importCapture into the builder in one pass: the header reaches the builder
 * before the events, and importer and builder share one diagnostic log.
 */
const WITH_HEADER = `#@wgtrace-capture 1
#@cpus 0-3
#@mode events
#@start_boot_ns 5000000000
SE 5000000100 1 3 0 swapper/1
P 5000000160 1 0xffff888627c2d188 wg0 64 64 0 swapper/1
SX 5000000200 1 3
this line is garbage
#@end_boot_ns 5000001000
#@status complete
`;

const NO_HEADER = `SE 7000000100 2 3 0 swapper/2
SX 7000000200 2 3
SE 7000000050 0 3 0 swapper/0
SX 7000000090 0 3
`;

describe('loadTimeline', () => {
  it('reads stdin, takes CPUs and bounds from the header, and keeps importer diagnostics', async () => {
    // Origin 5000000000: NET_RX [100, 200) on CPU 1 with a poll [100, 160); capture [0, 1000).
    const tl = await loadTimeline('-', { stdin: Readable.from([Buffer.from(WITH_HEADER)]), windowNs: 1000, slices: {} });
    expect(tl.capture.origin).toBe(5_000_000_000n);
    expect([tl.capture.startNs, tl.capture.endNs]).toEqual([0, 1000]);
    expect(tl.cpus).toEqual([0, 1, 2, 3]);
    expect(tl.capture.cpusGuessed).toBe(false);
    expect(Array.from(tl.cores.get(1)!.pollBusyNs)).toEqual([60]);
    expect(Array.from(tl.cores.get(3)!.utilization)).toEqual([0]);
    expect(tl.capture.skippedLines).toBe(1);
    expect(tl.diagnostics.some((d) => d.line === 8)).toBe(true);
    expect(tl.diagnostics.filter((d) => d.code === 'invariant-violation')).toEqual([]);
  });

  it('without a header: CPUs from the events with a warning, earlier CPUs extend the start', async () => {
    // The origin is the first line (7000000100 on CPU 2); CPU 0's lines are 50 ns earlier.
    const tl = await loadTimeline('-', { stdin: Readable.from([Buffer.from(NO_HEADER)]), windowNs: 100 });
    expect(tl.cpus).toEqual([0, 2]);
    expect(tl.capture.cpusGuessed).toBe(true);
    expect(tl.diagnostics.map((d) => d.code)).toContain('cpus-from-events');
    expect(tl.capture.startNs).toBe(-100);
    expect(Array.from(tl.cores.get(0)!.netRxBusyNs)).toEqual([40, 0]);
    expect(Array.from(tl.cores.get(2)!.netRxBusyNs)).toEqual([0, 100]);
  });
});
