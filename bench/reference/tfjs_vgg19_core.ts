// VGG19 in TensorFlow.js, the part that runs anywhere (Node and the browser): backend
// selection, the weights' names and shape checks, loading over HTTP with tf.io.loadWeights, and
// the forward pass. The Node-only disk loader is in tfjs_vgg19.ts, which re-exports all of this.
// Never imported from src/.
//
// The module takes the `tf` namespace as an argument instead of importing it, so the caller
// picks the build and the backend (cpu, wasm, webgpu) and this file stays a type-only user of
// TensorFlow.js.
//
// Model (Keras VGG19, Simonyan & Zisserman 2014): for each conv, y = relu(conv2d(x, K, stride 1,
// 'same') + b), K [3, 3, Cin, Cout] HWIO; after the last conv of a block a 2x2 stride-2
// 'valid' pooling (odd sizes floor), max (Keras) or average (the paper's variant). Tensors are
// NHWC with a batch of 1.

import type * as TF from '@tensorflow/tfjs';
import { layerIndex, VGG19_LAYERS, VGG19_TENSORS } from '../../src/model/vgg19_layers.ts';

/** The TensorFlow.js namespace (`import * as tf from '@tensorflow/tfjs'`). */
export type Tf = typeof TF;

/** Weights keyed by manifest name: 'blockN_convM/kernel' [3,3,Cin,Cout], 'blockN_convM/bias' [Cout]. */
export type TfjsVgg19Weights = Map<string, TF.Tensor>;

export type TfjsPooling = 'max' | 'avg';

export interface TfjsVgg19ForwardOptions {
  /**
   * Pins the ReLU of these layers to a given pattern: y = (conv + b) * mask instead of
   * relu(conv + b), mask [1, h, w, Cout] of 0/1. Where the mask equals (conv + b > 0) this is
   * the same function; its use is to differentiate on exactly the piece of the piecewise-linear
   * network that another implementation's forward pass chose (float32 noise can put a
   * pre-activation within ~1e-3 of 0 on different sides of the kink in two implementations).
   */
  reluMasks?: ReadonlyMap<string, TF.Tensor4D>;
  /** Called with each pinned layer's pre-activation (conv + b), e.g. to count the units whose
   *  sign disagrees with the mask (ReLU kink flips between two implementations). */
  inspectPreActivation?: (layer: string, pre: TF.Tensor4D) => void;
}

/**
 * Selects a TensorFlow.js backend and waits until it is ready. With `quiet` (default) it first
 * turns on prod mode, whose only effect on tfjs-core's code is to silence its console warnings
 * (among them the cpu backend's "install tfjs-node" banner). Throws when the backend is not
 * registered or fails to initialize.
 */
export async function useTfjsBackend(tf: Tf, name = 'cpu', opts: { quiet?: boolean } = {}): Promise<string> {
  if (opts.quiet ?? true) tf.enableProdMode();
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`TensorFlow.js backend "${name}" is not available (registered: ${Object.keys(tf.engine().registryFactory).join(', ')})`);
  }
  await tf.ready();
  return name;
}

/** The manifest tensor names of the 16 convolutions, in VGG19 order (kernel, bias, kernel, ...). */
export const VGG19_TENSOR_NAMES: readonly string[] = VGG19_TENSORS.map((t) => t.name);

/** The weights manifest inside a parsed weights_manifest.json (an array) or model.json. */
export function manifestFromJson(json: unknown, source: string): TF.io.WeightsManifestConfig {
  const manifest = (Array.isArray(json) ? json : (json as { weightsManifest?: unknown } | null)?.weightsManifest) as TF.io.WeightsManifestConfig;
  if (!Array.isArray(manifest)) throw new Error(`${source}: not a TensorFlow.js weights manifest`);
  return manifest;
}

/**
 * Keeps the 16 convolutions of what a TensorFlow.js weight loader returned, checking every
 * shape against VGG19_LAYERS; disposes anything else it returned.
 */
export function pickVgg19Tensors(named: TF.NamedTensorMap, source: string): TfjsVgg19Weights {
  const out: TfjsVgg19Weights = new Map();
  for (const { name, shape } of VGG19_TENSORS) {
    const t = named[name];
    if (!t) throw new Error(`${source}: TensorFlow.js loaded no tensor "${name}"`);
    if (t.shape.join(',') !== shape.join(',') || t.dtype !== 'float32') {
      throw new Error(`${source}: ${name} is ${t.dtype} [${t.shape}], VGG19 needs float32 [${shape}]`);
    }
    out.set(name, t);
  }
  // Anything else the loader returned (nothing, for the names we asked) is not ours to keep.
  for (const [name, t] of Object.entries(named)) if (!out.has(name)) t.dispose();
  return out;
}

/**
 * Loads the 16 VGG19 convolutions over HTTP with tf.io.loadWeights from `baseUrl` (a folder
 * URL holding weights_manifest.json and the .bin shards, e.g. '/weights/vgg19'): the browser's
 * counterpart of tfjs_vgg19.ts loadTfjsVgg19Weights. The caller owns the tensors.
 */
export async function loadTfjsVgg19WeightsFromUrl(tf: Tf, baseUrl: string): Promise<TfjsVgg19Weights> {
  const base = baseUrl.replace(/\/+$/, '');
  const manifestUrl = `${base}/weights_manifest.json`;
  const res = await fetch(manifestUrl);
  if (!res.ok) throw new Error(`${manifestUrl}: HTTP ${res.status}`);
  const manifest = manifestFromJson(await res.json(), manifestUrl);
  const named = await tf.io.loadWeights(manifest, base, [...VGG19_TENSOR_NAMES]);
  return pickVgg19Tensors(named, manifestUrl);
}

/** Frees the tensors of loadTfjsVgg19Weights. */
export function disposeTfjsVgg19Weights(weights: TfjsVgg19Weights): void {
  for (const t of weights.values()) t.dispose();
  weights.clear();
}

/**
 * VGG19 forward from a [1, H, W, 3] caffe-preprocessed BGR image to the post-ReLU outputs of
 * `layers` (Keras names), stopping at the deepest one. Returns name → [1, h, w, c] tensors that
 * the caller disposes; every intermediate is freed (tf.tidy). Differentiable: call it inside
 * tf.grad / tf.valueAndGrad to get gradients with respect to `x`. `opts.reluMasks`: see
 * TfjsVgg19ForwardOptions.
 */
export function tfjsVgg19Forward(
  tf: Tf,
  weights: TfjsVgg19Weights,
  x: TF.Tensor4D,
  layers: string[],
  pooling: TfjsPooling = 'max',
  opts: TfjsVgg19ForwardOptions = {},
): Record<string, TF.Tensor4D> {
  if (!layers.length) throw new Error('tfjsVgg19Forward: no layers requested');
  if (x.rank !== 4 || x.shape[0] !== 1 || x.shape[3] !== 3) throw new Error(`tfjsVgg19Forward: x must be [1, H, W, 3], got [${x.shape}]`);
  if (pooling !== 'max' && pooling !== 'avg') throw new Error(`tfjsVgg19Forward: pooling must be 'max' or 'avg', got ${String(pooling)}`);
  const wanted = new Set(layers.map((n) => VGG19_LAYERS[layerIndex(n)].name));
  const deepest = Math.max(...[...wanted].map(layerIndex));
  const get = (name: string): TF.Tensor => {
    const t = weights.get(name);
    if (!t) throw new Error(`tfjsVgg19Forward: weights lack ${name}`);
    return t;
  };
  return tf.tidy(() => {
    const out: Record<string, TF.Tensor4D> = {};
    let h: TF.Tensor4D = x;
    for (let i = 0; i <= deepest; i++) {
      const spec = VGG19_LAYERS[i];
      const kernel = get(`${spec.name}/kernel`) as TF.Tensor4D; // [3, 3, Cin, Cout]
      const bias = get(`${spec.name}/bias`) as TF.Tensor1D; // [Cout]
      const pre = tf.add(tf.conv2d(h, kernel, 1, 'same'), bias) as TF.Tensor4D; // [1, h, w, Cout]
      const mask = opts.reluMasks?.get(spec.name);
      if (mask && mask.shape.join(',') !== pre.shape.join(',')) {
        throw new Error(`tfjsVgg19Forward: ReLU mask of ${spec.name} is [${mask.shape}], the layer output is [${pre.shape}]`);
      }
      if (mask) opts.inspectPreActivation?.(spec.name, pre);
      const y = mask ? (tf.mul(pre, mask) as TF.Tensor4D) : tf.relu(pre);
      if (wanted.has(spec.name)) out[spec.name] = y;
      if (spec.poolAfter && i < deepest) {
        h = pooling === 'max' ? tf.maxPool(y, 2, 2, 'valid') : tf.avgPool(y, 2, 2, 'valid');
      } else h = y;
    }
    return out;
  });
}
