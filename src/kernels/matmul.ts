// matmul: C[M, N] = A[M, K] x B[K, N], row-major f32, optionally `batch` such products stored
// one after another (shaders/conv3x3_winograd_gemm_v7.wgsl). This is the production GEMM: the
// model runs it batched inside conv3x3 v7 (Winograd's 16 GEMMs, winogradDispatches in
// conv3x3.ts builds it through here). The benchmark also times it alone (1024^3) as the
// adapter's matmul ceiling, the figure every conv row is a fraction of.

import type { GpuContext } from '../gpu/device.ts';
import { createUniform, type Dispatch, makeDispatch } from '../gpu/runtime.ts';
import type { ShaderName } from '../gpu/shader_names.ts';

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  /** independent products of this shape, stored one after another (default 1) */
  batch?: number;
}

/** The shader this module runs. */
export const MATMUL_SHADER: ShaderName = 'conv3x3_winograd_gemm_v7';

/** FLOPs of one call: 2*M*N*K per product. */
export function matmulFlops(s: MatmulShape): number {
  return 2 * s.M * s.N * s.K * (s.batch ?? 1);
}

/** One dispatch computing C = A x B (per product); `label` names its params buffer. */
export async function matmul(ctx: GpuContext, s: MatmulShape, b: { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer }, label: string = MATMUL_SHADER): Promise<Dispatch> {
  if (s.N % 4 !== 0) throw new Error(`${MATMUL_SHADER}: N must be a multiple of 4 (B is read as vec4 rows), got N=${s.N}`);
  const params = createUniform(ctx, [s.M, s.N, s.K], `${label} params`);
  return makeDispatch(ctx, { shader: MATMUL_SHADER }, [params, b.a, b.b, b.c], [Math.ceil(Math.ceil(s.N / 8) / 8), Math.ceil(Math.ceil(s.M / 8) / 8), s.batch ?? 1]);
}
