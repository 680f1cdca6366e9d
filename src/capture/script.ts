import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../base/diagnostics.js';

/**
 * The bundled bpftrace scripts. One generator (bpftrace-scripts/gen-script.sh, POSIX sh) fills
 * the templates for the bpftrace version and kernel at hand, for capture.sh and for
 * `wgtrace capture` alike, so both run exactly the same program.
 */

/** bpftrace-scripts/ of this package, from src/capture/ or dist/capture/. */
export function scriptsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = resolve(here, '..', '..', 'bpftrace-scripts');
  if (!existsSync(join(dir, 'gen-script.sh'))) throw new InputError(`bundled scripts not found in ${dir}`);
  return dir;
}

export interface ScriptRequest {
  mode: 'events' | 'windows';
  devices: string;
  intervalMs: number;
  durationS: number;
  cpus: number;
  maxTunnels?: number;
  /** Events mode: also record irq:softirq_raise (`SR`). */
  withRaise?: boolean;
  /** Defaults to the installed bpftrace's version (gen-script.sh asks `bpftrace --version`). */
  bpftraceVersion?: string;
  /** Extra environment for the generator (tests: WGTRACE_TRACEFS, WGTRACE_KALLSYMS, WGTRACE_WG_FUNCS). */
  env?: Record<string, string>;
}

function genArgs(r: ScriptRequest): string[] {
  const a = ['--mode', r.mode, '--devices', r.devices, '--interval', String(r.intervalMs), '--duration', String(r.durationS), '--cpus', String(r.cpus)];
  if (r.maxTunnels !== undefined) a.push('--max-tunnels', String(r.maxTunnels));
  if (r.withRaise) a.push('--with-raise');
  if (r.bpftraceVersion !== undefined) a.push('--bpftrace-version', r.bpftraceVersion);
  return a;
}

function runGen(r: ScriptRequest, extra: string[]): string {
  try {
    return execFileSync('sh', [join(scriptsDir(), 'gen-script.sh'), ...genArgs(r), ...extra], {
      encoding: 'utf8',
      env: { ...process.env, ...r.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const msg = (err.stderr ?? '').trim().replace(/^gen-script\.sh: /, '') || err.message;
    throw new InputError(msg);
  }
}

/** The bpftrace program text. */
export function generateScript(r: ScriptRequest): string {
  return runGen(r, []);
}

/** Environment bpftrace must run with (0.17 reads map size and string length from it). */
export function scriptEnv(r: ScriptRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of runGen(r, ['--print-env']).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
