// The kernel index: every shader (and the Winograd conv3x3 versions, three each) with its op, what it computes,
// its TS wrapper, CPU reference, test, benchmark row and where the model runs it. shaders/README.md's
// table is generated from this (`npm run shaders:index`), and test/shaders_coverage.test.ts checks
// that every path named here exists, that every shader has an entry, and that the README is current.

export interface KernelEntry {
  /** a shader in shaders/ (without .wgsl), or a conv version such as conv3x3_forward_v7 (three shaders) */
  name: string;
  op: string;
  computes: string;
  /** "path: function" of the TS module that builds its dispatch */
  wrapper: string;
  /** "path: function" of its Float64 CPU reference */
  ref: string;
  /** "path: test title" (vitest -t takes the title) */
  test: string;
  /** where `npm run bench` reports it (bench/results/report.md) */
  bench: string;
  /** whether, where and on which adapters the model runs it */
  model: string;
}

const conv = 'src/kernels/conv3x3.ts';
const convTest = 'test/kernels.test.ts: "conv3x3 forward and backward vs CPU reference" (every version per shape)';
const opsRow = (op: string, impl: string) => `per op: \`${op}\` rows, implementation \`${impl}\``;
const profileRow = (label: string) => `per-kernel profile of one evaluation: \`${label}\``;

/** A conv3x3 version's entry; v7 is three shaders (input transform, batched GEMM, output transform). */
function convEntry(direction: 'forward' | 'backward', v: string, computes: string, model: string): KernelEntry {
  const [op, wrapper, ref] =
    direction === 'forward' ? ['conv3x3 forward', 'conv3x3Forward', 'conv3x3ForwardCpu'] : ['conv3x3 backward (input gradient)', 'conv3x3Backward', 'conv3x3BackwardCpu'];
  const v7 = v === 'v7' || v === 'v8' || v === 'v9'; // the Winograd versions (v8: v7 with the subgroup GEMM; v9: F(4x4, 3x3))
  const profiled = v === 'v9' || (direction === 'forward' ? v === 'v3' : v === 'v6'); // what the model runs on CPU adapters
  return {
    name: `conv3x3_${direction}_${v}`,
    op,
    computes,
    wrapper: `${conv}: ${wrapper}${v7 ? ' -> winogradDispatches' : ''}`,
    ref: `src/ref/conv3x3.ts: ${ref}${v7 ? ' (pieces: src/ref/winograd.ts)' : ''}`,
    test: v === 'v7' || v === 'v9' ? `${convTest}; "${v} in chunks of one tile row"` : v === 'v8' ? `${convTest} (skipped without 'subgroups')` : convTest,
    bench: `${opsRow(`conv3x3_${direction}`, `ours ${v}`)}${profiled ? `; ${profileRow(`conv3x3_${direction}_${v}${v7 ? ':<piece>' : ''}`)}` : ''}`,
    model,
  };
}

/** A step of a Winograd conv version (step 1: the input transform, 3: the output transform; 2 is the GEMM). */
function winogradStep(name: string, version: string, step: 1 | 3, computes: string, ref: string, test: string): KernelEntry {
  return {
    name,
    op: `conv3x3 ${version}, step ${step}`,
    computes,
    wrapper: `${conv}: winogradDispatches`,
    ref,
    test,
    bench: profileRow(`conv3x3_forward_${version}:${name}`),
    model: `inside conv3x3 ${version} (forward and backward)`,
  };
}

export const KERNEL_INDEX: readonly KernelEntry[] = [
  // ---- conv3x3 forward: y = relu(conv(x, w) + b)
  convEntry('forward', 'v1', 'y = relu(conv3x3(x, w) + b); one output per invocation (naive, the second reference)', 'no (teaching)'),
  convEntry('forward', 'v2', 'same; register tile of 4 pixels x 8 channels per invocation', 'fallback where the chosen version cannot run (versionFor)'),
  convEntry(
    'forward',
    'v3',
    'same; register tile of 8 pixels x 8 channels, vec4 weight loads (Cout % 4 == 0)',
    'CPU adapters: block1_conv1 (Cin = 3, where Winograd does not pay) and layers whose Winograd scratch does not fit (kernel_table.ts modelConvVersionAt)',
  ),
  convEntry('forward', 'v5', 'same; workgroup-memory tiling, 64 x 64 output tile per 16 x 16 workgroup', 'GPU (hardware) adapters: every layer (kernel_table.ts chooseConvVersion)'),
  convEntry(
    'forward',
    'v7',
    'Winograd F(2x2, 3x3): input transform, 16 batched GEMMs, output transform + bias + ReLU; 2.25x fewer multiply-adds',
    'where the autotuner measures it faster than the default (kernel_table.ts); the CPU adapters\' default before v9',
  ),
  convEntry(
    'forward',
    'v9',
    'Winograd F(4x4, 3x3): input transform, 36 batched GEMMs, output transform + bias + ReLU; 4x fewer multiply-adds than direct, 1.78x fewer than v7; larger float32 error (convTolerance)',
    'CPU adapters (lavapipe, SwiftShader): every forward conv from block1_conv2 on (kernel_table.ts chooseConvVersion, winogradPays)',
  ),
  winogradStep('conv3x3_winograd4_input_v9', 'v9', 1, 'V = Bᵀ d B for every 6x6 input patch d and 4 channels: [36, tiles, C] (points 0, ±1, 2, -1/2, ∞)', 'src/ref/winograd.ts: winogradInputCpu (m = 4)', 'test/kernels.test.ts: "conv3x3_winograd4_input_v9 on the GPU vs its CPU reference"'),
  winogradStep('conv3x3_winograd4_output_v9', 'v9', 3, 'Y = Aᵀ M A per 4x4 tile, then bias + ReLU (forward) or plain / accumulate (input gradient)', 'src/ref/winograd.ts: winogradConvCpu (m = 4, composition), src/ref/conv3x3.ts', `${convTest} (v9)`),
  winogradStep('conv3x3_winograd_input_v7', 'v7', 1, 'V = Bᵀ d B for every 4x4 input patch d and channel: [16, tiles, C]', 'src/ref/winograd.ts: winogradInputCpu', 'test/kernels.test.ts: "conv3x3_winograd_input_v7 on the GPU vs its CPU reference"'),
  {
    name: 'conv3x3_winograd_gemm_v7',
    op: 'matmul (batched)',
    computes: 'C[z] (+)= A[z] B[z], 8 x 8 register tile: the 16 GEMMs of v7 (36 of v9) in one dispatch; the Gram backward dF (+)= F M (M = dL/dG + (dL/dG)ᵀ, ACCUMULATE); alone, the matmul ceiling',
    wrapper: 'src/kernels/matmul.ts: matmul; src/kernels/gram.ts: gramBackward',
    ref: 'src/ref/matmul.ts: matmulCpu; src/ref/gram.ts: gramBackwardCpu',
    test: 'test/kernels.test.ts: "relu_backward and matmul vs CPU reference" (conv3x3_winograd_gemm_v7 cases, plain, accumulating and batched); test/style_kernels.test.ts: "gram forward/backward vs CPU reference" (gram backward)',
    bench: `ceiling: \`matmul\` rows; \`gram_backward\` op rows; ${profileRow('conv3x3_forward_v9:conv3x3_winograd_gemm_v7')}, \`gram_backward:conv3x3_winograd_gemm_v7\``,
    model: 'inside conv3x3 v7 and v9 (forward and backward): most of an evaluation on CPU adapters; the Gram backward of every style layer, every evaluation',
  },
  {
    name: 'conv3x3_winograd_gemm_v8',
    op: 'matmul (batched), subgroups',
    computes: "C[z] = A[z] B[z], 8 x 8 register tile; the 8 rows of A loaded once per subgroup and shared by subgroupShuffle (device feature 'subgroups')",
    wrapper: 'src/kernels/matmul.ts: matmul (version v8)',
    ref: 'src/ref/matmul.ts: matmulCpu',
    test: 'test/kernels.test.ts: "relu_backward and matmul vs CPU reference" (conv3x3_winograd_gemm_v8 cases, plain and batched; skipped without \'subgroups\')',
    bench: '`--only kernels` rows of conv3x3 v8; `npm run kernel conv3x3_winograd_gemm_v8`',
    model: 'inside conv3x3 v8, where the autotuner picks it (kernel_table.ts)',
  },
  winogradStep('conv3x3_winograd_output_v7', 'v7', 3, 'Y = Aᵀ M A per tile, then bias + ReLU (forward) or plain / accumulate (input gradient)', 'src/ref/winograd.ts: winogradConvCpu (composition), src/ref/conv3x3.ts', `${convTest} (v7)`),
  convEntry(
    'forward',
    'v8',
    "v7 with the subgroup GEMM conv3x3_winograd_gemm_v8 (A shared by subgroupShuffle); only where the adapter has 'subgroups'",
    'where the autotuner measures it faster than the default (kernel_table.ts; a candidate on adapters with subgroups)',
  ),
  // ---- conv3x3 backward: dx = conv(dy * (y > 0), flipTranspose(w))
  convEntry('backward', 'v1', 'dx = conv(dy ⊙ (y > 0), flipTranspose(w)); one output per invocation, applies the ReLU mask itself', 'no (teaching)'),
  convEntry('backward', 'v2', 'same on g = relu_backward(dy, y) with wt = flipTranspose(w); 4 pixels x 8 channels', 'fallback where the chosen version cannot run (versionFor)'),
  convEntry('backward', 'v3', 'same; 8 pixels x 8 channels, vec4 weight loads (Cin % 4 == 0)', 'CPU adapters: where Winograd does not pay or fit'),
  convEntry('backward', 'v5', 'same; workgroup-memory tiling, 64 x 64 tile', 'GPU (hardware) adapters: every layer'),
  convEntry('backward', 'v6', 'same for the image (Cin <= 3): 2 rows x 8 pixels x 3 channels, each loaded value shared', "CPU adapters: block1_conv1's input gradient (the image, 3 channels)"),
  convEntry('backward', 'v7', 'relu_backward, then Winograd F(2x2, 3x3) with the flip-transposed kernel (accumulating)', 'where the autotuner measures it faster than the default (kernel_table.ts)'),
  convEntry('backward', 'v9', 'relu_backward, then Winograd F(4x4, 3x3) with the flip-transposed kernel (accumulating)', 'CPU adapters: every input gradient from block1_conv2 on'),
  convEntry('backward', 'v8', "relu_backward, then v7's Winograd with the subgroup GEMM conv3x3_winograd_gemm_v8", 'where the autotuner measures it faster (kernel_table.ts)'),
  {
    name: 'winograd_weights',
    op: 'Winograd kernel transform',
    computes: 'U = G g G^T per (k, n): [16, K, N] for F(2x2, 3x3) (TILE 2, v7/v8) or [36, K, N] for F(4x4, 3x3) (TILE 4, v9), from w (forward), or for the input gradient from w read flipped and transposed in place (FLIP)',
    wrapper: `${conv}: winogradKernel`,
    ref: 'src/ref/winograd.ts: winogradWeightsCpu',
    test: 'test/kernels.test.ts: "winograd_weights (TILE ${m}) on the GPU vs winogradWeightsCpu" (TILE 2 and 4); "winograd_weights (TILE ${m}, FLIP)": bit for bit the transform of flipTranspose(w)',
    bench: '`npm run kernel -- winograd_weights` (once per layer and direction at load, part of setupSeconds)',
    model: 'at load: every layer and direction a Winograd version runs (Vgg19.create; tuned tables at plan time)',
  },
  {
    name: 'relu_backward',
    op: 'ReLU backward',
    computes: 'g = dy ⊙ (y > 0), one element per invocation (n % 4 != 0)',
    wrapper: 'src/kernels/elementwise.ts: reluBackward',
    ref: 'src/ref/elementwise.ts: reluBackwardCpu',
    test: 'test/kernels.test.ts: "relu_backward on 1001 values"',
    bench: profileRow('relu_backward'),
    model: 'before every conv backward (v2-v9) whose element count is not a multiple of 4',
  },
  {
    name: 'relu_backward_vec4',
    op: 'ReLU backward',
    computes: 'g = dy ⊙ (y > 0), four elements per invocation (n % 4 == 0)',
    wrapper: 'src/kernels/elementwise.ts: reluBackward',
    ref: 'src/ref/elementwise.ts: reluBackwardCpu',
    test: 'test/kernels.test.ts: "relu_backward on 1000 values"',
    bench: profileRow('relu_backward_vec4'),
    model: 'before every conv backward (v2-v9): VGG19 channel counts make it the usual one',
  },
  {
    name: 'pool2x2_forward',
    op: 'pooling forward',
    computes: 'y = max or mean of each 2x2 window, stride 2 (odd sizes floor)',
    wrapper: 'src/kernels/pool2x2.ts: pool2x2Forward',
    ref: 'src/ref/pool2x2.ts: pool2x2ForwardCpu',
    test: 'test/kernels.test.ts: "pool2x2 forward and backward vs CPU reference"',
    bench: `${opsRow('pool2x2_forward', 'ours')}; ${profileRow('pool2x2_forward')}`,
    model: 'after the last conv of blocks 1-4 (max: notebook; avg: paper)',
  },
  {
    name: 'pool2x2_backward',
    op: 'pooling backward',
    computes: 'dx = dy routed to the window maximum (first on ties) or spread / 4',
    wrapper: 'src/kernels/pool2x2.ts: pool2x2Backward',
    ref: 'src/ref/pool2x2.ts: pool2x2BackwardCpu',
    test: 'test/kernels.test.ts: "pool2x2 forward and backward vs CPU reference"',
    bench: `${opsRow('pool2x2_backward', 'ours')}; ${profileRow('pool2x2_backward')}`,
    model: 'the backward of every pooling',
  },
  {
    name: 'gram_forward',
    op: 'Gram forward',
    computes: 'split-K partials of G = Fᵀ F over the positions: 8 x 8 blocks of the upper block triangle, one per invocation (no idle lanes), vec4 loads (C % 4 == 0)',
    wrapper: 'src/kernels/gram.ts: gramForward',
    ref: 'src/ref/gram.ts: gramCpu',
    test: 'test/style_kernels.test.ts: "gram forward/backward vs CPU reference"',
    bench: `${opsRow('gram_forward', 'ours')}; ${profileRow('gram_forward')}`,
    model: 'every style layer, for the style targets and every evaluation',
  },
  {
    name: 'gram_reduce',
    op: 'Gram forward, step 2',
    computes: 'G = sum of the split-K partials, mirrored to the full C x C matrix',
    wrapper: 'src/kernels/gram.ts: gramForward',
    ref: 'src/ref/gram.ts: gramCpu',
    test: 'test/style_kernels.test.ts: "gram forward/backward vs CPU reference"',
    bench: profileRow('gram_reduce'),
    model: 'after every gram_forward',
  },
  {
    name: 'style_loss',
    op: 'style loss',
    computes: 'factor · Σ (G − A)² (per-workgroup partials) and M = 4 · factor · (G − A) for the Gram backward (conv3x3_winograd_gemm_v7)',
    wrapper: 'src/kernels/losses.ts: styleLoss',
    ref: 'src/ref/gram.ts: styleLossCpu',
    test: 'test/style_kernels.test.ts: "style loss (C=130)"',
    bench: profileRow('style_loss'),
    model: 'every style layer, every evaluation',
  },
  {
    name: 'content_loss',
    op: 'content loss',
    computes: 'coef · Σ (F − P)² (partials) and dF (+)= 2 · coef · (F − P)',
    wrapper: 'src/kernels/losses.ts: contentLoss',
    ref: 'src/ref/gram.ts: contentLossCpu',
    test: 'test/style_kernels.test.ts: "content loss with accumulate"',
    bench: profileRow('content_loss'),
    model: 'the content layer, every evaluation',
  },
  {
    name: 'tv_loss',
    op: 'total-variation loss',
    computes: 'w · Σ ((x[i,j] − x[i+1,j])² + (x[i,j] − x[i,j+1])²)^1.25 and its gradient, added to the network gradient',
    wrapper: 'src/kernels/losses.ts: tvLoss',
    ref: 'src/ref/gram.ts: tvLossCpu',
    test: 'test/style_kernels.test.ts: "tv loss"',
    bench: profileRow('tv_loss'),
    model: 'every evaluation (notebook preset; weight 0 in paper)',
  },
  {
    name: 'reduce_sum',
    op: 'loss reduction',
    computes: 'scalars[slot] (+)= Σ partials (one workgroup)',
    wrapper: 'src/kernels/losses.ts: reduceSum',
    ref: 'src/ref/gram.ts (each loss reference sums in Float64)',
    test: 'test/style_kernels.test.ts: "loss kernels vs CPU reference"',
    bench: profileRow('reduce_sum'),
    model: 'after every loss kernel',
  },
  {
    name: 'mask_apply',
    op: 'region mask',
    computes: 'y (+)= m ⊙ x, m [N] broadcast over channels (masked Gram matrices)',
    wrapper: 'src/kernels/mask.ts: maskApply',
    ref: 'src/ref/mask.ts: maskApplyCpu',
    test: 'test/masks.test.ts: "mask_apply vs CPU reference"',
    bench: '—',
    model: 'with --style-mask: before gram_forward and after the Gram backward of a masked style',
  },
  {
    name: 'vec_axpy',
    op: 'vector update',
    computes: 'y = a x + y, a = c (S[plus] − S[minus]) read on the GPU; with ACCUMULATE = false the scaled copy y = a x',
    wrapper: 'src/optim/vecops.ts: VecBatch.axpy, VecBatch.scaleCopy',
    ref: 'src/ref/vec.ts: vecAxpyCpu, vecScaleCopyCpu',
    test: 'test/optim.test.ts: "vec kernels vs CPU reference"',
    bench: '—',
    model: 'L-BFGS: steps and the two-loop recursion (axpy); d = −g, r = γ q, s = t d, y = g_new − g_old (scaled copy)',
  },
  {
    name: 'vec_dot',
    op: 'vector reduction',
    computes: 'per-workgroup (Σ a·b, Σ a², max |a|, non-finite count)',
    wrapper: 'src/optim/vecops.ts: VecBatch.dot',
    ref: 'src/ref/vec.ts: vecDotCpu',
    test: 'test/optim.test.ts: "vec kernels vs CPU reference"',
    bench: '—',
    model: 'L-BFGS and the line search: every dot product',
  },
  {
    name: 'vec_dot_finish',
    op: 'vector reduction, step 2',
    computes: 'reduces the partials into S[dst..dst+3], optionally S[scaled] = S[by] · a·b',
    wrapper: 'src/optim/vecops.ts: VecBatch.dot',
    ref: 'src/ref/vec.ts: vecDotCpu',
    test: 'test/optim.test.ts: "vec kernels vs CPU reference"',
    bench: '—',
    model: 'after every vec_dot',
  },
  {
    name: 'vec_adam',
    op: 'Adam step',
    computes: 'm, v, x updated in one pass (bias-corrected Adam)',
    wrapper: 'src/optim/vecops.ts: VecBatch.adam',
    ref: 'src/ref/vec.ts: vecAdamCpu',
    test: 'test/optim.test.ts: "vec kernels vs CPU reference"',
    bench: 'e2e section: the Adam runs',
    model: 'with --optimizer adam only',
  },
  {
    name: 'display_caffe',
    op: 'display (render)',
    computes: 'caffe BGR buffer → canvas RGBA (adds the mean, BGR → RGB, /255, nearest sampling)',
    wrapper: 'src/web/canvas.ts: CaffeCanvas',
    ref: 'src/ref/display.ts: displayCaffeCpu, displayCaffeBytesCpu',
    test: 'test/web.test.ts: "display_caffe.wgsl draws a known buffer"',
    bench: '—',
    model: 'the page: draws the iterate after every iteration (no read-back)',
  },
];
