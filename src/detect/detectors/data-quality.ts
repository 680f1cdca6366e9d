import type { Ns } from '../../base/time.js';
import { z } from 'zod';
import { defineDetector, type DetectContext, type FindingOf, type FindingSeverity } from '../finding.js';
import { count, dur, pct } from '../format.js';
import { lostShare as lostShareOf, probeRuns } from '../../timeline/loss.js';

/** ns: softirq poll time beyond a core's NET_RX time worth reporting; below 1 ms it is the
 * rounding of slices at window edges and of a softirq open at the capture's start. */
const POLL_OUTSIDE_NET_RX_MIN_NS = 1_000_000;

export const DataQualityDetails = z.object({
  events: z.number(),
  lostEvents: z.number(),
  lostShare: z.number(),
  lines: z.number().optional(),
  skippedLines: z.number(),
  clampedSlices: z.number(),
  headerMissing: z.boolean(),
  cpusGuessed: z.boolean(),
  status: z.string(),
  /** Detectors that threw; the report went on without them. */
  failedDetectors: z.array(z.object({ id: z.string(), message: z.string() })),
  problems: z.array(z.string()),
});
export type DataQualityDetails = z.infer<typeof DataQualityDetails>;

export type DataQualityFinding = FindingOf<'data-quality', DataQualityDetails>;

/**
 * data-quality: how far the capture can be trusted. Lost events (bpftrace drops whole per-CPU
 * buffer loads, so losses cluster on the busiest cores), skipped lines, slices clamped at the
 * capture's bounds, a missing header (so CPUs were guessed from events and idle cores are
 * missing), and a capture that was cut off. Every other finding computed over lossy data says so
 * itself (the registry marks it).
 */
export const dataQuality = defineDetector({
  id: 'data-quality',
  title: 'lost events, skipped lines, clamped slices, missing header, partial capture',
  details: DataQualityDetails,
  detect(ctx: DetectContext): DataQualityFinding[] {
    return dataQualityFindings(ctx, []);
  },
});

export function dataQualityFindings(ctx: DetectContext, failed: { id: string; message: string }[]): DataQualityFinding[] {
  const { timeline: t, thresholds: th, facts } = ctx;
  const c = t.capture;
  // Each problem with its own severity; the finding takes the worst, and its summary is the
  // worst problem (the first of equals in the order below).
  const found: { severity: FindingSeverity; text: string }[] = [];
  const add = (severity: FindingSeverity, text: string): void => void found.push({ severity, text });
  // Over the probe runs, not the records: a windows capture's records are map rows, its losses
  // probe runs (timeline/loss.ts), and the replay abstains on the same share.
  const lostShare = lostShareOf(t);
  if (c.lostEvents > 0) {
    const runs = probeRuns(t) + c.lostEvents;
    const share = lostShare < 0.001 ? 'under 0.1%' : pct(lostShare);
    add(
      lostShare >= th.lossCriticalShare ? 'critical' : lostShare >= th.lossWarnShare ? 'warning' : 'info',
      `${count(c.lostEvents)} events lost (${share} of ${count(runs)}${c.mode === 'windows' ? ' probe runs: polls and NET_RX entries and exits' : ''}): busy times and poll counts are lower bounds`,
    );
  }
  const skippedShare = c.skippedLines > 0 ? c.skippedLines / (c.events + c.skippedLines) : 0;
  if (c.skippedLines > 0) {
    add(skippedShare >= th.skippedWarnShare ? 'warning' : 'info', `${count(c.skippedLines)} lines skipped as malformed or unknown (${pct(skippedShare)})`);
  }
  if (c.clampedSlices > 0) add('info', `${count(c.clampedSlices)} slices cut by the capture's start or end and clamped to it`);
  const headerMissing = c.header === undefined;
  if (headerMissing) {
    add('warning', 'no capture header: CPU list, device flags and counters unknown');
  }
  if (c.cpusGuessed) {
    add('warning', `CPUs guessed from the events (${t.cpus.length} seen): idle cores are missing from every per-core figure`);
  }
  const status = c.header?.status ?? (headerMissing ? 'unknown' : 'partial');
  if (status === 'partial') {
    add('warning', 'the capture was cut off (no #@status trailer): its end is the last event');
  } else if (status === 'interrupted') {
    add('info', 'the capture was interrupted (SIGINT/SIGTERM) and closed cleanly');
  }
  const untraced = c.untracedDevices ?? [];
  if (facts.totalPolls === 0 && untraced.length > 0) {
    // Our scripts list the devices they saw polled but left out (`@untraced`): a filter that
    // matched nothing on a busy gateway, not a quiet gateway.
    const glob = c.header?.devicesGlob;
    const shown = untraced.slice(0, 8).join(', ') + (untraced.length > 8 ? `, and ${untraced.length - 8} more` : '');
    add(
      'critical',
      `the device filter ${glob !== undefined ? `'${glob}' ` : ''}matched no NAPI poll, while polls of ${shown} were seen: this capture holds no tunnel; capture again with --devices naming the tunnels' devices`,
    );
  } else if (facts.totalPolls === 0) {
    add('warning', 'no napi_poll events: nothing to say about tunnels (were the probes attached, and did traffic flow?)');
  }
  // Softirq polls run inside NET_RX (net/core/dev.c: net_rx_action -> napi_poll), so their
  // time cannot exceed it; when it does, softirq entries were lost or the polls began before
  // the softirq probes were attached, and poll durations there are the timeline's estimates.
  // The polls of threaded devices in a windows capture ran in their kthreads, beside NET_RX:
  // not counted here (they are not inside it, by design).
  const outside = facts.cores.map((c) => ({ cpu: c.cpu, ns: c.pollBusyNs - c.besideNetRxPollBusyNs - c.netRxBusyNs })).filter((x) => x.ns > POLL_OUTSIDE_NET_RX_MIN_NS);
  if (outside.length > 0) {
    add(
      'warning',
      `poll time outside any traced NET_RX softirq: ${outside.map((x) => `cpu ${x.cpu} ${dur(x.ns)}`).join(', ')} (softirq entries lost, or polls that began before the probes attached): poll durations there are estimates`,
    );
  }
  // The rates' span may hold bpftrace's unread tail (timeline/assemble.ts): in the report too,
  // not only on stderr, since every rate in it is over that span.
  const tail = t.diagnostics.find((d) => d.code === 'recording-tail-unknown');
  if (tail !== undefined) add('warning', tail.message);
  const errors = t.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0) {
    add('warning', `${errors} timeline errors (first: ${t.diagnostics.find((d) => d.severity === 'error')!.message})`);
  }
  for (const f of failed) {
    add('warning', `detector ${f.id} failed and was skipped: ${f.message}`);
  }
  if (found.length === 0) return [];
  const rank = { info: 0, warning: 1, critical: 2 } as const;
  const severity = found.reduce<FindingSeverity>((m, f) => (rank[f.severity] > rank[m] ? f.severity : m), 'info');
  const worst = found.find((f) => f.severity === severity)!;
  const problemList = found.map((f) => f.text);
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
    problems: problemList,
  };
  return [
    {
      id: 'data-quality',
      severity,
      summary: failed.length > 0 && found.length === failed.length ? `${failed.length} detector(s) failed: ${failed.map((f) => f.id).join(', ')}` : worst.text,
      cpus: [],
      napis: [],
      fromNs: c.startNs as Ns,
      toNs: c.endNs as Ns,
      evidence: problemList,
      costEstimate: { share: 0, basis: 'not a throughput cost: how far the other findings can be trusted' },
      lossy: facts.lossy,
      details,
    },
  ];
}
