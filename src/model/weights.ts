// The VGG19 convolution weights: what the network needs (16 layers, kernel [3, 3, Cin, Cout]
// HWIO and bias [Cout], float32) and loading them from a TensorFlow.js weights manifest
// (decoded by src/model/tfjs_manifest.ts) or a Keras .h5 file (read by src/model/keras_h5.ts).
//
// `loadVgg19Weights` puts the manifest path together: manifest → SHA256SUMS verification →
// decode → check that all 16 VGG19 convs are present with the shapes of VGG19_LAYERS.
// Runs in Node and in a browser: files are read through a `ReadFile` given by the caller.

import { VGG19_LAYERS, VGG19_TENSORS } from './vgg19_layers.ts';
import {
  cachingReader,
  decodeWeightGroups,
  fmtShape,
  joinLabel,
  parseManifest,
  readOptional,
  verifyChecksums,
  type ReadFile,
  type WeightEntry,
} from './tfjs_manifest.ts';

/** The 16 VGG19 convolution layers, keyed by Keras name (block1_conv1 … block5_conv4). */
export interface Vgg19Weights {
  layers: Map<string, { kernel: Float32Array /* [3,3,Cin,Cout] HWIO */; bias: Float32Array /* [Cout] */ }>;
  /** where the weights were read from (a folder, a URL, or what the caller said) */
  source: string;
  /** layers (VGG19 order) whose kernel or bias was stored quantized (uint8/uint16/float16) */
  quantizedLayers: string[];
}

export interface LoadVgg19Options {
  /** check the .bin files against SHA256SUMS when that file is present (default true) */
  verify?: boolean;
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  /** a name for the folder in messages and in the result (default 'weights') */
  source?: string;
}

/**
 * Loads the 16 VGG19 convolution layers from a folder read through `read`: its
 * `weights_manifest.json` (else `model.json`), verified against `SHA256SUMS` when present
 * (unless `verify: false`), decoded, and checked against VGG19_LAYERS' shapes.
 */
export async function loadVgg19Weights(read: ReadFile, opts: LoadVgg19Options = {}): Promise<Vgg19Weights> {
  const folder = opts.source ?? 'weights';
  const cached = cachingReader(read);

  // 1. The manifest: weights_manifest.json, or a whole model.json.
  let manifestName = 'weights_manifest.json';
  let manifestBytes = await readOptional(cached, manifestName);
  if (!manifestBytes) {
    manifestName = 'model.json';
    manifestBytes = await readOptional(cached, manifestName);
  }
  if (!manifestBytes) {
    throw new Error(`${folder}: neither weights_manifest.json nor model.json found; see weights/README.md for how to get the VGG19 weights`);
  }
  const manifestSource = joinLabel(folder, manifestName);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch (err) {
    throw new Error(`${manifestSource}: not valid JSON: ${(err as Error).message}`);
  }
  const manifest = parseManifest(json, manifestSource);

  // 2. Which tensors we need, and which shard files hold them.
  const needed = VGG19_TENSORS.map((t) => t.name);
  const neededSet = new Set(needed);
  const byName = new Map<string, WeightEntry>();
  for (const g of manifest.groups) for (const w of g.weights) byName.set(w.name, w);
  for (const { name, layer, shape } of VGG19_TENSORS) {
    const w = byName.get(name);
    if (!w) {
      const names = [...byName.keys()];
      throw new Error(
        `${manifestSource}: VGG19 layer ${layer} is missing: no tensor "${name}" (VGG19 needs ${fmtShape(shape)}). ` +
          `The manifest has ${names.length} tensors${names.length ? `, e.g. ${names.slice(0, 4).join(', ')}` : ''}.`,
      );
    }
    if (fmtShape(w.shape) !== fmtShape(shape)) {
      throw new Error(`${manifestSource}: ${name} has shape ${fmtShape(w.shape)}, VGG19 needs ${fmtShape(shape)}`);
    }
  }

  // 3. Checksums (files listed in the manifest but not in SHA256SUMS are skipped).
  if (opts.verify ?? true) {
    const sums = await readOptional(cached, 'SHA256SUMS');
    if (sums) {
      const files = manifest.groups.filter((g) => g.weights.some((w) => neededSet.has(w.name))).flatMap((g) => g.paths);
      await verifyChecksums(new TextDecoder().decode(sums), cached, files, joinLabel(folder, 'SHA256SUMS'));
    }
  }

  // 4. Decode only the conv tensors (groups/shards holding nothing else needed are not read).
  const tensors = await decodeWeightGroups(manifest, cached, { names: needed, onProgress: opts.onProgress });

  const layers: Vgg19Weights['layers'] = new Map();
  const quantizedLayers: string[] = [];
  for (const l of VGG19_LAYERS) {
    const kernel = tensors.get(`${l.name}/kernel`)!;
    const bias = tensors.get(`${l.name}/bias`)!;
    layers.set(l.name, { kernel: kernel.data, bias: bias.data });
    if (byName.get(kernel.name)!.quantization || byName.get(bias.name)!.quantization) quantizedLayers.push(l.name);
  }
  return { layers, source: folder, quantizedLayers };
}
