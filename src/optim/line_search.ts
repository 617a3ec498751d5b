// Line search along a direction d from x: finds a step t satisfying the strong Wolfe conditions
//   f(x + t d) <= f(x) + c1 t g.d               (sufficient decrease, Armijo)
//   |g(x + t d).d| <= c2 |g.d|                  (curvature, strong form)
// with c1 = 1e-4, c2 = 0.9.
//
// Ported from PyTorch, torch/optim/lbfgs.py: `_strong_wolfe` and `_cubic_interpolate`
// (BSD-3-Clause; they were themselves ported from torch7's optim/lswolfe.lua and
// optim/polyinterp.lua). The bracketing phase extrapolates by cubic interpolation within
// [t + 0.01 (t - t_prev), 10 t]; the zoom phase interpolates inside the bracket and, after a step
// too close to an end twice in a row, moves to 0.1 of the bracket width from it.
//
// Changes from the PyTorch original (all marked "not in PyTorch" below):
//  - The search is generic over the gradient handle G (a GPU buffer in lbfgs.ts) and gets f and
//    g.d of a trial point from the `evaluate` callback; only those scalars are needed here.
//  - Non-finite f or g.d at a trial point is never accepted: the step is halved toward the best
//    finite step so far and the point evaluated again; the smallest failing step also caps later
//    extrapolation. Every such evaluation counts.
//  - An evaluation budget (the round's or the run's maximum) ends the search early with the best
//    point found so far (never a point with a higher loss than the start).
//  - _cubic_interpolate returns the middle of the bounds when the interpolation is NaN (0/0).
//  - On max_ls PyTorch leaves bracket_gtd unset (it is not read then); it is set here.

/** What the caller's evaluation of one trial step reports. */
export interface Trial<G> {
  /** f(x + t d) */
  f: number;
  /** g(x + t d) . d */
  gtd: number;
  /** a handle to the gradient at x + t d */
  g: G;
  /** false when f, g.d or any gradient entry is NaN or infinite */
  finite: boolean;
}

export interface LineSearchOptions {
  /** sufficient-decrease constant (default 1e-4) */
  c1?: number;
  /** curvature constant (default 0.9) */
  c2?: number;
  /** stop zooming when |bracket| * max|d_i| falls below this (default 1e-9) */
  toleranceChange?: number;
  /** PyTorch's max_ls: at most maxIterations + 1 evaluations (default 25) */
  maxIterations?: number;
  /** at most this many evaluations (an outer budget; default unlimited) */
  maxEvaluations?: number;
  /** max |d_i|, for the bracket-size test */
  dNormInf: number;
}

export type LineSearchStatus =
  /** strong Wolfe conditions hold at t */
  | 'wolfe'
  /** the bracket became narrower than toleranceChange */
  | 'tolerance'
  /** maxIterations reached */
  | 'max-iterations'
  /** maxEvaluations reached */
  | 'budget';

export interface LineSearchResult<G> {
  /** the accepted step (0 when nothing better than the start was found) */
  t: number;
  f: number;
  g: G;
  gtd: number;
  evaluations: number;
  /** trial points rejected as non-finite */
  rejected: number;
  status: LineSearchStatus;
}

/**
 * The minimizer of the cubic interpolating (x1, f1, g1) and (x2, f2, g2) (values and
 * derivatives), clamped to bounds (default: the interval between x1 and x2); the middle of the
 * bounds when the cubic has no real minimizer. PyTorch's _cubic_interpolate.
 */
export function cubicInterpolate(x1: number, f1: number, g1: number, x2: number, f2: number, g2: number, bounds?: [number, number]): number {
  const [xmin, xmax] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2sq = d1 * d1 - g1 * g2;
  if (d2sq >= 0) {
    const d2 = Math.sqrt(d2sq);
    const minPos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)) : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    // not in PyTorch: a degenerate interpolation (0/0, e.g. x1 == x2) falls back to the middle
    if (!Number.isNaN(minPos)) return Math.min(Math.max(minPos, xmin), xmax);
  }
  return (xmin + xmax) / 2;
}

/**
 * Strong-Wolfe line search from a point with loss f0, gradient handle g0 and directional
 * derivative gtd0 < 0, starting with step t. `evaluate(t, keep)` evaluates f and g.d at x + t d;
 * `keep` lists the gradient handles the search still holds (the caller must not overwrite them).
 */
export async function strongWolfe<G>(
  evaluate: (t: number, keep: readonly G[]) => Promise<Trial<G>>,
  f0: number,
  g0: G,
  gtd0: number,
  t: number,
  options: LineSearchOptions,
): Promise<LineSearchResult<G>> {
  const c1 = options.c1 ?? 1e-4;
  const c2 = options.c2 ?? 0.9;
  const toleranceChange = options.toleranceChange ?? 1e-9;
  const maxLs = options.maxIterations ?? 25;
  const budget = options.maxEvaluations ?? Infinity;
  const dNorm = options.dNormInf;
  const f = f0;
  const g = g0;
  const gtd = gtd0;

  let evaluations = 0;
  let rejected = 0;
  let tBad = Infinity; // smallest step known to give a non-finite point
  const stop: { why: LineSearchStatus | null } = { why: null }; // why probe() gave up
  let keep: G[] = [g];

  // not in PyTorch: evaluates at t; on a non-finite point halves t toward tLow and tries again.
  // Returns null when the budget or the evaluation limit (maxLs + 1) runs out first.
  const probe = async (tTry: number, tLow: number): Promise<(Trial<G> & { t: number }) | null> => {
    for (;;) {
      if (evaluations >= budget) {
        stop.why = 'budget';
        return null;
      }
      if (evaluations >= maxLs + 1) {
        stop.why = 'max-iterations';
        return null;
      }
      const trial = await evaluate(tTry, keep);
      evaluations++;
      if (trial.finite && Number.isFinite(trial.f) && Number.isFinite(trial.gtd)) return { ...trial, t: tTry };
      rejected++;
      tBad = Math.min(tBad, tTry);
      tTry = tLow + 0.5 * (tTry - tLow);
    }
  };
  const done = (tOut: number, fOut: number, gOut: G, gtdOut: number, status: LineSearchStatus): LineSearchResult<G> => ({
    t: tOut,
    f: fOut,
    g: gOut,
    gtd: gtdOut,
    evaluations,
    rejected,
    status,
  });

  // evaluate objective and gradient using initial step
  const first = await probe(t, 0);
  if (!first) return done(0, f, g, gtd, stop.why!);
  t = first.t;
  let fNew = first.f;
  let gNew = first.g;
  let gtdNew = first.gtd;

  // bracket an interval containing a point satisfying the Wolfe criteria
  let tPrev = 0;
  let fPrev = f;
  let gPrev = g;
  let gtdPrev = gtd;
  let isDone = false;
  let lsIter = 0;
  let bracket: number[] = [];
  let bracketF: number[] = [];
  let bracketG: G[] = [];
  let bracketGtd: number[] = [];
  while (lsIter < maxLs) {
    // check conditions
    if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev)) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    if (Math.abs(gtdNew) <= -c2 * gtd) {
      bracket = [t];
      bracketF = [fNew];
      bracketG = [gNew];
      bracketGtd = [gtdNew];
      isDone = true;
      break;
    }
    if (gtdNew >= 0) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    // interpolate
    let minStep = t + 0.01 * (t - tPrev);
    let maxStep = t * 10;
    if (tBad < Infinity) {
      // not in PyTorch: stay below the smallest step known to be non-finite
      maxStep = Math.min(maxStep, t + 0.5 * (tBad - t));
      minStep = Math.min(minStep, maxStep);
    }
    const tmp = t;
    t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [minStep, maxStep]);
    // next step
    tPrev = tmp;
    fPrev = fNew;
    gPrev = gNew;
    gtdPrev = gtdNew;
    keep = [g, gPrev];
    const next = await probe(t, tPrev);
    lsIter++;
    if (!next) {
      // not in PyTorch: out of evaluations; t_prev passed the sufficient-decrease test and
      // is the lowest point so far
      return done(tPrev, fPrev, gPrev, gtdPrev, stop.why!);
    }
    t = next.t;
    fNew = next.f;
    gNew = next.g;
    gtdNew = next.gtd;
  }

  // reached max number of iterations?
  if (lsIter === maxLs) {
    bracket = [0, t];
    bracketF = [f, fNew];
    bracketG = [g, gNew];
    bracketGtd = [gtd, gtdNew];
  }

  // zoom phase: we now have a point satisfying the criteria, or a bracket around it. We refine
  // the bracket until we find the exact point satisfying the criteria
  let insufProgress = false;
  // find high and low points in bracket
  let [lowPos, highPos] = bracketF[0] <= bracketF[bracketF.length - 1] ? [0, 1] : [1, 0];
  let status: LineSearchStatus = isDone ? 'wolfe' : 'max-iterations';
  while (!isDone && lsIter < maxLs) {
    // line-search bracket is so small
    if (Math.abs(bracket[1] - bracket[0]) * dNorm < toleranceChange) {
      status = 'tolerance';
      break;
    }
    // compute new trial value
    t = cubicInterpolate(bracket[0], bracketF[0], bracketGtd[0], bracket[1], bracketF[1], bracketGtd[1]);
    // test that we are making sufficient progress: in case t is so close to boundary, we mark
    // that we are making insufficient progress, and if we have made insufficient progress in
    // the last step, or t is at one of the boundary, we move t to a position which is
    // 0.1 * len(bracket) away from the nearest boundary point.
    const bMax = Math.max(bracket[0], bracket[1]);
    const bMin = Math.min(bracket[0], bracket[1]);
    const eps = 0.1 * (bMax - bMin);
    if (Math.min(bMax - t, t - bMin) < eps) {
      // interpolation close to boundary
      if (insufProgress || t >= bMax || t <= bMin) {
        // evaluate at 0.1 away from boundary
        t = Math.abs(t - bMax) < Math.abs(t - bMin) ? bMax - eps : bMin + eps;
        insufProgress = false;
      } else {
        insufProgress = true;
      }
    } else {
      insufProgress = false;
    }
    // Evaluate new point
    keep = [g, bracketG[0], bracketG[1]];
    const next = await probe(t, bracket[lowPos]);
    lsIter++;
    if (!next) {
      status = stop.why!;
      break;
    }
    t = next.t;
    fNew = next.f;
    gNew = next.g;
    gtdNew = next.gtd;
    if (fNew > f + c1 * t * gtd || fNew >= bracketF[lowPos]) {
      // Armijo condition not satisfied or not lower than lowest point
      bracket[highPos] = t;
      bracketF[highPos] = fNew;
      bracketG[highPos] = gNew;
      bracketGtd[highPos] = gtdNew;
      [lowPos, highPos] = bracketF[0] <= bracketF[1] ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(gtdNew) <= -c2 * gtd) {
        // Wolfe conditions satisfied
        isDone = true;
        status = 'wolfe';
      } else if (gtdNew * (bracket[highPos] - bracket[lowPos]) >= 0) {
        // old high becomes new low
        bracket[highPos] = bracket[lowPos];
        bracketF[highPos] = bracketF[lowPos];
        bracketG[highPos] = bracketG[lowPos];
        bracketGtd[highPos] = bracketGtd[lowPos];
      }
      // new point becomes new low
      bracket[lowPos] = t;
      bracketF[lowPos] = fNew;
      bracketG[lowPos] = gNew;
      bracketGtd[lowPos] = gtdNew;
    }
  }
  if (!isDone && status === 'max-iterations' && stop.why) status = stop.why;

  // return stuff
  return done(bracket[lowPos], bracketF[lowPos], bracketG[lowPos], bracketGtd[lowPos], status);
}
