// One study case per shader (and per conv3x3 v7, which is three shaders): how `npm run kernel`
// builds random inputs at a shape, runs the kernel through its TS wrapper (src/kernels/), checks
// the result against its Float64 CPU reference (src/ref/) with the tolerance its test uses, and
// which dispatches to time. A kernel that only runs inside another (gram_reduce, reduce_sum, the
// Winograd pieces) is run with its neighbours and timed alone.

import type { GpuContext } from '../../src/gpu/device.ts';
import { createStorage, createUniform, type Dispatch, encodeDispatches, getShaderModule, grid1d, makeDispatch, readBuffer, readFloats, submitChecked, uploadStorage } from '../../src/gpu/runtime.ts';
import type { ShaderName } from '../../src/gpu/shader_names.ts';
import { CONV_SHADERS, type ConvVersion, conv3x3Backward, conv3x3Forward, convFlops, createWinogradBuffers, isWinograd, winogradKernel, winogradSteps } from '../../src/kernels/conv3x3.ts';
import { reluBackward } from '../../src/kernels/elementwise.ts';
import { gramForward } from '../../src/kernels/gram.ts';
import { contentLoss, styleLoss, tvLoss } from '../../src/kernels/losses.ts';
import { maskApply } from '../../src/kernels/mask.ts';
import { matmul, matmulFlops } from '../../src/kernels/matmul.ts';
import { pool2x2Backward, pool2x2Forward, type PoolMode } from '../../src/kernels/pool2x2.ts';
import { flipTranspose } from '../../src/model/conv_weights.ts';
import { conv3x3BackwardCpu, conv3x3ForwardCpu, convTolerance } from '../../src/ref/conv3x3.ts';
import { displayCaffeBytesCpu } from '../../src/ref/display.ts';
import { reluBackwardCpu } from '../../src/ref/elementwise.ts';
import { contentLossCpu, gramCpu, styleLossCpu, tvLossCpu } from '../../src/ref/gram.ts';
import { maskApplyCpu } from '../../src/ref/mask.ts';
import { matmulCpu } from '../../src/ref/matmul.ts';
import { pool2x2BackwardCpu, pool2x2ForwardCpu } from '../../src/ref/pool2x2.ts';
import { vecAdamCpu, vecAxpyCpu, vecDotCpu, vecScaleCopyCpu } from '../../src/ref/vec.ts';
import { winogradInputCpu, winogradTiles, winogradWeightsCpu } from '../../src/ref/winograd.ts';
import { randomFill } from '../lib/stats.ts';

/** One output compared with its reference: element i passes when |got - ref| <= atol + rtol |ref|. */
export interface Check {
  label: string;
  got: ArrayLike<number>;
  ref: ArrayLike<number>;
  atol: number;
  rtol: number;
}

/** A kernel set up at one shape on the device. */
export interface Built {
  /** one full run (including passes the studied kernel needs before it), then the read-back */
  run(): Promise<void>;
  check(): Promise<Check[]>;
  /** records the timed work into a pass of its own (timestampWrites for that pass) */
  encodeTimed(enc: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void;
  /** what the timed work computes and moves (direct-convolution FLOPs for v7) */
  flops?: number;
  bytes?: number;
  destroy(): void;
}

export interface KernelCase {
  /** the study name: a shader, or conv3x3_forward_v7 / conv3x3_backward_v7 */
  name: string;
  /** the shaders it runs (those timed are the ones named by `name`, or all for v7) */
  shaders: ShaderName[];
  dims: string[];
  /** default study shape (a VGG19-like size that runs in seconds on a CPU adapter) */
  shape: number[];
  /** the smallest interesting shape (odd sizes; what the test runs) */
  tiny: number[];
  build(ctx: GpuContext, shape: number[]): Promise<Built>;
}

// ---------------------------------------------------------------------------------------------
// helpers

type Buffers = Record<string, GPUBuffer>;

function destroyAll(b: Buffers): void {
  for (const x of Object.values(b)) x.destroy();
}

async function runList(ctx: GpuContext, list: Dispatch[], what: string): Promise<void> {
  const enc = ctx.device.createCommandEncoder({ label: what });
  encodeDispatches(enc, list);
  await submitChecked(ctx, [enc.finish()], what);
}

/** A Built from dispatch lists: `all` is one run, `timed` (default all) is timed alone. */
function fromDispatches(ctx: GpuContext, all: Dispatch[], bufs: Buffers, check: () => Promise<Check[]>, counts: { flops?: number; bytes?: number }, timed = all): Built {
  return {
    run: () => runList(ctx, all, all.map((d) => d.label).join(',')),
    check,
    encodeTimed: (enc, tw) => encodeDispatches(enc, timed, tw),
    ...counts,
    destroy: () => destroyAll(bufs),
  };
}

/** The dispatches of a list that run shader `name` (labels are "<shader>" or "<conv>:<shader>[ chunk]"). */
function only(list: Dispatch[], name: ShaderName): Dispatch[] {
  return list.filter((d) => d.label === name || d.label.split(':')[1]?.split(' ')[0] === name);
}

const read = (ctx: GpuContext, b: GPUBuffer, n: number) => readFloats(ctx, b, n);
const F = 4; // bytes per f32

// ---------------------------------------------------------------------------------------------
// conv3x3: every version, forward (bias + ReLU) and backward (input gradient through the ReLU)

/** conv3x3 at a shape: the built case and its dispatch list. */
async function buildConv(ctx: GpuContext, direction: 'forward' | 'backward', version: ConvVersion, [H, W, Cin, Cout]: number[]): Promise<{ built: Built; list: Dispatch[] }> {
  const s = { H, W, Cin, Cout };
  const x = randomFill(H * W * Cin, 1);
  const w = randomFill(9 * Cin * Cout, 2, -0.2, 0.2);
  const bias = randomFill(Cout, 3, -0.1, 0.1);
  const b: Buffers = { x: uploadStorage(ctx, x, 'x'), w: uploadStorage(ctx, w, 'w'), bias: uploadStorage(ctx, bias, 'bias') };
  const wino = isWinograd(version) ? await createWinogradBuffers(ctx, s, direction, w, undefined, version) : undefined;
  if (wino) Object.assign(b, wino);
  if (direction === 'forward') {
    b.y = createStorage(ctx, H * W * Cout * F, 'y');
    const list = await conv3x3Forward(ctx, version, s, { x: b.x, w: b.w, bias: b.bias, y: b.y, winograd: wino });
    const tol = convTolerance(9 * Cin, version);
    const check = async () => [{ label: 'y', got: await read(ctx, b.y, H * W * Cout), ref: conv3x3ForwardCpu(x, w, bias, H, W, Cin, Cout), ...tol }];
    return { list, built: fromDispatches(ctx, list, b, check, { flops: convFlops(s), bytes: (H * W * (Cin + Cout) + 9 * Cin * Cout) * F }) };
  }
  const y = new Float32Array(conv3x3ForwardCpu(x, w, bias, H, W, Cin, Cout)); // a ReLU output: about half zeros
  const dy = randomFill(H * W * Cout, 4);
  Object.assign(b, {
    y: uploadStorage(ctx, y, 'y'),
    dy: uploadStorage(ctx, dy, 'dy'),
    wt: uploadStorage(ctx, flipTranspose(w, Cin, Cout), 'wt'),
    g: createStorage(ctx, H * W * Cout * F, 'g'),
    dx: createStorage(ctx, H * W * Cin * F, 'dx'),
  });
  const list = await conv3x3Backward(ctx, version, s, { dy: b.dy, y: b.y, w: b.w, wt: b.wt, g: b.g, dx: b.dx, winograd: wino });
  const tol = convTolerance(9 * Cout, version);
  const check = async () => [{ label: 'dx', got: await read(ctx, b.dx, H * W * Cin), ref: conv3x3BackwardCpu(dy, y, w, H, W, Cin, Cout), ...tol }];
  return { list, built: fromDispatches(ctx, list, b, check, { flops: convFlops(s), bytes: (H * W * (Cin + 2 * Cout) + 9 * Cin * Cout) * F }) };
}

/** The three shaders of a Winograd version, in the order they run. */
function winogradShaderList(version: ConvVersion): ShaderName[] {
  const w = winogradSteps(version);
  return [w.input, `conv3x3_winograd_gemm_${w.gemm}`, w.output];
}

function convCase(direction: 'forward' | 'backward', version: ConvVersion): KernelCase {
  const table = CONV_SHADERS[direction] as Partial<Record<ConvVersion, ShaderName>>;
  const shaders: ShaderName[] =
    isWinograd(version)
      ? [...(direction === 'backward' ? (['relu_backward_vec4'] as const) : []), ...winogradShaderList(version)]
      : [...(direction === 'backward' ? (['relu_backward_vec4'] as const) : []), table[version]!];
  const narrow = version === 'v6';
  return {
    name: `conv3x3_${direction}_${version}`,
    shaders,
    dims: ['H', 'W', 'Cin', 'Cout'],
    // the narrow backward kernels are the image layer's (3 channels); the rest a block2-like layer
    shape: narrow ? [200, 266, 3, 64] : [100, 133, 128, 128],
    tiny: narrow ? [5, 9, 3, 8] : [5, 9, 8, 12],
    build: async (ctx, shape) => (await buildConv(ctx, direction, version, shape)).built,
  };
}

/** A Winograd transform: the input transform alone; the output transform inside the whole forward of its version, timed alone. */
function winogradPieceCase(name: 'conv3x3_winograd_input_v7' | 'conv3x3_winograd_output_v7' | 'conv3x3_winograd4_input_v9' | 'conv3x3_winograd4_output_v9'): KernelCase {
  const version = name.endsWith('v9') ? 'v9' : 'v7';
  const m = version === 'v9' ? 4 : 2;
  const gemms = (m + 2) ** 2;
  return {
    ...convCase('forward', version),
    name,
    shaders: [name],
    async build(ctx, shape) {
      const [H, W, Cin, Cout] = shape;
      const { tilesX, tiles } = winogradTiles(H, W, m);
      if (name.includes('_input_')) {
        const x = randomFill(H * W * Cin, 1);
        const b: Buffers = { x: uploadStorage(ctx, x, 'x'), v: createStorage(ctx, gemms * tiles * Cin * F, 'v') };
        const threads = tiles * (Cin / winogradSteps(version).inputChannels);
        const d = await makeDispatch(ctx, { shader: name }, [createUniform(ctx, [H, W, Cin, tilesX, 0, Math.ceil(H / m)], `${name} params`), b.x, b.v], grid1d(threads));
        // v7: sums of 4 inputs with coefficients +-1, exact up to 3 roundings; v9: see its test
        const check = async () => [{ label: 'V', got: await read(ctx, b.v, gemms * tiles * Cin), ref: winogradInputCpu(x, H, W, Cin, m), atol: version === 'v9' ? 2e-5 : 1e-6, rtol: 0 }];
        return fromDispatches(ctx, [d], b, check, { bytes: (H * W + gemms * tiles) * Cin * F });
      }
      const { built, list } = await buildConv(ctx, 'forward', version, shape);
      return { ...built, encodeTimed: (enc, tw) => encodeDispatches(enc, only(list, name), tw), flops: undefined, bytes: (gemms * tiles + H * W) * Cout * F };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the other kernels

const cases: KernelCase[] = [];

/** The case of one shader studied under its own name. */
function single(name: ShaderName, dims: string[], shape: number[], tiny: number[], build: KernelCase['build']): KernelCase {
  return { name, shaders: [name], dims, shape, tiny, build };
}
for (const direction of ['forward', 'backward'] as const) {
  for (const version of Object.keys(CONV_SHADERS[direction]) as ConvVersion[]) cases.push(convCase(direction, version));
  cases.push(convCase(direction, 'v7'), convCase(direction, 'v8'), convCase(direction, 'v9')); // v8: v7 with the subgroup GEMM ('subgroups' only)
}

cases.push(winogradPieceCase('conv3x3_winograd_input_v7'), winogradPieceCase('conv3x3_winograd_output_v7'));
cases.push(winogradPieceCase('conv3x3_winograd4_input_v9'), winogradPieceCase('conv3x3_winograd4_output_v9'));

for (const gemm of ['v7', 'v8'] as const) cases.push(
  single(`conv3x3_winograd_gemm_${gemm}`, ['M', 'N', 'K', 'batch'], [1024, 1024, 1024, 1], [9, 12, 7, 3], async (ctx, [M, N, K, batch]) => {
  const a = randomFill(batch * M * K, 1);
  const bm = randomFill(batch * K * N, 2);
  const b: Buffers = { a: uploadStorage(ctx, a, 'a'), b: uploadStorage(ctx, bm, 'b'), c: createStorage(ctx, batch * M * N * F, 'c') };
  const d = await matmul(ctx, { M, N, K, batch }, { a: b.a, b: b.b, c: b.c }, `conv3x3_winograd_gemm_${gemm}`, gemm);
  const check = async () => {
    const got = await read(ctx, b.c, batch * M * N);
    const ref = new Float64Array(batch * M * N);
    for (let z = 0; z < batch; z++) ref.set(matmulCpu(a.subarray(z * M * K, (z + 1) * M * K), bm.subarray(z * K * N, (z + 1) * K * N), M, N, K), z * M * N);
    return [{ label: 'C', got, ref, atol: 1e-6 * Math.sqrt(K), rtol: 1e-5 }];
  };
  return fromDispatches(ctx, [d], b, check, { flops: matmulFlops({ M, N, K, batch }), bytes: batch * (M * K + K * N + M * N) * F });
  }),
);

cases.push(
  single('winograd_weights', ['K', 'N', 'tile'], [512, 512, 4], [5, 8, 4], async (ctx, [K, N, tile]) => {
    if (tile !== 2 && tile !== 4) throw new Error(`winograd_weights: tile must be 2 or 4, got ${tile}`);
    const w = randomFill(9 * K * N, 1, -0.2, 0.2);
    const b: Buffers = { w: uploadStorage(ctx, w, 'w') };
    const { u, dispatch } = await winogradKernel(ctx, b.w, K, N, tile === 4 ? 'v9' : 'v7', 'u');
    b.u = u;
    // a few float32 roundings of max(1, |U|): see test/kernels.test.ts
    const check = async () => [{ label: 'U', got: await read(ctx, u, (tile + 2) ** 2 * K * N), ref: winogradWeightsCpu(w, K, N, tile), atol: 5e-7, rtol: 5e-7 }];
    return fromDispatches(ctx, [dispatch], b, check, { bytes: (9 + (tile + 2) ** 2) * K * N * F });
  }),
);

for (const shader of ['relu_backward', 'relu_backward_vec4'] as const) {
  cases.push({
    name: shader,
    shaders: [shader],
    dims: ['n'],
    // reluBackward picks the vec4 kernel when n % 4 == 0
    shape: [shader === 'relu_backward' ? 4_000_001 : 4_000_000],
    tiny: [shader === 'relu_backward' ? 1001 : 1000],
    async build(ctx, [n]) {
      if ((n % 4 === 0) !== (shader === 'relu_backward_vec4')) throw new Error(`${shader}: n must ${shader === 'relu_backward' ? 'not ' : ''}be a multiple of 4 (reluBackward picks the kernel by n), got ${n}`);
      const dy = randomFill(n, 1);
      const y = randomFill(n, 2);
      const b: Buffers = { dy: uploadStorage(ctx, dy, 'dy'), y: uploadStorage(ctx, y, 'y'), g: createStorage(ctx, n * F, 'g') };
      const d = await reluBackward(ctx, n, { dy: b.dy, y: b.y, g: b.g });
      const check = async () => [{ label: 'g', got: await read(ctx, b.g, n), ref: reluBackwardCpu(dy, y), atol: 0, rtol: 0 }];
      return fromDispatches(ctx, [d], b, check, { bytes: 3 * n * F });
    },
  });
}

for (const direction of ['forward', 'backward'] as const) {
  const shader = `pool2x2_${direction}` as const;
  cases.push(
  single(shader, ['H', 'W', 'C', 'mode (0 max, 1 avg)'], [200, 266, 64, 0], [7, 13, 5, 0], async (ctx, [H, W, C, m]) => {
      const mode: PoolMode = m === 1 ? 'avg' : 'max';
      const x = randomFill(H * W * C, 1);
      const [Ho, Wo] = [Math.floor(H / 2), Math.floor(W / 2)];
      const b: Buffers = { x: uploadStorage(ctx, x, 'x') };
      if (direction === 'forward') {
        b.y = createStorage(ctx, Ho * Wo * C * F, 'y');
        const d = await pool2x2Forward(ctx, mode, { H, W, C }, { x: b.x, y: b.y });
        const check = async () => [{ label: 'y', got: await read(ctx, b.y, Ho * Wo * C), ref: pool2x2ForwardCpu(x, H, W, C, mode), atol: 1e-7, rtol: 1e-6 }];
        return fromDispatches(ctx, [d], b, check, { bytes: (H * W + Ho * Wo) * C * F });
      }
      const dy = randomFill(Ho * Wo * C, 2);
      Object.assign(b, { dy: uploadStorage(ctx, dy, 'dy'), dx: createStorage(ctx, H * W * C * F, 'dx') });
      const d = await pool2x2Backward(ctx, mode, { H, W, C }, { dy: b.dy, x: b.x, dx: b.dx });
      const check = async () => [{ label: 'dx', got: await read(ctx, b.dx, H * W * C), ref: pool2x2BackwardCpu(dy, x, H, W, C, mode), atol: 1e-7, rtol: 1e-6 }];
      return fromDispatches(ctx, [d], b, check, { bytes: (2 * H * W + Ho * Wo) * C * F });
  }),
);
}

for (const shader of ['gram_forward', 'gram_reduce'] as const) {
  cases.push(
  single(shader, ['N (positions)', 'C'], [100 * 133, 128], [4100, 12], async (ctx, [N, C]) => {
      const f = randomFill(N * C, 1, 0, 1); // post-ReLU features are >= 0
      const b: Buffers = { f: uploadStorage(ctx, f, 'f'), g: createStorage(ctx, C * C * F, 'g') };
      const op = await gramForward(ctx, N, C, { f: b.f, g: b.g });
      b.partials = op.partials;
      const check = async () => [{ label: 'G', got: await read(ctx, b.g, C * C), ref: gramCpu(f, N, C), atol: 1e-6 * N ** 0.5, rtol: 4e-6 }];
      const S = op.partials.size / (C * C * F);
      const counts = shader === 'gram_forward' ? { flops: 2 * N * C * C, bytes: (N * C + S * C * C) * F } : { bytes: (S + 1) * C * C * F };
      return fromDispatches(ctx, op.dispatches, b, check, counts, only(op.dispatches, shader));
  }),
);
}

/** A loss's scalar and gradient as checks (the loss within 1e-5 relative, as the tests). */
function lossChecks(loss: number, lossRef: number, grad: ArrayLike<number>, gradRef: ArrayLike<number>, gradTol: { atol: number; rtol: number }, what: string): Check[] {
  return [
    { label: `${what} loss`, got: [loss], ref: [lossRef], atol: 0, rtol: 1e-5 },
    { label: `${what} gradient`, got: grad, ref: gradRef, ...gradTol },
  ];
}

for (const shader of ['content_loss', 'reduce_sum'] as const) {
  cases.push(
  single(shader, ['n'], [25 * 33 * 512 * 4], [70001], async (ctx, [n]) => {
      const f = randomFill(n, 1, 0, 10);
      const p = randomFill(n, 2, 0, 10);
      const b: Buffers = { f: uploadStorage(ctx, f, 'f'), p: uploadStorage(ctx, p, 'p'), df: createStorage(ctx, n * F, 'df'), scalars: createStorage(ctx, 16, 'scalars') };
      const op = await contentLoss(ctx, n, 0.5, 0, { f: b.f, target: b.p, df: b.df, scalars: b.scalars });
      b.partials = op.partials;
      const check = async () => {
        const ref = contentLossCpu(f, p, 0.5);
        return lossChecks((await read(ctx, b.scalars, 1))[0], ref.loss, await read(ctx, b.df, n), ref.grad, { atol: 1e-6, rtol: 1e-6 }, 'content');
      };
      const groups = op.partials.size / F;
      const counts = shader === 'content_loss' ? { bytes: 3 * n * F } : { bytes: groups * F };
      return fromDispatches(ctx, op.dispatches, b, check, counts, only(op.dispatches, shader));
  }),
);
}

cases.push(
  single('style_loss', ['C'], [512], [130], async (ctx, [C]) => {
  const g = randomFill(C * C, 1, 0, 100);
  const a = randomFill(C * C, 2, 0, 100);
  const factor = 3.7e-3;
  const b: Buffers = { g: uploadStorage(ctx, g, 'g'), a: uploadStorage(ctx, a, 'a'), m: createStorage(ctx, C * C * F, 'm'), scalars: createStorage(ctx, 16, 'scalars') };
  const op = await styleLoss(ctx, C, factor, 2, { g: b.g, a: b.a, m: b.m, scalars: b.scalars });
  b.partials = op.partials;
  const check = async () => {
    const ref = styleLossCpu(g, a, factor);
    return lossChecks((await read(ctx, b.scalars, 4))[2], ref.loss, await read(ctx, b.m, C * C), ref.m, { atol: 1e-6, rtol: 1e-6 }, 'style');
  };
  return fromDispatches(ctx, op.dispatches, b, check, { bytes: 3 * C * C * F }, only(op.dispatches, 'style_loss'));
  }),
);

cases.push(
  single('tv_loss', ['H', 'W'], [400, 533], [13, 11], async (ctx, [H, W]) => {
  const x = randomFill(H * W * 3, 1, -100, 100);
  const vg = randomFill(H * W * 3, 2);
  const b: Buffers = { x: uploadStorage(ctx, x, 'x'), vg: uploadStorage(ctx, vg, 'vgg grad'), grad: createStorage(ctx, H * W * 3 * F, 'grad'), scalars: createStorage(ctx, 16, 'scalars') };
  const op = await tvLoss(ctx, H, W, 0.1, 1, { x: b.x, vggGrad: b.vg, grad: b.grad, scalars: b.scalars });
  b.partials = op.partials;
  const check = async () => {
    const ref = tvLossCpu(x, H, W, 0.1);
    const gradRef = ref.grad.map((v, i) => v + vg[i]);
    return lossChecks((await read(ctx, b.scalars, 2))[1], ref.loss, await read(ctx, b.grad, H * W * 3), gradRef, { atol: 1e-4, rtol: 1e-5 }, 'tv');
  };
  return fromDispatches(ctx, op.dispatches, b, check, { bytes: 3 * H * W * 3 * F }, only(op.dispatches, 'tv_loss'));
  }),
);

cases.push(
  single('mask_apply', ['N (positions)', 'C'], [200 * 266, 64], [91, 13], async (ctx, [N, C]) => {
  const x = randomFill(N * C, 1);
  const m = randomFill(N, 2, 0, 1);
  const b: Buffers = { x: uploadStorage(ctx, x, 'x'), m: uploadStorage(ctx, m, 'm'), y: createStorage(ctx, N * C * F, 'y') };
  const d = await maskApply(ctx, N, C, { x: b.x, m: b.m, y: b.y });
  // one f32 product of f32 inputs: correctly rounded
  const check = async () => [{ label: 'y', got: await read(ctx, b.y, N * C), ref: maskApplyCpu(x, m, N, C), atol: 0, rtol: 2 ** -24 }];
  return fromDispatches(ctx, [d], b, check, { bytes: (2 * N * C + N) * F });
  }),
);

// The vec kernels of the optimizers, dispatched as src/optim/vecops.ts does (bindings from their
// headers), with plain coefficients (no scalar slots) and the default workgroup of 256.
const WG = 256;
const NONE = 0xffffffff;
const vecGrid = (n: number): [number, number, number] => [Math.min(Math.ceil(n / WG), 65535), 1, 1];

cases.push(
  // accumulate = 1: y = a x + y; 0: the scaled copy y = a x (VecBatch.scaleCopy)
  single('vec_axpy', ['n', 'accumulate'], [400 * 533 * 3 * 8, 1], [1001, 1], async (ctx, [n, acc]) => {
    const a = -0.75;
    const x = randomFill(n, 1);
    const y = randomFill(n, 2);
    const b: Buffers = { x: uploadStorage(ctx, x, 'x'), y: uploadStorage(ctx, y, 'y'), S: createStorage(ctx, 16, 'scalars') };
    const params = createUniform(ctx, [n, a, NONE, NONE], 'vec_axpy params', [false, true, false, false]);
    const d = await makeDispatch(ctx, { shader: 'vec_axpy', constants: { WG, ACCUMULATE: acc ? 1 : 0 } }, [params, b.x, b.y, b.S], vecGrid(n));
    // y is updated in place: the check compares after exactly one run
    const ref = acc ? vecAxpyCpu(a, x, y) : vecScaleCopyCpu(a, x);
    const check = async () => [{ label: 'y', got: await read(ctx, b.y, n), ref, atol: 1e-6, rtol: 1e-6 }];
    return fromDispatches(ctx, [d], b, check, { flops: (acc ? 2 : 1) * n, bytes: (acc ? 3 : 2) * n * F });
  }),
);

for (const shader of ['vec_dot', 'vec_dot_finish'] as const) {
  cases.push(
  single(shader, ['n'], [400 * 533 * 3 * 8], [65537], async (ctx, [n]) => {
      const x = randomFill(n, 1);
      const y = randomFill(n, 2);
      const P = Math.max(1, Math.min(256, Math.ceil(n / WG)));
      const b: Buffers = { x: uploadStorage(ctx, x, 'x'), y: uploadStorage(ctx, y, 'y'), partials: createStorage(ctx, P * 16, 'partials'), S: createStorage(ctx, 16, 'scalars') };
      const dot = await makeDispatch(ctx, { shader: 'vec_dot', constants: { WG } }, [createUniform(ctx, [n], 'vec_dot params'), b.x, b.y, b.partials], [P, 1, 1]);
      const fin = await makeDispatch(ctx, { shader: 'vec_dot_finish', constants: { WG } }, [createUniform(ctx, [P, 0, NONE, 0], 'vec_dot_finish params'), b.partials, b.S], [1, 1, 1]);
      const check = async () => {
        const ref = vecDotCpu(x, y);
        const got = await read(ctx, b.S, 4);
        // f32 summation bound of the tests: depth * eps32 * sum |terms|, x2 margin
        const depth = Math.ceil(n / (WG * P)) + Math.log2(WG) + Math.ceil(Math.log2(P)) + 2;
        const bound = (s: number) => 2 * depth * 2 ** -24 * s + 1e-30;
        return [
          { label: 'a.b', got: [got[0]], ref: [ref.dot], atol: bound(ref.sumAbsProducts), rtol: 0 },
          { label: 'a.a', got: [got[1]], ref: [ref.sumSq], atol: bound(ref.sumSq), rtol: 0 },
          { label: 'max |a|, non-finite count', got: [got[2], got[3]], ref: [Math.fround(ref.maxAbs), ref.nonFinite], atol: 0, rtol: 0 },
        ];
      };
      const counts = shader === 'vec_dot' ? { flops: 4 * n, bytes: 2 * n * F } : { bytes: P * 16 };
      return fromDispatches(ctx, [dot, fin], b, check, counts, shader === 'vec_dot' ? [dot] : [fin]);
  }),
);
}

cases.push(
  single('vec_adam', ['n'], [400 * 533 * 3 * 8], [1001], async (ctx, [n]) => {
  const x = randomFill(n, 1);
  const g = randomFill(n, 2);
  const hp = { lr: 0.3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  const b: Buffers = { g: uploadStorage(ctx, g, 'g'), x: uploadStorage(ctx, x, 'x'), m: createStorage(ctx, n * F, 'm'), v: createStorage(ctx, n * F, 'v') };
  const words = [n, hp.lr, hp.beta1, hp.beta2, 1 - hp.beta1, 1 - hp.beta2, hp.eps, 1 - hp.beta1, 1 - hp.beta2];
  const params = createUniform(ctx, words, 'vec_adam params', [false, true, true, true, true, true, true, true, true]);
  const d = await makeDispatch(ctx, { shader: 'vec_adam', constants: { WG } }, [params, b.g, b.x, b.m, b.v], vecGrid(n));
  const check = async () => {
    const st = vecAdamCpu(x, new Float64Array(n), new Float64Array(n), g, { ...hp, t: 1 });
    return [
      { label: 'x', got: await read(ctx, b.x, n), ref: st.x, atol: 1e-6, rtol: 1e-5 },
      { label: 'm', got: await read(ctx, b.m, n), ref: st.m, atol: 1e-6, rtol: 1e-5 },
      { label: 'v', got: await read(ctx, b.v, n), ref: st.v, atol: 1e-6, rtol: 1e-5 },
    ];
  };
  return fromDispatches(ctx, [d], b, check, { flops: 12 * n, bytes: 7 * n * F });
  }),
);

// display_caffe: a render pipeline (vertex + fragment), drawn into an rgba8unorm texture here
// as the page draws into its canvas, and compared with displayCaffeBytesCpu (within one step).
cases.push(
  single('display_caffe', ['rows', 'cols'], [400, 533], [5, 7], async (ctx, [rows, cols]) => {
  const { device } = ctx;
  const x = randomFill(rows * cols * 3, 1, -160, 160); // below 0 and above 255 once the mean is added
  const format: GPUTextureFormat = 'rgba8unorm';
  const module = await getShaderModule(ctx, 'display_caffe');
  const pipeline = await device.createRenderPipelineAsync({
    label: 'display_caffe',
    layout: 'auto',
    vertex: { module, entryPoint: 'vs_main' },
    fragment: { module, entryPoint: 'fs_main', targets: [{ format }] },
    primitive: { topology: 'triangle-list' },
  });
  const b: Buffers = { x: uploadStorage(ctx, x, 'x'), params: createUniform(ctx, [rows, cols, cols, rows], 'display_caffe params') };
  const texture = device.createTexture({ label: 'display target', size: [cols, rows], format, usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC });
  const bytesPerRow = Math.ceil((cols * 4) / 256) * 256;
  b.out = device.createBuffer({ label: 'display read-back', size: bytesPerRow * rows, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: b.x } },
      { binding: 1, resource: { buffer: b.params } },
    ],
  });
  const draw = (enc: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites) => {
    const pass = enc.beginRenderPass({ colorAttachments: [{ view: texture.createView(), loadOp: 'clear', storeOp: 'store', clearValue: [0, 0, 0, 1] }], timestampWrites });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.draw(3);
    pass.end();
  };
  return {
    async run() {
      const enc = device.createCommandEncoder({ label: 'display_caffe' });
      draw(enc);
      enc.copyTextureToBuffer({ texture }, { buffer: b.out, bytesPerRow }, [cols, rows]);
      await submitChecked(ctx, [enc.finish()], 'display_caffe');
    },
    async check() {
      const raw = new Uint8Array(await readBuffer(ctx, b.out));
      const got = new Uint8Array(rows * cols * 4);
      for (let r = 0; r < rows; r++) got.set(raw.subarray(r * bytesPerRow, r * bytesPerRow + cols * 4), r * cols * 4);
      return [{ label: 'RGBA bytes', got, ref: displayCaffeBytesCpu(x, rows, cols), atol: 1, rtol: 0 }];
    },
    encodeTimed: draw,
    bytes: rows * cols * (3 * F + 4),
    destroy() {
      destroyAll(b);
      texture.destroy();
    },
  };
  }),
);

export const KERNEL_CASES: ReadonlyMap<string, KernelCase> = new Map(cases.map((c) => [c.name, c]));
