// The page's settings: their defaults, validation, what they become for styleTransfer, the
// record written into a downloaded PNG, and small formatting helpers. Pure functions (no DOM,
// no GPU), so test/web.test.ts checks them in Node.
//
//   WebSettings --buildConfig--> StyleConfig (src/style/config.ts makeConfig validates)
//               --transferSchedule--> {rounds, evalsPerRound} | {iterations}
//               --transferScales--> scales (multi-scale "start small, then refine") | undefined
//               --settingsRecord--> JSON in the PNG's tEXt chunk "neural-style" (as the CLI's)

import type { PoolMode } from '../kernels/pool2x2.ts';
import { makeConfig, PRESETS, type PresetName, type StyleConfig } from '../style/config.ts';
import { defaultResize } from '../style/transfer.ts';

/** tEXt keyword of the settings JSON (the same as the CLI's, src/cli/main.ts PNG_TEXT_KEY). */
export const PNG_TEXT_KEY = 'neural-style';
export const PROGRAM = 'neural-style-webgpu (web page)';

export type Schedule = 'rounds' | 'iterations';
export type InitChoice = 'content' | 'random';
export type OptimizerName = 'lbfgs' | 'adam';

export interface WebSettings {
  preset: PresetName;
  /** working height; the width follows the content image's aspect ratio */
  rows: number;
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  pooling: PoolMode;
  optimizer: OptimizerName;
  /** 'rounds': rounds x evaluations (the notebook's L-BFGS schedule); 'iterations': a plain count */
  schedule: Schedule;
  iterations: number;
  rounds: number;
  evalsPerRound: number;
  /** Adam only (pixel units) */
  learningRate: number;
  init: InitChoice;
  /** the noise start's seed */
  seed: number;
  /**
   * "Start small, then refine": the rows of the smaller stages run before the working size,
   * ascending (e.g. [100, 200] with rows 400 runs 100, 200, then 400 rows); [] = one stage.
   * The schedule applies to every stage.
   */
  refineFrom: number[];
  /**
   * Largest GPU buffer in MiB (0: the device's limit): larger activations and gradients are
   * split into row bands (TransferOptions.maxBufferBytes, the CLI's --max-buffer-mib). For a
   * browser whose storage-buffer binding is small, or to keep each allocation small.
   */
  maxBufferMib: number;
  /** keep the content's colours (TransferOptions.preserveColors, --preserve-colors) */
  preserveColors: 'none' | 'luminance' | 'histogram';
  /** each style image at this times the working size (TransferOptions.styleScale, --style-scale) */
  styleScale: number;
  /**
   * conv kernel choice (TransferOptions.kernels, --kernels): 'default' (hand-written) or 'tuned'
   * (measured on this GPU on first use, a few seconds, remembered in localStorage)
   */
  kernels: 'default' | 'tuned';
}

/** The notebook's settings (rows 400, 10 rounds x 20 evaluations, weights 1 / 10 / 0.1). */
export const DEFAULT_SETTINGS: WebSettings = {
  preset: 'notebook',
  rows: 400,
  ...presetWeights('notebook'),
  optimizer: 'lbfgs',
  schedule: 'rounds',
  iterations: 100,
  rounds: 10,
  evalsPerRound: 20,
  learningRate: 10,
  init: 'content',
  seed: 0,
  refineFrom: [],
  maxBufferMib: 0,
  preserveColors: 'none',
  styleScale: 1,
  kernels: 'default',
};

/** The loss weights and pooling a preset starts from. */
export function presetWeights(preset: PresetName): Pick<WebSettings, 'contentWeight' | 'styleWeight' | 'tvWeight' | 'pooling'> {
  const p = PRESETS[preset];
  if (!p) throw new Error(`unknown preset "${preset}"`);
  return { contentWeight: p.contentWeight, styleWeight: p.styleWeight, tvWeight: p.tvWeight, pooling: p.pooling };
}

const isInt = (v: number, lo: number, hi = Number.MAX_SAFE_INTEGER) => Number.isInteger(v) && v >= lo && v <= hi;

/** Problems with the settings, one sentence each ([] when they can run). */
export function validateSettings(s: WebSettings): string[] {
  const errs: string[] = [];
  if (!(s.preset in PRESETS)) errs.push(`unknown preset "${s.preset}"`);
  if (!isInt(s.rows, 16, 8192)) errs.push(`working size must be a whole number of rows from 16 to 8192, got ${s.rows}`);
  for (const [name, v] of [['content', s.contentWeight], ['style', s.styleWeight], ['TV', s.tvWeight]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) errs.push(`${name} weight must be a number >= 0, got ${v}`);
  }
  if (s.pooling !== 'max' && s.pooling !== 'avg') errs.push(`pooling must be max or avg, got "${s.pooling}"`);
  if (s.optimizer !== 'lbfgs' && s.optimizer !== 'adam') errs.push(`optimizer must be lbfgs or adam, got "${s.optimizer}"`);
  if (s.schedule === 'iterations' || s.optimizer === 'adam') {
    if (!isInt(s.iterations, 1, 1e6)) errs.push(`iterations must be a whole number from 1 to 1000000, got ${s.iterations}`);
  } else {
    if (!isInt(s.rounds, 1, 1e4)) errs.push(`rounds must be a whole number from 1 to 10000, got ${s.rounds}`);
    if (!isInt(s.evalsPerRound, 1, 1e5)) errs.push(`evaluations per round must be a whole number from 1 to 100000, got ${s.evalsPerRound}`);
  }
  if (s.optimizer === 'adam' && !(Number.isFinite(s.learningRate) && s.learningRate > 0)) errs.push(`learning rate must be > 0, got ${s.learningRate}`);
  if (!isInt(s.seed, 0, 2 ** 32 - 1)) errs.push(`seed must be a whole number from 0 to 4294967295, got ${s.seed}`);
  if (!['none', 'luminance', 'histogram'].includes(s.preserveColors)) errs.push(`colours must be none, luminance or histogram, got "${s.preserveColors}"`);
  if (!['default', 'tuned'].includes(s.kernels)) errs.push(`kernels must be default or tuned, got "${s.kernels}"`);
  if (!(Number.isFinite(s.styleScale) && s.styleScale > 0 && s.styleScale <= 8)) errs.push(`style scale must be a number > 0 and <= 8, got ${s.styleScale}`);
  if (!(Number.isFinite(s.maxBufferMib) && s.maxBufferMib >= 0)) errs.push(`largest GPU buffer must be a number of MiB >= 0 (0: the device's limit), got ${s.maxBufferMib}`);
  const r = s.refineFrom;
  if (r.some((v) => !isInt(v, 16, 8192))) {
    errs.push(`"start small" sizes must be whole numbers of rows from 16 to 8192, got ${r.join(', ')}`);
  } else if (r.some((v, i) => i > 0 && v <= r[i - 1]) || (r.length && r[r.length - 1] >= s.rows)) {
    errs.push(`"start small" sizes must be ascending and smaller than the working size (${s.rows} rows), got ${r.join(', ')}`);
  }
  return errs;
}

/** The objective's settings (makeConfig validates them again). */
export function buildConfig(s: WebSettings): StyleConfig {
  return makeConfig(s.preset, { contentWeight: s.contentWeight, styleWeight: s.styleWeight, tvWeight: s.tvWeight, pooling: s.pooling });
}

/** What styleTransfer gets for the schedule. Adam always runs a plain count (rounds x evaluations if so chosen). */
export function transferSchedule(s: WebSettings): { iterations: number } | { rounds: number; evalsPerRound: number } {
  if (s.optimizer === 'adam') return { iterations: s.schedule === 'iterations' ? s.iterations : s.rounds * s.evalsPerRound };
  if (s.schedule === 'iterations') return { iterations: s.iterations };
  return { rounds: s.rounds, evalsPerRound: s.evalsPerRound };
}

/** The stages' rows for styleTransfer (TransferOptions.scales): undefined for one stage. */
export function transferScales(s: WebSettings): number[] | undefined {
  return s.refineFrom.length ? [...s.refineFrom, s.rows] : undefined;
}

/**
 * The GPU memory a run on this page may plan for (TransferOptions.memoryBytes): a browser does
 * not say how much GPU memory there is, so half of the machine's memory as the browser reports
 * it (navigator.deviceMemory, GiB, which Chrome rounds and caps at 8), 4 GiB where it says
 * nothing. A CPU adapter (SwiftShader) allocates from that memory; for a GPU it is an upper
 * bound for integrated ones and a guard against a size that would take the tab down.
 */
export function memoryBudgetBytes(deviceMemoryGiB: number | undefined): number {
  return (deviceMemoryGiB && deviceMemoryGiB > 0 ? deviceMemoryGiB : 8) * 0.5 * 2 ** 30;
}

/** TransferOptions.maxBufferBytes for the settings: undefined for the device's limit. */
export function maxBufferBytes(s: WebSettings): number | undefined {
  return s.maxBufferMib > 0 ? Math.floor(s.maxBufferMib * 2 ** 20) : undefined;
}

/** "100, 200" → [100, 200]; "" → []; a bad item reads as NaN (validateSettings reports it). */
export function parseRefineFrom(text: string): number[] {
  const t = text.trim();
  if (t === '') return [];
  return t.split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
}

/**
 * What the progress counts toward: iterations for a plain count, evaluations for rounds (as
 * TransferProgress.planned), over all stages.
 */
export function plannedWork(s: WebSettings): { count: number; unit: 'iteration' | 'evaluation' } {
  const sch = transferSchedule(s);
  const stages = s.refineFrom.length + 1;
  return 'iterations' in sch ? { count: sch.iterations * stages, unit: 'iteration' } : { count: sch.rounds * sch.evalsPerRound * stages, unit: 'evaluation' };
}

/**
 * The schedule left after `done` iterations / evaluations / rounds (resuming after a lost
 * device): a plain count continues with what is left; a rounds schedule restarts the round
 * it was in.
 */
export function remainingSchedule(s: WebSettings, done: { iteration: number; round: number }): WebSettings {
  const sch = transferSchedule(s);
  // A multi-scale run resumes at the working size only, with what is left of all its stages.
  const stages = s.refineFrom.length + 1;
  const single = { ...s, refineFrom: [] };
  if ('iterations' in sch) return { ...single, schedule: 'iterations', iterations: Math.max(1, sch.iterations * stages - done.iteration) };
  return { ...single, rounds: Math.max(1, sch.rounds - done.round) };
}

export interface RunFacts {
  content: string;
  style: string;
  cols: number;
  iteration: number;
  evaluation: number;
  loss: number | null;
  adapter: string;
  /** set when the run was resumed after a lost device */
  resumedFrom?: number;
}

/** What produced an image, in the CLI's shape (src/cli/main.ts settingsOf) plus where the run was. */
export function settingsRecord(s: WebSettings, facts: RunFacts): Record<string, unknown> {
  const config = buildConfig(s);
  return {
    program: PROGRAM,
    content: facts.content,
    style: facts.style,
    rows: s.rows,
    cols: facts.cols,
    preset: s.preset,
    resize: defaultResize(config),
    init: s.init,
    seed: s.seed,
    optimizer: s.optimizer,
    ...transferSchedule(s),
    ...(s.refineFrom.length ? { scales: transferScales(s) } : {}),
    ...(s.maxBufferMib > 0 ? { maxBufferMib: s.maxBufferMib } : {}),
    preserveColors: s.preserveColors,
    styleScale: s.styleScale,
    kernels: s.kernels,
    learningRate: s.optimizer === 'adam' ? s.learningRate : null,
    config: { ...config, styleLayers: [...config.styleLayers], styleLayerWeights: [...config.styleLayerWeights] },
    iteration: facts.iteration,
    evaluation: facts.evaluation,
    loss: facts.loss,
    adapter: facts.adapter,
    ...(facts.resumedFrom !== undefined ? { resumedFrom: facts.resumedFrom } : {}),
  };
}

/** The PNG text chunks: the settings JSON and a Software line. */
export function pngText(record: Record<string, unknown>): Record<string, string> {
  return { [PNG_TEXT_KEY]: JSON.stringify(record), Software: PROGRAM };
}

/** "tubingen_starry_night_64x48_it5.png" */
export function downloadName(content: string, style: string, cols: number, rows: number, iteration: number): string {
  const stem = (n: string) => (n.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_-]+/g, '_') || 'image').slice(0, 40);
  return `${stem(content)}_${stem(style)}_${cols}x${rows}_it${iteration}.png`;
}

/**
 * Settings from the page's query string (?rows=64&iterations=5&preset=paper ...): a link can
 * carry a setup. Unknown keys are ignored; bad values are reported, not applied.
 */
export function settingsFromQuery(query: URLSearchParams, base: WebSettings): { settings: WebSettings; problems: string[] } {
  const s = { ...base };
  const problems: string[] = [];
  const num = (key: keyof WebSettings) => {
    const raw = query.get(key);
    if (raw === null) return;
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v)) problems.push(`?${key}=${raw}: not a number`);
    else (s as Record<string, unknown>)[key] = v;
  };
  const choice = <K extends keyof WebSettings>(key: K, allowed: readonly string[]) => {
    const raw = query.get(key);
    if (raw === null) return;
    if (!allowed.includes(raw)) problems.push(`?${key}=${raw}: expected one of ${allowed.join(', ')}`);
    else (s as Record<string, unknown>)[key] = raw;
  };
  choice('preset', Object.keys(PRESETS));
  if (query.get('preset') && !problems.length) Object.assign(s, presetWeights(s.preset));
  choice('pooling', ['max', 'avg']);
  choice('optimizer', ['lbfgs', 'adam']);
  choice('init', ['content', 'random']);
  choice('preserveColors', ['none', 'luminance', 'histogram']);
  choice('kernels', ['default', 'tuned']);
  for (const k of ['rows', 'contentWeight', 'styleWeight', 'tvWeight', 'rounds', 'evalsPerRound', 'learningRate', 'seed', 'maxBufferMib', 'styleScale'] as const) num(k);
  if (query.get('iterations') !== null) {
    num('iterations');
    s.schedule = 'iterations';
  }
  if (query.get('rounds') !== null || query.get('evalsPerRound') !== null) s.schedule = 'rounds';
  const refine = query.get('refineFrom');
  if (refine !== null) {
    const r = parseRefineFrom(refine);
    if (r.some((v) => !Number.isFinite(v))) problems.push(`?refineFrom=${refine}: expected comma-separated rows, e.g. 100,200`);
    else s.refineFrom = r;
  }
  return { settings: s, problems };
}

// ---------------------------------------------------------------------------------------
// Log-scale weight sliders: the slider holds log10(weight); its leftmost stop means 0 (off).
// ---------------------------------------------------------------------------------------

export interface LogScale {
  /** log10 of the smallest non-zero weight on the slider */
  min: number;
  /** log10 of the largest */
  max: number;
  step: number;
}

export const WEIGHT_SCALE: LogScale = { min: -6, max: 6, step: 0.05 };

/** The slider's lowest position, which stands for weight 0. */
export const zeroStop = (sc: LogScale) => sc.min - sc.step;

/** Slider position -> weight, rounded to 3 significant digits; the zero stop gives 0. */
export function sliderToWeight(pos: number, sc: LogScale = WEIGHT_SCALE): number {
  if (pos < sc.min - sc.step / 2) return 0;
  return Number((10 ** Math.min(pos, sc.max)).toPrecision(3));
}

/** Weight -> slider position (clamped into the slider; 0 and negatives go to the zero stop). */
export function weightToSlider(w: number, sc: LogScale = WEIGHT_SCALE): number {
  if (!(w > 0)) return zeroStop(sc);
  return Math.min(Math.max(Math.log10(w), sc.min), sc.max);
}

/** A weight as the numeric field shows it: 3 significant digits, exponent form outside 1e-3..1e5. */
export function formatWeight(w: number): string {
  if (w === 0) return '0';
  if (w >= 1e-3 && w < 1e5) return String(Number(w.toPrecision(3)));
  return w.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
}

// ---------------------------------------------------------------------------------------
// Numbers for the status line
// ---------------------------------------------------------------------------------------

/** "0.4 s", "12 s", "3 min 05 s", "1 h 02 min" */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** A loss for display: 4 significant digits, exponent form when large or small. */
export function formatLoss(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-2 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

/** Approximate GFLOP of one loss-and-gradient evaluation (DESIGN.md: ~310 at 400x533 to block5_conv2, linear in pixels). */
export function gflopPerEvaluation(rows: number, cols: number): number {
  return (310 * rows * cols) / (400 * 533);
}

/** The N of a checkWorkingSize message "... the largest that fits at this aspect ratio is --rows N", or null. */
export function largestRowsIn(message: string): number | null {
  const m = /largest that fits[^\d]*?(\d+)/.exec(message);
  return m ? Number(m[1]) : null;
}
