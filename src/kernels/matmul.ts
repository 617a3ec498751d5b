// matmul: C[M, N] = A[M, K] x B[K, N], row-major f32, optionally `batch` such products stored
// one after another (shaders/conv3x3_winograd_gemm_v7.wgsl). This is the production GEMM: the
// model runs it batched inside conv3x3 v7 (Winograd's 16 GEMMs, winogradDispatches in
// conv3x3.ts builds it through here), and the Gram backward runs it unbatched with `accumulate`
// (gram.ts gramBackward). The benchmark also times it alone (1024^3) as the
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

/** The shader this module runs by default (v7: register-tiled, runs everywhere). */
export const MATMUL_SHADER: ShaderName = 'conv3x3_winograd_gemm_v7';

/**
 * The GEMM versions: v7 (shaders/conv3x3_winograd_gemm_v7.wgsl) runs everywhere; v8
 * (conv3x3_winograd_gemm_v8.wgsl) shares A through subgroup shuffles and needs the device
 * feature 'subgroups' (ctx.subgroups).
 */
export type GemmVersion = 'v7' | 'v8';

/** Why a GEMM version cannot run on this device, or null when it can. */
export function gemmUnavailable(ctx: GpuContext, version: GemmVersion): string | null {
  if (version === 'v8' && !ctx.subgroups) return "the adapter has no 'subgroups' feature";
  return null;
}

/** FLOPs of one call: 2*M*N*K per product. */
export function matmulFlops(s: MatmulShape): number {
  return 2 * s.M * s.N * s.K * (s.batch ?? 1);
}

/**
 * One dispatch computing C = A x B (per product), or C += A x B with `accumulate` (v7 only: its
 * ACCUMULATE override); `label` names its params buffer.
 */
export async function matmul(
  ctx: GpuContext,
  s: MatmulShape,
  b: { a: GPUBuffer | GPUBufferBinding; b: GPUBuffer; c: GPUBuffer | GPUBufferBinding },
  label: string = MATMUL_SHADER,
  version: GemmVersion = 'v7',
  accumulate = false,
): Promise<Dispatch> {
  const shader: ShaderName = version === 'v8' ? 'conv3x3_winograd_gemm_v8' : MATMUL_SHADER;
  if (s.N % 4 !== 0) throw new Error(`${shader}: N must be a multiple of 4 (B is read as vec4 rows), got N=${s.N}`);
  const why = gemmUnavailable(ctx, version);
  if (why) throw new Error(`${shader}: ${why}`);
  if (accumulate && version !== 'v7') throw new Error(`${shader}: accumulate is only in v7 (its ACCUMULATE override)`);
  const params = createUniform(ctx, [s.M, s.N, s.K], `${label} params`);
  if (version === 'v8') {
    // lanes along N: a power of two covering ceil(N/8) column blocks, at most 64, and a multiple
    // of every subgroup size the adapter may pick (so that every subgroup is full)
    const blocks = Math.ceil(s.N / 8);
    const wx = Math.max(Math.min(2 ** Math.ceil(Math.log2(blocks)), 64), ctx.subgroups!.maxSize);
    const groupsY = Math.ceil(s.M / 8);
    if (groupsY > 65535) throw new Error(`${shader}: M=${s.M} needs ${groupsY} workgroups in y, over the limit of 65535`);
    return makeDispatch(ctx, { shader, constants: { WX: wx } }, [params, b.a, b.b, b.c], [Math.ceil(blocks / wx), groupsY, s.batch ?? 1]);
  }
  // no constants unless accumulating: the Winograd GEMM and a plain Gram backward share one pipeline
  return makeDispatch(ctx, { shader: MATMUL_SHADER, constants: accumulate ? { ACCUMULATE: 1 } : undefined }, [params, b.a, b.b, b.c], [Math.ceil(Math.ceil(s.N / 8) / 8), Math.ceil(Math.ceil(s.M / 8) / 8), s.batch ?? 1]);
}
