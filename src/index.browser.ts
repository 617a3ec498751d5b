// neural-style-webgpu, the library for bundlers and browsers (package.json "exports", condition
// "browser"): the API of src/index.ts with URLs where Node takes paths, and nothing from node:*.
//
//   import { acquireGpu, loadWeights, styleTransfer } from 'neural-style-webgpu';
//   const gpu = await acquireGpu();                                  // navigator.gpu
//   const weights = await loadWeights('/models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');
//   const { image } = await styleTransfer(gpu, weights, { content: photoImageData, style: '/art.jpg', rows: 256 });
//   canvas.getContext('2d').putImageData(new ImageData(image.data, image.width, image.height), 0, 0);

import { runEvaluateOnce, runStyleTransfer, weightsFromBytes, type EvaluateOptions, type EvaluateResult, type LoadWeightsOptions, type Platform, type StyleTransferOptions } from './api.ts';
import type { GpuContext } from './gpu/device.ts';
import { fetchBytes, loadVgg19WeightsFromUrl } from './model/remote.ts';
import type { Vgg19 } from './model/vgg19.ts';
import type { Vgg19Weights } from './model/weights.ts';
import type { TransferResult } from './style/types.ts';

export * from './exports.ts';

const base = (): string => (typeof location !== 'undefined' ? location.href : 'http://localhost/');

const BROWSER: Platform = {
  readBytes: (url) => fetchBytes(new URL(url, base()).href),
};

/**
 * The VGG19 weights. `source`: the URL of a folder with a TF.js weights manifest
 * (weights_manifest.json or model.json and its .bin files) or of a Keras .h5 file (relative to
 * the page), or the bytes of an .h5 file (e.g. from a file input). Another origin must allow
 * the page (CORS). Default: weights/vgg19/ beside the page.
 */
export async function loadWeights(source?: string | Uint8Array | ArrayBuffer, options: LoadWeightsOptions = {}): Promise<Vgg19Weights> {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return weightsFromBytes(source);
  return loadVgg19WeightsFromUrl(new URL(source ?? 'weights/vgg19/', base()).href, options.onProgress);
}

/** A style transfer (see StyleTransferOptions); image strings are URLs relative to the page. */
export function styleTransfer(gpu: GpuContext, weights: Vgg19Weights | Vgg19, options: StyleTransferOptions): Promise<TransferResult> {
  return runStyleTransfer(gpu, weights, options, BROWSER);
}

/** The objective once at x = the content image: loss terms and gradient. */
export function evaluateOnce(gpu: GpuContext, weights: Vgg19Weights | Vgg19, options: EvaluateOptions): Promise<EvaluateResult> {
  return runEvaluateOnce(gpu, weights, options, BROWSER);
}
