// The style-transfer objective on the GPU: loss and gradient w.r.t. the image, with one small
// read-back per evaluation (the loss terms), never the image.
//
//   x [H, W, 3] (caffe BGR) --VGG19 forward--> F_l at the content and style layers
//   content: coef * sum (F_c - P)^2                (P: content image's features, computed once)
//   style:   sum_l factor_l * sum (G_l - A_l)^2     (G_l = F_l^T F_l; A_l: style image's, once)
//   tv:      w * sum ((x[i,j]-x[i+1,j])^2 + (x[i,j]-x[i,j+1])^2)^1.25
//   gradient: loss gradients injected at the layers -> VGG19 backward -> + TV gradient.
// All of one evaluation is encoded into a single command buffer. Feature maps stored in row bands
// (a plan with a buffer limit, bands.ts) are handled band by band: the Gram matrix and the loss
// sums accumulate over the bands, the gradients are written per band.

import type { GpuContext } from '../gpu/device.ts';
import { createStorage, type Dispatch, GPU_WAIT_MS, submitChecked, waitIdle } from '../gpu/runtime.ts';
import { withTimeout } from '../gpu/device.ts';
import { gramBackward, gramForward, gramSplits } from '../kernels/gram.ts';
import { contentLoss, styleLoss, tvLoss } from '../kernels/losses.ts';
import { type Banded, copyRows, createBanded } from '../model/bands.ts';
import { encodeSteps, type Injector, type PlanOptions, type Step, type Vgg19, type Vgg19Plan } from '../model/vgg19.ts';
import { layerIndex, VGG19_LAYERS } from '../model/vgg19_layers.ts';
import type { StyleConfig } from './config.ts';
import type { LossBreakdown } from './types.ts';

const SLOT_CONTENT = 0;
const SLOT_TV = 1;
const SLOT_STYLE0 = 2;

/** dF (+)= F M band by band, F and dF [h, w, c] with the same bands, M [c, c] (the Gram's gradient). */
async function gramGradientSteps(ctx: GpuContext, F: Banded, M: GPUBuffer, dF: Banded, accumulate: boolean): Promise<Step[]> {
  if (F.bands.length !== dF.bands.length || F.bands.some((b, k) => b.r0 !== dF.bands[k].r0 || b.r1 !== dF.bands[k].r1)) {
    throw new Error('gram gradient: the feature map and its gradient are banded differently');
  }
  const steps: Step[] = [];
  for (const [k, b] of F.bands.entries()) {
    steps.push({ kind: 'dispatch', d: await gramBackward(ctx, (b.r1 - b.r0) * F.W, F.C, { f: b.buf, m: M, df: dF.bands[k].buf }, accumulate) });
  }
  return steps;
}

/** Normalisation of one style layer's sum (G - A)^2, times its weights. */
export function styleFactor(cfg: StyleConfig, layerIdx: number, H: number, W: number, C: number, M: number): number {
  const w = cfg.styleWeight * cfg.styleLayerWeights[layerIdx];
  // notebook: 4 * channels^2 * size^2 with channels = 3 and size = the input image's H*W
  if (cfg.styleNorm === 'notebook') return w / (4 * 9 * (H * W) ** 2);
  return w / (4 * C * C * M * M);
}

export function contentCoef(cfg: StyleConfig): number {
  return cfg.contentLoss === 'sum' ? cfg.contentWeight : cfg.contentWeight / 2;
}

export class StyleObjective {
  /** number of variables: H * W * 3 */
  readonly n: number;
  /** the loss terms of the last evaluation */
  last: LossBreakdown | null = null;
  evaluations = 0;
  private readonly lossSteps: Step[] = [];
  private tvSteps: Step[] = [];
  private readonly scalars: GPUBuffer;
  private readonly readback: GPUBuffer;
  private readonly gradOut: GPUBuffer;
  private readonly slots: number;

  private constructor(
    readonly ctx: GpuContext,
    readonly plan: Vgg19Plan,
    readonly cfg: StyleConfig,
    readonly H: number,
    readonly W: number,
  ) {
    this.n = H * W * 3;
    this.slots = SLOT_STYLE0 + cfg.styleLayers.length;
    this.scalars = createStorage(ctx, this.slots * 4, 'loss scalars');
    this.readback = ctx.device.createBuffer({ label: 'loss scalars read', size: Math.ceil((this.slots * 4) / 16) * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.gradOut = createStorage(ctx, this.n * 4, 'objective gradient');
  }

  /**
   * Builds the objective for an H x W working size: computes the content features P of
   * `content` and the style Gram matrices A of `style` (both [H, W, 3] caffe BGR, same size)
   * once, and records one evaluation.
   */
  static async create(
    ctx: GpuContext,
    net: Vgg19,
    cfg: StyleConfig,
    H: number,
    W: number,
    content: Float32Array<ArrayBuffer>,
    style: Float32Array<ArrayBuffer>,
    planOpts: PlanOptions = {},
  ): Promise<StyleObjective> {
    if (content.length !== H * W * 3 || style.length !== H * W * 3) {
      throw new Error(`StyleObjective: content and style must both be ${H}x${W}x3 (got ${content.length} and ${style.length} values)`);
    }
    if (net.pooling !== cfg.pooling) throw new Error(`StyleObjective: the network pools with ${net.pooling} but the config asks for ${cfg.pooling}`);
    const layers = [...new Set([cfg.contentLayer, ...cfg.styleLayers])];
    // dL/dG of each style layer (M) is computed in the loss steps; the gradient F·M it gives is
    // written during the backward straight into the gradient being propagated (an injector), so
    // no slot as large as the layer's output is needed. The content layer keeps its slot: the
    // content loss writes it, and its Gram gradient (if it is a style layer too) adds to it.
    const styleM = new Map<string, GPUBuffer>();
    const injectors = new Map<string, Injector>();
    for (const name of cfg.styleLayers) {
      const c = VGG19_LAYERS[layerIndex(name)].cout;
      const M = createStorage(ctx, c * c * 4, `${name} dL/dG sym`);
      styleM.set(name, M);
      if (name !== cfg.contentLayer) injectors.set(name, (y, dst) => gramGradientSteps(ctx, y, M, dst, false));
    }
    const plan = await net.plan(H, W, layers, { ...planOpts, injectors });
    const maxBytes = plan.maxBufferBytes;
    const obj = new StyleObjective(ctx, plan, cfg, H, W);
    const dev = ctx.device;

    // Targets: content features P and style Grams A, computed once.
    const contentF = plan.activationBands(cfg.contentLayer);
    const P = createBanded(ctx, contentF.H, contentF.W, contentF.C, maxBytes, 'content target P');
    dev.queue.writeBuffer(plan.input, 0, content);
    {
      const enc = dev.createCommandEncoder({ label: 'content target' });
      plan.encodeForward(enc);
      encodeSteps(enc, copyRows(contentF, 0, P, 0, contentF.H));
      await submitChecked(ctx, [enc.finish()], 'content target');
    }
    dev.queue.writeBuffer(plan.input, 0, style);
    const A: GPUBuffer[] = [];
    const G: GPUBuffer[] = [];
    const grams: Dispatch[][] = [];
    for (const name of cfg.styleLayers) {
      const F = plan.activationBands(name);
      const c = F.C;
      A.push(createStorage(ctx, c * c * 4, `${name} style target A`));
      G.push(createStorage(ctx, c * c * 4, `${name} Gram G`));
      // G = sum over bands of F_b^T F_b, one partials scratch shared by the bands
      const maxN = Math.max(...F.bands.map((b) => (b.r1 - b.r0) * F.W));
      const partials = createStorage(ctx, gramSplits(maxN, c, maxBytes) * c * c * 4, `${name} gram partials`);
      const ds: Dispatch[] = [];
      for (const [k, b] of F.bands.entries()) {
        ds.push(...(await gramForward(ctx, (b.r1 - b.r0) * F.W, c, { f: b.buf, g: G[G.length - 1], partials }, k > 0, maxBytes)).dispatches);
      }
      grams.push(ds);
    }
    {
      const enc = dev.createCommandEncoder({ label: 'style targets' });
      plan.encodeForward(enc);
      const steps: Step[] = grams.flat().map((d) => ({ kind: 'dispatch', d }));
      cfg.styleLayers.forEach((name, i) => {
        const c = plan.shape(name)[2];
        steps.push({ kind: 'copy', src: G[i], dst: A[i], bytes: c * c * 4 });
      });
      encodeSteps(enc, steps);
      await submitChecked(ctx, [enc.finish()], 'style targets');
    }

    // One evaluation = forward, lossSteps (losses + gradients at the layers), backward, tvSteps.
    const add = (ds: Dispatch[]) => ds.forEach((d) => obj.lossSteps.push({ kind: 'dispatch', d }));
    const contentDf = plan.gradientBands(cfg.contentLayer);
    for (const [k, b] of contentF.bands.entries()) {
      const n = (b.r1 - b.r0) * contentF.W * contentF.C;
      const bufs = { f: b.buf, target: P.bands[k].buf, df: contentDf.bands[k].buf, scalars: obj.scalars };
      add((await contentLoss(ctx, n, contentCoef(cfg), SLOT_CONTENT, bufs, false, k > 0)).dispatches);
    }
    for (const [i, name] of cfg.styleLayers.entries()) {
      const [h, w, c] = plan.shape(name);
      const M = styleM.get(name)!;
      const factor = styleFactor(cfg, i, H, W, c, h * w);
      add(grams[i]);
      add((await styleLoss(ctx, c, factor, SLOT_STYLE0 + i, { g: G[i], a: A[i], m: M, scalars: obj.scalars })).dispatches);
      // the content layer's slot already holds the content gradient: add to it (the other
      // style layers' F·M is written by their injectors during the backward)
      if (name === cfg.contentLayer) obj.lossSteps.push(...(await gramGradientSteps(ctx, plan.activationBands(name), M, plan.gradientBands(name), true)));
    }
    const tv = await tvLoss(ctx, H, W, cfg.tvWeight, SLOT_TV, { x: plan.input, vggGrad: plan.inputGrad, grad: obj.gradOut, scalars: obj.scalars });
    obj.tvSteps = tv.dispatches.map((d) => ({ kind: 'dispatch', d }));
    return obj;
  }


  /**
   * Submissions per evaluation: 0 (default) encodes the whole evaluation into one command
   * buffer; N > 0 splits it into submissions of at most N dispatches and waits for the queue
   * between them. A page sets this so that the browser can render frames while a long
   * evaluation runs (one command buffer of seconds of GPU work would stall the compositor).
   */
  maxDispatchesPerSubmit = 0;

  /** Every step of one evaluation at x (copied into the network's input); the gradient goes to grad. */
  private evaluationSteps(x: GPUBuffer, grad: GPUBuffer): Step[] {
    const bytes = this.n * 4;
    return [
      { kind: 'copy', src: x, dst: this.plan.input, bytes },
      ...this.plan.steps('forward'),
      ...this.lossSteps,
      ...this.plan.steps('backward'),
      ...this.tvSteps,
      { kind: 'copy', src: this.gradOut, dst: grad, bytes },
      { kind: 'copy', src: this.scalars, dst: this.readback, bytes: this.slots * 4 },
    ];
  }

  /** Encodes one evaluation into `enc` (one command buffer). */
  encode(enc: GPUCommandEncoder, x: GPUBuffer, grad: GPUBuffer): void {
    encodeSteps(enc, this.evaluationSteps(x, grad));
  }

  /** f(x) (returned) and its gradient (written into grad): both GPU buffers of n floats. */
  async evaluate(x: GPUBuffer, grad: GPUBuffer): Promise<number> {
    const steps = this.evaluationSteps(x, grad);
    const chunk = this.maxDispatchesPerSubmit > 0 ? this.maxDispatchesPerSubmit : Infinity;
    let start = 0;
    while (start < steps.length) {
      let end = start;
      let dispatches = 0;
      while (end < steps.length && (steps[end].kind !== 'dispatch' || dispatches < chunk)) {
        if (steps[end].kind === 'dispatch') dispatches++;
        end++;
      }
      const enc = this.ctx.device.createCommandEncoder({ label: 'style objective' });
      encodeSteps(enc, steps.slice(start, end));
      await submitChecked(this.ctx, [enc.finish()], 'style objective evaluation');
      if (end < steps.length) await waitIdle(this.ctx, 'style objective chunk');
      start = end;
    }
    await withTimeout(this.readback.mapAsync(GPUMapMode.READ), GPU_WAIT_MS, 'style objective evaluation');
    const v = new Float32Array(this.readback.getMappedRange().slice(0, this.slots * 4));
    this.readback.unmap();
    const styleLayers: Record<string, number> = {};
    let style = 0;
    this.cfg.styleLayers.forEach((name, i) => {
      styleLayers[name] = v[SLOT_STYLE0 + i];
      style += v[SLOT_STYLE0 + i];
    });
    const content = v[SLOT_CONTENT];
    const tv = v[SLOT_TV];
    this.last = { total: content + style + tv, content, style, tv, styleLayers };
    this.evaluations++;
    return this.last.total;
  }
}
