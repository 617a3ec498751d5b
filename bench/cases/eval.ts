// One full loss-and-gradient evaluation (notebook preset by default): ours vs each TF.js
// backend in both formulations ('plain' tf.grad, 'tuned'), alternating, with the loss and
// gradient differences against ours, and where our time goes (per-dispatch profile).
//
// Inputs: tubingen.jpg (content) and starry_night.jpg (style) resized to exactly H x W as the
// preset resizes (notebook: nearest), caffe BGR; x = content + seeded uniform noise of +-20 (every
// loss term non-zero), the same x for all. Each strategy's objective (targets) is built in setup,
// outside the timer. A run is wall time from "x is on the device" to "loss terms on the host,
// gradient complete on the device" — what one optimizer step needs.
//
// tfjs-cpu at full size would take many minutes per evaluation: it runs only when its estimate
// (its conv rate measured on a small probe, times the evaluation's FLOPs) fits evalBudgetS.

import type * as TF from '@tensorflow/tfjs';
import { toCaffe } from '../../src/image/preprocess.ts';
import { mulberry32 } from '../../src/image/random.ts';
import { resize } from '../../src/image/resize.ts';
import type { RgbaImage } from '../../src/image/types.ts';
import { type ConvVersion, convFlops } from '../../src/kernels/conv3x3.ts';
import { layerIndex, VGG19_LAYERS } from '../../src/model/vgg19_layers.ts';
import { deepestLayer, type StyleConfig } from '../../src/style/config.ts';
import { defaultResize } from '../../src/style/transfer.ts';
import type { LossBreakdown } from '../../src/style/types.ts';
import type { Tf } from '../reference/tfjs_vgg19_core.ts';
import { type TfjsBackendName, useBackend } from '../lib/tfjs_backends.ts';
import { type Contender, measureInterleaved, relL2 } from '../lib/stats.ts';
import type { Breakdown, EvalRow, ObjectiveSetup } from '../lib/types.ts';
import { type EvalInputs, type EvalStrategy, OurEval, profileOurEvaluation } from '../strategies/ours.ts';
import { TfjsEval, TfjsObjectivePool } from '../strategies/tfjs.ts';
import type { PytorchOption } from '../strategies/pytorch.ts';
import { defaultInputGradOp, type InputGradOp, type TfjsFormulation } from '../reference/tfjs_objective.ts';

export const EVAL_NOISE = 20;

/** Content and style at exactly H x W (the preset's resize), x = content + noise. */
export function evalInputs(cfg: StyleConfig, H: number, W: number, content: RgbaImage, style: RgbaImage, seed = 7): EvalInputs {
  const method = defaultResize(cfg);
  const c = toCaffe(resize(content, H, W, method)) as Float32Array<ArrayBuffer>;
  const s = toCaffe(resize(style, H, W, method)) as Float32Array<ArrayBuffer>;
  const r = mulberry32(seed);
  const x = Float32Array.from(c, (v) => v + EVAL_NOISE * (2 * r() - 1));
  return { cfg, H, W, content: c, style: s, x };
}

/** GFLOP of one evaluation's convolutions: forward + input gradient, up to the deepest layer. */
export function evalGflop(cfg: StyleConfig, H: number, W: number): number {
  let h = H;
  let w = W;
  let f = 0;
  const deepest = layerIndex(deepestLayer(cfg));
  for (const l of VGG19_LAYERS.slice(0, deepest + 1)) {
    f += convFlops({ H: h, W: w, Cin: l.cin, Cout: l.cout });
    if (l.poolAfter) {
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
  }
  return (2 * f) / 1e9;
}

/** GFLOP/s of tfjs's conv on the active backend, from a small probe (64x64, 64->64). */
async function probeConvRate(tf: Tf, backend: TfjsBackendName): Promise<number> {
  await useBackend(tf, backend);
  const x = tf.randomUniform([1, 64, 64, 64]) as TF.Tensor4D;
  const k = tf.randomUniform([3, 3, 64, 64]) as TF.Tensor4D;
  tf.conv2d(x, k, 1, 'same').dispose(); // warm
  const t0 = performance.now();
  const y = tf.conv2d(x, k, 1, 'same');
  await y.data();
  const ms = performance.now() - t0;
  tf.dispose([x, k, y]);
  return (2 * 64 * 64 * 64 * 64 * 9) / 1e9 / (ms / 1e3);
}

export interface EvalOptions {
  cfg: StyleConfig;
  H: number;
  W: number;
  warmup: number;
  trials: number;
  /** skip a tfjs strategy whose estimated seconds per evaluation exceed this */
  evalBudgetS: number;
  convVersion: ConvVersion;
  formulations: readonly TfjsFormulation[];
  /** override the tuned formulation's input-gradient op (default: per backend) */
  tunedInputGrad?: InputGradOp;
  /** also profile tfjs-webgpu's kernels (one more evaluation per formulation) */
  profileTfjs: boolean;
  /** the pytorch-cpu row (Node only: bench/strategies/pytorch.ts pytorchOption); null: not asked */
  pytorch?: PytorchOption | null;
  quick: boolean;
  log: (s: string) => void;
}

export interface EvalSectionResult {
  rows: EvalRow[];
  breakdown: Breakdown[];
  tfjsProfiles: Array<{ impl: string; kernels: Array<{ name: string; ms: number; n: number }> }>;
}

export async function runEval(setup: ObjectiveSetup, o: EvalOptions): Promise<EvalSectionResult> {
  const { ctx, tf, backends, ourWeights, loadTfjsWeights, images } = setup;
  const inp = evalInputs(o.cfg, o.H, o.W, images.content, images.style);
  const gflop = evalGflop(o.cfg, o.H, o.W);
  const size: [number, number] = [o.H, o.W];
  const rows: EvalRow[] = [];
  const strategies: EvalStrategy[] = [new OurEval(ctx, ourWeights, inp, o.convVersion)];
  let pytorchNote = '';
  let cpuRate: number | null = null;
  const pool = tf ? new TfjsObjectivePool(tf, loadTfjsWeights, inp) : null;
  if (tf) {
    for (const b of backends) {
      for (const f of o.formulations) {
        const name = `tfjs-${b.name} ${f === 'plain' ? 'tf.grad' : `tuned (${o.tunedInputGrad ?? defaultInputGradOp(b.name)})`}`;
        if (!b.ok) {
          rows.push({ impl: name, backend: b.name, formulation: f, size, ms: null, loss: null, note: `cannot run: ${b.note}` });
          continue;
        }
        if (b.name === 'cpu') {
          const rate = (cpuRate ??= await probeConvRate(tf, 'cpu'));
          // one evaluation + the targets (two forwards = one more evaluation's FLOPs, once per backend);
          // tf.grad's input gradient runs at about the forward's rate there
          const estS = (2 * gflop) / rate;
          if (estS > o.evalBudgetS) {
            rows.push({
              impl: name,
              backend: b.name,
              formulation: f,
              size,
              ms: null,
              loss: null,
              note: `skipped${o.quick ? ' in --quick' : ''}: too slow (est. ${estS.toFixed(0)} s for the targets and one evaluation at ${rate.toFixed(2)} GFLOP/s > budget ${o.evalBudgetS} s; --eval-budget)`,
            });
            o.log(`  ${name}: skipped (est. ${estS.toFixed(0)} s for targets + one evaluation)`);
            continue;
          }
        }
        strategies.push(new TfjsEval(tf, ctx, b.name, f, pool!, inp, o.tunedInputGrad));
      }
    }
  }

  if (o.pytorch) {
    if (o.pytorch.skipped !== undefined) {
      rows.push({ impl: 'pytorch-cpu', backend: 'pytorch-cpu', formulation: 'autograd', size, ms: null, loss: null, note: `skipped: ${o.pytorch.skipped}` });
      o.log(`  pytorch-cpu: skipped: ${o.pytorch.skipped}`);
    } else {
      const check = await o.pytorch.check(ctx, ourWeights, images, o.cfg, o.convVersion);
      o.log(`  pytorch-cpu check: ${check.line}`);
      pytorchNote = check.line;
      strategies.push(o.pytorch.make(inp));
    }
  }

  // Setup (targets), outside the timer.
  const ready: EvalStrategy[] = [];
  const failed = new Map<EvalStrategy, string>();
  for (const s of strategies) {
    const t0 = performance.now();
    try {
      await s.setup();
      ready.push(s);
      o.log(`  ${s.name}: objective ready (targets) in ${((performance.now() - t0) / 1e3).toFixed(1)} s`);
    } catch (e) {
      failed.set(s, (e as Error).message);
      o.log(`  ${s.name}: setup failed: ${(e as Error).message}`);
      await s.teardown().catch(() => {});
    }
  }
  const contenders: Contender[] = ready.map((s) => ({
    run: async () => {
      const ms = await s.run();
      o.log(`  ${s.name}: ${(ms / 1e3).toFixed(1)} s`);
      return ms;
    },
    warmup: s.needsWarmup ? Math.max(1, o.warmup) : 0,
    trials: o.trials,
  }));
  const st = await measureInterleaved(contenders);

  // Results against ours.
  const ours = ready.find((s) => s.backend === 'ours');
  const ref = ours ? await ours.result() : null;
  const oursMs = ours ? st[ready.indexOf(ours)].median : null;
  for (const [i, s] of ready.entries()) {
    const r = await s.result();
    const row: EvalRow = { impl: s.name, backend: s.backend, formulation: s.formulation, size, ms: st[i], loss: r.loss };
    if (ref && s !== ours) {
      row.lossRelDiff = Math.abs(r.loss.total - ref.loss.total) / Math.abs(ref.loss.total);
      row.termsMaxRelDiff = maxTermDiff(r.loss, ref.loss);
      row.gradRelL2 = relL2(r.grad, ref.grad);
      let m = 0;
      let s2 = 0;
      for (let k = 0; k < ref.grad.length; k++) {
        m = Math.max(m, Math.abs(r.grad[k] - ref.grad[k]));
        s2 = Math.max(s2, Math.abs(ref.grad[k]));
      }
      row.gradMaxRel = m / s2;
    }
    if (oursMs) row.slowdownVsOurs = st[i].median / oursMs;
    row.note = `${gflop.toFixed(0)} GFLOP of convolutions: ${(gflop / (st[i].median / 1e3)).toFixed(2)} GFLOP/s`;
    if (s.backend === 'pytorch-cpu') row.note += `; ${(s as EvalStrategy & { info?: string }).info ?? ''}; check: ${pytorchNote}`;
    rows.push(row);
  }
  for (const [s, why] of failed) rows.push({ impl: s.name, backend: s.backend, formulation: s.formulation, size, ms: null, loss: null, note: `failed: ${why}` });

  // Where the time goes.
  const breakdown: Breakdown[] = [];
  if (ours) {
    o.log('  profiling our evaluation dispatch by dispatch');
    try {
      breakdown.push(await profileOurEvaluation(ctx, ours as OurEval, oursMs));
    } catch (e) {
      // the timings above stand without it: report, do not lose them
      o.log(`  profile failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const tfjsProfiles: EvalSectionResult['tfjsProfiles'] = [];
  if (o.profileTfjs) {
    for (const s of ready) {
      if (s instanceof TfjsEval && s.backend === 'webgpu') {
        o.log(`  profiling ${s.name} (tf.profile)`);
        tfjsProfiles.push({ impl: s.name, kernels: await s.profile() });
      }
    }
  }
  for (const s of ready) await s.teardown();
  const order = (r: EvalRow) => (r.backend === 'ours' ? 0 : ['webgpu', 'wasm', 'cpu', 'pytorch-cpu'].indexOf(r.backend) + 1);
  rows.sort((a, b) => order(a) - order(b) || a.formulation.localeCompare(b.formulation));
  return { rows, breakdown, tfjsProfiles };
}

export function maxTermDiff(a: LossBreakdown, b: LossBreakdown): number {
  const pairs: Array<[number, number]> = [
    [a.content, b.content],
    [a.tv, b.tv],
    ...Object.keys(b.styleLayers).map((k) => [a.styleLayers[k], b.styleLayers[k]] as [number, number]),
  ];
  return Math.max(...pairs.map(([x, y]) => (x === y ? 0 : Math.abs(x - y) / Math.abs(y))));
}
