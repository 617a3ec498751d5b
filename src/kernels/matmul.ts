// matmul: C[M, N] = A[M, K] x B[K, N], row-major f32, optionally `batch` such products stored
// one after another. The benchmark's yardstick ("ceiling") for what a well-tiled GEMM reaches on
// the adapter; the model runs the same shader batched inside conv3x3 v7 (Winograd's 16 GEMMs).

import type { GpuContext } from '../gpu/device.ts';
import { createUniform, type Dispatch, makeDispatch } from '../gpu/runtime.ts';

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  /** independent products of this shape, stored one after another (default 1) */
  batch?: number;
}

export const MATMUL_VERSIONS = ['v2'] as const;
export type MatmulVersion = (typeof MATMUL_VERSIONS)[number];

export async function matmul(
  ctx: GpuContext,
  version: MatmulVersion,
  s: MatmulShape,
  b: { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer },
): Promise<Dispatch> {
  const shader = `matmul_${version}`;
  if (s.N % 4 !== 0) throw new Error(`${shader}: N must be a multiple of 4 (B is read as vec4 rows), got N=${s.N}`);
  const params = createUniform(ctx, [s.M, s.N, s.K], `${shader} params`);
  return makeDispatch(ctx, { shader }, [params, b.a, b.b, b.c], [Math.ceil(Math.ceil(s.N / 8) / 8), Math.ceil(Math.ceil(s.M / 8) / 8), s.batch ?? 1]);
}
