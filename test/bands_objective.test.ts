// The whole objective with activations split into row bands (a buffer limit forcing 2, 3 and 7
// bands of block1's maps) against the same objective unbanded: loss terms and gradient, at 64
// and 96 rows, tubingen x starry_night, notebook preset; and 5 L-BFGS iterations banded vs
// unbanded. Banding changes only the float32 summation order of the Gram matrices and the loss
// sums (band by band), so the results agree to float32 rounding: the tolerances below are a few
// times the differences measured here (loss terms <= 1e-6 relative, gradient <= 3e-6 of max|g|).
import { beforeAll, describe, expect, it } from 'vitest';
import { readImageFile } from '../src/image/node.ts';
import type { RgbaImage } from '../src/image/types.ts';
import { Vgg19 } from '../src/model/vgg19.ts';
import { makeConfig } from '../src/style/config.ts';
import { evaluateOnce, styleTransfer } from '../src/style/transfer.ts';
import { loadVgg19WeightsFromDir, resolveExampleImage } from '../src/model/locate.ts';
import { gpu } from './helpers.ts';

let content: RgbaImage;
let style: RgbaImage;
let net: Vgg19;
const config = makeConfig('notebook');

beforeAll(async () => {
  const ctx = await gpu();
  content = await readImageFile(resolveExampleImage('tubingen.jpg'));
  style = await readImageFile(resolveExampleImage('starry_night.jpg'));
  net = await Vgg19.create(ctx, await loadVgg19WeightsFromDir(), { pooling: config.pooling });
}, 120_000);

/** A buffer limit that splits block1's [rows, cols, 64] maps into `bands` bands. */
function limitFor(rows: number, cols: number, bands: number): number {
  return Math.ceil(rows / bands) * cols * 64 * 4;
}

describe('objective banded vs unbanded', () => {
  for (const rows of [64, 96]) {
    it(`${rows} rows: loss terms and gradient with 2, 3 and 7 bands`, async () => {
      const ctx = await gpu();
      const base = await evaluateOnce(ctx, net, { content, style, rows, config });
      expect(Object.values(base.bands).every((n) => n === 1)).toBe(true);
      const gmax = Math.max(...base.grad.map(Math.abs));
      for (const bands of [2, 3, 7]) {
        const limit = limitFor(rows, base.cols, bands);
        const r = await evaluateOnce(ctx, net, { content, style, rows, config, maxBufferBytes: limit });
        expect(r.bands.block1_conv1, `block1 bands under a ${limit}-byte limit`).toBe(bands);
        for (const k of ['total', 'content', 'style', 'tv'] as const) {
          expect(Math.abs(r.loss[k] - base.loss[k]), `${k} with ${bands} bands`).toBeLessThanOrEqual(5e-6 * Math.abs(base.loss[k]) + 1e-3);
        }
        let worst = 0;
        for (let i = 0; i < r.grad.length; i++) worst = Math.max(worst, Math.abs(r.grad[i] - base.grad[i]));
        console.log(`${rows} rows, ${bands} bands (${JSON.stringify(r.bands)}): max |dgrad| ${worst.toExponential(2)} of max |g| ${gmax.toExponential(2)}, total ${r.loss.total} vs ${base.loss.total}`);
        expect(worst).toBeLessThanOrEqual(1e-5 * gmax);
      }
    }, 300_000);
  }

  // L-BFGS amplifies float32 rounding: from x = content (notebook preset) the first iterations'
  // y = g_k+1 - g_k cancel, and a 1e-11 difference in the loss and 4e-7 in the gradient became
  // 3e-4 in the loss after 5 iterations here; swapping the conv kernel (v3 for v7, unbanded) moves
  // it by more. So: the 1e-5 check runs where the trajectory is well conditioned (paper preset,
  // random start: 6e-7 measured), and from the content image banding must move the end point no
  // more than the choice of conv kernel does.
  it('5 L-BFGS iterations at 64 rows end at the same loss banded (3 bands) and unbanded', async () => {
    const ctx = await gpu();
    const paper = makeConfig('paper');
    const paperNet = await Vgg19.create(ctx, await loadVgg19WeightsFromDir(), { pooling: paper.pooling });
    const opts = { content, style, rows: 64, config: paper, iterations: 5, init: 'random' as const };
    const a = await styleTransfer(ctx, paperNet, opts);
    const b = await styleTransfer(ctx, paperNet, { ...opts, maxBufferBytes: limitFor(64, a.cols, 3) });
    const rel = Math.abs(a.loss.total - b.loss.total) / a.loss.total;
    console.log(`L-BFGS x5 (paper, random start): unbanded ${a.loss.total}, banded ${b.loss.total}, relative ${rel.toExponential(2)}`);
    expect(rel).toBeLessThanOrEqual(1e-5);
    expect(b.loss.total).toBeLessThan(b.history[0].loss);
  }, 300_000);

  it('from the content image, banding moves the L-BFGS end point less than the choice of conv kernel', async () => {
    const ctx = await gpu();
    const opts = { content, style, rows: 64, config, iterations: 5 };
    const a = await styleTransfer(ctx, net, opts);
    const b = await styleTransfer(ctx, net, { ...opts, maxBufferBytes: limitFor(64, a.cols, 3) });
    const v3 = await Vgg19.create(ctx, await loadVgg19WeightsFromDir(), { pooling: config.pooling, convVersion: 'v3' });
    const c = await styleTransfer(ctx, v3, opts);
    const banding = Math.abs(a.loss.total - b.loss.total) / a.loss.total;
    const kernel = Math.abs(a.loss.total - c.loss.total) / a.loss.total;
    console.log(`L-BFGS x5 (notebook, from content): banded vs unbanded ${banding.toExponential(2)}, v3 vs ${net.convVersion} ${kernel.toExponential(2)}`);
    expect(banding).toBeLessThanOrEqual(Math.max(1e-5, kernel));
  }, 300_000);

  it('a buffer limit below the image itself is a clear error', async () => {
    const ctx = await gpu();
    await expect(evaluateOnce(ctx, net, { content, style, rows: 64, config, maxBufferBytes: 1000 })).rejects.toThrow(/the image itself needs a .* MiB buffer, over the buffer limit of/);
  });
});
