// conv3x3_backward_v2 — gradient of conv3x3_forward (with its fused ReLU) w.r.t. its input x.
// Version 2: register tiling, the same GEMM core as conv3x3_forward_v2. Changed from v1: the
// input gradient is computed as a *forward* convolution of g = dy * (y > 0) with the
// flipped, transposed kernel wt[ky, kx, co, ci] = w[2-ky, 2-kx, ci, co] (prepared once per
// layer, weights are frozen), so one invocation computes 4 pixels x 8 input channels and each
// loaded g value is used 8 times, each weight 4 times. The ReLU mask is NOT applied here:
// g comes pre-masked from relu_backward.wgsl (one cheap elementwise pass). Fusing the mask
// into the loads (reading dy and y for every g) measured 1.3-1.4x slower on lavapipe, because
// every load in the inner loop is a gather there.
//
// Math:  g[oy, ox, co]  = dy[oy, ox, co] * (y[oy, ox, co] > 0)          (relu_backward, before)
//        dx[iy, ix, ci] = sum_{ky,kx,co} g[iy+ky-1, ix+kx-1, co] * wt[ky, kx, co, ci]   (g = 0 outside)
//        If ACCUMULATE is true, dx is added to what the buffer already holds.
// GEMM view: dX[H*W, Cin] = G[H*W, 9*Cout] x Wt[9*Cout, Cin], G the implicit im2col of g.
//
// Bindings (H, W, Cin, Cout are the forward layer's shape):
//   0  params            uniform  {H, W, Cin, Cout}
//   1  g   [H, W, Cout]   f32, gradient w.r.t. the pre-ReLU forward output (masked), read
//   2  wt  [3, 3, Cout, Cin] f32, flip-transposed kernel, read
//   3  dx  [H, W, Cin]    f32, written (or accumulated)
// Invocation (gx, gy): input channels ci0 = 8*gx .. ci0+7 of 4 pixels of one row, as in
//   conv3x3_forward_v2. Workgroup 8 x 8. Dispatch: ceil(ceil(Cin/8)/8) x ceil(H*ceil(W/4)/8).

override ACCUMULATE: bool = false;

struct Params { H: u32, W: u32, Cin: u32, Cout: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// Loads wt[base + ci0 + 0..7], clamping channel indices at Cin-1.
fn load_w8(base: u32, ci0: u32, lo: ptr<function, vec4f>, hi: ptr<function, vec4f>) {
  let last = p.Cin - 1u;
  *lo = vec4f(wt[base + min(ci0, last)], wt[base + min(ci0 + 1u, last)],
              wt[base + min(ci0 + 2u, last)], wt[base + min(ci0 + 3u, last)]);
  *hi = vec4f(wt[base + min(ci0 + 4u, last)], wt[base + min(ci0 + 5u, last)],
              wt[base + min(ci0 + 6u, last)], wt[base + min(ci0 + 7u, last)]);
}

fn store8(pix_ok: bool, base: u32, ci0: u32, lo: vec4f, hi: vec4f) {
  if (!pix_ok) { return; }
  let v = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
  for (var j = 0u; j < 8u; j++) {
    if (ci0 + j < p.Cin) {
      let i = base + ci0 + j;
      if (ACCUMULATE) { dx[i] = dx[i] + v[j]; } else { dx[i] = v[j]; }
    }
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let tilesPerRow = (p.W + 3u) / 4u;
  let ci0 = gid.x * 8u;
  if (ci0 >= p.Cin || gid.y >= p.H * tilesPerRow) { return; }
  let oy = i32(gid.y / tilesPerRow);
  let ox0 = i32((gid.y % tilesPerRow) * 4u);
  let W = i32(p.W);

  var a0l = vec4f(0.0); var a0h = vec4f(0.0);
  var a1l = vec4f(0.0); var a1h = vec4f(0.0);
  var a2l = vec4f(0.0); var a2h = vec4f(0.0);
  var a3l = vec4f(0.0); var a3h = vec4f(0.0);

  for (var ky = 0; ky < 3; ky++) {
    let iy = oy + ky - 1;
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    let rowBase = u32(iy) * p.W;
    for (var kx = 0; kx < 3; kx++) {
      let c = vec4i(ox0 + kx - 1) + vec4i(0, 1, 2, 3);
      let ok = vec4f(select(vec4f(0.0), vec4f(1.0), (c >= vec4i(0)) & (c < vec4i(W))));
      let cc = vec4u(clamp(c, vec4i(0), vec4i(W - 1)));
      let gb = (vec4u(rowBase) + cc) * p.Cout;
      var wb = u32(ky * 3 + kx) * p.Cout * p.Cin;
      for (var co = 0u; co < p.Cout; co++) {
        let gv = vec4f(g[gb.x + co], g[gb.y + co], g[gb.z + co], g[gb.w + co]) * ok;
        var wl: vec4f; var wh: vec4f;
        load_w8(wb, ci0, &wl, &wh);
        a0l = fma(vec4f(gv.x), wl, a0l); a0h = fma(vec4f(gv.x), wh, a0h);
        a1l = fma(vec4f(gv.y), wl, a1l); a1h = fma(vec4f(gv.y), wh, a1h);
        a2l = fma(vec4f(gv.z), wl, a2l); a2h = fma(vec4f(gv.z), wh, a2h);
        a3l = fma(vec4f(gv.w), wl, a3l); a3h = fma(vec4f(gv.w), wh, a3h);
        wb += p.Cin;
      }
    }
  }
  let outBase = (u32(oy) * p.W + u32(ox0)) * p.Cin;
  store8(ox0 + 0 < W, outBase, ci0, a0l, a0h);
  store8(ox0 + 1 < W, outBase + p.Cin, ci0, a1l, a1h);
  store8(ox0 + 2 < W, outBase + 2u * p.Cin, ci0, a2l, a2h);
  store8(ox0 + 3 < W, outBase + 3u * p.Cin, ci0, a3l, a3h);
}
