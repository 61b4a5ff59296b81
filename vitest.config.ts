import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests each create their own database prefix, so files may run in parallel.
    pool: 'forks',
    maxWorkers: 2,
  },
});
