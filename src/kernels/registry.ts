// Which kernel version the model uses. Every version stays runnable (tests run them all and
// `npm run bench` times them all); this is the one place that picks.
//
// conv3x3: v2 (register tiling) measured fastest on the CPU adapters this project is built on
// (lavapipe: 5-7 GFLOP/s forward vs <1 for v1 at VGG shapes). It is also the default on real GPUs
// until a workgroup-memory-tiled version is measured there.

import type { GpuContext } from '../gpu/device.ts';
import type { ConvVersion } from './conv3x3.ts';

export function chooseConvVersion(_ctx: GpuContext): ConvVersion {
  return 'v2';
}
