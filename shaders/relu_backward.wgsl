// relu_backward — the gradient through a ReLU, given the ReLU's output:
//   g[i] = dy[i] * (y[i] > 0)
// Used before conv3x3_backward v2+, whose GEMM then reads one pre-masked value per element
// instead of two (dy and y) in its inner loop. g must be a different buffer from dy and y
// (WebGPU forbids binding one buffer as read and read_write in the same dispatch).
//
// Bindings:
//   0  params          uniform {N}
//   1  dy  [N]          f32, gradient w.r.t. the ReLU output, read
//   2  y   [N]          f32, the ReLU output, read
//   3  g   [N]          f32, gradient w.r.t. the ReLU input, written
// Invocation: one element; each thread strides by the grid size (a grid-stride loop) so the
// dispatch stays within the per-dimension workgroup limit. Workgroup 256.

struct Params { N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> g: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * 256u;
  for (var i = gid.x; i < p.N; i += stride) {
    g[i] = select(0.0, dy[i], y[i] > 0.0);
  }
}
