import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The unprivileged pass (uid 65534) cannot write node_modules/.vite.
  cacheDir: path.join(os.tmpdir(), `nsbox-vitest-cache-${process.getuid?.() ?? 'x'}`),
  test: {
    pool: 'forks',
    include: ['test/unit/**/*.test.ts', 'test/kernel/**/*.test.ts', 'test/cgroup/**/*.test.ts', 'test/container/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    setupFiles: ['test/helpers/leaks.ts'],
    globalSetup: ['test/helpers/global-leaks.ts'],
  },
});
