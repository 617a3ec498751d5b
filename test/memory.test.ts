// GPU memory accounting (src/gpu/memory.ts): every buffer the runtime creates is counted and
// destroy() uncounts it; scopes free a stage's buffers; styleTransfer's multi-scale stages
// leave nothing behind and report their peak. Also resizeFloats (the upsampling between stages).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GpuContext } from '../src/gpu/device.ts';
import { gpuMemory } from '../src/gpu/memory.ts';
import { createStorage, createUniform, readFloats, uploadStorage } from '../src/gpu/runtime.ts';
import { VecOps } from '../src/optim/vecops.ts';
import { readImageFile } from '../src/image/node.ts';
import { resize, resizeFloats } from '../src/image/resize.ts';
import { Vgg19 } from '../src/model/vgg19.ts';
import { makeConfig } from '../src/style/config.ts';
import { styleTransfer, transferScales } from '../src/style/transfer.ts';
import type { TransferProgress } from '../src/style/types.ts';
import { loadVgg19WeightsFromDir } from '../src/model/locate.ts';
import { gpu } from './helpers.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMAGES = resolve(ROOT, '..', 'shared', 'images');
const haveData = existsSync(join(IMAGES, 'tubingen.jpg')) && existsSync(join(IMAGES, 'starry_night.jpg')) && existsSync(resolve(ROOT, '..', 'shared', 'vgg19'));

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpu();
});
afterAll(() => {
  ctx?.device.destroy();
});

describe('gpu memory accounting', () => {
  it('counts created buffers (sizes as allocated) and uncounts destroyed ones, once each', async () => {
    const m = gpuMemory(ctx);
    const before = m.stats();
    m.resetPeak();
    const a = createStorage(ctx, 1000, 'a'); // rounded up to 1008
    const b = uploadStorage(ctx, new Float32Array(300), 'b'); // 1200
    const u = createUniform(ctx, [1, 2, 3, 4, 5], 'u'); // 8 words: 32
    let s = m.stats();
    expect(s.liveBytes - before.liveBytes).toBe(1008 + 1200 + 32);
    expect(s.liveBuffers - before.liveBuffers).toBe(3);
    expect(s.created - before.created).toBe(3);
    expect(s.peakBytes).toBe(s.liveBytes);
    expect(s.buffersAtPeak).toBe(s.liveBuffers);

    // readBuffer's staging buffer is counted while it exists (the peak), then uncounted
    await readFloats(ctx, b, 300);
    s = m.stats();
    expect(s.created - before.created).toBe(4);
    expect(s.liveBuffers - before.liveBuffers).toBe(3);
    expect(s.peakBytes - before.liveBytes).toBe(1008 + 1200 + 32 + 1200);
    expect(s.buffersAtPeak - before.liveBuffers).toBe(4);

    a.destroy();
    a.destroy(); // a second destroy does not uncount again
    s = m.stats();
    expect(s.liveBytes - before.liveBytes).toBe(1200 + 32);
    expect(s.liveBuffers - before.liveBuffers).toBe(2);
    b.destroy();
    u.destroy();
    s = m.stats();
    expect(s.liveBytes).toBe(before.liveBytes);
    expect(s.liveBuffers).toBe(before.liveBuffers);
    expect(s.peakBytes - before.liveBytes).toBe(3440); // the peak stays until reset
    expect(s.peakBuffers - before.liveBuffers).toBe(4);
    m.resetPeak();
    expect(m.stats().peakBytes).toBe(before.liveBytes);
    expect(m.report()).toEqual({ peakGpuBytes: before.liveBytes, buffers: before.liveBuffers });
  });

  it("the optimizer's vector ops (device.createBuffer directly) are counted and freed", async () => {
    const m = gpuMemory(ctx);
    const before = m.stats();
    const ops = await VecOps.create(ctx, 1000);
    const v = ops.createVector('v'); // 1000 floats
    const mid = m.stats();
    expect(mid.liveBuffers - before.liveBuffers).toBeGreaterThanOrEqual(3); // scalars, partials, v
    expect(mid.liveBytes - before.liveBytes).toBeGreaterThanOrEqual(4000);
    v.forEach((b) => b.destroy());
    ops.destroy();
    expect(m.stats().liveBytes).toBe(before.liveBytes);
    expect(m.stats().liveBuffers).toBe(before.liveBuffers);
  });

  it('a scope frees the buffers created in it (except those kept, and not those made while unrecorded)', async () => {
    const m = gpuMemory(ctx);
    const before = m.stats();
    const outside = createStorage(ctx, 64, 'outside');
    const scope = m.beginScope();
    const x = createStorage(ctx, 64, 'x');
    const keep = createStorage(ctx, 64, 'keep');
    const gone = createStorage(ctx, 64, 'destroyed already');
    gone.destroy();
    const callers = await scope.unrecorded(() => createStorage(ctx, 64, "the caller's"));
    expect(scope.live).toBe(2);
    scope.destroyAll([keep]);
    const after = createStorage(ctx, 64, 'after the scope'); // not recorded: the scope is closed
    expect(m.stats().liveBuffers - before.liveBuffers).toBe(4); // outside, keep, callers, after
    for (const b of [outside, keep, callers, after]) b.destroy();
    expect(x.size).toBe(64);
    expect(m.stats().liveBytes).toBe(before.liveBytes);
  });

  it("adopt: a buffer made lazily for a longer-lived object leaves the inner scope and is freed with the object's scope (closed or not)", async () => {
    const m = gpuMemory(ctx);
    const before = m.stats();
    const run = m.beginScope(); // holds the object (the network)
    const owner = m.openScopes();
    run.close(); // the run stops recording once the object is made, as styleTransfer's does
    const stage = m.beginScope();
    const lazy = m.adopt(createStorage(ctx, 64, 'lazy'), owner); // made during the stage, for the object
    const own = createStorage(ctx, 64, "the stage's own");
    expect(stage.live).toBe(1);
    stage.destroyAll();
    expect(m.stats().liveBuffers - before.liveBuffers).toBe(1); // lazy survives the stage
    expect(run.live).toBe(1);
    run.destroyAll();
    expect(m.stats().liveBytes).toBe(before.liveBytes); // and goes with the object's scope
    // an owner that already freed its buffers takes nothing more; no owner: no scope frees it
    const late = m.adopt(createStorage(ctx, 64, 'late'), owner);
    expect(run.live).toBe(0);
    const s2 = m.beginScope();
    const unowned = m.adopt(createStorage(ctx, 64, 'unowned'), new Set());
    s2.destroyAll();
    expect(m.stats().liveBuffers - before.liveBuffers).toBe(2);
    for (const b of [late, unowned]) b.destroy();
    expect(own.size).toBe(64);
    expect(m.stats().liveBytes).toBe(before.liveBytes);
  });
});

describe('resizeFloats', () => {
  it('matches resize() on 8-bit images before its rounding, for every method; same size is a copy', () => {
    const img = { width: 7, height: 5, data: new Uint8ClampedArray(7 * 5 * 4).map((_, i) => (i * 37) % 256) };
    const f = Float32Array.from(img.data);
    for (const method of ['nearest', 'bilinear', 'area'] as const) {
      for (const [rows, cols] of [[11, 13], [3, 4], [5, 9]]) {
        const got = resizeFloats(f, 5, 7, 4, rows, cols, method);
        const want = resize(img, rows, cols, method).data;
        expect(got.length).toBe(rows * cols * 4);
        for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i]), `${method} ${rows}x${cols} [${i}]`).toBeLessThanOrEqual(0.5 + 1e-9);
      }
    }
    const same = resizeFloats(f, 5, 7, 4, 5, 7, 'bilinear');
    expect(Array.from(same)).toEqual(Array.from(f));
    expect(same).not.toBe(f);
    // no clamping: caffe values outside 0..255 survive
    const neg = resizeFloats(new Float32Array([-100, -100, -100, -100]), 2, 2, 1, 4, 4, 'bilinear');
    expect(Array.from(neg)).toEqual(new Array(16).fill(-100));
    expect(() => resizeFloats(f, 5, 6, 4, 2, 2, 'area')).toThrow(/is not 5×6×4/);
  });
});

describe('transferScales (TransferOptions.scales / scaleIterations)', () => {
  it('checks the stages', () => {
    expect(transferScales({ rows: 64 })).toEqual([64]);
    expect(transferScales({ rows: 64, scales: [32, 48, 64], scaleIterations: [1, 2, 3] })).toEqual([32, 48, 64]);
    expect(() => transferScales({ rows: 64, scales: [48, 32, 64] })).toThrow(/strictly ascending/);
    expect(() => transferScales({ rows: 64, scales: [32, 32, 64] })).toThrow(/strictly ascending/);
    expect(() => transferScales({ rows: 64, scales: [32, 48.5, 64] })).toThrow(/48.5 is not a positive integer/);
    expect(() => transferScales({ rows: 80, scales: [32, 64] })).toThrow(/last of scales \(64\) must equal rows \(80\)/);
    expect(() => transferScales({ rows: 64, scales: [] })).toThrow(/at least one/);
    expect(() => transferScales({ rows: 64, scales: [32, 64], scaleIterations: [1] })).toThrow(/1 items for 2 scales/);
    expect(() => transferScales({ rows: 64, scales: [32, 64], scaleIterations: [1, 0] })).toThrow(/0 is not a positive integer/);
    expect(() => transferScales({ rows: 64, scaleIterations: [1] })).toThrow(/needs scales/);
  });
});

describe.skipIf(!haveData)('styleTransfer: stages on one network', () => {
  it('32 → 48 rows: two stages, progress names them, their buffers are freed, the peak is reported', async () => {
    const [weights, content, style] = await Promise.all([
      loadVgg19WeightsFromDir(),
      readImageFile(join(IMAGES, 'tubingen.jpg')),
      readImageFile(join(IMAGES, 'starry_night.jpg')),
    ]);
    const config = makeConfig('notebook', {});
    const net = await Vgg19.create(ctx, weights, { pooling: config.pooling });
    const m = gpuMemory(ctx);
    // The network makes a layer's flip-transposed kernel when a plan first runs a direct backward
    // there, and keeps it (it is the network's, not the stage's): plans of both sizes first, so the
    // count below holds only what the stages make.
    const warm = m.beginScope();
    for (const rows of [32, 48]) await net.plan(rows, Math.round((rows * 4) / 3), [config.contentLayer, ...config.styleLayers]);
    warm.destroyAll();
    const before = m.stats();
    const seen: Array<Pick<TransferProgress, 'stage' | 'stages' | 'rows' | 'cols' | 'iteration' | 'planned'>> = [];
    const r = await styleTransfer(ctx, net, {
      content,
      style,
      rows: 48,
      config,
      scales: [32, 48],
      scaleIterations: [3, 2],
      onProgress: (p) => {
        seen.push({ stage: p.stage, stages: p.stages, rows: p.rows, cols: p.cols, iteration: p.iteration, planned: p.planned });
      },
    });
    expect([r.rows, r.cols, r.image.height, r.image.width]).toEqual([48, 64, 48, 64]);
    expect(r.stages.map((s) => [s.rows, s.cols])).toEqual([[32, 42], [48, 64]]);
    expect(r.iterations).toBeLessThanOrEqual(5);
    expect(r.history.filter((h) => h.stage === 1).length).toBeGreaterThan(1);
    expect(r.history.filter((h) => h.stage === 2).length).toBeGreaterThan(1);
    expect(seen.every((p) => p.stages === 2 && p.planned === 5)).toBe(true);
    expect(seen.filter((p) => p.stage === 1).every((p) => p.rows === 32 && p.cols === 42)).toBe(true);
    expect(seen.filter((p) => p.stage === 2).every((p) => p.rows === 48 && p.cols === 64)).toBe(true);
    expect(seen[seen.length - 1].iteration).toBe(r.iterations); // counted over the run
    // every buffer of both stages is gone; the network (the caller's) stays
    expect(m.stats().liveBytes).toBe(before.liveBytes);
    expect(m.stats().liveBuffers).toBe(before.liveBuffers);
    // the peak counts the network's weights plus the larger stage (over block1's 48x64x64 floats)
    expect(r.memory.peakGpuBytes).toBeGreaterThan(before.liveBytes + 48 * 64 * 64 * 4);
    expect(r.memory.buffers).toBeGreaterThan(before.liveBuffers);
  }, 300_000);
});
