// vec_adam — one Adam step (Kingma & Ba 2014, arXiv 1412.6980, Algorithm 1) on flat vectors,
// x, m and v updated in one pass:
//   m = beta1 m + (1 - beta1) g
//   v = beta2 v + (1 - beta2) g^2
//   x = x - lr * (m / bc1) / (sqrt(v / bc2) + eps),   bc1 = 1 - beta1^t, bc2 = 1 - beta2^t
// 1 - beta1, 1 - beta2 and the bias corrections bc1, bc2 (step t >= 1) are computed on the CPU in
// float64 and passed in: 1 - 0.999 evaluated in f32 is off by 1.3e-5 relative (0.999 is not
// representable), which showed up as a 1e-5 relative error in the step.
//
// Bindings:
//   0  params     uniform {N, lr, beta1, beta2, omb1 = 1 - beta1, omb2 = 1 - beta2, eps, bc1, bc2}
//                 (all f32 but N)
//   1  g  [N]     f32, gradient at x, read
//   2  x  [N]     f32, read_write
//   3  m  [N]     f32, first-moment estimate, read_write (zero at t = 0)
//   4  v  [N]     f32, second-moment estimate, read_write (zero at t = 0)
// Invocation: one element, grid-stride loop. Workgroup WG (override, default 256).
// CPU reference: vecAdamCpu in src/ref/vec.ts.

// Workgroup size; src/optim/vecops.ts sets it.
override WG: u32 = 256u;

struct Params { N: u32, lr: f32, beta1: f32, beta2: f32, omb1: f32, omb2: f32, eps: f32, bc1: f32, bc2: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * WG;
  for (var i = gid.x; i < p.N; i += stride) {
    let gi = g[i];
    let mi = p.beta1 * m[i] + p.omb1 * gi;
    let vi = p.beta2 * v[i] + p.omb2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    x[i] = x[i] - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
  }
}
