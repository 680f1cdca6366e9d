import type { Recommendation, PollMode } from './finding.js';
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
  /** /sys/class/net/<dev>/threaded as recorded in the header, if it was. */
  threaded?: number;
}

export function threadedNapiAdvice(devs: readonly DevFlag[], mode: PollMode, why: string): Recommendation {
  const uniq = [...new Map(devs.map((d) => [d.dev, d])).values()].sort((a, b) => (a.dev < b.dev ? -1 : a.dev > b.dev ? 1 : 0));
  const off = uniq.filter((d) => d.threaded !== 1);
  const on = uniq.filter((d) => d.threaded === 1);
  if (mode === 'threaded' || (off.length === 0 && on.length > 0)) {
    const names = list(on.length > 0 ? on.map((d) => d.dev) : uniq.map((d) => d.dev));
    return {
      text:
        `Threaded NAPI is already on for ${names}${mode === 'threaded' ? ' and the polls ran in their napi/ threads' : ''}: ` +
        `the scheduler kept them on one core. Check the napi threads' CPU affinity and placement, ` +
        `or pin them to separate cores (taskset -pc CPU PID); more cores for the receive path also help.`,
      commands: ["ps -eLo pid,psr,comm | grep 'napi/'"],
    };
  }
  const unknown = off.filter((d) => d.threaded === undefined).map((d) => d.dev);
  const tail =
    unknown.length > 0 ? ` (the capture does not record the threaded flag of ${list(unknown)}; check it with cat /sys/class/net/<dev>/threaded)` : '';
  const mixed = on.length > 0 ? ` ${list(on.map((d) => d.dev))} already ${on.length === 1 ? 'has' : 'have'} it on.` : '';
  return {
    text: `Enable threaded NAPI on ${list(off.map((d) => d.dev))} so ${why}: each poll then runs in its own napi/<dev> kthread that the scheduler can move to an idle core${off.some((d) => d.kind === undefined || d.kind === 'wireguard') ? ' (the WireGuard default since Linux 6.16)' : ''}${tail}.${mixed}`,
    commands: off.map((d) => `echo 1 > /sys/class/net/${d.dev}/threaded`),
  };
}
