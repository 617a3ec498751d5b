// Types of the style-transfer API shared by the CLI, the web page and the benchmark.
import type { RgbaImage } from '../image/types.ts';
import type { ResizeMethod } from '../image/resize.ts';
import type { StyleConfig } from './config.ts';
import type { MemoryReport } from '../gpu/memory.ts';
import type { PreserveColors } from '../image/colour.ts';
import type { GpuVec } from '../optim/vecops.ts';
import type { MaxfunRule } from '../optim/lbfgs.ts';
import type { Objective, StopReason } from '../optim/types.ts';

/** Loss terms, each already multiplied by its weight; styleLayers add up to style. */
export interface LossBreakdown {
  total: number;
  content: number;
  style: number;
  tv: number;
  styleLayers: Record<string, number>;
}

export type InitKind = 'content' | 'random';

/** The style controls shared by TransferOptions and evaluateOnce (issue 9). */
export interface StyleControls {
  /** the one-style case; ignored when `styles` is given */
  style?: RgbaImage;
  /** several style images (replaces `style`); each resized to the working size x styleScale */
  styles?: RgbaImage[];
  /** one blend weight per style, >= 0, not all zero (normalised to sum 1); default equal */
  styleBlend?: number[];
  /** each style image is resized to styleScale x the working size (rows and cols, at least the
   *  network's minimum) before its Gram targets are computed; > 0, default 1 */
  styleScale?: number;
  /** one entry per style: a grey image (white = the style applies there; resized to the working
   *  size) or null (everywhere); default: no masks */
  styleMasks?: Array<RgbaImage | null>;
  /** 'histogram': each style's colours moved to the content's mean and covariance before the
   *  transfer; 'luminance': the transfer runs on luminance and the output (and every progress
   *  image()) takes the content's I and Q; default 'none' (src/image/colour.ts) */
  preserveColors?: PreserveColors;
}

/**
 * The optimizer and its schedule: styleTransfer's and the library API's (src/api.ts
 * StyleTransferOptions) alike; the CLI flag of each is named first.
 */
export interface ScheduleOptions {
  /** --seed of the random starting image (default 0) */
  seed?: number;
  /** --optimizer: lbfgs (default) or adam */
  optimizer?: 'lbfgs' | 'adam';
  /** --rounds: the notebook's schedule, rounds x evaluations per round, with the L-BFGS history
   *  reset between rounds (default 10) */
  rounds?: number;
  /** --evals-per-round: loss evaluations per round (default 20) */
  evalsPerRound?: number;
  /**
   * --maxfun-rule: how evalsPerRound ends a round (src/optim/lbfgs.ts MaxfunRule): 'scipy' as the
   * notebook's fmin_l_bfgs_b calls (checked at the end of an iteration, over the count: 21-22
   * for 20), 'exact' never over. Default: 'scipy' for the notebook preset, 'exact' otherwise.
   */
  maxfunRule?: MaxfunRule;
  /** --iterations: a plain iteration count instead of rounds x evaluations (overrides rounds;
   *  Adam's default: rounds x evalsPerRound) */
  iterations?: number;
  /**
   * --scales: multi-scale, coarse to fine: the working rows of each stage, strictly ascending
   * integers; the last must equal `rows` (the output size; the library API's rows defaults to
   * it). Each stage starts from the previous stage's result upsampled (bilinear) to its size;
   * style image and targets are made per stage. Absent: one stage at `rows`.
   */
  scales?: number[];
  /** --scale-iterations: iterations of each stage (one per scale, each >= 1); absent: the schedule above, per stage */
  scaleIterations?: number[];
  /** --learning-rate: Adam's step size in pixel units (adam only) */
  learningRate?: number;
}

export interface TransferOptions extends StyleControls, ScheduleOptions {
  content: RgbaImage;
  /** working height; width follows the content's aspect ratio (notebook: int(w * rows / h)) */
  rows: number;
  /** default: 'nearest' for the notebook preset (as keras load_img), 'area' otherwise */
  resize?: ResizeMethod;
  config: StyleConfig;
  /** starting image: the content image, uniform noise, or a given image (resized to the working size) */
  init?: InitKind | RgbaImage;
  // the optimizer and its schedule: ScheduleOptions
  /** called after every optimizer iteration */
  onProgress?: (p: TransferProgress) => void | Promise<void>;
  /** stop early (e.g. Ctrl-C): the best image so far is returned */
  signal?: AbortSignal;
  /** split each evaluation into submissions of at most this many dispatches, waiting for the
   *  GPU between them (a page sets it so the tab keeps rendering); default 0: one submission */
  maxDispatchesPerSubmit?: number;
  /** no GPU buffer of the run larger than this (bytes): larger tensors (activations, gradients,
   *  the image, its gradient and the optimizer's vectors) are stored in row bands. Default: the
   *  device's limit. At least three rows of block1's maps (cols * 768 bytes); the weights (at
   *  most 16 MiB a layer, fixed by the network) are not split. CLI: --max-buffer-mib */
  maxBufferBytes?: number;
  /** GPU memory the run may use in all (bytes): a plan that needs more (transferFootprint) is
   *  refused before it starts, naming the largest rows that fit. Default: unknown (no check; the
   *  CLI passes the machine's memory on CPU adapters, whose GPU memory is the host's) */
  memoryBytes?: number;
  /** instrumentation: wraps the objective the optimizer sees (the tests use it to make the loss
   *  non-finite after some evaluations; the CLI's NEURAL_STYLE_TEST_FAULT does the same) */
  wrapObjective?: (objective: Objective) => Objective;
  /** conv kernel choice (src/kernels/kernel_table.ts): 'default' (hand-written; the library's
   *  default) or 'tuned' (measured on this adapter on first use, cached). CLI: --kernels */
  kernels?: 'default' | 'tuned';
}

export interface TransferProgress {
  /** counted over the whole run (all stages) */
  iteration: number;
  evaluation: number;
  /** total evaluations or iterations planned, all stages together (plannedUnit says which) */
  planned: number;
  /** what `planned` counts: 'iteration' for iterations, scaleIterations and Adam, else 'evaluation' (rounds x evalsPerRound) */
  plannedUnit: 'iteration' | 'evaluation';
  /** the stage running (1-based) and the number of stages (1 for a single-scale run); the
   *  stage's working size is rows x cols below */
  stage: number;
  stages: number;
  round: number;
  loss: number;
  /** the loss terms at the current iterate (null if not known) */
  terms: LossBreakdown | null;
  seconds: number;
  /** the current iterate as an image (reads it back from the GPU: call only when needed, and
   *  only before the callback's promise settles) */
  image: () => Promise<RgbaImage>;
  /** the current iterate on the GPU, [rows, cols, 3] f32 caffe BGR, one buffer per row band
   *  (`segments` floats each; one buffer unless the image is larger than the buffer limit);
   *  valid only during the callback (e.g. to draw it into a canvas without a read-back); do not modify */
  x: GpuVec;
  /** the floats in each buffer of x */
  segments: readonly number[];
  /** the working size of the stage running */
  rows: number;
  cols: number;
}

/** One stage of a run: its working size, evaluations, wall time and final loss total. */
export interface StageReport {
  rows: number;
  cols: number;
  evaluations: number;
  seconds: number;
  /** the total loss at the stage's result */
  loss: number;
}

export interface TransferResult {
  image: RgbaImage;
  rows: number;
  cols: number;
  evaluations: number;
  iterations: number;
  seconds: number;
  loss: LossBreakdown;
  /** evaluations counted over the whole run; stage: the stage (1-based) it belongs to */
  history: Array<{ evaluation: number; loss: number; stage: number }>;
  /** stopped on request (opts.signal) */
  stopped: boolean;
  /** why it stopped, a sentence */
  reason: string;
  /**
   * why it stopped, as the optimizer's StopReason: 'stopped' (on request), 'non-finite' (the loss
   * or gradient overflowed float32 after some iterations: the image is the best finite one),
   * 'max-evaluations', 'max-iterations', 'converged-gtol', 'converged-ftol', 'line-search-failed'
   */
  stopReason: StopReason;
  /** one entry per stage run (one for a single-scale run; fewer than planned if stopped) */
  stages: StageReport[];
  /** peak GPU bytes of the run (all buffers the project created, weights included) and the
   *  number of live buffers at that peak */
  memory: MemoryReport;
  /**
   * performance.now() (ms since the time origin: the process start in Node, the page's start in
   * a browser) when the first objective evaluation started; null if none ran. The CLI's
   * setupSeconds is this / 1000; the page subtracts the time Start was pressed.
   */
  firstEvaluationAt: number | null;
}
