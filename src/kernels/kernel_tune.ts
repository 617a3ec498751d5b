// The conv autotuner: times the candidate versions of each conv shape on this adapter and keeps
// the hand-written default unless a candidate is clearly faster (kernel_table.ts asks; the
// result is cached per adapter and shape by kernel_cache.ts).
//
// Bounded: each timing runs a band of the shape's rows only, as many as fit a work budget
// (CPU adapters 6e7 multiply-add FLOPs, ~5 ms on lavapipe; GPU adapters 2e9), at least 4 rows
// (two Winograd tile rows) and at most all; its time is extrapolated to the full shape linearly
// in rows (ms x H / rows: every version's work is proportional to the rows; the fixed cost of a
// dispatch is counted H / rows times too, which penalizes the multi-dispatch Winograd versions
// a little, in the direction of keeping the default on CPU adapters). Each candidate is run once
// to compile its pipelines (lavapipe compiles at the first dispatch), then REPS times, the
// candidates interleaved so that a change in the machine's load hits them alike. All the shapes
// of one call share a wall-clock budget (CPU adapters 5 s, GPU 1 s), pipeline compilation
// included; the shapes with the most work are tuned first; those left when it is spent keep the
// default and are not cached (a later run tunes them: on lavapipe under load one run tuned 3-6
// shapes, so a VGG19 table fills over a few runs, or at once with `neural-style kernels`).
// Never slower than the default: a candidate replaces it only when both its median and its
// fastest run are below 0.95 x the default's (median and fastest).

import type { GpuContext } from '../gpu/device.ts';
import { withTimeout } from '../gpu/device.ts';
import { createStorage, type Dispatch, encodeDispatches, GPU_WAIT_MS } from '../gpu/runtime.ts';
import { type ConvShape, type ConvVersion, conv3x3Backward, conv3x3Forward, convFlops, isWinograd, winogradScratchFloats, winogradScratchLimit } from './conv3x3.ts';
import type { TunedEntry } from './kernel_cache.ts';

export const REPS = 3;
/** a candidate must beat the default's median by this factor */
export const MARGIN = 0.95;

export interface TuneRequest {
  shape: ConvShape;
  direction: 'forward' | 'backward';
  defaultVersion: ConvVersion;
  candidates: ConvVersion[];
}

/** Rows of `s` timed: as many as the budget allows, even, >= 4, <= H. */
export function rowsToTime(ctx: GpuContext, s: ConvShape): number {
  const budget = ctx.isCpuAdapter ? 6e7 : 2e9;
  const perRow = convFlops({ ...s, H: 1 });
  const rows = Math.max(4, 2 * Math.floor(budget / perRow / 2));
  return Math.min(s.H, rows);
}

/** One candidate built at the timed rows: its dispatches and the buffers to free. */
async function build(ctx: GpuContext, v: ConvVersion, s: ConvShape, direction: 'forward' | 'backward'): Promise<{ list: Dispatch[]; buffers: GPUBuffer[] }> {
  const buffers: GPUBuffer[] = [];
  const buf = (floats: number, label: string) => {
    const b = createStorage(ctx, Math.max(16, floats * 4), `tune ${label}`);
    buffers.push(b);
    return b;
  };
  const [K, N] = direction === 'forward' ? [s.Cin, s.Cout] : [s.Cout, s.Cin];
  let winograd;
  if (isWinograd(v)) {
    const f = winogradScratchFloats(s, direction, winogradScratchLimit(ctx));
    winograd = { u: buf(16 * K * N, 'u'), v: buf(f.v, 'V'), m: buf(f.m, 'M') };
  }
  const px = s.H * s.W;
  const w = buf(9 * s.Cin * s.Cout, 'w');
  const list =
    direction === 'forward'
      ? await conv3x3Forward(ctx, v, s, { x: buf(px * s.Cin, 'x'), w, bias: buf(s.Cout, 'b'), y: buf(px * s.Cout, 'y'), winograd })
      : await conv3x3Backward(ctx, v, s, { dy: buf(px * s.Cout, 'dy'), y: buf(px * s.Cout, 'y'), w, wt: buf(9 * s.Cin * s.Cout, 'wt'), g: buf(px * s.Cout, 'g'), dx: buf(px * s.Cin, 'dx'), winograd });
  return { list, buffers };
}

/** Wall-clock ms of one submit of `list`, until the queue is done. */
async function timeOnce(ctx: GpuContext, list: Dispatch[]): Promise<number> {
  const enc = ctx.device.createCommandEncoder({ label: 'kernel tuning' });
  encodeDispatches(enc, list);
  const t0 = performance.now();
  ctx.device.queue.submit([enc.finish()]);
  await withTimeout(ctx.device.queue.onSubmittedWorkDone(), GPU_WAIT_MS, 'kernel tuning');
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Tunes each request (requests with the same shape and direction are timed once); returns the
 * entries of the shapes tuned within the budget. A candidate that fails to build or run is
 * dropped (its error is reported through onTune); the default never is.
 */
export async function tuneShapes(
  ctx: GpuContext,
  requests: readonly TuneRequest[],
  onTune?: (line: string) => void,
): Promise<Array<{ shape: ConvShape; direction: 'forward' | 'backward'; entry: TunedEntry }>> {
  const budgetMs = ctx.isCpuAdapter ? 5000 : 1000;
  const start = performance.now();
  const out: Array<{ shape: ConvShape; direction: 'forward' | 'backward'; entry: TunedEntry }> = [];
  const seen = new Set<string>();
  const byWork = [...requests].sort((a, b) => convFlops(b.shape) - convFlops(a.shape));
  for (const r of byWork) {
    const key = `${r.direction} ${r.shape.H}x${r.shape.W} ${r.shape.Cin}->${r.shape.Cout}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (performance.now() - start > budgetMs) break;
    const rows = rowsToTime(ctx, r.shape);
    const s = { ...r.shape, H: rows };
    const built = new Map<ConvVersion, { list: Dispatch[]; buffers: GPUBuffer[] }>();
    const times = new Map<ConvVersion, number[]>();
    try {
      for (const v of r.candidates) {
        try {
          ctx.device.pushErrorScope('validation');
          const b = await build(ctx, v, s, r.direction);
          await timeOnce(ctx, b.list); // compiles the pipelines (first dispatch on lavapipe)
          const err = await ctx.device.popErrorScope();
          if (err) throw new Error(err.message);
          built.set(v, b);
          times.set(v, []);
        } catch (e) {
          if (v === r.defaultVersion) throw e;
          onTune?.(`${key}: ${v} dropped: ${(e as Error).message}`);
        }
      }
      if (built.size > 1) {
        for (let i = 0; i < REPS; i++) for (const [v, b] of built) times.get(v)!.push(await timeOnce(ctx, b.list));
      }
    } finally {
      for (const b of built.values()) for (const x of b.buffers) x.destroy();
    }
    const scale = r.shape.H / rows;
    const ms: Partial<Record<ConvVersion, number>> = {};
    for (const [v, t] of times) if (t.length) ms[v] = median(t) * scale;
    const def = times.get(r.defaultVersion) ?? [];
    let version = r.defaultVersion;
    let why = built.size > 1 ? `tuned: default ${version} kept (no candidate > ${Math.round((1 - MARGIN) * 100)} % faster)` : `tuned: ${version} is the only candidate`;
    if (def.length) {
      const dMed = median(def);
      let best = dMed;
      for (const [v, t] of times) {
        if (v === r.defaultVersion || !t.length) continue;
        const m = median(t);
        if (m < MARGIN * dMed && Math.min(...t) < MARGIN * Math.min(...def) && m < best) {
          best = m;
          version = v;
          why = `tuned: ${v} ${(dMed / m).toFixed(2)}x faster than the default ${r.defaultVersion}`;
        }
      }
    }
    const entry: TunedEntry = { version, why, ms, rowsTimed: rows };
    onTune?.(`${key}: ${why} (${Object.entries(ms).map(([v, t]) => `${v} ${t!.toFixed(1)} ms`).join(', ')}; ${rows} of ${r.shape.H} rows timed)`);
    out.push({ shape: r.shape, direction: r.direction, entry });
  }
  return out;
}
