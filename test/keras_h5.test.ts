// The Keras .h5 reader (src/model/keras_h5.ts, loadVgg19WeightsFromH5 in src/model/weights.ts) on
// files this test writes with the same library (h5wasm; test/keras_h5_fixture.ts): the three
// layouts Keras writes (save_weights, the downloaded notop file with its Keras 1 weight names,
// model.save's model_weights/), at VGG19's real shapes with random values; every tensor must
// come back bit for bit. Bad input: a missing layer, a wrong shape, a truncated file, bytes that
// are not HDF5 and HDF5 without VGG19 layers each give one line naming the file (and the layer).
// CPU only, no GPU.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kerasCachedWeights, loadVgg19WeightsFromDir, resolveWeights, WEIGHTS_DIR_SPEC } from '../src/model/locate.ts';
import { looksLikeHdf5 } from '../src/model/keras_h5.ts';
import { VGG19_LAYERS } from '../src/model/vgg19_layers.ts';
import { isH5Name, loadVgg19WeightsFromH5 } from '../src/model/weights.ts';
import { cli, STARRY, TUBINGEN } from './cli_helpers.ts';
import { tempDir } from './temp_dir.ts';
import { type FixtureLayer, type KerasStyle, vgg19Random, writeKerasH5 } from './keras_h5_fixture.ts';

const NAME = '/data/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5';

/** The error message of a load that must fail (one line). */
async function failure(bytes: Uint8Array, source = NAME): Promise<string> {
  try {
    await loadVgg19WeightsFromH5(bytes, { source });
  } catch (e) {
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg.startsWith(`${source}: `)).toBe(true);
    return msg;
  }
  throw new Error('the load did not fail');
}

describe('Keras .h5 weights', () => {
  for (const style of ['save_weights', 'download', 'model'] as KerasStyle[]) {
    it(`${style}: all 16 layers at VGG19's shapes come back exactly as written`, async () => {
      const { bytes, layers } = await writeKerasH5({ style, seed: 3 });
      expect(looksLikeHdf5(bytes)).toBe(true);
      const progress: number[] = [];
      const w = await loadVgg19WeightsFromH5(bytes, { source: NAME, onProgress: (l, t) => progress.push(l / t) });
      expect(w.source).toBe(NAME);
      expect(w.quantizedLayers).toEqual([]);
      expect([...w.layers.keys()]).toEqual(VGG19_LAYERS.map((l) => l.name));
      for (const l of VGG19_LAYERS) {
        const got = w.layers.get(l.name)!;
        const want = layers.get(l.name)!;
        expect(got.kernel.length, l.name).toBe(9 * l.cin * l.cout);
        expect(got.bias.length, l.name).toBe(l.cout);
        expect(Buffer.from(got.kernel.buffer, got.kernel.byteOffset, got.kernel.byteLength).equals(Buffer.from(want.kernel.buffer)), `${l.name} kernel`).toBe(true);
        expect(Buffer.from(got.bias.buffer, got.bias.byteOffset, got.bias.byteLength).equals(Buffer.from(want.bias.buffer)), `${l.name} bias`).toBe(true);
      }
      expect(progress[progress.length - 1]).toBe(1);
    });
  }

  it('a missing layer is named', async () => {
    const { bytes } = await writeKerasH5({ style: 'save_weights', layers: { block4_conv3: null } });
    const msg = await failure(bytes);
    expect(msg).toMatch(/VGG19 layer block4_conv3 is missing/);
    expect(msg).toMatch(/its layers: block1_conv1, block1_conv2/);
  });

  it('a wrong shape is named with both shapes', async () => {
    const l = vgg19Random(2).get('block2_conv1')!;
    const kernel = new Float32Array(3 * 3 * 64 * 64);
    const { bytes } = await writeKerasH5({ style: 'download', layers: { block2_conv1: { ...l, kernel, kernelShape: [3, 3, 64, 64] } } });
    expect(await failure(bytes)).toBe(`${NAME}: layer block2_conv1: kernel block2_conv1_W_1:0 has shape [3,3,64,64], VGG19 needs [3,3,64,128]`);
    const bias = new Float32Array(64);
    const b = await writeKerasH5({ style: 'model', layers: { block5_conv4: { ...vgg19Random(2).get('block5_conv4')!, bias, biasShape: [64] } } });
    expect(await failure(b.bytes)).toBe(`${NAME}: layer block5_conv4: bias block5_conv4/bias:0 has shape [64], VGG19 needs [512]`);
  });

  it('a truncated file: the sizes and the first layer that cannot be read are named', async () => {
    // The writer leaves the root group's index at the end (as h5py does): any cut loses it.
    const { bytes } = await writeKerasH5({ style: 'download' });
    for (const keep of [0.999, 0.5, 0.001]) {
      const cut = bytes.subarray(0, Math.floor(bytes.length * keep));
      expect(await failure(cut)).toBe(
        `${NAME}: truncated: it has ${cut.length} bytes, its header says ${bytes.length}; layer block1_conv1 cannot be found ` +
          "(the index of the layers, or the layer's own header, lies past the end). Download the file again.",
      );
    }
    // cut inside the superblock: HDF5 cannot even read the file's length
    expect(await failure(bytes.subarray(0, 40))).toMatch(/: HDF5 cannot open it: /);
  });

  it('bytes that are not HDF5, an empty file, and HDF5 without VGG19 layers', async () => {
    expect(await failure(new TextEncoder().encode('{"weightsManifest": []}'))).toMatch(/: not an HDF5 file \(it starts with 7b 22 77 65/);
    expect(await failure(new Uint8Array(0))).toMatch(/: not an HDF5 file \(it starts with nothing: the file is empty/);
    const { bytes } = await writeKerasH5({ style: 'save_weights', only: [{ name: 'dense_1', shapes: [[4, 2], [2]] }] });
    expect(await failure(bytes)).toBe(`${NAME}: not VGG19 weights: no layer named block1_conv1 … block5_conv4 (its layers: dense_1)`);
  });

  it('.h5 names are told from folders', () => {
    expect(isH5Name('a/b/vgg19.h5')).toBe(true);
    expect(isH5Name('https://x.org/w/vgg19_notop.H5?v=2')).toBe(true);
    expect(isH5Name('x.hdf5')).toBe(true);
    expect(isH5Name('weights/vgg19/')).toBe(false);
    expect(isH5Name('weights/h5')).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------
// The command line: --weights FILE.h5 (the real pack rewritten as the Keras download would
// hold it gives the same loss as the pack itself), and bad files: one line, exit 1.
// ------------------------------------------------------------------------------------------
describe('neural-style --weights FILE.h5', () => {
  const tmp = tempDir('ns-h5-');
  const evalArgs = (weights: string, json: string) => ['eval', '--content', TUBINGEN, '--style', STARRY, '--rows', '32', '--json', json, '--weights', weights];

  it('the real weights as a Keras .h5 give the same loss as the TF.js pack', async () => {
    const pack = await loadVgg19WeightsFromDir();
    const layers: Record<string, FixtureLayer> = {};
    for (const l of VGG19_LAYERS) {
      const { kernel, bias } = pack.layers.get(l.name)!;
      layers[l.name] = { kernel, kernelShape: [3, 3, l.cin, l.cout], bias, biasShape: [l.cout] };
    }
    const h5 = join(tmp.path, 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');
    await writeFile(h5, (await writeKerasH5({ style: 'download', layers })).bytes);
    const fromH5 = await cli(evalArgs(h5, join(tmp.path, 'h5.json')), 240_000);
    expect(fromH5.stderr).toBe(fromH5.stderr.trim() + '\n');
    expect(fromH5.code, fromH5.stderr).toBe(0);
    const fromPack = await cli(evalArgs(pack.source, join(tmp.path, 'pack.json')), 240_000);
    expect(fromPack.code, fromPack.stderr).toBe(0);
    const a = JSON.parse(await readFile(join(tmp.path, 'h5.json'), 'utf8'));
    const b = JSON.parse(await readFile(join(tmp.path, 'pack.json'), 'utf8'));
    expect(a.loss).toEqual(b.loss);
    expect(a.loss.total).toBeGreaterThan(0);
  });

  it('bad .h5 files: one line naming the file and the problem, exit 1', async () => {
    const notH5 = join(tmp.path, 'notes.h5');
    await writeFile(notH5, 'just text');
    const noVgg = join(tmp.path, 'dense.h5');
    await writeFile(noVgg, (await writeKerasH5({ style: 'save_weights', only: [{ name: 'dense_1', shapes: [[4, 2], [2]] }] })).bytes);
    const wrong = join(tmp.path, 'wrong.h5');
    const l = vgg19Random(4).get('block3_conv2')!;
    await writeFile(wrong, (await writeKerasH5({ style: 'save_weights', seed: 4, layers: { block3_conv2: { ...l, bias: new Float32Array(255), biasShape: [255] } } })).bytes);
    for (const [file, problem] of [
      [notH5, 'not an HDF5 file'],
      [noVgg, 'not VGG19 weights: no layer named block1_conv1'],
      [wrong, 'layer block3_conv2: bias block3_conv2/bias:0 has shape [255], VGG19 needs [256]'],
    ]) {
      const r = await cli(evalArgs(file, join(tmp.path, 'x.json')), 120_000);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toContain(`neural-style: error: --weights: ${file}: ${problem}`);
    }
  });
});

// ------------------------------------------------------------------------------------------
// Where the weights are found: an .h5 given by argument or NEURAL_STYLE_WEIGHTS, and Keras's
// download ($KERAS_HOME/models/, else ~/.keras/models/) after the default folders.
// ------------------------------------------------------------------------------------------
describe('finding an .h5 (src/model/locate.ts)', () => {
  const saved = { weights: process.env.NEURAL_STYLE_WEIGHTS, keras: process.env.KERAS_HOME };
  const tmp = tempDir('ns-keras-home-');
  afterAll(() => {
    for (const [k, v] of [['NEURAL_STYLE_WEIGHTS', saved.weights], ['KERAS_HOME', saved.keras]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('argument, environment, then the default folders, then Keras\'s download; none: every place and the Python line', async () => {
    delete process.env.NEURAL_STYLE_WEIGHTS;
    process.env.KERAS_HOME = join(tmp.path, 'keras');
    const spec = { ...WEIGHTS_DIR_SPEC, defaults: [join(tmp.path, 'no-folder')] };
    const keras = join(tmp.path, 'keras', 'models', 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');
    expect(kerasCachedWeights()).toBe(keras);
    expect(() => resolveWeights(undefined, spec)).toThrow(
      `VGG19 weights not found. Looked in: NEURAL_STYLE_WEIGHTS (not set), ${join(tmp.path, 'no-folder')}, ${keras} (none exists). ` +
        'Fix: pass --weights DIR or --weights FILE.h5, or set NEURAL_STYLE_WEIGHTS, or let Keras download the file once: python3 -c "import keras; keras.applications.VGG19(include_top=False)".',
    );
    await mkdir(dirname(keras), { recursive: true });
    await writeFile(keras, 'x');
    expect(resolveWeights(undefined, spec)).toEqual({ path: keras, kind: 'h5', how: 'default' });
    expect(resolveWeights(undefined)).toMatchObject({ kind: 'folder', how: 'default' }); // a default folder comes first
    const mine = join(tmp.path, 'mine.h5');
    await writeFile(mine, 'x');
    process.env.NEURAL_STYLE_WEIGHTS = mine;
    expect(resolveWeights(undefined, spec)).toEqual({ path: mine, kind: 'h5', how: 'env' });
    expect(resolveWeights(keras, spec)).toEqual({ path: keras, kind: 'h5', how: 'argument' });
    // the file found is read as Keras weights, and its problems are named
    expect(await loadVgg19WeightsFromDir().catch((e: Error) => e.message)).toMatch(new RegExp(`^${mine}: not an HDF5 file`));
  });
});
