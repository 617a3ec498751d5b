// src/image/resize.ts — the working size of the notebook and three resamplers.
//
//   workingSize(height, width, rows)  → {rows, cols}, cols = int(width·rows/height)
//   resize(img, rows, cols, method)   → RgbaImage of rows × cols (all 4 channels)
//   resizeFloats(x, h, w, c, rows, cols, method) → Float32Array [rows, cols, c], no rounding
//                                       (e.g. a caffe-preprocessed iterate between scales)
//
// Every method is a separable filter: each output column reads a short list of
// (source column, weight) taps, each output row a list of (source row, weight),
// and the output pixel is Σ_r Σ_c w_r · w_c · src[r, c]. Only the tap lists
// differ between methods:
//
//   nearest   one tap, source index ≈ floor((i + 0.5) · src / dst), computed
//             bit for bit as PIL's Image.resize(NEAREST) does (an accumulated
//             double sum), because keras' load_img(target_size=…) uses it and
//             the two differ at exact-integer points (see nearestTaps).
//   bilinear  two taps around x = (i + 0.5) · src / dst − 0.5 (half-pixel
//             centres, edges clamped), as tf.image.resize(bilinear,
//             half_pixel_centers) and PIL upscaling. No antialiasing: when
//             shrinking by more than 2× it skips pixels; use 'area' for that.
//   area      exact box average: output pixel i covers the source interval
//             [i·src/dst, (i+1)·src/dst) and each source pixel is weighted by
//             the length it overlaps, as cv2 INTER_AREA does when shrinking.
//             PIL's BOX agrees only for integer ratios (it takes whole pixels
//             by their centres). On an enlarged axis: the bilinear taps.
//
// The intermediate (after the horizontal pass) stays in Float64; the result
// is rounded half-up (floor(v + 0.5)) to 8 bits once. PIL rounds to 8 bits
// between its two passes, so 'bilinear'/'area' can differ from PIL by ±1.

import type { RgbaImage } from './types.ts';

export type ResizeMethod = 'nearest' | 'bilinear' | 'area';

/**
 * The notebook's working size: a fixed number of rows and the width scaled to
 * keep the aspect ratio, truncated like Python's int(width * rows / height).
 */
export function workingSize(height: number, width: number, rows: number): { rows: number; cols: number } {
  if (!(height >= 1 && width >= 1)) throw new Error(`workingSize: bad image size ${width}×${height}`);
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`workingSize: rows must be an integer ≥ 1, got ${rows}`);
  const cols = Math.trunc((width * rows) / height);
  if (cols < 1) {
    throw new Error(`workingSize: ${rows} rows for a ${width}×${height} image gives ${cols} columns (need ≥ 1)`);
  }
  return { rows, cols };
}

/** For each destination index: its source indices and weights (weights sum to 1). */
interface Taps {
  offset: Int32Array; // [dst + 1]: taps of dst index i are offset[i] .. offset[i+1]-1
  index: Int32Array; // [nTaps] source index
  weight: Float64Array; // [nTaps]
}

function buildTaps(dst: number, make: (i: number, push: (j: number, w: number) => void) => void): Taps {
  const offset = new Int32Array(dst + 1);
  const index: number[] = [];
  const weight: number[] = [];
  for (let i = 0; i < dst; i++) {
    offset[i] = index.length;
    make(i, (j, w) => {
      if (w !== 0) { index.push(j); weight.push(w); }
    });
  }
  offset[dst] = index.length;
  return { offset, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

function nearestTaps(src: number, dst: number): Taps {
  // Exactly PIL's ImagingScaleAffine (libImaging/Geometry.c), which
  // Image.resize(NEAREST) runs: x = scale/2, then x += scale per output pixel,
  // index = (int)x, in doubles. This is floor((i + 0.5) · src / dst) except
  // where that value is an exact integer and the accumulated sum lands just
  // below it (e.g. 768 → 400 rows: output row 87 reads row 167, not 168).
  const scale = src / dst;
  let x = scale * 0.5;
  return buildTaps(dst, (_i, push) => {
    push(Math.min(Math.trunc(x), src - 1), 1);
    x += scale;
  });
}

function bilinearTaps(src: number, dst: number): Taps {
  return buildTaps(dst, (i, push) => {
    const x = Math.min(Math.max(((i + 0.5) * src) / dst - 0.5, 0), src - 1); // clamp to the edge pixels
    const i0 = Math.floor(x);
    const f = x - i0;
    push(i0, 1 - f);
    if (i0 + 1 < src) push(i0 + 1, f);
  });
}

function areaTaps(src: number, dst: number): Taps {
  if (dst > src) return bilinearTaps(src, dst); // enlarging: no box to average over
  // Work in units of 1/dst of a source pixel: output i covers [i·src, (i+1)·src),
  // source j covers [j·dst, (j+1)·dst); overlaps are exact integers.
  return buildTaps(dst, (i, push) => {
    const lo = i * src;
    const hi = (i + 1) * src;
    for (let j = Math.floor(lo / dst); j * dst < hi; j++) {
      const overlap = Math.min(hi, (j + 1) * dst) - Math.max(lo, j * dst);
      push(j, overlap / src);
    }
  });
}

/**
 * Resizes to rows × cols. A same-size request returns a copy with identical
 * pixels, whatever the method.
 */
export function resize(img: RgbaImage, rows: number, cols: number, method: ResizeMethod): RgbaImage {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new Error(`resize: target size must be positive integers, got ${cols}×${rows}`);
  }
  const { width: sw, height: sh, data: src } = img;
  if (sw === cols && sh === rows) return { width: sw, height: sh, data: src.slice() };

  // one separable pass in Float64 (resizeFloats' own), rounded half-up once; the array clamps to 0..255
  const acc = separable(src, sh, sw, 4, rows, cols, method, 'resize');
  const out = new Uint8ClampedArray(rows * cols * 4);
  for (let k = 0; k < out.length; k++) out[k] = Math.floor(acc[k] + 0.5);
  return { width: cols, height: rows, data: out };
}

/**
 * Resizes a float image [height, width, channels] (row-major, channels innermost) to
 * [rows, cols, channels] with the same taps as resize(), in Float64, without rounding or
 * clamping: the multi-scale transfer upsamples a caffe-preprocessed iterate with it.
 */
export function resizeFloats(
  x: Float32Array,
  height: number,
  width: number,
  channels: number,
  rows: number,
  cols: number,
  method: ResizeMethod,
): Float32Array<ArrayBuffer> {
  if (x.length !== height * width * channels) {
    throw new Error(`resizeFloats: ${x.length} values is not ${height}×${width}×${channels}`);
  }
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new Error(`resizeFloats: target size must be positive integers, got ${cols}×${rows}`);
  }
  if (height === rows && width === cols) return Float32Array.from(x);
  return Float32Array.from(separable(x, height, width, channels, rows, cols, method, 'resizeFloats'));
}

/**
 * The separable resampling both resizers share: [height, width, C] → [rows, cols, C] in Float64,
 * a horizontal then a vertical pass over the method's taps (each output a weighted sum of its
 * taps in tap order), no rounding.
 */
function separable(x: ArrayLike<number>, height: number, width: number, C: number, rows: number, cols: number, method: ResizeMethod, what: string): Float64Array {
  const tapsFor = { nearest: nearestTaps, bilinear: bilinearTaps, area: areaTaps }[method];
  if (!tapsFor) throw new Error(`${what}: unknown method ${JSON.stringify(method)}`);
  const tx = tapsFor(width, cols);
  const ty = tapsFor(height, rows);
  // Horizontal pass: [height, width, C] → [height, cols, C]
  const mid = new Float64Array(height * cols * C);
  for (let y = 0; y < height; y++) {
    for (let o = 0; o < cols; o++) {
      const m = (y * cols + o) * C;
      for (let t = tx.offset[o]; t < tx.offset[o + 1]; t++) {
        const s = (y * width + tx.index[t]) * C;
        const w = tx.weight[t];
        for (let c = 0; c < C; c++) mid[m + c] += w * x[s + c];
      }
    }
  }
  // Vertical pass: [height, cols, C] → [rows, cols, C]
  const out = new Float64Array(rows * cols * C);
  const rowLen = cols * C;
  for (let y = 0; y < rows; y++) {
    const o = y * rowLen;
    for (let t = ty.offset[y]; t < ty.offset[y + 1]; t++) {
      const m = ty.index[t] * rowLen;
      const w = ty.weight[t];
      for (let k = 0; k < rowLen; k++) out[o + k] += w * mid[m + k];
    }
  }
  return out;
}
