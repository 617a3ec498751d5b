// Gram matrices: G = F^T F over the h*w positions of a layer (F [N, C], NHWC viewed as a matrix),
// and the gradient of a loss on G w.r.t. F.
//   gramForward: gram_forward (split-K partials of the upper block triangle) + gram_reduce
//   gramBackward: dF (+)= F M with M = dL/dG + (dL/dG)^T, [N, C] x [C, C], on the production GEMM
//     (conv3x3_winograd_gemm_v7, its ACCUMULATE override when dF already holds a gradient)

import type { GpuContext } from '../gpu/device.ts';
import { createStorage, type Dispatch, dispatchWithParams } from '../gpu/runtime.ts';
import { strideGrid } from './elementwise.ts';
import { matmul } from './matmul.ts';

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
 * g [C, C] (+)= f^T f, f [N, C], C a multiple of 4 (gram_forward reads vec4). `accumulate` adds
 * to g (a feature map in row bands: one call per band); `partials` may be passed to share one
 * scratch between calls (at least S*C*C floats for S = gramSplits(N, C, maxBytes)); maxBytes caps
 * the partials' size.
 */
export async function gramForward(
  ctx: GpuContext,
  N: number,
  C: number,
  b: { f: GPUBuffer; g: GPUBuffer; partials?: GPUBuffer },
  accumulate = false,
  maxBytes = Infinity,
): Promise<GramForward> {
  if (C % 4 !== 0) throw new Error(`gram forward: C must be a multiple of 4 (F is read as vec4), got C=${C}`);
  const S = gramSplits(N, C, b.partials ? Math.min(maxBytes, b.partials.size) : maxBytes);
  const chunk = Math.ceil(N / S);
  const partials = b.partials ?? createStorage(ctx, S * C * C * 4, `gram partials ${N}x${C}`);
  const nb = Math.ceil(C / 8);
  const blocks = (nb * (nb + 1)) / 2; // the upper block triangle
  const fwd = await dispatchWithParams(ctx, 'gram_forward', [N, C, chunk, S], [b.f, partials], [Math.ceil((blocks * S) / 64), 1, 1]);
  const red = await dispatchWithParams(ctx, 'gram_reduce', [C, S], [partials, b.g], strideGrid(C * C), { accumulate });
  return { dispatches: [fwd, red], partials };
}

/** Rows of F one GEMM dispatch covers: 65535 workgroups of 8 x 8 invocations of 8 rows each. */
export const GRAM_BACKWARD_MAX_ROWS = 65535 * 64;

/**
 * df (+)= f m, f [N, C], m [C, C], C a multiple of 4 (every VGG19 layer's is): the production
 * GEMM conv3x3_winograd_gemm_v7 with A = f, B = m, C = df, one dispatch per `maxRows` rows (one
 * below about 4.2 M positions; a range of rows is bound at an offset of rows * C floats, a multiple
 * of 256 bytes when maxRows is a multiple of 16). Labelled "gram_backward:conv3x3_winograd_gemm_v7"
 * so that profiles tell it from the convs' GEMMs.
 */
export async function gramBackward(
  ctx: GpuContext,
  N: number,
  C: number,
  b: { f: GPUBuffer; m: GPUBuffer; df: GPUBuffer },
  accumulate = false,
  maxRows = GRAM_BACKWARD_MAX_ROWS,
): Promise<Dispatch[]> {
  if (C % 4 !== 0) throw new Error(`gram backward: C must be a multiple of 4 (the GEMM reads M as vec4 rows), got C=${C}`);
  if (maxRows % 16 !== 0 || maxRows > GRAM_BACKWARD_MAX_ROWS) throw new Error(`gram backward: maxRows must be a multiple of 16 and at most ${GRAM_BACKWARD_MAX_ROWS}, got ${maxRows}`);
  const out: Dispatch[] = [];
  for (let r0 = 0; r0 < N; r0 += maxRows) {
    const rows = Math.min(maxRows, N - r0);
    const whole = rows === N;
    const range = (buffer: GPUBuffer) => (whole ? buffer : { buffer, offset: r0 * C * 4, size: rows * C * 4 });
    const d = await matmul(ctx, { M: rows, N: C, K: C }, { a: range(b.f), b: b.m, c: range(b.df) }, 'gram_backward', 'v7', accumulate);
    out.push({ ...d, label: `gram_backward:${d.label}${whole ? '' : ` [rows ${r0}-${r0 + rows - 1} of ${N}]`}` });
  }
  return out;
}
