// content_loss — the content loss at one layer and its gradient w.r.t. the layer's activations.
//
// Math:  L = coef * sum_e (F[e] - P[e])^2      (P: the content image's activations at the layer;
//        coef = content_weight for the notebook, content_weight / 2 for the paper)
//        dL/dF = 2 * coef * (F - P), written into df (or added to it when ACCUMULATE).
//        Each workgroup writes its partial sum of L; reduce_sum.wgsl adds them.
// Bindings:
//   0  params             uniform {n = h*w*C, coef (f32)}
//   1  f        [n]        f32, activations of the image being optimised, read
//   2  content_target [n]  f32, activations of the content image, read
//   3  df       [n]        f32, written (or accumulated)
//   4  partials [groups]   f32, written
// Invocation: grid-stride over elements, then a tree reduction in workgroup memory. Workgroup 256.

override ACCUMULATE: bool = false;

struct Params { n: u32, coef: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read> content_target: array<f32>;
@group(0) @binding(3) var<storage, read_write> df: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var sum = 0.0;
  for (var e = gid.x; e < p.n; e += nwg.x * 256u) {
    let d = f[e] - content_target[e];
    var gr = 2.0 * p.coef * d;
    if (ACCUMULATE) { gr += df[e]; }
    df[e] = gr;
    sum += d * d;
  }
  red[lid] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[wid.x] = p.coef * red[0]; }
}
