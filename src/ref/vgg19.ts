// CPU reference of the VGG19 forward (to named layers) and backward (from gradients injected
// at those layers), composed from the per-kernel references. Float64, slow: tiny images only.
import type { PoolMode } from '../kernels/pool2x2.ts';
import { layerIndex, VGG19_LAYERS } from '../model/vgg19_layers.ts';
import type { Vgg19Weights } from '../model/weights.ts';
import { conv3x3BackwardCpu, conv3x3ForwardCpu } from './conv3x3.ts';
import { pool2x2BackwardCpu, pool2x2ForwardCpu } from './pool2x2.ts';

export interface Vgg19CpuTrace {
  /** post-ReLU output of every conv layer up to the deepest requested */
  y: Float64Array[];
  /** input of every conv layer */
  inputs: Float64Array[];
  sizes: Array<[number, number]>;
}

export function vgg19ForwardCpu(weights: Vgg19Weights, x: ArrayLike<number>, H: number, W: number, deepest: string, pooling: PoolMode): Vgg19CpuTrace {
  const last = layerIndex(deepest);
  const trace: Vgg19CpuTrace = { y: [], inputs: [], sizes: [] };
  let cur: Float64Array = Float64Array.from(x);
  let h = H;
  let w = W;
  for (let i = 0; i <= last; i++) {
    const spec = VGG19_LAYERS[i];
    const lw = weights.layers.get(spec.name)!;
    trace.inputs.push(cur);
    trace.sizes.push([h, w]);
    const y = conv3x3ForwardCpu(cur, lw.kernel, lw.bias, h, w, spec.cin, spec.cout);
    trace.y.push(y);
    cur = y;
    if (spec.poolAfter && i < last) {
      cur = pool2x2ForwardCpu(y, h, w, spec.cout, pooling);
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
  }
  return trace;
}

/** Gradient w.r.t. the input of sum over layers l of <grads[l], y_l>. */
export function vgg19BackwardCpu(weights: Vgg19Weights, trace: Vgg19CpuTrace, grads: Map<string, ArrayLike<number>>, pooling: PoolMode): Float64Array {
  const last = trace.y.length - 1;
  let dy: Float64Array = Float64Array.from(grads.get(VGG19_LAYERS[last].name) ?? new Float64Array(trace.y[last].length));
  for (let i = last; i >= 0; i--) {
    const spec = VGG19_LAYERS[i];
    const [h, w] = trace.sizes[i];
    let dx = conv3x3BackwardCpu(dy, trace.y[i], weights.layers.get(spec.name)!.kernel, h, w, spec.cin, spec.cout);
    if (i === 0) return dx;
    const prev = VGG19_LAYERS[i - 1];
    const [ph, pw] = trace.sizes[i - 1];
    if (prev.poolAfter) dx = pool2x2BackwardCpu(dx, trace.y[i - 1], ph, pw, prev.cout, pooling);
    const inj = grads.get(prev.name);
    if (inj) for (let k = 0; k < dx.length; k++) dx[k] += inj[k];
    dy = dx;
  }
  throw new Error('unreachable');
}
