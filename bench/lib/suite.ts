// The benchmark suite, independent of where it runs: Node (bench/run.ts, Dawn) and headless
// Chromium (bench/browser/page.ts). The environment supplies the GPU context, TensorFlow.js,
// and how to load weights and images; the suite runs the sections the options ask for and
// returns one BenchResult (bench/lib/types.ts). Printing and saving are the caller's.

import type { GpuContext } from '../../src/gpu/device.ts';
import { createStorage, uploadStorage } from '../../src/gpu/runtime.ts';
import { GpuTimer } from '../../src/gpu/timer.ts';
import { MATMUL_SHADER, matmul } from '../../src/kernels/matmul.ts';
import type { RgbaImage } from '../../src/image/types.ts';
import { chooseConvVersion, modelConvVersionAt } from '../../src/kernels/kernel_table.ts';
import type { Vgg19Weights } from '../../src/model/weights.ts';
import { makeConfig } from '../../src/style/config.ts';
import { runCeiling } from '../cases/ceiling.ts';
import { parseE2eConfigs, runE2e } from '../cases/e2e.ts';
import { runEval } from '../cases/eval.ts';
import { runKernelsBench } from '../cases/kernels.ts';
import { runBanding, runMemory } from '../cases/memory.ts';
import { opCases, runOpCases } from '../cases/ops.ts';
import type { Tf, TfjsVgg19Weights } from '../reference/tfjs_vgg19_core.ts';
import { ourOpStrategies } from '../strategies/ours.ts';
import { tfjsOpStrategies } from '../strategies/tfjs.ts';
import type { BenchOptions } from './options.ts';
import type { PytorchOption } from '../strategies/pytorch.ts';
import { computeSummary } from './report.ts';
import { randomFill } from './stats.ts';
import { type BackendStatus, initTfjsBackends, TFJS_BACKENDS } from './tfjs_backends.ts';
import type { BenchResult, ObjectiveSetup, OpRow, OpStrategy } from './types.ts';

export interface SuiteEnv {
  kind: 'node' | 'browser';
  ctx: GpuContext;
  /** TensorFlow.js, or null with the reason when it cannot be loaded */
  tf: Tf | null;
  tfMissing?: string;
  wasmPaths: string | Record<string, string>;
  wasmThreads?: number;
  loadOurWeights(): Promise<Vgg19Weights>;
  /** the 16 convolutions as tensors on the active tfjs backend */
  loadTfjsWeights(): Promise<TfjsVgg19Weights>;
  loadImage(name: string): Promise<RgbaImage>;
  /** Node only: the pytorch-cpu strategy for a weights folder (bench/strategies/pytorch.ts pytorchOption) */
  pytorch?: (weightsDir: string) => PytorchOption;
  versions: Record<string, string>;
  host: Record<string, unknown>;
  log(s: string): void;
}

/**
 * The ceiling's matmul (1024^3) as a companion contender for the conv rows (cases/ops.ts).
 */
async function ceilingCompanion(ctx: GpuContext, timer: GpuTimer) {
  const best = MATMUL_SHADER;
  const n = 1024;
  const a = uploadStorage(ctx, randomFill(n * n, 1), 'companion a');
  const b = uploadStorage(ctx, randomFill(n * n, 2), 'companion b');
  const c = createStorage(ctx, n * n * 4, 'companion c');
  const d = await matmul(ctx, { M: n, N: n, K: n }, { a, b, c });
  await timer.timeDispatches([d], 'matmul companion warm-up');
  return {
    companion: { run: async () => (await timer.timeDispatches([d], `matmul ${best} alongside`)).ms, gflop: (2 * n ** 3) / 1e9 },
    destroy: () => [a, b, c].forEach((x) => x.destroy()),
  };
}

export async function runSuite(env: SuiteEnv, o: BenchOptions): Promise<BenchResult> {
  const { ctx, tf, log } = env;
  const t0 = performance.now();
  const timer = new GpuTimer(ctx);
  const modelConvVersion = chooseConvVersion(ctx);
  const date = new Date().toISOString();
  log(
    `adapter: ${ctx.description}; timing: ${timer.source}; sections ${o.sections.join(', ')}; op size ${o.size.join('x')}, eval size ${o.evalSize.join('x')}; ` +
      `warm-up ${o.warmup}, trials ${o.trials}${o.quick ? ' (quick)' : ''}`,
  );

  const needsTfjs = o.sections.some((s) => s === 'ops' || s === 'eval' || s === 'e2e');
  let backends: BackendStatus[] = [];
  if (needsTfjs) {
    if (tf) backends = await initTfjsBackends(tf, ctx, o.backends, { wasmPaths: env.wasmPaths, wasmThreads: env.wasmThreads, log });
    else backends = o.backends.map((name) => ({ name, ok: false, note: env.tfMissing ?? 'TensorFlow.js could not be loaded' }));
  }
  const okBackends = TFJS_BACKENDS.filter((b) => backends.some((s) => s.name === b && s.ok));
  const sections: BenchResult['sections'] = {};
  const section = <T>(start: number, rows: T[], options: Record<string, unknown>, size?: [number, number]) => ({
    date: new Date().toISOString(),
    size,
    options: { ...options, quick: o.quick },
    seconds: (performance.now() - start) / 1e3,
    rows,
  });

  if (o.sections.includes('ceiling')) {
    log('ceiling: tiled matmul');
    const s0 = performance.now();
    const rows = await runCeiling(ctx, timer, { warmup: o.warmup, trials: o.trials, quick: o.quick, log });
    sections.ceiling = section(s0, rows, { trials: o.trials, warmup: o.warmup, quick: o.quick });
  }

  if (o.sections.includes('ops')) {
    log(`ops at ${o.size.join('x')}`);
    const s0 = performance.now();
    const strategies: OpStrategy[] = [...ourOpStrategies(ctx, timer, o.versions), ...okBackends.flatMap((b) => tfjsOpStrategies(tf!, ctx, b))];
    const companion = await ceilingCompanion(ctx, timer);
    const rows = await runOpCases(opCases(o.size[0], o.size[1], { ops: o.ops }), strategies, {
      warmup: o.warmup,
      trials: o.trials,
      quick: o.quick,
      rowBudgetS: o.rowBudgetS,
      slowRunS: o.slowRunS,
      modelConvVersionAt: (s, dir) => modelConvVersionAt(ctx, modelConvVersion, s, dir),
      ceilingCompanion: companion.companion,
      gpuErrors: () => ctx.uncapturedErrors,
      log,
    });
    companion.destroy();
    for (const b of backends.filter((x) => !x.ok)) {
      rows.push({ op: 'conv3x3_forward', impl: `tfjs-${b.name}`, backend: b.name, version: `tfjs-${b.name}`, shape: '(all)', layers: '', gflop: null, ms: null, gflops: null, timing: 'wall', note: `cannot run: ${b.note}` });
    }
    sections.ops = section(s0, rows, { trials: o.trials, warmup: o.warmup, versions: o.versions, rowBudgetS: o.rowBudgetS, quick: o.quick, ops: o.ops }, o.size);
  }

  const images = o.sections.some((s) => s === 'eval' || s === 'e2e' || s === 'memory' || s === 'banding' || s === 'kernels') ? { content: await env.loadImage('tubingen.jpg'), style: await env.loadImage('starry_night.jpg') } : null;
  const ourWeights = images ? await env.loadOurWeights() : null;
  const cfg = makeConfig(o.preset);
  const objectiveSetup = (): ObjectiveSetup => ({ ctx, tf, backends, ourWeights: ourWeights!, loadTfjsWeights: env.loadTfjsWeights, images: images! });
  const pytorch = o.pytorch && ourWeights ? (env.pytorch?.(ourWeights.source) ?? { skipped: `not available in ${env.kind === 'browser' ? 'a browser' : 'this environment'}` }) : null;

  if (o.sections.includes('eval')) {
    log(`eval: one loss-and-gradient evaluation, ${o.preset} preset, ${o.evalSize.join('x')}`);
    const s0 = performance.now();
    const r = await runEval(objectiveSetup(), {
      cfg,
      H: o.evalSize[0],
      W: o.evalSize[1],
      warmup: o.evalWarmup,
      trials: o.evalTrials,
      evalBudgetS: o.evalBudgetS,
      convVersion: modelConvVersion,
      formulations: o.formulations,
      tunedInputGrad: o.tunedInputGrad ?? undefined,
      profileTfjs: o.profileTfjs,
      pytorch,
      quick: o.quick,
      log,
    });
    sections.eval = {
      ...section(s0, r.rows, { preset: o.preset, trials: o.evalTrials, warmup: o.evalWarmup, evalBudgetS: o.evalBudgetS, formulations: o.formulations, tunedInputGrad: o.tunedInputGrad ?? 'per backend' }, o.evalSize),
      breakdown: r.breakdown,
      ...(r.tfjsProfiles.length ? { tfjsProfiles: r.tfjsProfiles } : {}),
    };
  }

  if (o.sections.includes('kernels')) {
    log(`kernels: the kernel table at ${o.evalSize.join('x')}: default vs tuned (private cache) vs every candidate at each conv site; one evaluation per table`);
    const s0 = performance.now();
    const r = await runKernelsBench(ctx, ourWeights!, images!, { cfg, H: o.evalSize[0], W: o.evalSize[1], warmup: o.warmup, trials: o.trials, evalWarmup: o.evalWarmup, evalTrials: o.evalTrials, log });
    sections.kernels = {
      ...section(s0, r.rows, { preset: o.preset, trials: o.trials, warmup: o.warmup, evalTrials: o.evalTrials, evalWarmup: o.evalWarmup }, o.evalSize),
      evaluation: r.evaluation,
      tuneSeconds: r.tuneSeconds,
    };
  }

  if (o.sections.includes('e2e')) {
    log(`e2e: ${o.e2eConfigs}`);
    const s0 = performance.now();
    const rows = await runE2e(objectiveSetup(), {
      cfg,
      configs: parseE2eConfigs(o.e2eConfigs),
      tfjsFormulation: o.e2eTfjs,
      pytorch,
      adamLr: 10,
      log,
    });
    sections.e2e = section(s0, rows, { preset: o.preset, configs: o.e2eConfigs, tfjs: o.e2eTfjs });
  }
  if (o.sections.includes('memory')) {
    log(`memory: ${o.memorySizes.join(', ')} rows (counted in a run up to ${o.memoryMeasureRows} rows)`);
    const s0 = performance.now();
    const rows = await runMemory(ctx, ourWeights!, images!, { cfg, sizes: o.memorySizes, measureUpToRows: o.memoryMeasureRows, log });
    sections.memory = section(s0, rows, { preset: o.preset, sizes: o.memorySizes, measureUpToRows: o.memoryMeasureRows });
  }

  if (o.sections.includes('banding')) {
    log(`banding: one evaluation at ${o.evalSize[0]} rows, unbanded vs ${o.bands} bands of block1`);
    const s0 = performance.now();
    const rows = await runBanding(ctx, ourWeights!, images!, { cfg, H: o.evalSize[0], bands: o.bands, warmup: 1, trials: o.bandingTrials, log });
    sections.banding = section(s0, rows, { preset: o.preset, bands: o.bands, trials: o.bandingTrials }, rows[0].size);
  }
  timer.destroy();

  const result: BenchResult = {
    date,
    env: env.kind,
    adapter: ctx.description,
    timing: timer.source,
    versions: env.versions,
    host: env.host,
    options: { ...o },
    backends,
    seconds: (performance.now() - t0) / 1e3,
    summary: {},
    rows: [...(sections.ceiling?.rows ?? []), ...(sections.ops?.rows ?? [])] as OpRow[],
    sections,
  };
  result.summary = computeSummary(result, modelConvVersion);
  return result;
}
