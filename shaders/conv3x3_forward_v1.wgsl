// conv3x3_forward_v1 — 3x3 convolution, stride 1, zero ("same") padding, bias and ReLU fused.
// Version 1: the naive kernel, for teaching and as a second reference. One invocation computes
// one output value; nothing is reused between invocations.
//
// Math:  y[oy, ox, co] = relu( b[co] + sum_{ky,kx in 0..2} sum_{ci} x[oy+ky-1, ox+kx-1, ci] * w[ky, kx, ci, co] )
//        where x outside the image is 0.
// Seen as a GEMM (implicit im2col): Y[H*W, Cout] = P[H*W, 9*Cin] x Wm[9*Cin, Cout] with
// P[p, (ky*3+kx)*Cin + ci] = x[oy+ky-1, ox+kx-1, ci] and Wm the HWIO kernel read as a matrix.
//
// Bindings:
//   0  params            uniform  {H, W, Cin, Cout}
//   1  x   [H, W, Cin]    f32, NHWC (batch 1), read
//   2  w   [3, 3, Cin, Cout] f32, HWIO (Keras/TF layout), read
//   3  b   [Cout]         f32, read
//   4  y   [H, W, Cout]   f32, NHWC, written
// Dispatch: 1-D over H*W*Cout outputs in workgroups of 64, folded into x/y so that no
// dimension exceeds 65535 workgroups (index = gid.x + gid.y * 64 * num_workgroups.x).

struct Params { H: u32, W: u32, Cin: u32, Cout: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.H * p.W * p.Cout) { return; }
  let co = i % p.Cout;
  let pix = i / p.Cout;
  let oy = i32(pix / p.W);
  let ox = i32(pix % p.W);
  var acc = b[co];
  for (var ky = 0; ky < 3; ky++) {
    let iy = oy + ky - 1;
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    for (var kx = 0; kx < 3; kx++) {
      let ix = ox + kx - 1;
      if (ix < 0 || ix >= i32(p.W)) { continue; }
      let xBase = (u32(iy) * p.W + u32(ix)) * p.Cin;
      let wBase = u32(ky * 3 + kx) * p.Cin * p.Cout + co;
      for (var ci = 0u; ci < p.Cin; ci++) {
        acc += x[xBase + ci] * w[wBase + ci * p.Cout];
      }
    }
  }
  y[i] = max(acc, 0.0);
}
