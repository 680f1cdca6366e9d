import { z } from 'zod';

/**
 * The detectors' thresholds: named constants with units, each with the reason for its value.
 * Every one can be overridden from the command line (`--threshold colocation-min-share=0.1`,
 * the kebab-case of the field name, or the constant's own name); `parseThresholdOverrides`
 * validates the values with zod.
 */

/** Of a window: a NAPI "loads" a core in a window when its polls take at least this share of
 * it. Below 5% a tunnel's poll is a packet or two now and then (a 64-packet budget of forwarding
 * costs about 100-300 us, so 5% of a 10 ms window is a few polls), which cannot hold up another
 * tunnel's poll measurably. */
export const COLOCATION_MIN_SHARE = 0.05;

/** Windows (windows-mode captures, which have no poll order): a core counts as shared only
 * when at least this many windows have two or more NAPIs loading it. One shared window is what a poll looks like while it is being re-placed
 * (it completed on one core and got scheduled on another in the same window). */
export const COLOCATION_MIN_WINDOWS = 2;

/** ns: events mode measures co-location from the polls (docs/findings.md); a core counts as
 * shared when two or more tunnels occupied it at the same time for at least this long in all.
 * Less is what tunnels passing through look like (a poll that completed on this core while
 * another was being placed here); 5 ms is many polls of each. */
export const COLOCATION_MIN_NS = 5_000_000;

/** Polls: a chain of `work == budget` polls of one NAPI on one core counts as monolithic from
 * this length. net/core/dev.c: napi_poll requeues a poll that used its whole budget on the same
 * CPU, so each full-budget poll extends the chain; 8 polls of 64 packets = 512 packets that
 * arrived faster than the core could forward them. Chain lengths come as a log2 histogram, so
 * the value is rounded down to a power of two. */
export const MONOLITHIC_MIN_CHAIN_POLLS = 8;

/** Of the core's time over the capture: chains below this share are bursts, not a monolithic
 * poll that owns the core. A quarter is enough to halve what another tunnel placed there gets. */
export const MONOLITHIC_MIN_CORE_SHARE = 0.25;

/** Of a NAPI's polls on one core, windows mode only: without poll order there are no chains, so
 * a NAPI whose polls there used the whole budget at least 90% of the time counts as one chain.
 * A poll that completes now and then (napi_complete_done) drops below it quickly. */
export const MONOLITHIC_MIN_FULL_SHARE = 0.9;

/** Of a core, per window: a core is saturated above 90% busy. NET_RX softirq that runs past
 * 2 ms or 10 restarts is handed to ksoftirqd (kernel/softirq.c: __do_softirq, MAX_SOFTIRQ_TIME),
 * and on a core this busy that happens continuously; the last 10% is interrupts and scheduling
 * that we do not trace. */
export const SATURATED_UTIL = 0.9;

/** Of a core over the capture: a core below 20% busy is idle capacity that a poll could use. */
export const IDLE_UTIL = 0.2;

/** Ratio: the busiest core at least this many times the mean core utilization is an imbalance.
 * On a balanced gateway max/mean stays near 1; 2 means the busiest core does twice its share. */
export const IMBALANCE_MIN_RATIO = 2;

/** Of a core's NET_RX softirq time: NET_RX running in ksoftirqd/N for at least a tenth of it
 * means the core is saturated (kernel/softirq.c: __do_softirq defers after 2 ms or 10
 * restarts); a handful of deferrals happen on any busy core. */
export const KSOFTIRQD_MIN_SHARE = 0.1;

/** Of the capture (probed span): a saturated core beside an idle one (in the same windows) for
 * at least a tenth of the capture is the talk's pattern; a few windows of it are a burst that
 * the scheduler or the next poll placement evens out. */
export const IMBALANCE_MIN_SHARE = 0.1;

/** Of a NAPI's poll time: the share on its home core below which its polls "wander". In
 * softirq mode a poll only moves when it completes (net/core/dev.c: napi_complete_done) and is
 * then scheduled wherever the next decrypt worker runs; threaded polls move when the scheduler
 * migrates the napi/<dev>-<id> thread. Below 80% the tunnel has no stable core. */
export const PLACEMENT_MIN_STICKINESS = 0.8;

/** Polls: NAPIs with fewer polls than this are too small to say anything about placement. */
export const PLACEMENT_MIN_POLLS = 10;

/** Of the events: lost events above 0.1% make per-core figures approximate (warning); above 5%
 * they are unreliable (critical). bpftrace drops whole per-CPU buffer loads, so losses cluster
 * on the busiest cores, exactly the ones a finding is about. */
export const LOSS_WARN_SHARE = 0.001;
export const LOSS_CRITICAL_SHARE = 0.05;

/** Of the lines: skipped (malformed or unknown) lines above 0.1% deserve a warning. */
export const SKIPPED_WARN_SHARE = 0.001;

export const Thresholds = z
  .object({
    colocationMinShare: z.number().gt(0).lte(1).default(COLOCATION_MIN_SHARE),
    colocationMinWindows: z.number().int().gte(1).default(COLOCATION_MIN_WINDOWS),
    colocationMinNs: z.number().gte(0).default(COLOCATION_MIN_NS),
    monolithicMinChainPolls: z.number().int().gte(2).default(MONOLITHIC_MIN_CHAIN_POLLS),
    monolithicMinCoreShare: z.number().gte(0).lte(1).default(MONOLITHIC_MIN_CORE_SHARE),
    monolithicMinFullShare: z.number().gte(0).lte(1).default(MONOLITHIC_MIN_FULL_SHARE),
    saturatedUtil: z.number().gt(0).lte(1).default(SATURATED_UTIL),
    ksoftirqdMinShare: z.number().gte(0).lte(1).default(KSOFTIRQD_MIN_SHARE),
    idleUtil: z.number().gte(0).lt(1).default(IDLE_UTIL),
    imbalanceMinRatio: z.number().gte(1).default(IMBALANCE_MIN_RATIO),
    imbalanceMinShare: z.number().gte(0).lte(1).default(IMBALANCE_MIN_SHARE),
    placementMinStickiness: z.number().gte(0).lte(1).default(PLACEMENT_MIN_STICKINESS),
    placementMinPolls: z.number().int().gte(1).default(PLACEMENT_MIN_POLLS),
    lossWarnShare: z.number().gte(0).lte(1).default(LOSS_WARN_SHARE),
    lossCriticalShare: z.number().gte(0).lte(1).default(LOSS_CRITICAL_SHARE),
    skippedWarnShare: z.number().gte(0).lte(1).default(SKIPPED_WARN_SHARE),
  })
  .strict()
  .refine((t) => t.idleUtil < t.saturatedUtil, { message: 'idle-util must be below saturated-util' })
  .refine((t) => t.lossWarnShare <= t.lossCriticalShare, { message: 'loss-warn-share must not exceed loss-critical-share' });
export type Thresholds = z.infer<typeof Thresholds>;

export const DEFAULT_THRESHOLDS: Thresholds = Thresholds.parse({});

export type ThresholdName = keyof Thresholds;
export const THRESHOLD_NAMES = Object.keys(DEFAULT_THRESHOLDS) as ThresholdName[];

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const constName = (s: string): string => kebab(s).replace(/-/g, '_').toUpperCase();

/** `colocation-min-share`, `colocationMinShare` and `COLOCATION_MIN_SHARE` all name one field. */
export function thresholdKey(name: string): ThresholdName | undefined {
  return THRESHOLD_NAMES.find((k) => k === name || kebab(k) === name || constName(k) === name);
}

/**
 * Parses `name=value` overrides over the defaults. Returns the thresholds or a one-line
 * reason (the CLI turns it into a usage error).
 */
export function parseThresholdOverrides(pairs: readonly string[]): { ok: true; value: Thresholds } | { ok: false; error: string } {
  const raw: Record<string, unknown> = { ...DEFAULT_THRESHOLDS };
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) return { ok: false, error: `--threshold ${p}: expected name=value` };
    const name = p.slice(0, eq).trim();
    const text = p.slice(eq + 1).trim();
    const key = thresholdKey(name);
    if (key === undefined) {
      return { ok: false, error: `--threshold ${p}: unknown threshold ${name} (known: ${THRESHOLD_NAMES.map(kebab).join(', ')})` };
    }
    const v = Number(text);
    if (text === '' || !Number.isFinite(v)) return { ok: false, error: `--threshold ${p}: ${text} is not a number` };
    raw[key] = v;
  }
  const r = Thresholds.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.length > 0 ? kebab(String(issue.path[0])) : '';
    return { ok: false, error: `--threshold ${field ? field + ': ' : ''}${issue.message}` };
  }
  return { ok: true, value: r.data };
}
