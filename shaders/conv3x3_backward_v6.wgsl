// conv3x3_backward_v6 — gradient of conv3x3_forward (with its fused ReLU) w.r.t. its input x,
// for the image layer (Cin <= 3): in VGG19 block1_conv1, whose input is the RGB image.
// Changed from v4 (16 pixels of one row x 4 channels per invocation), three changes measured on
// lavapipe at 400x533, 64 -> 3 (v4 3.1-3.3 GFLOP/s):
//   - the g values under a row of output pixels are loaded once and used by all three horizontal
//     taps (10 loads per kernel row and channel for 8 pixels, instead of 3 x 8);      -> ~3.9
//   - accumulators are vec3, not vec4: on CPU adapters each vector component is its own SIMD
//     instruction (one invocation per lane), so the 4th, unused channel cost a quarter of the
//     multiply-adds;                                                                   -> ~4.5
//   - two output rows per invocation (2 x 8 pixels): each loaded row of g feeds both output rows
//     it lies under (4 rows of 10 values per channel for 16 pixels, instead of 3 x 18). -> ~5.0-5.4
//   Taller tiles (3 and 4 rows x 8) and one row of 16 measured no better.
// Each invocation's g loads are gathers on CPU adapters, the dominant cost; the weights are the
// same for every invocation.
//
// Math:  dx[iy, ix, ci] = sum_{ky,kx,co} g[iy+ky-1, ix+kx-1, co] * wt[ky, kx, co, ci]   (g = 0 outside)
//        with g = dy * (y > 0) (relu_backward, before) and wt[ky, kx, co, ci] = w[2-ky, 2-kx, ci, co].
//        If ACCUMULATE is true, dx is added to what the buffer already holds.
//
// Bindings (H, W, Cin, Cout are the forward layer's shape; Cin <= 3):
//   0  params             uniform  {H, W, Cin, Cout}
//   1  g   [H, W, Cout]    f32, gradient w.r.t. the pre-ReLU forward output (masked), read
//   2  wt  [3, 3, Cout, Cin] f32, flip-transposed kernel, read
//   3  dx  [H, W, Cin]     f32, written (or accumulated)
// Invocation gx: output rows oy = 2*(gx / ceil(W/8)) and oy+1, columns ox0 = 8*(gx % ceil(W/8))
//   .. ox0+7. Workgroup 64. Dispatch: ceil(ceil(H/2)*ceil(W/8)/64) x 1 x 1 (under the 65535
//   limit for any image up to ~67 megapixels).

override ACCUMULATE: bool = false;

struct Params { H: u32, W: u32, Cin: u32, Cout: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn store3(pix_ok: bool, base: u32, v: vec3f) {
  if (!pix_ok) { return; }
  for (var j = 0u; j < 3u; j++) {
    if (j < p.Cin) {
      let i = base + j;
      if (ACCUMULATE) { dx[i] = dx[i] + v[j]; } else { dx[i] = v[j]; }
    }
  }
}

// g offsets of 4 consecutive columns c .. c+3 of the row starting at pixel rowBase (columns
// clamped into the row), and 1.0 / 0.0 for those inside / outside the image
fn cols4(rowBase: u32, c: i32, W: i32) -> vec4u {
  return (vec4u(rowBase) + vec4u(clamp(vec4i(c) + vec4i(0, 1, 2, 3), vec4i(0), vec4i(W - 1)))) * p.Cout;
}
fn inside4(c: i32, W: i32) -> vec4f {
  let cc = vec4i(c) + vec4i(0, 1, 2, 3);
  return select(vec4f(0.0), vec4f(1.0), (cc >= vec4i(0)) & (cc < vec4i(W)));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let tilesPerRow = (p.W + 7u) / 8u;
  let rowPairs = (p.H + 1u) / 2u;
  if (gid.x >= rowPairs * tilesPerRow) { return; }
  let oy = i32(gid.x / tilesPerRow) * 2;
  let ox0 = i32((gid.x % tilesPerRow) * 8u);
  let W = i32(p.W);
  // weight channels 0..2, clamped to the last one (channels >= Cin are computed, not stored)
  let last = p.Cin - 1u;
  let i1 = min(1u, last);
  let i2 = min(2u, last);
  let tap = p.Cout * p.Cin;                     // floats between horizontal taps in wt
  // masks of the 10 columns ox0-1 .. ox0+8 under the 8 pixels (the same for every row)
  let okA = inside4(ox0 - 1, W);
  let okB = inside4(ox0 + 3, W);
  let okC = inside4(ox0 + 7, W).xy;
  // a<p>: output row oy, pixel ox0+p; b<p>: row oy+1
  var a0 = vec3f(0.0); var b0 = vec3f(0.0);
  var a1 = vec3f(0.0); var b1 = vec3f(0.0);
  var a2 = vec3f(0.0); var b2 = vec3f(0.0);
  var a3 = vec3f(0.0); var b3 = vec3f(0.0);
  var a4 = vec3f(0.0); var b4 = vec3f(0.0);
  var a5 = vec3f(0.0); var b5 = vec3f(0.0);
  var a6 = vec3f(0.0); var b6 = vec3f(0.0);
  var a7 = vec3f(0.0); var b7 = vec3f(0.0);
  // the 4 rows of g under the two output rows: g row oy-1+r is kernel row ky = r for output row
  // oy and ky = r-1 for output row oy+1
  for (var r = 0; r < 4; r++) {
    let iy = oy + r - 1;
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    let rowBase = u32(iy) * p.W;
    let gA = cols4(rowBase, ox0 - 1, W);
    let gB = cols4(rowBase, ox0 + 3, W);
    let gC = cols4(rowBase, ox0 + 7, W).xy;
    var w0 = u32(r * 3) * tap;                 // wt[r, 0, co, .]: output row oy (used when r < 3)
    var w1 = u32(max(r - 1, 0) * 3) * tap;     // wt[r-1, 0, co, .]: output row oy+1 (when r > 0)
    for (var co = 0u; co < p.Cout; co++) {
      // the 10 values g[iy, ox0-1+j, co], j = 0..9 (0 outside the image); pixel p, tap kx reads j = p+kx
      let vA = vec4f(g[gA.x + co], g[gA.y + co], g[gA.z + co], g[gA.w + co]) * okA;
      let vB = vec4f(g[gB.x + co], g[gB.y + co], g[gB.z + co], g[gB.w + co]) * okB;
      let vC = vec2f(g[gC.x + co], g[gC.y + co]) * okC;
      var wv: vec3f;
      if (r < 3) {
        wv = vec3f(wt[w0], wt[w0 + i1], wt[w0 + i2]);
        a0 = fma(vec3f(vA.x), wv, a0); a1 = fma(vec3f(vA.y), wv, a1); a2 = fma(vec3f(vA.z), wv, a2); a3 = fma(vec3f(vA.w), wv, a3);
        a4 = fma(vec3f(vB.x), wv, a4); a5 = fma(vec3f(vB.y), wv, a5); a6 = fma(vec3f(vB.z), wv, a6); a7 = fma(vec3f(vB.w), wv, a7);
        wv = vec3f(wt[w0 + 1u * tap], wt[w0 + 1u * tap + i1], wt[w0 + 1u * tap + i2]);
        a0 = fma(vec3f(vA.y), wv, a0); a1 = fma(vec3f(vA.z), wv, a1); a2 = fma(vec3f(vA.w), wv, a2); a3 = fma(vec3f(vB.x), wv, a3);
        a4 = fma(vec3f(vB.y), wv, a4); a5 = fma(vec3f(vB.z), wv, a5); a6 = fma(vec3f(vB.w), wv, a6); a7 = fma(vec3f(vC.x), wv, a7);
        wv = vec3f(wt[w0 + 2u * tap], wt[w0 + 2u * tap + i1], wt[w0 + 2u * tap + i2]);
        a0 = fma(vec3f(vA.z), wv, a0); a1 = fma(vec3f(vA.w), wv, a1); a2 = fma(vec3f(vB.x), wv, a2); a3 = fma(vec3f(vB.y), wv, a3);
        a4 = fma(vec3f(vB.z), wv, a4); a5 = fma(vec3f(vB.w), wv, a5); a6 = fma(vec3f(vC.x), wv, a6); a7 = fma(vec3f(vC.y), wv, a7);
      }
      if (r > 0) {
        wv = vec3f(wt[w1], wt[w1 + i1], wt[w1 + i2]);
        b0 = fma(vec3f(vA.x), wv, b0); b1 = fma(vec3f(vA.y), wv, b1); b2 = fma(vec3f(vA.z), wv, b2); b3 = fma(vec3f(vA.w), wv, b3);
        b4 = fma(vec3f(vB.x), wv, b4); b5 = fma(vec3f(vB.y), wv, b5); b6 = fma(vec3f(vB.z), wv, b6); b7 = fma(vec3f(vB.w), wv, b7);
        wv = vec3f(wt[w1 + 1u * tap], wt[w1 + 1u * tap + i1], wt[w1 + 1u * tap + i2]);
        b0 = fma(vec3f(vA.y), wv, b0); b1 = fma(vec3f(vA.z), wv, b1); b2 = fma(vec3f(vA.w), wv, b2); b3 = fma(vec3f(vB.x), wv, b3);
        b4 = fma(vec3f(vB.y), wv, b4); b5 = fma(vec3f(vB.z), wv, b5); b6 = fma(vec3f(vB.w), wv, b6); b7 = fma(vec3f(vC.x), wv, b7);
        wv = vec3f(wt[w1 + 2u * tap], wt[w1 + 2u * tap + i1], wt[w1 + 2u * tap + i2]);
        b0 = fma(vec3f(vA.z), wv, b0); b1 = fma(vec3f(vA.w), wv, b1); b2 = fma(vec3f(vB.x), wv, b2); b3 = fma(vec3f(vB.y), wv, b3);
        b4 = fma(vec3f(vB.z), wv, b4); b5 = fma(vec3f(vB.w), wv, b5); b6 = fma(vec3f(vC.x), wv, b6); b7 = fma(vec3f(vC.y), wv, b7);
      }
      w0 += p.Cin;
      w1 += p.Cin;
    }
  }
  let outBase = (u32(oy) * p.W + u32(ox0)) * p.Cin;
  store3(ox0 + 0 < W, outBase + 0u * p.Cin, a0);
  store3(ox0 + 1 < W, outBase + 1u * p.Cin, a1);
  store3(ox0 + 2 < W, outBase + 2u * p.Cin, a2);
  store3(ox0 + 3 < W, outBase + 3u * p.Cin, a3);
  store3(ox0 + 4 < W, outBase + 4u * p.Cin, a4);
  store3(ox0 + 5 < W, outBase + 5u * p.Cin, a5);
  store3(ox0 + 6 < W, outBase + 6u * p.Cin, a6);
  store3(ox0 + 7 < W, outBase + 7u * p.Cin, a7);
  store3(ox0 + 0 < W && oy + 1 < i32(p.H), outBase + (p.W + 0u) * p.Cin, b0);
  store3(ox0 + 1 < W && oy + 1 < i32(p.H), outBase + (p.W + 1u) * p.Cin, b1);
  store3(ox0 + 2 < W && oy + 1 < i32(p.H), outBase + (p.W + 2u) * p.Cin, b2);
  store3(ox0 + 3 < W && oy + 1 < i32(p.H), outBase + (p.W + 3u) * p.Cin, b3);
  store3(ox0 + 4 < W && oy + 1 < i32(p.H), outBase + (p.W + 4u) * p.Cin, b4);
  store3(ox0 + 5 < W && oy + 1 < i32(p.H), outBase + (p.W + 5u) * p.Cin, b5);
  store3(ox0 + 6 < W && oy + 1 < i32(p.H), outBase + (p.W + 6u) * p.Cin, b6);
  store3(ox0 + 7 < W && oy + 1 < i32(p.H), outBase + (p.W + 7u) * p.Cin, b7);
}
