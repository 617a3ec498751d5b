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
// Bindings:
//   0  params              uniform {H, W, weight (f32)}
//   1  x         [H, W, 3]  f32, the image being optimised (caffe BGR), read
//   2  vgg_grad  [H, W, 3]  f32, gradient of the content and style losses, read
//   3  grad      [H, W, 3]  f32, written
//   4  partials  [groups]   f32, written
// Invocation: one element (i, j, c), grid-stride, then a workgroup tree reduction. Workgroup 256.

struct Params { H: u32, W: u32, weight: f32 }

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
  let n = p.H * p.W * 3u;
  for (var e = gid.x; e < n; e += nwg.x * 256u) {
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
    grad[e] = vgg_grad[e] + p.weight * 1.25 * d;
  }
  red[lid] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[wid.x] = p.weight * red[0]; }
}
