// gram_reduce — adds the S partial Gram matrices of gram_forward and fills the full symmetric G.
//
// Math:  G[i, j] = sum_{s < S} part[s, min(i,j)', max(i,j)']   where (i', j') is the element's
//        position in the computed upper *block* triangle: gram_forward computed every element of
//        blocks with block(j) >= block(i), so element (i, j) is read from (i, j) when
//        block(j) >= block(i), else from (j, i).
//        With ACCUMULATE = 1, G += that sum instead (a feature map stored in row bands is reduced
//        band by band: the first band writes, the others accumulate).
// Bindings:
//   0  params            uniform {C, S}
//   1  part [S, C, C]     f32, read
//   2  g    [C, C]        f32, written or accumulated (full, symmetric)
// Invocation: one element of G, grid-stride loop. Workgroup 256.
// Changed: ACCUMULATE, for banded feature maps.

override ACCUMULATE: u32 = 0u;

struct Params { C: u32, S: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = p.C * p.C;
  for (var e = gid.x; e < n; e += nwg.x * 256u) {
    var i = e / p.C;
    var j = e % p.C;
    if (j / 8u < i / 8u) { let t = i; i = j; j = t; }
    var acc = 0.0;
    for (var s = 0u; s < p.S; s++) {
      acc += part[(s * p.C + i) * p.C + j];
    }
    if (ACCUMULATE == 1u) { g[e] += acc; } else { g[e] = acc; }
  }
}
