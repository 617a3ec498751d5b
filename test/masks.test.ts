// Region masks: mask_apply on the GPU against its CPU reference (odd shapes, a grid-stride
// case, accumulate), the masked-Gram style loss's gradient against central finite differences
// (Float64 CPU references), the kernels chained as the objective will chain them, and the CPU
// downsampling of a mask to each style layer with its normalisation.
import { afterAll, describe, expect, it } from 'vitest';
import { createStorage, readFloats, runDispatches, uploadStorage } from '../src/gpu/runtime.ts';
import { gramBackward, gramForward } from '../src/kernels/gram.ts';
import { maskApply } from '../src/kernels/mask.ts';
import { layerSize } from '../src/model/vgg19_layers.ts';
import { gramBackwardCpu, gramCpu, styleLossCpu } from '../src/ref/gram.ts';
import { maskApplyCpu, maskedStyleLossCpu } from '../src/ref/mask.ts';
import { STYLE_LAYERS_DEFAULT } from '../src/style/config.ts';
import { halveMask, layerMasks, maskedStyleScale, maskFromImage } from '../src/style/masks.ts';
import { compare, gpu, printRecorded, randomArray, record } from './helpers.ts';

afterAll(() => printRecorded('mask_apply and masked Gram vs CPU reference:'));

describe('mask_apply vs CPU reference', () => {
  // odd N and C; the last case has N*C > 65535*256, so each thread loops (grid stride)
  const cases: Array<[number, number]> = [
    [1, 1],
    [7, 3],
    [1073, 64],
    [91, 130],
    [66001, 257],
  ];
  for (const [N, C] of cases) {
    it(`N=${N} C=${C}`, async () => {
      const ctx = await gpu();
      const x = randomArray(N * C, N + C, -1, 1);
      const m = randomArray(N, N, 0, 1);
      const prior = randomArray(N * C, 3 * N + C, -1, 1);
      const bx = uploadStorage(ctx, x, 'x');
      const bm = uploadStorage(ctx, m, 'm');
      const by = createStorage(ctx, N * C * 4, 'y');
      await runDispatches(ctx, [await maskApply(ctx, N, C, { x: bx, m: bm, y: by })]);
      // one f32 product of f32 inputs: correctly rounded, ≤ 2^-24 relative
      const c1 = record(`mask_apply N=${N} C=${C}`, compare(await readFloats(ctx, by, N * C), maskApplyCpu(x, m, N, C), 0, 2 ** -24));
      expect(c1.ok, c1.mismatches.join('; ')).toBe(true);
      const bp = uploadStorage(ctx, prior, 'prior');
      await runDispatches(ctx, [await maskApply(ctx, N, C, { x: bx, m: bm, y: bp }, true)]);
      // two roundings (product, sum) of values in [-1, 1]: ≤ 2^-24 (|m x| + |prior + m x|) ≤ 2^-23 + 2^-24 |ref|
      const c2 = record(`mask_apply (accumulate) N=${N} C=${C}`, compare(await readFloats(ctx, bp, N * C), maskApplyCpu(x, m, N, C, prior), 2 ** -24, 2 ** -24));
      expect(c2.ok, c2.mismatches.join('; ')).toBe(true);
      for (const b of [bx, bm, by, bp]) b.destroy();
    });
  }

  it('refuses y aliasing x with a one-line error', async () => {
    const ctx = await gpu();
    const b = createStorage(ctx, 64, 'b');
    expect(() => maskApply(ctx, 4, 4, { x: b, m: createStorage(ctx, 16, 'm'), y: b })).toThrow(/maskApply: y must be a different buffer/);
  });
});

describe('masked Gram style loss', () => {
  const [N, C] = [37, 6];
  const f = Float64Array.from(randomArray(N * C, 1, 0, 1)); // post-ReLU features
  const m = Float64Array.from(randomArray(N, 2, 0, 1));
  const a = gramCpu(randomArray(N * C, 3, 0, 0.8), N, C);
  const factor = 0.01;
  const L = (ff: Float64Array) => maskedStyleLossCpu(ff, m, a, N, C, factor).loss;

  it('gradient of factor * sum (G(m ⊙ F) - A)^2 vs central finite differences (Float64)', () => {
    const { grad } = maskedStyleLossCpu(f, m, a, N, C, factor);
    const eps = 1e-5;
    let worst = 0;
    // every coordinate: the loss is a quartic polynomial, so central differences err by
    // O(eps² · |4th derivative|) ~ 1e-10 plus rounding ~ 1e-16 · |L| / eps
    for (let i = 0; i < N * C; i++) {
      const fp = f.slice();
      const fm = f.slice();
      fp[i] += eps;
      fm[i] -= eps;
      const fd = (L(fp) - L(fm)) / (2 * eps);
      worst = Math.max(worst, Math.abs(fd - grad[i]) / (1e-9 + 1e-7 * Math.abs(grad[i])));
    }
    const gmax = Math.max(...grad.map(Math.abs));
    console.log(`masked Gram loss FD (${N * C} coordinates, max |grad| ${gmax.toExponential(2)}): worst |fd − an| at ${worst.toFixed(3)} of 1e-9 + 1e-7 |an|`);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('an all-ones mask is the unmasked loss; an all-zeros mask gives G = 0 and no gradient', () => {
    const ones = new Float64Array(N).fill(1);
    const u = maskedStyleLossCpu(f, ones, a, N, C, factor);
    const ref = styleLossCpu(gramCpu(f, N, C), a, factor);
    expect(u.loss).toBe(ref.loss);
    expect(Array.from(u.grad)).toEqual(Array.from(gramBackwardCpu(f, ref.m, N, C)));
    const z = maskedStyleLossCpu(f, new Float64Array(N), a, N, C, factor);
    expect(z.loss).toBeCloseTo(factor * a.reduce((s, v) => s + v * v, 0), 12);
    expect(z.grad.every((v) => v === 0)).toBe(true);
  });

  it('normalisation: (factor/area²) Σ(G − area·A)² = factor Σ(G/area − A)²; all white is the unmasked loss', () => {
    const area = m.reduce((s, v) => s + v * v, 0) / N;
    const k = maskedStyleScale(area)!;
    const g = gramCpu(maskApplyCpu(f, m, N, C), N, C);
    const direct = styleLossCpu(g.map((v) => v / area), a, factor).loss;
    const viaScale = maskedStyleLossCpu(f, m, a.map((v) => k.target * v), N, C, factor * k.factor).loss;
    expect(Math.abs(viaScale - direct) / direct).toBeLessThan(1e-13);
    expect(maskedStyleScale(1)).toEqual({ factor: 1, target: 1 });
    expect(maskedStyleScale(0)).toBeNull();
    expect(() => maskedStyleScale(1.5)).toThrow(/area must be in \[0, 1\]/);
  });

  it('GPU chain mask_apply → gram_forward → (CPU dL/dG) → Gram backward (conv3x3_winograd_gemm_v7) → mask_apply (accumulate)', async () => {
    const ctx = await gpu();
    const [n, c] = [1517, 68]; // odd sizes (c: the Gram backward's GEMM needs a multiple of 4; 68 % 8 = 4, a half tile)
    const ff = randomArray(n * c, 11, 0, 1);
    const mm = randomArray(n, 12, 0, 1);
    const prior = randomArray(n * c, 13, -0.03, 0.03); // the size of dF', so it does not hide its error
    const aa = gramCpu(randomArray(n * c, 14, 0, 0.9), n, c);
    const bf = uploadStorage(ctx, ff, 'f');
    const bm = uploadStorage(ctx, mm, 'mask');
    const bfm = createStorage(ctx, n * c * 4, 'm ⊙ f');
    const bg = createStorage(ctx, c * c * 4, 'g');
    await runDispatches(ctx, [await maskApply(ctx, n, c, { x: bf, m: bm, y: bfm }), ...(await gramForward(ctx, n, c, { f: bfm, g: bg })).dispatches]);
    const g = await readFloats(ctx, bg, c * c);
    const fmRef = maskApplyCpu(ff, mm, n, c);
    const gRef = gramCpu(fmRef, n, c);
    // as gram_forward's own test: sums of n products of values in [0, 1)
    const cg = record(`masked gram n=${n} c=${c}`, compare(g, gRef, 1e-6 * n ** 0.5, 4e-6));
    expect(cg.ok, cg.mismatches.join('; ')).toBe(true);
    // dL/dG from the reference G (so the backward is compared on its own), then back down
    const factor2 = 1e-6;
    const M = styleLossCpu(gRef, aa, factor2).m;
    const bM = uploadStorage(ctx, Float32Array.from(M), 'M');
    const bdfm = createStorage(ctx, n * c * 4, 'd(m ⊙ f)');
    const bdf = uploadStorage(ctx, prior, 'df');
    await runDispatches(ctx, [...(await gramBackward(ctx, n, c, { f: bfm, m: bM, df: bdfm })), await maskApply(ctx, n, c, { x: bdfm, m: bm, y: bdf }, true)]);
    const dRef = maskApplyCpu(gramBackwardCpu(fmRef, M, n, c), mm, n, c, prior);
    const scale = Math.max(...dRef.map(Math.abs));
    // c-term dot products of f32 values, then m ⊙ and + prior: a rounding of eps32 per term of
    // size ≤ |dF'| accumulates like eps32 · sqrt(c) · max|dF'| (random signs); 4x margin over that
    const dfmMax = Math.max(...gramBackwardCpu(fmRef, M, n, c).map(Math.abs));
    const cd = record(`masked gram backward + mask (accumulate) n=${n} c=${c}`, compare(await readFloats(ctx, bdf, n * c), dRef, 4 * 2 ** -24 * Math.sqrt(c) * dfmMax, 2 ** -23));
    console.log(`masked backward: max |m ⊙ dF' + prior| ${scale.toExponential(2)}, max |dF'| ${dfmMax.toExponential(2)}`);
    expect(cd.ok, cd.mismatches.join('; ')).toBe(true);
  });
});

describe('mask downsampling', () => {
  function image(w: number, h: number, grey: (x: number, y: number) => number) {
    const data = new Uint8ClampedArray(w * h * 4);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const v = grey(x, y);
        data.set([v, v, v, 255], (y * w + x) * 4);
      }
    return { width: w, height: h, data };
  }

  it('halving is pool2x2: 2×2 average, floor for odd sizes', () => {
    const m = { h: 3, w: 5, data: Float64Array.from({ length: 15 }, (_, i) => i / 14) };
    const h = halveMask(m);
    expect([h.h, h.w]).toEqual([1, 2]);
    expect(h.data[0]).toBeCloseTo((0 + 1 + 5 + 6) / 4 / 14, 15);
    expect(h.data[1]).toBeCloseTo((2 + 3 + 7 + 8) / 4 / 14, 15);
  });

  it('each style layer gets its layer size; all white gives exactly 1 (unmasked normalisation)', () => {
    const [rows, cols] = [67, 91];
    const white = layerMasks(maskFromImage(image(200, 150, () => 255), rows, cols), STYLE_LAYERS_DEFAULT);
    for (const lm of white) {
      expect([lm.h, lm.w], lm.layer).toEqual(layerSize(lm.layer, rows, cols));
      expect(lm.data.every((v) => v === 1)).toBe(true);
      expect(lm.area).toBe(1);
      expect(lm.coverage).toBe(1);
    }
    const black = layerMasks(maskFromImage(image(200, 150, () => 0), rows, cols), STYLE_LAYERS_DEFAULT);
    for (const lm of black) expect(lm.area).toBe(0);
  });

  it('complementary left/right masks stay complementary; area = mean m² ≤ coverage at deep layers', () => {
    const [rows, cols] = [64, 90];
    // split at column 45 of the working size (not a multiple of 16: edge values become fractional)
    const left = maskFromImage(image(cols, rows, (x) => (x < 45 ? 255 : 0)), rows, cols);
    const right = maskFromImage(image(cols, rows, (x) => (x < 45 ? 0 : 255)), rows, cols);
    const L = layerMasks(left, STYLE_LAYERS_DEFAULT);
    const R = layerMasks(right, STYLE_LAYERS_DEFAULT);
    for (let k = 0; k < L.length; k++) {
      let e = 0;
      for (let i = 0; i < L[k].data.length; i++) e = Math.max(e, Math.abs(L[k].data[i] + R[k].data[i] - 1));
      expect(e, L[k].layer).toBeLessThan(1e-7);
      expect(L[k].area).toBeLessThanOrEqual(L[k].coverage + 1e-15);
    }
    expect(L[0].coverage).toBeCloseTo(0.5, 12);
    expect(L[0].area).toBeCloseTo(0.5, 12);
    // block5: 4×5 positions; column 45/16 = 2.8 → a fractional edge column
    expect(L[4].area).toBeLessThan(L[4].coverage);
    console.log(`left-half mask: ${L.map((l) => `${l.layer} ${l.h}×${l.w} coverage ${l.coverage.toFixed(4)} area ${l.area.toFixed(4)}`).join('; ')}`);
  });

  it('maskFromImage resizes to the working size and maps white → 1, black → 0', () => {
    const m = maskFromImage(image(40, 20, (x) => (x < 20 ? 0 : 255)), 10, 20);
    expect([m.h, m.w]).toEqual([10, 20]);
    expect(m.data[0]).toBe(0);
    expect(m.data[19]).toBe(1);
    expect(() => layerMasks(m, ['block5_conv1'])).toThrow(/too small for block5_conv1/);
  });
});
