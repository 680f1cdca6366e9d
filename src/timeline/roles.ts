import { BACKLOG_DEVICE, deviceGlob } from '../model/devices.js';
import type { Timeline } from './types.js';

/** A NAPI is a tunnel's (what the findings are about) or another NAPI (counted as load only). */
export type NapiRole = 'tunnel' | 'other';

/**
 * Tunnel or other NAPI, per NAPI index (docs/findings.md, "Tunnels and other NAPIs"). A
 * tunnel: its device is WireGuard (the header's kind, or wg-crypt work queued for it), or
 * matches `--tunnels`; without `--tunnels`, a virtual device the capture's `--devices` glob
 * selected (testbed veth pairs). Never the per-CPU backlog NAPI or a NIC queue.
 */
export function napiRoles(t: Timeline, tunnelsGlob?: string): { role: NapiRole; roleReason: string }[] {
  const h = t.capture.header;
  const tunnels = tunnelsGlob !== undefined ? deviceGlob(tunnelsGlob) : undefined;
  // The capture's --devices glob. Without it, the capture's default (wg*) stands in, and a
  // header without it (older captures) is taken to have selected every virtual device it describes.
  const wg = deviceGlob('wg*');
  const devicesGlob = h?.devicesGlob !== undefined ? deviceGlob(h.devicesGlob) : (d: string): boolean => wg(d) || (h?.devices.some((x) => x.name === d && x.kind !== 'physical') ?? false);
  return t.napis.map((n) => napiRole(t, n.dev, h?.devices.find((d) => d.name === n.dev)?.kind, tunnels, devicesGlob));
}

/**
 * Tunnel or other NAPI. A tunnel: its device is WireGuard (the header's kind, or wg-crypt work
 * queued for it), or matches `--tunnels`; without `--tunnels`, a virtual device the capture's
 * `--devices` glob selected (testbed veth pairs). Never the per-CPU backlog NAPI or a NIC queue.
 */
function napiRole(
  t: Timeline,
  dev: string,
  kind: string | undefined,
  tunnels: ((d: string) => boolean) | undefined,
  devicesGlob: ((d: string) => boolean) | undefined,
): { role: NapiRole; roleReason: string } {
  if (dev === BACKLOG_DEVICE) return { role: 'other', roleReason: 'the per-CPU backlog NAPI (no device)' };
  if (kind === 'physical') return { role: 'other', roleReason: 'a NIC queue (kind=physical)' };
  if (kind === 'wireguard') return { role: 'tunnel', roleReason: 'WireGuard (kind=wireguard)' };
  const d = t.devices.get(dev);
  if (d !== undefined && (d.cryptBusyByCpu.size > 0 || d.queueWorkByCpu.size > 0)) return { role: 'tunnel', roleReason: 'WireGuard (wg-crypt work)' };
  if (tunnels !== undefined) return tunnels(dev) ? { role: 'tunnel', roleReason: 'matches --tunnels' } : { role: 'other', roleReason: 'does not match --tunnels' };
  if (devicesGlob !== undefined) {
    return devicesGlob(dev) ? { role: 'tunnel', roleReason: `a virtual device the capture's --devices selected` } : { role: 'other', roleReason: "not selected by the capture's --devices" };
  }
  return { role: 'other', roleReason: 'no WireGuard evidence (name it with --tunnels)' };
}
