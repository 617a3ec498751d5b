// Types of the style-transfer API shared by the CLI, the web page and the benchmark.
import type { RgbaImage } from '../image/types.ts';
import type { ResizeMethod } from '../image/resize.ts';
import type { StyleConfig } from './config.ts';

/** Loss terms, each already multiplied by its weight; styleLayers add up to style. */
export interface LossBreakdown {
  total: number;
  content: number;
  style: number;
  tv: number;
  styleLayers: Record<string, number>;
}

export type InitKind = 'content' | 'random';

export interface TransferOptions {
  content: RgbaImage;
  style: RgbaImage;
  /** working height; width follows the content's aspect ratio (notebook: int(w * rows / h)) */
  rows: number;
  /** default: 'nearest' for the notebook preset (as keras load_img), 'area' otherwise */
  resize?: ResizeMethod;
  config: StyleConfig;
  /** starting image: the content image, uniform noise, or a given image (resized to the working size) */
  init?: InitKind | RgbaImage;
  seed?: number;
  optimizer?: 'lbfgs' | 'adam';
  /** notebook schedule: rounds x evaluations per round, L-BFGS history reset between rounds */
  rounds?: number;
  evalsPerRound?: number;
  /** plain form: this many iterations (overrides rounds) */
  iterations?: number;
  /** Adam learning rate (pixel units) */
  learningRate?: number;
  /** called after every optimizer iteration */
  onProgress?: (p: TransferProgress) => void | Promise<void>;
  /** stop early (e.g. Ctrl-C): the best image so far is returned */
  signal?: AbortSignal;
  /** split each evaluation into submissions of at most this many dispatches, waiting for the
   *  GPU between them (a page sets it so the tab keeps rendering); default 0: one submission */
  maxDispatchesPerSubmit?: number;
  /** no GPU buffer of the network larger than this (bytes): larger activations and gradients are
   *  stored in row bands. Default: the device's limit. The image itself must fit one buffer; the
   *  weights (at most 16 MiB a layer) are not split. CLI: --max-buffer-mib */
  maxBufferBytes?: number;
  /** GPU memory the run may use in all (bytes): a plan that needs more (transferFootprint) is
   *  refused before it starts, naming the largest rows that fit. Default: unknown (no check; the
   *  CLI passes the machine's memory on CPU adapters, whose GPU memory is the host's) */
  memoryBytes?: number;
}

export interface TransferProgress {
  iteration: number;
  evaluation: number;
  /** total evaluations (L-BFGS) or iterations (Adam) planned */
  planned: number;
  round: number;
  loss: number;
  /** the loss terms at the current iterate (null if not known) */
  terms: LossBreakdown | null;
  seconds: number;
  /** the current iterate as an image (reads it back from the GPU: call only when needed, and
   *  only before the callback's promise settles) */
  image: () => Promise<RgbaImage>;
  /** the current iterate on the GPU, [rows, cols, 3] f32 caffe BGR; valid only during the
   *  callback (e.g. to draw it into a canvas without a read-back); do not modify */
  x: GPUBuffer;
  rows: number;
  cols: number;
}

export interface TransferResult {
  image: RgbaImage;
  rows: number;
  cols: number;
  evaluations: number;
  iterations: number;
  seconds: number;
  loss: LossBreakdown;
  history: Array<{ evaluation: number; loss: number }>;
  stopped: boolean;
  reason: string;
}
