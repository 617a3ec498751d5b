// npm run kernel -- <name> [--version vN] [--shape a,b,...] [--reps N] [--warmup N] [--no-time]
//
// One kernel, studied alone (after llm.c's dev/cuda): random inputs at a shape, one run checked
// against its Float64 CPU reference (max error, tolerance atol + rtol |ref|, the first
// mismatches), then timed: warm-up runs, then the median and min of --reps runs (GPU timestamps
// where the adapter has them), GFLOP/s or GB/s, and the fraction of the matmul ceiling measured
// in the same run (bench/cases/ceiling.ts: conv3x3_winograd_gemm_v7 at 1024^3). Edit the
// shader, run it again: the check says whether it is still right, the time whether it is faster.
//
//   npm run kernel -- --list                                   every name, its shape and shaders
//   npm run kernel -- conv3x3_forward --version v7             the conv the model runs on CPU adapters
//   npm run kernel -- conv3x3_backward_v6 --shape 400,533,3,64 the image layer's input gradient
//   npm run kernel -- gram_forward --no-time                   the check only
// Exit status 1 when a check fails, 2 on a usage error.

import { acquireGpu, type GpuContext } from '../../src/gpu/device.ts';
import { GpuTimer } from '../../src/gpu/timer.ts';
import { compare, type Comparison, report } from '../../test/helpers.ts';
import { runCeiling } from '../cases/ceiling.ts';
import { stats } from '../lib/stats.ts';
import { type KernelCase, KERNEL_CASES } from './cases.ts';
import { KERNEL_INDEX } from './catalogue.ts';

export interface KernelOptions {
  name: string;
  version?: string;
  /** dims of the case, in its order; default the case's study shape */
  shape?: number[];
  reps: number;
  warmup: number;
  time: boolean;
}

export interface KernelResult {
  name: string;
  shape: Record<string, number>;
  checks: Array<{ label: string } & Comparison>;
  ok: boolean;
  time?: { medianMs: number; minMs: number; reps: number; source: string; gflops?: number; gbps?: number; ceilingGflops: number; ofCeiling?: number };
}

export const USAGE = 'usage: npm run kernel -- <name> [--version vN] [--shape a,b,...] [--reps N] [--warmup N] [--no-time] | --list';

/** The case a name (and --version) names, or a one-line error listing what exists. */
export function resolveCase(name: string, version?: string): KernelCase {
  if (version !== undefined && !/^v\d+$/.test(version)) throw new Error(`--version must look like v3, got "${version}"`);
  const full = version === undefined ? name : `${name}_${version}`;
  const c = KERNEL_CASES.get(full);
  if (c) return c;
  const versions = [...KERNEL_CASES.keys()].filter((k) => k.startsWith(`${name}_v`)).map((k) => k.slice(name.length + 1));
  if (versions.length) throw new Error(`${full}: no such kernel; ${name} has versions ${versions.join(', ')} (--version vN)`);
  throw new Error(`unknown kernel "${full}"; kernels: ${[...KERNEL_CASES.keys()].join(', ')}`);
}

/** Parses `--shape 100,133,64,64` (or 100x133x64x64) for a case: one positive integer per dim. */
export function parseShape(c: KernelCase, text: string): number[] {
  const parts = text.split(/[,x]/).map((s) => s.trim());
  const nums = parts.map(Number);
  if (nums.length !== c.dims.length || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`--shape for ${c.name} takes ${c.dims.length} whole numbers (${c.dims.join(', ')}), e.g. ${c.shape.join(',')}; got "${text}"`);
  }
  c.dims.forEach((d, i) => {
    if (nums[i] < 1 && !d.startsWith('mode')) throw new Error(`--shape for ${c.name}: ${d} must be at least 1, got ${nums[i]}`);
  });
  return nums;
}

export function parseKernelArgs(argv: string[]): KernelOptions | 'list' {
  const o: Partial<KernelOptions> & { shapeText?: string } = { reps: 10, warmup: 2, time: true };
  const wholeNumber = (flag: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) throw new Error(`${flag} takes a whole number >= ${min}, got ${v === undefined ? 'nothing' : `"${v}"`}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--list') return 'list';
    else if (a === '--version') o.version = argv[++i];
    else if (a === '--shape') o.shapeText = argv[++i];
    else if (a === '--reps') o.reps = wholeNumber('--reps', argv[++i], 1);
    else if (a === '--warmup') o.warmup = wholeNumber('--warmup', argv[++i], 0);
    else if (a === '--no-time') o.time = false;
    else if (a.startsWith('-')) throw new Error(`unknown flag ${a}; ${USAGE}`);
    else if (o.name) throw new Error(`one kernel at a time (got "${o.name}" and "${a}"); ${USAGE}`);
    else o.name = a;
  }
  if (!o.name) throw new Error(`no kernel named; ${USAGE}`);
  if (o.version === undefined && argv.includes('--version')) throw new Error('--version needs a value, e.g. --version v3');
  if (o.shapeText === undefined && argv.includes('--shape')) throw new Error('--shape needs a value, e.g. --shape 100,133,64,64');
  const c = resolveCase(o.name, o.version);
  return { name: c.name, reps: o.reps!, warmup: o.warmup!, time: o.time!, shape: o.shapeText === undefined ? undefined : parseShape(c, o.shapeText) };
}

/** Runs, checks and (unless o.time is false) times one kernel; `log` gets the lines to print. */
export async function runKernel(ctx: GpuContext, o: KernelOptions, log: (s: string) => void = () => {}): Promise<KernelResult> {
  const c = resolveCase(o.name, o.version);
  const shape = o.shape ?? c.shape;
  const entry = KERNEL_INDEX.find((e) => e.name === c.name);
  log(`${c.name}  ${c.dims.map((d, i) => `${d.split(' ')[0]}=${shape[i]}`).join(' ')}`);
  log(`  shaders: ${c.shaders.map((s) => `shaders/${s}.wgsl`).join(', ')}`);
  if (entry) log(`  wrapper ${entry.wrapper}; reference ${entry.ref}; test ${entry.test}`);
  log(`  adapter: ${ctx.description}`);
  const built = await c.build(ctx, shape);
  try {
    await built.run();
    const checks = (await built.check()).map((k) => ({ label: k.label, ...compare(k.got, k.ref, k.atol, k.rtol, k.label) }));
    for (const k of checks) log(`  check ${report(k.label, k)}${k.ok ? '  OK' : '  FAILED'}`);
    const result: KernelResult = { name: c.name, shape: Object.fromEntries(c.dims.map((d, i) => [d.split(' ')[0], shape[i]])), checks, ok: checks.every((k) => k.ok) };
    if (!o.time) return result;
    const timer = new GpuTimer(ctx);
    try {
      const ms: number[] = [];
      for (let i = 0; i < o.warmup + o.reps; i++) {
        const t = await timer.time((enc, tw) => built.encodeTimed(enc, tw), c.name);
        if (i >= o.warmup) ms.push(t.ms);
      }
      const st = stats(ms);
      const ceilingRows = await runCeiling(ctx, timer, { warmup: 1, trials: 5, quick: true, log: () => {} });
      const ceilingGflops = ceilingRows[0].gflops ?? NaN;
      const gflops = built.flops ? built.flops / 1e9 / (st.median / 1e3) : undefined;
      const gbps = built.bytes ? built.bytes / 1e9 / (st.median / 1e3) : undefined;
      result.time = { medianMs: st.median, minMs: st.min, reps: o.reps, source: timer.source, gflops, gbps, ceilingGflops, ofCeiling: gflops === undefined ? undefined : gflops / ceilingGflops };
      const rate = [gflops === undefined ? '' : `${gflops.toFixed(2)} GFLOP/s`, gbps === undefined ? '' : `${gbps.toFixed(2)} GB/s`].filter(Boolean).join(', ');
      const of = result.time.ofCeiling === undefined ? '' : `, ${(100 * result.time.ofCeiling).toFixed(0)} % of the matmul ceiling`;
      log(`  time: median ${st.median.toFixed(3)} ms, min ${st.min.toFixed(3)} ms over ${o.reps} runs (${timer.source}); ${rate}${of}`);
      log(`  ceiling: conv3x3_winograd_gemm_v7 at 1024^3, ${ceilingGflops.toFixed(2)} GFLOP/s on this adapter in this run`);
    } finally {
      timer.destroy();
    }
    return result;
  } finally {
    built.destroy();
  }
}

async function main(): Promise<number> {
  let o: KernelOptions | 'list';
  try {
    o = parseKernelArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`npm run kernel: ${(e as Error).message}`);
    return 2;
  }
  if (o === 'list') {
    for (const c of KERNEL_CASES.values()) console.log(`${c.name.padEnd(28)} ${c.dims.join(',').padEnd(34)} default ${c.shape.join(',').padEnd(20)} ${c.shaders.join(' + ')}`);
    return 0;
  }
  try {
    const ctx = await acquireGpu();
    const r = await runKernel(ctx, o, (s) => console.log(s));
    ctx.device.destroy();
    return r.ok ? 0 : 1;
  } catch (e) {
    console.error(`npm run kernel: ${(e as Error).message.split('\n')[0]}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().then((code) => process.exit(code));
}
