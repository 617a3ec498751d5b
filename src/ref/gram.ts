// CPU references of the Gram matrix and the losses (Float64).
type Arr = ArrayLike<number>;

/** G [C, C] = F^T F, F [N, C]. */
export function gramCpu(f: Arr, N: number, C: number): Float64Array {
  const g = new Float64Array(C * C);
  for (let p = 0; p < N; p++) {
    const b = p * C;
    for (let i = 0; i < C; i++) {
      const fi = f[b + i];
      if (fi === 0) continue;
      for (let j = 0; j < C; j++) g[i * C + j] += fi * f[b + j];
    }
  }
  return g;
}

/** dF = F M, F [N, C], M [C, C]. */
export function gramBackwardCpu(f: Arr, m: Arr, N: number, C: number): Float64Array {
  const df = new Float64Array(N * C);
  for (let p = 0; p < N; p++)
    for (let j = 0; j < C; j++) {
      const fj = f[p * C + j];
      if (fj === 0) continue;
      for (let k = 0; k < C; k++) df[p * C + k] += fj * m[j * C + k];
    }
  return df;
}

/** lossScale*sum((u-v)^2) and gradScale*(u-v), elementwise. */
function squaredError(u: Arr, v: Arr, lossScale: number, gradScale: number): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(u.length);
  let s = 0;
  for (let i = 0; i < u.length; i++) {
    const d = u[i] - v[i];
    s += d * d;
    grad[i] = gradScale * d;
  }
  return { loss: lossScale * s, grad };
}

/** Style loss factor*sum((G-A)^2) and M = 4 factor (G - A). */
export function styleLossCpu(g: Arr, a: Arr, factor: number): { loss: number; m: Float64Array } {
  const { loss, grad } = squaredError(g, a, factor, 4 * factor);
  return { loss, m: grad };
}

/** Content loss coef*sum((F-P)^2) and its gradient 2 coef (F - P). */
export function contentLossCpu(f: Arr, p: Arr, coef: number): { loss: number; grad: Float64Array } {
  return squaredError(f, p, coef, 2 * coef);
}

/** The notebook's TV loss w*sum((a^2+b^2)^1.25) over x [H, W, 3] and its gradient. */
export function tvLossCpu(x: Arr, H: number, W: number, w: number): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(H * W * 3);
  let s = 0;
  const at = (i: number, j: number, c: number) => x[(i * W + j) * 3 + c];
  for (let i = 0; i < H - 1; i++)
    for (let j = 0; j < W - 1; j++)
      for (let c = 0; c < 3; c++) {
        const a = at(i, j, c) - at(i + 1, j, c);
        const b = at(i, j, c) - at(i, j + 1, c);
        const t = a * a + b * b;
        s += t ** 1.25;
        const k = t > 0 ? w * 1.25 * t ** 0.25 : 0;
        grad[(i * W + j) * 3 + c] += k * (2 * a + 2 * b);
        grad[((i + 1) * W + j) * 3 + c] -= k * 2 * a;
        grad[(i * W + j + 1) * 3 + c] -= k * 2 * b;
      }
  return { loss: w * s, grad };
}
