import type { Command } from 'commander';
import { UsageError } from '../../base/diagnostics.js';
import { replayTimeline } from '../../replay/index.js';
import { MODEL_NAMES, type ModelName } from '../../replay/types.js';
import { replayJson } from '../../report/replay.js';
import { computeFacts } from '../../detect/facts.js';
import { ReplayJson } from '../../report/replay-schema.js';
import { renderReplayText } from '../../report/replay-text.js';
import { painter } from '../../report/render/style.js';
import type { CliIO, RegisterCommand } from '../io.js';
import { addLoadOptions, loadWithProgress, parseChoice, parseIntArg, parseLoadOptions, parseRealArg, printDiagnostics, type LoadCliOptions } from '../options.js';

function parseModels(text: string): ModelName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = names.filter((n) => !(MODEL_NAMES as readonly string[]).includes(n));
  if (names.length === 0 || bad.length > 0) throw new UsageError(`--model ${text}: expected a comma-separated list of ${MODEL_NAMES.join(', ')}`);
  return [...new Set(names)] as ModelName[];
}

/**
 * `wgtrace replay <capture>`: the workload of a capture replayed through the stock, threaded
 * and Inline models, beside what was measured (docs/models.md).
 */
export const registerReplay: RegisterCommand = (program: Command, io: CliIO) => {
  addLoadOptions(
    program
      .command('replay')
      .description('replay a capture through models of the stock, threaded-NAPI and Inline architectures (what would a change buy?)')
      .argument('<capture>', 'capture file (.gz accepted, - for stdin)')
      .option('--model <list>', 'models to run, comma-separated', 'stock,threaded,inline')
      .option('--runs <n>', 'Monte Carlo runs over random placement (default 100)')
      .option('--seed <s>', 'seed of the Monte Carlo runs (default 1)')
      .option('--demand <kind>', 'what each tunnel offers: elastic (takes what it gets) or measured', 'elastic')
      .option('--utilization <source>', 'whole-core busy, and so the untraced load: whole (idle records, else /proc/stat), traced or proc-stat', 'whole')
      .option('--untraced <kind>', 'the untraced load: auto (coupled for veth tunnels, else fixed), coupled (per packet) or fixed', 'auto')
      .option('--threaded-overhead <ratio>', 'WireGuard: threaded NAPI wake-up cost as a fraction of the per-packet cost (default 0.35, fitted to the published figures)')
      .option('--thread-poll-factor <x>', "veth: the napi kthread's cost per packet over the softirq poll's (default: calibrated on the testbed, docs/models.md)")
      .option('--thread-wake-factor <x>', "veth: threaded NAPI's wake-up cost per packet, in softirq poll costs (default: calibrated on the testbed)")
      .option('--thread-wake-busy <share>', 'veth: the share of that wake-up cost that is CPU work, 0..1; the rest is waiting, which idles the core (default: calibrated on the testbed)')
      .option('--inline-gain <factor>', 'Inline locality gain: per-packet cost divided by it (default 2.96, fitted to the published ratio)')
      .option('--horizon <ms>', 'simulated surge length in milliseconds (default 1000)')
      .option('--json', 'print the result as JSON (schema: docs/replay.schema.json)'),
  )
    .option('--quiet', 'no diagnostics on stderr')
    .action(
      async (
        capture: string,
        o: {
          model: string;
          runs?: string;
          seed?: string;
          demand: string;
          utilization: string;
          untraced: string;
          threadedOverhead?: string;
          threadPollFactor?: string;
          threadWakeFactor?: string;
          threadWakeBusy?: string;
          inlineGain?: string;
          horizon?: string;
          json?: boolean;
          quiet?: boolean;
        } & LoadCliOptions,
      ) => {
        const models = parseModels(o.model);
        const runs = parseIntArg('--runs', o.runs, 1, 100_000);
        const seed = parseIntArg('--seed', o.seed, 0, 0xffffffff);
        const horizonMs = parseIntArg('--horizon', o.horizon, 1, 600_000);
        const demand = parseChoice('--demand', o.demand, ['elastic', 'measured']);
        const utilization = parseChoice('--utilization', o.utilization, ['whole', 'traced', 'proc-stat']);
        const untraced = parseChoice('--untraced', o.untraced, ['auto', 'coupled', 'fixed']);
        const ratio = parseRealArg('--threaded-overhead', o.threadedOverhead, 0, 10);
        const pollFactor = parseRealArg('--thread-poll-factor', o.threadPollFactor, 0.01, 20);
        const wakeFactor = parseRealArg('--thread-wake-factor', o.threadWakeFactor, 0, 20);
        const wakeBusy = parseRealArg('--thread-wake-busy', o.threadWakeBusy, 0, 1);
        const gain = parseRealArg('--inline-gain', o.inlineGain, 0.01, 100);
        const timeline = await loadWithProgress(io, capture, parseLoadOptions(o));
        if (!o.quiet) printDiagnostics(io, timeline.diagnostics);
        const result = replayTimeline(timeline, {
          models,
          demand,
          utilization,
          untraced,
          ...(runs !== undefined ? { runs } : {}),
          ...(seed !== undefined ? { seed } : {}),
          ...(horizonMs !== undefined ? { horizonNs: horizonMs * 1_000_000 } : {}),
          ...(ratio !== undefined ? { threadedOverheadRatio: ratio } : {}),
          ...(pollFactor !== undefined ? { vethThreadPollFactor: pollFactor } : {}),
          ...(wakeFactor !== undefined ? { vethThreadWakeFactor: wakeFactor } : {}),
          ...(wakeBusy !== undefined ? { vethThreadWakeBusyShare: wakeBusy } : {}),
          ...(gain !== undefined ? { inlineLocalityGain: gain } : {}),
        });
        // The schema is the contract: an output that does not match it is our bug.
        const json = ReplayJson.parse(replayJson(capture, result, computeFacts(timeline)));
        if (o.json) io.out(JSON.stringify(json, null, 2) + '\n');
        else io.out(renderReplayText(json, { painter: painter(io.color) }));
      },
    );
};
