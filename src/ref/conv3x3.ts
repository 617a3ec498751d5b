// CPU references for conv3x3_forward and conv3x3_backward (Float64, plain loops).
// Layouts as in the kernels: x [H, W, Cin], w [3, 3, Cin, Cout] (HWIO), b [Cout], y [H, W, Cout].

type Arr = ArrayLike<number>;

/**
 * Calls f(p, k) for each of the 3x3 taps around output pixel (oy, ox) that lie inside the image
 * ('same' padding: taps outside read zeros, so they are skipped): p = iy * W + ix, the input
 * pixel, and k = ky * 3 + kx, the tap.
 */
function forEachTap(H: number, W: number, oy: number, ox: number, f: (p: number, k: number) => void): void {
  for (let ky = 0; ky < 3; ky++) {
    const iy = oy + ky - 1;
    if (iy < 0 || iy >= H) continue;
    for (let kx = 0; kx < 3; kx++) {
      const ix = ox + kx - 1;
      if (ix >= 0 && ix < W) f(iy * W + ix, ky * 3 + kx);
    }
  }
}

/** y = relu(conv3x3_same(x, w) + b); returns [H, W, Cout] in Float64. */
export function conv3x3ForwardCpu(x: Arr, w: Arr, b: Arr, H: number, W: number, Cin: number, Cout: number, relu = true): Float64Array {
  const y = new Float64Array(H * W * Cout);
  for (let oy = 0; oy < H; oy++) {
    for (let ox = 0; ox < W; ox++) {
      const o = (oy * W + ox) * Cout;
      for (let co = 0; co < Cout; co++) y[o + co] = b[co];
      forEachTap(H, W, oy, ox, (p, k) => {
        const xb = p * Cin;
        const wb = k * Cin * Cout;
        for (let ci = 0; ci < Cin; ci++) {
          const xv = x[xb + ci];
          if (xv === 0) continue;
          const wr = wb + ci * Cout;
          for (let co = 0; co < Cout; co++) y[o + co] += xv * w[wr + co];
        }
      });
      if (relu) for (let co = 0; co < Cout; co++) if (y[o + co] < 0) y[o + co] = 0;
    }
  }
  return y;
}

/**
 * Gradient w.r.t. x of L = sum(dy * relu(conv(x) + b)), given the forward output y (post-ReLU):
 * dx = conv3x3_same(dy * (y > 0), flip_transpose(w)). Returns [H, W, Cin] in Float64.
 */
export function conv3x3BackwardCpu(dy: Arr, y: Arr, w: Arr, H: number, W: number, Cin: number, Cout: number): Float64Array {
  const g = new Float64Array(H * W * Cout);
  for (let i = 0; i < g.length; i++) g[i] = y[i] > 0 ? dy[i] : 0;
  const dx = new Float64Array(H * W * Cin);
  for (let oy = 0; oy < H; oy++) {
    for (let ox = 0; ox < W; ox++) {
      const gb = (oy * W + ox) * Cout;
      forEachTap(H, W, oy, ox, (p, k) => {
        const xb = p * Cin;
        const wb = k * Cin * Cout;
        for (let ci = 0; ci < Cin; ci++) {
          let s = 0;
          const wr = wb + ci * Cout;
          for (let co = 0; co < Cout; co++) s += g[gb + co] * w[wr + co];
          dx[xb + ci] += s;
        }
      });
    }
  }
  return dx;
}

/**
 * The kernel of the input gradient as a forward convolution: wt[ky, kx, co, ci] = w[2-ky, 2-kx, ci, co]
 * ([3, 3, Cout, Cin]). conv3x3_backward v2/v3 read this layout (computed once per layer at load).
 */
export function flipTransposeCpu(w: Arr, Cin: number, Cout: number): Float32Array {
  const wt = new Float32Array(9 * Cin * Cout);
  for (let ky = 0; ky < 3; ky++)
    for (let kx = 0; kx < 3; kx++)
      for (let ci = 0; ci < Cin; ci++)
        for (let co = 0; co < Cout; co++)
          wt[((ky * 3 + kx) * Cout + co) * Cin + ci] = w[(((2 - ky) * 3 + (2 - kx)) * Cin + ci) * Cout + co];
  return wt;
}

/**
 * The tolerance of a conv kernel against these references (|got - ref| <= atol + rtol*|ref|),
 * from measured float32 error: a dot product of K terms of size ~1 accumulates rounding of order
 * eps32*sqrt(K) (eps32 = 1.2e-7); the worst measured error of the direct and F(2x2, 3x3) kernels
 * over test/kernels.test.ts's shapes (lavapipe) was 0.13 of 1e-6*sqrt(K): atol = 4e-7*sqrt(K),
 * rtol = 1e-5, a ~3x margin for adapters that order the sums differently. F(4x4, 3x3) (v9)
 * multiplies its inputs by transform entries up to 5/2 per direction before the GEMM and its
 * outputs by up to 8, so its rounding error is larger: 5-7x v7's, worst 3.8e-5 at 100x133,
 * 128 -> 128 channels (K = 1152; `npm run kernel -- conv3x3_forward --version v9`), 2.8x v7's atol:
 * 8x v7's atol keeps the ~3x margin for v9.
 */
export function convTolerance(K: number, version = 'v7'): { atol: number; rtol: number } {
  return { atol: (version === 'v9' ? 3.2e-6 : 4e-7) * Math.sqrt(K), rtol: 1e-5 };
}
