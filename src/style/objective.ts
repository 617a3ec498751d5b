// The style-transfer objective on the GPU: loss and gradient w.r.t. the image, with one small
// read-back per evaluation (the loss terms), never the image.
//
//   x [H, W, 3] (caffe BGR) --VGG19 forward--> F_l at the content and style layers
//   content: coef * sum (F_c - P)^2                (P: content image's features, computed once)
//   style:   sum_l factor_l * sum (G_l - A_l)^2     (G_l = F_l^T F_l; A_l: style image's, once)
//   tv:      w * sum ((x[i,j]-x[i+1,j])^2 + (x[i,j]-x[i,j+1])^2)^1.25
//   gradient: loss gradients injected at the layers -> VGG19 backward -> + TV gradient.
//
// Several styles (blend weights b_s >= 0, normalised to sum 1), style scale and masks:
//   style:   sum_l factor_l * sum_s b_s * sum (G_l^(s) - A_l^(s))^2
// i.e. the BLEND OF EACH STYLE'S LOSS (the general form: a masked style needs its own masked Gram
// G^(s) = Gram(m_s ⊙ F), see masks.ts). The unmasked styles share one Gram G, and for them the
// blend is computed as the distance to the blended target Abar = sum b_s A_s / B (B = sum b_s):
//   sum_s b_s ||G - A_s||^2 = B ||G - Abar||^2 + (sum_s b_s ||A_s||^2 - B ||Abar||^2)
// The gradient is the same; the bracket is a constant, computed once in Float64 from the targets
// (read back at creation) and added to the reported loss on the CPU, so the reported loss is
// always the blend of losses; with one unmasked style it is exactly 0 and the plain path runs
// unchanged (one Gram, one style_loss, one Gram backward per layer). This saves a Gram and a
// Gram backward per extra unmasked style. Each masked style with mask area a_l at layer l adds
// b_s * factor_l / a_l^2 * sum (Gram(m ⊙ F) - a_l A_l^(s))^2 (maskedStyleScale), its gradient
// going back through mask_apply; an unmasked style never runs the mask kernel.
// A style whose mask is empty at a layer (area 0) drops out of that layer, and the blend weights of
// the styles left there are renormalised to sum 1 (so an all-black mask equals leaving that style
// out); a style of blend weight 0 is left out entirely (its targets are not even computed).
// Style scale: a style image may have its own size (StyleInput rows x cols); its targets come from
// a plan of that size (made and freed at creation), and each Gram (a sum over the h_s*w_s
// positions) is multiplied by (h*w)/(h_s*w_s), the working size's positions at that layer, so that
// the target compares per-position means (as jcjohnson's neural-style, whose Gram is divided by
// the element count) and the normalisation factor_l stays that of the working size.
// All of one evaluation is encoded into a single command buffer. Feature maps stored in row bands
// (a plan with a buffer limit, bands.ts) are handled band by band: the Gram matrix and the loss
// sums accumulate over the bands, the gradients are written per band.

import type { GpuContext } from '../gpu/device.ts';
import { createStorage, type Dispatch, GPU_WAIT_MS, readFloats, submitChecked, uploadStorage, waitIdle } from '../gpu/runtime.ts';
import { gpuMemory } from '../gpu/memory.ts';
import { maskApply } from '../kernels/mask.ts';
import { layerMasks, type LayerMask, type Mask, maskedStyleScale } from './masks.ts';
import { withTimeout } from '../gpu/device.ts';
import { gramBackward, gramForward, gramSplits } from '../kernels/gram.ts';
import { contentLoss, styleLoss } from '../kernels/losses.ts';
import { tvLossBanded } from '../model/banded_ops.ts';
import { asVector, type GpuVec, readVector } from '../optim/vecops.ts';
import { type Banded, bandRanges, copyRows, createBanded } from '../model/bands.ts';
import { deviceBufferLimit, encodeSteps, type Injector, type PlanOptions, type Step, type Vgg19, type Vgg19Plan } from '../model/vgg19.ts';
import { layerIndex, layerSize, VGG19_LAYERS } from '../model/vgg19_layers.ts';
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
    for (const d of await gramBackward(ctx, (b.r1 - b.r0) * F.W, F.C, { f: b.buf, m: M, df: dF.bands[k].buf }, accumulate)) steps.push({ kind: 'dispatch', d });
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

/** StyleObjective.create's options: the plan's, and when the content target is computed. */
export interface ObjectiveOptions extends PlanOptions {
  /**
   * Defer the content target P to the first evaluation: when that evaluation is at x = the
   * content image (the default start of a transfer, and `eval`), P is copied out of its forward
   * instead of being computed by a forward of its own, which saves one forward pass (about half
   * an evaluation) of set-up. Any other first x is detected (x is read back and compared) and P
   * is then computed first, as without this option. Default false.
   */
  contentTargetAtFirstEvaluation?: boolean;
}

/** One style image of the objective: caffe BGR [rows, cols, 3] (its own size: --style-scale). */
export interface StyleInput {
  pixels: Float32Array<ArrayBuffer>;
  rows: number;
  cols: number;
  /** blend weight (>= 0; the weights are normalised to sum 1); default 1 */
  weight?: number;
  /** region mask at the working size (white = 1: this style applies); absent/null: everywhere */
  mask?: Mask | null;
}

/** Blend weights normalised to sum 1; negative, non-finite or all-zero weights are an error. */
export function normaliseBlend(weights: readonly number[]): number[] {
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) throw new Error(`style blend weights must be finite numbers >= 0, got ${weights.join(',')}`);
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new Error(`style blend weights must not all be zero, got ${weights.join(',')}`);
  return weights.map((w) => w / sum);
}

/** The numbers of one loss group at one layer: weight * factor * sum (G - target)^2 (+ constant * factor). */
interface GroupTerms {
  weight: number;
  target: Float64Array;
  constant: number;
}

/** The (unmasked) Gram matrix of each of `layers` for one image through `plan`, read back. */
async function styleGrams(ctx: GpuContext, plan: Vgg19Plan, layers: readonly string[], pixels: Float32Array<ArrayBuffer>): Promise<Float64Array[]> {
  const maxBytes = plan.maxBufferBytes;
  plan.writeInput(pixels);
  const steps: Step[] = [];
  const G: GPUBuffer[] = [];
  const scratch: GPUBuffer[] = [];
  for (const name of layers) {
    const F = plan.activationBands(name);
    const c = F.C;
    G.push(createStorage(ctx, c * c * 4, `${name} style Gram`));
    const maxN = Math.max(...F.bands.map((b) => (b.r1 - b.r0) * F.W));
    const partials = createStorage(ctx, gramSplits(maxN, c, maxBytes) * c * c * 4, `${name} gram partials`);
    scratch.push(partials);
    for (const [k, b] of F.bands.entries()) {
      for (const d of (await gramForward(ctx, (b.r1 - b.r0) * F.W, c, { f: b.buf, g: G[G.length - 1], partials }, k > 0, maxBytes)).dispatches) steps.push({ kind: 'dispatch', d });
    }
  }
  const enc = ctx.device.createCommandEncoder({ label: 'style targets' });
  plan.encodeForward(enc);
  encodeSteps(enc, steps);
  await submitChecked(ctx, [enc.finish()], 'style targets');
  const out: Float64Array[] = [];
  for (const [i, name] of layers.entries()) {
    const c = plan.shape(name)[2];
    out.push(Float64Array.from(await readFloats(ctx, G[i], c * c)));
    G[i].destroy();
  }
  scratch.forEach((b) => b.destroy());
  return out;
}

export class StyleObjective {
  /** number of variables: H * W * 3 */
  readonly n: number;
  /** how x and the gradient are stored: the image's row bands in the plan (one segment when it fits one buffer) */
  readonly segments: readonly number[];
  /** the loss terms of the last evaluation */
  last: LossBreakdown | null = null;
  evaluations = 0;
  private readonly lossSteps: Step[] = [];
  private tvSteps: Step[] = [];
  private readonly scalars: GPUBuffer;
  private readonly readback: GPUBuffer;
  private readonly gradOut: Banded;
  private readonly slots: number;
  /** the scalar slots of each style layer's loss groups */
  private styleSlots: number[][] = [];
  /** per style layer: factor * sum_s b_s (||A_s||^2) - B ||Abar||^2, the blend-of-losses constant */
  private styleConstants: number[] = [];

  private constructor(
    readonly ctx: GpuContext,
    readonly plan: Vgg19Plan,
    readonly cfg: StyleConfig,
    readonly H: number,
    readonly W: number,
    slots: number,
  ) {
    this.n = H * W * 3;
    this.segments = plan.inputBands.bands.map((b) => (b.r1 - b.r0) * W * 3);
    this.slots = slots;
    this.scalars = createStorage(ctx, this.slots * 4, 'loss scalars');
    this.readback = ctx.device.createBuffer({ label: 'loss scalars read', size: Math.ceil((this.slots * 4) / 16) * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.gradOut = createBanded(ctx, H, W, 3, plan.maxBufferBytes, 'objective gradient');
  }

  /**
   * Builds the objective for an H x W working size: computes the content features P of
   * `content` ([H, W, 3] caffe BGR) and the style Gram targets once, and records one evaluation.
   * `style` is one style image at the working size (the plain case) or several StyleInputs, each
   * at its own size (--style-scale), with a blend weight and an optional mask (see the header).
   */
  static async create(
    ctx: GpuContext,
    net: Vgg19,
    cfg: StyleConfig,
    H: number,
    W: number,
    content: Float32Array<ArrayBuffer>,
    style: Float32Array<ArrayBuffer> | readonly StyleInput[],
    objOpts: ObjectiveOptions = {},
  ): Promise<StyleObjective> {
    const { contentTargetAtFirstEvaluation = false, ...planOpts } = objOpts;
    const inputs: readonly StyleInput[] = style instanceof Float32Array ? [{ pixels: style, rows: H, cols: W }] : style;
    if (content.length !== H * W * 3) throw new Error(`StyleObjective: content must be ${H}x${W}x3 (got ${content.length} values)`);
    if (!inputs.length) throw new Error('StyleObjective: no style image');
    for (const [s, st] of inputs.entries()) {
      if (st.pixels.length !== st.rows * st.cols * 3) {
        throw new Error(`StyleObjective: style ${s + 1} must be ${st.rows}x${st.cols}x3 (got ${st.pixels.length} values)`);
      }
      if (st.mask && (st.mask.h !== H || st.mask.w !== W)) throw new Error(`StyleObjective: the mask of style ${s + 1} is ${st.mask.h}x${st.mask.w}, not the working size ${H}x${W}`);
    }
    const blend = normaliseBlend(inputs.map((s) => s.weight ?? 1));
    if (net.pooling !== cfg.pooling) throw new Error(`StyleObjective: the network pools with ${net.pooling} but the config asks for ${cfg.pooling}`);
    const layers = [...new Set([cfg.contentLayer, ...cfg.styleLayers])];
    const maxBytes = planOpts.maxBufferBytes ?? deviceBufferLimit(ctx);

    // Per layer, the loss groups: one for the unmasked styles (blended), one per masked style.
    // Which styles take part (blend > 0, mask not empty there) is known from the inputs alone;
    // the targets come after the plan.
    const masks = inputs.map((st) => (st.mask ? layerMasks(st.mask, cfg.styleLayers) : null));
    const layout = cfg.styleLayers.map((name, i) => {
      const c = VGG19_LAYERS[layerIndex(name)].cout;
      const [h, w] = layerSize(name, H, W);
      const ranges = bandRanges(h, w, c, maxBytes, `${name} output`);
      const active = inputs.map((_s, s) => blend[s] > 0 && (!masks[s] || maskedStyleScale(masks[s]![i].area) !== null));
      const total = blend.reduce((acc, b, s) => acc + (active[s] ? b : 0), 0);
      const unmasked = inputs.map((_s, s) => s).filter((s) => active[s] && !masks[s]);
      const masked = inputs.map((_s, s) => s).filter((s) => active[s] && masks[s]);
      const groups: Array<{ styles: number[]; mask: LayerMask | null; M: GPUBuffer; bandMasks: GPUBuffer[] | null }> = [];
      const newGroup = (styles: number[], mask: LayerMask | null) =>
        groups.push({
          styles,
          mask,
          M: createStorage(ctx, c * c * 4, `${name} dL/dG sym`),
          bandMasks: mask ? ranges.map(([r0, r1]) => uploadStorage(ctx, mask.data.slice(r0 * w, r1 * w), `${name} mask rows ${r0}..${r1}`)) : null,
        });
      if (unmasked.length) newGroup(unmasked, null);
      for (const s of masked) newGroup([s], masks[s]![i]);
      return { name, c, h, w, ranges, total, groups };
    });
    // m ⊙ F and d(m ⊙ F) of one band at a time, shared by every layer
    let scratch: { fm: GPUBuffer; dfm: GPUBuffer } | null = null;
    if (layout.some((l) => l.groups.some((g) => g.mask))) {
      const floats = Math.max(...layout.map((l) => Math.max(...l.ranges.map(([r0, r1]) => (r1 - r0) * l.w)) * l.c));
      scratch = { fm: createStorage(ctx, floats * 4, 'masked features'), dfm: createStorage(ctx, floats * 4, 'masked features gradient') };
    }
    /** dF (+)= the gradient of every group of layer i (written by the first unless `accumulate`). */
    const gradientSteps = async (i: number, F: Banded, dF: Banded, accumulate: boolean): Promise<Step[]> => {
      const l = layout[i];
      const steps: Step[] = [];
      let written = accumulate;
      for (const g of l.groups) {
        if (!g.mask) steps.push(...(await gramGradientSteps(ctx, F, g.M, dF, written)));
        else {
          for (const [k, b] of F.bands.entries()) {
            if (b.r0 !== l.ranges[k][0] || b.r1 !== l.ranges[k][1]) throw new Error(`${l.name}: the mask bands differ from the plan's`);
            const n = (b.r1 - b.r0) * l.w;
            const d = (x: Promise<Dispatch>) => x.then((dd) => steps.push({ kind: 'dispatch', d: dd }));
            await d(maskApply(ctx, n, l.c, { x: b.buf, m: g.bandMasks![k], y: scratch!.fm }));
            for (const dd of await gramBackward(ctx, n, l.c, { f: scratch!.fm, m: g.M, df: scratch!.dfm }, false)) steps.push({ kind: 'dispatch', d: dd });
            await d(maskApply(ctx, n, l.c, { x: scratch!.dfm, m: g.bandMasks![k], y: dF.bands[k].buf }, written));
          }
        }
        written = true;
      }
      return steps;
    };
    // dL/dG of each group (M) is computed in the loss steps; the gradient it gives (F·M, or through
    // the mask) is written during the backward straight into the gradient being propagated (an
    // injector), so no slot as large as the layer's output is needed. The content layer keeps its
    // slot: the content loss writes it, and its Gram gradients (if it is a style layer too) add
    // to it in the loss steps. A layer where every style is masked out has no gradient (the
    // injector gives no steps).
    const injectors = new Map<string, Injector>();
    cfg.styleLayers.forEach((name, i) => {
      if (name !== cfg.contentLayer) injectors.set(name, (y, dst) => gradientSteps(i, y, dst, false));
    });
    const plan = await net.plan(H, W, layers, { ...planOpts, injectors });
    const dev = ctx.device;

    // Targets: content features P, computed once: now, or (contentTargetAtFirstEvaluation) copied
    // out of the first evaluation's forward when that evaluation is at x = content.
    const contentF = plan.activationBands(cfg.contentLayer);
    const P = createBanded(ctx, contentF.H, contentF.W, contentF.C, maxBytes, 'content target P');
    const copyP = copyRows(contentF, 0, P, 0, contentF.H);
    const contentForward = async () => {
      plan.writeInput(content);
      const enc = dev.createCommandEncoder({ label: 'content target' });
      plan.encodeForward(enc);
      encodeSteps(enc, copyP);
      await submitChecked(ctx, [enc.finish()], 'content target');
    };
    if (!contentTargetAtFirstEvaluation) await contentForward();

    // Style Gram targets A_s per layer (Float64 on the CPU), each style through a plan of its own
    // size when it differs from the working size (freed at once), scaled to the working size.
    const targets: Float64Array[][] = [];
    for (const [s, st] of inputs.entries()) {
      if (blend[s] === 0) {
        targets.push([]);
        continue;
      }
      const same = st.rows === H && st.cols === W;
      const scope = same ? null : gpuMemory(ctx).beginScope();
      try {
        const p = same ? plan : await net.plan(st.rows, st.cols, [...cfg.styleLayers], { ...planOpts, kernels: 'default' }); // forward once: not worth tuning
        const grams = await styleGrams(ctx, p, cfg.styleLayers, st.pixels);
        targets.push(
          grams.map((g, i) => {
            const [h, w] = plan.shape(cfg.styleLayers[i]);
            const [hs, ws] = p.shape(cfg.styleLayers[i]);
            const k = (h * w) / (hs * ws); // a Gram sums over positions: compare per-position means
            return k === 1 ? g : g.map((v) => v * k);
          }),
        );
      } finally {
        scope?.destroyAll();
      }
    }

    // Each group's weight, target and constant (see the header).
    const groups: GroupTerms[][] = layout.map((l, i) =>
      l.groups.map((g) => {
        if (g.mask) {
          const s = g.styles[0];
          const sc = maskedStyleScale(g.mask.area)!;
          return { weight: (blend[s] / l.total) * sc.factor, target: targets[s][i].map((v) => v * sc.target), constant: 0 };
        }
        const B = g.styles.reduce((acc, s) => acc + blend[s], 0) / l.total;
        const n = targets[g.styles[0]][i].length;
        const mean = new Float64Array(n);
        let sumSq = 0; // sum_s b_s ||A_s||^2 (b_s renormalised over the active styles)
        for (const s of g.styles) {
          const b = blend[s] / l.total;
          const a = targets[s][i];
          for (let j = 0; j < n; j++) {
            mean[j] += (b / B) * a[j];
            sumSq += b * a[j] * a[j];
          }
        }
        let meanSq = 0;
        for (let j = 0; j < n; j++) meanSq += mean[j] * mean[j];
        // sum_s b_s ||G - A_s||^2 = B ||G - Abar||^2 + (sum_s b_s ||A_s||^2 - B ||Abar||^2)
        const one = g.styles.length === 1;
        return { weight: B, target: one ? targets[g.styles[0]][i] : mean, constant: one ? 0 : sumSq - B * meanSq };
      }),
    );
    const slotOf: number[][] = [];
    let slots = SLOT_STYLE0;
    for (const g of groups) slotOf.push(g.map(() => slots++));
    const obj = new StyleObjective(ctx, plan, cfg, H, W, slots);
    if (contentTargetAtFirstEvaluation) obj.pendingContent = { pixels: content, copy: copyP, forward: contentForward };
    obj.styleSlots = slotOf;
    obj.styleConstants = groups.map((g, i) => g.reduce((acc, x) => acc + x.constant, 0) * styleFactor(cfg, i, H, W, layout[i].c, layout[i].h * layout[i].w));

    // One evaluation = forward, lossSteps (losses, dL/dG, the content layer's gradient), backward
    // (with the style layers' gradients injected), tvSteps.
    const add = (ds: Dispatch[]) => ds.forEach((d) => obj.lossSteps.push({ kind: 'dispatch', d }));
    const contentDf = plan.gradientBands(cfg.contentLayer);
    for (const [k, b] of contentF.bands.entries()) {
      const n = (b.r1 - b.r0) * contentF.W * contentF.C;
      const bufs = { f: b.buf, target: P.bands[k].buf, df: contentDf.bands[k].buf, scalars: obj.scalars };
      add((await contentLoss(ctx, n, contentCoef(cfg), SLOT_CONTENT, bufs, false, k > 0)).dispatches);
    }
    for (const [i, name] of cfg.styleLayers.entries()) {
      const { c, h, w } = layout[i];
      const factor = styleFactor(cfg, i, H, W, c, h * w);
      const F = plan.activationBands(name);
      const maxN = Math.max(...F.bands.map((b) => (b.r1 - b.r0) * F.W));
      const partials = createStorage(ctx, gramSplits(maxN, c, maxBytes) * c * c * 4, `${name} gram partials`);
      for (const [gi, grp] of groups[i].entries()) {
        const g = layout[i].groups[gi];
        const G = createStorage(ctx, c * c * 4, `${name} Gram G`);
        const A = uploadStorage(ctx, Float32Array.from(grp.target), `${name} style target A`);
        for (const [k, b] of F.bands.entries()) {
          const n = (b.r1 - b.r0) * w;
          if (g.bandMasks) {
            add([await maskApply(ctx, n, c, { x: b.buf, m: g.bandMasks[k], y: scratch!.fm })]);
            add((await gramForward(ctx, n, c, { f: scratch!.fm, g: G, partials }, k > 0, maxBytes)).dispatches);
          } else {
            add((await gramForward(ctx, n, c, { f: b.buf, g: G, partials }, k > 0, maxBytes)).dispatches);
          }
        }
        add((await styleLoss(ctx, c, factor * grp.weight, slotOf[i][gi], { g: G, a: A, m: g.M, scalars: obj.scalars })).dispatches);
      }
      // the content layer's slot already holds the content gradient: its Gram gradients add to it
      if (name === cfg.contentLayer) obj.lossSteps.push(...(await gradientSteps(i, F, plan.gradientBands(name), true)));
    }
    obj.tvSteps = await tvLossBanded(ctx, cfg.tvWeight, SLOT_TV, { x: plan.inputBands, vggGrad: plan.inputGradBands, grad: obj.gradOut, scalars: obj.scalars }, plan.scratch);
    return obj;
  }

  /**
   * Submissions per evaluation: 0 (default) encodes the whole evaluation into one command
   * buffer; N > 0 splits it into submissions of at most N dispatches and waits for the queue
   * between them. A page sets this so that the browser can render frames while a long
   * evaluation runs (one command buffer of seconds of GPU work would stall the compositor).
   */
  maxDispatchesPerSubmit = 0;

  /** x or the gradient as one buffer per segment (a plain buffer: the one segment of an unbanded image). */
  private vec(v: GPUBuffer | GpuVec, what: string): GpuVec {
    return asVector(v, this.segments.length, (n) => `StyleObjective: ${what} has ${n} buffer(s), the image is stored in ${this.segments.length} row band(s)`);
  }

  /**
   * Set while the content target P waits for the first evaluation (contentTargetAtFirstEvaluation):
   * the content pixels, the copy of the content layer's features into P, and the separate
   * forward that computes P when the first evaluation is not at x = content.
   */
  private pendingContent: { pixels: Float32Array; copy: Step[]; forward: () => Promise<void> } | null = null;

  /** True while the content target is still to be computed (see ObjectiveOptions.contentTargetAtFirstEvaluation). */
  get contentTargetPending(): boolean {
    return this.pendingContent !== null;
  }

  /**
   * Resolves a pending content target before an evaluation at x: when x holds exactly the
   * content pixels (read back and compared: n floats, milliseconds next to an evaluation), the
   * evaluation's own forward gives P (returns the copy steps to put after the forward);
   * otherwise P is computed now by a forward of its own.
   */
  private async takePendingContent(x: GPUBuffer | GpuVec): Promise<Step[]> {
    const pending = this.pendingContent;
    if (!pending) return [];
    this.pendingContent = null;
    const xs = await readVector(this.ctx, this.vec(x, 'x'), this.segments);
    const same = xs.length === pending.pixels.length && xs.every((v, i) => Object.is(v, pending.pixels[i]));
    if (same) return pending.copy;
    await pending.forward();
    return [];
  }

  /** Every step of one evaluation at x (copied into the network's input); the gradient goes to grad. */
  private evaluationSteps(x: GPUBuffer | GpuVec, grad: GPUBuffer | GpuVec, afterForward: Step[] = []): Step[] {
    const [xs, gs] = [this.vec(x, 'x'), this.vec(grad, 'the gradient')];
    return [
      ...this.plan.inputBands.bands.map((b, k): Step => ({ kind: 'copy', src: xs[k], dst: b.buf, bytes: this.segments[k] * 4 })),
      ...this.plan.steps('forward'),
      ...afterForward,
      ...this.lossSteps,
      ...this.plan.steps('backward'),
      ...this.tvSteps,
      ...this.gradOut.bands.map((b, k): Step => ({ kind: 'copy', src: b.buf, dst: gs[k], bytes: this.segments[k] * 4 })),
      { kind: 'copy', src: this.scalars, dst: this.readback, bytes: this.slots * 4 },
    ];
  }

  /** Encodes one evaluation into `enc` (one command buffer). */
  encode(enc: GPUCommandEncoder, x: GPUBuffer | GpuVec, grad: GPUBuffer | GpuVec): void {
    if (this.pendingContent) throw new Error('StyleObjective.encode: the content target is still pending; evaluate() once first');
    encodeSteps(enc, this.evaluationSteps(x, grad));
  }

  /**
   * f(x) (returned) and its gradient (written into grad): n floats each, one buffer per segment
   * (a plain buffer when the image is one band).
   */
  async evaluate(x: GPUBuffer | GpuVec, grad: GPUBuffer | GpuVec): Promise<number> {
    const steps = this.evaluationSteps(x, grad, await this.takePendingContent(x));
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
      const l = this.styleSlots[i].reduce((a, slot) => a + v[slot], this.styleConstants[i]);
      styleLayers[name] = l;
      style += l;
    });
    const content = v[SLOT_CONTENT];
    const tv = v[SLOT_TV];
    this.last = { total: content + style + tv, content, style, tv, styleLayers };
    this.evaluations++;
    return this.last.total;
  }
}
