// CPU references of the vector kernels used by the optimizers (shaders/vec_*.wgsl), in Float64
// with plain loops, plus the L-BFGS two-loop recursion they are assembled into
// (src/optim/lbfgs_history.ts) so the GPU direction can be checked against it.
// Shapes: flat [N] vectors; S is the scalars buffer (slot layout in src/optim/vecops.ts).

/** Marks an unused scalar slot in a coefficient (0xffffffff, as in the shaders). */
export const NONE_SLOT = 0xffffffff;

/** The coefficient rule shared by vec_axpy and its scaled copy (ACCUMULATE = false): a = c * (P - M), P = S[plus] or 1, M = S[minus] or 0. */
export function coefficientCpu(S: ArrayLike<number>, c: number, plus = NONE_SLOT, minus = NONE_SLOT): number {
  const P = plus === NONE_SLOT ? 1 : S[plus];
  const M = minus === NONE_SLOT ? 0 : S[minus];
  return c * (P - M);
}

/** vec_axpy: returns a*x + y. */
export function vecAxpyCpu(a: number, x: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < out.length; i++) out[i] = a * x[i] + y[i];
  return out;
}

/** vec_axpy with ACCUMULATE = false (the scaled copy): returns a*x. */
export function vecScaleCopyCpu(a: number, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = a * x[i];
  return out;
}

function notFinite(v: number): boolean {
  return !Number.isFinite(v);
}

/**
 * vec_dot + vec_dot_finish: [sum a*b, sum a^2, max |a|, count of i where a[i] or b[i] is not finite].
 * Non-finite elements are skipped in the sums here (the GPU's sums are then NaN/Inf; callers
 * look at the count). Also returns sumAbs = sum |a*b| and sumSq = sum a^2 for error bounds.
 */
export function vecDotCpu(a: ArrayLike<number>, b: ArrayLike<number>): { dot: number; sumSq: number; maxAbs: number; nonFinite: number; sumAbsProducts: number } {
  let dot = 0;
  let sumSq = 0;
  let maxAbs = 0;
  let nonFinite = 0;
  let sumAbsProducts = 0;
  for (let i = 0; i < a.length; i++) {
    if (notFinite(a[i]) || notFinite(b[i])) {
      nonFinite++;
      continue;
    }
    dot += a[i] * b[i];
    sumAbsProducts += Math.abs(a[i] * b[i]);
    sumSq += a[i] * a[i];
    maxAbs = Math.max(maxAbs, Math.abs(a[i]));
  }
  return { dot, sumSq, maxAbs, nonFinite, sumAbsProducts };
}

export interface AdamParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** step number, starting at 1 */
  t: number;
}

/** vec_adam: one bias-corrected Adam step; returns the new x, m, v. */
export function vecAdamCpu(
  x: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  g: ArrayLike<number>,
  p: AdamParams,
): { x: Float64Array; m: Float64Array; v: Float64Array } {
  const n = x.length;
  const xo = new Float64Array(n);
  const mo = new Float64Array(n);
  const vo = new Float64Array(n);
  const bc1 = 1 - p.beta1 ** p.t;
  const bc2 = 1 - p.beta2 ** p.t;
  for (let i = 0; i < n; i++) {
    mo[i] = p.beta1 * m[i] + (1 - p.beta1) * g[i];
    vo[i] = p.beta2 * v[i] + (1 - p.beta2) * g[i] * g[i];
    xo[i] = x[i] - (p.lr * (mo[i] / bc1)) / (Math.sqrt(vo[i] / bc2) + p.eps);
  }
  return { x: xo, m: mo, v: vo };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * The L-BFGS two-loop recursion (Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm
 * 7.4): returns d = -H g, with H the L-BFGS inverse-Hessian approximation from the pairs
 * (s[i], y[i]), oldest first, and H0 = gamma I, gamma = s_k.y_k / y_k.y_k of the newest pair.
 */
export function twoLoopCpu(g: ArrayLike<number>, s: ArrayLike<number>[], y: ArrayLike<number>[]): Float64Array {
  const k = s.length;
  const q = Float64Array.from(g, (v) => -v);
  const rho = s.map((si, i) => 1 / dot(y[i], si));
  const alpha = new Float64Array(k);
  for (let i = k - 1; i >= 0; i--) {
    alpha[i] = rho[i] * dot(s[i], q);
    for (let j = 0; j < q.length; j++) q[j] -= alpha[i] * y[i][j];
  }
  if (k > 0) {
    const gamma = dot(s[k - 1], y[k - 1]) / dot(y[k - 1], y[k - 1]);
    for (let j = 0; j < q.length; j++) q[j] *= gamma;
  }
  for (let i = 0; i < k; i++) {
    const beta = rho[i] * dot(y[i], q);
    for (let j = 0; j < q.length; j++) q[j] += (alpha[i] - beta) * s[i][j];
  }
  return q;
}
