// The library API, shared by the package's two entries: src/index.ts (Node) and
// src/index.browser.ts (bundlers, browsers). The CLI (src/cli/main.ts) runs on the same calls.
//
//   const gpu = await acquireGpu();
//   const weights = await loadWeights('vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');
//   const result = await styleTransfer(gpu, weights, { content, style, rows: 256, iterations: 100 });
//
// StyleTransferOptions is the one options object: every field is a CLI flag camelCased
// (--content-weight → contentWeight, --style-mask → styleMask, --max-gpu-mib → maxGpuMib), with
// the same meaning and default. The flags that are about files (--out, --json, --force,
// --save-every, --images, --grad-out) have no field: the caller owns its files; --weights is
// loadWeights' argument. Library-only fields: onProgress, signal, maxDispatchesPerSubmit.
// Images are RgbaImage ({width, height, data: RGBA bytes}, as ImageData), encoded JPEG/PNG
// bytes, or a string: a file path in Node, a URL in a browser.

import type { GpuContext } from './gpu/device.ts';
import { decodeImage } from './image/decode.ts';
import type { PreserveColors } from './image/colour.ts';
import type { ResizeMethod } from './image/resize.ts';
import type { RgbaImage } from './image/types.ts';
import type { Vgg19 } from './model/vgg19.ts';
import type { Vgg19Weights } from './model/weights.ts';
import { loadVgg19WeightsFromH5 } from './model/weights.ts';
import { makeConfig, type PresetName, type StyleConfig, type StyleOverrides } from './style/config.ts';
import * as transfer from './style/transfer.ts';
import type { LossBreakdown, ScheduleOptions, TransferOptions, TransferProgress, TransferResult } from './style/types.ts';
import type { MemoryReport } from './gpu/memory.ts';

/** An image: decoded RGBA, encoded JPEG/PNG bytes, or a path (Node) / URL (browser). */
export type ImageInput = RgbaImage | Uint8Array | ArrayBuffer | string;

/** The objective and the images: what a transfer and a single evaluation share. */
export interface EvaluateOptions {
  /** --content: the photograph */
  content: ImageInput;
  /** --style: one style image, or several (blended by styleBlend) */
  style: ImageInput | ImageInput[];
  /** --style-blend: one weight per style, >= 0, not all zero, normalised to sum 1 (default: equal) */
  styleBlend?: number[];
  /** --style-scale: each style image resized to this x the working size first (> 0, default 1) */
  styleScale?: number;
  /** --style-mask: one grey image per style (white = that style applies), or null for everywhere */
  styleMask?: Array<ImageInput | null>;
  /** --preserve-colors: none (default), luminance, or histogram */
  preserveColors?: PreserveColors;
  /** --rows: working height in pixels; the width follows the content's aspect ratio (default 400) */
  rows?: number;
  /** --preset: notebook (default, the Keras notebook's loss) or paper (Gatys et al.) */
  preset?: PresetName;
  /** --content-weight (default: the preset's, notebook 1, paper 1e-3) */
  contentWeight?: number;
  /** --style-weight (default: the preset's, notebook 10, paper 1) */
  styleWeight?: number;
  /** --tv-weight: total variation (default: the preset's, notebook 0.1, paper 0) */
  tvWeight?: number;
  /** --content-layer, e.g. 'block5_conv2' (default: the preset's) */
  contentLayer?: string;
  /** --style-layers (default: block1_conv1 … block5_conv1) */
  styleLayers?: string[];
  /** --style-layer-weights: one per style layer (default: equal, summing to 1) */
  styleLayerWeights?: number[];
  /** --pooling: max or avg (default: the preset's, notebook max, paper avg) */
  pooling?: 'max' | 'avg';
  /** --resize: image resampling (default: nearest for notebook, area otherwise) */
  resize?: ResizeMethod;
  /** --max-buffer-mib: largest GPU buffer; larger activations are split into row bands (default: the device's limit) */
  maxBufferMib?: number;
  /** --kernels: conv kernel choice, 'default' (hand-written; the default) or 'tuned' (measured on this adapter on first use, cached; opt-in: see README, Kernel choice) */
  kernels?: 'default' | 'tuned';
  /** --max-gpu-mib: GPU memory the run may use in all; a size that needs more is refused before it starts (default: no check) */
  maxGpuMib?: number;
}

/**
 * Every option of a style transfer (see the header: the CLI's flags, camelCased); the optimizer
 * and its schedule (seed, optimizer, rounds, evalsPerRound, maxfunRule, iterations, scales,
 * scaleIterations, learningRate) are styleTransfer's own, ScheduleOptions in src/style/types.ts.
 */
export interface StyleTransferOptions extends EvaluateOptions, ScheduleOptions {
  /** --init: the starting image: 'content' (default), 'random', or an image (resized to the working size) */
  init?: 'content' | 'random' | ImageInput;
  /** called after every optimizer iteration (progress.image() reads the current image back) */
  onProgress?: (p: TransferProgress) => void | Promise<void>;
  /** stops the run early; the best image so far is returned */
  signal?: AbortSignal;
  /** split each evaluation into submissions of at most this many dispatches (a page sets it so it keeps rendering) */
  maxDispatchesPerSubmit?: number;
  /** wraps the objective the optimizer sees (the CLI's fault injection for its tests; TransferOptions.wrapObjective) */
  wrapObjective?: TransferOptions['wrapObjective'];
}

export interface EvaluateResult {
  rows: number;
  cols: number;
  /** the weighted loss terms at x = the content image */
  loss: LossBreakdown;
  /** d loss / d x, [rows, cols, 3] float32, caffe BGR */
  grad: Float32Array;
  memory: MemoryReport;
  /** row bands of the input image ('input') and of each layer's activations */
  bands: Record<string, number>;
  /** performance.now() when the evaluation started (set-up time = this minus the process start) */
  firstEvaluationAt: number;
}

/** How an entry (Node or browser) reads a string: a path or a URL. */
export interface Platform {
  readBytes(pathOrUrl: string): Promise<Uint8Array>;
}

const DEFAULT_ROWS = 400;

/** The objective's settings (StyleConfig) from the flat options; errors name the option. */
export function configOf(o: EvaluateOptions): StyleConfig {
  const overrides: StyleOverrides = {
    contentWeight: o.contentWeight,
    styleWeight: o.styleWeight,
    tvWeight: o.tvWeight,
    contentLayer: o.contentLayer,
    styleLayers: o.styleLayers,
    styleLayerWeights: o.styleLayerWeights,
    pooling: o.pooling,
  };
  return makeConfig(o.preset ?? 'notebook', overrides);
}

/** The flat fields of a StyleConfig (what the CLI's flags set), the inverse of configOf. */
export function configFields(c: StyleConfig): Pick<EvaluateOptions, 'preset' | 'contentWeight' | 'styleWeight' | 'tvWeight' | 'contentLayer' | 'styleLayers' | 'styleLayerWeights' | 'pooling'> {
  return {
    preset: c.preset,
    contentWeight: c.contentWeight,
    styleWeight: c.styleWeight,
    tvWeight: c.tvWeight,
    contentLayer: c.contentLayer,
    styleLayers: [...c.styleLayers],
    styleLayerWeights: [...c.styleLayerWeights],
    pooling: c.pooling,
  };
}

const mib = (name: string, v: number | undefined): number | undefined => {
  if (v === undefined) return undefined;
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new Error(`${name} must be a number of MiB > 0, got ${String(v)}`);
  return Math.floor(v * 2 ** 20);
};

function isRgba(v: unknown): v is RgbaImage {
  const o = v as RgbaImage;
  return typeof v === 'object' && v !== null && Number.isInteger(o.width) && Number.isInteger(o.height) && o.data instanceof Uint8ClampedArray;
}

/** Decodes one image input; errors name the option (`what`). */
export async function imageOf(what: string, input: ImageInput, platform: Platform): Promise<RgbaImage> {
  if (isRgba(input)) {
    if (input.data.length !== input.width * input.height * 4) throw new Error(`${what}: data has ${input.data.length} bytes, ${input.width}x${input.height} RGBA needs ${input.width * input.height * 4}`);
    return input;
  }
  if (typeof input === 'string') return decodeImage(await platform.readBytes(input), input);
  if (input instanceof Uint8Array) return decodeImage(input, what);
  if (input instanceof ArrayBuffer) return decodeImage(new Uint8Array(input), what);
  throw new Error(`${what}: expected an RgbaImage {width, height, data}, JPEG/PNG bytes, or a ${typeof window === 'undefined' ? 'file path' : 'URL'}`);
}

async function imagesOf(o: EvaluateOptions, platform: Platform) {
  const styleList = Array.isArray(o.style) ? o.style : [o.style];
  if (!styleList.length || styleList.some((s) => s === undefined || s === null)) throw new Error('style: give one style image or a list of them');
  const content = await imageOf('content', o.content, platform);
  const styles = await Promise.all(styleList.map((s, i) => imageOf(styleList.length > 1 ? `style[${i}]` : 'style', s, platform)));
  const styleMasks = o.styleMask && (await Promise.all(o.styleMask.map((m, i) => (m === null ? null : imageOf(`styleMask[${i}]`, m, platform)))));
  return { content, styles, styleMasks: styleMasks || undefined };
}

/** The internal transfer's options from the public ones (images decoded). */
export async function transferOptionsFrom(o: StyleTransferOptions, platform: Platform): Promise<TransferOptions> {
  const config = configOf(o);
  const { content, styles, styleMasks } = await imagesOf(o, platform);
  const rounds = o.rounds ?? 10;
  const evalsPerRound = o.evalsPerRound ?? 20;
  const optimizer = o.optimizer ?? 'lbfgs';
  if (o.learningRate !== undefined && optimizer !== 'adam') throw new Error('learningRate applies only to optimizer adam');
  const init = o.init === undefined || o.init === 'content' || o.init === 'random' ? (o.init ?? 'content') : await imageOf('init', o.init, platform);
  const rows = o.rows ?? o.scales?.[o.scales.length - 1] ?? DEFAULT_ROWS;
  return {
    content,
    styles,
    styleBlend: o.styleBlend,
    styleScale: o.styleScale,
    styleMasks,
    preserveColors: o.preserveColors,
    rows,
    resize: o.resize,
    config,
    init,
    seed: o.seed,
    optimizer,
    rounds,
    evalsPerRound,
    maxfunRule: o.maxfunRule,
    iterations: optimizer === 'adam' && o.iterations === undefined && o.scaleIterations === undefined ? rounds * evalsPerRound : o.iterations,
    scales: o.scales,
    scaleIterations: o.scaleIterations,
    learningRate: o.learningRate,
    onProgress: o.onProgress,
    signal: o.signal,
    maxDispatchesPerSubmit: o.maxDispatchesPerSubmit,
    wrapObjective: o.wrapObjective,
    kernels: o.kernels,
    maxBufferBytes: mib('maxBufferMib', o.maxBufferMib),
    memoryBytes: mib('maxGpuMib', o.maxGpuMib),
  };
}

/**
 * Paints `options.content` in the style of `options.style` (Gatys et al. 2015): L-BFGS (or Adam)
 * on the pixels of the image, VGG19 forward and backward on the GPU. `weights` from loadWeights
 * (or a network built once with Vgg19.create, to run several transfers on it).
 */
export async function runStyleTransfer(gpu: GpuContext, weights: Vgg19Weights | Vgg19, options: StyleTransferOptions, platform: Platform): Promise<TransferResult> {
  return transfer.styleTransfer(gpu, weights, await transferOptionsFrom(options, platform));
}

/** The objective once at x = the content image: the weighted loss terms and the gradient. */
export async function runEvaluateOnce(gpu: GpuContext, weights: Vgg19Weights | Vgg19, options: EvaluateOptions, platform: Platform): Promise<EvaluateResult> {
  const config = configOf(options);
  const { content, styles, styleMasks } = await imagesOf(options, platform);
  return transfer.evaluateOnce(gpu, weights, {
    content,
    styles,
    styleBlend: options.styleBlend,
    styleScale: options.styleScale,
    styleMasks,
    preserveColors: options.preserveColors,
    rows: options.rows ?? DEFAULT_ROWS,
    resize: options.resize,
    config,
    maxBufferBytes: mib('maxBufferMib', options.maxBufferMib),
    memoryBytes: mib('maxGpuMib', options.maxGpuMib),
    kernels: options.kernels,
  });
}

/** VGG19 from the bytes of a Keras .h5 file (what loadWeights does with bytes). */
export function weightsFromBytes(bytes: Uint8Array | ArrayBuffer, source = 'weights.h5'): Promise<Vgg19Weights> {
  return loadVgg19WeightsFromH5(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), { source });
}

export interface LoadWeightsOptions {
  /** download ('download', browsers and URLs) and decoding ('decode') progress, in bytes */
  onProgress?: (phase: 'download' | 'decode', loaded: number, total: number) => void;
}
