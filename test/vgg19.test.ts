// The VGG19 model on the GPU against the composed CPU reference, with the real weights, on a
// tiny image (odd sizes, so every pooling floors), for max and average pooling; and the CPU
// reference's backward against central finite differences along random directions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFloats } from '../src/gpu/runtime.ts';
import type { PoolMode } from '../src/kernels/pool2x2.ts';
import { Vgg19 } from '../src/model/vgg19.ts';
import { layerSize, vgg19Geometry } from '../src/model/vgg19_layers.ts';
import type { Vgg19Weights } from '../src/model/weights.ts';
import { vgg19BackwardCpu, vgg19ForwardCpu } from '../src/ref/vgg19.ts';
import { loadVgg19WeightsFromDir, resolveExampleImage } from '../src/model/locate.ts';
import { readImageFile } from '../src/image/node.ts';
import { makeConfig } from '../src/style/config.ts';
import { evaluateOnce } from '../src/style/transfer.ts';
import { compare, gpu, printRecorded, randomArray, record } from './helpers.ts';

let weights: Vgg19Weights;
beforeAll(async () => {
  weights = await loadVgg19WeightsFromDir();
});
afterAll(() => printRecorded('VGG19 GPU vs CPU reference:'));

const LAYERS = ['block1_conv1', 'block2_conv1', 'block2_conv2', 'block3_conv1'];

describe('VGG19 forward/backward vs CPU reference (real weights, 13x10 input)', () => {
  for (const pooling of ['max', 'avg'] as PoolMode[]) {
    it(`${pooling} pooling`, async () => {
      const ctx = await gpu();
      const [H, W] = [13, 10];
      const x = randomArray(H * W * 3, 42, -120, 130);
      const net = await Vgg19.create(ctx, weights, { pooling });
      const plan = await net.plan(H, W, LAYERS);
      ctx.device.queue.writeBuffer(plan.input, 0, x);
      await plan.forward();
      const trace = vgg19ForwardCpu(weights, x, H, W, 'block3_conv1', pooling);
      const grads = new Map<string, Float32Array<ArrayBuffer>>();
      for (const [k, name] of LAYERS.entries()) {
        const idx = ['block1_conv1', 'block1_conv2', 'block2_conv1', 'block2_conv2', 'block3_conv1'].indexOf(name);
        const ref = trace.y[idx];
        const [h, w, c] = plan.shape(name);
        expect(h * w * c).toBe(ref.length);
        // activations reach ~1e3; float32 sums of 9*Cin terms: tolerance from measured error
        const got = await readFloats(ctx, plan.activation(name), ref.length);
        const cmp = record(`${pooling} forward ${name}`, compare(got, ref, 2e-3, 2e-5));
        expect(cmp.ok, cmp.mismatches.join('; ')).toBe(true);
        const g = randomArray(ref.length, 100 + k);
        grads.set(name, g);
        ctx.device.queue.writeBuffer(plan.gradientAt(name), 0, g);
      }
      await plan.backward();
      const dxRef = vgg19BackwardCpu(weights, trace, grads, pooling);
      const got = await readFloats(ctx, plan.inputGrad, dxRef.length);
      const scale = Math.max(...dxRef.map(Math.abs));
      const cmp = record(`${pooling} backward (input gradient, max |ref| ${scale.toFixed(3)})`, compare(got, dxRef, 2e-6 * scale, 1e-5));
      expect(cmp.ok, cmp.mismatches.join('; ')).toBe(true);
    });
  }

  it('CPU reference backward vs finite differences along random directions', () => {
    const [H, W] = [6, 5];
    const x = Float64Array.from(randomArray(H * W * 3, 7, -100, 100));
    const layers = ['block1_conv2', 'block2_conv1'];
    const trace = vgg19ForwardCpu(weights, x, H, W, 'block2_conv1', 'max');
    const grads = new Map<string, Float64Array>([
      ['block1_conv2', Float64Array.from(randomArray(trace.y[1].length, 8))],
      ['block2_conv1', Float64Array.from(randomArray(trace.y[2].length, 9))],
    ]);
    const L = (xx: Float64Array) => {
      const t = vgg19ForwardCpu(weights, xx, H, W, 'block2_conv1', 'max');
      let s = 0;
      for (const [i, name] of layers.entries()) {
        const g = grads.get(name)!;
        const y = t.y[i + 1];
        for (let k = 0; k < y.length; k++) s += g[k] * y[k];
      }
      return s;
    };
    const grad = vgg19BackwardCpu(weights, trace, grads, 'max');
    for (let r = 0; r < 3; r++) {
      const d = Float64Array.from(randomArray(x.length, 50 + r));
      const eps = 1e-5;
      const xp = x.map((v, i) => v + eps * d[i]);
      const xm = x.map((v, i) => v - eps * d[i]);
      const fd = (L(xp) - L(xm)) / (2 * eps);
      let an = 0;
      for (let i = 0; i < d.length; i++) an += grad[i] * d[i];
      expect(Math.abs(fd - an), `direction ${r}: analytic ${an}, finite difference ${fd}`).toBeLessThan(1e-6 * Math.abs(fd) + 1e-6);
    }
  });

  it('rejects an image too small for the deepest layer', async () => {
    const ctx = await gpu();
    const net = await Vgg19.create(ctx, weights);
    await expect(net.plan(15, 40, ['block5_conv2'])).rejects.toThrow(/rows 15 is too small: the working size is 40×15 pixels, and the deepest layer used \(block5_conv2, after 4 poolings\) needs at least 16 rows and 16 columns/);
    await expect(net.plan(16, 16, ['block9_conv1'])).rejects.toThrow(/unknown VGG19 layer "block9_conv1"/);
  });
});

describe('VGG19 geometry (vgg19Geometry, the one place the sizes are derived)', () => {
  it('halves with floor after the last conv of each block; layerSize agrees', () => {
    const sizes = (H: number, W: number) => vgg19Geometry(H, W).map((g) => `${g.name} ${g.h}x${g.w}${g.pooled ? ` -> ${g.pooled.join('x')}` : ''}`);
    // 400 x 533: 200x266, 100x133, 50x66, 25x33 (the notebook's size)
    expect(sizes(400, 533).filter((s) => s.includes('->') || s.startsWith('block5_conv1'))).toEqual([
      'block1_conv2 400x533 -> 200x266',
      'block2_conv2 200x266 -> 100x133',
      'block3_conv4 100x133 -> 50x66',
      'block4_conv4 50x66 -> 25x33',
      'block5_conv1 25x33',
      'block5_conv4 25x33 -> 12x16',
    ]);
    // odd sizes floor: 13x11 -> 6x5 -> 3x2 -> 1x1 -> 0x0
    expect(vgg19Geometry(13, 11).filter((g) => g.pooled).map((g) => g.pooled)).toEqual([[6, 5], [3, 2], [1, 1], [0, 0], [0, 0]]);
    expect(layerSize('block4_conv1', 13, 11)).toEqual([1, 1]);
    expect(layerSize('block1_conv1', 13, 11)).toEqual([13, 11]);
  });
});

describe('Winograd F(4x4, 3x3) (v9, the CPU adapters\' default) against F(2x2, 3x3) (v7) in the whole objective', () => {
  // v9's conv rounding error is 5-7x v7's (convTolerance); through the network, the losses and the
  // gradient must still agree to float32 rounding. Measured here: loss 8.3e-8 relative, gradient
  // 1.1e-6 of max|g| (tubingen x starry_night, notebook preset, 64 rows, from the content image).
  it('64 rows, notebook preset: loss terms and gradient agree', async () => {
    const ctx = await gpu();
    const config = makeConfig('notebook');
    const content = await readImageFile(resolveExampleImage('tubingen.jpg'));
    const style = await readImageFile(resolveExampleImage('starry_night.jpg'));
    const [a, b] = await Promise.all(
      (['v7', 'v9'] as const).map(async (convVersion) => evaluateOnce(ctx, await Vgg19.create(ctx, weights, { pooling: config.pooling, convVersion }), { content, style, rows: 64, config })),
    );
    for (const k of ['total', 'content', 'style', 'tv'] as const) expect(Math.abs(b.loss[k] - a.loss[k]), k).toBeLessThanOrEqual(1e-6 * Math.abs(a.loss[k]) + 1e-3);
    const gmax = Math.max(...a.grad.map(Math.abs));
    let worst = 0;
    for (let i = 0; i < a.grad.length; i++) worst = Math.max(worst, Math.abs(a.grad[i] - b.grad[i]));
    console.log(`v9 vs v7 at 64 rows: loss ${b.loss.total} vs ${a.loss.total}, max |dgrad| ${(worst / gmax).toExponential(2)} of max|g|`);
    expect(worst).toBeLessThanOrEqual(1e-5 * gmax);
  }, 300_000);
});
