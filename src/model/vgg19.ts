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
// Only the layers up to the deepest requested one are run. Memory: one tensor per conv output
// (the backward needs every ReLU mask and every max-pool input) and per pooled output; the
// backward reuses two ping-pong tensors plus one scratch of the largest activation size.
// Tensors larger than the plan's buffer limit (the device's, or --max-buffer-mib) are stored in
// row bands (bands.ts) and the ops run on them chunk by chunk (banded_ops.ts); the image and its
// gradient must each fit one buffer.
// With the Winograd kernels (v7) every layer also holds its transformed kernels and the plan two
// shared scratch buffers (each up to 32 MiB or the device's binding limit; v7 runs an image
// too large for them in chunks of tile rows).
// A forward or backward is a list of steps (dispatches and buffer copies) built once per plan
// and encoded into one command buffer per call.

import type { GpuContext } from '../gpu/device.ts';
import { type BufferScope, gpuMemory } from '../gpu/memory.ts';
import { createStorage, type Dispatch, encodeDispatches, runDispatches, submitChecked, uploadStorage } from '../gpu/runtime.ts';
import {
  type ConvVersion,
  supports,
  isWinograd,
  usesFlippedKernel,
  type WinogradBuffers,
  winogradKernel,
  winogradTile,
  winogradScratchFloats,
  winogradScratchLimit,
} from '../kernels/conv3x3.ts';
import type { PoolMode } from '../kernels/pool2x2.ts';
import { type BandScratch, convBackwardBanded, convForwardBanded, convKernelRows, poolBackwardBanded, poolForwardBanded, type Step } from './banded_ops.ts';
import { type Banded, BandPool, bandRanges, copyRows, createBanded, single } from './bands.ts';
import { chooseConvVersion, type ConvSite, type KernelMode, type KernelRow, kernelTable, winogradPays } from '../kernels/kernel_table.ts';
import { flipTranspose } from './conv_weights.ts';
import { layerIndex, VGG19_LAYERS, vgg19Geometry } from './vgg19_layers.ts';
import { fitWorkingSize } from './working_size.ts';
import type { Vgg19Weights } from './weights.ts';

export interface Vgg19Options {
  /** force this conv version where it can run (fallbacks as in kernel_table.ts); default: the kernel table's choice */
  convVersion?: ConvVersion;
  /** how the kernel table picks versions: 'default' (hand-written, the default) or 'tuned' (measured, cached) */
  kernels?: KernelMode;
  /** tuned: called with one line per shape the autotuner times */
  onTune?: (line: string) => void;
  /** 'max' (Keras VGG19, the notebook) or 'avg' (the paper's variant) */
  pooling?: PoolMode;
  /** upload the layers up to this one only (default: all 16); plans may use no deeper layer */
  upTo?: string;
}

interface GpuLayer {
  w: GPUBuffer; // [3, 3, Cin, Cout] HWIO
  /**
   * [3, 3, Cout, Cin] flip-transposed, for the direct backward versions (v2-v6): flipped on the
   * host and uploaded when a plan first runs one at this layer (layerWt), else null. The
   * Winograd versions read w flipped in place, so on CPU adapters most layers never make it.
   */
  wt: GPUBuffer | null;
  /** the host kernel w came from (HWIO), kept for the flip-transpose */
  kernel: Float32Array;
  /** the memory scopes open when the network was made: buffers made later for it belong to them (GpuMemory.adopt) */
  scopes: ReadonlySet<BufferScope>;
  bias: GPUBuffer; // [Cout]
  /**
   * Winograd-transformed kernels by direction and tile ("forward 2", "backward 4"): forward
   * [(m+2)^2, Cin, Cout] of w, backward [(m+2)^2, Cout, Cin] of its flip-transpose, made on the device
   * (winogradKernel): at create for the model's version where it may run, at plan time for the
   * versions a tuned table picks.
   */
  u: Map<string, GPUBuffer>;
}

export type { Step } from './banded_ops.ts';

/**
 * A layer's Winograd-transformed kernel for `version`'s tile and a direction, made on the device
 * from the uploaded kernel (winogradKernel) on first use, then kept. `pending` collects the
 * dispatches that fill new ones; the caller runs them before any conv reads the result.
 */
async function layerWinogradKernel(
  ctx: GpuContext,
  layer: GpuLayer,
  spec: { name: string; cin: number; cout: number },
  dir: 'forward' | 'backward',
  version: ConvVersion,
  pending: Dispatch[],
): Promise<GPUBuffer> {
  const m = winogradTile(version);
  const key = `${dir} ${m}`;
  let u = layer.u.get(key);
  if (!u) {
    const [K, N] = dir === 'forward' ? [spec.cin, spec.cout] : [spec.cout, spec.cin];
    const made = await winogradKernel(ctx, layer.w, K, N, version, `${spec.name}/kernel${dir === 'forward' ? '' : '_flipT'}_winograd${m === 4 ? '4' : ''}`, dir === 'backward');
    layer.u.set(key, gpuMemory(ctx).adopt(made.u, layer.scopes));
    pending.push(made.dispatch);
    u = made.u;
  }
  return u;
}

/** A layer's flip-transposed kernel for the direct backward versions, made (host flip, upload) on first use, then kept. */
function layerWt(ctx: GpuContext, layer: GpuLayer, spec: { name: string; cin: number; cout: number }): GPUBuffer {
  layer.wt ??= gpuMemory(ctx).adopt(uploadStorage(ctx, flipTranspose(layer.kernel, spec.cin, spec.cout), `${spec.name}/kernel_flipT`), layer.scopes);
  return layer.wt;
}

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
      if (s.kind === 'clear') encoder.clearBuffer(s.buf);
      else encoder.copyBufferToBuffer(s.src, s.srcOffset ?? 0, s.dst, s.dstOffset ?? 0, s.bytes);
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
    /** the version forced by Vgg19Options.convVersion, else null (the kernel table picks) */
    readonly forcedVersion: ConvVersion | null = null,
    readonly kernels: KernelMode = 'default',
    readonly onTune?: (line: string) => void,
  ) {}

  /** Uploads the conv layers (kernel, bias; for a Winograd version their transforms; a flip-transposed kernel later, where a plan runs a direct backward). */
  static async create(ctx: GpuContext, weights: Vgg19Weights, opts: Vgg19Options = {}): Promise<Vgg19> {
    const version = opts.convVersion ?? chooseConvVersion(ctx);
    const count = opts.upTo === undefined ? VGG19_LAYERS.length : layerIndex(opts.upTo) + 1;
    const pending: Dispatch[] = [];
    const scopes = gpuMemory(ctx).openScopes();
    const layers = VGG19_LAYERS.slice(0, count).map((spec) => {
      const lw = weights.layers.get(spec.name);
      if (!lw) throw new Error(`weights from ${weights.source} lack layer ${spec.name}`);
      const s = { H: 1, W: 1, Cin: spec.cin, Cout: spec.cout };
      const layer: GpuLayer = {
        w: uploadStorage(ctx, lw.kernel, `${spec.name}/kernel`),
        wt: null,
        kernel: lw.kernel,
        scopes,
        bias: uploadStorage(ctx, lw.bias, `${spec.name}/bias`),
        u: new Map(),
      };
      return { layer, spec, s };
    });
    // the Winograd transforms, on the device, only where the model may run its Winograd version
    // (whether it fits the device depends on the image size): one submission for all layers
    for (const { layer, spec, s } of layers) {
      for (const dir of ['forward', 'backward'] as const) if (isWinograd(version) && supports(version, s, dir) && winogradPays(s, dir)) await layerWinogradKernel(ctx, layer, spec, dir, version, pending);
    }
    if (pending.length) await runDispatches(ctx, pending, 'vgg19 winograd kernel transforms');
    return new Vgg19(ctx, layers.map((l) => l.layer), version, opts.pooling ?? 'max', opts.convVersion ?? null, opts.kernels ?? 'default', opts.onTune);
  }

  /**
   * Allocates buffers and records the forward and backward passes for an H x W input. No buffer
   * is larger than `opts.maxBufferBytes` (default: the device's binding and buffer limits):
   * larger tensors are stored in row bands.
   */
  async plan(H: number, W: number, layerNames: string[], opts: PlanOptions = {}): Promise<Vgg19Plan> {
    if (!layerNames.length) throw new Error('Vgg19.plan: no layers requested');
    const wanted = new Set(layerNames.map((n) => VGG19_LAYERS[layerIndex(n)].name));
    const deepest = Math.max(...[...wanted].map(layerIndex));
    if (deepest >= this.layers.length) {
      throw new Error(`${VGG19_LAYERS[deepest].name} was not uploaded: this network holds the layers up to ${VGG19_LAYERS[this.layers.length - 1].name} (Vgg19Options.upTo)`);
    }
    if (!Number.isInteger(W)) throw new Error(`Vgg19.plan: the width must be an integer, got ${W}`);
    fitWorkingSize({ rows: H, cols: W, deepest: VGG19_LAYERS[deepest].name });
    return Vgg19Plan.build(this, this.layers, H, W, wanted, deepest, opts.maxBufferBytes ?? deviceBufferLimit(this.ctx), opts.injectors ?? new Map(), opts.kernels ?? this.kernels);
  }
}

export interface PlanOptions {
  /** no buffer of the plan larger than this (bytes); default deviceBufferLimit(ctx) */
  maxBufferBytes?: number;
  /**
   * Layers whose loss gradient is computed during the backward, straight into the gradient
   * being propagated, instead of being written by the caller into a slot (gradientAt) before
   * it: saves the slot (at block1_conv1, as large as the layer's output). The injector returns
   * the steps that write dL/dy of the layer into `dst` (banded like y), or none when the loss
   * has no gradient there.
   */
  injectors?: Map<string, Injector>;
  /** the kernel table's mode for this plan (default: the network's, Vgg19Options.kernels) */
  kernels?: KernelMode;
}

/** Steps that write a layer's loss gradient into dst, given the layer's output y (both [h, w, c]). */
export type Injector = (y: Banded, dst: Banded) => Promise<Step[]>;

/** The largest buffer the device binds: min(maxStorageBufferBindingSize, maxBufferSize). */
export function deviceBufferLimit(ctx: GpuContext): number {
  const l = ctx.device.limits;
  return Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
}

/**
 * The convs a plan of an H x W input up to layer `deepest` (index) runs, forward and backward,
 * each with the shape one kernel call runs: all rows, or a chunk of rows (plus halo) where the
 * layer's tensors are banded under maxBytes (what Vgg19Plan.build runs; `neural-style kernels`
 * shows the same without allocating).
 */
export function convSites(H: number, W: number, deepest: number, maxBytes: number): ConvSite[] {
  const geo = vgg19Geometry(H, W).slice(0, deepest + 1);
  const bands = (h: number, w: number, c: number) => bandRanges(h, w, c, maxBytes).length;
  let maxFloats = H * W * 3;
  let inBands = bands(H, W, 3);
  const banded = geo.map((g, i) => {
    maxFloats = Math.max(maxFloats, g.h * g.w * g.cout);
    const pooledBands = g.pooled && i < deepest ? bands(g.pooled[0], g.pooled[1], g.cout) : 1;
    const b = inBands > 1 || bands(g.h, g.w, g.cout) > 1 || pooledBands > 1;
    inBands = g.pooled && i < deepest ? pooledBands : bands(g.h, g.w, g.cout);
    return b;
  });
  const scratchBytes = banded.some(Boolean) ? Math.min(maxBytes, BAND_SCRATCH_MAX, 4 * maxFloats) : 0;
  return geo.flatMap((g, i) => {
    const s = { H: g.h, W: g.w, Cin: g.cin, Cout: g.cout };
    const shape = { ...s, H: convKernelRows(s, banded[i], scratchBytes) };
    return (['forward', 'backward'] as const).map((direction) => ({ layer: g.name, direction, shape }));
  });
}

/** Bytes of each of the four band-scratch buffers: at most 64 MiB (halo rows then cost <= 3 % at 2048 rows). */
export const BAND_SCRATCH_MAX = 64 * 2 ** 20;

interface LayerBuffers {
  name: string;
  H: number;
  W: number;
  cin: number;
  cout: number;
  input: Banded; // [H, W, cin]: the image, or the previous layer's output / pooled output
  y: Banded; // [H, W, cout] post-ReLU output
  pooled: Banded | null; // [H/2, W/2, cout] when a pooling follows and a deeper layer is run
}

export class Vgg19Plan {
  /** [H, W, 3] f32, caffe-preprocessed BGR, in row bands like every tensor: the caller writes the image here (writeInput) */
  readonly inputBands: Banded;
  /** [H, W, 3] f32: the gradient w.r.t. the input after backward(), banded like inputBands */
  readonly inputGradBands: Banded;
  /** row bands of the input image ('input') and of each planned layer's output (1 = unbanded) */
  readonly bandCounts: Record<string, number> = {};
  private forwardSteps: Step[] = [];
  private backwardSteps: Step[] = [];
  private readonly grads = new Map<string, Banded>();
  private readonly byName = new Map<string, LayerBuffers>();
  /** the kernel table of this plan: per layer, forward then backward, the version that runs and why */
  kernelRows: KernelRow[] = [];

  private constructor(
    readonly net: Vgg19,
    readonly H: number,
    readonly W: number,
    readonly layerNames: string[],
    private readonly layers: LayerBuffers[],
    /** no buffer of this plan is larger (bytes) */
    readonly maxBufferBytes: number,
    /** the chunked ops' scratch, when any tensor is banded */
    readonly scratch: BandScratch | null,
  ) {
    this.inputBands = layers[0].input;
    this.inputGradBands = createBanded(net.ctx, H, W, 3, maxBufferBytes, 'vgg19 input gradient');
    this.bandCounts.input = this.inputBands.bands.length;
    for (const l of layers) {
      this.byName.set(l.name, l);
      this.bandCounts[l.name] = l.y.bands.length;
    }
  }

  static async build(
    net: Vgg19,
    weights: GpuLayer[],
    H: number,
    W: number,
    wanted: Set<string>,
    deepest: number,
    maxBytes: number,
    injectors: Map<string, Injector>,
    kernels: KernelMode = 'default',
  ): Promise<Vgg19Plan> {
    const ctx = net.ctx;
    if (!(maxBytes >= 16)) throw new Error(`buffer limit must be at least 16 bytes, got ${maxBytes}`);
    const layers: LayerBuffers[] = [];
    let input = createBanded(ctx, H, W, 3, maxBytes, 'vgg19 input image');
    let maxFloats = H * W * 3;
    for (const [i, g] of vgg19Geometry(H, W).slice(0, deepest + 1).entries()) {
      const y = createBanded(ctx, g.h, g.w, g.cout, maxBytes, `${g.name} output`);
      maxFloats = Math.max(maxFloats, g.h * g.w * g.cout);
      const pooled = g.pooled && i < deepest ? createBanded(ctx, g.pooled[0], g.pooled[1], g.cout, maxBytes, `${g.name} pooled`) : null;
      layers.push({ name: g.name, H: g.h, W: g.w, cin: g.cin, cout: g.cout, input, y, pooled });
      input = pooled ?? y;
    }
    // Band scratch: four buffers for the chunked ops, only when some tensor is banded.
    const banded = layers.map((l) => l.input.bands.length > 1 || l.y.bands.length > 1 || (l.pooled?.bands.length ?? 1) > 1);
    let scratch: BandScratch | null = null;
    if (banded.some(Boolean)) {
      const bytes = Math.min(maxBytes, BAND_SCRATCH_MAX, 4 * maxFloats);
      const s = [0, 1, 2, 3].map((k) => createStorage(ctx, bytes, `vgg19 band scratch ${k}`)) as BandScratch['s'];
      scratch = { bytes, s };
    }
    const plan = new Vgg19Plan(net, H, W, [...wanted], layers, maxBytes, scratch);
    // Loss-gradient slots: one tensor per requested layer without an injector, written by the caller.
    for (const name of wanted) {
      if (injectors.has(name)) continue;
      const l = plan.byName.get(name)!;
      plan.grads.set(name, createBanded(ctx, l.H, l.W, l.cout, maxBytes, `${name} loss gradient`));
    }
    const pooling = net.pooling;
    // The version each conv runs: the kernel table's (kernel_table.ts: the default, v7 where it
    // pays and fits on CPU adapters, or the autotuner's measured choice), and one pair of
    // Winograd scratch buffers sized for the largest image a v7/v8 kernel runs at (a banded layer
    // runs its kernels on chunks of rows), shared by all of them.
    const shapes = layers.map((l) => ({ H: l.H, W: l.W, Cin: l.cin, Cout: l.cout }));
    const sites = convSites(H, W, deepest, maxBytes);
    const table = await kernelTable(ctx, sites, { mode: kernels, preferred: net.forcedVersion ?? undefined, maxBytes, onTune: net.onTune });
    plan.kernelRows = table;
    const kernelShapes = shapes.map((_, i) => sites[2 * i].shape);
    const winoLimit = winogradScratchLimit(ctx, maxBytes);
    const chosen = shapes.map((_, i) => ({ forward: table[2 * i].version, backward: table[2 * i + 1].version }));
    let scratchV = 0;
    let scratchM = 0;
    for (let i = 0; i <= deepest; i++) {
      for (const dir of ['forward', 'backward'] as const) {
        if (!isWinograd(chosen[i][dir])) continue;
        const f = winogradScratchFloats(kernelShapes[i], dir, winoLimit, chosen[i][dir]);
        scratchV = Math.max(scratchV, f.v);
        scratchM = Math.max(scratchM, f.m);
      }
    }
    const wScratch = scratchV ? { v: createStorage(ctx, scratchV * 4, 'vgg19 winograd V'), m: createStorage(ctx, scratchM * 4, 'vgg19 winograd M') } : null;
    // a transform the model did not make at create (a tuned choice): made once now, kept
    const pending: Dispatch[] = [];
    for (let i = 0; i <= deepest; i++) {
      for (const dir of ['forward', 'backward'] as const) if (isWinograd(chosen[i][dir])) await layerWinogradKernel(ctx, weights[i], VGG19_LAYERS[i], dir, chosen[i][dir], pending);
    }
    if (pending.length) await runDispatches(ctx, pending, 'vgg19 winograd kernel transforms (tuned table)');
    const winograd = (i: number, dir: 'forward' | 'backward'): WinogradBuffers | undefined => {
      return isWinograd(chosen[i][dir]) && wScratch ? { u: weights[i].u.get(`${dir} ${winogradTile(chosen[i][dir])}`)!, ...wScratch } : undefined;
    };
    // Forward.
    for (let i = 0; i <= deepest; i++) {
      const l = layers[i];
      const b = { x: l.input, w: weights[i].w, bias: weights[i].bias, y: l.y, winograd: winograd(i, 'forward') };
      plan.forwardSteps.push(...(await convForwardBanded(ctx, chosen[i].forward, shapes[i], b, scratch)));
      if (l.pooled) plan.forwardSteps.push(...(await poolForwardBanded(ctx, pooling, { x: l.y, y: l.pooled }, scratch)));
    }
    // Backward: from the deepest layer down, ping-ponging between two pools of buffers.
    const poolBytes = Math.min(maxBytes, maxFloats * 4);
    const ping = [new BandPool(ctx, poolBytes, 'vgg19 grad ping'), new BandPool(ctx, poolBytes, 'vgg19 grad pong')];
    // the relu scratch of the layers whose backward runs unchunked (the chunked ones use the band scratch)
    const gFloats = Math.max(0, ...shapes.map((s, i) => (banded[i] ? 0 : s.H * s.W * s.Cout)));
    const g = gFloats ? createStorage(ctx, gFloats * 4, 'vgg19 masked grad') : null;
    const steps = plan.backwardSteps;
    let curPool = -1; // which ping-pong pool `cur` lives in (-1: a loss-gradient slot)
    /** A tensor of the given shape in the pool `cur` does not use. */
    const other = (H2: number, W2: number, C2: number): [Banded, number] => {
      const k = curPool === 0 ? 1 : 0;
      return [ping[k].view(H2, W2, C2), k];
    };
    /** Makes `dst` start as the loss gradient of `name` (slot copy or injector), if it has one; returns accumulate. */
    const inject = async (name: string, dst: Banded): Promise<boolean> => {
      const src = plan.grads.get(name);
      const injector = injectors.get(name);
      if (src) steps.push(...copyRows(src, 0, dst, 0, src.H));
      else {
        const s = injector ? await injector(plan.byName.get(name)!.y, dst) : [];
        if (!s.length) return false; // no loss gradient at this layer
        steps.push(...s);
      }
      return true;
    };
    // dL/dy of the layer being processed: the deepest layer's slot, or its injector's output
    let cur: Banded;
    const deepestLayer = layers[deepest];
    if (plan.grads.has(deepestLayer.name)) cur = plan.grads.get(deepestLayer.name)!;
    else {
      [cur, curPool] = other(deepestLayer.H, deepestLayer.W, deepestLayer.cout);
      // no loss gradient at all at the deepest layer: the backward starts from zero
      if (!(await inject(deepestLayer.name, cur))) for (const b of cur.bands) steps.push({ kind: 'clear', buf: b.buf });
    }
    for (let i = deepest; i >= 0; i--) {
      const l = layers[i];
      const s = shapes[i];
      const prev = i > 0 ? layers[i - 1] : null;
      const v = chosen[i].backward;
      const wt = usesFlippedKernel(v) ? layerWt(ctx, weights[i], VGG19_LAYERS[i]) : undefined;
      const b = { dy: cur, y: l.y, w: weights[i].w, wt, g: banded[i] ? null : g, winograd: winograd(i, 'backward') };
      if (!prev) {
        steps.push(...(await convBackwardBanded(ctx, v, s, { ...b, dx: plan.inputGradBands }, false, scratch)));
        break;
      }
      if (prev.pooled) {
        // conv backward -> gradient of the pooled map (dst), then pool backward -> gradient of prev.y
        const [dst, k] = other(prev.pooled.H, prev.pooled.W, prev.cout);
        steps.push(...(await convBackwardBanded(ctx, v, s, { ...b, dx: dst }, false, scratch)));
        curPool = k;
        const [dst2, k2] = other(prev.H, prev.W, prev.cout); // may be the buffers `cur` was in: consumed
        const acc = await inject(prev.name, dst2);
        steps.push(...(await poolBackwardBanded(ctx, pooling, { dy: dst, x: prev.y, dx: dst2 }, acc, scratch)));
        cur = dst2;
        curPool = k2;
      } else {
        const [dst, k] = other(prev.H, prev.W, prev.cout);
        const acc = await inject(prev.name, dst);
        steps.push(...(await convBackwardBanded(ctx, v, s, { ...b, dx: dst }, acc, scratch)));
        cur = dst;
        curPool = k;
      }
    }
    return plan;
  }

  /** The input image's buffer when it is one band (else see inputBands / writeInput). */
  get input(): GPUBuffer {
    return single(this.inputBands, 'the input image');
  }

  /** The input gradient's buffer when it is one band (else see inputGradBands). */
  get inputGrad(): GPUBuffer {
    return single(this.inputGradBands, 'the input gradient');
  }

  /** Writes an [H, W, 3] image (caffe BGR) into the input, band by band (queued). */
  writeInput(pixels: Float32Array<ArrayBuffer>): void {
    if (pixels.length !== this.H * this.W * 3) throw new Error(`writeInput: expected ${this.H}x${this.W}x3 floats, got ${pixels.length}`);
    const row = this.W * 3;
    for (const b of this.inputBands.bands) this.net.ctx.device.queue.writeBuffer(b.buf, 0, pixels, b.r0 * row, (b.r1 - b.r0) * row);
  }

  /** The post-ReLU output of a planned layer, [h, w, c] f32, when it is one buffer (else see activationBands). */
  activation(name: string): GPUBuffer {
    return single(this.layer(name).y, `${name}'s output`);
  }

  /** The post-ReLU output of a planned layer as row bands. */
  activationBands(name: string): Banded {
    return this.layer(name).y;
  }

  /** [h, w, c] of a planned layer's output. */
  shape(name: string): [number, number, number] {
    const l = this.layer(name);
    return [l.H, l.W, l.cout];
  }

  /** The buffer into which the caller writes dL/d(activation of `name`) before backward() (unbanded layers). */
  gradientAt(name: string): GPUBuffer {
    return single(this.gradientBands(name), `${name}'s loss gradient`);
  }

  /** The row bands into which the caller writes dL/d(activation of `name`) before backward(). */
  gradientBands(name: string): Banded {
    const g = this.grads.get(name);
    if (!g) {
      const why = this.layerNames.includes(name) ? 'its gradient comes from an injector (PlanOptions.injectors)' : `it was not requested (requested: ${this.layerNames.join(', ')})`;
      throw new Error(`layer ${name} has no loss-gradient slot in this plan: ${why}`);
    }
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
