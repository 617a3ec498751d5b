// gram_forward — partial Gram matrices of a feature map, split along the positions (split-K).
//
// Math:  G[i, j] = sum_{p < N} F[p, i] * F[p, j]       (F = the layer's activations, N = h*w)
//        This kernel writes partial sums over S disjoint ranges of p:
//        part[s, i, j] = sum_{p in range s} F[p, i] * F[p, j],   range s = [s*chunk, min((s+1)*chunk, N))
//        gram_reduce.wgsl adds the S partials. Only the 8x8 blocks on or above the diagonal
//        (j-block >= i-block) are computed — G is symmetric, so this halves the work; gram_reduce
//        mirrors.
// Why split: for the early layers C is small (64 -> only 36 upper blocks of 8x8) while N is
//        large (213k at 400x533); splitting N gives the GPU enough independent invocations.
// Bindings:
//   0  params              uniform {N, C, chunk, S}     (C a multiple of 4)
//   1  f     [N, C/4]       vec4<f32> (NHWC activations, batch 1, viewed as N positions x C
//                           channels, read 4 channels at a time), read
//   2  part  [S, C, C]      f32, written (upper block triangle only)
// Invocation: linear index t + T*s over the T = nb(nb+1)/2 upper blocks (nb = ceil(C/8), row-major:
//   (0,0), (0,1), .., (0,nb-1), (1,1), ..) and the S splits, so that no invocation idles on a block
//   below the diagonal and neighbouring invocations share the i-block (its loads) and read
//   adjacent j-blocks. The 8x8 block of rows i0 = 8*bi.., columns j0 = 8*bj.. of split s: per
//   position 4 vec4 loads, 64 multiply-adds (register tiling, as conv3x3_winograd_gemm_v7).
//   Channels past C (C % 8 == 4) read a clamped vec4 and are not stored.
// Workgroup 64. Dispatch: ceil(T*S/64) x 1 x 1.
// Changed: vec4 loads and the packed triangle index; it was 4x4x4 workgroups over all block pairs
//   (those below the diagonal returning, a quarter of the lanes idle) with 16 clamped scalar loads
//   per position, which took ~2-3x as long at 213200 x 64 on lavapipe (measured under load).

struct Params { N: u32, C: u32, chunk: u32, S: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

fn store_row(s: u32, i: u32, j0: u32, lo: vec4f, hi: vec4f) {
  if (i >= p.C) { return; }
  let base = (s * p.C + i) * p.C + j0;
  part[base] = lo.x; part[base + 1u] = lo.y; part[base + 2u] = lo.z; part[base + 3u] = lo.w;
  if (j0 + 4u < p.C) { part[base + 4u] = hi.x; part[base + 5u] = hi.y; part[base + 6u] = hi.z; part[base + 7u] = hi.w; }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let nb = (p.C + 7u) / 8u;
  let T = nb * (nb + 1u) / 2u;
  if (gid.x >= T * p.S) { return; }
  let s = gid.x / T;
  // upper block t -> (bi, bj): row bi holds nb - bi blocks
  var t = gid.x % T;
  var bi = 0u;
  loop {
    if (t < nb - bi) { break; }
    t -= nb - bi;
    bi++;
  }
  let bj = bi + t;
  let c4 = p.C / 4u;                       // vec4 per position
  let last = c4 - 1u;
  let i4 = bi * 2u;
  let j4 = bj * 2u;
  let i4h = min(i4 + 1u, last);
  let j4h = min(j4 + 1u, last);
  let pBegin = s * p.chunk;
  let pEnd = min(pBegin + p.chunk, p.N);
  // acc<r><l|h>: row i0+r, columns j0..j0+3 | j0+4..j0+7
  var a0l = vec4f(0.0); var a0h = vec4f(0.0); var a1l = vec4f(0.0); var a1h = vec4f(0.0);
  var a2l = vec4f(0.0); var a2h = vec4f(0.0); var a3l = vec4f(0.0); var a3h = vec4f(0.0);
  var a4l = vec4f(0.0); var a4h = vec4f(0.0); var a5l = vec4f(0.0); var a5h = vec4f(0.0);
  var a6l = vec4f(0.0); var a6h = vec4f(0.0); var a7l = vec4f(0.0); var a7h = vec4f(0.0);
  var base = pBegin * c4;
  for (var q = pBegin; q < pEnd; q++) {
    let il = f[base + i4]; let ih = f[base + i4h];
    let jl = f[base + j4]; let jh = f[base + j4h];
    a0l = fma(vec4f(il.x), jl, a0l); a0h = fma(vec4f(il.x), jh, a0h);
    a1l = fma(vec4f(il.y), jl, a1l); a1h = fma(vec4f(il.y), jh, a1h);
    a2l = fma(vec4f(il.z), jl, a2l); a2h = fma(vec4f(il.z), jh, a2h);
    a3l = fma(vec4f(il.w), jl, a3l); a3h = fma(vec4f(il.w), jh, a3h);
    a4l = fma(vec4f(ih.x), jl, a4l); a4h = fma(vec4f(ih.x), jh, a4h);
    a5l = fma(vec4f(ih.y), jl, a5l); a5h = fma(vec4f(ih.y), jh, a5h);
    a6l = fma(vec4f(ih.z), jl, a6l); a6h = fma(vec4f(ih.z), jh, a6h);
    a7l = fma(vec4f(ih.w), jl, a7l); a7h = fma(vec4f(ih.w), jh, a7h);
    base += c4;
  }
  let i0 = bi * 8u;
  let j0 = bj * 8u;
  store_row(s, i0, j0, a0l, a0h);
  store_row(s, i0 + 1u, j0, a1l, a1h);
  store_row(s, i0 + 2u, j0, a2l, a2h);
  store_row(s, i0 + 3u, j0, a3l, a3h);
  store_row(s, i0 + 4u, j0, a4l, a4h);
  store_row(s, i0 + 5u, j0, a5l, a5h);
  store_row(s, i0 + 6u, j0, a6l, a6h);
  store_row(s, i0 + 7u, j0, a7l, a7h);
}
