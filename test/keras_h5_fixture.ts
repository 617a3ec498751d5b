// Keras-layout .h5 files written with h5wasm (the library the reader uses), for the tests.
//
//   style 'save_weights'  model.save_weights(): root attribute layer_names, per layer group the
//                         attribute weight_names ['<l>/kernel:0', '<l>/bias:0'], datasets at
//                         <l>/<l>/kernel:0 and <l>/<l>/bias:0
//   style 'download'      vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 as Keras downloads
//                         it: weight_names ['<l>_W_1:0', '<l>_b_1:0'], datasets directly in the
//                         layer group (<l>/<l>_W_1:0); input_1 and the pooling layers listed with
//                         no weights
//   style 'model'         model.save(): the save_weights layout inside model_weights/, and a
//                         model_config attribute at the root
// Strings are fixed-length byte strings, as h5py writes them. Values are float32 HWIO kernels
// and biases, drawn from a seeded generator; `layers` overrides or removes single layers.

import h5wasm from 'h5wasm';
import { VGG19_LAYERS } from '../src/model/vgg19_layers.ts';
import { randomArray } from './helpers.ts';

export type KerasStyle = 'save_weights' | 'download' | 'model';

export interface FixtureLayer {
  kernel: Float32Array;
  kernelShape: number[];
  bias: Float32Array;
  biasShape: number[];
}

export interface FixtureOptions {
  style: KerasStyle;
  seed?: number;
  /** per layer: null leaves it out, a FixtureLayer replaces it */
  layers?: Record<string, FixtureLayer | null>;
  /** extra layers with weights (names and shapes), e.g. a non-VGG network */
  only?: Array<{ name: string; shapes: number[][] }>;
}

const randomCache = new Map<number, Map<string, FixtureLayer>>();

/** VGG19's layers with random values (what a fixture holds unless overridden); cached per seed, do not modify. */
export function vgg19Random(seed = 1): Map<string, FixtureLayer> {
  const cached = randomCache.get(seed);
  if (cached) return new Map(cached);
  const out = new Map<string, FixtureLayer>();
  VGG19_LAYERS.forEach((l, i) => {
    const kernelShape = [3, 3, l.cin, l.cout];
    out.set(l.name, {
      kernel: randomArray(9 * l.cin * l.cout, seed * 100 + i, -0.1, 0.1),
      kernelShape,
      bias: randomArray(l.cout, seed * 100 + 50 + i, -1, 1),
      biasShape: [l.cout],
    });
  });
  randomCache.set(seed, out);
  return new Map(out);
}

let counter = 0;

/** Writes the fixture and returns the file's bytes (and the layers written). */
export async function writeKerasH5(opts: FixtureOptions): Promise<{ bytes: Uint8Array; layers: Map<string, FixtureLayer> }> {
  const module = await h5wasm.ready;
  const FS = module.FS as unknown as { readFile(p: string): Uint8Array; unlink(p: string): void };
  const path = `/fixture-${process.pid}-${++counter}.h5`;
  const layers = vgg19Random(opts.seed ?? 1);
  for (const [name, l] of Object.entries(opts.layers ?? {})) {
    if (l === null) layers.delete(name);
    else layers.set(name, l);
  }
  const f = new h5wasm.File(path, 'w');
  try {
    const fixed = (strings: string[]) => `S${Math.max(1, ...strings.map((s) => s.length))}`;
    const attr = (g: InstanceType<typeof h5wasm.Group>, name: string, strings: string[]) => {
      if (strings.length) g.create_attribute(name, strings, [strings.length], fixed(strings));
      else g.create_attribute(name, new Float64Array(0), [0], '<d'); // numpy's empty array (float64), as Keras writes it
    };
    let root: InstanceType<typeof h5wasm.Group> = f;
    if (opts.style === 'model') {
      f.create_attribute('model_config', JSON.stringify({ class_name: 'Functional', config: { name: 'vgg19' } }));
      root = f.create_group('model_weights');
    }
    // The names first: Keras writes the root's attributes before the layer groups.
    const names: string[] = opts.only ? opts.only.map((o) => o.name) : [];
    if (!opts.only) {
      if (opts.style === 'download') names.push('input_1');
      for (const l of VGG19_LAYERS) {
        if (layers.has(l.name)) names.push(l.name);
        if (l.poolAfter) names.push(`block${l.block}_pool`);
      }
    }
    attr(root, 'layer_names', names);
    if (opts.style !== 'download') {
      root.create_attribute('backend', 'tensorflow');
      root.create_attribute('keras_version', '2.15.0');
    }
    if (opts.only) {
      for (const { name, shapes } of opts.only) {
        const g = root.create_group(name);
        const wn = shapes.map((_, i) => `${name}/w${i}:0`);
        attr(g, 'weight_names', wn);
        const inner = g.create_group(name);
        shapes.forEach((shape, i) => {
          const n = shape.reduce((a, b) => a * b, 1);
          inner.create_dataset({ name: `w${i}:0`, data: randomArray(n, i), shape, dtype: '<f4' });
        });
      }
    } else {
      for (const name of names) {
        const g = root.create_group(name);
        const layer = layers.get(name);
        if (!layer) {
          attr(g, 'weight_names', []);
          continue;
        }
        if (opts.style === 'download') {
          const wn = [`${name}_W_1:0`, `${name}_b_1:0`];
          attr(g, 'weight_names', wn);
          g.create_dataset({ name: wn[0], data: layer.kernel, shape: layer.kernelShape, dtype: '<f4' });
          g.create_dataset({ name: wn[1], data: layer.bias, shape: layer.biasShape, dtype: '<f4' });
        } else {
          attr(g, 'weight_names', [`${name}/kernel:0`, `${name}/bias:0`]);
          const inner = g.create_group(name);
          inner.create_dataset({ name: 'kernel:0', data: layer.kernel, shape: layer.kernelShape, dtype: '<f4' });
          inner.create_dataset({ name: 'bias:0', data: layer.bias, shape: layer.biasShape, dtype: '<f4' });
        }
      }
    }
  } finally {
    f.close();
  }
  const bytes = FS.readFile(path).slice();
  FS.unlink(path);
  return { bytes, layers };
}
