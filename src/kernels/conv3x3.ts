// conv3x3: 3x3 convolution, stride 1, 'same' zero padding, bias + ReLU fused (forward), and its
// gradient w.r.t. the input through the ReLU (backward). Weights are frozen: no weight gradient.
//
// Shapes (batch 1, NHWC):  x [H, W, Cin]   w [3, 3, Cin, Cout] (HWIO)   b [Cout]   y [H, W, Cout]
// Backward:                dy [H, W, Cout] (w.r.t. post-ReLU y), y, dx [H, W, Cin]
//   v1 reads the HWIO kernel w and applies the ReLU mask itself (one dispatch).
//   v2 reads wt = flipTranspose(w), [3, 3, Cout, Cin], because the input gradient is then a
//   forward convolution of g = dy*(y>0) with wt (the same GEMM core as the forward); g is
//   first written by relu_backward into the caller's scratch buffer g [H, W, Cout] (two dispatches).
//
// Versions (shaders/conv3x3_<forward|backward>_vN.wgsl):
//   v1  naive: one output per invocation                         (teaching, second reference)
//   v2  register tiling: 4 pixels x 8 channels per invocation
//   v3  register tiling: 8 pixels x 8 channels, vec4 weight loads (needs the GEMM's output
//       channel count % 4 == 0: Cout forward, Cin backward; `supports` says where it applies)
//   v4  retired: a backward for narrow inputs (Cin <= 4: 16 pixels x 4 channels) that v6 beat
//       1.5-1.7x on the image's 3 channels; for 4 input channels v3 runs (git history has it)
//   v5  workgroup-memory tiling: 64 x 64 output tile per 16 x 16 workgroup (for real GPUs)
//   v6  backward only, the image layer (Cin <= 3): 2 rows x 8 pixels x 3 channels, each loaded
//       value of g shared by the taps and output rows it lies under (~1.6x v4 on lavapipe)
//   v7  Winograd F(2x2, 3x3), three shaders (no conv3x3_forward_v7.wgsl file):
//       conv3x3_winograd_input_v7, then 16 GEMMs in one batched conv3x3_winograd_gemm_v7 dispatch
//       (matmul.ts), then conv3x3_winograd_output_v7. 2.25x fewer multiply-adds than direct;
//       needs the transformed kernel (winogradKernel, on the device at load) and two scratch buffers
//       (winogradScratchFloats).
//   v8  v7 with the subgroup GEMM conv3x3_winograd_gemm_v8 (A shared by subgroupShuffle) in
//       place of conv3x3_winograd_gemm_v7; only on devices with the 'subgroups' feature
//       (convUnavailable says why not). Same transforms, buffers and shapes as v7.
//   v9  Winograd F(4x4, 3x3): conv3x3_winograd4_input_v9, 36 GEMMs in one batched
//       conv3x3_winograd_gemm_v7 dispatch, conv3x3_winograd4_output_v9. 4x fewer multiply-adds
//       than direct (1.78x fewer than v7); larger float32 rounding error than v7 (measured in
//       test/kernels.test.ts); needs Cin and Cout % 4 == 0 (its transforms move vec4 of channels).
//
// Which version runs at each VGG19 layer and direction is decided in one place:
// src/kernels/kernel_table.ts (hand-written defaults, or the autotuner's measured choice).

import type { GpuContext } from '../gpu/device.ts';
import type { ShaderName } from '../gpu/shader_names.ts';
import { createStorage, createUniform, type Dispatch, grid1d, makeDispatch, runDispatches, uploadStorage } from '../gpu/runtime.ts';
import { reluBackward } from './elementwise.ts';
import { gemmUnavailable, matmul } from './matmul.ts';

/**
 * The WGSL file of each one-file version. v7 has none of its own: it runs
 * conv3x3_winograd_input_v7, conv3x3_winograd_gemm_v7 and conv3x3_winograd_output_v7.
 */
export const CONV_SHADERS = {
  forward: { v1: 'conv3x3_forward_v1', v2: 'conv3x3_forward_v2', v3: 'conv3x3_forward_v3', v5: 'conv3x3_forward_v5' },
  backward: {
    v1: 'conv3x3_backward_v1',
    v2: 'conv3x3_backward_v2',
    v3: 'conv3x3_backward_v3',
    v5: 'conv3x3_backward_v5',
    v6: 'conv3x3_backward_v6',
  },
} as const satisfies Record<'forward' | 'backward', Partial<Record<ConvVersion, ShaderName>>>;

/** The shader of a one-file version (checkSupported has already refused a backward-only version forward). */
function convShader(direction: 'forward' | 'backward', version: ConvVersion): ShaderName {
  const shader = (CONV_SHADERS[direction] as Partial<Record<ConvVersion, ShaderName>>)[version];
  if (!shader) throw new Error(`conv3x3_${direction}_${version} has no shader of its own`);
  return shader;
}

export interface ConvShape {
  H: number;
  W: number;
  Cin: number;
  Cout: number;
}

export const CONV_VERSIONS = ['v1', 'v2', 'v3', 'v5', 'v6', 'v7', 'v8', 'v9'] as const;
export type ConvVersion = (typeof CONV_VERSIONS)[number];

/** The Winograd versions (three shaders, transformed kernel, scratch): v7, its subgroup variant v8, and v9 (F(4x4, 3x3)). */
export function isWinograd(v: ConvVersion): v is 'v7' | 'v8' | 'v9' {
  return v === 'v7' || v === 'v8' || v === 'v9';
}

/** The output tile of a Winograd version: m of F(m x m, 3x3) (v7, v8: 2; v9: 4; the others: 2, unused). */
export function winogradTile(v: ConvVersion): 2 | 4 {
  return v === 'v9' ? 4 : 2;
}

/**
 * The shaders of a Winograd version's three steps, and how many channels one invocation of its
 * input transform moves (v9's moves a vec4, v7's one).
 */
export function winogradSteps(v: ConvVersion): { input: ShaderName; output: ShaderName; gemm: 'v7' | 'v8'; inputChannels: 1 | 4 } {
  return v === 'v9'
    ? { input: 'conv3x3_winograd4_input_v9', output: 'conv3x3_winograd4_output_v9', gemm: 'v7', inputChannels: 4 }
    : { input: 'conv3x3_winograd_input_v7', output: 'conv3x3_winograd_output_v7', gemm: v === 'v8' ? 'v8' : 'v7', inputChannels: 1 };
}

/** Why a version cannot run on this device at all (v8 needs 'subgroups'), or null when it can. */
export function convUnavailable(ctx: GpuContext, v: ConvVersion): string | null {
  return v === 'v8' ? gemmUnavailable(ctx, 'v8') : null;
}

/** FLOPs of one forward (or input-gradient) conv: 2*H*W*Cin*Cout*9. */
export function convFlops(s: ConvShape): number {
  return 2 * s.H * s.W * s.Cin * s.Cout * 9;
}

function params(ctx: GpuContext, s: ConvShape, label: string): GPUBuffer {
  return createUniform(ctx, [s.H, s.W, s.Cin, s.Cout], `${label} params`);
}

function checkShape(s: ConvShape) {
  for (const k of ['H', 'W', 'Cin', 'Cout'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`conv3x3: ${k} must be a positive integer, got ${s[k]}`);
  }
}

/**
 * Whether a version can run a shape: v3 and v7 read weights as vec4 along the GEMM's output
 * channels; v6 is the input gradient for narrow inputs only (the image).
 */
export function supports(version: ConvVersion, s: ConvShape, direction: 'forward' | 'backward'): boolean {
  if (version === 'v9') return s.Cin % 4 === 0 && s.Cout % 4 === 0;
  if (version === 'v3' || isWinograd(version)) return (direction === 'forward' ? s.Cout : s.Cin) % 4 === 0;
  if (version === 'v6') return direction === 'backward' && s.Cin <= 3;
  return true;
}

/** Why a version cannot run a shape (for the error message). */
function requirement(version: ConvVersion, direction: 'forward' | 'backward'): string {
  if (version === 'v6') return direction === 'forward' ? 'is a backward-only kernel' : 'needs Cin <= 3';
  if (version === 'v9') return 'needs Cin % 4 == 0 and Cout % 4 == 0';
  return direction === 'forward' ? 'needs Cout % 4 == 0' : 'needs Cin % 4 == 0';
}

/**
 * The version to run for a shape: `preferred` where it applies; otherwise the narrow backward
 * kernel v6 where it applies (the image), else v2 (the general register-tiled kernel).
 */
export function versionFor(preferred: ConvVersion, s: ConvShape, direction: 'forward' | 'backward'): ConvVersion {
  if (supports(preferred, s, direction)) return preferred;
  if (preferred !== 'v2') {
    if (supports('v6', s, direction)) return 'v6';
  }
  return 'v2';
}

/** Workgroups of the register-tiled kernels: 8x8 invocations, each `px` pixels x 8 channels. */
function tiledGrid(H: number, W: number, channels: number, px: number): [number, number, number] {
  return [Math.ceil(Math.ceil(channels / 8) / 8), Math.ceil((H * Math.ceil(W / px)) / 8), 1];
}

/** Workgroups of v5: one per 64 pixels x 64 output channels. */
function wgTiledGrid(s: ConvShape, channels: number): [number, number, number] {
  const groupsY = Math.ceil((s.H * s.W) / 64);
  if (groupsY > 65535) throw new Error(`conv3x3 v5: ${s.H}x${s.W} needs ${groupsY} workgroups in y, over the limit of 65535`);
  return [Math.ceil(channels / 64), groupsY, 1];
}

function checkSupported(version: ConvVersion, s: ConvShape, direction: 'forward' | 'backward') {
  if (!supports(version, s, direction)) {
    throw new Error(`conv3x3_${direction}_${version} ${requirement(version, direction)} (shape Cin=${s.Cin}, Cout=${s.Cout}); use ${versionFor('v2', s, direction)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// v7, v8, v9: Winograd F(m x m, 3x3), m = winogradTile(version)

/** What a Winograd version needs besides the usual buffers: the transformed kernel and two scratch buffers. */
export interface WinogradBuffers {
  /** [(m+2)^2, K, N] transformed kernel: winogradKernel of w forward, of wt backward */
  u: GPUBuffer;
  /** scratch of at least winogradScratchFloats(s, direction, .., version).v floats (the GEMMs' A) */
  v: GPUBuffer;
  /** scratch of at least winogradScratchFloats(s, direction, .., version).m floats (the GEMMs' C) */
  m: GPUBuffer;
}

/**
 * The most bytes each of the two Winograd scratch buffers has by default: 32 MiB. Larger images
 * run in more chunks of tile rows; each chunk's GEMMs are still thousands of rows tall (at
 * 400x533, block1, v7: 29 tile rows x 267 tiles per chunk). It was 128 MiB until the memory
 * footprint became a stated figure: at 512x512 the two buffers took 256 MiB of a 1.4 GiB run.
 */
export const WINOGRAD_SCRATCH_MAX = 32 * 2 ** 20;

/**
 * The most bytes one Winograd scratch buffer may have: WINOGRAD_SCRATCH_MAX, the device's binding
 * limit, and `maxBytes` (the plan's buffer limit, --max-buffer-mib), whichever is least.
 */
export function winogradScratchLimit(ctx: GpuContext, maxBytes = Infinity): number {
  const l = ctx.device.limits;
  return Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize, WINOGRAD_SCRATCH_MAX, maxBytes);
}

/** F(m x m, 3x3) tiles of an H x W output: `tileRows` rows of `tilesX`, and (m+2)^2 GEMMs. */
function winogradGrid(H: number, W: number, version: ConvVersion): { tilesX: number; tileRows: number; gemms: number } {
  const m = winogradTile(version);
  return { tilesX: Math.ceil(W / m), tileRows: Math.ceil(H / m), gemms: (m + 2) ** 2 };
}

/**
 * Floats of the two scratch buffers of a Winograd version at a shape: v = gemms*tiles*K,
 * m = gemms*tiles*N (gemms = 16 for v7/v8, 36 for v9), where tiles are those of the largest chunk
 * of tile rows that keeps both within `maxBytes` (the image runs in such chunks). `rows` = tile
 * rows per chunk; 0 if not even one row fits.
 */
export function winogradScratchFloats(s: ConvShape, direction: 'forward' | 'backward', maxBytes = Infinity, version: ConvVersion = 'v7'): { v: number; m: number; rows: number } {
  const { tilesX, tileRows, gemms } = winogradGrid(s.H, s.W, version);
  const [K, N] = direction === 'forward' ? [s.Cin, s.Cout] : [s.Cout, s.Cin];
  const rows = Math.min(tileRows, Math.floor(maxBytes / (4 * gemms * tilesX * Math.max(K, N))));
  return { v: gemms * rows * tilesX * K, m: gemms * rows * tilesX * N, rows };
}

/** Whether a Winograd version can run this shape within the device's limits and maxBytes (at least one tile row per chunk). */
export function winogradFits(ctx: GpuContext, s: ConvShape, direction: 'forward' | 'backward', maxBytes = Infinity, version: ConvVersion = 'v7'): boolean {
  return winogradScratchFloats(s, direction, winogradScratchLimit(ctx, maxBytes), version).rows > 0;
}

/**
 * The Winograd-transformed kernel for `version`'s tile, computed on the device
 * (shaders/winograd_weights.wgsl) from a kernel already there, the result [(m+2)^2, K, N]: `src` is
 * [3, 3, K, N] (the forward: w [3, 3, Cin, Cout]), or with `flip` the kernel whose flip-transpose
 * is transformed, [3, 3, N, K] (the input gradient: w [3, 3, Cin, Cout] with K = Cout, N = Cin,
 * read flipped in place). Returns the new buffer and the dispatch that fills it (run it before
 * the conv).
 */
export async function winogradKernel(ctx: GpuContext, src: GPUBuffer, K: number, N: number, version: ConvVersion, label: string, flip = false): Promise<{ u: GPUBuffer; dispatch: Dispatch }> {
  if (N % 4 !== 0) throw new Error(`winograd_weights: ${label}: N must be a multiple of 4, got ${N}`);
  const m = winogradTile(version);
  const u = createStorage(ctx, (m + 2) ** 2 * K * N * 4, label);
  const constants: Record<string, number> = flip ? { TILE: m, FLIP: 1 } : { TILE: m };
  const dispatch = await makeDispatch(ctx, { shader: 'winograd_weights', constants }, [createUniform(ctx, [K, N], `${label} params`), src, u], grid1d((K * N) / 4));
  return { u, dispatch };
}

/**
 * Stand-alone Winograd buffers for one conv (tests, the benchmark, the autotuner): the transformed
 * kernel of the host kernel `w` (HWIO) — of its flip-transpose for the backward (read flipped on the device) — for `version`'s
 * tile (winogradKernel, as the model makes it), and the scratch (chunked to `maxScratchBytes`,
 * default the device's limit). The model shares one scratch pair across its layers instead. The
 * caller destroys them.
 */
export async function createWinogradBuffers(
  ctx: GpuContext,
  s: ConvShape,
  direction: 'forward' | 'backward',
  w: ArrayLike<number>,
  maxScratchBytes = winogradScratchLimit(ctx),
  version: ConvVersion = 'v7',
): Promise<WinogradBuffers> {
  const f = winogradScratchFloats(s, direction, maxScratchBytes, version);
  if (!f.rows) throw new Error(`conv3x3 ${version}: one row of tiles of ${s.H}x${s.W} needs more than ${maxScratchBytes} bytes of scratch`);
  const [K, N] = direction === 'forward' ? [s.Cin, s.Cout] : [s.Cout, s.Cin];
  const kernel = uploadStorage(ctx, Float32Array.from(w), `conv3x3 ${direction} kernel (to transform)`);
  const { u, dispatch } = await winogradKernel(ctx, kernel, K, N, version, `conv3x3 ${direction} winograd${winogradTile(version) === 4 ? '4' : ''} kernel`, direction === 'backward');
  await runDispatches(ctx, [dispatch]);
  kernel.destroy();
  return { u, v: createStorage(ctx, f.v * 4, `conv3x3 ${direction} winograd V`), m: createStorage(ctx, f.m * 4, `conv3x3 ${direction} winograd M`) };
}

/**
 * The steps of a Winograd version from an input `src` [H, W, K] to `dst` [H, W, N], for each chunk
 * of tile rows that the scratch buffers hold: input transform, the (m+2)^2 GEMMs (one batched
 * dispatch, built by matmul()), output transform (bias + ReLU, or plain / accumulate).
 */
async function winogradDispatches(
  ctx: GpuContext,
  label: string,
  sh: { H: number; W: number; K: number; N: number },
  b: { src: GPUBuffer; dst: GPUBuffer; bias: GPUBuffer | null } & WinogradBuffers,
  accumulate: boolean,
  version: ConvVersion,
): Promise<Dispatch[]> {
  const { tilesX, tileRows, gemms } = winogradGrid(sh.H, sh.W, version);
  const shaders = winogradSteps(version);
  const rowsPerChunk = Math.min(tileRows, Math.floor(b.v.size / (4 * gemms * tilesX * sh.K)), Math.floor(b.m.size / (4 * gemms * tilesX * sh.N)));
  if (rowsPerChunk < 1) {
    throw new Error(
      `${label}: scratch buffers too small for one row of tiles (need ${gemms * tilesX * sh.K} and ${gemms * tilesX * sh.N} floats, got ${b.v.size / 4} and ${b.m.size / 4})`,
    );
  }
  const steps: Dispatch[] = [];
  for (let row0 = 0; row0 < tileRows; row0 += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, tileRows - row0);
    const tiles = rows * tilesX;
    const chunk = (C: number) => [sh.H, sh.W, C, tilesX, row0, rows];
    const inputThreads = tiles * (sh.K / shaders.inputChannels);
    // labelled "<conv shader>:<step>[ [tile rows a-b of n]]" so that errors and profiles name the
    // conv (and chunk) they belong to
    const part = [
      await makeDispatch(ctx, { shader: shaders.input }, [createUniform(ctx, chunk(sh.K), `${label} input params`), b.src, b.v], grid1d(inputThreads)),
      await matmul(ctx, { M: tiles, N: sh.N, K: sh.K, batch: gemms }, { a: b.v, b: b.u, c: b.m }, `${label} gemm`, shaders.gemm),
      await makeDispatch(
        ctx,
        { shader: shaders.output, constants: { RELU: b.bias ? 1 : 0, ACCUMULATE: accumulate ? 1 : 0 } },
        [createUniform(ctx, chunk(sh.N), `${label} output params`), b.m, b.bias ?? b.m, b.dst],
        grid1d(tiles * (sh.N / 4)),
      ),
    ];
    const where = rowsPerChunk < tileRows ? ` [tile rows ${row0}-${row0 + rows - 1} of ${tileRows}]` : '';
    steps.push(...part.map((d) => ({ ...d, label: `${label}:${d.label}${where}` })));
  }
  return steps;
}

function needWinograd(version: ConvVersion, direction: string, wino: WinogradBuffers | undefined): WinogradBuffers {
  if (!wino) throw new Error(`conv3x3_${direction}_${version}: needs the transformed kernel and scratch buffers (b.winograd: winogradKernel, winogradScratchFloats)`);
  return wino;
}

/** y = relu(conv(x, w) + b). Returns the dispatches to run in order (Winograd: three per chunk of tile rows, else one). */
export async function conv3x3Forward(
  ctx: GpuContext,
  version: ConvVersion,
  s: ConvShape,
  b: { x: GPUBuffer; w: GPUBuffer; bias: GPUBuffer; y: GPUBuffer; winograd?: WinogradBuffers },
): Promise<Dispatch[]> {
  checkShape(s);
  checkSupported(version, s, 'forward');
  if (isWinograd(version)) {
    const wino = needWinograd(version, 'forward', b.winograd);
    return winogradDispatches(ctx, `conv3x3_forward_${version}`, { H: s.H, W: s.W, K: s.Cin, N: s.Cout }, { src: b.x, dst: b.y, bias: b.bias, ...wino }, false, version);
  }
  const shader = convShader('forward', version);
  const grid = version === 'v1' ? grid1d(s.H * s.W * s.Cout) : version === 'v5' ? wgTiledGrid(s, s.Cout) : tiledGrid(s.H, s.W, s.Cout, version === 'v3' ? 8 : 4);
  return [await makeDispatch(ctx, { shader }, [params(ctx, s, shader), b.x, b.w, b.bias, b.y], grid)];
}

/** Whether a backward version reads the flip-transposed kernel wt (the direct v2-v6; v1 reads w, the Winograd versions their transform). */
export function usesFlippedKernel(version: ConvVersion): boolean {
  return !isWinograd(version) && version !== 'v1';
}

/**
 * dx (+)= d/dx of sum(dy * y). `w` is the HWIO kernel (v1), `wt` its flip-transpose (v2-v6: required);
 * `g` is a scratch buffer of H*W*Cout floats (v2-v9); the Winograd versions read `winograd` (u = the transformed
 * flip-transpose). Returns the dispatches to run in order.
 */
export async function conv3x3Backward(
  ctx: GpuContext,
  version: ConvVersion,
  s: ConvShape,
  b: { dy: GPUBuffer; y: GPUBuffer; w: GPUBuffer; wt?: GPUBuffer; g: GPUBuffer; dx: GPUBuffer; winograd?: WinogradBuffers },
  accumulate = false,
): Promise<Dispatch[]> {
  checkShape(s);
  checkSupported(version, s, 'backward');
  if (usesFlippedKernel(version) && !b.wt) throw new Error(`conv3x3 backward ${version}: needs the flip-transposed kernel wt`);
  const constants = { ACCUMULATE: accumulate ? 1 : 0 };
  if (isWinograd(version)) {
    const wino = needWinograd(version, 'backward', b.winograd);
    return [
      await reluBackward(ctx, s.H * s.W * s.Cout, { dy: b.dy, y: b.y, g: b.g }),
      ...(await winogradDispatches(ctx, `conv3x3_backward_${version}`, { H: s.H, W: s.W, K: s.Cout, N: s.Cin }, { src: b.g, dst: b.dx, bias: null, ...wino }, accumulate, version)),
    ];
  }
  const shader = convShader('backward', version);
  if (version === 'v1') {
    return [await makeDispatch(ctx, { shader, constants }, [params(ctx, s, shader), b.dy, b.y, b.w, b.dx], grid1d(s.H * s.W * s.Cin))];
  }
  const grid: [number, number, number] =
    version === 'v6'
      ? [Math.ceil((Math.ceil(s.H / 2) * Math.ceil(s.W / 8)) / 64), 1, 1]
      : version === 'v5'
        ? wgTiledGrid(s, s.Cin)
        : tiledGrid(s.H, s.W, s.Cin, version === 'v3' ? 8 : 4);
  return [
    await reluBackward(ctx, s.H * s.W * s.Cout, { dy: b.dy, y: b.y, g: b.g }),
    await makeDispatch(ctx, { shader, constants }, [params(ctx, s, shader), b.g, b.wt!, b.dx], grid),
  ];
}
