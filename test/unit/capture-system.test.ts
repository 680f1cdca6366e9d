import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSoftirqs, parseSoftnet, parseStat, readBpfMisses, readCounters } from '../../src/capture/system.js';

// Real text from this project's 6.18 machine (2 CPUs).
const SOFTIRQS = `                    CPU0       CPU1       
          HI:          0          0
       TIMER:       4816       4844
      NET_TX:          3          7
      NET_RX:     131508     113572
`;
// Column 13 is the CPU id: with CPU 1 offline, the second row belongs to CPU 2.
const SOFTNET = `0000000d 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
00001470 00000002 0000001a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000000 00000000
`;
const STAT = `cpu  100 0 50 9000 0 0 20 0 0 0
cpu0 12851 0 4827 48885 94 0 1228 97 0 0
cpu2 13863 0 5917 46247 590 0 1198 114 0 0
intr 1 2 3
`;

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

describe('capture counters', () => {
  it('parses /proc/softirqs, softnet_stat (CPU id from column 13) and /proc/stat', () => {
    expect(parseSoftirqs(SOFTIRQS)['NET_RX']).toEqual([131508, 113572]);
    expect(parseSoftnet(SOFTNET)).toEqual({ '0': { processed: 13, dropped: 0, timeSqueeze: 0 }, '2': { processed: 0x1470, dropped: 2, timeSqueeze: 0x1a } });
    expect(parseStat(STAT)).toEqual({ '0': [12851, 0, 4827, 48885, 94, 0, 1228, 97, 0, 0], '2': [13863, 0, 5917, 46247, 590, 0, 1198, 114, 0, 0] });
  });

  it('reads a snapshot stamped with the monotonic clock bpftrace uses', () => {
    const root = mkdtempSync(join(tmpdir(), 'wgtrace-proc-'));
    made.push(root);
    mkdirSync(join(root, 'net'));
    writeFileSync(join(root, 'softirqs'), SOFTIRQS);
    writeFileSync(join(root, 'net', 'softnet_stat'), SOFTNET);
    writeFileSync(join(root, 'stat'), STAT);
    const t0 = process.hrtime.bigint();
    const s = readCounters(root);
    expect(BigInt(s.bootNs!)).toBeGreaterThanOrEqual(t0);
    expect(BigInt(s.bootNs!) - t0).toBeLessThan(1_000_000_000n);
    expect(s.softirqs['NET_RX']).toEqual([131508, 113572]);
  });

  it('sums recursion misses of BPF program fds only', () => {
    const root = mkdtempSync(join(tmpdir(), 'wgtrace-fdinfo-'));
    made.push(root);
    mkdirSync(join(root, '42', 'fdinfo'), { recursive: true });
    writeFileSync(join(root, '42', 'fdinfo', '3'), 'pos:\t0\nflags:\t02000002\nprog_type:\t5\nprog_id:\t293\nrun_cnt:\t0\nrecursion_misses:\t7\n');
    writeFileSync(join(root, '42', 'fdinfo', '4'), 'pos:\t0\nprog_id:\t294\nrecursion_misses:\t0\n');
    writeFileSync(join(root, '42', 'fdinfo', '5'), 'pos:\t0\nflags:\t02\nmap_type:\t1\nmap_id:\t9\n');
    expect(readBpfMisses(42, root)?.progs).toEqual(
      new Map([
        [293, 7],
        [294, 0],
      ]),
    );
    expect(readBpfMisses(43, root)).toBeUndefined();
  });

  // capture.sh's own counters (the wrapper of the ftrace and perf tracers and of bpftrace):
  // the stamp is the midpoint of two clock reads around the /proc/softirqs read, made by one
  // awk (docs/capture-format.md, "Counters"). Node's hrtime is CLOCK_MONOTONIC too (libuv:
  // uv__hrtime), so the stamp must lie between two reads of it taken around the call.
  const timerList = ((): boolean => {
    try {
      return /^now at \d+ nsecs/m.test(readFileSync('/proc/timer_list', 'utf8').slice(0, 4096));
    } catch {
      return false;
    }
  })();
  it.skipIf(!timerList)('capture.sh --counters stamps its /proc/softirqs read with the monotonic clock, inside the call, both read by one awk', () => {
    // A PATH without cat: the three-process read (clock, cat, clock) finds no cat and prints no
    // #@softirqs line; the one-awk read needs none.
    const bin = mkdtempSync(join(tmpdir(), 'wgtrace-bin-'));
    made.push(bin);
    const where = (tool: string): string => execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    for (const tool of ['awk', 'sed', 'dirname']) symlinkSync(where(tool), join(bin, tool));
    const dash = where('dash');
    const a = process.hrtime.bigint();
    const out = execFileSync(dash, [join(__dirname, '../../bpftrace-scripts/capture.sh'), '--counters', 'after'], { encoding: 'utf8', env: { PATH: bin } });
    const b = process.hrtime.bigint();
    const m = /^#@counters after boot_ns=(\d+)$/m.exec(out);
    expect(m, out.slice(0, 200)).not.toBeNull();
    const stamp = BigInt(m![1]!);
    expect(stamp).toBeGreaterThanOrEqual(a);
    expect(stamp).toBeLessThanOrEqual(b);
    const netRx = /^#@softirqs NET_RX( \d+)+$/m.exec(out);
    expect(netRx).not.toBeNull();
    expect(netRx![0].split(' ').length - 2).toBe(parseSoftirqs(readFileSync('/proc/softirqs', 'utf8'))['NET_RX']!.length);
  });
});
