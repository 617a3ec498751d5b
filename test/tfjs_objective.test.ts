// The whole style objective — loss terms and gradient w.r.t. the image — agrees with the same
// objective written in TensorFlow.js (bench/reference/tfjs_objective.ts, cpu backend), for both
// presets. This is the check that keeps the benchmark honest: the numbers `npm run bench`
// compares are the same function.
//
// Inputs: tubingen.jpg (content) and starry_night.jpg (style) at 64 rows (64x85), resized as the
// program does for each preset (notebook: nearest, paper: area), caffe-preprocessed; x = the
// content image plus seeded uniform noise of +-20 (so that every loss term and its gradient is
// non-zero). Ours: StyleObjective on the GPU (lavapipe here). TF.js: the same weights through
// tf.io's loader, tf.conv2d / maxPool / avgPool / matMul, tf.valueAndGrad.
//
// Tolerances (see the constants) come from measurement. The gradient needs the ReLU-kink care
// explained in test/tfjs_vgg19.test.ts: float32 noise can put a pre-activation on different
// sides of 0 in the two forward passes, and that unit's whole upstream gradient then flows in one
// and not the other. So TF.js differentiates with its ReLUs pinned to our forward's pattern
// (reluMasks: the same linear piece; a tight bound on the backward algorithm itself), and the
// test counts the units where the pin disagrees with TF.js's own sign (the flips). With flips it
// also compares against plain tf.grad with a norm-based bound and prints both.
//
// A second test checks the benchmark's 'tuned' TF.js formulation (hand-written backward: the conv
// input gradient as a forward conv with the flipped kernel or as Conv2DBackpropInput,
// MaxPoolGrad/AvgPoolGrad, the Gram gradient as one matMul) against plain tf.grad, at 16 rows, the smallest block5 allows (odd sizes on the way: 16x21 -> 8x10 ->
// 4x5 -> 2x2 -> 1x1).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InputGradOp, TfjsStyleObjective } from '../bench/reference/tfjs_objective.ts';
import { disposeTfjsVgg19Weights, loadTfjsVgg19Weights, type TfjsVgg19Weights, useTfjsBackend } from '../bench/reference/tfjs_vgg19.ts';
import { createStorage, readFloats, uploadStorage } from '../src/gpu/runtime.ts';
import { readImageFile } from '../src/image/node.ts';
import { mulberry32 } from '../src/image/random.ts';
import type { RgbaImage } from '../src/image/types.ts';
import { Vgg19 } from '../src/model/vgg19.ts';
import { layerIndex, VGG19_LAYERS } from '../src/model/vgg19_layers.ts';
import type { Vgg19Weights } from '../src/model/weights.ts';
import { deepestLayer, makeConfig, type PresetName, type StyleConfig } from '../src/style/config.ts';
import { StyleObjective } from '../src/style/objective.ts';
import { defaultResize, prepareImages } from '../src/style/transfer.ts';
import type { LossBreakdown } from '../src/style/types.ts';
import { loadVgg19WeightsFromDir, resolveExampleImage } from '../src/model/locate.ts';
import { gpu } from './helpers.ts';

const ROWS = 64;
const TUNED_ROWS = 16;
const NOISE = 20;
const TIMEOUT = 240_000;

// Tolerances, from measurement (64x85, lavapipe, conv v2; both presets; no ReLU kink flips
// measured at this x):
// Loss terms: |ours - tfjs| / |tfjs| per term (content, tv, each style layer, total): measured
// worst 3.6e-7 (notebook block5_conv1 style; every term is a float32 sum over 10^4..10^6
// squares accumulated in a different order on each side). Bound 3e-6 (~8x).
const LOSS_RTOL = 3e-6;
// Gradient on the same linear piece (TF.js ReLUs pinned to ours): measured max |err| / max |ref|
// 7.0e-7 (notebook) and 5.6e-7 (paper), relative L2 error 5.8e-7 (both). Bounds 5e-6 (~7x).
const GRAD_MAX_SAME_PIECE = 5e-6;
const GRAD_L2_SAME_PIECE = 5e-6;
// Against plain tf.grad when the pinned pattern differs from TF.js's own at some units (kink
// flips, |pre-activation| ~1e-3 or less): test/tfjs_vgg19.test.ts measured 3.5e-3 of max |ref|
// and a relative L2 error of ~1e-3 from one flip; bounds 1e-2 and 3e-3 (norm-based: a flip moves
// the gradient locally by the flipped unit's whole upstream gradient, which no per-element
// float32 tolerance covers). Without flips plain tf.grad IS the pinned reference.
const GRAD_MAX_PLAIN = 1e-2;
const GRAD_L2_PLAIN = 3e-3;
// 'tuned' vs 'plain' TF.js (same backend, same forward values), 16 rows: terms identical (0; 1.2e-7
// at 24 rows); gradient max |err| / max |ref| 9.3e-7 with flipT, 0 with transpose (the very kernels
// tf.grad runs: bit-identical). Bounds 1e-6 and 5e-6.
const TUNED_TERMS_RTOL = 1e-6;
const TUNED_GRAD_MAX = 5e-6;

let ours: Vgg19Weights;
let theirs: TfjsVgg19Weights;
let contentImg: RgbaImage;
let styleImg: RgbaImage;

beforeAll(async () => {
  await useTfjsBackend(tf, 'cpu');
  [ours, theirs, contentImg, styleImg] = await Promise.all([
    loadVgg19WeightsFromDir(),
    loadTfjsVgg19Weights(tf),
    readImageFile(resolveExampleImage('tubingen.jpg')),
    readImageFile(resolveExampleImage('starry_night.jpg')),
  ]);
}, TIMEOUT);

afterAll(() => {
  if (theirs) disposeTfjsVgg19Weights(theirs);
});

function maxAbsOf(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** max |got - ref| / max |ref| and ||got - ref||_2 / ||ref||_2 */
function gradErrors(got: ArrayLike<number>, ref: ArrayLike<number>): { maxRel: number; l2: number } {
  let maxErr = 0;
  let d2 = 0;
  let r2 = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = got[i] - ref[i];
    maxErr = Math.max(maxErr, Math.abs(d));
    d2 += d * d;
    r2 += ref[i] * ref[i];
  }
  return { maxRel: maxErr / maxAbsOf(ref), l2: Math.sqrt(d2 / r2) };
}

function termList(l: LossBreakdown): Array<[string, number]> {
  return [['content', l.content], ['tv', l.tv], ...Object.entries(l.styleLayers).map(([k, v]) => [`style ${k}`, v] as [string, number]), ['total', l.total]];
}

/** Per-term relative differences; terms that are exactly 0 in both (paper: tv) count as 0. */
function termDiffs(got: LossBreakdown, ref: LossBreakdown): Array<{ name: string; got: number; ref: number; rel: number }> {
  const g = new Map(termList(got));
  return termList(ref).map(([name, r]) => {
    const v = g.get(name)!;
    return { name, got: v, ref: r, rel: v === r ? 0 : Math.abs(v - r) / Math.abs(r) };
  });
}

/** x = content + uniform noise in [-NOISE, NOISE), seeded. */
function noisy(content: Float32Array, seed: number): Float32Array<ArrayBuffer> {
  const r = mulberry32(seed);
  return Float32Array.from(content, (v) => v + NOISE * (2 * r() - 1));
}

async function ourEvaluation(cfg: StyleConfig, H: number, W: number, content: Float32Array<ArrayBuffer>, style: Float32Array<ArrayBuffer>, x: Float32Array<ArrayBuffer>) {
  const ctx = await gpu();
  const net = await Vgg19.create(ctx, ours, { pooling: cfg.pooling });
  const obj = await StyleObjective.create(ctx, net, cfg, H, W, content, style);
  const xb = uploadStorage(ctx, x, 'x');
  const gb = createStorage(ctx, obj.n * 4, 'grad');
  await obj.evaluate(xb, gb);
  const grad = await readFloats(ctx, gb, obj.n);
  // After evaluate, the plan holds x's forward: our post-ReLU output of every conv.
  const acts = new Map<string, { data: Float32Array; shape: [number, number, number] }>();
  for (const l of VGG19_LAYERS.slice(0, layerIndex(deepestLayer(cfg)) + 1)) {
    const shape = obj.plan.shape(l.name);
    acts.set(l.name, { data: await readFloats(ctx, obj.plan.activation(l.name), shape[0] * shape[1] * shape[2]), shape });
  }
  xb.destroy();
  gb.destroy();
  return { loss: obj.last!, grad, acts };
}

describe('the style objective agrees with TensorFlow.js (cpu backend)', () => {
  for (const preset of ['notebook', 'paper'] as PresetName[]) {
    it(
      `${preset} preset: loss terms and gradient at ${ROWS} rows`,
      async () => {
        const cfg = makeConfig(preset);
        const prep = prepareImages(contentImg, styleImg, ROWS, defaultResize(cfg));
        const [H, W] = [prep.rows, prep.cols];
        const x = noisy(prep.content, 7);

        let t0 = performance.now();
        const mine = await ourEvaluation(cfg, H, W, prep.content, prep.style, x);
        const oursMs = performance.now() - t0;

        t0 = performance.now();
        const tobj = TfjsStyleObjective.create(tf, theirs, cfg, H, W, prep.content, prep.style);
        const masks = new Map([...mine.acts].map(([name, a]) => [name, tf.tensor4d(a.data.map((v) => (v > 0 ? 1 : 0)), [1, ...a.shape])]));
        const flips: string[] = [];
        let flipCount = 0;
        const inspect = (layer: string, pre: tf.Tensor4D) => {
          const mask = masks.get(layer)!;
          const [n, maxAbs] = tf.tidy(() => {
            const differ = tf.notEqual(tf.greater(pre, 0), tf.greater(mask, 0));
            return [tf.sum(tf.cast(differ, 'int32')).dataSync()[0], tf.max(tf.where(differ, tf.abs(pre), tf.zerosLike(pre))).dataSync()[0]];
          });
          if (n) {
            flipCount += n;
            flips.push(`${layer}: ${n} (|pre-activation| <= ${maxAbs.toExponential(1)})`);
          }
        };
        const pinned = await tobj.evaluateData(x, 'plain', { reluMasks: masks, inspectPreActivation: inspect });
        const plain = flipCount ? await tobj.evaluateData(x, 'plain') : pinned;
        const tfMs = performance.now() - t0;
        tobj.dispose();
        tf.dispose([...masks.values()]);

        const diffs = termDiffs(mine.loss, plain.loss);
        const same = gradErrors(mine.grad, pinned.grad);
        const vsPlain = gradErrors(mine.grad, plain.grad);
        console.log(
          `${preset} ${H}x${W}: ours (GPU, first evaluation incl. pipeline compiles) ${oursMs.toFixed(0)} ms, TF.js cpu targets + evaluation(s) ${tfMs.toFixed(0)} ms\n` +
            diffs.map((d) => `  ${d.name.padEnd(20)} ours ${d.got.toPrecision(8).padStart(15)}  tfjs ${d.ref.toPrecision(8).padStart(15)}  rel diff ${d.rel.toExponential(2)}`).join('\n') +
            `\n  ReLU kink flips (ours vs TF.js sign of the pre-activation): ${flipCount}${flips.length ? ` — ${flips.join('; ')}` : ''}` +
            `\n  gradient [${H},${W},3], max |ref| ${maxAbsOf(pinned.grad).toPrecision(4)}: vs tf.grad on our linear piece: max err ${same.maxRel.toExponential(2)} of max |ref|, rel L2 ${same.l2.toExponential(2)}` +
            (flipCount ? `; vs plain tf.grad: max err ${vsPlain.maxRel.toExponential(2)} of max |ref|, rel L2 ${vsPlain.l2.toExponential(2)}` : ' (= plain tf.grad: no flips)'),
        );
        for (const d of diffs) expect(d.rel, `${preset} ${d.name}: ours ${d.got}, tfjs ${d.ref}`).toBeLessThanOrEqual(LOSS_RTOL);
        if (preset === 'notebook') expect(mine.loss.tv).toBeGreaterThan(0);
        expect(mine.loss.content).toBeGreaterThan(0);
        expect(same.maxRel, `${preset}: gradient on the same linear piece, max err / max |ref|`).toBeLessThanOrEqual(GRAD_MAX_SAME_PIECE);
        expect(same.l2, `${preset}: gradient on the same linear piece, relative L2`).toBeLessThanOrEqual(GRAD_L2_SAME_PIECE);
        expect(vsPlain.maxRel, `${preset}: gradient vs plain tf.grad, max err / max |ref| (${flips.join('; ')})`).toBeLessThanOrEqual(GRAD_MAX_PLAIN);
        expect(vsPlain.l2, `${preset}: gradient vs plain tf.grad, relative L2 (${flips.join('; ')})`).toBeLessThanOrEqual(GRAD_L2_PLAIN);
      },
      TIMEOUT,
    );
  }

  it(
    `the benchmark's tuned TF.js formulation equals plain tf.grad (both presets, both input-gradient ops, ${TUNED_ROWS} rows)`,
    async () => {
      const lines: string[] = [];
      for (const preset of ['notebook', 'paper'] as PresetName[]) {
        const cfg = makeConfig(preset);
        const prep = prepareImages(contentImg, styleImg, TUNED_ROWS, defaultResize(cfg));
        const x = noisy(prep.content, 11);
        const tobj = TfjsStyleObjective.create(tf, theirs, cfg, prep.rows, prep.cols, prep.content, prep.style);
        const plain = await tobj.evaluateData(x, 'plain');
        for (const op of ['flipT', 'transpose'] as InputGradOp[]) {
          tobj.inputGradOp = op;
          const tuned = await tobj.evaluateData(x, 'tuned');
          const diffs = termDiffs(tuned.loss, plain.loss);
          const worst = diffs.reduce((a, b) => (b.rel > a.rel ? b : a));
          const g = gradErrors(tuned.grad, plain.grad);
          lines.push(
            `${preset} ${prep.rows}x${prep.cols}, input gradient by ${op}: terms worst rel diff ${worst.rel.toExponential(2)} (${worst.name}); ` +
              `gradient max err ${g.maxRel.toExponential(2)} of max |ref|, rel L2 ${g.l2.toExponential(2)}`,
          );
          for (const d of diffs) expect(d.rel, `${preset} tuned (${op}) vs plain, ${d.name}`).toBeLessThanOrEqual(TUNED_TERMS_RTOL);
          expect(g.maxRel, `${preset} tuned (${op}) vs plain gradient`).toBeLessThanOrEqual(TUNED_GRAD_MAX);
        }
        tobj.dispose();
      }
      console.log(`tuned vs plain TF.js (cpu):\n  ${lines.join('\n  ')}`);
    },
    TIMEOUT,
  );
});
