// display_caffe.wgsl — draws a caffe-preprocessed image buffer into a canvas (render pass).
//
// Math, per canvas pixel (px, py) of a width x height canvas:
//   i = min(floor((py + 0.5) * rows / height), rows - 1)     (nearest source row)
//   j = min(floor((px + 0.5) * cols / width),  cols - 1)     (nearest source column)
//   rgb = clamp((x[i,j,2] + 123.68, x[i,j,1] + 116.779, x[i,j,0] + 103.939) / 255, 0, 1), a = 1
// i.e. undo Keras "caffe" preprocessing: add the ImageNet BGR means back, swap BGR -> RGB,
// scale to 0..1 and clip. The page keeps the canvas at the working size (width = cols,
// height = rows; CSS scales it), so i = py and j = px exactly. The render target (the canvas
// texture, bgra8unorm or rgba8unorm) rounds to nearest 8-bit; the CPU reference
// src/ref/display.ts displayCaffeCpu (same math in Float64) and src/image/preprocess.ts
// fromCaffe (rounds half-up) agree with it within 1/255.
//
// Bindings (group 0):
//   binding 0  x:      array<f32>, read-only storage   // [rows, cols, 3] f32, caffe BGR
//                                                       // (pixel - mean), row-major, NHWC
//                                                       // without the batch axis
//   binding 1  params: uniform Params                   // sizes, see below
//
// Vertex stage: one full-screen triangle made from vertex_index (3 invocations, no vertex
//   buffer); it covers clip space [-1, 1]^2 with a single primitive.
// Fragment stage: one invocation per canvas pixel reads 3 floats of x; no workgroups.
// A non-finite value comes out as whatever clamp gives on this GPU (fromCaffe gives 0).
//
// Previous version: none (first display shader).

struct Params {
  rows: u32,   // source image height (working size)
  cols: u32,   // source image width
  width: u32,  // canvas texture width in pixels
  height: u32, // canvas texture height in pixels
}

@group(0) @binding(0) var<storage, read> x: array<f32>; // [rows, cols, 3] BGR - mean
@group(0) @binding(1) var<uniform> params: Params;

// ImageNet channel means, B, G, R (src/image/preprocess.ts CAFFE_MEAN_BGR).
const MEAN_B: f32 = 103.939;
const MEAN_G: f32 = 116.779;
const MEAN_R: f32 = 123.68;

@vertex
fn vs_main(@builtin(vertex_index) vi: u32) -> @builtin(position) vec4<f32> {
  // (-1,-1), (3,-1), (-1,3): a triangle whose inside contains the whole viewport.
  let p = vec2<f32>(f32((vi << 1u) & 2u), f32(vi & 2u));
  return vec4<f32>(p * 2.0 - 1.0, 0.0, 1.0);
}

@fragment
fn fs_main(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
  // pos.xy is the pixel centre (px + 0.5, py + 0.5), y pointing down as the buffer's rows.
  let i = min(u32(pos.y * f32(params.rows) / f32(params.height)), params.rows - 1u);
  let j = min(u32(pos.x * f32(params.cols) / f32(params.width)), params.cols - 1u);
  let k = (i * params.cols + j) * 3u;
  let rgb = vec3<f32>(x[k + 2u] + MEAN_R, x[k + 1u] + MEAN_G, x[k] + MEAN_B) / 255.0;
  return vec4<f32>(clamp(rgb, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
