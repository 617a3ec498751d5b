// conv3x3_backward_v1 — gradient of conv3x3_forward (with its fused ReLU) w.r.t. its input x.
// Version 1: the naive kernel, written straight from the chain rule with the original HWIO
// kernel, for teaching and as a second reference. One invocation computes one dx value.
// Weights are frozen, so the gradient w.r.t. w and b is never needed.
//
// Math:  g[oy, ox, co]  = dy[oy, ox, co] * (y[oy, ox, co] > 0)          (through the ReLU)
//        dx[iy, ix, ci] = sum_{ky,kx} sum_{co} g[iy-ky+1, ix-kx+1, co] * w[ky, kx, ci, co]
//        (terms with the output position outside the image are 0)
//        If ACCUMULATE is true, dx is added to what the buffer already holds (used where a
//        loss gradient is injected at this activation).
//
// Bindings:
//   0  params            uniform  {H, W, Cin, Cout}   (the forward layer's shape)
//   1  dy  [H, W, Cout]   f32, gradient w.r.t. the forward output y (post-ReLU), read
//   2  y   [H, W, Cout]   f32, the forward output (post-ReLU), read: its sign is the ReLU mask
//   3  w   [3, 3, Cin, Cout] f32, HWIO, the forward kernel, read
//   4  dx  [H, W, Cin]    f32, gradient w.r.t. the forward input x, written (or accumulated)
// Dispatch: 1-D over H*W*Cin outputs in workgroups of 64, folded into x/y as in v1 forward.

override ACCUMULATE: bool = false;

struct Params { H: u32, W: u32, Cin: u32, Cout: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.H * p.W * p.Cin) { return; }
  let ci = i % p.Cin;
  let pix = i / p.Cin;
  let iy = i32(pix / p.W);
  let ix = i32(pix % p.W);
  var acc = 0.0;
  for (var ky = 0; ky < 3; ky++) {
    let oy = iy - ky + 1;
    if (oy < 0 || oy >= i32(p.H)) { continue; }
    for (var kx = 0; kx < 3; kx++) {
      let ox = ix - kx + 1;
      if (ox < 0 || ox >= i32(p.W)) { continue; }
      let gBase = (u32(oy) * p.W + u32(ox)) * p.Cout;
      let wBase = (u32(ky * 3 + kx) * p.Cin + ci) * p.Cout;
      for (var co = 0u; co < p.Cout; co++) {
        let g = select(0.0, dy[gBase + co], y[gBase + co] > 0.0);
        acc += g * w[wBase + co];
      }
    }
  }
  if (ACCUMULATE) { acc += dx[i]; }
  dx[i] = acc;
}
