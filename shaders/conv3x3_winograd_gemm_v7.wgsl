// conv3x3_winograd_gemm_v7 — the production GEMM: dense matrix products C = A x B, batched,
// register-tiled. conv3x3 v7 (Winograd F(2x2, 3x3)) runs its 16 GEMMs per chunk of tile rows as
// one dispatch of this kernel, between conv3x3_winograd_input_v7 and conv3x3_winograd_output_v7
// (src/kernels/matmul.ts builds the dispatch); it is where the model spends most of its time on
// CPU adapters. The benchmark also times it alone as a plain 1024^3 matmul: that figure is the
// adapter's "ceiling" every conv row is reported against (bench/cases/ceiling.ts). It was named
// matmul_v2 while it was only that yardstick. The Gram backward (dF (+)= F M, src/kernels/gram.ts
// gramBackward) runs it too, unbatched, with ACCUMULATE when dF already holds a gradient.
// One invocation computes an 8 x 8 block of C: per k it loads 8 values of A and two vec4 of B
// for 64 multiply-adds. Of the tilings tried on lavapipe (4x4, 4x8, 8x8, 16x8, 8x16, 16x4; lanes
// along rows or columns; vec4 or scalar B loads), 8x8 with vec4 B loads and invocations adjacent
// along columns was fastest (~7.4 GFLOP/s at 1024^3, vs ~5.5 for 4x8 scalar). Batched: workgroup
// z selects one of several products of the same shape stored one after another.
//
// Math:  C[z, m, n] = sum_k A[z, m, k] * B[z, k, n]      (z = 0 .. batch-1)
// Bindings:
//   0  params           uniform {M, N, K}     (N must be a multiple of 4)
//   1  a  [batch, M, K]     f32, row-major, read
//   2  b  [batch, K, N/4]   vec4<f32>, row-major (B read 4 columns at a time), read
//   3  c  [batch, M, N]     f32, row-major, written (ACCUMULATE: added to what it holds)
// Override ACCUMULATE (default false): c += A x B instead of c = A x B. False folds away at
//   pipeline creation, so the Winograd GEMM (which never sets it) runs the same code as before.
// Invocation (gx, gy, gz): product z = gz, columns n0 = 8*gx .. n0+7, rows m0 = 8*gy .. m0+7.
//   Rows past M read a clamped row and are not stored; columns past N (N%8 == 4) read a clamped
//   vec4, not stored.
// Workgroup 8 x 8 x 1. Dispatch: ceil(ceil(N/8)/8) x ceil(ceil(M/8)/8) x batch.

override ACCUMULATE: bool = false;

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn store(z: u32, row: u32, n: u32, v: vec4f) {
  if (row >= p.M || n >= p.N) { return; }
  let o = (z * p.M + row) * p.N + n;
  if (ACCUMULATE) {
    c[o] += v.x; c[o + 1u] += v.y; c[o + 2u] += v.z; c[o + 3u] += v.w;
  } else {
    c[o] = v.x; c[o + 1u] = v.y; c[o + 2u] = v.z; c[o + 3u] = v.w;
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 8u;
  let m0 = gid.y * 8u;
  if (n0 >= p.N || m0 >= p.M) { return; }
  let lastRow = p.M - 1u;
  let n4 = p.N / 4u;                         // vec4 columns per row of B
  let z = gid.z;
  let aBase = z * p.M * p.K;
  let c0 = n0 / 4u;
  let c1 = min(c0 + 1u, n4 - 1u);            // clamped second vec4 column
  // A row offsets of the 8 rows (clamped)
  let r0 = aBase + min(m0, lastRow) * p.K;      let r1 = aBase + min(m0 + 1u, lastRow) * p.K;
  let r2 = aBase + min(m0 + 2u, lastRow) * p.K; let r3 = aBase + min(m0 + 3u, lastRow) * p.K;
  let r4 = aBase + min(m0 + 4u, lastRow) * p.K; let r5 = aBase + min(m0 + 5u, lastRow) * p.K;
  let r6 = aBase + min(m0 + 6u, lastRow) * p.K; let r7 = aBase + min(m0 + 7u, lastRow) * p.K;
  // acc<row><l|h>: columns n0..n0+3 | n0+4..n0+7
  var c0l = vec4f(0.0); var c0h = vec4f(0.0); var c1l = vec4f(0.0); var c1h = vec4f(0.0);
  var c2l = vec4f(0.0); var c2h = vec4f(0.0); var c3l = vec4f(0.0); var c3h = vec4f(0.0);
  var c4l = vec4f(0.0); var c4h = vec4f(0.0); var c5l = vec4f(0.0); var c5h = vec4f(0.0);
  var c6l = vec4f(0.0); var c6h = vec4f(0.0); var c7l = vec4f(0.0); var c7h = vec4f(0.0);
  var bRow = z * p.K * n4;
  for (var k = 0u; k < p.K; k++) {
    let bl = b[bRow + c0];
    let bh = b[bRow + c1];
    let a0 = vec4f(a[r0 + k]); let a1 = vec4f(a[r1 + k]); let a2 = vec4f(a[r2 + k]); let a3 = vec4f(a[r3 + k]);
    let a4 = vec4f(a[r4 + k]); let a5 = vec4f(a[r5 + k]); let a6 = vec4f(a[r6 + k]); let a7 = vec4f(a[r7 + k]);
    c0l = fma(a0, bl, c0l); c0h = fma(a0, bh, c0h);
    c1l = fma(a1, bl, c1l); c1h = fma(a1, bh, c1h);
    c2l = fma(a2, bl, c2l); c2h = fma(a2, bh, c2h);
    c3l = fma(a3, bl, c3l); c3h = fma(a3, bh, c3h);
    c4l = fma(a4, bl, c4l); c4h = fma(a4, bh, c4h);
    c5l = fma(a5, bl, c5l); c5h = fma(a5, bh, c5h);
    c6l = fma(a6, bl, c6l); c6h = fma(a6, bh, c6h);
    c7l = fma(a7, bl, c7l); c7h = fma(a7, bh, c7h);
    bRow += n4;
  }
  store(z, m0, n0, c0l);      store(z, m0, n0 + 4u, c0h);
  store(z, m0 + 1u, n0, c1l); store(z, m0 + 1u, n0 + 4u, c1h);
  store(z, m0 + 2u, n0, c2l); store(z, m0 + 2u, n0 + 4u, c2h);
  store(z, m0 + 3u, n0, c3l); store(z, m0 + 3u, n0 + 4u, c3h);
  store(z, m0 + 4u, n0, c4l); store(z, m0 + 4u, n0 + 4u, c4h);
  store(z, m0 + 5u, n0, c5l); store(z, m0 + 5u, n0 + 4u, c5h);
  store(z, m0 + 6u, n0, c6l); store(z, m0 + 6u, n0 + 4u, c6h);
  store(z, m0 + 7u, n0, c7l); store(z, m0 + 7u, n0 + 4u, c7h);
}
