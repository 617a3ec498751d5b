// L-BFGS with the vectors on the GPU: x, the direction d, the gradients and the history pairs
// are n f32 each (one storage buffer per segment of the objective, see vecops.ts); dot products and norms are reduced on the GPU and only scalars
// come back (f from the objective; g.d, |g|, y.s, y.y from vec_dot).
//
// One iteration (after Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.5, and
// PyTorch's torch/optim/lbfgs.py `LBFGS.step`):
//   1. d = -H g by the two-loop recursion (lbfgs_history.ts), one submission, read back d.g;
//      if d is not a descent direction the history is cleared and d = -g.
//   2. strong-Wolfe line search along d (line_search.ts, ported from PyTorch's _strong_wolfe),
//      initial step 1 — or 1/|d|_2 on the first iteration after an empty history, as scipy's
//      L-BFGS-B does on its first iteration. Each trial: x_t = x + t d, evaluate, g_t.d.
//   3. x += t d; s = t d, y = g_t - g; y.s <= curvatureEps (non-positive curvature, possible only
//      when the line search stopped early) clears the history, otherwise the pair is stored.
//   4. stop on max |g_i| <= gtol or a relative decrease of f <= ftol (scipy's tests and
//      defaults), on the evaluation / iteration budgets, or when shouldStop() says so.
// Safeguards: a point with a non-finite loss or gradient is never accepted (the line search
// halves the step instead); a line search that finds no lower loss is retried once from an empty
// history (steepest descent) before the run stops ('line-search-failed', or 'non-finite' when
// every trial was non-finite).
//
// Schedules:
//   plain    { maxIterations: N } and/or { maxEvaluations: E }.
//   rounds   { rounds: R, evalsPerRound: E }: R rounds, each starting from the previous round's
//            x with an empty history (the notebook calls scipy's fmin_l_bfgs_b(maxfun=20) 10
//            times). maxfunRule says how E ends a round: 'exact' (the default here) uses at most
//            E evaluations, a line search cut by the budget ending with its best point so far;
//            'scipy' checks only when an iteration ends and stops once the round's count exceeds
//            E, as scipy does (its calls used 21-22 for E = 20; see roundOver). A round does not
//            re-evaluate the point the previous round ended at (scipy's calls do: the 'scipy'
//            rule counts that evaluation as if it had run; the first round's count includes the
//            evaluation at x0). A round that converges by ftol ends early
//            and the next starts; gtol convergence or a failure ends the whole run.
//
// Every objective evaluation is counted (scipy's nfev counts the same way).

import type { GpuContext } from '../gpu/device.ts';
import { LbfgsHistory } from './lbfgs_history.ts';
import { strongWolfe, type Trial } from './line_search.ts';
import { type IterationInfo, type Objective, objectiveSegments, type OptimizeOptions, type OptimizeResult, type StartPoint, startVector, type StopReason } from './types.ts';
import { type DotResult, type GpuVec, R_EVAL, R_PAIR, VecOps, type VecOpsOptions } from './vecops.ts';

export interface LbfgsOptions extends OptimizeOptions {
  /** m, the number of (s, y) pairs kept (default 10, as scipy) */
  history?: number;
  /** rounds of the notebook schedule (default 1) */
  rounds?: number;
  /** most evaluations per round (default unlimited); how it is applied: maxfunRule */
  evalsPerRound?: number;
  /** how evalsPerRound ends a round (default 'exact'); see roundOver */
  maxfunRule?: MaxfunRule;
  /** line search: sufficient-decrease constant (default 1e-4, PyTorch) */
  c1?: number;
  /** line search: curvature constant (default 0.9) */
  c2?: number;
  /** line search: PyTorch's max_ls (default 25): at most max_ls + 1 evaluations per search */
  maxLineSearch?: number;
  /** a pair with y.s <= curvatureEps clears the history (default 1e-10, PyTorch's threshold) */
  curvatureEps?: number;
  /** tunables of the vector kernels */
  vecOps?: VecOpsOptions;
}

/**
 * How a round's evaluation budget (evalsPerRound, scipy's maxfun) ends it:
 *   'exact'  never more than evalsPerRound evaluations: checked before every iteration, and a
 *            line search is cut when the budget runs out (it ends with its best point so far).
 *   'scipy'  as scipy's L-BFGS-B (fmin_l_bfgs_b / _minimize_lbfgsb): checked only when an
 *            iteration has ended, and the round ends once its evaluations exceed evalsPerRound
 *            (`nfev > maxfun`), so a round with maxfun 20 uses 21 or a few more (the notebook's
 *            rounds used 21-22). Evaluations are counted as scipy counts them: a round after
 *            the first also counts the evaluation at its starting point, which each new scipy
 *            call repeats and this optimizer reuses (so R rounds do R - 1 evaluations fewer
 *            than R scipy calls, with the same number of line-search evaluations).
 */
export type MaxfunRule = 'exact' | 'scipy';
export const MAXFUN_RULES: readonly MaxfunRule[] = ['exact', 'scipy'];

/**
 * True when a round is over by its budget. `used`: the round's evaluations as the rule counts
 * them (for 'scipy' including the repeated start of a later round); `iterationEnded`: an
 * iteration (an accepted step) has just ended, with none started since.
 */
export function roundOver(rule: MaxfunRule, used: number, evalsPerRound: number, iterationEnded: boolean): boolean {
  return rule === 'scipy' ? iterationEnded && used > evalsPerRound : used >= evalsPerRound;
}

/** Thrown inside a line search when shouldStop() turns true; caught by run(). */
class StopRequested extends Error {}

export class Lbfgs {
  private readonly ops: VecOps;
  private readonly history: LbfgsHistory;
  /** the current point, always the best accepted one */
  private readonly xBuf: GPUBuffer[];
  private readonly xTrial: GPUBuffer[];
  private readonly d: GPUBuffer[];
  /** gradient vectors: the current gradient and the line search's trial gradients */
  private readonly grads: GPUBuffer[][];
  private readonly gradInfo = new Map<GpuVec, DotResult>();
  private g: GPUBuffer[];
  private f = NaN;
  private ran = false;

  private constructor(
    ops: VecOps,
    private readonly objective: Objective,
    private readonly opts: LbfgsOptions,
  ) {
    this.ops = ops;
    this.history = new LbfgsHistory(ops, opts.history ?? 10);
    this.xBuf = ops.createVector('lbfgs x');
    this.xTrial = ops.createVector('lbfgs x trial');
    this.d = ops.createVector('lbfgs d');
    // live at once: the current g and at most two bracket ends, plus the one being written
    this.grads = [0, 1, 2, 3].map((i) => ops.createVector(`lbfgs g[${i}]`));
    this.g = this.grads[0];
  }

  /** Prepares a run from x0 (copied; the caller keeps x0): one buffer, or one per segment of the objective. */
  static async create(ctx: GpuContext, objective: Objective, x0: StartPoint, opts: LbfgsOptions = {}): Promise<Lbfgs> {
    const segments = objectiveSegments(objective);
    const ops = await VecOps.create(ctx, segments, opts.vecOps);
    const opt = new Lbfgs(ops, objective, opts);
    await ops.batch('lbfgs x0').copy(opt.xBuf, startVector(x0, segments)).submit();
    return opt;
  }

  /** The current (= best accepted) point; read it any time, e.g. to save on Ctrl-C. Do not modify. */
  get x(): GpuVec {
    return this.xBuf;
  }

  /** The loss at x (NaN before the first evaluation). */
  get loss(): number {
    return this.f;
  }

  private freeGradient(keep: readonly GpuVec[]): GPUBuffer[] {
    const b = this.grads.find((buf) => buf !== this.g && !keep.includes(buf));
    if (!b) throw new Error('lbfgs: no free gradient buffer (line search holds too many)');
    return b;
  }

  /** Runs the optimization; the result's x is the caller's to destroy. Single use. */
  async run(): Promise<OptimizeResult> {
    if (this.ran) throw new Error('Lbfgs.run() may be called once');
    this.ran = true;
    const o = this.opts;
    const maxEvaluations = o.maxEvaluations ?? 15000;
    const maxIterations = o.maxIterations ?? 15000;
    const gtol = o.gtol ?? 1e-5;
    const ftol = o.ftol ?? 2.220446049250313e-9;
    const rounds = o.rounds ?? 1;
    const evalsPerRound = o.evalsPerRound ?? Infinity;
    const curvatureEps = o.curvatureEps ?? 1e-10;
    const rule = o.maxfunRule ?? 'exact';
    if (!MAXFUN_RULES.includes(rule)) throw new Error(`lbfgs: maxfunRule must be ${MAXFUN_RULES.join(' or ')}, got "${rule as string}"`);
    if (!(maxEvaluations >= 1) || !(evalsPerRound >= 1) || !(rounds >= 1)) {
      throw new Error(`lbfgs: need maxEvaluations, evalsPerRound and rounds >= 1 (got ${maxEvaluations}, ${evalsPerRound}, ${rounds})`);
    }
    const { ops, history } = this;

    let evaluations = 0;
    let iterations = 0;
    let roundsStarted = 0;
    const roundEvaluations: number[] = [];
    let rejected = 0;
    let resets = 0;
    let round = 0;
    let step = 0;
    let reason: StopReason | null = null;
    let message = '';
    const losses: OptimizeResult['history'] = [];
    const stop = (r: StopReason, m: string) => {
      reason = r;
      message = m;
    };
    const info = (): DotResult => this.gradInfo.get(this.g)!;
    const report = async () => {
      losses.push({ iteration: iterations, evaluation: evaluations, loss: this.f });
      const gi = info();
      const it: IterationInfo = { iteration: iterations, evaluation: evaluations, loss: this.f, round, gradNorm: Math.sqrt(gi.sumSq), gradMax: gi.maxAbs, step, x: this.xBuf };
      await o.onIteration?.(it);
    };

    // f and g.d at x + t d, into a gradient buffer the line search does not hold
    const evalTrial = async (t: number, keep: readonly GpuVec[]): Promise<Trial<GPUBuffer[]>> => {
      if (o.shouldStop?.()) throw new StopRequested();
      const gBuf = this.freeGradient(keep);
      await ops.batch('lbfgs trial x').copy(this.xTrial, this.xBuf).axpy(this.xTrial, this.d, { c: t }).submit();
      const f = await this.objective.evaluate(this.xTrial, gBuf);
      evaluations++;
      roundEvaluations[roundEvaluations.length - 1]++;
      await ops.batch('lbfgs trial g.d').dot(gBuf, this.d, R_EVAL).submit();
      const gi = await ops.readDot(R_EVAL);
      this.gradInfo.set(gBuf, gi);
      return { f, gtd: gi.dot, g: gBuf, finite: Number.isFinite(f) && gi.nonFinite === 0 && Number.isFinite(gi.dot) && Number.isFinite(gi.sumSq) };
    };
    const direction = async (): Promise<DotResult> => {
      const b = ops.batch('lbfgs direction');
      history.encodeDirection(b, this.g, this.d);
      await b.submit();
      return ops.readDot(R_EVAL);
    };

    try {
      // the starting point
      this.f = await this.objective.evaluate(this.xBuf, this.g);
      evaluations++;
      await ops.batch('lbfgs g0').dot(this.g, this.g, R_EVAL).submit();
      this.gradInfo.set(this.g, await ops.readDot(R_EVAL));
      await report();
      if (!Number.isFinite(this.f) || info().nonFinite > 0 || !Number.isFinite(info().sumSq)) {
        stop('non-finite', `the loss or gradient at the starting point is not finite (f = ${this.f}, ${info().nonFinite} non-finite gradient entries)`);
      }

      for (round = 0; round < rounds && !reason; round++) {
        roundsStarted = round + 1;
        const roundStart = round === 0 ? 0 : evaluations;
        roundEvaluations.push(evaluations - roundStart);
        history.reset();
        let freshStart = true; // empty history: the first step is 1/|d|_2 (scipy)
        let iterationEnded = false;
        /** this round's evaluations as the rule counts them (scipy's repeat the start of a later round) */
        const used = () => evaluations - roundStart + (rule === 'scipy' && round > 0 ? 1 : 0);
        if (info().maxAbs <= gtol) {
          stop('converged-gtol', `max |g_i| = ${info().maxAbs.toExponential(3)} <= gtol = ${gtol}`);
          break;
        }
        for (;;) {
          if (o.shouldStop?.()) {
            stop('stopped', 'stopped on request');
            break;
          }
          if (evaluations >= maxEvaluations) {
            stop('max-evaluations', `${evaluations} evaluations, the maximum`);
            break;
          }
          if (iterations >= maxIterations) {
            stop('max-iterations', `${iterations} iterations, the maximum`);
            break;
          }
          if (roundOver(rule, used(), evalsPerRound, iterationEnded)) {
            if (round === rounds - 1) stop('max-evaluations', `${rounds} round(s) of ${rule === 'scipy' ? '' : 'at most '}${evalsPerRound} evaluations (maxfun rule ${rule}) done (${evaluations} in all)`);
            break;
          }

          let dir = await direction();
          if (history.length > 0 && !(dir.dot < 0 && dir.nonFinite === 0)) {
            history.reset(); // not a descent direction: start again from steepest descent
            resets++;
            freshStart = true;
            dir = await direction();
          }
          if (!(dir.dot < 0) || dir.nonFinite > 0) {
            stop('converged-gtol', `the gradient vanished (|g|^2 = ${-dir.dot})`);
            break;
          }

          const t0 = freshStart ? 1 / Math.sqrt(dir.sumSq) : 1;
          // scipy's rule does not cut a line search: only the run's maxEvaluations does
          const budget = rule === 'scipy' ? maxEvaluations - evaluations : Math.min(maxEvaluations - evaluations, evalsPerRound - used());
          iterationEnded = false;
          const ls = await strongWolfe(evalTrial, this.f, this.g, dir.dot, t0, {
            c1: o.c1,
            c2: o.c2,
            maxIterations: o.maxLineSearch,
            maxEvaluations: budget,
            dNormInf: dir.maxAbs,
          });
          rejected += ls.rejected;

          if (!(ls.f < this.f)) {
            // no lower loss along d
            if (ls.status === 'budget') continue; // the budget checks above end the round / run
            if (history.length > 0) {
              history.reset();
              resets++;
              freshStart = true;
              continue;
            }
            if (ls.rejected === ls.evaluations) {
              stop('non-finite', `all ${ls.evaluations} trial steps of the line search gave a non-finite loss or gradient`);
            } else {
              stop('line-search-failed', `the line search along -g found no lower loss in ${ls.evaluations} evaluations (${ls.rejected} non-finite)`);
            }
            break;
          }

          // accept x + t d
          const b = ops.batch('lbfgs step');
          b.axpy(this.xBuf, this.d, { c: ls.t });
          history.recordCandidate(b, this.d, ls.t, ls.g, this.g);
          await b.submit();
          const pair = await ops.readDot(R_PAIR);
          const fOld = this.f;
          this.f = ls.f;
          this.g = ls.g;
          step = ls.t;
          iterations++;
          iterationEnded = true;
          freshStart = false;
          if (pair.nonFinite > 0 || !(pair.dot > curvatureEps)) {
            history.reset(); // non-positive curvature: the pair would break H's positive definiteness
            resets++;
            freshStart = true;
          } else {
            history.accept(pair.dot, pair.sumSq);
          }
          await report();

          if (info().maxAbs <= gtol) {
            stop('converged-gtol', `max |g_i| = ${info().maxAbs.toExponential(3)} <= gtol = ${gtol}`);
            break;
          }
          if ((fOld - this.f) / Math.max(Math.abs(fOld), Math.abs(this.f), 1) <= ftol) {
            if (round === rounds - 1) stop('converged-ftol', `relative decrease of f ${((fOld - this.f) / Math.max(Math.abs(fOld), Math.abs(this.f), 1)).toExponential(3)} <= ftol = ${ftol}`);
            break;
          }
        }
      }
    } catch (e) {
      if (!(e instanceof StopRequested)) {
        this.destroyInternals();
        this.xBuf.forEach((b) => b.destroy());
        throw e;
      }
      stop('stopped', 'stopped on request (during a line search; x is the last accepted point)');
    }
    this.destroyInternals();
    const gi = info();
    return {
      x: this.xBuf,
      loss: this.f,
      bestLoss: this.f,
      evaluations,
      iterations,
      rounds: roundsStarted,
      reason: reason!,
      message,
      history: losses,
      gradNorm: Math.sqrt(gi.sumSq),
      gradMax: gi.maxAbs,
      rejectedEvaluations: rejected,
      roundEvaluations: roundEvaluations.length ? roundEvaluations : [evaluations],
      historyResets: resets,
    };
  }

  private destroyInternals(): void {
    this.history.destroy();
    for (const b of [this.xTrial, this.d, ...this.grads].flat()) b.destroy();
    this.ops.destroy();
  }
}

/** L-BFGS from x0 (copied) on the objective; see the header for the options and schedules. */
export async function minimizeLbfgs(ctx: GpuContext, objective: Objective, x0: StartPoint, opts: LbfgsOptions = {}): Promise<OptimizeResult> {
  const opt = await Lbfgs.create(ctx, objective, x0, opts);
  return opt.run();
}
