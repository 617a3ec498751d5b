// conv3x3_forward_v5 — 3x3 convolution, stride 1, zero ("same") padding, bias and ReLU fused.
// Version 5: workgroup-memory tiling, the classic GPU GEMM. Changed from v3: instead of each
// invocation reading its own operands from global memory, a workgroup of 16 x 16 invocations
// computes a 64-pixel x 64-channel tile of the output; for every slice of 16 reduction indices
// it first copies the 64 x 16 im2col patch and the 16 x 64 weight slice into workgroup memory
// (coalesced: neighbouring invocations read neighbouring addresses), then every invocation
// computes its 4 x 4 outputs from there. Each global value is read once per workgroup instead
// of once per invocation. On real GPUs this is what pays; on CPU adapters (lavapipe, SwiftShader)
// the barriers and the extra copies cost more than they save (see registry.ts).
//
// Math (as v1):  y[oy, ox, co] = relu( b[co] + sum_{ky,kx,ci} x[oy+ky-1, ox+kx-1, ci] * w[ky, kx, ci, co] )
// GEMM view: Y[M = H*W, N = Cout] = A[M, K = 9*Cin] x B[K, N], A[m, (ky*3+kx)*Cin + ci] = x[...]
//
// Bindings:
//   0  params            uniform  {H, W, Cin, Cout}
//   1  x   [H, W, Cin]    f32, NHWC (batch 1), read
//   2  w   [3, 3, Cin, Cout] f32, HWIO = row-major [K, N], read
//   3  b   [Cout]         f32, read
//   4  y   [H, W, Cout]   f32, NHWC, written
// Workgroup (wx, wy) of 16 x 16: output tile pixels m0 = 64*wy .. +63 (flattened, may span
//   rows), channels n0 = 64*wx .. +63; invocation (lx, ly): pixels m0+4ly .. +3, channels
//   n0+4lx .. +3. Workgroup memory: 2 x 16 x 64 f32 = 8 KiB.
// Dispatch: ceil(Cout/64) x ceil(H*W/64).

struct Params { H: u32, W: u32, Cin: u32, Cout: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn store4(m: u32, n: u32, v: vec4f) {
  if (m >= p.H * p.W) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (n + j < p.Cout) { y[m * p.Cout + n + j] = max(v[j] + b[n + j], 0.0); }
  }
}

var<workgroup> As: array<vec4f, 256>;  // [16 k][16 m-quads]: As[kk*16 + q] = A[m0+4q .. m0+4q+3, k0+kk]
var<workgroup> Bs: array<vec4f, 256>;  // [16 k][16 n-quads]: Bs[kk*16 + q] = B[k0+kk, n0+4q .. n0+4q+3]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let M = p.H * p.W;
  let N = p.Cout;
  let K = 9u * p.Cin;
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
        let tap = k / p.Cin;
        let c = k % p.Cin;
        let iy = i32(m / p.W) + i32(tap / 3u) - 1;
        let ix = i32(m % p.W) + i32(tap % 3u) - 1;
        if (iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W)) {
          v = x[(u32(iy) * p.W + u32(ix)) * p.Cin + c];
        }
      }
      As[kk * 16u + mm / 4u][mm % 4u] = v;
    }
    // B tile, 16 k x 64 channels of the weight matrix (HWIO, row-major [K, N]):
    // neighbouring invocations read neighbouring channels.
    for (var e = li; e < 1024u; e += 256u) {
      let kk = e / 64u;
      let nn = e % 64u;
      let k = k0 + kk;
      let n = n0 + nn;
      var v = 0.0;
      if (k < K && n < N) { v = w[k * N + n]; }
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
