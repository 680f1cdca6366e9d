import { cpuList } from '../detect/format.js';
import { DIFF_VERSION, type AnalyzeResult, type DiffResult, type FindingJson, type NapiJson } from './schema.js';

/**
 * `wgtrace diff <before> <after>`: what changed between two analysed captures, for example
 * before and after `echo 1 > /sys/class/net/wgN/threaded`. Captures differ in length, so
 * everything is a rate (per second) or a share of the capture; per core by CPU id, per tunnel
 * by (device, napi pointer), falling back to the device alone when it has one NAPI on both
 * sides (a re-created peer gets a new napi struct). Findings are matched by id, cores and
 * devices: the ones that appeared, went, or stayed (with their severities).
 */
const delta = (before: number, after: number): { before: number; after: number; delta: number } => ({ before, after, delta: after - before });

const perSec = (x: number, durationNs: number): number => (durationNs > 0 ? (x * 1e9) / durationNs : 0);
const share = (x: number, durationNs: number): number => (durationNs > 0 ? x / durationNs : 0);

/**
 * What makes two findings "the same" across captures: napi-placement, core-imbalance and
 * data-quality are one per capture (their id is the key); co-location and monolithic-poll are
 * per core, keyed by id, cores and devices.
 */
export function findingKey(f: Pick<FindingJson, 'id' | 'cpus' | 'napis'>): string {
  if (f.id === 'napi-placement' || f.id === 'core-imbalance' || f.id === 'data-quality') return f.id;
  const cpus = f.cpus.length > 0 ? ` cpu ${cpuList(f.cpus)}` : '';
  const devs = [...new Set(f.napis.map((n) => n.dev))].sort();
  return `${f.id}${cpus}${devs.length > 0 ? ` ${devs.join(',')}` : ''}`;
}

function matchNapis(a: NapiJson[], b: NapiJson[]): [NapiJson | undefined, NapiJson | undefined][] {
  const out: [NapiJson | undefined, NapiJson | undefined][] = [];
  const used = new Set<NapiJson>();
  const count = (xs: NapiJson[], dev: string): number => xs.filter((x) => x.dev === dev).length;
  for (const x of a) {
    let y = b.find((n) => !used.has(n) && n.dev === x.dev && n.napi === x.napi);
    if (y === undefined && count(a, x.dev) === 1 && count(b, x.dev) === 1) y = b.find((n) => !used.has(n) && n.dev === x.dev);
    if (y !== undefined) used.add(y);
    out.push([x, y]);
  }
  for (const y of b) if (!used.has(y)) out.push([undefined, y]);
  return out.sort((p, q) => {
    const a1 = (p[0] ?? p[1])!;
    const b1 = (q[0] ?? q[1])!;
    return a1.dev < b1.dev ? -1 : a1.dev > b1.dev ? 1 : a1.napi < b1.napi ? -1 : a1.napi > b1.napi ? 1 : 0;
  });
}

export function diffResults(before: AnalyzeResult, after: AnalyzeResult): DiffResult {
  // Rates and shares over what the probes observed (see CaptureJson.probedNs).
  const db = before.capture.probedNs;
  const da = after.capture.probedNs;
  const cpuIds = [...new Set([...before.cpus.map((c) => c.cpu), ...after.cpus.map((c) => c.cpu)])].sort((x, y) => x - y);
  const cpus = cpuIds.map((cpu) => {
    const b = before.cpus.find((c) => c.cpu === cpu);
    const a = after.cpus.find((c) => c.cpu === cpu);
    return {
      cpu,
      coreBusy: delta(b?.coreBusy ?? 0, a?.coreBusy ?? 0),
      utilization: delta(b?.utilization ?? 0, a?.utilization ?? 0),
      pollBusyShare: delta(share(b?.pollBusyNs ?? 0, db), share(a?.pollBusyNs ?? 0, da)),
      threadPollBusyShare: delta(share(b?.threadPollBusyNs ?? 0, db), share(a?.threadPollBusyNs ?? 0, da)),
      cryptBusyShare: delta(share(b?.cryptBusyNs ?? 0, db), share(a?.cryptBusyNs ?? 0, da)),
      netRxBusyShare: delta(share(b?.netRx.busyNs ?? 0, db), share(a?.netRx.busyNs ?? 0, da)),
      ksoftirqdNetRxCount: delta(b?.netRx.ksoftirqdCount ?? 0, a?.netRx.ksoftirqdCount ?? 0),
    };
  });
  const napis = matchNapis(before.napis, after.napis).map(([b, a]) => ({
    dev: (a ?? b)!.dev,
    napi: (a ?? b)!.napi,
    in: (b && a ? 'both' : b ? 'before' : 'after') as 'both' | 'before' | 'after',
    packetsPerSec: delta(perSec(b?.work ?? 0, db), perSec(a?.work ?? 0, da)),
    pollsPerSec: delta(perSec(b?.polls ?? 0, db), perSec(a?.polls ?? 0, da)),
    busyShare: delta(share(b?.busyNs ?? 0, db), share(a?.busyNs ?? 0, da)),
    fullBudgetShare: delta(b && b.polls > 0 ? b.fullBudgetPolls / b.polls : 0, a && a.polls > 0 ? a.fullBudgetPolls / a.polls : 0),
    homeCpu: { before: b?.homeCpu ?? -1, after: a?.homeCpu ?? -1 },
    modeBefore: b?.mode ?? 'none',
    modeAfter: a?.mode ?? 'none',
  }));
  const util = (r: AnalyzeResult): number[] => r.cpus.map((c) => c.utilization);
  const mean = (xs: number[]): number => (xs.length > 0 ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
  const coresWithPolls = (r: AnalyzeResult): number => r.cpus.filter((c) => c.pollBusyNs > 0).length;
  const packets = (r: AnalyzeResult): number => r.napis.reduce((s, n) => s + n.work, 0);

  const keyed = (r: AnalyzeResult): Map<string, FindingJson> => {
    const m = new Map<string, FindingJson>();
    for (const f of r.findings) if (!m.has(findingKey(f))) m.set(findingKey(f), f);
    return m;
  };
  const kb = keyed(before);
  const ka = keyed(after);
  const brief = (k: string, f: FindingJson) => ({ id: f.id, severity: f.severity, key: k, summary: f.summary });
  return {
    version: DIFF_VERSION,
    before: { file: before.file, capture: before.capture },
    after: { file: after.file, capture: after.capture },
    cpus,
    napis,
    totals: {
      packetsPerSec: delta(perSec(packets(before), db), perSec(packets(after), da)),
      meanUtilization: delta(mean(util(before)), mean(util(after))),
      maxUtilization: delta(Math.max(0, ...util(before)), Math.max(0, ...util(after))),
      coresWithPolls: delta(coresWithPolls(before), coresWithPolls(after)),
    },
    findings: {
      appeared: [...ka].filter(([k]) => !kb.has(k)).map(([k, f]) => brief(k, f)),
      gone: [...kb].filter(([k]) => !ka.has(k)).map(([k, f]) => brief(k, f)),
      kept: [...ka].filter(([k]) => kb.has(k)).map(([k, f]) => ({ id: f.id, key: k, severityBefore: kb.get(k)!.severity, severityAfter: f.severity, summary: f.summary })),
    },
  };
}
