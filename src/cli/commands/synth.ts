import type { Command } from 'commander';
import { writeSynthFile } from '../../synth/file.js';
import { SynthOptions, writeSynthCapture } from '../../synth/writer.js';
import { writeOut, type CliIO, type RegisterCommand } from '../io.js';
import { parseChoice, parseIntArg, parseRealArg } from '../options.js';

/**
 * `wgtrace synth`: writes a synthetic capture of kernel WireGuard on a receiving gateway, in
 * our capture format, from the stock or threaded model (docs/models.md). Deterministic for a
 * seed. A one-line summary of what the generator planted goes to stderr.
 */
export const registerSynth: RegisterCommand = (program: Command, io: CliIO) => {
  program
    .command('synth')
    .description('write a synthetic capture of a WireGuard gateway (stock or threaded NAPI) in our capture format')
    .requiredOption('-o, --output <file>', 'output file (.gz: gzip-compressed; - for stdout)')
    .option('--tunnels <n>', 'tunnels (one wg device each)', '8')
    .option('--cpus <n>', 'online CPUs', '32')
    .option('--seconds <s>', 'capture length in seconds', '2')
    .option('--seed <s>', 'seed (same seed, same file)', '1')
    .option('--threaded', 'threaded NAPI on (default: softirq NAPI, the stock behaviour)')
    .option('--format <name>', 'bpftrace-text or bpftrace-json', 'bpftrace-text')
    .option('--mode <mode>', 'events (one line per event) or windows (in-kernel aggregates)', 'events')
    .option('--rss <kind>', 'RSS placement of the outer flows: distinct (one core each) or hash (uniform, may collide)', 'distinct')
    .action(async (o: { output: string; tunnels: string; cpus: string; seconds: string; seed: string; threaded?: boolean; format: string; mode: string; rss: string }) => {
      // Each option checked here, in our words; the writer's zod schema (the same bounds) then
      // only guards against our own bugs.
      const opts = SynthOptions.parse({
        tunnels: parseIntArg('--tunnels', o.tunnels, 1, 1024),
        cpus: parseIntArg('--cpus', o.cpus, 1, 1024),
        seconds: parseRealArg('--seconds', o.seconds, 0, 600, { above: true }),
        seed: parseIntArg('--seed', o.seed, 0, 0xffffffff),
        threaded: o.threaded === true,
        format: parseChoice('--format', o.format, SynthOptions.shape.format.unwrap().options),
        mode: parseChoice('--mode', o.mode, SynthOptions.shape.mode.unwrap().options),
        rss: parseChoice('--rss', o.rss, SynthOptions.shape.rss.unwrap().options),
      });
      // `-o -`: the capture on stdout (uncompressed), as export --perfetto - and report -o - do.
      const plant = o.output === '-' ? await writeSynthCapture(opts, (chunk) => writeOut(io, chunk)) : await writeSynthFile(o.output, opts);
      const conv =
        plant.convergenceNs === null ? 'polls never all stuck' : `polls stuck on core(s) ${plant.finalPollCores.join(',')} from ${((plant.convergenceNs - plant.eventsFromNs) / 1e6).toFixed(0)} ms`;
      io.err(`wgtrace: wrote ${o.output === '-' ? 'stdout' : o.output}: ${plant.lines} lines, ${plant.polls.length} tunnels on ${plant.scenario.cpus.length} cores, ${plant.model} model; ${conv}\n`);
    });
};
