// conv3x3_winograd4_output_v9 — the output transform of Winograd's F(4x4, 3x3) (Lavin & Gray 2015), the last
// step of conv3x3 v9: the 36 GEMM results M[., t, c] of a 4x4 tile t become its 4x4 outputs
// Y = A^T M A. In the forward pass bias and ReLU are applied; in the input gradient there is no
// bias (a zero buffer is bound) and no ReLU, and the result can be added to what dx holds.
//
// Math:  A^T = [[1, 1,  1, 1,    1, 0],
//               [0, 1, -1, 2, -1/2, 0],
//               [0, 1,  1, 4,  1/4, 0],
//               [0, 1, -1, 8, -1/8, 1]]      (points 0, 1, -1, 2, -1/2, infinity: see the input transform)
//        Y_t[i, j] = (A^T M_t A)[i, j],  M_t[a, b] = m[6a+b, t, c]
//        RELU:  out[4ty+i, 4tx+j, c] = max(Y_t[i, j] + bias[c], 0)      else  out (+)= Y_t[i, j]
//
// Bindings:
//   0  params        uniform {H, W, C, tilesX, row0, rows}   tilesX = ceil(W/4); the tile rows
//                    row0 .. row0+rows-1 (one chunk, as conv3x3_winograd4_input_v9): tiles = rows * tilesX
//   1  m    [36, tiles, C/4]  vec4<f32>, the batched GEMM's output, read
//   2  bias [C/4]             vec4<f32>, read (zeros when RELU is false)
//   3  out  [H, W, C/4]       vec4<f32>, NHWC, written (or accumulated)
// Invocation: one tile and 4 channels, index i = t*C/4 + c4 (channels fastest). Requires
//   C % 4 == 0. Workgroup 64; the 1-D grid is folded into x/y.

override RELU: bool = true;
override ACCUMULATE: bool = false;

struct Params { H: u32, W: u32, C: u32, tilesX: u32, row0: u32, rows: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> m: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

// A^T applied to six values along one direction
fn at(d: array<vec4f, 6>) -> array<vec4f, 4> {
  let a = d[1] + d[2];
  let b = d[1] - d[2];
  return array<vec4f, 4>(d[0] + a + d[3] + d[4], b + 2.0 * d[3] - 0.5 * d[4], a + 4.0 * d[3] + 0.25 * d[4], b + 8.0 * d[3] - 0.125 * d[4] + d[5]);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let c4n = p.C / 4u;
  let tiles = p.rows * p.tilesX;
  if (i >= tiles * c4n) { return; }
  let t = i / c4n;
  let c4 = i % c4n;
  let plane = tiles * c4n;
  // s[b][a] = (A^T M)[a, b]: A^T down column b of M
  var s: array<array<vec4f, 4>, 6>;
  for (var b = 0u; b < 6u; b++) {
    s[b] = at(array<vec4f, 6>(m[b * plane + i], m[(6u + b) * plane + i], m[(12u + b) * plane + i], m[(18u + b) * plane + i], m[(24u + b) * plane + i], m[(30u + b) * plane + i]));
  }
  let oy = (p.row0 + t / p.tilesX) * 4u;
  let ox = (t % p.tilesX) * 4u;
  var bv = vec4f(0.0);
  if (RELU) { bv = bias[c4]; }
  for (var a = 0u; a < 4u; a++) {
    if (oy + a >= p.H) { break; }
    let y = at(array<vec4f, 6>(s[0][a], s[1][a], s[2][a], s[3][a], s[4][a], s[5][a]));
    let rowBase = (oy + a) * p.W;
    for (var j = 0u; j < 4u; j++) {
      if (ox + j >= p.W) { break; }
      let o = (rowBase + ox + j) * c4n + c4;
      if (RELU) {
        out[o] = max(y[j] + bv, vec4f(0.0));
      } else if (ACCUMULATE) {
        out[o] = out[o] + y[j];
      } else {
        out[o] = y[j];
      }
    }
  }
}
