// The fast start (issue 11, item 1): what was cut from the set-up before the first evaluation
// must not change any result.
//   - (the v7 weight transform done at load, src/model/conv_weights.ts, is checked against its
//     reference in test/kernels.test.ts)
//   - The content target taken from the first evaluation's forward
//     (contentTargetAtFirstEvaluation) gives the same loss and gradient, bit for bit, as the
//     target computed by a forward of its own; a first evaluation elsewhere than x = content is
//     detected and then computes the target first (again the same numbers).
//   - `neural-style eval --json` reports setupSeconds (process start to the first evaluation):
//     present, positive, less than totalSeconds.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage, readFloats, uploadStorage } from '../src/gpu/runtime.ts';
import { readImageFile } from '../src/image/node.ts';
import { Vgg19 } from '../src/model/vgg19.ts';
import { makeConfig } from '../src/style/config.ts';
import { StyleObjective } from '../src/style/objective.ts';
import { prepareImages } from '../src/style/transfer.ts';
import { loadVgg19WeightsFromDir } from '../src/model/locate.ts';
import { cli, ROOT, STARRY, TUBINGEN } from './cli_helpers.ts';
import { gpu } from './helpers.ts';

const haveData = existsSync(TUBINGEN) && existsSync(STARRY) && existsSync(resolve(ROOT, '..', 'shared', 'vgg19'));

describe.skipIf(!haveData)('content target from the first evaluation', () => {
  const cfg = makeConfig('notebook');
  let net: Vgg19;
  let prep: ReturnType<typeof prepareImages>;
  beforeAll(async () => {
    const ctx = await gpu();
    net = await Vgg19.create(ctx, await loadVgg19WeightsFromDir(), { pooling: cfg.pooling, upTo: 'block5_conv2' });
    prep = prepareImages(await readImageFile(TUBINGEN), await readImageFile(STARRY), 48, 'nearest', 16);
  }, 120_000);

  /** Loss terms and gradient of evaluations at the given points (in order) of one objective. */
  async function evaluations(deferred: boolean, points: Float32Array<ArrayBuffer>[]) {
    const ctx = await gpu();
    const obj = await StyleObjective.create(ctx, net, cfg, prep.rows, prep.cols, prep.content, prep.styles, { contentTargetAtFirstEvaluation: deferred });
    expect(obj.contentTargetPending).toBe(deferred);
    const out = [];
    for (const p of points) {
      const x = uploadStorage(ctx, p, 'x');
      const g = createStorage(ctx, obj.n * 4, 'g');
      const f = await obj.evaluate(x, g);
      out.push({ f, terms: obj.last!, grad: await readFloats(ctx, g, obj.n) });
      x.destroy();
      g.destroy();
    }
    expect(obj.contentTargetPending).toBe(false);
    return out;
  }

  it('at x = content: the same loss terms and gradient as the target computed first', async () => {
    const other = Float32Array.from(prep.content, (v, i) => v + 5 * Math.sin(i));
    const [ref, def] = [await evaluations(false, [prep.content, other]), await evaluations(true, [prep.content, other])];
    for (let k = 0; k < 2; k++) {
      expect(def[k].terms, `evaluation ${k + 1}`).toEqual(ref[k].terms);
      expect(Array.from(def[k].grad)).toEqual(Array.from(ref[k].grad));
    }
    expect(ref[0].terms.content).toBe(0); // x = content: P equals the features
    expect(ref[1].terms.content).toBeGreaterThan(0);
  });

  it('a first evaluation elsewhere is detected: the target is computed first, the same numbers', async () => {
    const other = Float32Array.from(prep.content, (v, i) => v + 5 * Math.sin(i));
    const [ref, def] = [await evaluations(false, [other, prep.content]), await evaluations(true, [other, prep.content])];
    for (let k = 0; k < 2; k++) {
      expect(def[k].terms, `evaluation ${k + 1}`).toEqual(ref[k].terms);
      expect(Array.from(def[k].grad)).toEqual(Array.from(ref[k].grad));
    }
    expect(def[0].terms.content).toBeGreaterThan(0); // a wrong P (the features of `other`) would give 0
  });
});

describe.skipIf(!haveData)('setupSeconds in the JSON reports', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'setup-test-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('eval --json: setupSeconds present, positive, less than totalSeconds', async () => {
    const json = join(tmp, 'eval.json');
    const r = await cli(['eval', '--content', TUBINGEN, '--style', STARRY, '--rows', '48', '--json', json], 300_000);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(json, 'utf8'));
    console.log(`eval at 48 rows: setupSeconds ${rep.setupSeconds}, seconds (targets + evaluation) ${rep.seconds}, totalSeconds ${rep.totalSeconds}`);
    expect(typeof rep.setupSeconds).toBe('number');
    expect(rep.setupSeconds).toBeGreaterThan(0);
    expect(rep.setupSeconds).toBeLessThan(rep.totalSeconds);
  }, 320_000);
});
