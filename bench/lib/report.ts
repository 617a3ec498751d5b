// From a BenchResult to what people read: the summary (the engine bench's fields plus the
// TensorFlow.js speedups and the targets), the terminal tables (the same in Node and for the
// browser run) and the markdown report (bench/results/report.md, with chart.svg).

import { table } from './table.ts';
import type { BenchResult, EvalRow, KernelSiteRow, OpRow } from './types.ts';

/** The issue's targets: full evaluation vs tfjs-webgpu (plain, tuned), conv rows vs the matmul ceiling. */
export const TARGETS = { speedupVsTfjsWebgpu: 3, speedupVsTfjsWebgpuTuned: 2, convFractionOfCeiling: 0.5 } as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const sizeStr = (s?: [number, number]) => (s ? `${s[0]}x${s[1]}` : null);

export function computeSummary(r: BenchResult, modelConvVersion?: string): Record<string, unknown> {
  const mv = modelConvVersion ?? (r.summary?.modelConvVersion as string | undefined) ?? 'v2';
  const ceilingRows = r.sections.ceiling?.rows ?? [];
  const ceiling = ceilingRows.length ? Math.max(...ceilingRows.map((x) => x.gflops ?? 0)) : null;
  const ops = r.sections.ops?.rows ?? [];
  // the model's rows: the version it runs at each shape (flagged by the runner; older results: by name)
  const flagged = ops.some((x) => x.model);
  const modelRows = ops.filter((x) => x.backend === 'ours' && (flagged ? x.model : x.version === mv) && x.op.startsWith('conv') && x.gflops !== null);
  const lowest = modelRows.reduce<OpRow | null>((a, b) => (!a || b.gflops! < a.gflops! ? b : a), null);
  const ev = r.sections.eval?.rows ?? [];
  const ours = ev.find((x) => x.backend === 'ours' && x.ms);
  const pick = (backend: string, formulation: string) => ev.find((x) => x.backend === backend && x.formulation === formulation && x.ms);
  const speedup = (t?: EvalRow) => (ours && t ? t.ms!.median / ours.ms!.median : null);
  const wasmRows = ev.filter((x) => x.backend === 'wasm' && x.ms);
  const wasmBest = wasmRows.reduce<EvalRow | null>((a, b) => (!a || b.ms!.median < a.ms!.median ? b : a), null);
  const cpuBest = ev.filter((x) => x.backend === 'cpu' && x.ms).reduce<EvalRow | null>((a, b) => (!a || b.ms!.median < a.ms!.median ? b : a), null);
  // Each conv row's fraction of the ceiling measured alongside it (older results: of the ceiling section's).
  const frac = (x: OpRow) => x.fractionOfCeiling ?? (ceiling ? x.gflops! / ceiling : null);
  const fractions = modelRows.map(frac).filter((v): v is number => v !== null);
  const lowestFrac = modelRows.reduce<OpRow | null>((a, b) => (frac(b) !== null && (!a || frac(b)! < frac(a)!) ? b : a), null);
  const convFraction = lowestFrac ? frac(lowestFrac) : null;
  const notImage = modelRows.filter((x) => !/^block1_conv1$/.test(x.layers));
  const fracNotImage = notImage.map(frac).filter((v): v is number => v !== null);
  const localCeilings = ops.map((x) => x.ceilingGflops).filter((v): v is number => !!v);
  const sp = speedup(pick('webgpu', 'plain'));
  const spt = speedup(pick('webgpu', 'tuned'));
  const target = (measured: number | null, t: number) => ({ target: t, measured, met: measured === null ? null : measured >= t });
  const why = (backend: string, formulation: string) => ev.find((x) => x.backend === backend && x.formulation === formulation && !x.ms)?.note ?? null;
  return {
    matmulGflops: ceiling,
    modelConvVersion: mv,
    convFractionOfCeiling: convFraction,
    lowestConvRow: lowestFrac ? `${lowestFrac.op} ${lowestFrac.version} ${lowestFrac.shape}` : lowest ? `${lowest.op} ${lowest.version} ${lowest.shape}` : null,
    convFractionOfCeilingMedian: fractions.length ? median(fractions) : null,
    convFractionOfCeilingExcludingImageLayer: fracNotImage.length ? Math.min(...fracNotImage) : null,
    ceilingAlongsideGflops: localCeilings.length ? median(localCeilings) : null,
    convForwardGflops: Object.fromEntries(modelRows.filter((x) => x.op === 'conv3x3_forward').map((x) => [x.shape, x.gflops])),
    convBackwardGflops: Object.fromEntries(modelRows.filter((x) => x.op === 'conv3x3_backward').map((x) => [x.shape, x.gflops])),
    opsSize: sizeStr(r.sections.ops?.size),
    evalSize: sizeStr(r.sections.eval?.size),
    evalPreset: (r.sections.eval?.options?.preset as string | undefined) ?? null,
    oursEvalMs: ours?.ms?.median ?? null,
    speedupVsTfjsWebgpu: sp,
    speedupVsTfjsWebgpuTuned: spt,
    speedupVsTfjsWasm: speedup(wasmBest ?? undefined),
    speedupVsTfjsWasmFormulation: wasmBest?.formulation ?? null,
    speedupVsTfjsWasmPlain: speedup(pick('wasm', 'plain')),
    speedupVsTfjsCpu: speedup(cpuBest ?? undefined),
    // pytorch-cpu time / our time (< 1: PyTorch on the CPU is faster; the issue's bar: ours <= 2x its time)
    speedupVsPytorchCpu: speedup(pick('pytorch-cpu', 'autograd')),
    ...(sp === null && r.sections.eval ? { speedupVsTfjsWebgpuMissing: why('webgpu', 'plain') } : {}),
    ...(r.sections.eval && !wasmBest ? { speedupVsTfjsWasmMissing: why('wasm', 'plain') } : {}),
    ...kernelsSummary(r),
    targets: {
      speedupVsTfjsWebgpu: target(sp, TARGETS.speedupVsTfjsWebgpu),
      speedupVsTfjsWebgpuTuned: target(spt, TARGETS.speedupVsTfjsWebgpuTuned),
      convFractionOfCeiling: target(convFraction, TARGETS.convFractionOfCeiling),
    },
  };
}

/** The kernels section's summary: sites where the tuned choice was slower than the default, and the whole evaluations. */
function kernelsSummary(r: BenchResult): Record<string, unknown> {
  const k = r.sections.kernels;
  if (!k) return {};
  const slower = k.rows.filter((x) => x.tunedSlower);
  const worst = slower.reduce<KernelSiteRow | null>((a, b) => (!a || b.tunedVsDefault! > a.tunedVsDefault! ? b : a), null);
  const tunedEval = k.evaluation.find((x) => x.table === 'tuned');
  return {
    kernelsSize: sizeStr(k.size),
    kernelsSites: k.rows.length,
    kernelsSitesTunedChanged: k.rows.filter((x) => x.tunedVersion !== x.defaultVersion).length,
    kernelsTunedSlowerSites: slower.length,
    kernelsWorstTunedSite: worst ? `${worst.layer} ${worst.direction} ${worst.tunedVersion} vs ${worst.defaultVersion}: ${worst.tunedVsDefault!.toFixed(2)}x` : null,
    kernelsTunedEvalVsDefault: tunedEval?.vsDefault ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/** A duration with its unit: "850 ms", "12.3 s". */
export function fmtTime(ms: number): string {
  if (ms >= 100_000) return `${(ms / 1e3).toFixed(0)} s`;
  if (ms >= 1_000) return `${(ms / 1e3).toFixed(ms >= 10_000 ? 1 : 2)} s`;
  return `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
}

/** Milliseconds as a bare number with sensible digits (tables whose header says ms). */
export function fmtMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

const num = (v: number | null | undefined, d = 2) => (v === null || v === undefined || !Number.isFinite(v) ? '' : v.toFixed(d));
const exp = (v: number | null | undefined) => (v === null || v === undefined ? '' : v === 0 ? '0' : v.toExponential(1));
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '' : `${(100 * v).toFixed(0)}%`);
const times = (v: number | null | undefined) => (v === null || v === undefined ? '' : `${v.toFixed(v < 10 ? 2 : 1)}x`);

function opLabel(r: OpRow): string {
  return r.mode ? `${r.op} ${r.mode}` : r.op;
}

export function opTable(rows: OpRow[]): { headers: string[]; cells: string[][] } {
  const headers = ['op', 'shape', 'layers', 'implementation', 'median ms', 'min ms', 'GFLOP/s', 'of ceiling', 'max |diff|', '/max|ref|', 'note'];
  const cells = rows.map((r) => [
    opLabel(r),
    r.shape,
    r.layers,
    r.impl,
    r.ms ? fmtMs(r.ms.median) : '',
    r.ms ? fmtMs(r.ms.min) : '',
    r.gflops !== null ? num(r.gflops) : r.gbs ? `${num(r.gbs)} GB/s` : '',
    pct(r.fractionOfCeiling),
    r.diff ? exp(r.diff.maxAbs) : '',
    r.diff ? exp(r.diff.maxRel) : '',
    r.note ?? '',
  ]);
  return { headers, cells };
}

export function evalTable(rows: EvalRow[]): { headers: string[]; cells: string[][] } {
  const headers = ['implementation', 'size', 'median', 'min', 'time / ours', 'loss', 'loss rel diff', 'worst term', 'grad rel L2', 'grad max/max', 'note'];
  const cells = rows.map((r) => [
    r.impl,
    `${r.size[0]}x${r.size[1]}`,
    r.ms ? fmtTime(r.ms.median) : '',
    r.ms ? fmtTime(r.ms.min) : '',
    r.backend === 'ours' ? '(ours)' : times(r.slowdownVsOurs),
    r.loss ? r.loss.total.toPrecision(7) : '',
    exp(r.lossRelDiff),
    exp(r.termsMaxRelDiff),
    exp(r.gradRelL2),
    exp(r.gradMaxRel),
    r.note ?? '',
  ]);
  return { headers, cells };
}

function summaryLines(r: BenchResult): string[] {
  const s = r.summary as Record<string, unknown> & { targets?: Record<string, { target: number; measured: number | null; met: boolean | null }> };
  const out: string[] = [];
  if (s.matmulGflops || s.ceilingAlongsideGflops) {
    out.push(
      `ceiling (matmul): ${num(s.matmulGflops as number)} GFLOP/s in the ceiling section${s.ceilingAlongsideGflops ? `, ${num(s.ceilingAlongsideGflops as number)} (median) measured alongside the conv rows` : ''}; ` +
        `model conv version ${s.modelConvVersion}: ` +
        (s.lowestConvRow
          ? `lowest row ${s.lowestConvRow} = ${pct(s.convFractionOfCeiling as number)} of the ceiling; median row ${pct(s.convFractionOfCeilingMedian as number)}; ` +
            `lowest without the 3-channel image layer block1_conv1 ${pct(s.convFractionOfCeilingExcludingImageLayer as number)} (ops at ${s.opsSize})`
          : 'no conv rows'),
    );
  }
  if (r.sections.eval) {
    const at = `full evaluation at ${s.evalSize} (${s.evalPreset})`;
    const sp = (k: string, what: string) => {
      const v = s[k] as number | null;
      return v === null || v === undefined ? `${what}: n/a` : `${what}: ${v.toFixed(2)}x`;
    };
    out.push(
      `${at}: ours ${s.oursEvalMs ? fmtTime(s.oursEvalMs as number) : 'n/a'}; tfjs time / our time — ${sp('speedupVsTfjsWebgpu', 'vs tfjs-webgpu tf.grad')}, ` +
        `${sp('speedupVsTfjsWebgpuTuned', 'vs tfjs-webgpu tuned')}, ${sp('speedupVsTfjsWasm', `vs tfjs-wasm (${s.speedupVsTfjsWasmFormulation ?? 'best'})`)}` +
        `${s.speedupVsTfjsCpu ? `, ${sp('speedupVsTfjsCpu', 'vs tfjs-cpu')}` : ''}`,
    );
    const pt = s.speedupVsPytorchCpu as number | null | undefined;
    if (pt) out.push(`  pytorch-cpu (native PyTorch, the same objective): ours takes ${(1 / pt).toFixed(2)}x its time`);
    const w = s.speedupVsTfjsWasm as number | null;
    if (w !== null && w !== undefined && w < 1) out.push(`  tfjs-wasm is ${(1 / w).toFixed(2)}x FASTER than ours here (${s.speedupVsTfjsWasmFormulation})`);
  }
  if (r.sections.kernels) {
    const ev = s.kernelsTunedEvalVsDefault as number | null | undefined;
    out.push(
      `kernel table at ${s.kernelsSize}: the tuner changed ${s.kernelsSitesTunedChanged} of ${s.kernelsSites} conv sites; tuned slower than the default at ${s.kernelsTunedSlowerSites} ` +
        `(full-shape medians${s.kernelsWorstTunedSite ? `; worst ${s.kernelsWorstTunedSite}` : ''}); one evaluation, tuned / default table: ${ev ? `${ev.toFixed(3)}x` : 'n/a'}`,
    );
  }
  for (const [k, t] of Object.entries(s.targets ?? {})) {
    if (t.measured === null) continue;
    const v = k === 'convFractionOfCeiling' ? pct(t.measured) : `${t.measured.toFixed(2)}x`;
    const goal = k === 'convFractionOfCeiling' ? pct(t.target) : `${t.target}x`;
    out.push(`  target ${k} >= ${goal}: ${v} — ${t.met ? 'met' : `MISSED by ${k === 'convFractionOfCeiling' ? `${(100 * (t.target - t.measured)).toFixed(0)} points` : `${(t.target / t.measured).toFixed(2)}x`}`}`);
  }
  return out;
}

/** The terminal report of a result (every section present). */
export function formatResult(r: BenchResult): string {
  const out: string[] = [];
  out.push(`Adapter: ${r.adapter} (${r.env}; timing: ${r.timing}); ${r.date}`);
  out.push(`Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.backends.length) out.push(`TensorFlow.js backends:\n${r.backends.map((b) => `  tfjs-${b.name}: ${b.ok ? b.note : `CANNOT RUN — ${b.note}`}`).join('\n')}`);
  const c = r.sections.ceiling;
  const o = r.sections.ops;
  if (c || o) {
    const rows = [...(c?.rows ?? []), ...(o?.rows ?? [])];
    const t = opTable(rows);
    out.push(`\nPer op${o ? ` at the VGG19 shapes of ${sizeStr(o.size)}` : ''} (diff vs ours, the model's kernel; GPU rows: ${r.timing} time)${carried(c ?? o!)}`);
    out.push(table(t.headers, t.cells));
  }
  const e = r.sections.eval;
  if (e) {
    const t = evalTable(e.rows);
    out.push(`\nOne loss-and-gradient evaluation, ${e.options.preset} preset, ${sizeStr(e.size)} (wall time; x on the device -> loss on the host, gradient complete)${carried(e)}`);
    out.push(table(t.headers, t.cells));
    for (const b of e.breakdown ?? []) {
      out.push(`\nWhere our evaluation's time goes (${b.impl}, ${b.size.join('x')}; each dispatch timed alone, ${b.timing}): sum ${fmtTime(b.sumMs)}${b.evalMs ? ` vs ${fmtTime(b.evalMs)} for the whole evaluation` : ''}`);
      out.push(table(['kernel', 'dispatches', 'ms', 'share', 'GFLOP', 'GFLOP/s'], b.byKernel.map((k) => [k.name, String(k.dispatches), fmtMs(k.ms), pct(k.fraction), num(k.gflop, 1), num(k.gflops)])));
      out.push(table(['layer', 'GFLOP', 'forward ms', 'GFLOP/s', 'backward ms', 'GFLOP/s'], b.byLayer.map((l) => [l.layer, num(l.gflop, 2), fmtMs(l.fwdMs), num(l.fwdGflops), fmtMs(l.bwdMs), num(l.bwdGflops)])));
    }
    for (const p of (e as { tfjsProfiles?: Array<{ impl: string; kernels: Array<{ name: string; ms: number; n: number }> }> }).tfjsProfiles ?? []) {
      const total = p.kernels.reduce((a, k) => a + k.ms, 0);
      out.push(`\nWhere ${p.impl}'s time goes (tf.profile, GPU timestamps per kernel): ${fmtTime(total)}`);
      out.push(table(['tfjs kernel', 'calls', 'ms', 'share'], p.kernels.slice(0, 15).map((k) => [k.name, String(k.n), fmtMs(k.ms), pct(k.ms / total)])));
    }
  }
  const x = r.sections.e2e;
  if (x) {
    out.push(`\nEnd to end (${x.options.preset} preset; wall time of the optimization; final = best loss at an evaluated point)${carried(x)}`);
    out.push(
      table(
        ['config', 'implementation', 'optimizer', 'evaluations', 'seconds', 'final loss', 'note'],
        x.rows.map((q) => [q.config, q.impl, q.optimizer, String(q.evaluations), q.seconds === null ? '' : q.seconds.toFixed(0), q.finalLoss === null ? '' : q.finalLoss.toPrecision(6), q.note ?? '']),
      ),
    );
  }
  for (const t of memoryTables(r)) out.push(`\n${t.title}`, table(t.headers, t.cells));
  for (const t of kernelsTables(r)) out.push(`\n${t.title}`, table(t.headers, t.cells));
  const sl = summaryLines(r);
  if (sl.length) out.push(`\nSummary\n${sl.join('\n')}`);
  return out.join('\n');
}

function carried(s: { carriedFrom?: string; date: string }): string {
  return s.carriedFrom ? ` [from the run of ${s.carriedFrom}]` : '';
}

function mdTable(headers: string[], cells: string[][]): string {
  const esc = (v: string) => v.replace(/\|/g, '\\|');
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => ' --- ').join('|')}|`, ...cells.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

const mib = (b: number | null) => (b === null ? '' : (b / 2 ** 20).toFixed(0));

/** The memory and banding sections as titled tables. */
export function memoryTables(r: BenchResult): Array<{ title: string; headers: string[]; cells: string[][] }> {
  const out: Array<{ title: string; headers: string[]; cells: string[][] }> = [];
  const m = r.sections.memory;
  if (m) {
    out.push({
      title: `GPU memory of a transfer (${m.options.preset} preset, L-BFGS m = 10; MiB; plan = src/style/footprint.ts, counted = peak in a 1-iteration run)${carried(m)}`,
      headers: ['size', 'plan', 'counted', 'weights', 'activations', 'gradients', 'scratch', 'targets', 'optimizer', 'block1 bands', 'block2 bands', 'note'],
      cells: m.rows.map((x) => [
        `${x.rows}x${x.cols}`,
        mib(x.planBytes),
        mib(x.measuredBytes),
        ...['weights', 'activations', 'gradients', 'scratch', 'targets', 'optimizer'].map((k) => mib(x.parts[k] ?? 0)),
        String(x.bands.block1_conv1 ?? ''),
        String(x.bands.block2_conv1 ?? ''),
        x.note ?? '',
      ]),
    });
  }
  const b = r.sections.banding;
  if (b) {
    out.push({
      title: `The cost of row bands: one evaluation at ${sizeStr(b.size)} (${b.options.preset}; trials interleaved; wall time)${carried(b)}`,
      headers: ['block1 bands', 'buffer limit MiB', 'median ms', 'min ms', 'vs unbanded', 'loss'],
      cells: b.rows.map((x) => [String(x.bands), x.maxBufferBytes ? (x.maxBufferBytes / 2 ** 20).toFixed(2) : 'device', fmtMs(x.ms.median), fmtMs(x.ms.min), `${x.ratio!.toFixed(3)}x`, x.loss.toPrecision(8)]),
    });
  }
  return out;
}

/** The kernels section as titled tables: one row per conv site, then one whole evaluation per table. */
export function kernelsTables(r: BenchResult): Array<{ title: string; headers: string[]; cells: string[][] }> {
  const k = r.sections.kernels;
  if (!k) return [];
  // every version timed at some site, in version order (whatever candidates() returned)
  const versions = [...new Set(k.rows.flatMap((x) => Object.keys(x.ms)))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const cell = (x: KernelSiteRow, v: string) => {
    if (!(v in x.ms)) return '';
    const st = x.ms[v];
    if (!st) return 'failed';
    const mark = [v === x.defaultVersion ? 'D' : '', v === x.tunedVersion ? 'T' : ''].join('');
    return `${fmtMs(st.median)}${mark ? ` ${mark}` : ''}`;
  };
  return [
    {
      title: `The conv kernel table at ${sizeStr(k.size)}: per site, every candidate's median ms at the full shape (trials interleaved; D = default, T = tuned; the tuner ran from scratch with a private cache, ${k.tuneSeconds.toFixed(1)} s)${carried(k)}`,
      headers: ['layer', 'direction', 'shape', 'default', 'tuned', ...versions.map((v) => `${v} ms`), 'fastest', 'tuned / default', 'tuned slower', 'tuner'],
      cells: k.rows.map((x) => [
        x.layer,
        x.direction,
        x.shape,
        x.defaultVersion,
        x.tunedVersion,
        ...versions.map((v) => cell(x, v)),
        x.fastest ?? '',
        x.tunedVsDefault === null ? '' : `${x.tunedVsDefault.toFixed(2)}x`,
        x.tunedSlower === null ? '' : x.tunedSlower ? 'SLOWER' : 'no',
        `${x.tunedWhy}${x.note ? `; ${x.note}` : ''}`,
      ]),
    },
    {
      title: `One loss-and-gradient evaluation at ${sizeStr(k.size)} (${k.options.preset}) with each kernel table (trials interleaved; wall time)${carried(k)}`,
      headers: ['kernel table', 'size', 'median', 'min', 'vs default', 'sites changed', 'loss', 'note'],
      cells: k.evaluation.map((x) => [
        x.table,
        `${x.size[0]}x${x.size[1]}`,
        x.ms ? fmtTime(x.ms.median) : '',
        x.ms ? fmtTime(x.ms.min) : '',
        x.vsDefault === null ? '' : `${x.vsDefault.toFixed(3)}x`,
        String(x.sitesChanged),
        x.loss === null ? '' : x.loss.toPrecision(7),
        x.note ?? '',
      ]),
    },
  ];
}

/** bench/results/report.md: generated from latest.json by `npm run bench`. */
export function markdownReport(r: BenchResult): string {
  const out: string[] = [];
  out.push('# Benchmark: this engine vs TensorFlow.js');
  out.push('');
  out.push('Generated by `npm run bench` from [latest.json](latest.json); do not edit. How to run it and what each section measures: [bench/README.md](../README.md).');
  out.push('');
  out.push(`- Adapter: ${r.adapter} (${r.env}; GPU timing: ${r.timing})`);
  out.push(`- Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out.push(`- Host: ${Object.entries(r.host).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')}`);
  for (const b of r.backends) out.push(`- tfjs-${b.name}: ${b.ok ? b.note : `cannot run — ${b.note}`}`);
  out.push('');
  const sl = summaryLines(r);
  if (sl.length) out.push('## Summary', '', ...sl.map((l) => `- ${l.trim()}`), '');
  out.push('![per-op comparison](chart.svg)', '');
  const e = r.sections.eval;
  if (e) {
    const t = evalTable(e.rows);
    out.push(`## One loss-and-gradient evaluation (${e.options.preset}, ${sizeStr(e.size)}; ${e.date}${carried(e)})`, '', mdTable(t.headers, t.cells), '');
    for (const b of e.breakdown ?? []) {
      out.push(`### Where our time goes (${b.impl}): per kernel`, '', mdTable(['kernel', 'dispatches', 'ms', 'share', 'GFLOP/s'], b.byKernel.map((k) => [k.name, String(k.dispatches), fmtMs(k.ms), pct(k.fraction), num(k.gflops)])), '');
      out.push('### Per conv layer', '', mdTable(['layer', 'GFLOP', 'forward ms', 'GFLOP/s', 'backward ms', 'GFLOP/s'], b.byLayer.map((l) => [l.layer, num(l.gflop), fmtMs(l.fwdMs), num(l.fwdGflops), fmtMs(l.bwdMs), num(l.bwdGflops)])), '');
    }
  }
  const c = r.sections.ceiling;
  const o = r.sections.ops;
  if (c || o) {
    const t = opTable([...(c?.rows ?? []), ...(o?.rows ?? [])]);
    out.push(`## Per op (${o ? `VGG19 shapes of ${sizeStr(o.size)}; ${o.date}${carried(o)}` : 'ceiling only'})`, '', mdTable(t.headers, t.cells), '');
  }
  for (const t of memoryTables(r)) out.push(`## ${t.title}`, '', mdTable(t.headers, t.cells), '');
  for (const t of kernelsTables(r)) out.push(`## ${t.title}`, '', mdTable(t.headers, t.cells), '');
  const x = r.sections.e2e;
  if (x) {
    out.push(`## End to end (${x.date}${carried(x)})`, '');
    out.push(mdTable(['config', 'implementation', 'optimizer', 'evaluations', 'seconds', 'final loss', 'note'], x.rows.map((q) => [q.config, q.impl, q.optimizer, String(q.evaluations), q.seconds === null ? '' : q.seconds.toFixed(0), q.finalLoss === null ? '' : q.finalLoss.toPrecision(6), q.note ?? ''])));
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
