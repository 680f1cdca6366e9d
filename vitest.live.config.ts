import { defineConfig } from 'vitest/config';

// Live tests capture real kernel events on network namespaces this run creates (as root).
export default defineConfig({
  test: {
    include: ['test/live/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    sequence: { concurrent: false },
    // The machines are shared and noisy: a live test whose traffic or bpftrace start-up was
    // starved by another job gets one more try. The assertions themselves are unchanged, and
    // vitest reports every retried test.
    retry: 1,
  },
});
