// The whole style transfer: images in, image out.
//
//   content/style RGBA --resize to rows x cols--> caffe BGR --> StyleObjective (targets once)
//   --> L-BFGS (notebook: 10 rounds x 20 evaluations) or Adam on the pixels --> best x --> RGBA
//
// Multi-scale (TransferOptions.scales, coarse to fine): the same per stage, each stage at its
// own rows, starting from the previous stage's best x upsampled bilinearly (resizeFloats).
//
// Used by the CLI (src/cli), the page (src/web) and the benchmark.

import type { GpuContext } from '../gpu/device.ts';
import { gpuMemory, type MemoryReport } from '../gpu/memory.ts';
import { fromCaffe, randomCaffe, toCaffe } from '../image/preprocess.ts';
import { type ResizeMethod, resize, resizeFloats, workingSize } from '../image/resize.ts';
import type { RgbaImage } from '../image/types.ts';
import { deviceBufferLimit, Vgg19 } from '../model/vgg19.ts';
import { minInputSide } from '../model/vgg19_layers.ts';
import type { Vgg19Weights } from '../model/weights.ts';
import { minimizeAdam } from '../optim/adam.ts';
import { minimizeLbfgs } from '../optim/lbfgs.ts';
import type { IterationInfo, Objective, OptimizeResult } from '../optim/types.ts';
import { createVectorOf, destroyVector, type GpuVec, readVector, uploadVector } from '../optim/vecops.ts';
import { deepestLayer, type StyleConfig } from './config.ts';
import { type StyleCounts, transferFootprint } from './footprint.ts';
import { normaliseBlend, StyleObjective, type StyleInput } from './objective.ts';
import { maskFromImage } from './masks.ts';
import { histogramMatch, luminanceInputs, PRESERVE_COLORS, type PreserveColors, recombineLuminance } from '../image/colour.ts';
import type { LossBreakdown, StageReport, StyleControls, TransferOptions, TransferResult } from './types.ts';

/** The notebook resizes with keras load_img (PIL nearest); other presets average areas. */
export function defaultResize(cfg: StyleConfig): ResizeMethod {
  return cfg.preset === 'notebook' ? 'nearest' : 'area';
}

/**
 * Throws a clear error when rows x cols cannot run: too small for the deepest layer used (says
 * the minimum); a buffer limit (maxBufferBytes, default the device's) too small for even the
 * narrowest row bands (every tensor, the image included, is split into row bands, and a chunked
 * 3x3 convolution needs three rows of block1's [cols, 64] maps in one buffer); or, when
 * `memoryBytes` is known, the whole plan (transferFootprint) over it. The last two say the
 * largest rows that fit at this aspect ratio.
 */
export function checkWorkingSize(
  ctx: GpuContext,
  rows: number,
  cols: number,
  config: StyleConfig,
  maxBufferBytes?: number,
  memoryBytes = Infinity,
  styles?: StyleCounts,
): void {
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
  const mib = (b: number) => (b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0);
  // three rows of block1's maps: a chunk's output row and its halo (every deeper map's row holds
  // at most as many floats: each pooling halves the width and at most doubles the channels)
  const bandBytes = (c: number) => 3 * c * 64 * 4;
  const imageFits = (_r: number, c: number) => bandBytes(c) <= limit;
  const footprint = (r: number, c: number) => {
    try {
      return transferFootprint(ctx, r, c, config, { maxBufferBytes: limit, styles }).bytes;
    } catch {
      return Infinity; // a row wider than the buffer limit: cannot be banded
    }
  };
  const fits = (r: number, c: number) => imageFits(r, c) && (memoryBytes === Infinity || footprint(r, c) <= memoryBytes);
  /** "the largest that fits ... is --rows N" (both limits grow with rows: bisection), or that none does. */
  const largest = () => {
    if (!fits(min, Math.max(min, Math.trunc(min * aspect)))) return `no working size fits, not even the smallest (${min} rows)`;
    let [lo, hi] = [min, rows]; // fits(lo), !fits(hi)
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(mid, Math.trunc(mid * aspect))) lo = mid;
      else hi = mid;
    }
    return `the largest that fits at this aspect ratio is --rows ${lo}`;
  };
  if (!imageFits(rows, cols)) {
    throw new Error(
      `working size ${rows}x${cols}: the narrowest row bands need ${mib(bandBytes(cols))} MiB buffers (three rows of block1's ${cols}x64 maps, a row and its 3x3 halo), over the buffer limit of ${mib(limit)} MiB${maxBufferBytes ? ' (--max-buffer-mib)' : ''}; ${largest()}`,
    );
  }
  if (!fits(rows, cols)) {
    const need = footprint(rows, cols);
    throw new Error(
      `working size ${rows}x${cols} needs ${need === Infinity ? 'more' : mib(need)} MiB of GPU memory in all (activations split into row bands), over the ${mib(memoryBytes)} MiB available; ${largest()}`,
    );
  }
}

export interface PreparedImages {
  rows: number;
  cols: number;
  content: Float32Array<ArrayBuffer>;
  /** the first style at the working size (the one-style case) */
  style: Float32Array<ArrayBuffer>;
  /** every style at its own size (styleScale), with its blend weight and mask */
  styles: StyleInput[];
}

/** The style controls checked and applied to the images (colour preservation done). */
export interface ResolvedStyles {
  /** the content the transfer runs on (luminance: its Y as a grey image) */
  content: RgbaImage;
  /** the original content (for recombineLuminance) */
  original: RgbaImage;
  styles: RgbaImage[];
  blend: number[];
  scale: number;
  masks: Array<RgbaImage | null>;
  preserveColors: PreserveColors;
}

/**
 * Checks the style controls (one-line errors naming the option) and applies colour preservation:
 * histogram replaces each style by histogramMatch(content, styles); luminance runs on
 * luminanceInputs (recombine the output with recombineLuminance).
 */
export function resolveStyles(content: RgbaImage, o: StyleControls): ResolvedStyles {
  const styles = o.styles ?? (o.style ? [o.style] : []);
  if (!styles.length) throw new Error('no style image: give style or styles');
  const blend = o.styleBlend ?? styles.map(() => 1);
  if (blend.length !== styles.length) throw new Error(`styleBlend has ${blend.length} weights for ${styles.length} styles (one per style)`);
  const normalised = normaliseBlend(blend);
  const scale = o.styleScale ?? 1;
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`styleScale must be a number > 0, got ${scale}`);
  const masks = o.styleMasks ?? styles.map(() => null);
  if (masks.length !== styles.length) throw new Error(`styleMasks has ${masks.length} entries for ${styles.length} styles (one per style, null for none)`);
  const preserveColors = o.preserveColors ?? 'none';
  if (!PRESERVE_COLORS.includes(preserveColors)) throw new Error(`preserveColors must be one of ${PRESERVE_COLORS.join(', ')}, got "${preserveColors as string}"`);
  let runContent = content;
  let runStyles = styles;
  if (preserveColors === 'histogram') runStyles = histogramMatch(content, styles);
  else if (preserveColors === 'luminance') ({ content: runContent, styles: runStyles } = luminanceInputs(content, styles));
  return { content: runContent, original: content, styles: runStyles, blend: normalised, scale, masks, preserveColors };
}

/** The size a style image is resized to: scale x the working size, each side at least minSide. */
export function styleSize(rows: number, cols: number, scale: number, minSide = 1): { rows: number; cols: number } {
  return { rows: Math.max(minSide, Math.round(rows * scale)), cols: Math.max(minSide, Math.round(cols * scale)) };
}

/**
 * Resizes content to `rows` (width from its aspect ratio) and each style to the same size times
 * `controls.scale` (at least minSide a side); caffe preprocessing; masks to the working size.
 */
export function prepareImages(
  content: RgbaImage,
  style: RgbaImage | Pick<ResolvedStyles, 'styles' | 'blend' | 'scale' | 'masks'>,
  rows: number,
  method: ResizeMethod,
  minSide = 1,
): PreparedImages {
  const { cols } = workingSize(content.height, content.width, rows);
  const ctl = 'data' in style ? { styles: [style], blend: [1], scale: 1, masks: [null] } : style;
  const ss = styleSize(rows, cols, ctl.scale, minSide);
  const styles: StyleInput[] = ctl.styles.map((s, i) => ({
    pixels: toCaffe(resize(s, ss.rows, ss.cols, method)) as Float32Array<ArrayBuffer>,
    rows: ss.rows,
    cols: ss.cols,
    weight: ctl.blend[i],
    mask: ctl.masks[i] ? maskFromImage(ctl.masks[i]!, rows, cols) : null,
  }));
  const style0 = ss.rows === rows && ss.cols === cols ? styles[0].pixels : (toCaffe(resize(ctl.styles[0], rows, cols, method)) as Float32Array<ArrayBuffer>);
  return { rows, cols, content: toCaffe(resize(content, rows, cols, method)) as Float32Array<ArrayBuffer>, style: style0, styles };
}

/** Wraps the objective to remember the loss terms of the best and the recent evaluations. */
class TrackingObjective implements Objective {
  best: LossBreakdown | null = null;
  private recent: LossBreakdown[] = [];
  constructor(readonly inner: StyleObjective) {}
  get n() {
    return this.inner.n;
  }
  get segments() {
    return this.inner.segments;
  }
  async evaluate(x: GpuVec, grad: GpuVec): Promise<number> {
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
  kernels?: 'default' | 'tuned',
): Promise<StyleObjective> {
  const styleScale = Math.max(...prep.styles.map((s) => Math.max(s.rows / prep.rows, s.cols / prep.cols)));
  const counts = { count: prep.styles.length, masked: prep.styles.filter((s) => s.mask).length, scale: styleScale };
  checkWorkingSize(ctx, prep.rows, prep.cols, config, maxBufferBytes, memoryBytes, counts);
  const net = weights instanceof Vgg19 ? weights : await Vgg19.create(ctx, weights, { pooling: config.pooling, upTo: deepestLayer(config), kernels });
  for (const s of prep.styles) if (s.rows !== prep.rows || s.cols !== prep.cols) checkWorkingSize(ctx, s.rows, s.cols, config, maxBufferBytes);
  return StyleObjective.create(ctx, net, config, prep.rows, prep.cols, prep.content, prep.styles, { maxBufferBytes });
}

/**
 * The stages' working rows: opts.scales (checked: strictly ascending integers >= 1, the last
 * equal to opts.rows, opts.scaleIterations one positive integer per stage), else [opts.rows].
 */
export function transferScales(opts: Pick<TransferOptions, 'rows' | 'scales' | 'scaleIterations'>): number[] {
  const { scales, scaleIterations } = opts;
  if (scales === undefined) {
    if (scaleIterations !== undefined) throw new Error('scaleIterations needs scales');
    return [opts.rows];
  }
  if (!scales.length) throw new Error('scales must list at least one size');
  scales.forEach((r, i) => {
    if (!Number.isInteger(r) || r < 1) throw new Error(`scales: ${r} is not a positive integer`);
    if (i > 0 && r <= scales[i - 1]) throw new Error(`scales must be strictly ascending, got ${scales.join(',')}`);
  });
  if (scales[scales.length - 1] !== opts.rows) {
    throw new Error(`the last of scales (${scales[scales.length - 1]}) must equal rows (${opts.rows}), the output size`);
  }
  if (scaleIterations !== undefined) {
    if (scaleIterations.length !== scales.length) {
      throw new Error(`scaleIterations has ${scaleIterations.length} items for ${scales.length} scales`);
    }
    for (const n of scaleIterations) if (!Number.isInteger(n) || n < 1) throw new Error(`scaleIterations: ${n} is not a positive integer`);
  }
  return [...scales];
}

/**
 * Runs a style transfer; returns the best image found.
 *
 * Multi-scale (opts.scales): stage k runs the whole optimization at scales[k] rows, with its
 * own objective (content and style resized to that size, targets recomputed) on the same
 * network (weights uploaded once), starting from stage k-1's result upsampled bilinearly.
 * Each stage's GPU buffers (plan, targets, optimizer) are freed before the next allocates its
 * own: they are the buffers created while the stage ran (memory.ts BufferScope), so the peak
 * is that of the largest stage, not the sum. If the run is stopped (signal) during a stage,
 * the result is that stage's best image, at that stage's size.
 */
export async function styleTransfer(ctx: GpuContext, weights: Vgg19Weights | Vgg19, opts: TransferOptions): Promise<TransferResult> {
  const t0 = performance.now();
  const cfg = opts.config;
  const method = opts.resize ?? defaultResize(cfg);
  const scales = transferScales(opts);
  const ctl = resolveStyles(opts.content, opts);
  const minSide = minInputSide(deepestLayer(cfg));
  /** the image as the user sees it: luminance runs take the content's I and Q */
  const finish = (img: RgbaImage): RgbaImage =>
    ctl.preserveColors === 'luminance' ? recombineLuminance(img, resize(ctl.original, img.height, img.width, method)) : img;
  const sizes = scales.map((r) => workingSize(opts.content.height, opts.content.width, r));
  const counts = { count: ctl.styles.length, masked: ctl.masks.filter(Boolean).length, scale: ctl.scale };
  for (const { rows, cols } of sizes) checkWorkingSize(ctx, rows, cols, cfg, opts.maxBufferBytes, opts.memoryBytes, counts);
  const memory = gpuMemory(ctx);
  memory.resetPeak();
  const runScope = memory.beginScope(); // the network, if made here
  const net = weights instanceof Vgg19 ? weights : await Vgg19.create(ctx, weights, { pooling: cfg.pooling, upTo: deepestLayer(cfg), kernels: opts.kernels });
  runScope.close();

  const optimizer = opts.optimizer ?? 'lbfgs';
  if (optimizer !== 'adam' && optimizer !== 'lbfgs') throw new Error(`optimizer must be lbfgs or adam, got "${optimizer as string}"`);
  const rounds = opts.rounds ?? 10;
  const evalsPerRound = opts.evalsPerRound ?? 20;
  const iterationsOf = (k: number): number | undefined => opts.scaleIterations?.[k] ?? opts.iterations;
  const plannedOf = (k: number): number => iterationsOf(k) ?? rounds * evalsPerRound;
  const planned = scales.reduce((a, _r, k) => a + plannedOf(k), 0);
  const signal = opts.signal;

  const stages: StageReport[] = [];
  const history: TransferResult['history'] = [];
  let done = { iterations: 0, evaluations: 0 };
  let prev: { pixels: Float32Array; rows: number; cols: number; loss: LossBreakdown; result: OptimizeResult } | null = null;
  try {
    for (let k = 0; k < scales.length; k++) {
      const ts = performance.now();
      const scope = memory.beginScope();
      try {
        const prep = prepareImages(ctl.content, ctl, scales[k], method, minSide);
        const { rows, cols } = prep;
        const objective = new TrackingObjective(await buildObjective(ctx, net, cfg, prep, opts.maxBufferBytes, opts.memoryBytes));
        objective.inner.maxDispatchesPerSubmit = opts.maxDispatchesPerSubmit ?? 0;

        let init: Float32Array<ArrayBuffer>;
        const kind = opts.init ?? 'content';
        if (prev) init = resizeFloats(prev.pixels, prev.rows, prev.cols, 3, rows, cols, 'bilinear');
        else if (kind === 'content') init = prep.content;
        else if (kind === 'random') init = randomCaffe(rows, cols, opts.seed ?? 0) as Float32Array<ArrayBuffer>;
        else init = toCaffe(resize(kind, rows, cols, method)) as Float32Array<ArrayBuffer>;
        const x0 = uploadVector(ctx, init, objective.segments, 'x0');

        const offset = done;
        const onIteration = async (info: IterationInfo) => {
          if (!opts.onProgress) return;
          const report = opts.onProgress;
          await scope.unrecorded(() =>
            report({
              iteration: offset.iterations + info.iteration,
              evaluation: offset.evaluations + info.evaluation,
              planned,
              stage: k + 1,
              stages: scales.length,
              round: info.round,
              loss: info.loss,
              terms: objective.termsOf(info.loss),
              seconds: (performance.now() - t0) / 1e3,
              image: async () => finish(fromCaffe(await readVector(ctx, info.x, objective.segments), rows, cols)),
              x: info.x,
              segments: objective.segments,
              rows,
              cols,
            }),
          );
        };
        const common = { onIteration, shouldStop: () => !!signal?.aborted, gtol: 0 };
        const iterations = iterationsOf(k);
        let result: OptimizeResult;
        if (optimizer === 'adam') {
          const n = plannedOf(k);
          result = await minimizeAdam(ctx, objective, x0, { ...common, maxIterations: n, maxEvaluations: n, lr: opts.learningRate });
        } else {
          result =
            iterations !== undefined
              ? await minimizeLbfgs(ctx, objective, x0, { ...common, maxIterations: iterations })
              : await minimizeLbfgs(ctx, objective, x0, { ...common, rounds, evalsPerRound });
        }
        const pixels = await readVector(ctx, result.x, objective.segments);
        // The loss terms at the returned point: remembered from its evaluation, else evaluated again.
        let loss = objective.best;
        if (!loss || loss.total !== result.loss) {
          const g = createVectorOf(ctx, objective.segments, 'final gradient');
          await objective.inner.evaluate(result.x, g);
          destroyVector(g);
          loss = objective.inner.last!;
        }
        for (const h of result.history) history.push({ evaluation: offset.evaluations + h.evaluation, loss: h.loss, stage: k + 1 });
        done = { iterations: offset.iterations + result.iterations, evaluations: offset.evaluations + result.evaluations };
        stages.push({ rows, cols, evaluations: result.evaluations, seconds: (performance.now() - ts) / 1e3, loss: loss.total });
        prev = { pixels, rows, cols, loss, result };
      } finally {
        scope.destroyAll(); // this stage's objective, network plan, optimizer, x0 and result
      }
      if (prev.result.reason === 'stopped') break;
    }
  } finally {
    runScope.destroyAll(); // the network, if this call made it
  }
  const last = prev!;
  return {
    image: finish(fromCaffe(last.pixels, last.rows, last.cols)),
    rows: last.rows,
    cols: last.cols,
    evaluations: done.evaluations,
    iterations: done.iterations,
    seconds: (performance.now() - t0) / 1e3,
    loss: last.loss,
    history,
    stopped: last.result.reason === 'stopped',
    reason: last.result.message,
    stages,
    memory: memory.report(),
  };
}

/** The objective once at x = the preprocessed content image: loss terms, gradient [H, W, 3] BGR, peak GPU memory. */
export async function evaluateOnce(
  ctx: GpuContext,
  weights: Vgg19Weights | Vgg19,
  opts: StyleControls & { content: RgbaImage; rows: number; resize?: ResizeMethod; config: StyleConfig; maxBufferBytes?: number; memoryBytes?: number; kernels?: 'default' | 'tuned' },
): Promise<{ rows: number; cols: number; loss: LossBreakdown; grad: Float32Array; memory: MemoryReport; bands: Record<string, number> }> {
  gpuMemory(ctx).resetPeak();
  const ctl = resolveStyles(opts.content, opts);
  const prep = prepareImages(ctl.content, ctl, opts.rows, opts.resize ?? defaultResize(opts.config), minInputSide(deepestLayer(opts.config)));
  const objective = await buildObjective(ctx, weights, opts.config, prep, opts.maxBufferBytes, opts.memoryBytes, opts.kernels);
  const x = uploadVector(ctx, prep.content, objective.segments, 'x');
  const g = createVectorOf(ctx, objective.segments, 'gradient');
  await objective.evaluate(x, g);
  const grad = await readVector(ctx, g, objective.segments);
  destroyVector(x);
  destroyVector(g);
  return { rows: prep.rows, cols: prep.cols, loss: objective.last!, grad, memory: gpuMemory(ctx).report(), bands: objective.plan.bandCounts };
}
