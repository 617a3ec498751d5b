// Every kernel version against its CPU reference on random inputs, odd shapes included
// (1x1, 7x13, channel counts 3, 5, 64, 130 that are not multiples of any tile), and every
// backward CPU reference against central finite differences in Float64.
//
// Tolerances (|got - ref| <= atol + rtol*|ref|) come from measured float32 error: the conv
// kernels' is convTolerance (src/ref/conv3x3.ts, which says how it was measured; v9's F(4x4, 3x3)
// has a larger one); the errors of this run are printed at the end.
import { afterAll, describe, expect, it } from 'vitest';
import { createStorage, createUniform, grid1d, makeDispatch, readFloats, runDispatches, uploadStorage } from '../src/gpu/runtime.ts';
import { CONV_VERSIONS, conv3x3Backward, conv3x3Forward, convUnavailable, createWinogradBuffers, isWinograd, supports, winogradKernel } from '../src/kernels/conv3x3.ts';
import { reluBackward } from '../src/kernels/elementwise.ts';
import { type GemmVersion, gemmUnavailable, matmul } from '../src/kernels/matmul.ts';
import { type PoolMode, pool2x2Backward, pool2x2Forward } from '../src/kernels/pool2x2.ts';
import { conv3x3BackwardCpu, conv3x3ForwardCpu, convTolerance, flipTransposeCpu } from '../src/ref/conv3x3.ts';
import { reluBackwardCpu } from '../src/ref/elementwise.ts';
import { winogradConvCpu, winogradInputCpu, winogradTiles, winogradWeightsCpu } from '../src/ref/winograd.ts';
import { flipTranspose } from '../src/model/conv_weights.ts';
import { matmulCpu } from '../src/ref/matmul.ts';
import { pool2x2BackwardCpu, pool2x2ForwardCpu } from '../src/ref/pool2x2.ts';
import { compare as compareRaw, gpu, printRecorded, randomArray, record, report } from './helpers.ts';
import { convCase } from './conv_case.ts';

let currentLabel = '';
const compare = (got: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol: number) =>
  record(currentLabel, compareRaw(got, ref, atol, rtol));
afterAll(() => printRecorded('kernel errors vs CPU reference (max abs, max rel, worst error / tolerance):'));

const SIZES: Array<[number, number]> = [
  [1, 1],
  [7, 13],
];
const CHANNELS = [1, 3, 5, 12, 64, 132];

describe('conv3x3 forward and backward vs CPU reference', () => {
  for (const [H, W] of SIZES) {
    for (const Cin of CHANNELS) {
      for (const Cout of CHANNELS) {
        it(`H=${H} W=${W} Cin=${Cin} Cout=${Cout}`, async () => {
          const ctx = await gpu();
          const s = { H, W, Cin, Cout };
          const { seed, w, yRef, dxRef, buffers: B } = convCase(ctx, s);
          const prior = randomArray(H * W * Cin, seed + 4);
          const dxAccRef = dxRef.map((v, i) => v + prior[i]);
          // Every conv shader runs in this loop, by version (named here so that a grep finds its test;
          // test/shaders_coverage.test.ts checks that each shader's name stands in its test file):
          //   v1 conv3x3_forward_v1, conv3x3_backward_v1     v2 conv3x3_forward_v2, conv3x3_backward_v2
          //   v3 conv3x3_forward_v3, conv3x3_backward_v3
          //   v5 conv3x3_forward_v5, conv3x3_backward_v5     v6 conv3x3_backward_v6 (backward only)
          //   v7 conv3x3_winograd_input_v7, conv3x3_winograd_gemm_v7, conv3x3_winograd_output_v7
          //   v8 the same with conv3x3_winograd_gemm_v8 (only where the device has 'subgroups')
          //   v9 conv3x3_winograd4_input_v9, conv3x3_winograd_gemm_v7, conv3x3_winograd4_output_v9
          for (const v of CONV_VERSIONS) {
            // v7, v8 and v9 (Winograd) read the transformed kernel and two scratch buffers
            const wf = isWinograd(v) && supports(v, s, 'forward') ? await createWinogradBuffers(ctx, s, 'forward', w, undefined, v) : undefined;
            const wb = isWinograd(v) && supports(v, s, 'backward') ? await createWinogradBuffers(ctx, s, 'backward', w, undefined, v) : undefined;
            const tolF = convTolerance(9 * Cin, v);
            const tolB = convTolerance(9 * Cout, v);
            const unavailable = convUnavailable(ctx, v);
            if (unavailable) {
              // v8 without the 'subgroups' feature: refused with the reason, never run
              if (H === 1 && Cin === 1 && Cout === 1) console.warn(`conv3x3 ${v} skipped: ${unavailable}`);
              if (supports(v, s, 'forward')) await expect(conv3x3Forward(ctx, v, s, { ...B, winograd: wf })).rejects.toThrow(/subgroups/);
              continue;
            }
            currentLabel = `conv3x3_forward_${v} ${H}x${W} ${Cin}->${Cout}`;
            if (!supports(v, s, 'forward')) {
              await expect(conv3x3Forward(ctx, v, s, B)).rejects.toThrow(/needs Cout % 4 == 0|needs Cin % 4 == 0 and Cout % 4 == 0|backward-only/);
            } else {
              await runDispatches(ctx, await conv3x3Forward(ctx, v, s, { ...B, winograd: wf }));
              const fwd = compare(await readFloats(ctx, B.y, yRef.length), yRef, tolF.atol, tolF.rtol);
              expect(fwd.ok, report(`forward ${v}`, fwd)).toBe(true);
            }
            if (!supports(v, s, 'backward')) {
              await expect(conv3x3Backward(ctx, v, s, { ...B, y: B.yRef })).rejects.toThrow(/needs Cin % 4 == 0|needs Cin <= 3/);
              continue;
            }

            currentLabel = `conv3x3_backward_${v} ${H}x${W} ${Cin}->${Cout}`;
            await runDispatches(ctx, await conv3x3Backward(ctx, v, s, { ...B, y: B.yRef, winograd: wb }));
            const bwd = compare(await readFloats(ctx, B.dx, dxRef.length), dxRef, tolB.atol, tolB.rtol);
            expect(bwd.ok, report(`backward ${v}`, bwd)).toBe(true);

            currentLabel = `conv3x3_backward_${v} accumulate ${H}x${W} ${Cin}->${Cout}`;
            const ctxDx = uploadStorage(ctx, prior, 'dx prior');
            await runDispatches(ctx, await conv3x3Backward(ctx, v, s, { ...B, y: B.yRef, dx: ctxDx, winograd: wb }, true));
            const acc = compare(await readFloats(ctx, ctxDx, dxRef.length), dxAccRef, tolB.atol, tolB.rtol);
            expect(acc.ok, report(`backward ${v} accumulate`, acc)).toBe(true);
          }
        });
      }
    }
  }
});

describe('Winograd F(2x2, 3x3) and F(4x4, 3x3) pieces (conv3x3 v7, v9)', () => {
  // The composition in Float64 is the direct convolution up to rounding (the transforms are
  // exact identities); measured 2e-15 relative here (F(4x4): 1e-14).
  for (const [H, W, Cin, Cout, m] of [
    [1, 1, 3, 4, 2],
    [7, 13, 5, 8, 2],
    [6, 4, 12, 3, 2],
    [1, 1, 3, 4, 4],
    [7, 13, 5, 8, 4],
    [9, 6, 12, 3, 4],
  ] as const) {
    it(`CPU composition = direct convolution, F(${m}x${m}, 3x3) ${H}x${W} ${Cin}->${Cout}`, () => {
      const x = randomArray(H * W * Cin, 81);
      const w = randomArray(9 * Cin * Cout, 82);
      const direct = conv3x3ForwardCpu(x, w, new Float32Array(Cout), H, W, Cin, Cout, false);
      const wino = winogradConvCpu(x, w, H, W, Cin, Cout, m);
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < direct.length; i++) {
        worst = Math.max(worst, Math.abs(wino[i] - direct[i]));
        scale = Math.max(scale, Math.abs(direct[i]));
      }
      expect(worst).toBeLessThanOrEqual(1e-12 * Math.max(1, scale));
    });
  }

  it('flipTranspose (src/model/conv_weights.ts) equals its reference', () => {
    for (const [Cin, Cout] of [
      [3, 4],
      [5, 8],
    ]) {
      const w = randomArray(9 * Cin * Cout, 83);
      // flipTranspose only moves values: exactly the reference's
      expect(Array.from(flipTranspose(w, Cin, Cout))).toEqual(Array.from(flipTransposeCpu(w, Cin, Cout)));
    }
  });

  // The model's Winograd kernel transform U = G g G^T runs on the device in float32; the reference
  // forms the literal products in Float64. The thirds and fifteenths of F(4x4)'s G are divisions,
  // so U is within a few float32 roundings of the exact value: the tolerance is 4 ulps (5e-7
  // relative) of max(1, |U|); measured at most 0.27 of it (TILE 4, 64x132).
  for (const m of [2, 4] as const) {
    it(`winograd_weights (TILE ${m}) on the GPU vs winogradWeightsCpu, K x N = 3x4, 5x8, 64x132`, async () => {
      const ctx = await gpu();
      for (const [K, N] of [
        [3, 4],
        [5, 8],
        [64, 132],
      ]) {
        const w = randomArray(9 * K * N, 84 + K);
        const { u, dispatch } = await winogradKernel(ctx, uploadStorage(ctx, w, 'w'), K, N, m === 4 ? 'v9' : 'v7', 'u');
        await runDispatches(ctx, [dispatch]);
        currentLabel = `winograd_weights TILE ${m} ${K}x${N}`;
        const ref = winogradWeightsCpu(w, K, N, m);
        const r = compare(await readFloats(ctx, u, ref.length), ref, 5e-7, 5e-7);
        expect(r.ok, report(currentLabel, r)).toBe(true);
      }
    });
  }

  // The input gradient's transform reads w flipped and transposed in place (FLIP): the same
  // float32 operations on the same values as transforming a host flip-transpose, so bit for bit
  // that, and within the 4-ulp tolerance above of the Float64 reference of the flipped kernel.
  for (const m of [2, 4] as const) {
    it(`winograd_weights (TILE ${m}, FLIP) from w [3, 3, Cin, Cout] = the transform of flipTranspose(w), Cin x Cout = 4x3, 8x5, 132x64`, async () => {
      const ctx = await gpu();
      const v = m === 4 ? 'v9' : 'v7';
      for (const [Cin, Cout] of [
        [4, 3],
        [8, 5],
        [132, 64],
      ]) {
        const w = randomArray(9 * Cin * Cout, 85 + Cin);
        const wt = flipTranspose(w, Cin, Cout); // [3, 3, Cout, Cin]: K = Cout, N = Cin
        const flipped = await winogradKernel(ctx, uploadStorage(ctx, w, 'w'), Cout, Cin, v, 'u flip', true);
        const plain = await winogradKernel(ctx, uploadStorage(ctx, wt, 'wt'), Cout, Cin, v, 'u of wt');
        await runDispatches(ctx, [flipped.dispatch, plain.dispatch]);
        const ref = winogradWeightsCpu(wt, Cout, Cin, m);
        const got = await readFloats(ctx, flipped.u, ref.length);
        expect(Array.from(got)).toEqual(Array.from(await readFloats(ctx, plain.u, ref.length)));
        currentLabel = `winograd_weights TILE ${m} FLIP ${Cin}x${Cout}`;
        const r = compare(got, ref, 5e-7, 5e-7);
        expect(r.ok, report(currentLabel, r)).toBe(true);
      }
    });
  }

  it('conv3x3_winograd_input_v7 on the GPU vs its CPU reference (7x13x5: partial tiles on both edges)', async () => {
    const ctx = await gpu();
    const [H, W, C] = [7, 13, 5];
    const x = randomArray(H * W * C, 91);
    const { tilesX, tiles } = winogradTiles(H, W);
    const v = createStorage(ctx, 16 * tiles * C * 4, 'v');
    const d = await makeDispatch(ctx, { shader: 'conv3x3_winograd_input_v7' }, [createUniform(ctx, [H, W, C, tilesX, 0, Math.ceil(H / 2)], 'p'), uploadStorage(ctx, x, 'x'), v], grid1d(tiles * C));
    await runDispatches(ctx, [d]);
    currentLabel = `conv3x3_winograd_input_v7 ${H}x${W}x${C}`;
    // each value is a sum of 4 inputs with coefficients +-1: exact up to 3 roundings
    const r = compare(await readFloats(ctx, v, 16 * tiles * C), winogradInputCpu(x, H, W, C), 1e-6, 0);
    expect(r.ok, report('conv3x3_winograd_input_v7', r)).toBe(true);
  });

  it('conv3x3_winograd4_input_v9 on the GPU vs its CPU reference (9x13x8: partial tiles on both edges)', async () => {
    const ctx = await gpu();
    const [H, W, C] = [9, 13, 8];
    const x = randomArray(H * W * C, 92);
    const { tilesX, tiles } = winogradTiles(H, W, 4);
    const v = createStorage(ctx, 36 * tiles * C * 4, 'v');
    const d = await makeDispatch(ctx, { shader: 'conv3x3_winograd4_input_v9' }, [createUniform(ctx, [H, W, C, tilesX, 0, Math.ceil(H / 4)], 'p'), uploadStorage(ctx, x, 'x'), v], grid1d(tiles * (C / 4)));
    await runDispatches(ctx, [d]);
    currentLabel = `conv3x3_winograd4_input_v9 ${H}x${W}x${C}`;
    // each value is B^T d B: up to 36 inputs of size <= 1 with coefficients whose products are at
    // most 25/4 in size and sum to at most 49 (the row sums of |B^T| are <= 7): f32 rounding of a
    // few ulps of 49, 2e-5; measured below 5e-6
    const r = compare(await readFloats(ctx, v, 36 * tiles * C), winogradInputCpu(x, H, W, C, 4), 2e-5, 0);
    expect(r.ok, report('conv3x3_winograd4_input_v9', r)).toBe(true);
  });

  for (const [v, m] of [['v7', 2], ['v9', 4]] as const) {
    it(`${v} in chunks of one tile row (scratch capped) equals the reference, forward and backward`, async () => {
      const ctx = await gpu();
      const [H, W, Cin, Cout] = [v === 'v9' ? 11 : 7, 13, 8, 12];
      const s = { H, W, Cin, Cout };
      const x = randomArray(H * W * Cin, 101);
      const w = randomArray(9 * Cin * Cout, 102, -0.2, 0.2);
      const bias = randomArray(Cout, 103, -0.1, 0.1);
      const dy = randomArray(H * W * Cout, 104);
      const yRef = conv3x3ForwardCpu(x, w, bias, H, W, Cin, Cout);
      const dxRef = conv3x3BackwardCpu(dy, new Float32Array(yRef), w, H, W, Cin, Cout);
      const oneRow = (K: number, N: number) => 4 * (m + 2) ** 2 * Math.ceil(W / m) * Math.max(K, N); // bytes of one tile row
      const y = createStorage(ctx, H * W * Cout * 4, 'y');
      const B = { x: uploadStorage(ctx, x, 'x'), w: uploadStorage(ctx, w, 'w'), bias: uploadStorage(ctx, bias, 'b'), y };
      const wf = await createWinogradBuffers(ctx, s, 'forward', w, oneRow(Cin, Cout), v);
      const fwd = await conv3x3Forward(ctx, v, s, { ...B, winograd: wf });
      expect(fwd.length).toBe(3 * Math.ceil(H / m)); // one chunk of 3 dispatches per tile row
      await runDispatches(ctx, fwd);
      currentLabel = `conv3x3_forward_${v} chunked ${H}x${W} ${Cin}->${Cout}`;
      const tf = convTolerance(9 * Cin, v);
      const rf = compare(await readFloats(ctx, y, yRef.length), yRef, tf.atol, tf.rtol);
      expect(rf.ok, report(`forward ${v} chunked`, rf)).toBe(true);
      const dx = createStorage(ctx, H * W * Cin * 4, 'dx');
      const wb = await createWinogradBuffers(ctx, s, 'backward', w, oneRow(Cout, Cin), v);
      const bwd = { dy: uploadStorage(ctx, dy, 'dy'), y: uploadStorage(ctx, new Float32Array(yRef), 'y'), w: B.w, wt: B.w, g: createStorage(ctx, H * W * Cout * 4, 'g'), dx, winograd: wb };
      await runDispatches(ctx, await conv3x3Backward(ctx, v, s, bwd));
      currentLabel = `conv3x3_backward_${v} chunked ${H}x${W} ${Cin}->${Cout}`;
      const tb = convTolerance(9 * Cout, v);
      const rb = compare(await readFloats(ctx, dx, dxRef.length), dxRef, tb.atol, tb.rtol);
      expect(rb.ok, report(`backward ${v} chunked`, rb)).toBe(true);
    });
  }

  it('v7 without its transformed kernel and scratch: a clear error', async () => {
    const ctx = await gpu();
    const buf = createStorage(ctx, 4096, 'x');
    const s = { H: 4, W: 4, Cin: 4, Cout: 4 };
    await expect(conv3x3Forward(ctx, 'v7', s, { x: buf, w: buf, bias: buf, y: buf })).rejects.toThrow(/conv3x3_forward_v7: needs the transformed kernel and scratch/);
    const small = createStorage(ctx, 16, 'small');
    await expect(conv3x3Forward(ctx, 'v7', s, { x: buf, w: buf, bias: buf, y: buf, winograd: { u: buf, v: small, m: small } })).rejects.toThrow(/scratch buffers too small/);
  });
});

// shaders pool2x2_forward and pool2x2_backward (max and avg, through src/kernels/pool2x2.ts)
describe('pool2x2 forward and backward vs CPU reference', () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 3],
    [2, 2, 1],
    [7, 13, 5],
    [8, 6, 64],
    [9, 11, 130],
  ];
  for (const mode of ['max', 'avg'] as PoolMode[]) {
    for (const [H, W, C] of shapes) {
      it(`${mode} H=${H} W=${W} C=${C}`, async () => {
        const ctx = await gpu();
        const Ho = Math.floor(H / 2);
        const Wo = Math.floor(W / 2);
        const x = randomArray(H * W * C, H * 31 + W * 7 + C);
        // a few exact ties (as after a ReLU, where many values are 0) exercise the tie rule
        for (let i = 0; i < x.length; i += 5) x[i] = 0;
        const dy = randomArray(Ho * Wo * C, C + 99);
        const prior = randomArray(H * W * C, C + 7);
        const yRef = pool2x2ForwardCpu(x, H, W, C, mode);
        const dxRef = pool2x2BackwardCpu(dy, x, H, W, C, mode);
        const bx = uploadStorage(ctx, x, 'x');
        const by = createStorage(ctx, Math.max(1, yRef.length) * 4, 'y');
        const bdy = uploadStorage(ctx, dy.length ? dy : new Float32Array(1), 'dy');
        const bdx = createStorage(ctx, x.length * 4, 'dx');
        const s = { H, W, C };
        currentLabel = `pool2x2 ${mode} ${H}x${W}x${C}`;
        await runDispatches(ctx, [await pool2x2Forward(ctx, mode, s, { x: bx, y: by })]);
        if (yRef.length) {
          const f = compare(await readFloats(ctx, by, yRef.length), yRef, 1e-7, 1e-6);
          expect(f.ok, report(`${mode} forward`, f)).toBe(true);
        }
        await runDispatches(ctx, [await pool2x2Backward(ctx, mode, s, { dy: bdy, x: bx, dx: bdx })]);
        const b = compare(await readFloats(ctx, bdx, dxRef.length), dxRef, 1e-7, 1e-6);
        expect(b.ok, report(`${mode} backward`, b)).toBe(true);
        const bacc = uploadStorage(ctx, prior, 'prior');
        await runDispatches(ctx, [await pool2x2Backward(ctx, mode, s, { dy: bdy, x: bx, dx: bacc }, true)]);
        const a = compare(await readFloats(ctx, bacc, dxRef.length), dxRef.map((v, i) => v + prior[i]), 1e-6, 1e-6);
        expect(a.ok, report(`${mode} backward accumulate`, a)).toBe(true);
      });
    }
  }
});

describe('relu_backward and matmul vs CPU reference', () => {
  // 1000: the vec4 kernel; 1001: the scalar one (the count is not a multiple of 4)
  for (const n of [1000, 1001]) {
    it(`relu_backward on ${n} values with zeros and negatives`, async () => {
      const ctx = await gpu();
      const y = randomArray(n, 5);
      for (let i = 0; i < y.length; i += 3) y[i] = 0;
      const dy = randomArray(n, 6);
      const g = createStorage(ctx, n * 4, 'g');
      const d = await reluBackward(ctx, n, { dy: uploadStorage(ctx, dy, 'dy'), y: uploadStorage(ctx, y, 'y'), g });
      expect(d.label).toBe(n % 4 === 0 ? 'relu_backward_vec4' : 'relu_backward');
      await runDispatches(ctx, [d]);
      currentLabel = d.label;
      const c = compare(await readFloats(ctx, g, n), reluBackwardCpu(dy, y), 0, 0);
      expect(c.ok, report(d.label, c)).toBe(true);
    });
  }

  // v8 (subgroup shuffles) runs only where the adapter has 'subgroups' (lavapipe: size 8);
  // elsewhere its cases are skipped with the reason. The shapes are odd on purpose: K not a
  // multiple of the subgroup size (a partial last chunk), M and N not multiples of 8.
  for (const gemm of ['v7', 'v8'] as GemmVersion[]) {
    const shader = `conv3x3_winograd_gemm_${gemm}`;
    for (const [M, N, K] of [
      [1, 4, 1],
      [37, 28, 53],
      [64, 132, 130],
      [9, 12, 7],
      [17, 516, 19],
    ]) {
      it(`${shader} (matmul) M=${M} N=${N} K=${K}`, async (t) => {
        const ctx = await gpu();
        const why = gemmUnavailable(ctx, gemm);
        if (why) return t.skip(`${shader}: ${why}`);
        const a = randomArray(M * K, M + N);
        const b = randomArray(K * N, K);
        const c = createStorage(ctx, M * N * 4, 'c');
        await runDispatches(ctx, [await matmul(ctx, { M, N, K }, { a: uploadStorage(ctx, a, 'a'), b: uploadStorage(ctx, b, 'b'), c }, shader, gemm)]);
        currentLabel = `${shader} ${M}x${N}x${K}`;
        const r = compare(await readFloats(ctx, c, M * N), matmulCpu(a, b, M, N, K), 1e-6 * Math.sqrt(K), 1e-5);
        expect(r.ok, report('matmul', r)).toBe(true);
      });
    }

    it(`${shader} (matmul) batched: 3 products of 9x12x7 in one dispatch (as conv3x3 v7/v8 run their 16 GEMMs)`, async (t) => {
      const ctx = await gpu();
      const why = gemmUnavailable(ctx, gemm);
      if (why) return t.skip(`${shader}: ${why}`);
      const [M, N, K, batch] = [9, 12, 7, 3];
      const a = randomArray(batch * M * K, 71);
      const b = randomArray(batch * K * N, 72);
      const c = createStorage(ctx, batch * M * N * 4, 'c');
      await runDispatches(ctx, [await matmul(ctx, { M, N, K, batch }, { a: uploadStorage(ctx, a, 'a'), b: uploadStorage(ctx, b, 'b'), c }, shader, gemm)]);
      const got = await readFloats(ctx, c, batch * M * N);
      for (let z = 0; z < batch; z++) {
        currentLabel = `${shader} batched ${M}x${N}x${K} product ${z}`;
        const ref = matmulCpu(a.subarray(z * M * K, (z + 1) * M * K), b.subarray(z * K * N, (z + 1) * K * N), M, N, K);
        const r = compare(got.subarray(z * M * N, (z + 1) * M * N), ref, 1e-6 * Math.sqrt(K), 1e-5);
        expect(r.ok, report(`matmul batch ${z}`, r)).toBe(true);
      }
    });
  }

  // v7's ACCUMULATE override (c += a b: the Gram backward onto a gradient already there), odd
  // shapes as above, batched too; v8 has no such override and says so.
  for (const [M, N, K, batch] of [
    [37, 28, 53, 1],
    [17, 516, 19, 1],
    [9, 12, 7, 3],
  ]) {
    it(`conv3x3_winograd_gemm_v7 (matmul) accumulate M=${M} N=${N} K=${K} batch=${batch}`, async () => {
      const ctx = await gpu();
      const a = randomArray(batch * M * K, M + 5);
      const b = randomArray(batch * K * N, K + 6);
      const prior = randomArray(batch * M * N, 7);
      const c = uploadStorage(ctx, prior, 'c');
      await runDispatches(ctx, [await matmul(ctx, { M, N, K, batch }, { a: uploadStorage(ctx, a, 'a'), b: uploadStorage(ctx, b, 'b'), c }, 'acc', 'v7', true)]);
      const got = await readFloats(ctx, c, batch * M * N);
      for (let z = 0; z < batch; z++) {
        currentLabel = `conv3x3_winograd_gemm_v7 accumulate ${M}x${N}x${K} product ${z}`;
        const ref = matmulCpu(a.subarray(z * M * K, (z + 1) * M * K), b.subarray(z * K * N, (z + 1) * K * N), M, N, K).map((v, i) => v + prior[z * M * N + i]);
        const r = compare(got.subarray(z * M * N, (z + 1) * M * N), ref, 1e-6 * Math.sqrt(K), 1e-5);
        expect(r.ok, report(`matmul accumulate batch ${z}`, r)).toBe(true);
      }
    });
  }

  it('matmul accumulates only in v7', async (t) => {
    const ctx = await gpu();
    const why = gemmUnavailable(ctx, 'v8');
    if (why) return t.skip(`conv3x3_winograd_gemm_v8: ${why}`);
    const buf = createStorage(ctx, 64, 'x');
    await expect(matmul(ctx, { M: 2, N: 4, K: 2 }, { a: buf, b: buf, c: buf }, 'x', 'v8', true)).rejects.toThrow(/accumulate is only in v7/);
  });

  it('matmul rejects N not a multiple of 4', async () => {
    const ctx = await gpu();
    const buf = createStorage(ctx, 64, 'x');
    await expect(matmul(ctx, { M: 2, N: 3, K: 2 }, { a: buf, b: buf, c: buf })).rejects.toThrow(/N must be a multiple of 4/);
  });
});

describe('backward CPU references vs central finite differences (Float64)', () => {
  const eps = 1e-6;
  /** Checks grad[i] against (L(x + eps e_i) - L(x - eps e_i)) / 2eps on `count` coordinates. */
  function fdCheck(x: Float64Array, loss: (x: Float64Array) => number, grad: ArrayLike<number>, count: number, seed: number) {
    const idx = randomArray(count, seed, 0, x.length);
    let worst = 0;
    for (const f of idx) {
      const i = Math.floor(f);
      const save = x[i];
      x[i] = save + eps;
      const lp = loss(x);
      x[i] = save - eps;
      const lm = loss(x);
      x[i] = save;
      const fd = (lp - lm) / (2 * eps);
      const err = Math.abs(fd - grad[i]) / (1e-6 + Math.abs(fd));
      worst = Math.max(worst, err);
      expect(Math.abs(fd - grad[i]), `coordinate ${i}: analytic ${grad[i]}, finite difference ${fd}`).toBeLessThan(1e-6 + 1e-5 * Math.abs(fd));
    }
    return worst;
  }
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  };

  it('conv3x3 (with ReLU) backward', () => {
    const [H, W, Cin, Cout] = [5, 6, 3, 4];
    const x = Float64Array.from(randomArray(H * W * Cin, 1));
    const w = randomArray(9 * Cin * Cout, 2, -0.5, 0.5);
    const b = randomArray(Cout, 3, -0.2, 0.2);
    const dy = randomArray(H * W * Cout, 4);
    const y = conv3x3ForwardCpu(x, w, b, H, W, Cin, Cout);
    const grad = conv3x3BackwardCpu(dy, y, w, H, W, Cin, Cout);
    fdCheck(x, (xx) => dot(dy, conv3x3ForwardCpu(xx, w, b, H, W, Cin, Cout)), grad, 40, 5);
  });

  it('conv3x3 backward through flipTranspose equals the direct chain rule', () => {
    // v2's formulation: dx = conv(g, flipTranspose(w)) with no bias and no ReLU.
    const [H, W, Cin, Cout] = [4, 5, 3, 6];
    const w = randomArray(9 * Cin * Cout, 8);
    const g = randomArray(H * W * Cout, 9);
    const viaFlip = conv3x3ForwardCpu(g, flipTransposeCpu(w, Cin, Cout), new Float32Array(Cin), H, W, Cout, Cin, false);
    const direct = conv3x3BackwardCpu(g, new Float32Array(H * W * Cout).fill(1), w, H, W, Cin, Cout);
    const c = compareRaw(viaFlip, direct, 1e-12, 1e-12);
    expect(c.ok, report('flip', c)).toBe(true);
  });

  for (const mode of ['max', 'avg'] as PoolMode[]) {
    it(`pool2x2 ${mode} backward (odd size 5x7)`, () => {
      const [H, W, C] = [5, 7, 3];
      const x = Float64Array.from(randomArray(H * W * C, 11));
      const dy = randomArray(2 * 3 * C, 12);
      const grad = pool2x2BackwardCpu(dy, x, H, W, C, mode);
      fdCheck(x, (xx) => dot(dy, pool2x2ForwardCpu(xx, H, W, C, mode)), grad, 60, 13);
    });
  }

  it('relu backward', () => {
    const x = Float64Array.from(randomArray(50, 21));
    const dy = randomArray(50, 22);
    const grad = reluBackwardCpu(dy, x.map((v) => Math.max(v, 0)));
    fdCheck(x, (xx) => dot(dy, xx.map((v) => Math.max(v, 0))), grad, 30, 23);
  });
});
