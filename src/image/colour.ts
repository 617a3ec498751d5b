// src/image/colour.ts — colour preservation for style transfer, after Gatys, Bethge, Hertzmann &
// Shechtman 2016, "Preserving Color in Neural Artistic Style Transfer" (arXiv 1606.05897).
//
// Two modes (the CLI's --preserve-colors):
//   luminance  the transfer runs on luminance only. YIQ with the NTSC (FCC 1953) matrix
//                Y = 0.299  R + 0.587  G + 0.114  B
//                I = 0.5959 R − 0.2746 G − 0.3213 B
//                Q = 0.2115 R − 0.5227 G + 0.3112 B
//              (I and Q rows sum to 0, so a grey pixel has I = Q = 0); RGB ← YIQ is this matrix's
//              exact inverse (computed with wgpu-matrix, not the rounded published inverse), so
//              the round trip is exact up to Float64 rounding.
//              luminanceInputs: content → (Yc, Yc, Yc); each style's Y is matched to the
//              content's mean and standard deviation, Ys' = σc/σs (Ys − μs) + μc (the paper's
//              eq. 1), → (Ys', Ys', Ys'). Both grey, 8-bit, for the unchanged transfer.
//              recombineLuminance: the output's Y with the content's I and Q → RGB, 8-bit.
//   histogram  each style image's colours are moved, before the transfer, by x' = A x + b so
//              that their mean and covariance equal the content's:
//                A = Σc^½ Σs^−½,  b = μc − A μs
//              with SYMMETRIC matrix square roots (Σ^½ = V diag(√λ) Vᵀ from the eigen-
//              decomposition Σ = V diag(λ) Vᵀ), the paper's "image analogies" variant, rather
//              than the Cholesky variant (A = Lc Ls⁻¹). Then A Σs Aᵀ = Σc^½ Σs^−½ Σs Σs^−½ Σc^½
//              = Σc exactly. Pixels are then clamped to [0, 255] and rounded, which moves the
//              statistics slightly where the transformed colours leave the cube.
//
// Statistics are over all pixels, population (1/N) covariance, in 0..255 units; alpha is
// ignored and written as 255. All arithmetic is Float64 plain code (this file is its own
// reference; test/colour.test.ts checks it against independently computed values).
// 3×3 algebra: wgpu-matrix's mat3d (Float64, column-major, 12 floats: 3 columns padded to 4,
// element (row r, col c) at index 4c + r) for products, inverse and transpose; the symmetric
// eigendecomposition (cyclic Jacobi) is hand-written since wgpu-matrix has none.

import { mat3d, type Mat3d } from 'wgpu-matrix';
import type { RgbaImage } from './types.ts';

export type PreserveColors = 'none' | 'luminance' | 'histogram';
export const PRESERVE_COLORS: readonly PreserveColors[] = ['none', 'luminance', 'histogram'];

/** A wgpu-matrix mat3d from its three rows (row-major reading order). */
export function mat3FromRows(r0: readonly number[], r1: readonly number[], r2: readonly number[]): Mat3d {
  // mat3d.create takes the values column by column
  return mat3d.create(r0[0], r1[0], r2[0], r0[1], r1[1], r2[1], r0[2], r1[2], r2[2]);
}

/** Element (row r, column c) of a wgpu-matrix mat3 (column-major, columns padded to 4). */
export function mat3At(m: ArrayLike<number>, r: number, c: number): number {
  return m[4 * c + r];
}

/** RGB → YIQ, NTSC (FCC 1953) coefficients. */
export const RGB_TO_YIQ: Mat3d = mat3FromRows([0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]);
/** YIQ → RGB: the exact inverse of RGB_TO_YIQ. */
export const YIQ_TO_RGB: Mat3d = mat3d.inverse(RGB_TO_YIQ);

/** y [N, 3] = M x for every pixel x of [N, 3] (M a mat3d); plus an optional offset b [3]. */
export function transformPixels(x: ArrayLike<number>, m: Mat3d, b: readonly number[] = [0, 0, 0]): Float64Array {
  const n = x.length / 3;
  const y = new Float64Array(n * 3);
  for (let r = 0; r < 3; r++) {
    const m0 = mat3At(m, r, 0);
    const m1 = mat3At(m, r, 1);
    const m2 = mat3At(m, r, 2);
    const br = b[r];
    for (let p = 0; p < n; p++) y[p * 3 + r] = m0 * x[p * 3] + m1 * x[p * 3 + 1] + m2 * x[p * 3 + 2] + br;
  }
  return y;
}

/** RGBA 8-bit → [N, 3] Float64 RGB, 0..255 (alpha dropped). */
export function rgbFloats(img: RgbaImage): Float64Array {
  const n = img.width * img.height;
  const out = new Float64Array(n * 3);
  for (let p = 0; p < n; p++) {
    out[p * 3] = img.data[p * 4];
    out[p * 3 + 1] = img.data[p * 4 + 1];
    out[p * 3 + 2] = img.data[p * 4 + 2];
  }
  return out;
}

/** [N, 3] RGB floats → RGBA 8-bit: clamped to [0, 255], rounded half-up, alpha 255. */
export function rgbaFromFloats(rgb: ArrayLike<number>, width: number, height: number): RgbaImage {
  const n = width * height;
  if (rgb.length !== n * 3) throw new Error(`rgbaFromFloats: got ${rgb.length} values, expected ${height}×${width}×3 = ${n * 3}`);
  const data = new Uint8ClampedArray(n * 4);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) data[p * 4 + c] = Math.floor(Math.min(Math.max(rgb[p * 3 + c], 0), 255) + 0.5);
    data[p * 4 + 3] = 255;
  }
  return { width, height, data };
}

/** [N, 3] RGB → [N, 3] YIQ (0..255 units for Y). */
export function rgbToYiq(rgb: ArrayLike<number>): Float64Array {
  return transformPixels(rgb, RGB_TO_YIQ);
}

/** [N, 3] YIQ → [N, 3] RGB floats (not clamped). */
export function yiqToRgb(yiq: ArrayLike<number>): Float64Array {
  return transformPixels(yiq, YIQ_TO_RGB);
}

function meanStd(v: ArrayLike<number>, stride: number, offset: number): { mean: number; std: number } {
  const n = v.length / stride;
  let s = 0;
  for (let p = 0; p < n; p++) s += v[p * stride + offset];
  const mean = s / n;
  let q = 0;
  for (let p = 0; p < n; p++) {
    const d = v[p * stride + offset] - mean;
    q += d * d;
  }
  return { mean, std: Math.sqrt(q / n) };
}

function greyImage(y: ArrayLike<number>, width: number, height: number): RgbaImage {
  const n = width * height;
  const rgb = new Float64Array(n * 3);
  for (let p = 0; p < n; p++) rgb[p * 3] = rgb[p * 3 + 1] = rgb[p * 3 + 2] = y[p];
  return rgbaFromFloats(rgb, width, height);
}

/**
 * The inputs of a luminance-only transfer: the content's Y, and each style's Y matched to the
 * content's Y mean and standard deviation (Ys' = σc/σs (Ys − μs) + μc; a flat style, σs = 0,
 * becomes μc), each as a grey 8-bit image (Y, Y, Y), clamped and rounded.
 */
export function luminanceInputs(content: RgbaImage, styles: readonly RgbaImage[]): { content: RgbaImage; styles: RgbaImage[] } {
  const yc = rgbToYiq(rgbFloats(content));
  const c = meanStd(yc, 3, 0);
  const contentY = new Float64Array(yc.length / 3);
  for (let p = 0; p < contentY.length; p++) contentY[p] = yc[p * 3];
  const styleOut = styles.map((s) => {
    const ys = rgbToYiq(rgbFloats(s));
    const st = meanStd(ys, 3, 0);
    const k = st.std > 0 ? c.std / st.std : 0;
    const y = new Float64Array(ys.length / 3);
    for (let p = 0; p < y.length; p++) y[p] = k * (ys[p * 3] - st.mean) + c.mean;
    return greyImage(y, s.width, s.height);
  });
  return { content: greyImage(contentY, content.width, content.height), styles: styleOut };
}

/**
 * The final image of a luminance-only transfer: the output's Y (from its RGB, which is grey or
 * nearly so) with the content's I and Q, back to RGB, clamped to [0, 255] and rounded.
 * `content` must be the content at the output's (working) size.
 */
export function recombineLuminance(output: RgbaImage, content: RgbaImage): RgbaImage {
  if (output.width !== content.width || output.height !== content.height) {
    throw new Error(`recombineLuminance: output is ${output.width}×${output.height} but content is ${content.width}×${content.height}; resize the content to the working size first`);
  }
  const yo = rgbToYiq(rgbFloats(output));
  const yiq = rgbToYiq(rgbFloats(content));
  for (let p = 0; p < yiq.length / 3; p++) yiq[p * 3] = yo[p * 3];
  return rgbaFromFloats(yiqToRgb(yiq), output.width, output.height);
}

export interface ColourStats {
  /** [3] mean RGB, 0..255 */
  mean: [number, number, number];
  /** population covariance of RGB (1/N), a symmetric mat3d */
  cov: Mat3d;
}

/** Mean and population covariance of the RGB values of [N, 3] floats. */
export function colourStats(rgb: ArrayLike<number>): ColourStats {
  const n = rgb.length / 3;
  if (!(n >= 1)) throw new Error('colourStats: empty image');
  const mean: [number, number, number] = [0, 0, 0];
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) mean[c] += rgb[p * 3 + c];
  for (let c = 0; c < 3; c++) mean[c] /= n;
  const s = [0, 0, 0, 0, 0, 0]; // rr rg rb gg gb bb
  for (let p = 0; p < n; p++) {
    const r = rgb[p * 3] - mean[0];
    const g = rgb[p * 3 + 1] - mean[1];
    const b = rgb[p * 3 + 2] - mean[2];
    s[0] += r * r;
    s[1] += r * g;
    s[2] += r * b;
    s[3] += g * g;
    s[4] += g * b;
    s[5] += b * b;
  }
  const [rr, rg, rb, gg, gb, bb] = s.map((v) => v / n);
  return { mean, cov: mat3FromRows([rr, rg, rb], [rg, gg, gb], [rb, gb, bb]) };
}

/**
 * Eigendecomposition of a symmetric 3×3 matrix S = V diag(values) Vᵀ by cyclic Jacobi rotations
 * (Golub & Van Loan, Matrix Computations, §8.5; the rotation formulas of Numerical Recipes'
 * jacobi). `vectors` is a mat3d whose columns are the eigenvectors (orthonormal).
 */
export function symmetricEigen3(s: Mat3d): { values: [number, number, number]; vectors: Mat3d } {
  const a = [0, 1, 2].map((r) => [0, 1, 2].map((c) => 0.5 * (mat3At(s, r, c) + mat3At(s, c, r))));
  const v = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  const scale = Math.max(1e-300, ...a.flat().map(Math.abs));
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = Math.abs(a[0][1]) + Math.abs(a[0][2]) + Math.abs(a[1][2]);
    if (off <= 1e-17 * scale) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ]) {
      if (a[p][q] === 0) continue;
      const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const sn = t * c;
      // A ← Jᵀ A J, V ← V J with J the rotation in the (p, q) plane
      for (let k = 0; k < 3; k++) {
        const akp = a[k][p];
        const akq = a[k][q];
        a[k][p] = c * akp - sn * akq;
        a[k][q] = sn * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p][k];
        const aqk = a[q][k];
        a[p][k] = c * apk - sn * aqk;
        a[q][k] = sn * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k][p];
        const vkq = v[k][q];
        v[k][p] = c * vkp - sn * vkq;
        v[k][q] = sn * vkp + c * vkq;
      }
    }
  }
  return { values: [a[0][0], a[1][1], a[2][2]], vectors: mat3FromRows(v[0], v[1], v[2]) };
}

/** S^power for a symmetric positive semi-definite S: V diag(max(λ, floor)^power) Vᵀ. */
export function symmetricPower(s: Mat3d, power: number, floor = 0): Mat3d {
  const { values, vectors } = symmetricEigen3(s);
  const d = values.map((l) => Math.max(l, floor) ** power);
  const diag = mat3FromRows([d[0], 0, 0], [0, d[1], 0], [0, 0, d[2]]);
  return mat3d.multiply(mat3d.multiply(vectors, diag), mat3d.transpose(vectors));
}

/**
 * Eigenvalue floor for Σs^−½, in (0..255)² units: a style image with a flat colour direction (a
 * grey or two-colour image) has a zero eigenvalue; its pixels have no deviation along it, so a
 * floor keeps A finite without moving anything that varies (a standard deviation of 0.03 levels).
 */
export const COV_FLOOR = 1e-3;

/** A = Σc^½ Σs^−½ and b = μc − A μs (symmetric square roots). */
export function histogramTransform(style: ColourStats, content: ColourStats): { A: Mat3d; b: [number, number, number] } {
  const A = mat3d.multiply(symmetricPower(content.cov, 0.5, 0), symmetricPower(style.cov, -0.5, COV_FLOOR));
  const Am = transformPixels(style.mean, A);
  return { A, b: [content.mean[0] - Am[0], content.mean[1] - Am[1], content.mean[2] - Am[2]] };
}

/** The style's colours moved to the content's mean and covariance, as floats (not clamped). */
export function histogramMatchFloats(style: RgbaImage, content: ColourStats): Float64Array {
  const x = rgbFloats(style);
  const { A, b } = histogramTransform(colourStats(x), content);
  return transformPixels(x, A, b);
}

/**
 * Each style image with its colours moved to the content's mean and covariance (x' = A x + b),
 * clamped to [0, 255] and rounded to 8 bits.
 */
export function histogramMatch(content: RgbaImage, styles: readonly RgbaImage[]): RgbaImage[] {
  const cs = colourStats(rgbFloats(content));
  return styles.map((s) => rgbaFromFloats(histogramMatchFloats(s, cs), s.width, s.height));
}
