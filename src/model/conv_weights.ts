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
  const u = new Float32Array(16 * K * N);
  // G applied to a column (a, b, c) of three taps
  const gCol = (a: number, b: number, c: number) => [a, (a + b + c) / 2, (a - b + c) / 2, c];
  const at = (ky: number, kx: number, k: number, n: number) => w[((ky * 3 + kx) * K + k) * N + n];
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const gg = [0, 1, 2].map((kx) => gCol(at(0, kx, k, n), at(1, kx, k, n), at(2, kx, k, n))); // (G g)[., kx]
      for (let i = 0; i < 4; i++) {
        const row = gCol(gg[0][i], gg[1][i], gg[2][i]); // (G g G^T)[i, .]
        for (let j = 0; j < 4; j++) u[((i * 4 + j) * K + k) * N + n] = row[j];
      }
    }
  }
  return u;
}
