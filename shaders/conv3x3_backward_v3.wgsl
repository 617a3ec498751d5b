// conv3x3_backward_v3 — gradient of conv3x3_forward (with its fused ReLU) w.r.t. its input x.
// Version 3: the GEMM core of conv3x3_forward_v3 (8 pixels x 8 channels per invocation, vec4
// weight loads) applied, as in v2, to g = dy * (y > 0) (relu_backward, before) and the flipped,
// transposed kernel wt[ky, kx, co, ci] = w[2-ky, 2-kx, ci, co]. Changed from v2: the tile (8 x 8
// instead of 4 x 8) and vec4 weight loads. Requires Cin % 4 == 0 (every VGG19 layer but the
// first, whose input gradient has 3 channels: the registry uses v2 there).
//
// Math:  dx[iy, ix, ci] = sum_{ky,kx,co} g[iy+ky-1, ix+kx-1, co] * wt[ky, kx, co, ci]   (g = 0 outside)
//        If ACCUMULATE is true, dx is added to what the buffer already holds.
// GEMM view: dX[H*W, Cin] = G[H*W, 9*Cout] x Wt[9*Cout, Cin], G the implicit im2col of g.
//
// Bindings (H, W, Cin, Cout are the forward layer's shape):
//   0  params               uniform  {H, W, Cin, Cout}
//   1  g   [H, W, Cout]      f32, gradient w.r.t. the pre-ReLU forward output (masked), read
//   2  wt  [3, 3, Cout, Cin/4] vec4<f32>, flip-transposed kernel, read
//   3  dx  [H, W, Cin]       f32, written (or accumulated)
// Invocation (gx, gy): input channels n0 = 8*gx .. n0+7 of 8 pixels of one row, as in
//   conv3x3_forward_v3. Workgroup 8 x 8. Dispatch: ceil(ceil(Cin/8)/8) x ceil(H*ceil(W/8)/8).

override ACCUMULATE: bool = false;

struct Params { H: u32, W: u32, Cin: u32, Cout: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn store8(pix_ok: bool, base: u32, n0: u32, lo: vec4f, hi: vec4f) {
  if (!pix_ok) { return; }
  let v = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
  for (var j = 0u; j < 8u; j++) {
    if (n0 + j < p.Cin) {
      let i = base + n0 + j;
      if (ACCUMULATE) { dx[i] = dx[i] + v[j]; } else { dx[i] = v[j]; }
    }
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let tilesPerRow = (p.W + 7u) / 8u;
  let n0 = gid.x * 8u;                       // first output channel of this invocation
  if (n0 >= p.Cin || gid.y >= p.H * tilesPerRow) { return; }
  let oy = i32(gid.y / tilesPerRow);
  let ox0 = i32((gid.y % tilesPerRow) * 8u);
  let W = i32(p.W);
  let n4 = p.Cin / 4u;                          // vec4 columns per weight row
  let c0 = n0 / 4u;
  let c1 = min(c0 + 1u, n4 - 1u);             // clamped: N % 8 == 4 reads a valid column, not stored
  // acc<pixel><l|h>: output channels n0..n0+3 | n0+4..n0+7 of pixel ox0 + <pixel>
  var a0l = vec4f(0.0); var a0h = vec4f(0.0);
  var a1l = vec4f(0.0); var a1h = vec4f(0.0);
  var a2l = vec4f(0.0); var a2h = vec4f(0.0);
  var a3l = vec4f(0.0); var a3h = vec4f(0.0);
  var a4l = vec4f(0.0); var a4h = vec4f(0.0);
  var a5l = vec4f(0.0); var a5h = vec4f(0.0);
  var a6l = vec4f(0.0); var a6h = vec4f(0.0);
  var a7l = vec4f(0.0); var a7h = vec4f(0.0);
  for (var ky = 0; ky < 3; ky++) {
    let iy = oy + ky - 1;
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    let rowBase = u32(iy) * p.W;
    for (var kx = 0; kx < 3; kx++) {
      // input columns of the 8 pixels for this tap; outside the image: a valid address times 0
      let cA = vec4i(ox0 + kx - 1) + vec4i(0, 1, 2, 3);
      let cB = cA + vec4i(4);
      let okA = select(vec4f(0.0), vec4f(1.0), (cA >= vec4i(0)) & (cA < vec4i(W)));
      let okB = select(vec4f(0.0), vec4f(1.0), (cB >= vec4i(0)) & (cB < vec4i(W)));
      let xA = (vec4u(rowBase) + vec4u(clamp(cA, vec4i(0), vec4i(W - 1)))) * p.Cout;
      let xB = (vec4u(rowBase) + vec4u(clamp(cB, vec4i(0), vec4i(W - 1)))) * p.Cout;
      var wRow = u32(ky * 3 + kx) * p.Cout * n4;
      for (var k = 0u; k < p.Cout; k++) {
        let vA = vec4f(g[xA.x + k], g[xA.y + k], g[xA.z + k], g[xA.w + k]) * okA;
        let vB = vec4f(g[xB.x + k], g[xB.y + k], g[xB.z + k], g[xB.w + k]) * okB;
        let wl = wt[wRow + c0];
        let wh = wt[wRow + c1];
        a0l = fma(vec4f(vA.x), wl, a0l); a0h = fma(vec4f(vA.x), wh, a0h);
        a1l = fma(vec4f(vA.y), wl, a1l); a1h = fma(vec4f(vA.y), wh, a1h);
        a2l = fma(vec4f(vA.z), wl, a2l); a2h = fma(vec4f(vA.z), wh, a2h);
        a3l = fma(vec4f(vA.w), wl, a3l); a3h = fma(vec4f(vA.w), wh, a3h);
        a4l = fma(vec4f(vB.x), wl, a4l); a4h = fma(vec4f(vB.x), wh, a4h);
        a5l = fma(vec4f(vB.y), wl, a5l); a5h = fma(vec4f(vB.y), wh, a5h);
        a6l = fma(vec4f(vB.z), wl, a6l); a6h = fma(vec4f(vB.z), wh, a6h);
        a7l = fma(vec4f(vB.w), wl, a7l); a7h = fma(vec4f(vB.w), wh, a7h);
        wRow += n4;
      }
    }
  }
  let outBase = (u32(oy) * p.W + u32(ox0)) * p.Cin;
  store8(ox0 + 0 < W, outBase + 0u * p.Cin, n0, a0l, a0h);
  store8(ox0 + 1 < W, outBase + 1u * p.Cin, n0, a1l, a1h);
  store8(ox0 + 2 < W, outBase + 2u * p.Cin, n0, a2l, a2h);
  store8(ox0 + 3 < W, outBase + 3u * p.Cin, n0, a3l, a3h);
  store8(ox0 + 4 < W, outBase + 4u * p.Cin, n0, a4l, a4h);
  store8(ox0 + 5 < W, outBase + 5u * p.Cin, n0, a5l, a5h);
  store8(ox0 + 6 < W, outBase + 6u * p.Cin, n0, a6l, a6h);
  store8(ox0 + 7 < W, outBase + 7u * p.Cin, n0, a7l, a7h);
}
