// The weight transforms the model uploads once at load (the weights are frozen, so the input
// gradient and Winograd need no per-evaluation work on them):
//   flipTranspose     wt[ky, kx, co, ci] = w[2-ky, 2-kx, ci, co]: the input gradient of a conv
//                     is a forward conv of the ReLU-masked gradient with wt (conv3x3 v2-v7)
//   winogradWeights   U = G g G^T per (ci, co), [(m+2)^2, K, N]: the B operands of the GEMMs of
//                     conv3x3 v7/v8 (F(2x2, 3x3), m = 2, 16 GEMMs) and v9 (F(4x4, 3x3), m = 4, 36)
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
 * U[(m+2)i+j, k, n] = (G g G^T)[i, j], g = w[., ., k, n] ([3, 3, K, N], HWIO), in Float64 and
 * stored as f32 once; m = 2 (F(2x2, 3x3), [16, K, N]) or 4 (F(4x4, 3x3), [36, K, N]).
 * G for m = 2: [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]];
 * for m = 4: [[1, 0, 0], [-1/3, -1/3, -1/3], [1/3, -1/3, 1/3], [1/15, 2/15, 4/15], [-16/15, 8/15, -4/15], [0, 0, 1]]
 * (Lavin & Gray 2015 for m = 2; m = 4 on the points src/ref/winograd.ts explains, whose
 * winogradWeightsCpu forms the literal products).
 * Forward: winogradWeights(w, Cin, Cout, m); input gradient: winogradWeights(flipTranspose(w), Cout, Cin, m).
 */
export function winogradWeights(w: ArrayLike<number>, K: number, N: number, m: 2 | 4 = 2): Float32Array<ArrayBuffer> {
  // Written without per-pair arrays: at load this runs over every (k, n) pair of the network
  // (3.4 M, both directions), where small arrays per pair cost seconds.
  const a = m + 2;
  const u = new Float32Array(a * a * K * N);
  const plane = K * N;
  const row = m === 2 ? winogradRow2 : winogradRow4;
  const c0 = new Float64Array(a), c1 = new Float64Array(a), c2 = new Float64Array(a);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const at = k * N + n;
      // g[ky][kx] = w[((ky * 3 + kx) * K + k) * N + n]; rows of G g are combinations of g's rows
      // (the same combinations `row` applies to a row's three entries), then each times G^T
      const g00 = w[at], g01 = w[plane + at], g02 = w[2 * plane + at];
      const g10 = w[3 * plane + at], g11 = w[4 * plane + at], g12 = w[5 * plane + at];
      const g20 = w[6 * plane + at], g21 = w[7 * plane + at], g22 = w[8 * plane + at];
      row(c0, 0, 1, g00, g10, g20); // column kx of G g: G applied to column kx of g
      row(c1, 0, 1, g01, g11, g21);
      row(c2, 0, 1, g02, g12, g22);
      for (let i = 0; i < a; i++) row(u, (i * a) * plane + at, plane, c0[i], c1[i], c2[i]);
    }
  }
  return u;
}

/** G (F(2x2, 3x3)) applied to (p, q, r): its four entries at o, o + step, o + 2 step, o + 3 step. */
function winogradRow2(u: Float32Array | Float64Array, o: number, step: number, p: number, q: number, r: number): void {
  u[o] = p;
  u[o + step] = (p + q + r) / 2;
  u[o + 2 * step] = (p - q + r) / 2;
  u[o + 3 * step] = r;
}

/** G (F(4x4, 3x3), points 0, 1, -1, 2, -1/2, infinity) applied to (p, q, r): its six entries at o, o + step, ..., o + 5 step. */
function winogradRow4(u: Float32Array | Float64Array, o: number, step: number, p: number, q: number, r: number): void {
  u[o] = p;
  u[o + step] = -(p + q + r) / 3;
  u[o + 2 * step] = (p - q + r) / 3;
  u[o + 3 * step] = (p + 2 * q + 4 * r) / 15;
  u[o + 4 * step] = (-16 * p + 8 * q - 4 * r) / 15;
  u[o + 5 * step] = r;
}
