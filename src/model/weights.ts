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
import type { ChecksumCache } from './tfjs_manifest.ts';
import { openKerasH5 } from './keras_h5.ts';

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
  /** skip hashing files this cache knows to be verified and unchanged (default: none) */
  checksumCache?: ChecksumCache;
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
      await verifyChecksums(new TextDecoder().decode(sums), cached, files, joinLabel(folder, 'SHA256SUMS'), opts.checksumCache);
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

// ----------------------------------------------------------------------------------------
// Keras .h5
// ----------------------------------------------------------------------------------------

export interface LoadVgg19H5Options {
  /** the file's name in messages and in the result (default 'weights.h5') */
  source?: string;
  /** bytes of the layers read so far, and of all 16 */
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
}

/** True when `name` (a path or URL) names a Keras HDF5 file (.h5 / .hdf5 / .keras.h5). */
export function isH5Name(name: string): boolean {
  return /\.(h5|hdf5)$/i.test(name.replace(/[?#].*$/, ''));
}

/**
 * Loads the 16 VGG19 convolution layers from the bytes of a Keras .h5 file (save_weights, the
 * file Keras downloads, or a whole model.save; src/model/keras_h5.ts). Each layer's first weight
 * is its kernel [3, 3, Cin, Cout] (HWIO, as Keras stores it), its second the bias [Cout].
 * Errors name the file and the layer: not HDF5, no VGG19 layer at all, a layer missing, a weight
 * of the wrong shape, a truncated file.
 */
export async function loadVgg19WeightsFromH5(bytes: Uint8Array, opts: LoadVgg19H5Options = {}): Promise<Vgg19Weights> {
  const source = opts.source ?? 'weights.h5';
  const file = await openKerasH5(bytes, source);
  try {
    if (!file.truncated) {
      const present = VGG19_LAYERS.filter((l) => file.hasLayer(l.name)).map((l) => l.name);
      const listed = file.layerNames.length ? `its layers: ${file.layerNames.slice(0, 8).join(', ')}${file.layerNames.length > 8 ? `, … (${file.layerNames.length})` : ''}` : 'it has no layers';
      if (present.length === 0) {
        throw new Error(`${source}: not VGG19 weights: no layer named block1_conv1 … block5_conv4 (${listed})`);
      }
      const missing = VGG19_LAYERS.find((l) => !present.includes(l.name));
      if (missing) throw new Error(`${source}: VGG19 layer ${missing.name} is missing (${listed})`);
    }
    const total = VGG19_LAYERS.reduce((a, l) => a + 4 * (9 * l.cin * l.cout + l.cout), 0);
    let loaded = 0;
    opts.onProgress?.(0, total);
    const layers: Vgg19Weights['layers'] = new Map();
    for (const l of VGG19_LAYERS) {
      const weights = file.readLayer(l.name);
      const want = [
        [3, 3, l.cin, l.cout],
        [l.cout],
      ];
      if (weights.length < 2) {
        throw new Error(`${source}: layer ${l.name} has ${weights.length} weight${weights.length === 1 ? '' : 's'}, VGG19 needs a kernel ${fmtShape(want[0])} and a bias ${fmtShape(want[1])}`);
      }
      const [kernel, bias] = weights;
      for (const [w, shape, what] of [
        [kernel, want[0], 'kernel'],
        [bias, want[1], 'bias'],
      ] as const) {
        if (fmtShape(w.shape) !== fmtShape(shape)) {
          throw new Error(`${source}: layer ${l.name}: ${what} ${w.name} has shape ${fmtShape(w.shape)}, VGG19 needs ${fmtShape(shape)}`);
        }
      }
      layers.set(l.name, { kernel: kernel.data, bias: bias.data });
      loaded += 4 * (kernel.data.length + bias.data.length);
      opts.onProgress?.(loaded, total);
    }
    if (file.truncated) {
      throw new Error(
        `${source}: truncated: it has ${file.truncated.bytes} bytes, its header says ${file.truncated.expected}; the VGG19 layers read, but the file is damaged. Download it again.`,
      );
    }
    return { layers, source, quantizedLayers: [] };
  } finally {
    file.close();
  }
}
