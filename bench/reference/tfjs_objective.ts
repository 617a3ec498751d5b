// The style-transfer objective written with TensorFlow.js ops: the independent reference our
// GPU objective (src/style/objective.ts) is checked against (test/tfjs_objective.test.ts) and
// the competitor it is benchmarked against (bench/). Runs in Node and in the browser, on any
// tfjs backend (the caller picks it; this file only takes the `tf` namespace). Never imported
// from src/.
//
// Loss (the same formulas as src/style/config.ts, for both presets; x [1, H, W, 3] caffe BGR):
//   content = contentCoef * sum (F - P)^2                F: post-ReLU features at the content layer
//   style   = sum_l factor_l * sum (G_l - A_l)^2          G_l = F_l^T F_l (tf.matMul), F_l [h*w, C]
//   tv      = tvWeight * sum_{i<H-1, j<W-1} ((x[i,j]-x[i+1,j])^2 + (x[i,j]-x[i,j+1])^2)^1.25
// with contentCoef and factor_l from src/style/objective.ts (the notebook's and the paper's
// normalisations), P and A_l the content image's features and the style image's Grams, computed
// once by create().
//
// Two formulations of the gradient w.r.t. x:
//   'plain'  tf.valueAndGrad through the forward (tf.conv2d + add + relu, maxPool/avgPool,
//            matMul): what a TensorFlow.js user writes. tf.grad's input gradient of a conv is
//            tfjs's Conv2DBackpropInput kernel.
//   'tuned'  the backward written out by hand, the fastest formulation found per backend
//            (bench/README.md): fused conv2d+bias+relu forward keeping every activation; at the
//            loss layers dF = 2 coef (F - P) and dF = F (4 factor (G - A)) (one matMul instead of
//            tf.grad's two); through a ReLU g = dy * step(y); the input gradient of a conv either
//            as a FORWARD conv2d of g with the flipped, transposed kernel
//            Kt[ky,kx,co,ci] = K[2-ky, 2-kx, ci, co] ('flipT': 8-10x faster than
//            Conv2DBackpropInput on wasm) or with tfjs's Conv2DBackpropInput itself
//            (tf.conv2dTranspose, 'transpose': on tfjs-webgpu/lavapipe it measured as fast as or
//            faster than its forward conv, and on cpu flipT is slower); pooling gradients with
//            tfjs's MaxPoolGrad / AvgPoolGrad kernels (the ones tf.grad uses); TV by tf.grad (it
//            is tiny). Checked against 'plain' in test/tfjs_objective.test.ts, both variants.
//
// Loss terms come back in the order of our objective's scalar slots: [content, tv, style_0, ...].

import type * as TF from '@tensorflow/tfjs';
import { layerIndex, VGG19_LAYERS } from '../../src/model/vgg19_layers.ts';
import { deepestLayer, type StyleConfig } from '../../src/style/config.ts';
import { contentCoef, styleFactor } from '../../src/style/objective.ts';
import type { LossBreakdown } from '../../src/style/types.ts';
import { type Tf, type TfjsVgg19Weights, tfjsVgg19Forward } from './tfjs_vgg19_core.ts';

export type TfjsFormulation = 'plain' | 'tuned';
export const TFJS_FORMULATIONS: readonly TfjsFormulation[] = ['plain', 'tuned'];

/** How 'tuned' computes a conv's input gradient (see the header). */
export type InputGradOp = 'flipT' | 'transpose';

/** The faster input-gradient op per tfjs backend, as measured by `npm run bench` (ops rows). */
export function defaultInputGradOp(backend: string): InputGradOp {
  return backend === 'wasm' ? 'flipT' : 'transpose';
}

export interface TfjsEvaluateOptions {
  /** pin each layer's ReLU to a 0/1 pattern (see tfjs_vgg19_core.ts TfjsVgg19ForwardOptions) */
  reluMasks?: ReadonlyMap<string, TF.Tensor4D>;
  /** called with each conv's pre-activation (conv + bias) when reluMasks pins that layer */
  inspectPreActivation?: (layer: string, pre: TF.Tensor4D) => void;
}

export interface TfjsEvaluation {
  /** [2 + style layers]: content, tv, style of each style layer (our objective's slot order) */
  terms: TF.Tensor1D;
  /** dL/dx [1, H, W, 3] */
  grad: TF.Tensor4D;
}

export class TfjsStyleObjective {
  /** number of variables: H * W * 3 */
  readonly n: number;
  private readonly deepest: number;
  private flipT: TF.Tensor4D[] | null = null;
  /** the input-gradient op of the 'tuned' formulation (default: defaultInputGradOp of the backend active at create) */
  inputGradOp: InputGradOp;

  private constructor(
    readonly tf: Tf,
    readonly weights: TfjsVgg19Weights,
    readonly cfg: StyleConfig,
    readonly H: number,
    readonly W: number,
    /** content features P [1, h, w, C] */
    private readonly P: TF.Tensor4D,
    /** style Grams A_l [C, C] */
    private readonly A: TF.Tensor2D[],
  ) {
    this.n = H * W * 3;
    this.deepest = layerIndex(deepestLayer(cfg));
    this.inputGradOp = defaultInputGradOp(tf.getBackend());
  }

  /**
   * Computes the targets once: P from `content`, the Grams A from `style` (both [H, W, 3] caffe
   * BGR, Float32Array). Tensors live on the backend active now; weights must be too.
   */
  static create(tf: Tf, weights: TfjsVgg19Weights, cfg: StyleConfig, H: number, W: number, content: Float32Array, style: Float32Array): TfjsStyleObjective {
    if (content.length !== H * W * 3 || style.length !== H * W * 3) {
      throw new Error(`TfjsStyleObjective: content and style must both be ${H}x${W}x3 (got ${content.length} and ${style.length} values)`);
    }
    const [P, A] = tf.tidy(() => {
      const c = tf.tensor4d(content, [1, H, W, 3]);
      const p = tfjsVgg19Forward(tf, weights, c, [cfg.contentLayer], cfg.pooling)[cfg.contentLayer];
      const s = tf.tensor4d(style, [1, H, W, 3]);
      const ys = tfjsVgg19Forward(tf, weights, s, cfg.styleLayers, cfg.pooling);
      const grams = cfg.styleLayers.map((name) => gram(tf, ys[name]));
      return [p, grams] as [TF.Tensor4D, TF.Tensor2D[]];
    });
    return new TfjsStyleObjective(tf, weights, cfg, H, W, P, A);
  }

  /** The loss terms at x as a differentiable tensor [content, tv, style_0, ...] (plain ops). */
  lossTerms(x: TF.Tensor4D, opts: TfjsEvaluateOptions = {}): TF.Tensor1D {
    const { tf, cfg } = this;
    return tf.tidy(() => {
      const ys = tfjsVgg19Forward(tf, this.weights, x, [cfg.contentLayer, ...cfg.styleLayers], cfg.pooling, {
        reluMasks: opts.reluMasks,
        inspectPreActivation: opts.inspectPreActivation,
      });
      const content = tf.mul(tf.sum(tf.squaredDifference(ys[cfg.contentLayer], this.P)), contentCoef(cfg));
      const styles = cfg.styleLayers.map((name, i) => {
        const [, h, w, c] = ys[name].shape;
        return tf.mul(tf.sum(tf.squaredDifference(gram(tf, ys[name]), this.A[i])), styleFactor(cfg, i, this.H, this.W, c, h * w));
      });
      return tf.stack([content, this.tvLoss(x), ...styles]) as TF.Tensor1D;
    });
  }

  /** The TV term at x (a scalar tensor; 0 when the TV weight is 0). */
  tvLoss(x: TF.Tensor4D): TF.Scalar {
    const { tf, H, W } = this;
    const wt = this.cfg.tvWeight;
    if (wt === 0) return tf.mul(tf.sum(x), 0) as TF.Scalar; // keeps x on the tape with a zero gradient
    return tf.tidy(() => {
      const here = tf.slice(x, [0, 0, 0, 0], [1, H - 1, W - 1, 3]);
      const a = tf.sub(here, tf.slice(x, [0, 1, 0, 0], [1, H - 1, W - 1, 3]));
      const b = tf.sub(here, tf.slice(x, [0, 0, 1, 0], [1, H - 1, W - 1, 3]));
      return tf.mul(tf.sum(tf.pow(tf.add(tf.square(a), tf.square(b)), 1.25)), wt) as TF.Scalar;
    });
  }

  /** Loss terms and gradient at x [1, H, W, 3]; the caller disposes both tensors ('tuned': after prepare). */
  evaluate(x: TF.Tensor4D, formulation: TfjsFormulation = 'plain', opts: TfjsEvaluateOptions = {}): TfjsEvaluation {
    if (x.shape.join(',') !== `1,${this.H},${this.W},3`) throw new Error(`TfjsStyleObjective: x must be [1, ${this.H}, ${this.W}, 3], got [${x.shape}]`);
    if (formulation === 'plain') return this.evaluatePlain(x, opts);
    if (formulation === 'tuned') return this.evaluateTuned(x, opts);
    throw new Error(`unknown formulation "${formulation as string}" (have: ${TFJS_FORMULATIONS.join(', ')})`);
  }

  /** evaluate() on host data: the loss terms and the gradient [H, W, 3] read back. */
  async evaluateData(x: Float32Array, formulation: TfjsFormulation = 'plain', opts: TfjsEvaluateOptions = {}): Promise<{ loss: LossBreakdown; grad: Float32Array }> {
    await this.prepare(formulation);
    const xt = this.tf.tensor4d(x, [1, this.H, this.W, 3]);
    const { terms, grad } = this.evaluate(xt, formulation, opts);
    try {
      const loss = this.breakdown(await terms.data<'float32'>());
      return { loss, grad: (await grad.data<'float32'>()) as Float32Array };
    } finally {
      this.tf.dispose([xt, terms, grad]);
    }
  }

  /** The terms tensor's values as our objective's LossBreakdown. */
  breakdown(terms: ArrayLike<number>): LossBreakdown {
    const styleLayers: Record<string, number> = {};
    let style = 0;
    this.cfg.styleLayers.forEach((name, i) => {
      styleLayers[name] = terms[2 + i];
      style += terms[2 + i];
    });
    return { total: terms[0] + terms[1] + style, content: terms[0], style, tv: terms[1], styleLayers };
  }

  private evaluatePlain(x: TF.Tensor4D, opts: TfjsEvaluateOptions): TfjsEvaluation {
    const { tf } = this;
    let terms: TF.Tensor1D | null = null;
    const f = (xx: TF.Tensor): TF.Scalar => {
      terms = tf.keep(this.lossTerms(xx as TF.Tensor4D, opts));
      return tf.sum(terms);
    };
    const { value, grad } = tf.valueAndGrad(f)(x);
    value.dispose();
    return { terms: terms!, grad: grad as TF.Tensor4D };
  }

  /**
   * Prepares a formulation: 'tuned' needs the flipped, transposed kernels Kt [3, 3, Cout, Cin]
   * of every conv up to the deepest layer. They are built on the host from the kernels' values
   * (tf.reverse on the cpu backend took 36 s for them), once.
   */
  async prepare(formulation: TfjsFormulation): Promise<void> {
    if (formulation !== 'tuned' || this.inputGradOp !== 'flipT' || this.flipT) return;
    const out: TF.Tensor4D[] = [];
    for (const l of VGG19_LAYERS.slice(0, this.deepest + 1)) {
      const k = await this.weights.get(`${l.name}/kernel`)!.data<'float32'>(); // [3, 3, Cin, Cout]
      const t = new Float32Array(k.length); // [3, 3, Cout, Cin]
      for (let ky = 0; ky < 3; ky++)
        for (let kx = 0; kx < 3; kx++)
          for (let ci = 0; ci < l.cin; ci++)
            for (let co = 0; co < l.cout; co++) t[((ky * 3 + kx) * l.cout + co) * l.cin + ci] = k[(((2 - ky) * 3 + (2 - kx)) * l.cin + ci) * l.cout + co];
      out.push(this.tf.tensor4d(t, [3, 3, l.cout, l.cin]));
    }
    this.flipT = out;
  }

  private evaluateTuned(x: TF.Tensor4D, opts: TfjsEvaluateOptions): TfjsEvaluation {
    const { tf, cfg } = this;
    const kt = this.flipT;
    if (this.inputGradOp === 'flipT' && !kt) throw new Error("TfjsStyleObjective: call prepare('tuned') before evaluating the tuned formulation with flipT");
    return tf.tidy(() => {
      // Forward, keeping every conv output (ReLU masks, max-pool inputs) and pooled output.
      const ys: TF.Tensor4D[] = [];
      const pooled: (TF.Tensor4D | null)[] = [];
      let h: TF.Tensor4D = x;
      for (let i = 0; i <= this.deepest; i++) {
        const spec = VGG19_LAYERS[i];
        const filter = this.weights.get(`${spec.name}/kernel`) as TF.Tensor4D;
        const bias = this.weights.get(`${spec.name}/bias`) as TF.Tensor1D;
        const mask = opts.reluMasks?.get(spec.name);
        let y: TF.Tensor4D;
        if (mask) {
          const pre = tf.add(tf.conv2d(h, filter, 1, 'same'), bias) as TF.Tensor4D;
          opts.inspectPreActivation?.(spec.name, pre);
          y = tf.mul(pre, mask);
        } else {
          y = tf.fused.conv2d({ x: h, filter, bias, strides: 1, pad: 'same', activation: 'relu' });
        }
        ys.push(y);
        const p = spec.poolAfter && i < this.deepest ? (cfg.pooling === 'max' ? tf.maxPool(y, 2, 2, 'valid') : tf.avgPool(y, 2, 2, 'valid')) : null;
        pooled.push(p);
        h = p ?? y;
      }

      // Losses and their gradients at the layers.
      const injected = new Map<number, TF.Tensor4D>();
      const inject = (i: number, g: TF.Tensor4D) => {
        const cur = injected.get(i);
        injected.set(i, cur ? tf.add(cur, g) : g);
      };
      const ci = layerIndex(cfg.contentLayer);
      const coef = contentCoef(cfg);
      const diff = tf.sub(ys[ci], this.P);
      const content = tf.mul(tf.sum(tf.square(diff)), coef);
      inject(ci, tf.mul(diff, 2 * coef));
      const styles = cfg.styleLayers.map((name, k) => {
        const i = layerIndex(name);
        const [, hh, ww, c] = ys[i].shape;
        const F = tf.reshape(ys[i], [hh * ww, c]) as TF.Tensor2D;
        const D = tf.sub(tf.matMul(F, F, true, false), this.A[k]);
        const factor = styleFactor(cfg, k, this.H, this.W, c, hh * ww);
        inject(i, tf.reshape(tf.matMul(F, tf.mul(D, 4 * factor)), [1, hh, ww, c]));
        return tf.mul(tf.sum(tf.square(D)), factor);
      });

      // Backward to the pixels.
      let g = injected.get(this.deepest)!;
      let gx: TF.Tensor4D | null = null;
      for (let i = this.deepest; i >= 0; i--) {
        const spec = VGG19_LAYERS[i];
        const mask = opts.reluMasks?.get(spec.name) ?? tf.step(ys[i]);
        const gm = tf.mul(g, mask) as TF.Tensor4D;
        const [, hh, ww] = gm.shape;
        const dx =
          this.inputGradOp === 'flipT'
            ? tf.conv2d(gm, kt![i], 1, 'same')
            : tf.conv2dTranspose(gm, this.weights.get(`${spec.name}/kernel`) as TF.Tensor4D, [1, hh, ww, spec.cin], 1, 'same');
        if (i === 0) {
          gx = dx;
          break;
        }
        let gPrev = dx;
        if (pooled[i - 1]) {
          const attrs = { filterSize: [2, 2], strides: [2, 2], pad: 'valid' } as unknown as TF.NamedAttrMap;
          gPrev =
            cfg.pooling === 'max'
              ? (tf.engine().runKernel('MaxPoolGrad', { dy: dx, input: ys[i - 1], output: pooled[i - 1]! }, attrs) as TF.Tensor4D)
              : (tf.engine().runKernel('AvgPoolGrad', { dy: dx, input: ys[i - 1] }, attrs) as TF.Tensor4D);
        }
        const inj = injected.get(i - 1);
        g = inj ? tf.add(gPrev, inj) : gPrev;
      }

      // TV: tiny, by tf.grad.
      const tv = tf.valueAndGrad((xx: TF.Tensor) => this.tvLoss(xx as TF.Tensor4D))(x);
      return {
        terms: tf.stack([content, tv.value, ...styles]) as TF.Tensor1D,
        grad: tf.add(gx!, tv.grad) as TF.Tensor4D,
      };
    });
  }

  dispose(): void {
    this.tf.dispose([this.P, ...this.A, ...(this.flipT ?? [])]);
    this.flipT = null;
  }
}

/** G = F^T F for F [1, h, w, C] viewed as [h*w, C]: [C, C]. */
function gram(tf: Tf, f: TF.Tensor4D): TF.Tensor2D {
  const [, h, w, c] = f.shape;
  const F = tf.reshape(f, [h * w, c]) as TF.Tensor2D;
  return tf.matMul(F, F, true, false);
}
