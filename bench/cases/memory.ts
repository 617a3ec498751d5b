// Memory and banding (npm run bench -- --only memory,banding).
//
//   memory   GPU bytes of a transfer (notebook preset, L-BFGS m = 10) at several sizes:
//            computed from the plan (src/style/footprint.ts) for every size, and counted by the
//            runtime (src/gpu/memory.ts) in a real 1-iteration transfer where the size runs in
//            the time allowed; the bands of block1 and block2 at each size.
//   banding  the cost of row bands: one evaluation at the eval size unbanded and with block1's
//            maps forced into 4 bands (--max-buffer-mib), trials interleaved, wall time from x
//            on the device to the loss on the host.

import type { GpuContext } from '../../src/gpu/device.ts';
import { createStorage, uploadStorage } from '../../src/gpu/runtime.ts';
import { resize } from '../../src/image/resize.ts';
import type { RgbaImage } from '../../src/image/types.ts';
import { Vgg19 } from '../../src/model/vgg19.ts';
import type { Vgg19Weights } from '../../src/model/weights.ts';
import { deepestLayer, type StyleConfig } from '../../src/style/config.ts';
import { transferFootprint } from '../../src/style/footprint.ts';
import { StyleObjective } from '../../src/style/objective.ts';
import { defaultResize, prepareImages, styleTransfer } from '../../src/style/transfer.ts';
import { measure, type Stats } from '../lib/stats.ts';

export interface MemoryRow {
  rows: number;
  cols: number;
  /** bytes by the plan */
  planBytes: number;
  parts: Record<string, number>;
  /** bytes counted in a real 1-iteration transfer (null: not run here) */
  measuredBytes: number | null;
  bands: Record<string, number>;
  note?: string;
}

export interface BandingRow {
  size: [number, number];
  /** block1's bands (1 = unbanded) */
  bands: number;
  maxBufferBytes: number | null;
  ms: Stats;
  /** this row's median / the unbanded median */
  ratio?: number;
  loss: number;
}

/** The default sizes: rows at tubingen's 4:3 aspect, and the 512 x 512 square of jcjohnson's figure. */
export const MEMORY_SIZES = ['256', '400', '512', '512x512', '1024', '2048'];

export async function runMemory(
  ctx: GpuContext,
  weights: Vgg19Weights,
  images: { content: RgbaImage; style: RgbaImage },
  o: { cfg: StyleConfig; sizes: string[]; measureUpToRows: number; log: (s: string) => void },
): Promise<MemoryRow[]> {
  const rowsOut: MemoryRow[] = [];
  for (const s of o.sizes) {
    const [r, c] = s.includes('x') ? s.split('x').map(Number) : [Number(s), Math.trunc((Number(s) * images.content.width) / images.content.height)];
    const f = transferFootprint(ctx, r, c, o.cfg);
    const row: MemoryRow = { rows: r, cols: c, planBytes: f.bytes, parts: f.parts, measuredBytes: null, bands: f.bands };
    if (r <= o.measureUpToRows) {
      // an exact size (512x512): the content stretched to it, so the working size is r x c
      const content = s.includes('x') ? resize(images.content, r, c, 'area') : images.content;
      const res = await styleTransfer(ctx, weights, { content, style: images.style, rows: r, config: o.cfg, iterations: 1 });
      if (res.cols !== c) throw new Error(`memory ${s}: ran at ${res.rows}x${res.cols}, expected ${r}x${c}`);
      row.measuredBytes = res.memory.peakGpuBytes;
    } else row.note = `plan only (sizes over ${o.measureUpToRows} rows are not run in this section)`;
    o.log(
      `  ${r}x${c}: plan ${(f.bytes / 2 ** 20).toFixed(0)} MiB${row.measuredBytes ? `, counted ${(row.measuredBytes / 2 ** 20).toFixed(0)} MiB` : ''}; block1 in ${f.bands.block1_conv1} band(s)`,
    );
    rowsOut.push(row);
  }
  return rowsOut;
}

export async function runBanding(
  ctx: GpuContext,
  weights: Vgg19Weights,
  images: { content: RgbaImage; style: RgbaImage },
  o: { cfg: StyleConfig; H: number; bands: number; warmup: number; trials: number; log: (s: string) => void },
): Promise<BandingRow[]> {
  const prep = prepareImages(images.content, images.style, o.H, defaultResize(o.cfg));
  const net = await Vgg19.create(ctx, weights, { pooling: o.cfg.pooling, upTo: deepestLayer(o.cfg) });
  const limit = Math.ceil(prep.rows / o.bands) * prep.cols * 64 * 4;
  const variants: Array<{ bands: number; maxBufferBytes: number | null }> = [
    { bands: 1, maxBufferBytes: null },
    { bands: o.bands, maxBufferBytes: limit },
  ];
  const objs = [];
  for (const v of variants) {
    const obj = await StyleObjective.create(ctx, net, o.cfg, prep.rows, prep.cols, prep.content, prep.style, { maxBufferBytes: v.maxBufferBytes ?? undefined });
    if (obj.plan.bandCounts.block1_conv1 !== v.bands) throw new Error(`banding: expected ${v.bands} bands of block1, the plan has ${obj.plan.bandCounts.block1_conv1}`);
    objs.push(obj);
  }
  const x = uploadStorage(ctx, prep.content, 'banding x');
  const g = createStorage(ctx, prep.content.length * 4, 'banding g');
  // warm-up (pipeline compilation), then trials alternating between the variants
  for (const obj of objs) for (let i = 0; i < Math.max(1, o.warmup); i++) await obj.evaluate(x, g);
  const times: number[][] = objs.map(() => []);
  for (let t = 0; t < o.trials; t++) {
    for (const [k, obj] of objs.entries()) {
      const t0 = performance.now();
      await obj.evaluate(x, g);
      times[k].push(performance.now() - t0);
    }
  }
  x.destroy();
  g.destroy();
  const rows: BandingRow[] = [];
  for (const [k, v] of variants.entries()) {
    const ms = await measure(async () => times[k].shift()!, 0, o.trials);
    rows.push({ size: [prep.rows, prep.cols], bands: v.bands, maxBufferBytes: v.maxBufferBytes, ms, loss: objs[k].last!.total });
  }
  for (const r of rows) r.ratio = r.ms.median / rows[0].ms.median;
  for (const r of rows) o.log(`  ${r.size.join('x')}, ${r.bands} band(s): median ${r.ms.median.toFixed(0)} ms, min ${r.ms.min.toFixed(0)} ms, ${r.ratio!.toFixed(3)}x unbanded; loss ${r.loss}`);
  return rows;
}
