import { describe, expect, it } from 'vitest';
import { releaseGarbage } from '../../src/cli/memory.js';

describe('releaseGarbage', () => {
  it('runs a full collection: garbage promoted to the old generation is freed', () => {
    // Objects that survive two scavenges are promoted; dropping them leaves old-space garbage
    // that only a full collection frees.
    let keep: { a: number[] }[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ a: [i, i + 1, i + 2] }));
    releaseGarbage();
    const withGarbage = process.memoryUsage().heapUsed;
    expect(keep.length).toBe(200_000);
    keep = undefined;
    releaseGarbage();
    const after = process.memoryUsage().heapUsed;
    // 200,000 objects with their arrays are about 10 MB; most of it must be gone.
    expect(withGarbage - after).toBeGreaterThan(5_000_000);
  });
});
