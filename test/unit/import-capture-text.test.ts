import { describe, expect, it } from 'vitest';
import { finishHeader, formatCpuList, formatHeaderLines, formatTrailerLines, newHeaderState, parseCpuList, parseHeaderLine } from '../../src/model/capture-text.js';
import type { CaptureHeader } from '../../src/model/header.js';

const SAMPLE = `#@wgtrace-capture 1
#@tool_version 0.1.0
#@hostname gw2
#@kernel 6.18.44-fc-v595
#@bpftrace bpftrace v0.17.0
#@cpus 0-3,8
#@mode windows
#@interval_ms 10
#@devices_glob wg*
#@start_wall 2026-11-26T03:31:57Z
#@start_boot_ns 2386077074170
#@dev name=wg0 kind=wireguard threaded=1 rx_queues=1 irqs=- inline_en=- decrypt_cpumask=ff
#@dev name=eth0 kind=physical threaded=0 rx_queues=2 irqs=34,35 inline_en=-
#@counters before boot_ns=2386077074170
#@softirqs NET_RX 1234 5678
#@softnet 0 00001234 00000000 00000001 00000000
#@stat cpu0 100 0 50 9000 0 0 20 0 0 0
#@probes_start_boot_ns 2386100000000
#@probes_stop_boot_ns 2396100000000
#@counters after boot_ns=2396200000000
#@softirqs NET_RX 2234 6678
#@softnet 0 00002234 00000000 00000003
#@stat cpu0 200 0 60 9900 0 0 40 0 0 0
#@end_wall 2026-11-26T03:32:07Z
#@end_boot_ns 2396200000000
#@status complete`;

function parseAll(text: string) {
  const st = newHeaderState();
  text.split('\n').forEach((l, i) => parseHeaderLine(st, l, i + 1));
  return finishHeader(st);
}

describe('cpulist', () => {
  it('reads and writes the kernel cpulist syntax', () => {
    expect(parseCpuList('0-3,8')).toEqual([0, 1, 2, 3, 8]);
    expect(parseCpuList('5')).toEqual([5]);
    expect(parseCpuList('3-1')).toBeUndefined();
    expect(parseCpuList('a')).toBeUndefined();
    expect(parseCpuList('0-99999')).toBeUndefined();
    expect(formatCpuList([8, 0, 1, 2, 3])).toBe('0-3,8');
    expect(formatCpuList([0, 2, 4])).toBe('0,2,4');
  });
});

describe('capture header text', () => {
  it('parses every documented line', () => {
    const { header, issues } = parseAll(SAMPLE);
    expect(issues).toEqual([]);
    expect(header).toBeDefined();
    const h = header!;
    expect(h.cpus).toEqual([0, 1, 2, 3, 8]);
    expect(h.mode).toBe('windows');
    expect(h.intervalNs).toBe(10_000_000);
    expect(h.bpftraceVersion).toBe('bpftrace v0.17.0');
    expect(h.devices).toEqual([
      { name: 'wg0', kind: 'wireguard', threaded: 1, rxQueues: 1, extra: { decrypt_cpumask: 'ff' } },
      { name: 'eth0', kind: 'physical', threaded: 0, rxQueues: 2, irqs: [34, 35] },
    ]);
    expect(h.countersBefore?.softirqs['NET_RX']).toEqual([1234, 5678]);
    expect(h.countersBefore?.softnet['0']).toEqual({ processed: 0x1234, dropped: 0, timeSqueeze: 1 });
    expect(h.countersAfter?.stat['0']?.[6]).toBe(40);
    expect(h.countersAfter?.bootNs).toBe('2396200000000');
    expect(h.status).toBe('complete');
    expect(h.startBootNs).toBe('2386077074170');
  });

  it('round-trips through formatHeaderLines + formatTrailerLines', () => {
    const h = parseAll(SAMPLE).header!;
    const text = [...formatHeaderLines(h), ...formatTrailerLines(h)].join('\n');
    const again = parseAll(text);
    expect(again.issues).toEqual([]);
    expect(again.header).toEqual(h);
  });

  it("keeps the wrappers' informative keys in extra, and round-trips them", () => {
    const text = '#@wgtrace-capture 1\n#@cpus 0-1\n#@wrapper capture.sh\n#@recursion_misses 12\n#@bpf_prog_ids 41 42\n#@recursion_misses 13';
    const { header, issues } = parseAll(text);
    expect(header?.extra).toEqual({ wrapper: 'capture.sh', recursion_misses: '12', bpf_prog_ids: '41 42' });
    expect(issues.map((i) => [i.code, i.line])).toEqual([['contradictory-header', 6]]);
    const again = parseAll([...formatHeaderLines(header!), ...formatTrailerLines(header!)].join('\n'));
    expect(again.header).toEqual(header);
  });

  it('reads format versions 1 to 5 silently and warns about any other', () => {
    const codes = (v: number): string[] => parseAll(`#@wgtrace-capture ${v}\n#@cpus 0-1`).issues.map((i) => i.code);
    expect(codes(1)).toEqual([]);
    expect(codes(2)).toEqual([]);
    expect(codes(3)).toEqual([]);
    expect(codes(4)).toEqual([]);
    expect(codes(5)).toEqual([]);
    expect(codes(6)).toEqual(['header-version']);
  });

  it('writes a minimal header that reads back', () => {
    const h: CaptureHeader = { formatVersion: 1, cpus: [0, 1], mode: 'events', devices: [] };
    expect(formatHeaderLines(h)).toEqual(['#@wgtrace-capture 1', '#@cpus 0-1', '#@mode events']);
    expect(parseAll(formatHeaderLines(h).join('\n')).header).toEqual(h);
  });

  it('reports duplicated and contradictory lines, keeping the first value', () => {
    const { header, issues } = parseAll('#@wgtrace-capture 1\n#@cpus 0-1\n#@cpus 0-1\n#@cpus 0-7\n#@dev name=a kind=veth\n#@dev name=a kind=wireguard');
    expect(header?.cpus).toEqual([0, 1]);
    expect(issues.map((i) => [i.code, i.line])).toEqual([
      ['duplicate-header', 3],
      ['contradictory-header', 4],
      ['contradictory-header', 6],
    ]);
  });

  it('reports bad values and unknown keys, and rejects a header without cpus', () => {
    const { header, issues } = parseAll('#@wgtrace-capture 1\n#@cpus zero\n#@start_boot_ns -5\n#@frobnicate 1\n#@softirqs NET_RX 1');
    expect(header).toBeUndefined();
    expect(issues.map((i) => i.code)).toEqual(['bad-header-value', 'bad-header-value', 'unknown-header-key', 'bad-header-value', 'header-invalid']);
  });

  it('flags an end before the start and windows mode without an interval', () => {
    const { issues } = parseAll('#@wgtrace-capture 1\n#@cpus 0\n#@mode windows\n#@start_boot_ns 20\n#@end_boot_ns 10');
    expect(issues.map((i) => i.code)).toEqual(['contradictory-header', 'contradictory-header']);
  });

  it('ignores lines that are not #@ lines and a trailing CR', () => {
    const st = newHeaderState();
    expect(parseHeaderLine(st, 'P 1 2 3', 1)).toBe(false);
    expect(parseHeaderLine(st, '# comment', 2)).toBe(false);
    expect(parseHeaderLine(st, '#@wgtrace-capture 1\r', 3)).toBe(true);
    expect(parseHeaderLine(st, '#@cpus 0-1\r', 4)).toBe(true);
    expect(finishHeader(st).header?.cpus).toEqual([0, 1]);
  });
});

describe('bounds against hostile headers', () => {
  it('keeps at most 4096 devices and 16384 counter rows, reporting the rest', () => {
    const st = newHeaderState();
    parseHeaderLine(st, '#@wgtrace-capture 1', 1);
    parseHeaderLine(st, '#@cpus 0', 2);
    for (let i = 0; i < 5000; i++) parseHeaderLine(st, `#@dev name=d${i} kind=other`, 3 + i);
    parseHeaderLine(st, '#@counters before', 6000);
    for (let i = 0; i < 17000; i++) parseHeaderLine(st, `#@stat cpu${i % 8192}x${i} 1 2 3`, 7000 + i);
    const { header, issues } = finishHeader(st);
    expect(header?.devices).toHaveLength(4096);
    expect(Object.keys(header?.countersBefore?.stat ?? {})).toHaveLength(16384);
    expect(issues.every((i) => i.code === 'bad-header-value')).toBe(true);
  });
});
