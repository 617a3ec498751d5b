// reduce_sum — adds n partial sums into one slot of the scalars buffer (the losses that are read
// back once per evaluation).
//
// Math:  out[slot] = sum_{i < n} partials[i]    (ACCUMULATE = 1: out[slot] += that sum, for a
//        loss over a feature map stored in row bands, reduced band by band)
// Bindings:
//   0  params             uniform {n, slot}
//   1  partials [n]        f32, read
//   2  out      [slots]    f32, out[slot] written or accumulated
// Invocation: one workgroup of 256; each invocation sums a strided subset, then a tree
// reduction in workgroup memory. Dispatch: 1 x 1 x 1.
// Changed: ACCUMULATE, for banded feature maps.

override ACCUMULATE: u32 = 0u;

struct Params { n: u32, slot: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var i = lid; i < p.n; i += 256u) { sum += partials[i]; }
  red[lid] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    if (ACCUMULATE == 1u) { out[p.slot] += red[0]; } else { out[p.slot] = red[0]; }
  }
}
