// CPU references (Float64) for the Winograd convolutions F(2x2, 3x3) (conv3x3 v7/v8) and
// F(4x4, 3x3) (conv3x3 v9): the weight transform U = G g G^T (also what the model uploads), the
// input transform V = B^T d B, and the output transform Y = A^T M A, each formed as literal
// matrix products from the matrices below. Composed, they equal the direct convolution
// (test/kernels.test.ts checks both the pieces and the composition against conv3x3ForwardCpu).
// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015), section 4.1 (F(2x2, 3x3));
// F(4x4, 3x3) is their section 4.2 built on other interpolation points (0, 1, -1, 2, -1/2 and
// infinity), which Barabasz et al., "Error analysis and improving the accuracy of Winograd
// convolution for deep neural networks" (2018) show to matter: the matrices follow from the points
// by the Toom-Cook construction (A^T[i][j] = a_j^i; G[j] = (1, a_j, a_j^2) / prod_{l != j}(a_j - a_l);
// row j of B^T = the coefficients of prod_{l != j}(x - a_l); infinity gives the last row/column).
//
// F(m x m, 3x3): the output is cut into m x m tiles; tile (ty, tx) reads the (m+2) x (m+2) input
// patch at (m ty - 1, m tx - 1) ('same' padding: zeros outside), so the whole convolution is
// (m+2)^2 independent GEMMs over the channels: (m+2)^2 / m^2 multiply-adds per output and
// channel pair instead of 9 (F(2x2): 4, 2.25x fewer; F(4x4): 2.25, 4x fewer).

/** The tile sizes: 2 for F(2x2, 3x3), 4 for F(4x4, 3x3). */
export type WinogradTile = 2 | 4;

const MATRICES: Record<WinogradTile, { BT: number[][]; G: number[][]; AT: number[][] }> = {
  2: {
    BT: [
      [1, 0, -1, 0],
      [0, 1, 1, 0],
      [0, -1, 1, 0],
      [0, 1, 0, -1],
    ],
    G: [
      [1, 0, 0],
      [0.5, 0.5, 0.5],
      [0.5, -0.5, 0.5],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 0],
      [0, 1, -1, -1],
    ],
  },
  // points 0, 1, -1, 2, -1/2 and infinity: of the sets tried in a float32 simulation (sets of
  // 0, +-1, +-2, +-1/2, +-3, +-1/3), the most accurate, 3x less error than Lavin & Gray's 0, +-1, +-2
  4: {
    BT: [
      [1, 3 / 2, -2, -3 / 2, 1, 0],
      [0, -1, -5 / 2, -1 / 2, 1, 0],
      [0, 1, 1 / 2, -5 / 2, 1, 0],
      [0, -1 / 2, -1, 1 / 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 1, 3 / 2, -2, -3 / 2, 1],
    ],
    G: [
      [1, 0, 0],
      [-1 / 3, -1 / 3, -1 / 3],
      [1 / 3, -1 / 3, 1 / 3],
      [1 / 15, 2 / 15, 4 / 15],
      [-16 / 15, 8 / 15, -4 / 15],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 1, 1, 0],
      [0, 1, -1, 2, -1 / 2, 0],
      [0, 1, 1, 4, 1 / 4, 0],
      [0, 1, -1, 8, -1 / 8, 1],
    ],
  },
};

/** The transform matrices of F(m x m, 3x3) (for the study command and the tests). */
export function winogradMatrices(m: WinogradTile = 2): { BT: number[][]; G: number[][]; AT: number[][] } {
  return MATRICES[m];
}

/**
 * U[a*(m+2)+b, ci, co] = (G g G^T)[a, b] with g = w[., ., ci, co] (HWIO, [3, 3, Cin, Cout]),
 * formed as the two literal matrix products (shaders/winograd_weights.wgsl, which the model runs,
 * computes the same in a folded form on the device and is tested against this). Returns
 * [(m+2)^2, Cin, Cout]: the B operands of the GEMMs.
 * For the input gradient pass the flip-transposed kernel [3, 3, Cout, Cin] with (Cout, Cin).
 */
export function winogradWeightsCpu(w: ArrayLike<number>, Cin: number, Cout: number, m: WinogradTile = 2): Float64Array {
  const { G } = MATRICES[m];
  const a = m + 2;
  const u = new Float64Array(Cin * a * a * Cout);
  for (let ci = 0; ci < Cin; ci++) {
    for (let co = 0; co < Cout; co++) {
      const g = (ky: number, kx: number) => w[((ky * 3 + kx) * Cin + ci) * Cout + co];
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < a; j++) {
          let s = 0; // sum_p sum_q G[i][p] g[p][q] G[j][q]
          for (let p = 0; p < 3; p++) for (let q = 0; q < 3; q++) s += G[i][p] * g(p, q) * G[j][q];
          u[((i * a + j) * Cin + ci) * Cout + co] = s;
        }
      }
    }
  }
  return u;
}

/** Tiles of F(m x m, 3x3) for an H x W output: ceil(H/m) rows of ceil(W/m). */
export function winogradTiles(H: number, W: number, m: WinogradTile = 2): { tilesX: number; tiles: number } {
  const tilesX = Math.ceil(W / m);
  return { tilesX, tiles: Math.ceil(H / m) * tilesX };
}

/**
 * V[i*(m+2)+j, t, c] = (B^T d B)[i, j], d the (m+2) x (m+2) patch of x [H, W, C] at
 * (m ty - 1, m tx - 1), zero outside. Returns [(m+2)^2, tiles, C]: the A operands of the GEMMs.
 */
export function winogradInputCpu(x: ArrayLike<number>, H: number, W: number, C: number, m: WinogradTile = 2): Float64Array {
  const { BT } = MATRICES[m];
  const a = m + 2;
  const { tilesX, tiles } = winogradTiles(H, W, m);
  const v = new Float64Array(tiles * C * a * a);
  const at = (yy: number, xx: number, c: number) => (yy >= 0 && yy < H && xx >= 0 && xx < W ? x[(yy * W + xx) * C + c] : 0);
  for (let t = 0; t < tiles; t++) {
    const y0 = Math.floor(t / tilesX) * m - 1;
    const x0 = (t % tilesX) * m - 1;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < a; j++) {
          let s = 0; // sum_p sum_q BT[i][p] d[p][q] BT[j][q]
          for (let p = 0; p < a; p++) for (let q = 0; q < a; q++) s += BT[i][p] * at(y0 + p, x0 + q, c) * BT[j][q];
          v[((i * a + j) * tiles + t) * C + c] = s;
        }
      }
    }
  }
  return v;
}

/**
 * The whole Winograd convolution in Float64 from its pieces: M = V x U per tile and position,
 * then Y = A^T M A, cropped to H x W (no bias, no ReLU). Equals the direct convolution up to rounding.
 */
export function winogradConvCpu(x: ArrayLike<number>, w: ArrayLike<number>, H: number, W: number, Cin: number, Cout: number, m: WinogradTile = 2): Float64Array {
  const { AT } = MATRICES[m];
  const a = m + 2;
  const { tilesX, tiles } = winogradTiles(H, W, m);
  const v = winogradInputCpu(x, H, W, Cin, m);
  const u = winogradWeightsCpu(w, Cin, Cout, m);
  const y = new Float64Array(H * W * Cout);
  const mm = new Float64Array(a * a);
  for (let t = 0; t < tiles; t++) {
    const oy = Math.floor(t / tilesX) * m;
    const ox = (t % tilesX) * m;
    for (let co = 0; co < Cout; co++) {
      mm.fill(0);
      for (let k = 0; k < a * a; k++) for (let ci = 0; ci < Cin; ci++) mm[k] += v[(k * tiles + t) * Cin + ci] * u[(k * Cin + ci) * Cout + co];
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          if (oy + i >= H || ox + j >= W) continue;
          let s = 0; // sum_p sum_q AT[i][p] M[p][q] AT[j][q]
          for (let p = 0; p < a; p++) for (let q = 0; q < a; q++) s += AT[i][p] * mm[p * a + q] * AT[j][q];
          y[((oy + i) * W + ox + j) * Cout + co] = s;
        }
      }
    }
  }
  return y;
}
