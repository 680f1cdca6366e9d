import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bpftraceJsonImporter } from '../../src/import/bpftrace-json.js';
import { bpftraceTextImporter } from '../../src/import/bpftrace-text.js';
import { csvImporter } from '../../src/import/csv.js';
import { perfScriptImporter } from '../../src/import/perf-script.js';
import type { Importer } from '../../src/import/types.js';
import { dump, run } from './import-util.js';

const FIX = join(import.meta.dirname, '../fixtures/formats');
const fixture = (name: string): string => readFileSync(join(FIX, name), 'utf8');

/** The one logical capture all four flavours hold (ts relative to #@start_boot_ns 2386077000000). */
const CANONICAL = [
  'softirq_raise ts=70000 cpu=0 vec=3',
  'softirq_entry ts=74170 cpu=0 vec=3 pid=0 comm=swapper/0',
  'workqueue_queue_work ts=75000 cpu=0 work=0xffff888612345000 function=wg_packet_decrypt_worker workqueue=wg-crypt-wg0 reqCpu=8192 targetCpu=1',
  'napi_poll ts=80170 cpu=0 napi=0xffff888627c2d188 dev=vb work=64 budget=64 pid=0 comm=swapper/0',
  'softirq_exit ts=90170 cpu=0 vec=3',
  'workqueue_execute_start ts=76000 cpu=1 work=0xffff888612345000 function=wg_packet_decrypt_worker',
  'workqueue_execute_end ts=79000 cpu=1 work=0xffff888612345000 function=wg_packet_decrypt_worker',
  'sched_switch_out ts=81000 cpu=1 pid=15 state=S comm=ksoftirqd/1',
  'sched_switch_in ts=81000 cpu=1 pid=812 comm=napi/wg0-0',
  'sched_migrate_task ts=82000 cpu=1 pid=812 origCpu=1 destCpu=0 comm=napi/wg0-0',
  'softirq_entry ts=83000 cpu=1 vec=3 pid=812 comm=napi/wg0-0',
  'napi_poll ts=85000 cpu=1 napi=0xffff888627c2e000 dev=wg0 work=3 budget=64 pid=812 comm=napi/wg0-0',
  'softirq_exit ts=86000 cpu=1 vec=3',
];

const FLAVOURS: [string, Importer, string][] = [
  ['bpftrace-text', bpftraceTextImporter, 'canonical.txt'],
  ['bpftrace-json', bpftraceJsonImporter, 'canonical.json'],
  ['perf-script', perfScriptImporter, 'canonical.perf.txt'],
  ['csv', csvImporter, 'canonical.csv'],
];

describe('one logical capture in every format', () => {
  for (const [name, importer, file] of FLAVOURS) {
    it(`${name} yields the canonical events, header and origin`, async () => {
      const r = await run(importer, fixture(file), { file });
      expect(dump(r.events)).toEqual(CANONICAL);
      expect(r.codes).toEqual([]);
      expect(r.summary.format).toBe(name);
      expect(r.summary.origin).toBe(2386077000000n);
      expect(r.summary.originFromHeader).toBe(true);
      expect(r.summary.events).toBe(CANONICAL.length);
      expect(r.summary.skippedLines).toBe(0);
      expect(r.header?.cpus).toEqual([0, 1]);
      expect(r.header?.devices.map((d) => `${d.name}:${d.kind}:${d.threaded}`)).toEqual(['vb:veth:0', 'wg0:wireguard:1']);
      expect(r.summary.header?.status).toBe('complete');
      expect(r.summary.header?.endBootNs).toBe('2386078000500');
      expect(r.summary.header?.probesStartBootNs).toBe('2386077000500');
    });
  }

  it('sniffing picks the right importer for each flavour', () => {
    for (const [name, importer, file] of FLAVOURS) {
      const head = fixture(file);
      expect(importer.sniff(head), name).toBe(true);
      for (const [other, imp2] of FLAVOURS) if (other !== name && other !== 'bpftrace-text') expect(imp2.sniff(head), `${other} on ${file}`).toBe(false);
    }
  });
});

describe('lines split across read chunks', () => {
  for (const [name, importer, file] of FLAVOURS) {
    for (const chunk of [1, 7]) {
      it(`${name} with ${chunk}-character chunks`, async () => {
        const r = await run(importer, fixture(file), { chunk });
        expect(dump(r.events)).toEqual(CANONICAL);
        expect(r.codes).toEqual([]);
      });
    }
  }
});
