// npm run bench [-- --quick] [-- --size 400x533] [-- --trials N] [-- --versions v1,v2]
//
// Times every conv kernel version at each distinct conv shape of VGG19 for the working size
// (default 400x533, the notebook's), forward and backward-to-input, and a well-tiled plain
// matmul on the same adapter as the ceiling. Prints a table and writes JSON under
// bench/results/ (also copied to bench/results/latest.json).
//
// Each implementation is a strategy {name, setup, run} over the same inputs; buffers are
// created and filled outside the timer; warm-up runs are discarded (they include pipeline
// compilation), then median and min over the trials. GPU time comes from timestamp queries
// when the adapter has them, otherwise from submit-to-completion wall time.

import { execSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { acquireGpu, type GpuContext } from '../src/gpu/device.ts';
import { createStorage, type Dispatch, uploadStorage } from '../src/gpu/runtime.ts';
import { GpuTimer } from '../src/gpu/timer.ts';
import { CONV_VERSIONS, type ConvShape, type ConvVersion, conv3x3Backward, conv3x3Forward, convFlops } from '../src/kernels/conv3x3.ts';
import { chooseConvVersion } from '../src/kernels/registry.ts';
import { matmul, MATMUL_VERSIONS } from '../src/kernels/matmul.ts';
import { VGG19_LAYERS } from '../src/model/vgg19_layers.ts';
import { measure, type Stats } from './lib/stats.ts';
import { table } from './lib/table.ts';

const here = dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    size: { type: 'string', default: '400x533' },
    trials: { type: 'string' },
    warmup: { type: 'string' },
    versions: { type: 'string' },
    out: { type: 'string', default: join(here, 'results') },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`npm run bench -- [options]
  --quick            fewer trials, and v1 (naive) only at the smallest shapes: a few minutes on 2 CPU cores
  --size HxW         working size (default 400x533, the notebook's tubingen at 400 rows)
  --trials N         timed trials per row after warm-up (default 3, quick 2)
  --warmup N         discarded warm-up runs per row (default 1)
  --versions v1,v2   conv kernel versions to time (default: all registered)
  --out DIR          where results JSON goes (default bench/results)`);
  process.exit(0);
}

function parseSize(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`--size must look like 400x533, got "${s}"`);
  return [Number(m[1]), Number(m[2])];
}

interface Row {
  op: 'conv3x3_forward' | 'conv3x3_backward' | 'matmul';
  version: string;
  shape: string;
  layers: string;
  gflop: number;
  ms: Stats;
  gflops: number;
  fractionOfCeiling?: number;
}

/** Distinct conv shapes of VGG19 for an H x W input (with the layers that have each shape). */
function convShapes(H: number, W: number): Array<{ shape: ConvShape; layers: string[] }> {
  const out: Array<{ shape: ConvShape; layers: string[] }> = [];
  let h = H;
  let w = W;
  for (const l of VGG19_LAYERS) {
    const found = out.find((o) => o.shape.H === h && o.shape.W === w && o.shape.Cin === l.cin && o.shape.Cout === l.cout);
    if (found) found.layers.push(l.name);
    else out.push({ shape: { H: h, W: w, Cin: l.cin, Cout: l.cout }, layers: [l.name] });
    if (l.poolAfter) {
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
  }
  return out;
}

function randomFill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

async function timeRun(timer: GpuTimer, list: Dispatch[], what: string, warmup: number, trials: number): Promise<Stats> {
  return measure(async () => (await timer.timeDispatches(list, what)).ms, warmup, trials);
}

async function benchMatmul(ctx: GpuContext, timer: GpuTimer, warmup: number, trials: number, quick: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  const shapes = quick ? [[1024, 1024, 1024]] : [[1024, 1024, 1024], [2048, 512, 2304]];
  for (const [M, N, K] of shapes) {
    const a = uploadStorage(ctx, randomFill(M * K, 1), 'a');
    const b = uploadStorage(ctx, randomFill(K * N, 2), 'b');
    const c = createStorage(ctx, M * N * 4, 'c');
    for (const v of MATMUL_VERSIONS) {
      const d = await matmul(ctx, v, { M, N, K }, { a, b, c });
      const ms = await timeRun(timer, [d], `matmul ${M}x${N}x${K}`, warmup, trials);
      const gflop = (2 * M * N * K) / 1e9;
      rows.push({ op: 'matmul', version: v, shape: `${M}x${N}x${K}`, layers: '', gflop, ms, gflops: gflop / (ms.median / 1e3) });
    }
    a.destroy();
    b.destroy();
    c.destroy();
  }
  return rows;
}

async function benchConv(
  ctx: GpuContext,
  timer: GpuTimer,
  H: number,
  W: number,
  versions: ConvVersion[],
  warmup: number,
  trials: number,
  quick: boolean,
  log: (s: string) => void,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const { shape: s, layers } of convShapes(H, W)) {
    const x = uploadStorage(ctx, randomFill(s.H * s.W * s.Cin, 3), 'x');
    const w = uploadStorage(ctx, randomFill(9 * s.Cin * s.Cout, 4).map((v) => v * 0.05), 'w');
    const bias = uploadStorage(ctx, randomFill(s.Cout, 5), 'b');
    const y = uploadStorage(ctx, randomFill(s.H * s.W * s.Cout, 6), 'y'); // half negative: a realistic ReLU mask
    const dy = uploadStorage(ctx, randomFill(s.H * s.W * s.Cout, 7), 'dy');
    const g = createStorage(ctx, s.H * s.W * s.Cout * 4, 'g');
    const dx = createStorage(ctx, s.H * s.W * s.Cin * 4, 'dx');
    const yOut = createStorage(ctx, s.H * s.W * s.Cout * 4, 'y out');
    const gflop = convFlops(s) / 1e9;
    const shapeStr = `${s.H}x${s.W} ${s.Cin}->${s.Cout}`;
    for (const v of versions) {
      // The naive v1 is ~10x slower: in --quick mode only time it where the shape is small.
      const n = v === 'v1' ? 1 : trials;
      if (v === 'v1' && quick && gflop > 3) continue;
      const fwd = await timeRun(timer, [await conv3x3Forward(ctx, v, s, { x, w, bias, y: yOut })], `conv fwd ${v} ${shapeStr}`, warmup, n);
      rows.push({ op: 'conv3x3_forward', version: v, shape: shapeStr, layers: layers.join(','), gflop, ms: fwd, gflops: gflop / (fwd.median / 1e3) });
      log(`  conv3x3_forward  ${v} ${shapeStr}: ${fwd.median.toFixed(1)} ms`);
      const bwdList = await conv3x3Backward(ctx, v, s, { dy, y, w, wt: w, g, dx });
      const bwd = await timeRun(timer, bwdList, `conv bwd ${v} ${shapeStr}`, warmup, n);
      rows.push({ op: 'conv3x3_backward', version: v, shape: shapeStr, layers: layers.join(','), gflop, ms: bwd, gflops: gflop / (bwd.median / 1e3) });
      log(`  conv3x3_backward ${v} ${shapeStr}: ${bwd.median.toFixed(1)} ms`);
    }
    for (const b of [x, w, bias, y, dy, g, dx, yOut]) b.destroy();
  }
  return rows;
}

function versionsInfo() {
  const pkg = (name: string) => {
    try {
      return JSON.parse(readFileSync(join(here, '..', 'node_modules', name, 'package.json'), 'utf8')).version as string;
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
  return { node: process.version, webgpu: pkg('webgpu'), commit };
}

async function main() {
  const [H, W] = parseSize(args.size!);
  const quick = args.quick!;
  const trials = Number(args.trials ?? (quick ? 2 : 3));
  const warmup = Number(args.warmup ?? 1);
  const versions = (args.versions ? args.versions.split(',') : [...CONV_VERSIONS]) as ConvVersion[];
  for (const v of versions) if (!CONV_VERSIONS.includes(v)) throw new Error(`unknown conv version "${v}" (have ${CONV_VERSIONS.join(', ')})`);
  const ctx = await acquireGpu();
  const timer = new GpuTimer(ctx);
  const t0 = performance.now();
  const log = (s: string) => console.error(s);
  console.error(`adapter: ${ctx.description}; timing: ${timer.source}; size ${H}x${W}; warm-up ${warmup}, trials ${trials}${quick ? ' (quick)' : ''}`);

  const mm = await benchMatmul(ctx, timer, warmup, trials, quick);
  const ceiling = Math.max(...mm.map((r) => r.gflops));
  log(`  matmul ceiling: ${ceiling.toFixed(2)} GFLOP/s`);
  const conv = await benchConv(ctx, timer, H, W, versions, warmup, trials, quick, log);
  for (const r of conv) r.fractionOfCeiling = r.gflops / ceiling;

  const fmt = (r: Row) => [r.op, r.version, r.shape, r.layers, r.gflop.toFixed(2), r.ms.median.toFixed(1), r.ms.min.toFixed(1), r.gflops.toFixed(2), r.fractionOfCeiling !== undefined ? `${(100 * r.fractionOfCeiling).toFixed(0)}%` : ''];
  console.log(`\nAdapter: ${ctx.description} (timing: ${timer.source})  size ${H}x${W}\n`);
  console.log(table(['op', 'ver', 'shape', 'layers', 'GFLOP', 'median ms', 'min ms', 'GFLOP/s', 'of ceiling'], [...mm, ...conv].map(fmt)));

  const modelVersion = chooseConvVersion(ctx);
  const modelRows = conv.filter((r) => r.version === modelVersion);
  const lowest = modelRows.reduce((a, b) => (b.gflops < a.gflops ? b : a), modelRows[0]);
  const summary = {
    matmulGflops: ceiling,
    modelConvVersion: modelVersion,
    convFractionOfCeiling: lowest ? lowest.gflops / ceiling : null,
    lowestConvRow: lowest ? `${lowest.op} ${lowest.version} ${lowest.shape}` : null,
    convForwardGflops: Object.fromEntries(modelRows.filter((r) => r.op === 'conv3x3_forward').map((r) => [r.shape, r.gflops])),
    convBackwardGflops: Object.fromEntries(modelRows.filter((r) => r.op === 'conv3x3_backward').map((r) => [r.shape, r.gflops])),
  };
  console.log(
    `\nceiling (matmul): ${ceiling.toFixed(2)} GFLOP/s; model conv version ${modelVersion}: lowest row ${summary.lowestConvRow} at ${lowest?.gflops.toFixed(2)} GFLOP/s = ${((summary.convFractionOfCeiling ?? 0) * 100).toFixed(0)}% of the ceiling`,
  );
  const result = {
    date: new Date().toISOString(),
    adapter: ctx.description,
    timing: timer.source,
    versions: versionsInfo(),
    options: { size: [H, W], quick, trials, warmup, versions },
    seconds: (performance.now() - t0) / 1e3,
    summary,
    rows: [...mm, ...conv],
  };
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `bench-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  copyFileSync(file, join(args.out!, 'latest.json'));
  console.log(`results: ${file} (and latest.json); ${result.seconds.toFixed(0)} s`);
  timer.destroy();
  ctx.device.destroy();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
