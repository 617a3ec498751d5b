// pool2x2: 2x2 pooling, stride 2, 'valid' (odd sizes floor), max or average, and its gradient.
// Shapes (NHWC, batch 1): x [H, W, C] -> y [floor(H/2), floor(W/2), C];
// backward: dy [Ho, Wo, C], x (forward input) -> dx [H, W, C].

import type { GpuContext } from '../gpu/device.ts';
import { type Dispatch, dispatchWithParams } from '../gpu/runtime.ts';
import { strideGrid } from './elementwise.ts';

export type PoolMode = 'max' | 'avg';

export interface PoolShape {
  H: number;
  W: number;
  C: number;
}

function modeConst(mode: PoolMode): number {
  if (mode !== 'max' && mode !== 'avg') throw new Error(`pooling must be "max" or "avg", got "${mode}"`);
  return mode === 'max' ? 0 : 1;
}

export async function pool2x2Forward(ctx: GpuContext, mode: PoolMode, s: PoolShape, b: { x: GPUBuffer; y: GPUBuffer }): Promise<Dispatch> {
  const n = Math.floor(s.H / 2) * Math.floor(s.W / 2) * s.C;
  return dispatchWithParams(ctx, 'pool2x2_forward', [s.H, s.W, s.C], [b.x, b.y], strideGrid(n), { constants: { MODE: modeConst(mode) } });
}

export async function pool2x2Backward(ctx: GpuContext, mode: PoolMode, s: PoolShape, b: { dy: GPUBuffer; x: GPUBuffer; dx: GPUBuffer }, accumulate = false): Promise<Dispatch> {
  return dispatchWithParams(ctx, 'pool2x2_backward', [s.H, s.W, s.C], [b.dy, b.x, b.dx], strideGrid(s.H * s.W * s.C), { constants: { MODE: modeConst(mode) }, accumulate });
}
