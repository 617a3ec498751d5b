// conv3x3_winograd_output_v7 — the output transform of Winograd's F(2x2, 3x3) (Lavin & Gray 2015), the last
// step of conv3x3 v7: the 16 GEMM results M[., t, c] of a 2x2 tile t become its 2x2 outputs
// Y = A^T M A. In the forward pass bias and ReLU are applied; in the input gradient there is no
// bias (a zero buffer is bound) and no ReLU, and the result can be added to what dx holds.
//
// Math:  A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
//        Y_t[i, j] = (A^T M_t A)[i, j],  M_t[a, b] = m[4a+b, t, c]
//        RELU:  out[2ty+i, 2tx+j, c] = max(Y_t[i, j] + bias[c], 0)      else  out (+)= Y_t[i, j]
//
// Bindings:
//   0  params        uniform {H, W, C, tilesX, row0, rows}   tilesX = ceil(W/2); the tile rows
//                    row0 .. row0+rows-1 (one chunk, as conv3x3_winograd_input_v7): tiles = rows * tilesX
//   1  m    [16, tiles, C/4]  vec4<f32>, the batched GEMM's output, read
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

fn store(ok: bool, o: u32, val: vec4f, b: vec4f) {
  if (!ok) { return; }
  if (RELU) {
    out[o] = max(val + b, vec4f(0.0));
  } else if (ACCUMULATE) {
    out[o] = out[o] + val;
  } else {
    out[o] = val;
  }
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
  // rows of A^T M: s0<b> = M[0,b] + M[1,b] + M[2,b], s1<b> = M[1,b] - M[2,b] - M[3,b]
  var s0: array<vec4f, 4>;
  var s1: array<vec4f, 4>;
  for (var b = 0u; b < 4u; b++) {
    let m0 = m[b * plane + i];
    let m1 = m[(4u + b) * plane + i];
    let m2 = m[(8u + b) * plane + i];
    let m3 = m[(12u + b) * plane + i];
    s0[b] = m0 + m1 + m2;
    s1[b] = m1 - m2 - m3;
  }
  let oy = (p.row0 + t / p.tilesX) * 2u;
  let ox = (t % p.tilesX) * 2u;
  let right = ox + 1u < p.W;
  let below = oy + 1u < p.H;
  let o0 = (oy * p.W + ox) * c4n + c4;
  let o1 = o0 + p.W * c4n;
  var b = vec4f(0.0);
  if (RELU) { b = bias[c4]; }
  store(true, o0, s0[0] + s0[1] + s0[2], b);
  store(right, o0 + c4n, s0[1] - s0[2] - s0[3], b);
  store(below, o1, s1[0] + s1[1] + s1[2], b);
  store(right && below, o1 + c4n, s1[1] - s1[2] - s1[3], b);
}
