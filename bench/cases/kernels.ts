// The kernels section: the kernel table (src/kernels/kernel_table.ts) judged by measurement at the
// eval size. For every conv site the model runs (layer x direction, convSites(): the list
// `neural-style kernels` shows), the hand-written default's version, the autotuner's choice, and
// the median / min ms of every runnable candidate version (candidates()) at the FULL shape, trials
// interleaved; then whether the tuned choice is slower than the default there (the issue's
// target: never). Then one whole loss-and-gradient evaluation with the default table vs with the
// tuned table, same run, trials interleaved (the way the eval section times ours).
//
// The tuner runs with a private in-memory cache (useMemoryKernelCache): it tunes from scratch in
// every run, and the user's cache (~/.cache/neural-style-webgpu/kernels.json) is neither read nor
// written. Its wall-clock budget per call (kernel_tune.ts) can leave shapes untuned; the section
// calls it again until every shape is measured (a few calls on a CPU adapter at 400x533).
// Sites with the same shape and direction (e.g. block3_conv2..4) are timed once.

import type { GpuContext } from '../../src/gpu/device.ts';
import { GpuTimer } from '../../src/gpu/timer.ts';
import type { ConvVersion } from '../../src/kernels/conv3x3.ts';
import { useMemoryKernelCache } from '../../src/kernels/kernel_cache.ts';
import { candidates, chooseConvVersion, type KernelRow, kernelTable } from '../../src/kernels/kernel_table.ts';
import { buildConv, ConvBufferPool } from '../../src/kernels/kernel_tune.ts';
import type { RgbaImage } from '../../src/image/types.ts';
import { convSites, deviceBufferLimit } from '../../src/model/vgg19.ts';
import { layerIndex } from '../../src/model/vgg19_layers.ts';
import type { Vgg19Weights } from '../../src/model/weights.ts';
import { deepestLayer, type StyleConfig } from '../../src/style/config.ts';
import { type Contender, measureInterleaved, relL2, type Stats } from '../lib/stats.ts';
import type { KernelEvalRow, KernelSiteRow } from '../lib/types.ts';
import { OurEval } from '../strategies/ours.ts';
import { evalInputs } from './eval.ts';

export interface KernelsBenchOptions {
  cfg: StyleConfig;
  H: number;
  W: number;
  /** per-site candidate timings */
  warmup: number;
  trials: number;
  /** the two whole evaluations */
  evalWarmup: number;
  evalTrials: number;
  log: (s: string) => void;
}

export interface KernelsBenchResult {
  rows: KernelSiteRow[];
  evaluation: KernelEvalRow[];
  /** wall seconds the tuner took (all its calls) */
  tuneSeconds: number;
}

const shapeStr = (s: { H: number; W: number; Cin: number; Cout: number }) => `${s.H}x${s.W} ${s.Cin}->${s.Cout}`;

/** The tuned table from an empty cache, every shape measured (kernelTable called until none is left or none progresses). */
async function tunedFromScratch(ctx: GpuContext, sites: Parameters<typeof kernelTable>[1], maxBytes: number, log: (s: string) => void): Promise<KernelRow[]> {
  let rows: KernelRow[] = [];
  let measured = -1;
  for (let pass = 1; pass <= 20; pass++) {
    rows = await kernelTable(ctx, sites, { mode: 'tuned', maxBytes, onTune: (l) => log(`  tuning ${l}`) });
    const now = rows.filter((r) => r.measured).length;
    if (now === rows.length || now === measured) break;
    measured = now;
    log(`  tuner: ${now} of ${rows.length} sites measured after call ${pass}; again`);
  }
  return rows;
}

/** Times every candidate at one full shape, interleaved: median / min ms per version (null: failed, with why). */
async function timeCandidates(
  ctx: GpuContext,
  timer: GpuTimer,
  row: KernelRow,
  versions: readonly ConvVersion[],
  o: KernelsBenchOptions,
): Promise<{ ms: Record<string, Stats | null>; notes: string[] }> {
  const pool = new ConvBufferPool(ctx);
  const ms: Record<string, Stats | null> = {};
  const notes: string[] = [];
  const ready: Array<{ v: ConvVersion; run: () => Promise<number> }> = [];
  try {
    for (const v of versions) {
      ctx.device.pushErrorScope('validation');
      let failure: string | null = null;
      try {
        const b = await buildConv(ctx, v, row.shape, row.direction, pool);
        ready.push({ v, run: async () => (await timer.timeDispatches(b.list, `kernels ${v} ${row.direction} ${shapeStr(row.shape)}`)).ms });
      } catch (e) {
        failure = (e as Error).message;
      }
      const err = await ctx.device.popErrorScope();
      if (err) failure ??= err.message;
      if (failure) {
        ms[v] = null;
        notes.push(`${v} failed: ${failure}`);
        const i = ready.findIndex((r) => r.v === v);
        if (i >= 0) ready.splice(i, 1);
      }
    }
    const contenders: Contender[] = ready.map((r) => ({ run: r.run, warmup: Math.max(1, o.warmup), trials: o.trials }));
    const st = await measureInterleaved(contenders);
    for (const [i, r] of ready.entries()) ms[r.v] = st[i];
  } finally {
    pool.destroy();
  }
  return { ms, notes };
}

export async function runKernelsBench(ctx: GpuContext, weights: Vgg19Weights, images: { content: RgbaImage; style: RgbaImage }, o: KernelsBenchOptions): Promise<KernelsBenchResult> {
  const maxBytes = deviceBufferLimit(ctx);
  const sites = convSites(o.H, o.W, layerIndex(deepestLayer(o.cfg)), maxBytes);
  useMemoryKernelCache(true);
  try {
    // 1. the two tables: the tuner from an empty, private cache
    const t0 = performance.now();
    const tuned = await tunedFromScratch(ctx, sites, maxBytes, o.log);
    const tuneSeconds = (performance.now() - t0) / 1e3;
    o.log(`  tuner: ${tuned.filter((r) => r.measured).length} of ${tuned.length} sites measured in ${tuneSeconds.toFixed(1)} s; ${tuned.filter((r) => r.version !== r.defaultVersion).length} differ from the default`);

    // 2. every candidate at every distinct full shape
    const timer = new GpuTimer(ctx);
    const timed = new Map<string, { ms: Record<string, Stats | null>; notes: string[] }>();
    const rows: KernelSiteRow[] = [];
    try {
      for (const t of tuned) {
        const key = `${t.direction} ${shapeStr(t.shape)}`;
        let m = timed.get(key);
        if (!m) {
          const versions = candidates(ctx, t.shape, t.direction, maxBytes, t.defaultVersion);
          const s0 = performance.now();
          m = await timeCandidates(ctx, timer, t, versions, o);
          timed.set(key, m);
          o.log(`  ${t.layer} ${t.direction} ${shapeStr(t.shape)}: ${Object.entries(m.ms).map(([v, st]) => `${v} ${st ? st.median.toFixed(1) : 'failed'}`).join(', ')} ms (${((performance.now() - s0) / 1e3).toFixed(1)} s)`);
        }
        const med = (v: string) => m.ms[v]?.median ?? null;
        const measuredVersions = Object.keys(m.ms).filter((v) => m.ms[v]);
        const fastest = measuredVersions.reduce<string | null>((a, v) => (a === null || med(v)! < med(a)! ? v : a), null);
        const d = med(t.defaultVersion);
        const u = med(t.version);
        const ratio = d !== null && u !== null ? (t.version === t.defaultVersion ? 1 : u / d) : null;
        rows.push({
          layer: t.layer,
          direction: t.direction,
          shape: shapeStr(t.shape),
          defaultVersion: t.defaultVersion,
          tunedVersion: t.version,
          tunedWhy: t.why,
          ms: m.ms,
          ...(t.ms ? { tunerMs: t.ms as Record<string, number> } : {}),
          fastest,
          tunedVsDefault: ratio,
          tunedSlower: ratio === null ? null : ratio > 1,
          ...(m.notes.length ? { note: m.notes.join('; ') } : {}),
        });
      }
    } finally {
      timer.destroy();
    }

    // 3. one whole evaluation with each table, interleaved (as the eval section times ours)
    const inp = evalInputs(o.cfg, o.H, o.W, images.content, images.style);
    const model = chooseConvVersion(ctx);
    const evals = (['default', 'tuned'] as const).map((k) => ({ k, s: new OurEval(ctx, weights, inp, model, k) }));
    const evaluation: KernelEvalRow[] = [];
    const ready: typeof evals = [];
    for (const e of evals) {
      try {
        await e.s.setup();
        ready.push(e);
      } catch (err) {
        evaluation.push({ table: e.k, size: [o.H, o.W], ms: null, loss: null, sitesChanged: 0, vsDefault: null, note: `setup failed: ${(err as Error).message}` });
        await e.s.teardown().catch(() => {});
      }
    }
    try {
      const st = await measureInterleaved(
        ready.map((e) => ({
          run: async () => {
            const ms = await e.s.run();
            o.log(`  ${e.s.name}: ${(ms / 1e3).toFixed(2)} s`);
            return ms;
          },
          warmup: Math.max(1, o.evalWarmup),
          trials: o.evalTrials,
        })),
      );
      const defIdx = ready.findIndex((e) => e.k === 'default');
      const defResult = defIdx >= 0 ? await ready[defIdx].s.result() : null;
      const defLoss = defResult ? defResult.loss.total : null;
      for (const [i, e] of ready.entries()) {
        const plan = e.s.objective!.plan;
        const changed = plan.kernelRows.filter((r) => r.version !== r.defaultVersion).length;
        const res = await e.s.result();
        const loss = res.loss.total;
        const row: KernelEvalRow = { table: e.k, size: [o.H, o.W], ms: st[i], loss, sitesChanged: changed, vsDefault: defIdx >= 0 ? st[i].median / st[defIdx].median : null };
        if (e.k === 'tuned') {
          // the evaluation's table must be the one the site rows describe (same size, same private cache)
          const differ = plan.kernelRows.filter((r) => tuned.find((t) => t.layer === r.layer && t.direction === r.direction)?.version !== r.version);
          const notes = [];
          if (defResult && defLoss !== null) {
            notes.push(`vs the default table's: loss ${(Math.abs(loss - defLoss) / Math.abs(defLoss)).toExponential(1)} relative, gradient ${relL2(res.grad, defResult.grad).toExponential(1)} relative L2`);
          }
          if (differ.length) notes.push(`${differ.length} sites differ from the site rows' tuned versions`);
          if (notes.length) row.note = notes.join('; ');
        }
        evaluation.push(row);
      }
    } finally {
      for (const e of ready) await e.s.teardown();
    }
    evaluation.sort((a, b) => (a.table === 'default' ? -1 : b.table === 'default' ? 1 : 0));
    return { rows, evaluation, tuneSeconds };
  } finally {
    useMemoryKernelCache(false);
  }
}
