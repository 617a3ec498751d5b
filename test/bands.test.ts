// Row bands (src/model/bands.ts) and the ops that run on them (src/model/banded_ops.ts), and the
// band-by-band reductions (gram_reduce and reduce_sum with ACCUMULATE): every
// op on banded tensors with awkward band layouts (1-row bands, a band of the halo's size, a last
// band shorter than the others) and chunk sizes (1 output row per chunk, several), against the
// CPU references; the result must equal the unbanded kernel's up to float32 rounding (the
// tolerances are the kernels' own).
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/device.ts';
import { createStorage, readFloats, uploadStorage } from '../src/gpu/runtime.ts';
import { type ConvShape, type ConvVersion, createWinogradBuffers } from '../src/kernels/conv3x3.ts';
import type { PoolMode } from '../src/kernels/pool2x2.ts';
import { type BandScratch, convBackwardBanded, convChunkRows, convForwardBanded, poolBackwardBanded, poolForwardBanded, type Step, tvLossBanded } from '../src/model/banded_ops.ts';
import { type Banded, bandRanges, copyRows, createBanded } from '../src/model/bands.ts';
import { encodeSteps } from '../src/model/vgg19.ts';
import { conv3x3BackwardCpu, conv3x3ForwardCpu, flipTransposeCpu } from '../src/ref/conv3x3.ts';
import { pool2x2BackwardCpu, pool2x2ForwardCpu } from '../src/ref/pool2x2.ts';
import { submitChecked, waitIdle } from '../src/gpu/runtime.ts';
import { gramForward, gramSplits } from '../src/kernels/gram.ts';
import { contentLoss } from '../src/kernels/losses.ts';
import { contentLossCpu, gramCpu, tvLossCpu } from '../src/ref/gram.ts';
import { compare, gpu, randomArray } from './helpers.ts';

/** A banded tensor with the given row ranges, holding `data` [H, W, C]. */
function upload(ctx: GpuContext, data: Float32Array, H: number, W: number, C: number, cuts: number[], label: string): Banded {
  const edges = [0, ...cuts, H];
  const bands = edges.slice(0, -1).map((r0, k) => {
    const r1 = edges[k + 1];
    return { r0, r1, buf: uploadStorage(ctx, data.slice(r0 * W * C, r1 * W * C), `${label} ${r0}-${r1}`) };
  });
  return { H, W, C, bands };
}

async function download(ctx: GpuContext, t: Banded): Promise<Float32Array> {
  const out = new Float32Array(t.H * t.W * t.C);
  for (const b of t.bands) out.set(await readFloats(ctx, b.buf, (b.r1 - b.r0) * t.W * t.C), b.r0 * t.W * t.C);
  return out;
}

async function run(ctx: GpuContext, steps: Step[]): Promise<void> {
  const enc = ctx.device.createCommandEncoder();
  encodeSteps(enc, steps);
  await submitChecked(ctx, [enc.finish()], 'banded op test');
  await waitIdle(ctx);
}

function scratchOf(ctx: GpuContext, bytes: number): BandScratch {
  return { bytes, s: [0, 1, 2, 3].map((k) => createStorage(ctx, bytes, `scratch ${k}`)) as BandScratch['s'] };
}

describe('row bands: layout and copies', () => {
  it('bandRanges: one band when it fits, else equal bands with a shorter last', () => {
    expect(bandRanges(10, 4, 2, 10 * 4 * 2 * 4)).toEqual([[0, 10]]);
    expect(bandRanges(10, 4, 2, 3 * 4 * 2 * 4 + 5)).toEqual([[0, 3], [3, 6], [6, 9], [9, 10]]);
    expect(() => bandRanges(10, 4, 2, 31)).toThrow(/one row of the tensor .* is larger than the buffer limit/);
  });

  it('copyRows splits at the band boundaries of both sides, with byte offsets', () => {
    const buf = (label: string) => ({ label }) as unknown as GPUBuffer;
    const [a0, a1, b0, b1] = [buf('a0'), buf('a1'), buf('b0'), buf('b1')];
    const src: Banded = { H: 6, W: 2, C: 1, bands: [{ r0: 0, r1: 4, buf: a0 }, { r0: 4, r1: 6, buf: a1 }] };
    const dst: Banded = { H: 6, W: 2, C: 1, bands: [{ r0: 0, r1: 1, buf: b0 }, { r0: 1, r1: 6, buf: b1 }] };
    const steps = copyRows(src, 0, dst, 0, 6).map((s) => [s.src.label, s.srcOffset, s.dst.label, s.dstOffset, s.bytes]);
    expect(steps).toEqual([
      ['a0', 0, 'b0', 0, 8],
      ['a0', 8, 'b1', 0, 24],
      ['a1', 0, 'b1', 24, 16],
    ]);
    expect(() => copyRows(src, 3, dst, 0, 4)).toThrow(/outside/);
  });
});

describe('ops on banded tensors vs CPU references', () => {
  // [H, W, Cin, Cout], the versions to run, the band cuts of the input/output, scratch rows per chunk
  const convCases: Array<{ s: ConvShape; versions: ConvVersion[]; cuts: number[]; chunk: number }> = [
    { s: { H: 9, W: 7, Cin: 12, Cout: 8 }, versions: ['v2', 'v3', 'v7'], cuts: [1, 2, 5], chunk: 1 }, // 1-row bands, 1-row chunks
    { s: { H: 11, W: 5, Cin: 16, Cout: 20 }, versions: ['v3', 'v7', 'v5'], cuts: [3, 6, 9], chunk: 4 }, // halo-sized band, short last
    { s: { H: 10, W: 6, Cin: 3, Cout: 16 }, versions: ['v3', 'v2'], cuts: [4, 8], chunk: 3 }, // the image layer
  ];
  for (const { s, versions, cuts, chunk } of convCases) {
    for (const v of versions) {
      it(`conv3x3 forward ${v} ${s.H}x${s.W} ${s.Cin}->${s.Cout}, cuts ${cuts}, ${chunk}-row chunks`, async () => {
        const ctx = await gpu();
        const x = randomArray(s.H * s.W * s.Cin, 1, -2, 2);
        const w = randomArray(9 * s.Cin * s.Cout, 2, -0.5, 0.5);
        const bias = randomArray(s.Cout, 3, -0.2, 0.2);
        const ref = conv3x3ForwardCpu(x, w, bias, s.H, s.W, s.Cin, s.Cout);
        const scratch = scratchOf(ctx, (chunk + 2) * s.W * Math.max(s.Cin, s.Cout) * 4);
        expect(convChunkRows(s, scratch.bytes)).toBe(chunk);
        const xb = upload(ctx, x, s.H, s.W, s.Cin, cuts, 'x');
        const yb = upload(ctx, new Float32Array(s.H * s.W * s.Cout), s.H, s.W, s.Cout, cuts.slice().reverse().map((c) => s.H - c), 'y');
        const winograd = v === 'v7' ? await createWinogradBuffers(ctx, { ...s, H: chunk + 2 }, 'forward', w) : undefined;
        const b = { x: xb, y: yb, w: uploadStorage(ctx, w, 'w'), bias: uploadStorage(ctx, bias, 'b'), winograd };
        await run(ctx, await convForwardBanded(ctx, v, s, b, scratch));
        const cmp = compare(await download(ctx, yb), ref, 4e-7 * Math.sqrt(9 * s.Cin), 1e-5);
        expect(cmp.ok, cmp.mismatches.join('; ')).toBe(true);
      });
    }
  }

  const backCases: Array<{ s: ConvShape; versions: ConvVersion[]; cuts: number[]; chunk: number }> = [
    { s: { H: 9, W: 7, Cin: 12, Cout: 8 }, versions: ['v2', 'v3', 'v7'], cuts: [1, 2, 5], chunk: 1 },
    { s: { H: 11, W: 5, Cin: 16, Cout: 20 }, versions: ['v3', 'v7', 'v1'], cuts: [3, 6, 9], chunk: 4 },
    { s: { H: 10, W: 9, Cin: 3, Cout: 16 }, versions: ['v6'], cuts: [4, 8], chunk: 3 },
  ];
  for (const { s, versions, cuts, chunk } of backCases) {
    for (const v of versions) {
      for (const accumulate of [false, true]) {
        it(`conv3x3 backward ${v} ${s.H}x${s.W} ${s.Cin}->${s.Cout}, cuts ${cuts}, ${chunk}-row chunks${accumulate ? ', accumulate' : ''}`, async () => {
          const ctx = await gpu();
          const dy = randomArray(s.H * s.W * s.Cout, 4);
          const y = randomArray(s.H * s.W * s.Cout, 5, -1, 1); // about half masked by the ReLU
          const w = randomArray(9 * s.Cin * s.Cout, 6, -0.5, 0.5);
          const prior = randomArray(s.H * s.W * s.Cin, 7);
          const ref = conv3x3BackwardCpu(dy, y, w, s.H, s.W, s.Cin, s.Cout);
          if (accumulate) for (let i = 0; i < ref.length; i++) ref[i] += prior[i];
          const scratch = scratchOf(ctx, (chunk + 2) * s.W * Math.max(s.Cin, s.Cout) * 4);
          const dxb = upload(ctx, accumulate ? prior : new Float32Array(prior.length), s.H, s.W, s.Cin, [2], 'dx');
          const b = {
            dy: upload(ctx, dy, s.H, s.W, s.Cout, cuts, 'dy'),
            y: upload(ctx, y, s.H, s.W, s.Cout, [5], 'y'),
            dx: dxb,
            w: uploadStorage(ctx, w, 'w'),
            wt: uploadStorage(ctx, flipTransposeCpu(w, s.Cin, s.Cout), 'wt'),
            g: null,
            winograd: v === 'v7' ? await createWinogradBuffers(ctx, { ...s, H: chunk + 2 }, 'backward', w) : undefined,
          };
          await run(ctx, await convBackwardBanded(ctx, v, s, b, accumulate, scratch));
          const cmp = compare(await download(ctx, dxb), ref, 4e-7 * Math.sqrt(9 * s.Cout), 1e-5);
          expect(cmp.ok, cmp.mismatches.join('; ')).toBe(true);
        });
      }
    }
  }

  for (const mode of ['max', 'avg'] as PoolMode[]) {
    for (const [H, W, C, cuts, chunkBytes] of [
      [9, 7, 4, [1, 2, 5], 3 * 7 * 4 * 4], // odd H (the last row is floored away), 1-row chunks
      [12, 5, 8, [4, 7], 7 * 5 * 8 * 4], // 3-row chunks, band cut at an odd row
    ] as Array<[number, number, number, number[], number]>) {
      it(`pool2x2 ${mode} forward and backward ${H}x${W}x${C}, cuts ${cuts}`, async () => {
        const ctx = await gpu();
        const Ho = Math.floor(H / 2);
        const Wo = Math.floor(W / 2);
        const x = randomArray(H * W * C, 8, -3, 3);
        const scratch = scratchOf(ctx, chunkBytes);
        const xb = upload(ctx, x, H, W, C, cuts, 'x');
        const yb = upload(ctx, new Float32Array(Ho * Wo * C), Ho, Wo, C, [1, 3], 'y');
        await run(ctx, await poolForwardBanded(ctx, mode, { x: xb, y: yb }, scratch));
        let cmp = compare(await download(ctx, yb), pool2x2ForwardCpu(x, H, W, C, mode), 1e-7, 1e-7);
        expect(cmp.ok, cmp.mismatches.join('; ')).toBe(true);
        for (const accumulate of [false, true]) {
          const dy = randomArray(Ho * Wo * C, 9);
          const prior = randomArray(H * W * C, 10);
          const ref = pool2x2BackwardCpu(dy, x, H, W, C, mode);
          if (accumulate) for (let i = 0; i < ref.length; i++) ref[i] += prior[i];
          const dxb = upload(ctx, accumulate ? prior : new Float32Array(prior.length).fill(7), H, W, C, [3], 'dx');
          const dyb = upload(ctx, dy, Ho, Wo, C, [2], 'dy');
          await run(ctx, await poolBackwardBanded(ctx, mode, { dy: dyb, x: xb, dx: dxb }, accumulate, scratch));
          cmp = compare(await download(ctx, dxb), ref, 1e-6, 1e-6);
          expect(cmp.ok, `${accumulate ? 'accumulate: ' : ''}${cmp.mismatches.join('; ')}`).toBe(true);
        }
      });
    }
  }

  // The image's TV loss: bands of 1 row, of the halo's size (1), a shorter last band; chunks of 1
  // row (scratch of 3 rows) and of several; the loss adds up over the chunks (reduce_sum
  // ACCUMULATE) and the gradient (vgg_grad + dTV/dx) is written into each band in place.
  for (const [H, W, cuts, scratchRows] of [
    [9, 7, [1, 2, 5], 3], // 1-row bands, 1-row chunks
    [11, 6, [4, 8], 4], // 2-row chunks inside 4-row bands, the last band 3 rows
    [10, 5, [5], 9], // chunks = bands
  ] as Array<[number, number, number[], number]>) {
    it(`tv loss ${H}x${W}, cuts ${cuts}, scratch of ${scratchRows} rows`, async () => {
      const ctx = await gpu();
      const x = randomArray(H * W * 3, 21, -50, 50);
      const vg = randomArray(H * W * 3, 22);
      const xb = upload(ctx, x, H, W, 3, cuts, 'x');
      const vgb = upload(ctx, vg, H, W, 3, cuts, 'vgg grad');
      const gb = upload(ctx, new Float32Array(H * W * 3).fill(7), H, W, 3, cuts, 'grad');
      const scalars = uploadStorage(ctx, new Float32Array([5, 5]), 'scalars');
      await run(ctx, await tvLossBanded(ctx, 0.1, 1, { x: xb, vggGrad: vgb, grad: gb, scalars }, scratchOf(ctx, scratchRows * W * 3 * 4)));
      const ref = tvLossCpu(x, H, W, 0.1);
      const cmp = compare(await download(ctx, gb), ref.grad.map((v, i) => v + vg[i]), 1e-4, 1e-5); // tv_loss's own tolerance (style_kernels.test.ts)
      expect(cmp.ok, cmp.mismatches.join('; ')).toBe(true);
      const [untouched, loss] = await readFloats(ctx, scalars, 2);
      expect(untouched).toBe(5);
      expect(Math.abs(loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(ref.loss));
    });
  }

  it('createBanded allocates bands within the limit', async () => {
    const ctx = await gpu();
    const t = createBanded(ctx, 10, 3, 4, 3 * 3 * 4 * 4, 'small');
    expect(t.bands.map((b) => [b.r0, b.r1])).toEqual([[0, 3], [3, 6], [6, 9], [9, 10]]);
    expect(t.bands.every((b) => b.buf.size <= 3 * 3 * 4 * 4)).toBe(true);
  });
});

describe('reductions over row bands (gram_reduce and reduce_sum ACCUMULATE) vs CPU references', () => {
  // A feature map F [N, C] split into bands of positions: 1, 2048 + 1 (crosses a split), the rest.
  for (const [N, C, cuts] of [
    [5000, 64, [1, 2050]],
    [300, 132, [7, 150, 299]], // C % 8 = 4: a half block (gram_forward needs C % 4 == 0)
  ] as Array<[number, number, number[]]>) {
    it(`Gram over bands: N=${N} C=${C}, cuts ${cuts}; content loss over the same bands`, async () => {
      const ctx = await gpu();
      const f = randomArray(N * C, N, 0, 1);
      const p = randomArray(N * C, N + 1, 0, 1);
      const edges = [0, ...cuts, N];
      const g = createStorage(ctx, C * C * 4, 'g');
      const maxN = Math.max(...edges.slice(1).map((e, k) => e - edges[k]));
      const partials = createStorage(ctx, gramSplits(maxN, C) * C * C * 4, 'partials');
      const scalars = createStorage(ctx, 16, 'scalars');
      const steps: Step[] = [];
      const dfs: GPUBuffer[] = [];
      for (let k = 0; k < edges.length - 1; k++) {
        const [a, e] = [edges[k], edges[k + 1]];
        const fb = uploadStorage(ctx, f.slice(a * C, e * C), `f ${k}`);
        for (const d of (await gramForward(ctx, e - a, C, { f: fb, g, partials }, k > 0)).dispatches) steps.push({ kind: 'dispatch', d });
        const df = createStorage(ctx, (e - a) * C * 4, `df ${k}`);
        dfs.push(df);
        const op = await contentLoss(ctx, (e - a) * C, 0.5, 1, { f: fb, target: uploadStorage(ctx, p.slice(a * C, e * C), `p ${k}`), df, scalars }, false, k > 0);
        for (const d of op.dispatches) steps.push({ kind: 'dispatch', d });
      }
      await run(ctx, steps);
      const gRef = gramCpu(f, N, C);
      let cmp = compare(await readFloats(ctx, g, C * C), gRef, 1e-6 * N ** 0.5, 4e-6);
      expect(cmp.ok, cmp.mismatches.join('; ')).toBe(true);
      const ref = contentLossCpu(f, p, 0.5);
      const loss = (await readFloats(ctx, scalars, 2))[1];
      expect(Math.abs(loss - ref.loss)).toBeLessThanOrEqual(1e-5 * ref.loss);
      const got = new Float32Array(N * C);
      for (let k = 0; k < dfs.length; k++) got.set(await readFloats(ctx, dfs[k], (edges[k + 1] - edges[k]) * C), edges[k] * C);
      cmp = compare(got, ref.grad, 1e-7, 1e-6);
      expect(cmp.ok, cmp.mismatches.join('; ')).toBe(true);
    });
  }
});
