import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One real mongod (single-node replica set) per run; each test file uses its own database.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Two cores: test files that start server processes must not starve each other.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'default', include: ['test/**/*.test.ts'], exclude: ['test/faults/**', 'test/hostile/**'] },
      },
      {
        // Issue 10's attacks against the service as `npm run serve` runs it, one at a time: each
        // measures one process's memory and latency, which a parallel test would disturb.
        extends: true,
        test: {
          name: 'hostile',
          include: ['test/hostile/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts', 'test/hostile/build-setup.ts'],
          maxWorkers: 1,
        },
      },
      {
        // Slow fault tests (crashes, outages, failover, load), kept out of `npm test`.
        extends: true,
        test: { name: 'faults', include: ['test/faults/**/*.test.ts'], testTimeout: 900_000, maxWorkers: 1 },
      },
    ],
  },
});
