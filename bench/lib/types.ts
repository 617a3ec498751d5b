// The benchmark's shared shapes: per-op cases and strategies, result rows, the whole result.
//
// A strategy is one implementation of an op — ours (a kernel version) or a TensorFlow.js
// backend (one formulation) — with setup (upload the case's inputs in its own layout, build
// pipelines: outside the timer), run (one timed execution, in ms) and output (the result in our
// layout, NHWC / row-major, for the difference columns).

import type { PoolMode } from '../../src/kernels/pool2x2.ts';
import type { BandingRow, MemoryRow } from '../cases/memory.ts';
import type { LossBreakdown } from '../../src/style/types.ts';
import type { BackendStatus, TfjsBackendName } from './tfjs_backends.ts';
import type { Stats } from './stats.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import type { RgbaImage } from '../../src/image/types.ts';
import type { Vgg19Weights } from '../../src/model/weights.ts';
import type { Tf, TfjsVgg19Weights } from '../reference/tfjs_vgg19_core.ts';

export type OpName = 'conv3x3_forward' | 'conv3x3_backward' | 'pool2x2_forward' | 'pool2x2_backward' | 'gram_forward' | 'gram_backward';

export interface OpCase {
  op: OpName;
  /** pooling mode (pool rows) */
  mode?: PoolMode;
  /** conv: x [H, W, Cin] -> y [H, W, Cout]; pool: x [H, W, C] with C = Cin = Cout; gram: F [H*W, C] with C = Cin = Cout */
  H: number;
  W: number;
  Cin: number;
  Cout: number;
  /** e.g. "400x533 64->64" */
  shape: string;
  /** the VGG19 layers with this shape */
  layers: string;
  /** nominal GFLOP of one run (conv: 2*H*W*Cin*Cout*9; gram: 2*N*C*C); null for pooling */
  gflop: number | null;
  /** bytes read + written by one run (the pooling rows' yardstick) */
  bytes: number;
  /** host inputs by name (see each op in cases/ops.ts), created by makeInputs() */
  makeInputs: () => Record<string, Float32Array<ArrayBuffer>>;
  /** number of output floats */
  outputLength: number;
}

export type StrategyBackend = 'ours' | TfjsBackendName | 'pytorch-cpu';

export interface OpStrategy {
  /** e.g. "ours v2", "tfjs-webgpu", "tfjs-webgpu flipT" */
  name: string;
  backend: StrategyBackend;
  /** ours: the kernel version ("v2"; "" for single-version ops); tfjs: "" or "flipT" */
  variant: string;
  /** what run() returns: GPU timestamps or wall-clock */
  timing: 'timestamp' | 'wall';
  /** true when the first run compiles pipelines or uploads data (it is then never timed) */
  needsWarmup: boolean;
  supports(c: OpCase): boolean;
  setup(c: OpCase, inputs: Record<string, Float32Array<ArrayBuffer>>): Promise<void>;
  run(): Promise<number>;
  output(): Promise<Float32Array>;
  teardown(): Promise<void>;
  /** what the strategy computes, for the notes column (e.g. "Conv2DBackpropInput (tf.grad's kernel)") */
  describe(c: OpCase): string;
}

export interface OpRow {
  op: OpName | 'matmul';
  mode?: PoolMode;
  /** strategy name */
  impl: string;
  backend: StrategyBackend;
  /** kept for the engine bench's readers: our kernel version ("v2"), or the strategy name */
  version: string;
  shape: string;
  layers: string;
  gflop: number | null;
  ms: Stats | null;
  gflops: number | null;
  /** GB/s from bytes (pool rows) */
  gbs?: number | null;
  fractionOfCeiling?: number;
  /** the matmul ceiling measured alongside this row (interleaved with it), GFLOP/s */
  ceilingGflops?: number;
  /** true on the conv rows of the kernel version the model runs at this shape */
  model?: boolean;
  /** vs the reference output (ours, the model's kernel version): max |d|, and / max |ref| */
  diff?: { maxAbs: number; maxRel: number; against: string } | null;
  timing: 'timestamp' | 'wall';
  note?: string;
}

export interface EvalRow {
  impl: string;
  backend: StrategyBackend;
  /** ours: conv version; tfjs: 'plain' (tf.grad) or 'tuned' */
  formulation: string;
  size: [number, number];
  ms: Stats | null;
  loss: LossBreakdown | null;
  /** |L - L_ours| / |L_ours| (total), and the worst over the individual terms */
  lossRelDiff?: number;
  termsMaxRelDiff?: number;
  /** gradient vs ours: ||g - g_ours|| / ||g_ours||, max |g - g_ours| / max |g_ours| */
  gradRelL2?: number;
  gradMaxRel?: number;
  /** this row's median ms / ours median ms (how many times slower than ours) */
  slowdownVsOurs?: number;
  note?: string;
}

export interface BreakdownRow {
  /** kernel (shader) name, or a layer for the per-layer view */
  name: string;
  dispatches: number;
  ms: number;
  fraction: number;
  gflop: number | null;
  gflops: number | null;
}

export interface Breakdown {
  impl: string;
  size: [number, number];
  timing: 'timestamp' | 'wall';
  /** sum of the per-dispatch times, and the timed whole evaluation it compares with */
  sumMs: number;
  evalMs: number | null;
  byKernel: BreakdownRow[];
  byLayer: Array<{ layer: string; fwdMs: number; fwdGflops: number; bwdMs: number; bwdGflops: number; gflop: number }>;
}

export interface E2eRow {
  config: string;
  rows: number;
  cols: number;
  impl: string;
  optimizer: string;
  evaluations: number;
  seconds: number | null;
  finalLoss: number | null;
  note?: string;
}

/** The kernels section: one conv site (layer x direction) at the eval size (bench/cases/kernels.ts). */
export interface KernelSiteRow {
  layer: string;
  direction: 'forward' | 'backward';
  /** the shape one kernel call runs: "ROWSxCOLS Cin->Cout" (rows per call: a banded layer runs chunks) */
  shape: string;
  /** the hand-written default's version at this site */
  defaultVersion: string;
  /** the autotuner's choice (private cache, tuned from scratch in this run) and its reason */
  tunedVersion: string;
  tunedWhy: string;
  /** every runnable candidate (candidates() in kernel_table.ts) at the full shape, trials interleaved; null: it failed (note) */
  ms: Record<string, Stats | null>;
  /** the tuner's own full-shape estimates (extrapolated from its bands) */
  tunerMs?: Record<string, number>;
  /** the fastest candidate by median here */
  fastest: string | null;
  /** tuned median / default median at the full shape (1 when they are the same version) */
  tunedVsDefault: number | null;
  /** the target: the tuned choice is never slower than the default — true where its median is */
  tunedSlower: boolean | null;
  note?: string;
}

/** The kernels section: one whole evaluation with one kernel table. */
export interface KernelEvalRow {
  table: 'default' | 'tuned';
  size: [number, number];
  ms: Stats | null;
  loss: number | null;
  /** conv sites where this table's version is not the default's */
  sitesChanged: number;
  /** median / the default table's median */
  vsDefault: number | null;
  note?: string;
}

export interface Section<T> {
  date: string;
  size?: [number, number];
  options: Record<string, unknown>;
  seconds: number;
  rows: T[];
  /** set in latest.json when this section was carried over from an earlier run */
  carriedFrom?: string;
}

export interface BenchResult {
  date: string;
  env: 'node' | 'browser';
  adapter: string;
  timing: 'timestamp' | 'wall';
  versions: Record<string, string>;
  host: Record<string, unknown>;
  options: Record<string, unknown>;
  backends: BackendStatus[];
  seconds: number;
  summary: Record<string, unknown>;
  /** ceiling + per-op rows (all implementations); the engine bench's `rows` */
  rows: OpRow[];
  sections: {
    ceiling?: Section<OpRow>;
    ops?: Section<OpRow>;
    eval?: Section<EvalRow> & { breakdown?: Breakdown[] };
    e2e?: Section<E2eRow>;
    memory?: Section<MemoryRow>;
    banding?: Section<BandingRow>;
    kernels?: Section<KernelSiteRow> & { evaluation: KernelEvalRow[]; tuneSeconds: number };
  };
}

/**
 * What the eval and e2e sections compare with: our device and VGG19 weights, TF.js (null when
 * it is not loaded) and the state of its backends, the TF.js weights (loaded on first use), and
 * the content and style images.
 */
export interface ObjectiveSetup {
  ctx: GpuContext;
  tf: Tf | null;
  backends: BackendStatus[];
  ourWeights: Vgg19Weights;
  loadTfjsWeights: () => Promise<TfjsVgg19Weights>;
  images: { content: RgbaImage; style: RgbaImage };
}
