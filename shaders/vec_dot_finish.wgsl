// vec_dot_finish — second pass of vec_dot: one workgroup reduces the P partial vec4s
//   (sum a.b, sum a^2, max |a|, non-finite count)
// into four consecutive scalar slots S[dst .. dst+3], and optionally also writes a scaled dot
//   S[scaledDst] = S[scaleSlot] * (sum a.b)
// which is how the two-loop recursion forms alpha_i = rho_i * (s_i . q) and
// beta_i = rho_i * (y_i . r) on the GPU, with no read-back in the middle of the recursion.
//
// Bindings:
//   0  params         uniform {P, dst, scaledDst (NONE = skip), scaleSlot}
//   1  partials [P]    vec4f, read (written by vec_dot)
//   2  S  [...]        f32 scalars, read_write (slot layout in src/optim/vecops.ts)
// Dispatch: exactly one workgroup of WG invocations (override, default 256, a power of two);
// invocation k folds partials k, k+WG, ... then a tree reduction in workgroup memory.
// CPU reference: vecDotCpu in src/ref/vec.ts.

// Workgroup size (a power of two for the tree reduction); src/optim/vecops.ts sets it.
override WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;

struct Params { P: u32, dst: u32, scaledDst: u32, scaleSlot: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partials: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> S: array<f32>;

var<workgroup> sh: array<vec4f, WG>;

fn combine(u: vec4f, v: vec4f) -> vec4f {
  return vec4f(u.x + v.x, u.y + v.y, max(u.z, v.z), u.w + v.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = vec4f(0.0);
  for (var i = lid; i < p.P; i += WG) {
    acc = combine(acc, partials[i]);
  }
  sh[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sh[lid] = combine(sh[lid], sh[lid + s]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let r = sh[0];
    S[p.dst] = r.x;
    S[p.dst + 1u] = r.y;
    S[p.dst + 2u] = r.z;
    S[p.dst + 3u] = r.w;
    if (p.scaledDst != NONE) {
      S[p.scaledDst] = S[p.scaleSlot] * r.x;
    }
  }
}
