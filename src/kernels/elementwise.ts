// Small elementwise kernels: relu_backward (g = dy * (y > 0)).
// Shapes: flat [N] f32 buffers.

import type { GpuContext } from '../gpu/device.ts';
import { createUniform, type Dispatch, makeDispatch } from '../gpu/runtime.ts';

/** Workgroups for a grid-stride kernel of workgroup size 256 over n items. */
export function strideGrid(n: number): [number, number, number] {
  return [Math.max(1, Math.min(65535, Math.ceil(n / 256))), 1, 1];
}

/** g[i] = dy[i] * (y[i] > 0); g must differ from dy and y. */
export function reluBackward(ctx: GpuContext, n: number, b: { dy: GPUBuffer; y: GPUBuffer; g: GPUBuffer }): Promise<Dispatch> {
  const shader = 'relu_backward';
  return makeDispatch(ctx, { shader }, [createUniform(ctx, [n], `${shader} params`), b.dy, b.y, b.g], strideGrid(n));
}
