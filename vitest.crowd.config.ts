import { defineConfig } from 'vitest/config';

// The crowd (issue 10): a thousand simulated devices, too slow for the CI suite, so a config of its
// own that neither `npm test` nor scripts/test-all.sh loads: `LAB_ID=x sudo npm run test:crowd`.
export default defineConfig({
  test: {
    name: 'crowd',
    include: ['tests/crowd/**/*.test.ts'],
    globalSetup: ['tests/support/build-cli.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
