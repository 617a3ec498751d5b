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
import { fitWorkingSize } from '../model/working_size.ts';
import type { Vgg19Weights } from '../model/weights.ts';
import { minimizeAdam } from '../optim/adam.ts';
import { minimizeLbfgs } from '../optim/lbfgs.ts';
import type { IterationInfo, Objective, OptimizeResult } from '../optim/types.ts';
import { createVectorOf, destroyVector, type GpuVec, readVector, uploadVector } from '../optim/vecops.ts';
import { deepestLayer, type StyleConfig } from './config.ts';
import { type StyleCounts, transferFootprint } from './footprint.ts';
import type { KernelMode } from '../kernels/kernel_table.ts';
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
  kernels: KernelMode = 'default',
): void {
  fitWorkingSize({ rows, cols, deepest: deepestLayer(config) });
  const min = minInputSide(deepestLayer(config));
  const limit = maxBufferBytes ?? deviceBufferLimit(ctx);
  const aspect = cols / rows;
  const mib = (b: number) => (b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0);
  // three rows of block1's maps: a chunk's output row and its halo (every deeper map's row holds
  // at most as many floats: each pooling halves the width and at most doubles the channels)
  const bandBytes = (c: number) => 3 * c * 64 * 4;
  const bandsFit = (c: number) => bandBytes(c) <= limit;
  const footprint = (r: number, c: number) => {
    try {
      return transferFootprint(ctx, r, c, config, { maxBufferBytes: limit, styles, kernels }).bytes;
    } catch {
      return Infinity; // a row wider than the buffer limit: cannot be banded
    }
  };
  const fits = (r: number, c: number) => bandsFit(c) && (memoryBytes === Infinity || footprint(r, c) <= memoryBytes);
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
  if (!bandsFit(cols)) {
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

// ------------------------------------------------------------------------------------------
// Float32 overflow of the loss
// ------------------------------------------------------------------------------------------

/** The largest finite float32: the GPU computes every loss term and gradient in float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Headroom kept below FLOAT32_MAX for a loss term at the starting image: 2^24.
 *
 * Why a bound needs measuring: each loss term is linear in its weight,
 *   L_t(x) = w_t · s_t(x)   (content: coef ∝ w_c; style: factor_l ∝ w_s; tv: w_tv),
 * and the GPU multiplies the weight into each workgroup's partial sum of s_t in float32, so L_t
 * is finite only while w_t · s_t(x) < FLOAT32_MAX. The sums s_t are bounded for pixels in
 * [0, 255] (the network is a finite composition of bounded maps), but the bound that follows from
 * the weights (the product of the layers' l1 gains, ~20 a layer over 13 convolutions) is some 15
 * orders of magnitude above what real images give, so a bound derived that way would refuse
 * ordinary weights. Instead s_t is measured: once, at the starting image, when a run's first
 * evaluation is not finite (NonFiniteLossError), at weight 1.
 *
 * Why 2^24: the loss at an accepted L-BFGS point never exceeds the starting loss (each accepted
 * step decreases it), so w_t · s_t(x0) bounds every accepted L_t; but the gradient reaching the
 * pixels is the loss's derivative times the backward pass's gains (4 · factor · (G − A) at a
 * style layer, then up to 16 transposed convolutions), and line-search trial points may raise
 * the loss before they are rejected. 2^24 (float32's 24-bit significand: about 1.7e7) leaves
 * that much room for both. It is a chosen margin, not a tight bound: a run that still overflows
 * later is stopped by the optimizer's own check (stopReason 'non-finite', the best finite image
 * kept). So the largest usable weight reported is FLOAT32_MAX / 2^24 / s_t(x0) ≈ 2.0e31 / s_t.
 */
export const LOSS_HEADROOM = 2 ** 24;

export type LossTerm = 'content' | 'style' | 'tv';

/** The loss (or its gradient) is not finite in float32 at the starting image: the weights are too large for these images. */
export class NonFiniteLossError extends Error {
  constructor(
    message: string,
    /** the term whose weight to lower (the largest weighted one), null when none is to blame */
    readonly term: LossTerm | null,
    /** its weight now */
    readonly weight: number | null,
    /** the largest usable value of that weight for these images at this size, null if unknown */
    readonly largest: number | null,
  ) {
    super(message);
    this.name = 'NonFiniteLossError';
  }
}

/** A weight as one would type it: 26000 → "26000", 2.6e19 → "2.6e19". */
export function formatWeightValue(x: number): string {
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-4)) return x.toExponential().replace('e+', 'e');
  return String(x);
}

/** x rounded down to 2 significant digits (a limit one may type and stay under). */
function floor2(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return x;
  const e = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Number((Math.floor(x / e) * e).toPrecision(2));
}

/**
 * The error for a starting image whose loss or gradient is not finite. Each term is linear in its
 * weight, loss and gradient alike, so it is measured alone at weight 1 (an objective with that
 * weight 1 and the others 0, evaluated once at x0 in the caller's memory scope): its loss s_t and
 * its gradient's norm |g_t|_2 at the pixels. Three float32 quantities must stay finite:
 *   the loss            w · s_t                      (the objective's sums)
 *   the optimizer's dot products, g·g, s·y, y·y     (L-BFGS and Adam, in float32): (w · |g_t|)^2
 *   the gradients inside the backward pass          (4 · factor · (G − A) at a style layer, then
 *                                                    times F and the transposed convolutions)
 * The candidate largest weight keeps the first two LOSS_HEADROOM below FLOAT32_MAX:
 *   min(FLOAT32_MAX / H / s_t, sqrt(FLOAT32_MAX / H) / |g_t|);
 * the third depends on the images (it can exceed both), so the candidate is checked by one
 * evaluation at it and divided by 2^8 until that evaluation is finite everywhere (an overflow
 * inside the backward pass reaches the pixels as Inf or NaN). The term furthest over is named,
 * with that verified value.
 */
async function nonFiniteStart(ctx: GpuContext, net: Vgg19, cfg: StyleConfig, prep: PreparedImages, x0: GpuVec, maxBufferBytes?: number): Promise<NonFiniteLossError> {
  const w: Record<LossTerm, number> = { content: cfg.contentWeight, style: cfg.styleWeight, tv: cfg.tvWeight };
  const size = `${prep.cols}×${prep.rows}`;
  /** term t alone at `weight`: its loss and gradient norm at the pixels; Infinity for both when anything overflows */
  const probe = async (t: LossTerm, weight: number): Promise<{ loss: number; gradNorm: number }> => {
    const one = { ...cfg, contentWeight: t === 'content' ? weight : 0, styleWeight: t === 'style' ? weight : 0, tvWeight: t === 'tv' ? weight : 0 };
    const obj = await StyleObjective.create(ctx, net, one, prep.rows, prep.cols, prep.content, prep.styles, { maxBufferBytes });
    const g = createVectorOf(ctx, obj.segments, `${t} at weight ${weight}: gradient`);
    const loss = await obj.evaluate(x0, g);
    const grad = await readVector(ctx, g, obj.segments);
    let sumSq = 0; // in float64
    for (let i = 0; i < grad.length; i++) sumSq += grad[i] * grad[i];
    return Number.isFinite(loss) && Number.isFinite(sumSq) ? { loss, gradNorm: Math.sqrt(sumSq) } : { loss: Infinity, gradNorm: Infinity };
  };
  /** the largest weight of a term whose loss and gradient norm at weight 1 are u */
  const bound = (u: { loss: number; gradNorm: number }) => Math.min(FLOAT32_MAX / LOSS_HEADROOM / u.loss, Math.sqrt(FLOAT32_MAX / LOSS_HEADROOM) / u.gradNorm);
  const usable = (p: { loss: number; gradNorm: number }) => Number.isFinite(p.loss) && p.gradNorm ** 2 < FLOAT32_MAX;
  const unit: Partial<Record<LossTerm, { loss: number; gradNorm: number }>> = {};
  for (const t of ['content', 'style', 'tv'] as const) if (w[t] > 0) unit[t] = await probe(t, 1);
  const over = (t: LossTerm) => w[t] / bound(unit[t]!); // > 1: over the bound (NaN/Infinity sorts first below)
  const terms = (Object.keys(unit) as LossTerm[]).sort((a, b) => (Number.isNaN(over(b)) ? Infinity : over(b)) - (Number.isNaN(over(a)) ? Infinity : over(a)));
  const worst = terms[0];
  if (worst === undefined) return new NonFiniteLossError(`the loss at the starting image (${size}) is not finite in float32 with every weight 0`, null, null, null);
  const u = unit[worst]!;
  if (!usable(u) || !(bound(u) > 0) || !Number.isFinite(bound(u))) {
    return new NonFiniteLossError(
      `the ${worst} loss at the starting image (${size}) is not finite in float32 even at weight 1: these images cannot be used at this size`,
      worst,
      w[worst],
      null,
    );
  }
  let largest = floor2(bound(u));
  for (let tries = 0; tries < 8 && !usable(await probe(worst, largest)); tries++) largest = floor2(largest / 2 ** 8);
  return new NonFiniteLossError(
    `the ${worst} loss at the starting image (${size}) overflows float32 at weight ${formatWeightValue(w[worst])}: at weight 1 it is ${u.loss.toPrecision(3)} ` +
      `with a gradient of norm ${u.gradNorm.toPrecision(3)}, and the loss, the optimizer's dot products of gradients (norm squared) and the backward pass must stay ` +
      `within float32 (3.4e38, with 2^24 of headroom); the largest usable ${worst} weight for these images at this size, checked by one evaluation, is ${formatWeightValue(largest)}`,
    worst,
    w[worst],
    largest,
  );
}

/** Throws unless every value of a (read-back) float array is finite: no NaN ever reaches a PNG or a report. */
function assertFinite(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw new Error(`${what}: value ${i} is ${a[i]} (not finite); nothing is returned`);
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
  /** performance.now() when the first evaluation started (null before) */
  firstStart: number | null = null;
  constructor(readonly inner: StyleObjective) {}
  get n() {
    return this.inner.n;
  }
  get segments() {
    return this.inner.segments;
  }
  async evaluate(x: GpuVec, grad: GpuVec): Promise<number> {
    this.firstStart ??= performance.now();
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
  checkWorkingSize(ctx, prep.rows, prep.cols, config, maxBufferBytes, memoryBytes, counts, kernels);
  const net = weights instanceof Vgg19 ? weights : await Vgg19.create(ctx, weights, { pooling: config.pooling, upTo: deepestLayer(config), kernels });
  for (const s of prep.styles) if (s.rows !== prep.rows || s.cols !== prep.cols) checkWorkingSize(ctx, s.rows, s.cols, config, maxBufferBytes);
  // The first evaluation is at the content image (eval, and a transfer's default start): its
  // forward gives the content target (checked; otherwise computed first).
  // kernels given: the plan's table mode, also for a network made elsewhere (the page keeps one)
  return StyleObjective.create(ctx, net, config, prep.rows, prep.cols, prep.content, prep.styles, { maxBufferBytes, contentTargetAtFirstEvaluation: true, kernels });
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
  const sizes = scales.map((r) => fitWorkingSize({ rows: r, image: opts.content, deepest: deepestLayer(cfg) }));
  const counts = { count: ctl.styles.length, masked: ctl.masks.filter(Boolean).length, scale: ctl.scale };
  for (const { rows, cols } of sizes) checkWorkingSize(ctx, rows, cols, cfg, opts.maxBufferBytes, opts.memoryBytes, counts, opts.kernels);
  const memory = gpuMemory(ctx);
  memory.resetPeak();
  const runScope = memory.beginScope(); // the network, if made here
  const net = weights instanceof Vgg19 ? weights : await Vgg19.create(ctx, weights, { pooling: cfg.pooling, upTo: deepestLayer(cfg), kernels: opts.kernels });
  runScope.close();

  const optimizer = opts.optimizer ?? 'lbfgs';
  if (optimizer !== 'adam' && optimizer !== 'lbfgs') throw new Error(`optimizer must be lbfgs or adam, got "${optimizer as string}"`);
  const rounds = opts.rounds ?? 10;
  const evalsPerRound = opts.evalsPerRound ?? 20;
  const maxfunRule = opts.maxfunRule ?? (cfg.preset === 'notebook' ? 'scipy' : 'exact');
  const iterationsOf = (k: number): number | undefined => opts.scaleIterations?.[k] ?? opts.iterations;
  // the scipy rule runs at least one evaluation more in the first round (later rounds reuse their start)
  const plannedOf = (k: number): number => iterationsOf(k) ?? rounds * evalsPerRound + (optimizer === 'lbfgs' && maxfunRule === 'scipy' ? 1 : 0);
  const planned = scales.reduce((a, _r, k) => a + plannedOf(k), 0);
  const plannedUnit = optimizer === 'adam' || opts.iterations !== undefined || opts.scaleIterations !== undefined ? 'iteration' : 'evaluation';
  const signal = opts.signal;

  const stages: StageReport[] = [];
  const history: TransferResult['history'] = [];
  let done = { iterations: 0, evaluations: 0 };
  let prev: { pixels: Float32Array; rows: number; cols: number; loss: LossBreakdown; result: OptimizeResult } | null = null;
  let firstEvaluationAt: number | null = null;
  /** the loss or gradient became non-finite (after the first iteration): where, and the optimizer's words */
  let nonFinite: { stage: number; message: string } | null = null;
  try {
    for (let k = 0; k < scales.length; k++) {
      const ts = performance.now();
      const scope = memory.beginScope();
      try {
        const prep = prepareImages(ctl.content, ctl, scales[k], method, minSide);
        const { rows, cols } = prep;
        const objective = new TrackingObjective(await buildObjective(ctx, net, cfg, prep, opts.maxBufferBytes, opts.memoryBytes, opts.kernels));
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
              plannedUnit,
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
        const seen: Objective = opts.wrapObjective ? opts.wrapObjective(objective) : objective;
        const iterations = iterationsOf(k);
        let result: OptimizeResult;
        if (optimizer === 'adam') {
          const n = plannedOf(k);
          result = await minimizeAdam(ctx, seen, x0, { ...common, maxIterations: n, maxEvaluations: n, lr: opts.learningRate });
        } else {
          result =
            iterations !== undefined
              ? await minimizeLbfgs(ctx, seen, x0, { ...common, maxIterations: iterations })
              : await minimizeLbfgs(ctx, seen, x0, { ...common, rounds, evalsPerRound, maxfunRule });
        }
        firstEvaluationAt ??= objective.firstStart;
        if (result.reason === 'non-finite' && result.iterations === 0) {
          // the starting image: refused, naming the weight to lower (nothing has been made yet)
          if (!prev) throw await nonFiniteStart(ctx, net, cfg, prep, x0, opts.maxBufferBytes);
          // a later stage: keep the previous stage's image, which is finite
          nonFinite = { stage: k + 1, message: `stage ${k + 1} (${rows} rows): ${result.message}` };
          break;
        }
        if (result.reason === 'non-finite') nonFinite = { stage: k + 1, message: result.message };
        const pixels = await readVector(ctx, result.x, objective.segments);
        assertFinite(pixels, 'the image');
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
      if (prev.result.reason === 'stopped' || prev.result.reason === 'non-finite') break;
    }
  } finally {
    runScope.destroyAll(); // the network, if this call made it
  }
  const last = prev!;
  if (![last.loss.total, last.loss.content, last.loss.style, last.loss.tv].every(Number.isFinite)) {
    throw new Error(`the final loss is not finite (${last.loss.total}); nothing is returned`);
  }
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
    reason: nonFinite ? nonFinite.message : last.result.message,
    stopReason: nonFinite ? 'non-finite' : last.result.reason,
    stages,
    memory: memory.report(),
    firstEvaluationAt,
  };
}

/** The objective once at x = the preprocessed content image: loss terms, gradient [H, W, 3] BGR, peak GPU memory. */
export async function evaluateOnce(
  ctx: GpuContext,
  weights: Vgg19Weights | Vgg19,
  opts: StyleControls & { content: RgbaImage; rows: number; resize?: ResizeMethod; config: StyleConfig; maxBufferBytes?: number; memoryBytes?: number; kernels?: 'default' | 'tuned' },
): Promise<{ rows: number; cols: number; loss: LossBreakdown; grad: Float32Array; memory: MemoryReport; bands: Record<string, number>; firstEvaluationAt: number }> {
  gpuMemory(ctx).resetPeak();
  fitWorkingSize({ rows: opts.rows, image: opts.content, deepest: deepestLayer(opts.config) });
  const ctl = resolveStyles(opts.content, opts);
  const prep = prepareImages(ctl.content, ctl, opts.rows, opts.resize ?? defaultResize(opts.config), minInputSide(deepestLayer(opts.config)));
  const objective = await buildObjective(ctx, weights, opts.config, prep, opts.maxBufferBytes, opts.memoryBytes, opts.kernels);
  const x = uploadVector(ctx, prep.content, objective.segments, 'x');
  const g = createVectorOf(ctx, objective.segments, 'gradient');
  const firstEvaluationAt = performance.now();
  await objective.evaluate(x, g);
  const grad = await readVector(ctx, g, objective.segments);
  const l = objective.last!;
  if (![l.total, l.content, l.style, l.tv].every(Number.isFinite) || !grad.every(Number.isFinite)) {
    const net = objective.plan.net;
    throw await nonFiniteStart(ctx, net, opts.config, prep, x, opts.maxBufferBytes);
  }
  destroyVector(x);
  destroyVector(g);
  return { rows: prep.rows, cols: prep.cols, loss: objective.last!, grad, memory: gpuMemory(ctx).report(), bands: objective.plan.bandCounts, firstEvaluationAt };
}
