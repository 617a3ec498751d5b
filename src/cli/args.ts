// src/cli/args.ts — the command line of `neural-style`, parsed and validated into typed options.
//
// Pure: no files are read, no GPU is touched, nothing is printed. parseArgs(argv) returns what
// to do ({kind: 'help'} with the text, or the options of one of the three modes) or throws a
// UsageError whose message is one line naming the flag at fault. Checks that need the disk or
// the device (missing or broken images, unwritable outputs, device size limits) live in main.ts.
//
//   neural-style --content A --style B --out OUT.png [flags]     style transfer (mode 'transfer')
//   neural-style eval --content A --style B --json FILE [flags]  the objective once (mode 'eval')
//   neural-style example [flags]                                 the paper's pair (mode 'example')
//
// Argument syntax (unknown flags, missing values, choices) is checked by commander; values
// (numbers, layer names, combinations) by the functions below, so every message names its flag.

import { Command, CommanderError, Option } from 'commander';
import { makeConfig, PRESETS, type PresetName, type StyleConfig, type StyleOverrides } from '../style/config.ts';
import { layerIndex, minInputSide, VGG19_LAYER_NAMES } from '../model/vgg19_layers.ts';
import type { ResizeMethod } from '../image/resize.ts';
import { MAXFUN_RULES, type MaxfunRule } from '../optim/lbfgs.ts';
import { PRESERVE_COLORS, type PreserveColors } from '../image/colour.ts';
import { fitWorkingSize } from '../model/working_size.ts';
import { DEFAULT_MAX_PIXELS } from '../image/decode.ts';
import { resolve as resolvePath } from 'node:path';

/** Exit codes of the program (documented in --help). */
export const EXIT = {
  ok: 0,
  /** runtime failure: unreadable/broken image, output exists or is unwritable, size limits, GPU */
  failure: 1,
  /** usage error: unknown flag, bad value, unknown layer — found before anything is read */
  usage: 2,
  /** stopped by Ctrl-C (128 + SIGINT); the best image so far was saved */
  interrupted: 130,
} as const;

/**
 * A bad command line; main prints the message, then "(see <help> --help)", and exits with
 * EXIT.usage. `help` is the command whose help lists the flag at fault (parseArgs sets it from
 * the mode: "neural-style eval" for an eval error).
 */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
  help = 'neural-style';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The default example: the content and style images of Gatys et al. (2015), Figure 2. */
export const EXAMPLE = { content: 'tubingen.jpg', style: 'starry_night.jpg', outDir: 'output' } as const;

/** L-BFGS schedule per preset: rounds × evaluations per round (history reset between rounds). */
export const SCHEDULES: Record<PresetName, { rounds: number; evalsPerRound: number; maxfunRule: MaxfunRule }> = {
  // the notebook: 10 × fmin_l_bfgs_b(maxfun=20), each call ending as scipy ends it (21-22 evaluations)
  notebook: { rounds: 10, evalsPerRound: 20, maxfunRule: 'scipy' },
  paper: { rounds: 10, evalsPerRound: 20, maxfunRule: 'exact' }, // the paper gives no count; the same 200 evaluations
};

export const DEFAULT_ROWS = 400;

/** Options shared by every mode. */
export interface CommonOptions {
  /** image paths as given (main resolves a bare file name in the images folder when it is not in the cwd) */
  content: string;
  /** the first --style (the one-style case) */
  style: string;
  /** every --style, in order */
  styles: string[];
  /** --style-blend: one weight per style, >= 0, not all zero (normalised later); absent: equal */
  styleBlend?: number[];
  /** --style-scale: each style image resized to this x the working size (default 1) */
  styleScale: number;
  /** --style-mask: one file per --style, in order; absent: no masks */
  styleMasks?: string[];
  /** --preserve-colors */
  preserveColors: PreserveColors;
  rows: number;
  preset: PresetName;
  /** the validated objective settings (preset + overrides) */
  config: StyleConfig;
  resize: ResizeMethod;
  /** --weights DIR or FILE.h5 (else NEURAL_STYLE_WEIGHTS, else the default folders, else Keras's download) */
  weights?: string;
  /** --images DIR (else NEURAL_STYLE_IMAGES, else ../shared/images) */
  images?: string;
  /** --json FILE */
  json?: string;
  /** overwrite existing output files */
  force: boolean;
  /** --max-buffer-mib N, in bytes: no activation or gradient buffer larger (row bands past it) */
  maxBufferBytes?: number;
  /** --max-gpu-mib N, in bytes: the GPU memory a run may plan for in all */
  maxGpuBytes?: number;
  /** --max-pixels N: input images with more pixels are refused before decoding */
  maxPixels: number;
  /** --kernels: conv kernel choice, 'default' (the default) or 'tuned' (src/cli/kernels.ts shows the table) */
  kernels: 'default' | 'tuned';
}

export type InitChoice = { kind: 'content' } | { kind: 'random' } | { kind: 'image'; path: string };

export interface TransferCliOptions extends CommonOptions {
  mode: 'transfer' | 'example';
  /** output PNG; null (example mode without --out) = output/<content>_<style>.png, not clobbering */
  out: string | null;
  init: InitChoice;
  seed?: number;
  optimizer: 'lbfgs' | 'adam';
  /** L-BFGS schedule (for Adam without --iterations: rounds × evalsPerRound iterations) */
  rounds: number;
  evalsPerRound: number;
  /** --maxfun-rule: how --evals-per-round ends an L-BFGS round (lbfgs.ts MaxfunRule) */
  maxfunRule: MaxfunRule;
  /** plain iteration count (replaces rounds × evalsPerRound) */
  iterations?: number;
  /** --scales: working rows of each stage, strictly ascending; the last equals rows */
  scales?: number[];
  /** --scale-iterations: iterations of each stage (one per scale) */
  scaleIterations?: number[];
  /** write <out>_NNNN.png every this many iterations */
  saveEvery?: number;
  learningRate?: number;
}

export interface EvalCliOptions extends CommonOptions {
  mode: 'eval';
  json: string;
  /** little-endian float32 [H, W, 3] BGR gradient */
  gradOut?: string;
}

export type ParsedArgs =
  | { kind: 'help'; text: string }
  | { kind: 'run'; options: TransferCliOptions }
  | { kind: 'eval'; options: EvalCliOptions }
  | { kind: 'sweep'; options: SweepCliOptions };

/** Runs a check of the library; its Error becomes a UsageError with the same one-line message. */
function usageCheck(check: () => unknown): void {
  try {
    check();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

// ------------------------------------------------------------------------------------------
// Value parsers: each returns the value or throws a UsageError naming the flag.
// ------------------------------------------------------------------------------------------

/** An integer ≥ min, written as digits (no "1e3", no "12px"). */
export function parseIntFlag(flag: string, value: string, min: number): number {
  const s = value.trim();
  if (!/^\+?\d+$/.test(s)) throw new UsageError(`${flag} must be an integer >= ${min}, got "${value}"`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, got ${value}`);
  return n;
}

/** A finite number ≥ 0 (or > 0 when positive). */
export function parseWeightFlag(flag: string, value: string, positive = false): number {
  const s = value.trim();
  const n = s === '' ? NaN : Number(s);
  const want = positive ? 'a number > 0' : 'a number >= 0';
  if (!Number.isFinite(n)) throw new UsageError(`${flag} must be ${want}, got "${value}"`);
  if (positive ? !(n > 0) : n < 0) throw new UsageError(`${flag} must be ${want}, got ${value}`);
  return n;
}

/** The largest finite float32 (3.4028235e38): the GPU holds every weight and loss in float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * A loss weight: a number >= 0 that float32 can hold. A larger one is Infinity on the GPU, and
 * Infinity × 0 = NaN (the content term at the content image), so it can never work. The largest
 * value that works for given images is lower and depends on them: the run measures it at its
 * first evaluation (src/style/transfer.ts, NonFiniteLossError).
 */
export function parseLossWeight(flag: string, value: string): number {
  const n = parseWeightFlag(flag, value);
  if (n > FLOAT32_MAX) {
    throw new UsageError(`${flag} must be at most ${FLOAT32_MAX} (the largest float32: the GPU computes the loss in float32), got ${value}`);
  }
  return n;
}

/** "a,b , c" → ["a", "b", "c"]; an empty item is an error. */
export function parseListFlag(flag: string, value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UsageError(`${flag} must be a comma-separated list without empty items, got "${value}"`);
  return items;
}

function checkLayer(flag: string, name: string): void {
  try {
    layerIndex(name);
  } catch {
    throw new UsageError(`${flag}: unknown VGG19 layer "${name}"; valid layers: ${VGG19_LAYER_NAMES.join(', ')}`);
  }
}

// ------------------------------------------------------------------------------------------
// The three commands. Each mode is its own commander Command, so each has its own --help.
// ------------------------------------------------------------------------------------------

const PROGRAM = 'neural-style';

function addCommonOptions(cmd: Command, mode: 'transfer' | 'eval' | 'example'): Command {
  const images = mode === 'example' ? ` (default: ${EXAMPLE.content} / ${EXAMPLE.style} from the images folder)` : '';
  const contentOpt = new Option('--content <file>', `content image (JPEG or PNG)${images}`);
  const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];
  const styleOpt = new Option('--style <file>', 'style image (JPEG or PNG); give it several times for several styles, blended by --style-blend').argParser(collect);
  if (mode === 'example') {
    cmd.addOption(contentOpt).addOption(styleOpt);
  } else {
    cmd.addOption(contentOpt.makeOptionMandatory()).addOption(styleOpt.makeOptionMandatory());
  }
  return cmd
    .option('--style-blend <list>', 'comma-separated blend weight per --style, >= 0, normalised to sum 1 (default: equal); the style loss is the blend of each style\'s loss')
    .option('--style-scale <s>', 'resize each style image to s x the working size before its Gram targets are computed (default: 1)')
    .addOption(new Option('--style-mask <file>', 'grey image per --style, in the same order: white = that style applies there (resized to the working size); masked Gram matrices').argParser(collect))
    .addOption(
      new Option('--preserve-colors <mode>', "none; luminance: the transfer runs on luminance (YIQ Y) and the output takes the content's colours (I, Q); histogram: each style's colours moved to the content's mean and covariance first")
        .choices([...PRESERVE_COLORS])
        .default('none'),
    )
    .addOption(new Option('--rows <n>', 'working height in pixels; the width follows the content image').default(String(DEFAULT_ROWS), String(DEFAULT_ROWS)))
    .addOption(new Option('--preset <name>', 'loss settings: notebook (the Keras notebook) or paper (Gatys et al.)').choices(['notebook', 'paper']).default('notebook'))
    .option('--content-weight <w>', 'content loss weight (default: from the preset)')
    .option('--style-weight <w>', 'style loss weight (default: from the preset)')
    .option('--tv-weight <w>', 'total variation weight (default: from the preset)')
    .option('--content-layer <name>', 'VGG19 layer of the content loss, e.g. block5_conv2')
    .option('--style-layers <list>', 'comma-separated VGG19 layers of the style loss')
    .option('--style-layer-weights <list>', 'comma-separated weight per style layer (default: equal, summing to 1)')
    .addOption(new Option('--pooling <mode>', 'pooling: max or avg (default: from the preset)').choices(['max', 'avg']))
    .addOption(new Option('--resize <method>', 'image resampling (default: nearest for notebook, area otherwise)').choices(['nearest', 'bilinear', 'area']))
    .option('--weights <path>', 'VGG19 weights: a folder with a TF.js weights manifest, or a Keras .h5 file (default: $NEURAL_STYLE_WEIGHTS, weights/vgg19, ../shared/vgg19, ~/.keras/models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5)')
    .option('--images <dir>', 'folder where bare image names are looked up (default: $NEURAL_STYLE_IMAGES, ../shared/images)')
    .option(
      '--max-buffer-mib <n>',
      "largest GPU buffer in MiB (default: the device's limit); larger tensors (activations, gradients, the image and the optimizer's vectors) are split into row bands; at least three rows of block1's maps (cols x 768 bytes). The weights (up to 16 MiB a layer, fixed) are not split",
    )
    .addOption(new Option('--kernels <mode>', 'conv kernels: default (the hand-written choice) or tuned (measured on this adapter at first use, a few seconds, cached; see `neural-style kernels`)').choices(['default', 'tuned']).default('default'))
    .option(
      '--max-pixels <n>',
      `the most pixels (width x height) an input image may have; larger ones are refused from their header, before decoding (default: ${DEFAULT_MAX_PIXELS}, i.e. ${DEFAULT_MAX_PIXELS / 1e6} megapixels; decoding takes about 16 bytes a pixel)`,
    )
    .option(
      '--max-gpu-mib <n>',
      "GPU memory the run may use in all, in MiB: a size whose plan needs more is refused before it starts, naming the largest rows that fit (default: 75 % of this machine's memory on a CPU adapter such as lavapipe; no limit on a GPU, which does not report its memory)",
    );
}

function addTransferOptions(cmd: Command, mode: 'transfer' | 'example'): Command {
  const out =
    mode === 'example'
      ? new Option('--out <file>', `output PNG (default: ${EXAMPLE.outDir}/<content>_<style>.png, or -2, -3, ... when that exists)`)
      : new Option('--out <file>', 'output PNG').makeOptionMandatory();
  return cmd
    .addOption(out)
    .option('--json <file>', 'also write a JSON report: sizes, settings, losses, history, stages, memory (peak GPU bytes)')
    .option('--force', 'overwrite existing output files')
    .option('--init <how>', 'starting image: content, random, or an image file', 'content')
    .option('--seed <n>', 'seed of the random starting image')
    .addOption(new Option('--optimizer <name>', 'lbfgs or adam').choices(['lbfgs', 'adam']).default('lbfgs'))
    .option('--rounds <n>', 'L-BFGS rounds (history reset between rounds) (default: 10)')
    .option('--evals-per-round <n>', 'loss evaluations per round (default: 20)')
    .addOption(
      new Option(
        '--maxfun-rule <rule>',
        "how --evals-per-round ends an L-BFGS round: scipy (checked when an iteration ends, the round stops once over the count: 21-22 for 20, as the notebook's scipy calls) or exact (never over) (default: scipy for notebook, exact otherwise)",
      ).choices([...MAXFUN_RULES]),
    )
    .option('--iterations <n>', 'plain iteration count instead of rounds × evaluations')
    .option('--scales <list>', 'coarse to fine: working rows of each stage, ascending, e.g. 256,512,1024; the output has the last (= --rows, which may be left out); each stage starts from the previous result, upsampled')
    .option('--scale-iterations <list>', 'iterations of each stage of --scales, e.g. 200,100,50 (default: the schedule flags, for every stage)')
    .option('--learning-rate <lr>', 'Adam step size, in pixel units (adam only)')
    .option('--save-every <n>', 'also write <out>_NNNN.png every n iterations (numbered by iteration)');
}

const EPILOG = `
Modes:
  ${PROGRAM} --content A --style B --out OUT.png [flags]    style transfer
  ${PROGRAM} eval --content A --style B --json FILE [...]  the loss (and gradient) once, at x = content
  ${PROGRAM} example [flags]                               the default example (npm start): ${EXAMPLE.content}
                                                           in the style of ${EXAMPLE.style}, into ${EXAMPLE.outDir}/
  ${PROGRAM} sweep --content A --style B --content-weight 1,10 --style-weight 10,100 --tv-weight 0.1 --out sheet.png
                                                           one run per weight combination and a contact sheet
  ${PROGRAM} kernels [--rows N --cols M] [--json FILE|-]  the conv kernel table for this adapter (--kernels tuned: measured, cached)
Run "${PROGRAM} eval --help", "${PROGRAM} example --help" or "${PROGRAM} sweep --help" for their flags.

Coarse to fine: --scales 256,512,1024 [--scale-iterations 200,100,50] runs a stage per size, each
starting from the previous result enlarged; the output has the last size (--rows may be left out).
The --json report gives each stage's rows, cols, evaluations, seconds and final loss (stages), and
memory: {peakGpuBytes, buffers} (peak bytes of GPU buffers, buffers alive at that peak), as eval's does.

Several styles: --style A --style B [--style-blend 2,1] [--style-mask MA --style-mask MB]: the style
loss is the blend of each style's loss (weights normalised to sum 1); a mask (white = the style
applies) restricts its style to a region (masked Gram matrices). --style-scale S resizes each style
to S x the working size first. --preserve-colors luminance|histogram keeps the content's colours.
The JSON reports' settings list styles, styleBlend, styleScale, styleMasks and preserveColors.

Existing output files are never replaced without --force; outputs are written atomically; an output
that is the same file as an input (content, style, mask, init, weights) or another output is refused,
even with --force. Ctrl-C stops the optimization and saves the best image so far (exit 130); before
the first iteration has completed nothing is written; a second Ctrl-C quits at once.

Limits: an input image may have at most --max-pixels pixels (default ${DEFAULT_MAX_PIXELS / 1e6} megapixels), checked from
its header before decoding. A loss weight may be at most 3.4e38 (the largest float32); a weight whose
loss or gradient overflows float32 at the starting image is refused at the first evaluation, naming the
largest usable value; a loss that turns non-finite later stops the run (exit 1), keeping the best finite
image so far (the --json report's stopReason is "non-finite").
Exit codes: 0 done, 1 runtime failure (bad image, unwritable or existing output, size limits, GPU),
            2 usage error (unknown flag, bad value, unknown layer), 130 interrupted.`;

function buildCommand(mode: 'transfer' | 'eval' | 'example'): Command {
  const name = mode === 'transfer' ? PROGRAM : `${PROGRAM} ${mode}`;
  const cmd = new Command(name)
    .description(
      mode === 'transfer'
        ? 'Neural style transfer (Gatys et al. 2015) on WebGPU: paint the content image in the style of the style image.'
        : mode === 'eval'
          ? 'Evaluate the style-transfer objective once at x = the content image: write the weighted loss terms as JSON, and optionally the gradient.'
          : `Run the default example: ${EXAMPLE.content} in the style of ${EXAMPLE.style} at ${DEFAULT_ROWS} rows (notebook preset), into ${EXAMPLE.outDir}/.`,
    )
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(false)
    .exitOverride();
  addCommonOptions(cmd, mode);
  if (mode === 'eval') {
    cmd
      .requiredOption('--json <file>', 'JSON output: rows, cols, the weighted loss terms, style_layers, config, memory (peak GPU bytes)')
      .option('--grad-out <file>', 'write the gradient as little-endian float32 [H, W, 3] BGR')
      .option('--force', 'overwrite existing output files');
  } else {
    addTransferOptions(cmd, mode);
  }
  if (mode === 'transfer') cmd.addHelpText('after', EPILOG);
  else cmd.addHelpText('after', `\nExit codes: 0 done, 1 runtime failure, 2 usage error${mode === 'example' ? ', 130 interrupted' : ''}.`);
  return cmd;
}

/** Raw option values as commander leaves them (strings, booleans). */
type Raw = Record<string, string | string[] | boolean | undefined>;

const str = (raw: Raw, key: string): string | undefined => (typeof raw[key] === 'string' ? (raw[key] as string) : undefined);

/** The deepest layer the objective uses. */
function deepestOf(config: StyleConfig): string {
  return [config.contentLayer, ...config.styleLayers].reduce((a, b) => (layerIndex(b) > layerIndex(a) ? b : a));
}

function commonFrom(raw: Raw, mode: 'transfer' | 'eval' | 'example'): CommonOptions {
  const preset = raw.preset as PresetName;
  const rows = parseIntFlag('--rows', str(raw, 'rows')!, 1);

  const overrides: StyleOverrides = {};
  const cw = str(raw, 'contentWeight');
  const sw = str(raw, 'styleWeight');
  const tw = str(raw, 'tvWeight');
  if (cw !== undefined) overrides.contentWeight = parseLossWeight('--content-weight', cw);
  if (sw !== undefined) overrides.styleWeight = parseLossWeight('--style-weight', sw);
  if (tw !== undefined) overrides.tvWeight = parseLossWeight('--tv-weight', tw);
  const contentLayer = str(raw, 'contentLayer');
  if (contentLayer !== undefined) {
    checkLayer('--content-layer', contentLayer.trim());
    overrides.contentLayer = contentLayer.trim();
  }
  const styleLayers = str(raw, 'styleLayers');
  if (styleLayers !== undefined) {
    const layers = parseListFlag('--style-layers', styleLayers);
    layers.forEach((l) => checkLayer('--style-layers', l));
    if (new Set(layers).size !== layers.length) throw new UsageError(`--style-layers: a layer repeats in "${styleLayers}"`);
    overrides.styleLayers = layers;
  }
  const slw = str(raw, 'styleLayerWeights');
  if (slw !== undefined) {
    const weights = parseListFlag('--style-layer-weights', slw).map((w) => parseWeightFlag('--style-layer-weights', w));
    const n = (overrides.styleLayers ?? PRESETS[preset].styleLayers).length;
    if (weights.length !== n) {
      throw new UsageError(`--style-layer-weights: ${weights.length} weights given for ${n} style layers (one per layer of --style-layers, in order)`);
    }
    overrides.styleLayerWeights = weights;
  }
  if (raw.pooling !== undefined) overrides.pooling = raw.pooling as 'max' | 'avg';

  let config: StyleConfig;
  try {
    config = makeConfig(preset, overrides);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  // A style layer's factor is the style weight times its layer weight (over a normalisation >= 1)
  const layerMax = Math.max(...config.styleLayerWeights);
  if (config.styleWeight * layerMax > FLOAT32_MAX) {
    throw new UsageError(
      `--style-weight ${config.styleWeight} times the largest --style-layer-weights value ${layerMax} is ${config.styleWeight * layerMax}, over ${FLOAT32_MAX} (the largest float32)`,
    );
  }

  // The deepest layer must keep at least one pixel: the rows here (fitWorkingSize, the one
  // working-size check); main checks the columns once the content image's aspect ratio is
  // known, and the device limits.
  const deepest = deepestOf(config);
  usageCheck(() => fitWorkingSize({ rows, deepest, flag: '--rows' }));

  const mbRaw = str(raw, 'maxBufferMib');
  const maxBufferBytes = mbRaw === undefined ? undefined : Math.floor(parseWeightFlag('--max-buffer-mib', mbRaw, true) * 2 ** 20);
  if (maxBufferBytes !== undefined && maxBufferBytes < 1024) throw new UsageError(`--max-buffer-mib must be at least 0.001 (1 KiB), got ${mbRaw}`);
  const mpRaw = str(raw, 'maxPixels');
  const maxPixels = mpRaw === undefined ? DEFAULT_MAX_PIXELS : parseIntFlag('--max-pixels', mpRaw, 1);
  const mgRaw = str(raw, 'maxGpuMib');
  const maxGpuBytes = mgRaw === undefined ? undefined : Math.floor(parseWeightFlag('--max-gpu-mib', mgRaw, true) * 2 ** 20);

  const content = str(raw, 'content') ?? (mode === 'example' ? EXAMPLE.content : undefined);
  const styles = Array.isArray(raw.style) ? raw.style : mode === 'example' ? [EXAMPLE.style] : [];
  if (!content) throw new UsageError('--content <file> is required');
  if (!styles.length) throw new UsageError('--style <file> is required');
  const blendRaw = str(raw, 'styleBlend');
  let styleBlend: number[] | undefined;
  if (blendRaw !== undefined) {
    styleBlend = parseListFlag('--style-blend', blendRaw).map((w) => parseWeightFlag('--style-blend', w));
    if (styleBlend.length !== styles.length) {
      throw new UsageError(`--style-blend: ${styleBlend.length} weights given for ${styles.length} --style images (one per --style, in order)`);
    }
    if (!styleBlend.some((w) => w > 0)) throw new UsageError(`--style-blend: the weights must not all be zero, got ${blendRaw}`);
  }
  const scaleRaw = str(raw, 'styleScale');
  const styleScale = scaleRaw === undefined ? 1 : parseWeightFlag('--style-scale', scaleRaw, true);
  const styleMasks = Array.isArray(raw.styleMask) ? raw.styleMask : undefined;
  if (styleMasks && styleMasks.length !== styles.length) {
    throw new UsageError(`--style-mask: ${styleMasks.length} masks given for ${styles.length} --style images (one per --style, in the same order)`);
  }
  if (styleMasks?.some((m) => m.trim() === '')) throw new UsageError('--style-mask must name an image file');
  return {
    content,
    style: styles[0],
    styles,
    styleBlend,
    styleScale,
    styleMasks,
    preserveColors: raw.preserveColors as PreserveColors,
    rows,
    preset,
    config,
    resize: (raw.resize as ResizeMethod | undefined) ?? (preset === 'notebook' ? 'nearest' : 'area'),
    weights: str(raw, 'weights'),
    images: str(raw, 'images'),
    json: str(raw, 'json'),
    force: raw.force === true,
    maxBufferBytes,
    maxGpuBytes,
    maxPixels,
    kernels: raw.kernels as 'default' | 'tuned',
  };
}

/**
 * --scales and --scale-iterations: each stage's rows (strictly ascending integers, the first at
 * least the deepest layer's minimum, the last equal to --rows when that is given too) and
 * iterations (positive, one per stage). Returns the output rows too (the last scale).
 */
export function parseScales(
  scalesRaw: string | undefined,
  itersRaw: string | undefined,
  rows: { value: number; given: boolean },
  minSide: number,
  deepest: string,
): { scales?: number[]; scaleIterations?: number[]; rows: number } {
  if (scalesRaw === undefined) {
    if (itersRaw !== undefined) throw new UsageError('--scale-iterations needs --scales (one count per stage)');
    return { rows: rows.value };
  }
  const scales = parseListFlag('--scales', scalesRaw).map((v) => parseIntFlag('--scales', v, 1));
  for (let i = 1; i < scales.length; i++) {
    if (scales[i] <= scales[i - 1]) {
      throw new UsageError(`--scales must be strictly ascending (each stage larger than the one before), got ${scales.join(',')}`);
    }
  }
  if (scales[0] < minSide) usageCheck(() => fitWorkingSize({ rows: scales[0], deepest, flag: '--scales' }));
  const last = scales[scales.length - 1];
  if (rows.given && rows.value !== last) {
    throw new UsageError(`--rows ${rows.value} and --scales ${scales.join(',')} disagree: the last scale (${last}) is the output size; leave out --rows or end --scales with ${rows.value}`);
  }
  let scaleIterations: number[] | undefined;
  if (itersRaw !== undefined) {
    scaleIterations = parseListFlag('--scale-iterations', itersRaw).map((v) => parseIntFlag('--scale-iterations', v, 1));
    if (scaleIterations.length !== scales.length) {
      throw new UsageError(`--scale-iterations has ${scaleIterations.length} items for the ${scales.length} stages of --scales (one count per stage)`);
    }
  }
  return { scales, scaleIterations, rows: last };
}

function transferFrom(raw: Raw, mode: 'transfer' | 'example', rowsGiven: boolean): TransferCliOptions {
  const common = commonFrom(raw, mode);
  const optimizer = raw.optimizer as 'lbfgs' | 'adam';
  const schedule = SCHEDULES[common.preset];
  const roundsRaw = str(raw, 'rounds');
  const evalsRaw = str(raw, 'evalsPerRound');
  const iterRaw = str(raw, 'iterations');
  if (iterRaw !== undefined && (roundsRaw !== undefined || evalsRaw !== undefined)) {
    throw new UsageError('give either --iterations or --rounds/--evals-per-round, not both');
  }
  const ruleRaw = str(raw, 'maxfunRule');
  if (ruleRaw !== undefined && (optimizer !== 'lbfgs' || iterRaw !== undefined || str(raw, 'scaleIterations') !== undefined)) {
    throw new UsageError('--maxfun-rule applies to L-BFGS rounds (--rounds/--evals-per-round), not to --iterations, --scale-iterations or --optimizer adam');
  }
  const lrRaw = str(raw, 'learningRate');
  if (lrRaw !== undefined && optimizer !== 'adam') throw new UsageError('--learning-rate applies only to --optimizer adam');

  const initRaw = (str(raw, 'init') ?? 'content').trim();
  if (initRaw === '') throw new UsageError('--init must be content, random, or an image file');
  const init: InitChoice = initRaw === 'content' || initRaw === 'random' ? { kind: initRaw } : { kind: 'image', path: initRaw };
  const seedRaw = str(raw, 'seed');

  const out = str(raw, 'out') ?? null;
  if (out !== null && out.trim() === '') throw new UsageError('--out must be a file name');
  if (out !== null && !/\.png$/i.test(out)) throw new UsageError(`--out ${out}: the output is a PNG; use a name ending in .png`);
  if (out !== null && common.json !== undefined && resolvePath(out) === resolvePath(common.json)) {
    throw new UsageError('--json and --out name the same file');
  }
  const saveRaw = str(raw, 'saveEvery');
  const scaleItersRaw = str(raw, 'scaleIterations');
  if (scaleItersRaw !== undefined && (iterRaw !== undefined || roundsRaw !== undefined || evalsRaw !== undefined)) {
    throw new UsageError('give either --scale-iterations or --iterations/--rounds/--evals-per-round, not both');
  }
  const deepest = deepestOf(common.config);
  const ms = parseScales(str(raw, 'scales'), scaleItersRaw, { value: common.rows, given: rowsGiven }, minInputSide(deepest), deepest);
  return {
    ...common,
    rows: ms.rows,
    scales: ms.scales,
    scaleIterations: ms.scaleIterations,
    mode,
    out,
    init,
    seed: seedRaw === undefined ? undefined : parseIntFlag('--seed', seedRaw, 0),
    optimizer,
    rounds: roundsRaw === undefined ? schedule.rounds : parseIntFlag('--rounds', roundsRaw, 1),
    evalsPerRound: evalsRaw === undefined ? schedule.evalsPerRound : parseIntFlag('--evals-per-round', evalsRaw, 1),
    maxfunRule: (ruleRaw as MaxfunRule | undefined) ?? schedule.maxfunRule,
    iterations: iterRaw === undefined ? undefined : parseIntFlag('--iterations', iterRaw, 1),
    saveEvery: saveRaw === undefined ? undefined : parseIntFlag('--save-every', saveRaw, 1),
    learningRate: lrRaw === undefined ? undefined : parseWeightFlag('--learning-rate', lrRaw, true),
  };
}

function evalFrom(raw: Raw): EvalCliOptions {
  const common = commonFrom(raw, 'eval');
  const json = str(raw, 'json')!;
  const gradOut = str(raw, 'gradOut');
  if (gradOut !== undefined && resolvePath(gradOut) === resolvePath(json)) throw new UsageError('--grad-out and --json name the same file');
  return { ...common, mode: 'eval', json, gradOut };
}

/**
 * Runs commander on argv: returns the help text if help was asked for, else null (the options
 * are then in cmd.opts()); commander's errors become one-line UsageErrors, a stray value names
 * itself (`hint`, if given, in brackets after it; main adds where the help is).
 */
function parseWith(cmd: Command, argv: readonly string[], hint?: string): string | null {
  let out = '';
  cmd.configureOutput({
    writeOut: (s) => {
      out += s;
    },
    writeErr: () => {}, // commander's error text is in the thrown CommanderError
  });
  try {
    cmd.parse(argv, { from: 'user' });
    return null;
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return out;
    let msg = e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
    if (e.code === 'commander.excessArguments') {
      msg = `unexpected argument ${cmd.args.map((a) => JSON.stringify(a)).join(' ')}: every value belongs to a flag${hint ? ` (${hint})` : ''}`;
    }
    throw new UsageError(msg);
  }
}

/**
 * Parses the arguments after the program name (process.argv.slice(2)).
 * Returns help text for -h/--help; throws UsageError for anything wrong.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const first = argv[0];
  const mode = first === 'eval' || first === 'example' || first === 'sweep' ? first : 'transfer';
  try {
    return parseMode(mode, argv);
  } catch (e) {
    if (e instanceof UsageError) e.help = mode === 'transfer' ? PROGRAM : `${PROGRAM} ${mode}`;
    throw e;
  }
}

function parseMode(mode: 'transfer' | 'eval' | 'example' | 'sweep', argv: readonly string[]): ParsedArgs {
  if (mode === 'sweep') return parseSweepArgs(argv.slice(1)); // the weight sweep: below
  const rest = mode === 'transfer' ? [...argv] : argv.slice(1);
  const cmd = buildCommand(mode);
  const help = parseWith(cmd, rest, mode === 'transfer' ? 'modes: eval, example, sweep' : undefined);
  if (help !== null) return { kind: 'help', text: help };
  const raw = cmd.opts() as Raw;
  if (mode === 'eval') return { kind: 'eval', options: evalFrom(raw) };
  return { kind: 'run', options: transferFrom(raw, mode, cmd.getOptionValueSource('rows') !== 'default') };
}

// ------------------------------------------------------------------------------------------
// The weight sweep: `neural-style sweep ... --content-weight LIST --style-weight LIST
// --tv-weight LIST --out SHEET.png`. The transfer's flags, with the three weights as lists;
// one run per combination (src/cli/sweep.ts runs them and makes the contact sheet).
// ------------------------------------------------------------------------------------------

export interface SweepCliOptions extends TransferCliOptions {
  /** the contact sheet PNG; the cells and <stem>.json are written beside it */
  out: string;
  /** the values of each weight, in the order given (each list >= 1 value, no repeats) */
  contentWeights: number[];
  styleWeights: number[];
  tvWeights: number[];
}

/**
 * A sweep list: comma-separated numbers >= 0, at least one, no empty item, no value twice
 * (two cells would share a file name). Throws a UsageError naming the flag.
 */
export function parseSweepList(flag: string, value: string): number[] {
  if (value.trim() === '') throw new UsageError(`${flag} must be a comma-separated list of numbers >= 0 (at least one), got an empty list`);
  const values = parseListFlag(flag, value).map((v) => parseLossWeight(flag, v));
  const seen = new Set<number>();
  for (const v of values) {
    if (seen.has(v)) throw new UsageError(`${flag}: the value ${v} is given twice in "${value}"`);
    seen.add(v);
  }
  return values;
}

const SWEEP_EPILOG = `
One transfer per combination of the three weight lists (a list left out is the preset's one value);
the network's weights are loaded and the GPU set up once. Beside --out (e.g. sheet.png) it writes:
  sheet_c<content>_s<style>_tv<tv>.png   each run's image, e.g. sheet_c1_s10_tv0.1.png
  sheet.png                              the contact sheet: one column per --style-weight value, one
                                         row per --content-weight value, and a block of such rows per
                                         --tv-weight value (tv outermost); each cell labelled with
                                         its weights (cells are enlarged so that the label fits)
  sheet.json                             every run's settings, final loss terms and seconds
Every output is checked before the first run: an existing file stops the sweep (nothing is
written) unless --force. Ctrl-C stops the run in progress: the cells already finished are kept,
the unfinished one, the sheet and the JSON are not written (exit 130).
Exit codes: 0 done, 1 runtime failure, 2 usage error, 130 interrupted.`;

function buildSweepCommand(): Command {
  const cmd = new Command(`${PROGRAM} sweep`)
    .description('Weight sweep: one style transfer per combination of content, style and TV weights, and a labelled contact sheet of the results.')
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(false)
    .exitOverride();
  addCommonOptions(cmd, 'transfer');
  addTransferOptions(cmd, 'transfer');
  const describe = (long: string, text: string) => {
    const opt = cmd.options.find((o) => o.long === long);
    if (opt) opt.description = text;
  };
  describe('--content-weight', 'comma-separated content weights, e.g. 1,10 (default: the preset\'s one value)');
  describe('--style-weight', 'comma-separated style weights, e.g. 1,10,100 (default: the preset\'s one value)');
  describe('--tv-weight', 'comma-separated total variation weights, e.g. 0,0.1 (default: the preset\'s one value)');
  describe('--out', 'the contact sheet PNG; the cell images and <name>.json are written beside it');
  describe('--json', 'not available in sweep: the report is always <out name>.json');
  describe('--save-every', 'not available in sweep');
  cmd.addHelpText('after', SWEEP_EPILOG);
  return cmd;
}

/** The sweep's options; throws UsageError for anything wrong. */
function sweepFrom(raw: Raw, rowsGiven: boolean): SweepCliOptions {
  if (raw.json !== undefined) throw new UsageError('--json is not available in sweep: the report is written to the --out name with .json');
  if (raw.saveEvery !== undefined) throw new UsageError('--save-every is not available in sweep');
  const lists: Record<'contentWeight' | 'styleWeight' | 'tvWeight', number[] | undefined> = { contentWeight: undefined, styleWeight: undefined, tvWeight: undefined };
  const flags = { contentWeight: '--content-weight', styleWeight: '--style-weight', tvWeight: '--tv-weight' } as const;
  for (const key of Object.keys(flags) as Array<keyof typeof flags>) {
    const v = str(raw, key);
    if (v !== undefined) lists[key] = parseSweepList(flags[key], v);
  }
  const base = transferFrom({ ...raw, contentWeight: undefined, styleWeight: undefined, tvWeight: undefined }, 'transfer', rowsGiven);
  const out = base.out!;
  return {
    ...base,
    out,
    contentWeights: lists.contentWeight ?? [base.config.contentWeight],
    styleWeights: lists.styleWeight ?? [base.config.styleWeight],
    tvWeights: lists.tvWeight ?? [base.config.tvWeight],
  };
}

/** `neural-style sweep ...` (argv after "sweep"). */
function parseSweepArgs(argv: readonly string[]): ParsedArgs {
  const cmd = buildSweepCommand();
  const help = parseWith(cmd, argv);
  if (help !== null) return { kind: 'help', text: help };
  return { kind: 'sweep', options: sweepFrom(cmd.opts() as Raw, cmd.getOptionValueSource('rows') !== 'default') };
}
