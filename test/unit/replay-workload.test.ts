import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractWorkload } from '../../src/replay/workload.js';
import { loadTimeline } from '../../src/timeline/load.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-workload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A veth testbed capture (no WireGuard): 1 ms, two CPUs. CPU 0 runs one NET_RX softirq of
 * 12 us holding one poll of 10 packets that took 10 us: forwarding 1000 ns/packet, and 2 us of
 * NET_RX outside the poll: receive 200 ns/packet. /proc/stat says CPU 0 was half busy (50 of
 * 100 jiffies), CPU 1 idle: the load that is not ours on CPU 0 is 0.5 - 12 us / 1 ms = 0.488.
 */
const CAPTURE = `#@wgtrace-capture 1
#@cpus 0-1
#@mode events
#@start_boot_ns 1000000000
#@dev name=vb0 kind=veth threaded=0 rx_queues=1 irqs=- inline_en=-
#@counters before
#@stat cpu0 0 0 0 100 0 0 0 0 0 0
#@stat cpu1 0 0 0 100 0 0 0 0 0 0
SE 1000100000 0 3 0 swapper/0
P 1000110000 0 0xffff888627c2d188 vb0 10 64 0 swapper/0
SX 1000112000 0 3
#@counters after
#@stat cpu0 0 0 50 150 0 0 0 0 0 0
#@stat cpu1 0 0 0 200 0 0 0 0 0 0
#@end_boot_ns 1001000000
#@status complete
`;

describe('workload extraction', () => {
  it('a veth capture: no decryption stage, costs from the brackets, utilization from /proc/stat', async () => {
    const path = join(dir, 'veth.txt');
    writeFileSync(path, CAPTURE);
    const tl = await loadTimeline(path);
    const w = extractWorkload(tl, { utilization: 'proc-stat' });
    expect(w.tunnels).toHaveLength(1);
    const t = w.tunnels[0]!;
    expect(t.forwardNsPerPacket).toBeCloseTo(1000, 6);
    expect(t.rxNsPerPacket).toBeCloseTo(200, 6);
    expect(t.decryptNsPerPacket).toBe(0);
    expect(t.rxCore).toBe(0);
    expect(t.measuredPps).toBeCloseTo(10_000, 3);
    expect(w.cores[0]!.measuredUtilization).toBeCloseTo(0.5, 9);
    expect(w.cores[0]!.foreignLoad).toBeCloseTo(0.488, 9);
    expect(w.cores[1]!.measuredUtilization).toBe(0);
    expect(w.assumptions.map((a) => a.code).sort()).toEqual(['cpu-util-from-proc-stat', 'no-wireguard', 'rx-core-default']);
    expect(w.threaded).toBe(false);
    // By default the utilization is what was traced: 12 us of NET_RX in 1 ms, all ours.
    const traced = extractWorkload(tl);
    expect(traced.cores[0]!.measuredUtilization).toBeCloseTo(0.012, 9);
    expect(traced.cores[0]!.foreignLoad).toBeCloseTo(0, 9);
    expect(traced.assumptions.map((a) => a.code)).not.toContain('cpu-util-from-proc-stat');
  });
});

describe('workload: tunnels only, threaded mode from the polls', () => {
  it('a NIC queue and the backlog NAPI are load, not replayed tunnels; threaded is read from the polls, not the header flag', async () => {
    // vb0: polled in its napi/ kthread although the header says threaded=0. eth0 (physical)
    // and the backlog NAPI poll in softirq on CPU 1.
    const text = `#@wgtrace-capture 1
#@cpus 0-1
#@mode events
#@devices_glob *
#@start_boot_ns 1000000000
#@dev name=vb0 kind=veth threaded=0 rx_queues=1 irqs=- inline_en=-
#@dev name=eth0 kind=physical threaded=0 rx_queues=1 irqs=- inline_en=-
SI 1000100000 0 900 napi/vb0-0
P 1000110000 0 0xffff888627c2d188 vb0 10 64 900 napi/vb0-0
SO 1000112000 0 900 S napi/vb0-0
SE 1000200000 1 3 0 swapper/1
P 1000210000 1 0xffff888627c2e188 eth0 10 64 0 swapper/1
P 1000220000 1 0xffff888627c2f188 (no_device) 10 64 0 swapper/1
SX 1000230000 1 3
#@end_boot_ns 1001000000
#@status complete
`;
    const f = join(dir, 'roles.txt');
    writeFileSync(f, text);
    const w = extractWorkload(await loadTimeline(f, {}));
    expect(w.tunnels.map((t) => t.dev)).toEqual(['vb0']);
    expect(w.threaded).toBe(true);
    expect(w.assumptions.map((a) => a.code)).toContain('other-napis');
  });
});
