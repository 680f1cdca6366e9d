import type { Ns } from '../../base/time.js';
import type { DataQualityDetails, Detector, DetectContext, Finding, FindingSeverity } from '../finding.js';
import { count, pct } from '../format.js';

/**
 * data-quality: how far the capture can be trusted. Lost events (bpftrace drops whole per-CPU
 * buffer loads, so losses cluster on the busiest cores), skipped lines, slices clamped at the
 * capture's bounds, a missing header (so CPUs were guessed from events and idle cores are
 * missing), and a capture that was cut off. Every other finding computed over lossy data says so
 * itself (the registry marks it).
 */
export const dataQuality: Detector = {
  id: 'data-quality',
  title: 'lost events, skipped lines, clamped slices, missing header, partial capture',
  detect(ctx: DetectContext): Finding[] {
    return dataQualityFindings(ctx, []);
  },
};

export function dataQualityFindings(ctx: DetectContext, failed: { id: string; message: string }[]): Finding[] {
  const { timeline: t, thresholds: th, facts } = ctx;
  const c = t.capture;
  const problems: string[] = [];
  let severity: FindingSeverity = 'info';
  const raise = (s: FindingSeverity): void => {
    if (s === 'critical' || (s === 'warning' && severity === 'info')) severity = s;
  };
  const lostShare = c.lostEvents > 0 ? c.lostEvents / (c.events + c.lostEvents) : 0;
  if (c.lostEvents > 0) {
    raise(lostShare >= th.lossCriticalShare ? 'critical' : lostShare >= th.lossWarnShare ? 'warning' : 'info');
    problems.push(`${count(c.lostEvents)} events lost (${pct(lostShare)} of ${count(c.events + c.lostEvents)}): busy times and poll counts are lower bounds`);
  }
  const skippedShare = c.skippedLines > 0 ? c.skippedLines / (c.events + c.skippedLines) : 0;
  if (c.skippedLines > 0) {
    raise(skippedShare >= th.skippedWarnShare ? 'warning' : 'info');
    problems.push(`${count(c.skippedLines)} lines skipped as malformed or unknown (${pct(skippedShare)})`);
  }
  if (c.clampedSlices > 0) problems.push(`${count(c.clampedSlices)} slices cut by the capture's start or end and clamped to it`);
  const headerMissing = c.header === undefined;
  if (headerMissing) {
    raise('warning');
    problems.push('no capture header: CPU list, device flags and counters unknown');
  }
  if (c.cpusGuessed) {
    raise('warning');
    problems.push(`CPUs guessed from the events (${t.cpus.length} seen): idle cores are missing from every per-core figure`);
  }
  const status = c.header?.status ?? (headerMissing ? 'unknown' : 'partial');
  if (status === 'partial') {
    raise('warning');
    problems.push('the capture was cut off (no #@status trailer): its end is the last event');
  } else if (status === 'interrupted') {
    problems.push('the capture was interrupted (SIGINT/SIGTERM) and closed cleanly');
  }
  if (facts.totalPolls === 0) {
    raise('warning');
    problems.push('no napi_poll events: nothing to say about tunnels (were the probes attached, and did traffic flow?)');
  }
  const errors = t.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0) {
    raise('warning');
    problems.push(`${errors} timeline errors (first: ${t.diagnostics.find((d) => d.severity === 'error')!.message})`);
  }
  for (const f of failed) {
    raise('warning');
    problems.push(`detector ${f.id} failed and was skipped: ${f.message}`);
  }
  if (problems.length === 0) return [];
  const details: DataQualityDetails = {
    events: c.events,
    lostEvents: c.lostEvents,
    lostShare,
    skippedLines: c.skippedLines,
    clampedSlices: c.clampedSlices,
    headerMissing,
    cpusGuessed: c.cpusGuessed,
    status,
    failedDetectors: failed,
    problems,
  };
  return [
    {
      id: 'data-quality',
      severity,
      summary: failed.length > 0 && problems.length === failed.length ? `${failed.length} detector(s) failed: ${failed.map((f) => f.id).join(', ')}` : problems[0]!,
      cpus: [],
      napis: [],
      fromNs: c.startNs as Ns,
      toNs: c.endNs as Ns,
      evidence: problems,
      costEstimate: { share: 0, basis: 'not a throughput cost: how far the other findings can be trusted' },
      lossy: facts.lossy,
      details,
    },
  ];
}
