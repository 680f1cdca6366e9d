import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full collection between a command's phases. Loading a capture leaves the old generation
 * full of garbage (the importer's promoted event objects, the grid's pages freed by the
 * extraction), and V8 runs its next full collection only when the heap reaches a limit it
 * set from the last one; a phase after the load that allocates little on the JS heap (the
 * detectors' typed columns) lets the next phase's garbage pile on top of the load's. Measured
 * on the stock synthetic capture of 1,024 tunnels x 128 cores (bench/README.md, scaling,
 * "Eighth round"): `analyze --json` peaked at 474-526 MB without it, 399-408 MB with it, for
 * 0.2-0.4 s more CPU (about 4%). `analyze` runs it three times: during the assembly
 * (LoadTimelineOptions.collect: the import's and the fold's garbage, before the NAPIs' series
 * are made), after the load, and once the timeline is dropped, before the output is written
 * (the timeline's 75 MB of heap and 70 MB of arrays on that capture). One more before the
 * assembly, and one between the detectors and the what-if, each took a few MB more off the
 * peak for 5-10% more CPU: not kept (bench/README.md, "Peak RSS at 1 024 x 128, the fold's
 * garbage").
 *
 * `gc` is V8's own (`--expose-gc`), taken from a fresh context after the flag is set, so the
 * CLI needs no node flag; where the flag cannot be set the call does nothing.
 */
let gc: (() => void) | undefined | null = null;

export function releaseGarbage(): void {
  if (gc === null) {
    try {
      setFlagsFromString('--expose-gc');
      const f: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
      gc = typeof f === 'function' ? (f as () => void) : undefined;
    } catch {
      gc = undefined;
    }
  }
  gc?.();
}
