// Gram and loss kernels against their CPU references (odd shapes, split-K boundaries), the
// CPU references against central finite differences, and the whole objective on the GPU
// against the composed Float64 CPU objective (whose gradient is itself checked by finite
// differences along random directions).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage, readFloats, runDispatches, uploadStorage } from '../src/gpu/runtime.ts';
import { gramBackward, gramForward, gramSplits } from '../src/kernels/gram.ts';
import { contentLoss, styleLoss, tvLoss } from '../src/kernels/losses.ts';
import { Vgg19 } from '../src/model/vgg19.ts';
import type { Vgg19Weights } from '../src/model/weights.ts';
import { contentLossCpu, gramBackwardCpu, gramCpu, styleLossCpu, tvLossCpu } from '../src/ref/gram.ts';
import { objectiveCpu, objectiveTargetsCpu } from '../src/ref/objective.ts';
import { makeConfig, type PresetName } from '../src/style/config.ts';
import { StyleObjective } from '../src/style/objective.ts';
import { loadVgg19WeightsFromDir } from '../src/model/locate.ts';
import { compare, gpu, printRecorded, randomArray, record } from './helpers.ts';

afterAll(() => printRecorded('Gram / loss kernels and objective vs CPU reference:'));

// shaders gram_forward + gram_reduce (the Gram matrix in splits, then their sum); the Gram backward
// runs the production GEMM conv3x3_winograd_gemm_v7 (its ACCUMULATE override when accumulating)
describe('gram forward/backward vs CPU reference', () => {
  // N crosses the split-K boundaries (2048 positions per split) and is not a multiple of 8; C is
  // a multiple of 4 (gram_forward reads vec4; VGG19's are multiples of 64), not always of 8 (a
  // half block at the edge: 12, 68, 132), and one block only (4).
  const cases: Array<[number, number]> = [
    [1, 4],
    [91, 12],
    [4100, 64],
    [9001, 4],
    [300, 132],
    [2053, 68],
    [77, 512],
  ];
  for (const [N, C] of cases) {
    it(`N=${N} C=${C} (splits ${gramSplits(N)})`, async () => {
      const ctx = await gpu();
      const f = randomArray(N * C, N + C, 0, 1); // post-ReLU features are >= 0
      const bf = uploadStorage(ctx, f, 'f');
      const bg = createStorage(ctx, C * C * 4, 'g');
      const op = await gramForward(ctx, N, C, { f: bf, g: bg });
      await runDispatches(ctx, op.dispatches);
      // sums of N products of values in [0,1): error grows like eps32 * N
      const gRef = gramCpu(f, N, C);
      const c1 = record(`gram_forward N=${N} C=${C}`, compare(await readFloats(ctx, bg, C * C), gRef, 1e-6 * N ** 0.5, 4e-6));
      expect(c1.ok, c1.mismatches.join('; ')).toBe(true);
    });
  }

  it('gram forward over a feature map in two row bands: the second accumulates, one shared partials buffer', async () => {
    const ctx = await gpu();
    const [N0, N1, C] = [4100, 2053, 68];
    const f = randomArray((N0 + N1) * C, 17, 0, 1);
    const bands = [uploadStorage(ctx, f.subarray(0, N0 * C), 'band 0'), uploadStorage(ctx, f.subarray(N0 * C), 'band 1')];
    const bg = createStorage(ctx, C * C * 4, 'g');
    const partials = createStorage(ctx, gramSplits(N0, C) * C * C * 4, 'partials');
    const first = await gramForward(ctx, N0, C, { f: bands[0], g: bg, partials }, false);
    const second = await gramForward(ctx, N1, C, { f: bands[1], g: bg, partials }, true);
    await runDispatches(ctx, [...first.dispatches, ...second.dispatches]);
    const N = N0 + N1;
    const c = record(`gram_forward two bands N=${N0}+${N1} C=${C}`, compare(await readFloats(ctx, bg, C * C), gramCpu(f, N, C), 1e-6 * N ** 0.5, 4e-6));
    expect(c.ok, c.mismatches.join('; ')).toBe(true);
  });

  // The backward is a GEMM [N, C] x [C, C] whose B (= M) is read as vec4 rows: C a multiple of 4
  // (VGG19's are multiples of 64). N not a multiple of 8 (a partial last row tile); C % 8 = 4 (a
  // half column tile); maxRows splits N into dispatches over ranges of rows bound at offsets.
  const backCases: Array<[number, number, number?]> = [
    [1, 4],
    [91, 12],
    [4100, 64],
    [9001, 4],
    [300, 132],
    [333, 68, 64],
    [77, 512],
  ];
  for (const [N, C, maxRows] of backCases) {
    it(`gram backward N=${N} C=${C}${maxRows ? ` in dispatches of ${maxRows} rows` : ''}: written and accumulated`, async () => {
      const ctx = await gpu();
      const f = randomArray(N * C, N + C, 0, 1); // post-ReLU features are >= 0
      const m = randomArray(C * C, C, -1, 1);
      const prior = randomArray(N * C, 3);
      const bf = uploadStorage(ctx, f, 'f');
      const bm = uploadStorage(ctx, m, 'm');
      const ref = gramBackwardCpu(f, m, N, C);
      // C-term dot products of values in [0, 1) x [-1, 1): C roundings of partial sums whose size
      // grows like sqrt(C), so the error grows like eps32 C: measured 0.37-0.53e-7 C for C = 4..512
      // (4e-7 sqrt(C), the old shader's tolerance, was never tried past C = 130 and fails at 512)
      const tol = [1e-7 * C, 1e-5] as const;
      const written = uploadStorage(ctx, prior, 'df (overwritten)');
      const list = await gramBackward(ctx, N, C, { f: bf, m: bm, df: written }, false, maxRows);
      expect(list.length).toBe(maxRows ? Math.ceil(N / maxRows) : 1);
      expect(list.every((d) => d.label.startsWith('gram_backward:conv3x3_winograd_gemm_v7'))).toBe(true);
      await runDispatches(ctx, list);
      const c1 = record(`gram backward N=${N} C=${C}${maxRows ? ` /${maxRows}` : ''}`, compare(await readFloats(ctx, written, N * C), ref, ...tol));
      expect(c1.ok, c1.mismatches.join('; ')).toBe(true);
      const bdf = uploadStorage(ctx, prior, 'df');
      await runDispatches(ctx, await gramBackward(ctx, N, C, { f: bf, m: bm, df: bdf }, true, maxRows));
      const c2 = record(`gram backward (accumulate) N=${N} C=${C}${maxRows ? ` /${maxRows}` : ''}`, compare(await readFloats(ctx, bdf, N * C), ref.map((v, i) => v + prior[i]), ...tol));
      expect(c2.ok, c2.mismatches.join('; ')).toBe(true);
    });
  }

  it('gram forward and backward reject C not a multiple of 4, the backward a row split off the offset alignment', async () => {
    const ctx = await gpu();
    const buf = createStorage(ctx, 4 * 5 * 5, 'x');
    await expect(gramForward(ctx, 5, 5, { f: buf, g: buf })).rejects.toThrow(/C must be a multiple of 4 .*got C=5/);
    await expect(gramBackward(ctx, 5, 5, { f: buf, m: buf, df: buf })).rejects.toThrow(/C must be a multiple of 4 .*got C=5/);
    await expect(gramBackward(ctx, 5, 4, { f: buf, m: buf, df: buf }, false, 24)).rejects.toThrow(/maxRows must be a multiple of 16/);
  });
});

// shaders content_loss, style_loss and tv_loss, each followed by reduce_sum (its partial sums into a scalar slot)
describe('loss kernels vs CPU reference', () => {
  it('style loss (C=130)', async () => {
    const ctx = await gpu();
    const C = 130;
    const g = randomArray(C * C, 1, 0, 100);
    const a = randomArray(C * C, 2, 0, 100);
    const scalars = createStorage(ctx, 16, 'scalars');
    const m = createStorage(ctx, C * C * 4, 'm');
    const factor = 3.7e-3;
    await runDispatches(ctx, (await styleLoss(ctx, C, factor, 2, { g: uploadStorage(ctx, g, 'g'), a: uploadStorage(ctx, a, 'a'), m, scalars })).dispatches);
    const ref = styleLossCpu(g, a, factor);
    const got = await readFloats(ctx, scalars, 4);
    expect(Math.abs(got[2] - ref.loss) / ref.loss).toBeLessThan(1e-5);
    const cm = record('style_loss dL/dG', compare(await readFloats(ctx, m, C * C), ref.m, 1e-6, 1e-6));
    expect(cm.ok, cm.mismatches.join('; ')).toBe(true);
  });

  it('content loss with accumulate (n = 70001)', async () => {
    const ctx = await gpu();
    const n = 70001;
    const f = randomArray(n, 3, 0, 10);
    const p = randomArray(n, 4, 0, 10);
    const prior = randomArray(n, 5);
    const scalars = createStorage(ctx, 16, 'scalars');
    const df = uploadStorage(ctx, prior, 'df');
    await runDispatches(ctx, (await contentLoss(ctx, n, 0.5, 0, { f: uploadStorage(ctx, f, 'f'), target: uploadStorage(ctx, p, 'p'), df, scalars }, true)).dispatches);
    const ref = contentLossCpu(f, p, 0.5);
    expect(Math.abs((await readFloats(ctx, scalars, 1))[0] - ref.loss) / ref.loss).toBeLessThan(1e-5);
    const c = record('content_loss gradient (accumulate)', compare(await readFloats(ctx, df, n), ref.grad.map((v, i) => v + prior[i]), 1e-6, 1e-6));
    expect(c.ok, c.mismatches.join('; ')).toBe(true);
  });

  for (const [H, W] of [
    [1, 1],
    [2, 7],
    [13, 11],
  ]) {
    it(`tv loss ${H}x${W}`, async () => {
      const ctx = await gpu();
      const x = randomArray(H * W * 3, H * W, -100, 100);
      x[0] = x[3]; // an exact zero difference (t = 0) exercises the pow guard
      const vg = randomArray(H * W * 3, 8);
      const scalars = createStorage(ctx, 16, 'scalars');
      const grad = createStorage(ctx, H * W * 3 * 4, 'grad');
      await runDispatches(ctx, (await tvLoss(ctx, H, W, 0.1, 1, { x: uploadStorage(ctx, x, 'x'), vggGrad: uploadStorage(ctx, vg, 'vg'), grad, scalars })).dispatches);
      const ref = tvLossCpu(x, H, W, 0.1);
      const loss = (await readFloats(ctx, scalars, 2))[1];
      expect(Math.abs(loss - ref.loss)).toBeLessThanOrEqual(1e-5 * ref.loss);
      const c = record(`tv_loss gradient ${H}x${W}`, compare(await readFloats(ctx, grad, H * W * 3), ref.grad.map((v, i) => v + vg[i]), 1e-4, 1e-5));
      expect(c.ok, c.mismatches.join('; ')).toBe(true);
    });
  }
});

describe('loss CPU references vs central finite differences', () => {
  function directional(f: (x: Float64Array) => number, x: Float64Array, grad: ArrayLike<number>, seed: number, eps: number) {
    const d = Float64Array.from(randomArray(x.length, seed));
    const fd = (f(x.map((v, i) => v + eps * d[i])) - f(x.map((v, i) => v - eps * d[i]))) / (2 * eps);
    let an = 0;
    for (let i = 0; i < d.length; i++) an += grad[i] * d[i];
    return { fd, an };
  }
  it('style loss through the Gram matrix: dL/dF = F (dL/dG + dL/dG^T)', () => {
    const [N, C] = [23, 6];
    const f = Float64Array.from(randomArray(N * C, 1, 0, 1));
    const a = gramCpu(randomArray(N * C, 2, 0, 1), N, C);
    const L = (ff: Float64Array) => styleLossCpu(gramCpu(ff, N, C), a, 0.01).loss;
    const grad = gramBackwardCpu(f, styleLossCpu(gramCpu(f, N, C), a, 0.01).m, N, C);
    for (let r = 0; r < 3; r++) {
      const { fd, an } = directional(L, f, grad, 10 + r, 1e-6);
      expect(Math.abs(fd - an)).toBeLessThan(1e-7 * Math.abs(fd) + 1e-9);
    }
  });
  it('content loss', () => {
    const f = Float64Array.from(randomArray(40, 3));
    const p = randomArray(40, 4);
    const grad = contentLossCpu(f, p, 0.5).grad;
    const { fd, an } = directional((ff) => contentLossCpu(ff, p, 0.5).loss, f, grad, 5, 1e-6);
    expect(Math.abs(fd - an)).toBeLessThan(1e-7 * Math.abs(fd) + 1e-9);
  });
  it('tv loss', () => {
    const [H, W] = [5, 6];
    const x = Float64Array.from(randomArray(H * W * 3, 6, -50, 50));
    const grad = tvLossCpu(x, H, W, 0.1).grad;
    for (let r = 0; r < 3; r++) {
      const { fd, an } = directional((xx) => tvLossCpu(xx, H, W, 0.1).loss, x, grad, 20 + r, 1e-5);
      expect(Math.abs(fd - an)).toBeLessThan(1e-7 * Math.abs(fd) + 1e-9);
    }
  });
});

describe('the whole objective on a 16x18 image (real weights)', () => {
  let weights: Vgg19Weights;
  beforeAll(async () => {
    weights = await loadVgg19WeightsFromDir();
  });
  const [H, W] = [16, 18];
  for (const preset of ['notebook', 'paper'] as PresetName[]) {
    it(`${preset}: GPU loss and gradient vs the CPU objective; CPU gradient vs finite differences`, async () => {
      const cfg = makeConfig(preset, preset === 'paper' ? { tvWeight: 0.05 } : {});
      const content = randomArray(H * W * 3, 1, -110, 140);
      const style = randomArray(H * W * 3, 2, -110, 140);
      const x = randomArray(H * W * 3, 3, -110, 140);
      const targets = objectiveTargetsCpu(weights, cfg, content, style, H, W);
      const ref = objectiveCpu(weights, cfg, targets, x, H, W);

      const ctx = await gpu();
      const net = await Vgg19.create(ctx, weights, { pooling: cfg.pooling });
      const obj = await StyleObjective.create(ctx, net, cfg, H, W, content, style);
      const gradBuf = createStorage(ctx, H * W * 3 * 4, 'grad');
      const total = await obj.evaluate(uploadStorage(ctx, x, 'x'), gradBuf);
      const l = obj.last!;
      const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
      console.log(`${preset}: loss GPU ${total.toExponential(6)} CPU ${ref.loss.total.toExponential(6)} (content ${rel(l.content, ref.loss.content).toExponential(1)}, style ${rel(l.style, ref.loss.style).toExponential(1)}, tv ${rel(l.tv, ref.loss.tv).toExponential(1)} rel. diff)`);
      expect(rel(total, ref.loss.total)).toBeLessThan(1e-4);
      for (const k of ['content', 'style', 'tv'] as const) expect(rel(l[k], ref.loss[k]), k).toBeLessThan(1e-4);
      const g = await readFloats(ctx, gradBuf, H * W * 3);
      // Split into submissions of at most 3 dispatches (as the page does): the same numbers.
      obj.maxDispatchesPerSubmit = 3;
      const gradSplit = createStorage(ctx, H * W * 3 * 4, 'grad split');
      expect(await obj.evaluate(uploadStorage(ctx, x, 'x'), gradSplit)).toBe(total);
      expect(Array.from(await readFloats(ctx, gradSplit, H * W * 3))).toEqual(Array.from(g));
      const scale = Math.max(...ref.grad.map(Math.abs));
      const c = record(`${preset} objective gradient (max |ref| ${scale.toExponential(2)})`, compare(g, ref.grad, 1e-4 * scale, 1e-3));
      expect(c.ok, c.mismatches.join('; ')).toBe(true);

      // CPU objective gradient vs central differences along 2 random directions
      const x64 = Float64Array.from(x);
      for (let r = 0; r < 2; r++) {
        const d = Float64Array.from(randomArray(x.length, 40 + r));
        const eps = 1e-6; // small: a larger step crosses ReLU and max-pool kinks (1e-3 gave ~1e-3 rel. error)
        const fp = objectiveCpu(weights, cfg, targets, x64.map((v, i) => v + eps * d[i]), H, W).loss.total;
        const fm = objectiveCpu(weights, cfg, targets, x64.map((v, i) => v - eps * d[i]), H, W).loss.total;
        const fd = (fp - fm) / (2 * eps);
        let an = 0;
        let gg = 0;
        let dd = 0;
        for (let i = 0; i < d.length; i++) {
          an += ref.grad[i] * d[i];
          gg += ref.grad[i] ** 2;
          dd += d[i] ** 2;
        }
        // Scale: |g|*|d| (a directional derivative can be small through cancellation).
        const err = Math.abs(fd - an) / Math.sqrt(gg * dd);
        console.log(`${preset}: direction ${r}: analytic ${an.toExponential(8)} finite difference ${fd.toExponential(8)}, |fd-an|/(|g||d|) = ${err.toExponential(2)}`);
        expect(err).toBeLessThan(1e-6); // measured <= 1.3e-7
      }
    });
  }
});
