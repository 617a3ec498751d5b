// The optimizers (src/optim/) and their GPU vector kernels (shaders/vec_*.wgsl).
//
//  1. Every vec kernel against its CPU reference (src/ref/vec.ts) at odd lengths 1, 7, 1000,
//     65537, with the coefficient read from uniforms and from the scalars buffer, non-finite
//     entries counted, and more partials than one finish workgroup has invocations; and on
//     segmented vectors (one buffer per row band of an image over the buffer limit), with a
//     1-element segment and segments whose partial regions are padded to the offset alignment.
//  2. The GPU two-loop recursion against twoLoopCpu, including the ring buffer's eviction.
//  3. The line search (CPU logic) on 1-D functions: cubic interpolation exact on a cubic, a
//     strong-Wolfe point found, non-finite steps rejected.
//  4. L-BFGS on functions with known minima (chained Rosenbrock in 2, 10, 100 dimensions from
//     [-1.2, 1, ...], a convex quadratic with n = 1000 and condition number < 100), reaching the
//     minimum, with the evaluation count compared with scipy's fmin_l_bfgs_b on the same start
//     (test/fixtures/scipy_lbfgs.json, made by test/fixtures/scipy_lbfgs.py).
//  5. Safeguards: non-finite regions, non-positive curvature, a hopeless objective, the rounds
//     schedule's per-round budget, shouldStop.
//  6. Adam on the quadratic.
// The test objectives are computed on the CPU in float64 from a read-back of x (f32) and write
// the gradient with queue.writeBuffer.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/device.ts';
import { uploadStorage } from '../src/gpu/runtime.ts';
import { minimizeAdam } from '../src/optim/adam.ts';
import { Lbfgs, minimizeLbfgs, roundOver } from '../src/optim/lbfgs.ts';
import { LbfgsHistory } from '../src/optim/lbfgs_history.ts';
import { cubicInterpolate, strongWolfe, type Trial } from '../src/optim/line_search.ts';
import type { Objective, OptimizeResult } from '../src/optim/types.ts';
import { createVectorOf, destroyVector, type GpuVec, NONE, R_EVAL, R_PAIR, readVector, uploadVector, VecOps } from '../src/optim/vecops.ts';
import { coefficientCpu, vecAdamCpu, vecAxpyCpu, vecDotCpu, vecScaleCopyCpu, twoLoopCpu } from '../src/ref/vec.ts';
import { compare, gpu, printRecorded, randomArray, record, report } from './helpers.ts';

afterAll(() => printRecorded('vec kernel errors vs CPU reference (max abs, max rel, worst error / tolerance):'));

const EPS32 = 2 ** -24;

// ---------------------------------------------------------------------------------------------
// 1. vec kernels
// ---------------------------------------------------------------------------------------------

describe('vec kernels vs CPU reference', () => {
  const cases: Array<[number, number, number[]?]> = [[1, 256], [7, 256], [1000, 256], [65537, 256], [1000, 64], [1000, 256, [333, 1, 666]], [65537, 256, [40000, 25537]]];
  for (const [n, wg, segs] of cases) {
    it(`n = ${n}, workgroup ${wg}${segs ? `, segments ${segs.join(' + ')}` : ''}`, async () => {
      const ctx = await gpu();
      const segments = segs ?? [n];
      // maxPartials 1000: n = 65537 gets 257 partials, more than vec_dot_finish's 256 invocations
      const ops = await VecOps.create(ctx, segments, { maxPartials: 1000, workgroupSize: wg });
      expect(ops.n).toBe(n);
      const up = (a: Float32Array, label: string) => uploadVector(ctx, a, segments, label);
      const x = randomArray(n, n + 1);
      const y = randomArray(n, n + 2);
      const S = randomArray(32, n + 3, -2, 2);
      ops.writeScalars(0, S);
      const X = up(x, 'x');
      const vec = (v: GpuVec) => readVector(ctx, v, segments);
      const tol = { atol: 1e-6, rtol: 1e-6 };

      const cases: Array<[string, { c?: number; plus?: number; minus?: number }]> = [
        ['c = -0.75', { c: -0.75 }],
        ['c * S[20]', { c: 2, plus: 20 }],
        ['S[20] - S[21]', { c: 1, plus: 20, minus: 21 }],
      ];
      for (const [label, coef] of cases) {
        const a = coefficientCpu(S, coef.c ?? 1, coef.plus ?? NONE, coef.minus ?? NONE);
        const Y = up(y, 'y');
        await ops.batch('axpy').axpy(Y, X, coef).submit();
        const ca = record(`vec_axpy ${label} n=${n} WG=${wg}`, compare(await vec(Y), vecAxpyCpu(a, x, y), tol.atol, tol.rtol));
        expect(ca.ok, report('axpy', ca)).toBe(true);
        await ops.batch('scale').scaleCopy(Y, X, coef).submit();
        const cs = record(`vec_scale_copy ${label} n=${n} WG=${wg}`, compare(await vec(Y), vecScaleCopyCpu(a, x), tol.atol, tol.rtol));
        expect(cs.ok, report('scale_copy', cs)).toBe(true);
        destroyVector(Y);
      }

      // dot with non-finite entries
      const xb = Float32Array.from(x);
      const yb = Float32Array.from(y);
      if (n >= 7) {
        xb[3] = NaN;
        yb[n - 1] = Infinity;
        xb[n - 1] = -Infinity;
      }
      const Xb = up(xb, 'x bad');
      const Yb = up(yb, 'y bad');
      await ops.batch('dot').dot(Xb, Yb, R_EVAL).submit();
      const bad = await ops.readDot(R_EVAL);
      expect(bad.nonFinite).toBe(vecDotCpu(xb, yb).nonFinite);

      // dot, |a|^2, max|a| and the scaled copy of the dot
      const Y = up(y, 'y');
      await ops.batch('dot').dot(X, Y, R_PAIR, { dst: 25, by: 20 }).submit();
      const r = await ops.readScalars(R_PAIR, 4);
      const scaled = (await ops.readScalars(25, 1))[0];
      const ref = vecDotCpu(x, y);
      // f32 summation bound: each invocation adds ceil(n_k / (WG P_k)) terms in sequence (segment k),
      // then two trees of depth log2(WG) and log2(P) (+1 for a fold): |error| <= depth * eps32 * sum |terms| (x2 margin)
      const P = ops.partialCount;
      const depth = Math.max(...ops.segs.map((sg) => Math.ceil(sg.n / (wg * sg.P)))) + Math.log2(wg) + Math.ceil(Math.log2(P)) + 2;
      const bound = (sumAbs: number) => 2 * depth * EPS32 * sumAbs + 1e-30;
      const got = { dot: r[0], sumSq: r[1], maxAbs: r[2], nonFinite: r[3] };
      const lines = [
        `vec_dot n=${n} WG=${wg} (P=${P}): a.b ${got.dot} ref ${ref.dot} err ${Math.abs(got.dot - ref.dot).toExponential(2)} bound ${bound(ref.sumAbsProducts).toExponential(2)}`,
        `  a.a ${got.sumSq} ref ${ref.sumSq}; max|a| ${got.maxAbs} ref ${ref.maxAbs}; scaled ${scaled} ref ${S[20] * ref.dot}`,
      ];
      console.log(lines.join('\n'));
      expect(Math.abs(got.dot - ref.dot)).toBeLessThanOrEqual(bound(ref.sumAbsProducts));
      expect(Math.abs(got.sumSq - ref.sumSq)).toBeLessThanOrEqual(bound(ref.sumSq));
      expect(got.maxAbs).toBe(Math.fround(ref.maxAbs));
      expect(got.nonFinite).toBe(0);
      expect(Math.abs(scaled - S[20] * ref.dot)).toBeLessThanOrEqual(Math.abs(S[20]) * bound(ref.sumAbsProducts) + 4 * EPS32 * Math.abs(S[20] * ref.dot));

      // Adam: two steps from zero moments
      const g1 = randomArray(n, n + 4);
      const g2 = randomArray(n, n + 5, -3, 3);
      const XA = up(x, 'adam x');
      const M = ops.createVector('m');
      const V = ops.createVector('v');
      const G1 = up(g1, 'g1');
      const G2 = up(g2, 'g2');
      const hp = { lr: 0.3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
      let st = vecAdamCpu(x, new Float64Array(n), new Float64Array(n), g1, { ...hp, t: 1 });
      st = vecAdamCpu(st.x, st.m, st.v, g2, { ...hp, t: 2 });
      const bc = (t: number) => ({ bc1: 1 - hp.beta1 ** t, bc2: 1 - hp.beta2 ** t });
      await ops.batch('adam').adam(XA, M, V, G1, { ...hp, ...bc(1) }).adam(XA, M, V, G2, { ...hp, ...bc(2) }).submit();
      for (const [name, buf, want] of [['x', XA, st.x], ['m', M, st.m], ['v', V, st.v]] as const) {
        const c = record(`vec_adam ${name} n=${n} WG=${wg}`, compare(await vec(buf), want, 1e-6, 1e-5));
        expect(c.ok, report(`adam ${name}`, c)).toBe(true);
      }
      // copy and clear cover every segment
      const C = ops.createVector('copy');
      await ops.batch('copy').copy(C, X).submit();
      expect(Array.from(await vec(C))).toEqual(Array.from(await vec(X)));
      await ops.batch('clear').clear(C).submit();
      expect((await vec(C)).every((v) => v === 0)).toBe(true);
      // a vector of the wrong layout is refused, naming the counts
      if (segments.length > 1) {
        const one = createVectorOf(ctx, [n], 'unsegmented');
        expect(() => ops.batch('bad').axpy(one, X, { c: 1 })).toThrow(/1 buffer\(s\) given to VecOps of \d+ segment/);
        destroyVector(one);
      }
      for (const v of [X, Xb, Yb, Y, XA, M, V, G1, G2, C]) destroyVector(v);
      ops.destroy();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 2. two-loop recursion
// ---------------------------------------------------------------------------------------------

describe('L-BFGS two-loop recursion on the GPU vs twoLoopCpu', () => {
  for (const [m, pushes] of [
    [5, 3],
    [3, 7],
  ]) {
    it(`history ${m}, ${pushes} pairs pushed (n = 1001)`, async () => {
      const ctx = await gpu();
      const n = 1001;
      const ops = await VecOps.create(ctx, n);
      const hist = new LbfgsHistory(ops, m);
      const zero = ops.createVector('zero');
      const diag = randomArray(n, 77, 0.5, 5);
      const S: Float32Array[] = [];
      const Y: Float32Array[] = [];
      for (let k = 0; k < pushes; k++) {
        const s = randomArray(n, 100 + k);
        const y = Float32Array.from(s, (v, i) => diag[i] * v + 0.05 * Math.sin(i + k));
        const sB = [uploadStorage(ctx, s, 's')];
        const yB = [uploadStorage(ctx, y, 'y')];
        const b = ops.batch('pair');
        hist.recordCandidate(b, sB, 1, yB, zero);
        await b.submit();
        const pair = await ops.readDot(R_PAIR);
        const ys = vecDotCpu(y, s).dot;
        expect(Math.abs(pair.dot - ys)).toBeLessThan(1e-4 * Math.abs(ys));
        hist.accept(pair.dot, pair.sumSq);
        S.push(s);
        Y.push(y);
        destroyVector(sB);
        destroyVector(yB);
      }
      expect(hist.length).toBe(Math.min(m, pushes));
      const g = randomArray(n, 999);
      const gB = [uploadStorage(ctx, g, 'g')];
      const dB = ops.createVector('d');
      const b = ops.batch('two-loop');
      hist.encodeDirection(b, gB, dB);
      const dispatches = b.dispatchCount;
      await b.submit();
      const d = await readVector(ctx, dB, [n]);
      const ref = twoLoopCpu(g, S.slice(-m), Y.slice(-m));
      const scale = Math.max(...Array.from(ref, Math.abs));
      const c = record(`two-loop m=${m} pushes=${pushes} (${dispatches} dispatches, one submission)`, compare(d, ref, 1e-5 * scale, 1e-4));
      expect(c.ok, report('two-loop', c)).toBe(true);
      const dg = await ops.readDot(R_EVAL);
      expect(Math.abs(dg.dot - vecDotCpu(ref, g).dot)).toBeLessThan(1e-4 * vecDotCpu(ref, g).sumAbsProducts);
      hist.destroy();
      for (const v of [zero, gB, dB]) destroyVector(v);
      ops.destroy();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 3. line search (CPU logic, 1-D)
// ---------------------------------------------------------------------------------------------

describe('strong-Wolfe line search', () => {
  it('cubic interpolation is exact on a cubic', () => {
    // p(t) = t^3 - 3t, local minimum at t = 1
    const p = (t: number) => t ** 3 - 3 * t;
    const dp = (t: number) => 3 * t * t - 3;
    expect(cubicInterpolate(0, p(0), dp(0), 2, p(2), dp(2))).toBeCloseTo(1, 12);
    expect(cubicInterpolate(2, p(2), dp(2), -0.5, p(-0.5), dp(-0.5))).toBeCloseTo(1, 12);
    // no real minimizer: the middle of the bounds
    expect(cubicInterpolate(0, 0, 2, 1, 1, 2, [0, 4])).toBe(2);
    // the same pair of points (0/0): also the middle
    expect(cubicInterpolate(1, 0, -1, 1, 0, -1, [1, 3])).toBe(2);
  });

  const lineFn = (phi: (t: number) => number, dphi: (t: number) => number) => async (t: number): Promise<Trial<number>> => {
    const f = phi(t);
    const gtd = dphi(t);
    return { f, gtd, g: t, finite: Number.isFinite(f) && Number.isFinite(gtd) };
  };

  it('finds a point satisfying the strong Wolfe conditions', async () => {
    // phi(t) = (t - 3)^2 + 0.5 sin(2t): starts with phi'(0) = -5
    const phi = (t: number) => (t - 3) ** 2 + 0.5 * Math.sin(2 * t);
    const dphi = (t: number) => 2 * (t - 3) + Math.cos(2 * t);
    for (const t0 of [0.01, 1, 20]) {
      const r = await strongWolfe(lineFn(phi, dphi), phi(0), 0, dphi(0), t0, { dNormInf: 1 });
      expect(r.status).toBe('wolfe');
      expect(r.f).toBeLessThanOrEqual(phi(0) + 1e-4 * r.t * dphi(0));
      expect(Math.abs(dphi(r.t))).toBeLessThanOrEqual(0.9 * Math.abs(dphi(0)));
    }
  });

  it('rejects non-finite points and shortens the step', async () => {
    // minimum at t = 30 but NaN beyond t = 2.2: no Wolfe point is admissible, the
    // extrapolation runs into the NaN region and the best points are just below 2.2
    const phi = (t: number) => (t > 2.2 ? NaN : (t - 30) ** 2);
    const dphi = (t: number) => (t > 2.2 ? NaN : 2 * (t - 30));
    const r = await strongWolfe(lineFn(phi, dphi), phi(0), 0, dphi(0), 0.5, { dNormInf: 1 });
    expect(r.rejected).toBeGreaterThan(0);
    expect(r.t).toBeGreaterThan(0.5);
    expect(r.t).toBeLessThanOrEqual(2.2);
    expect(Number.isFinite(r.f)).toBe(true);
    // a budget ends the search with the best point so far
    const b = await strongWolfe(lineFn(phi, dphi), phi(0), 0, dphi(0), 0.1, { dNormInf: 1, maxEvaluations: 3 });
    expect(b.evaluations).toBe(3);
    expect(b.status).toBe('budget');
    expect(b.f).toBeLessThan(phi(0));
  });
});

// ---------------------------------------------------------------------------------------------
// test objectives (CPU, float64)
// ---------------------------------------------------------------------------------------------

type FG = (x: Float32Array) => { f: number; g: Float64Array };

interface CountingObjective extends Objective {
  count: number;
}

/** A CPU test function as an Objective; `segments` stores x and g as several buffers (a banded image's layout). */
function cpuObjective(ctx: GpuContext, n: number, fg: FG, segments: number[] = [n]): CountingObjective {
  const obj: CountingObjective = {
    n,
    segments,
    count: 0,
    async evaluate(xv: GpuVec, gv: GpuVec) {
      obj.count++;
      const x = await readVector(ctx, xv, segments);
      const { f, g: g64 } = fg(x);
      const g = Float32Array.from(g64);
      let o = 0;
      for (const [k, len] of segments.entries()) {
        ctx.device.queue.writeBuffer(gv[k], 0, g.subarray(o, o + len));
        o += len;
      }
      return f;
    },
  };
  return obj;
}

/** scipy.optimize.rosen / rosen_der: sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2. */
const rosenbrock: FG = (x) => {
  const n = x.length;
  const g = new Float64Array(n);
  let f = 0;
  for (let i = 0; i < n - 1; i++) {
    const a = x[i + 1] - x[i] * x[i];
    const b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * x[i] * a - 2 * b;
    g[i + 1] += 200 * a;
  }
  return { f, g };
};

function rosenX0(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
}

/** 1/2 (x - x*)^T A (x - x*), A = tridiag(-1, 2 + 4/99, -1) (cond < 100), x*[i] = cos(0.1 i). */
const QUAD_DELTA = 4 / 99;
const quadTarget = (n: number) => Float64Array.from({ length: n }, (_, i) => Math.cos(0.1 * i));
function quadratic(n: number): FG {
  const target = quadTarget(n);
  return (x) => {
    const e = Float64Array.from(x, (v, i) => v - target[i]);
    const g = new Float64Array(n);
    let f = 0;
    for (let i = 0; i < n; i++) {
      g[i] = (2 + QUAD_DELTA) * e[i] - (i > 0 ? e[i - 1] : 0) - (i < n - 1 ? e[i + 1] : 0);
      f += 0.5 * e[i] * g[i];
    }
    return { f, g };
  };
}

const maxErr = (x: ArrayLike<number>, target: (i: number) => number) => {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - target(i)));
  return m;
};

interface ScipyCase {
  function: string;
  n: number;
  nfev: number;
  nit: number;
  f: number;
  x_err_inf: number;
}
interface ScipyRounds {
  function: string;
  n: number;
  rounds: number;
  maxfun: number;
  nfev_per_round: number[];
  /** per call: the evaluations counted when each iteration ended */
  nfev_at_iteration_ends: number[][];
  f: number;
}
const scipy = JSON.parse(readFileSync(new URL('./fixtures/scipy_lbfgs.json', import.meta.url), 'utf8')) as {
  scipy: string;
  cases: ScipyCase[];
  rounds: ScipyRounds[];
};

// ---------------------------------------------------------------------------------------------
// 4. L-BFGS on known minima, against scipy's evaluation counts
// ---------------------------------------------------------------------------------------------

/** Our evaluations may be at most FACTOR x scipy's + SLACK. */
const FACTOR = 1.5;
const SLACK = 5;
const table: string[] = [];
afterAll(() => {
  if (table.length) {
    console.log(
      [`L-BFGS evaluations vs scipy ${scipy.scipy} fmin_l_bfgs_b (m = 10; allowed: <= ${FACTOR} x scipy + ${SLACK})`,
        'function      n     ours nfev (nit)   scipy nfev (nit)   ours f       scipy f      ours |x-x*|inf  reason', ...table].join('\n'),
    );
  }
});

describe('L-BFGS reaches known minima with scipy-like evaluation counts', () => {
  const cases: Array<{ name: string; n: number; fg: (n: number) => FG; x0: (n: number) => Float32Array; target: (n: number) => (i: number) => number; xTol: number }> = [
    ...[2, 10, 100].map((n) => ({ name: 'rosenbrock', n, fg: () => rosenbrock, x0: rosenX0, target: () => () => 1, xTol: 1e-3 })),
    { name: 'quadratic', n: 1000, fg: quadratic, x0: (n: number) => new Float32Array(n), target: (n: number) => { const t = quadTarget(n); return (i: number) => t[i]; }, xTol: 1e-3 },
  ];
  for (const c of cases) {
    it(`${c.name} n = ${c.n}`, async () => {
      const ctx = await gpu();
      const ref = scipy.cases.find((s) => s.function === c.name && s.n === c.n)!;
      expect(ref, 'fixture case').toBeTruthy();
      const obj = cpuObjective(ctx, c.n, c.fg(c.n));
      const x0 = uploadStorage(ctx, c.x0(c.n), 'x0');
      const t0 = performance.now();
      const r = await minimizeLbfgs(ctx, obj, x0, { history: 10 });
      const ms = performance.now() - t0;
      const x = await readVector(ctx, r.x, [c.n]);
      const err = maxErr(x, c.target(c.n));
      table.push(
        `${c.name.padEnd(12)} ${String(c.n).padStart(4)}   ${String(r.evaluations).padStart(5)} (${r.iterations})`.padEnd(38) +
          `${String(ref.nfev).padStart(5)} (${ref.nit})`.padEnd(19) +
          `${r.loss.toExponential(2).padEnd(12)} ${ref.f.toExponential(2).padEnd(12)} ${err.toExponential(2).padEnd(15)} ${r.reason} (${(ms / 1000).toFixed(1)} s)`,
      );
      expect(obj.count).toBe(r.evaluations);
      expect(['converged-gtol', 'converged-ftol']).toContain(r.reason);
      expect(err).toBeLessThan(c.xTol);
      expect(r.loss).toBeLessThan(1e-6);
      expect(r.rejectedEvaluations).toBe(0);
      expect(r.evaluations).toBeLessThanOrEqual(FACTOR * ref.nfev + SLACK);
      x0.destroy();
      destroyVector(r.x);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 5. safeguards and schedules
// ---------------------------------------------------------------------------------------------

describe('L-BFGS safeguards and schedules', () => {
  it('converges through a region where the objective is NaN', async () => {
    // pseudo-Huber sum sqrt(1 + (x_i - 1)^2): almost linear far from the minimum, so the
    // bracketing phase extrapolates 10x per step and runs into x_i > 1.5, where f and g are NaN
    const n = 10;
    const fg: FG = (x) => {
      const g = new Float64Array(n);
      let f = 0;
      for (let i = 0; i < n; i++) {
        if (x[i] > 1.5) return { f: NaN, g: g.fill(NaN) };
        const e = x[i] - 1;
        const r = Math.sqrt(1 + e * e);
        f += r;
        g[i] = e / r;
      }
      return { f, g };
    };
    const ctx = await gpu();
    const obj = cpuObjective(ctx, n, fg);
    const x0 = uploadStorage(ctx, Float32Array.from({ length: n }, (_, i) => -20 - i), 'x0');
    const r = await minimizeLbfgs(ctx, obj, x0);
    const x = await readVector(ctx, r.x, [n]);
    console.log(`pseudo-Huber with NaN region: ${r.reason}, ${r.evaluations} evaluations, ${r.rejectedEvaluations} rejected, |x-1|inf ${maxErr(x, () => 1).toExponential(2)}`);
    expect(r.rejectedEvaluations).toBeGreaterThan(0);
    expect(['converged-gtol', 'converged-ftol']).toContain(r.reason);
    expect(maxErr(x, () => 1)).toBeLessThan(1e-3);
    expect(r.history.every((h) => Number.isFinite(h.loss))).toBe(true);
    x0.destroy();
    destroyVector(r.x);
  });

  it('stops with a clear reason when every step is non-finite, keeping x0', async () => {
    const n = 7;
    const start = randomArray(n, 5);
    let first = true;
    const fg: FG = (x) => {
      if (first) {
        first = false;
        return { f: 1, g: Float64Array.from(x, () => 1) };
      }
      return { f: NaN, g: new Float64Array(n).fill(NaN) };
    };
    const ctx = await gpu();
    const x0 = uploadStorage(ctx, start, 'x0');
    const r = await minimizeLbfgs(ctx, cpuObjective(ctx, n, fg), x0);
    console.log(`always-NaN objective: ${r.reason}: ${r.message}`);
    expect(r.reason).toBe('non-finite');
    expect(r.loss).toBe(1);
    expect(Array.from(await readVector(ctx, r.x, [n]))).toEqual(Array.from(start));
    x0.destroy();
    destroyVector(r.x);
  });

  it('clears the history when the curvature y.s is not positive', async () => {
    // concave f = -sum x_i^2 on the box |x_i| <= 5 (NaN outside): every line search ends at the
    // box without a Wolfe point, and y.s = -2 |s|^2 < 0
    const n = 3;
    const fg: FG = (x) => {
      if (x.some((v) => Math.abs(v) > 5)) return { f: NaN, g: new Float64Array(n).fill(NaN) };
      return { f: -x.reduce((s, v) => s + v * v, 0), g: Float64Array.from(x, (v) => -2 * v) };
    };
    const ctx = await gpu();
    const x0 = uploadStorage(ctx, Float32Array.from([1, -0.5, 0.25]), 'x0');
    const r = await minimizeLbfgs(ctx, cpuObjective(ctx, n, fg), x0, { maxEvaluations: 60 });
    const x = await readVector(ctx, r.x, [n]);
    console.log(`concave objective: ${r.reason}, ${r.iterations} iterations, ${r.historyResets} history resets, ${r.rejectedEvaluations} rejected, f ${r.loss}, x ${Array.from(x)}`);
    expect(r.historyResets).toBeGreaterThanOrEqual(1);
    expect(r.iterations).toBeGreaterThanOrEqual(1);
    expect(r.loss).toBeLessThan(-1.3125);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(x.every((v) => Math.abs(v) <= 5)).toBe(true);
    x0.destroy();
    destroyVector(r.x);
  });

  for (const ref of scipy.rounds) {
    it(`rounds schedule: ${ref.rounds} x ${ref.maxfun} evaluations on ${ref.function} n = ${ref.n}`, async () => {
      const ctx = await gpu();
      const obj = cpuObjective(ctx, ref.n, rosenbrock);
      const x0 = uploadStorage(ctx, rosenX0(ref.n), 'x0');
      const r = await minimizeLbfgs(ctx, obj, x0, { rounds: ref.rounds, evalsPerRound: ref.maxfun });
      console.log(
        `rounds ${ref.rounds} x ${ref.maxfun}, rosenbrock n=${ref.n}: ours per round [${r.roundEvaluations.join(', ')}] = ${r.evaluations}, f ${r.loss.toExponential(3)} (${r.reason}); ` +
          `scipy per call [${ref.nfev_per_round.join(', ')}] = ${ref.nfev_per_round.reduce((a, b) => a + b, 0)}, f ${ref.f.toExponential(3)}`,
      );
      expect(obj.count).toBe(r.evaluations);
      expect(r.roundEvaluations.reduce((a, b) => a + b, 0)).toBe(r.evaluations);
      expect(r.roundEvaluations.every((e) => e <= ref.maxfun)).toBe(true);
      expect(r.rounds).toBeLessThanOrEqual(ref.rounds);
      expect(r.loss).toBeLessThan(0.01 * rosenbrock(rosenX0(ref.n)).f);
      expect(r.loss).toBeLessThanOrEqual(Math.max(ref.f * 1.5, 1e-6) + 1e-9);
      x0.destroy();
      destroyVector(r.x);
    });
  }

  it("maxfun rule 'scipy' (roundOver) stops each fixture call where scipy stopped; 'exact' would stop at maxfun", () => {
    for (const ref of scipy.rounds) {
      ref.nfev_at_iteration_ends.forEach((ends, k) => {
        const nfev = ref.nfev_per_round[k];
        const stopAt = ends.find((c) => roundOver('scipy', c, ref.maxfun, true));
        if (nfev > ref.maxfun) expect(stopAt, `${ref.function} n=${ref.n} call ${k + 1}`).toBe(nfev);
        else expect(stopAt, `${ref.function} n=${ref.n} call ${k + 1} (converged)`).toBeUndefined();
        // never in the middle of an iteration, whatever the count
        expect(roundOver('scipy', ref.maxfun + 5, ref.maxfun, false)).toBe(false);
      });
      // the fixture's rounds do go over maxfun: the exact rule stops at maxfun, before scipy
      expect(Math.max(...ref.nfev_per_round)).toBeGreaterThan(ref.maxfun);
      expect(roundOver('exact', ref.maxfun, ref.maxfun, false)).toBe(true);
    }
  });

  for (const ref of scipy.rounds) {
    it(`rounds schedule with maxfunRule 'scipy': ${ref.rounds} x ${ref.maxfun} on ${ref.function} n = ${ref.n} ends each round at scipy's rule`, async () => {
      const ctx = await gpu();
      const obj = cpuObjective(ctx, ref.n, rosenbrock);
      const x0 = uploadStorage(ctx, rosenX0(ref.n), 'x0');
      const ends: number[][] = [];
      const r = await minimizeLbfgs(ctx, obj, x0, {
        rounds: ref.rounds,
        evalsPerRound: ref.maxfun,
        maxfunRule: 'scipy',
        onIteration: (info) => {
          if (info.iteration === 0) return;
          (ends[info.round] ??= []).push(info.evaluation);
        },
      });
      // counted as scipy counts: a round after the first repeats the evaluation at its start
      const counted = r.roundEvaluations.map((e, k) => e + (k > 0 ? 1 : 0));
      const total = counted.reduce((a, b) => a + b, 0);
      const scipyTotal = ref.nfev_per_round.reduce((a, b) => a + b, 0);
      console.log(
        `maxfun rule scipy, rosenbrock n=${ref.n}: ours per round (scipy's count) [${counted.join(', ')}] = ${total} (${r.evaluations} run), f ${r.loss.toExponential(3)} (${r.reason}); ` +
          `scipy [${ref.nfev_per_round.join(', ')}] = ${scipyTotal}, f ${ref.f.toExponential(3)}`,
      );
      expect(obj.count).toBe(r.evaluations);
      expect(r.evaluations).toBe(total - (r.rounds - 1));
      let before = 0;
      counted.forEach((c, k) => {
        const e = (ends[k] ?? []).map((v) => v - before + (k > 0 ? 1 : 0)); // the round's count at each iteration end
        before += r.roundEvaluations[k];
        if (c <= ref.maxfun) return; // a round that converged (ftol) before its budget
        // over the budget: it ended at the first iteration end above maxfun, not later, not mid-iteration
        expect(e[e.length - 1], `round ${k + 1}: ends at an iteration end`).toBe(c);
        if (e.length > 1) expect(e[e.length - 2], `round ${k + 1}: not over at the iteration before`).toBeLessThanOrEqual(ref.maxfun);
      });
      // the first round (which counts its start as it ran) goes over maxfun: the exact rule never does
      if (r.rounds > 1) expect(counted[0], 'round 1').toBeGreaterThan(ref.maxfun);
      expect(r.loss).toBeLessThan(0.01 * rosenbrock(rosenX0(ref.n)).f);
      x0.destroy();
      destroyVector(r.x);
    });
  }

  it('plain schedule: N iterations, and shouldStop', async () => {
    const ctx = await gpu();
    const n = 10;
    const x0 = uploadStorage(ctx, rosenX0(n), 'x0');
    const r = await minimizeLbfgs(ctx, cpuObjective(ctx, n, rosenbrock), x0, { maxIterations: 7 });
    expect(r.reason).toBe('max-iterations');
    expect(r.iterations).toBe(7);
    expect(r.history.length).toBe(8);
    destroyVector(r.x);
    const obj = cpuObjective(ctx, n, rosenbrock);
    const opt = await Lbfgs.create(ctx, obj, x0, { shouldStop: () => obj.count >= 12 });
    const s = await opt.run();
    expect(s.reason).toBe('stopped');
    expect(obj.count).toBe(12);
    expect(s.loss).toBeLessThan(rosenbrock(rosenX0(n)).f);
    const xs = await readVector(ctx, s.x, [n]);
    expect(rosenbrock(xs).f).toBeCloseTo(s.loss, 6);
    x0.destroy();
    destroyVector(s.x);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Adam
// ---------------------------------------------------------------------------------------------

describe('Adam', () => {
  it('decreases the quadratic (n = 1000) to near its minimum', async () => {
    const ctx = await gpu();
    const n = 1000;
    const fg = quadratic(n);
    const obj = cpuObjective(ctx, n, fg);
    const x0 = uploadStorage(ctx, new Float32Array(n), 'x0');
    const f0 = fg(new Float32Array(n)).f;
    const r: OptimizeResult = await minimizeAdam(ctx, obj, x0, { lr: 0.05, maxIterations: 400 });
    const x = await readVector(ctx, r.x, [n]);
    const t = quadTarget(n);
    const err = maxErr(x, (i) => t[i]);
    console.log(`Adam on the quadratic: f ${f0.toExponential(3)} -> ${r.loss.toExponential(3)} in ${r.evaluations} evaluations (${r.reason}), |x-x*|inf ${err.toExponential(2)}`);
    expect(obj.count).toBe(r.evaluations);
    expect(r.iterations).toBe(r.evaluations);
    expect(r.loss).toBeLessThan(1e-3 * f0);
    expect(err).toBeLessThan(0.05);
    x0.destroy();
    destroyVector(r.x);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. segmented vectors (an image stored in row bands): the optimizers run segment by segment
// ---------------------------------------------------------------------------------------------

describe('optimizers on segmented vectors', () => {
  // Only the order of float32 summation differs (each dot product is summed per segment, then
  // over the segments' partials), so the iterates agree to float32 rounding.
  const SEGMENTS = [400, 1, 599];
  const runBoth = async (run: (ctx: GpuContext, obj: CountingObjective, x0: GpuVec) => Promise<OptimizeResult>) => {
    const ctx = await gpu();
    const n = 1000;
    const out: Array<{ r: OptimizeResult; x: Float32Array; count: number }> = [];
    for (const segments of [[n], SEGMENTS]) {
      const obj = cpuObjective(ctx, n, quadratic(n), segments);
      const x0 = uploadVector(ctx, rosenX0(n), segments, 'x0');
      const r = await run(ctx, obj, x0);
      expect(r.x.length).toBe(segments.length);
      out.push({ r, x: await readVector(ctx, r.x, segments), count: obj.count });
      destroyVector(x0);
      destroyVector(r.x);
    }
    return out;
  };
  const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  it(`L-BFGS, 5 iterations, segments ${SEGMENTS.join(' + ')} vs one buffer`, async () => {
    const [one, seg] = await runBoth((ctx, obj, x0) => minimizeLbfgs(ctx, obj, x0, { maxIterations: 5, gtol: 0, ftol: 0 }));
    console.log(`L-BFGS segmented vs one buffer: loss ${seg.r.loss.toExponential(6)} vs ${one.r.loss.toExponential(6)} (rel ${relErr(seg.r.loss, one.r.loss).toExponential(2)}), max |dx| ${maxDiff(seg.x, one.x).toExponential(2)}`);
    expect(seg.r.iterations).toBe(5);
    expect(seg.r.evaluations).toBe(one.r.evaluations);
    // measured on lavapipe: loss rel 8.8e-9, max |dx| 1.2e-7 (one f32 ulp of x ~ 1); after 15
    // iterations the quadratic's loss has fallen 1000-fold and the same ulps are 1e-5 of it
    expect(relErr(seg.r.loss, one.r.loss)).toBeLessThan(1e-6);
    expect(maxDiff(seg.x, one.x)).toBeLessThan(1e-6);
  });

  it(`Adam, 30 steps, segments ${SEGMENTS.join(' + ')} vs one buffer`, async () => {
    const [one, seg] = await runBoth((ctx, obj, x0) => minimizeAdam(ctx, obj, x0, { lr: 0.05, maxIterations: 30 }));
    // the element-wise Adam step has no reduction: the iterates are identical
    expect(Array.from(seg.x)).toEqual(Array.from(one.x));
    expect(seg.r.loss).toBe(one.r.loss);
  });

  it('refuses a start point of the wrong layout, naming both counts', async () => {
    const ctx = await gpu();
    const obj = cpuObjective(ctx, 1000, quadratic(1000), SEGMENTS);
    const x0 = uploadVector(ctx, new Float32Array(1000), [1000], 'x0');
    await expect(minimizeLbfgs(ctx, obj, x0)).rejects.toThrow('x0 has 1 buffer(s) but the objective has 3 segment(s)');
    await expect(minimizeLbfgs(ctx, { ...obj, segments: [500, 499] }, x0)).rejects.toThrow('objective segments 500, 499 do not add up to n = 1000');
    destroyVector(x0);
  });
});
