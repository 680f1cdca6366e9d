import type { Command } from 'commander';
import { UsageError } from '../../base/diagnostics.js';
import { writeSynthFile } from '../../synth/file.js';
import { SynthOptions } from '../../synth/writer.js';
import type { CliIO, RegisterCommand } from '../io.js';

/**
 * `wgtrace synth`: writes a synthetic capture of kernel WireGuard on a receiving gateway, in
 * our capture format, from the stock or threaded model (docs/models.md). Deterministic for a
 * seed. A one-line summary of what the generator planted goes to stderr.
 */
export const registerSynth: RegisterCommand = (program: Command, io: CliIO) => {
  program
    .command('synth')
    .description('write a synthetic capture of a WireGuard gateway (stock or threaded NAPI) in our capture format')
    .requiredOption('-o, --output <file>', 'output file (.gz: gzip-compressed)')
    .option('--tunnels <n>', 'tunnels (one wg device each)', '8')
    .option('--cpus <n>', 'online CPUs', '32')
    .option('--seconds <s>', 'capture length in seconds', '2')
    .option('--seed <s>', 'seed (same seed, same file)', '1')
    .option('--threaded', 'threaded NAPI on (default: softirq NAPI, the stock behaviour)')
    .option('--format <name>', 'bpftrace-text or bpftrace-json', 'bpftrace-text')
    .option('--mode <mode>', 'events (one line per event) or windows (in-kernel aggregates)', 'events')
    .option('--rss <kind>', 'RSS placement of the outer flows: distinct (one core each) or hash (uniform, may collide)', 'distinct')
    .action(async (o: { output: string; tunnels: string; cpus: string; seconds: string; seed: string; threaded?: boolean; format: string; mode: string; rss: string }) => {
      const parsed = SynthOptions.safeParse({
        tunnels: Number(o.tunnels),
        cpus: Number(o.cpus),
        seconds: Number(o.seconds),
        seed: Number(o.seed),
        threaded: o.threaded === true,
        format: o.format,
        mode: o.mode,
        rss: o.rss,
      });
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        throw new UsageError(`--${String(i.path[0] ?? 'option')}: ${i.message}`);
      }
      const plant = await writeSynthFile(o.output, parsed.data);
      const conv = plant.convergenceNs === null ? 'polls never all stuck' : `polls stuck on core(s) ${plant.finalPollCores.join(',')} from ${((plant.convergenceNs - plant.eventsFromNs) / 1e6).toFixed(0)} ms`;
      io.err(`wgtrace: wrote ${o.output}: ${plant.lines} lines, ${plant.polls.length} tunnels on ${plant.scenario.cpus.length} cores, ${plant.model} model; ${conv}\n`);
    });
};
