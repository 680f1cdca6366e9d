import { spawn, execFileSync } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, fstatSync, mkdtempSync, openSync, readSync, renameSync, rmSync, statfsSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname, release, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { InputError } from '../base/diagnostics.js';
import { FORMAT_VERSION_MAX, formatHeaderLines, formatTrailerLines, newHeaderState, parseHeaderLine, parseCpuList } from '../model/capture-text.js';
import type { CaptureHeader, CounterSnapshot, DeviceInfo } from '../model/header.js';
import { generateScript, scriptEnv, scriptsDir, type ScriptRequest } from './script.js';
import { bootNsNow, readBpfMisses, readCounters, readOnlineCpus } from './system.js';
import { WindowsFilter } from './windows-filter.js';

/**
 * `wgtrace capture`: the same job as bpftrace-scripts/capture.sh, from Node. Differences that
 * matter: the counters are read the moment bpftrace's output shows the probes attached
 * (`#@probes_start_boot_ns`) and detached (`#@probes_stop_boot_ns`), so they cover the same
 * interval as the events (the live NET_RX agreement test depends on it), and the `#@counters
 * before` block is written right after the start mark.
 */

export const FORMAT_VERSION = FORMAT_VERSION_MAX;

/** How long before the script's own exit is due the after counters are read (runCapture: armAfter; capture.sh's watcher: 200 ms). */
const AFTER_LEAD_NS = 200_000_000n;

/**
 * A line of the capture that is a poll of the filter's devices (text or `-f json`): events mode's
 * `P` and `PS` (a traced poll carrying its NET_RX softirq's entry, format 5), windows mode's
 * `@napi` rows. capture.sh greps the file with the same patterns (its `pat=`;
 * test/unit/capture-traced-pattern.test.ts checks both on the same lines).
 */
export function tracedPollPattern(mode: 'events' | 'windows'): RegExp {
  return mode === 'events' ? /(?:^|\n)PS? |"data": "PS? / : /@napi\[|"@napi"/;
}
/** Free space required before probes are attached (capture.sh: MIN_FREE_KB). */
export const MIN_FREE_BYTES = 1024 * 1024;
/**
 * How often the skipped-BPF-run counters are sampled while bpftrace runs. The samples that
 * count are taken at the stop mark (END) and before a signal stops bpftrace; the timer is for
 * a bpftrace that dies without END. Each sample reads every fdinfo file of bpftrace, beside the
 * traffic: once a second is enough (capture.sh does the same).
 */
const MISSES_POLL_MS = 1000;
const TRACEFS = '/sys/kernel/tracing';
const TRACEPOINTS = [
  'napi/napi_poll',
  'irq/softirq_entry',
  'irq/softirq_exit',
  'irq/softirq_raise',
  'sched/sched_switch',
  'sched/sched_migrate_task',
  'workqueue/workqueue_queue_work',
  'workqueue/workqueue_execute_start',
  'workqueue/workqueue_execute_end',
];

export interface CaptureOptions {
  mode: 'events' | 'windows';
  durationS: number;
  devices: string;
  intervalMs: number;
  output: string;
  force: boolean;
  format: 'text' | 'json';
  /** Also describe the devices of these network namespaces in the header. */
  netns: string[];
  maxTunnels?: number;
  /** Events mode: also record NET_RX softirq_raise (`SR`). */
  withRaise?: boolean;
  /**
   * The bpftrace binary (`--bpftrace PATH`; default $WGTRACE_BPFTRACE, else `bpftrace` on the
   * PATH): a newer static build, or a distribution's bpftrace run from a chroot by a wrapper.
   */
  bpftrace?: string;
  toolVersion: string;
}

/** The bpftrace to run: the option, else $WGTRACE_BPFTRACE (capture.sh reads the same), else the PATH's. */
export function bpftraceBinary(o: { bpftrace?: string }): string {
  return o.bpftrace ?? (process.env['WGTRACE_BPFTRACE'] || 'bpftrace');
}

/**
 * The cost of events mode on a bpftrace older than 0.18, said before the probes attach. Those
 * versions print through per-CPU perf buffers opened by bcc's bpf_open_perf_buffer with
 * `wakeup_events = 1`: every record wakes bpftrace, about 8 us of BPF time per record on the
 * testbed; 0.18 and later print through one BPF ring buffer. Measured with the interleaved bench
 * (bench/README.md, "Per bpftrace version" and "Events mode on 0.17"): 0.17's events mode kept
 * 0.53 to 0.66 of the testbed's uncaptured throughput, perf record of the same tracepoints 0.95
 * to 0.98, windows mode about 0.95. capture.sh says the same (bpftrace-scripts/capture.sh).
 */
export function eventsCostNote(mode: 'events' | 'windows', bpftraceVersion: string): string | undefined {
  const m = /^bpftrace v?(\d+)\.(\d+)/.exec(bpftraceVersion);
  if (mode !== 'events' || m === null || Number(m[1]) > 0 || Number(m[2]) >= 18) return undefined;
  return `bpftrace 0.${m[2]} prints every event through per-CPU perf buffers that wake it on each record: events mode can slow this gateway by a third or more (0.53 to 0.66 of the packet rate kept on our 2-core testbed, against 0.95 to 0.98 for perf record of the same events; bench/README.md). For less, use --mode windows, a bpftrace from 0.18 on (--bpftrace PATH), or capture.sh --tracer perf`;
}

/**
 * bpftrace's start-up messages that say nothing about the capture: RLIMIT_MEMLOCK (the kernel
 * accounts BPF memory to the cgroup since 5.11) and, from 0.27, that available_filter_functions
 * cannot be read (it is only needed for kprobes and fentry, which these scripts do not use).
 */
export function harmlessBpftraceMessage(line: string): boolean {
  return line.includes('RLIMIT_MEMLOCK') || line.includes('available_filter_functions') || /^If this is expected, use --traceable-functions/.test(line);
}

export interface CaptureHooks {
  /** Aborting interrupts the capture cleanly (SIGINT to bpftrace, `#@status interrupted`). */
  signal?: AbortSignal;
  onProbesStart?: (bootNs: bigint) => void;
  /** bpftrace's messages on stderr (warnings), one line each. */
  onMessage?: (line: string) => void;
  /** What the user should know before the probes attach (the CLI prints it). */
  onNote?: (line: string) => void;
  /** Called with bpftrace's pid once it runs (tests kill it). */
  onSpawn?: (pid: number) => void;
  /** Environment for the generator (tests). */
  genEnv?: Record<string, string>;
}

export interface CaptureResult {
  output: string;
  status: 'complete' | 'interrupted';
  probesStartBootNs?: string;
  probesStopBootNs?: string;
  countersBefore?: CounterSnapshot;
  countersAfter?: CounterSnapshot;
  /** `Lost N events` reported by bpftrace on stderr (0.18+; 0.17 prints them in the output). */
  lostEventsStderr: number;
  recursionMisses: number;
  progIds: number[];
  bpftracePid: number;
  /** False when the device filter matched no poll (undefined with `--devices '*'`). */
  devicesMatched?: boolean;
  /** Devices seen polled that the filter left out (the scripts' `@untraced`). */
  untracedDevices: string[];
}

function which(cmd: string): string | undefined {
  for (const d of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const p = join(d, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Everything missing, at once, before anything is attached. */
export function preflight(bpftrace = 'bpftrace'): string[] {
  const missing: string[] = [];
  const root = process.getuid?.() === 0;
  if (!root) missing.push('root (bpftrace loads BPF programs: run with sudo)');
  const found = bpftrace.includes('/') ? existsSync(bpftrace) : which(bpftrace) !== undefined;
  if (!found) missing.push(bpftrace === 'bpftrace' ? 'bpftrace (Debian/Ubuntu: apt-get install bpftrace)' : `bpftrace at ${bpftrace} (--bpftrace)`);
  if (!existsSync(`${TRACEFS}/events`) && root) {
    try {
      execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'ignore' });
    } catch {
      /* reported below */
    }
  }
  if (!existsSync(`${TRACEFS}/events`)) missing.push(`tracefs (mount -t tracefs nodev ${TRACEFS})`);
  else for (const tp of TRACEPOINTS) if (!existsSync(`${TRACEFS}/events/${tp}`)) missing.push(`tracepoint ${tp}`);
  return missing;
}

/** `#@dev` lines from capture.sh's device census (shared, so both wrappers describe devices alike). */
export function listDevices(netns: string[]): DeviceInfo[] {
  const sh = join(scriptsDir(), 'capture.sh');
  const st = newHeaderState();
  const run = (args: string[]): string => {
    try {
      return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return '';
    }
  };
  // Every network namespace's devices (capture.sh: list_all_devices), then any --netns that
  // listing did not reach (kept for old command lines).
  const all = run(['sh', sh, '--list-all-devices']).split('\n');
  for (const l of all) parseHeaderLine(st, l);
  for (const ns of netns) {
    if (all.some((l) => l.endsWith(` netns=${ns}`))) continue;
    for (const l of run(['ip', 'netns', 'exec', ns, 'sh', sh, '--list-devices', ns]).split('\n')) {
      // Every namespace has its own lo; only the root one is kept (names must be unique).
      if (!l.startsWith('#@dev name=lo ')) parseHeaderLine(st, l);
    }
  }
  return st.devices;
}

function wallNow(): string {
  return new Date().toISOString();
}

/** Bytes free for an unprivileged writer in dir, or undefined when statfs fails. */
function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function checkOutput(out: string, force: boolean): string {
  const partial = `${out}.partial`;
  if (!force) {
    if (existsSync(out)) throw new InputError(`${out} exists (use --force to overwrite)`);
    if (existsSync(partial)) throw new InputError(`${partial} exists, left by an earlier capture (use --force to overwrite)`);
  }
  const dir = dirname(out);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    /* below */
  }
  if (!isDir) throw new InputError(`${dir}: no such directory`);
  try {
    closeSync(openSync(partial, 'w'));
  } catch (e) {
    throw new InputError(`${dir} is not writable (cannot create ${partial}: ${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const free = freeBytes(dir);
  if (free !== undefined && free < MIN_FREE_BYTES) {
    unlinkSync(partial);
    throw new InputError(`${dir} has ${Math.floor(free / 1024)} KiB free, a capture needs at least ${MIN_FREE_BYTES / 1024} KiB`);
  }
  return partial;
}

const START_MARK = '#@probes_start_boot_ns ';
const STOP_MARK = '#@probes_stop_boot_ns ';
/** Events mode: how often, and how far into the file, the start mark is looked for. */
const START_POLL_MS = 20;
const START_SCAN_BYTES = 256 * 1024;
/** Events mode, after bpftrace ended: the tail read for the stop mark and `@untraced`. */
const TAIL_SCAN_BYTES = 1 << 20;
/** Windows mode: the longest wait between two reads of the output pipe once the probes are attached. */
const DRAIN_TURN_MS = 250;
/** The wait after a turn that brought `chars`: shorter as the output grows, none from 32 KiB (half the pipe). */
function drainWaitMs(chars: number): number {
  if (chars >= 32 * 1024) return 0;
  if (chars >= 8 * 1024) return DRAIN_TURN_MS / 5;
  return DRAIN_TURN_MS;
}

export async function runCapture(o: CaptureOptions, hooks: CaptureHooks = {}): Promise<CaptureResult> {
  const bpftrace = bpftraceBinary(o);
  const missing = preflight(bpftrace);
  if (missing.length > 0) throw new InputError(`cannot capture, missing: ${missing.join('; ')}`);
  const partial = checkOutput(o.output, o.force);
  const cpusText = readOnlineCpus();
  const cpus = parseCpuList(cpusText) ?? [0];
  const req: ScriptRequest = {
    mode: o.mode,
    devices: o.devices,
    intervalMs: o.intervalMs,
    durationS: o.durationS,
    cpus: Math.max(...cpus) + 1,
    ...(o.maxTunnels !== undefined ? { maxTunnels: o.maxTunnels } : {}),
    ...(o.withRaise ? { withRaise: true } : {}),
    // The generator asks this bpftrace for its version (gen-script.sh).
    env: { ...hooks.genEnv, WGTRACE_BPFTRACE: bpftrace },
  };
  let script: string;
  let env: Record<string, string>;
  try {
    script = generateScript(req);
    env = scriptEnv(req);
  } catch (e) {
    unlinkSync(partial);
    throw e;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'wgtrace-capture-'));
  const scriptPath = join(tmp, `${o.mode}.bt`);
  writeFileSync(scriptPath, script);
  const mapKeys = env['BPFTRACE_MAP_KEYS_MAX'] ?? /max_map_keys = (\d+)/.exec(script)?.[1] ?? '-';
  const wgFuncs = (script.match(/function == (?:\(uint64\))?0x/g) ?? []).length;
  let bpftraceVersion = '';
  try {
    bpftraceVersion = execFileSync(bpftrace, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  } catch {
    /* preflight found it; a failing --version shows up when it runs */
  }
  const note = eventsCostNote(o.mode, bpftraceVersion);
  if (note !== undefined) hooks.onNote?.(note);

  const header: CaptureHeader = {
    formatVersion: FORMAT_VERSION,
    toolVersion: o.toolVersion,
    hostname: hostname(),
    kernel: release(),
    bpftraceVersion,
    cpus,
    mode: o.mode,
    ...(o.mode === 'windows' ? { intervalNs: o.intervalMs * 1_000_000 } : {}),
    devicesGlob: o.devices,
    startWall: wallNow(),
    startBootNs: bootNsNow().toString(),
    devices: listDevices(o.netns),
  };
  const headLines = formatHeaderLines(header);
  // Our additions after the standard keys (docs/capture-format.md lists them).
  headLines.splice(
    headLines.findIndex((l) => l.startsWith('#@start_wall')),
    0,
    '#@wrapper wgtrace',
    `#@duration_s ${o.durationS}`,
    `#@output_format ${o.format}`,
    `#@map_keys_max ${mapKeys}`,
    `#@wg_functions_matched ${wgFuncs}`,
  );
  const fd = openSync(partial, 'w');
  /** Before bpftrace runs: nothing was captured, so neither the file nor the temp dir is kept. */
  const abandon = (): void => {
    closeSync(fd);
    unlinkSync(partial);
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    writeSync(fd, headLines.join('\n') + '\n');
  } catch (e) {
    abandon();
    throw new InputError(`cannot write the header to ${partial} (${(e as NodeJS.ErrnoException).code ?? 'error'}: disk full?)`);
  }

  // `-B full`: bpftrace's stdout is line-buffered by default, one write(2) and one wake-up of
  // this process per line; full buffering writes per 4 KiB (a pipe's st_blksize), and the
  // scripts' BEGIN pads the start mark out of the buffer (bpftrace-scripts/capture.sh says more).
  // Events mode: bpftrace writes the file itself, as with capture.sh. Read through a pipe, every
  // 4 KiB write of a busy capture woke this process (about 2,000 a second here) and the testbed
  // kept 0.82 of its throughput against 0.93 with capture.sh (bench/README.md, "Output
  // buffering"); the marks are then found in the file (`watch` and `scanWritten` below). Full buffering
  // only where the file system's block size, by which stdio sizes its buffer, is at most 8 KiB:
  // else the start mark would wait in the buffer.
  const direct = o.mode === 'events';
  const { size: headerEnd, blksize } = fstatSync(fd);
  const buffering = !direct || blksize <= 8192 ? ['-B', 'full'] : [];
  const args = [...buffering, ...(o.format === 'json' ? ['-f', 'json'] : []), scriptPath];
  // Windows mode: bpftrace writes into a FIFO that this process reads in turns with non-blocking
  // reads, never waiting in read(2) or epoll on it, as capture.sh's drain does. A pipe read as a
  // Node stream is read by libuv on every write until 16 KiB are buffered, paused or not: at a
  // windows capture's 50 KB/s (0.24+ flushes after every print()) that was 280 reads and 400
  // wake-ups a second, and 2.6 to 3.6% of a core (1.2 to 2% now; bench/README.md).
  let fifoFd: number | undefined;
  let outFd: number | 'pipe' = fd;
  if (!direct) {
    const fifo = join(tmp, 'out');
    try {
      execFileSync('mkfifo', ['-m', '600', fifo]);
      fifoFd = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      // Does not block: the FIFO has a reader.
      outFd = openSync(fifo, 'w');
    } catch (e) {
      if (fifoFd !== undefined) closeSync(fifoFd);
      abandon();
      throw new InputError(`cannot create a FIFO in ${tmp} for bpftrace's output (${(e as NodeJS.ErrnoException).code ?? 'mkfifo failed'})`);
    }
  }
  const child = spawn(bpftrace, args, { env: { ...process.env, ...env }, stdio: ['ignore', outFd, 'pipe'] });
  // bpftrace holds its own copy: the FIFO's end of file comes when bpftrace has exited.
  if (typeof outFd === 'number' && outFd !== fd) closeSync(outFd);
  const pid = child.pid ?? -1;
  hooks.onSpawn?.(pid);

  let carry = '';
  // Windows mode: zero lines, duplicates and exit-time state maps are dropped (windows-filter.ts).
  const winFilter = o.mode === 'windows' ? new WindowsFilter(o.format === 'json') : undefined;
  let writeError: NodeJS.ErrnoException | undefined;
  let startNs: string | undefined;
  let stopNs: string | undefined;
  let before: CounterSnapshot | undefined;
  let after: CounterSnapshot | undefined;
  // Per program id, the highest count seen: programs are closed one by one at exit, so a late
  // sample may see only some of them.
  const progMisses = new Map<number, number>();
  let interrupted = false;
  let missesTimer: NodeJS.Timeout | undefined;
  let afterTimer: NodeJS.Timeout | undefined;
  const stderrLost: string[] = [];
  let stderrCarry = '';
  const stderrTail: string[] = [];

  const write = (raw: string): void => {
    const s = winFilter ? winFilter.filter(raw) : raw;
    if (writeError || s.length === 0) return;
    try {
      writeSync(fd, s);
    } catch (e) {
      // Disk full or I/O error: stop bpftrace; the file keeps its .partial name.
      writeError = e as NodeJS.ErrnoException;
      child.kill('SIGINT');
    }
  };
  /**
   * A timed capture's after counters, read AFTER_LEAD_NS before the script's own exit is due
   * (its interval probe fires durationS after BEGIN), while bpftrace still reads its buffers:
   * at exit it stops reading hundreds of ms before END prints the stop mark (docs/capture.md,
   * "Where the probed span ends"), and a block read when the mark arrived counted the softirqs
   * of that unread tail: 19% of cpu0's NET_RX between the blocks on a 3 s capture with traffic
   * running (docs/capture-format.md, "The unread tail and the after block"). capture.sh's
   * watcher does the same. Late (bpftrace gone) or untimed: read at the stop mark or the end.
   */
  const armAfter = (): void => {
    // startNs is the mark's digits (or undefined), as parsed where the mark is found.
    if (!(o.durationS > 0) || startNs === undefined) return;
    const due = BigInt(startNs) + BigInt(o.durationS) * 1_000_000_000n - AFTER_LEAD_NS;
    afterTimer = setTimeout(
      () => {
        afterTimer = undefined;
        if (after === undefined && child.exitCode === null && child.signalCode === null) after = readCounters();
      },
      Math.max(0, Number(due - bootNsNow()) / 1e6),
    );
  };
  const sampleMisses = (): void => {
    const m = readBpfMisses(pid);
    for (const [id, n] of m?.progs ?? []) progMisses.set(id, Math.max(n, progMisses.get(id) ?? 0));
  };

  // A capture is never silently empty (capture.sh does the same from the file): whether any
  // poll of the filter's devices was recorded, and which devices were polled but left out.
  const filtered = o.devices.split(',').every((p) => p !== '*');
  const tracedRe = tracedPollPattern(o.mode);
  let traced = false;
  const untraced = new Set<string>();
  const scanFilter = (text: string): void => {
    if (!filtered) return;
    if (!traced && tracedRe.test(text)) traced = true;
    if (!text.includes('@untraced')) return;
    for (const m of text.matchAll(/^@untraced\[\d+, (.{1,64})\]: 1$/gm)) untraced.add(m[1]!);
    for (const l of text.split('\n')) {
      if (l.includes('"@untraced"')) for (const m of l.matchAll(/"\d+,([^"]{1,64})": 1/g)) untraced.add(m[1]!);
    }
  };

  // Events mode, once bpftrace has ended: the evidence onLines takes from the pipe, read from the
  // file. Whether the filter's devices were polled: from the start until the first such poll (to
  // the end only when there is none, as capture.sh's grep does); the stop mark and `@untraced`,
  // printed by END: from the last MiB.
  const scanWritten = (): void => {
    const rfd = openSync(partial, 'r');
    try {
      const size = fstatSync(rfd).size;
      const buf = Buffer.alloc(Math.min(TAIL_SCAN_BYTES, Math.max(0, size - headerEnd)));
      // Whole lines from a byte offset (a full buffer ends at its last newline).
      const lines = (from: number): { text: string; next: number } => {
        const n = readSync(rfd, buf, 0, buf.length, from);
        const end = n < buf.length ? n : buf.lastIndexOf(10, n - 1) + 1;
        return { text: buf.toString('utf8', 0, end), next: from + end };
      };
      for (let at = headerEnd; filtered && !traced && at < size;) {
        const { text, next } = lines(at);
        if (next === at) break;
        if (tracedRe.test(text)) traced = true;
        at = next;
      }
      const tailFrom = Math.max(headerEnd, size - buf.length);
      let { text } = lines(tailFrom);
      // From the first whole line of the tail.
      if (tailFrom > headerEnd) text = text.slice(text.indexOf('\n') + 1);
      scanFilter(text);
      const i = text.indexOf(STOP_MARK);
      if (i >= 0) stopNs = /^(\d+)/.exec(text.slice(i + STOP_MARK.length))?.[1];
    } finally {
      closeSync(rfd);
    }
  };

  const onLines = (text: string): void => {
    scanFilter(text);
    // text holds whole lines only. Marks are rare: a cheap indexOf skips all other chunks.
    if (startNs === undefined) {
      const i = text.indexOf(START_MARK);
      if (i >= 0) {
        const nl = text.indexOf('\n', i);
        startNs = /^(\d+)/.exec(text.slice(i + START_MARK.length))?.[1];
        before = readCounters();
        armAfter();
        write(text.slice(0, nl + 1));
        const block = formatHeaderLines({ ...header, devices: [], countersBefore: before });
        write(block.slice(block.findIndex((l) => l.startsWith('#@counters'))).join('\n') + '\n');
        text = text.slice(nl + 1);
        sampleMisses();
        missesTimer = setInterval(sampleMisses, MISSES_POLL_MS);
        if (startNs !== undefined) hooks.onProbesStart?.(BigInt(startNs));
      }
    }
    if (stopNs === undefined) {
      const i = text.indexOf(STOP_MARK);
      if (i >= 0) {
        // Read before anything else, unless read earlier (armAfter): the probes are still attached for a moment.
        if (after === undefined) after = readCounters();
        sampleMisses();
        stopNs = /^(\d+)/.exec(text.slice(i + STOP_MARK.length))?.[1];
      }
    }
    write(text);
  };

  let watchTimer: NodeJS.Timeout | undefined;
  // Windows mode: the FIFO read in turns (see above). A turn takes what the pipe holds (up to its
  // 64 KiB); the next comes 10 ms later until the start mark is seen (the "before" counters wait
  // for it), then after a wait that shrinks as the turns bring more, so the pipe never fills.
  let drainTimer: NodeJS.Timeout | undefined;
  const decoder = new StringDecoder('utf8');
  const readBuf = fifoFd !== undefined ? Buffer.alloc(64 * 1024) : undefined;
  const onChunk = (chunk: string): void => {
    const s = carry + chunk;
    const nl = s.lastIndexOf('\n');
    if (nl < 0) {
      carry = s;
      return;
    }
    carry = s.slice(nl + 1);
    onLines(s.slice(0, nl + 1));
  };
  /** Reads the FIFO until it is empty (or at its end); the number of bytes read. */
  const drainFifo = (): number => {
    if (fifoFd === undefined || !readBuf) return 0;
    let total = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fifoFd, readBuf, 0, readBuf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return total;
        throw e;
      }
      if (n === 0) return total;
      total += n;
      onChunk(decoder.write(readBuf.subarray(0, n)));
    }
  };
  if (fifoFd !== undefined) {
    const turn = (): void => {
      drainTimer = undefined;
      const n = drainFifo();
      drainTimer = setTimeout(turn, startNs === undefined ? 10 : drainWaitMs(n));
    };
    drainTimer = setTimeout(turn, 10);
  } else {
    // Events mode: the start mark is looked for in the file bpftrace writes, every 20 ms from the
    // end of the header (it comes first, after bpftrace's "Attaching" line and the 8 KiB pad).
    let rfd: number | undefined = openSync(partial, 'r');
    const buf = Buffer.alloc(START_SCAN_BYTES);
    const watch = (): void => {
      watchTimer = undefined;
      if (rfd === undefined) return;
      const n = readSync(rfd, buf, 0, buf.length, headerEnd);
      const text = buf.toString('utf8', 0, n);
      const i = text.indexOf(START_MARK);
      if (i >= 0 && text.indexOf('\n', i) > 0) {
        closeSync(rfd);
        rfd = undefined;
        startNs = /^(\d+)/.exec(text.slice(i + START_MARK.length))?.[1];
        before = readCounters();
        armAfter();
        sampleMisses();
        missesTimer = setInterval(sampleMisses, MISSES_POLL_MS);
        if (startNs !== undefined) hooks.onProbesStart?.(BigInt(startNs));
        return;
      }
      watchTimer = setTimeout(watch, START_POLL_MS);
    };
    watchTimer = setTimeout(watch, START_POLL_MS);
    child.on('close', () => {
      if (watchTimer) clearTimeout(watchTimer);
      watch();
      if (watchTimer) clearTimeout(watchTimer);
      if (rfd !== undefined) closeSync(rfd);
      rfd = undefined;
    });
  }
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const s = stderrCarry + chunk;
    const lines = s.split('\n');
    stderrCarry = lines.pop() ?? '';
    for (const l of lines) {
      if (/^Lost \d+ events/.test(l)) stderrLost.push(l);
      else if (l.trim() !== '' && !harmlessBpftraceMessage(l)) {
        hooks.onMessage?.(l);
        stderrTail.push(l);
        if (stderrTail.length > 20) stderrTail.shift();
      }
    }
  });

  const onAbort = (): void => {
    interrupted = true;
    if (startNs !== undefined) sampleMisses();
    // The after counters while bpftrace still reads (see armAfter).
    if (startNs !== undefined && after === undefined) after = readCounters();
    child.kill('SIGINT');
  };
  if (hooks.signal?.aborted) onAbort();
  hooks.signal?.addEventListener('abort', onAbort, { once: true });

  const exit = await new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((res) => {
    let done = false;
    const finish = (code: number | null, sig: NodeJS.Signals | null): void => {
      if (!done) {
        done = true;
        res({ code, sig });
      }
    };
    child.on('close', finish);
    child.on('error', (e) => {
      stderrTail.push(String(e.message));
      finish(127, null);
    });
  });
  hooks.signal?.removeEventListener('abort', onAbort);
  if (missesTimer) clearInterval(missesTimer);
  if (afterTimer) clearTimeout(afterTimer);
  if (drainTimer) clearTimeout(drainTimer);
  if (fifoFd !== undefined) {
    drainFifo();
    onChunk(decoder.end());
    closeSync(fifoFd);
  }
  rmSync(tmp, { recursive: true, force: true });
  if (carry !== '') onLines(carry + '\n');
  if (direct) scanWritten();

  const misses = {
    progIds: [...progMisses.keys()].sort((a, b) => a - b),
    recursionMisses: [...progMisses.values()].reduce((a, b) => a + b, 0),
  };
  const lostStderr = stderrLost.reduce((s, l) => s + Number(/^Lost (\d+)/.exec(l)?.[1] ?? 0), 0);
  if (exit.code !== 0 || writeError) {
    closeSync(fd);
    const why = writeError
      ? `cannot write ${partial} (${writeError.code ?? 'error'}: disk full?)`
      : `bpftrace ended abnormally (${exit.sig ? `signal ${exit.sig}` : `exit ${exit.code}`})${stderrTail.length ? `: ${stderrTail.slice(-3).join(' | ')}` : ''}`;
    if (startNs === undefined && !writeError) {
      unlinkSync(partial);
      throw new InputError(`${why}; nothing captured`, undefined, undefined, 1);
    }
    throw new InputError(`${why}; the capture is incomplete, left as ${partial}`, undefined, undefined, 1);
  }
  if (after === undefined) after = readCounters();
  const trailer: string[] = [...stderrLost];
  if (direct && before) {
    // Not written after the start mark as from the pipe: bpftrace owns the file while it runs.
    const block = formatHeaderLines({ ...header, devices: [], countersBefore: before });
    trailer.push(...block.slice(block.findIndex((l) => l.startsWith('#@counters'))));
  }
  const untracedDevices = [...untraced].sort();
  if (filtered) {
    trailer.push(`#@devices_matched ${traced ? 1 : 0}`);
    if (untracedDevices.length > 0) trailer.push(`#@devices_untraced ${untracedDevices.join(',')}`);
  }
  trailer.push(`#@bpf_prog_ids ${misses.progIds.length ? misses.progIds.join(',') : '-'}`);
  trailer.push(`#@recursion_misses ${misses.recursionMisses}`);
  if (misses.recursionMisses > 0) {
    // Events the kernel skipped are lost events too (docs/capture-format.md).
    trailer.push(o.format === 'json' ? `{"type": "lost_events", "data": {"events": ${misses.recursionMisses}}}` : `Lost ${misses.recursionMisses} events`);
  }
  const status = interrupted ? 'interrupted' : 'complete';
  trailer.push(...formatTrailerLines({ ...header, countersAfter: after, endWall: wallNow(), endBootNs: bootNsNow().toString(), status }).filter((l) => !l.startsWith('#@probes_')));
  try {
    writeSync(fd, trailer.join('\n') + '\n');
    closeSync(fd);
  } catch (e) {
    throw new InputError(`cannot write the trailer (${(e as NodeJS.ErrnoException).code ?? 'error'}: disk full?); the capture is incomplete, left as ${partial}`, undefined, undefined, 1);
  }
  renameSync(partial, o.output);
  return {
    output: o.output,
    status,
    ...(startNs !== undefined ? { probesStartBootNs: startNs } : {}),
    ...(stopNs !== undefined ? { probesStopBootNs: stopNs } : {}),
    ...(before ? { countersBefore: before } : {}),
    countersAfter: after,
    lostEventsStderr: lostStderr,
    recursionMisses: misses.recursionMisses,
    progIds: misses.progIds,
    bpftracePid: pid,
    ...(filtered ? { devicesMatched: traced } : {}),
    untracedDevices,
  };
}
