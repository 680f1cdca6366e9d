/**
 * The windows script's map bound (docs/capture.md, "Map bounds"), computed the way
 * bpftrace-scripts/gen-script.sh sizes the maps, so a test can check that a gateway with many
 * CPUs and tunnels never has a key refused, and what that costs in kernel memory.
 *
 * bpftrace (0.17 and later) gives every map the same max_entries (BPFTRACE_MAP_KEYS_MAX, or
 * `config = { max_map_keys }`), and creates plain BPF hash maps preallocated
 * (kernel/bpf/hashtab.c: htab_map_alloc without BPF_F_NO_PREALLOC): memory is paid up front,
 * so it must be bounded, and a full map refuses new keys silently (bpftrace #2809).
 */

import { WINDOW_MAPS } from './windows-filter.js';

/** gen-script.sh: `[ "$MAP_KEYS" -ge 4096 ] || MAP_KEYS=4096` (bpftrace's own default). */
export const MIN_MAP_KEYS = 4096;
/** gen-script.sh --max-tunnels default: NAPI instances each CPU may poll within one window. */
export const DEFAULT_MAX_TUNNELS = 1024;
/**
 * Bytes per preallocated hash entry beyond key and value, measured on this project's 6.18
 * kernel with `bpftool map show` (memlock / max_entries: key 32 B + value 32 B -> 128 B,
 * key 8 B + value 8 B -> 80 B): struct htab_elem plus the per-element accounting.
 */
export const HASH_ENTRY_OVERHEAD_BYTES = 64;
/**
 * u64 elements of each window map's tuple (bpftrace-scripts/windows.bt.in): bpftrace stores a
 * tuple of n integers in 8n bytes (`bpftool map show`: @napi value 32B, @netrx 32B, @nettx 24B).
 */
const WINDOW_TUPLE_ELEMENTS: Readonly<Record<string, number>> = { '@napi': 4, '@netrx': 4, '@nettx': 3, '@crypt': 2, '@idle': 4, '@untraced': 1 };
/** bpftrace keys: an integer key is 8 bytes; a str() key is the string length set by gen-script.sh. */
const INT_KEY = 8;
/** IFNAMSIZ (include/uapi/linux/if.h): the windows script's BPFTRACE_STRLEN. */
const DEV_STR = 16;
const U64 = 8;

export interface MapShape {
  name: string;
  keyBytes: number;
  valueBytes: number;
  /** Distinct keys one window can need at most. */
  worstKeys: number;
}

export interface MapBound {
  cpus: number;
  tunnels: number;
  maxMapKeys: number;
  maps: MapShape[];
  /** Preallocated kernel memory of all maps. */
  bytes: number;
  /** Every map's worst case fits in maxMapKeys. */
  fits: boolean;
}

/** gen-script.sh's windows-mode max_map_keys for a CPU count and a tunnel budget. */
export function windowsMaxMapKeys(cpus: number, maxTunnels = DEFAULT_MAX_TUNNELS): number {
  return Math.max(MIN_MAP_KEYS, cpus * maxTunnels);
}

/**
 * The maps of bpftrace-scripts/windows.bt.in with their worst case in one window: every NAPI
 * polled on every CPU (a NAPI moves when its poll completes and is rescheduled elsewhere;
 * threaded kthreads migrate), one entry per CPU for the per-CPU maps, and one per kworker
 * (at most one busy crypt kworker per CPU at a time) for @crypt_t.
 */
export function windowsMapBound(cpus: number, tunnels: number, maxTunnels = DEFAULT_MAX_TUNNELS): MapBound {
  const maxMapKeys = windowsMaxMapKeys(cpus, maxTunnels);
  const napiKey = INT_KEY + DEV_STR + INT_KEY; // [cpu, dev, napi]
  // The window maps are the ones the output filter knows (windows-filter.ts: WINDOW_MAPS), so
  // a map added to the script and the filter is counted here too (and must be given its tuple
  // size below): @napi is keyed [cpu, dev, napi], the rest [cpu].
  const windowMaps = [...WINDOW_MAPS].map((name) => {
    const elements = WINDOW_TUPLE_ELEMENTS[name];
    if (elements === undefined) throw new Error(`map-bound: no tuple size for window map ${name}`);
    const napi = name === '@napi';
    // @untraced[cpu, dev]: one per device left out by --devices and CPU it was polled on, set
    // once; bounded like @napi by CPUs x NAPI instances.
    const untraced = name === '@untraced';
    const keyBytes = napi ? napiKey : untraced ? INT_KEY + DEV_STR : INT_KEY;
    return { name, keyBytes, valueBytes: elements * U64, worstKeys: napi || untraced ? cpus * tunnels : cpus };
  });
  // Start-time state: one entry per CPU (@rx_t, @tx_t, @poll_t) or per busy kworker (@crypt_t).
  const perCpu = ['@rx_t', '@tx_t', '@poll_t', '@crypt_t'].map((name) => ({
    name,
    keyBytes: INT_KEY,
    valueBytes: U64,
    worstKeys: cpus,
  }));
  // A key-less map still gets max_entries from bpftrace.
  // @win_t = (last window's end, probes' start).
  const scalar = [{ name: '@win_t', keyBytes: INT_KEY, valueBytes: 2 * U64, worstKeys: 1 }];
  const maps = [...windowMaps, ...perCpu, ...scalar];
  const bytes = maps.reduce((s, m) => s + maxMapKeys * (m.keyBytes + m.valueBytes + HASH_ENTRY_OVERHEAD_BYTES), 0);
  return { cpus, tunnels, maxMapKeys, maps, bytes, fits: maps.every((m) => m.worstKeys <= maxMapKeys) };
}
