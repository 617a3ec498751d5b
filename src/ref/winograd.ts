// CPU references (Float64) for the Winograd F(2x2, 3x3) convolution (conv3x3 v7): the weight
// transform U = G g G^T (also what the model uploads), the input transform V = B^T d B, and the
// output transform Y = A^T M A. Composed, they equal the direct convolution (test/kernels.test.ts
// checks both the pieces and the composition against conv3x3ForwardCpu).
// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015), section 4.1.

const G = [
  [1, 0, 0],
  [0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5],
  [0, 0, 1],
];

/**
 * U[4i+j, ci, co] = (G g G^T)[i, j] with g = w[., ., ci, co] (HWIO, [3, 3, Cin, Cout]), formed
 * as the two literal matrix products (the model's src/model/conv_weights.ts winogradWeights
 * computes the same in a folded form and is tested against this). Returns [16, Cin, Cout]: the
 * B operands of the 16 GEMMs.
 * For the input gradient pass the flip-transposed kernel [3, 3, Cout, Cin] with (Cout, Cin).
 */
export function winogradWeightsCpu(w: ArrayLike<number>, Cin: number, Cout: number): Float64Array {
  const u = new Float64Array(Cin * 16 * Cout);
  for (let ci = 0; ci < Cin; ci++) {
    for (let co = 0; co < Cout; co++) {
      const g = (ky: number, kx: number) => w[((ky * 3 + kx) * Cin + ci) * Cout + co];
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          let s = 0; // sum_a sum_b G[i][a] g[a][b] G[j][b]
          for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) s += G[i][a] * g(a, b) * G[j][b];
          u[((i * 4 + j) * Cin + ci) * Cout + co] = s;
        }
      }
    }
  }
  return u;
}

/** Tiles of F(2x2, 3x3) for an H x W output: ceil(H/2) rows of ceil(W/2). */
export function winogradTiles(H: number, W: number): { tilesX: number; tiles: number } {
  const tilesX = Math.ceil(W / 2);
  return { tilesX, tiles: Math.ceil(H / 2) * tilesX };
}

/**
 * V[4i+j, t, c] = (B^T d B)[i, j], d the 4x4 patch of x [H, W, C] at (2ty-1, 2tx-1), zero outside.
 * Returns [16, tiles, C]: the A operands of the 16 GEMMs.
 */
export function winogradInputCpu(x: ArrayLike<number>, H: number, W: number, C: number): Float64Array {
  const { tilesX, tiles } = winogradTiles(H, W);
  const v = new Float64Array(tiles * C * 16);
  const at = (yy: number, xx: number, c: number) => (yy >= 0 && yy < H && xx >= 0 && xx < W ? x[(yy * W + xx) * C + c] : 0);
  const bt = (a: number, b: number, c: number, d: number) => [a - c, b + c, c - b, b - d]; // B^T applied to (a, b, c, d)
  for (let t = 0; t < tiles; t++) {
    const y0 = Math.floor(t / tilesX) * 2 - 1;
    const x0 = (t % tilesX) * 2 - 1;
    for (let c = 0; c < C; c++) {
      const rows = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => at(y0 + i, x0 + j, c)));
      const r = [0, 1, 2, 3].map((j) => bt(rows[0][j], rows[1][j], rows[2][j], rows[3][j])); // r[j][i] = (B^T d)[i, j]
      for (let i = 0; i < 4; i++) {
        const out = bt(r[0][i], r[1][i], r[2][i], r[3][i]);
        for (let j = 0; j < 4; j++) v[((i * 4 + j) * tiles + t) * C + c] = out[j];
      }
    }
  }
  return v;
}

/**
 * The whole Winograd convolution in Float64 from its pieces: M = V x U per tile and xi, then
 * Y = A^T M A, cropped to H x W (no bias, no ReLU). Equals the direct convolution up to rounding.
 */
export function winogradConvCpu(x: ArrayLike<number>, w: ArrayLike<number>, H: number, W: number, Cin: number, Cout: number): Float64Array {
  const { tilesX, tiles } = winogradTiles(H, W);
  const v = winogradInputCpu(x, H, W, Cin);
  const u = winogradWeightsCpu(w, Cin, Cout);
  const y = new Float64Array(H * W * Cout);
  const m = new Float64Array(16);
  for (let t = 0; t < tiles; t++) {
    const oy = Math.floor(t / tilesX) * 2;
    const ox = (t % tilesX) * 2;
    for (let co = 0; co < Cout; co++) {
      m.fill(0);
      for (let k = 0; k < 16; k++) for (let ci = 0; ci < Cin; ci++) m[k] += v[(k * tiles + t) * Cin + ci] * u[(k * Cin + ci) * Cout + co];
      // A^T M A with A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
      const s = [0, 1, 2, 3].map((j) => [m[j] + m[4 + j] + m[8 + j], m[4 + j] - m[8 + j] - m[12 + j]]);
      const out = [
        [s[0][0] + s[1][0] + s[2][0], s[1][0] - s[2][0] - s[3][0]],
        [s[0][1] + s[1][1] + s[2][1], s[1][1] - s[2][1] - s[3][1]],
      ];
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) if (oy + i < H && ox + j < W) y[((oy + i) * W + ox + j) * Cout + co] = out[i][j];
    }
  }
  return y;
}
