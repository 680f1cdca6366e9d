import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIO } from '../../src/cli/io.js';
import type { AnalyzeResult } from '../../src/report/schema.js';
import type { TimelineViewResult } from '../../src/report/timeline-view.js';
import type { ReplayJson } from '../../src/report/replay-schema.js';

/**
 * One figure per fact (issue 11): the same capture gives the same per-core busy time,
 * per-tunnel poll time and span in analyze --json, timeline --json, replay --json and the
 * Perfetto export, over every bundled trace. Each command runs as the user runs it (main()).
 */
const TRACES = join(import.meta.dirname, '../../traces');
const files = readdirSync(TRACES)
  .filter((f) => f.endsWith('.gz'))
  .sort();
const dir = mkdtempSync(join(tmpdir(), 'wgtrace-one-figure-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), errIsTTY: false, color: false };
  const code = await main(args, io);
  expect(code, `${args.join(' ')}: ${err}`).toBe(0);
  return out;
}

describe('one figure per fact over every bundled trace', () => {
  it('there are bundled traces', () => expect(files.length).toBeGreaterThanOrEqual(8));

  it.each(files)(
    '%s',
    async (name) => {
      const f = join(TRACES, name);
      const a = JSON.parse(await run(['analyze', f, '--json', '--no-predict'])) as AnalyzeResult;
      const tl = JSON.parse(await run(['timeline', f, '--json', '--columns', '40'])) as TimelineViewResult;
      const rp = JSON.parse(await run(['replay', f, '--json', '--runs', '1', '--model', 'stock'])) as ReplayJson;
      const out = join(dir, `${name}.json`);
      await run(['export', f, '--perfetto', out]);
      const pf = JSON.parse(readFileSync(out, 'utf8')) as { otherData: { durationNs: number }; traceEvents: { ph: string; dur?: number; args?: { dev?: string; napi?: string; work?: number } }[] };

      // Span: the probed span, everywhere a rate or a share is taken over it.
      expect(tl.range.toNs - tl.range.fromNs).toBe(a.capture.probedNs);
      // The replay's rates are over its traffic window (the windows that carried the tunnels'
      // packets), which lies inside the probed span.
      expect(rp.trafficWindow).not.toBeNull();
      expect(rp.durationNs).toBe(rp.trafficWindow!.toNs - rp.trafficWindow!.fromNs);
      expect(rp.trafficWindow!.fromNs).toBeGreaterThanOrEqual(a.capture.probedFromOffsetNs);
      expect(rp.trafficWindow!.toNs).toBeLessThanOrEqual(a.capture.probedFromOffsetNs + a.capture.probedNs);
      expect(pf.otherData.durationNs).toBe(a.capture.durationNs);

      // Per-core whole busy time, and its source.
      for (const c of a.cpus) {
        const t = tl.cores.find((x) => x.cpu === c.cpu)!;
        expect(t.coreBusySource).toBe(c.coreBusySource);
        expect(t.coreBusy).toBe(Math.round(c.coreBusy * 1000) / 10);
        // The traced part too (the timeline's own union over the range, from slices or windows).
        expect(Math.abs(t.meanUtilization - c.utilization * 100), `cpu ${c.cpu} traced`).toBeLessThanOrEqual(0.2);
        const r = rp.coreBusy.find((x) => x.cpu === c.cpu)!;
        expect(r.coreBusy).toBe(c.coreBusy);
        // The traced part never exceeds the whole.
        expect(c.utilization).toBeLessThanOrEqual(c.coreBusy + 1e-9);
      }

      // The export's whole-busy counter (with idle records), time-weighted over the probed span.
      const from = a.capture.probedFromOffsetNs;
      const to = from + a.capture.probedNs;
      for (const c of a.cpus) {
        const pts = (pf.traceEvents as { name?: string; ph: string; ts?: number; args?: { busy?: number } }[]).filter((e) => e.ph === 'C' && e.name === `CPU ${c.cpu} busy (not idle) %`);
        if (c.coreBusySource !== 'idle-events') {
          expect(pts).toEqual([]);
          continue;
        }
        let num = 0;
        for (let i = 0; i + 1 < pts.length; i++) {
          const x0 = Math.max(from, pts[i]!.ts! * 1000);
          const x1 = Math.min(to, pts[i + 1]!.ts! * 1000);
          if (x1 > x0) num += (pts[i]!.args!.busy! / 100) * (x1 - x0);
        }
        expect(Math.abs(num / a.capture.probedNs - c.coreBusy), `cpu ${c.cpu}`).toBeLessThan(0.01);
      }

      // Per-tunnel poll time: analyze, the timeline's legend, and (events mode) the exported slices.
      const slices = new Map<string, number>();
      for (const e of pf.traceEvents)
        if (e.ph === 'X' && e.args?.napi !== undefined && e.args.work !== undefined) slices.set(`${e.args.dev} ${e.args.napi}`, (slices.get(`${e.args.dev} ${e.args.napi}`) ?? 0) + e.dur! * 1000);
      for (const n of a.napis) {
        const l = tl.legend.find((x) => x.dev === n.dev && x.napi === n.napi)!;
        expect(l.busyNs).toBe(n.busyNs);
        expect(l.role).toBe(n.role);
        if (a.capture.mode === 'events') expect(slices.get(`${n.dev} ${n.napi}`) ?? 0).toBeCloseTo(n.busyNs, -3);
      }
    },
    120_000,
  );
});
