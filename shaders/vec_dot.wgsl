// vec_dot — first pass of a fused reduction of two vectors a, b of length N. One pass over
// memory computes four quantities at once (each costs a few flops on data already loaded):
//   r = ( sum a[i]*b[i],  sum a[i]^2,  max |a[i]|,  count of i where a[i] or b[i] is not finite )
// L-BFGS uses them as (g.d, |g|^2, |g|_inf, bad) after an evaluation, (y.s, |y|^2, ., .) after a
// step, (s_i.q, ...) in the two-loop recursion, (d.g, |d|^2, |d|_inf, bad) for a new direction.
// The non-finite test looks at the exponent bits, so it survives compilers that assume no
// NaN/Inf (WGSL allows that for ordinary float comparisons).
//
// This pass writes one partial vec4 per workgroup; vec_dot_finish reduces the P partials (in
// the same submission) into the scalars buffer. Summation in f32: each invocation accumulates
// its grid-stride elements sequentially (ceil(N / (WG P)) terms), then a tree reduction over
// the WG invocations in workgroup memory, then the finish pass's tree over P partials.
//
// Bindings:
//   0  params         uniform {N}
//   1  a  [N]          f32, read
//   2  b  [N]          f32, read (may be the same buffer as a)
//   3  partials [P]    vec4f, written: partials[workgroup] = r of that workgroup's elements
// Dispatch: P workgroups (P <= 65535, chosen by src/optim/vecops.ts) of WG invocations
// (override, default 256, a power of two), grid-stride.
// CPU reference: vecDotCpu in src/ref/vec.ts.

// Workgroup size (a power of two for the tree reduction); src/optim/vecops.ts sets it.
override WG: u32 = 256u;

struct Params { N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<vec4f>;

var<workgroup> sh: array<vec4f, WG>;

fn notFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

fn combine(u: vec4f, v: vec4f) -> vec4f {
  return vec4f(u.x + v.x, u.y + v.y, max(u.z, v.z), u.w + v.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  var acc = vec4f(0.0);
  let stride = nwg.x * WG;
  for (var i = wid.x * WG + lid; i < p.N; i += stride) {
    let ai = a[i];
    let bi = b[i];
    acc = vec4f(acc.x + ai * bi, acc.y + ai * ai, max(acc.z, abs(ai)),
                acc.w + select(0.0, 1.0, notFinite(ai) || notFinite(bi)));
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
    partials[wid.x] = sh[0];
  }
}
