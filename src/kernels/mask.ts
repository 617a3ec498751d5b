// Region masks for masked (guided) Gram matrices: y (+)= m ⊙ x (shaders/mask_apply.wgsl).
// Shapes: x, y [N, C] f32 NHWC (N = h*w of the layer), m [N] f32 (the mask at that layer).
// Forward: F' = m ⊙ F before gram_forward. Backward: dF (+)= m ⊙ dF' after the Gram backward (gram.ts gramBackward).

import type { GpuContext } from '../gpu/device.ts';
import { type Dispatch, dispatchWithParams } from '../gpu/runtime.ts';
import { strideGrid } from './elementwise.ts';

/** y [N, C] (+)= m [N] ⊙ x [N, C]; y must differ from x and m. */
export function maskApply(
  ctx: GpuContext,
  N: number,
  C: number,
  b: { x: GPUBuffer; m: GPUBuffer; y: GPUBuffer },
  accumulate = false,
): Promise<Dispatch> {
  if (!(Number.isInteger(N) && Number.isInteger(C) && N >= 1 && C >= 1)) throw new Error(`maskApply: bad shape N=${N} C=${C}`);
  if (N * C >= 2 ** 32) throw new Error(`maskApply: N*C = ${N * C} does not fit u32 indices`);
  if (b.y === b.x || b.y === b.m) throw new Error('maskApply: y must be a different buffer from x and m');
  return dispatchWithParams(ctx, 'mask_apply', [N, C], [b.x, b.m, b.y], strideGrid(N * C), { accumulate });
}
