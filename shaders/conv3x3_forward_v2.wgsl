// conv3x3_forward_v2 — 3x3 convolution, stride 1, zero ("same") padding, bias and ReLU fused.
// Version 2: register tiling. Changed from v1: one invocation computes a 4x8 block of the
// output GEMM — 4 neighbouring pixels of one row x 8 output channels — so each x value it
// loads is used 8 times and each weight 4 times (v1: once each). Per input channel it does
// 4 + 8 loads for 32 multiply-adds. On CPU adapters (lavapipe, SwiftShader), where every
// load is a gather across SIMD lanes, this is what pays; workgroup memory does not (see v3).
//
// Math (as v1):  y[oy, ox, co] = relu( b[co] + sum_{ky,kx,ci} x[oy+ky-1, ox+kx-1, ci] * w[ky, kx, ci, co] )
// GEMM view: Y[H*W, Cout] = P[H*W, 9*Cin] x Wm[9*Cin, Cout], P the implicit im2col of x.
//
// Bindings:
//   0  params            uniform  {H, W, Cin, Cout}
//   1  x   [H, W, Cin]    f32, NHWC (batch 1), read
//   2  w   [3, 3, Cin, Cout] f32, HWIO, read
//   3  b   [Cout]         f32, read
//   4  y   [H, W, Cout]   f32, NHWC, written
// Invocation (gx, gy): channels co0 = 8*gx .. co0+7, pixels of row oy = gy / ceil(W/4),
//   columns ox0 = 4*(gy % ceil(W/4)) .. ox0+3. Channels >= Cout and columns >= W are
//   computed from clamped (valid) addresses and discarded at the store: no branch in the loop.
// Workgroup: 8 x 8 invocations. Dispatch: ceil(ceil(Cout/8)/8) x ceil(H*ceil(W/4)/8).

struct Params { H: u32, W: u32, Cin: u32, Cout: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// Loads 8 consecutive weights w[base + 0..7], clamping channel indices at Cout-1.
fn load_w8(base: u32, co0: u32, lo: ptr<function, vec4f>, hi: ptr<function, vec4f>) {
  let last = p.Cout - 1u;
  *lo = vec4f(w[base + min(co0, last)], w[base + min(co0 + 1u, last)],
              w[base + min(co0 + 2u, last)], w[base + min(co0 + 3u, last)]);
  *hi = vec4f(w[base + min(co0 + 4u, last)], w[base + min(co0 + 5u, last)],
              w[base + min(co0 + 6u, last)], w[base + min(co0 + 7u, last)]);
}

fn store8(pix_ok: bool, base: u32, co0: u32, lo: vec4f, hi: vec4f) {
  if (!pix_ok) { return; }
  let v = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
  for (var j = 0u; j < 8u; j++) {
    if (co0 + j < p.Cout) { y[base + co0 + j] = max(v[j] + b[co0 + j], 0.0); }
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let tilesPerRow = (p.W + 3u) / 4u;
  let co0 = gid.x * 8u;
  if (co0 >= p.Cout || gid.y >= p.H * tilesPerRow) { return; }
  let oy = i32(gid.y / tilesPerRow);
  let ox0 = i32((gid.y % tilesPerRow) * 4u);
  let W = i32(p.W);

  // 4 pixels x 8 channels of accumulators: a<pixel><l|h> holds channels co0+0..3 | co0+4..7.
  var a0l = vec4f(0.0); var a0h = vec4f(0.0);
  var a1l = vec4f(0.0); var a1h = vec4f(0.0);
  var a2l = vec4f(0.0); var a2h = vec4f(0.0);
  var a3l = vec4f(0.0); var a3h = vec4f(0.0);

  for (var ky = 0; ky < 3; ky++) {
    let iy = oy + ky - 1;
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    let rowBase = u32(iy) * p.W;
    for (var kx = 0; kx < 3; kx++) {
      // Input columns of the 4 pixels for this tap; out-of-image ones read a valid address
      // and are multiplied by 0.
      let c = vec4i(ox0 + kx - 1) + vec4i(0, 1, 2, 3);
      let ok = vec4f(select(vec4f(0.0), vec4f(1.0), (c >= vec4i(0)) & (c < vec4i(W))));
      let cc = vec4u(clamp(c, vec4i(0), vec4i(W - 1)));
      let xb = (vec4u(rowBase) + cc) * p.Cin;
      var wb = u32(ky * 3 + kx) * p.Cin * p.Cout;
      for (var ci = 0u; ci < p.Cin; ci++) {
        let xv = vec4f(x[xb.x + ci], x[xb.y + ci], x[xb.z + ci], x[xb.w + ci]) * ok;
        var wl: vec4f; var wh: vec4f;
        load_w8(wb, co0, &wl, &wh);
        a0l = fma(vec4f(xv.x), wl, a0l); a0h = fma(vec4f(xv.x), wh, a0h);
        a1l = fma(vec4f(xv.y), wl, a1l); a1h = fma(vec4f(xv.y), wh, a1h);
        a2l = fma(vec4f(xv.z), wl, a2l); a2h = fma(vec4f(xv.z), wh, a2h);
        a3l = fma(vec4f(xv.w), wl, a3l); a3h = fma(vec4f(xv.w), wh, a3h);
        wb += p.Cout;
      }
    }
  }
  let outBase = (u32(oy) * p.W + u32(ox0)) * p.Cout;
  store8(ox0 + 0 < W, outBase, co0, a0l, a0h);
  store8(ox0 + 1 < W, outBase + p.Cout, co0, a1l, a1h);
  store8(ox0 + 2 < W, outBase + 2u * p.Cout, co0, a2l, a2h);
  store8(ox0 + 3 < W, outBase + 3u * p.Cout, co0, a3l, a3h);
}
