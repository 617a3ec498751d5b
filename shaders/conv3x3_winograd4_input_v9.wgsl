// conv3x3_winograd4_input_v9 — the input transform of Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2015, section 4.2), the first step of conv3x3 v9.
// The output is cut into 4x4 tiles; tile (ty, tx) needs the 6x6 input patch d whose top-left is
// (4ty-1, 4tx-1) (zero outside the image: 'same' padding). Each patch and channel becomes 36
// values V = B^T d B, after which the whole 3x3 convolution is 36 independent GEMMs over the
// channels (conv3x3_winograd_gemm_v7, batched), then conv3x3_winograd4_output_v9: 36 multiply-adds
// per 4x4 outputs and input channel instead of 144 (direct) or 64 (F(2x2, 3x3), v7). Four channels
// per invocation.
//
// Math:  B^T = [[1,  3/2,   -2, -3/2,    1, 0],
//               [0,   -1, -5/2, -1/2,    1, 0],
//               [0,    1,  1/2, -5/2,    1, 0],
//               [0, -1/2,   -1,  1/2,    1, 0],
//               [0,    2,   -1,   -2,    1, 0],
//               [0,    1,  3/2,   -2, -3/2, 1]]
//        V[6i+j, t, c] = (B^T d_{t,c} B)[i, j],  d_{t,c}[i, j] = x[4ty-1+i, 4tx-1+j, c]
// The interpolation points are 0, 1, -1, 2, -1/2 and infinity, not Lavin & Gray's 0, +-1, +-2:
// F(4x4)'s larger transform entries make its float32 error grow, and these points gave a third
// of the error of Lavin & Gray's in a float32 simulation (src/ref/winograd.ts has the matrices
// and the construction; test/kernels.test.ts measures the error against the Float64 direct
// convolution).
//
// Bindings:
//   0  params   uniform {H, W, C, tilesX, row0, rows}   tilesX = ceil(W/4); this dispatch covers the
//               tile rows row0 .. row0+rows-1 (a chunk, so that the scratch stays within the
//               device's buffer limits): tiles = rows * tilesX, t counted from the chunk's first
//   1  x  [H, W, C/4]         vec4<f32>, NHWC, read
//   2  v  [36, tiles, C/4]    vec4<f32>, written: 36 row-major [tiles, C] matrices, the GEMMs' A
// Invocation: one tile and 4 channels, index i = t*C/4 + c4 (channels fastest: neighbouring
//   invocations read neighbouring addresses). Requires C % 4 == 0. Workgroup 64; the 1-D grid is
//   folded into x/y.

struct Params { H: u32, W: u32, C: u32, tilesX: u32, row0: u32, rows: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> v: array<vec4f>;

// B^T applied to six values along one direction
fn bt(d: array<vec4f, 6>) -> array<vec4f, 6> {
  return array<vec4f, 6>(
    d[0] + 1.5 * d[1] - 2.0 * d[2] - 1.5 * d[3] + d[4],
    d[4] - d[1] - 2.5 * d[2] - 0.5 * d[3],
    d[4] + d[1] + 0.5 * d[2] - 2.5 * d[3],
    d[4] - 0.5 * d[1] - d[2] + 0.5 * d[3],
    d[4] + 2.0 * d[1] - d[2] - 2.0 * d[3],
    d[5] + d[1] + 1.5 * d[2] - 2.0 * d[3] - 1.5 * d[4],
  );
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let c4n = p.C / 4u;
  let tiles = p.rows * p.tilesX;
  if (i >= tiles * c4n) { return; }
  let t = i / c4n;
  let c4 = i % c4n;
  let y0 = i32(p.row0 + t / p.tilesX) * 4 - 1;
  let x0 = i32(t % p.tilesX) * 4 - 1;
  // r[j] = B^T applied down column j of the patch: r[j][k] = (B^T d)[k, j]
  var r: array<array<vec4f, 6>, 6>;
  for (var j = 0; j < 6; j++) {
    let xx = x0 + j;
    let inX = xx >= 0 && xx < i32(p.W);
    let xc = u32(clamp(xx, 0, i32(p.W) - 1));
    var col: array<vec4f, 6>;
    for (var k = 0; k < 6; k++) {
      // every element assigned (zero outside the image), the address clamped inside it
      let yy = y0 + k;
      let inside = inX && yy >= 0 && yy < i32(p.H);
      col[k] = select(vec4f(0.0), x[(u32(clamp(yy, 0, i32(p.H) - 1)) * p.W + xc) * c4n + c4], inside);
    }
    r[j] = bt(col);
  }
  // row k of V = B^T applied across row k of B^T d; element 6k+j goes to matrix 6k+j at [t, c4]
  let plane = tiles * c4n;
  for (var k = 0; k < 6; k++) {
    let row = bt(array<vec4f, 6>(r[0][k], r[1][k], r[2][k], r[3][k], r[4][k], r[5][k]));
    for (var j = 0u; j < 6u; j++) { v[(u32(k) * 6u + j) * plane + i] = row[j]; }
  }
}
