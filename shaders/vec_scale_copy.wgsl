// vec_scale_copy — scaled copy:
//   y[i] = a * x[i],   a = c * (P - M),
//   P = S[plus]  (or 1 when plus  == NONE),
//   M = S[minus] (or 0 when minus == NONE)   (the same coefficient rule as vec_axpy).
// Used for d = -g (c = -1), r = gamma * q (plus = GAMMA slot), s_k = t * d (c = t) and the
// first half of y_k = g_new - g_old (c = 1). x and y must be different buffers.
//
// Bindings:
//   0  params     uniform {N, c (f32), plus, minus}
//   1  x  [N]     f32, read
//   2  y  [N]     f32, written
//   3  S  [...]   f32 scalars, read (slot layout in src/optim/vecops.ts)
// Invocation: one element, grid-stride loop. Workgroup WG (override, default 256).
// CPU reference: vecScaleCopyCpu in src/ref/vec.ts.

const NONE: u32 = 0xffffffffu;

// Workgroup size; src/optim/vecops.ts sets it.
override WG: u32 = 256u;

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
    y[i] = a * x[i];
  }
}
