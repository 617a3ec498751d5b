// The benchmark's command-line options, parsed the same way in Node (process.argv) and in the
// browser page (the runner passes the same arguments in the page's URL), so `npm run bench` and
// `npm run bench:browser` accept the same flags.

import { CONV_VERSIONS, type ConvVersion } from '../../src/kernels/conv3x3.ts';
import type { PresetName } from '../../src/style/config.ts';
import { type InputGradOp, TFJS_FORMULATIONS, type TfjsFormulation } from '../reference/tfjs_objective.ts';
import { DEFAULT_E2E } from '../cases/e2e.ts';
import { OP_NAMES } from '../cases/ops.ts';
import { TFJS_BACKENDS, type TfjsBackendName } from './tfjs_backends.ts';
import type { OpName } from './types.ts';

export const SECTIONS = ['ceiling', 'ops', 'eval', 'e2e', 'memory', 'banding', 'kernels'] as const;
export type SectionName = (typeof SECTIONS)[number];

export interface BenchOptions {
  quick: boolean;
  /** per-op working size [H, W] */
  size: [number, number];
  trials: number;
  warmup: number;
  versions: ConvVersion[];
  sections: SectionName[];
  backends: TfjsBackendName[];
  ops: OpName[];
  preset: PresetName;
  evalSize: [number, number];
  evalTrials: number;
  evalWarmup: number;
  evalBudgetS: number;
  rowBudgetS: number;
  slowRunS: number;
  formulations: TfjsFormulation[];
  tunedInputGrad: InputGradOp | null;
  profileTfjs: boolean;
  /** the pytorch-cpu rows (eval, e2e) when torch is found; --no-pytorch turns them off */
  pytorch: boolean;
  e2eConfigs: string;
  e2eTfjs: TfjsFormulation;
  /** memory section: sizes ("400" = rows at tubingen's aspect, "512x512" exact) and up to which rows they are also run */
  memorySizes: string[];
  memoryMeasureRows: number;
  /** banding section: block1 bands forced, trials */
  bands: number;
  bandingTrials: number;
  out: string | null;
  timeoutMin: number | null;
  reportOnly: boolean;
  help: boolean;
}

export const HELP = `npm run bench -- [options]          (npm run bench:browser -- [options]: the same suite in headless Chromium)
Sections (default: all; --quick: ceiling, ops, eval, memory, kernels):
  ceiling   GFLOP/s of our best tiled matmul on this adapter (conv rows are a fraction of it)
  ops       per op at the VGG19 shapes: conv3x3 forward / backward-to-input, pooling forward /
            backward (max, avg), Gram forward / backward: ours (every kernel version) vs each
            TensorFlow.js backend; median / min ms, GFLOP/s, max difference of the outputs
  eval      one loss-and-gradient evaluation (notebook preset): ours vs tfjs (tf.grad and the
            tuned formulation) on each backend; ms, loss and gradient differences; our per-kernel profile
  e2e       the optimization: notebook schedule at 128 rows and one round at 400 rows, ours vs
            tfjs-webgpu driven by our L-BFGS; our Adam vs tf.train.adam (slow: hours on lavapipe)
  memory    GPU bytes of a transfer (L-BFGS m = 10) at 256, 400, 512, 512x512, 1024, 2048 rows:
            from the plan, and counted in a 1-iteration run up to --memory-measure-rows
  banding   one evaluation at the eval size unbanded vs block1 forced into --bands row bands
  kernels   the conv kernel table at the eval size: per conv site (layer x direction) the default
            version, the autotuner's choice (tuned from scratch, private cache: yours is untouched)
            and median ms of every candidate version at the full shape (--trials, --warmup), whether
            tuned is slower than default; one evaluation with each table (--eval-trials, --eval-warmup)
Options:
  --quick              a few minutes on 2 CPU cores: ops at 128x170 (trials 2; one trial for a strategy
                       slower than 1 s per run; skipped where it would take over 3 s), eval and kernels
                       at 96x128 (1 evaluation trial; tfjs-cpu only if its targets + evaluation fit 60 s), no e2e
  --only LIST          sections to run, e.g. --only eval or --only ops,ceiling
  --memory-sizes LIST  memory section sizes (default 256,400,512,512x512,1024,2048)
  --memory-measure-rows N  run the sizes up to N rows for a counted peak (default 512; quick 256)
  --bands N            banding section: bands of block1 (default 4); --banding-trials N (default 3)
  --no-e2e             skip the end-to-end section
  --size HxW           per-op working size (default 400x533, the notebook's tubingen at 400 rows)
  --trials N           timed trials per op row and per kernels candidate after warm-up (default 3, quick 2)
  --warmup N           discarded warm-up runs per row (default 1; GPU strategies always >= 1)
  --versions v1,v2     our conv kernel versions to time (default: all registered)
  --backends LIST      tfjs backends: webgpu,wasm,cpu (default all)
  --ops LIST           ${OP_NAMES.join(',')}
  --row-budget S       skip an op strategy whose estimated time on a row (warm-up if it compiles + one
                       trial) exceeds S seconds (default 240, quick 3)
  --slow-run S         one trial for an op strategy slower than S seconds per run (default 10, quick 1)
  --preset NAME        notebook (default) or paper, for eval and e2e
  --eval-size HxW      evaluation size, also of kernels (banding: its rows) (default: --size; --quick without --size: 96x128)
  --eval-trials N      timed evaluations per implementation, and per kernel table (default 2, quick 1)
  --eval-warmup N      discarded evaluations first (default 1; ours, webgpu and wasm always >= 1: pipeline
                       compilation, wasm heap growth; cpu none)
  --eval-budget S      skip tfjs-cpu when its estimated targets + one evaluation exceed S seconds
                       (default 1800, quick 60)
  --formulations LIST  tfjs formulations for eval: plain (tf.grad), tuned (default both)
  --tuned-input-grad X the tuned formulation's conv input gradient: flipT (forward conv with the flipped
                       kernel) or transpose (tfjs's Conv2DBackpropInput); default per backend: wasm flipT,
                       webgpu and cpu transpose (the faster in the ops rows here)
  --no-pytorch         leave out the pytorch-cpu rows (eval and e2e; Node only). They run by default when a
                       Python with torch and scipy is found (NEURAL_STYLE_PYTHON, python3, /usr/bin/python3;
                       Debian: apt-get install python3-torch python3-scipy), else they say why they were skipped
  --profile-tfjs       also profile tfjs-webgpu's evaluation kernel by kernel (one more evaluation each)
  --e2e-configs LIST   ROWSxROUNDSxEVALS,... (default ${DEFAULT_E2E}; Adam rows at the first)
  --e2e-tfjs F         tfjs formulation for e2e: plain (default) or tuned
  --out DIR            results folder (default bench/results)
  --report-only        regenerate report.md and chart.svg from latest.json, run nothing
  --timeout MIN        bench:browser only: give up after MIN minutes (default: 30 quick, 600 full)`;

function parseSize(s: string, flag: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`${flag} must look like 400x533, got "${s}"`);
  return [Number(m[1]), Number(m[2])];
}

function parseList<T extends string>(s: string, allowed: readonly T[], flag: string): T[] {
  const items = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const x of items) if (!allowed.includes(x as T)) throw new Error(`${flag}: unknown "${x}" (have: ${allowed.join(', ')})`);
  return items as T[];
}

function parseNum(s: string, flag: string, min = 0): number {
  const v = Number(s);
  if (!Number.isFinite(v) || v < min) throw new Error(`${flag} must be a number >= ${min}, got "${s}"`);
  return v;
}

function parseTunedInputGrad(v: string | undefined): InputGradOp | null {
  if (v === undefined) return null;
  if (v !== 'flipT' && v !== 'transpose') throw new Error(`--tuned-input-grad must be flipT or transpose, got "${v}"`);
  return v;
}

/** Parses the bench's arguments (without the node/script parts). */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const flags = new Map<string, string | true>();
  const valued = new Set([
    'size', 'trials', 'warmup', 'versions', 'only', 'backends', 'ops', 'preset', 'eval-size', 'eval-trials', 'eval-warmup', 'eval-budget',
    'row-budget', 'slow-run', 'formulations', 'tuned-input-grad', 'e2e-configs', 'e2e-tfjs', 'out', 'timeout',
    'memory-sizes', 'memory-measure-rows', 'bands', 'banding-trials',
  ]);
  const booleans = new Set(['quick', 'no-e2e', 'no-pytorch', 'profile-tfjs', 'report-only', 'help']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') continue;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument "${a}" (see --help)`);
    const [, name, inline] = m;
    if (booleans.has(name)) flags.set(name, true);
    else if (valued.has(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`--${name} needs a value`);
      flags.set(name, v);
    } else throw new Error(`unknown option --${name} (see --help)`);
  }
  const get = (k: string) => (typeof flags.get(k) === 'string' ? (flags.get(k) as string) : undefined);
  const quick = flags.has('quick');
  const size = parseSize(get('size') ?? (quick ? '128x170' : '400x533'), '--size');
  let sections: SectionName[] = get('only') ? parseList(get('only')!, SECTIONS, '--only') : quick ? ['ceiling', 'ops', 'eval', 'memory', 'kernels'] : [...SECTIONS];
  if (flags.has('no-e2e')) sections = sections.filter((s) => s !== 'e2e');
  const preset = (get('preset') ?? 'notebook') as PresetName;
  if (preset !== 'notebook' && preset !== 'paper') throw new Error(`--preset must be notebook or paper, got "${preset}"`);
  const e2eTfjs = (get('e2e-tfjs') ?? 'plain') as TfjsFormulation;
  if (!TFJS_FORMULATIONS.includes(e2eTfjs)) throw new Error(`--e2e-tfjs must be plain or tuned, got "${e2eTfjs}"`);
  return {
    quick,
    size,
    trials: parseNum(get('trials') ?? (quick ? '2' : '3'), '--trials', 1),
    warmup: parseNum(get('warmup') ?? '1', '--warmup'),
    versions: get('versions') ? parseList(get('versions')!, CONV_VERSIONS, '--versions') : [...CONV_VERSIONS],
    sections,
    backends: get('backends') ? parseList(get('backends')!, TFJS_BACKENDS, '--backends') : [...TFJS_BACKENDS],
    ops: get('ops') ? parseList(get('ops')!, OP_NAMES, '--ops') : [...OP_NAMES],
    preset,
    evalSize: get('eval-size') ? parseSize(get('eval-size')!, '--eval-size') : get('size') || !quick ? size : [96, 128],
    evalTrials: parseNum(get('eval-trials') ?? (quick ? '1' : '2'), '--eval-trials', 1),
    evalWarmup: parseNum(get('eval-warmup') ?? '1', '--eval-warmup'),
    evalBudgetS: parseNum(get('eval-budget') ?? (quick ? '60' : '1800'), '--eval-budget'),
    rowBudgetS: parseNum(get('row-budget') ?? (quick ? '3' : '240'), '--row-budget'),
    slowRunS: parseNum(get('slow-run') ?? (quick ? '1' : '10'), '--slow-run'),
    formulations: get('formulations') ? parseList(get('formulations')!, TFJS_FORMULATIONS, '--formulations') : [...TFJS_FORMULATIONS],
    tunedInputGrad: parseTunedInputGrad(get('tuned-input-grad')),
    profileTfjs: flags.has('profile-tfjs'),
    pytorch: !flags.has('no-pytorch'),
    e2eConfigs: get('e2e-configs') ?? DEFAULT_E2E,
    e2eTfjs,
    memorySizes: get('memory-sizes') ? get('memory-sizes')!.split(',').map((x) => x.trim()) : ['256', '400', '512', '512x512', '1024', '2048'],
    memoryMeasureRows: parseNum(get('memory-measure-rows') ?? (quick ? '256' : '512'), '--memory-measure-rows'),
    bands: parseNum(get('bands') ?? '4', '--bands', 2),
    bandingTrials: parseNum(get('banding-trials') ?? '3', '--banding-trials', 1),
    out: get('out') ?? null,
    timeoutMin: get('timeout') ? parseNum(get('timeout')!, '--timeout', 1) : null,
    reportOnly: flags.has('report-only'),
    help: flags.has('help'),
  };
}
