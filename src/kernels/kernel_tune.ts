// The conv autotuner: times the candidate versions of each conv shape on this adapter and keeps
// the hand-written default unless a candidate is clearly faster (kernel_table.ts asks; the
// result is cached per adapter and shape by kernel_cache.ts).
//
// Bounded, in two steps:
//  1. band: each candidate runs a band of the shape's rows only, as many as fit a work budget
//     (CPU adapters 6e7 multiply-add FLOPs, ~5 ms on lavapipe; GPU adapters 2e9), at least 4 rows
//     (two Winograd tile rows) and at most all; its time is extrapolated to the full shape linearly
//     in rows (ms x H / rows). The band winner is the candidate whose median and fastest run are
//     both below MARGIN (0.95) x the default's, the fastest such.
//  2. confirmation: a band winner replaces the default only if it wins again, by the same test,
//     on a larger band timed against the default alone: rows for about CONFIRM_MS per run of the
//     default (CPU adapters 100 ms, GPU 5 ms), at least CONFIRM_FACTOR (4) x the band, the full
//     shape when that is cheaper. Why: on lavapipe at 400x533 the 4-row bands said v8 was
//     1.1-1.9x faster than v7 at several shapes, yet a whole evaluation with those choices was not
//     faster (7.67 s vs 7.5 s). Likely causes, not measured apart: a 4-row band of a 64-channel
//     map fits the CPU's caches where the full map does not, and a band has few dispatches and
//     tile rows; noise under load does the rest on 3 runs. The confirmed pair's ms in the entry
//     are the confirmation's (extrapolated from the larger band), the others the band's.
//     `npm run bench -- --only kernels` checks the result at the full shape.
// Each candidate is run once to compile its pipelines (lavapipe compiles at the first dispatch),
// then REPS times, the candidates interleaved so that a change in the machine's load hits them
// alike. All the shapes of one call share a wall-clock budget (CPU adapters 5 s, GPU 1 s),
// pipeline compilation included; the shapes with the most work are tuned first; a shape started
// is finished (its confirmation included: ~1 s on lavapipe at most); those left when the budget is
// spent keep the default and are not cached (a later run tunes them, or `neural-style kernels`).
// The timing is injectable (TuneTimer): the tests drive the decisions with a fake one.

import type { GpuContext } from '../gpu/device.ts';
import { withTimeout } from '../gpu/device.ts';
import { createStorage, type Dispatch, encodeDispatches, GPU_WAIT_MS } from '../gpu/runtime.ts';
import { type ConvShape, type ConvVersion, conv3x3Backward, conv3x3Forward, convFlops, isWinograd, winogradScratchFloats, winogradScratchLimit, winogradTile } from './conv3x3.ts';
import type { TunedEntry } from './kernel_cache.ts';
import type { Direction } from './kernel_table.ts';

export const REPS = 3;
/** a candidate must beat the default's median (and fastest run) by this factor */
export const MARGIN = 0.95;
/** the confirmation band: at least this many times the first band's rows */
export const CONFIRM_FACTOR = 4;


export interface TuneRequest {
  shape: ConvShape;
  direction: Direction;
  defaultVersion: ConvVersion;
  candidates: ConvVersion[];
}

/** Rows of `s` timed in the band step: as many as the budget allows, even, >= 4, <= H. */
export function rowsToTime(ctx: Pick<GpuContext, 'isCpuAdapter'>, s: ConvShape): number {
  const budget = ctx.isCpuAdapter ? 6e7 : 2e9;
  const perRow = convFlops({ ...s, H: 1 });
  const rows = Math.max(4, 2 * Math.floor(budget / perRow / 2));
  return Math.min(s.H, rows);
}

/** ms per run of the default that the confirmation band aims at (CPU adapters, GPU adapters). */
export const CONFIRM_MS = { cpu: 100, gpu: 5 } as const;

/**
 * Rows of `s` timed in the confirmation step, given the band's rows and the default's median ms
 * on them: about CONFIRM_MS per run, even, at least CONFIRM_FACTOR x the band, at most H (the full
 * shape when it is that cheap).
 */
export function confirmRows(ctx: Pick<GpuContext, 'isCpuAdapter'>, s: ConvShape, bandRows: number, bandDefaultMs: number): number {
  const target = ctx.isCpuAdapter ? CONFIRM_MS.cpu : CONFIRM_MS.gpu;
  const perRow = Math.max(bandDefaultMs, 1e-3) / bandRows;
  const rows = Math.max(CONFIRM_FACTOR * bandRows, 2 * Math.floor(target / perRow / 2));
  return Math.min(s.H, rows);
}

/** One conv built for timing: its dispatches (buffers come from a pool the caller frees). */
export interface BuiltConv {
  list: Dispatch[];
}

/**
 * A pool of scratch buffers for timing convs, shared by the versions built at one shape (the same
 * label and size is the same buffer: inputs, outputs, Winograd scratch): destroy() frees them all.
 */
export class ConvBufferPool {
  private readonly bufs = new Map<string, GPUBuffer>();
  constructor(private readonly ctx: GpuContext) {}
  get(floats: number, label: string): GPUBuffer {
    const bytes = Math.max(16, floats * 4);
    const key = `${label} ${bytes}`;
    let b = this.bufs.get(key);
    if (!b) this.bufs.set(key, (b = createStorage(this.ctx, bytes, `tune ${label}`)));
    return b;
  }
  destroy(): void {
    for (const b of this.bufs.values()) b.destroy();
    this.bufs.clear();
  }
}

/** Version `v` of the conv at shape `s` (zero-filled inputs), its buffers from `pool`. */
export async function buildConv(ctx: GpuContext, v: ConvVersion, s: ConvShape, direction: Direction, pool: ConvBufferPool): Promise<BuiltConv> {
  const buf = (floats: number, label: string) => pool.get(floats, label);
  const [K, N] = direction === 'forward' ? [s.Cin, s.Cout] : [s.Cout, s.Cin];
  let winograd;
  if (isWinograd(v)) {
    const f = winogradScratchFloats(s, direction, winogradScratchLimit(ctx), v);
    winograd = { u: buf((winogradTile(v) + 2) ** 2 * K * N, 'u'), v: buf(f.v, 'V'), m: buf(f.m, 'M') };
  }
  const px = s.H * s.W;
  const w = buf(9 * s.Cin * s.Cout, 'w');
  const list =
    direction === 'forward'
      ? await conv3x3Forward(ctx, v, s, { x: buf(px * s.Cin, 'x'), w, bias: buf(s.Cout, 'b'), y: buf(px * s.Cout, 'y'), winograd })
      : await conv3x3Backward(ctx, v, s, { dy: buf(px * s.Cout, 'dy'), y: buf(px * s.Cout, 'y'), w, wt: buf(9 * s.Cin * s.Cout, 'wt'), g: buf(px * s.Cout, 'g'), dx: buf(px * s.Cin, 'dx'), winograd });
  return { list };
}

/** Wall-clock ms of one submit of `list`, until the queue is done. */
export async function timeSubmit(ctx: GpuContext, list: Dispatch[]): Promise<number> {
  const enc = ctx.device.createCommandEncoder({ label: 'kernel tuning' });
  encodeDispatches(enc, list);
  const t0 = performance.now();
  ctx.device.queue.submit([enc.finish()]);
  await withTimeout(ctx.device.queue.onSubmittedWorkDone(), GPU_WAIT_MS, 'kernel tuning');
  return performance.now() - t0;
}

/** How the tuner times: the GPU (gpuTuneTimer) or, in the tests, a fake. */
export interface TuneTimer {
  /**
   * Times `versions` at shape `s`: each built and run once untimed (compilation), then `reps`
   * rounds, the versions interleaved; returns ms per run of each version that ran (a version
   * that fails is left out and reported through `dropped`; `mustRun`'s failure throws).
   */
  measure(s: ConvShape, direction: Direction, versions: readonly ConvVersion[], reps: number, mustRun: ConvVersion, dropped: (v: ConvVersion, why: string) => void): Promise<Map<ConvVersion, number[]>>;
  /** a clock in ms (the budget) */
  now(): number;
}

/** The tuner's timer on the device: buildConv + timeSubmit (wall time, submit to done). */
export function gpuTuneTimer(ctx: GpuContext): TuneTimer {
  return {
    now: () => performance.now(),
    async measure(s, direction, versions, reps, mustRun, dropped) {
      const pool = new ConvBufferPool(ctx);
      const built = new Map<ConvVersion, BuiltConv>();
      const times = new Map<ConvVersion, number[]>();
      try {
        for (const v of versions) {
          try {
            ctx.device.pushErrorScope('validation');
            let b: BuiltConv | undefined;
            let runErr: unknown;
            try {
              b = await buildConv(ctx, v, s, direction, pool);
              await timeSubmit(ctx, b.list); // compiles the pipelines (first dispatch on lavapipe)
            } catch (e) {
              runErr = e;
            }
            const err = await ctx.device.popErrorScope();
            if (runErr) throw runErr;
            if (err) throw new Error(err.message);
            built.set(v, b!);
            times.set(v, []);
          } catch (e) {
            if (v === mustRun) throw e;
            dropped(v, (e as Error).message);
          }
        }
        if (built.size > 1) {
          for (let i = 0; i < reps; i++) for (const [v, b] of built) times.get(v)!.push(await timeSubmit(ctx, b.list));
        }
      } finally {
        pool.destroy();
      }
      return times;
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Whether times `t` beat the default's `def` by MARGIN: median and fastest run both. */
export function beats(t: readonly number[], def: readonly number[]): boolean {
  return t.length > 0 && def.length > 0 && median([...t]) < MARGIN * median([...def]) && Math.min(...t) < MARGIN * Math.min(...def);
}

/** The fastest candidate (by median) that beats the default, or undefined. */
export function bandWinner(times: ReadonlyMap<ConvVersion, number[]>, defaultVersion: ConvVersion): ConvVersion | undefined {
  const def = times.get(defaultVersion) ?? [];
  let best: ConvVersion | undefined;
  for (const [v, t] of times) {
    if (v === defaultVersion || !beats(t, def)) continue;
    if (!best || median(t) < median(times.get(best)!)) best = v;
  }
  return best;
}

/**
 * Tunes each request (requests with the same shape and direction are timed once); returns the
 * entries of the shapes tuned within the budget. A candidate that fails to build or run is
 * dropped (its error is reported through onTune); the default never is.
 */
export async function tuneShapes(
  ctx: Pick<GpuContext, 'isCpuAdapter'>,
  requests: readonly TuneRequest[],
  onTune?: (line: string) => void,
  timer: TuneTimer = gpuTuneTimer(ctx as GpuContext),
): Promise<Array<{ shape: ConvShape; direction: Direction; entry: TunedEntry }>> {
  const budgetMs = ctx.isCpuAdapter ? 5000 : 1000;
  const start = timer.now();
  const out: Array<{ shape: ConvShape; direction: Direction; entry: TunedEntry }> = [];
  const seen = new Set<string>();
  const byWork = [...requests].sort((a, b) => convFlops(b.shape) - convFlops(a.shape));
  const pct = Math.round((1 - MARGIN) * 100);
  for (const r of byWork) {
    const key = `${r.direction} ${r.shape.H}x${r.shape.W} ${r.shape.Cin}->${r.shape.Cout}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (timer.now() - start > budgetMs) break;
    const dropped = (v: ConvVersion, why: string) => onTune?.(`${key}: ${v} dropped: ${why}`);
    const def = r.defaultVersion;
    // 1. the band
    const rows = rowsToTime(ctx, r.shape);
    const band = await timer.measure({ ...r.shape, H: rows }, r.direction, r.candidates, REPS, def, dropped);
    const ms: Partial<Record<ConvVersion, number>> = {};
    for (const [v, t] of band) if (t.length) ms[v] = (median(t) * r.shape.H) / rows;
    let version = def;
    let why = band.size > 1 ? `tuned: default ${def} kept (no candidate > ${pct} % faster)` : `tuned: ${def} is the only candidate`;
    let rowsConfirmed: number | undefined;
    const win = bandWinner(band, def);
    if (win) {
      const bandX = median(band.get(def)!) / median(band.get(win)!);
      const rows2 = confirmRows(ctx, r.shape, rows, median(band.get(def)!));
      if (rows2 <= rows) {
        // the band was the full shape: nothing larger to confirm on
        version = win;
        why = `tuned: ${win} ${bandX.toFixed(2)}x faster than the default ${def}`;
      } else {
        // 2. the confirmation: the winner against the default alone, on a larger band
        rowsConfirmed = rows2;
        const conf = await timer.measure({ ...r.shape, H: rows2 }, r.direction, [def, win], REPS, def, dropped);
        const d2 = conf.get(def) ?? [];
        const w2 = conf.get(win) ?? [];
        for (const [v, t] of conf) if (t.length) ms[v] = (median(t) * r.shape.H) / rows2;
        const confX = d2.length && w2.length ? median(d2) / median(w2) : null;
        // the fastest runs' ratio too when it is what failed the test (a lucky fast run of the default under load)
        const minX = confX !== null ? Math.min(...d2) / Math.min(...w2) : null;
        const minNote = minX !== null && minX <= 1 / MARGIN && confX! > 1 / MARGIN ? ` (fastest runs ${minX.toFixed(2)}x)` : '';
        const on = `${rows} rows ${bandX.toFixed(2)}x, ${rows2} rows ${confX === null ? `${win} failed` : `${confX.toFixed(2)}x${minNote}`}`;
        if (beats(w2, d2)) {
          version = win;
          why = `tuned: ${win} ${confX!.toFixed(2)}x faster than the default ${def} (confirmed: ${on})`;
        } else why = `tuned: default ${def} kept: ${win} won the band but not the confirmation (${on}; needs > ${pct} %)`;
      }
    }
    const entry: TunedEntry = { version, why, ms, rowsTimed: rows, ...(rowsConfirmed ? { rowsConfirmed } : {}) };
    onTune?.(`${key}: ${why} (${Object.entries(ms).map(([v, t]) => `${v} ${t!.toFixed(1)} ms`).join(', ')}; ${rows}${rowsConfirmed ? `/${rowsConfirmed}` : ''} of ${r.shape.H} rows timed)`);
    out.push({ shape: r.shape, direction: r.direction, entry });
  }
  return out;
}
