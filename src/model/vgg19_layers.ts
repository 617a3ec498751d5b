// The VGG19 convolution stack (Simonyan & Zisserman 2014), Keras layer names.
// Every conv is 3x3, stride 1, 'same' padding, followed by ReLU; each block ends in a 2x2
// stride-2 pooling (Keras 'valid': odd sizes floor). Fully connected layers are not needed.

export interface ConvLayerSpec {
  name: string; // Keras name, e.g. "block3_conv1"; its output is taken after the ReLU
  block: number; // 1..5
  cin: number;
  cout: number;
  /** true when a 2x2 pooling follows this layer (last conv of a block) */
  poolAfter: boolean;
}

const BLOCKS: Array<{ convs: number; channels: number }> = [
  { convs: 2, channels: 64 },
  { convs: 2, channels: 128 },
  { convs: 4, channels: 256 },
  { convs: 4, channels: 512 },
  { convs: 4, channels: 512 },
];

export const VGG19_LAYERS: readonly ConvLayerSpec[] = (() => {
  const out: ConvLayerSpec[] = [];
  let cin = 3;
  BLOCKS.forEach((b, bi) => {
    for (let i = 1; i <= b.convs; i++) {
      out.push({ name: `block${bi + 1}_conv${i}`, block: bi + 1, cin, cout: b.channels, poolAfter: i === b.convs });
      cin = b.channels;
    }
  });
  return out;
})();

export const VGG19_LAYER_NAMES: readonly string[] = VGG19_LAYERS.map((l) => l.name);

/** The 32 tensors of the 16 convolutions in a VGG19 weights manifest: name, layer and shape (HWIO kernel, bias). */
export const VGG19_TENSORS: ReadonlyArray<{ name: string; layer: string; shape: readonly number[] }> = VGG19_LAYERS.flatMap((l) => [
  { name: `${l.name}/kernel`, layer: l.name, shape: [3, 3, l.cin, l.cout] },
  { name: `${l.name}/bias`, layer: l.name, shape: [l.cout] },
]);

/** Index of a Keras layer name in VGG19_LAYERS, or a clear error listing the valid names. */
export function layerIndex(name: string): number {
  const i = VGG19_LAYER_NAMES.indexOf(name);
  if (i < 0) throw new Error(`unknown VGG19 layer "${name}"; valid layers: ${VGG19_LAYER_NAMES.join(', ')}`);
  return i;
}

/** A conv layer at an input size: its output h x w (post-ReLU) and, where a pooling follows, the pooled size. */
export interface LayerGeometry extends ConvLayerSpec {
  h: number;
  w: number;
  /** [floor(h/2), floor(w/2)] when poolAfter, else null */
  pooled: [number, number] | null;
}

/**
 * The VGG19 geometry for an H x W input: every conv layer's output size, halved (floor, Keras
 * 'valid' pooling) after the last conv of each block. The one place the sizes are derived
 * (layerSize, the GPU plan in vgg19.ts and the memory count in src/style/footprint.ts use it).
 */
export function vgg19Geometry(H: number, W: number): LayerGeometry[] {
  let [h, w] = [H, W];
  return VGG19_LAYERS.map((spec) => {
    const pooled: [number, number] | null = spec.poolAfter ? [Math.floor(h / 2), Math.floor(w / 2)] : null;
    const g = { ...spec, h, w, pooled };
    if (pooled) [h, w] = pooled;
    return g;
  });
}

/** Spatial size [H, W] of a layer's output for an input of h x w (floor at each pooling). */
export function layerSize(name: string, h: number, w: number): [number, number] {
  const g = vgg19Geometry(h, w)[layerIndex(name)];
  return [g.h, g.w];
}

/** Smallest input side for which `name` still has at least 1x1 output. */
export function minInputSide(name: string): number {
  const idx = layerIndex(name);
  let pools = 0;
  for (let i = 0; i < idx; i++) if (VGG19_LAYERS[i].poolAfter) pools++;
  return 2 ** pools;
}
