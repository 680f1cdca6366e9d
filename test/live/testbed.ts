import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticLog } from '../../src/base/diagnostics.js';
import { runCapture, type CaptureOptions, type CaptureResult } from '../../src/capture/run.js';
import { importCapture } from '../../src/import/index.js';
import type { TraceEvent } from '../../src/model/events.js';
import type { CaptureHeader } from '../../src/model/header.js';
import type { ImportSummary } from '../../src/import/types.js';

/**
 * Reusable live-test API (issue 2; analyze/replay proofs reuse it): the netns/veth testbed of
 * test/live/testbed.sh, captures with the bundled scripts through either wrapper, and loading
 * a capture with the real importer.
 *
 *   await withTestbed({ pairs: 3, threaded: false }, async (tb) => {
 *     const cap = await captureLive({ mode: 'events', devices: 'vb*', duration: 4, netns: tb.netns,
 *       onProbesStart: () => tb.traffic(3) });
 *     const { events, header } = await loadCapture(cap.path);
 *   });
 */

export const ROOT = join(import.meta.dirname, '..', '..');
export const TESTBED_SH = join(ROOT, 'test', 'live', 'testbed.sh');
export const CAPTURE_SH = join(ROOT, 'bpftrace-scripts', 'capture.sh');

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether live tests can run here, and if not, why (printed by the tests that skip). */
export function liveGate(): { ok: boolean; reason: string } {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const c of ['bpftrace', 'iperf3', 'ethtool', 'ip']) if (!have(c)) missing.push(c);
  if (missing.length > 0) return { ok: false, reason: `needs ${missing.join(', ')}` };
  return { ok: true, reason: 'root, bpftrace, iperf3, ethtool and ip present' };
}

export interface TestbedOptions {
  pairs: 1 | 2 | 3 | 4;
  threaded: boolean;
  /** Namespace prefix; `<prefix>a` sends, `<prefix>b` receives. */
  prefix?: string;
  /**
   * Device name prefix D: sender devices `<D>a<i>`, receivers `<D>b<i>` (default `v`: va0, vb0).
   * napi:napi_poll is global: testbeds up at the same time need different values.
   */
  devPrefix?: string;
}

export interface Testbed {
  pairs: number;
  threaded: boolean;
  /** Namespaces to describe in capture headers. */
  netns: string[];
  receiverNs: string;
  senderNs: string;
  /** Receiving devices (`<D>b0`..), whose NAPIs the flows exercise, and a --devices glob for them. */
  receivers: string[];
  devices: string;
  /** Starts one iperf3 flow per pair for `seconds` (bounded by iperf3 -t and timeout(1)). */
  traffic(seconds: number): Promise<void>;
}

function sh(args: string[]): string {
  return execFileSync('sh', [TESTBED_SH, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Builds the testbed, runs fn, and always removes the namespaces (also on exit signals). */
export async function withTestbed<T>(o: TestbedOptions, fn: (tb: Testbed) => Promise<T>): Promise<T> {
  const prefix = o.prefix ?? 'wgt';
  const dev = o.devPrefix ?? 'v';
  const base = ['--pairs', String(o.pairs), '--prefix', prefix, '--dev-prefix', dev];
  const kids = new Set<ChildProcess>();
  const down = (): void => {
    for (const k of kids) k.kill('SIGKILL');
    try {
      sh(['down', '--prefix', prefix, '--dev-prefix', dev]);
    } catch {
      /* best effort */
    }
  };
  process.once('exit', down);
  try {
    sh(['up', ...base, '--threaded', o.threaded ? '1' : '0']);
    const tb: Testbed = {
      pairs: o.pairs,
      threaded: o.threaded,
      netns: [`${prefix}b`, `${prefix}a`],
      receiverNs: `${prefix}b`,
      senderNs: `${prefix}a`,
      receivers: Array.from({ length: o.pairs }, (_, i) => `${dev}b${i}`),
      devices: `${dev}b*`,
      traffic: (seconds) =>
        new Promise((res, rej) => {
          const k = spawn('sh', [TESTBED_SH, 'traffic', ...base, '--seconds', String(seconds)], { stdio: 'ignore' });
          kids.add(k);
          k.on('close', (code) => {
            kids.delete(k);
            if (code === 0) res();
            else rej(new Error(`iperf3 traffic failed (exit ${code})`));
          });
        }),
    };
    return await fn(tb);
  } finally {
    down();
    process.off('exit', down);
  }
}

export interface LiveCaptureOptions {
  mode: 'events' | 'windows';
  devices?: string;
  duration: number;
  interval?: number;
  path: string;
  netns?: string[];
  format?: 'text' | 'json';
  /** 'node' runs src/capture in this process; 'sh' spawns bpftrace-scripts/capture.sh. */
  wrapper?: 'node' | 'sh';
  onProbesStart?: () => void;
  signal?: AbortSignal;
  onSpawn?: (pid: number) => void;
  genEnv?: Record<string, string>;
}

export interface LiveCapture {
  path: string;
  result?: CaptureResult;
  /** capture.sh's exit code and stderr. */
  exitCode?: number;
  stderr?: string;
}

/** A capture with the bundled scripts, Node or sh wrapper. */
export async function captureLive(o: LiveCaptureOptions): Promise<LiveCapture> {
  const devices = o.devices ?? 'vb*';
  if ((o.wrapper ?? 'node') === 'node') {
    const opts: CaptureOptions = {
      mode: o.mode,
      durationS: o.duration,
      devices,
      intervalMs: o.interval ?? 10,
      output: o.path,
      force: true,
      format: o.format ?? 'text',
      netns: o.netns ?? [],
      toolVersion: 'live-test',
      // The version matrix (.ci/run) runs every live test once per bpftrace.
      ...(process.env['WGTRACE_BPFTRACE'] ? { bpftrace: process.env['WGTRACE_BPFTRACE'] } : {}),
    };
    const result = await runCapture(opts, {
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProbesStart ? { onProbesStart: o.onProbesStart } : {}),
      ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}),
      ...(o.genEnv ? { genEnv: o.genEnv } : {}),
    });
    return { path: o.path, result };
  }
  const args = [CAPTURE_SH, '--mode', o.mode, '--duration', String(o.duration), '--devices', devices, '--interval', String(o.interval ?? 10), '-o', o.path, '--force', '--format', o.format ?? 'text'];
  for (const ns of o.netns ?? []) args.push('--netns', ns);
  return new Promise((res) => {
    const k = spawn('dash', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...o.genEnv } });
    let err = '';
    k.stderr.setEncoding('utf8');
    k.stderr.on('data', (d: string) => (err += d));
    // capture.sh has no hook: watch its .partial for the BEGIN mark.
    let started = false;
    const poll = setInterval(() => {
      if (started || !o.onProbesStart) return;
      try {
        const t = execFileSync('head', ['-c', '262144', `${o.path}.partial`], { encoding: 'utf8' });
        if (t.includes('#@probes_start_boot_ns')) {
          started = true;
          o.onProbesStart();
        }
      } catch {
        /* not there yet */
      }
    }, 50);
    o.signal?.addEventListener('abort', () => k.kill('SIGINT'), { once: true });
    k.on('close', (code) => {
      clearInterval(poll);
      res({ path: existsSync(o.path) ? o.path : `${o.path}.partial`, exitCode: code ?? -1, stderr: err });
    });
  });
}

export interface LoadedCapture {
  events: TraceEvent[];
  header?: CaptureHeader | undefined;
  summary: ImportSummary;
  diagnostics: DiagnosticLog;
}

/** A capture through the real importer (src/import/index.ts). */
export async function loadCapture(path: string): Promise<LoadedCapture> {
  const events: TraceEvent[] = [];
  let header: CaptureHeader | undefined;
  const { summary, diagnostics } = await importCapture(path, {
    onEvents: (b) => {
      for (const e of b) events.push(e);
    },
    onHeader: (h) => (header = h),
  });
  return { events, header: summary.header ?? header, summary, diagnostics };
}

/** Absolute boot ns of an event `ts` (relative to the import origin). */
export function bootOf(summary: ImportSummary, ts: number): bigint {
  return summary.origin + BigInt(ts);
}

/** Program ids still loaded in the kernel, from `bpftool prog show` (or [] if bpftool is missing). */
export function loadedProgIds(): number[] {
  try {
    const out = execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
    return (JSON.parse(out) as Array<{ id: number }>).map((p) => p.id);
  } catch {
    return [];
  }
}

/** Live processes named bpftrace. */
export function bpftracePids(): number[] {
  try {
    return execFileSync('pgrep', ['-x', 'bpftrace'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
