import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Kernel tests run on a software Vulkan adapter (lavapipe) on 2 cores: one file at a time,
// so the GPU emulation is not starved, and generous per-test limits (lavapipe has no watchdog;
// every GPU wait in the code also has its own timeout).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // the user caches of tests and the programs they spawn (the weights' checksum cache, the kernel
    // autotuner's cache: the CLI tunes by default) go to a temp folder, never the user's ~/.cache;
    // one folder per machine, so that shapes are tuned once across runs
    env: { XDG_CACHE_HOME: join(tmpdir(), 'neural-style-webgpu-test-cache') },
  },
});
