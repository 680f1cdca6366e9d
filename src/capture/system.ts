import { readFileSync, readdirSync } from 'node:fs';
import type { CounterSnapshot } from '../model/header.js';

/**
 * What `wgtrace capture` reads from /proc and /sys. Everything takes a root directory so unit
 * tests can point it at a fixture tree.
 */

/**
 * Boot-time nanoseconds on the clock bpftrace's `nsecs` uses: bpf_ktime_get_ns() is
 * CLOCK_MONOTONIC (kernel/bpf/helpers.c), and Node's process.hrtime.bigint() is libuv's
 * uv_hrtime(), clock_gettime(CLOCK_MONOTONIC) on Linux. Exact to the nanosecond.
 */
export function bootNsNow(): bigint {
  return process.hrtime.bigint();
}

/** `/proc/softirqs`: the header row names the CPUs; each row `NAME: v0 v1 ...`. */
export function parseSoftirqs(text: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const parts = lines[i]!.trim().split(/\s+/);
    const name = parts[0];
    if (!name || !name.endsWith(':')) continue;
    out[name.slice(0, -1)] = parts.slice(1).map(Number);
  }
  return out;
}

/**
 * `/proc/net/softnet_stat`: one row of hex columns per online CPU; the CPU id is column 13
 * on 6.x (net/core/net-procfs.c: softnet_seq_show), not the row number (offline CPUs are
 * skipped). Older kernels without that column: the row number.
 */
export function parseSoftnet(text: string): CounterSnapshot['softnet'] {
  const out: CounterSnapshot['softnet'] = {};
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .forEach((l, row) => {
      const c = l
        .trim()
        .split(/\s+/)
        .map((h) => parseInt(h, 16));
      const cpu = c.length >= 13 ? c[12]! : row;
      out[String(cpu)] = { processed: c[0] ?? 0, dropped: c[1] ?? 0, timeSqueeze: c[2] ?? 0 };
    });
  return out;
}

/** `/proc/stat` per-CPU lines `cpuN user nice system idle iowait irq softirq steal ...`. */
export function parseStat(text: string): CounterSnapshot['stat'] {
  const out: CounterSnapshot['stat'] = {};
  for (const l of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(l);
    if (m) out[m[1]!] = m[2]!.trim().split(/\s+/).map(Number);
  }
  return out;
}

/** One snapshot of the per-CPU counters, stamped with the boot ns at which it was read. */
export function readCounters(procRoot = '/proc'): CounterSnapshot {
  const bootNs = bootNsNow();
  // /proc/softirqs first: it is what the live NET_RX agreement test compares against.
  const softirqs = parseSoftirqs(readFileSync(`${procRoot}/softirqs`, 'utf8'));
  const softnet = parseSoftnet(readFileSync(`${procRoot}/net/softnet_stat`, 'utf8'));
  const stat = parseStat(readFileSync(`${procRoot}/stat`, 'utf8'));
  return { bootNs: bootNs.toString(), softirqs, softnet, stat };
}

/** Online CPUs in cpulist syntax, e.g. `0-3,8-11` (/sys/devices/system/cpu/online). */
export function readOnlineCpus(sysRoot = '/sys'): string {
  return readFileSync(`${sysRoot}/devices/system/cpu/online`, 'utf8').trim();
}

export interface BpfMisses {
  /** Program id -> runs the kernel skipped because another BPF program was active on that CPU. */
  progs: Map<number, number>;
}

/**
 * Skipped BPF runs of a process's programs: a tracepoint program does not run while another
 * BPF program is running on that CPU (kernel/trace/bpf_trace.c: trace_call_bpf ->
 * bpf_prog_inc_misses_counter), and nothing tells bpftrace. /proc/<pid>/fdinfo of each BPF
 * program fd has `prog_id` and `recursion_misses` (kernel/bpf/syscall.c:
 * bpf_prog_show_fdinfo, 5.12+). Undefined when the process is gone.
 */
export function readBpfMisses(pid: number, procRoot = '/proc'): BpfMisses | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`${procRoot}/${pid}/fdinfo`);
  } catch {
    return undefined;
  }
  const progs = new Map<number, number>();
  for (const fd of fds) {
    let t: string;
    try {
      t = readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const id = /^prog_id:\s+(\d+)/m.exec(t);
    if (!id) continue;
    const m = /^recursion_misses:\s+(\d+)/m.exec(t);
    progs.set(Number(id[1]), m ? Number(m[1]) : 0);
  }
  return { progs };
}
