import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InputError } from '../../src/base/diagnostics.js';
import { ftraceImporter, traceCmdImporter } from '../../src/import/ftrace-text.js';
import { importCapture, sniffFormat } from '../../src/import/index.js';
import type { TraceEvent } from '../../src/model/events.js';
import { dump, run } from './import-util.js';

const FIX = join(import.meta.dirname, '../fixtures/formats');
const path = (name: string): string => join(FIX, name);
const fixture = (name: string): string => readFileSync(path(name), 'utf8');

/** The canonical capture (import-formats.test.ts) at ftrace's microsecond resolution, plus the switch to idle. */
const CANONICAL_US = [
  'softirq_raise ts=70000 cpu=0 vec=3',
  'softirq_entry ts=74000 cpu=0 vec=3 pid=0 comm=swapper/0',
  'workqueue_queue_work ts=75000 cpu=0 work=0xffff888612345000 function=wg_packet_decrypt_worker workqueue=wg-crypt-wg0 reqCpu=8192 targetCpu=1',
  'napi_poll ts=80000 cpu=0 napi=0xffff888627c2d188 dev=vb work=64 budget=64 pid=0 comm=swapper/0',
  'softirq_exit ts=90000 cpu=0 vec=3',
  'workqueue_execute_start ts=76000 cpu=1 work=0xffff888612345000 function=wg_packet_decrypt_worker',
  'workqueue_execute_end ts=79000 cpu=1 work=0xffff888612345000 function=wg_packet_decrypt_worker',
  'sched_switch_out ts=81000 cpu=1 pid=15 state=S comm=ksoftirqd/1',
  'sched_switch_in ts=81000 cpu=1 pid=812 comm=napi/wg0-0',
];
const CANONICAL_US_TAIL = [
  'sched_migrate_task ts=82000 cpu=1 pid=812 origCpu=1 destCpu=0 comm=napi/wg0-0',
  'softirq_entry ts=83000 cpu=1 vec=3 pid=812 comm=napi/wg0-0',
  'napi_poll ts=85000 cpu=1 napi=0xffff888627c2e000 dev=wg0 work=3 budget=64 pid=812 comm=napi/wg0-0',
  'softirq_exit ts=86000 cpu=1 vec=3',
];

const notLost = (e: TraceEvent): boolean => e.kind !== 'lost_events';

describe('ftrace text: our wrapper framing (#@ header, trace_pipe, LOST lines, per-CPU stats)', () => {
  it('reads the events, the #@ header and origin, losses from LOST lines and #@ftrace_cpu', async () => {
    for (const chunk of [65536, 7, 1]) {
      const r = await run(ftraceImporter, fixture('ftrace-wrapper-trace-pipe.txt'), { chunk });
      expect(dump(r.events.filter(notLost))).toEqual([
        ...CANONICAL_US,
        ...CANONICAL_US_TAIL,
        'core_idle ts=87000 cpu=1 idle=true',
        'sched_switch_out ts=87000 cpu=1 pid=812 state=S comm=napi/wg0-0',
        'sched_switch_in ts=87000 cpu=1 pid=0 comm=swapper/1',
      ]);
      expect(r.summary.format).toBe('ftrace');
      expect(r.summary.origin).toBe(2386077000000n);
      expect(r.summary.originFromHeader).toBe(true);
      expect(r.header?.cpus).toEqual([0, 1]);
      expect(r.header?.extra?.['tracer']).toBe('ftrace');
      expect(r.summary.header?.status).toBe('complete');
      // 7 from the LOST line, and 2 dropped_events the kernel counted that no line reported.
      expect(r.summary.lostEvents).toBe(9);
      expect(r.events.filter((e) => e.kind === 'lost_events').map((e) => (e as { count: number }).count)).toEqual([7, 2]);
      expect(r.summary.skippedLines).toBe(0);
      expect(r.codes.filter((c) => !c.startsWith('lost-events'))).toEqual([]);
    }
  });

  it('sniffs as ftrace (not as our bpftrace text, whose #@wgtrace-capture line it has too) and --format reaches the same result', async () => {
    expect(sniffFormat(fixture('ftrace-wrapper-trace-pipe.txt'))).toBe('ftrace');
    const a: TraceEvent[] = [];
    const b: TraceEvent[] = [];
    const ra = await importCapture(path('ftrace-wrapper-trace-pipe.txt'), { onEvents: (x) => a.push(...x) });
    const rb = await importCapture(path('ftrace-wrapper-trace-pipe.txt'), { format: 'ftrace', onEvents: (x) => b.push(...x) });
    expect(ra.summary).toEqual(rb.summary);
    expect(a).toEqual(b);
  });
});

describe('ftrace text: the trace file with its own header', () => {
  it('takes the CPU count from #P:N and the overwritten entries from entries-in-buffer/entries-written', async () => {
    const r = await run(ftraceImporter, fixture('ftrace-trace-file-overwritten.txt'));
    expect(r.header?.cpus).toEqual([0, 1, 2, 3]);
    expect(r.summary.header?.cpus).toEqual([0, 1, 2, 3]);
    expect(r.summary.lostEvents).toBe(4);
    expect(r.events[0]).toEqual({ kind: 'lost_events', count: 4 });
    expect(dump(r.events.slice(1))).toEqual([
      'softirq_entry ts=0 cpu=2 vec=3 pid=0 comm=swapper/2',
      'napi_poll ts=20000 cpu=2 napi=0x00000000d1c0ffee dev=eth0 work=64 budget=64 pid=0 comm=swapper/2',
      'napi_poll ts=40000 cpu=2 napi=0x00000000d1c0ffee dev=eth0 work=12 budget=64 pid=0 comm=swapper/2',
      'softirq_exit ts=41000 cpu=2 vec=3',
    ]);
    // irq_handler_entry (another event) and a TIMER softirq are ignored and counted, not errors.
    expect(r.summary.skippedLines).toBe(0);
    expect(r.codes).toContain('unknown-event@17');
    expect(r.codes).toContain('other-softirqs');
    expect(r.summary.ignoredLines).toBe(12 + 2);
    expect(r.diagnostics.items.find((d) => d.code === 'no-header')?.message).toContain('#P:4');
  });

  it('reads a comm with a space ("Web Content") and keeps ts exact past 2^53 ns of uptime', async () => {
    // 200 days of uptime: 17280000 s, 1.7e16 ns > 2^53.
    const text =
      '   Web Content-4411    [003] ..s1. 17280000.123457: napi_poll: napi poll on napi struct 00000000d1c0ffee for device eth0 work 1 budget 64\n' +
      '   Web Content-4411    [003] ..s1. 17280000.123459: napi_poll: napi poll on napi struct 00000000d1c0ffee for device eth0 work 1 budget 64\n';
    const r = await run(ftraceImporter, text);
    expect(r.summary.origin).toBe(17280000123457000n);
    expect(r.events.map((e) => e.ts)).toEqual([0, 2000]);
    expect((r.events[0] as { comm: string }).comm).toBe('Web Content');
  });

  it('names a counter clock clearly and stops', async () => {
    // trace_clock counter: " %12llu" (kernel/trace/trace_output.c: trace_print_time).
    const text = [
      '# tracer: nop',
      '#',
      '# entries-in-buffer/entries-written: 2/2   #P:2',
      '#',
      '          <idle>-0       [000] ..s1.  3321570151283: softirq_entry: vec=3 [action=NET_RX]',
      '          <idle>-0       [000] ..s1.  3321570153871: softirq_exit: vec=3 [action=NET_RX]',
      '',
    ].join('\n');
    const err = await run(ftraceImporter, text, { file: 'c.txt' }).catch((e: unknown) => e);
    expect((err as InputError).oneLine()).toMatch(/^c\.txt:5: timestamps are raw counter values \(trace_clock counter, uptime or x86-tsc\)/);
  });
});

describe('ftrace text: real posted traces', () => {
  it('hns3 (netdev, 2024): 4-character flags, <...>-PID, "(no_device)", lines prefixed with "Line N:" in prose', async () => {
    const r = await run(ftraceImporter, fixture('ftrace-real-hns3-napi-only.txt'));
    const polls = r.events.filter((e) => e.kind === 'napi_poll');
    expect(polls.length).toBe(7);
    expect(dump(polls.slice(0, 2))).toEqual([
      'napi_poll ts=0 cpu=45 napi=0xffff003ffffab350 dev=(no_device) work=2 budget=64 pid=2530388 comm=',
      'napi_poll ts=11839640000 cpu=45 napi=0xffff003ffffab350 dev=(no_device) work=3 budget=64 pid=0 comm=swapper/45',
    ]);
    expect(r.summary.skippedLines).toBe(0);
    // The three sentences around the lines are prose, counted apart; the blank line is ignored.
    expect(r.summary.proseLines).toBe(3);
    expect(sniffFormat(fixture('ftrace-real-hns3-napi-only.txt'))).toBe('ftrace');
  });

  it('ksoftirqd (netdev, 2019): quoted "> > ", 4-character flags dNH1, irq_handler events ignored', async () => {
    const r = await run(ftraceImporter, fixture('ftrace-real-ksoftirqd-quoted.txt'));
    expect(dump(r.events)).toEqual([
      // The origin is the first line's time, an irq_handler_entry 1 us before the raise.
      'softirq_raise ts=1000 cpu=1 vec=3',
      'softirq_entry ts=910000 cpu=1 vec=3 pid=15 comm=ksoftirqd/1',
      'softirq_exit ts=936000 cpu=1 vec=3',
      'softirq_raise ts=941000 cpu=1 vec=3',
      'softirq_entry ts=944000 cpu=1 vec=3 pid=15 comm=ksoftirqd/1',
      'softirq_exit ts=947000 cpu=1 vec=3',
    ]);
    expect(r.summary.ignoredLines).toBe(2 + 4);
    expect(r.summary.proseLines).toBe(3);
    expect(r.summary.skippedLines).toBe(0);
  });

  it('idpf (netdev, 2024): 5-character flags, a task without its -PID', async () => {
    const r = await run(ftraceImporter, fixture('ftrace-real-idpf-5flags.txt'));
    expect(dump(r.events)).toEqual([
      'softirq_raise ts=0 cpu=3 vec=3',
      'softirq_entry ts=733000 cpu=3 vec=3 pid=0 comm=swapper/3',
      'softirq_raise ts=254097712000 cpu=3 vec=3',
      'softirq_entry ts=254097713000 cpu=3 vec=3 pid=-1 comm=ifconfig',
    ]);
    expect(r.summary.proseLines).toBe(3);
  });

  it('PREEMPT_RT: 7-character flags', async () => {
    const r = await run(ftraceImporter, fixture('ftrace-real-rt-7flags.txt'));
    expect(dump(r.events)).toEqual(['napi_poll ts=0 cpu=0 napi=0x00000000e62d086d dev=can1 work=1 budget=6 pid=3984 comm=sshd']);
  });

  it('latency format: cpu glued to the flags, microseconds with a delay mark; a line cut short in the post is malformed', async () => {
    const r = await run(ftraceImporter, fixture('ftrace-real-latency-format.txt'));
    expect(r.codes).toContain('latency-format@9');
    expect(r.summary.skippedLines).toBe(1);
    expect(r.codes).toContain('malformed-line@11');
    expect(r.summary.ignoredLines).toBe(8 + 3);
    expect(sniffFormat(fixture('ftrace-real-latency-format.txt'))).toBe('ftrace');
  });

  it('trace-cmd report pasted without its header (a kernel patch, 2022): no flags, plugin sched_switch, events without payload', async () => {
    const r = await run(ftraceImporter, fixture('ftrace-real-trace-cmd-idle-inject.txt'));
    expect(dump(r.events)).toEqual([
      'core_idle ts=1000 cpu=4 idle=false',
      'sched_switch_out ts=1000 cpu=4 pid=0 state=R comm=swapper/4',
      'sched_switch_in ts=1000 cpu=4 pid=37 comm=idle_inject/4',
      'sched_switch_out ts=24392000 cpu=4 pid=37 state=S comm=idle_inject/4',
      'sched_switch_in ts=24392000 cpu=4 pid=39 comm=ksoftirqd/4',
      'softirq_entry ts=24400000 cpu=4 vec=3 pid=39 comm=ksoftirqd/4',
    ]);
    expect(r.summary.skippedLines).toBe(0);
    // sched_wakeup, play_idle_enter, bputs, play_idle_exit, irq_handler_entry: other events.
    expect(r.diagnostics.items.find((d) => d.code === 'other-events')?.message).toMatch(/^5 lines of events/);
  });

  it('tg3 (netdev, 2022): lines shortened to "comm-pid ts:" have no CPU: malformed, never placed on a guessed core', async () => {
    const r = await run(ftraceImporter, fixture('ftrace-real-tg3-no-cpu.txt'));
    expect(r.events).toEqual([]);
    expect(r.summary.skippedLines).toBe(3);
  });
});

describe('trace-cmd report', () => {
  it('reads cpus=N, CPU N is empty, padded names, the plugin sched_switch, EVENTS DROPPED', async () => {
    const r = await run(traceCmdImporter, fixture('trace-cmd-report-canonical.txt'));
    expect(r.summary.format).toBe('trace-cmd');
    expect(r.summary.header?.cpus).toEqual([0, 1, 2, 3]);
    expect(dump(r.events.filter(notLost))).toEqual([
      ...CANONICAL_US.map((l) => l.replace(/ts=(\d+)/, (_, t: string) => `ts=${Number(t) - 70000}`)),
      ...CANONICAL_US_TAIL.map((l) => l.replace(/ts=(\d+)/, (_, t: string) => `ts=${Number(t) - 70000}`)),
      // libtraceevent's old letter W for TASK_REPORT_IDLE reads as the kernel's I.
      'core_idle ts=17000 cpu=1 idle=true',
      'sched_switch_out ts=17000 cpu=1 pid=812 state=I comm=napi/wg0-0',
      'sched_switch_in ts=17000 cpu=1 pid=0 comm=swapper/1',
    ]);
    expect(r.summary.lostEvents).toBe(3);
    expect(r.summary.skippedLines).toBe(0);
    expect(r.summary.ignoredLines).toBe(4);
  });

  it('sniffs as trace-cmd and --format trace-cmd reaches the same result', async () => {
    expect(sniffFormat(fixture('trace-cmd-report-canonical.txt'))).toBe('trace-cmd');
    const a: TraceEvent[] = [];
    const b: TraceEvent[] = [];
    const ra = await importCapture(path('trace-cmd-report-canonical.txt'), { onEvents: (x) => a.push(...x) });
    const rb = await importCapture(path('trace-cmd-report-canonical.txt'), { format: 'trace-cmd', onEvents: (x) => b.push(...x) });
    expect(ra.summary).toEqual(rb.summary);
    expect(a).toEqual(b);
  });
});
