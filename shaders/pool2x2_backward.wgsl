// pool2x2_backward — gradient of pool2x2_forward w.r.t. its input.
//
// Math (Ho = floor(H/2), Wo = floor(W/2); inputs in a dropped odd row/column get 0):
//   max  (MODE 0): dx[iy, ix, c] = dy[iy/2, ix/2, c] if (iy, ix) is the position of the window's
//                  maximum, else 0. Ties go to the first maximum in the order (0,0), (0,1),
//                  (1,0), (1,1) — as TensorFlow.js's maxPool gradient does.
//   mean (MODE 1): dx[iy, ix, c] = dy[iy/2, ix/2, c] / 4
//   If ACCUMULATE is true, dx is added to what the buffer holds.
// Bindings:
//   0  params          uniform {H, W, C}   (forward input size)
//   1  dy [Ho, Wo, C]   f32, gradient w.r.t. the pooled output, read
//   2  x  [H, W, C]     f32, the forward input (for the max position), read
//   3  dx [H, W, C]     f32, written (or accumulated)
// Invocation: one dx value (gather form: no atomics, no scatter), in a grid-stride loop; it
// recomputes its window's argmax from x. Workgroup 256.

override MODE: u32 = 0u; // 0 = max, 1 = average
override ACCUMULATE: bool = false;

struct Params { H: u32, W: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let Ho = p.H / 2u;
  let Wo = p.W / 2u;
  let n = p.H * p.W * p.C;
  let stride = nwg.x * 256u;
  for (var i = gid.x; i < n; i += stride) {
    let c = i % p.C;
    let pix = i / p.C;
    let iy = pix / p.W;
    let ix = pix % p.W;
    let oy = iy / 2u;
    let ox = ix / 2u;
    var v = 0.0;
    if (oy < Ho && ox < Wo) {
      let grad = dy[(oy * Wo + ox) * p.C + c];
      if (MODE == 0u) {
        let i00 = ((2u * oy) * p.W + 2u * ox) * p.C + c;
        let i01 = i00 + p.C;
        let i10 = i00 + p.W * p.C;
        let i11 = i10 + p.C;
        // first maximum in window order
        var best = i00;
        var m = x[i00];
        if (x[i01] > m) { best = i01; m = x[i01]; }
        if (x[i10] > m) { best = i10; m = x[i10]; }
        if (x[i11] > m) { best = i11; }
        v = select(0.0, grad, best == i);
      } else {
        v = 0.25 * grad;
      }
    }
    if (ACCUMULATE) { v += dx[i]; }
    dx[i] = v;
  }
}
