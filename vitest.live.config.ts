import { defineConfig } from 'vitest/config';

// Live tests capture real kernel events on network namespaces this run creates (as root).
export default defineConfig({
  test: {
    include: ['test/live/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
