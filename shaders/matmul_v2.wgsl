// matmul_v2 — plain dense matrix product C = A x B, register-tiled. It exists as the yardstick:
// the benchmark's "ceiling" is the GFLOP/s this kernel reaches on the adapter, and every conv
// row is reported as a fraction of it. Same tiling as conv3x3_forward_v2 (4 rows x 8 columns
// per invocation, 4 + 8 loads per 32 multiply-adds), without the im2col index arithmetic.
//
// Math:  C[m, n] = sum_k A[m, k] * B[k, n]
// Bindings:
//   0  params           uniform {M, N, K}
//   1  a  [M, K]         f32, row-major, read
//   2  b  [K, N]         f32, row-major, read
//   3  c  [M, N]         f32, row-major, written
// Invocation (gx, gy): columns n0 = 8*gx .. n0+7, rows m0 = 4*gy .. m0+3 (out-of-range rows and
//   columns read clamped addresses and are not stored). Workgroup 8 x 8.
// Dispatch: ceil(ceil(N/8)/8) x ceil(ceil(M/4)/8).

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn store8(row: u32, n0: u32, lo: vec4f, hi: vec4f) {
  if (row >= p.M) { return; }
  let v = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
  for (var j = 0u; j < 8u; j++) {
    if (n0 + j < p.N) { c[row * p.N + n0 + j] = v[j]; }
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 8u;
  let m0 = gid.y * 4u;
  if (n0 >= p.N || m0 >= p.M) { return; }
  let lastRow = p.M - 1u;
  let ra = vec4u(min(m0, lastRow), min(m0 + 1u, lastRow), min(m0 + 2u, lastRow), min(m0 + 3u, lastRow)) * p.K;
  let last = p.N - 1u;
  var a0l = vec4f(0.0); var a0h = vec4f(0.0);
  var a1l = vec4f(0.0); var a1h = vec4f(0.0);
  var a2l = vec4f(0.0); var a2h = vec4f(0.0);
  var a3l = vec4f(0.0); var a3h = vec4f(0.0);
  var bb = 0u;
  for (var k = 0u; k < p.K; k++) {
    let av = vec4f(a[ra.x + k], a[ra.y + k], a[ra.z + k], a[ra.w + k]);
    let bl = vec4f(b[bb + min(n0, last)], b[bb + min(n0 + 1u, last)], b[bb + min(n0 + 2u, last)], b[bb + min(n0 + 3u, last)]);
    let bh = vec4f(b[bb + min(n0 + 4u, last)], b[bb + min(n0 + 5u, last)], b[bb + min(n0 + 6u, last)], b[bb + min(n0 + 7u, last)]);
    a0l = fma(vec4f(av.x), bl, a0l); a0h = fma(vec4f(av.x), bh, a0h);
    a1l = fma(vec4f(av.y), bl, a1l); a1h = fma(vec4f(av.y), bh, a1h);
    a2l = fma(vec4f(av.z), bl, a2l); a2h = fma(vec4f(av.z), bh, a2h);
    a3l = fma(vec4f(av.w), bl, a3l); a3h = fma(vec4f(av.w), bh, a3h);
    bb += p.N;
  }
  store8(m0, n0, a0l, a0h);
  store8(m0 + 1u, n0, a1l, a1h);
  store8(m0 + 2u, n0, a2l, a2h);
  store8(m0 + 3u, n0, a3l, a3h);
}
