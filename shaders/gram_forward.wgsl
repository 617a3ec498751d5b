// gram_forward — partial Gram matrices of a feature map, split along the positions (split-K).
//
// Math:  G[i, j] = sum_{p < N} F[p, i] * F[p, j]       (F = the layer's activations, N = h*w)
//        This kernel writes partial sums over S disjoint ranges of p:
//        part[s, i, j] = sum_{p in range s} F[p, i] * F[p, j],   range s = [s*chunk, min((s+1)*chunk, N))
//        gram_reduce.wgsl adds the S partials. Only blocks on or above the diagonal (j-block >=
//        i-block) are computed — G is symmetric, so this halves the work; gram_reduce mirrors.
// Why split: for the early layers C is small (64 -> only 36 upper blocks of 8x8) while N is
//        large (213k at 400x533); splitting N gives the GPU enough independent invocations.
// Bindings:
//   0  params              uniform {N, C, chunk, S}
//   1  f     [N, C]         f32 (NHWC activations, batch 1, viewed as N positions x C channels), read
//   2  part  [S, C, C]      f32, written (upper block triangle only)
// Invocation (gx, gy, gz): the 8x8 block of rows i0 = 8*gx.., columns j0 = 8*gy.. of split gz;
//   blocks below the diagonal return at once. Channels past C read a clamped channel and are not
//   stored. Per position: 8 + 8 loads, 64 multiply-adds (register tiling, as conv3x3_winograd_gemm_v7).
// Workgroup: 4 x 4 x 4 invocations (blocks x blocks x splits), so that both early
//   layers (few blocks, many splits) and deep ones (many blocks, S = 1) fill workgroups.
// Dispatch: ceil(nb/4) x ceil(nb/4) x ceil(S/4), nb = ceil(C/8).

struct Params { N: u32, C: u32, chunk: u32, S: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

fn load8(base: u32, c0: u32, lo: ptr<function, vec4f>, hi: ptr<function, vec4f>) {
  let last = p.C - 1u;
  *lo = vec4f(f[base + min(c0, last)], f[base + min(c0 + 1u, last)], f[base + min(c0 + 2u, last)], f[base + min(c0 + 3u, last)]);
  *hi = vec4f(f[base + min(c0 + 4u, last)], f[base + min(c0 + 5u, last)], f[base + min(c0 + 6u, last)], f[base + min(c0 + 7u, last)]);
}

fn store_row(s: u32, i: u32, j0: u32, lo: vec4f, hi: vec4f) {
  if (i >= p.C) { return; }
  let v = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
  let base = (s * p.C + i) * p.C;
  for (var k = 0u; k < 8u; k++) {
    if (j0 + k < p.C) { part[base + j0 + k] = v[k]; }
  }
}

@compute @workgroup_size(4, 4, 4)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let nb = (p.C + 7u) / 8u;
  if (gid.x >= nb || gid.y >= nb || gid.z >= p.S || gid.y < gid.x) { return; }
  let i0 = gid.x * 8u;
  let j0 = gid.y * 8u;
  let s = gid.z;
  let pBegin = s * p.chunk;
  let pEnd = min(pBegin + p.chunk, p.N);
  // acc<r><l|h>: row i0+r, columns j0..j0+3 | j0+4..j0+7
  var a0l = vec4f(0.0); var a0h = vec4f(0.0); var a1l = vec4f(0.0); var a1h = vec4f(0.0);
  var a2l = vec4f(0.0); var a2h = vec4f(0.0); var a3l = vec4f(0.0); var a3h = vec4f(0.0);
  var a4l = vec4f(0.0); var a4h = vec4f(0.0); var a5l = vec4f(0.0); var a5h = vec4f(0.0);
  var a6l = vec4f(0.0); var a6h = vec4f(0.0); var a7l = vec4f(0.0); var a7h = vec4f(0.0);
  for (var q = pBegin; q < pEnd; q++) {
    let base = q * p.C;
    var il: vec4f; var ih: vec4f; var jl: vec4f; var jh: vec4f;
    load8(base, i0, &il, &ih);
    load8(base, j0, &jl, &jh);
    a0l = fma(vec4f(il.x), jl, a0l); a0h = fma(vec4f(il.x), jh, a0h);
    a1l = fma(vec4f(il.y), jl, a1l); a1h = fma(vec4f(il.y), jh, a1h);
    a2l = fma(vec4f(il.z), jl, a2l); a2h = fma(vec4f(il.z), jh, a2h);
    a3l = fma(vec4f(il.w), jl, a3l); a3h = fma(vec4f(il.w), jh, a3h);
    a4l = fma(vec4f(ih.x), jl, a4l); a4h = fma(vec4f(ih.x), jh, a4h);
    a5l = fma(vec4f(ih.y), jl, a5l); a5h = fma(vec4f(ih.y), jh, a5h);
    a6l = fma(vec4f(ih.z), jl, a6l); a6h = fma(vec4f(ih.z), jh, a6h);
    a7l = fma(vec4f(ih.w), jl, a7l); a7h = fma(vec4f(ih.w), jh, a7h);
  }
  store_row(s, i0, j0, a0l, a0h);
  store_row(s, i0 + 1u, j0, a1l, a1h);
  store_row(s, i0 + 2u, j0, a2l, a2h);
  store_row(s, i0 + 3u, j0, a3l, a3h);
  store_row(s, i0 + 4u, j0, a4l, a4h);
  store_row(s, i0 + 5u, j0, a5l, a5h);
  store_row(s, i0 + 6u, j0, a6l, a6h);
  store_row(s, i0 + 7u, j0, a7l, a7h);
}
