// The plan's footprint (src/style/footprint.ts), computed without allocating, against the bytes
// the runtime counts (src/gpu/memory.ts) in real runs: unbanded and banded, L-BFGS and Adam.
import { beforeAll, describe, expect, it } from 'vitest';
import { readImageFile } from '../src/image/node.ts';
import type { RgbaImage } from '../src/image/types.ts';
import { makeConfig } from '../src/style/config.ts';
import { transferFootprint } from '../src/style/footprint.ts';
import { styleTransfer } from '../src/style/transfer.ts';
import { loadVgg19WeightsFromDir, resolveExampleImage } from '../src/model/locate.ts';
import { gpu } from './helpers.ts';

let content: RgbaImage;
let style: RgbaImage;
const config = makeConfig('notebook');

beforeAll(async () => {
  content = await readImageFile(resolveExampleImage('tubingen.jpg'));
  style = await readImageFile(resolveExampleImage('starry_night.jpg'));
}, 60_000);

describe('transferFootprint vs the bytes counted in a run', () => {
  it('two styles, one masked, style scale 1.5, 64 rows and 3 bands', async () => {
    const ctx = await gpu();
    const rows = 64;
    const cols = Math.trunc((rows * content.width) / content.height);
    const maxBufferBytes = Math.ceil(rows / 3) * cols * 64 * 4;
    const mask = { width: cols, height: rows, data: new Uint8ClampedArray(rows * cols * 4) };
    for (let i = 0; i < rows * cols; i++) mask.data.set(i % cols < cols / 2 ? [255, 255, 255, 255] : [0, 0, 0, 255], i * 4);
    const r = await styleTransfer(ctx, await loadVgg19WeightsFromDir(), {
      content,
      styles: [style, content],
      styleMasks: [null, mask],
      styleScale: 1.5,
      rows,
      config,
      iterations: 2,
      maxBufferBytes,
    });
    const f = transferFootprint(ctx, rows, cols, config, { maxBufferBytes, styles: { count: 2, masked: 1, scale: 1.5 } });
    const ratio = r.memory.peakGpuBytes / f.bytes;
    console.log(`2 styles (1 masked), scale 1.5, 3 bands: counted peak ${r.memory.peakGpuBytes} B, footprint ${f.bytes} B (ratio ${ratio.toFixed(4)})`);
    expect(ratio).toBeGreaterThan(0.97);
    expect(ratio).toBeLessThan(1.03);
  }, 120_000);

  for (const [rows, bands, optimizer] of [
    [64, 1, 'lbfgs'],
    [96, 3, 'lbfgs'],
    [96, 32, 'lbfgs'], // 3-row bands of block1: the image itself in 2 bands, so are x and every optimizer vector
    [64, 1, 'adam'],
  ] as const) {
    it(`${rows} rows, ${bands} band(s) of block1, ${optimizer}`, async () => {
      const ctx = await gpu();
      const cols = Math.trunc((rows * content.width) / content.height);
      const maxBufferBytes = bands > 1 ? Math.ceil(rows / bands) * cols * 64 * 4 : undefined;
      // the network is made inside the run, so its weights count in the peak
      const r = await styleTransfer(ctx, await loadVgg19WeightsFromDir(), { content, style, rows, config, iterations: 2, optimizer, maxBufferBytes });
      const f = transferFootprint(ctx, rows, cols, config, { maxBufferBytes, optimizer });
      expect(f.bands.block1_conv1).toBe(bands);
      expect(f.bands.input).toBe(bands === 32 ? 2 : 1);
      const ratio = r.memory.peakGpuBytes / f.bytes;
      console.log(`${rows} rows, ${bands} bands, ${optimizer}: counted peak ${r.memory.peakGpuBytes} B, footprint ${f.bytes} B (ratio ${ratio.toFixed(4)}), parts ${JSON.stringify(f.parts)}`);
      expect(ratio).toBeGreaterThan(0.999); // measured 1.0002-1.0006: the uniform buffers, left out
      expect(ratio).toBeLessThan(1.005);
    }, 120_000);
  }
});
