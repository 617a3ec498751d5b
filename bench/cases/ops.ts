// Per-op cases at the real VGG19 shapes for an H x W input, and the runner that times every
// strategy on each case (alternating them), checks their outputs against ours and turns the
// results into rows.
//
// Cases (inputs seeded, the same host arrays for every strategy):
//   conv3x3_forward   every distinct conv shape up to block5_conv2   x [H,W,Cin] w [3,3,Cin,Cout] b [Cout]
//   conv3x3_backward  the same shapes, to the input through the ReLU  dy, y [H,W,Cout] (y half
//                     negative: a realistic ReLU mask), w -> dx [H,W,Cin]
//   pool2x2_*         the four poolings before block5, max and avg     x [H,W,C], dy [H/2,W/2,C]
//   gram_*            the five style layers (block1..5_conv1)          F [h*w, C], M [C, C]
//
// Budget: a strategy whose estimated time on a row (its best measured rate on earlier rows of the
// same op, times the fewest runs it would make: a warm-up if it compiles pipelines, one trial)
// exceeds rowBudgetS is skipped with the estimate in the note; one slower than slowRunS per run
// gets a single trial (and no warm-up unless it compiles pipelines).

import { type ConvShape, convFlops } from '../../src/kernels/conv3x3.ts';
import type { PoolMode } from '../../src/kernels/pool2x2.ts';
import { VGG19_LAYERS } from '../../src/model/vgg19_layers.ts';
import { STYLE_LAYERS_DEFAULT } from '../../src/style/config.ts';
import { type Contender, maxDiff, measureInterleaved, randomFill } from '../lib/stats.ts';
import type { OpCase, OpName, OpRow, OpStrategy } from '../lib/types.ts';

export const OP_NAMES: readonly OpName[] = ['conv3x3_forward', 'conv3x3_backward', 'pool2x2_forward', 'pool2x2_backward', 'gram_forward', 'gram_backward'];

type Inputs = Record<string, Float32Array<ArrayBuffer>>;

interface LayerGeom {
  name: string;
  H: number;
  W: number;
  cin: number;
  cout: number;
  poolAfter: boolean;
}

/** Every conv of VGG19 up to block5_conv2 with its input size for an H x W image. */
function geometry(H: number, W: number): LayerGeom[] {
  const out: LayerGeom[] = [];
  let h = H;
  let w = W;
  for (const l of VGG19_LAYERS) {
    out.push({ name: l.name, H: h, W: w, cin: l.cin, cout: l.cout, poolAfter: l.poolAfter });
    if (l.name === 'block5_conv2') break;
    if (l.poolAfter) {
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
  }
  return out;
}

/** The per-op cases for an H x W input, in VGG order within each op. */
export function opCases(H: number, W: number, opts: { ops?: readonly OpName[]; poolModes?: readonly PoolMode[] } = {}): OpCase[] {
  const ops = new Set(opts.ops ?? OP_NAMES);
  const modes = opts.poolModes ?? ['max', 'avg'];
  const geo = geometry(H, W);
  const cases: OpCase[] = [];
  // Convolutions: distinct shapes, with the layers that have each.
  const convs: Array<{ g: LayerGeom; layers: string[] }> = [];
  for (const g of geo) {
    const found = convs.find((c) => c.g.H === g.H && c.g.W === g.W && c.g.cin === g.cin && c.g.cout === g.cout);
    if (found) found.layers.push(g.name);
    else convs.push({ g, layers: [g.name] });
  }
  for (const op of ['conv3x3_forward', 'conv3x3_backward'] as const) {
    if (!ops.has(op)) continue;
    for (const { g, layers } of convs) {
      const s = { H: g.H, W: g.W, Cin: g.cin, Cout: g.cout };
      const fwd = op === 'conv3x3_forward';
      cases.push({
        op,
        ...s,
        shape: `${g.H}x${g.W} ${g.cin}->${g.cout}`,
        layers: layers.join(','),
        gflop: convFlops(s) / 1e9,
        bytes: 4 * (g.H * g.W * (fwd ? g.cin + g.cout : 2 * g.cout + g.cin) + 9 * g.cin * g.cout),
        outputLength: g.H * g.W * (fwd ? g.cout : g.cin),
        makeInputs: (): Inputs => {
          const w = randomFill(9 * g.cin * g.cout, 4, -0.05, 0.05);
          if (fwd) return { x: randomFill(g.H * g.W * g.cin, 3, 0, 1), w, b: randomFill(g.cout, 5, -0.1, 0.1) };
          // y half negative: the ReLU mask passes about half of dy
          return { dy: randomFill(g.H * g.W * g.cout, 7), y: randomFill(g.H * g.W * g.cout, 6), w };
        },
      });
    }
  }
  // Poolings: after the last conv of blocks 1-4.
  const pools = geo.filter((g) => g.poolAfter);
  for (const op of ['pool2x2_forward', 'pool2x2_backward'] as const) {
    if (!ops.has(op)) continue;
    for (const mode of modes) {
      for (const g of pools) {
        const C = g.cout;
        const n = g.H * g.W * C;
        const m = (g.H >> 1) * (g.W >> 1) * C;
        cases.push({
          op,
          mode,
          H: g.H,
          W: g.W,
          Cin: C,
          Cout: C,
          shape: `${g.H}x${g.W}x${C}`,
          layers: `after ${g.name}`,
          gflop: null,
          bytes: 4 * (op === 'pool2x2_forward' ? n + m : 2 * n + m),
          outputLength: op === 'pool2x2_forward' ? m : n,
          makeInputs: (): Inputs => (op === 'pool2x2_forward' ? { x: randomFill(n, 8, 0, 1) } : { x: randomFill(n, 8, 0, 1), dy: randomFill(m, 9) }),
        });
      }
    }
  }
  // Gram matrices at the style layers.
  for (const op of ['gram_forward', 'gram_backward'] as const) {
    if (!ops.has(op)) continue;
    for (const name of STYLE_LAYERS_DEFAULT) {
      const g = geo.find((x) => x.name === name)!;
      const N = g.H * g.W;
      const C = g.cout;
      cases.push({
        op,
        H: g.H,
        W: g.W,
        Cin: C,
        Cout: C,
        shape: `${N}x${C}`,
        layers: name,
        gflop: (2 * N * C * C) / 1e9,
        bytes: 4 * (op === 'gram_forward' ? N * C + C * C : 2 * N * C + C * C),
        outputLength: op === 'gram_forward' ? C * C : N * C,
        makeInputs: (): Inputs => (op === 'gram_forward' ? { f: randomFill(N * C, 10, 0, 1) } : { f: randomFill(N * C, 10, 0, 1), m: randomFill(C * C, 11, -1e-3, 1e-3) }),
      });
    }
  }
  return cases;
}

export interface OpRunOptions {
  warmup: number;
  trials: number;
  quick: boolean;
  /** skip a strategy whose estimated ms per run exceeds this (seconds) */
  rowBudgetS: number;
  /** one trial (no extra warm-up) for a strategy slower than this per run (seconds) */
  slowRunS: number;
  /**
   * The conv version the model runs at one shape (kernel_table.ts modelConvVersionAt): its rows are
   * flagged, and are the reference of the difference columns.
   */
  modelConvVersionAt: (s: ConvShape, direction: 'forward' | 'backward') => string;
  /**
   * The ceiling measured alongside: a matmul timed in the same interleaved rounds as each conv
   * case, so each conv row's fraction of the ceiling is immune to load drift on a shared machine.
   */
  ceilingCompanion?: { run: () => Promise<number>; gflop: number };
  /** the device's uncaptured errors so far (validation errors must not pass silently) */
  gpuErrors: () => readonly string[];
  log: (s: string) => void;
}

/** Runs every case with every strategy that supports it; returns one row per (case, strategy). */
export async function runOpCases(cases: OpCase[], strategies: OpStrategy[], o: OpRunOptions): Promise<OpRow[]> {
  const rows: OpRow[] = [];
  /** measured work per ms, by strategy and op: GFLOP (or GB for pooling) per ms */
  const rate = new Map<string, number>();
  const workOf = (c: OpCase) => c.gflop ?? c.bytes / 1e9;
  for (const c of cases) {
    const inputs = c.makeInputs();
    const active: Array<{ s: OpStrategy; contender: Contender; note: string; row: OpRow }> = [];
    const label = `${c.op}${c.mode ? ` ${c.mode}` : ''} ${c.shape}`;
    for (const s of strategies) {
      if (!s.supports(c)) continue;
      const base: OpRow = {
        op: c.op,
        mode: c.mode,
        impl: s.name,
        backend: s.backend,
        version: s.backend === 'ours' ? s.variant : s.name,
        shape: c.shape,
        layers: c.layers,
        gflop: c.gflop,
        ms: null,
        gflops: null,
        timing: s.timing,
      };
      // The naive v1 conv is ~10x slower: in --quick mode only where the shape is small.
      if (o.quick && s.backend === 'ours' && s.variant === 'v1' && (c.gflop ?? 0) > 3) continue;
      const r = rate.get(`${s.name}|${c.op}`);
      const estMs = r ? workOf(c) / r : null;
      // the fewest runs it would make here: a warm-up if it compiles, and one trial
      const minRuns = (s.needsWarmup ? 1 : 0) + 1;
      if (estMs !== null && minRuns * estMs > o.rowBudgetS * 1e3) {
        rows.push({ ...base, note: `skipped: too slow here (est. ${(estMs / 1e3).toFixed(1)} s per run, ${minRuns} run(s) > row budget ${o.rowBudgetS} s)` });
        o.log(`  ${label}: ${s.name} skipped (est. ${(estMs / 1e3).toFixed(1)} s per run)`);
        continue;
      }
      try {
        await s.setup(c, inputs);
      } catch (e) {
        rows.push({ ...base, note: `failed in setup: ${(e as Error).message}` });
        o.log(`  ${label}: ${s.name} failed in setup: ${(e as Error).message}`);
        await s.teardown().catch(() => {});
        continue;
      }
      const naive = s.backend === 'ours' && s.variant === 'v1';
      const slow = (estMs !== null && estMs > o.slowRunS * 1e3) || naive;
      const warmup = s.needsWarmup ? Math.max(1, slow ? 1 : o.warmup) : slow ? 0 : o.warmup;
      const trials = slow ? 1 : o.trials;
      active.push({ s, row: base, contender: { run: () => s.run(), warmup, trials }, note: [s.describe(c), trials < o.trials ? (naive ? '1 trial (naive kernel)' : '1 trial (slow)') : ''].filter(Boolean).join('; ') });
      rows.push(base);
    }
    let statsList;
    const errorsBefore = o.gpuErrors().length;
    const companion = o.ceilingCompanion && c.op.startsWith('conv') && active.length ? o.ceilingCompanion : null;
    const contenders = active.map((a) => a.contender);
    if (companion) contenders.push({ run: companion.run, warmup: 0, trials: Math.max(...contenders.map((x) => x.trials)) });
    try {
      statsList = await measureInterleaved(contenders);
      const errs = o.gpuErrors().slice(errorsBefore);
      if (errs.length) throw new Error(`WebGPU reported ${errs.length} error(s) during the runs: ${errs[0].split('\n')[0]}`);
    } catch (e) {
      o.log(`  ${label}: failed: ${(e as Error).message}`);
      for (const a of active) {
        a.row.note = `failed: ${(e as Error).message}`;
        await a.s.teardown().catch(() => {});
      }
      continue;
    }
    // Outputs, against ours (for convolutions the version the model runs at this shape).
    const dir = c.op === 'conv3x3_forward' ? 'forward' : 'backward';
    const modelVersion = c.op.startsWith('conv') ? o.modelConvVersionAt(c, dir) : '';
    const refName = modelVersion ? `ours ${modelVersion}` : 'ours';
    const refIdx = active.findIndex((a) => a.s.name === refName);
    const outs: Float32Array[] = [];
    for (const a of active) outs.push(await a.s.output());
    const localCeiling = companion ? companion.gflop / (statsList[statsList.length - 1].median / 1e3) : null;
    for (const [i, a] of active.entries()) {
      const row = a.row;
      const st = statsList[i];
      row.ms = st;
      if (c.gflop !== null) row.gflops = c.gflop / (st.median / 1e3);
      else row.gbs = c.bytes / 1e9 / (st.median / 1e3);
      if (localCeiling && row.gflops !== null) {
        row.ceilingGflops = localCeiling;
        row.fractionOfCeiling = row.gflops / localCeiling;
      }
      // Rates for the estimates: the best seen, and not from the degenerate 3-channel image layer
      // (a 3-wide GEMM dimension runs far below the strategy's usual rate).
      const key = `${a.s.name}|${c.op}`;
      if (Math.min(c.Cin, c.Cout) >= 16) rate.set(key, Math.max(rate.get(key) ?? 0, workOf(c) / st.median));
      if (refIdx >= 0 && i !== refIdx) row.diff = { ...maxDiff(outs[i], outs[refIdx]), against: refName };
      else row.diff = null;
      if (a.note) row.note = a.note;
      if (modelVersion && a.s.name === refName) row.model = true;
      await a.s.teardown();
    }
    const cols = active.map((a, i) => `${a.s.name} ${statsList[i].median.toFixed(1)}`).join(', ');
    o.log(`  ${label}: ${cols} ms${localCeiling ? ` (matmul alongside: ${localCeiling.toFixed(2)} GFLOP/s)` : ''}`);
  }
  return rows;
}
