// Small elementwise kernels: relu_backward (g = dy * (y > 0)), scalar and vec4.
// Shapes: flat [N] f32 buffers.

import type { GpuContext } from '../gpu/device.ts';
import { type Dispatch, dispatchWithParams } from '../gpu/runtime.ts';

/** Workgroups for a grid-stride kernel covering 256 items per workgroup (at most 65535 of them). */
export function strideGrid(n: number): [number, number, number] {
  return [Math.max(1, Math.min(65535, Math.ceil(n / 256))), 1, 1];
}

/**
 * g[i] = dy[i] * (y[i] > 0); g must differ from dy and y. Four elements per invocation
 * (relu_backward_vec4) when n % 4 == 0, else one (relu_backward).
 */
export function reluBackward(ctx: GpuContext, n: number, b: { dy: GPUBuffer; y: GPUBuffer; g: GPUBuffer }): Promise<Dispatch> {
  const shader = n % 4 === 0 ? 'relu_backward_vec4' : 'relu_backward';
  // both cover 256 elements per workgroup (256 x 1, or 64 x 4)
  return dispatchWithParams(ctx, shader, [n], [b.dy, b.y, b.g], strideGrid(n));
}
