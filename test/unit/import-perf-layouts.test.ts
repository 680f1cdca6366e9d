import { describe, expect, it } from 'vitest';
import { perfScriptImporter } from '../../src/import/perf-script.js';
import { sniffFormat } from '../../src/import/index.js';
import { dump, run } from './import-util.js';

/** perf script in the layouts other than our default `perf script --ns`. */
describe('perf script layouts', () => {
  it('libtraceevent plugin form of sched_switch (perf without the kernel print fmt)', async () => {
    // The example line, in a full perf script line.
    const text =
      '            perf 19593 [000]  1130.465546: sched:sched_switch: perf:19593 [120] R ==> migration/0:19 [0]\n' +
      '     migration/0    19 [000]  1130.465560: sched:sched_switch: migration/0:19 [0] S ==> swapper/0:0 [120]\n';
    const r = await run(perfScriptImporter, text);
    expect(r.summary.skippedLines).toBe(0);
    expect(dump(r.events)).toEqual([
      'sched_switch_out ts=0 cpu=0 pid=19593 state=R comm=perf',
      'sched_switch_in ts=0 cpu=0 pid=19 comm=migration/0',
      'core_idle ts=14000 cpu=0 idle=true',
      'sched_switch_out ts=14000 cpu=0 pid=19 state=S comm=migration/0',
      'sched_switch_in ts=14000 cpu=0 pid=0 comm=swapper/0',
    ]);
  });

  it('-F field subsets: pid/tid without comm, cpu and time only, a period between time and event', async () => {
    const text = [
      ' 7115/7116 [001]  441.850855750: irq:softirq_entry: vec=3 [action=NET_RX]',
      '[001]  441.850856750: napi:napi_poll: napi poll on napi struct ffff888627c2d188 for device vb work 1 budget 64',
      '  swapper     0 [001]  441.850857750:          1 irq:softirq_exit: vec=3 [action=NET_RX]',
      '',
    ].join('\n');
    const r = await run(perfScriptImporter, text);
    expect(r.summary.skippedLines).toBe(0);
    expect(dump(r.events)).toEqual([
      'softirq_entry ts=0 cpu=1 vec=3 pid=7116 comm=',
      'napi_poll ts=1000 cpu=1 napi=0xffff888627c2d188 dev=vb work=1 budget=64 pid=-1 comm=',
      'softirq_exit ts=2000 cpu=1 vec=3',
    ]);
    expect(sniffFormat(text)).toBe('perf-script');
  });

  it('a line without the cpu field is malformed, named so (perf script -F needs cpu)', async () => {
    const r = await run(perfScriptImporter, '  swapper     0  441.850855750: irq:softirq_entry: vec=3 [action=NET_RX]\n');
    expect(r.summary.skippedLines).toBe(1);
    expect(r.diagnostics.items[0]?.message).toMatch(/needs cpu/);
  });

  it('a hashed %p that happens to be all decimal digits is still hex', async () => {
    // normalizePointer would read 0000000012345678 as a decimal number; perf prints %p in hex.
    const r = await run(perfScriptImporter, '  swapper     0 [001]  441.850856750: napi:napi_poll: napi poll on napi struct 0000000012345678 for device vb work 1 budget 64\n');
    expect((r.events[0] as { napi: string }).napi).toBe('0x0000000012345678');
  });

  it("--show-lost-events records and the wrapper's #@perf_lost are losses", async () => {
    const text = [
      '#@wgtrace-capture 2',
      '#@tracer perf',
      '#@cpus 0-1',
      '#@start_boot_ns 441000000000',
      '  swapper     0 [001]  441.850855750: irq:softirq_entry: vec=3 [action=NET_RX]',
      '            perf  7115 [000]  441.850856000: PERF_RECORD_LOST lost 12',
      '  swapper     0 [001]  441.850857750: irq:softirq_exit: vec=3 [action=NET_RX]',
      'PERF_RECORD_LOST_SAMPLES lost 3',
      'LOST 5 events!',
      '#@perf_lost 25',
      '#@status complete',
      '',
    ].join('\n');
    const r = await run(perfScriptImporter, text);
    expect(r.summary.lostEvents).toBe(25);
    expect(r.events.filter((e) => e.kind === 'lost_events').map((e) => (e as { count: number }).count)).toEqual([12, 3, 5, 5]);
    expect(r.summary.skippedLines).toBe(0);
    expect(r.header?.extra?.['tracer']).toBe('perf');
    expect(r.summary.header?.extra?.['perf_lost']).toBe('25');
    expect(sniffFormat(text)).toBe('perf-script');
  });
});
