import { z } from 'zod';

/**
 * The capture header, written before the events by bpftrace-scripts/capture.sh and by
 * `wgtrace capture` as `#@key value` lines (docs/capture-format.md), and the trailer written
 * after them. Everything the analysis cannot learn from events lives here: above all the
 * online CPUs, since idle cores emit nothing yet count.
 */
export const DeviceKind = z.enum(['wireguard', 'veth', 'physical', 'other']);

export const DeviceInfo = z.object({
  name: z.string(),
  kind: DeviceKind,
  /** /sys/class/net/<dev>/threaded: 0, 1, or undefined when unreadable. */
  threaded: z.number().int().optional(),
  /** IRQ numbers of the device's queues, when readable from /proc/interrupts. */
  irqs: z.array(z.number().int()).optional(),
  /** Number of RX queues (/sys/class/net/<dev>/queues/rx-*). */
  rxQueues: z.number().int().optional(),
  /** WireGuard Inline fork knobs, recorded when present (docs/facts.md, "WireGuard Inline knobs"). */
  inlineEn: z.number().int().optional(),
  extra: z.record(z.string(), z.string()).optional(),
});
export type DeviceInfo = z.infer<typeof DeviceInfo>;

/** Per-CPU kernel counters read before and after the capture. */
export const CounterSnapshot = z.object({
  /** When the snapshot was read, boot ns as a decimal string (exact). */
  bootNs: z.string().optional(),
  /** /proc/softirqs: row name (NET_RX, NET_TX, ...) -> per-CPU counts, indexed by CPU. */
  softirqs: z.record(z.string(), z.array(z.number())),
  /** /proc/net/softnet_stat rows keyed by CPU id (column 13 on 6.x, not the row number). */
  softnet: z.record(z.string(), z.object({ processed: z.number(), dropped: z.number(), timeSqueeze: z.number() })),
  /** /proc/stat per-CPU jiffies: cpu -> [user nice system idle iowait irq softirq steal ...]. */
  stat: z.record(z.string(), z.array(z.number())),
});
export type CounterSnapshot = z.infer<typeof CounterSnapshot>;

export const CaptureMode = z.enum(['events', 'windows']);
export type CaptureMode = z.infer<typeof CaptureMode>;

export const CaptureStatus = z.enum(['complete', 'interrupted', 'partial']);
export type CaptureStatus = z.infer<typeof CaptureStatus>;

export const CaptureHeader = z.object({
  formatVersion: z.number().int(),
  toolVersion: z.string().optional(),
  hostname: z.string().optional(),
  kernel: z.string().optional(),
  bpftraceVersion: z.string().optional(),
  /** Online CPUs, from /sys/devices/system/cpu/online. */
  cpus: z.array(z.number().int().nonnegative()),
  mode: CaptureMode,
  intervalNs: z.number().int().positive().optional(),
  devicesGlob: z.string().optional(),
  startWall: z.string().optional(),
  /** Boot-time ns at start, as a decimal string (exact past 2^53). */
  startBootNs: z.string().optional(),
  devices: z.array(DeviceInfo),
  countersBefore: CounterSnapshot.optional(),
  /** Trailer. */
  endWall: z.string().optional(),
  endBootNs: z.string().optional(),
  countersAfter: CounterSnapshot.optional(),
  status: CaptureStatus.optional(),
  /** Marks of when probes were attached and detached (boot ns strings), when the script printed them. */
  probesStartBootNs: z.string().optional(),
  probesStopBootNs: z.string().optional(),
  /**
   * Informative keys the capture wrappers write (docs/capture-format.md: wrapper, duration_s,
   * output_format, map_keys_max, wg_functions_matched, bpf_prog_ids, recursion_misses), kept
   * verbatim so a report can show them.
   */
  extra: z.record(z.string(), z.string()).optional(),
});
export type CaptureHeader = z.infer<typeof CaptureHeader>;
