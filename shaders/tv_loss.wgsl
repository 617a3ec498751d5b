// tv_loss — the notebook's total-variation loss of the image and its gradient, added to the
// VGG gradient to give the objective's full gradient w.r.t. the image.
//
// Math (x: [H, W, 3], per channel c; a and b defined for i < H-1, j < W-1):
//   a(i,j) = x[i,j] - x[i+1,j],   b(i,j) = x[i,j] - x[i,j+1],   t = a^2 + b^2
//   L = w * sum_{i<H-1, j<W-1, c} t^1.25
//   dL/dx[i,j] = w * 1.25 * ( t(i,j)^0.25 * (2a + 2b)(i,j)        [if (i,j) is in range]
//                           - t(i-1,j)^0.25 * 2a(i-1,j)           [if (i-1,j) is in range]
//                           - t(i,j-1)^0.25 * 2b(i,j-1) )         [if (i,j-1) is in range]
//   grad[e] = vgg_grad[e] + dL/dx[e]   (so this pass also assembles the objective's gradient)
//   Each workgroup writes its partial sum of L; reduce_sum.wgsl adds them.
// Row ranges (an image stored in row bands, src/model/bands.ts): the pass covers only the rows
// [r0, r1) of x: it writes their gradient and sums the terms t(i, .) of those rows. x holds
// those rows plus, where the image has them, one halo row above (t(r0-1, .) feeds the gradient of
// row r0) and one below (row r1 feeds t(r1-1, .)); H is the number of rows x holds, and a row
// with no row below in x is the image's last row. grad and vgg_grad hold rows [r0, r1) starting
// at row o0 of their buffers (a band of the image). The whole image: r0 = 0, r1 = H, o0 = 0.
// Each term t(i, j) is summed by exactly the pass whose rows contain i, so the loss of a banded
// image is the sum of its passes' partial sums (reduce_sum with ACCUMULATE).
// Bindings:
//   0  params              uniform {H, W, r0, r1, o0, weight (f32)}
//   1  x         [H, W, 3]  f32, the image being optimised (caffe BGR), read
//   2  vgg_grad  [*, W, 3]  f32, gradient of the content and style losses, read at rows o0..
//   3  grad      [*, W, 3]  f32, written at rows o0 .. o0 + r1 - r0
//   4  partials  [groups]   f32, written
// Invocation: one element (i, j, c) of rows [r0, r1), grid-stride, then a workgroup tree
// reduction. Workgroup 256.

struct Params { H: u32, W: u32, r0: u32, r1: u32, o0: u32, weight: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> vgg_grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

var<workgroup> red: array<f32, 256>;

fn at(i: u32, j: u32, c: u32) -> f32 { return x[(i * p.W + j) * 3u + c]; }

// (a, b, t^0.25) at (i, j); the caller guarantees i < H-1 and j < W-1.
fn terms(i: u32, j: u32, c: u32) -> vec3f {
  let v = at(i, j, c);
  let a = v - at(i + 1u, j, c);
  let b = v - at(i, j + 1u, c);
  let t = a * a + b * b;
  return vec3f(a, b, select(0.0, pow(t, 0.25), t > 0.0));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var sum = 0.0;
  let n = (p.r1 - p.r0) * p.W * 3u;
  let first = p.r0 * p.W * 3u;  // x's index of the first element covered
  let out0 = p.o0 * p.W * 3u;   // grad's and vgg_grad's index of that element
  for (var k = gid.x; k < n; k += nwg.x * 256u) {
    let e = first + k;
    let c = e % 3u;
    let pix = e / 3u;
    let i = pix / p.W;
    let j = pix % p.W;
    var d = 0.0;
    if (i + 1u < p.H && j + 1u < p.W) {
      let q = terms(i, j, c);
      let t = q.x * q.x + q.y * q.y;
      sum += t * q.z;                     // t^1.25 = t * t^0.25
      d += q.z * (2.0 * q.x + 2.0 * q.y);
    }
    if (i >= 1u && j + 1u < p.W) {
      let q = terms(i - 1u, j, c);
      d -= q.z * 2.0 * q.x;
    }
    if (j >= 1u && i + 1u < p.H) {
      let q = terms(i, j - 1u, c);
      d -= q.z * 2.0 * q.y;
    }
    grad[out0 + k] = vgg_grad[out0 + k] + p.weight * 1.25 * d;
  }
  red[lid] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[wid.x] = p.weight * red[0]; }
}
