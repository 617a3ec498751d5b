// src/style/masks.ts — region masks for masked (guided) Gram matrices, on the CPU.
//
// After Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer": a style
// applies where its mask is white. At each style layer the mask, downsampled to the layer's
// h × w, multiplies the features before the Gram (shaders/mask_apply.wgsl):
//   G = (m ⊙ F)ᵀ (m ⊙ F) = Σ_p m_p² F_p F_pᵀ
//
// From image to layer:
//   maskFromImage  a grey image (any colours: its Rec.601 luma is used) → [rows, cols] floats in
//                  [0, 1] at the working size (white = 1). Resized with resize(…, 'area')
//                  (exact box average when shrinking, bilinear when enlarging), as an 8-bit image,
//                  so the mask is quantised to 1/255 steps.
//   maskAtSize     halves the mask with a 2×2 average once per pooling before the layer, with
//                  floor for odd sizes (the last row/column is dropped), i.e. exactly the windows
//                  of pool2x2: feature position (i, j) of a layer covers the same input pixels as
//                  mask value (i, j). Average, not max: the value stays the fraction of the
//                  position's receptive block that lies inside the region, so two complementary
//                  masks stay complementary (m1 + m2 = 1) at every layer; max pooling would grow
//                  every region by up to 2^k pixels at block k+1 and make them overlap.
//
// Normalisation: the masked Gram sums Σ_p m_p² F_p F_pᵀ, a weighted sum with total weight Σ_p m_p².
// It is made comparable with the style's (unmasked) Gram target by the masked area fraction
//   area = mean_p m_p²           (layerMasks' `area`)
// i.e. compare G / area with A, which is factor · Σ (G/area − A)² = (factor / area²) · Σ (G − area·A)².
// An all-white mask gives area = 1 exactly (the unmasked loss); for a binary mask area equals the
// covered fraction mean_p m_p (`coverage`); at deeper layers the averaged edge values are
// fractional and mean(m²) < mean(m): mean(m²) is the one that makes G/area a weighted mean of
// F_p F_pᵀ. area = 0 (an all-black mask at that layer): the style contributes nothing there.

import { layerIndex, VGG19_LAYERS } from '../model/vgg19_layers.ts';
import { resize } from '../image/resize.ts';
import type { RgbaImage } from '../image/types.ts';

/** A mask at one resolution: data [h, w] row-major, values in [0, 1]. */
export interface Mask {
  h: number;
  w: number;
  data: Float64Array; // [h, w]
}

/** A mask at one style layer's resolution, ready to upload, with its normalisation. */
export interface LayerMask {
  layer: string;
  h: number;
  w: number;
  /** [h * w] f32, the mask at this layer (the m buffer of maskApply) */
  data: Float32Array;
  /** mean of m²: the masked-area fraction that normalises the masked Gram (see the header) */
  area: number;
  /** mean of m: the fraction of the layer the region covers (equals area for a binary mask) */
  coverage: number;
}

/** A grey image → mask [rows, cols] in [0, 1] at the working size (luma / 255; white = 1). */
export function maskFromImage(img: RgbaImage, rows: number, cols: number): Mask {
  const r = img.width === cols && img.height === rows ? img : resize(img, rows, cols, 'area');
  const data = new Float64Array(rows * cols);
  for (let p = 0; p < rows * cols; p++) {
    const y = 0.299 * r.data[p * 4] + 0.587 * r.data[p * 4 + 1] + 0.114 * r.data[p * 4 + 2];
    data[p] = Math.min(1, Math.max(0, y / 255));
  }
  return { h: rows, w: cols, data };
}

/** 2×2 average with floor (pool2x2's windows): [h, w] → [floor(h/2), floor(w/2)]. */
export function halveMask(m: Mask): Mask {
  const h = Math.floor(m.h / 2);
  const w = Math.floor(m.w / 2);
  const data = new Float64Array(h * w);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      const a = (2 * i) * m.w + 2 * j;
      data[i * w + j] = (m.data[a] + m.data[a + 1] + m.data[a + m.w] + m.data[a + m.w + 1]) / 4;
    }
  return { h, w, data };
}

/** The mask at a VGG19 layer's resolution: halved once per pooling before the layer. */
export function maskAtLayer(m: Mask, layer: string): Mask {
  const idx = layerIndex(layer);
  let out = m;
  for (let i = 0; i < idx; i++) if (VGG19_LAYERS[i].poolAfter) out = halveMask(out);
  return out;
}

/** The mask at each of `layers`, as f32 data with its area (mean m²) and coverage (mean m). */
export function layerMasks(m: Mask, layers: readonly string[]): LayerMask[] {
  return layers.map((layer) => {
    const at = maskAtLayer(m, layer);
    if (at.h < 1 || at.w < 1) throw new Error(`mask: ${m.h}×${m.w} is too small for ${layer} (${at.h}×${at.w})`);
    let s = 0;
    let s2 = 0;
    for (const v of at.data) {
      s += v;
      s2 += v * v;
    }
    const n = at.data.length;
    return { layer, h: at.h, w: at.w, data: Float32Array.from(at.data), area: s2 / n, coverage: s / n };
  });
}

/**
 * How one style layer's loss takes a mask of masked-area fraction `area` (LayerMask.area):
 *   factor · Σ (G/area − A)² = (factor / area²) · Σ (G − area·A)²
 * so the style_loss kernel runs unchanged on G = Gram(m ⊙ F) with the factor multiplied by
 * `factor` and the target A multiplied by `target`. null when area = 0: the style has no region
 * at this layer and contributes nothing (neither loss nor gradient).
 */
export function maskedStyleScale(area: number): { factor: number; target: number } | null {
  if (!(area >= 0 && area <= 1)) throw new Error(`maskedStyleScale: area must be in [0, 1], got ${area}`);
  return area === 0 ? null : { factor: 1 / (area * area), target: area };
}
