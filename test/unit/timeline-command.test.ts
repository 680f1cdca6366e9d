import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIO } from '../../src/cli/io.js';
import { parseTimeArg, progress } from '../../src/cli/options.js';
import { TimelineViewResult, buildTimelineView } from '../../src/report/timeline-view.js';
import { build, header } from './timeline-helpers.js';

/**
 * A two-CPU capture of 1000 ns in our text format (origin 1000000000):
 *   CPU 0: NET_RX [0, 500) polls tunnel A [0, 400) and B [400, 450), then 50 ns of softirq
 *          without a poll; idle after.
 *   CPU 1: idle, then crypt work [500, 1000).
 * With 20 columns of 50 ns: cpu0 = 8 x A, 1 x B, 1 x ~ (softirq), 10 x idle; cpu1 = 10 x idle,
 * 10 x * (crypt).
 */
const FIXTURE = `#@wgtrace-capture 1
#@hostname gw-test
#@cpus 0-1
#@mode events
#@start_boot_ns 1000000000
#@dev name=wg0 kind=wireguard threaded=0 rx_queues=1 irqs=- inline_en=-
SE 1000000000 0 3 0 swapper/0
P 1000000400 0 0xffff888627c2d188 wg0 64 64 0 swapper/0
P 1000000450 0 0xffff888627c2e188 wg1 3 64 0 swapper/0
SX 1000000500 0 3
WS 1000000500 1 0xffff888612345000 wg_packet_decrypt_worker
WE 1000001000 1 0xffff888612345000 wg_packet_decrypt_worker
#@end_boot_ns 1000001000
#@status complete
`;

function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgtrace-timeline-'));
  const f = join(dir, 'two-cpus.txt');
  writeFileSync(f, FIXTURE);
  return f;
}

function captureIO(): CliIO & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    errIsTTY: false,
    color: false,
    stdout: () => out,
    stderr: () => err,
  };
}

describe('wgtrace timeline', () => {
  it('draws one strip row per core with the tunnel letters, and utilization charts', async () => {
    const io = captureIO();
    const code = await main(['timeline', fixture(), '--columns', '20'], io);
    expect(io.stderr()).toBe('');
    expect(code).toBe(0);
    const text = io.stdout();
    expect(text).toContain(' cpu0 │AAAAAAAAB~..........│  50.0%');
    expect(text).toContain(' cpu1 │..........**********│  50.0%');
    expect(text).toContain('  A  poll of wg0 0xffff888627c2d188: 1 poll (100% full budget), 400 ns, on CPU 0\n');
    expect(text).toContain('  B  poll of wg1 0xffff888627c2e188: 1 poll (0% full budget), 50 ns, on CPU 0\n');
    expect(text).toContain('from slices');
    // One asciichart per core: its top row has the 100% label.
    expect(text.match(/100% ┼/g)?.length).toBe(2);
  });

  it('--json prints the same result object, valid against its schema; --cpu and --from/--to select', async () => {
    const io = captureIO();
    const code = await main(['timeline', fixture(), '--columns', '10', '--cpu', '1', '--from', '500', '--to', '1us', '--json'], io);
    expect(code).toBe(0);
    const r = TimelineViewResult.parse(JSON.parse(io.stdout()));
    expect(r.cores.map((c) => c.cpu)).toEqual([1]);
    expect(r.range).toMatchObject({ fromNs: 500, toNs: 1000, columns: 10, columnNs: 50, source: 'slices' });
    expect(r.cores[0]!.strip).toBe('**********');
    expect(r.cores[0]!.utilization).toEqual(Array(10).fill(100));
  });

  it('rejects a bad time or CPU list with a usage error', async () => {
    const io = captureIO();
    expect(await main(['timeline', fixture(), '--from', 'soon'], io)).toBe(64);
    expect(io.stderr()).toMatch(/--from soon: expected a time/);
    expect(await main(['timeline', fixture(), '--cpu', 'x'], captureIO())).toBe(64);
  });

  it('rejects a CPU the capture does not have and a range outside it with exit 64 naming the valid range (timeline and export)', async () => {
    for (const cmd of [['timeline'], ['export', '--perfetto', join(tmpdir(), 'wgtrace-range-test.json')]]) {
      const run = async (...args: string[]): Promise<[number, string]> => {
        const io = captureIO();
        const code = await main([cmd[0]!, fixture(), ...cmd.slice(1), ...args], io);
        return [code, io.stderr()];
      };
      const [c1, e1] = await run('--cpu', '5');
      expect(c1).toBe(64);
      expect(e1).toMatch(/--cpu 5: the capture has no cpu 5; its CPUs are 0-1/);
      const [c2, e2] = await run('--from', '10s');
      expect(c2).toBe(64);
      expect(e2).toMatch(/--from 10s: past the capture's end; the capture spans 0 to 0.000 s \(1000 ns\)/);
      const [c3, e3] = await run('--to', '2us');
      expect(c3).toBe(64);
      expect(e3).toMatch(/--to 2us: outside the capture/);
      expect((await run('--cpu', '1', '--from', '500'))[0]).toBe(0);
    }
  });

  it('parses times with units, relative to the capture start', () => {
    expect(parseTimeArg('--from', '1500')).toBe(1500);
    expect(parseTimeArg('--from', '1.5s')).toBe(1_500_000_000);
    expect(parseTimeArg('--from', '200ms')).toBe(200_000_000);
    expect(parseTimeArg('--from', '30us')).toBe(30_000);
    expect(() => parseTimeArg('--from', '-1s')).toThrow();
  });

  it('draws the same strip from the per-window series when no slices were kept', () => {
    // Windows of 50 ns line up with the columns, so both sources must agree exactly.
    const text = `SE 0 0 3
                  P 400 0 0xa wg0 64 64
                  P 450 0 0xb wg1 3 64
                  SX 500 0 3
                  WS 500 1 0x1 wg_packet_decrypt_worker
                  WE 1000 1 0x1 wg_packet_decrypt_worker`;
    const withSlices = buildTimelineView(build(header([0, 1], 1000), [text], { windowNs: 50, slices: {} }), { file: 'x', columns: 20 });
    const fromWindows = buildTimelineView(build(header([0, 1], 1000), [text], { windowNs: 50 }), { file: 'x', columns: 20 });
    expect(withSlices.range.source).toBe('slices');
    expect(fromWindows.range.source).toBe('windows');
    expect(fromWindows.cores.map((c) => c.strip)).toEqual(withSlices.cores.map((c) => c.strip));
    expect(fromWindows.cores.map((c) => c.utilization)).toEqual(withSlices.cores.map((c) => c.utilization));
  });
});

describe('progress', () => {
  afterEach(() => vi.useRealTimers());
  it('is silent when stderr is not a TTY, and on a TTY only once loading takes over 2 s', () => {
    expect(progress(captureIO(), 'x').onProgress).toBeUndefined();
    vi.useFakeTimers();
    vi.setSystemTime(0);
    const io = { ...captureIO(), errIsTTY: true };
    let err = '';
    io.err = (t: string) => void (err += t);
    const p = progress(io, '-');
    p.onProgress!(1_000_000);
    expect(err).toBe('');
    vi.setSystemTime(2500);
    p.onProgress!(5_000_000);
    expect(err).toBe('\rwgtrace: reading -: 5 MB   ');
    p.done();
    expect(err.endsWith('\r\x1b[K')).toBe(true);
  });
});

describe('one load path', () => {
  afterEach(() => vi.restoreAllMocks());
  // Each command that reads a capture loads it through cli/options.ts loadWithProgress: on a
  // TTY whose clock says loading took long, every one of them shows the progress line (here a
  // clock that jumps 3 s at every reading, so the first chunk is already "slow").
  const out = join(mkdtempSync(join(tmpdir(), 'wgtrace-progress-')), 'out');
  const commands: [string, (f: string) => string[]][] = [
    ['analyze', (f) => ['analyze', f, '--no-predict']],
    ['diff', (f) => ['diff', f, f]],
    ['timeline', (f) => ['timeline', f, '--columns', '20']],
    ['export', (f) => ['export', f, '--perfetto', out + '.json']],
    ['replay', (f) => ['replay', f, '--runs', '1']],
    ['report', (f) => ['report', f, '-o', out + '.html']],
  ];
  for (const [name, args] of commands) {
    it(`${name} shows progress on a TTY`, async () => {
      let now = 0;
      vi.spyOn(Date, 'now').mockImplementation(() => (now += 3000));
      const io = { ...captureIO(), errIsTTY: true };
      let err = '';
      io.err = (t: string) => void (err += t);
      const f = fixture();
      expect(await main(args(f), io)).toBe(0);
      expect(err).toContain(`\rwgtrace: reading ${f}: 0 MB (100%)   `);
      expect(err).toContain('\r\x1b[K');
    });
  }
});

describe('strip characters', () => {
  it('shows a column busy for 20% or more by its main activity, a poll in ksoftirqd in lowercase', () => {
    // Columns of 100 ns. Column 0: poll A 30 ns in a NET_RX run by ksoftirqd -> 'a'.
    // Column 1: poll B 4 ns (under 5%, 4% busy) -> '.'. Column 2: NET_RX 25 ns without a poll -> '~'.
    // Column 3: poll B 10 ns (10% busy, but a poll of 5% or more shows) -> 'B'.
    const tl = build(
      header([0], 400),
      [
        `SE 0 0 3 15 ksoftirqd/0
       P 30 0 0xa wg0 64 64 15 ksoftirqd/0
       SX 30 0 3
       SE 100 0 3
       P 104 0 0xb wg1 1 64
       SX 104 0 3
       SE 200 0 3
       SX 225 0 3
       SE 300 0 3
       P 310 0 0xb wg1 1 64
       SX 310 0 3`,
      ],
      { windowNs: 100, slices: {} },
    );
    expect(buildTimelineView(tl, { file: 'x', fromNs: 0, toNs: 400, columns: 4 }).cores[0]!.strip).toBe('a.~B');
  });
});

describe('timeline view of a windows-mode capture', () => {
  it('uses the per-window series (there are no slices)', () => {
    // Interval 100 ns, 2 windows. CPU 0: tunnel A busy 80 of the first window (NET_RX 90),
    // then NET_RX 60 with no poll in the second. With 4 columns of 50 ns each window is shared
    // evenly by two columns: A, A, ~, ~ (the second window is NET_RX without polls, 60% busy).
    const h = header([0], 200, { mode: 'windows', intervalNs: 100 });
    const tl = build(
      h,
      [
        `WN 100 100 0 0xa wg0 80 3 192 3
       WC 100 100 0 90 3 0 0 0 0 0
       WC 200 100 0 60 2 0 0 0 0 0`,
      ],
      { slices: {} },
    );
    const v = buildTimelineView(tl, { file: 'w', columns: 4 });
    expect(v.range.source).toBe('windows');
    expect(v.cores[0]!.strip).toBe('AA~~');
    expect(v.cores[0]!.utilization).toEqual([90, 90, 60, 60]);
  });
});

describe('wgtrace export', () => {
  it('writes a Perfetto JSON file with one thread per CPU', async () => {
    const f = fixture();
    const out = join(mkdtempSync(join(tmpdir(), 'wgtrace-export-')), 'trace.json');
    const io = captureIO();
    expect(await main(['export', f, '--perfetto', out], io)).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as { traceEvents: { ph: string; name: string; pid: number; tid?: number }[] };
    expect(doc.traceEvents.filter((e) => e.ph === 'X' && e.pid === 1).map((e) => `${e.tid} ${e.name}`)).toEqual([
      '1 NET_RX',
      '1 poll wg0 0xffff888627c2d188',
      '1 poll wg1 0xffff888627c2e188',
      '2 wg_packet_decrypt_worker',
    ]);
    expect(io.stderr()).toContain('wrote');
  });

  it('bounds the slices with --max-slices and says so', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'wgtrace-export-')), 'trace.json');
    const io = captureIO();
    expect(await main(['export', fixture(), '--perfetto', out, '--max-slices', '2'], io)).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as { traceEvents: { ph: string; pid: number }[] };
    expect(doc.traceEvents.filter((e) => e.ph === 'X' && e.pid === 1).length).toBe(2);
    expect(io.stderr()).toMatch(/2 slices past the limit of 2/);
    // The summary line counts what was written and what was cut.
    expect(io.stderr()).toMatch(/wrote .*trace\.json: 2 slices on \d+ CPUs, 2 more cut past --max-slices 2/);
  });
});
