// neural-style-webgpu, the library (Node entry; bundlers and browsers get src/index.browser.ts,
// the same API with URLs where this one takes paths). See src/api.ts for the options.
//
//   import { acquireGpu, loadWeights, styleTransfer, encodePng } from 'neural-style-webgpu';
//   const gpu = await acquireGpu();                        // Dawn (the `webgpu` package) in Node
//   const weights = await loadWeights();                   // NEURAL_STYLE_WEIGHTS, ~/.keras/models/...
//   const { image } = await styleTransfer(gpu, weights, { content: 'photo.jpg', style: 'art.jpg', rows: 256 });
//   writeFileSync('out.png', encodePng(image));

import { readFile } from 'node:fs/promises';
import { runEvaluateOnce, runStyleTransfer, weightsFromBytes, type EvaluateOptions, type EvaluateResult, type LoadWeightsOptions, type Platform, type StyleTransferOptions } from './api.ts';
import type { GpuContext } from './gpu/device.ts';
import { loadVgg19WeightsFromDir } from './model/locate.ts';
import { loadVgg19WeightsFromUrl } from './model/remote.ts';
import type { Vgg19 } from './model/vgg19.ts';
import type { Vgg19Weights } from './model/weights.ts';
import type { TransferResult } from './style/types.ts';

export * from './exports.ts';

const NODE: Platform = {
  async readBytes(path) {
    if (/^https?:\/\//i.test(path)) return (await import('./model/remote.ts')).fetchBytes(path);
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`${path}: ${code === 'ENOENT' ? 'file not found' : `cannot read: ${(e as Error).message}`}`);
    }
  },
};

/**
 * The VGG19 weights. `source`: a folder with a TF.js weights manifest (weights_manifest.json or
 * model.json and its .bin files), a Keras .h5 file (save_weights, model.save, or the file Keras
 * downloads), an http(s) URL of either, or the bytes of an .h5 file. Without `source`:
 * $NEURAL_STYLE_WEIGHTS, then weights/vgg19/ in the package, then where Keras keeps its download
 * (~/.keras/models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5). Errors name the file
 * and what is wrong.
 */
export async function loadWeights(source?: string | Uint8Array | ArrayBuffer, options: LoadWeightsOptions = {}): Promise<Vgg19Weights> {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return weightsFromBytes(source);
  if (typeof source === 'string' && /^https?:\/\//i.test(source)) return loadVgg19WeightsFromUrl(source, options.onProgress);
  return loadVgg19WeightsFromDir(source, { onProgress: options.onProgress && ((l, t) => options.onProgress!('decode', l, t)) });
}

/** A style transfer (see StyleTransferOptions); image strings are file paths (or http(s) URLs). */
export function styleTransfer(gpu: GpuContext, weights: Vgg19Weights | Vgg19, options: StyleTransferOptions): Promise<TransferResult> {
  return runStyleTransfer(gpu, weights, options, NODE);
}

/** The objective once at x = the content image: loss terms and gradient. */
export function evaluateOnce(gpu: GpuContext, weights: Vgg19Weights | Vgg19, options: EvaluateOptions): Promise<EvaluateResult> {
  return runEvaluateOnce(gpu, weights, options, NODE);
}
