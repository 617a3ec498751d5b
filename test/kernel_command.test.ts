// `npm run kernel` (bench/kernel/): every kernel's case runs on a tiny shape and passes its check
// against the CPU reference; one run is timed (--reps 1); the command line refuses bad input with
// one line.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KERNEL_CASES } from '../bench/kernel/cases.ts';
import { parseKernelArgs, runKernel } from '../bench/kernel/run.ts';
import { gpu } from './helpers.ts';

const lines: string[] = [];
afterAll(() => console.log(`npm run kernel, tiny shapes:\n  ${lines.join('\n  ')}`));

describe('npm run kernel: every kernel on a tiny shape, checked against its reference', () => {
  for (const c of KERNEL_CASES.values()) {
    it(`kernel ${c.name} ${c.tiny.join(',')}`, async (t) => {
      const ctx = await gpu();
      if (c.shaders.includes('conv3x3_winograd_gemm_v8') && !ctx.subgroups) return t.skip(`${c.name}: the adapter has no 'subgroups' feature`);
      const r = await runKernel(ctx, { name: c.name, shape: c.tiny, reps: 1, warmup: 0, time: false });
      lines.push(...r.checks.map((k) => `${c.name} ${k.label}: max abs ${k.maxAbs.toExponential(2)}, worst/tol ${k.worst.toFixed(3)}`));
      expect(r.checks.length).toBeGreaterThan(0);
      for (const k of r.checks) expect(k.ok, `${c.name} ${k.label}: ${k.mismatches.join('; ')}`).toBe(true);
    }, 60_000);
  }

  it('times a run: median, GFLOP/s and the fraction of the ceiling measured in the same run', async () => {
    const ctx = await gpu();
    const r = await runKernel(ctx, { name: 'conv3x3_forward_v3', shape: [8, 8, 16, 16], reps: 1, warmup: 0, time: true });
    expect(r.ok).toBe(true);
    expect(r.time!.medianMs).toBeGreaterThan(0);
    expect(r.time!.ceilingGflops).toBeGreaterThan(0);
    expect(r.time!.ofCeiling).toBeCloseTo(r.time!.gflops! / r.time!.ceilingGflops, 10);
  }, 120_000);
});

describe('npm run kernel: the command line', () => {
  it('an op with --version names its kernel; --shape is one number per dimension', () => {
    expect(parseKernelArgs(['conv3x3_forward', '--version', 'v7', '--shape', '9x13x8,12', '--no-time'])).toEqual({ name: 'conv3x3_forward_v7', shape: [9, 13, 8, 12], reps: 10, warmup: 2, time: false });
    expect(parseKernelArgs(['gram_forward', '--reps', '3'])).toMatchObject({ name: 'gram_forward', reps: 3, shape: undefined });
  });
  it.each([
    [['conv3x3_forward', '--version', 'v4'], /conv3x3_forward_v4: no such kernel; conv3x3_forward has versions v1, v2, v3, v5, v7/],
    [['nope'], /unknown kernel "nope"; kernels: conv3x3_forward_v1/],
    [['gram_forward', '--shape', '10,x'], /--shape for gram_forward takes 2 whole numbers \(N \(positions\), C\)/],
    [['gram_forward', '--shape', '0,4'], /N \(positions\) must be at least 1/],
    [['gram_forward', '--reps', '0'], /--reps takes a whole number >= 1, got "0"/],
    [['gram_forward', '--frobnicate'], /unknown flag --frobnicate/],
    [[], /no kernel named/],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => parseKernelArgs(argv)).toThrow(message);
  });
  it('as a program: one line on stderr and status 2 for a usage error', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const p = spawnSync('npx', ['tsx', 'bench/kernel/run.ts', 'conv3x3_forward', '--version', 'v4'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(p.status).toBe(2);
    expect(p.stderr.trim().split('\n')).toEqual(['npm run kernel: conv3x3_forward_v4: no such kernel; conv3x3_forward has versions v1, v2, v3, v5, v7, v8, v9 (--version vN)']);
  }, 60_000);
});
