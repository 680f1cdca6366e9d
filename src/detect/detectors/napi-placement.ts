import type { Ns } from '../../base/time.js';
import { z } from 'zod';
import { defineDetector, type DetectContext, type FindingOf } from '../finding.js';
import { PollMode } from '../facts.js';
import { byName, count, cpuList, dur, pct, plural } from '../format.js';

export const PlacementDetails = z.object({
  /** Distinct cores that ran any NAPI poll, and how many CPUs the capture has. */
  coresUsed: z.number().int(),
  cpus: z.number().int(),
  /** Share of all polls that ran in threaded-NAPI kthreads. */
  threadedPollShare: z.number(),
  napis: z.array(
    z.object({
      dev: z.string(),
      napi: z.string(),
      mode: PollMode,
      /** Windows mode: the mode is the device's threaded flag, not observed. */
      modeInferred: z.boolean(),
      /** /sys/class/net/<dev>/threaded from the capture header, when recorded. */
      devThreaded: z.number().int().optional(),
      polls: z.number(),
      busyNs: z.number(),
      homeCpu: z.number().int(),
      /** Share of this NAPI's poll time on its home core. */
      stickiness: z.number(),
      moves: z.number().int(),
      /** The moves are a lower bound (timeline/napi-acc.ts: settleMoves). */
      movesLowerBound: z.boolean().optional(),
      wanders: z.boolean(),
      cpus: z.array(z.object({ cpu: z.number().int(), polls: z.number(), busyNs: z.number() })),
    }),
  ),
});
export type PlacementDetails = z.infer<typeof PlacementDetails>;

type PlacementFinding = FindingOf<'napi-placement', PlacementDetails>;

/**
 * napi-placement: per NAPI instance (one per tunnel on WireGuard: drivers/net/wireguard/
 * peer.c: netif_napi_add per peer), the cores its polls ran on, its home core, how sticky it is
 * (share of its poll time on the home core) and how often it moved. Always reported (info), so
 * the report shows where every tunnel's poll ran and whether in softirq or in its napi thread;
 * a warning when softirq polls wander, which costs cache locality at every move.
 */
export const napiPlacement = defineDetector({
  id: 'napi-placement',
  title: "where each tunnel's NAPI polls ran: home core, stickiness, moves, softirq or thread",
  details: PlacementDetails,
  detect(ctx: DetectContext): PlacementFinding[] {
    const { timeline: t, thresholds: th, facts } = ctx;
    // Listed by name (device, then napi pointer), not by first appearance in the file.
    const active = facts.napis.filter((n) => n.polls > 0 && n.role === 'tunnel').sort((a, b) => byName(facts.labels[a.index]!, facts.labels[b.index]!) || byName(a.napi, b.napi));
    if (active.length === 0) return [];
    const coresUsed = new Set(active.flatMap((n) => n.cpus.map((c) => c.cpu)));
    // Polls in threads: counted from the napi/ kthreads' polls, or in windows mode (which does
    // not record it) taken from the devices' threaded flag.
    const threadedPolls = active.reduce((s, n) => s + (n.modeInferred ? (n.mode === 'threaded' ? n.polls : 0) : n.threadedPolls), 0);
    const inferred = active.some((n) => n.modeInferred);
    const threadedPollShare = facts.totalPolls > 0 ? threadedPolls / facts.totalPolls : 0;
    const details: PlacementDetails = {
      coresUsed: coresUsed.size,
      cpus: t.cpus.length,
      threadedPollShare,
      napis: active.map((n) => ({
        dev: n.dev,
        napi: n.napi,
        mode: n.mode,
        modeInferred: n.modeInferred,
        ...(n.devThreaded === undefined ? {} : { devThreaded: n.devThreaded }),
        polls: n.polls,
        busyNs: n.busyNs,
        homeCpu: n.homeCpu,
        stickiness: n.stickiness,
        moves: n.moves,
        ...(n.movesLowerBound ? { movesLowerBound: true } : {}),
        wanders: n.polls >= th.placementMinPolls && n.stickiness < th.placementMinStickiness,
        // The facts' own rows, not a copy: their other fields (work, fullBudgetPolls) are not in
        // the schema, so --json and the report strip them (json-stream.ts); a copy was 4.3 MB
        // of the peak at 1,024 tunnels x 128 cores (bench/README.md, issue 16).
        cpus: n.cpus,
      })),
    };
    const homes = new Map<number, number>();
    for (const n of active) homes.set(n.homeCpu, (homes.get(n.homeCpu) ?? 0) + 1);
    const modeText =
      (threadedPollShare === 0 ? 'all in softirq' : threadedPollShare >= 1 ? 'all in threaded-NAPI kthreads (napi/<dev>-<id>)' : `${pct(threadedPollShare)} of polls in threaded-NAPI kthreads`) +
      (inferred ? ` (from the devices' threaded flag: a windows-mode capture does not record where a poll ran)` : '');
    const evidence = details.napis.map((n, i) => {
      const nf = active[i]!;
      // Windows mode has no poll order, so no moves (docs/timeline.md: zero there): "2 cores, 0
      // moves" cannot be true, so the text says they were not recorded.
      // Events mode: a lower bound when two CPUs' polls interleaved in time but arrived in
      // separate runs of the file (timeline/napi-acc.ts: settleMoves).
      const movesText = t.capture.mode === 'windows' ? 'moves not recorded (windows mode)' : `${nf.movesLowerBound ? 'at least ' : ''}${plural(n.moves, 'move')}`;
      const others = n.cpus.slice(1, 4).map((c) => `cpu ${c.cpu} ${dur(c.busyNs)}`);
      // The mode is read from the polls; the header's flag only confirms it (or is said to disagree).
      const observed = !n.modeInferred && n.mode === 'threaded' ? 1 : !n.modeInferred && n.mode === 'softirq' ? 0 : undefined;
      const flag =
        n.devThreaded === undefined
          ? ''
          : `, ${n.dev}/threaded=${n.devThreaded}${observed !== undefined && observed !== n.devThreaded ? ` in the header, but its polls ran ${observed === 1 ? 'in napi/ threads' : 'in softirq'}` : ''}`;
      return (
        `${facts.labels[nf.index]} (napi ${n.napi}): home cpu ${n.homeCpu} with ${pct(n.stickiness)} of ${dur(n.busyNs)}, ` +
        `${count(n.polls)} polls on ${plural(n.cpus.length, 'core')}, ${movesText}, ${n.mode}${flag}` +
        (others.length > 0 ? `; also ${others.join(', ')}${n.cpus.length > 4 ? ', ...' : ''}` : '') +
        (n.wanders ? ' (wanders)' : '')
      );
    });
    const wanderers = details.napis.filter((n) => n.wanders && n.mode !== 'threaded');
    const sharedHomes = [...homes].filter(([, k]) => k > 1).map(([c]) => c);
    return [
      {
        id: 'napi-placement',
        severity: wanderers.length > 0 ? 'warning' : 'info',
        summary:
          `${plural(active.length, 'tunnel')}' polls ran on ${plural(coresUsed.size, 'core')} of ${t.cpus.length} (${cpuList([...coresUsed])}), ${modeText}` +
          (sharedHomes.length > 0 ? `; home cores shared: ${cpuList(sharedHomes)}` : '') +
          (wanderers.length > 0 ? `; ${plural(wanderers.length, 'poll')} ${wanderers.length === 1 ? 'wanders' : 'wander'} between cores` : ''),
        cpus: [...coresUsed].sort((a, b) => a - b),
        napis: active.map((n) => ({ dev: n.dev, napi: n.napi })),
        fromNs: t.capture.startNs as Ns,
        toNs: t.capture.endNs as Ns,
        evidence,
        costEstimate: { share: 0, basis: 'descriptive: where the polls ran costs nothing by itself' },
        lossy: false,
        details,
      },
    ];
  },
});
