// The kernel table (src/kernels/kernel_table.ts): the hand-written default unchanged, the
// autotuner's cache (written, read back, another adapter's entries unused), a tuned table on a
// tiny image, and `neural-style kernels --json`'s shape.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterKey, cachedEntry, kernelCachePath, readKernelCache, shapeKey, TUNER_FORMAT, writeKernelCache } from '../src/kernels/kernel_cache.ts';
import { candidates, kernelTable, runnable } from '../src/kernels/kernel_table.ts';
import { convSites } from '../src/model/vgg19.ts';
import { layerIndex } from '../src/model/vgg19_layers.ts';
import { cli } from './cli_helpers.ts';
import { gpu } from './helpers.ts';

let dir = '';
let saved: string | undefined;
beforeAll(() => {
  saved = process.env.XDG_CACHE_HOME;
  dir = mkdtempSync(join(tmpdir(), 'ns-kcache-'));
  process.env.XDG_CACHE_HOME = dir;
});
afterAll(() => {
  process.env.XDG_CACHE_HOME = saved;
  rmSync(dir, { recursive: true, force: true });
});

describe('kernel table: the hand-written default', () => {
  it('at 400x533 to block5_conv2 on a CPU adapter: v3/v6 at block1_conv1, v9 everywhere else', async () => {
    const ctx = await gpu();
    const sites = convSites(400, 533, layerIndex('block5_conv2'), 128 * 2 ** 20);
    expect(sites).toHaveLength(28);
    const rows = await kernelTable(ctx, sites, { mode: 'default', maxBytes: 128 * 2 ** 20 });
    const v = rows.map((r) => `${r.layer} ${r.direction} ${r.version}`);
    if (ctx.isCpuAdapter) {
      expect(v.slice(0, 4)).toEqual(['block1_conv1 forward v3', 'block1_conv1 backward v6', 'block1_conv2 forward v9', 'block1_conv2 backward v9']);
      expect(rows.slice(2).every((r) => r.version === 'v9')).toBe(true);
      expect(rows[0].why).toMatch(/Winograd does not pay below 16 input channels/);
    } else expect(rows.every((r) => r.version === 'v5')).toBe(true);
    expect(rows.every((r) => !r.measured && r.version === r.defaultVersion)).toBe(true);
  });

  it('a forced version (Vgg19Options.convVersion) gives its default table even in tuned mode, untimed', async () => {
    const ctx = await gpu();
    const sites = convSites(16, 16, layerIndex('block1_conv2'), 2 ** 30);
    const rows = await kernelTable(ctx, sites, { mode: 'tuned', preferred: 'v3' });
    expect(rows.map((r) => r.version)).toEqual(['v3', 'v6', 'v3', 'v3']);
  });
});

describe('kernel cache', () => {
  const entry = { version: 'v3' as const, why: 'tuned: test', ms: { v3: 1, v7: 2 }, rowsTimed: 4 };
  it('is written under $XDG_CACHE_HOME, read back, and not used for another adapter', async () => {
    expect(await kernelCachePath()).toBe(join(dir, 'neural-style-webgpu', 'kernels.json'));
    await writeKernelCache('adapter A', { [shapeKey('forward', { H: 8, W: 9, Cin: 16, Cout: 16 })]: entry });
    const f = await readKernelCache();
    expect(f.format).toBe(TUNER_FORMAT);
    expect(cachedEntry(f, 'adapter A', 'forward 8x9 16->16')).toEqual(entry);
    expect(cachedEntry(f, 'adapter B', 'forward 8x9 16->16')).toBeUndefined();
    expect(cachedEntry(f, 'adapter A', 'backward 8x9 16->16')).toBeUndefined();
    await writeKernelCache('adapter B', { 'backward 8x9 16->16': entry }); // keeps A's
    expect(Object.keys((await readKernelCache()).adapters).sort()).toEqual(['adapter A', 'adapter B']);
  });
  it('a file of another format or not JSON is ignored', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(await kernelCachePath(), JSON.stringify({ format: TUNER_FORMAT + 1, adapters: { x: {} } }));
    expect((await readKernelCache()).adapters).toEqual({});
    writeFileSync(await kernelCachePath(), '{not json');
    expect((await readKernelCache()).adapters).toEqual({});
  });
});

describe('kernel table: tuned', () => {
  it('times the candidates of a tiny plan once, caches them, and reads them back untimed; never a version slower than the default by its own timings', async () => {
    const ctx = await gpu();
    const sites = convSites(8, 10, layerIndex('block1_conv2'), 2 ** 30);
    const lines: string[] = [];
    const rows = await kernelTable(ctx, sites, { mode: 'tuned', onTune: (l) => lines.push(l) });
    expect(lines.length).toBeGreaterThan(0);
    const f = await readKernelCache();
    const key = adapterKey(ctx);
    for (const r of rows) {
      expect(runnable(ctx, r.version, r.shape, r.direction)).toBe(true);
      expect(candidates(ctx, r.shape, r.direction)).toContain(r.version);
      if (!r.measured) continue;
      expect(cachedEntry(f, key, shapeKey(r.direction, r.shape))?.version).toBe(r.version);
      if (r.version !== r.defaultVersion) expect(r.ms![r.version]!).toBeLessThan(0.95 * r.ms![r.defaultVersion]!);
    }
    expect(rows.some((r) => r.measured)).toBe(true);
    const again = await kernelTable(ctx, sites, { mode: 'tuned', tune: false, onTune: () => expect.unreachable('timed again') });
    expect(again.map((r) => [r.version, r.measured])).toEqual(rows.map((r) => [r.version, r.measured]));
    if (ctx.subgroups) console.log(`tuned at 8x10 (subgroups ${ctx.subgroups.minSize}):\n  ${lines.join('\n  ')}`);
  });
});

describe('neural-style kernels', () => {
  it('--json - prints the table: adapter, sizes, mode and one row per layer and direction', async () => {
    const r = await cli(['kernels', '--rows', '16', '--cols', '20', '--layer', 'block2_conv1', '--kernels', 'default', '--json', '-'], 120_000);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ rows: 16, cols: 20, mode: 'default', cache: null });
    expect(typeof j.adapter).toBe('string');
    expect(j.kernels.map((k: { layer: string; direction: string }) => `${k.layer} ${k.direction}`)).toEqual([
      'block1_conv1 forward', 'block1_conv1 backward', 'block1_conv2 forward', 'block1_conv2 backward', 'block2_conv1 forward', 'block2_conv1 backward',
    ]);
    for (const k of j.kernels) expect(Object.keys(k).sort()).toEqual(['defaultVersion', 'direction', 'layer', 'measured', 'ms', 'shape', 'version', 'why']);
  });
  it.each([
    [['--layer', 'block9_conv1'], /--layer: unknown VGG19 layer "block9_conv1"/],
    [['--kernels', 'fast'], /--kernels.*fast.*choices/i],
    [['--rows', '3'], /--rows must be an integer >= 16/],
  ])('usage error %j: one line, exit 2', async (args, re) => {
    const r = await cli(['kernels', ...args], 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  });
});
