// conv3x3_backward_v4 — gradient of conv3x3_forward (with its fused ReLU) w.r.t. its input x,
// for narrow inputs (Cin <= 4): in VGG19 only block1_conv1, whose input is the RGB image.
// Changed from v2/v3: their tiles span 8 input channels, so with Cin = 3 five of every eight
// multiply-adds are wasted (v2 measured 0.3 GFLOP/s there vs ~3 on wide layers). Here one
// invocation computes 16 neighbouring pixels x 4 channels: per output channel of the forward
// layer (the GEMM's reduction index) it loads 16 g values and the 4 (clamped) weights, which are
// the same for every invocation, for 64 multiply-adds.
//
// Math:  dx[iy, ix, ci] = sum_{ky,kx,co} g[iy+ky-1, ix+kx-1, co] * wt[ky, kx, co, ci]   (g = 0 outside)
//        with g = dy * (y > 0) (relu_backward, before) and wt[ky, kx, co, ci] = w[2-ky, 2-kx, ci, co].
//        If ACCUMULATE is true, dx is added to what the buffer already holds.
//
// Bindings (H, W, Cin, Cout are the forward layer's shape; Cin <= 4):
//   0  params             uniform  {H, W, Cin, Cout}
//   1  g   [H, W, Cout]    f32, gradient w.r.t. the pre-ReLU forward output (masked), read
//   2  wt  [3, 3, Cout, Cin] f32, flip-transposed kernel, read
//   3  dx  [H, W, Cin]     f32, written (or accumulated)
// Invocation gx: pixels of row oy = gx / ceil(W/16), columns ox0 = 16*(gx % ceil(W/16)) .. +15.
// Workgroup 64. Dispatch: ceil(H*ceil(W/16)/64) x 1 x 1 (under the 65535 limit for any image
// up to ~67 megapixels).

override ACCUMULATE: bool = false;

struct Params { H: u32, W: u32, Cin: u32, Cout: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn store4(pix_ok: bool, base: u32, v: vec4f) {
  if (!pix_ok) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (j < p.Cin) {
      let i = base + j;
      if (ACCUMULATE) { dx[i] = dx[i] + v[j]; } else { dx[i] = v[j]; }
    }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let tilesPerRow = (p.W + 15u) / 16u;
  if (gid.x >= p.H * tilesPerRow) { return; }
  let oy = i32(gid.x / tilesPerRow);
  let ox0 = i32((gid.x % tilesPerRow) * 16u);
  let W = i32(p.W);
  let last = p.Cin - 1u;
  // acc<t>: input channels 0..3 (those >= Cin are computed from a clamped channel, not stored)
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  var a4 = vec4f(0.0);
  var a5 = vec4f(0.0);
  var a6 = vec4f(0.0);
  var a7 = vec4f(0.0);
  var a8 = vec4f(0.0);
  var a9 = vec4f(0.0);
  var a10 = vec4f(0.0);
  var a11 = vec4f(0.0);
  var a12 = vec4f(0.0);
  var a13 = vec4f(0.0);
  var a14 = vec4f(0.0);
  var a15 = vec4f(0.0);
  for (var ky = 0; ky < 3; ky++) {
    let iy = oy + ky - 1;
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    let rowBase = u32(iy) * p.W;
    for (var kx = 0; kx < 3; kx++) {
      let c0 = vec4i(ox0 + kx - 1 + 0) + vec4i(0, 1, 2, 3);
      let ok0 = select(vec4f(0.0), vec4f(1.0), (c0 >= vec4i(0)) & (c0 < vec4i(W)));
      let g0 = (vec4u(rowBase) + vec4u(clamp(c0, vec4i(0), vec4i(W - 1)))) * p.Cout;
      let c1 = vec4i(ox0 + kx - 1 + 4) + vec4i(0, 1, 2, 3);
      let ok1 = select(vec4f(0.0), vec4f(1.0), (c1 >= vec4i(0)) & (c1 < vec4i(W)));
      let g1 = (vec4u(rowBase) + vec4u(clamp(c1, vec4i(0), vec4i(W - 1)))) * p.Cout;
      let c2 = vec4i(ox0 + kx - 1 + 8) + vec4i(0, 1, 2, 3);
      let ok2 = select(vec4f(0.0), vec4f(1.0), (c2 >= vec4i(0)) & (c2 < vec4i(W)));
      let g2 = (vec4u(rowBase) + vec4u(clamp(c2, vec4i(0), vec4i(W - 1)))) * p.Cout;
      let c3 = vec4i(ox0 + kx - 1 + 12) + vec4i(0, 1, 2, 3);
      let ok3 = select(vec4f(0.0), vec4f(1.0), (c3 >= vec4i(0)) & (c3 < vec4i(W)));
      let g3 = (vec4u(rowBase) + vec4u(clamp(c3, vec4i(0), vec4i(W - 1)))) * p.Cout;
      var wRow = u32(ky * 3 + kx) * p.Cout * p.Cin;
      for (var co = 0u; co < p.Cout; co++) {
        let wv = vec4f(wt[wRow + min(0u, last)], wt[wRow + min(1u, last)], wt[wRow + min(2u, last)], wt[wRow + min(3u, last)]);
        let v0 = vec4f(g[g0.x + co], g[g0.y + co], g[g0.z + co], g[g0.w + co]) * ok0;
        let v1 = vec4f(g[g1.x + co], g[g1.y + co], g[g1.z + co], g[g1.w + co]) * ok1;
        let v2 = vec4f(g[g2.x + co], g[g2.y + co], g[g2.z + co], g[g2.w + co]) * ok2;
        let v3 = vec4f(g[g3.x + co], g[g3.y + co], g[g3.z + co], g[g3.w + co]) * ok3;
        a0 = fma(vec4f(v0.x), wv, a0);
        a1 = fma(vec4f(v0.y), wv, a1);
        a2 = fma(vec4f(v0.z), wv, a2);
        a3 = fma(vec4f(v0.w), wv, a3);
        a4 = fma(vec4f(v1.x), wv, a4);
        a5 = fma(vec4f(v1.y), wv, a5);
        a6 = fma(vec4f(v1.z), wv, a6);
        a7 = fma(vec4f(v1.w), wv, a7);
        a8 = fma(vec4f(v2.x), wv, a8);
        a9 = fma(vec4f(v2.y), wv, a9);
        a10 = fma(vec4f(v2.z), wv, a10);
        a11 = fma(vec4f(v2.w), wv, a11);
        a12 = fma(vec4f(v3.x), wv, a12);
        a13 = fma(vec4f(v3.y), wv, a13);
        a14 = fma(vec4f(v3.z), wv, a14);
        a15 = fma(vec4f(v3.w), wv, a15);
        wRow += p.Cin;
      }
    }
  }
  let outBase = (u32(oy) * p.W + u32(ox0)) * p.Cin;
  store4(ox0 + 0 < W, outBase + 0u * p.Cin, a0);
  store4(ox0 + 1 < W, outBase + 1u * p.Cin, a1);
  store4(ox0 + 2 < W, outBase + 2u * p.Cin, a2);
  store4(ox0 + 3 < W, outBase + 3u * p.Cin, a3);
  store4(ox0 + 4 < W, outBase + 4u * p.Cin, a4);
  store4(ox0 + 5 < W, outBase + 5u * p.Cin, a5);
  store4(ox0 + 6 < W, outBase + 6u * p.Cin, a6);
  store4(ox0 + 7 < W, outBase + 7u * p.Cin, a7);
  store4(ox0 + 8 < W, outBase + 8u * p.Cin, a8);
  store4(ox0 + 9 < W, outBase + 9u * p.Cin, a9);
  store4(ox0 + 10 < W, outBase + 10u * p.Cin, a10);
  store4(ox0 + 11 < W, outBase + 11u * p.Cin, a11);
  store4(ox0 + 12 < W, outBase + 12u * p.Cin, a12);
  store4(ox0 + 13 < W, outBase + 13u * p.Cin, a13);
  store4(ox0 + 14 < W, outBase + 14u * p.Cin, a14);
  store4(ox0 + 15 < W, outBase + 15u * p.Cin, a15);
}
