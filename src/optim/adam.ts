// Adam (Kingma & Ba 2014, "Adam: A Method for Stochastic Optimization", arXiv 1412.6980,
// Algorithm 1) on GPU buffers: the alternative to L-BFGS, with the same Objective, options and
// result shape. One evaluation per iteration (iterations = evaluations), then one vec_adam
// dispatch updates x, m and v in a single pass with bias-corrected moments.
//
// Default lr = 10 is for pixel-space style transfer (pixels on a 0..255 scale, VGG mean
// subtracted), the value jcjohnson/neural-style uses for its Adam option (-learning_rate 1e1);
// for other problems pass lr.
//
// Adam's loss is not monotone, so the result's x is the best evaluated point (a copy kept on the
// GPU), not the last iterate; ftol is not used. A non-finite loss or gradient is never stepped
// on: x goes back to the best point, the moments are cleared, lr is halved, and after
// maxRejections such points in a row the run stops with reason 'non-finite'.

import type { GpuContext } from '../gpu/device.ts';
import { type IterationInfo, type Objective, objectiveSegments, type OptimizeOptions, type OptimizeResult, type StartPoint, startVector, type StopReason } from './types.ts';
import { R_EVAL, VecOps, type VecOpsOptions } from './vecops.ts';

export interface AdamOptions extends OptimizeOptions {
  /** step size (default 10, for 0..255 pixels) */
  lr?: number;
  /** first-moment decay (default 0.9) */
  beta1?: number;
  /** second-moment decay (default 0.999) */
  beta2?: number;
  /** denominator guard (default 1e-8) */
  eps?: number;
  /** non-finite evaluations in a row before giving up (default 10) */
  maxRejections?: number;
  vecOps?: VecOpsOptions;
}

/** Adam from x0 (copied; the caller keeps x0). The result's x (the best point) is the caller's to destroy. */
export async function minimizeAdam(ctx: GpuContext, objective: Objective, x0: StartPoint, o: AdamOptions = {}): Promise<OptimizeResult> {
  const maxEvaluations = o.maxEvaluations ?? 15000;
  const maxIterations = o.maxIterations ?? 15000;
  const gtol = o.gtol ?? 1e-5;
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  const eps = o.eps ?? 1e-8;
  const maxRejections = o.maxRejections ?? 10;
  let lr = o.lr ?? 10;

  const segments = objectiveSegments(objective);
  const ops = await VecOps.create(ctx, segments, o.vecOps);
  const x = ops.createVector('adam x');
  const best = ops.createVector('adam best x');
  const m = ops.createVector('adam m');
  const v = ops.createVector('adam v');
  const g = ops.createVector('adam g');
  const start = startVector(x0, segments);
  await ops.batch('adam x0').copy(x, start).copy(best, start).submit();

  let evaluations = 0;
  let t = 0; // Adam's step counter (restarts after a rejection)
  let bestLoss = Infinity;
  let bestInfo = { sumSq: NaN, maxAbs: NaN };
  let rejected = 0;
  let inARow = 0;
  let reason: StopReason | null = null;
  let message = '';
  const history: OptimizeResult['history'] = [];
  try {
    for (;;) {
      if (o.shouldStop?.()) {
        reason = 'stopped';
        message = 'stopped on request';
        break;
      }
      if (evaluations >= maxEvaluations || evaluations >= maxIterations) {
        reason = evaluations >= maxEvaluations ? 'max-evaluations' : 'max-iterations';
        message = `${evaluations} evaluations/iterations, the maximum`;
        break;
      }
      const f = await objective.evaluate(x, g);
      evaluations++;
      await ops.batch('adam |g|').dot(g, g, R_EVAL).submit();
      const gi = await ops.readDot(R_EVAL);
      if (!Number.isFinite(f) || gi.nonFinite > 0 || !Number.isFinite(gi.sumSq)) {
        rejected++;
        if (++inARow >= maxRejections) {
          reason = 'non-finite';
          message = `${inARow} evaluations in a row gave a non-finite loss or gradient`;
          break;
        }
        lr /= 2;
        t = 0;
        await ops.batch('adam reject').copy(x, best).clear(m).clear(v).submit();
        continue;
      }
      inARow = 0;
      const b = ops.batch('adam step');
      if (f < bestLoss) {
        bestLoss = f;
        bestInfo = gi;
        b.copy(best, x);
      }
      history.push({ iteration: evaluations, evaluation: evaluations, loss: f });
      const info: IterationInfo = { iteration: evaluations, evaluation: evaluations, loss: f, round: 0, gradNorm: Math.sqrt(gi.sumSq), gradMax: gi.maxAbs, step: lr, x };
      await o.onIteration?.(info);
      if (gi.maxAbs <= gtol) {
        await b.submit();
        reason = 'converged-gtol';
        message = `max |g_i| = ${gi.maxAbs.toExponential(3)} <= gtol = ${gtol}`;
        break;
      }
      t++;
      b.adam(x, m, v, g, { lr, beta1, beta2, eps, bc1: 1 - beta1 ** t, bc2: 1 - beta2 ** t });
      await b.submit();
    }
  } catch (e) {
    best.forEach((buf) => buf.destroy());
    throw e;
  } finally {
    for (const buf of [x, m, v, g].flat()) buf.destroy();
    ops.destroy();
  }
  return {
    x: best,
    loss: bestLoss === Infinity ? NaN : bestLoss,
    bestLoss: bestLoss === Infinity ? NaN : bestLoss,
    evaluations,
    iterations: evaluations,
    rounds: 1,
    reason,
    message,
    history,
    gradNorm: Math.sqrt(bestInfo.sumSq),
    gradMax: bestInfo.maxAbs,
    rejectedEvaluations: rejected,
    roundEvaluations: [evaluations],
    historyResets: 0,
  };
}
