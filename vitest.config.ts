import { defineConfig } from 'vitest/config';

// Two projects: 'unit' (pure code and loopback-only sockets) and 'lab' (everything that sends
// packets beyond loopback: it runs only inside the cctvlab-* network namespaces that
// tests/integration/global-setup.ts brings up with scripts/lab.sh and removes afterwards).
// Both first rebuild dist/ when it is older than agent/ (tests/support/build-cli.ts): tests that
// run the CLI as a child process must never run old code.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts', 'tests/fuzz/**/*.test.ts'],
          globalSetup: ['tests/support/build-cli.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['tests/integration/**/*.test.ts'],
          globalSetup: ['tests/support/build-cli.ts', 'tests/integration/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
