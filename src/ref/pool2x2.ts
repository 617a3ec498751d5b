// CPU references of pool2x2_forward / pool2x2_backward (Float64). x [H, W, C] -> y [H/2, W/2, C] (floor).
import type { PoolMode } from '../kernels/pool2x2.ts';

type Arr = ArrayLike<number>;

/**
 * Calls f(o, idx) for every output element of a 2x2 pooling of [H, W, C] (a last odd row or
 * column is dropped): o its index in [H/2, W/2, C], idx the indices in x of its window, in
 * window order (top left, top right, bottom left, bottom right).
 */
function forEachWindow(H: number, W: number, C: number, f: (o: number, idx: number[]) => void): void {
  const Ho = Math.floor(H / 2);
  const Wo = Math.floor(W / 2);
  for (let oy = 0; oy < Ho; oy++)
    for (let ox = 0; ox < Wo; ox++)
      for (let c = 0; c < C; c++) f((oy * Wo + ox) * C + c, [0, 1, 2, 3].map((k) => ((2 * oy + (k >> 1)) * W + 2 * ox + (k & 1)) * C + c));
}

export function pool2x2ForwardCpu(x: Arr, H: number, W: number, C: number, mode: PoolMode): Float64Array {
  const y = new Float64Array(Math.floor(H / 2) * Math.floor(W / 2) * C);
  forEachWindow(H, W, C, (o, idx) => {
    const v = idx.map((i) => x[i]);
    y[o] = mode === 'max' ? Math.max(...v) : (v[0] + v[1] + v[2] + v[3]) / 4;
  });
  return y;
}

/** Gradient of sum(dy * pool(x)) w.r.t. x; max ties go to the first maximum in window order. */
export function pool2x2BackwardCpu(dy: Arr, x: Arr, H: number, W: number, C: number, mode: PoolMode): Float64Array {
  const dx = new Float64Array(H * W * C);
  forEachWindow(H, W, C, (o, idx) => {
    const g = dy[o];
    if (mode === 'avg') {
      for (const i of idx) dx[i] += g / 4;
    } else {
      let best = idx[0];
      for (const i of idx) if (x[i] > x[best]) best = i;
      dx[best] += g;
    }
  });
  return dx;
}
