// The device's ceiling: GFLOP/s of our tiled matmul (conv3x3_winograd_gemm_v7, the GEMM the
// model runs batched inside conv3x3 v7) as a plain square product on this adapter: the yardstick
// each conv row is a fraction of.

import type { GpuContext } from '../../src/gpu/device.ts';
import { createStorage, uploadStorage } from '../../src/gpu/runtime.ts';
import type { GpuTimer } from '../../src/gpu/timer.ts';
import { MATMUL_SHADER, matmul } from '../../src/kernels/matmul.ts';
import { measure, randomFill } from '../lib/stats.ts';
import type { OpRow } from '../lib/types.ts';

export async function runCeiling(ctx: GpuContext, timer: GpuTimer, o: { warmup: number; trials: number; quick: boolean; log: (s: string) => void }): Promise<OpRow[]> {
  const rows: OpRow[] = [];
  const shapes = o.quick ? [[1024, 1024, 1024]] : [[1024, 1024, 1024], [2048, 512, 2304]];
  for (const [M, N, K] of shapes) {
    const a = uploadStorage(ctx, randomFill(M * K, 1), 'a');
    const b = uploadStorage(ctx, randomFill(K * N, 2), 'b');
    const c = createStorage(ctx, M * N * 4, 'c');
    {
      const v = MATMUL_SHADER;
      const d = await matmul(ctx, { M, N, K }, { a, b, c });
      const ms = await measure(async () => (await timer.timeDispatches([d], `matmul ${M}x${N}x${K}`)).ms, Math.max(1, o.warmup), o.trials);
      const gflop = (2 * M * N * K) / 1e9;
      rows.push({ op: 'matmul', impl: `ours matmul ${v}`, backend: 'ours', version: v, shape: `${M}x${N}x${K}`, layers: '', gflop, ms, gflops: gflop / (ms.median / 1e3), timing: timer.source });
      o.log(`  matmul ${v} ${M}x${N}x${K}: ${ms.median.toFixed(1)} ms, ${(gflop / (ms.median / 1e3)).toFixed(2)} GFLOP/s`);
    }
    a.destroy();
    b.destroy();
    c.destroy();
  }
  return rows;
}
