// Gram matrices: G = F^T F over the h*w positions of a layer (F [N, C], NHWC viewed as a matrix),
// and the gradient of a loss on G w.r.t. F.
//   gramForward: gram_forward (split-K partials of the upper block triangle) + gram_reduce
//   gramBackward: dF (+)= F M with M = dL/dG + (dL/dG)^T, [N, C] x [C, C]

import type { GpuContext } from '../gpu/device.ts';
import { createStorage, type Dispatch, dispatchWithParams } from '../gpu/runtime.ts';
import { strideGrid } from './elementwise.ts';

/**
 * How many position ranges gram_forward splits N into: >= 2048 positions each, at most 64, and
 * few enough that the [S, C, C] partials stay within maxBytes (at least 1).
 */
export function gramSplits(N: number, C = 1, maxBytes = Infinity): number {
  return Math.max(1, Math.min(64, Math.floor(N / 2048), Math.floor(maxBytes / (C * C * 4))));
}

export interface GramForward {
  dispatches: Dispatch[];
  /** scratch: [S, C, C] partial sums (owned by this op) */
  partials: GPUBuffer;
}

/**
 * g [C, C] (+)= f^T f, f [N, C]. `accumulate` adds to g (a feature map in row bands: one call per
 * band); `partials` may be passed to share one scratch between calls (at least S*C*C floats for
 * S = gramSplits(N, C, maxBytes)); maxBytes caps the partials' size.
 */
export async function gramForward(
  ctx: GpuContext,
  N: number,
  C: number,
  b: { f: GPUBuffer; g: GPUBuffer; partials?: GPUBuffer },
  accumulate = false,
  maxBytes = Infinity,
): Promise<GramForward> {
  const S = gramSplits(N, C, b.partials ? Math.min(maxBytes, b.partials.size) : maxBytes);
  const chunk = Math.ceil(N / S);
  const partials = b.partials ?? createStorage(ctx, S * C * C * 4, `gram partials ${N}x${C}`);
  const nb = Math.ceil(C / 8);
  const fwd = await dispatchWithParams(ctx, 'gram_forward', [N, C, chunk, S], [b.f, partials], [Math.ceil(nb / 4), Math.ceil(nb / 4), Math.ceil(S / 4)]);
  const red = await dispatchWithParams(ctx, 'gram_reduce', [C, S], [partials, b.g], strideGrid(C * C), { accumulate });
  return { dispatches: [fwd, red], partials };
}

/** df (+)= f m, f [N, C], m [C, C]. */
export async function gramBackward(
  ctx: GpuContext,
  N: number,
  C: number,
  b: { f: GPUBuffer; m: GPUBuffer; df: GPUBuffer },
  accumulate = false,
): Promise<Dispatch> {
  const groupsX = Math.ceil(Math.ceil(C / 8) / 8);
  const groupsTotalY = Math.ceil(Math.ceil(N / 4) / 8);
  const groupsY = Math.min(groupsTotalY, 65535);
  const groupsZ = Math.ceil(groupsTotalY / groupsY);
  return dispatchWithParams(ctx, 'gram_backward', [N, C, groupsY], [b.f, b.m, b.df], [groupsX, groupsY, groupsZ], { accumulate });
}
