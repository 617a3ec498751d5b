// How much GPU memory a style transfer needs, computed from its plan without allocating it:
// the weights (Vgg19.create), the network's tensors and scratch (Vgg19Plan.build), the
// objective's targets and Gram buffers (StyleObjective.create) and the optimizer's vectors.
// It follows the allocations of those three files one for one (a test compares it with the bytes
// the runtime counts in a real run); uniform buffers and small scalars are left out (kilobytes).
//
// Used before a run starts (does the plan fit the memory there is?) and by the benchmark's memory
// table for sizes that cannot run on the machine at hand.

import type { GpuContext } from '../gpu/device.ts';
import { isWinograd, supports, usesFlippedKernel, winogradScratchFloats, winogradScratchLimit, winogradTile } from '../kernels/conv3x3.ts';
import { gramSplits } from '../kernels/gram.ts';
import { candidates, chooseConvVersion, type KernelMode, modelConvVersionAt, winogradPays } from '../kernels/kernel_table.ts';
import { convKernelRows } from '../model/banded_ops.ts';
import { bandRanges } from '../model/bands.ts';
import { BAND_SCRATCH_MAX, deviceBufferLimit } from '../model/vgg19.ts';
import { layerIndex, layerSize, VGG19_LAYERS, vgg19Geometry } from '../model/vgg19_layers.ts';
import { deepestLayer, type StyleConfig } from './config.ts';

export interface Footprint {
  /** all of it, bytes */
  bytes: number;
  /** bytes by part */
  parts: { weights: number; activations: number; gradients: number; scratch: number; targets: number; optimizer: number };
  /** row bands of the input image ('input') and of each layer's output (1 = unbanded) */
  bands: Record<string, number>;
  /** the largest single buffer, bytes */
  largestBuffer: number;
}

export interface FootprintOptions {
  /** the plan's buffer limit (default: the device's) */
  maxBufferBytes?: number;
  optimizer?: 'lbfgs' | 'adam';
  /** L-BFGS history pairs (default 10) */
  history?: number;
  /** the style images (default: one, unmasked, scale 1) */
  styles?: StyleCounts;
  /**
   * how the kernel table picks (--kernels): 'default' (the default) counts the Winograd transforms
   * and scratch of the hand-written choice; 'tuned' counts, at each conv, the most that any
   * Winograd candidate of the autotuner would need (its choice is known only once measured), a bound
   */
  kernels?: KernelMode;
}

/** How many style images, how many of them masked, and their scale (--style-scale). */
export interface StyleCounts {
  count: number;
  masked: number;
  scale: number;
}

const r16 = (b: number) => Math.max(16, Math.ceil(b / 16) * 16);

/** The GPU bytes a transfer at rows x cols allocates on this device. */
export function transferFootprint(ctx: GpuContext, rows: number, cols: number, cfg: StyleConfig, opts: FootprintOptions = {}): Footprint {
  const maxBytes = opts.maxBufferBytes ?? deviceBufferLimit(ctx);
  const version = chooseConvVersion(ctx);
  const parts = { weights: 0, activations: 0, gradients: 0, scratch: 0, targets: 0, optimizer: 0 };
  let largestBuffer = 0;
  const add = (part: keyof typeof parts, bytes: number, count = 1) => {
    parts[part] += r16(bytes) * count;
    if (part !== 'weights') largestBuffer = Math.max(largestBuffer, r16(bytes));
  };
  // Weights (the layers up to the deepest used, as styleTransfer uploads them): kernel, bias;
  // Winograd transforms ((m+2)^2 / 9 of the kernel each) where the model's version may run
  // (made at create) and where the table runs another Winograd tile; the flip-transposed kernel
  // where the layer's backward runs a direct version (v2-v6, made by the plan).
  const deepest = layerIndex(deepestLayer(cfg));
  const transforms = new Map<string, number>(); // "layer direction m" -> bytes, counted after the scratch below
  const tuned = opts.kernels === 'tuned';
  const addTransform = (l: { name: string; cin: number; cout: number }, dir: string, v: Parameters<typeof winogradTile>[0]) => {
    const m = winogradTile(v);
    transforms.set(`${l.name} ${dir} ${m}`, (m + 2) ** 2 * l.cin * l.cout * 4);
  };
  for (const l of VGG19_LAYERS.slice(0, deepest + 1)) {
    add('weights', 9 * l.cin * l.cout * 4);
    add('weights', l.cout * 4);
    const s = { H: 1, W: 1, Cin: l.cin, Cout: l.cout };
    for (const dir of ['forward', 'backward'] as const) if (isWinograd(version) && supports(version, s, dir) && winogradPays(s, dir)) addTransform(l, dir, version);
  }
  // The network's tensors, as Vgg19Plan.build lays them out.
  const n = rows * cols * 3;
  const bandsOf = (h: number, w: number, c: number) => bandRanges(h, w, c, maxBytes);
  const addBanded = (part: keyof typeof parts, h: number, w: number, c: number, count = 1) => {
    for (const [r0, r1] of bandsOf(h, w, c)) add(part, (r1 - r0) * w * c * 4, count);
  };
  // the image and every vector of its size are stored in the image's row bands
  const addImage = (part: keyof typeof parts, count = 1) => addBanded(part, rows, cols, 3, count);
  addImage('activations'); // input image
  addImage('gradients'); // input gradient
  const bands: Record<string, number> = { input: bandsOf(rows, cols, 3).length };
  const shapes: Array<{ name: string; H: number; W: number; Cin: number; Cout: number; banded: boolean }> = [];
  let inBands = bands.input; // the first layer reads the image
  let maxFloats = n;
  for (const [i, l] of vgg19Geometry(rows, cols).slice(0, deepest + 1).entries()) {
    const { h, w } = l;
    const yBands = bandsOf(h, w, l.cout).length;
    bands[l.name] = yBands;
    addBanded('activations', h, w, l.cout);
    maxFloats = Math.max(maxFloats, h * w * l.cout);
    const pooled = l.pooled && i < deepest ? l.pooled : null;
    let pooledBands = 1;
    if (pooled) {
      pooledBands = bandsOf(pooled[0], pooled[1], l.cout).length;
      addBanded('activations', pooled[0], pooled[1], l.cout);
    }
    shapes.push({ name: l.name, H: h, W: w, Cin: l.cin, Cout: l.cout, banded: inBands > 1 || yBands > 1 || pooledBands > 1 });
    if (l.name === cfg.contentLayer) addBanded('gradients', h, w, l.cout); // loss-gradient slot (style layers use injectors)
    inBands = pooled ? pooledBands : yBands;
  }
  const anyBanded = shapes.some((s) => s.banded);
  const scratchBytes = anyBanded ? Math.min(maxBytes, BAND_SCRATCH_MAX, 4 * maxFloats) : 0;
  if (anyBanded) add('scratch', scratchBytes, 4);
  // Winograd scratch: the largest V and M over the convs that run a Winograd version.
  let v = 0;
  let m = 0;
  for (const s of shapes) {
    const ks = { H: convKernelRows(s, s.banded, scratchBytes), W: s.W, Cin: s.Cin, Cout: s.Cout };
    for (const dir of ['forward', 'backward'] as const) {
      const runs = tuned ? candidates(ctx, ks, dir, maxBytes) : [modelConvVersionAt(ctx, version, ks, dir, maxBytes)];
      if (dir === 'backward' && runs.some(usesFlippedKernel)) add('weights', 9 * s.Cin * s.Cout * 4);
      for (const chosen of runs.filter(isWinograd)) {
        const f = winogradScratchFloats(ks, dir, winogradScratchLimit(ctx, maxBytes), chosen);
        v = Math.max(v, f.v);
        m = Math.max(m, f.m);
        if (tuned) addTransform({ name: s.name, cin: s.Cin, cout: s.Cout }, dir, chosen);
      }
    }
  }
  if (v) add('scratch', v * 4);
  if (m) add('scratch', m * 4);
  for (const bytes of transforms.values()) add('weights', bytes);
  // The backward's two ping-pong pools (as many buffers as the most bands a gradient has) and
  // the relu scratch of the unchunked layers.
  const poolBytes = Math.min(maxBytes, maxFloats * 4);
  const poolBuffers = Math.max(1, ...shapes.map((s) => bandRanges(s.H, s.W, s.Cin === 3 ? 1 : s.Cin, poolBytes).length));
  add('gradients', poolBytes, 2 * poolBuffers);
  const gFloats = Math.max(0, ...shapes.map((s) => (s.banded ? 0 : s.H * s.W * s.Cout)));
  if (gFloats) add('scratch', gFloats * 4);
  // The objective: content target P, per style layer and loss group (the unmasked styles
  // together, each masked style alone) G, A and dL/dG, the Gram partials, each masked style's
  // mask in the layer's bands and the masked-feature scratch; its gradient.
  const st = opts.styles ?? { count: 1, masked: 0, scale: 1 };
  const groups = (st.count > st.masked ? 1 : 0) + st.masked;
  const [ch, cw] = layerSize(cfg.contentLayer, rows, cols);
  addBanded('targets', ch, cw, VGG19_LAYERS[layerIndex(cfg.contentLayer)].cout);
  let maskedScratch = 0;
  for (const name of cfg.styleLayers) {
    const c = VGG19_LAYERS[layerIndex(name)].cout;
    const [sh, sw] = layerSize(name, rows, cols);
    const ranges = bandsOf(sh, sw, c);
    const maxN = Math.max(...ranges.map(([r0, r1]) => (r1 - r0) * sw));
    add('targets', c * c * 4, 3 * groups);
    add('scratch', gramSplits(maxN, c, maxBytes) * c * c * 4);
    for (let k = 0; k < st.masked; k++) for (const [r0, r1] of ranges) add('targets', (r1 - r0) * sw * 4);
    maskedScratch = Math.max(maskedScratch, maxN * c);
  }
  if (st.masked) add('scratch', maskedScratch * 4, 2);
  addImage('gradients'); // the objective's gradient out
  // The optimizer: x0, and L-BFGS's x, trial x, direction, 4 gradients, q and 2m history vectors
  // (Adam: x, gradient, two moments).
  const vectors = opts.optimizer === 'adam' ? 1 + 4 : 1 + 8 + 2 * (opts.history ?? 10);
  addImage('optimizer', vectors);
  // A style at another size (--style-scale) has its targets computed through a plan of that size,
  // made and freed before the optimizer allocates its vectors: the peak is the larger of the two.
  // That plan has no injectors, so it also holds a gradient slot per style layer.
  if (st.scale !== 1) {
    const [sr, sc] = [Math.max(16, Math.round(rows * st.scale)), Math.max(16, Math.round(cols * st.scale))];
    const f = transferFootprint(ctx, sr, sc, cfg, { maxBufferBytes: maxBytes });
    let planBytes = f.parts.activations + f.parts.gradients + f.parts.scratch;
    for (const name of cfg.styleLayers) {
      if (name === cfg.contentLayer) continue;
      const [sh, sw] = layerSize(name, sr, sc);
      planBytes += sh * sw * VGG19_LAYERS[layerIndex(name)].cout * 4;
    }
    parts.scratch += Math.max(0, planBytes - parts.optimizer);
  }
  const bytes = Object.values(parts).reduce((a, b) => a + b, 0);
  return { bytes, parts, bands, largestBuffer };
}

