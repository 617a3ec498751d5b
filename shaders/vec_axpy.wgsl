// vec_axpy — in-place scaled vector add, the workhorse of the L-BFGS two-loop recursion and
// of every step x <- x + t*d, and (ACCUMULATE = false) the scaled copy:
//   y[i] = a * x[i] + y[i]      (ACCUMULATE, the default)
//   y[i] = a * x[i]             (ACCUMULATE = false: d = -g, r = gamma * q, s_k = t * d and the
//                                first half of y_k = g_new - g_old; VecBatch.scaleCopy)
//   a = c * (P - M),
//   P = S[plus]  (or 1 when plus  == NONE),
//   M = S[minus] (or 0 when minus == NONE).
// The coefficient is read on the GPU from the small scalars buffer S, so a coefficient that an
// earlier dispatch of the same submission computed (alpha_i = rho_i * s_i.q, or alpha_i - beta_i)
// needs no read-back. With plus = minus = NONE it is the plain uniform c.
// x and y must be different buffers (WebGPU forbids read and read_write aliases in one dispatch).
//
// Bindings:
//   0  params     uniform {N, c (f32), plus, minus}
//   1  x  [N]     f32, read
//   2  y  [N]     f32, read_write (updated in place; only written when ACCUMULATE is false)
//   3  S  [...]   f32 scalars, read (see src/optim/vecops.ts for the slot layout)
// Invocation: one element, grid-stride loop (the grid stays within 65535 workgroups).
// Workgroup WG (override, default 256). CPU references: vecAxpyCpu, vecScaleCopyCpu in src/ref/vec.ts.
// (The scaled copy was a file of its own, vec_scale_copy.wgsl, identical but for this line.)

const NONE: u32 = 0xffffffffu;

// Workgroup size; src/optim/vecops.ts sets it.
override WG: u32 = 256u;
override ACCUMULATE: bool = true;

struct Params { N: u32, c: f32, plus: u32, minus: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> S: array<f32>;

fn coefficient() -> f32 {
  var plusV = 1.0;
  if (p.plus != NONE) { plusV = S[p.plus]; }
  var minusV = 0.0;
  if (p.minus != NONE) { minusV = S[p.minus]; }
  return p.c * (plusV - minusV);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let a = coefficient();
  let stride = nwg.x * WG;
  for (var i = gid.x; i < p.N; i += stride) {
    if (ACCUMULATE) { y[i] = a * x[i] + y[i]; } else { y[i] = a * x[i]; }
  }
}
