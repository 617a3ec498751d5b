// The weight transforms the model uploads once at load (the weights are frozen, so the input
// gradient and Winograd need no per-evaluation work on them):
//   flipTranspose     wt[ky, kx, co, ci] = w[2-ky, 2-kx, ci, co]: the input gradient of a conv
//                     is a forward conv of the ReLU-masked gradient with wt (conv3x3 v2-v7)
//   winogradWeights   U = G g G^T per (ci, co), [16, K, N]: the B operands of conv3x3 v7's GEMMs
// Their oracles are src/ref/conv3x3.ts flipTransposeCpu and src/ref/winograd.ts
// winogradWeightsCpu (which forms G g G^T as literal matrix products); test/kernels.test.ts
// compares them. The runtime does not import src/ref/ (test/layering.test.ts).

/** wt = flipTranspose(w): w [3, 3, Cin, Cout] (HWIO) -> wt [3, 3, Cout, Cin]. */
export function flipTranspose(w: ArrayLike<number>, Cin: number, Cout: number): Float32Array<ArrayBuffer> {
  const wt = new Float32Array(9 * Cin * Cout);
  for (let tap = 0; tap < 9; tap++) {
    const src = (8 - tap) * Cin * Cout; // tap (ky, kx) reads (2-ky, 2-kx): 8 - (3ky + kx)
    const dst = tap * Cin * Cout;
    for (let ci = 0; ci < Cin; ci++) for (let co = 0; co < Cout; co++) wt[dst + co * Cin + ci] = w[src + ci * Cout + co];
  }
  return wt;
}

/**
 * U[4i+j, k, n] = (G g G^T)[i, j], g = w[., ., k, n] ([3, 3, K, N], HWIO), in Float64 and stored
 * as f32 once. G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]] (Lavin & Gray 2015).
 * Forward: winogradWeights(w, Cin, Cout); input gradient: winogradWeights(flipTranspose(w), Cout, Cin).
 */
export function winogradWeights(w: ArrayLike<number>, K: number, N: number): Float32Array<ArrayBuffer> {
  // Written without per-element arrays: at load this runs over every (k, n) pair of the network
  // (3.4 M, both directions), where small arrays per pair cost seconds.
  const u = new Float32Array(16 * K * N);
  const plane = K * N;
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const at = k * N + n;
      // g[ky][kx] = w[((ky * 3 + kx) * K + k) * N + n]; G g: row 0 = g[0], row 1 = (g[0] + g[1] + g[2]) / 2,
      // row 2 = (g[0] - g[1] + g[2]) / 2, row 3 = g[2]; then each row times G^T (winogradRow)
      const g00 = w[at], g01 = w[plane + at], g02 = w[2 * plane + at];
      const g10 = w[3 * plane + at], g11 = w[4 * plane + at], g12 = w[5 * plane + at];
      const g20 = w[6 * plane + at], g21 = w[7 * plane + at], g22 = w[8 * plane + at];
      winogradRow(u, at, plane, g00, g01, g02);
      winogradRow(u, 4 * plane + at, plane, (g00 + g10 + g20) / 2, (g01 + g11 + g21) / 2, (g02 + g12 + g22) / 2);
      winogradRow(u, 8 * plane + at, plane, (g00 - g10 + g20) / 2, (g01 - g11 + g21) / 2, (g02 - g12 + g22) / 2);
      winogradRow(u, 12 * plane + at, plane, g20, g21, g22);
    }
  }
  return u;
}

/** Row i of U = G g G^T from row i of G g (a, b, c): its four entries at o, o + plane, o + 2 plane, o + 3 plane. */
function winogradRow(u: Float32Array, o: number, plane: number, a: number, b: number, c: number): void {
  u[o] = a;
  u[o + plane] = (a + b + c) / 2;
  u[o + 2 * plane] = (a - b + c) / 2;
  u[o + 3 * plane] = c;
}
