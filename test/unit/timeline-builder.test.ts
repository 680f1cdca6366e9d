import { describe, expect, it } from 'vitest';
import { ORIGIN, build, codes, events, header, sliceLines, summary } from './timeline-helpers.js';
import { TimelineBuilder, UNKNOWN_DEVICE } from '../../src/timeline/builder.js';
import { ns } from '../../src/base/time.js';
import type { TraceEvent } from '../../src/model/events.js';
import type { WaitRows } from '../../src/timeline/types.js';

const ALL = { slices: {} };
const arr = (a: Float64Array | undefined) => Array.from(a ?? []);

describe('TimelineBuilder: softirq NAPI polls', () => {
  it('brackets each poll by the softirq entry or the previous poll, and nests them', () => {
    // Window 1000 ns, capture [0, 1000). On CPU 0 NET_RX runs [100, 170):
    //   poll A ends at 130 -> [100, 130) = 30 ns (from the entry)
    //   poll B ends at 150 -> [130, 150) = 20 ns (from A's end)
    // netRx 70, polls 50, utilization 70/1000. CPU 1 is idle but listed by the header.
    const tl = build(
      header([0, 1], 1000),
      [
        `SE 100 0 3
         P 130 0 0xa wg0 10 64
         P 150 0 0xb wg1 64 64
         SX 170 0 3`,
      ],
      { windowNs: 1000, ...ALL },
    );
    expect(tl.cpus).toEqual([0, 1]);
    expect(tl.windowCount).toBe(1);
    const c0 = tl.cores.get(0)!;
    expect(arr(c0.netRxBusyNs)).toEqual([70]);
    expect(arr(c0.netRxCount)).toEqual([1]);
    expect(arr(c0.pollBusyNs)).toEqual([50]);
    expect(arr(c0.utilization)).toEqual([0.07]);
    expect(arr(tl.cores.get(1)!.utilization)).toEqual([0]);
    expect(sliceLines(tl, 0)).toEqual(['net_rx NET_RX 100+70@0', 'poll wg0 0xa 100+30@1', 'poll wg1 0xb 130+20@1']);
    const [a, b] = tl.napis;
    expect(a!.totals).toEqual({ polls: 1, work: 10, fullBudgetPolls: 0, busyNs: 30, threadedPolls: 0 });
    expect(b!.totals.fullBudgetPolls).toBe(1);
    expect(arr(a!.perCpu.get(0)!.busyNs)).toEqual([30]);
    expect(tl.capture.cpusGuessed).toBe(false);
    expect(codes(tl).filter((c) => c === 'invariant-violation')).toEqual([]);
  });

  it("an untraced device's poll (PX) ends the span the next traced poll can claim", () => {
    // NET_RX [100, 200): the NIC's poll (not traced) ends at 140, then wg0's at 150, then the
    // NIC again at 170 and wg1 at 190. Without the PX records wg0 would span [100, 150) and
    // wg1 [150, 190); with them wg0 is [140, 150) and wg1 [170, 190).
    const tl = build(
      header([0], 1000),
      [
        `SE 100 0 3
         PX 140 0
         P 150 0 0xa wg0 10 64
         PX 170 0
         P 190 0 0xb wg1 5 64
         SX 200 0 3`,
      ],
      { windowNs: 1000, ...ALL },
    );
    expect(sliceLines(tl, 0)).toEqual(['net_rx NET_RX 100+100@0', 'poll wg0 0xa 140+10@1', 'poll wg1 0xb 170+20@1']);
    expect(arr(tl.cores.get(0)!.pollBusyNs)).toEqual([30]);
    expect(arr(tl.cores.get(0)!.netRxBusyNs)).toEqual([100]);
    expect(codes(tl).filter((c) => c === 'invariant-violation')).toEqual([]);
  });

  it('marks NET_RX run by ksoftirqd/N and splits time at window boundaries', () => {
    // W = 100. ksoftirqd's NET_RX runs [50, 250): windows 0,1,2 get 50, 100, 50.
    // The poll [50, 240) gets 50, 100, 40.
    const tl = build(
      header([0], 300),
      [
        `SE 50 0 3 15 ksoftirqd/0
         P 240 0 0xa wg0 64 64 15 ksoftirqd/0
         SX 250 0 3`,
      ],
      { windowNs: 100, ...ALL },
    );
    const c0 = tl.cores.get(0)!;
    expect(arr(c0.ksoftirqdNetRxBusyNs)).toEqual([50, 100, 50]);
    expect(arr(c0.netRxBusyNs)).toEqual([50, 100, 50]);
    expect(arr(c0.ksoftirqdNetRxCount)).toEqual([1, 0, 0]);
    expect(arr(c0.pollBusyNs)).toEqual([50, 100, 40]);
    expect(arr(c0.utilization)).toEqual([0.5, 1, 0.5]);
    expect(sliceLines(tl, 0)).toEqual(['ksoftirqd ksoftirqd/0 50+200@0', 'poll wg0 0xa 50+190@1']);
  });
});

describe('TimelineBuilder: threaded NAPI', () => {
  it('times polls from the kthread switch-in or its previous poll, around nested softirqs', () => {
    // napi/wg0-0 (pid 500) runs on CPU 1 over [100, 220).
    //   poll 1 ends at 140 -> [100, 140) = 40 (from the switch-in)
    //   NET_RX runs [150, 160) on top of the thread (local_bh_enable)
    //   poll 2 ends at 200 -> [160, 200) = 40 (from the end of that softirq, not from 140)
    // threadPollBusy 80, softirq polls 0, utilization (220-100)/1000.
    const tl = build(
      header([0, 1], 1000),
      [
        `SI 100 1 500 napi/wg0-0
         P 140 1 0xa wg0 5 64 500 napi/wg0-0
         SE 150 1 3 500 napi/wg0-0
         SX 160 1 3
         P 200 1 0xa wg0 64 64 500 napi/wg0-0
         SO 220 1 500 S napi/wg0-0`,
      ],
      { windowNs: 1000, ...ALL },
    );
    const c1 = tl.cores.get(1)!;
    expect(arr(c1.threadPollBusyNs)).toEqual([80]);
    expect(arr(c1.pollBusyNs)).toEqual([0]);
    expect(arr(c1.netRxBusyNs)).toEqual([10]);
    expect(arr(c1.utilization)).toEqual([0.12]);
    const a = tl.napis[0]!;
    expect(a.totals.threadedPolls).toBe(2);
    expect(a.threadPids).toEqual([500]);
    expect(sliceLines(tl, 1)).toEqual(['napi_thread napi/wg0-0 100+120@0', 'thread_poll wg0 0xa 100+40@1', 'net_rx NET_RX 150+10@1', 'thread_poll wg0 0xa 160+40@1']);
  });
});

describe('TimelineBuilder: threaded NAPI with a lost switch-in', () => {
  it('starts the kthread run at the previous event on the CPU', () => {
    // napi/wg0-0 runs [0, 20) and is preempted; iperf3's NET_RX runs [30, 40); the kthread's
    // next switch-in is missing, its polls end at 60 and 70 and it leaves at 80. The run is
    // taken to start at 40 (the last event before its first poll): [40, 80), polls [40, 60)
    // and [60, 70). Busy: 20 + 10 + 40 = 70 of 100.
    const tl = build(
      header([0], 100),
      [
        `SI 0 0 800 napi/wg0-0
       P 10 0 0xa wg0 64 64 800 napi/wg0-0
       SO 20 0 800 256 napi/wg0-0
       SE 30 0 3 900 iperf3
       SX 40 0 3
       P 60 0 0xa wg0 64 64 800 napi/wg0-0
       P 70 0 0xa wg0 3 64 800 napi/wg0-0
       SO 80 0 800 S napi/wg0-0`,
      ],
      { windowNs: 100, ...ALL },
    );
    expect(sliceLines(tl, 0)).toEqual([
      'napi_thread napi/wg0-0 0+20@0',
      'thread_poll wg0 0xa 0+10@1',
      'net_rx NET_RX 30+10@0',
      'napi_thread napi/wg0-0 40+40@0',
      'thread_poll wg0 0xa 40+20@1',
      'thread_poll wg0 0xa 60+10@1',
    ]);
    expect(codes(tl)).toContain('thread-run-inferred');
    expect(codes(tl)).not.toContain('unmatched-exit');
    expect(arr(tl.cores.get(0)!.utilization)).toEqual([0.7]);
    expect(arr(tl.cores.get(0)!.threadPollBusyNs)).toEqual([40]);
  });
});

describe('TimelineBuilder: monolithic chains and waits', () => {
  it('counts runs of full-budget polls and the time a still-scheduled NAPI waits for others', () => {
    // One NET_RX softirq on CPU 0, [0, 70):
    //   A [0,10)  full   A chain 1; A pending
    //   B [10,30) full   A waits 20 for B; B chain 1; B pending
    //   A [30,35) full   B waits 5 for A; A chain 2
    //   B [35,45) 10/64  A waits 10 for B; B's chain of 1 ends (not a chain); B not pending
    //   A [45,50) full   A chain 3
    //   A [50,60) 3/64   A's chain of 3 ends: count 1, bucket 1 ([2,4)), span [0,50) = 50 ns
    // A waited for B 30 ns; B waited for A 5 ns.
    const tl = build(
      header([0], 100),
      [
        `SE 0 0 3
         P 10 0 0xa wg0 64 64
         P 30 0 0xb wg1 64 64
         P 35 0 0xa wg0 64 64
         P 45 0 0xb wg1 10 64
         P 50 0 0xa wg0 64 64
         P 60 0 0xa wg0 3 64
         SX 70 0 3`,
      ],
      { windowNs: 100 },
    );
    const [a, b] = tl.napis;
    const a0 = a!.perCpu.get(0)!;
    const b0 = b!.perCpu.get(0)!;
    expect(a0.chains).toEqual({ count: 1, lengthLog2Histogram: [0, 1], totalPolls: 3, totalNs: 50, longest: [{ startNs: 0, endNs: 50, polls: 3 }] });
    expect(b0.chains.count).toBe(0);
    const pairs = (w: WaitRows) => Array.from({ length: w.to - w.from }, (_, i) => [w.waitedFor[w.from + i], w.ns[w.from + i]]);
    expect(pairs(a0.waitedForNs)).toEqual([[b!.index, 30]]);
    expect(pairs(b0.waitedForNs)).toEqual([[a!.index, 5]]);
    expect(arr(a0.fullBudgetPolls)).toEqual([3]);
    expect(arr(a0.polls)).toEqual([4]);
    expect(arr(a0.work)).toEqual([64 * 3 + 3]);
  });

  it('counts a NAPI move between CPUs even when the later CPU is read first', () => {
    // bpftrace drained CPU 1's buffer first: A polled on CPU 0 over [0, 20), then on CPU 1
    // from 30. Ordered by time that is one move, 0 -> 1, at the first poll on CPU 1 (start 30).
    const tl = build(header([0, 1], 100), [
      `SE 30 1 3
       P 35 1 0xa wg0 64 64
       P 40 1 0xa wg0 64 64
       SX 41 1 3`,
      `SE 0 0 3
       P 10 0 0xa wg0 64 64
       P 20 0 0xa wg0 2 64
       SX 21 0 3`,
    ]);
    const a = tl.napis[0]!;
    expect(a.moves).toBe(1);
    expect(a.moveList).toEqual([{ ts: 30, from: 0, to: 1 }]);
    expect([...a.perCpu.keys()].sort()).toEqual([0, 1]);
  });
});

describe('TimelineBuilder: NAPI identity and many moves', () => {
  it('counts every move of a NAPI bouncing between CPUs for 40 s, keeping a bounded list', () => {
    // 40000 polls of A, 1 ms apart, alternating CPU 0 and CPU 1: 39999 moves. Past 32768
    // segments the old ones are settled during the import; the count stays exact.
    const b = new TimelineBuilder({});
    const h = header([0, 1], 41_000_000_000);
    b.header(h);
    const batch: TraceEvent[] = [];
    for (let i = 0; i < 40_000; i++) {
      const cpu = i % 2;
      const t = i * 1_000_000;
      batch.push({ kind: 'softirq_entry', ts: ns(t), cpu, vec: 3, pid: 0, comm: 'swapper' });
      batch.push({ kind: 'napi_poll', ts: ns(t + 100), cpu, napi: '0xa', dev: 'wg0', work: 1, budget: 64, pid: 0, comm: 'swapper' });
      batch.push({ kind: 'softirq_exit', ts: ns(t + 200), cpu, vec: 3 });
    }
    b.push(batch);
    const tl = b.finish(summary(h, batch.length));
    const a = tl.napis[0]!;
    expect(a.moves).toBe(39_999);
    expect(a.moveList.length).toBe(1000);
    expect(a.moveList[0]).toEqual({ ts: 1_000_000, from: 0, to: 1 });
  });

  it('treats one napi pointer on two devices as two instances (freed and reused)', () => {
    const tl = build(header([0], 100), [`SE 0 0 3\nP 10 0 0xa wg0 1 64\nP 20 0 0xa wg1 1 64\nP 30 0 0xa wg0 1 64\nSX 40 0 3`]);
    expect(tl.napis.map((n) => `${n.dev} ${n.napi} ${n.totals.polls}`)).toEqual(['wg0 0xa 2', 'wg1 0xa 1']);
  });
});

describe('TimelineBuilder: workqueues', () => {
  it('attributes crypt work to a device by the work pointer queued on wg-crypt-<dev>, in any CPU order', () => {
    // CPU 1's buffer comes first: it decrypts w1 [500, 700) and w2 [700, 750), and runs the
    // tx worker [760, 800). CPU 0's queue_work of w1 on wg-crypt-wg0 arrives later in the file.
    // w2 was never seen queued: its 50 ns go to the unknown device.
    const tl = build(
      header([0, 1], 1000),
      [
        `WS 500 1 0x1 wg_packet_decrypt_worker
       WE 700 1 0x1 wg_packet_decrypt_worker
       WS 700 1 0x2 wg_packet_decrypt_worker
       WE 750 1 0x2 wg_packet_decrypt_worker
       WS 760 1 0x3 wg_packet_tx_worker
       WE 800 1 0x3 wg_packet_tx_worker`,
        `WQ 400 0 0x1 wg_packet_decrypt_worker wg-crypt-wg0 1 1`,
      ],
      { windowNs: 1000 },
    );
    const wg0 = tl.devices.get('wg0')!;
    expect([...wg0.cryptBusyByCpu]).toEqual([[1, 200]]);
    expect([...wg0.cryptItemsByCpu]).toEqual([[1, 1]]);
    expect([...wg0.queueWorkByCpu]).toEqual([[0, 1]]);
    expect([...tl.devices.get(UNKNOWN_DEVICE)!.cryptBusyByCpu]).toEqual([[1, 50]]);
    const c1 = tl.cores.get(1)!;
    expect(arr(c1.cryptBusyNs)).toEqual([250]);
    expect(arr(c1.otherWorkBusyNs)).toEqual([40]);
    // Union: [500, 750) and [760, 800).
    expect(arr(c1.utilization)).toEqual([0.29]);
  });

  it('ends an item where a later one starts on the same CPU when a worker slept', () => {
    // w1 starts at 0, sleeps; another kworker runs w2 [10, 30); w1 ends at 50.
    // Slices: w1 [0, 10), w2 [10, 30); w1's end is matched silently. Busy: [0, 30).
    const tl = build(
      header([0], 100),
      [
        `WS 0 0 0x1 wg_packet_tx_worker
       WS 10 0 0x2 wg_packet_decrypt_worker
       WE 30 0 0x2 wg_packet_decrypt_worker
       WE 50 0 0x1 wg_packet_tx_worker`,
      ],
      { windowNs: 100, ...ALL },
    );
    expect(sliceLines(tl, 0)).toEqual(['work wg_packet_tx_worker 0+10@0', 'crypt_work wg_packet_decrypt_worker 10+20@0']);
    expect(arr(tl.cores.get(0)!.utilization)).toEqual([0.3]);
    expect(codes(tl)).not.toContain('unmatched-exit');
  });
});

describe('TimelineBuilder: kworkers leaving the CPU', () => {
  it('pauses an item while its kworker is switched out, and ends it when the kworker goes idle', () => {
    // CPU 0: decrypt item from 0; its kworker (pid 50) is preempted at 10 (state R), a napi
    // thread runs [30, 40), the kworker comes back at 40 and the item ends at 60: crypt
    // [0, 10) + [40, 60) = 30 ns, one item. Busy: 10 + 10 + 20 = 40 of 100.
    // CPU 1: an item from 0 whose end is not in the capture (perf recorded only the starts);
    // its kworker goes idle at 5 (TASK_IDLE, printed by bpftrace as 1026): the item is [0, 5)
    // and nothing resumes at the switch-in at 20; then an item [30, 35).
    const tl = build(
      header([0, 1], 100),
      [
        `WS 0 0 0x1 wg_packet_decrypt_worker
       SO 10 0 50 R kworker/0:1
       SI 30 0 800 napi/wg0-0
       SO 40 0 800 S napi/wg0-0
       SI 40 0 50 kworker/0:1
       WE 60 0 0x1 wg_packet_decrypt_worker`,
        `WS 0 1 0x2 virtio_transport_tx_work
       SO 5 1 23 1026 kworker/1:0
       SI 20 1 23 kworker/1:0
       WS 30 1 0x3 virtio_transport_rx_work
       WE 35 1 0x3 virtio_transport_rx_work`,
      ],
      { windowNs: 100, ...ALL },
    );
    expect(sliceLines(tl, 0)).toEqual(['crypt_work wg_packet_decrypt_worker 0+10@0', 'napi_thread napi/wg0-0 30+10@0', 'crypt_work wg_packet_decrypt_worker 40+20@0']);
    expect(arr(tl.cores.get(0)!.cryptBusyNs)).toEqual([30]);
    expect([...tl.devices.get(UNKNOWN_DEVICE)!.cryptItemsByCpu]).toEqual([[0, 1]]);
    expect(arr(tl.cores.get(0)!.utilization)).toEqual([0.4]);
    expect(sliceLines(tl, 1)).toEqual(['work virtio_transport_tx_work 0+5@0', 'work virtio_transport_rx_work 30+5@0']);
    expect(codes(tl)).not.toContain('unmatched-exit');
  });
});

describe('TimelineBuilder: normalisation at the capture edges and bad input', () => {
  it('clamps slices open at the capture start and end, and marks them', () => {
    // Capture [0, 1000), W 1000. CPU 0: a poll ending at 20 and NET_RX ending at 30 were
    // running when the capture began -> poll [0, 20), NET_RX [0, 30) (clamped: start). NET_RX
    // entered at 900 never exits -> [900, 1000) (clamped: end); its poll [900, 950).
    // CPU 1: NET_RX [10, 20) inside a crypt item that began before the capture and ended at
    // 50 -> the item is [0, 50); the busy union is 50, not 10 + 50.
    const tl = build(
      header([0, 1], 1000),
      [
        `P 20 0 0xa wg0 64 64
       SX 30 0 3
       SE 900 0 3
       P 950 0 0xb wg1 1 64`,
        `SE 10 1 3
       SX 20 1 3
       WE 50 1 0x9 wg_packet_decrypt_worker`,
      ],
      { windowNs: 1000, ...ALL },
    );
    expect(sliceLines(tl, 0)).toEqual(['net_rx NET_RX 0+30@0 clamped:start', 'poll wg0 0xa 0+20@1 clamped:start', 'net_rx NET_RX 900+100@0 clamped:end', 'poll wg1 0xb 900+50@1']);
    expect(sliceLines(tl, 1)).toEqual(['crypt_work wg_packet_decrypt_worker 0+50@0 clamped:start', 'net_rx NET_RX 10+10@1']);
    expect(tl.capture.clampedSlices).toBe(4);
    expect(arr(tl.cores.get(0)!.utilization)).toEqual([0.13]);
    expect(arr(tl.cores.get(1)!.utilization)).toEqual([0.05]);
    expect(codes(tl)).not.toContain('invariant-violation');
  });

  it('counts a poll that ends exactly at the capture end, on a window boundary, in the last window', () => {
    // Capture [0, 200), W 100: the poll ends at 200, the instant the capture ends; its count
    // belongs to window 1 (no window 2 exists), so per-window polls add up to the totals.
    const tl = build(
      header([0], 200),
      [
        `SE 150 0 3
       P 200 0 0xa wg0 64 64
       SX 200 0 3`,
      ],
      { windowNs: 100 },
    );
    expect(tl.windowCount).toBe(2);
    const s = tl.napis[0]!.perCpu.get(0)!;
    expect(arr(s.polls)).toEqual([0, 1]);
    expect(arr(s.work)).toEqual([0, 64]);
    expect(tl.napis[0]!.totals.polls).toBe(1);
  });

  it('clamps a slice open before the probes attached to the probes-start mark, not the capture start', () => {
    // The header's capture starts at 0; bpftrace attached its probes at 600 (BEGIN's mark).
    // CPU 0's first events are a poll ending at 700 and NET_RX exiting at 720: they began
    // before 600, so what was observed of them starts at 600 -> poll [600, 700), NET_RX
    // [600, 720), not [0, ...) which would invent 600 ns of busy time.
    const h = header([0], 1000, { probesStartBootNs: String(ORIGIN + 600n) });
    const tl = build(
      h,
      [
        `P 700 0 0xa wg0 64 64
       SX 720 0 3`,
      ],
      { windowNs: 1000, ...ALL },
    );
    expect(sliceLines(tl, 0)).toEqual(['net_rx NET_RX 600+120@0 clamped:start', 'poll wg0 0xa 600+100@1 clamped:start']);
    expect(arr(tl.cores.get(0)!.netRxBusyNs)).toEqual([120]);
    expect(codes(tl)).not.toContain('invariant-violation');
  });

  it('without a header: CPUs from events with a warning, and earlier events on other CPUs extend the start', () => {
    // The origin is the file's first event (CPU 0 at 0); CPU 1's buffer, read later, holds
    // NET_RX [-30, -10). W 100: the start rounds down to -100, windows [-100,0) and [0,100).
    const tl = build(undefined, [`SE 0 0 3\nSX 50 0 3`, `SE -30 1 3\nSX -10 1 3`], { windowNs: 100 });
    expect(tl.cpus).toEqual([0, 1]);
    expect(tl.capture.cpusGuessed).toBe(true);
    expect(codes(tl)).toContain('cpus-from-events');
    expect(tl.capture.startNs).toBe(-100);
    expect(tl.capture.endNs).toBe(50);
    expect(tl.windowCount).toBe(2);
    expect(arr(tl.cores.get(1)!.netRxBusyNs)).toEqual([20, 0]);
    expect(arr(tl.cores.get(0)!.netRxBusyNs)).toEqual([0, 50]);
    // The last window is clipped to the end: [0, 50) busy 50 -> utilization 1.
    expect(arr(tl.cores.get(0)!.utilization)).toEqual([0, 1]);
  });

  it('reports an unmatched exit, a lost exit, a time step back and an unknown CPU, and never crashes', () => {
    // CPU 0: NET_RX [0,10), then an exit at 20 with no entry (ignored), then an entry at 30
    // whose exit is lost: the next entry at 60 closes it at the last event seen (poll at 40),
    // NET_RX [60, 80). NET_RX from 90; a poll stamped 70 steps back (treated as 90: zero length).
    const tl = build(
      header([0], 200),
      [
        `SE 0 0 3
       SX 10 0 3
       SX 20 0 3
       SE 30 0 3
       P 40 0 0xa wg0 1 64
       SE 60 0 3
       SX 80 0 3
       SE 90 0 3
       P 70 0 0xa wg0 1 64
       SX 100 0 3
       SE 5 7 3
       SX 6 7 3`,
      ],
      { windowNs: 200, ...ALL },
    );
    const cs = codes(tl);
    expect(cs).toContain('unmatched-exit');
    expect(cs).toContain('unmatched-entry');
    expect(cs).toContain('cpu-time-backwards');
    expect(cs).toContain('cpu-not-in-header');
    expect(cs).not.toContain('invariant-violation');
    expect(tl.cpus).toEqual([0, 7]);
    expect(sliceLines(tl, 0)).toEqual(['net_rx NET_RX 0+10@0', 'net_rx NET_RX 30+10@0', 'poll wg0 0xa 30+10@1', 'net_rx NET_RX 60+20@0', 'net_rx NET_RX 90+10@0', 'poll wg0 0xa 90+0@1']);
    // 10 + 10 + 20 + 10 = 50 of 200.
    expect(arr(tl.cores.get(0)!.utilization)).toEqual([0.25]);
  });

  it('keeps only the requested slices, bounded, and says how many were cut', () => {
    const text = Array.from({ length: 10 }, (_, i) => `SE ${i * 10} 0 3\nSX ${i * 10 + 5} 0 3`).join('\n');
    const tl = build(header([0, 1], 100), [text, `SE 1 1 3\nSX 2 1 3`], { slices: { from: 20 as never, to: 60 as never, cpus: [0], maxSlices: 3 } });
    expect(sliceLines(tl, 0)).toEqual(['net_rx NET_RX 20+5@0', 'net_rx NET_RX 30+5@0', 'net_rx NET_RX 40+5@0']);
    expect(tl.slices!.has(1)).toBe(false);
    expect(codes(tl)).toContain('slices-cut');
    // NET_RX at 20, 30, 40, 50 and 60 overlap [20, 60]: 3 kept, 2 cut.
    expect(tl.capture.slicesCut).toBe(2);
    // Series are complete regardless of the slice request.
    expect(arr(tl.cores.get(0)!.netRxCount).reduce((x, y) => x + y)).toBe(10);
  });
});

describe('TimelineBuilder: memory budget', () => {
  it('widens the window when many NAPI-CPU pairs (not the length) pass the budget, and says so', () => {
    // 4 CPUs, 120 NAPIs, each polled once on every CPU in one NET_RX per CPU: 480 NAPI-CPU pairs
    // x 4 series, plus the cores' series, over 200 windows of 10 ns (2 us). 1,920+ series x
    // 200 windows x 8 bytes is 3 MB; a 1 MiB budget holds 64 windows per series at most, so the
    // window widens (the capture's windows are fewer than 64 at 40 ns).
    const lines: string[] = [];
    for (let cpu = 0; cpu < 4; cpu++) {
      lines.push(`SE 0 ${cpu} 3`);
      for (let n = 0; n < 120; n++) lines.push(`P ${(n + 1) * 16} ${cpu} 0x${(0x100 + n).toString(16)} wg${n} 64 64`);
      lines.push(`SX 1990 ${cpu} 3`);
    }
    const h = header([0, 1, 2, 3], 2000);
    const b = new TimelineBuilder({ windowNs: 10, gridBudgetBytes: 1 << 20 });
    b.header(h);
    b.push(events(lines.join('\n')));
    const tl = b.finish(summary(h, lines.length));
    expect(tl.windowAskedNs).toBe(10);
    expect(tl.windowNs).toBeGreaterThan(10);
    expect(tl.windowCount * tl.windowNs).toBeGreaterThanOrEqual(2000);
    const d = tl.diagnostics.find((x) => x.code === 'window-widened');
    expect(d?.severity).toBe('warning');
    expect(d?.message).toContain(`from 10 ns to ${tl.windowNs} ns`);
    expect(d?.message).toContain('4 CPUs and 120 NAPIs');
    // Every poll still counted, each NAPI's busy time whole: 16 ns a poll, 4 CPUs.
    let polls = 0;
    for (const n of tl.napis) for (const s of n.perCpu.values()) polls += arr(s.polls).reduce((x, y) => x + y, 0);
    expect(polls).toBe(480);
    for (const n of tl.napis) expect(n.totals.busyNs).toBe(64);
  });

  it('widens the window instead of growing past the budget, keeping every sum', () => {
    // One CPU (10 series). NET_RX [i*1000, i*1000+500) for i = 0..29: 30 us of capture, 3000
    // windows of 10 ns. The first 1024 windows fit the 100 KB budget (10 x 1024 x 8 bytes);
    // 2048 would not, so the window doubles to 20 ns (1500 windows: still too many) and again
    // to 40 ns (750 windows). Totals are unchanged: 30 softirqs, 15000 ns busy.
    const text = Array.from({ length: 30 }, (_, i) => `SE ${i * 1000} 0 3\nSX ${i * 1000 + 500} 0 3`).join('\n');
    const b = new TimelineBuilder({ windowNs: 10, gridBudgetBytes: 100 * 1024 });
    b.header(header([0], 30_000));
    b.push(events(text));
    const tl = b.finish(summary(header([0], 30_000), 60));
    expect(tl.windowNs).toBe(40);
    expect(tl.windowCount).toBe(750);
    expect(codes(tl)).toContain('window-widened');
    const c0 = tl.cores.get(0)!;
    expect(arr(c0.netRxBusyNs).reduce((x, y) => x + y)).toBe(15000);
    expect(arr(c0.netRxCount).reduce((x, y) => x + y)).toBe(30);
    // Window 0 is [0, 40): busy all of it.
    expect(c0.utilization[0]).toBe(1);
    expect(arr(c0.utilization).reduce((x, y) => x + y) * 40).toBeCloseTo(15000, 6);
    expect(codes(tl)).not.toContain('invariant-violation');
  });
});

describe('TimelineBuilder: windows mode', () => {
  it('fills the same series from in-kernel windows, one grid window per capture interval', () => {
    // Interval 1000: the kernel windows [0,1000) and [1000,2000) (marker at their end).
    const h = header([0, 1], 2000, { mode: 'windows', intervalNs: 1000 });
    const tl = build(
      h,
      [
        `WN 1000 1000 0 0xa wg0 300 5 320 5
       WC 1000 1000 0 400 3 0 0 100 7 1
       WN 2000 1000 0 0xa wg0 900 20 1280 20
       WN 2000 1000 1 0xb wg1 50 1 3 0
       WC 2000 1000 0 950 9 0 0 0 0 9`,
      ],
      { windowNs: 5 },
    );
    expect(tl.capture.mode).toBe('windows');
    expect(tl.windowNs).toBe(1000);
    expect(tl.windowCount).toBe(2);
    expect(codes(tl)).toContain('window-is-interval');
    const c0 = tl.cores.get(0)!;
    expect(arr(c0.netRxBusyNs)).toEqual([400, 950]);
    expect(arr(c0.ksoftirqdNetRxCount)).toEqual([1, 9]);
    expect(arr(c0.cryptBusyNs)).toEqual([100, 0]);
    expect(arr(c0.pollBusyNs)).toEqual([300, 900]);
    expect(arr(c0.utilization)).toEqual([0.5, 0.95]);
    const a = tl.napis[0]!;
    expect(arr(a.perCpu.get(0)!.fullBudgetPolls)).toEqual([5, 20]);
    expect(a.totals.polls).toBe(25);
    expect(arr(tl.napis[1]!.perCpu.get(1)!.busyNs)).toEqual([0, 50]);
  });
});
