// pool2x2_forward — 2x2 pooling, stride 2, no padding (Keras 'valid': an odd last row or
// column is dropped), max or average. The paper (Gatys et al.) prefers average pooling; the
// notebook and Keras VGG19 use max.
//
// Math:  y[oy, ox, c] = max   over dy,dx in {0,1} of x[2*oy+dy, 2*ox+dx, c]    (MODE = 0)
//        y[oy, ox, c] = mean  over the same 4 values                         (MODE = 1)
//        with Ho = floor(H/2), Wo = floor(W/2).
// Bindings:
//   0  params          uniform {H, W, C}   (input size)
//   1  x  [H, W, C]     f32, NHWC, read
//   2  y  [Ho, Wo, C]   f32, NHWC, written
// Invocation: one output value, in a grid-stride loop (index i = (oy*Wo + ox)*C + c).
// Neighbouring invocations read neighbouring channels, so loads are contiguous. Workgroup 256.

override MODE: u32 = 0u; // 0 = max, 1 = average

struct Params { H: u32, W: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let Ho = p.H / 2u;
  let Wo = p.W / 2u;
  let n = Ho * Wo * p.C;
  let stride = nwg.x * 256u;
  for (var i = gid.x; i < n; i += stride) {
    let c = i % p.C;
    let pix = i / p.C;
    let oy = pix / Wo;
    let ox = pix % Wo;
    let i00 = ((2u * oy) * p.W + 2u * ox) * p.C + c; // top-left of the window
    let i01 = i00 + p.C;
    let i10 = i00 + p.W * p.C;
    let i11 = i10 + p.C;
    if (MODE == 0u) {
      y[i] = max(max(x[i00], x[i01]), max(x[i10], x[i11]));
    } else {
      y[i] = 0.25 * ((x[i00] + x[i01]) + (x[i10] + x[i11]));
    }
  }
}
