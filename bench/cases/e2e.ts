// End to end: the optimization itself, ours vs tfjs-webgpu on the same adapter.
//
// Configs "ROWSxROUNDSxEVALS" (default: the notebook schedule 10 x 20 evaluations at 128 rows, and
// one round of 20 at 400 rows). tubingen x starry_night, notebook preset, x0 = the content image.
//   ours L-BFGS                  our objective, our L-BFGS (the rounds schedule, gtol 0: as the CLI)
//   tfjs-webgpu + our L-BFGS     the TF.js objective (plain tf.grad) driven by the same L-BFGS over
//                                the same GPU buffers (TfjsGpuObjective): the kernels differ, nothing else
//   pytorch-cpu                  the same objective in PyTorch on the CPU (Node, when torch is found),
//                                driven by scipy's fmin_l_bfgs_b(maxfun = EVALS) ROUNDS times, as the
//                                notebook does (bench/strategies/pytorch_cpu.py)
//   ours Adam / tfjs-webgpu Adam the optimizer comparison: our Adam vs tf.train.adam (lr 10, betas
//                                0.9/0.999, eps 1e-8) for the same number of evaluations (first config only)
// Reported: wall seconds of the optimization (objective construction and one untimed warm-up
// evaluation excluded) and the final loss (the best loss at an evaluated point, which is what
// each optimizer returns).

import type * as TF from '@tensorflow/tfjs';
import { withTimeout } from '../../src/gpu/device.ts';
import { createStorage, uploadStorage } from '../../src/gpu/runtime.ts';
import { Vgg19 } from '../../src/model/vgg19.ts';
import { minimizeAdam } from '../../src/optim/adam.ts';
import { minimizeLbfgs } from '../../src/optim/lbfgs.ts';
import type { StyleConfig } from '../../src/style/config.ts';
import { StyleObjective } from '../../src/style/objective.ts';
import { defaultResize, prepareImages } from '../../src/style/transfer.ts';
import { TfjsStyleObjective, type TfjsFormulation } from '../reference/tfjs_objective.ts';
import type { TfjsVgg19Weights } from '../reference/tfjs_vgg19_core.ts';
import { useBackend } from '../lib/tfjs_backends.ts';
import type { E2eRow, ObjectiveSetup } from '../lib/types.ts';
import type { PytorchOption } from '../strategies/pytorch.ts';
import { TFJS_WAIT_MS, TfjsGpuObjective } from '../strategies/tfjs.ts';

export interface E2eConfig {
  rows: number;
  rounds: number;
  evals: number;
  /** also compare the optimizers (Adam) at this config */
  adam: boolean;
}

export const DEFAULT_E2E = '128x10x20,400x1x20';

/** "128x10x20,400x1x20" -> configs; Adam rows at the first config only. */
export function parseE2eConfigs(s: string): E2eConfig[] {
  return s.split(',').map((part, i) => {
    const m = /^(\d+)x(\d+)x(\d+)$/.exec(part.trim());
    if (!m) throw new Error(`--e2e-configs: "${part}" is not ROWSxROUNDSxEVALS (e.g. 128x10x20)`);
    return { rows: Number(m[1]), rounds: Number(m[2]), evals: Number(m[3]), adam: i === 0 };
  });
}

export interface E2eOptions {
  cfg: StyleConfig;
  configs: E2eConfig[];
  tfjsFormulation: TfjsFormulation;
  /** the pytorch-cpu row (Node only): PyTorch objective + scipy's fmin_l_bfgs_b, as the notebook */
  pytorch?: PytorchOption | null;
  adamLr: number;
  log: (s: string) => void;
}

export async function runE2e(setup: ObjectiveSetup, o: E2eOptions): Promise<E2eRow[]> {
  const { ctx, tf, backends, ourWeights, loadTfjsWeights, images } = setup;
  const rows: E2eRow[] = [];
  const webgpu = backends.find((b) => b.name === 'webgpu');
  let tfWeights: TfjsVgg19Weights | null = null;
  for (const c of o.configs) {
    const prep = prepareImages(images.content, images.style, c.rows, defaultResize(o.cfg));
    const { rows: H, cols: W } = prep;
    const n = c.rounds * c.evals;
    const config = `${H}x${W}, ${c.rounds} x ${c.evals} evaluations`;
    const base = { config, rows: H, cols: W };
    const x0 = uploadStorage(ctx, prep.content, 'e2e x0');
    // rounds as the CLI runs them: the notebook preset's follow scipy's maxfun rule
    const lbfgsOpts = { rounds: c.rounds, evalsPerRound: c.evals, gtol: 0, maxfunRule: o.cfg.preset === 'notebook' ? ('scipy' as const) : ('exact' as const) };

    const net = await Vgg19.create(ctx, ourWeights, { pooling: o.cfg.pooling });
    const ours = await StyleObjective.create(ctx, net, o.cfg, H, W, prep.content, prep.style);
    // One untimed evaluation per objective first: pipeline compilation is not optimization time.
    const scratch = createStorage(ctx, H * W * 3 * 4, 'e2e warm-up gradient');
    await ours.evaluate(x0, scratch);
    const timed = async (impl: string, optimizer: string, f: () => Promise<{ evaluations: number; loss: number }>) => {
      o.log(`  ${config}: ${impl} ...`);
      const t0 = performance.now();
      try {
        const r = await f();
        const seconds = (performance.now() - t0) / 1e3;
        rows.push({ ...base, impl, optimizer, evaluations: r.evaluations, seconds, finalLoss: r.loss });
        o.log(`  ${config}: ${impl}: ${seconds.toFixed(0)} s, ${r.evaluations} evaluations, final loss ${r.loss.toExponential(4)}`);
      } catch (e) {
        rows.push({ ...base, impl, optimizer, evaluations: 0, seconds: null, finalLoss: null, note: `failed: ${(e as Error).message}` });
        o.log(`  ${config}: ${impl} failed: ${(e as Error).message}`);
      }
    };
    await timed('ours', 'our L-BFGS', async () => {
      const r = await minimizeLbfgs(ctx, ours, x0, lbfgsOpts);
      r.x.forEach((b) => b.destroy());
      return r;
    });

    let tobj: TfjsStyleObjective | null = null;
    if (tf && webgpu?.ok) {
      await useBackend(tf, 'webgpu');
      tfWeights ??= await loadTfjsWeights();
      tobj = TfjsStyleObjective.create(tf, tfWeights, o.cfg, H, W, prep.content, prep.style);
      await tobj.prepare(o.tfjsFormulation);
      await new TfjsGpuObjective(tf, ctx, 'webgpu', tobj, o.tfjsFormulation).evaluate(x0, scratch);
      const label = `tfjs-webgpu ${o.tfjsFormulation === 'plain' ? 'tf.grad' : 'tuned'}`;
      await timed(label, 'our L-BFGS', async () => {
        const r = await minimizeLbfgs(ctx, new TfjsGpuObjective(tf, ctx, 'webgpu', tobj!, o.tfjsFormulation), x0, lbfgsOpts);
        r.x.forEach((b) => b.destroy());
        return r;
      });
    } else {
      rows.push({ ...base, impl: 'tfjs-webgpu', optimizer: 'our L-BFGS', evaluations: 0, seconds: null, finalLoss: null, note: `cannot run: ${webgpu?.note ?? 'not requested'}` });
    }

    if (!o.pytorch) {
      // not asked (--no-pytorch)
    } else if (o.pytorch.skipped !== undefined) {
      rows.push({ ...base, impl: 'pytorch-cpu', optimizer: 'scipy fmin_l_bfgs_b', evaluations: 0, seconds: null, finalLoss: null, note: `skipped: ${o.pytorch.skipped}` });
    } else {
      const p = o.pytorch;
      o.log(`  ${config}: pytorch-cpu + scipy ...`);
      try {
        const r = await p.schedule(o.cfg, H, W, prep.content, prep.style, c.rounds, c.evals);
        rows.push({ ...base, impl: 'pytorch-cpu', optimizer: 'scipy fmin_l_bfgs_b', evaluations: r.evaluations, seconds: r.seconds, finalLoss: r.loss, note: `${r.info}; nfev per call ${r.nfevPerRound.join(',')}` });
        o.log(`  ${config}: pytorch-cpu: ${r.seconds.toFixed(0)} s, ${r.evaluations} evaluations (${r.nfevPerRound.join(',')}), final loss ${r.loss.toExponential(4)}`);
      } catch (e) {
        rows.push({ ...base, impl: 'pytorch-cpu', optimizer: 'scipy fmin_l_bfgs_b', evaluations: 0, seconds: null, finalLoss: null, note: `failed: ${(e as Error).message}` });
        o.log(`  ${config}: pytorch-cpu failed: ${(e as Error).message}`);
      }
    }

    if (c.adam) {
      await timed('ours', 'our Adam', async () => {
        const r = await minimizeAdam(ctx, ours, x0, { maxIterations: n, maxEvaluations: n, lr: o.adamLr, gtol: 0 });
        r.x.forEach((b) => b.destroy());
        return r;
      });
      if (tf && tobj) {
        await timed('tfjs-webgpu tf.grad', 'tf.train.adam', async () => {
          await useBackend(tf, 'webgpu');
          const xv = tf.variable(tf.tensor4d(prep.content, [1, H, W, 3]));
          const opt = tf.train.adam(o.adamLr, 0.9, 0.999, 1e-8);
          let best = Infinity;
          try {
            for (let i = 0; i < n; i++) {
              const cost = opt.minimize(() => tf.sum(tobj!.lossTerms(xv as unknown as TF.Tensor4D)) as TF.Scalar, true, [xv]);
              const v = (await withTimeout(cost!.data(), TFJS_WAIT_MS, 'tf.train.adam step'))[0];
              cost!.dispose();
              if (Number.isFinite(v)) best = Math.min(best, v);
            }
          } finally {
            opt.dispose();
            xv.dispose();
          }
          return { evaluations: n, loss: best };
        });
      }
    }
    tobj?.dispose();
    scratch.destroy();
    x0.destroy();
  }
  if (tf && tfWeights) {
    await useBackend(tf, 'webgpu');
    tf.dispose([...tfWeights.values()]);
  }
  return rows;
}
