// The style-transfer objective's settings and its two presets.
//
// notebook (default): exactly the course notebook's loss (Keras + scipy):
//   content  = content_weight * sum (F - P)^2                          at block5_conv2 (no 1/2)
//   style    = sum over block1..5_conv1 of (style_weight / 5) * sum (G - A)^2 / (4 * 3^2 * (H*W)^2)
//              where 3 and H*W (the INPUT image's size, for every layer) are the notebook's quirk
//   tv       = tv_weight * sum_{i<H-1, j<W-1} ((x[i,j]-x[i+1,j])^2 + (x[i,j]-x[i,j+1])^2)^1.25
//   weights 1 / 10 / 0.1, max pooling, post-ReLU features.
// paper (Gatys et al. 2015): content at block4_conv2 with 1/2 sum (F - P)^2; style layers
//   block1..5_conv1 with E_l = sum (G - A)^2 / (4 N_l^2 M_l^2) (N_l channels, M_l = h*w of the
//   layer), equal layer weights w_l = 1/5; total = alpha * content + beta * style (alpha/beta =
//   1e-3 by default), average pooling (the paper's choice), TV off.

import type { PoolMode } from '../kernels/pool2x2.ts';
import { layerIndex } from '../model/vgg19_layers.ts';

export type PresetName = 'notebook' | 'paper';

export interface StyleConfig {
  preset: PresetName;
  contentLayer: string;
  styleLayers: string[];
  /** per-style-layer multipliers (multiplied by styleWeight); same length as styleLayers */
  styleLayerWeights: number[];
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  pooling: PoolMode;
  /** 'sum': sum (F-P)^2 (notebook); 'half-sum': 1/2 sum (F-P)^2 (paper) */
  contentLoss: 'sum' | 'half-sum';
  /** 'notebook': 1/(4*9*(H*W)^2) with the input's H*W; 'paper': 1/(4 N^2 M^2) per layer */
  styleNorm: 'notebook' | 'paper';
}

export const STYLE_LAYERS_DEFAULT = ['block1_conv1', 'block2_conv1', 'block3_conv1', 'block4_conv1', 'block5_conv1'];

export const PRESETS: Record<PresetName, StyleConfig> = {
  notebook: {
    preset: 'notebook',
    contentLayer: 'block5_conv2',
    styleLayers: STYLE_LAYERS_DEFAULT,
    styleLayerWeights: STYLE_LAYERS_DEFAULT.map(() => 1 / 5),
    contentWeight: 1,
    styleWeight: 10,
    tvWeight: 0.1,
    pooling: 'max',
    contentLoss: 'sum',
    styleNorm: 'notebook',
  },
  paper: {
    preset: 'paper',
    contentLayer: 'block4_conv2',
    styleLayers: STYLE_LAYERS_DEFAULT,
    styleLayerWeights: STYLE_LAYERS_DEFAULT.map(() => 1 / 5),
    contentWeight: 1e-3,
    styleWeight: 1,
    tvWeight: 0,
    pooling: 'avg',
    contentLoss: 'half-sum',
    styleNorm: 'paper',
  },
};

export type StyleOverrides = Partial<Omit<StyleConfig, 'preset'>>;

function checkWeight(name: string, v: number) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${name} must be a finite number >= 0, got ${v}`);
}

/** A preset with overrides applied, validated (layer names, weights). */
export function makeConfig(preset: PresetName = 'notebook', overrides: StyleOverrides = {}): StyleConfig {
  const base = PRESETS[preset];
  if (!base) throw new Error(`unknown preset "${preset}" (have: ${Object.keys(PRESETS).join(', ')})`);
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as StyleOverrides;
  const cfg: StyleConfig = { ...base, ...defined };
  if (defined.styleLayers && !defined.styleLayerWeights) cfg.styleLayerWeights = defined.styleLayers.map(() => 1 / defined.styleLayers!.length);
  layerIndex(cfg.contentLayer);
  if (!cfg.styleLayers.length) throw new Error('at least one style layer is needed');
  for (const l of cfg.styleLayers) layerIndex(l);
  if (new Set(cfg.styleLayers).size !== cfg.styleLayers.length) throw new Error(`style layers repeat: ${cfg.styleLayers.join(', ')}`);
  if (cfg.styleLayerWeights.length !== cfg.styleLayers.length) {
    throw new Error(`${cfg.styleLayerWeights.length} style layer weights given for ${cfg.styleLayers.length} style layers`);
  }
  cfg.styleLayerWeights.forEach((w, i) => checkWeight(`style layer weight of ${cfg.styleLayers[i]}`, w));
  checkWeight('content weight', cfg.contentWeight);
  checkWeight('style weight', cfg.styleWeight);
  checkWeight('tv weight', cfg.tvWeight);
  if (cfg.pooling !== 'max' && cfg.pooling !== 'avg') throw new Error(`pooling must be max or avg, got "${cfg.pooling}"`);
  return cfg;
}

/** The deepest VGG19 layer the objective needs. */
export function deepestLayer(cfg: StyleConfig): string {
  return [cfg.contentLayer, ...cfg.styleLayers].reduce((a, b) => (layerIndex(b) > layerIndex(a) ? b : a));
}
