// relu_backward_vec4 — relu_backward four elements at a time, for N % 4 == 0 (every VGG19 layer:
// Cout % 4 == 0); elementwise.ts picks it there and relu_backward otherwise.
//   g[i] = dy[i] * (y[i] > 0)
// Changed from relu_backward: one vec4 per invocation instead of one f32. On lavapipe 1.6-1.9x
// faster (13.6M elements, block1 at 400x533), the per-invocation overhead being most of the cost
// of so little work. (Reading dy and y inside the conv's loads instead of this pass measured no
// faster than this pass plus the conv.) g must be a different buffer from dy and y.
//
// Bindings (N = element count, a multiple of 4):
//   0  params          uniform {N}
//   1  dy  [N/4]        vec4<f32>, gradient w.r.t. the ReLU output, read
//   2  y   [N/4]        vec4<f32>, the ReLU output, read
//   3  g   [N/4]        vec4<f32>, gradient w.r.t. the ReLU input, written
// Invocation: 4 elements; each thread strides by the grid size (a grid-stride loop) so the
// dispatch stays within the per-dimension workgroup limit. Workgroup 64.

struct Params { N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> y: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> g: array<vec4f>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * 64u;
  for (var i = gid.x; i < p.N / 4u; i += stride) {
    g[i] = select(vec4f(0.0), dy[i], y[i] > vec4f(0.0));
  }
}
