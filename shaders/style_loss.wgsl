// style_loss — the style loss of one layer from its Gram matrix, and dL/dG for the backward.
//
// Math:  L = factor * sum_{i,j} (G[i,j] - A[i,j])^2          (A: the style image's Gram matrix)
//        dL/dG = 2 * factor * (G - A);   written: M = dL/dG + (dL/dG)^T = 4 * factor * (G - A)
//        (G and A are symmetric), which the Gram backward (conv3x3_winograd_gemm_v7) multiplies by F.
//        factor carries the layer's weight and normalisation (notebook: w / (4 * 9 * (H*W)^2) with
//        the input image's H*W; paper: w / (4 * C^2 * M^2) with the layer's C channels, M = h*w).
//        Each workgroup writes its partial sum of L; reduce_sum.wgsl adds them.
// Bindings:
//   0  params             uniform {n = C*C, factor (f32)}
//   1  g        [C, C]     f32, read
//   2  a        [C, C]     f32, read
//   3  m        [C, C]     f32, written
//   4  partials [groups]   f32, written: one partial loss per workgroup
// Invocation: grid-stride over elements, then a tree reduction in workgroup memory. Workgroup 256.

struct Params { n: u32, factor: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var sum = 0.0;
  for (var e = gid.x; e < p.n; e += nwg.x * 256u) {
    let d = g[e] - a[e];
    m[e] = 4.0 * p.factor * d;
    sum += d * d;
  }
  red[lid] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[wid.x] = p.factor * red[0]; }
}
