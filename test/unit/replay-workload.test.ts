import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractWorkload } from '../../src/replay/workload.js';
import { loadTimeline } from '../../src/timeline/load.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrace-workload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A veth testbed capture (no WireGuard): 1 ms, two CPUs. CPU 0 runs one NET_RX softirq of
 * 12 us holding one poll of 10 packets that took 10 us: forwarding 1000 ns/packet; veth's poll is
 * its whole receive path, so the 2 us of NET_RX outside it are other traced load, not a receive
 * stage. /proc/stat says CPU 0 was half busy (50 of 100 jiffies), CPU 1 idle: 0.5 - 0.012 of
 * CPU 0 is untraced, and veth's senders and receivers run here, so it is coupled work:
 * 0.488 ms / 10 packets = 48,800 ns per packet.
 */
const CAPTURE = readFileSync(join(import.meta.dirname, '../fixtures/replay/veth-1ms.txt'), 'utf8');

describe('workload extraction', () => {
  it('a veth capture: no decryption stage, costs from the brackets, utilization from /proc/stat', async () => {
    const path = join(dir, 'veth.txt');
    writeFileSync(path, CAPTURE);
    const tl = await loadTimeline(path);
    const w = extractWorkload(tl, { utilization: 'proc-stat' });
    expect(w.tunnels).toHaveLength(1);
    const t = w.tunnels[0]!;
    expect(t.forwardNsPerPacket).toBeCloseTo(1000, 6);
    expect(t.rxNsPerPacket).toBe(0);
    expect(t.decryptNsPerPacket).toBe(0);
    expect(t.measuredPps).toBeCloseTo(10_000, 3);
    expect(w.wireguard).toBe(false);
    expect(w.placement).toBe('observed');
    expect(w.untraced).toBe('coupled');
    expect(w.cores[0]!.measuredUtilization).toBeCloseTo(0.5, 9);
    expect(w.cores[0]!.otherLoad).toBeCloseTo(0.002, 9);
    expect(w.cores[0]!.untracedLoad).toBeCloseTo(0.488, 9);
    expect(w.cores[0]!.coupledNsPerPacket).toBeCloseTo(48_800, 3);
    expect(w.cores[0]!.foreignLoad).toBeCloseTo(0.002, 9);
    expect(w.cores[1]!.measuredUtilization).toBe(0);
    expect(w.assumptions.map((a) => a.code).sort()).toEqual(['cpu-util-from-proc-stat', 'no-wireguard', 'sender-bound', 'untraced-coupled']);
    expect(w.threaded).toBe(false);
    // No core reached 95%: the flow was held by its sending task, one packet every 100 us.
    expect(t.serialNsPerPacket).toBeCloseTo(100_000, 3);
    // With CPU 0 busy the whole millisecond the core was the limit: no serial period.
    const full = join(dir, 'veth-full.txt');
    writeFileSync(full, CAPTURE.replace('#@stat cpu0 0 0 50 150', '#@stat cpu0 0 0 100 100'));
    const sat = extractWorkload(await loadTimeline(full), { utilization: 'proc-stat' });
    expect(sat.cores[0]!.measuredUtilization).toBeCloseTo(1, 9);
    expect(sat.tunnels[0]!.serialNsPerPacket).toBeUndefined();
    expect(sat.assumptions.map((a) => a.code)).not.toContain('sender-bound');
    // Without idle records the default takes /proc/stat too; `traced` leaves the untraced load unknown.
    expect(extractWorkload(tl).cores[0]!.measuredUtilization).toBeCloseTo(0.5, 9);
    const traced = extractWorkload(tl, { utilization: 'traced' });
    expect(traced.cores[0]!.measuredUtilization).toBeCloseTo(0.012, 9);
    expect(traced.untraced).toBe('unknown');
    expect(traced.cores[0]!.coupledNsPerPacket).toBe(0);
    expect(traced.assumptions.map((a) => a.code)).toContain('no-core-busy');
    // `--untraced fixed`: other processes, which keep at most half of what other work leaves.
    const fixed = extractWorkload(tl, { utilization: 'proc-stat', untraced: 'fixed' });
    expect(fixed.cores[0]!.foreignLoad).toBeCloseTo(0.002 + 0.488, 9);
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
