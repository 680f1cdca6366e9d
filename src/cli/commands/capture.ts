import type { Command } from 'commander';
import { InputError, UsageError } from '../../base/diagnostics.js';
import { runCapture, type CaptureOptions } from '../../capture/run.js';
import type { CliIO, RegisterCommand } from '../io.js';
import { collect, parseChoice, parseIntArg } from '../options.js';
import { VERSION } from '../../base/version.js';

/**
 * `wgtrace capture`: runs the bundled bpftrace script with header, counters and trailer
 * (same options as bpftrace-scripts/capture.sh). Ctrl-C, SIGTERM or SIGHUP end it cleanly:
 * the file is complete up to then and marked `#@status interrupted` (exit 130).
 */
interface CaptureCommandOptions {
  mode: string;
  duration: string;
  devices: string;
  interval: string;
  output?: string;
  force?: boolean;
  format: string;
  netns?: string[];
  maxTunnels?: string;
  withRaise?: boolean;
  bpftrace?: string;
}

/** The options checked one by one, each refusal naming the option and what it takes. */
function parseCaptureCommandOptions(o: CaptureCommandOptions) {
  if (o.output === '') throw new UsageError('-o: expected a file name');
  if (o.output === '-') throw new UsageError('-o -: a capture goes to a file (written as FILE.partial and renamed when complete), not to stdout; give a file name');
  if (o.devices.trim() === '') throw new UsageError(`--devices: expected device names or globs, e.g. 'wg*'`);
  if (o.bpftrace === '') throw new UsageError('--bpftrace: expected the path of a bpftrace binary');
  const netns = o.netns ?? [];
  const badNs = netns.find((n) => !/^[A-Za-z0-9_.-]+$/.test(n));
  if (badNs !== undefined) throw new UsageError(`--netns ${badNs}: expected a network namespace name (letters, digits, '_', '.', '-')`);
  const maxTunnels = parseIntArg('--max-tunnels', o.maxTunnels, 1, 1_000_000);
  return {
    mode: parseChoice('--mode', o.mode, ['events', 'windows']),
    duration: parseIntArg('--duration', o.duration, 0, 86_400)!,
    devices: o.devices,
    interval: parseIntArg('--interval', o.interval, 1, 60_000)!,
    ...(o.output !== undefined ? { output: o.output } : {}),
    force: o.force === true,
    format: parseChoice('--format', o.format, ['text', 'json']),
    netns,
    ...(maxTunnels !== undefined ? { maxTunnels } : {}),
    withRaise: o.withRaise === true,
    ...(o.bpftrace !== undefined ? { bpftrace: o.bpftrace } : {}),
  };
}

export const registerCapture: RegisterCommand = (program: Command, io: CliIO) => {
  program
    .command('capture')
    .description('capture NAPI polls, softirqs and wg crypt work with the bundled bpftrace scripts (root)')
    .option('--mode <mode>', 'events (one line per event, short captures) or windows (in-kernel aggregation)', 'events')
    .option('--duration <seconds>', 'stop after this many seconds (0: until Ctrl-C)', '10')
    .option('--devices <glob>', "NAPI devices: NAME, PREFIX* or '*', comma-separated", 'wg*')
    .option('--interval <ms>', 'window length in windows mode', '10')
    .option('-o, --output <path>', 'capture file (default wgtrace-<host>-<time>.<mode>.txt)')
    .option('--force', 'overwrite an existing capture file')
    .option('--format <fmt>', 'text or json (bpftrace -f json)', 'text')
    .option('--netns <name>', 'also describe the devices of this network namespace (repeatable)', collect)
    .option('--max-tunnels <n>', 'NAPI instances per CPU the windows maps must hold (default 1024)')
    .option('--bpftrace <path>', 'the bpftrace to run (default $WGTRACE_BPFTRACE, else bpftrace on the PATH)')
    .option('--with-raise', 'events mode: also record NET_RX softirq_raise (SR lines; about a quarter more events)')
    .action(async (o: CaptureCommandOptions) => {
      const v = parseCaptureCommandOptions(o);
      const stamp = new Date()
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z');
      const opts: CaptureOptions = {
        mode: v.mode,
        durationS: v.duration,
        devices: v.devices,
        intervalMs: v.interval,
        output: v.output ?? `wgtrace-${(await import('node:os')).hostname()}-${stamp}.${v.mode}.txt`,
        force: v.force,
        format: v.format,
        netns: v.netns,
        toolVersion: VERSION,
        ...(v.maxTunnels !== undefined ? { maxTunnels: v.maxTunnels } : {}),
        ...(v.withRaise ? { withRaise: true } : {}),
        ...(v.bpftrace !== undefined ? { bpftrace: v.bpftrace } : {}),
      };
      const ac = new AbortController();
      const onSig = (): void => ac.abort();
      const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const s of sigs) process.on(s, onSig);
      try {
        const r = await runCapture(opts, {
          signal: ac.signal,
          onProbesStart: () => io.err(`wgtrace: probes attached; capturing ${v.duration > 0 ? `for ${v.duration} s` : 'until Ctrl-C'} (Ctrl-C ends early, output kept)\n`),
          onMessage: (l) => io.err(`bpftrace: ${l}\n`),
          onNote: (l) => io.err(`wgtrace: note: ${l}\n`),
        });
        if (r.devicesMatched === false && r.untracedDevices.length > 0) {
          io.err(
            `wgtrace: warning: the device filter '${v.devices}' matched no NAPI poll, while polls of ${r.untracedDevices.join(', ')} were seen: this capture holds no tunnel (use --devices to name the tunnels' devices)\n`,
          );
        }
        const lost = r.lostEventsStderr + r.recursionMisses;
        io.err(`wgtrace: wrote ${r.output} (${r.status}${lost > 0 ? `; ${lost} events lost or skipped by the kernel, see the file's Lost lines` : ''})\n`);
        if (r.status === 'interrupted') throw new InputError(`capture interrupted; ${r.output} is complete up to the signal and marked interrupted`, undefined, undefined, 130);
      } finally {
        for (const s of sigs) process.off(s, onSig);
      }
    });
};
