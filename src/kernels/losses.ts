// The loss kernels: content, style (on a Gram matrix), total variation, and the reduction of
// their per-workgroup partial sums into a slot of a small scalars buffer.
// Each loss kernel writes partial sums [groups]; reduceSum adds them into scalars[slot].

import type { GpuContext } from '../gpu/device.ts';
import { createStorage, createUniform, type Dispatch, dispatchWithParams, makeDispatch } from '../gpu/runtime.ts';

/** Workgroups of a grid-stride loss kernel: enough to cover n, at most 1024 (partials stay small). */
export function lossGroups(n: number): number {
  return Math.max(1, Math.min(1024, Math.ceil(n / 256)));
}

function params(ctx: GpuContext, u32s: number[], f32: number, label: string): GPUBuffer {
  return createUniform(ctx, [...u32s, f32], label, [...u32s.map(() => false), true]);
}

export interface LossOp {
  dispatches: Dispatch[];
  partials: GPUBuffer;
}

/** scalars[slot] = sum(partials[0..n)); accumulate: scalars[slot] += it. */
export function reduceSum(ctx: GpuContext, n: number, slot: number, b: { partials: GPUBuffer; scalars: GPUBuffer }, accumulate = false): Promise<Dispatch> {
  return dispatchWithParams(ctx, 'reduce_sum', [n, slot], [b.partials, b.scalars], [1, 1, 1], { accumulate });
}

/**
 * Content loss coef*sum((f-target)^2) into scalars[slot]; df (+)= 2 coef (f - target).
 * `accumulate` adds to df; `accumulateLoss` adds to scalars[slot] (one call per row band).
 */
export async function contentLoss(
  ctx: GpuContext,
  n: number,
  coef: number,
  slot: number,
  b: { f: GPUBuffer; target: GPUBuffer; df: GPUBuffer; scalars: GPUBuffer },
  accumulate = false,
  accumulateLoss = false,
): Promise<LossOp> {
  const groups = lossGroups(n);
  const partials = createStorage(ctx, groups * 4, 'content partials');
  const d = await makeDispatch(ctx, { shader: 'content_loss', constants: { ACCUMULATE: accumulate ? 1 : 0 } }, [params(ctx, [n], coef, 'content_loss params'), b.f, b.target, b.df, partials], [groups, 1, 1]);
  return { dispatches: [d, await reduceSum(ctx, groups, slot, { partials, scalars: b.scalars }, accumulateLoss)], partials };
}

/** Style loss factor*sum((g-a)^2) into scalars[slot]; m = 4 factor (g - a) for gramBackward. */
export async function styleLoss(
  ctx: GpuContext,
  C: number,
  factor: number,
  slot: number,
  b: { g: GPUBuffer; a: GPUBuffer; m: GPUBuffer; scalars: GPUBuffer },
): Promise<LossOp> {
  const n = C * C;
  const groups = lossGroups(n);
  const partials = createStorage(ctx, groups * 4, 'style partials');
  const d = await makeDispatch(ctx, { shader: 'style_loss' }, [params(ctx, [n], factor, 'style_loss params'), b.g, b.a, b.m, partials], [groups, 1, 1]);
  return { dispatches: [d, await reduceSum(ctx, groups, slot, { partials, scalars: b.scalars })], partials };
}

/** The rows a tv_loss pass covers (see shaders/tv_loss.wgsl): rows [r0, r1) of x, written at row o0 of grad. */
export interface TvRows {
  r0: number;
  r1: number;
  o0: number;
}

/**
 * TV loss into scalars[slot]; grad = vggGrad + dTV/dx. x: [H, W, 3]; vggGrad, grad: [H, W, 3], or
 * with `rows` the rows [r0, r1) of x (plus its halo rows), written from row o0 of grad (one
 * pass per band chunk; `accumulateLoss` adds to scalars[slot]).
 */
export async function tvLoss(
  ctx: GpuContext,
  H: number,
  W: number,
  weight: number,
  slot: number,
  b: { x: GPUBuffer; vggGrad: GPUBuffer; grad: GPUBuffer; scalars: GPUBuffer },
  rows: TvRows = { r0: 0, r1: H, o0: 0 },
  accumulateLoss = false,
): Promise<LossOp> {
  if (!(rows.r0 >= 0 && rows.r0 < rows.r1 && rows.r1 <= H && rows.o0 >= 0)) throw new Error(`tvLoss: rows [${rows.r0}, ${rows.r1}) outside the ${H} rows of x`);
  const groups = lossGroups((rows.r1 - rows.r0) * W * 3);
  const partials = createStorage(ctx, groups * 4, 'tv partials');
  const u = params(ctx, [H, W, rows.r0, rows.r1, rows.o0], weight, 'tv_loss params');
  const d = await makeDispatch(ctx, { shader: 'tv_loss' }, [u, b.x, b.vggGrad, b.grad, partials], [groups, 1, 1]);
  return { dispatches: [d, await reduceSum(ctx, groups, slot, { partials, scalars: b.scalars }, accumulateLoss)], partials };
}
