// The whole style transfer: images in, image out.
//
//   content/style RGBA --resize to rows x cols--> caffe BGR --> StyleObjective (targets once)
//   --> L-BFGS (notebook: 10 rounds x 20 evaluations) or Adam on the pixels --> best x --> RGBA
//
// Used by the CLI (src/cli), the page (src/web) and the benchmark.

import type { GpuContext } from '../gpu/device.ts';
import { createStorage, readFloats, uploadStorage } from '../gpu/runtime.ts';
import { fromCaffe, randomCaffe, toCaffe } from '../image/preprocess.ts';
import { type ResizeMethod, resize, workingSize } from '../image/resize.ts';
import type { RgbaImage } from '../image/types.ts';
import { deviceBufferLimit, Vgg19 } from '../model/vgg19.ts';
import { minInputSide } from '../model/vgg19_layers.ts';
import type { Vgg19Weights } from '../model/weights.ts';
import { minimizeAdam } from '../optim/adam.ts';
import { minimizeLbfgs } from '../optim/lbfgs.ts';
import type { IterationInfo, Objective, OptimizeResult } from '../optim/types.ts';
import { deepestLayer, type StyleConfig } from './config.ts';
import { transferFootprint } from './footprint.ts';
import { StyleObjective } from './objective.ts';
import type { LossBreakdown, TransferOptions, TransferResult } from './types.ts';

/** The notebook resizes with keras load_img (PIL nearest); other presets average areas. */
export function defaultResize(cfg: StyleConfig): ResizeMethod {
  return cfg.preset === 'notebook' ? 'nearest' : 'area';
}

/**
 * Throws a clear error when rows x cols cannot run: too small for the deepest layer used (says
 * the minimum); the image itself over the buffer limit (maxBufferBytes, default the device's:
 * every other tensor is split into row bands, but the image and its gradient are one buffer
 * each); or, when `memoryBytes` is known, the whole plan (transferFootprint) over it. The last
 * two say the largest rows that fit at this aspect ratio.
 */
export function checkWorkingSize(ctx: GpuContext, rows: number, cols: number, config: StyleConfig, maxBufferBytes?: number, memoryBytes = Infinity): void {
  const deepest = deepestLayer(config);
  const min = minInputSide(deepest);
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`rows must be a positive integer, got ${rows}`);
  if (rows < min || cols < min) {
    throw new Error(
      `working size ${rows}x${cols} is too small for layer ${deepest} (reached after ${Math.log2(min)} poolings): both sides must be at least ${min} pixels`,
    );
  }
  const limit = maxBufferBytes ?? deviceBufferLimit(ctx);
  const aspect = cols / rows;
  const largest = (fits: (r: number, c: number) => boolean) => {
    let r = rows;
    while (r > min && !fits(r, Math.trunc(r * aspect))) r--;
    return r;
  };
  const mib = (b: number) => (b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0);
  const imageFits = (r: number, c: number) => r * c * 3 * 4 <= limit;
  if (!imageFits(rows, cols)) {
    throw new Error(
      `working size ${rows}x${cols}: the image itself needs a ${mib(rows * cols * 12)} MiB buffer, over the buffer limit of ${mib(limit)} MiB${maxBufferBytes ? ' (--max-buffer-mib)' : ''}; the largest that fits at this aspect ratio is --rows ${largest(imageFits)}`,
    );
  }
  if (memoryBytes === Infinity) return;
  const fits = (r: number, c: number) => imageFits(r, c) && transferFootprint(ctx, r, c, config, { maxBufferBytes: limit }).bytes <= memoryBytes;
  if (!fits(rows, cols)) {
    const need = transferFootprint(ctx, rows, cols, config, { maxBufferBytes: limit }).bytes;
    throw new Error(
      `working size ${rows}x${cols} needs ${mib(need)} MiB of GPU memory in all (activations split into row bands), over the ${mib(memoryBytes)} MiB available; the largest that fits at this aspect ratio is --rows ${largest(fits)}`,
    );
  }
}

export interface PreparedImages {
  rows: number;
  cols: number;
  content: Float32Array<ArrayBuffer>;
  style: Float32Array<ArrayBuffer>;
}

/** Resizes content to `rows` (width from its aspect ratio) and style to the same size; caffe preprocessing. */
export function prepareImages(content: RgbaImage, style: RgbaImage, rows: number, method: ResizeMethod): PreparedImages {
  const { cols } = workingSize(content.height, content.width, rows);
  return {
    rows,
    cols,
    content: toCaffe(resize(content, rows, cols, method)) as Float32Array<ArrayBuffer>,
    style: toCaffe(resize(style, rows, cols, method)) as Float32Array<ArrayBuffer>,
  };
}

/** Wraps the objective to remember the loss terms of the best and the recent evaluations. */
class TrackingObjective implements Objective {
  best: LossBreakdown | null = null;
  private recent: LossBreakdown[] = [];
  constructor(readonly inner: StyleObjective) {}
  get n() {
    return this.inner.n;
  }
  async evaluate(x: GPUBuffer, grad: GPUBuffer): Promise<number> {
    const f = await this.inner.evaluate(x, grad);
    const terms = this.inner.last!;
    if (Number.isFinite(f) && (!this.best || f <= this.best.total)) this.best = terms;
    this.recent.push(terms);
    if (this.recent.length > 64) this.recent.shift();
    return f;
  }
  /** The loss terms of a recent evaluation whose total was `total` (the optimizer reports totals). */
  termsOf(total: number): LossBreakdown | null {
    for (let i = this.recent.length - 1; i >= 0; i--) if (this.recent[i].total === total) return this.recent[i];
    return null;
  }
}

async function buildObjective(
  ctx: GpuContext,
  weights: Vgg19Weights | Vgg19,
  config: StyleConfig,
  prep: PreparedImages,
  maxBufferBytes?: number,
  memoryBytes?: number,
): Promise<StyleObjective> {
  checkWorkingSize(ctx, prep.rows, prep.cols, config, maxBufferBytes, memoryBytes);
  const net = weights instanceof Vgg19 ? weights : await Vgg19.create(ctx, weights, { pooling: config.pooling });
  return StyleObjective.create(ctx, net, config, prep.rows, prep.cols, prep.content, prep.style, { maxBufferBytes });
}

/** Runs a style transfer; returns the best image found. */
export async function styleTransfer(ctx: GpuContext, weights: Vgg19Weights | Vgg19, opts: TransferOptions): Promise<TransferResult> {
  const t0 = performance.now();
  const cfg = opts.config;
  const method = opts.resize ?? defaultResize(cfg);
  const prep = prepareImages(opts.content, opts.style, opts.rows, method);
  const { rows, cols } = prep;
  const objective = new TrackingObjective(await buildObjective(ctx, weights, cfg, prep, opts.maxBufferBytes, opts.memoryBytes));
  objective.inner.maxDispatchesPerSubmit = opts.maxDispatchesPerSubmit ?? 0;

  let init: Float32Array<ArrayBuffer>;
  const kind = opts.init ?? 'content';
  if (kind === 'content') init = prep.content;
  else if (kind === 'random') init = randomCaffe(rows, cols, opts.seed ?? 0) as Float32Array<ArrayBuffer>;
  else init = toCaffe(resize(kind, rows, cols, method)) as Float32Array<ArrayBuffer>;
  const x0 = uploadStorage(ctx, init, 'x0');

  const optimizer = opts.optimizer ?? 'lbfgs';
  const rounds = opts.rounds ?? 10;
  const evalsPerRound = opts.evalsPerRound ?? 20;
  const planned = opts.iterations ?? rounds * evalsPerRound;
  const signal = opts.signal;
  const onIteration = async (info: IterationInfo) => {
    if (!opts.onProgress) return;
    await opts.onProgress({
      iteration: info.iteration,
      evaluation: info.evaluation,
      planned,
      round: info.round,
      loss: info.loss,
      terms: objective.termsOf(info.loss),
      seconds: (performance.now() - t0) / 1e3,
      image: async () => fromCaffe(await readFloats(ctx, info.x, objective.n), rows, cols),
      x: info.x,
      rows,
      cols,
    });
  };
  const common = { onIteration, shouldStop: () => !!signal?.aborted, gtol: 0 };
  let result: OptimizeResult;
  if (optimizer === 'adam') {
    result = await minimizeAdam(ctx, objective, x0, { ...common, maxIterations: planned, maxEvaluations: planned, lr: opts.learningRate });
  } else if (optimizer === 'lbfgs') {
    result =
      opts.iterations !== undefined
        ? await minimizeLbfgs(ctx, objective, x0, { ...common, maxIterations: opts.iterations })
        : await minimizeLbfgs(ctx, objective, x0, { ...common, rounds, evalsPerRound });
  } else {
    throw new Error(`optimizer must be lbfgs or adam, got "${optimizer as string}"`);
  }
  x0.destroy();
  const pixels = await readFloats(ctx, result.x, objective.n);
  // The loss terms at the returned point: remembered from its evaluation, else evaluated again.
  let loss = objective.best;
  if (!loss || loss.total !== result.loss) {
    const g = createStorage(ctx, objective.n * 4, 'final gradient');
    await objective.inner.evaluate(result.x, g);
    g.destroy();
    loss = objective.inner.last!;
  }
  result.x.destroy();
  return {
    image: fromCaffe(pixels, rows, cols),
    rows,
    cols,
    evaluations: result.evaluations,
    iterations: result.iterations,
    seconds: (performance.now() - t0) / 1e3,
    loss,
    history: result.history.map((h) => ({ evaluation: h.evaluation, loss: h.loss })),
    stopped: result.reason === 'stopped',
    reason: result.message,
  };
}

/** The objective once at x = the preprocessed content image: loss terms and gradient [H, W, 3] BGR. */
export async function evaluateOnce(
  ctx: GpuContext,
  weights: Vgg19Weights | Vgg19,
  opts: { content: RgbaImage; style: RgbaImage; rows: number; resize?: ResizeMethod; config: StyleConfig; maxBufferBytes?: number; memoryBytes?: number },
): Promise<{ rows: number; cols: number; loss: LossBreakdown; grad: Float32Array; bands: Record<string, number> }> {
  const prep = prepareImages(opts.content, opts.style, opts.rows, opts.resize ?? defaultResize(opts.config));
  const objective = await buildObjective(ctx, weights, opts.config, prep, opts.maxBufferBytes, opts.memoryBytes);
  const x = uploadStorage(ctx, prep.content, 'x');
  const g = createStorage(ctx, objective.n * 4, 'gradient');
  await objective.evaluate(x, g);
  const grad = await readFloats(ctx, g, objective.n);
  x.destroy();
  g.destroy();
  return { rows: prep.rows, cols: prep.cols, loss: objective.last!, grad, bands: objective.plan.bandCounts };
}
