import { describe, expect, it } from 'vitest';
import { scriptEnv } from '../../src/capture/script.js';
import { HASH_ENTRY_OVERHEAD_BYTES, windowsMapBound, windowsMaxMapKeys } from '../../src/capture/map-bound.js';

/** Issue 6: the windows script's maps for a 256-CPU gateway with 1000 tunnels. */
describe('windows map bound', () => {
  it('256 CPUs x 1000 tunnels: every map fits, in a bounded amount of kernel memory', () => {
    const b = windowsMapBound(256, 1000);
    // Worst case of one window: every tunnel's NAPI polled on every CPU.
    expect(b.maps.find((m) => m.name === '@napi')?.worstKeys).toBe(256_000);
    expect(b.maxMapKeys).toBe(262_144); // 256 x the default 1024 tunnels
    expect(b.fits).toBe(true);
    // Per entry, key + value + overhead (`bpftool map show` memlock / max_entries on the live
    // script): @napi 32 + 32 (4-tuple), @netrx 8 + 32, @nettx 8 + 24, @crypt 8 + 16, @idle 8 + 32,
    // @untraced [cpu, dev] 24 + 8, four 8 + 8 state maps (@rx_t, @tx_t, @poll_t, @crypt_t) and
    // @win_t 8 + 16 (a 2-tuple).
    const o = HASH_ENTRY_OVERHEAD_BYTES;
    expect(b.bytes).toBe(262_144 * (32 + 32 + o + (8 + 32 + o) + (8 + 24 + o) + (8 + 16 + o) + (8 + 32 + o) + (24 + 8 + o) + 4 * (8 + 8 + o) + (8 + 16 + o)));
    expect(b.bytes / 2 ** 20).toBeLessThan(270); // ~256 MiB, preallocated: docs/capture.md
  });

  it('more tunnels than the budget do not fit, and the generator sizes maps the same way', () => {
    expect(windowsMapBound(256, 2000).fits).toBe(false);
    expect(windowsMapBound(256, 2000, 2048).fits).toBe(true);
    expect(windowsMaxMapKeys(2)).toBe(4096); // bpftrace's default is the floor
    for (const [cpus, tunnels] of [
      [2, 1024],
      [64, 1000],
      [256, 1000],
    ] as const) {
      const env = scriptEnv({ mode: 'windows', devices: 'wg*', intervalMs: 10, durationS: 1, cpus, maxTunnels: tunnels, bpftraceVersion: '0.17' });
      expect(Number(env['BPFTRACE_MAP_KEYS_MAX'])).toBe(windowsMaxMapKeys(cpus, tunnels));
    }
  });
});
