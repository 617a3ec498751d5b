// VGG19 on the GPU: forward to any set of named layers (post-ReLU, Keras names) and backward
// from gradients injected at those layers down to the input image.
//
//   const net = await Vgg19.create(ctx, weights);             // uploads the weights once
//   const run = await net.plan(H, W, ['block1_conv1', 'block5_conv2']);
//   queue.writeBuffer(run.input, ...)                          // [H, W, 3] caffe BGR
//   await run.forward();  run.activation('block5_conv2')       // [h, w, 512] post-ReLU
//   (write dL/dy of each requested layer into run.gradientAt(name))
//   await run.backward(); run.inputGrad                        // [H, W, 3]
//
// Only the layers up to the deepest requested one are run. Memory: one buffer per conv output
// (the backward needs every ReLU mask and every max-pool input) and per pooled output; the
// backward reuses two ping-pong buffers plus one scratch of the largest activation size.
// With the Winograd kernels (v7) every layer also holds its transformed kernels and the plan two
// shared scratch buffers (each up to 128 MiB or the device's binding limit; v7 runs an image
// too large for them in chunks of tile rows).
// A forward or backward is a list of steps (dispatches and buffer copies) built once per plan
// and encoded into one command buffer per call.

import type { GpuContext } from '../gpu/device.ts';
import { createStorage, type Dispatch, encodeDispatches, submitChecked, uploadStorage } from '../gpu/runtime.ts';
import {
  type ConvShape,
  type ConvVersion,
  conv3x3Backward,
  conv3x3Forward,
  supports,
  versionFor,
  type WinogradBuffers,
  winogradKernel,
  winogradScratchFloats,
  winogradScratchLimit,
} from '../kernels/conv3x3.ts';
import { type PoolMode, pool2x2Backward, pool2x2Forward } from '../kernels/pool2x2.ts';
import { chooseConvVersion, modelConvVersionAt, winogradPays } from '../kernels/registry.ts';
import { flipTransposeCpu } from '../ref/conv3x3.ts';
import { layerIndex, minInputSide, VGG19_LAYERS } from './vgg19_layers.ts';
import type { Vgg19Weights } from './weights.ts';

export interface Vgg19Options {
  /** conv kernel version; default: the registry's choice for this adapter */
  convVersion?: ConvVersion;
  /** 'max' (Keras VGG19, the notebook) or 'avg' (the paper's variant) */
  pooling?: PoolMode;
}

interface GpuLayer {
  w: GPUBuffer; // [3, 3, Cin, Cout] HWIO
  wt: GPUBuffer; // [3, 3, Cout, Cin] flip-transposed, for the v2 backward
  bias: GPUBuffer; // [Cout]
  uForward: GPUBuffer | null; // [16, Cin, Cout] Winograd-transformed w (v7 only)
  uBackward: GPUBuffer | null; // [16, Cout, Cin] Winograd-transformed wt (v7 only, Cin % 4 == 0)
}

/** One step of a recorded pass. */
export type Step = { kind: 'dispatch'; d: Dispatch } | { kind: 'copy'; src: GPUBuffer; dst: GPUBuffer; bytes: number };

/** Encodes steps: consecutive dispatches share a compute pass; copies go between passes. */
export function encodeSteps(encoder: GPUCommandEncoder, steps: Step[]): void {
  let batch: Dispatch[] = [];
  const flush = () => {
    if (batch.length) encodeDispatches(encoder, batch);
    batch = [];
  };
  for (const s of steps) {
    if (s.kind === 'dispatch') batch.push(s.d);
    else {
      flush();
      encoder.copyBufferToBuffer(s.src, 0, s.dst, 0, s.bytes);
    }
  }
  flush();
}

export class Vgg19 {
  private constructor(
    readonly ctx: GpuContext,
    private readonly layers: GpuLayer[],
    readonly convVersion: ConvVersion,
    readonly pooling: PoolMode,
  ) {}

  /** Uploads all 16 conv layers (kernel, its flip-transpose, bias; for v7 their Winograd transforms). */
  static async create(ctx: GpuContext, weights: Vgg19Weights, opts: Vgg19Options = {}): Promise<Vgg19> {
    const version = opts.convVersion ?? chooseConvVersion(ctx);
    const layers = VGG19_LAYERS.map((spec) => {
      const lw = weights.layers.get(spec.name);
      if (!lw) throw new Error(`weights from ${weights.source} lack layer ${spec.name}`);
      const wt = flipTransposeCpu(lw.kernel, spec.cin, spec.cout);
      const s = { H: 1, W: 1, Cin: spec.cin, Cout: spec.cout };
      // only where the model may run v7 (whether it fits the device depends on the image size)
      const wino = (dir: 'forward' | 'backward') => version === 'v7' && supports('v7', s, dir) && winogradPays(s, dir);
      return {
        w: uploadStorage(ctx, lw.kernel, `${spec.name}/kernel`),
        wt: uploadStorage(ctx, wt, `${spec.name}/kernel_flipT`),
        bias: uploadStorage(ctx, lw.bias, `${spec.name}/bias`),
        uForward: wino('forward') ? uploadStorage(ctx, winogradKernel(lw.kernel, spec.cin, spec.cout), `${spec.name}/kernel_winograd`) : null,
        uBackward: wino('backward') ? uploadStorage(ctx, winogradKernel(wt, spec.cout, spec.cin), `${spec.name}/kernel_flipT_winograd`) : null,
      };
    });
    return new Vgg19(ctx, layers, version, opts.pooling ?? 'max');
  }

  /** Allocates buffers and records the forward and backward passes for an H x W input. */
  async plan(H: number, W: number, layerNames: string[]): Promise<Vgg19Plan> {
    if (!layerNames.length) throw new Error('Vgg19.plan: no layers requested');
    const wanted = new Set(layerNames.map((n) => VGG19_LAYERS[layerIndex(n)].name));
    const deepest = Math.max(...[...wanted].map(layerIndex));
    const minSide = minInputSide(VGG19_LAYERS[deepest].name);
    if (!Number.isInteger(H) || !Number.isInteger(W) || H < minSide || W < minSide) {
      throw new Error(
        `image of ${H}x${W} is too small for ${VGG19_LAYERS[deepest].name}: it is reached after ${Math.log2(minSide)} poolings, so each side must be at least ${minSide} pixels`,
      );
    }
    return Vgg19Plan.build(this, this.layers, H, W, wanted, deepest);
  }
}

interface LayerBuffers {
  name: string;
  H: number;
  W: number;
  cin: number;
  cout: number;
  input: GPUBuffer; // [H, W, cin]: the image, or the previous layer's output / pooled output
  y: GPUBuffer; // [H, W, cout] post-ReLU output
  pooled: GPUBuffer | null; // [H/2, W/2, cout] when a pooling follows and a deeper layer is run
}

export class Vgg19Plan {
  /** [H, W, 3] f32, caffe-preprocessed BGR: the caller writes the image here */
  readonly input: GPUBuffer;
  /** [H, W, 3] f32: the gradient w.r.t. the input after backward() */
  readonly inputGrad: GPUBuffer;
  private forwardSteps: Step[] = [];
  private backwardSteps: Step[] = [];
  private readonly grads = new Map<string, GPUBuffer>();
  private readonly byName = new Map<string, LayerBuffers>();

  private constructor(
    readonly net: Vgg19,
    readonly H: number,
    readonly W: number,
    readonly layerNames: string[],
    private readonly layers: LayerBuffers[],
  ) {
    this.input = layers[0].input;
    this.inputGrad = createStorage(net.ctx, H * W * 3 * 4, 'vgg19 input gradient');
    for (const l of layers) this.byName.set(l.name, l);
  }

  static async build(net: Vgg19, weights: GpuLayer[], H: number, W: number, wanted: Set<string>, deepest: number): Promise<Vgg19Plan> {
    const ctx = net.ctx;
    const layers: LayerBuffers[] = [];
    let h = H;
    let w = W;
    let input = createStorage(ctx, H * W * 3 * 4, 'vgg19 input image');
    let maxFloats = H * W * 3;
    for (let i = 0; i <= deepest; i++) {
      const spec = VGG19_LAYERS[i];
      const y = createStorage(ctx, h * w * spec.cout * 4, `${spec.name} output`);
      maxFloats = Math.max(maxFloats, h * w * spec.cout);
      const pooled = spec.poolAfter && i < deepest ? createStorage(ctx, Math.floor(h / 2) * Math.floor(w / 2) * spec.cout * 4, `${spec.name} pooled`) : null;
      layers.push({ name: spec.name, H: h, W: w, cin: spec.cin, cout: spec.cout, input, y, pooled });
      if (pooled) {
        h = Math.floor(h / 2);
        w = Math.floor(w / 2);
        input = pooled;
      } else input = y;
    }
    const plan = new Vgg19Plan(net, H, W, [...wanted], layers);
    // Loss-gradient slots: one buffer per requested layer, written by the caller.
    for (const name of wanted) {
      const l = plan.byName.get(name)!;
      plan.grads.set(name, createStorage(ctx, l.H * l.W * l.cout * 4, `${name} loss gradient`));
    }
    const version = net.convVersion;
    const pooling = net.pooling;
    // The version each conv runs (registry.ts: v7 where it pays and fits the device's limits),
    // and one pair of v7 scratch buffers sized for the largest v7 conv, shared by all of them.
    const shapes = layers.map((l) => ({ H: l.H, W: l.W, Cin: l.cin, Cout: l.cout }));
    const uOf = (i: number, dir: 'forward' | 'backward') => (dir === 'forward' ? weights[i].uForward : weights[i].uBackward);
    const pick = (i: number, dir: 'forward' | 'backward'): ConvVersion => {
      const v = modelConvVersionAt(ctx, version, shapes[i], dir);
      return v === 'v7' && !uOf(i, dir) ? versionFor('v3', shapes[i], dir) : v;
    };
    const chosen = shapes.map((_, i) => ({ forward: pick(i, 'forward'), backward: pick(i, 'backward') }));
    let scratchV = 0;
    let scratchM = 0;
    for (let i = 0; i <= deepest; i++) {
      for (const dir of ['forward', 'backward'] as const) {
        if (chosen[i][dir] !== 'v7') continue;
        const f = winogradScratchFloats(shapes[i], dir, winogradScratchLimit(ctx));
        scratchV = Math.max(scratchV, f.v);
        scratchM = Math.max(scratchM, f.m);
      }
    }
    const wScratch = scratchV ? { v: createStorage(ctx, scratchV * 4, 'vgg19 winograd V'), m: createStorage(ctx, scratchM * 4, 'vgg19 winograd M') } : null;
    const winograd = (i: number, dir: 'forward' | 'backward'): WinogradBuffers | undefined => {
      const u = uOf(i, dir);
      return chosen[i][dir] === 'v7' && u && wScratch ? { u, ...wScratch } : undefined;
    };
    // Forward.
    for (let i = 0; i <= deepest; i++) {
      const l = layers[i];
      const s = shapes[i];
      const b = { x: l.input, w: weights[i].w, bias: weights[i].bias, y: l.y, winograd: winograd(i, 'forward') };
      for (const d of await conv3x3Forward(ctx, chosen[i].forward, s, b)) plan.forwardSteps.push({ kind: 'dispatch', d });
      if (l.pooled) plan.forwardSteps.push({ kind: 'dispatch', d: await pool2x2Forward(ctx, pooling, { H: l.H, W: l.W, C: l.cout }, { x: l.y, y: l.pooled }) });
    }
    // Backward: from the deepest layer down, ping-ponging between two buffers.
    const ping = [createStorage(ctx, maxFloats * 4, 'vgg19 grad ping'), createStorage(ctx, maxFloats * 4, 'vgg19 grad pong')];
    const scratch = createStorage(ctx, maxFloats * 4, 'vgg19 masked grad');
    let cur = plan.grads.get(layers[deepest].name)!; // dL/dy of the layer being processed
    const other = (buf: GPUBuffer) => (buf === ping[0] ? ping[1] : ping[0]);
    const steps = plan.backwardSteps;
    /** Makes `dst` start as the injected loss gradient of `name` (if any); returns accumulate. */
    const inject = (name: string, dst: GPUBuffer, bytes: number): boolean => {
      const g = plan.grads.get(name);
      if (!g) return false;
      steps.push({ kind: 'copy', src: g, dst, bytes });
      return true;
    };
    for (let i = deepest; i >= 0; i--) {
      const l = layers[i];
      const s = shapes[i];
      const prev = i > 0 ? layers[i - 1] : null;
      const b = { dy: cur, y: l.y, w: weights[i].w, wt: weights[i].wt, g: scratch, winograd: winograd(i, 'backward') };
      const v = chosen[i].backward;
      if (!prev) {
        for (const d of await conv3x3Backward(ctx, v, s, { ...b, dx: plan.inputGrad })) steps.push({ kind: 'dispatch', d });
        break;
      }
      const dst = other(cur);
      const prevBytes = prev.H * prev.W * prev.cout * 4;
      if (prev.pooled) {
        // conv backward -> gradient of the pooled map (dst), then pool backward -> gradient of prev.y
        for (const d of await conv3x3Backward(ctx, v, s, { ...b, dx: dst })) steps.push({ kind: 'dispatch', d });
        const dst2 = other(dst); // may be the buffer `cur` was in: it has been consumed
        const acc = inject(prev.name, dst2, prevBytes);
        steps.push({ kind: 'dispatch', d: await pool2x2Backward(ctx, pooling, { H: prev.H, W: prev.W, C: prev.cout }, { dy: dst, x: prev.y, dx: dst2 }, acc) });
        cur = dst2;
      } else {
        const acc = inject(prev.name, dst, prevBytes);
        for (const d of await conv3x3Backward(ctx, v, s, { ...b, dx: dst }, acc)) steps.push({ kind: 'dispatch', d });
        cur = dst;
      }
    }
    return plan;
  }

  /** The post-ReLU output of a planned layer: [h, w, c] f32. */
  activation(name: string): GPUBuffer {
    return this.layer(name).y;
  }

  /** [h, w, c] of a planned layer's output. */
  shape(name: string): [number, number, number] {
    const l = this.layer(name);
    return [l.H, l.W, l.cout];
  }

  /** The buffer into which the caller writes dL/d(activation of `name`) before backward(). */
  gradientAt(name: string): GPUBuffer {
    const g = this.grads.get(name);
    if (!g) throw new Error(`layer ${name} was not requested in this plan (requested: ${this.layerNames.join(', ')})`);
    return g;
  }

  private layer(name: string): LayerBuffers {
    const l = this.byName.get(name);
    if (!l) throw new Error(`layer ${name} is not part of this plan (deepest planned: ${this.layers[this.layers.length - 1].name})`);
    return l;
  }

  encodeForward(encoder: GPUCommandEncoder): void {
    encodeSteps(encoder, this.forwardSteps);
  }

  encodeBackward(encoder: GPUCommandEncoder): void {
    encodeSteps(encoder, this.backwardSteps);
  }

  /** The forward / backward steps (for benchmarks that time each dispatch). */
  steps(which: 'forward' | 'backward'): readonly Step[] {
    return which === 'forward' ? this.forwardSteps : this.backwardSteps;
  }

  /** Submits the forward pass (checked for validation errors); it does not wait for the GPU to finish. */
  async forward(): Promise<void> {
    const enc = this.net.ctx.device.createCommandEncoder({ label: 'vgg19 forward' });
    this.encodeForward(enc);
    await submitChecked(this.net.ctx, [enc.finish()], 'vgg19 forward');
  }

  /** Submits the backward pass (checked for validation errors); it does not wait for the GPU to finish. */
  async backward(): Promise<void> {
    const enc = this.net.ctx.device.createCommandEncoder({ label: 'vgg19 backward' });
    this.encodeBackward(enc);
    await submitChecked(this.net.ctx, [enc.finish()], 'vgg19 backward');
  }
}
