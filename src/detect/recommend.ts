import type { Recommendation } from './finding.js';
import type { PollMode } from './facts.js';
import { list } from './format.js';

/**
 * Recommendations shared by detectors. The workaround for polls pinned together is threaded
 * NAPI: each NAPI instance then runs in its own kthread `napi/<dev>-<id>` that the scheduler can
 * migrate (net/core/dev.c: napi_threaded_poll; drivers/net/wireguard/device.c enables it by
 * default since 6.16). The flag is per device and read from the capture header, never assumed.
 */
export interface DevFlag {
  dev: string;
  /** Device kind from the header (wireguard, veth, ...), when recorded. */
  kind?: string;
  /**
   * Threaded NAPI on (1) or off (0): read from the polls (napi/ kthread or softirq) when the
   * capture shows where they ran, else /sys/class/net/<dev>/threaded from the header.
   */
  threaded?: number;
  /** The network namespace the device lives in (the header's `netns=`), when not the root one. */
  netns?: string;
}

/** A device or namespace name as a shell word: bare when it is plain, else single-quoted. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_.:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that turns threaded NAPI on for one device, valid shell for it: sysfs shows a
 * device only inside its own network namespace (net/core/net-sysfs.c: the class is per netns).
 */
export function threadedCommand(d: DevFlag): string {
  const write = `echo 1 > /sys/class/net/${shellWord(d.dev)}/threaded`;
  return d.netns !== undefined && d.netns !== '' ? `ip netns exec ${shellWord(d.netns)} sh -c ${shellWord(write)}` : write;
}

/**
 * `cores`: the online CPUs, so that the advice never asks for one core per thread when there
 * are more threads than cores.
 */
export function threadedNapiAdvice(devs: readonly DevFlag[], mode: PollMode, why: string, cores: number): Recommendation {
  const uniq = [...new Map(devs.map((d) => [d.dev, d])).values()].sort((a, b) => (a.dev < b.dev ? -1 : a.dev > b.dev ? 1 : 0));
  const off = uniq.filter((d) => d.threaded !== 1);
  const on = uniq.filter((d) => d.threaded === 1);
  if (mode === 'threaded' || (off.length === 0 && on.length > 0)) {
    const names = list(on.length > 0 ? on.map((d) => d.dev) : uniq.map((d) => d.dev));
    const threads = devs.length;
    const pin =
      threads <= cores
        ? `, or pin them to separate cores (taskset -pc CPU PID); more cores for the receive path also help.`
        : `. ${threads} napi threads cannot each have a core of their own on ${cores} cores: only more cores for the receive path, or fewer tunnels per gateway, would spread them.`;
    return {
      text:
        `Threaded NAPI is already on for ${names}${mode === 'threaded' ? ' and the polls ran in their napi/ threads' : ''}: ` +
        `the scheduler kept them on one core. Check the napi threads' CPU affinity and placement${pin}`,
      commands: ["ps -eLo pid,psr,comm | grep 'napi/'"],
    };
  }
  const unknown = off.filter((d) => d.threaded === undefined).map((d) => d.dev);
  const tail = unknown.length > 0 ? ` (the capture does not record the threaded flag of ${list(unknown)}; check it with cat /sys/class/net/<dev>/threaded)` : '';
  const mixed = on.length > 0 ? ` ${list(on.map((d) => d.dev))} already ${on.length === 1 ? 'has' : 'have'} it on.` : '';
  return {
    text: `Enable threaded NAPI on ${list(off.map((d) => d.dev))} so ${why}: each poll then runs in its own napi/<dev> kthread that the scheduler can move to an idle core${off.some((d) => d.kind === undefined || d.kind === 'wireguard') ? ' (the WireGuard default since Linux 6.16)' : ''}${tail}.${mixed}`,
    commands: off.map(threadedCommand),
  };
}
