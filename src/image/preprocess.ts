// src/image/preprocess.ts — pixels ⇄ the network's input, Keras "caffe" style.
//
// keras.applications.vgg19.preprocess_input (mode "caffe"), which the
// notebook uses, turns RGB 0..255 into BGR order and subtracts the ImageNet
// channel means, with no scaling:
//   x[y, x, 0] = B − 103.939,  x[y, x, 1] = G − 116.779,  x[y, x, 2] = R − 123.68
// The tensor is [H, W, 3] f32, NHWC without the batch axis, row-major — the
// layout the kernels take. fromCaffe undoes it for display and saving.

import { mulberry32 } from './random.ts';
import type { RgbaImage } from './types.ts';

/** ImageNet channel means in B, G, R order (Keras caffe mode). */
export const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;

/** RGBA 0..255 → [H, W, 3] f32 BGR minus mean. Alpha is ignored. */
export function toCaffe(img: RgbaImage): Float32Array {
  const { width, height, data } = img;
  const n = width * height;
  const out = new Float32Array(n * 3); // [H, W, 3] BGR
  const [mb, mg, mr] = CAFFE_MEAN_BGR;
  for (let p = 0; p < n; p++) {
    out[p * 3] = data[p * 4 + 2] - mb;
    out[p * 3 + 1] = data[p * 4 + 1] - mg;
    out[p * 3 + 2] = data[p * 4] - mr;
  }
  return out;
}

/**
 * [H, W, 3] f32 BGR minus mean → RGBA: add the mean back, swap to RGB, clip to
 * 0..255 and round to the nearest integer (half-up); alpha 255.
 * (The notebook's deprocess uses astype('uint8') after clipping, which
 * truncates; rounding is the unbiased choice and differs by at most 1.)
 */
export function fromCaffe(x: Float32Array, height: number, width: number): RgbaImage {
  const n = width * height;
  if (x.length !== n * 3) {
    throw new Error(`fromCaffe: got ${x.length} values, expected ${height}×${width}×3 = ${n * 3}`);
  }
  const data = new Uint8ClampedArray(n * 4);
  const [mb, mg, mr] = CAFFE_MEAN_BGR;
  const toByte = (v: number) => Math.floor(Math.min(Math.max(v, 0), 255) + 0.5); // NaN → NaN → 0 in the array
  for (let p = 0; p < n; p++) {
    data[p * 4] = toByte(x[p * 3 + 2] + mr);
    data[p * 4 + 1] = toByte(x[p * 3 + 1] + mg);
    data[p * 4 + 2] = toByte(x[p * 3] + mb);
    data[p * 4 + 3] = 255;
  }
  return { width, height, data };
}

/**
 * A reproducible random starting image, already preprocessed: every channel
 * of every pixel uniform in [0, 255) (not rounded to integers), drawn from
 * mulberry32(seed) in R, G, B order per pixel, row-major; then as toCaffe.
 */
export function randomCaffe(height: number, width: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const n = width * height;
  const out = new Float32Array(n * 3); // [H, W, 3] BGR
  const [mb, mg, mr] = CAFFE_MEAN_BGR;
  for (let p = 0; p < n; p++) {
    const r = rand() * 255;
    const g = rand() * 255;
    const b = rand() * 255;
    out[p * 3] = b - mb;
    out[p * 3 + 1] = g - mg;
    out[p * 3 + 2] = r - mr;
  }
  return out;
}
