// conv3x3_winograd_gemm_v8 — the batched GEMM of conv3x3_winograd_gemm_v7 with the A operand
// shared through subgroup shuffles instead of being loaded by every invocation. Needs the
// device feature 'subgroups' (src/kernels/matmul.ts runs it only where ctx.subgroups is set);
// conv3x3 v8 is Winograd F(2x2, 3x3) with this GEMM, a candidate of the kernel autotuner
// (src/kernels/kernel_table.ts).
//
// Math:  C[z, m, n] = sum_k A[z, m, k] * B[z, k, n]      (z = 0 .. batch-1)
// Bindings (as v7):
//   0  params           uniform {M, N, K}     (N must be a multiple of 4)
//   1  a  [batch, M, K]     f32, row-major, read
//   2  b  [batch, K, N/4]   vec4<f32>, row-major (B read 4 columns at a time), read
//   3  c  [batch, M, N]     f32, row-major, written
// Invocation (gx, gy, gz): product z = gz, columns n0 = 8*gx .. n0+7, rows m0 = 8*gy .. m0+7
//   (an 8 x 8 register block of C, as in v7).
// Workgroup WX x 1 x 1: every invocation of a workgroup, hence of each of its subgroups, works
//   on the same 8 rows of A. What changed from v7: in v7 each invocation loads the 8 values
//   A[m0..m0+7, k] for every k, so the WX invocations sharing those rows load them WX times.
//   Here the K loop runs in chunks of S = subgroup_size: lane l loads A[m0+r, k0+l] (8 loads, one
//   per row), then for each j < S every lane takes lane j's values with subgroupShuffle: S k-steps
//   cost 8 loads per invocation instead of 8*S. B is loaded as in v7 (two vec4 per k).
// WX (override) is chosen by matmul(): a power of two >= ceil(N/8) (no lanes beyond the columns
//   where N allows), at most 64, and at least the adapter's largest subgroup size, so that WX is
//   a multiple of the subgroup size and every subgroup is full (a shuffle from a lane that does
//   not exist is undefined). No invocation returns early: the shuffles need all lanes; columns
//   past N and rows past M are computed on clamped indices and not stored.
// Dispatch: ceil(ceil(N/8)/WX) x ceil(M/8) x batch.

enable subgroups;

struct Params { M: u32, N: u32, K: u32 }

override WX: u32 = 64;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn store(z: u32, row: u32, n: u32, v: vec4f) {
  if (row >= p.M || n >= p.N) { return; }
  let o = (z * p.M + row) * p.N + n;
  c[o] = v.x; c[o + 1u] = v.y; c[o + 2u] = v.z; c[o + 3u] = v.w;
}

@compute @workgroup_size(WX)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg: u32) {
  let n0 = gid.x * 8u;
  let m0 = gid.y * 8u;
  let lastRow = p.M - 1u;
  let n4 = p.N / 4u;                         // vec4 columns per row of B
  let z = gid.z;
  let aBase = z * p.M * p.K;
  let c0 = min(n0 / 4u, n4 - 1u);            // clamped vec4 columns (lanes past N compute garbage, not stored)
  let c1 = min(n0 / 4u + 1u, n4 - 1u);
  // A row offsets of the 8 rows (clamped)
  let r0 = aBase + min(m0, lastRow) * p.K;      let r1 = aBase + min(m0 + 1u, lastRow) * p.K;
  let r2 = aBase + min(m0 + 2u, lastRow) * p.K; let r3 = aBase + min(m0 + 3u, lastRow) * p.K;
  let r4 = aBase + min(m0 + 4u, lastRow) * p.K; let r5 = aBase + min(m0 + 5u, lastRow) * p.K;
  let r6 = aBase + min(m0 + 6u, lastRow) * p.K; let r7 = aBase + min(m0 + 7u, lastRow) * p.K;
  var c0l = vec4f(0.0); var c0h = vec4f(0.0); var c1l = vec4f(0.0); var c1h = vec4f(0.0);
  var c2l = vec4f(0.0); var c2h = vec4f(0.0); var c3l = vec4f(0.0); var c3h = vec4f(0.0);
  var c4l = vec4f(0.0); var c4h = vec4f(0.0); var c5l = vec4f(0.0); var c5h = vec4f(0.0);
  var c6l = vec4f(0.0); var c6h = vec4f(0.0); var c7l = vec4f(0.0); var c7h = vec4f(0.0);
  for (var k0 = 0u; k0 < p.K; k0 += sg) {
    // this lane's share of the chunk: column k0 + lane of the 8 rows (clamped past K, never used)
    let kl = min(k0 + lane, p.K - 1u);
    let l0 = a[r0 + kl]; let l1 = a[r1 + kl]; let l2 = a[r2 + kl]; let l3 = a[r3 + kl];
    let l4 = a[r4 + kl]; let l5 = a[r5 + kl]; let l6 = a[r6 + kl]; let l7 = a[r7 + kl];
    let count = min(sg, p.K - k0);
    var bRow = (z * p.K + k0) * n4;
    for (var j = 0u; j < count; j++) {
      let bl = b[bRow + c0];
      let bh = b[bRow + c1];
      let a0 = vec4f(subgroupShuffle(l0, j)); let a1 = vec4f(subgroupShuffle(l1, j));
      let a2 = vec4f(subgroupShuffle(l2, j)); let a3 = vec4f(subgroupShuffle(l3, j));
      let a4 = vec4f(subgroupShuffle(l4, j)); let a5 = vec4f(subgroupShuffle(l5, j));
      let a6 = vec4f(subgroupShuffle(l6, j)); let a7 = vec4f(subgroupShuffle(l7, j));
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
