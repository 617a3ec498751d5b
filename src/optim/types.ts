// The interface between an objective (the style-transfer loss, or a test function) and the
// optimizers in this folder (L-BFGS in lbfgs.ts, Adam in adam.ts), and what they report.
//
// Vectors live on the GPU: x and the gradient are n f32 (flat; for style transfer the pixels in
// the objective's layout), each stored as one storage buffer per SEGMENT of the objective (one
// segment unless the objective says otherwise: an image larger than one GPU buffer is stored
// as row bands, see src/model/bands.ts and GpuVec in vecops.ts). The optimizers own x: they
// copy the caller's x0 into their own buffers and hand back buffers the caller then owns.

import { asVector, type GpuVec } from './vecops.ts';

/** A differentiable function of n variables evaluated on the GPU. */
export interface Objective {
  /** number of variables (f32 elements of x and of the gradient) */
  n: number;
  /**
   * How x and the gradient are stored: the lengths of their segments (consecutive element
   * ranges, one GPU buffer each), summing to n. Absent: one segment of n.
   */
  segments?: readonly number[];
  /**
   * Evaluates f at x (n f32, one buffer per segment, not to be modified), writes the gradient
   * into grad (the same layout) and returns f. Non-finite f or gradient entries are allowed
   * (the optimizers reject such points); throwing aborts the optimization.
   */
  evaluate(x: GpuVec, grad: GpuVec): Promise<number>;
}

/** Why an optimization stopped. */
export type StopReason =
  /** max |g_i| <= gtol (scipy's pgtol test, no bounds) */
  | 'converged-gtol'
  /** (f_old - f) / max(|f_old|, |f|, 1) <= ftol (scipy's factr * eps test) */
  | 'converged-ftol'
  /** the evaluation budget (maxEvaluations, or the rounds' total) is spent */
  | 'max-evaluations'
  /** maxIterations iterations done */
  | 'max-iterations'
  /** shouldStop() returned true */
  | 'stopped'
  /** every trial step of a line search gave a non-finite loss or gradient */
  | 'non-finite'
  /** the line search found no lower loss along the steepest-descent direction */
  | 'line-search-failed';

export interface IterationInfo {
  /** iterations completed (1 after the first accepted step; 0 for the starting point) */
  iteration: number;
  /** objective evaluations so far, all rounds together */
  evaluation: number;
  /** loss at the current x */
  loss: number;
  /** 0-based round (always 0 without a rounds schedule) */
  round: number;
  /** |g|_2 at the current x */
  gradNorm: number;
  /** |g|_inf at the current x */
  gradMax: number;
  /** the accepted step length along the search direction (0 for the starting point) */
  step: number;
  /** the current x (the best accepted point for L-BFGS); valid during the callback, do not modify */
  x: GpuVec;
}

/** Options common to the optimizers. */
export interface OptimizeOptions {
  /** stop after this many objective evaluations in all (default 15000, scipy's maxfun) */
  maxEvaluations?: number;
  /** stop after this many iterations in all (default 15000, scipy's maxiter) */
  maxIterations?: number;
  /** converged when max |g_i| <= gtol (default 1e-5, scipy's pgtol); 0 disables */
  gtol?: number;
  /** converged when the relative decrease of f in one iteration is <= ftol (default 2.22e-9 = scipy's factr 1e7 * eps64); 0 disables */
  ftol?: number;
  /** called after every iteration (and once for the starting point); awaited */
  onIteration?: (info: IterationInfo) => void | Promise<void>;
  /** polled between evaluations; true stops with reason 'stopped' (e.g. on Ctrl-C) */
  shouldStop?: () => boolean;
}

export interface OptimizeResult {
  /** the best point found (loss `loss`), n f32 in the objective's segments, buffers the caller now owns (destroy them) */
  x: GPUBuffer[];
  /** f at x (the best loss seen at an accepted point) */
  loss: number;
  /** same as loss (kept for readers who look for it by this name) */
  bestLoss: number;
  /** objective evaluations, every one counted (trial points and rejected non-finite ones too) */
  evaluations: number;
  /** iterations (accepted steps) */
  iterations: number;
  /** rounds started (1 without a rounds schedule) */
  rounds: number;
  reason: StopReason;
  /** a sentence saying why it stopped */
  message: string;
  /** loss at the starting point and after every iteration, with the evaluation count then */
  history: { iteration: number; evaluation: number; loss: number }[];
  /** |g|_2 and |g|_inf at x */
  gradNorm: number;
  gradMax: number;
  /** trial points rejected for a non-finite loss or gradient */
  rejectedEvaluations: number;
  /** evaluations used by each round (L-BFGS; one entry without a rounds schedule) */
  roundEvaluations: number[];
  /** times the L-BFGS history was cleared (non-positive curvature, non-descent direction, failed line search) */
  historyResets: number;
}

/** The segment lengths of an objective's vectors (checked: positive integers summing to n). */
export function objectiveSegments(objective: Objective): readonly number[] {
  const segs = objective.segments ?? [objective.n];
  if (segs.reduce((a, b) => a + b, 0) !== objective.n || segs.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new Error(`objective segments ${segs.join(', ')} do not add up to n = ${objective.n}`);
  }
  return segs;
}

/** x0 as the optimizers take it: one buffer (an unsegmented objective) or one per segment. */
export type StartPoint = GPUBuffer | GpuVec;

/** x0 as a GpuVec with one buffer per segment of `segments`. */
export function startVector(x0: StartPoint, segments: readonly number[]): GpuVec {
  return asVector(x0, segments.length, (n) => `x0 has ${n} buffer(s) but the objective has ${segments.length} segment(s)`);
}
