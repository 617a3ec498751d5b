// The kernel test page (test/browser/kernels.html): the conv3x3 (every version, forward and
// backward) and pool2x2 max (forward and backward) kernels on this browser's WebGPU adapter,
// on small odd shapes, against their CPU references, with the tolerances of
// test/kernels.test.ts: conv atol = 4e-7*sqrt(K), rtol = 1e-5 (K = 9*Cin forward, 9*Cout
// backward); pooling atol = 1e-7, rtol = 1e-6.
//
// Publishes window.__results = { adapter, cases: [{ name, maxAbs, ok, ... }], done: true },
// or { error, cases (those finished), done: true } when something threw.
import { acquireGpu } from '../../src/gpu/device.ts';
import { createStorage, readFloats, runDispatches, uploadStorage } from '../../src/gpu/runtime.ts';
import { CONV_VERSIONS, type ConvShape, type ConvVersion, conv3x3Backward, conv3x3Forward, createWinogradBuffers, isWinograd, supports } from '../../src/kernels/conv3x3.ts';
import { pool2x2Backward, pool2x2Forward } from '../../src/kernels/pool2x2.ts';
import { convTolerance } from '../../src/ref/conv3x3.ts';
import { pool2x2BackwardCpu, pool2x2ForwardCpu } from '../../src/ref/pool2x2.ts';
import { convCase } from '../conv_case.ts';
import { type Comparison, compare, randomArray, report } from '../helpers.ts';

export interface KernelCase {
  name: string;
  maxAbs: number;
  maxRel: number;
  /** largest |got - ref| / (atol + rtol*|ref|); ok when <= 1 */
  worst: number;
  ok: boolean;
  /** report() line: errors and the first mismatches */
  detail: string;
  ms: number;
}

export interface KernelPageResults {
  done: true;
  adapter?: string;
  isCpuAdapter?: boolean;
  cases: KernelCase[];
  totalMs: number;
  /** how many cases the page plans to run (every version where it supports the shape) */
  expected?: number;
  error?: string;
}

declare global {
  interface Window {
    __results?: KernelPageResults;
  }
}

const CONV_SHAPES = [
  { H: 7, W: 13, Cin: 5, Cout: 130 },
  { H: 7, W: 13, Cin: 64, Cout: 3 },
  { H: 7, W: 13, Cin: 12, Cout: 68 }, // every version runs (v3 needs channels % 4 == 0)
  { H: 9, W: 10, Cin: 3, Cout: 64 }, // block1_conv1-like: the narrow backward v6 runs
];
/** Whether the page runs version v at shape s: it supports the shape, and v8 only where the device has subgroups. */
function runs(v: ConvVersion, s: ConvShape, dir: 'forward' | 'backward', subgroups: boolean): boolean {
  return supports(v, s, dir) && (v !== 'v8' || subgroups);
}

/** Cases planned: forward and backward of every version that runs at each shape, 2 per pool shape. */
function expectedCases(subgroups: boolean): number {
  let n = 0;
  for (const s of CONV_SHAPES) for (const v of CONV_VERSIONS) n += (runs(v, s, 'forward', subgroups) ? 1 : 0) + (runs(v, s, 'backward', subgroups) ? 1 : 0);
  return n + 2 * POOL_SHAPES.length;
}

const POOL_SHAPES = [
  { H: 7, W: 13, C: 5 },
  { H: 9, W: 11, C: 130 },
];

const logEl = document.getElementById('log')!;
const lines: string[] = [];
function log(line: string): void {
  lines.push(line);
  logEl.textContent = lines.join('\n');
}

async function run(cases: KernelCase[]): Promise<{ adapter: string; isCpuAdapter: boolean; subgroups: boolean }> {
  const ctx = await acquireGpu();
  log(`adapter: ${ctx.description}`);
  let t0 = performance.now();
  const add = (name: string, c: Comparison) => {
    const ms = performance.now() - t0;
    cases.push({ name, maxAbs: c.maxAbs, maxRel: c.maxRel, worst: c.worst, ok: c.ok, detail: report(name, c), ms });
    log(`${c.ok ? 'ok  ' : 'FAIL'} ${report(name, c)} (${ms.toFixed(0)} ms)`);
    t0 = performance.now();
  };

  for (const s of CONV_SHAPES) {
    const { H, W, Cin, Cout } = s;
    const { w, yRef, dxRef, buffers: B } = convCase(ctx, s);
    try {
      for (const v of CONV_VERSIONS) {
        const shape = `${H}x${W} ${Cin}->${Cout}`;
        t0 = performance.now();
        const wino = async (dir: 'forward' | 'backward') => (isWinograd(v) ? await createWinogradBuffers(ctx, s, dir, w, undefined, v) : undefined);
        if (runs(v, s, 'forward', !!ctx.subgroups)) {
          const winograd = await wino('forward');
          await runDispatches(ctx, await conv3x3Forward(ctx, v, s, { ...B, winograd }));
          if (winograd) for (const b of Object.values(winograd)) b.destroy();
          const ft = convTolerance(9 * Cin, v);
          add(`conv3x3_forward_${v} ${shape}`, compare(await readFloats(ctx, B.y, yRef.length), yRef, ft.atol, ft.rtol));
        }
        if (!runs(v, s, 'backward', !!ctx.subgroups)) continue;
        t0 = performance.now();
        const winograd = await wino('backward');
        await runDispatches(ctx, await conv3x3Backward(ctx, v, s, { ...B, y: B.yRef, winograd }));
        if (winograd) for (const b of Object.values(winograd)) b.destroy();
        const bt = convTolerance(9 * Cout, v);
        add(`conv3x3_backward_${v} ${shape}`, compare(await readFloats(ctx, B.dx, dxRef.length), dxRef, bt.atol, bt.rtol));
      }
    } finally {
      for (const b of Object.values(B)) b.destroy();
    }
  }

  for (const s of POOL_SHAPES) {
    const { H, W, C } = s;
    const x = randomArray(H * W * C, H * 31 + W * 7 + C);
    for (let i = 0; i < x.length; i += 5) x[i] = 0; // exact ties, as after a ReLU
    const Ho = Math.floor(H / 2);
    const Wo = Math.floor(W / 2);
    const dy = randomArray(Ho * Wo * C, C + 99);
    const yRef = pool2x2ForwardCpu(x, H, W, C, 'max');
    const dxRef = pool2x2BackwardCpu(dy, x, H, W, C, 'max');
    const B = {
      x: uploadStorage(ctx, x, 'x'),
      y: createStorage(ctx, yRef.length * 4, 'y'),
      dy: uploadStorage(ctx, dy, 'dy'),
      dx: createStorage(ctx, x.length * 4, 'dx'),
    };
    try {
      const shape = `${H}x${W}x${C}`;
      t0 = performance.now();
      await runDispatches(ctx, [await pool2x2Forward(ctx, 'max', s, B)]);
      add(`pool2x2_forward max ${shape}`, compare(await readFloats(ctx, B.y, yRef.length), yRef, 1e-7, 1e-6));
      await runDispatches(ctx, [await pool2x2Backward(ctx, 'max', s, B)]);
      add(`pool2x2_backward max ${shape}`, compare(await readFloats(ctx, B.dx, dxRef.length), dxRef, 1e-7, 1e-6));
    } finally {
      for (const b of Object.values(B)) b.destroy();
    }
  }

  if (ctx.uncapturedErrors.length) throw new Error(`uncaptured WebGPU errors: ${ctx.uncapturedErrors.join('; ')}`);
  ctx.device.destroy();
  return { adapter: ctx.description, isCpuAdapter: ctx.isCpuAdapter, subgroups: !!ctx.subgroups };
}

const start = performance.now();
const cases: KernelCase[] = [];
run(cases).then(
  ({ adapter, isCpuAdapter, subgroups }) => {
    const failed = cases.filter((c) => !c.ok).length;
    log(`done: ${cases.length - failed}/${cases.length} ok in ${(performance.now() - start).toFixed(0)} ms`);
    window.__results = { done: true, adapter, isCpuAdapter, cases, totalMs: performance.now() - start, expected: expectedCases(subgroups) };
  },
  (e: unknown) => {
    const error = e instanceof Error ? `${e.message}${e.stack ? `\n${e.stack}` : ''}` : String(e);
    log(`ERROR: ${error}`);
    window.__results = { done: true, cases, totalMs: performance.now() - start, error };
  },
);
