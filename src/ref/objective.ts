// CPU reference of the whole style objective (Float64): VGG19 forward, content/style/TV losses,
// gradient w.r.t. the image. Slow: tiny images only (tests).
import { layerIndex, VGG19_LAYERS } from '../model/vgg19_layers.ts';
import type { Vgg19Weights } from '../model/weights.ts';
import type { StyleConfig } from '../style/config.ts';
import { deepestLayer } from '../style/config.ts';
import type { LossBreakdown } from '../style/types.ts';
import { contentLossCpu, gramBackwardCpu, gramCpu, styleLossCpu, tvLossCpu } from './gram.ts';
import { vgg19BackwardCpu, vgg19ForwardCpu } from './vgg19.ts';

// The loss coefficients written again from the formulas in src/style/config.ts (the oracle does
// not take them from the runtime's src/style/objective.ts; the whole-objective tests compare).
function contentCoefCpu(cfg: StyleConfig): number {
  return cfg.contentLoss === 'sum' ? cfg.contentWeight : 0.5 * cfg.contentWeight;
}

/** factor_l of sum (G - A)^2: notebook 1/(4 * 3^2 * (H*W)^2) of the input's H*W; paper 1/(4 N^2 M^2). */
function styleFactorCpu(cfg: StyleConfig, k: number, H: number, W: number, N: number, M: number): number {
  const denominator = cfg.styleNorm === 'notebook' ? 4 * 3 ** 2 * (H * W) ** 2 : 4 * N ** 2 * M ** 2;
  return (cfg.styleWeight * cfg.styleLayerWeights[k]) / denominator;
}

export interface ObjectiveTargets {
  P: Float64Array;
  A: Float64Array[];
}

export function objectiveTargetsCpu(weights: Vgg19Weights, cfg: StyleConfig, content: ArrayLike<number>, style: ArrayLike<number>, H: number, W: number): ObjectiveTargets {
  const deepest = deepestLayer(cfg);
  const tc = vgg19ForwardCpu(weights, content, H, W, deepest, cfg.pooling);
  const ts = vgg19ForwardCpu(weights, style, H, W, deepest, cfg.pooling);
  const ci = layerIndex(cfg.contentLayer);
  const A = cfg.styleLayers.map((name) => {
    const i = layerIndex(name);
    const [h, w] = ts.sizes[i];
    return gramCpu(ts.y[i], h * w, VGG19_LAYERS[i].cout);
  });
  return { P: tc.y[ci], A };
}

export function objectiveCpu(weights: Vgg19Weights, cfg: StyleConfig, targets: ObjectiveTargets, x: ArrayLike<number>, H: number, W: number): { loss: LossBreakdown; grad: Float64Array } {
  const trace = vgg19ForwardCpu(weights, x, H, W, deepestLayer(cfg), cfg.pooling);
  const grads = new Map<string, Float64Array>();
  const addGrad = (name: string, g: Float64Array) => {
    const cur = grads.get(name);
    if (cur) for (let i = 0; i < g.length; i++) cur[i] += g[i];
    else grads.set(name, g);
  };
  const ci = layerIndex(cfg.contentLayer);
  const c = contentLossCpu(trace.y[ci], targets.P, contentCoefCpu(cfg));
  addGrad(cfg.contentLayer, c.grad);
  const styleLayers: Record<string, number> = {};
  let style = 0;
  cfg.styleLayers.forEach((name, k) => {
    const i = layerIndex(name);
    const [h, w] = trace.sizes[i];
    const C = VGG19_LAYERS[i].cout;
    const G = gramCpu(trace.y[i], h * w, C);
    const s = styleLossCpu(G, targets.A[k], styleFactorCpu(cfg, k, H, W, C, h * w));
    styleLayers[name] = s.loss;
    style += s.loss;
    addGrad(name, gramBackwardCpu(trace.y[i], s.m, h * w, C));
  });
  const grad = vgg19BackwardCpu(weights, trace, grads, cfg.pooling);
  const tv = tvLossCpu(x, H, W, cfg.tvWeight);
  for (let i = 0; i < grad.length; i++) grad[i] += tv.grad[i];
  return { loss: { total: c.loss + style + tv.loss, content: c.loss, style, tv: tv.loss, styleLayers }, grad };
}
