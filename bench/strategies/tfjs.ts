// TensorFlow.js as benchmark strategies, one per initialized backend (webgpu on our device,
// wasm, cpu): the per-op formulations, the whole objective (bench/reference/tfjs_objective.ts,
// 'plain' tf.grad and 'tuned'), and the objective as an Objective our L-BFGS can drive.
//
// Per op (the same math as our kernels; inputs uploaded in setup, outside the timer):
//   conv3x3_forward   tf.fused.conv2d (bias + ReLU fused)
//   conv3x3_backward  g = dy * step(y), then either tf.conv2dTranspose(g, w) — the
//                     Conv2DBackpropInput kernel tf.grad uses (strategy "tfjs-<backend>") — or a
//                     forward tf.conv2d(g, flipped transposed w) (strategy "tfjs-<backend> flipT")
//   pool2x2_*         tf.maxPool / tf.avgPool; MaxPoolGrad / AvgPoolGrad (tf.grad's kernels)
//   gram_forward      tf.matMul(F, F, transposeA)        gram_backward  tf.matMul(F, M)
// Timing: webgpu — tf.time's kernelMs (GPU timestamps of every program, summed) when the device
// has timestamps, else submit-to-idle wall time; wasm and cpu run synchronously, so the wall time
// of the call. Every GPU wait has a time limit.

import type * as TF from '@tensorflow/tfjs';
import { asVector, type GpuVec } from '../../src/optim/vecops.ts';
import { type GpuContext, withTimeout } from '../../src/gpu/device.ts';
import { submitChecked } from '../../src/gpu/runtime.ts';
import type { Objective } from '../../src/optim/types.ts';
import type { LossBreakdown } from '../../src/style/types.ts';
import { defaultInputGradOp, type InputGradOp, TfjsStyleObjective, type TfjsFormulation } from '../reference/tfjs_objective.ts';
import type { Tf, TfjsVgg19Weights } from '../reference/tfjs_vgg19_core.ts';
import { type TfjsBackendName, useBackend, webgpuBackendOf } from '../lib/tfjs_backends.ts';
import type { OpCase, OpStrategy } from '../lib/types.ts';
import type { EvalInputs, EvalStrategy } from './ours.ts';

/** Limit for one tfjs op or evaluation on a CPU-emulated adapter (lavapipe has no watchdog). */
export const TFJS_WAIT_MS = 45 * 60_000;

const POOL_ATTRS = { filterSize: [2, 2], strides: [2, 2], pad: 'valid' } as unknown as TF.NamedAttrMap;

/** Waits until tfjs-webgpu has submitted its recorded work and the shared queue is idle. */
async function webgpuIdle(tf: Tf, ctx: GpuContext, what: string): Promise<void> {
  // tfjs keeps its compute pass open across programs: end it before submitting (its own flush order)
  const b = webgpuBackendOf(tf);
  if (b?.commandEncoder) {
    b.endComputePassEncoder?.();
    b.submitQueue?.();
  }
  await withTimeout(ctx.device.queue.onSubmittedWorkDone(), TFJS_WAIT_MS, what);
}

class TfjsOp implements OpStrategy {
  readonly needsWarmup: boolean;
  private tensors: TF.Tensor[] = [];
  private fn: (() => TF.Tensor) | null = null;
  private out: TF.Tensor | null = null;

  constructor(
    private readonly tf: Tf,
    private readonly ctx: GpuContext,
    readonly backend: TfjsBackendName,
    /** '' or 'flipT' (conv backward as a forward conv) */
    readonly variant: '' | 'flipT',
    private readonly useTimestamps: boolean,
  ) {
    this.needsWarmup = backend === 'webgpu';
  }

  get name(): string {
    return `tfjs-${this.backend}${this.variant ? ` ${this.variant}` : ''}`;
  }

  get timing(): 'timestamp' | 'wall' {
    return this.backend === 'webgpu' && this.useTimestamps ? 'timestamp' : 'wall';
  }

  supports(c: OpCase): boolean {
    return this.variant === 'flipT' ? c.op === 'conv3x3_backward' : true;
  }

  describe(c: OpCase): string {
    if (c.op === 'conv3x3_backward') return this.variant ? 'step mask + conv2d with flipped kernel' : "step mask + Conv2DBackpropInput (tf.grad's kernel)";
    if (c.op === 'conv3x3_forward') return 'fused conv2d+bias+relu';
    return '';
  }

  private keep<T extends TF.Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }

  async setup(c: OpCase, inp: Record<string, Float32Array<ArrayBuffer>>): Promise<void> {
    const { tf } = this;
    await useBackend(tf, this.backend);
    const { H, W, Cin, Cout } = c;
    const t4 = (d: Float32Array, s: [number, number, number, number]) => this.keep(tf.tensor4d(d, s));
    switch (c.op) {
      case 'conv3x3_forward': {
        const x = t4(inp.x, [1, H, W, Cin]);
        const w = t4(inp.w, [3, 3, Cin, Cout]);
        const b = this.keep(tf.tensor1d(inp.b));
        this.fn = () => tf.fused.conv2d({ x, filter: w, bias: b, strides: 1, pad: 'same', activation: 'relu' });
        break;
      }
      case 'conv3x3_backward': {
        const dy = t4(inp.dy, [1, H, W, Cout]);
        const y = t4(inp.y, [1, H, W, Cout]);
        if (this.variant === 'flipT') {
          const wt = this.keep(tf.tidy(() => tf.transpose(tf.reverse(tf.tensor4d(inp.w, [3, 3, Cin, Cout]), [0, 1]), [0, 1, 3, 2]) as TF.Tensor4D));
          this.fn = () => tf.tidy(() => tf.conv2d(tf.mul(dy, tf.step(y)) as TF.Tensor4D, wt, 1, 'same'));
        } else {
          const w = t4(inp.w, [3, 3, Cin, Cout]);
          this.fn = () => tf.tidy(() => tf.conv2dTranspose(tf.mul(dy, tf.step(y)) as TF.Tensor4D, w, [1, H, W, Cin], 1, 'same'));
        }
        break;
      }
      case 'pool2x2_forward': {
        const x = t4(inp.x, [1, H, W, Cin]);
        this.fn = () => (c.mode === 'max' ? tf.maxPool(x, 2, 2, 'valid') : tf.avgPool(x, 2, 2, 'valid'));
        break;
      }
      case 'pool2x2_backward': {
        const x = t4(inp.x, [1, H, W, Cin]);
        const dy = t4(inp.dy, [1, H >> 1, W >> 1, Cin]);
        if (c.mode === 'max') {
          const y = this.keep(tf.maxPool(x, 2, 2, 'valid'));
          this.fn = () => tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, POOL_ATTRS) as TF.Tensor;
        } else {
          this.fn = () => tf.engine().runKernel('AvgPoolGrad', { dy, input: x }, POOL_ATTRS) as TF.Tensor;
        }
        break;
      }
      case 'gram_forward': {
        const f = this.keep(tf.tensor2d(inp.f, [H * W, Cin]));
        this.fn = () => tf.matMul(f, f, true, false);
        break;
      }
      case 'gram_backward': {
        const f = this.keep(tf.tensor2d(inp.f, [H * W, Cin]));
        const m = this.keep(tf.tensor2d(inp.m, [Cin, Cin]));
        this.fn = () => tf.matMul(f, m);
        break;
      }
    }
    if (this.backend === 'webgpu') await webgpuIdle(tf, this.ctx, `${this.name} setup`);
  }

  async run(): Promise<number> {
    const { tf } = this;
    await useBackend(tf, this.backend);
    this.out?.dispose();
    this.out = null;
    if (this.backend !== 'webgpu') {
      const t0 = performance.now();
      this.out = this.fn!();
      return performance.now() - t0;
    }
    if (this.useTimestamps) {
      const info = await withTimeout(
        tf.time(() => {
          this.out = this.fn!();
        }),
        TFJS_WAIT_MS,
        `${this.name} run`,
      );
      if (typeof info.kernelMs !== 'number') throw new Error(`${this.name}: tf.time gave no kernel time: ${JSON.stringify(info.kernelMs)}`);
      return info.kernelMs;
    }
    await webgpuIdle(tf, this.ctx, `${this.name} before run`);
    const t0 = performance.now();
    this.out = this.fn!();
    await webgpuIdle(tf, this.ctx, `${this.name} run`);
    return performance.now() - t0;
  }

  async output(): Promise<Float32Array> {
    await useBackend(this.tf, this.backend);
    return (await withTimeout(this.out!.data<'float32'>(), TFJS_WAIT_MS, `${this.name} read-back`)) as Float32Array;
  }

  async teardown(): Promise<void> {
    this.out?.dispose();
    this.tf.dispose(this.tensors);
    this.tensors = [];
    this.out = null;
    this.fn = null;
  }
}

/** The per-op strategies of one backend: the plain formulation and, for the conv backward, flipT. */
export function tfjsOpStrategies(tf: Tf, ctx: GpuContext, backend: TfjsBackendName): OpStrategy[] {
  const ts = backend === 'webgpu' && !!webgpuBackendOf(tf)?.supportTimestampQuery;
  return [new TfjsOp(tf, ctx, backend, '', ts), new TfjsOp(tf, ctx, backend, 'flipT', ts)];
}

// ---------------------------------------------------------------------------------------------
// The whole objective
// ---------------------------------------------------------------------------------------------

/**
 * The TF.js objectives of an evaluation case, one per backend, shared by that backend's
 * formulations (the targets — two forward passes — are computed once per backend).
 */
export class TfjsObjectivePool {
  private readonly entries = new Map<TfjsBackendName, { obj: TfjsStyleObjective; weights: TfjsVgg19Weights; refs: number }>();

  constructor(
    private readonly tf: Tf,
    private readonly loadWeights: () => Promise<TfjsVgg19Weights>,
    private readonly inp: EvalInputs,
  ) {}

  async acquire(backend: TfjsBackendName): Promise<TfjsStyleObjective> {
    const e = this.entries.get(backend);
    if (e) {
      e.refs++;
      return e.obj;
    }
    const { tf, inp } = this;
    await useBackend(tf, backend);
    const weights = await this.loadWeights();
    const obj = TfjsStyleObjective.create(tf, weights, inp.cfg, inp.H, inp.W, inp.content, inp.style);
    this.entries.set(backend, { obj, weights, refs: 1 });
    return obj;
  }

  async release(backend: TfjsBackendName): Promise<void> {
    const e = this.entries.get(backend);
    if (!e || --e.refs > 0) return;
    await useBackend(this.tf, backend);
    e.obj.dispose();
    this.tf.dispose([...e.weights.values()]);
    this.entries.delete(backend);
  }
}

/**
 * One evaluation of the TF.js objective: x is a tensor on the backend (made in setup), the
 * evaluation ends when the loss terms are on the host and (webgpu) the shared queue is idle, so
 * the gradient is complete on the device — the same end point as ours.
 */
export class TfjsEval implements EvalStrategy {
  readonly needsWarmup: boolean;
  objective: TfjsStyleObjective | null = null;
  private x: TF.Tensor4D | null = null;
  private last: { terms: TF.Tensor1D; grad: TF.Tensor4D } | null = null;
  private lastTerms: Float32Array | null = null;

  constructor(
    private readonly tf: Tf,
    private readonly ctx: GpuContext,
    readonly backend: TfjsBackendName,
    readonly formulation: TfjsFormulation,
    private readonly pool: TfjsObjectivePool,
    private readonly inp: EvalInputs,
    inputGradOp?: InputGradOp,
  ) {
    // webgpu compiles pipelines on first use; wasm grows its heap; cpu has nothing to warm
    this.needsWarmup = backend !== 'cpu';
    this.inputGradOp = inputGradOp ?? defaultInputGradOp(backend);
  }

  /** the tuned formulation's conv input-gradient op */
  readonly inputGradOp: InputGradOp;

  get name(): string {
    return `tfjs-${this.backend} ${this.formulation === 'plain' ? 'tf.grad' : `tuned (${this.inputGradOp})`}`;
  }

  async setup(): Promise<void> {
    const { tf, inp } = this;
    this.objective = await this.pool.acquire(this.backend);
    await useBackend(tf, this.backend);
    this.objective.inputGradOp = this.inputGradOp;
    await this.objective.prepare(this.formulation);
    this.x = tf.tensor4d(inp.x, [1, inp.H, inp.W, 3]);
    if (this.backend === 'webgpu') await webgpuIdle(tf, this.ctx, `${this.name} setup`);
  }

  async run(): Promise<number> {
    const { tf } = this;
    await useBackend(tf, this.backend);
    if (this.last) tf.dispose([this.last.terms, this.last.grad]);
    this.last = null;
    if (this.backend === 'webgpu') await webgpuIdle(tf, this.ctx, `${this.name} before run`);
    this.objective!.inputGradOp = this.inputGradOp; // shared with the backend's other formulation
    const t0 = performance.now();
    this.last = this.objective!.evaluate(this.x!, this.formulation);
    this.lastTerms = (await withTimeout(this.last.terms.data<'float32'>(), TFJS_WAIT_MS, `${this.name} evaluation`)) as Float32Array;
    if (this.backend === 'webgpu') await webgpuIdle(tf, this.ctx, `${this.name} evaluation`);
    return performance.now() - t0;
  }

  async result(): Promise<{ loss: LossBreakdown; grad: Float32Array }> {
    await useBackend(this.tf, this.backend);
    const grad = (await withTimeout(this.last!.grad.data<'float32'>(), TFJS_WAIT_MS, `${this.name} gradient read-back`)) as Float32Array;
    return { loss: this.objective!.breakdown(this.lastTerms!), grad };
  }

  /** Per-kernel times of one evaluation (tf.profile; webgpu: GPU timestamps per program). */
  async profile(): Promise<Array<{ name: string; ms: number; n: number }>> {
    const { tf } = this;
    await useBackend(tf, this.backend);
    const info = await withTimeout(
      tf.profile(async () => {
        this.objective!.inputGradOp = this.inputGradOp;
        const r = this.objective!.evaluate(this.x!, this.formulation);
        await r.terms.data();
        tf.dispose([r.terms, r.grad]);
      }),
      TFJS_WAIT_MS,
      `${this.name} profile`,
    );
    const by = new Map<string, { ms: number; n: number }>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const e = by.get(k.name) ?? { ms: 0, n: 0 };
      e.ms += ms;
      e.n++;
      by.set(k.name, e);
    }
    return [...by].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.ms - a.ms);
  }

  async teardown(): Promise<void> {
    const { tf } = this;
    await useBackend(tf, this.backend);
    if (this.last) tf.dispose([this.last.terms, this.last.grad]);
    this.x?.dispose();
    if (this.objective) await this.pool.release(this.backend);
    this.last = null;
    this.x = null;
    this.objective = null;
  }
}

// ---------------------------------------------------------------------------------------------
// The TF.js objective driven by our optimizers
// ---------------------------------------------------------------------------------------------

/**
 * The TF.js objective as an Objective over our GPU buffers, so our L-BFGS can drive it (the
 * comparison then isolates the kernels). On webgpu the data never leaves the device: x is copied
 * into a tfjs tensor (tf.tensor of a GPUBuffer) and the gradient out of one (dataToGPU) on the
 * shared device. On wasm/cpu, x is read back and the gradient uploaded.
 */
export class TfjsGpuObjective implements Objective {
  readonly n: number;
  evaluations = 0;
  last: LossBreakdown | null = null;

  constructor(
    private readonly tf: Tf,
    private readonly ctx: GpuContext,
    private readonly backend: TfjsBackendName,
    private readonly objective: TfjsStyleObjective,
    private readonly formulation: TfjsFormulation,
  ) {
    this.n = objective.n;
  }

  /** x and grad: one buffer each (this objective is never banded), or a one-segment vector. */
  async evaluate(xv: GPUBuffer | GpuVec, gradv: GPUBuffer | GpuVec): Promise<number> {
    const [x, grad] = [xv, gradv].map((v) => asVector(v, 1, (n) => `TfjsGpuObjective: ${n} buffers given; this objective is never banded`)[0]);
    const { tf, ctx } = this;
    const { H, W } = this.objective;
    await useBackend(tf, this.backend);
    let xt: TF.Tensor4D;
    if (this.backend === 'webgpu') {
      xt = tf.tensor({ buffer: x, zeroCopy: false }, [1, H, W, 3], 'float32') as TF.Tensor4D;
    } else {
      const { readFloats } = await import('../../src/gpu/runtime.ts');
      xt = tf.tensor4d(await readFloats(ctx, x, this.n), [1, H, W, 3]);
    }
    const r = this.objective.evaluate(xt, this.formulation);
    try {
      const terms = (await withTimeout(r.terms.data<'float32'>(), TFJS_WAIT_MS, 'tfjs objective evaluation')) as Float32Array;
      if (this.backend === 'webgpu') {
        const { buffer, tensorRef } = r.grad.dataToGPU();
        try {
          const enc = ctx.device.createCommandEncoder({ label: 'tfjs gradient -> ours' });
          enc.copyBufferToBuffer(buffer!, 0, grad, 0, this.n * 4);
          await submitChecked(ctx, [enc.finish()], 'tfjs gradient copy');
          await withTimeout(ctx.device.queue.onSubmittedWorkDone(), TFJS_WAIT_MS, 'tfjs gradient copy');
        } finally {
          tensorRef.dispose();
        }
      } else {
        const g = (await r.grad.data<'float32'>()) as Float32Array<ArrayBuffer>;
        ctx.device.queue.writeBuffer(grad, 0, g);
      }
      this.last = this.objective.breakdown(terms);
      this.evaluations++;
      return this.last.total;
    } finally {
      tf.dispose([xt, r.terms, r.grad]);
    }
  }
}
