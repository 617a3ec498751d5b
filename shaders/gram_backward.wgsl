// gram_backward — gradient of a loss on G = F^T F with respect to F.
//
// Math:  with D = dL/dG (symmetric for the style loss), dL/dF = F (D + D^T).
//        The caller passes M = D + D^T (style_loss.wgsl writes it directly), so
//        dF[p, k] = sum_j F[p, j] * M[j, k]          a GEMM [N, C] x [C, C]
//        If ACCUMULATE is true, dF is added to what the buffer holds (a layer that is both a
//        content and a style layer receives both gradients).
// Bindings:
//   0  params           uniform {N, C}
//   1  f   [N, C]        f32, the layer's activations, read
//   2  m   [C, C]        f32, D + D^T, read
//   3  df  [N, C]        f32, gradient w.r.t. the activations, written (or accumulated)
// Invocation (gx, gy): channels k0 = 8*gx .. k0+7 of positions p0 = 4*gy .. p0+3 (register tiling
//   as conv3x3_forward_v2: 4 + 8 loads per 32 multiply-adds). Out-of-range rows/channels read
//   clamped addresses and are not stored. Workgroup 8 x 8.
// Dispatch: ceil(ceil(C/8)/8) x ceil(ceil(N/4)/8), the y count folded into z when over 65535.

override ACCUMULATE: bool = false;

struct Params { N: u32, C: u32, groupsY: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> df: array<f32>;

fn store8(row: u32, k0: u32, lo: vec4f, hi: vec4f) {
  if (row >= p.N) { return; }
  let v = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
  for (var t = 0u; t < 8u; t++) {
    if (k0 + t < p.C) {
      let i = row * p.C + k0 + t;
      if (ACCUMULATE) { df[i] = df[i] + v[t]; } else { df[i] = v[t]; }
    }
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let k0 = gid.x * 8u;
  let p0 = (gid.y + gid.z * p.groupsY * 8u) * 4u;
  if (k0 >= p.C || p0 >= p.N) { return; }
  let last = p.C - 1u;
  let lastRow = p.N - 1u;
  let r = vec4u(min(p0, lastRow), min(p0 + 1u, lastRow), min(p0 + 2u, lastRow), min(p0 + 3u, lastRow)) * p.C;
  var a0l = vec4f(0.0); var a0h = vec4f(0.0); var a1l = vec4f(0.0); var a1h = vec4f(0.0);
  var a2l = vec4f(0.0); var a2h = vec4f(0.0); var a3l = vec4f(0.0); var a3h = vec4f(0.0);
  var mb = 0u;
  for (var j = 0u; j < p.C; j++) {
    let fv = vec4f(f[r.x + j], f[r.y + j], f[r.z + j], f[r.w + j]);
    let ml = vec4f(m[mb + min(k0, last)], m[mb + min(k0 + 1u, last)], m[mb + min(k0 + 2u, last)], m[mb + min(k0 + 3u, last)]);
    let mh = vec4f(m[mb + min(k0 + 4u, last)], m[mb + min(k0 + 5u, last)], m[mb + min(k0 + 6u, last)], m[mb + min(k0 + 7u, last)]);
    a0l = fma(vec4f(fv.x), ml, a0l); a0h = fma(vec4f(fv.x), mh, a0h);
    a1l = fma(vec4f(fv.y), ml, a1l); a1h = fma(vec4f(fv.y), mh, a1h);
    a2l = fma(vec4f(fv.z), ml, a2l); a2h = fma(vec4f(fv.z), mh, a2h);
    a3l = fma(vec4f(fv.w), ml, a3l); a3h = fma(vec4f(fv.w), mh, a3h);
    mb += p.C;
  }
  store8(p0, k0, a0l, a0h);
  store8(p0 + 1u, k0, a1l, a1h);
  store8(p0 + 2u, k0, a2l, a2h);
  store8(p0 + 3u, k0, a3l, a3h);
}
