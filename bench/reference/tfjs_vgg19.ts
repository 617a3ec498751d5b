// VGG19 in TensorFlow.js: the independent reference our WebGPU engine is checked and
// benchmarked against. This file adds the Node-only weight loader (reads the weights from disk)
// to everything in tfjs_vgg19_core.ts (backend selection, forward pass, HTTP loader), which it
// re-exports. Never imported from src/.
//
//   import * as tf from '@tensorflow/tfjs';
//   await useTfjsBackend(tf, 'cpu');                       // quiet, explicit backend
//   const w = await loadTfjsVgg19Weights(tf);              // Map 'block1_conv1/kernel' → tf.Tensor
//   const ys = tfjsVgg19Forward(tf, w, x, ['block5_conv2'], 'max');  // x: [1, H, W, 3] caffe BGR
//   ...; tf.dispose(Object.values(ys)); disposeTfjsVgg19Weights(w);
//
// Weights: the same weights_manifest.json our loader reads (src/model/locate.ts finds the
// folder), decoded by TensorFlow.js's own code. tf.io.loadWeights(manifest, prefix) is
// `weightsLoaderFactory(fetch over HTTP)`; in Node there is no fetch for local files, so we call
// tf.io.weightsLoaderFactory with a function that reads the .bin files from disk. Everything after
// the bytes — group/offset bookkeeping and the uint8 dequantization `q * scale + min` (computed
// in double, stored to float32) — is TensorFlow.js's code path, independent of
// src/model/weights.ts. No SHA256SUMS check here: our loader does that.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveWeightsDir } from '../../src/model/locate.ts';
import { manifestFromJson, pickVgg19Tensors, type Tf, type TfjsVgg19Weights, VGG19_TENSOR_NAMES } from './tfjs_vgg19_core.ts';

export * from './tfjs_vgg19_core.ts';

/** Reads each path from disk as an exactly-sized ArrayBuffer (a Buffer may share a larger pool). */
async function readFilesAsArrayBuffers(paths: string[]): Promise<ArrayBuffer[]> {
  return Promise.all(
    paths.map(async (p) => {
      let buf: Buffer;
      try {
        buf = await readFile(p);
      } catch (err) {
        throw new Error(`${p}: cannot read weight file: ${(err as Error).message}`);
      }
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    }),
  );
}

/**
 * Loads the 16 VGG19 convolutions with TensorFlow.js's weight loader from the folder that
 * resolveWeightsDir(dir) picks (weights_manifest.json, or a model.json's weightsManifest).
 * Checks every shape against VGG19_LAYERS. The caller owns the tensors (disposeTfjsVgg19Weights).
 */
export async function loadTfjsVgg19Weights(tf: Tf, dir?: string): Promise<TfjsVgg19Weights> {
  const { dir: folder } = resolveWeightsDir(dir);
  let manifestPath = join(folder, 'weights_manifest.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw new Error(`${manifestPath}: ${(err as Error).message}`);
    manifestPath = join(folder, 'model.json');
    json = JSON.parse(await readFile(manifestPath, 'utf8'));
  }
  const manifest = manifestFromJson(json, manifestPath);
  // tf.io.loadWeights(manifest, folder, names) with the HTTP fetch replaced by a disk read.
  const load = tf.io.weightsLoaderFactory(readFilesAsArrayBuffers);
  return pickVgg19Tensors(await load(manifest, folder, [...VGG19_TENSOR_NAMES]), manifestPath);
}
