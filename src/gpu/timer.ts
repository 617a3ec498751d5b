// GPU timing: timestamp queries around a compute pass when the adapter has 'timestamp-query',
// otherwise wall-clock time from submit to queue completion (which includes submit overhead).

import type { GpuContext } from './device.ts';
import { type Dispatch, encodeDispatches, GPU_WAIT_MS, submitChecked, waitIdle } from './runtime.ts';
import { withTimeout } from './device.ts';

export interface TimedRun {
  /** GPU milliseconds (timestamps) or wall milliseconds (fallback) */
  ms: number;
  source: 'timestamp' | 'wall';
}

export class GpuTimer {
  private querySet: GPUQuerySet | null = null;
  private resolveBuf: GPUBuffer | null = null;
  private readBuf: GPUBuffer | null = null;

  constructor(private readonly ctx: GpuContext, useTimestamps = ctx.hasTimestamps) {
    if (useTimestamps && ctx.hasTimestamps) {
      const d = ctx.device;
      this.querySet = d.createQuerySet({ label: 'timer', type: 'timestamp', count: 2 });
      this.resolveBuf = d.createBuffer({ label: 'timer resolve', size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      this.readBuf = d.createBuffer({ label: 'timer read', size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
  }

  get source(): 'timestamp' | 'wall' {
    return this.querySet ? 'timestamp' : 'wall';
  }

  /**
   * Runs `encode` (which records work into the encoder) and times it. With timestamps, `encode`
   * receives the timestampWrites to put on its one compute pass (the GPU time of that pass is
   * returned); without, the wall time from submit to queue completion.
   */
  async time(encode: (enc: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites) => void, what: string): Promise<TimedRun> {
    const { device } = this.ctx;
    await waitIdle(this.ctx, `before ${what}`);
    const enc = device.createCommandEncoder({ label: `timed ${what}` });
    if (!this.querySet) {
      encode(enc);
      const t0 = performance.now();
      await submitChecked(this.ctx, [enc.finish()], what);
      await waitIdle(this.ctx, what);
      return { ms: performance.now() - t0, source: 'wall' };
    }
    encode(enc, { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 });
    enc.resolveQuerySet(this.querySet, 0, 2, this.resolveBuf!, 0);
    enc.copyBufferToBuffer(this.resolveBuf!, 0, this.readBuf!, 0, 16);
    await submitChecked(this.ctx, [enc.finish()], what);
    await withTimeout(this.readBuf!.mapAsync(GPUMapMode.READ), GPU_WAIT_MS, `timing of ${what}`);
    const t = new BigInt64Array(this.readBuf!.getMappedRange().slice(0));
    this.readBuf!.unmap();
    return { ms: Number(t[1] - t[0]) / 1e6, source: 'timestamp' };
  }

  /** Times a list of dispatches run in one compute pass. */
  timeDispatches(list: Dispatch[], what = list.map((d) => d.label).join(',')): Promise<TimedRun> {
    return this.time((enc, tw) => encodeDispatches(enc, list, tw), what);
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuf?.destroy();
    this.readBuf?.destroy();
  }
}
