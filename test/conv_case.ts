// One conv3x3 test case, shared by the Node kernel tests (test/kernels.test.ts) and the
// browser's kernel page (test/browser/kernels.ts): seeded random x, w, bias and dy for a shape,
// the Float64 CPU references of the forward and of the input gradient, the GPU buffers the
// kernels take, and the tolerance both compare with.
import type { GpuContext } from '../src/gpu/device.ts';
import { createStorage, uploadStorage } from '../src/gpu/runtime.ts';
import type { ConvShape } from '../src/kernels/conv3x3.ts';
import { conv3x3BackwardCpu, conv3x3ForwardCpu, flipTransposeCpu } from '../src/ref/conv3x3.ts';
import { randomArray } from './helpers.ts';

export function convCase(ctx: GpuContext, s: ConvShape) {
  const { H, W, Cin, Cout } = s;
  const seed = H * 1000 + Cin * 7 + Cout;
  const x = randomArray(H * W * Cin, seed);
  const w = randomArray(9 * Cin * Cout, seed + 1, -0.2, 0.2);
  const bias = randomArray(Cout, seed + 2, -0.1, 0.1);
  const dy = randomArray(H * W * Cout, seed + 3);
  const yRef = conv3x3ForwardCpu(x, w, bias, H, W, Cin, Cout);
  const y32 = new Float32Array(yRef);
  // the input gradient through the ReLU of the reference output (as float32: what the GPU holds)
  const dxRef = conv3x3BackwardCpu(dy, y32, w, H, W, Cin, Cout);
  const buffers = {
    x: uploadStorage(ctx, x, 'x'),
    w: uploadStorage(ctx, w, 'w'),
    wt: uploadStorage(ctx, flipTransposeCpu(w, Cin, Cout), 'wt'),
    bias: uploadStorage(ctx, bias, 'bias'),
    y: createStorage(ctx, H * W * Cout * 4, 'y'),
    yRef: uploadStorage(ctx, y32, 'yRef'),
    dy: uploadStorage(ctx, dy, 'dy'),
    g: createStorage(ctx, H * W * Cout * 4, 'g'),
    dx: createStorage(ctx, H * W * Cin * 4, 'dx'),
  };
  return { seed, w, yRef, dxRef, buffers };
}
