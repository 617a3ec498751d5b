// npm run bench [-- --quick] [-- --size 400x533] [-- --only ops|eval|e2e|ceiling|memory|banding|kernels] [-- --help]
//
// This engine against TensorFlow.js on the same machine, in one run (bench/README.md):
//   ceiling  GFLOP/s of our best tiled matmul on this adapter
//   ops      per op at the VGG19 shapes (default 400x533): conv3x3 forward / backward-to-input,
//            pooling, Gram — ours (every kernel version) vs tfjs-webgpu (on our Dawn device),
//            tfjs-wasm and tfjs-cpu: median / min ms, GFLOP/s, fraction of the ceiling, output diffs
//   eval     one loss-and-gradient evaluation (notebook preset) vs each tfjs backend, plain tf.grad
//            and the tuned formulation; loss and gradient differences; our per-kernel profile
//   e2e      the optimization end to end, ours vs tfjs-webgpu under our L-BFGS, and the Adams
//   kernels  the conv kernel table at the eval size: per conv site the default, the autotuner's
//            choice (private cache) and every candidate's ms at the full shape; one evaluation per table
// Prints the tables and writes bench/results/bench-<date>.json, latest.json (summary:
// matmulGflops, convFractionOfCeiling, ..., speedupVsTfjsWebgpu, speedupVsTfjsWebgpuTuned,
// speedupVsTfjsWasm), report.md and chart.svg.
//
// Each implementation is a strategy {name, setup, run} over the same inputs (bench/strategies);
// layout conversions and uploads happen in setup, outside the timer; warm-up runs are discarded
// (they include pipeline compilation), then median and min over the trials, implementations
// alternating so that drift on this shared machine hits all of them. GPU time comes from
// timestamp queries when the adapter has them, otherwise from submit-to-completion wall time.
// The suite itself is environment-independent (bench/lib/suite.ts); `npm run bench:browser` runs
// it in headless Chromium (bench/browser/run.ts).

import { pytorchOption } from './strategies/pytorch.ts';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireGpu } from '../src/gpu/device.ts';
import { readImageFile } from '../src/image/node.ts';
import { loadVgg19WeightsFromDir, resolveExampleImage } from '../src/model/locate.ts';
import { HELP, parseBenchArgs } from './lib/options.ts';
import { formatResult } from './lib/report.ts';
import { regenerateReport, saveResults } from './lib/results.ts';
import { runSuite, type SuiteEnv } from './lib/suite.ts';
import { loadTfjsVgg19Weights, type Tf } from './reference/tfjs_vgg19.ts';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Versions of the packages that matter, and the commit. */
export function versionsInfo(): Record<string, string> {
  const pkg = (name: string) => {
    try {
      return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version as string;
    } catch {
      return 'not installed';
    }
  };
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: here, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    /* not a git checkout */
  }
  return {
    node: process.version,
    'webgpu (Dawn)': pkg('webgpu'),
    '@tensorflow/tfjs': pkg('@tensorflow/tfjs'),
    'tfjs-backend-webgpu': pkg('@tensorflow/tfjs-backend-webgpu'),
    'tfjs-backend-wasm': pkg('@tensorflow/tfjs-backend-wasm'),
    commit,
  };
}

async function main() {
  const o = parseBenchArgs(process.argv.slice(2));
  if (o.help) {
    console.log(HELP);
    return;
  }
  if (o.reportOnly) {
    console.log(`regenerated ${regenerateReport(o.out ?? join(here, 'results')).join(', ')}`);
    return;
  }
  const ctx = await acquireGpu();
  let tf: Tf | null = null;
  let tfMissing: string | undefined;
  try {
    tf = (await import('@tensorflow/tfjs')) as unknown as Tf;
  } catch (e) {
    tfMissing = `@tensorflow/tfjs cannot be imported: ${(e as Error).message}`;
  }
  const env: SuiteEnv = {
    kind: 'node',
    ctx,
    tf,
    tfMissing,
    // tfjs-wasm in Node reads the .wasm binaries from a folder path
    wasmPaths: `${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`,
    loadOurWeights: () => loadVgg19WeightsFromDir(),
    loadTfjsWeights: () => loadTfjsVgg19Weights(tf!),
    loadImage: (name) => readImageFile(resolveExampleImage(name)),
    pytorch: pytorchOption,
    versions: versionsInfo(),
    host: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30), lavapipeThreads: process.env.LP_NUM_THREADS ?? 'unset', loadavgAtStart: loadavg().map((v) => +v.toFixed(2)) },
    log: (s) => console.error(s),
  };
  const result = await runSuite(env, o);
  result.host.loadavgAtEnd = loadavg().map((v) => +v.toFixed(2));
  console.log(`\n${formatResult(result)}`);
  const files = saveResults(result, o.out ?? join(here, 'results'), { updateLatest: true });
  console.log(`\nresults: ${files.join(', ')}; ${result.seconds.toFixed(0)} s`);
  ctx.device.destroy();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
