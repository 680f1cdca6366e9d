import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { toTracerText, type Flavour } from '../ftrace-writer.js';

/**
 * The same capture printed by another tracer (ftrace's trace_pipe in our wrapper's framing,
 * trace-cmd report) must give every command the same result as our own bpftrace text:
 * analyze, timeline, export --perfetto, replay, diff. The tracer texts are written from two
 * golden cases' notation captures by test/ftrace-writer.ts and committed as golden captures
 * (test/golden/cases/ftrace-*, trace-cmd-*); this test checks they are current.
 */
const REPO = join(import.meta.dirname, '../..');
const G = join(REPO, 'test/golden/cases');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const dir = mkdtempSync(join(tmpdir(), 'wgtrace-tracers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES: [string, string, Flavour][] = [
  ['two-tunnels-one-core', 'ftrace-two-tunnels-one-core/capture.ftrace.txt', 'ftrace'],
  ['threaded-after', 'trace-cmd-threaded-after/capture.trace-cmd.txt', 'trace-cmd'],
];

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, color: false });
  return { code, out, err };
}

/**
 * What differs by design between the formats: the format's name and file. A trace-cmd report
 * has no `#@` header (no device flags, host or kernel), and a tracer sees both sides of every
 * switch where our script records only its threads' halves: the idle side and the core_idle
 * event are extra events there (counted apart by idleSides below).
 */
function comparable(json: string, flavour: Flavour = 'ftrace'): unknown {
  const j = JSON.parse(json) as Record<string, unknown>;
  const drop = new Set(['format', 'file', 'files', 'header', 'diagnostics', 'capturePath']);
  // trace-cmd's idle-side halves also give core_idle events, so its core busy comes from them
  // ('idle-events'), and without a #@ header a tunnel's role comes from its work, not its kind.
  if (flavour === 'trace-cmd') for (const k of ['devices', 'devThreaded', 'hostname', 'kernel', 'events', 'devicesGlob', 'coreBusySource', 'idleCalibration', 'roleReason']) drop.add(k);
  const strip = (o: unknown): unknown => {
    // Perfetto's process is named after the host, else the file.
    if (typeof o === 'string') return flavour === 'trace-cmd' ? o.replace(/, wg\d+\/threaded=\d/g, '').replace(/^CPUs \(.*\)$/, 'CPUs') : o;
    if (Array.isArray(o)) return o.map(strip);
    if (o === null || typeof o !== 'object') return o;
    const r: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (!drop.has(k)) r[k] = strip(v);
    return r;
  };
  return strip(j);
}

/** Switches to or from the idle task in a tracer's text: each is one more switch half and one core_idle than our script records. */
const idleSides = (text: string): number => text.split('\n').filter((l) => /sched_switch: .*(?:prev_pid=0 |next_pid=0 |:0 \[)/.test(l)).length;

describe('captures printed by other tracers read as our own', () => {
  for (const [source, target, flavour] of CASES) {
    const src = join(G, source, 'capture.txt');
    const dst = join(G, target);
    const rel = relative(REPO, dst);

    it(`${target} is the ${flavour} text of ${source}/capture.txt`, () => {
      const text = toTracerText(readFileSync(src, 'utf8'), flavour);
      if (UPDATE || !existsSync(dst)) {
        mkdirSync(join(dst, '..'), { recursive: true });
        writeFileSync(dst, text);
      }
      expect(readFileSync(dst, 'utf8'), `${rel} is stale: UPDATE_GOLDEN=1`).toBe(text);
    });

    it(`${flavour}: analyze --json gives the same result as the bpftrace capture`, async () => {
      const a = await run(['analyze', src, '--json', '--window', '4', '--no-predict']);
      const b = await run(['analyze', dst, '--json', '--window', '4', '--no-predict']);
      expect(b.code).toBe(0);
      expect(JSON.parse(b.out).capture.format).toBe(flavour);
      expect(comparable(b.out, flavour)).toEqual(comparable(a.out, flavour));
      expect(JSON.parse(b.out).capture.events - JSON.parse(a.out).capture.events).toBe(2 * idleSides(readFileSync(dst, 'utf8')));
    });

    it(`${flavour}: timeline, replay and export --perfetto give the same output`, async () => {
      // The replay on the traced work alone: trace-cmd's idle halves give whole-core busy that
      // our script's capture of the same case did not record.
      for (const args of [
        ['replay', '--json', '--runs', '5', '--utilization', 'traced'],
        ['timeline', '--json', '--window', '4'],
      ]) {
        const a = await run([args[0]!, src, ...args.slice(1)]);
        const b = await run([args[0]!, dst, ...args.slice(1)]);
        expect(b.code, `${args[0]}: ${b.err}`).toBe(0);
        expect(comparable(b.out, flavour), args[0]).toEqual(comparable(a.out, flavour));
      }
      const pa = join(dir, `${flavour}-a.json`);
      const pb = join(dir, `${flavour}-b.json`);
      expect((await run(['export', src, '--perfetto', pa])).code).toBe(0);
      const eb = await run(['export', dst, '--perfetto', pb]);
      expect(eb.code, eb.err).toBe(0);
      const ta = JSON.parse(readFileSync(pa, 'utf8')) as { traceEvents: unknown[] };
      const tb = JSON.parse(readFileSync(pb, 'utf8')) as { traceEvents: unknown[] };
      expect(tb.traceEvents.length).toBeGreaterThan(0);
      // With idle records (trace-cmd's core_idle) the export adds a whole-core busy counter.
      if (flavour === 'trace-cmd') tb.traceEvents = tb.traceEvents.filter((e) => !/busy \(not idle\)/.test((e as { name?: string }).name ?? ''));
      expect(comparable(JSON.stringify(tb), flavour)).toEqual(comparable(JSON.stringify(ta), flavour));
    });
  }

  it('diff of an ftrace and a trace-cmd capture equals the diff of their bpftrace originals', async () => {
    const a = await run(['diff', join(G, 'two-tunnels-one-core/capture.txt'), join(G, 'threaded-after/capture.txt'), '--json']);
    const b = await run(['diff', join(G, CASES[0]![1]), join(G, CASES[1]![1]), '--json']);
    expect(b.code, b.err).toBe(0);
    expect(comparable(b.out, 'trace-cmd')).toEqual(comparable(a.out, 'trace-cmd'));
  });
});

describe('no false success', () => {
  const ftrace = join(G, CASES[0]![1]);

  it('--format perf-script on ftrace text reads no line: exit 2, saying what it found', async () => {
    const r = await run(['analyze', ftrace, '--format', 'perf-script', '--no-predict']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--format perf-script: no event wgtrace uses in \d+ lines \(0 events, \d+ malformed\)/);
  });

  it('text that no importer reads: exit 2 naming every format tried and what it found', async () => {
    const p = join(dir, 'prose.txt');
    writeFileSync(p, 'I traced my gateway and saw this:\n$ cat /sys/kernel/tracing/trace\nthe poll never moved.\n');
    const r = await run(['analyze', p, '--no-predict']);
    expect(r.code).toBe(2);
    for (const f of ['bpftrace-text', 'bpftrace-json', 'perf-script', 'ftrace', 'trace-cmd', 'csv']) expect(r.err).toContain(`${f}: `);
    expect(r.err).toMatch(/ftrace: 0 events, 3 not trace lines/);
  });

  it('an ftrace trace of only events wgtrace does not use: exit 2, not an empty analysis', async () => {
    const p = join(dir, 'irq-only.txt');
    writeFileSync(p, '          <idle>-0       [001] d.h1.   466.634916: irq_handler_entry: irq=126 name=eth0-TxRx-0\n');
    const r = await run(['analyze', p, '--no-predict']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/read as ftrace \(sniffed\): no event wgtrace uses in 1 lines \(0 events, 1 of events wgtrace does not use\)/);
  });
});
