import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/base/diagnostics.js';
import { bpftraceJsonImporter } from '../../src/import/bpftrace-json.js';
import { bpftraceTextImporter } from '../../src/import/bpftrace-text.js';
import { csvImporter } from '../../src/import/csv.js';
import { perfScriptImporter } from '../../src/import/perf-script.js';
import { dump, run } from './import-util.js';

const FIX = join(import.meta.dirname, '../fixtures/formats');
const fixture = (name: string): string => readFileSync(join(FIX, name), 'utf8');

describe('bpftrace-text quirks', () => {
  it('lost-events.txt: "Lost N events" becomes a lost_events event and is counted', async () => {
    const r = await run(bpftraceTextImporter, fixture('lost-events.txt'));
    expect(dump(r.events)).toEqual(['softirq_entry ts=1000 cpu=0 vec=3 pid=0 comm=swapper/0', 'lost_events count=5', 'softirq_exit ts=2000 cpu=0 vec=3']);
    expect(r.summary.lostEvents).toBe(5);
    expect(r.codes).toEqual(['lost-events@6', 'lost-events-total']);
  });

  it('cpu-disorder.txt: lines out of order across CPUs are passed on in file order', async () => {
    const r = await run(bpftraceTextImporter, fixture('cpu-disorder.txt'));
    expect(dump(r.events).map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual([
      'softirq_entry ts=5000 cpu=0',
      'softirq_exit ts=6000 cpu=0',
      'softirq_entry ts=1000 cpu=1',
      'softirq_exit ts=2000 cpu=1',
      'softirq_entry ts=7000 cpu=0',
    ]);
    expect(r.codes).toEqual([]);
  });

  it('crlf.txt: CR LF line ends are read like LF', async () => {
    const r = await run(bpftraceTextImporter, fixture('crlf.txt'), { chunk: 3 });
    expect(dump(r.events)).toEqual([
      'softirq_entry ts=1000 cpu=0 vec=3 pid=0 comm=swapper/0',
      'napi_poll ts=1500 cpu=0 napi=0xffff888627c2d188 dev=vb work=2 budget=64 pid=0 comm=swapper/0',
      'softirq_exit ts=2000 cpu=0 vec=3',
    ]);
    expect(r.codes).toEqual([]);
    expect(r.summary.header?.status).toBe('complete');
  });

  it('truncated.txt: a record cut mid-line is reported, the capture is partial', async () => {
    const r = await run(bpftraceTextImporter, fixture('truncated.txt'));
    expect(r.events).toHaveLength(2);
    expect(r.codes).toEqual(['malformed-line@7', 'partial-capture', 'skipped-lines']);
    expect(r.summary.header?.status).toBe('partial');
    expect(r.summary.skippedLines).toBe(1);
  });

  it('comm-with-spaces.txt: the comm is the rest of the line, spaces and commas included', async () => {
    const r = await run(bpftraceTextImporter, fixture('comm-with-spaces.txt'));
    expect(dump(r.events)).toEqual([
      'softirq_entry ts=1000 cpu=0 vec=3 pid=4242 comm=my app, v2',
      'napi_poll ts=1500 cpu=0 napi=0xffff888627c2d188 dev=vb work=2 budget=64 pid=4242 comm=my app, v2',
      'sched_switch_out ts=1800 cpu=0 pid=4242 state=R+ comm=my app, v2',
      'sched_switch_in ts=1800 cpu=0 pid=0 comm=swapper/0',
      'softirq_exit ts=2000 cpu=0 vec=3',
    ]);
  });

  it('windows-mode.txt: one window_napi per (cpu, napi) and one window_cpu per online CPU per window', async () => {
    const r = await run(bpftraceTextImporter, fixture('windows-mode.txt'));
    expect(r.codes).toEqual([]);
    expect(dump(r.events)).toEqual([
      'window_napi ts=10000000 intervalNs=10000000 cpu=0 napi=0xffff888627c2d188 dev=vb busyNs=6314355 polls=120 work=7680 fullBudgetPolls=120',
      'window_napi ts=10000000 intervalNs=10000000 cpu=1 napi=0xffff888627c2e000 dev=vb busyNs=1000 polls=2 work=3 fullBudgetPolls=0',
      'window_cpu ts=10000000 intervalNs=10000000 cpu=0 netRxBusyNs=9000000 netRxCount=3 netTxBusyNs=0 netTxCount=0 cryptBusyNs=0 cryptCount=0 ksoftirqdNetRxCount=3',
      'window_cpu ts=10000000 intervalNs=10000000 cpu=1 netRxBusyNs=2000 netRxCount=2 netTxBusyNs=0 netTxCount=0 cryptBusyNs=500000 cryptCount=40 ksoftirqdNetRxCount=0',
      'window_cpu ts=10000000 intervalNs=10000000 cpu=2 netRxBusyNs=0 netRxCount=0 netTxBusyNs=0 netTxCount=0 cryptBusyNs=0 cryptCount=0 ksoftirqdNetRxCount=0',
      'window_napi ts=20000000 intervalNs=10000000 cpu=0 napi=0xffff888627c2d188 dev=vb busyNs=9999000 polls=150 work=0 fullBudgetPolls=0',
      'window_cpu ts=20000000 intervalNs=10000000 cpu=0 netRxBusyNs=10000000 netRxCount=0 netTxBusyNs=0 netTxCount=0 cryptBusyNs=0 cryptCount=0 ksoftirqdNetRxCount=0',
      'window_cpu ts=20000000 intervalNs=10000000 cpu=1 netRxBusyNs=0 netRxCount=0 netTxBusyNs=0 netTxCount=0 cryptBusyNs=0 cryptCount=0 ksoftirqdNetRxCount=0',
      'window_cpu ts=20000000 intervalNs=10000000 cpu=2 netRxBusyNs=0 netRxCount=0 netTxBusyNs=0 netTxCount=0 cryptBusyNs=0 cryptCount=0 ksoftirqdNetRxCount=0',
    ]);
    expect(r.header?.intervalNs).toBe(10_000_000);
  });

  it('windows-mode-v2.txt (one tuple per key, format 2) gives the same events as the format 1 maps', async () => {
    const v1 = await run(bpftraceTextImporter, fixture('windows-mode.txt'));
    const v2 = await run(bpftraceTextImporter, fixture('windows-mode-v2.txt'));
    expect(v2.codes).toEqual([]);
    expect(v2.header?.formatVersion).toBe(2);
    expect(dump(v2.events)).toEqual(dump(v1.events));
  });

  it('a tuple of the wrong size, a number for a tuple map and a tuple for a format 1 map are reported', async () => {
    const r = await run(
      bpftraceTextImporter,
      [
        'WIN 1000 10',
        '@napi[0, vb, -131365202636408]: (5, 1, 64)',
        '@netrx[0]: 7',
        '@netrx_busy[0]: (7, 1)',
        '@crypt[0]: (9007199254740993, 1)', // past 2^53 in a counted element
        '@netrx[0]: (7, 1, 0, 1000)',
        '',
      ].join('\n'),
    );
    expect(r.codes).toEqual(['malformed-line@2', 'malformed-line@3', 'malformed-line@4', 'malformed-line@5', 'no-header', 'skipped-lines']);
    const why = r.diagnostics.items.filter((d) => d.code === 'malformed-line').map((d) => d.message);
    expect(why[0]).toMatch(/@napi needs a tuple of 4 values, got 3/);
    expect(why[1]).toMatch(/@netrx needs a tuple of 4 values, got one number/);
    expect(why[2]).toMatch(/@netrx_busy needs one number, got a tuple/);
    expect(why[3]).toMatch(/@crypt value 1 is not a non-negative integer/);
    expect(dump(r.events)).toEqual(['window_cpu ts=0 intervalNs=10 cpu=0 netRxBusyNs=7 netRxCount=1 netTxBusyNs=0 netTxCount=0 cryptBusyNs=0 cryptCount=0 ksoftirqdNetRxCount=0']);
  });

  it('format 2 totals become per-window differences: a key listed twice counts once, a total that goes down is reported', async () => {
    const r = await run(
      bpftraceTextImporter,
      [
        'WIN 1000 10',
        '@netrx[0]: (100, 2, 0, 990)',
        'WIN 1010 10',
        '@netrx[0]: (130, 3, 0, 1005)',
        '@netrx[0]: (150, 4, 1, 1008)', // listed again by a racing key walk, with a later total
        'WIN 1020 10',
        '@netrx[0]: (140, 5, 1, 1015)', // busy went down: not a total
        '',
      ].join('\n'),
    );
    expect(r.codes).toEqual(['malformed-line@7', 'no-header', 'skipped-lines']);
    expect(r.diagnostics.items[0]!.message).toMatch(/@netrx\[0\] value 1 went down from 150 to 140/);
    expect(dump(r.events)).toEqual([
      'window_cpu ts=0 intervalNs=10 cpu=0 netRxBusyNs=100 netRxCount=2 netTxBusyNs=0 netTxCount=0 cryptBusyNs=0 cryptCount=0 ksoftirqdNetRxCount=0',
      'window_cpu ts=10 intervalNs=10 cpu=0 netRxBusyNs=50 netRxCount=2 netTxBusyNs=0 netTxCount=0 cryptBusyNs=0 cryptCount=0 ksoftirqdNetRxCount=1',
    ]); // (no header, so no CPU list: the third window, with nothing valid in it, has no events)
  });

  it('a window printed after lost window prints covers the time since the previous one; the last such window, the probes removal at exit, is left out and said', async () => {
    // bpftrace stops reading its output once told to exit while the interval probe still runs:
    // the END window's interval field is the time since the last (unprinted) interval, its
    // totals the time since the last printed window, over which the probes were being removed.
    const w = (l: string): string => / intervalNs=\d+ /.exec(l)![0].trim();
    const end = await run(
      bpftraceTextImporter,
      [
        'WIN 1000 10',
        '@netrx[0]: (4, 1, 0, 995)',
        'WIN 1010 10',
        '@napi[0, vb, 0xffff1]: (3, 2, 50, 0)',
        '@netrx[0]: (9, 2, 0, 1005)',
        'WIN 1100 30',
        '@napi[0, vb, 0xffff1]: (3, 9, 300, 0)',
        '@netrx[0]: (60, 9, 0, 1090)',
        '',
      ].join('\n'),
    );
    expect(dump(end.events).map(w)).toEqual(['intervalNs=10', 'intervalNs=10', 'intervalNs=10']);
    expect(end.summary.recordedUntilNs).toBe(10); // the second marker, relative to the first event
    const note = end.diagnostics.items.find((d) => d.code === 'probes-removal-left-out')!;
    expect([note.severity, note.line]).toEqual(['info', 6]);
    expect(note.message).toMatch(/its 7 polls, 250 packets and 7 NET_RX softirqs are left out, and the probed span ends with the window before it/);
    expect(end.codes).not.toContain('window-prints-lost');
    // The same in bpftrace's JSON output.
    const json = await run(
      bpftraceJsonImporter,
      [
        '{"type": "printf", "data": "WIN 1000 10\\n"}',
        '{"type": "printf", "data": "WIN 1010 10\\n"}',
        '{"type": "map", "data": {"@netrx": {"0": [9, 2, 0, 1005]}}}',
        '{"type": "printf", "data": "WIN 1100 30\\n"}',
        '{"type": "map", "data": {"@netrx": {"0": [60, 9, 0, 1090]}}}',
        '',
      ].join('\n'),
    );
    expect(dump(json.events).map(w)).toEqual(['intervalNs=10']);
    expect(json.codes).toContain('probes-removal-left-out@4');
    // A stretched window before the last one is bpftrace falling behind mid-capture: kept, spread
    // over its span, and a warning.
    const mid = await run(bpftraceTextImporter, ['WIN 1000 10', 'WIN 1050 10', '@netrx[0]: (9, 2, 0, 1045)', 'WIN 1060 10', '@netrx[0]: (12, 3, 0, 1055)', ''].join('\n'));
    expect(dump(mid.events).map(w)).toEqual(['intervalNs=50', 'intervalNs=10']);
    expect(mid.summary.recordedUntilNs).toBeUndefined();
    const warn = mid.diagnostics.items.find((d) => d.code === 'window-prints-lost')!;
    expect([warn.severity, warn.line]).toEqual(['warning', 2]);
    expect(warn.message).toMatch(/^1 window covers more than its printed interval/);
    // Both: the mid-capture one is warned of at its own line, the last one left out.
    const both = await run(bpftraceTextImporter, ['WIN 1000 10', 'WIN 1050 10', '@netrx[0]: (9, 2, 0, 1045)', 'WIN 1060 10', 'WIN 1200 20', '@netrx[0]: (30, 5, 0, 1190)', ''].join('\n'));
    expect(dump(both.events).map(w)).toEqual(['intervalNs=50']);
    expect(both.codes.filter((c) => /window-prints-lost|probes-removal/.test(c))).toEqual(['probes-removal-left-out@5', 'window-prints-lost@2']);
    expect(both.summary.recordedUntilNs).toBe(60);
    // Within 1.5 x (older scripts measured the interval a little off the markers' spacing): as printed.
    const near = await run(bpftraceTextImporter, ['WIN 1000 10', 'WIN 1014 10', '@netrx[0]: (9, 2, 0, 1005)', ''].join('\n'));
    expect(dump(near.events).map(w)).toEqual(['intervalNs=10']);
    expect(near.codes.filter((c) => /window-prints-lost|probes-removal/.test(c))).toEqual([]);
  });

  it('@idle (format 3): closed idle periods by difference, an open one up to each window end, the same in text and JSON', async () => {
    // Windows of 100 ns from boot 1000 (the origin). cpu 0: idle 1010-1040, then from 1050 to 1250.
    const windows: [number, [number, number, number, number] | undefined][] = [
      [1100, [30, 1, 1050, 1040]], // 30 closed + 50 open (1050-1100)
      [1200, undefined], // not listed: no change, still idle: the whole window
      [1300, [230, 2, 1050, 1250]], // the 200 ns period closed; 150 of it went to earlier windows
      [1400, undefined], // not idle
    ];
    const text = windows.flatMap(([ts, v]) => [`WIN ${ts} 100`, ...(v ? [`@idle[0]: (${v.join(', ')})`] : [])]).join('\n') + '\n';
    const json = windows.flatMap(([ts, v]) => [`{"type": "printf", "data": "WIN ${ts} 100\\n"}`, ...(v ? [`{"type": "map", "data": {"@idle": {"0": [${v.join(', ')}]}}}`] : [])]).join('\n') + '\n';
    const want = [80, 100, 50, 0];
    for (const [imp, input] of [
      [bpftraceTextImporter, text],
      [bpftraceJsonImporter, json],
    ] as const) {
      const r = await run(imp, input);
      expect(r.events.map((e) => (e.kind === 'window_cpu' ? e.idleNs : -1))).toEqual(want);
      // Idle periods by difference of the second value: the first ended in window 1, the second in 3.
      expect(r.events.map((e) => (e.kind === 'window_cpu' ? e.idlePeriods : -1))).toEqual([1, 0, 1, 0]);
    }
    // A core idle since the probes attached is first listed when it leaves idle: its first
    // tuple holds all of that time (250 ns over three windows), passed on whole; later ones are
    // capped at their window.
    const late = await run(bpftraceTextImporter, 'WIN 1100 100\n@idle[1]: (5, 1, 1090, 1095)\nWIN 1200 100\nWIN 1300 100\n@idle[0]: (250, 1, 0, 1250)\nWIN 1400 100\n@idle[0]: (900, 2, 1310, 1390)\n');
    expect(late.events.filter((e) => e.kind === 'window_cpu' && e.cpu === 0).map((e) => (e.kind === 'window_cpu' ? e.idleNs : -1))).toEqual([250, 100]);
    const bad = await run(bpftraceTextImporter, 'WIN 1100 100\n@idle[0]: (30, 1, 1050)\n@idle[0]: (-1, 1, 1050, 1040)\n');
    expect(bad.diagnostics.items.map((d) => d.message).filter((m) => m.includes('@idle'))).toHaveLength(2);
  });

  it('IP (format 4): one record per idle period, how its start is known from entered/exited; @idle_t at exit is an open one; the same in JSON', async () => {
    // Boot 1000 is the origin. cpu 0: idle since before the probes until 1100, then 1150..1200;
    // then a period whose switch to idle was missed (entered 1150 <= exited 1200); then idle
    // from 1400 at exit. cpu 1: a malformed record.
    const lines = [
      '#@wgtrace-capture 4',
      '#@start_boot_ns 1000',
      '#@cpus 0-1',
      '#@mode events',
      'IP 1100 0 0 0',
      'IP 1200 0 1150 1100',
      'IP 1300 0 1150 1200',
      'IP 1250 1 1300 0',
      '#@probes_stop_boot_ns 1500',
      '@idle_t[0]: (1400, 1300)',
      '@idle_t[1]: (0, 1250)',
    ];
    const text = lines.join('\n') + '\n';
    const r = await run(bpftraceTextImporter, text);
    expect(dump(r.events)).toEqual([
      'core_idle_period ts=100 cpu=0 entry=before-probes',
      'core_idle_period ts=200 cpu=0 start=150 entry=seen prevEnd=100',
      'core_idle_period ts=300 cpu=0 entry=missed prevEnd=200',
      'core_idle_period ts=400 cpu=0 start=400 entry=open',
    ]);
    expect(r.codes).toEqual(['malformed-line@8', 'partial-capture', 'skipped-lines']);
    const json =
      lines
        .map((l) => (l.startsWith('@idle_t') ? `{"type": "map", "data": {"@idle_t": {"${l[8]}": [${/\((.*)\)/.exec(l)![1]}]}}}` : `{"type": "printf", "data": ${JSON.stringify(l + '\n')}}`))
        .join('\n') + '\n';
    expect(dump((await run(bpftraceJsonImporter, json)).events)).toEqual(dump(r.events));
  });

  it('PX (a poll of an untraced device): its end only; a PX with a missing field is reported', async () => {
    const text = ['SE 1000 1 3 0 swapper/1', 'PX 1100 1', 'P 1200 1 0xffff888627c2d188 vb 4 64 0 swapper/1', 'PX 1300', 'SX 1400 1 3', ''].join('\n');
    const r = await run(bpftraceTextImporter, text);
    expect(dump(r.events).slice(0, 3)).toEqual([
      'softirq_entry ts=0 cpu=1 vec=3 pid=0 comm=swapper/1',
      'napi_poll_other ts=100 cpu=1',
      'napi_poll ts=200 cpu=1 napi=0xffff888627c2d188 dev=vb work=4 budget=64 pid=0 comm=swapper/1',
    ]);
    expect(r.codes).toEqual(['malformed-line@4', 'no-header', 'skipped-lines']);
    // The same records inside bpftrace -f json printf lines.
    const json = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.stringify({ type: 'printf', data: `${l}\n` }))
      .join('\n');
    const j = await run(bpftraceJsonImporter, json + '\n');
    expect(dump(j.events)).toEqual(dump(r.events));
  });

  it('a map line before any WIN marker and an unknown map are reported', async () => {
    const r = await run(bpftraceTextImporter, '@netrx_busy[0]: 5\nWIN 1000 10\n@frob[0]: 1\n@netrx_busy[0]: 7\n');
    expect(r.codes).toEqual(['map-outside-window@1', 'unknown-map@3', 'no-header', 'skipped-lines']);
    expect(dump(r.events)).toEqual(['window_cpu ts=0 intervalNs=10 cpu=0 netRxBusyNs=7 netRxCount=0 netTxBusyNs=0 netTxCount=0 cryptBusyNs=0 cryptCount=0 ksoftirqdNetRxCount=0']);
  });

  it('no header: origin is the first event, with a no-header warning', async () => {
    const r = await run(bpftraceTextImporter, 'SE 5000 1 3 0 swapper/1\nSX 4000 0 3\n');
    expect(r.summary.origin).toBe(5000n);
    expect(r.summary.originFromHeader).toBe(false);
    expect(dump(r.events)).toEqual(['softirq_entry ts=0 cpu=1 vec=3 pid=0 comm=swapper/1', 'softirq_exit ts=-1000 cpu=0 vec=3']);
    expect(r.codes).toEqual(['no-header']);
    expect(r.header).toBeUndefined();
  });

  it('keeps timestamps exact past 2^53 ns of uptime', async () => {
    const r = await run(bpftraceTextImporter, 'SE 17280000123456789 0 3 0 a\nSX 17280000123456790 0 3\nSX 18446744073709551615 0 3\nSX 18446744073709551616 0 3\n');
    expect(dump(r.events).slice(0, 2)).toEqual(['softirq_entry ts=0 cpu=0 vec=3 pid=0 comm=a', 'softirq_exit ts=1 cpu=0 vec=3']);
    expect(r.events).toHaveLength(3);
    expect(r.codes).toContain('malformed-line@4');
  });

  it('a CPU outside the header is reported and its lines skipped', async () => {
    const r = await run(bpftraceTextImporter, '#@wgtrace-capture 1\n#@cpus 0-1\nSX 100 0 3\nSX 101 5 3\nSX 102 5 3\n#@status complete\n');
    expect(r.events).toHaveLength(1);
    expect(r.codes).toEqual(['cpu-out-of-range@4', 'skipped-lines']);
    expect(r.diagnostics.count('cpu-out-of-range')).toBe(2);
    expect(r.summary.skippedLines).toBe(2);
  });

  it('strict mode throws on the first bad line with file and line', async () => {
    const err = await run(bpftraceTextImporter, 'SE 1 0 3 0 a\nXX 2 0\n', { strict: true, file: 'cap.txt' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).oneLine()).toBe('cap.txt:2: unknown record "XX"; line skipped');
  });
});

describe('bpftrace-json quirks', () => {
  it('windows-mode.json gives the same events as windows-mode.txt', async () => {
    const t = await run(bpftraceTextImporter, fixture('windows-mode.txt'));
    const j = await run(bpftraceJsonImporter, fixture('windows-mode.json'), { chunk: 7 });
    expect(j.codes).toEqual([]);
    expect(dump(j.events)).toEqual(dump(t.events));
  });

  it('windows-mode-v2.json (tuples as JSON arrays) gives the same events as windows-mode.txt', async () => {
    const t = await run(bpftraceTextImporter, fixture('windows-mode.txt'));
    const j = await run(bpftraceJsonImporter, fixture('windows-mode-v2.json'), { chunk: 7 });
    expect(j.codes).toEqual([]);
    expect(dump(j.events)).toEqual(dump(t.events));
  });

  it('lost-events.json: both the 0.17 and the 0.24+ shapes', async () => {
    const r = await run(bpftraceJsonImporter, fixture('lost-events.json'));
    expect(dump(r.events)).toEqual(['softirq_entry ts=1000 cpu=0 vec=3 pid=0 comm=swapper/0', 'lost_events count=5', 'lost_events count=7', 'softirq_exit ts=2000 cpu=0 vec=3']);
    expect(r.summary.lostEvents).toBe(12);
  });

  it('json-0.24.json: top-level counts, tracer errors reported, time records ignored', async () => {
    const r = await run(bpftraceJsonImporter, fixture('json-0.24.json'));
    expect(r.events.map((e) => e.kind)).toEqual(['softirq_entry', 'lost_events', 'softirq_exit']);
    expect(r.codes).toEqual(['lost-events@3', 'tracer-error@4', 'no-header', 'lost-events-total']);
    expect(r.diagnostics.items.find((d) => d.code === 'tracer-error')?.message).toContain('E2BIG');
    expect(r.summary.ignoredLines).toBe(2);
  });

  it('printf-split.json: a printf carrying several lines, a line split over two printfs, escapes', async () => {
    for (const chunk of [1, 5, 65536]) {
      const r = await run(bpftraceJsonImporter, fixture('printf-split.json'), { chunk });
      expect(dump(r.events)).toEqual([
        'softirq_entry ts=0 cpu=0 vec=3 pid=0 comm=swapper/0',
        'napi_poll ts=500 cpu=0 napi=0xffff888627c2d188 dev=vb work=2 budget=64 pid=0 comm=swapper/0',
        'softirq_exit ts=1000 cpu=0 vec=3',
        'softirq_entry ts=2000 cpu=1 vec=3 pid=77 comm=comm "quoted"',
      ]);
      expect(r.codes).toEqual(['no-header']);
    }
  });

  it('truncated.json: the cut last line is reported and the capture is partial', async () => {
    const r = await run(bpftraceJsonImporter, fixture('truncated.json'));
    expect(r.events).toHaveLength(2);
    expect(r.codes).toEqual(['malformed-json@7', 'partial-capture', 'skipped-lines']);
  });

  it('numbers a double cannot hold (0.24+ prints them as strings) are rejected, not rounded', async () => {
    const r = await run(bpftraceJsonImporter, '{"type": "printf", "data": "WIN 1000 10\\n"}\n{"type": "map", "data": {"@netrx_busy": {"0": "18446744073709551615", "1": 5}}}\n');
    expect(r.codes).toEqual(['malformed-line@2', 'no-header', 'skipped-lines']);
    expect(r.events.map((e) => e.kind)).toEqual(['window_cpu']);
  });
});

describe('perf-script quirks', () => {
  it('comm-with-spaces.perf.txt matches the bpftrace-text flavour', async () => {
    const p = await run(perfScriptImporter, fixture('comm-with-spaces.perf.txt'));
    const t = await run(bpftraceTextImporter, fixture('comm-with-spaces.txt'));
    expect(p.codes).toEqual([]);
    // perf records every switch, so it also sees the core leaving and entering idle (core_idle);
    // this bpftrace fixture predates the IE/IX records.
    expect(dump(p.events.filter((e) => e.kind !== 'core_idle'))).toEqual(dump(t.events));
  });

  it('perf-no-ns.txt: microsecond timestamps, no header', async () => {
    const r = await run(perfScriptImporter, fixture('perf-no-ns.txt'));
    expect(r.summary.origin).toBe(2386077074000n);
    expect(dump(r.events)).toEqual([
      'softirq_entry ts=0 cpu=0 vec=3 pid=0 comm=swapper/0',
      'napi_poll ts=6000 cpu=0 napi=0xffff888627c2d188 dev=vb work=64 budget=64 pid=0 comm=swapper/0',
      'softirq_entry ts=7000 cpu=1 vec=3 pid=6553 comm=iperf3',
      'softirq_exit ts=16000 cpu=0 vec=3',
      'napi_poll ts=21000 cpu=1 napi=0xffff888627c2e000 dev=wg0 work=1 budget=64 pid=6553 comm=iperf3',
      'softirq_exit ts=25000 cpu=1 vec=3',
    ]);
    expect(r.codes).toEqual(['no-header']);
  });

  it('perf-real-6.18.txt: a real `perf script --ns` of this kernel reads without a malformed line', async () => {
    const r = await run(perfScriptImporter, fixture('perf-real-6.18.txt'));
    expect(r.summary.skippedLines).toBe(0);
    expect(r.events.length).toBeGreaterThan(0);
    const kinds = new Set(r.events.map((e) => e.kind));
    expect([...kinds].sort()).toEqual(['core_idle', 'sched_switch_in', 'sched_switch_out', 'workqueue_execute_start']);
    // One core_idle per switch to or from pid 0 (swapper/N), as a grep of the file counts them.
    const text = fixture('perf-real-6.18.txt');
    const idleSwitches = text.split('\n').filter((l) => /prev_pid=0 |next_pid=0 /.test(l) && !/prev_pid=0 .*next_pid=0 /.test(l)).length;
    expect(r.events.filter((e) => e.kind === 'core_idle').length).toBe(idleSwitches);
    // A comm with a colon (memfd:sealed-91) does not confuse the parse.
    expect(r.events.some((e) => 'comm' in e && e.comm === 'memfd:sealed-91')).toBe(true);
    // TIMER and SCHED softirqs are not ours: counted, not events.
    expect(r.codes).toContain('other-softirqs');
  });
});

describe('csv quirks', () => {
  it('csv-aliases.csv: other column names, seconds timestamps, tracepoint and tag kinds', async () => {
    const r = await run(csvImporter, fixture('csv-aliases.csv'));
    expect(dump(r.events)).toEqual([
      'softirq_entry ts=0 cpu=0 vec=3 pid=0 comm=swapper/0',
      'napi_poll ts=6000 cpu=0 napi=0xffff888627c2d188 dev=vb work=64 budget=64 pid=0 comm=swapper/0',
      'softirq_exit ts=16000 cpu=0 vec=3',
      'lost_events count=4',
    ]);
    expect(r.summary.lostEvents).toBe(4);
  });

  it('csv-missing-columns.csv: a clear error naming the missing columns', async () => {
    const err = await run(csvImporter, fixture('csv-missing-columns.csv'), { file: 'x.csv' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).oneLine()).toMatch(/^x\.csv:1: CSV header lacks required column\(s\): kind \(one of .*\); timestamp .*; cpu \(columns: when, where, what\)$/);
  });

  it('a row with a bad value is skipped and counted', async () => {
    const r = await run(csvImporter, 'kind,ts,cpu,vec\nSX,100,0,3\nSX,abc,0,3\nSX,300,0,99\nfrob,1,0,1\n');
    expect(r.events).toHaveLength(1);
    expect(r.codes).toEqual(['malformed-line@3', 'malformed-line@4', 'unknown-record@5', 'no-header', 'skipped-lines']);
  });
});

describe('bpftrace 0.24+ text output', () => {
  it('"Attached N probes" is ignored and runtime warnings on stdout are tracer errors', async () => {
    const text = "Attached 9 probes\nSX 100 0 3\nwindows.bt:12:3-20: WARNING: Map full; can't update element.\nSX 200 0 3\n";
    expect(bpftraceTextImporter.sniff(text)).toBe(true);
    const r = await run(bpftraceTextImporter, text);
    expect(r.events).toHaveLength(2);
    expect(r.codes).toEqual(['tracer-error@3', 'no-header']);
    expect(r.summary.skippedLines).toBe(0);
  });
});

describe('bpftrace-json fast path', () => {
  it('reads only what JSON.parse would: a raw quote inside the data makes the line invalid JSON', async () => {
    const r = await run(bpftraceJsonImporter, '{"type": "printf", "data": "SX 1 0 3"} \\n"}\n{"type":"printf","data":"SX 2 0 3\\n"}\n');
    expect(r.codes).toEqual(['malformed-json@1', 'no-header', 'skipped-lines']);
    expect(dump(r.events)).toEqual(['softirq_exit ts=0 cpu=0 vec=3']);
  });
});

describe('sched_switch prev_state', () => {
  it('the number our script prints becomes the letters perf prints', async () => {
    const r = await run(bpftraceTextImporter, 'SO 1 0 10 0 a\nSO 2 0 10 1 a\nSO 3 0 10 2 a\nSO 4 0 10 256 a\nSO 5 0 10 128 a\nSO 6 0 10 R+ a\n');
    expect(r.events.map((e) => (e as { state: string }).state)).toEqual(['R', 'S', 'D', 'R+', 'I', 'R+']);
  });
});
