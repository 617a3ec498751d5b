// conv3x3_winograd_input_v7 — the input transform of Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2015), the first step of conv3x3 v7.
// The output is cut into 2x2 tiles; tile (ty, tx) needs the 4x4 input patch d whose top-left
// is (2ty-1, 2tx-1) (zero outside the image: 'same' padding). Each patch and channel becomes 16
// values V = B^T d B, after which the whole 3x3 convolution is 16 independent GEMMs over the
// channels (conv3x3_winograd_gemm_v7, batched), then conv3x3_winograd_output_v7: 16 multiply-adds per 2x2 outputs and
// input channel instead of 36.
//
// Math:  B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
//        V[4i+j, t, c] = (B^T d_{t,c} B)[i, j],  d_{t,c}[i, j] = x[2ty-1+i, 2tx-1+j, c]
//
// Bindings:
//   0  params   uniform {H, W, C, tilesX, row0, rows}   tilesX = ceil(W/2); this dispatch covers the
//               tile rows row0 .. row0+rows-1 (a chunk, so that the scratch stays within the
//               device's buffer limits): tiles = rows * tilesX, t counted from the chunk's first
//   1  x  [H, W, C]          f32, NHWC, read
//   2  v  [16, tiles, C]     f32, written: 16 row-major [tiles, C] matrices, the GEMMs' A
// Invocation: one (tile, channel) pair, index i = t*C + c (channel fastest: neighbouring
//   invocations read neighbouring addresses). Workgroup 64; the 1-D grid is folded into x/y.

struct Params { H: u32, W: u32, C: u32, tilesX: u32, row0: u32, rows: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;

// row r of the patch: x[y, x0 .. x0+3, c] with zeros outside the image
fn patchRow(y: i32, x0: i32, c: u32) -> vec4f {
  if (y < 0 || y >= i32(p.H)) { return vec4f(0.0); }
  var out = vec4f(0.0);
  for (var j = 0; j < 4; j++) {
    let xx = x0 + j;
    if (xx >= 0 && xx < i32(p.W)) { out[j] = x[(u32(y) * p.W + u32(xx)) * p.C + c]; }
  }
  return out;
}

// elements first .. first+3 of the 16 at position i of their matrices
fn store4(i: u32, plane: u32, first: u32, val: vec4f) {
  v[first * plane + i] = val.x;
  v[(first + 1u) * plane + i] = val.y;
  v[(first + 2u) * plane + i] = val.z;
  v[(first + 3u) * plane + i] = val.w;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let tiles = p.rows * p.tilesX;
  if (i >= tiles * p.C) { return; }
  let t = i / p.C;
  let c = i % p.C;
  let y0 = i32(p.row0 + t / p.tilesX) * 2 - 1;
  let x0 = i32(t % p.tilesX) * 2 - 1;
  let d0 = patchRow(y0, x0, c);
  let d1 = patchRow(y0 + 1, x0, c);
  let d2 = patchRow(y0 + 2, x0, c);
  let d3 = patchRow(y0 + 3, x0, c);
  // rows: B^T d
  let r0 = d0 - d2;
  let r1 = d1 + d2;
  let r2 = d2 - d1;
  let r3 = d1 - d3;
  // columns: (B^T d) B, row by row; element 4i+j goes to matrix 4i+j at [t, c] (= index i)
  let plane = tiles * p.C;
  store4(i, plane, 0u, vec4f(r0.x - r0.z, r0.y + r0.z, r0.z - r0.y, r0.y - r0.w));
  store4(i, plane, 4u, vec4f(r1.x - r1.z, r1.y + r1.z, r1.z - r1.y, r1.y - r1.w));
  store4(i, plane, 8u, vec4f(r2.x - r2.z, r2.y + r2.z, r2.z - r2.y, r2.y - r2.w));
  store4(i, plane, 12u, vec4f(r3.x - r3.z, r3.y + r3.z, r3.z - r3.y, r3.y - r3.w));
}
