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
        test: { name: 'default', include: ['test/**/*.test.ts'], exclude: ['test/faults/**'] },
      },
      {
        // Slow fault tests (crashes, outages, failover, load), kept out of `npm test`.
        extends: true,
        test: { name: 'faults', include: ['test/faults/**/*.test.ts'], testTimeout: 900_000, maxWorkers: 1 },
      },
    ],
  },
});
