// Device acquisition in Node: the lavapipe thread count set before Dawn loads the driver
// (src/gpu/device.ts lavapipeThreads), and a user's own LP_NUM_THREADS left alone. Each case
// acquires a device in a fresh process (the variable is read once, when the driver starts) and
// counts the driver's named rasterizer threads, "llvmpipe-<i>", one per thread it was told to use.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { lavapipeThreads } from '../src/gpu/device.ts';
import { ROOT } from './cli_helpers.ts';

const CHILD = `
  const { readdirSync, readFileSync } = await import('node:fs');
  const { acquireGpu } = await import('./src/gpu/device.ts');
  const ctx = await acquireGpu();
  const names = readdirSync('/proc/self/task').map((t) => { try { return readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim(); } catch { return ''; } });
  console.log(JSON.stringify({ env: process.env.LP_NUM_THREADS, llvmpipe: names.filter((n) => /^llvmpipe-\\d+$/.test(n)).length, adapter: ctx.description }));
  ctx.device.destroy();
  process.exit(0);
`;

function acquireIn(env: Record<string, string | undefined>): { env: string; llvmpipe: number; adapter: string } {
  const childEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { cwd: ROOT, env: childEnv, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('lavapipe threads', () => {
  it('4 per core, at least 1, at most lavapipe\'s 32', () => {
    expect([1, 2, 3, 8, 16, 64].map(lavapipeThreads)).toEqual([4, 8, 12, 32, 32, 32]);
    expect(lavapipeThreads(0)).toBe(1);
  });

  it('unset: set before the driver starts, and lavapipe starts that many threads', () => {
    const r = acquireIn({ LP_NUM_THREADS: undefined });
    const want = lavapipeThreads(availableParallelism());
    expect(r.env).toBe(String(want));
    if (/llvmpipe/i.test(r.adapter)) expect(r.llvmpipe, r.adapter).toBe(want);
  }, 150_000);

  it("the user's own LP_NUM_THREADS is kept", () => {
    const r = acquireIn({ LP_NUM_THREADS: '3' });
    expect(r.env).toBe('3');
    if (/llvmpipe/i.test(r.adapter)) expect(r.llvmpipe, r.adapter).toBe(3);
  }, 150_000);
});
