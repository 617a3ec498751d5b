// Weight loading: the real VGG19 pack in ../shared/vgg19, synthetic manifests that pin down
// every decoding path (float32, float16, uint8, uint16, multi-shard groups), and bad input,
// where each error message must name the file and the problem. CPU only, no GPU.
// Temporary packs are built under os.tmpdir(); /work/shared is read-only and never written.

import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeWeightGroups, halfToFloat, parseManifest, verifyChecksums, type WeightGroup } from '../src/model/tfjs_manifest.ts';
import { loadVgg19Weights } from '../src/model/weights.ts';
import { VGG19_LAYERS, VGG19_LAYER_NAMES } from '../src/model/vgg19_layers.ts';
import {
  REPO_ROOT,
  WEIGHTS_DIR_SPEC,
  loadVgg19WeightsFromDir,
  nodeReadFile,
  resolveDataDir,
  resolveExampleImage,
  resolveWeightsDir,
} from '../src/model/locate.ts';
import { checksumCachePath, nodeChecksumCache } from '../src/model/checksum_cache.ts';

const PACK = resolve(REPO_ROOT, '..', 'shared', 'vgg19');
const AZERTAT = join(PACK, 'sources', 'azertat-tfjs-uint8'); // model.json, one group, 20 of 138 shards
const ENV_VARS = ['NEURAL_STYLE_WEIGHTS', 'NEURAL_STYLE_IMAGES'] as const;

let tmpRoot = '';
let tmpCount = 0;
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  tmpRoot = await mkdtemp(join(tmpdir(), 'weights-test-'));
  for (const v of ENV_VARS) savedEnv[v] = process.env[v];
});
afterAll(async () => {
  for (const v of ENV_VARS) {
    if (savedEnv[v] === undefined) delete process.env[v];
    else process.env[v] = savedEnv[v];
  }
  if (tmpRoot) await rm(tmpRoot, { recursive: true, force: true });
});
// Every test starts without the env overrides, so defaults are what is tested unless set.
beforeEach(() => {
  for (const v of ENV_VARS) delete process.env[v];
});
afterEach(() => {
  for (const v of ENV_VARS) delete process.env[v];
});

/** A fresh empty folder under the test's temp root. */
async function freshDir(name: string): Promise<string> {
  const dir = join(tmpRoot, `${tmpCount++}-${name}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** The message of the error `f` throws or rejects with (fails the test if it does not). */
async function errorOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error, none was thrown');
}

/** Writes a manifest and its shard files into a fresh folder; returns the folder. */
async function writePack(name: string, manifest: unknown, files: Record<string, Uint8Array>): Promise<string> {
  const dir = await freshDir(name);
  await writeFile(join(dir, 'weights_manifest.json'), JSON.stringify(manifest));
  for (const [f, bytes] of Object.entries(files)) await writeFile(join(dir, f), bytes);
  return dir;
}

/** The real pack's manifest as plain JSON, to edit. */
async function realManifest(): Promise<WeightGroup[]> {
  return JSON.parse(await readFile(join(PACK, 'weights_manifest.json'), 'utf8'));
}

/** A copy of the real pack in a temp folder: .bin files symlinked (unless listed in `skip`). */
async function linkPack(name: string, manifest: WeightGroup[], opts: { sums?: string | null; skip?: string[] } = {}): Promise<string> {
  const dir = await freshDir(name);
  await writeFile(join(dir, 'weights_manifest.json'), JSON.stringify(manifest));
  for (const l of VGG19_LAYER_NAMES) {
    const f = `${l}.bin`;
    if (!opts.skip?.includes(f)) await symlink(join(PACK, f), join(dir, f));
  }
  const sums = opts.sums === undefined ? await readFile(join(PACK, 'SHA256SUMS'), 'utf8') : opts.sums;
  if (sums !== null) await writeFile(join(dir, 'SHA256SUMS'), sums);
  return dir;
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// ----------------------------------------------------------------------------------------
describe('the real VGG19 pack', () => {
  it('is found by default and has all 16 layers with VGG19 shapes, blocks 4-5 quantized', async () => {
    const found = resolveWeightsDir();
    expect(found.how).toBe('default');
    if (!existsSync(join(REPO_ROOT, 'weights', 'vgg19'))) expect(found.dir).toBe(PACK);

    const progress: Array<[number, number]> = [];
    const t0 = performance.now();
    const w = await loadVgg19WeightsFromDir(undefined, { onProgress: (a, b) => progress.push([a, b]) });
    const ms = performance.now() - t0;
    console.log(`loaded ${w.layers.size} layers from ${w.source} in ${ms.toFixed(0)} ms`);

    expect(w.source).toBe(found.dir);
    expect([...w.layers.keys()]).toEqual(VGG19_LAYER_NAMES);
    for (const l of VGG19_LAYERS) {
      const { kernel, bias } = w.layers.get(l.name)!;
      expect(kernel.length, l.name).toBe(9 * l.cin * l.cout);
      expect(bias.length, l.name).toBe(l.cout);
      expect(kernel.every(Number.isFinite) && bias.every(Number.isFinite), `${l.name} finite`).toBe(true);
    }
    expect(w.quantizedLayers).toEqual(VGG19_LAYERS.filter((l) => l.block >= 4).map((l) => l.name));

    // Progress: starts at 0, never goes back, ends at the total (= the 16 conv tensors' bytes).
    const total = progress[0][1];
    expect(progress[0][0]).toBe(0);
    expect(progress.at(-1)).toEqual([total, total]);
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThanOrEqual(progress[i - 1][0]);
  });

  it('block1_conv1 equals the float32 values read directly from block1_conv1.bin', async () => {
    const w = await loadVgg19WeightsFromDir(PACK);
    const raw = await readFile(join(PACK, 'block1_conv1.bin'));
    const f32 = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const { kernel, bias } = w.layers.get('block1_conv1')!;
    expect(f32.length).toBe(3 * 3 * 3 * 64 + 64);
    expect(kernel).toEqual(f32.subarray(0, 1728));
    expect(bias).toEqual(f32.subarray(1728));
  });

  it('loads the other conversion through model.json (one group, 20 of 138 shards present) and agrees', async () => {
    // Exercises the model.json fallback, a multi-shard group, and not reading unneeded shards.
    const pack = await loadVgg19WeightsFromDir(PACK);
    const az = await loadVgg19Weights(nodeReadFile(AZERTAT), { source: AZERTAT });
    expect(az.quantizedLayers).toEqual(VGG19_LAYER_NAMES); // all uint8 there
    const model = parseManifest(JSON.parse(await readFile(join(AZERTAT, 'model.json'), 'utf8')), 'model.json');
    const scales = new Map(model.groups[0].weights.map((e) => [e.name, e.quantization!.scale!]));
    for (const l of VGG19_LAYERS) {
      for (const kind of ['kernel', 'bias'] as const) {
        const a = pack.layers.get(l.name)![kind];
        const b = az.layers.get(l.name)![kind];
        let maxDiff = 0;
        for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        // Blocks 4-5 of the pack are these very uint8 values; blocks 1-3 are exact float32,
        // within half a quantization step of them (the pack's README).
        if (l.block >= 4) expect(maxDiff, `${l.name}/${kind}`).toBe(0);
        else expect(maxDiff, `${l.name}/${kind}`).toBeLessThanOrEqual(scales.get(`${l.name}/${kind}`)! * 0.5 * (1 + 1e-5));
      }
    }
  });
});

// ----------------------------------------------------------------------------------------
describe('synthetic manifests: exact decoding', () => {
  it('float32 values come back bit for bit', async () => {
    const vals = new Float32Array([1.5, -2.25, 3.4028234663852886e38, 1.401298464324817e-45, -0, 0.1]);
    const dir = await writePack('f32', [{ paths: ['a.bin'], weights: [{ name: 'a', shape: [2, 3], dtype: 'float32' }] }], {
      'a.bin': bytesOf(vals),
    });
    const m = parseManifest(JSON.parse(await readFile(join(dir, 'weights_manifest.json'), 'utf8')), 'weights_manifest.json');
    const t = (await decodeWeightGroups(m, nodeReadFile(dir))).get('a')!;
    expect(t.shape).toEqual([2, 3]);
    expect(t.data).toEqual(vals);
    expect(Object.is(t.data[4], -0)).toBe(true);
  });

  it('float16: normals, subnormals, ±0, ±inf, NaN', async () => {
    // [bits, value]
    const cases: Array<[number, number]> = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504], // largest finite half
      [0x0400, 2 ** -14], // smallest normal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x8001, -(2 ** -24)],
      [0x0000, 0],
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x7e00, NaN],
      [0xfc01, NaN],
    ];
    const bits = new Uint16Array(cases.map((c) => c[0]));
    const dir = await writePack(
      'f16',
      [{ paths: ['h.bin'], weights: [{ name: 'h', shape: [cases.length], dtype: 'float32', quantization: { dtype: 'float16' } }] }],
      { 'h.bin': bytesOf(bits) },
    );
    const m = parseManifest(JSON.parse(await readFile(join(dir, 'weights_manifest.json'), 'utf8')), 'm');
    const got = (await decodeWeightGroups(m, nodeReadFile(dir))).get('h')!.data;
    cases.forEach(([b, v], i) => {
      expect(Object.is(got[i], v), `0x${b.toString(16)} → ${got[i]}, want ${v}`).toBe(true);
      expect(Object.is(halfToFloat(b), v)).toBe(true);
    });
  });

  it('uint8 and uint16 dequantize to q*scale+min, several weights over two shards split mid-weight', async () => {
    const q8 = new Uint8Array([0, 1, 128, 255]);
    const q16 = new Uint16Array([0, 1, 40000, 65535]);
    const f32 = new Float32Array([7.25, -0.5]);
    // Stream: q8 (4 B) | q16 (8 B) | f32 (8 B) = 20 B, cut into shards of 6 and 14 bytes.
    const stream = new Uint8Array(20);
    stream.set(q8, 0);
    stream.set(bytesOf(q16), 4);
    stream.set(bytesOf(f32), 12);
    const s8 = { dtype: 'uint8', scale: 0.1, min: -1 };
    const s16 = { dtype: 'uint16', scale: 3.0517578125e-5, min: -0.75 };
    const manifest = {
      // a whole model.json object is accepted too
      format: 'layers-model',
      weightsManifest: [
        {
          paths: ['g-shard1of2', 'g-shard2of2'],
          weights: [
            { name: 'q8', shape: [4], dtype: 'float32', quantization: { ...s8, original_dtype: 'float32' } },
            { name: 'q16', shape: [2, 2], dtype: 'float32', quantization: s16 },
            { name: 'f', shape: [2], dtype: 'float32' },
          ],
        },
      ],
    };
    const dir = await writePack('quant', manifest, { 'g-shard1of2': stream.subarray(0, 6), 'g-shard2of2': stream.subarray(6) });
    const m = parseManifest(manifest, 'model.json');
    const out = await decodeWeightGroups(m, nodeReadFile(dir));
    expect(out.get('q8')!.data).toEqual(Float32Array.from(q8, (q) => q * s8.scale + s8.min));
    expect(out.get('q16')!.data).toEqual(Float32Array.from(q16, (q) => q * s16.scale + s16.min));
    expect(out.get('q16')!.shape).toEqual([2, 2]);
    expect(out.get('f')!.data).toEqual(f32);
    expect(Array.from(out.get('q8')!.data)).toEqual([-1, -0.9, 11.8, 24.5].map(Math.fround));

    // With a names filter, shards past the last needed byte are not read (delete shard 2).
    await rm(join(dir, 'g-shard2of2'));
    const only = await decodeWeightGroups(m, nodeReadFile(dir), { names: ['q8'] });
    expect([...only.keys()]).toEqual(['q8']);
  });

  it('rejects int32 weights and malformed manifests with the source named', async () => {
    const dir = await writePack('int32', [{ paths: ['i.bin'], weights: [{ name: 'steps', shape: [2], dtype: 'int32' }] }], {
      'i.bin': new Uint8Array(8),
    });
    const m = parseManifest([{ paths: ['i.bin'], weights: [{ name: 'steps', shape: [2], dtype: 'int32' }] }], 'x/weights_manifest.json');
    const msg = await errorOf(() => decodeWeightGroups(m, nodeReadFile(dir)));
    expect(msg).toContain('x/weights_manifest.json');
    expect(msg).toContain('steps');
    expect(msg).toContain('int32');

    expect(await errorOf(() => parseManifest({ modelTopology: {} }, 'a/model.json'))).toMatch(/a\/model\.json: .*weightsManifest/);
    expect(await errorOf(() => parseManifest([{ weights: [] }], 'm.json'))).toMatch(/m\.json: .*group 0.*paths/);
    expect(await errorOf(() => parseManifest([{ paths: ['a'], weights: [{ name: 'k', shape: [3, -1], dtype: 'float32' }] }], 'm.json'))).toMatch(
      /m\.json: .*"k".*shape/,
    );
    expect(
      await errorOf(() =>
        parseManifest([{ paths: ['a'], weights: [{ name: 'k', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } }] }], 'm.json'),
      ),
    ).toMatch(/m\.json: .*"k".*scale/);
    expect(await errorOf(() => parseManifest(42, 'm.json'))).toMatch(/^m\.json: /);
  });
});

// ----------------------------------------------------------------------------------------
describe('bad input: every error names the file and the problem', () => {
  it('an explicit weights folder that does not exist, or has no manifest', async () => {
    const missing = join(tmpRoot, 'no-such-folder');
    const msg = await errorOf(() => loadVgg19WeightsFromDir(missing));
    expect(msg).toContain(missing);
    expect(msg).toContain('does not exist');
    expect(msg).toContain('--weights');
    expect(msg).toContain('weights/README.md');

    const empty = await freshDir('empty');
    const msg2 = await errorOf(() => loadVgg19WeightsFromDir(empty));
    expect(msg2).toContain(empty);
    expect(msg2).toContain('neither weights_manifest.json nor model.json');
  });

  it('NEURAL_STYLE_WEIGHTS pointing nowhere (and it wins over the defaults)', async () => {
    const nowhere = join(tmpRoot, 'env-nowhere');
    process.env.NEURAL_STYLE_WEIGHTS = nowhere;
    const msg = await errorOf(() => loadVgg19WeightsFromDir());
    expect(msg).toContain(nowhere);
    expect(msg).toContain('NEURAL_STYLE_WEIGHTS');
    expect(msg).toContain('weights/README.md');

    process.env.NEURAL_STYLE_WEIGHTS = AZERTAT;
    expect(resolveWeightsDir()).toEqual({ dir: AZERTAT, how: 'env' });
    expect(resolveWeightsDir(PACK)).toEqual({ dir: PACK, how: 'argument' }); // argument beats env
  });

  it('no default location: the error lists every place looked at and the fixes', () => {
    const spec = { ...WEIGHTS_DIR_SPEC, defaults: [join(tmpRoot, 'd1'), join(tmpRoot, 'd2')] };
    const msg = (() => {
      try {
        resolveDataDir(spec);
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    for (const s of [join(tmpRoot, 'd1'), join(tmpRoot, 'd2'), '--weights', 'NEURAL_STYLE_WEIGHTS', 'weights/README.md']) expect(msg).toContain(s);
  });

  it('a manifest whose shape does not match VGG19', async () => {
    const manifest = await realManifest();
    const k = manifest.flatMap((g) => g.weights).find((w) => w.name === 'block2_conv1/kernel')!;
    k.shape = [3, 3, 64, 64];
    const dir = await linkPack('shape', manifest);
    const msg = await errorOf(() => loadVgg19WeightsFromDir(dir));
    expect(msg).toBe(`${join(dir, 'weights_manifest.json')}: block2_conv1/kernel has shape [3,3,64,64], VGG19 needs [3,3,64,128]`);
  });

  it('a manifest missing a layer', async () => {
    const manifest = (await realManifest()).filter((g) => !g.paths.includes('block3_conv2.bin'));
    const dir = await linkPack('missing-layer', manifest);
    const msg = await errorOf(() => loadVgg19WeightsFromDir(dir));
    expect(msg).toContain(join(dir, 'weights_manifest.json'));
    expect(msg).toContain('block3_conv2');
    expect(msg).toContain('missing');
  });

  it('a truncated .bin', async () => {
    const dir = await linkPack('truncated', await realManifest(), { sums: null, skip: ['block1_conv2.bin'] });
    const full = await readFile(join(PACK, 'block1_conv2.bin'));
    await writeFile(join(dir, 'block1_conv2.bin'), full.subarray(0, 100_000));
    const msg = await errorOf(() => loadVgg19WeightsFromDir(dir));
    expect(msg).toContain(join(dir, 'block1_conv2.bin'));
    expect(msg).toContain('truncated');
    expect(msg).toContain(`need ${full.byteLength} bytes`);
    expect(msg).toContain('found 100000 bytes');
  });

  it('a missing .bin', async () => {
    const dir = await linkPack('missing-bin', await realManifest(), { skip: ['block5_conv3.bin'] });
    const msg = await errorOf(() => loadVgg19WeightsFromDir(dir));
    expect(msg).toBe(`${join(dir, 'block5_conv3.bin')}: file not found`);
  });

  it('a checksum mismatch (and verify: false skips the check)', async () => {
    const sums = await readFile(join(PACK, 'SHA256SUMS'), 'utf8');
    const line = sums.split('\n').find((l) => l.endsWith('block2_conv2.bin'))!;
    const actual = line.slice(0, 64);
    const wrong = (actual[0] === '0' ? '1' : '0') + actual.slice(1);
    const dir = await linkPack('sums', await realManifest(), { sums: sums.replace(actual, wrong) });
    const msg = await errorOf(() => loadVgg19WeightsFromDir(dir));
    expect(msg).toContain(join(dir, 'block2_conv2.bin'));
    expect(msg).toContain('SHA-256 mismatch');
    expect(msg).toContain(wrong);
    expect(msg).toContain(actual);

    const w = await loadVgg19WeightsFromDir(dir, { verify: false });
    expect(w.layers.size).toBe(16);
  });

  it('SHA256SUMS: binary marker accepted, unlisted files skipped, malformed lines rejected', async () => {
    const dir = await freshDir('sums-unit');
    await copyFile(join(PACK, 'block1_conv1.bin'), join(dir, 'a.bin'));
    await writeFile(join(dir, 'b.bin'), new Uint8Array([1, 2, 3]));
    const hash = (await readFile(join(PACK, 'SHA256SUMS'), 'utf8')).split('\n').find((l) => l.endsWith('block1_conv1.bin'))!.slice(0, 64);
    const read = nodeReadFile(dir);
    expect(await verifyChecksums(`# comment\r\n${hash} *a.bin\r\n`, read, ['a.bin', 'b.bin'], 'SUMS')).toEqual(['a.bin']);
    expect(await errorOf(() => verifyChecksums(`${hash} a.bin\n`, read, ['a.bin'], 'x/SUMS'))).toMatch(/^x\/SUMS:1: not a SHA256SUMS line/);
  });

  it('example images: found by name, or a clear error listing what is there', async () => {
    const p = resolveExampleImage('tubingen.jpg');
    expect(p).toBe(resolve(REPO_ROOT, '..', 'shared', 'images', 'tubingen.jpg'));
    expect(resolveExampleImage(p)).toBe(p);
    const msg = await errorOf(() => resolveExampleImage('no_such.jpg'));
    expect(msg).toContain('no_such.jpg');
    expect(msg).toContain('file not found');
    expect(msg).toContain('starry_night.jpg');

    process.env.NEURAL_STYLE_IMAGES = join(tmpRoot, 'no-images');
    const msg2 = await errorOf(() => resolveExampleImage('tubingen.jpg'));
    expect(msg2).toContain(join(tmpRoot, 'no-images'));
    expect(msg2).toContain('NEURAL_STYLE_IMAGES');
  });
});

describe('checksum cache (src/model/checksum_cache.ts): hashes checked once, a changed file caught', () => {
  let savedCache: string | undefined;
  beforeAll(() => {
    savedCache = process.env.XDG_CACHE_HOME;
  });
  afterAll(() => {
    if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCache;
  });

  it('a file the cache vouches for is not hashed again (verifyChecksums skips it)', async () => {
    const dir = await linkPack('cache-skip', await realManifest(), { skip: ['block1_conv1.bin'] });
    const bytes = new Uint8Array(await readFile(join(PACK, 'block1_conv1.bin')));
    bytes[100] ^= 0xff; // damaged, same size
    await writeFile(join(dir, 'block1_conv1.bin'), bytes);
    const sums = await readFile(join(dir, 'SHA256SUMS'), 'utf8');
    const asked: string[] = [];
    const trusting = { known: async (f: string) => (asked.push(f), true), remember: async () => {} };
    // with a cache that knows every file, the damage goes unseen: proof that nothing was hashed
    expect(await verifyChecksums(sums, nodeReadFile(dir), ['block1_conv1.bin'], 'SHA256SUMS', trusting)).toEqual(['block1_conv1.bin']);
    expect(asked).toEqual(['block1_conv1.bin']);
    // without it, the mismatch is reported
    expect(await errorOf(() => verifyChecksums(sums, nodeReadFile(dir), ['block1_conv1.bin'], 'SHA256SUMS'))).toMatch(/block1_conv1\.bin: SHA-256 mismatch/);
  });

  it('the first load records every file; a modified file is hashed again and refused', async () => {
    process.env.XDG_CACHE_HOME = await freshDir('xdg-cache');
    const dir = await linkPack('cache-modify', await realManifest(), { skip: ['block1_conv1.bin'] });
    await copyFile(join(PACK, 'block1_conv1.bin'), join(dir, 'block1_conv1.bin'));
    await loadVgg19WeightsFromDir(dir);
    const cacheFile = checksumCachePath();
    expect(cacheFile).toBe(join(process.env.XDG_CACHE_HOME, 'neural-style-webgpu', 'weights-sha256.json'));
    const recorded = JSON.parse(await readFile(cacheFile, 'utf8')) as { version: number; files: Record<string, { sha256: string }> };
    expect(Object.keys(recorded.files).sort()).toEqual(VGG19_LAYER_NAMES.map((l) => join(dir, `${l}.bin`)).sort());
    const sums = await readFile(join(dir, 'SHA256SUMS'), 'utf8');
    const cache = nodeChecksumCache(dir);
    const expected = parseSums(sums);
    for (const l of VGG19_LAYER_NAMES) expect(await cache.known(`${l}.bin`, expected.get(`${l}.bin`)!)).toBe(true);
    expect(await cache.known('block1_conv1.bin', '0'.repeat(64))).toBe(false); // SHA256SUMS changed

    // the same size, one byte changed, a later modification time: hashed again, refused
    const f = join(dir, 'block1_conv1.bin');
    const bytes = new Uint8Array(await readFile(f));
    bytes[100] ^= 0xff;
    await writeFile(f, bytes);
    const later = new Date(Date.now() + 5000);
    await utimes(f, later, later);
    expect(await cache.known('block1_conv1.bin', expected.get('block1_conv1.bin')!)).toBe(false);
    expect(await errorOf(() => loadVgg19WeightsFromDir(dir))).toMatch(/block1_conv1\.bin: SHA-256 mismatch/);
  });
});

function parseSums(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (r) m.set(r[2], r[1]);
  }
  return m;
}
