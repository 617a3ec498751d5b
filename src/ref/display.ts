// CPU reference of shaders/display_caffe.wgsl (Float64): x [rows, cols, 3] caffe BGR ->
// RGBA in 0..1 for a width x height canvas, nearest-neighbour sampling (pixel centres), alpha 1.
// At width = cols and height = rows (what the page draws) it is src/image/preprocess.ts
// fromCaffe before the rounding to 8 bits; displayCaffeBytesCpu rounds to nearest as an
// unorm8 render target does.

/** The ImageNet mean Keras's caffe preprocessing subtracts, B, G, R (src/image/preprocess.ts has the runtime's copy). */
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];

type Arr = ArrayLike<number>;

/** [height, width, 4] RGBA in 0..1: what fs_main of display_caffe.wgsl returns per pixel. */
export function displayCaffeCpu(x: Arr, rows: number, cols: number, width = cols, height = rows): Float64Array {
  if (x.length < rows * cols * 3) throw new Error(`displayCaffeCpu: got ${x.length} values, expected ${rows}x${cols}x3`);
  const [mb, mg, mr] = CAFFE_MEAN_BGR;
  const clamp01 = (v: number) => Math.min(Math.max(v, 0), 1);
  const out = new Float64Array(width * height * 4);
  for (let py = 0; py < height; py++) {
    const i = Math.min(Math.floor(((py + 0.5) * rows) / height), rows - 1);
    for (let px = 0; px < width; px++) {
      const j = Math.min(Math.floor(((px + 0.5) * cols) / width), cols - 1);
      const k = (i * cols + j) * 3;
      const o = (py * width + px) * 4;
      out[o] = clamp01((x[k + 2] + mr) / 255);
      out[o + 1] = clamp01((x[k + 1] + mg) / 255);
      out[o + 2] = clamp01((x[k] + mb) / 255);
      out[o + 3] = 1;
    }
  }
  return out;
}

/** displayCaffeCpu stored into 8 bits as a unorm8 texture does (round to nearest). */
export function displayCaffeBytesCpu(x: Arr, rows: number, cols: number, width = cols, height = rows): Uint8ClampedArray {
  const f = displayCaffeCpu(x, rows, cols, width, height);
  const out = new Uint8ClampedArray(f.length);
  for (let i = 0; i < f.length; i++) out[i] = Math.round(f[i] * 255);
  return out;
}
