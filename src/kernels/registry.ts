// Which kernel version the model uses. Every version stays runnable (tests run them all and
// `npm run bench` times them all); this is the one place that picks.
//
// conv3x3 on CPU adapters (lavapipe, SwiftShader): v7, Winograd F(2x2, 3x3) — its 16 GEMMs run on
// the same 8x8 register-tiled core as v3 with 2.25x fewer multiply-adds; same-run A/B on
// lavapipe: 1.5x v3 at 128x170 64->64, 1.9-2.0x at 256->256 and 512->512 (the transforms are
// memory passes, relatively cheaper the more channels). Before it, v3 (8x8 register tile, vec4
// weights) measured 1.4-1.5x faster than v2 (4x8), ~10x faster than v1, and faster than the
// workgroup-tiled v5, whose barriers and staging copies cost more than they save when every
// "thread" is a SIMD lane of a CPU core. v7 needs two scratch buffers (at most 32 MiB each: it
// runs large images in chunks of tile rows) and does not pay below 16 input channels
// (winogradPays); modelConvVersionAt says which version the model runs at each shape.
// On real GPUs: v5 (workgroup-memory tiling: coalesced loads, each global value read once per
// 64x64 tile), the standard GPU GEMM design. No GPU was available when this was written, so this
// choice is by design, not yet by measurement: `npm run bench` times every version on the adapter
// at hand, and this is the place to change if it disagrees.
// Where the chosen version cannot run (v3/v7 and the 3-channel input gradient of block1_conv1),
// versionFor() in conv3x3.ts picks the narrow backward v6 (Cin <= 3; 1.5-1.7x v4 on lavapipe,
// same-run A/B at 400x533), else v4 (Cin <= 4), else v2. On hardware adapters v5 runs every
// shape, so the narrow kernels are used only on CPU adapters.

import type { GpuContext } from '../gpu/device.ts';
import { type ConvShape, type ConvVersion, versionFor, winogradFits } from './conv3x3.ts';

export function chooseConvVersion(ctx: GpuContext): ConvVersion {
  return ctx.isCpuAdapter ? 'v7' : 'v5';
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
 * fallbacks (v6/v4/v2 where the preferred cannot run), and v3 instead of v7 where Winograd does
 * not pay or its scratch would not fit the device (Vgg19Plan and the benchmark both use this).
 */
export function modelConvVersionAt(
  ctx: GpuContext,
  preferred: ConvVersion,
  s: ConvShape,
  direction: 'forward' | 'backward',
  maxBytes = Infinity,
): ConvVersion {
  const v = versionFor(preferred, s, direction);
  return v === 'v7' && !(winogradPays(s, direction) && winogradFits(ctx, s, direction, maxBytes)) ? versionFor('v3', s, direction) : v;
}
