// mask_apply — multiply every channel of each position by that position's mask value:
//   y[p, c] = m[p] * x[p, c]                 (ACCUMULATE = false)
//   y[p, c] = y[p, c] + m[p] * x[p, c]       (ACCUMULATE = true)
// Masked (guided) Gram matrices, after Gatys et al. 2017, "Controlling Perceptual Factors in
// Neural Style Transfer": a style region's Gram is G = (m ⊙ F)^T (m ⊙ F), with the mask m
// downsampled to the layer's h x w. The same op serves both directions:
//   forward   F' = m ⊙ F, then gram_forward on F'
//   backward  dL/dF = m ⊙ dL/dF' (the map is diagonal, so its transpose is itself); with
//             ACCUMULATE the masked gradient is added to what the layer's gradient already holds
//             (several styles, or a layer that is also the content layer).
// New kernel (no previous version).
//
// Bindings:
//   0  params        uniform {N, C}   N = h*w positions, C channels
//   1  x  [N, C]      f32, NHWC activations (or a gradient w.r.t. the masked ones), read
//   2  m  [N]         f32, the mask at this layer's resolution, read
//   3  y  [N, C]      f32, written (or accumulated); must be a different buffer from x and m
// Invocation: one element i = p*C + c; each thread strides by the grid size (a grid-stride loop)
// so the dispatch stays within the per-dimension workgroup limit. Workgroup 256.

override ACCUMULATE: bool = false;

struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * 256u;
  let total = p.N * p.C;
  for (var i = gid.x; i < total; i += stride) {
    let v = m[i / p.C] * x[i];
    if (ACCUMULATE) { y[i] = y[i] + v; } else { y[i] = v; }
  }
}
