// Which kernel version the model uses. Every version stays runnable (tests run them all and
// `npm run bench` times them all); this is the one place that picks.
//
// conv3x3: v3 (8x8 register tile, vec4 weights) measured 1.4-1.5x faster than v2 (4x8) and
// ~10x faster than v1 on lavapipe at VGG19 shapes (same-run A/B). Where v3 cannot run (the
// 3-channel input gradient of block1_conv1) versionFor() picks the narrow backward v4. It is
// also the default on real GPUs until a workgroup-memory-tiled version is measured there.

import type { GpuContext } from '../gpu/device.ts';
import type { ConvVersion } from './conv3x3.ts';

export function chooseConvVersion(_ctx: GpuContext): ConvVersion {
  return 'v3';
}
