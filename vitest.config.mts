import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One real mongod (single-node replica set) for the whole run; each test file uses its own database.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: test files that start server processes must not starve each other.
    maxWorkers: 2,
  },
});
