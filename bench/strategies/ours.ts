// Our engine as benchmark strategies: every registered conv kernel version, the pooling and
// Gram kernels (per op), and the whole objective (one loss-and-gradient evaluation), plus a
// per-dispatch profile of that evaluation (where the time goes).
//
// Timing: GpuTimer — GPU timestamps around one compute pass holding the op's dispatches when the
// adapter has 'timestamp-query', else submit-to-completion wall time. Buffers are created and
// filled in setup, outside the timer (the flip-transposed kernel the v2 backward reads is
// computed there too, as the model does once at load; so is v7's Winograd-transformed kernel).

import { type GpuContext, withTimeout } from '../../src/gpu/device.ts';
import { createStorage, type Dispatch, readFloats, submitChecked, uploadStorage } from '../../src/gpu/runtime.ts';
import { GpuTimer } from '../../src/gpu/timer.ts';
import {
  type ConvShape,
  type ConvVersion,
  conv3x3Backward,
  conv3x3Forward,
  convFlops,
  createWinogradBuffers,
  isWinograd,
  supports as convSupports,
  type WinogradBuffers,
} from '../../src/kernels/conv3x3.ts';
import { gramBackward, gramForward } from '../../src/kernels/gram.ts';
import type { KernelMode } from '../../src/kernels/kernel_table.ts';
import { pool2x2Backward, pool2x2Forward } from '../../src/kernels/pool2x2.ts';
import { encodeSteps, type Step, Vgg19 } from '../../src/model/vgg19.ts';
import { layerIndex, VGG19_LAYERS } from '../../src/model/vgg19_layers.ts';
import type { Vgg19Weights } from '../../src/model/weights.ts';
import { flipTranspose } from '../../src/model/conv_weights.ts';
import { deepestLayer, type StyleConfig } from '../../src/style/config.ts';
import { StyleObjective } from '../../src/style/objective.ts';
import type { LossBreakdown } from '../../src/style/types.ts';
import type { Breakdown, BreakdownRow, OpCase, OpStrategy } from '../lib/types.ts';

const CONV_OPS = new Set(['conv3x3_forward', 'conv3x3_backward']);

/** One of our kernels on one case. `version` is the conv version ('' for the single-version ops). */
class OurOp implements OpStrategy {
  readonly backend = 'ours' as const;
  readonly needsWarmup = true;
  private buffers: GPUBuffer[] = [];
  private list: Dispatch[] = [];
  private out: GPUBuffer | null = null;
  private outLength = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly timer: GpuTimer,
    readonly variant: string,
  ) {}

  get name(): string {
    return this.variant ? `ours ${this.variant}` : 'ours';
  }

  get timing(): 'timestamp' | 'wall' {
    return this.timer.source;
  }

  supports(c: OpCase): boolean {
    if (CONV_OPS.has(c.op) !== !!this.variant) return false;
    if (!this.variant) return true;
    // e.g. v3 needs the GEMM's output channels % 4 == 0, v6 is the narrow (image) backward only
    return convSupports(this.variant as ConvVersion, c, c.op === 'conv3x3_forward' ? 'forward' : 'backward');
  }

  describe(c: OpCase): string {
    if (c.op === 'conv3x3_backward') return this.variant === 'v1' ? 'ReLU mask fused into a direct transposed conv' : 'relu_backward + forward conv with flipped kernel';
    return '';
  }

  private up(data: Float32Array<ArrayBuffer>, label: string): GPUBuffer {
    const b = uploadStorage(this.ctx, data, label);
    this.buffers.push(b);
    return b;
  }

  private scratch(floats: number, label: string): GPUBuffer {
    const b = createStorage(this.ctx, floats * 4, label);
    this.buffers.push(b);
    return b;
  }

  /** A Winograd version's transformed kernel and scratch (prepared here, outside the timer, as the model does at load). */
  private async winograd(v: ConvVersion, s: ConvShape, dir: 'forward' | 'backward', w: Float32Array): Promise<WinogradBuffers | undefined> {
    if (!isWinograd(v)) return undefined;
    const wb = await createWinogradBuffers(this.ctx, s, dir, w, undefined, v);
    this.buffers.push(wb.u, wb.v, wb.m);
    return wb;
  }

  async setup(c: OpCase, inp: Record<string, Float32Array<ArrayBuffer>>): Promise<void> {
    const { ctx } = this;
    const { H, W, Cin, Cout } = c;
    const s = { H, W, Cin, Cout };
    const v = this.variant as ConvVersion;
    this.outLength = c.outputLength;
    switch (c.op) {
      case 'conv3x3_forward': {
        this.out = this.scratch(H * W * Cout, 'y');
        const winograd = await this.winograd(v, s, 'forward', inp.w);
        this.list = await conv3x3Forward(ctx, v, s, { x: this.up(inp.x, 'x'), w: this.up(inp.w, 'w'), bias: this.up(inp.b, 'b'), y: this.out, winograd });
        break;
      }
      case 'conv3x3_backward': {
        this.out = this.scratch(H * W * Cin, 'dx');
        const w = this.up(inp.w, 'w');
        const wt = this.up(flipTranspose(inp.w, Cin, Cout), 'wt');
        const winograd = await this.winograd(v, s, 'backward', inp.w);
        const b = { dy: this.up(inp.dy, 'dy'), y: this.up(inp.y, 'y'), w, wt, g: this.scratch(H * W * Cout, 'g'), dx: this.out, winograd };
        this.list = await conv3x3Backward(ctx, v, s, b);
        break;
      }
      case 'pool2x2_forward': {
        this.out = this.scratch(c.outputLength, 'y');
        this.list = [await pool2x2Forward(ctx, c.mode!, { H, W, C: Cin }, { x: this.up(inp.x, 'x'), y: this.out })];
        break;
      }
      case 'pool2x2_backward': {
        this.out = this.scratch(c.outputLength, 'dx');
        this.list = [await pool2x2Backward(ctx, c.mode!, { H, W, C: Cin }, { dy: this.up(inp.dy, 'dy'), x: this.up(inp.x, 'x'), dx: this.out })];
        break;
      }
      case 'gram_forward': {
        this.out = this.scratch(Cin * Cin, 'g');
        const op = await gramForward(ctx, H * W, Cin, { f: this.up(inp.f, 'f'), g: this.out });
        this.buffers.push(op.partials);
        this.list = op.dispatches;
        break;
      }
      case 'gram_backward': {
        this.out = this.scratch(H * W * Cin, 'df');
        this.list = await gramBackward(ctx, H * W, Cin, { f: this.up(inp.f, 'f'), m: this.up(inp.m, 'm'), df: this.out });
        break;
      }
    }
  }

  async run(): Promise<number> {
    return (await this.timer.timeDispatches(this.list, `${this.name} ${this.list.map((d) => d.label).join('+')}`)).ms;
  }

  output(): Promise<Float32Array> {
    return readFloats(this.ctx, this.out!, this.outLength);
  }

  async teardown(): Promise<void> {
    for (const b of this.buffers) b.destroy();
    this.buffers = [];
    this.list = [];
    this.out = null;
  }
}

/** One strategy per conv version (conv rows) and one for the single-version ops. */
export function ourOpStrategies(ctx: GpuContext, timer: GpuTimer, convVersions: readonly ConvVersion[]): OpStrategy[] {
  return [...convVersions.map((v) => new OurOp(ctx, timer, v)), new OurOp(ctx, timer, '')];
}

// ---------------------------------------------------------------------------------------------
// The whole objective
// ---------------------------------------------------------------------------------------------

export interface EvalInputs {
  cfg: StyleConfig;
  H: number;
  W: number;
  content: Float32Array<ArrayBuffer>;
  style: Float32Array<ArrayBuffer>;
  x: Float32Array<ArrayBuffer>;
}

export interface EvalStrategy {
  name: string;
  backend: 'ours' | 'webgpu' | 'wasm' | 'cpu' | 'pytorch-cpu';
  formulation: string;
  needsWarmup: boolean;
  /** builds the objective (targets computed once): outside the timer */
  setup(): Promise<void>;
  /** one evaluation, wall ms: from x on the device to the loss on the host and the gradient complete */
  run(): Promise<number>;
  /** loss terms and gradient [H, W, 3] of the last run */
  result(): Promise<{ loss: LossBreakdown; grad: Float32Array }>;
  teardown(): Promise<void>;
}

/** Our StyleObjective: evaluate(x, grad) reads back only the loss terms, as in the optimizer. */
export class OurEval implements EvalStrategy {
  readonly backend = 'ours' as const;
  readonly needsWarmup = true;
  objective: StyleObjective | null = null;
  private net: Vgg19 | null = null;
  /** x [H, W, 3] and the gradient, on the device */
  xb: GPUBuffer | null = null;
  gb: GPUBuffer | null = null;

  constructor(
    private readonly ctx: GpuContext,
    private readonly weights: Vgg19Weights,
    private readonly inp: EvalInputs,
    readonly formulation: ConvVersion,
    /** given: the kernel table picks each conv's version in this mode (kernel_table.ts), nothing forced; else `formulation` is forced */
    readonly kernels?: KernelMode,
  ) {}

  get name(): string {
    return this.kernels ? `ours, ${this.kernels} kernel table` : `ours ${this.formulation}`;
  }

  async setup(): Promise<void> {
    const { ctx, inp } = this;
    this.net = await Vgg19.create(ctx, this.weights, this.kernels ? { pooling: inp.cfg.pooling, kernels: this.kernels } : { pooling: inp.cfg.pooling, convVersion: this.formulation });
    this.objective = await StyleObjective.create(ctx, this.net, inp.cfg, inp.H, inp.W, inp.content, inp.style);
    this.xb = uploadStorage(ctx, inp.x, 'bench x');
    this.gb = createStorage(ctx, this.objective.n * 4, 'bench grad');
  }

  async run(): Promise<number> {
    const t0 = performance.now();
    await this.objective!.evaluate(this.xb!, this.gb!);
    return performance.now() - t0;
  }

  async result(): Promise<{ loss: LossBreakdown; grad: Float32Array }> {
    return { loss: this.objective!.last!, grad: await readFloats(this.ctx, this.gb!, this.objective!.n) };
  }

  async teardown(): Promise<void> {
    this.xb?.destroy();
    this.gb?.destroy();
    // StyleObjective / Vgg19 own many buffers and have no destroy(); they are dropped and the
    // device frees them when they are garbage-collected.
    this.objective = null;
    this.net = null;
  }
}

/**
 * Where the time of one evaluation goes: runs the evaluation's steps one dispatch at a time,
 * each in its own timed pass (copies in between, untimed), in the evaluation's order so every
 * kernel sees the data it sees in a real evaluation. Aggregates by kernel (shader file) and,
 * for the convolutions, by layer.
 */
export async function profileOurEvaluation(ctx: GpuContext, ev: OurEval, evalMs: number | null): Promise<Breakdown> {
  const obj = ev.objective!;
  const plan = obj.plan;
  const timer = new GpuTimer(ctx);
  // The loss and TV steps are StyleObjective's private lists (the evaluation's middle and end).
  const inner = obj as unknown as { lossSteps?: Step[]; tvSteps?: Step[] };
  const phases: Array<{ phase: 'forward' | 'loss' | 'backward' | 'tv'; steps: readonly Step[] }> = [
    { phase: 'forward', steps: plan.steps('forward') },
    { phase: 'loss', steps: inner.lossSteps ?? [] },
    { phase: 'backward', steps: plan.steps('backward') },
    { phase: 'tv', steps: inner.tvSteps ?? [] },
  ];
  const deepest = layerIndex(deepestLayer(obj.cfg));
  const layerShapes = VGG19_LAYERS.slice(0, deepest + 1).map((l) => ({ l, shape: plan.shape(l.name) }));
  const perKernel = new Map<string, { ms: number; n: number; gflop: number }>();
  const perLayer = layerShapes.map(({ l, shape }) => ({ layer: l.name, fwdMs: 0, bwdMs: 0, gflop: convFlops({ H: shape[0], W: shape[1], Cin: l.cin, Cout: l.cout }) / 1e9 }));
  let fwdConv = 0;
  let bwdConv = deepest;
  let sum = 0;
  // x into the network's input, as evaluate() does first.
  {
    const enc = ctx.device.createCommandEncoder({ label: 'profile x' });
    enc.copyBufferToBuffer(ev.xb!, 0, plan.input, 0, obj.n * 4);
    await submitChecked(ctx, [enc.finish()], 'profile x');
  }
  for (const { phase, steps } of phases) {
    for (const s of steps) {
      if (s.kind !== 'dispatch') {
        const enc = ctx.device.createCommandEncoder({ label: 'profile copy' });
        encodeSteps(enc, [s]);
        await submitChecked(ctx, [enc.finish()], 'profile copy');
        continue;
      }
      const ms = (await timer.timeDispatches([s.d], `profile ${s.d.label}`)).ms;
      sum += ms;
      // A conv is one dispatch, or for a Winograd version three per chunk of tile rows
      // ("conv3x3_..._v9:conv3x3_winograd4_input_v9 [tile rows a-b of n]", ":conv3x3_winograd_gemm_v7 ...", ":conv3x3_winograd4_output_v9 ..."):
      // the layer's (direct-equivalent) FLOPs go to the one-dispatch kernel or to the GEMM (split
      // over the chunks), and the layer is done after the output transform of its last chunk.
      const chunk = / \[tile rows (\d+)-(\d+) of (\d+)\]$/.exec(s.d.label);
      const name = chunk ? s.d.label.slice(0, chunk.index) : s.d.label;
      const share = chunk ? (Number(chunk[2]) - Number(chunk[1]) + 1) / Number(chunk[3]) : 1;
      const lastChunk = !chunk || Number(chunk[2]) + 1 === Number(chunk[3]);
      const k = perKernel.get(name) ?? { ms: 0, n: 0, gflop: 0 };
      k.ms += ms;
      k.n++;
      const part = name.split(':')[1];
      const flopsHere = !part || part.startsWith('conv3x3_winograd_gemm_');
      const lastOfConv = !part || (/^conv3x3_winograd\d?_output_/.test(part) && lastChunk);
      if (s.d.label.startsWith('conv3x3_forward')) {
        if (flopsHere) k.gflop += perLayer[fwdConv].gflop * share;
        perLayer[fwdConv].fwdMs += ms;
        if (lastOfConv) fwdConv++;
      } else if (phase === 'backward' && (s.d.label.startsWith('relu_backward') || s.d.label.startsWith('conv3x3_backward'))) {
        perLayer[bwdConv].bwdMs += ms;
        if (s.d.label.startsWith('conv3x3_backward')) {
          if (flopsHere) k.gflop += perLayer[bwdConv].gflop * share;
          if (lastOfConv) bwdConv--;
        }
      }
      perKernel.set(name, k);
    }
  }
  await withTimeout(ctx.device.queue.onSubmittedWorkDone(), 300_000, 'profile');
  timer.destroy();
  const byKernel: BreakdownRow[] = [...perKernel]
    .map(([name, k]) => ({ name, dispatches: k.n, ms: k.ms, fraction: k.ms / sum, gflop: k.gflop || null, gflops: k.gflop ? k.gflop / (k.ms / 1e3) : null }))
    .sort((a, b) => b.ms - a.ms);
  return {
    impl: ev.name,
    size: [obj.H, obj.W],
    timing: timer.source,
    sumMs: sum,
    evalMs,
    byKernel,
    byLayer: perLayer.map((p) => ({ ...p, fwdGflops: p.gflop / (p.fwdMs / 1e3), bwdGflops: p.gflop / (p.bwdMs / 1e3) })),
  };
}
