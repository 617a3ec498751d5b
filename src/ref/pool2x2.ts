// CPU references of pool2x2_forward / pool2x2_backward (Float64). x [H, W, C] -> y [H/2, W/2, C] (floor).
import type { PoolMode } from '../kernels/pool2x2.ts';

type Arr = ArrayLike<number>;

export function pool2x2ForwardCpu(x: Arr, H: number, W: number, C: number, mode: PoolMode): Float64Array {
  const Ho = Math.floor(H / 2);
  const Wo = Math.floor(W / 2);
  const y = new Float64Array(Ho * Wo * C);
  for (let oy = 0; oy < Ho; oy++)
    for (let ox = 0; ox < Wo; ox++)
      for (let c = 0; c < C; c++) {
        const v = [0, 1, 2, 3].map((k) => x[((2 * oy + (k >> 1)) * W + 2 * ox + (k & 1)) * C + c]);
        y[(oy * Wo + ox) * C + c] = mode === 'max' ? Math.max(...v) : (v[0] + v[1] + v[2] + v[3]) / 4;
      }
  return y;
}

/** Gradient of sum(dy * pool(x)) w.r.t. x; max ties go to the first maximum in window order. */
export function pool2x2BackwardCpu(dy: Arr, x: Arr, H: number, W: number, C: number, mode: PoolMode): Float64Array {
  const Ho = Math.floor(H / 2);
  const Wo = Math.floor(W / 2);
  const dx = new Float64Array(H * W * C);
  for (let oy = 0; oy < Ho; oy++)
    for (let ox = 0; ox < Wo; ox++)
      for (let c = 0; c < C; c++) {
        const g = dy[(oy * Wo + ox) * C + c];
        const idx = [0, 1, 2, 3].map((k) => ((2 * oy + (k >> 1)) * W + 2 * ox + (k & 1)) * C + c);
        if (mode === 'avg') {
          for (const i of idx) dx[i] += g / 4;
        } else {
          let best = idx[0];
          for (const i of idx) if (x[i] > x[best]) best = i;
          dx[best] += g;
        }
      }
  return dx;
}
