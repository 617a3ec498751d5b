// The network's ops on banded tensors (src/model/bands.ts): conv3x3 forward and backward, 2x2
// pooling forward and backward, and the total-variation loss of the image, as lists of steps
// (dispatches and copies).
//
// When every tensor an op touches has one band, the op binds those buffers directly (the kernels'
// own path, no copies). Otherwise it runs in chunks of output rows through four shared scratch
// buffers (BandScratch): gather the chunk's input rows (with a one-row halo for the 3x3 conv, the
// 2x2 window's rows for pooling), run the unchanged kernel on the scratch image, copy the chunk's
// own rows out. See bands.ts for why the kept rows equal the unbanded result exactly.
//
// Chunk sizes come from the scratch size S (bytes per scratch buffer):
//   conv:  R = floor(S / (W * max(Cin, Cout) * 4)) - 2 output rows (+ 2 halo rows in scratch)
//   pool:  P = floor((S / (W * C * 4) - 1) / 2) output rows (2P, or 2P + 1 for an odd last row, in)
//   tv:    T = floor(S / (W * 3 * 4)) - 2 rows of the image (+ a halo row on each side in scratch);
//          a chunk never crosses a band of the gradient, which it writes in place

import type { GpuContext } from '../gpu/device.ts';
import type { Dispatch } from '../gpu/runtime.ts';
import { type ConvShape, type ConvVersion, conv3x3Backward, conv3x3Forward, type WinogradBuffers } from '../kernels/conv3x3.ts';
import { tvLoss } from '../kernels/losses.ts';
import { type PoolMode, pool2x2Backward, pool2x2Forward } from '../kernels/pool2x2.ts';
import { type Banded, type CopyStep, copyRows, scratchView, single } from './bands.ts';

/** One step of a recorded pass: a dispatch, a copy, or a buffer set to zero. */
export type Step = { kind: 'dispatch'; d: Dispatch } | CopyStep | { kind: 'clear'; buf: GPUBuffer };

const dispatchSteps = (ds: Dispatch[]): Step[] => ds.map((d) => ({ kind: 'dispatch', d }));

/** Four scratch buffers of `bytes` each, shared by every chunked op of a plan. */
export interface BandScratch {
  bytes: number;
  s: [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
}

const isSingle = (...ts: Banded[]) => ts.every((t) => t.bands.length === 1);

/** Output rows per chunk of a chunked conv (its scratch image has up to R + 2 rows). */
export function convChunkRows(s: ConvShape, scratchBytes: number): number {
  const R = Math.min(s.H, Math.floor(scratchBytes / (s.W * Math.max(s.Cin, s.Cout) * 4)) - 2);
  if (R < 1) throw new Error(`conv3x3 ${s.H}x${s.W}x${s.Cin}->${s.Cout}: three rows do not fit the ${(scratchBytes / 2 ** 20).toFixed(2)} MiB band scratch`);
  return R;
}

/** Output rows per chunk of a chunked 2x2 pooling of a [H, W, C] input. */
export function poolChunkRows(H: number, W: number, C: number, scratchBytes: number): number {
  const P = Math.min(Math.floor(H / 2), Math.floor((Math.floor(scratchBytes / (W * C * 4)) - 1) / 2));
  if (P < 1) throw new Error(`pool2x2 ${H}x${W}x${C}: three rows do not fit the ${(scratchBytes / 2 ** 20).toFixed(2)} MiB band scratch`);
  return P;
}

/** The largest image height a conv kernel is run at: H unbanded, else the chunk's R + 2 (at most H). */
export function convKernelRows(s: ConvShape, banded: boolean, scratchBytes: number): number {
  return banded ? Math.min(s.H, convChunkRows(s, scratchBytes) + 2) : s.H;
}

function needScratch(scratch: BandScratch | null, what: string): BandScratch {
  if (!scratch) throw new Error(`${what}: a tensor is banded but the plan has no band scratch`);
  return scratch;
}

/** Chunks [r0, r1) of `H` rows, `R` at a time. */
function* chunks(H: number, R: number): Generator<[number, number]> {
  for (let r0 = 0; r0 < H; r0 += R) yield [r0, Math.min(H, r0 + R)];
}

/**
 * The row chunks of a conv over banded maps that fit the scratch: the rows [r0, r1) each
 * computes, and the rows [a, a + n) it reads, the chunk with the one-row halo of the 3x3 window
 * (clipped at the image's edges).
 */
function* convChunks(s: ConvShape, scratchBytes: number): Generator<{ r0: number; r1: number; a: number; n: number }> {
  for (const [r0, r1] of chunks(s.H, convChunkRows(s, scratchBytes))) {
    const a = Math.max(0, r0 - 1);
    yield { r0, r1, a, n: Math.min(s.H, r1 + 1) - a };
  }
}

/** y = relu(conv(x, w) + b) on banded x [H, W, Cin] and y [H, W, Cout]. */
export async function convForwardBanded(
  ctx: GpuContext,
  version: ConvVersion,
  s: ConvShape,
  b: { x: Banded; y: Banded; w: GPUBuffer; bias: GPUBuffer; winograd?: WinogradBuffers },
  scratch: BandScratch | null,
): Promise<Step[]> {
  const { x, y } = b;
  if (isSingle(x, y)) {
    return dispatchSteps(await conv3x3Forward(ctx, version, s, { ...b, x: single(x, 'conv input'), y: single(y, 'conv output') }));
  }
  const sc = needScratch(scratch, 'conv3x3 forward');
  const steps: Step[] = [];
  for (const { r0, r1, a, n } of convChunks(s, sc.bytes)) {
    const xs = scratchView(sc.s[0], n, s.W, s.Cin);
    const ys = scratchView(sc.s[1], n, s.W, s.Cout);
    steps.push(...copyRows(x, a, xs, 0, n));
    steps.push(...dispatchSteps(await conv3x3Forward(ctx, version, { ...s, H: n }, { ...b, x: sc.s[0], y: sc.s[1] })));
    steps.push(...copyRows(ys, r0 - a, y, r0, r1 - r0));
  }
  return steps;
}

/**
 * dx (+)= d/dx sum(dy * y) through the ReLU, on banded dy, y [H, W, Cout] and dx [H, W, Cin].
 * `g` is the unbanded path's relu scratch (H*W*Cout floats); the chunked path uses the band scratch.
 */
export async function convBackwardBanded(
  ctx: GpuContext,
  version: ConvVersion,
  s: ConvShape,
  b: { dy: Banded; y: Banded; dx: Banded; w: GPUBuffer; wt?: GPUBuffer; g: GPUBuffer | null; winograd?: WinogradBuffers },
  accumulate: boolean,
  scratch: BandScratch | null,
): Promise<Step[]> {
  const { dy, y, dx } = b;
  const kernel = { w: b.w, wt: b.wt, winograd: b.winograd };
  if (isSingle(dy, y, dx) && b.g) {
    const bufs = { dy: single(dy, 'conv dy'), y: single(y, 'conv y'), dx: single(dx, 'conv dx'), g: b.g };
    return dispatchSteps(await conv3x3Backward(ctx, version, s, { ...kernel, ...bufs }, accumulate));
  }
  const sc = needScratch(scratch, 'conv3x3 backward');
  const steps: Step[] = [];
  for (const { r0, r1, a, n } of convChunks(s, sc.bytes)) {
    const [dys, ys, gs, dxs] = sc.s;
    steps.push(...copyRows(dy, a, scratchView(dys, n, s.W, s.Cout), 0, n));
    steps.push(...copyRows(y, a, scratchView(ys, n, s.W, s.Cout), 0, n));
    const dxv = scratchView(dxs, n, s.W, s.Cin);
    // accumulate: the kept rows of the scratch start as dx's current values (halo rows are discarded)
    if (accumulate) steps.push(...copyRows(dx, r0, dxv, r0 - a, r1 - r0));
    steps.push(...dispatchSteps(await conv3x3Backward(ctx, version, { ...s, H: n }, { ...kernel, dy: dys, y: ys, g: gs, dx: dxs }, accumulate)));
    steps.push(...copyRows(dxv, r0 - a, dx, r0, r1 - r0));
  }
  return steps;
}

/** y = pool2x2(x), x [H, W, C] -> y [floor(H/2), floor(W/2), C], banded. */
export async function poolForwardBanded(ctx: GpuContext, mode: PoolMode, b: { x: Banded; y: Banded }, scratch: BandScratch | null): Promise<Step[]> {
  const { x, y } = b;
  const { H, W, C } = x;
  if (isSingle(x, y)) return dispatchSteps([await pool2x2Forward(ctx, mode, { H, W, C }, { x: single(x, 'pool input'), y: single(y, 'pool output') })]);
  const sc = needScratch(scratch, 'pool2x2 forward');
  const Ho = Math.floor(H / 2);
  const steps: Step[] = [];
  for (const [p0, p1] of chunks(Ho, poolChunkRows(H, W, C, sc.bytes))) {
    const a = 2 * p0;
    const e = p1 === Ho ? H : 2 * p1; // an odd last input row belongs to the last chunk (floored away)
    steps.push(...copyRows(x, a, scratchView(sc.s[0], e - a, W, C), 0, e - a));
    steps.push(...dispatchSteps([await pool2x2Forward(ctx, mode, { H: e - a, W, C }, { x: sc.s[0], y: sc.s[1] })]));
    steps.push(...copyRows(scratchView(sc.s[1], p1 - p0, y.W, C), 0, y, p0, p1 - p0));
  }
  return steps;
}

/** dx (+)= the gradient of pool2x2 at x for dy, banded; dx and x [H, W, C], dy [floor(H/2), floor(W/2), C]. */
export async function poolBackwardBanded(
  ctx: GpuContext,
  mode: PoolMode,
  b: { dy: Banded; x: Banded; dx: Banded },
  accumulate: boolean,
  scratch: BandScratch | null,
): Promise<Step[]> {
  const { dy, x, dx } = b;
  const { H, W, C } = x;
  if (isSingle(dy, x, dx)) {
    return dispatchSteps([
      await pool2x2Backward(ctx, mode, { H, W, C }, { dy: single(dy, 'pool dy'), x: single(x, 'pool x'), dx: single(dx, 'pool dx') }, accumulate),
    ]);
  }
  const sc = needScratch(scratch, 'pool2x2 backward');
  const Ho = Math.floor(H / 2);
  const steps: Step[] = [];
  for (const [p0, p1] of chunks(Ho, poolChunkRows(H, W, C, sc.bytes))) {
    const a = 2 * p0;
    const e = p1 === Ho ? H : 2 * p1;
    const dxv = scratchView(sc.s[2], e - a, W, C);
    steps.push(...copyRows(dy, p0, scratchView(sc.s[0], p1 - p0, dy.W, C), 0, p1 - p0));
    steps.push(...copyRows(x, a, scratchView(sc.s[1], e - a, W, C), 0, e - a));
    if (accumulate) steps.push(...copyRows(dx, a, dxv, 0, e - a));
    steps.push(...dispatchSteps([await pool2x2Backward(ctx, mode, { H: e - a, W, C }, { dy: sc.s[0], x: sc.s[1], dx: sc.s[2] }, accumulate)]));
    steps.push(...copyRows(dxv, 0, dx, a, e - a));
  }
  return steps;
}

/**
 * The TV loss of the image x [H, W, 3] into scalars[slot] and grad = vggGrad + dTV/dx, all three
 * banded alike. Chunked: each chunk gathers its rows of x with a halo row on each side (the
 * terms t(r0 - 1, .) and the row below r1 - 1 that the kept rows' gradient and terms read) and
 * runs tv_loss on them with a row range, writing the gradient straight into grad's band; the
 * chunks' loss sums add up in the slot.
 */
export async function tvLossBanded(
  ctx: GpuContext,
  weight: number,
  slot: number,
  b: { x: Banded; vggGrad: Banded; grad: Banded; scalars: GPUBuffer },
  scratch: BandScratch | null,
): Promise<Step[]> {
  const { x, vggGrad, grad } = b;
  const { H, W } = x;
  const same = (t: Banded) => t.H === H && t.W === W && t.C === 3 && t.bands.length === x.bands.length && t.bands.every((band, k) => band.r0 === x.bands[k].r0 && band.r1 === x.bands[k].r1);
  if (x.C !== 3 || !same(vggGrad) || !same(grad)) throw new Error('tv loss: the image, its VGG gradient and the gradient must be [H, W, 3] in the same bands');
  if (isSingle(x)) {
    const bufs = { x: single(x, 'tv x'), vggGrad: single(vggGrad, 'tv vgg grad'), grad: single(grad, 'tv grad'), scalars: b.scalars };
    return dispatchSteps((await tvLoss(ctx, H, W, weight, slot, bufs)).dispatches);
  }
  const sc = needScratch(scratch, 'tv loss');
  const T = Math.floor(sc.bytes / (W * 3 * 4)) - 2;
  if (T < 1) throw new Error(`tv loss ${H}x${W}: three rows do not fit the ${(sc.bytes / 2 ** 20).toFixed(2)} MiB band scratch`);
  const steps: Step[] = [];
  let first = true;
  for (const [k, band] of grad.bands.entries()) {
    for (const [c0, c1] of chunks(band.r1 - band.r0, T)) {
      const [r0, r1] = [band.r0 + c0, band.r0 + c1];
      const a = Math.max(0, r0 - 1);
      const e = Math.min(H, r1 + 1);
      steps.push(...copyRows(x, a, scratchView(sc.s[0], e - a, W, 3), 0, e - a));
      const bufs = { x: sc.s[0], vggGrad: vggGrad.bands[k].buf, grad: band.buf, scalars: b.scalars };
      steps.push(...dispatchSteps((await tvLoss(ctx, e - a, W, weight, slot, bufs, { r0: r0 - a, r1: r1 - a, o0: c0 }, !first)).dispatches));
      first = false;
    }
  }
  return steps;
}
