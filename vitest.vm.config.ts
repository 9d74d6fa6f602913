// The suite that runs inside the VM (scripts/vm-test.sh): a Debian cloud kernel under qemu with
// cgroup2 mounted at /sys/fs/cgroup and every controller present, NSBOX_VM=1.
// NSBOX_VM_INCLUDE (set by the guest's init from vm-test.sh's arguments): the globs to run,
// one a line; without it, test/cgroup.
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

const include = process.env.NSBOX_VM_INCLUDE?.split('\n').filter(Boolean) ?? ['test/cgroup/**/*.test.ts'];

export default defineConfig({
  cacheDir: path.join(os.tmpdir(), `nsbox-vitest-cache-${process.getuid?.() ?? 'x'}`),
  test: {
    include,
    // TCG runs 10-50x slower than the host: one worker process at a time, generous timeouts.
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/helpers/leaks.ts'],
    globalSetup: ['test/helpers/global-leaks.ts'],
  },
});
