// winograd_weights — the Winograd kernel transform U = G g G^T of conv3x3 v7/v8 (F(2x2, 3x3),
// TILE = 2) and v9 (F(4x4, 3x3), TILE = 4), on the device: the model runs it once per layer and
// direction at load, from the kernel w it has already uploaded (the input gradient's transform
// with FLIP, which reads w flipped and transposed: no flip-transposed copy of the kernel is made
// for it), instead of transforming 3.4 M kernel pairs on the CPU and uploading the (TILE+2)^2/9
// times larger result.
//
// Math:  U[(TILE+2) i + j, k, n] = (G g G^T)[i, j],
//        g = w[., ., k, n]                 ([3, 3, K, N], HWIO; the forward: K = Cin, N = Cout)
//        FLIP: g = w[2 - ., 2 - ., n, k]   (w [3, 3, N, K]: the flip-transpose wt of the input
//                                           gradient, K = Cout, N = Cin, read in place)
//        TILE 2:  G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]   (Lavin & Gray 2015)
//        TILE 4:  G = [[1, 0, 0], [-1/3, -1/3, -1/3], [1/3, -1/3, 1/3], [1/15, 2/15, 4/15],
//                      [-16/15, 8/15, -4/15], [0, 0, 1]]     (points 0, 1, -1, 2, -1/2, infinity;
//                      src/ref/winograd.ts builds the matrices and explains the points)
// Float32: the thirds and fifteenths are divisions (one rounding each) after exact-ish sums, so U
// is within a few float32 ulps of the Float64 transform rounded once (src/ref/winograd.ts
// winogradWeightsCpu, the reference); test/kernels.test.ts measures it.
//
// Bindings:
//   0  params  uniform {K, N}       N % 4 == 0 (every Winograd conv's GEMM output count)
//   1  w  [9, K, N]  f32, the kernel (HWIO: tap-major), read; FLIP: [9, N, K]
//   2  u  [(TILE+2)^2, K, N/4]     vec4<f32>, written
// Invocation: one k and 4 consecutive n (index i = k*N/4 + n4). Workgroup 64; 1-D grid folded into x/y.
// Overrides: TILE (2 or 4), FLIP (default false).

override TILE: u32 = 2;
override FLIP: bool = false;

struct Params { K: u32, N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<vec4f>;

// g at tap t (ky * 3 + kx) for this invocation's k and its 4 n: w[t, k, n..n+3], or with FLIP
// w[8 - t, n..n+3, k] (4 loads K apart)
fn tap(t: u32, k: u32, n: u32) -> vec4f {
  if (FLIP) {
    let o = ((8u - t) * p.N + n) * p.K + k;
    return vec4f(w[o], w[o + p.K], w[o + 2u * p.K], w[o + 3u * p.K]);
  }
  let o = (t * p.K + k) * p.N + n;
  return vec4f(w[o], w[o + 1u], w[o + 2u], w[o + 3u]);
}

// G applied to (a, b, c): F(2x2, 3x3)'s four values, or F(4x4, 3x3)'s six (the last two unused for TILE 2)
fn g(a: vec4f, b: vec4f, c: vec4f) -> array<vec4f, 6> {
  if (TILE == 2u) {
    return array<vec4f, 6>(a, (a + b + c) / 2.0, (a - b + c) / 2.0, c, vec4f(0.0), vec4f(0.0));
  }
  return array<vec4f, 6>(a, -(a + b + c) / 3.0, (a - b + c) / 3.0, (a + 2.0 * b + 4.0 * c) / 15.0, (-16.0 * a + 8.0 * b - 4.0 * c) / 15.0, c);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let plane = p.K * (p.N / 4u);
  if (i >= plane) { return; }
  let k = i / (p.N / 4u);
  let n = (i % (p.N / 4u)) * 4u;
  // columns of G g: G down each column kx of g (rows ky = 0, 1, 2 at taps kx, 3 + kx, 6 + kx)
  let c0 = g(tap(0u, k, n), tap(3u, k, n), tap(6u, k, n));
  let c1 = g(tap(1u, k, n), tap(4u, k, n), tap(7u, k, n));
  let c2 = g(tap(2u, k, n), tap(5u, k, n), tap(8u, k, n));
  // row r of G g G^T: G applied across row r of G g
  let a = TILE + 2u;
  for (var r = 0u; r < a; r++) {
    let row = g(c0[r], c1[r], c2[r]);
    for (var j = 0u; j < a; j++) { u[(r * a + j) * plane + i] = row[j]; }
  }
}
