// src/cli/main.ts — runs `neural-style`: parse (args.ts), check, transfer or evaluate, save.
//
// The order is chosen so that a mistake costs as little as possible and changes nothing:
//   1. the command line (args.ts; exit 2 on a usage error)
//   2. the outputs: every file we will write must be new (or --force) and its folder writable
//   3. the images: read and decoded (missing, not an image, truncated → exit 1)
//   4. the working size against the deepest layer used (too small → says the minimum)
//   5. the weights, the GPU, and the device's buffer limits (checkWorkingSize)
//   6. the optimization (progress.ts on stderr), then the PNG (settings in a tEXt chunk) and
//      the JSON report, each written atomically.
// Ctrl-C during 6 aborts the transfer, which returns its best image; that is saved and the
// exit code is 130. A second Ctrl-C, or one before 6, quits at once without writing.
//
// The GPU side (device, weights, transfer) is imported lazily, so --help and usage errors
// answer at once and never load Dawn. It is the library's API (src/index.ts: loadWeights,
// acquireGpu, styleTransfer, evaluateOnce), called with the options the flags name.

import { totalmem } from 'node:os';
import { existsSync, readFileSync, promises as fs } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXAMPLE, EXIT, parseArgs, UsageError, type CommonOptions, type EvalCliOptions, type TransferCliOptions } from './args.ts';
import { createProgress, formatDuration, formatLoss, type ProgressReporter } from './progress.ts';
import { readImageFile, writePngAtomic } from '../image/node.ts';
import { encodePng, PixelLimitError } from '../image/decode.ts';
import type { RgbaImage } from '../image/types.ts';
import { fitWorkingSize } from '../model/working_size.ts';
import { deepestLayer, type StyleConfig } from '../style/config.ts';
import type { LossBreakdown, TransferResult } from '../style/types.ts';
import { configFields, type EvaluateOptions, type StyleTransferOptions } from '../api.ts';
import { cleanGpuMessage, type GpuContext } from '../gpu/device.ts';
import type { Objective } from '../optim/types.ts';
import type { GpuVec } from '../optim/vecops.ts';

const PROGRAM = 'neural-style';
/** tEXt keyword of the settings JSON in every PNG we write. */
export const PNG_TEXT_KEY = 'neural-style';

const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

/** A runtime failure with a one-line message for the user (exit 1 unless said otherwise). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** An error as one line for the user: Dawn's backtrace lines dropped (cleanGpuMessage), the rest joined. */
const messageOf = (e: unknown): string => cleanGpuMessage(e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ').trim();
const log = (line: string) => process.stderr.write(line + '\n');

// ------------------------------------------------------------------------------------------
// Outputs: checked before any work, written atomically at the end.
// ------------------------------------------------------------------------------------------

/**
 * Fails unless `path` can be created: its folder exists and takes a new file (tested by
 * creating and removing a probe file), and the path is not a directory and — without force —
 * not an existing file. Changes nothing.
 */
export async function checkOutputPath(flag: string, path: string, force: boolean): Promise<void> {
  const abs = resolve(path);
  const dir = dirname(abs);
  const st = await fs.stat(dir).catch(() => null);
  if (!st) throw new CliError(`${flag} ${path}: the folder ${dir} does not exist`);
  if (!st.isDirectory()) throw new CliError(`${flag} ${path}: ${dir} is not a folder`);
  const existing = await fs.lstat(abs).catch(() => null);
  if (existing?.isDirectory()) throw new CliError(`${flag} ${path}: is a folder; give a file name`);
  if (existing && !force) throw new CliError(`${flag} ${path}: the file exists; pass --force to overwrite it (nothing was changed)`);
  const probe = join(dir, `.${basename(abs)}.${process.pid}.probe`);
  try {
    await fs.writeFile(probe, '', { flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : messageOf(e);
    throw new CliError(`${flag} ${path}: cannot write into the folder ${dir}: ${why}`);
  } finally {
    await fs.rm(probe, { force: true }).catch(() => {});
  }
}

/**
 * The real path of `path` (after `.`, `..` and symlinks): fs.realpath of the path when it
 * exists, else of its folder joined with its name (a file not yet written); the resolved path
 * when neither exists.
 */
export async function realPathOf(path: string): Promise<string> {
  const abs = resolve(path);
  const real = await fs.realpath(abs).catch(() => null);
  if (real) return real;
  const dir = await fs.realpath(dirname(abs)).catch(() => dirname(abs));
  return join(dir, basename(abs));
}

/** A file we will write: the flag (or what it is) and its path; `pattern`: a family of files (--save-every snapshots) in path's folder. */
export interface OutputFile {
  what: string;
  path: string;
  pattern?: RegExp;
}

/**
 * Refuses, with or without --force, any output that is the same file as an input (content,
 * styles, masks, init, the weights' files) or as another output, comparing real paths
 * (realPathOf: `out/./a.json`, `../x/a.png` and a symlink to an input all count). Changes
 * nothing.
 */
export async function checkAliases(outputs: OutputFile[], inputs: Array<{ what: string; path: string }>): Promise<void> {
  const ins = await Promise.all(inputs.map(async (i) => ({ ...i, real: await realPathOf(i.path) })));
  const seen: Array<OutputFile & { real: string }> = [];
  for (const o of outputs) {
    const real = await realPathOf(o.path);
    const same = (x: { real: string }) =>
      o.pattern ? dirname(x.real) === dirname(real) && o.pattern.test(basename(x.real)) : x.real === real;
    const input = ins.find(same);
    if (input) {
      throw new CliError(
        `${o.what} ${o.path}${o.pattern ? ' (its snapshots)' : ''} would overwrite the ${input.what} ${input.path}${input.real !== resolve(input.path) || real !== resolve(o.path) ? ` (both are ${input.real})` : ''}; ` +
          'an output may never replace an input, even with --force: choose another name (nothing was changed)',
      );
    }
    const inFamily = (family: { real: string; pattern?: RegExp }, file: string) => dirname(family.real) === dirname(file) && family.pattern!.test(basename(file));
    const other = seen.find((x) => (o.pattern ? !x.pattern && inFamily({ real, pattern: o.pattern }, x.real) : x.pattern ? inFamily(x, real) : x.real === real));
    if (other) throw new CliError(`${o.what} ${o.path} and ${other.what} ${other.path} are the same file (${real}); give them different names (nothing was changed)`);
    seen.push({ ...o, real });
  }
}

/** The weights' files (a Keras .h5, or a folder's manifest and shards) as inputs for checkAliases; none when they are not found (setUpGpu reports that). */
async function weightInputs(explicit: string | undefined): Promise<Array<{ what: string; path: string }>> {
  const { resolveWeights } = await import('../model/locate.ts');
  let found: { path: string; kind: 'folder' | 'h5' };
  try {
    found = resolveWeights(explicit);
  } catch {
    return [];
  }
  if (found.kind === 'h5') return [{ what: 'weights file', path: found.path }];
  const dir = found.path;
  const files = await fs.readdir(dir).catch(() => [] as string[]);
  return files.map((f) => ({ what: 'weights file', path: join(dir, f) }));
}

/** Every input file of a run as checkAliases takes them. */
async function inputsOf(o: CommonOptions, loaded: { content: { path: string }; styles: Array<{ path: string }>; masks: Array<{ path: string }> | null; init?: { path: string } | null }) {
  return [
    { what: '--content', path: loaded.content.path },
    ...loaded.styles.map((s) => ({ what: '--style', path: s.path })),
    ...(loaded.masks ?? []).map((m) => ({ what: '--style-mask', path: m.path })),
    ...(loaded.init ? [{ what: '--init', path: loaded.init.path }] : []),
    ...(await weightInputs(o.weights)),
  ];
}

/** Where --save-every writes iteration n: "<dir>/<stem>_0005.png" next to --out. */
export function snapshotPath(out: string, iteration: number): string {
  const stem = basename(out, extname(out));
  return join(dirname(out), `${stem}_${String(iteration).padStart(4, '0')}.png`);
}

/** The names of --save-every's snapshots of `out`: <stem>_NNNN.png. */
export function snapshotPattern(out: string): RegExp {
  const stem = basename(out, extname(out));
  return new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d{4,}\\.png$`);
}

/** Without --force, fails when snapshots of an earlier run (<stem>_NNNN.png) are next to --out. */
async function checkSnapshots(out: string, force: boolean): Promise<void> {
  if (force) return;
  const re = snapshotPattern(out);
  const found = (await fs.readdir(dirname(resolve(out))).catch(() => [] as string[])).filter((f) => re.test(f)).sort();
  if (found.length) {
    throw new CliError(
      `--save-every: ${join(dirname(out), found[0])}${found.length > 1 ? ` and ${found.length - 1} more snapshot(s)` : ''} already exist next to --out; ` +
        'pass --force to overwrite them, or choose another --out (nothing was changed)',
    );
  }
}

/** output/<content>_<style>.png, or -2, -3, … when taken (example mode without --out / --force). */
async function exampleOutPath(content: string, style: string, force: boolean): Promise<string> {
  await fs.mkdir(EXAMPLE.outDir, { recursive: true }).catch((e) => {
    throw new CliError(`cannot create the folder ${resolve(EXAMPLE.outDir)}: ${messageOf(e)}`);
  });
  const stem = `${basename(content, extname(content))}_${basename(style, extname(style))}`;
  for (let i = 1; ; i++) {
    const p = join(EXAMPLE.outDir, i === 1 ? `${stem}.png` : `${stem}-${i}.png`);
    if (force || !existsSync(p)) return p;
  }
}

async function writeOutput(flag: string, path: string, bytes: Uint8Array, force: boolean): Promise<void> {
  try {
    await writePngAtomic(path, bytes, { force });
  } catch (e) {
    throw new CliError(`${flag}: ${messageOf(e)}`);
  }
}

/** A report as UTF-8 JSON; a NaN or infinite number (which JSON would turn into null) is an error, never written. */
const jsonBytes = (v: unknown) =>
  new TextEncoder().encode(
    JSON.stringify(
      v,
      (key, x) => {
        if (typeof x === 'number' && !Number.isFinite(x)) throw new CliError(`internal error: the report's "${key}" is ${x}; a report never holds NaN or Infinity, so none was written`);
        return x;
      },
      2,
    ) + '\n',
  );

/** Float32 values as little-endian bytes, whatever the machine's byte order. */
export function float32LE(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i], true);
  return out;
}

// ------------------------------------------------------------------------------------------
// Inputs
// ------------------------------------------------------------------------------------------

/**
 * Reads the image given to `flag`: the path as given, or — for a bare file name that is not
 * in the working directory — that name in the images folder (--images, $NEURAL_STYLE_IMAGES,
 * ../shared/images).
 */
async function loadImage(flag: string, value: string, imagesDir: string | undefined, maxPixels?: number): Promise<{ path: string; image: RgbaImage }> {
  let path = value;
  if (!existsSync(value) && !/[\\/]/.test(value)) {
    const { resolveExampleImage } = await import('../model/locate.ts');
    try {
      path = resolveExampleImage(value, imagesDir);
    } catch (e) {
      throw new CliError(`${flag} ${value}: file not found in the working directory ${process.cwd()}, nor as an example image: ${messageOf(e)}`);
    }
  }
  try {
    return { path, image: await readImageFile(path, { maxPixels }) };
  } catch (e) {
    const raise = e instanceof PixelLimitError ? ` (--max-pixels ${e.maxPixels}: shrink the image, or raise the limit with --max-pixels ${e.width * e.height} if this machine has about ${Math.ceil((16 * e.width * e.height) / 2 ** 30)} GiB to spare)` : '';
    throw new CliError(`${flag}: ${messageOf(e)}${raise}`);
  }
}

/** Every --style, and every --style-mask (one per style) when given. */
async function loadStyles(o: CommonOptions): Promise<{ styles: Array<{ path: string; image: RgbaImage }>; masks: Array<{ path: string; image: RgbaImage }> | null }> {
  const styles = [];
  for (const s of o.styles) styles.push(await loadImage('--style', s, o.images, o.maxPixels));
  let masks = null;
  if (o.styleMasks) {
    masks = [];
    for (const m of o.styleMasks) masks.push(await loadImage('--style-mask', m, o.images, o.maxPixels));
  }
  return { styles, masks };
}

/** The style controls for the library (StyleTransferOptions / evaluateOnce). */
function styleControls(o: CommonOptions, loaded: Awaited<ReturnType<typeof loadStyles>>): Pick<EvaluateOptions, 'style' | 'styleBlend' | 'styleScale' | 'styleMask' | 'preserveColors'> {
  return {
    style: loaded.styles.map((s) => s.image),
    styleBlend: o.styleBlend,
    styleScale: o.styleScale,
    styleMask: loaded.masks?.map((m) => m.image),
    preserveColors: o.preserveColors,
  };
}

/**
 * The library options of one transfer from the CLI's (run and sweep; `config` may differ from
 * o.config in a sweep): everything but onProgress. Adam without --iterations runs rounds x
 * evaluations as a plain count.
 */
function transferOptionsOf(
  o: TransferCliOptions,
  content: RgbaImage,
  loaded: Awaited<ReturnType<typeof loadStyles>>,
  init: RgbaImage | null,
  config: StyleConfig,
  signal: AbortSignal,
): StyleTransferOptions {
  return {
    content,
    ...styleControls(o, loaded),
    rows: o.rows,
    resize: o.resize,
    ...configFields(config),
    init: init ?? (o.init.kind as 'content' | 'random'),
    seed: o.seed,
    optimizer: o.optimizer,
    rounds: o.rounds,
    evalsPerRound: o.evalsPerRound,
    maxfunRule: o.maxfunRule,
    iterations: o.optimizer === 'adam' && o.iterations === undefined ? o.rounds * o.evalsPerRound : o.iterations,
    scales: o.scales,
    scaleIterations: o.scaleIterations,
    learningRate: o.learningRate,
    signal,
    maxBufferMib: o.maxBufferBytes === undefined ? undefined : o.maxBufferBytes / 2 ** 20,
    kernels: o.kernels,
  };
}

/** The style settings as the JSON reports and the PNG's tEXt chunk list them. */
function styleSettings(o: CommonOptions, loaded: Awaited<ReturnType<typeof loadStyles>>) {
  const given = o.styleBlend ?? o.styles.map(() => 1);
  const sum = given.reduce((a, b) => a + b, 0);
  return {
    styles: loaded.styles.map((s) => s.path),
    styleBlend: given.map((w) => w / sum),
    styleScale: o.styleScale,
    styleMasks: loaded.masks ? loaded.masks.map((m) => m.path) : null,
    preserveColors: o.preserveColors,
  };
}

/**
 * The working size for the content image, checked against the deepest layer's minimum
 * (fitWorkingSize: the one check and message). `flag` names what set the rows (--scales for the
 * first stage of a multi-scale run).
 */
function planSize(o: CommonOptions, content: RgbaImage, rows = o.rows, flag = '--rows'): { rows: number; cols: number } {
  try {
    return fitWorkingSize({ rows, image: content, deepest: deepestLayer(o.config), flag });
  } catch (e) {
    throw new CliError(messageOf(e));
  }
}

interface Gpu {
  ctx: GpuContext;
  weights: import('../model/weights.ts').Vgg19Weights;
  /** the library's API (styleTransfer, evaluateOnce) */
  transfer: typeof import('../index.ts');
}

/**
 * Weights, device and the device-limit check for rows × cols. The weights are read, checked and
 * decoded while the device is acquired (Dawn starts its adapter on its own threads).
 */
async function setUpGpu(o: CommonOptions, rows: number, cols: number): Promise<Gpu> {
  const api = await import('../index.ts');
  // the weights first: a bad --weights is then one line, before Dawn prints anything (acquiring
  // the device in parallel saved under 1 % of the set-up)
  let weights;
  try {
    weights = await api.loadWeights(o.weights);
  } catch (e) {
    throw new CliError(`${o.weights ? '--weights: ' : ''}${messageOf(e)}`);
  }
  let ctx;
  try {
    ctx = await api.acquireGpu();
  } catch (e) {
    throw new CliError(messageOf(e));
  }
  const { checkWorkingSize } = await import('../style/transfer.ts');
  try {
    const styles = { count: o.styles.length, masked: o.styleMasks?.length ?? 0, scale: o.styleScale };
    checkWorkingSize(ctx, rows, cols, o.config, o.maxBufferBytes, o.maxGpuBytes ?? memoryBudget(ctx), styles, o.kernels);
  } catch (e) {
    ctx.device.destroy();
    const m = messageOf(e);
    const flag =
      o.maxBufferBytes !== undefined && /--max-buffer-mib/.test(m)
        ? `--max-buffer-mib ${Number((o.maxBufferBytes / 2 ** 20).toPrecision(4))}`
        : o.maxGpuBytes !== undefined && /GPU memory in all/.test(m)
          ? `--max-gpu-mib ${Number((o.maxGpuBytes / 2 ** 20).toPrecision(4))}`
          : `--rows ${rows}`;
    throw new CliError(`${flag} (${cols}×${rows} pixels): ${m}`);
  }
  return { ctx, weights, transfer: api };
}

/**
 * The GPU memory a run may plan for: on a CPU adapter (lavapipe, SwiftShader) GPU memory is the
 * host's, so 75 % of this machine's memory; a hardware adapter does not say, so no limit is
 * planned (an allocation that fails is still reported by the out-of-memory error scope).
 */
function memoryBudget(ctx: { isCpuAdapter: boolean }): number {
  return ctx.isCpuAdapter ? Math.floor(0.75 * totalmem()) : Infinity;
}

// ------------------------------------------------------------------------------------------
// Non-finite losses (float32 overflow)
// ------------------------------------------------------------------------------------------

const WEIGHT_FLAGS = { content: '--content-weight', style: '--style-weight', tv: '--tv-weight' } as const;

/**
 * The CLI's words for the library's NonFiniteLossError (the loss at the starting image overflows
 * float32): the flag to lower and its largest usable value; anything else is returned as is.
 */
function nonFiniteStartError(e: unknown): unknown {
  if (!(e instanceof Error) || e.name !== 'NonFiniteLossError') return e;
  const n = e as import('../style/transfer.ts').NonFiniteLossError;
  const fmt = (x: number) => (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-4) ? x.toExponential().replace('e+', 'e') : String(x));
  const flag = n.term ? WEIGHT_FLAGS[n.term] : null;
  return new CliError(
    `${flag ? `${flag} ${fmt(n.weight!)}` : 'the weights'}: ${n.message}${flag && n.largest !== null ? `: use ${flag} ${fmt(n.largest)} or less` : ''} (nothing was written)`,
  );
}

/** What most likely made a run's loss or gradient non-finite after some iterations, and the fix. */
function nonFiniteCause(o: TransferCliOptions, config: StyleConfig): string {
  if (o.optimizer === 'adam') return `Adam's step (--learning-rate ${o.learningRate ?? 10}) pushed pixels out of float32's range: use a smaller --learning-rate`;
  return (
    `the loss is too large for float32 with these weights (--content-weight ${config.contentWeight}, --style-weight ${config.styleWeight}, ` +
    `--tv-weight ${config.tvWeight}): lower the largest`
  );
}

/**
 * Fault injection for the tests (test/cli_hardening.test.ts), from NEURAL_STYLE_TEST_FAULT:
 *   non-finite-after:E   every evaluation after the E-th returns a NaN loss (as a float32
 *                        overflow would), so the optimizer stops with 'non-finite'
 *   lose-device-at:N     the GPU device is destroyed after iteration N is reported
 */
function testFault(): { kind: 'non-finite-after' | 'lose-device-at'; n: number } | null {
  const m = /^(non-finite-after|lose-device-at):(\d+)$/.exec(process.env.NEURAL_STYLE_TEST_FAULT ?? '');
  return m ? { kind: m[1] as 'non-finite-after' | 'lose-device-at', n: Number(m[2]) } : null;
}

/** An objective wrapper whose evaluations after the e-th return NaN (the gradient is left as computed). */
function nonFiniteAfter(e: number) {
  return (inner: Objective): Objective => {
    let count = 0;
    return {
      n: inner.n,
      segments: inner.segments,
      evaluate: async (x: GpuVec, grad: GpuVec) => {
        const f = await inner.evaluate(x, grad);
        return ++count > e ? NaN : f;
      },
    };
  };
}

// ------------------------------------------------------------------------------------------
// Reports
// ------------------------------------------------------------------------------------------

/**
 * setupSeconds: from the process start (performance.now() counts from Node's time origin, the
 * process start) to the start of the first objective evaluation: reading the images and the
 * weights, the device, the network, the pipelines and the style targets. totalSeconds: from
 * the process start to now (the report). Both null-free: a run without an evaluation reports
 * setupSeconds null.
 */
function setupFigures(firstEvaluationAt: number | null): { setupSeconds: number | null; totalSeconds: number } {
  return { setupSeconds: firstEvaluationAt === null ? null : firstEvaluationAt / 1000, totalSeconds: performance.now() / 1000 };
}

function lossJson(l: LossBreakdown) {
  return { total: l.total, content: l.content, style: l.style, tv: l.tv };
}

function configJson(c: StyleConfig) {
  return { ...c, styleLayers: [...c.styleLayers], styleLayerWeights: [...c.styleLayerWeights] };
}

/** What produced an image: stored in the PNG's tEXt chunk and in the JSON report. */
function settingsOf(o: TransferCliOptions, paths: { content: string; style: string; init?: string }, size: { rows: number; cols: number }, styles: ReturnType<typeof styleSettings>) {
  return {
    program: `${PACKAGE.name} ${PACKAGE.version}`,
    content: paths.content,
    style: paths.style,
    ...styles,
    rows: size.rows,
    cols: size.cols,
    preset: o.preset,
    resize: o.resize,
    init: o.init.kind === 'image' ? paths.init : o.init.kind,
    seed: o.seed ?? null,
    optimizer: o.optimizer,
    ...(o.scaleIterations !== undefined
      ? {}
      : o.iterations !== undefined
        ? { iterations: o.iterations }
        : { rounds: o.rounds, evalsPerRound: o.evalsPerRound, ...(o.optimizer === 'lbfgs' ? { maxfunRule: o.maxfunRule } : {}) }),
    ...(o.scales ? { scales: o.scales, scaleIterations: o.scaleIterations ?? null } : {}),
    learningRate: o.learningRate ?? null,
    config: configJson(o.config),
  };
}

// ------------------------------------------------------------------------------------------
// Ctrl-C
// ------------------------------------------------------------------------------------------

/**
 * SIGINT while setting up: quit now (130), nothing is written. While optimizing: the first
 * aborts (the transfer returns its best image, which is saved); the second quits now.
 */
class Interrupts {
  readonly controller = new AbortController();
  private running = false;
  private progress: ProgressReporter | null = null;
  private readonly handler = () => {
    if (!this.running || this.controller.signal.aborted) {
      this.progress?.stop();
      log(`\n${PROGRAM}: interrupted${this.running ? '' : '; nothing was written'}`);
      process.exit(EXIT.interrupted);
    }
    this.controller.abort();
    this.progress?.stop();
    log(`\n${PROGRAM}: stopping; the best image so far will be saved (press Ctrl-C again to quit now)`);
  };

  constructor() {
    process.on('SIGINT', this.handler);
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  startRunning(progress: ProgressReporter): void {
    this.running = true;
    this.progress = progress;
  }
  dispose(): void {
    process.off('SIGINT', this.handler);
  }
}

// ------------------------------------------------------------------------------------------
// The modes
// ------------------------------------------------------------------------------------------

async function runTransfer(o: TransferCliOptions): Promise<number> {
  const interrupts = new Interrupts();
  try {
    // 2. outputs
    const out = o.out ?? (await exampleOutPath(o.content, o.style, o.force));
    await checkOutputPath('--out', out, o.force);
    if (o.json) await checkOutputPath('--json', o.json, o.force);
    if (o.saveEvery) await checkSnapshots(out, o.force);

    // 3. inputs, 4. size
    const content = await loadImage('--content', o.content, o.images, o.maxPixels);
    const loaded = await loadStyles(o);
    const style = loaded.styles[0];
    const init = o.init.kind === 'image' ? await loadImage('--init', o.init.path, o.images, o.maxPixels) : null;
    // no output may be an input or another output (real paths), with or without --force
    await checkAliases(
      [
        { what: '--out', path: out },
        ...(o.json ? [{ what: '--json', path: o.json }] : []),
        ...(o.saveEvery ? [{ what: '--save-every', path: out, pattern: snapshotPattern(out) }] : []),
      ],
      await inputsOf(o, { content, ...loaded, init }),
    );
    const size = planSize(o, content.image);
    if (o.scales) planSize(o, content.image, o.scales[0], '--scales'); // the smallest stage
    log(
      `${PROGRAM}: ${content.path} (${content.image.width}×${content.image.height}) in the style of ` +
        loaded.styles.map((s) => `${s.path} (${s.image.width}×${s.image.height})`).join(' and ') +
        ` at ${size.cols}×${size.rows}, preset ${o.preset}, ${o.optimizer}` +
        (o.scales ? `, stages of ${o.scales.join(', ')} rows` : '') +
        (o.styleMasks ? ', masked' : '') +
        (o.styleScale !== 1 ? `, style scale ${o.styleScale}` : '') +
        (o.preserveColors !== 'none' ? `, preserving colours (${o.preserveColors})` : ''),
    );

    // 5. weights, device, limits
    const { ctx, weights, transfer } = await setUpGpu(o, size.rows, size.cols);
    log(`${PROGRAM}: weights from ${weights.source}; adapter ${ctx.description}`);

    // 6. optimize
    const fault = testFault();
    const settings = settingsOf(o, { content: content.path, style: style.path, init: init?.path }, size, styleSettings(o, loaded));
    const pngText = { [PNG_TEXT_KEY]: JSON.stringify(settings), Software: `${PACKAGE.name} ${PACKAGE.version}` };
    const progress = createProgress(process.stderr, !!process.stderr.isTTY);
    interrupts.startRunning(progress);
    const options: StyleTransferOptions = {
      ...transferOptionsOf(o, content.image, loaded, init?.image ?? null, o.config, interrupts.signal),
      onProgress: async (p) => {
        progress.update(p);
        if (p.iteration > 0) {
          // a copy on the CPU of the latest iterate (L-BFGS: the best so far), for a lost device
          const image = await p.image();
          held.latest = { image, iteration: p.iteration, rows: p.rows, cols: p.cols };
          if (o.saveEvery && p.iteration % o.saveEvery === 0) {
            const path = snapshotPath(out, p.iteration);
            await writeOutput('--save-every', path, encodePng(image, pngText), o.force);
            progress.note(`saved ${path}`);
          }
        }
        if (fault?.kind === 'lose-device-at' && p.iteration === fault.n) {
          faultLost = true;
          ctx.device.destroy();
        }
      },
      wrapObjective: fault?.kind === 'non-finite-after' ? nonFiniteAfter(fault.n) : undefined,
    };
    const held: { latest: { image: RgbaImage; iteration: number; rows: number; cols: number } | null } = { latest: null };
    let faultLost = false;
    let result: TransferResult;
    try {
      result = await transfer.styleTransfer(ctx, weights, options);
    } catch (e) {
      if (interrupts.signal.aborted) throw new CliError(`interrupted before a first image was ready; nothing was written (${messageOf(e)})`, EXIT.interrupted);
      if (ctx.lost || faultLost) {
        // the device is gone: save the latest image we hold, say how to go on from it
        const what = ctx.lost ?? 'GPU device lost (destroyed)';
        const latest = held.latest;
        if (!latest) throw new CliError(`${what} before the first iteration completed; nothing was written`);
        await writeOutput('--out', out, encodePng(latest.image, pngText), o.force);
        throw new CliError(
          `${what} during the run${messageOf(e) ? ` (${messageOf(e)})` : ''}; saved the image of iteration ${latest.iteration} (${latest.cols}×${latest.rows}) to ${out}. ` +
            `To go on from it, run the same command with --init ${out} and another --out${o.scales ? ' (and --rows for the stage that was running)' : ''}`,
        );
      }
      throw nonFiniteStartError(e);
    } finally {
      progress.stop();
    }

    // save: only an image that at least one iteration made (Ctrl-C before the first iteration
    // leaves the previous output, if any, as it was, even with --force)
    const interrupted = result.stopped && interrupts.signal.aborted;
    if (interrupted && result.iterations === 0) {
      ctx.device.destroy();
      throw new CliError('interrupted before the first iteration completed; nothing was written', EXIT.interrupted);
    }
    await writeOutput('--out', out, encodePng(result.image, pngText), o.force);
    if (o.json) {
      const report = {
        rows: result.rows,
        cols: result.cols,
        preset: o.preset,
        evaluations: result.evaluations,
        iterations: result.iterations,
        seconds: result.seconds,
        ...setupFigures(result.firstEvaluationAt),
        stopped: result.stopped,
        stopReason: result.stopReason,
        reason: result.reason,
        loss: lossJson(result.loss),
        style_layers: result.loss.styleLayers,
        history: result.history,
        stages: result.stages,
        memory: result.memory,
        config: configJson(o.config),
        settings,
        output: out,
        adapter: ctx.description,
      };
      await writeOutput('--json', o.json, jsonBytes(report), o.force);
    }
    ctx.device.destroy();
    if (result.stopReason === 'non-finite') {
      // the best finite image so far was saved; the run itself failed
      throw new CliError(
        `the loss or gradient became non-finite (float32 overflow) after ${result.iterations} iteration(s): ${result.reason}; likely cause: ${nonFiniteCause(o, o.config)}. ` +
          `Saved the best finite image so far (loss ${formatLoss(result.loss.total)}) to ${out}${o.json ? ` and the report (stopReason "non-finite") to ${o.json}` : ''}; to go on from it: --init ${out} and another --out`,
      );
    }
    log(
      `${PROGRAM}: wrote ${out} (${result.cols}×${result.rows})${o.json ? ` and ${o.json}` : ''}: ${result.evaluations} evaluations, ` +
        `${result.iterations} iterations in ${formatDuration(result.seconds)}, loss ${formatLoss(result.loss.total)}` +
        (result.stopped ? ` (stopped: ${result.reason})` : ''),
    );
    return interrupted ? EXIT.interrupted : EXIT.ok;
  } finally {
    interrupts.dispose();
  }
}

async function runEval(o: EvalCliOptions): Promise<number> {
  const interrupts = new Interrupts(); // Ctrl-C quits at once: nothing to save
  try {
    await checkOutputPath('--json', o.json, o.force);
    if (o.gradOut) await checkOutputPath('--grad-out', o.gradOut, o.force);
    const content = await loadImage('--content', o.content, o.images, o.maxPixels);
    const loaded = await loadStyles(o);
    const style = loaded.styles[0];
    await checkAliases(
      [{ what: '--json', path: o.json }, ...(o.gradOut ? [{ what: '--grad-out', path: o.gradOut }] : [])],
      await inputsOf(o, { content, ...loaded }),
    );
    const size = planSize(o, content.image);
    const { ctx, weights, transfer } = await setUpGpu(o, size.rows, size.cols);
    const t0 = performance.now();
    const r = await transfer
      .evaluateOnce(ctx, weights, {
        content: content.image,
        ...styleControls(o, loaded),
        rows: o.rows,
        resize: o.resize,
        ...configFields(o.config),
        maxBufferMib: o.maxBufferBytes === undefined ? undefined : o.maxBufferBytes / 2 ** 20,
        kernels: o.kernels,
      })
      .catch((e: unknown) => {
        throw nonFiniteStartError(e);
      });
    const seconds = (performance.now() - t0) / 1000;
    const report = {
      rows: r.rows,
      cols: r.cols,
      preset: o.preset,
      loss: lossJson(r.loss),
      style_layers: r.loss.styleLayers,
      seconds,
      ...setupFigures(r.firstEvaluationAt),
      memory: r.memory,
      bands: r.bands,
      config: configJson(o.config),
      settings: {
        program: `${PACKAGE.name} ${PACKAGE.version}`,
        content: content.path,
        style: style.path,
        ...styleSettings(o, loaded),
        rows: r.rows,
        cols: r.cols,
        resize: o.resize,
        grad: o.gradOut ? { file: o.gradOut, dtype: 'float32', endian: 'little', shape: [r.rows, r.cols, 3], channels: 'BGR' } : null,
      },
      adapter: ctx.description,
    };
    if (o.gradOut) {
      const want = r.rows * r.cols * 3;
      if (r.grad.length !== want) throw new CliError(`the gradient has ${r.grad.length} values, expected ${r.rows}×${r.cols}×3 = ${want}`);
      await writeOutput('--grad-out', o.gradOut, float32LE(r.grad), o.force);
    }
    await writeOutput('--json', o.json, jsonBytes(report), o.force);
    ctx.device.destroy();
    log(
      `${PROGRAM}: ${r.cols}×${r.rows}: loss ${formatLoss(r.loss.total)} (content ${formatLoss(r.loss.content)}, style ${formatLoss(r.loss.style)}, ` +
        `tv ${formatLoss(r.loss.tv)}); wrote ${o.json}${o.gradOut ? ` and ${o.gradOut}` : ''}`,
    );
    return EXIT.ok;
  } finally {
    interrupts.dispose();
  }
}

/** Runs the program on argv (without node and the script); returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    if (argv[0] === 'kernels') return await (await import('./kernels.ts')).runKernels(argv.slice(1)); // the kernel table: kernels.ts
    const parsed = parseArgs(argv);
    if (parsed.kind === 'help') {
      process.stdout.write(parsed.text);
      return EXIT.ok;
    }
    if (parsed.kind === 'sweep') return await (await import('./sweep.ts')).runSweep(parsed.options);
    return parsed.kind === 'eval' ? await runEval(parsed.options) : await runTransfer(parsed.options);
  } catch (e) {
    if (e instanceof UsageError) {
      log(`${PROGRAM}: ${messageOf(e)} (see ${e.help} --help)`);
      return EXIT.usage;
    }
    log(`${PROGRAM}: error: ${messageOf(e)}`);
    if (process.env.NEURAL_STYLE_DEBUG && e instanceof Error && e.stack) log(e.stack);
    return e instanceof CliError ? e.exitCode : EXIT.failure;
  }
}

/** main(), then exit the process with its code (the GPU runtime would otherwise keep it alive). */
export async function runCli(argv: readonly string[]): Promise<never> {
  const code = await main(argv);
  process.exit(code);
}

// `tsx src/cli/main.ts ...` runs the program; importing this module (tests, the bin shim) does not.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void runCli(process.argv.slice(2));
}

// What the weight sweep (sweep.ts, `neural-style sweep`) shares with the modes above.
export { configJson, inputsOf, jsonBytes, nonFiniteCause, nonFiniteStartError, loadImage, loadStyles, lossJson, messageOf, PACKAGE, planSize, setUpGpu, settingsOf, styleControls, styleSettings, transferOptionsOf, writeOutput };
