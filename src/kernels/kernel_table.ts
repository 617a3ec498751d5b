// The kernel table: which conv3x3 version runs at each VGG19 layer and direction, and why. This
// is the one place that picks (Vgg19Plan, `neural-style kernels`, the benchmark and the memory
// footprint all ask here). Two modes:
//   default  the hand-written choice below (chooseConvVersion, winogradPays, modelConvVersionAt)
//   tuned    the autotuner (kernel_tune.ts) times the candidate versions at the layer's shape on
//            first use (bounded: a few seconds per run on a CPU adapter), keeps the default
//            unless a candidate is > 5 % faster over repeated timings on a band of rows and again on a
//            larger band (or the full shape), and caches the choice per adapter and shape (kernel_cache.ts)
//
// The hand-written default, as measured when it was written:
// conv3x3 on CPU adapters (lavapipe, SwiftShader): v9, Winograd F(4x4, 3x3) — its 36 GEMMs run on
// the same core as v7's 16 with 1.78x fewer multiply-adds in all (see bench/README.md for the
// whole-evaluation figures that made it the default). Before it, v7, Winograd F(2x2, 3x3) — its 16 GEMMs run on
// the same 8x8 register-tiled core as v3 with 2.25x fewer multiply-adds; same-run A/B on
// lavapipe: 1.5x v3 at 128x170 64->64, 1.9-2.0x at 256->256 and 512->512 (the transforms are
// memory passes, relatively cheaper the more channels). Before it, v3 (8x8 register tile, vec4
// weights) measured 1.4-1.5x faster than v2 (4x8), ~10x faster than v1, and faster than the
// workgroup-tiled v5, whose barriers and staging copies cost more than they save when every
// "thread" is a SIMD lane of a CPU core. The Winograd versions need two scratch buffers (at most
// 32 MiB each: they run large images in chunks of tile rows) and do not pay below 16 input
// channels (winogradPays); modelConvVersionAt says which version the model runs at each shape.
// On real GPUs: v5 (workgroup-memory tiling: coalesced loads, each global value read once per
// 64x64 tile), the standard GPU GEMM design. No GPU was available when this was written, so this
// choice is by design, not yet by measurement: `npm run bench` times every version on the adapter
// at hand, and this is the place to change if it disagrees.
// Where the chosen version cannot run (v3/v7 and the 3-channel input gradient of block1_conv1),
// versionFor() in conv3x3.ts picks the narrow backward v6 (Cin <= 3; 1.5-1.7x the retired v4 on
// lavapipe, same-run A/B at 400x533), else v2. On hardware adapters v5 runs every
// shape, so the narrow kernels are used only on CPU adapters.

import type { GpuContext } from '../gpu/device.ts';
import { type ConvShape, type ConvVersion, convUnavailable, isWinograd, supports, versionFor, winogradFits } from './conv3x3.ts';

export function chooseConvVersion(ctx: GpuContext): ConvVersion {
  return ctx.isCpuAdapter ? 'v9' : 'v5';
}

/**
 * Whether v7 (Winograd) pays at a shape: its transforms are memory passes over the input and
 * output, worth it only when the GEMM's reduction (Cin forward, Cout backward) is long enough.
 * block1_conv1's forward (Cin = 3) ran 2.4x slower in v7 than in v3 at 400x533 on lavapipe;
 * from 64 channels on v7 is 1.5-2x faster. Below 16 the model runs v3 instead.
 */
export function winogradPays(s: { Cin: number; Cout: number }, direction: 'forward' | 'backward'): boolean {
  return (direction === 'forward' ? s.Cin : s.Cout) >= 16;
}

/**
 * The version the model runs at one conv shape when `preferred` is its version: versionFor's
 * fallbacks (v6/v2 where the preferred cannot run), and where a Winograd version cannot run,
 * does not pay or its scratch would not fit the device, v3 (or v3's own fallbacks) (Vgg19Plan
 * and the benchmark both use this).
 */
export function modelConvVersionAt(
  ctx: GpuContext,
  preferred: ConvVersion,
  s: ConvShape,
  direction: 'forward' | 'backward',
  maxBytes = Infinity,
): ConvVersion {
  if (!isWinograd(preferred)) return versionFor(preferred, s, direction);
  return supports(preferred, s, direction) && winogradPays(s, direction) && winogradFits(ctx, s, direction, maxBytes, preferred) ? preferred : versionFor('v3', s, direction);
}

// ---------------------------------------------------------------------------------------------
// The table

export type Direction = 'forward' | 'backward';

/** default: the hand-written choice; tuned: measured per adapter and shape, cached (see the header). */
export const KERNEL_MODES = ['default', 'tuned'] as const;
export type KernelMode = (typeof KERNEL_MODES)[number];

/** One conv the model runs: its layer, direction and the shape one kernel call runs (H: rows per call). */
export interface ConvSite {
  layer: string;
  direction: Direction;
  shape: ConvShape;
}

/** The version that runs at a site, and why. */
export interface KernelRow extends ConvSite {
  version: ConvVersion;
  /** what the hand-written default would run */
  defaultVersion: ConvVersion;
  why: string;
  /** tuned: whether the choice was measured (now or in an earlier run, from the cache) */
  measured: boolean;
  /** measured: median ms of each candidate at the full shape (extrapolated from the rows timed; the default and a band winner: from the confirmation's larger band) */
  ms?: Partial<Record<ConvVersion, number>>;
}

/** Whether `v` can run site shape `s` on this device within maxBytes (Winograd's scratch must fit). */
export function runnable(ctx: GpuContext, v: ConvVersion, s: ConvShape, direction: Direction, maxBytes = Infinity): boolean {
  return supports(v, s, direction) && !convUnavailable(ctx, v) && (!isWinograd(v) || winogradFits(ctx, s, direction, maxBytes, v));
}

/** The hand-written default at one shape and why (`preferred`: the model's version, chooseConvVersion by default). */
export function defaultChoice(ctx: GpuContext, s: ConvShape, direction: Direction, maxBytes = Infinity, preferred = chooseConvVersion(ctx)): { version: ConvVersion; why: string } {
  const version = modelConvVersionAt(ctx, preferred, s, direction, maxBytes);
  const adapter = ctx.isCpuAdapter ? 'CPU adapter' : 'GPU adapter';
  if (version === preferred) return { version, why: `default for a ${adapter}` };
  if (isWinograd(preferred) && !winogradPays(s, direction)) return { version, why: `default: Winograd does not pay below 16 ${direction === 'forward' ? 'input' : 'output'} channels` };
  if (isWinograd(preferred) && supports(preferred, s, direction)) return { version, why: 'default: Winograd scratch does not fit the buffer limit' };
  return { version, why: `default: ${preferred} cannot run here (Cin=${s.Cin}, Cout=${s.Cout})` };
}

/**
 * The versions the autotuner times at a shape: the default and, where they can run, v3 and the
 * Winograd versions v7/v8/v9 (v8 only with subgroups), v5 on GPU adapters (on CPU adapters its
 * barriers lose to register tiling everywhere: see the header), the narrow backward kernel v6
 * where they apply.
 */
export function candidates(ctx: GpuContext, s: ConvShape, direction: Direction, maxBytes = Infinity, def = defaultChoice(ctx, s, direction, maxBytes).version): ConvVersion[] {
  const all: ConvVersion[] = [def, 'v3', 'v7', 'v8', 'v9', ...(ctx.isCpuAdapter ? [] : (['v5'] as ConvVersion[])), 'v6'];
  return [...new Set(all)].filter((v) => runnable(ctx, v, s, direction, maxBytes));
}

/** Options of kernelTable. */
export interface KernelTableOptions {
  mode?: KernelMode;
  /** the model's preferred version (Vgg19Options.convVersion); given, the table is the default one for it */
  preferred?: ConvVersion;
  maxBytes?: number;
  /** tuned mode: time the shapes not in the cache (default true); false: those keep the default */
  tune?: boolean;
  /** called with one line per tuned shape */
  onTune?: (line: string) => void;
}

/**
 * The version each site runs. default: defaultChoice. tuned: the cached measurement of this
 * adapter and shape where one exists and can run, else (tune) the autotuner's (kernel_tune.ts;
 * shapes shared by several sites are timed once; new entries are written to the cache).
 */
export async function kernelTable(ctx: GpuContext, sites: readonly ConvSite[], opts: KernelTableOptions = {}): Promise<KernelRow[]> {
  const maxBytes = opts.maxBytes ?? Infinity;
  const rows: KernelRow[] = sites.map((site) => {
    const d = defaultChoice(ctx, site.shape, site.direction, maxBytes, opts.preferred);
    return { ...site, version: d.version, defaultVersion: d.version, why: d.why, measured: false };
  });
  if ((opts.mode ?? 'default') === 'default' || opts.preferred) return rows;
  const { adapterKey, cachedEntry, readKernelCache, shapeKey, writeKernelCache } = await import('./kernel_cache.ts');
  const { tuneShapes } = await import('./kernel_tune.ts');
  const adapter = adapterKey(ctx);
  const cache = await readKernelCache();
  const usable = (r: KernelRow) => {
    const e = cachedEntry(cache, adapter, shapeKey(r.direction, r.shape));
    return e && runnable(ctx, e.version, r.shape, r.direction, maxBytes) ? e : undefined;
  };
  const missing = rows.filter((r) => !usable(r));
  if (missing.length && opts.tune !== false) {
    const fresh = await tuneShapes(ctx, missing.map((r) => ({ shape: r.shape, direction: r.direction, defaultVersion: r.defaultVersion, candidates: candidates(ctx, r.shape, r.direction, maxBytes, r.defaultVersion) })), opts.onTune);
    const entries = Object.fromEntries(fresh.map((f) => [shapeKey(f.direction, f.shape), f.entry]));
    Object.assign((cache.adapters[adapter] ??= {}), entries);
    if (fresh.length) await writeKernelCache(adapter, entries);
  }
  for (const r of rows) {
    const e = usable(r);
    if (!e) {
      r.why += opts.tune === false ? ' (not tuned yet)' : ' (tuning budget spent)';
      continue;
    }
    Object.assign(r, { version: e.version, why: e.why, measured: true, ms: e.ms });
  }
  return rows;
}
