// conv3x3_backward_v5 — gradient of conv3x3_forward (with its fused ReLU) w.r.t. its input x.
// Version 5: the workgroup-memory-tiled GEMM of conv3x3_forward_v5 applied, as in v2-v4, to
// g = dy * (y > 0) (relu_backward, before) and the flipped, transposed kernel
// wt[ky, kx, co, ci] = w[2-ky, 2-kx, ci, co]. Changed from v3: operands staged in workgroup
// memory (64 x 64 output tile per 16 x 16 workgroup, 4 x 4 per invocation) — for real GPUs.
//
// Math:  dx[iy, ix, ci] = sum_{ky,kx,co} g[iy+ky-1, ix+kx-1, co] * wt[ky, kx, co, ci]   (g = 0 outside)
//        If ACCUMULATE is true, dx is added to what the buffer already holds.
// GEMM view: dX[M = H*W, N = Cin] = G[M, K = 9*Cout] x Wt[K, N].
//
// Bindings (H, W, Cin, Cout are the forward layer's shape):
//   0  params            uniform  {H, W, Cin, Cout}
//   1  g   [H, W, Cout]   f32, gradient w.r.t. the pre-ReLU forward output (masked), read
//   2  wt  [3, 3, Cout, Cin] f32, flip-transposed kernel = row-major [K, N], read
//   3  dx  [H, W, Cin]    f32, written (or accumulated)
// Workgroup/invocation layout and dispatch as conv3x3_forward_v5 with N = Cin:
//   ceil(Cin/64) x ceil(H*W/64) workgroups of 16 x 16.

override ACCUMULATE: bool = false;

struct Params { H: u32, W: u32, Cin: u32, Cout: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn store4(m: u32, n: u32, v: vec4f) {
  if (m >= p.H * p.W) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (n + j < p.Cin) {
      let i = m * p.Cin + n + j;
      if (ACCUMULATE) { dx[i] = dx[i] + v[j]; } else { dx[i] = v[j]; }
    }
  }
}

var<workgroup> As: array<vec4f, 256>;  // [16 k][16 m-quads]: As[kk*16 + q] = A[m0+4q .. m0+4q+3, k0+kk]
var<workgroup> Bs: array<vec4f, 256>;  // [16 k][16 n-quads]: Bs[kk*16 + q] = B[k0+kk, n0+4q .. n0+4q+3]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let M = p.H * p.W;
  let N = p.Cin;
  let K = 9u * p.Cout;
  let m0 = wid.y * 64u;
  let n0 = wid.x * 64u;
  var acc0 = vec4f(0.0); var acc1 = vec4f(0.0); var acc2 = vec4f(0.0); var acc3 = vec4f(0.0);
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    // A tile, 64 pixels x 16 k, gathered from the image (implicit im2col): 4 values per
    // invocation; neighbouring invocations take neighbouring k (= channels), which are
    // contiguous in NHWC memory.
    for (var e = li; e < 1024u; e += 256u) {
      let kk = e % 16u;
      let mm = e / 16u;
      let k = k0 + kk;
      let m = m0 + mm;
      var v = 0.0;
      if (k < K && m < M) {
        let tap = k / p.Cout;
        let c = k % p.Cout;
        let iy = i32(m / p.W) + i32(tap / 3u) - 1;
        let ix = i32(m % p.W) + i32(tap % 3u) - 1;
        if (iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W)) {
          v = g[(u32(iy) * p.W + u32(ix)) * p.Cout + c];
        }
      }
      As[kk * 16u + mm / 4u][mm % 4u] = v;
    }
    // B tile, 16 k x 64 channels of the weight matrix (flip-transposed, row-major [K, N]):
    // neighbouring invocations read neighbouring channels.
    for (var e = li; e < 1024u; e += 256u) {
      let kk = e / 64u;
      let nn = e % 64u;
      let k = k0 + kk;
      let n = n0 + nn;
      var v = 0.0;
      if (k < K && n < N) { v = wt[k * N + n]; }
      Bs[kk * 16u + nn / 4u][nn % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let a = As[kk * 16u + lid.y];   // 4 pixels
      let b = Bs[kk * 16u + lid.x];   // 4 channels
      acc0 = fma(vec4f(a.x), b, acc0);
      acc1 = fma(vec4f(a.y), b, acc1);
      acc2 = fma(vec4f(a.z), b, acc2);
      acc3 = fma(vec4f(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  let m = m0 + lid.y * 4u;
  let n = n0 + lid.x * 4u;
  store4(m, n, acc0);
  store4(m + 1u, n, acc1);
  store4(m + 2u, n, acc2);
  store4(m + 3u, n, acc3);
}
